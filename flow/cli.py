"""``qflow`` command line: one sub-command per stage, each a thin wrapper of a library function."""

from __future__ import annotations

import argparse
import json
import logging
import sys
from collections.abc import Sequence
from pathlib import Path

from flow.errors import QflowError

log = logging.getLogger("flow.cli")


def _cmd_train(args: argparse.Namespace) -> int:
    from flow.paths import recipe_paths
    from flow.recipe import load_recipe
    from flow.stages.train import train_recipe

    recipe = load_recipe(args.recipe)
    result = train_recipe(recipe, progress=not args.quiet)
    print(f"{recipe.name}: {result.summary()} after {result.epochs} epochs "
          f"({result.seconds:.1f} s) -> {recipe_paths(recipe.name).checkpoint}")
    return 0


def _cmd_export(args: argparse.Namespace) -> int:
    from flow.recipe import load_recipe
    from flow.stages.train import export_recipe

    recipe = load_recipe(args.recipe)
    summary = export_recipe(recipe)
    print(f"{recipe.name}: QONNX vs PyTorch on {summary['samples']} test samples: "
          f"{summary['differing_outputs']} differing outputs ({summary['differing_samples']} samples) "
          f"-> {summary['qonnx']}")
    return 0


def _cmd_recipes(args: argparse.Namespace) -> int:
    from flow.recipe import available_recipes, load_recipe

    for name in available_recipes():
        recipe = load_recipe(name)
        first_line = (recipe.description or "").strip().splitlines()[0] if recipe.description else ""
        print(f"{name:24s} {recipe.dataset:8s} {first_line}")
    return 0


def _check_options(args: argparse.Namespace) -> None:
    """Options whose range argparse does not check, refused before any stage runs."""
    if not 0 <= getattr(args, "stall", 0) <= 99:
        raise QflowError(f"--stall: expected a percentage in [0, 99], got {args.stall}")
    if getattr(args, "activity", 0) < 0:
        raise QflowError(f"--activity: expected a number of inputs >= 0, got {args.activity}")


def _folding(args: argparse.Namespace):
    """``--folding`` parsed at the edge (``None``: the recipe's default)."""
    from flow.compile.folding import Folding

    if args.target_cycles is not None:
        if args.folding is not None:
            raise QflowError("--folding and --target-cycles: expected one of them, got both")
        return Folding.parse(args.target_cycles)
    return None if args.folding is None else Folding.parse(args.folding)


def _cmd_synth(args: argparse.Namespace) -> int:
    from flow.stages.synth import summary_line, synth
    from flow.stages.target import resolve

    _check_options(args)
    folding = _folding(args)  # a bad folding is refused before anything runs
    status = synth(args.recipe, progress=not args.quiet, skip_yosys=args.no_yosys, folding=folding,
                   stall_percent=args.stall, skip_hls=not args.hls, skip_asic=args.no_asic, activity=args.activity,
                   whole_design=args.whole_design, pipeline=args.pipeline,
                   inputs=args.inputs, reuse_checkpoint=args.reuse_checkpoint, pnr=_pnr_options(args))
    root = resolve(args.recipe).paths.root
    print(summary_line(json.loads((root / "report.json").read_text()), root))
    return status


def _cmd_compile(args: argparse.Namespace) -> int:
    from flow.stages.compile import compile_target
    from flow.stages.target import resolve

    target = resolve(args.recipe)
    folding = target.folding(_folding(args), args.pipeline)  # a bad folding is refused before anything runs
    if target.recipe is not None and not target.paths.qonnx.is_file():
        raise QflowError(f"{target.paths.qonnx}: missing; run `qflow export {args.recipe}` first")
    data = compile_target(target, folding, args.inputs, prune=False if args.no_prune else None, cmvm=not args.no_cmvm)
    removed = sum(r["removed"] for r in data.get("pruning", []))
    pruned = f", {removed} pruned channels removed" if removed else ""
    print(f"{target.name}: integer network == QONNX reference on {data['checks'][0]['vectors']} inputs, folding "
          f"{data['folding']}, {data['cycles_per_inference_predicted']} cycles/inference (predicted){pruned} -> "
          f"{target.paths.rtl}, {target.paths.root / 'network.json'}")
    return 0


def _cmd_simulate(args: argparse.Namespace) -> int:
    from flow.stages.report import failed_checks
    from flow.stages.simulate import simulate_target
    from flow.stages.target import resolve

    _check_options(args)
    target = resolve(args.recipe)
    sim = simulate_target(target, args.stall)
    print(f"{target.name}: {sim['vectors']} vectors, {sim['mismatches_with_stalls']} mismatches with "
          f"{args.stall}% stalls, {sim['mismatches_without_stalls']} without, "
          f"{sim['cycles_per_inference_measured']:.2f} cycles/inference -> {target.paths.root / 'sim.json'}")
    failed = failed_checks(sim)
    if failed:
        raise QflowError(f"{target.name}: " + "; ".join(c["check"] for c in failed) + " found differing outputs")
    return 0


def _cmd_estimate(args: argparse.Namespace) -> int:
    from flow.stages.estimate import estimate_target
    from flow.stages.target import resolve

    target = resolve(args.recipe)
    synth, energy = estimate_target(target, yosys=not args.no_yosys, asic=not args.no_asic, activity=args.activity,
                                    whole_design=args.whole_design)
    cells = f"{synth['LUT']} LUT {synth['FF']} FF {synth['DSP48E1']} DSP, " if synth else ""
    print(f"{target.name}: {cells}{energy['energy']['total_pj'] / 1000:.2f} nJ/inference (operation model) -> "
          f"{target.paths.root / 'synth.json' if synth else ''} {target.paths.root / 'energy.json'}")
    return 0


def _pnr_options(args: argparse.Namespace):
    """``--device``, ``--freq``, ``--package`` parsed at the edge (``None``: ``--no-pnr``)."""
    from flow.stages.implement import PnrOptions

    if getattr(args, "no_pnr", False):
        return None
    return PnrOptions(device=args.device, freq_mhz=args.freq, package=args.package)


def _cmd_implement(args: argparse.Namespace) -> int:
    from flow.stages.implement import implement_target
    from flow.stages.target import resolve

    target = resolve(args.recipe)
    data = implement_target(target, _pnr_options(args))
    clock, util = data["clock"], data["utilisation"]
    print(f"{target.name}: placed and routed on the {data['device']['part']}: Fmax {clock['fmax_mhz']:.1f} MHz "
          f"({'meets' if clock['met'] else 'misses'} {clock['target_mhz']:g} MHz), "
          + ", ".join(f"{k} {util[k]['used']} ({util[k]['percent']:.1f} %)" for k in ("LUT4", "FF", "EBR", "DSP"))
          + f", {data['throughput']['inferences_per_second']:,.0f} inferences/s -> "
          f"{target.paths.root / data['bitstream']['path']}, {target.paths.root / 'implement.json'}")
    return 0


def _cmd_hls(args: argparse.Namespace) -> int:
    from flow.stages.hls import hls_recipe, load_settings

    settings = load_settings(args.config) if args.config else {}
    for key, value in (("IOType", args.io_type), ("ReuseFactor", args.reuse), ("Strategy", args.strategy)):
        if value is not None:
            settings[key] = value
    summary = hls_recipe(args.recipe, settings, progress=not args.quiet)
    rows = "; ".join(f"{r['pair']}: {r['differing_outputs']} differing" for r in summary["comparisons"])
    acc = f", C-sim accuracy {summary['accuracy_csim']:.4f}" if "accuracy_csim" in summary else ""
    print(
        f"{summary['model']}: hls4ml Vitis C-simulation of {summary['vectors']} inputs: {rows}{acc} "
        f"(compile {summary['compile_seconds']:.0f} s) -> {summary['project']}"
    )
    return 0


def _cmd_report(args: argparse.Namespace) -> int:
    from flow.report.html import write_html_report
    from flow.stages.report import report_build
    from flow.stages.target import resolve

    target = Path(args.build)
    if not target.is_dir():
        target = resolve(args.build).paths.root
    if (target / "network.json").is_file():  # a staged build: assembled from its (fresh) artefacts
        report_build(target)
        print(f"{target.name}: -> {target / 'report.json'}, {target / 'report.md'}, {target / 'report.html'}")
    else:  # a report.json alone (a copied or older build): the page only
        print(f"{target.name}: -> {write_html_report(target)}")
    return 0


def _cmd_compare(args: argparse.Namespace) -> int:
    from flow.report.compare import write_compare_report

    print(f"{' vs '.join(args.builds)}: -> {write_compare_report(args.builds, args.output)}")
    return 0


def _cmd_sweep(args: argparse.Namespace) -> int:
    from flow.stages.sweep import Execution, run_sweep, sweep_dir, sweep_table
    from flow.stages.sweep_spec import build_spec, cli_foldings, parse_pipelines

    objectives = tuple(o.strip() for o in args.objectives.split(",") if o.strip()) if args.objectives else None
    spec = build_spec(args.targets, args.name, foldings=cli_foldings(args.foldings, args.target_cycles),
                      pipelines=parse_pipelines(args.pipelines) if args.pipelines is not None else None,
                      yosys=False if args.no_synth else None, simulate=args.simulate, objectives=objectives,
                      max_synth_lanes=args.max_synth_lanes, yosys_timeout=args.yosys_timeout,
                      pnr=True if args.pnr else None, pnr_device=args.pnr_device, pnr_freq=args.pnr_freq)
    execution = Execution.choose(spec, args.scheduler, args.workers, args.serial)
    summary = run_sweep(spec, execution, progress=not args.quiet, retry_failed=args.retry_failed)
    print(sweep_table(summary))
    c = summary["counts"]
    print(f"{spec.name}: {c['done']} of {c['points']} points ({c['computed']} computed, {c['cached']} from the "
          f"cache, {c['failed']} failed) in {summary['seconds']} s on {summary['execution']}; Pareto-optimal: "
          f"{', '.join(summary['pareto']) or 'none'} -> {sweep_dir(spec.name)} (index.html, sweep.md, pareto.svg)")
    if c["failed"]:
        print(f"qflow: {c['failed']} point(s) failed (errors in sweep.md; --retry-failed runs them again)",
              file=sys.stderr)
    return 1 if c["failed"] else 0


def _sweep_parser(sub, common: argparse.ArgumentParser) -> None:
    from flow.stages.sweep_spec import MAX_SYNTH_LANES, OBJECTIVES, YOSYS_TIMEOUT_S

    p = sub.add_parser("sweep", help="design-space sweep (models x foldings) on Dask, cached: LUT/FF, cycles, "
                                     "energy, Pareto page", parents=[common],
                       description="design-space sweep -> build/sweeps/<name>/ (index.html, sweep.json, points/); "
                                   "runs on a Dask LocalCluster (one worker per core) unless --serial or "
                                   "--scheduler/QFLOW_DASK_SCHEDULER; points already computed are not run again")
    p.add_argument("targets", nargs="+", metavar="TARGET",
                   help="a sweep spec .toml file, or recipe names / recipe .py / QONNX .onnx files")
    p.add_argument("--name", default=None, help="the sweep's name: build/sweeps/<name>/ (default: the spec file's "
                                                "or the first model's)")
    p.add_argument("--foldings", default=None,
                   help="comma-separated 'parallel', 'folded' and cycle targets (default: parallel,16,folded,256,1024)")
    p.add_argument("--target-cycles", default=None, metavar="N,M",
                   help="more foldings: comma-separated cycles per inference (the same as integers in --foldings)")
    p.add_argument("--pipelines", default=None, metavar="none,auto,N",
                   help="register-stage settings, one point each per folding (default: each recipe's own)")
    p.add_argument("--no-synth", action="store_true", help="skip Yosys: lanes (PE x SIMD) stand in for LUTs")
    p.add_argument("--simulate", type=int, default=None, metavar="N",
                   help="also simulate N test inputs per point (measured cycles, outputs == golden)")
    p.add_argument("--objectives", default=None, metavar="A,B,..",
                   help=f"Pareto objectives among {', '.join(OBJECTIVES)} (default: LUT or lanes, "
                        "cycles_per_inference, energy_pj)")
    p.add_argument("--max-synth-lanes", type=int, default=None,
                   help=f"do not synthesize designs with more lanes (default {MAX_SYNTH_LANES})")
    p.add_argument("--pnr", action="store_true",
                   help="also place and route each point (ECP5, nextpnr): Fmax and inferences/s, minutes per point")
    p.add_argument("--pnr-device", default=None, choices=("25k", "45k", "85k"), help="ECP5 device (default 85k)")
    p.add_argument("--pnr-freq", type=float, default=None, metavar="MHZ", help="P&R target clock (default 100)")
    p.add_argument("--yosys-timeout", type=int, default=None,
                   help=f"seconds per Yosys run (default {YOSYS_TIMEOUT_S})")
    p.add_argument("--scheduler", default=None, metavar="tcp://HOST:8786",
                   help="an existing Dask scheduler (default: $QFLOW_DASK_SCHEDULER, else a LocalCluster)")
    p.add_argument("--workers", type=int, default=None, metavar="N",
                   help="LocalCluster worker processes (default: one per core; 0: serial)")
    p.add_argument("--serial", action="store_true", help="no Dask: run the points one after another here")
    p.add_argument("--retry-failed", action="store_true", help="run the points that failed last time again")
    p.set_defaults(func=_cmd_sweep)


def _stage_options(p: argparse.ArgumentParser, name: str) -> None:
    """The options of the stage commands (``synth`` takes those of every stage it runs)."""
    if name in ("synth", "compile", "simulate", "estimate", "implement", "hls"):
        p.help = "recipe name, recipe .py path, or a QONNX .onnx file (power-of-two quantizers)"
    if name in ("synth", "compile"):
        p.add_argument("--folding", default=None,
                       help="'parallel', 'folded' or a target cycles/inference (default: the recipe's; 'folded' for "
                            "a .onnx file)")
        p.add_argument("--target-cycles", default=None, metavar="N",
                       help="the fewest resources meeting N cycles per inference (the same as --folding N)")
        p.add_argument("--pipeline", default=None, metavar="none|auto|N",
                       help="register stages in the matrix-vector units, for Fmax: 'none', 'auto' (a register on "
                            "block-RAM weights and thresholds, an adder tree with a register every 4 inputs, the "
                            "threshold comparisons registered) or N (a "
                            "register every N inputs); each adds a cycle of latency (default: the recipe's)")
        p.add_argument("--inputs", default=None, type=Path, metavar="FILE.npy",
                       help="inputs to check and simulate on, shaped like the model's input (default: the recipe's "
                            "test split; 1000 random inputs for a .onnx file)")
    if name == "compile":
        p.add_argument("--no-prune", action="store_true",
                       help="keep the channels structured pruning left dead (all-zero filters, inputs the next layer "
                            "does not use); by default they are removed, exactly")
        p.add_argument("--no-cmvm", action="store_true",
                       help="build fully parallel layers as MVAUs (weights in a one-word ROM) instead of constant "
                            "multipliers with shared adders (block cmvm, the default for XNOR/MAC/bipolar layers)")
    if name in ("synth", "simulate"):
        p.add_argument("--stall", type=int, default=25, help="percent random stalls in the checked run")
    if name in ("synth", "estimate"):
        p.add_argument("--no-yosys", action="store_true", help="skip synthesis")
        p.add_argument("--no-asic", action="store_true", help="skip the generic CMOS synthesis (NAND2 eq.)")
        p.add_argument("--whole-design", action="store_true",
                       help="Yosys on the whole design in one run per flavour, no cache (default: per block "
                            "instance, cached in $QFLOW_YOSYS_CACHE, summed)")
        p.add_argument("--activity", type=int, default=0, metavar="N",
                       help="also measure switching-activity energy (SAIF) on N test inputs, e.g. 200 "
                            "(a second, traced Verilator build; default 0: off)")
    if name in ("synth", "implement"):
        p.add_argument("--device", default="85k", choices=("25k", "45k", "85k"),
                       help="ECP5 device to place and route on: LFE5U-25F/45F/85F (default 85k)")
        p.add_argument("--freq", type=float, default=100.0, metavar="MHZ",
                       help="target clock of the timing-driven place and route, MHz (default 100)")
        p.add_argument("--package", default="CABGA381", help="ECP5 package (default CABGA381)")
    if name == "synth":
        p.add_argument("--no-pnr", action="store_true", help="skip place and route (qflow implement)")
        p.add_argument("--hls", dest="hls", action="store_true", default=False,
                       help="also run the hls4ml Vitis C-simulation cross-check (three-way: QONNX == C-sim == RTL)")
        p.add_argument("--no-hls", dest="hls", action="store_false",
                       help="no hls4ml Vitis C-simulation (the default; the last of --hls/--no-hls wins)")
        p.add_argument("--reuse-checkpoint", action="store_true",
                       help="keep model.pt even if the recipe file changed since it was trained")
    if name == "hls":
        p.add_argument("--config", default=None, help="YAML file of hls4ml settings (IOType, ReuseFactor, ...)")
        p.add_argument("--io-type", default=None, choices=("io_parallel", "io_stream"), help="hls4ml IOType")
        p.add_argument("--reuse", type=int, default=None, help="hls4ml ReuseFactor (model level)")
        p.add_argument("--strategy", default=None, choices=("Latency", "Resource"), help="hls4ml Strategy")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="qflow", description=__doc__)
    parser.add_argument("-v", "--verbose", action="store_true", help="log progress details")
    parser.add_argument("-q", "--quiet", action="store_true", help="no progress bars")
    # The same flags after the sub-command; SUPPRESS keeps a sub-parser from resetting a flag given before it.
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("-v", "--verbose", action="store_true", default=argparse.SUPPRESS, help="log details")
    common.add_argument("-q", "--quiet", action="store_true", default=argparse.SUPPRESS, help="no progress bars")
    sub = parser.add_subparsers(dest="command", required=True)
    for name, func, text in (
        ("train", _cmd_train, "train a recipe -> build/<recipe>/model.pt, metrics.json"),
        ("export", _cmd_export, "export to QONNX and check it equals PyTorch on the test split"),
        ("synth", _cmd_synth, "the whole flow: train if needed, export, compile, simulate, (with --hls) "
                              "cross-check, estimate, implement, report"),
        ("compile", _cmd_compile, "QONNX -> integer network (== QONNX) + Verilog -> rtl/, network.json"),
        ("simulate", _cmd_simulate, "Verilator simulation of the compiled design, == golden -> sim.json"),
        ("estimate", _cmd_estimate, "Yosys cells, NAND2 equivalents, energy -> synth.json, energy.json"),
        ("implement", _cmd_implement, "place and route on an ECP5 (Yosys synth_ecp5, nextpnr, ecppack): Fmax, "
                                      "utilisation, bitstream -> pnr/, implement.json"),
        ("hls", _cmd_hls, "write the exact hls4ml Vitis project, run its C-simulation, compare with the reference"),
    ):
        p = sub.add_parser(name, help=text, description=text, parents=[common])
        p.add_argument("recipe", help="built-in recipe name (see 'qflow recipes') or path to a recipe .py file")
        p.set_defaults(func=func)
        _stage_options(p, name)
    p = sub.add_parser("report", help="report.json/md/html of a build, from its stages' (fresh) artefacts",
                       description="assemble report.json, report.md and report.html from network.json, sim.json "
                                   "and the other stages' artefacts (refused if any is stale); a directory with "
                                   "only a report.json gets its report.html", parents=[common])
    p.add_argument("build", help="recipe name, recipe .py path, or a build directory")
    p.set_defaults(func=_cmd_report)
    p = sub.add_parser("compare", help="one page comparing builds side by side -> build/compare.html",
                       description="compare existing builds (their report.json) on one static page", parents=[common])
    p.add_argument("builds", nargs="+", help="two or more recipe names or build directories")
    p.add_argument("-o", "--output", default=None, help="output file (default: build/compare.html)")
    p.set_defaults(func=_cmd_compare)
    _sweep_parser(sub, common)
    p = sub.add_parser("recipes", help="list the built-in recipes", parents=[common])
    p.set_defaults(func=_cmd_recipes)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    import warnings

    # Brevitas warns about an optional CUDA kernel package on every import; it is irrelevant here.
    warnings.filterwarnings("ignore", message=".*fast_hadamard_transform.*")
    args = build_parser().parse_args(argv)
    logging.basicConfig(
        level=logging.INFO if args.verbose else logging.WARNING, format="%(levelname)s %(name)s: %(message)s"
    )
    try:
        return int(args.func(args) or 0)
    except QflowError as exc:
        print(f"qflow: error: {exc}", file=sys.stderr)
        return 2
    except OSError as exc:  # a read-only or full disk, a missing tool: the file and the system's reason
        where = exc.filename or (exc.args[0] if exc.args else "")
        print(f"qflow: error: {where}: {exc.strerror or exc} (errno {exc.errno})", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("qflow: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
