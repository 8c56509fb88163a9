"""``qflow synth``: every stage in order for a recipe (or a user's QONNX file).

train (if no checkpoint) -> export + check -> compile (hls4ml, backend qflow-rtl; integer network == QONNX)
-> simulate (Verilator: whole test split with random stalls, every output compared with ``==``; no-stall run
for cycles/inference and latency) -> cross-check (hls4ml Vitis C-simulation, three-way; only when asked:
``skip_hls=False``, ``qflow synth --hls``) -> estimate (Yosys per block and cached, Xilinx and NAND2 side by side;
energy) -> implement (ECP5 place and route: Fmax, utilisation, bitstream; unless ``pnr`` is
``None``) -> report. Each stage writes its own artefact and can be re-run alone
(``qflow compile|simulate|estimate|report``); this function only runs them in order.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path
from typing import Any

from flow.compile.folding import Folding
from flow.errors import QflowError
from flow.stages.artefacts import build_lock, require, up_to_date
from flow.stages.compile import compile_options, compile_target
from flow.stages.crosscheck import crosscheck_target
from flow.stages.estimate import estimate_target, synth_options
from flow.stages.implement import PnrOptions, implement_target
from flow.stages.progress import Progress
from flow.stages.report import failed_checks, report_build
from flow.stages.simulate import STALL_PERCENT, simulate_target
from flow.stages.target import Target, resolve
from flow.stages.train import checkpoint_is_current, export_is_current, export_recipe, train_recipe

__all__ = ["STALL_PERCENT", "summary_line", "synth"]

log = logging.getLogger(__name__)


def summary_line(report: dict, root) -> str:
    """One line: status, vectors, mismatches, cycles/inference, latency, LUT/FF/DSP, where the report is."""
    sim, res = report["simulation"], report.get("resources")
    status = "FAILED" if failed_checks(report) else "ok"
    return (f"{report['model']}: {status}: {sim['vectors']} vectors, {sim['mismatches_with_stalls']} mismatches "
            f"(with stalls), {sim['cycles_per_inference_measured']:.2f} cycles/inference, latency "
            f"{sim['latency_cycles_measured']} cycles"
            + (f", {res['LUT']} LUT {res['FF']} FF {res['DSP48E1']} DSP" if res else "")
            + (f", Fmax {report['implementation']['clock']['fmax_mhz']:.1f} MHz (placed and routed)"
               if "implementation" in report else "")
            + f" -> {root / 'report.md'}")


def _estimate_steps(skip_yosys: bool, skip_asic: bool, activity: int) -> int:
    """Progress lines of the estimate stage: Yosys (one line: the Xilinx and the NAND2 synthesis run side by
    side, ``skip_asic`` or not), the activity run (when they run)."""
    return (0 if skip_yosys else 1) + (1 if activity > 0 else 0)


#: Progress lines of the implement stage, one per tool.
IMPLEMENT_TOOLS = ("Yosys synth_ecp5", "nextpnr-ecp5", "ecppack")
IMPLEMENT_STEPS = len(IMPLEMENT_TOOLS)


def _steps(target: Target, skip_yosys: bool, skip_hls: bool, skip_asic: bool, activity: int,
           pnr: PnrOptions | None = None) -> int:
    """How many progress lines :func:`synth` prints."""
    steps = 3  # compile, simulate, report
    steps += IMPLEMENT_STEPS if pnr is not None and not skip_yosys else 0
    steps += 2 if target.recipe is not None else 0  # train, export
    steps += 0 if skip_hls else 1
    return steps + _estimate_steps(skip_yosys, skip_asic, activity)


def _train_and_export(target: Target, bar: Progress, reuse_checkpoint: bool) -> None:
    """Train when there is no checkpoint or the recipe file changed since it was trained (unless
    ``reuse_checkpoint``), then export and check."""
    recipe = target.recipe
    if recipe is None:
        return
    if not target.paths.checkpoint.is_file():
        bar.run("train (no checkpoint yet)", lambda: train_recipe(recipe, progress=False))
    elif not reuse_checkpoint and not checkpoint_is_current(recipe, target.paths):
        bar.run("train (the recipe changed since the checkpoint; --reuse-checkpoint keeps it)",
                lambda: train_recipe(recipe, progress=False))
    else:
        bar.run("train (checkpoint found, skipped)", lambda: None)
    if export_is_current(target.paths):
        bar.run("export (up to date with the checkpoint, skipped)", lambda: None)
    else:
        bar.run("export to QONNX + check vs PyTorch", lambda: export_recipe(recipe))


def synth(model: str, progress: bool = True, skip_yosys: bool = False, stall_percent: int = STALL_PERCENT,
          folding: Folding | str | int | None = None, skip_hls: bool = True, skip_asic: bool = False,
          activity: int = 0, inputs: Path | None = None, reuse_checkpoint: bool = False,
          pnr: PnrOptions | None = None, whole_design: bool = False,
          pipeline: str | int | None = None) -> int:
    """Run the whole flow for a recipe name/path or a QONNX file; return 0 when every check passes.

    ``folding``: ``"parallel"``, ``"folded"``, a target in cycles per inference or a :class:`Folding`
    (default: the recipe's; ``"folded"`` for a QONNX file), parsed here before anything runs. The build
    directory is locked for the whole run (:func:`~flow.stages.artefacts.build_lock`).
    ``inputs``: a ``.npy`` array of inputs to check and simulate on (default: the recipe's test split, or
    random inputs for a QONNX file). ``activity`` > 0 also measures switching-activity energy on that many
    inputs (:mod:`flow.estimate.activity`). A recipe whose file changed since its checkpoint was trained is
    trained again, unless ``reuse_checkpoint``. ``pnr``: place and route with these options (``qflow
    implement``; ``None``, the library's default, or ``skip_yosys``: not run; the CLI passes options unless
    ``--no-pnr``). ``skip_hls``: no hls4ml Vitis C-simulation cross-check (the default; ``False``: run it,
    ``qflow synth --hls``). ``whole_design``: Yosys on the whole design in one run per flavour instead of per
    block with the cache (:func:`flow.rtl.yosys_blocks.synthesize`). ``pipeline``: the matrix-vector units'
    register stages (``"none"``, ``"auto"``, a fan-in; default the recipe's, :mod:`flow.compile.pipeline`).
    Raises :class:`QflowError` naming the checks that found differing outputs.
    """
    target = resolve(model)
    fold = target.folding(folding, pipeline)  # a bad folding or pipeline is refused before anything runs
    with build_lock(target.paths.root):
        bar = Progress(target.name, _steps(target, skip_yosys, skip_hls, skip_asic, activity, pnr), enabled=progress)
        _train_and_export(target, bar, reuse_checkpoint)
        return _run_stages(target, fold, bar, skip_yosys, stall_percent, skip_hls, skip_asic, activity, inputs,
                           None if skip_yosys else pnr, whole_design)


def _run_stages(target: Target, fold: Folding, bar: Progress, skip_yosys: bool, stall_percent: int,
                skip_hls: bool, skip_asic: bool, activity: int, inputs: Path | None,
                pnr: PnrOptions | None = None, whole_design: bool = False) -> int:
    """The hardware stages of :func:`synth`, in order, with one progress line per step. A stage whose artefact
    is fresh and was made with the same options is skipped (its line says so)."""
    root = target.paths.root

    def stage(name: str, artefact: str, command: str, options: dict, fn: Callable[[], Any]) -> Any:
        if up_to_date(root, artefact, command, options):
            return bar.run(f"{command} (up to date, skipped)", lambda: require(root, artefact, command))
        return bar.run(name, fn)

    stage(f"compile at folding {fold.label}: hls4ml (backend qflow-rtl) -> integer network == QONNX, Verilog",
          "network.json", "compile", compile_options(target, fold, inputs),
          lambda: compile_target(target, fold, inputs))
    sim = stage("build the Verilator model + simulate (== golden, random stalls)", "sim.json", "simulate",
                {"stall_percent": stall_percent, "sim_build": "fast-build"},
                lambda: simulate_target(target, stall_percent))
    if not skip_hls:
        stage(f"hls4ml Vitis C-simulation of {sim['vectors']} inferences (three-way comparison)", "three_way.json",
              "crosscheck", {"hls_settings": target.hls_settings}, lambda: crosscheck_target(target))
    synth_done = up_to_date(root, "synth.json", "estimate", synth_options(not skip_asic, whole_design)) \
        if not skip_yosys else not (root / "synth.json").exists()
    if synth_done and up_to_date(root, "energy.json", "estimate", {"activity": activity}):
        for _ in range(_estimate_steps(skip_yosys, skip_asic, activity)):
            bar.run("estimate (up to date, skipped)", lambda: None)
    else:
        estimate_target(target, yosys=not skip_yosys, asic=not skip_asic, activity=activity,
                        step=lambda name, fn: bar.run(name, fn), whole_design=whole_design)
    if pnr is not None:
        if up_to_date(root, "implement.json", "implement", pnr.as_dict()):
            for tool in IMPLEMENT_TOOLS:
                bar.run(f"implement: {tool} (up to date, skipped)", lambda: None)
        else:
            implement_target(target, pnr, step=lambda name, fn: bar.run(name, fn))
    report = bar.run("report", lambda: report_build(target.paths.root))
    failed = failed_checks(report)
    log.info("%s", summary_line(report, target.paths.root))
    if failed:
        raise QflowError(f"{target.name}: {len(failed)} check(s) found differing outputs: "
                         + "; ".join(c["check"] for c in failed))
    return 0
