"""``qflow`` command line: one sub-command per stage, each a thin wrapper of a library function."""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Sequence

from flow.errors import QflowError

log = logging.getLogger("flow.cli")


def _cmd_train(args: argparse.Namespace) -> int:
    from flow.recipe import load_recipe
    from flow.stages import train_recipe

    recipe = load_recipe(args.recipe)
    result = train_recipe(recipe, progress=not args.quiet)
    print(f"{recipe.name}: test accuracy {result.test_accuracy:.4f} after {result.epochs} epochs "
          f"({result.seconds:.1f} s) -> build/{recipe.name}/model.pt")
    return 0


def _cmd_export(args: argparse.Namespace) -> int:
    from flow.recipe import load_recipe
    from flow.stages import export_recipe

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


def _cmd_synth(args: argparse.Namespace) -> int:
    from flow.synth import synth

    folding = args.folding
    if folding is not None and folding.isdigit():
        folding = int(folding)
    return synth(args.recipe, progress=not args.quiet, skip_yosys=args.no_yosys, folding=folding,
                 stall_percent=args.stall, skip_hls=args.no_hls, skip_asic=args.no_asic, activity=args.activity)


def _cmd_hls(args: argparse.Namespace) -> int:
    from flow.hls.stage import hls_recipe, load_settings

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
    from pathlib import Path

    from flow.report.html import write_html_report

    target = Path(args.build)
    if not target.is_dir():
        from flow.paths import recipe_paths

        name = args.build
        if name.endswith(".py"):
            from flow.recipe import load_recipe

            name = load_recipe(name).name
        target = recipe_paths(name).root
    print(f"{target.name}: -> {write_html_report(target)}")
    return 0


def _cmd_compare(args: argparse.Namespace) -> int:
    from flow.report.compare import write_compare_report

    print(f"{' vs '.join(args.builds)}: -> {write_compare_report(args.builds, args.output)}")
    return 0


def _cmd_sweep(args: argparse.Namespace) -> int:
    from flow.report.sweep import DEFAULT_FOLDINGS, parse_foldings, sweep, sweep_table

    foldings = parse_foldings(args.foldings) if args.foldings else list(DEFAULT_FOLDINGS)
    summary = sweep(args.recipe, foldings, synth=not args.no_synth, simulate=args.simulate,
                    max_synth_lanes=args.max_synth_lanes, yosys_timeout=args.yosys_timeout, progress=not args.quiet)
    print(sweep_table(summary))
    print(f"{summary['model']}: {len(summary['rows'])} foldings in {summary['seconds']} s, Pareto-optimal: "
          f"{', '.join(summary['pareto']) or 'none'} -> build/{summary['model']}/sweep/ (sweep.md, pareto.svg)")
    return 0


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
        ("synth", _cmd_synth, "the whole flow: train if needed, export, compile, simulate, synthesize"),
        ("hls", _cmd_hls, "write the exact hls4ml Vitis project, run its C-simulation, compare with the reference"),
    ):
        p = sub.add_parser(name, help=text, description=text, parents=[common])
        p.add_argument("recipe", help="built-in recipe name (see 'qflow recipes') or path to a recipe .py file")
        p.set_defaults(func=func)
        if name == "synth":
            p.help = "recipe name, recipe .py path, or a QONNX .onnx file (power-of-two quantizers)"
            p.add_argument("--folding", default=None,
                           help="'parallel', 'folded' or a target cycles/inference (default: the recipe's)")
            p.add_argument("--no-yosys", action="store_true", help="skip synthesis")
            p.add_argument("--stall", type=int, default=25, help="percent random stalls in the checked run")
            p.add_argument("--no-hls", action="store_true", help="skip the hls4ml Vitis C-simulation")
            p.add_argument("--no-asic", action="store_true", help="skip the generic CMOS synthesis (NAND2 eq.)")
            p.add_argument("--activity", type=int, default=0, metavar="N",
                           help="also measure switching-activity energy (SAIF) on N test inputs, e.g. 200 "
                                "(a second, traced Verilator build; default 0: off)")
        if name == "hls":
            p.help = "recipe name, recipe .py path, or a QONNX .onnx file (power-of-two quantizers)"
            p.add_argument("--config", default=None, help="YAML file of hls4ml settings (IOType, ReuseFactor, ...)")
            p.add_argument("--io-type", default=None, choices=("io_parallel", "io_stream"), help="hls4ml IOType")
            p.add_argument("--reuse", type=int, default=None, help="hls4ml ReuseFactor (model level)")
            p.add_argument("--strategy", default=None, choices=("Latency", "Resource"), help="hls4ml Strategy")
    p = sub.add_parser("report", help="write build/<recipe>/report.html from an existing build's report.json",
                       description="regenerate report.html (self-contained) from report.json", parents=[common])
    p.add_argument("build", help="recipe name, recipe .py path, or a build directory holding report.json")
    p.set_defaults(func=_cmd_report)
    p = sub.add_parser("compare", help="one page comparing builds side by side -> build/compare.html",
                       description="compare existing builds (their report.json) on one static page", parents=[common])
    p.add_argument("builds", nargs="+", help="two or more recipe names or build directories")
    p.add_argument("-o", "--output", default=None, help="output file (default: build/compare.html)")
    p.set_defaults(func=_cmd_compare)
    from flow.report.sweep import MAX_SYNTH_LANES, YOSYS_TIMEOUT_S

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
    except KeyboardInterrupt:
        print("qflow: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
