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
    print(f"{recipe.name}: test accuracy {result.test_accuracy:.4f} after {result.epochs} epochs "
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
                   stall_percent=args.stall, skip_hls=args.no_hls, skip_asic=args.no_asic, activity=args.activity,
                   inputs=args.inputs, reuse_checkpoint=args.reuse_checkpoint)
    root = resolve(args.recipe).paths.root
    print(summary_line(json.loads((root / "report.json").read_text()), root))
    return status


def _cmd_compile(args: argparse.Namespace) -> int:
    from flow.stages.compile import compile_target
    from flow.stages.target import resolve

    target = resolve(args.recipe)
    folding = target.folding(_folding(args))  # a bad folding is refused before anything runs
    if target.recipe is not None and not target.paths.qonnx.is_file():
        raise QflowError(f"{target.paths.qonnx}: missing; run `qflow export {args.recipe}` first")
    data = compile_target(target, folding, args.inputs)
    print(f"{target.name}: integer network == QONNX reference on {data['checks'][0]['vectors']} inputs, folding "
          f"{data['folding']}, {data['cycles_per_inference_predicted']} cycles/inference (predicted) -> "
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
    synth, energy = estimate_target(target, yosys=not args.no_yosys, asic=not args.no_asic, activity=args.activity)
    cells = f"{synth['LUT']} LUT {synth['FF']} FF {synth['DSP48E1']} DSP, " if synth else ""
    print(f"{target.name}: {cells}{energy['energy']['total_pj'] / 1000:.2f} nJ/inference (operation model) -> "
          f"{target.paths.root / 'synth.json' if synth else ''} {target.paths.root / 'energy.json'}")
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
    from flow.paths import build_root
    from flow.stages.sweep import DEFAULT_FOLDINGS, parse_foldings, sweep, sweep_table

    foldings = parse_foldings(args.foldings) if args.foldings else list(DEFAULT_FOLDINGS)
    summary = sweep(args.recipe, foldings, synth=not args.no_synth, simulate=args.simulate,
                    max_synth_lanes=args.max_synth_lanes, yosys_timeout=args.yosys_timeout, progress=not args.quiet)
    print(sweep_table(summary))
    out = build_root() / summary["model"] / "sweep"
    print(f"{summary['model']}: {len(summary['rows'])} foldings in {summary['seconds']} s, Pareto-optimal: "
          f"{', '.join(summary['pareto']) or 'none'} -> {out} (sweep.md, pareto.svg)")
    return 0


def _stage_options(p: argparse.ArgumentParser, name: str) -> None:
    """The options of the stage commands (``synth`` takes those of every stage it runs)."""
    if name in ("synth", "compile", "simulate", "estimate", "hls"):
        p.help = "recipe name, recipe .py path, or a QONNX .onnx file (power-of-two quantizers)"
    if name in ("synth", "compile"):
        p.add_argument("--folding", default=None,
                       help="'parallel', 'folded' or a target cycles/inference (default: the recipe's; 'folded' for "
                            "a .onnx file)")
        p.add_argument("--target-cycles", default=None, metavar="N",
                       help="the fewest resources meeting N cycles per inference (the same as --folding N)")
        p.add_argument("--inputs", default=None, type=Path, metavar="FILE.npy",
                       help="inputs to check and simulate on, shaped like the model's input (default: the recipe's "
                            "test split; 1000 random inputs for a .onnx file)")
    if name in ("synth", "simulate"):
        p.add_argument("--stall", type=int, default=25, help="percent random stalls in the checked run")
    if name in ("synth", "estimate"):
        p.add_argument("--no-yosys", action="store_true", help="skip synthesis")
        p.add_argument("--no-asic", action="store_true", help="skip the generic CMOS synthesis (NAND2 eq.)")
        p.add_argument("--activity", type=int, default=0, metavar="N",
                       help="also measure switching-activity energy (SAIF) on N test inputs, e.g. 200 "
                            "(a second, traced Verilator build; default 0: off)")
    if name == "synth":
        p.add_argument("--no-hls", action="store_true", help="skip the hls4ml Vitis C-simulation")
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
        ("synth", _cmd_synth, "the whole flow: train if needed, export, compile, simulate, cross-check, estimate, "
                              "report"),
        ("compile", _cmd_compile, "QONNX -> integer network (== QONNX) + Verilog -> rtl/, network.json"),
        ("simulate", _cmd_simulate, "Verilator simulation of the compiled design, == golden -> sim.json"),
        ("estimate", _cmd_estimate, "Yosys cells, NAND2 equivalents, energy -> synth.json, energy.json"),
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
    from flow.stages.sweep import MAX_SYNTH_LANES, YOSYS_TIMEOUT_S

    p = sub.add_parser("sweep", help="compile a recipe at several foldings: LUT/FF, cycles, energy, Pareto plot",
                       description="design-space sweep over foldings -> build/<recipe>/sweep/", parents=[common])
    p.add_argument("recipe", help="built-in recipe name or path to a recipe .py file")
    p.add_argument("--foldings", default=None,
                   help="comma-separated 'parallel', 'folded' and cycle targets (default: parallel,16,folded,256,1024)")
    p.add_argument("--no-synth", action="store_true", help="skip Yosys: lanes (PE x SIMD) stand in for LUTs")
    p.add_argument("--simulate", type=int, default=0, metavar="N",
                   help="also simulate N test inputs per folding (measured cycles, outputs == golden)")
    p.add_argument("--max-synth-lanes", type=int, default=MAX_SYNTH_LANES,
                   help=f"do not synthesize designs with more lanes (default {MAX_SYNTH_LANES})")
    p.add_argument("--yosys-timeout", type=int, default=YOSYS_TIMEOUT_S,
                   help=f"seconds per Yosys run (default {YOSYS_TIMEOUT_S})")
    p.set_defaults(func=_cmd_sweep)
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
