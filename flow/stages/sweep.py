"""``qflow sweep``: a design-space sweep -- models x foldings -- run point by point, serially or on Dask, cached,
resumable, with its Pareto front.

:func:`run_sweep` takes a :class:`~flow.stages.sweep_spec.SweepSpec` (a TOML file or CLI options):

1. every model is made ready on this machine (a recipe is trained and exported when its checkpoint or QONNX
   file is missing, as ``qflow synth`` does; a ``.onnx`` file is taken as it is);
2. every point (model, folding) gets a key hashing its inputs (the QONNX file's sha256, the folding and the
   recipe's per-layer overrides, the clock, the stage options, the tool versions and qflow's version and
   sources; :mod:`flow.stages.sweep_store`); points with a row in ``points/<key>.json`` are not run again
   (failed ones are, with ``retry_failed``);
3. the other points run with :func:`flow.stages.sweep_point.run_point` -- the stage functions of
   ``qflow compile|simulate|estimate`` -- in this process or as Dask tasks (:mod:`flow.stages.sweep_exec`);
4. as each row arrives it is stored and the outputs are rewritten (atomically; the plots and the page at most
   every ``PUBLISH_INTERVAL_S``, and at the end): ``sweep.json`` (the finished rows in spec order, the pending
   points, the counts, the Pareto set), ``sweep.md``, ``pareto.svg`` (area vs cycles/inference),
   ``accuracy.svg`` (energy vs accuracy) and ``index.html``, all under ``$QFLOW_BUILD/sweeps/<name>/``; each
   point's RTL is in ``work/<model>-<folding>-<key prefix>/rtl``, the Yosys results are cached in
   ``$QFLOW_BUILD/sweeps/synth_cache`` by a digest of the Verilog.

A failing point is a row with ``status = "failed"`` and its error; the sweep goes on. Interrupted (Ctrl-C, a
killed client), the finished points stay stored and the next run resumes with the rest.
"""

from __future__ import annotations

import hashlib
import json
import time
from dataclasses import dataclass
from pathlib import Path

from flow.compile.pipeline import DEFAULT_PIPELINE, Pipeline
from flow.io import write_json, write_text
from flow.paths import build_root
from flow.recipe import load_recipe
from flow.report import svg
from flow.stages.sweep_exec import Execution, PointProgress, execute
from flow.stages.sweep_point import PointTask
from flow.stages.sweep_report import accuracy_plot, index_html, mark_pareto, pareto_plot, sweep_markdown, sweep_table
from flow.stages.sweep_spec import (
    DEFAULT_FOLDINGS,
    MAX_SYNTH_LANES,
    YOSYS_TIMEOUT_S,
    FoldValue,
    SweepError,
    SweepSpec,
    folding_label,
    parse_foldings,
    spec_from_options,
)
from flow.stages.sweep_store import PointStore, point_key, tool_versions
from flow.stages.train import ensure_exported

__all__ = ["DEFAULT_FOLDINGS", "MAX_SYNTH_LANES", "YOSYS_TIMEOUT_S", "Execution", "SweepError", "folding_label",
           "parse_foldings", "plan", "run_sweep", "sweep", "sweep_dir", "sweep_table"]

PUBLISH_INTERVAL_S = 10.0  # the plots take ~1 s of matplotlib: not after every point of a big sweep


def sweep_dir(name: str) -> Path:
    """``$QFLOW_BUILD/sweeps/<name>``: a sweep's outputs and its point cache."""
    return build_root() / "sweeps" / name


@dataclass(frozen=True)
class _Model:
    name: str
    recipe: str | None
    qonnx: Path
    digest: str
    layer_folding: tuple[tuple[str, tuple[int, int]], ...]
    clock_mhz: float
    accuracy: float | None
    pipeline: str = DEFAULT_PIPELINE  # the recipe's register stages (a QONNX file: the default)


def _prepare_model(ref: str) -> _Model:
    """A recipe (trained and exported when missing) or a QONNX file, with its digest and test accuracy."""
    if ref.endswith(".onnx"):
        path = Path(ref)
        if not path.is_file():
            raise SweepError(f"{path}: QONNX file not found (expected a recipe name, a recipe .py or a .onnx file)")
        name = path.name.removesuffix(".onnx").removesuffix(".qonnx")
        return _Model(name, None, path, hashlib.sha256(path.read_bytes()).hexdigest(), (), 200.0, None)
    recipe = load_recipe(ref)
    paths = ensure_exported(recipe)
    try:
        accuracy = json.loads(paths.metrics.read_text()).get("test_accuracy")
    except (OSError, ValueError):
        accuracy = None
    layers = tuple(sorted((k, (v.pe, v.simd)) for k, v in recipe.hardware.layers.items()))
    return _Model(recipe.name, ref, paths.qonnx.resolve(), hashlib.sha256(paths.qonnx.read_bytes()).hexdigest(),
                  layers, recipe.hardware.clock_mhz, accuracy, Pipeline.parse(recipe.hardware.pipeline).label)


def plan(spec: SweepSpec) -> list[PointTask]:
    """The spec's points, in spec order, with their keys (models trained/exported first when missing)."""
    return _plan(spec, [_prepare_model(m) for m in spec.models], sweep_dir(spec.name))


def _plan(spec: SweepSpec, models: list[_Model], out: Path) -> list[PointTask]:
    """One task per (model, folding, pipeline), in spec order, each with its cache key (``spec.pipelines``
    empty: each recipe's own register stages, and the label is the folding's alone)."""
    names = [m.name for m in models]
    if len(set(names)) != len(names):
        raise SweepError(f"sweep {spec.name!r}: each model once, got {names}")
    tools = tool_versions(spec.simulate > 0, spec.yosys, spec.pnr)
    tasks = []
    for m, folding, pipe in ((m, f, p) for m in models for f in spec.foldings for p in spec.pipelines or (None,)):
        pipeline = m.pipeline if pipe is None else pipe
        label = folding_label(folding) + ("" if pipe is None else f"-p{pipe}")
        inputs = {"model": m.name, "qonnx_sha256": m.digest, "folding": folding, "layers": m.layer_folding,
                  "clock_mhz": m.clock_mhz, "simulate": spec.simulate, "yosys": spec.yosys,
                  "max_synth_lanes": spec.max_synth_lanes if spec.yosys else None,
                  "yosys_timeout": spec.yosys_timeout if spec.yosys else None, "tools": tools,
                  "pnr": [spec.pnr_device, spec.pnr_freq] if spec.pnr else None}
        if pipeline != "none":  # keys of points without register stages stay as they were
            inputs["pipeline"] = pipeline
        key = point_key(inputs)
        tasks.append(PointTask(
            key=key, model=m.name, recipe=m.recipe, qonnx=str(m.qonnx), qonnx_digest=m.digest, folding=folding,
            label=label, layer_folding=m.layer_folding, clock_mhz=m.clock_mhz, simulate=spec.simulate,
            yosys=spec.yosys, max_synth_lanes=spec.max_synth_lanes, yosys_timeout=spec.yosys_timeout,
            work_dir=str((out / "work" / f"{m.name}-{label}-{key[:12]}").resolve()),
            synth_cache=str((out.parent / "synth_cache").resolve()), accuracy=m.accuracy,
            pnr_device=spec.pnr_device if spec.pnr else None, pnr_freq=float(spec.pnr_freq), pipeline=pipeline))
    return tasks


def _how(spec: SweepSpec) -> dict:
    return {
        "lanes": "PE x SIMD summed over the matrix-vector units of the lowered network",
        "cycles_per_inference": "predicted: beat-timing model of the generated blocks (slowest block)",
        "latency_cycles": "predicted: beat-timing model, one inference through the empty pipeline",
        "LUT": "synthesized: Yosys synth_xilinx cell counts (no place and route)" if spec.yosys
               else "not run (--no-synth): lanes stand in for area",
        "energy_pj": "estimated: operation model (flow.estimate.energy); it counts operations and memory reads per "
                     "inference, which folding does not change",
        "accuracy": "trained: the model's test accuracy (metrics.json; none for a .onnx file), the same at every "
                    "folding (the accelerator is bit-exact)",
        "simulation": f"simulated: Verilator, {spec.simulate} inputs (the test split; random codes for a .onnx "
                      "file), no stalls, outputs == golden" if spec.simulate else "not run (--simulate 0)",
        "fmax_mhz": f"placed and routed: nextpnr-ecp5 on the LFE5U-{spec.pnr_device[:-1]}F at a {spec.pnr_freq:g} MHz "
                    "target (flow.stages.implement.place_design); inferences/s = Fmax / max(cycles per inference, "
                    "pin beats)" if spec.pnr else "not run (no --pnr)",
    }


class _Outputs:
    """Assembles the summary from the rows so far and writes the sweep's files."""

    def __init__(self, spec: SweepSpec, tasks: list[PointTask], out: Path, execution: Execution, cached: int):
        self.spec, self.tasks, self.out, self.execution, self.cached = spec, tasks, out, execution, cached
        self.start = time.perf_counter()
        self.last = 0.0
        self.computed = 0

    def summary(self, rows: dict[str, dict]) -> dict:
        multi = len(self.spec.models) > 1
        ordered = [rows[t.key] | {"point": f"{t.model}/{t.label}" if multi else t.label}
                   for t in self.tasks if t.key in rows]
        pending = [f"{t.model}/{t.label}" if multi else t.label for t in self.tasks if t.key not in rows]
        mark_pareto(ordered, list(self.spec.objectives))
        failed = sum(r.get("status") != "ok" for r in ordered)
        return {
            "name": self.spec.name, "models": list(dict.fromkeys(t.model for t in self.tasks)),
            "clock_mhz": self.tasks[0].clock_mhz, "objectives": list(self.spec.objectives),
            "yosys": self.spec.yosys, "simulate": self.spec.simulate, "execution": self.execution.describe(),
            "how": _how(self.spec), "rows": ordered, "pending": pending,
            "counts": {"points": len(self.tasks), "done": len(ordered), "failed": failed, "cached": self.cached,
                       "computed": self.computed, "pending": len(pending)},
            "pareto": [r["point"] for r in ordered if r["pareto"]],
            "seconds": round(time.perf_counter() - self.start, 1),
        }

    def publish(self, rows: dict[str, dict], final: bool = False) -> dict:
        """Write sweep.json and sweep.md; the plots and index.html too when ``final`` or when
        ``PUBLISH_INTERVAL_S`` has passed since they were last written."""
        summary = self.summary(rows)
        write_json(self.out / "sweep.json", summary)
        write_text(self.out / "sweep.md", sweep_markdown(summary))
        if final or time.perf_counter() - self.last >= PUBLISH_INTERVAL_S:
            plots = {"pareto": pareto_plot(summary), "accuracy": accuracy_plot(summary)}
            for name, plot in plots.items():
                write_text(self.out / f"{name}.svg", svg.standalone(plot))
            write_text(self.out / "index.html", index_html(summary, plots))
            self.last = time.perf_counter()
        return summary


def run_sweep(spec: SweepSpec, execution: Execution | None = None, progress: bool = True,
              retry_failed: bool = False) -> dict:
    """Run ``spec`` (see the module docstring) and return its summary (the content of ``sweep.json``).

    ``execution``: serial when ``None``. Raises :class:`SweepError` for a bad spec or an unreachable cluster;
    a failing point does not raise (its row records the error)."""
    execution = execution or Execution(None, 0)
    out = sweep_dir(spec.name)
    tasks = plan(spec)
    store = PointStore(out / "points")
    rows = {t.key: row for t in tasks if (row := store.get(t.key)) is not None
            and not (retry_failed and row.get("status") != "ok")}
    todo = [t for t in tasks if t.key not in rows]
    outputs = _Outputs(spec, tasks, out, execution, cached=len(rows))
    outputs.publish(rows, final=bool(rows))  # the plots now only when there is something to plot
    failed = sum(r.get("status") != "ok" for r in rows.values())
    bar = PointProgress(f"sweep {spec.name}", len(tasks), len(rows), failed, enabled=progress)

    def on_result(task: PointTask, row: dict) -> None:
        store.put(row)
        rows[task.key] = row
        outputs.computed += 1
        outputs.publish(rows)

    try:
        execute(todo, on_result, execution, bar)
    finally:
        bar.close()
        summary = outputs.publish(rows, final=True)
    return summary


def sweep(model: str, foldings: list[FoldValue] | tuple[FoldValue, ...] = DEFAULT_FOLDINGS, synth: bool = True,
          simulate: int = 0, max_synth_lanes: int = MAX_SYNTH_LANES, yosys_timeout: int = YOSYS_TIMEOUT_S,
          progress: bool = True, execution: Execution | None = None) -> dict:
    """One model at ``foldings``: :func:`run_sweep` of a spec named after the model (serial by default)."""
    spec = spec_from_options([model], foldings=tuple(foldings), yosys=synth, simulate=simulate,
                             max_synth_lanes=max_synth_lanes, yosys_timeout=yosys_timeout)
    return run_sweep(spec, execution, progress=progress)
