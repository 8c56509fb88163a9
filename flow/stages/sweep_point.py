"""One design point of a sweep: one model at one folding, compiled, optionally simulated and synthesized.

:func:`run_point` is the unit of work the executors (:mod:`flow.stages.sweep_exec`) hand to a Dask worker or
call in a loop; it takes a picklable :class:`PointTask` (plain data, absolute paths) and returns the point's
row (a JSON-able dict). It never raises for a failing point: the row then has ``status = "failed"`` and the
error. It runs the stage functions ``qflow compile|simulate|estimate`` use:

* :func:`flow.stages.compile.convert` and the backend's ``network``/``write`` -- PE x SIMD of every
  matrix-vector unit, lanes (PE*SIMD summed), cycles per inference and latency **predicted** by the design's
  beat-timing model; RTL in ``task.work_dir/rtl``;
* with ``simulate=N``: the Verilator harness (:func:`flow.rtl.verilator.build_harness`) on N inputs (the
  recipe's test split; random input codes for a QONNX file), no stalls, outputs compared with ``==`` against
  the golden integer network -- **simulated** cycles per inference;
* with ``yosys``: :func:`flow.rtl.yosys.synth_xilinx`, cached by a digest of the Verilog and memory files in
  ``task.synth_cache`` -- **synthesized** LUT, FF, ... Designs with more lanes than ``max_synth_lanes`` and
  runs past ``yosys_timeout`` are listed as not synthesized, never as 0;
* energy per inference **estimated** by the operation model (:func:`flow.estimate.energy.network_energy`);
* with ``pnr_device``: Yosys ``synth_ecp5`` + nextpnr-ecp5 (:func:`flow.stages.implement.place_design`) --
  **placed and routed** Fmax and inferences/s (Fmax / max(cycles per inference, pin beats)).
"""

from __future__ import annotations

import functools
import hashlib
import json
import logging
import time
import traceback
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from flow.compile.folding import Folding
from flow.compile.network import MatVec, flat_layers
from flow.estimate.energy import network_energy
from flow.frontend.graph import load_qonnx
from flow.io import write_json
from flow.recipe import load_recipe
from flow.rtl.backend import cxx_opt_level
from flow.rtl.nextpnr import ImplementationError, plan_io
from flow.rtl.verilator import build_harness
from flow.rtl.yosys import SynthesisError, synth_xilinx, yosys_command
from flow.stages.compile import convert
from flow.stages.implement import PnrOptions, place_design, throughput
from flow.stages.sweep_spec import FoldValue
from flow.stages.train import recipe_dataset

__all__ = ["RESOURCE_KEYS", "PointTask", "cached_synth_xilinx", "design_digest", "design_lanes", "failed_row",
           "run_point"]

log = logging.getLogger(__name__)

RESOURCE_KEYS = ("LUT", "FF", "CARRY4", "DSP48E1", "BRAM18_equivalent", "LUTRAM")


@dataclass(frozen=True)
class PointTask:
    """Everything a worker needs for one point (paths absolute: a remote worker must see the same files).

    ``key`` identifies the point's inputs (:func:`flow.stages.sweep_store.point_key`); ``recipe`` is the recipe
    reference (name or ``.py`` path) or ``None`` for a QONNX file; ``qonnx`` the graph compiled and
    ``qonnx_digest`` its sha256; ``accuracy`` the model's test accuracy (``metrics.json``), copied into the row."""

    key: str
    model: str
    recipe: str | None
    qonnx: str
    qonnx_digest: str
    folding: FoldValue
    label: str
    layer_folding: tuple[tuple[str, tuple[int, int]], ...]
    clock_mhz: float
    simulate: int
    yosys: bool
    max_synth_lanes: int
    yosys_timeout: int
    work_dir: str
    synth_cache: str
    accuracy: float | None = None
    pnr_device: str | None = None  # place and route on this ECP5 ("25k" | "45k" | "85k"); None: not
    pnr_freq: float = 100.0
    pipeline: str = "none"  # register stages (flow.compile.pipeline label)


def design_lanes(net) -> int:
    """Parallel lanes of a lowered network: PE x SIMD summed over its matrix-vector units."""
    return sum(layer.pe * layer.simd for layer in flat_layers(net.layers) if isinstance(layer, MatVec))


def design_digest(design, tool: str) -> str:
    """SHA-256 of what Yosys reads (Verilog sources and memory files) and of the Yosys used."""
    h = hashlib.sha256(tool.encode())
    files = sorted({*design.sources, *(p.name for p in design.directory.glob("*.mem") if "stimulus" not in p.name)})
    for name in files:
        h.update(name.encode() + b"\0" + (design.directory / name).read_bytes() + b"\0")
    return h.hexdigest()


def cached_synth_xilinx(design, cache_dir: Path, timeout: int) -> tuple[dict, bool]:
    """``synth_xilinx`` of ``design``, reusing an earlier result for identical files; (result, from cache)."""
    digest = design_digest(design, yosys_command()[1])
    path = cache_dir / f"{digest}.json"
    if path.is_file():
        try:
            return json.loads(path.read_text()), True
        except json.JSONDecodeError:
            log.warning("%s: unreadable cache entry, synthesizing again", path)
    result = synth_xilinx(design.directory, design.sources, design.top, timeout=timeout) | {"digest": digest}
    write_json(path, result)
    return result, False


@functools.lru_cache(maxsize=8)
def _qonnx_model(path: str, digest: str):
    """The QONNX graph, loaded once per worker process and file version (``digest`` is part of the key)."""
    return load_qonnx(path)


@functools.lru_cache(maxsize=8)
def _test_inputs(recipe: str) -> np.ndarray:
    return recipe_dataset(load_recipe(recipe)).test.x


def _input_codes(task: PointTask, net, n: int) -> np.ndarray:
    """N integer input codes: the recipe's first N test inputs, or seeded random codes of the accelerator's input
    type for a QONNX file (no data set to take them from)."""
    if task.recipe is not None:
        return net.quantize_input(_test_inputs(task.recipe)[:n])
    lo, hi = net.input_type.range
    codes = np.random.default_rng(0).integers(lo, hi + 1, size=(n, int(np.prod(net.input_shape))))
    codes = np.where(codes > 0, 1, -1) if net.input_type.bipolar else codes
    return codes.reshape(n, *net.input_shape)


def _simulate(task: PointTask, backend, hls_model, net, design) -> dict:
    """N inputs through the Verilator model, no stalls: steady cycles/inference and mismatches vs golden."""
    build_harness(design.directory, design.sources, opt=cxx_opt_level(net))
    x_int = _input_codes(task, net, task.simulate)
    start = time.perf_counter()
    got, run = backend.predict_int(hls_model, x_int, tag="sweep")
    return {
        "vectors": len(x_int),
        "differing_outputs": int((got != net.run(x_int)).any(axis=1).sum()),
        "cycles_per_inference": run.steady_cycles_per_inference,
        "seconds": round(time.perf_counter() - start, 2),
    }


def _synth(task: PointTask, design, lanes: int) -> tuple[dict, dict]:
    """(resource figures, synthesis record) of a design; figures ``None`` where not synthesized."""
    figures = dict.fromkeys(RESOURCE_KEYS)
    if not task.yosys:
        return figures, {"not_run": "--no-synth"}
    if lanes > task.max_synth_lanes:
        return figures, {"not_run": f"{lanes:,} lanes > {task.max_synth_lanes:,} (--max-synth-lanes)"}
    try:
        res, cached = cached_synth_xilinx(design, Path(task.synth_cache), task.yosys_timeout)
    except SynthesisError as exc:
        log.warning("%s/%s: %s", task.model, task.label, exc)
        return figures, {"not_run": str(exc).splitlines()[0]}
    figures |= {k: res.get(k) for k in RESOURCE_KEYS}
    return figures, {"tool": res.get("tool"), "seconds": res.get("seconds"), "cached": cached,
                     "digest": res.get("digest")}


def _base_row(task: PointTask) -> dict:
    return {"key": task.key, "model": task.model, "folding": task.folding, "pipeline": task.pipeline,
            "label": task.label, "accuracy": task.accuracy}


def _compute(task: PointTask) -> dict:
    """The point's row (see the module docstring); raises what the stages raise."""
    qonnx_model = _qonnx_model(task.qonnx, task.qonnx_digest)
    hls_model = convert(qonnx_model, Path(task.work_dir) / "rtl", Folding.parse(task.folding, None, task.pipeline),
                        dict(task.layer_folding), task.clock_mhz)
    backend = hls_model.config.backend
    net = backend.network(hls_model)
    design = backend.write(hls_model)
    lanes = design_lanes(net)
    row = _base_row(task) | {
        "status": "ok",
        "layers": [{"layer": m.name, "pe": m.pe, "simd": m.simd,
                    "cycles_per_vector": (m.mh // m.pe) * (m.mw // m.simd)}
                   for m in flat_layers(net.layers) if isinstance(m, MatVec)],
        "lanes": lanes,
        "cycles_per_inference": design.cycles_per_inference,
        "latency_cycles": int(design.interface["latency_cycles_estimate"]),
        "energy_pj": network_energy(net)["total_pj"],
        "rtl": str(design.directory),
    }
    figures, row["synth"] = _synth(task, design, lanes)
    row |= figures
    row["simulation"] = _simulate(task, backend, hls_model, net, design) if task.simulate else None
    if task.pnr_device is not None:
        row |= _place(task, design)
    return row


def _place(task: PointTask, design) -> dict:
    """Place and route the point's design (:func:`flow.stages.implement.place_design`, as ``qflow implement``):
    **placed and routed** Fmax and inferences/s; a design that does not fit or a failed run is recorded as not
    placed (``fmax_mhz`` None), never as 0."""
    options = PnrOptions(device=task.pnr_device, freq_mhz=task.pnr_freq)
    try:
        placed = place_design(design, Path(task.work_dir) / "pnr", options)
    except ImplementationError as exc:
        log.warning("%s/%s: %s", task.model, task.label, exc)
        return {"fmax_mhz": None, "inferences_per_s": None, "pnr": {"not_run": str(exc).splitlines()[0]}}
    fmax = placed["clock"]["fmax_mhz"]
    rate = throughput(fmax, design.cycles_per_inference, plan_io(design.interface, options.io_pins))
    return {"fmax_mhz": fmax, "inferences_per_s": rate["inferences_per_second"],
            "pnr": {"device": placed["device"]["part"], "met": placed["clock"]["met"],
                    "utilisation": placed.get("utilisation"), "seconds": placed["pnr"]["seconds"]}}


def failed_row(task: PointTask, error: str, detail: str = "") -> dict:
    """The row of a point that could not be computed: its identity, ``status = "failed"`` and the error."""
    return _base_row(task) | {"status": "failed", "error": error, "detail": detail}


def run_point(task: PointTask) -> dict:
    """Compute one point; never raises an ``Exception`` (the row records it). Adds ``seconds``."""
    start = time.perf_counter()
    try:
        row = _compute(task)
    except Exception as exc:  # a failing point is a row, and the sweep goes on
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
        log.warning("%s/%s failed: %s: %s", task.model, task.label, type(exc).__name__, first)
        row = failed_row(task, f"{type(exc).__name__}: {first}", traceback.format_exc(limit=8))
    row["seconds"] = round(time.perf_counter() - start, 2)
    return row
