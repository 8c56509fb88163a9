"""``qflow simulate``: the compiled design in Verilator on the compile stage's vectors, every output compared
with ``==`` against the golden integer network, with random stalls on both sides and without; cycles per
inference and latency measured next to their predictions.

Artefacts: ``sim.json`` (figures, checks, per-block timing) and ``sim_outputs.npz`` (the stalled run's outputs,
for the cross-check). Refuses a missing or stale ``network.json``.
"""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np

from flow.errors import QflowError
from flow.io import atomic_path
from flow.rtl.backend import cxx_opt_level
from flow.rtl.generate import RtlDesign
from flow.rtl.harness import load_design, run_network
from flow.rtl.plan import block_times
from flow.rtl.verilator import HarnessRun, build_harness
from flow.stages.artefacts import invalidate, locked, write_artefact
from flow.stages.compile import load_network, load_vectors
from flow.stages.quality import quality
from flow.stages.target import Target

__all__ = ["STALL_PERCENT", "simulate_target"]

STALL_PERCENT = 25  # random idle cycles on the input and backpressure on the output in the checked run


def layer_timing(design: RtlDesign, single: HarnessRun, free: HarnessRun) -> list[dict]:
    """Per block: when its last output beat of one inference leaves (predicted by the beat-timing model vs
    simulated, one inference through the empty pipeline) and its cycles per inference (its own, predicted, vs
    simulated inside the pipeline without stalls, where the slowest block sets every block's pace)."""
    predicted = block_times(design.blocks, design.interface["input"]["beats_per_inference"])
    if len(single.blocks) != len(design.blocks) or len(free.blocks) != len(design.blocks):
        raise QflowError(
            f"{design.directory}: the harness reported {len(single.blocks)} block probes, expected "
            f"{len(design.blocks)} (rebuild the RTL: an older harness has no probes)"
        )
    return [
        {
            "instance": b.instance,
            "layer": b.layer,
            "done_cycle_predicted": times[-1],
            "done_cycle_simulated": done0 - single.first_in_cycle,
            "cycles_per_inference_predicted": b.cycles_per_inference,
            "interval_simulated": interval,
        }
        for b, times, (done0, _), (_, interval) in zip(design.blocks, predicted, single.blocks, free.blocks,
                                                       strict=True)
    ]


def _save_outputs(path: Path, outputs: np.ndarray) -> None:
    """``sim_outputs.npz``, atomically."""
    with atomic_path(path) as tmp, open(tmp, "wb") as f:
        np.savez(f, stalled=outputs)


@locked
def simulate_target(target: Target, stall_percent: int = STALL_PERCENT, sim_build: str = "fast-build") -> dict:
    """Build the Verilator model of the compiled design and run the checks; return ``sim.json``'s contents.

    ``stall_percent``: random idle cycles on the input and backpressure on the output (percent) in the
    checked run; a second run has none. Differing outputs are recorded as failed checks (the report and
    ``qflow synth`` turn them into an error), never hidden."""
    root = target.paths.root
    net, _ = load_network(root)
    vectors = load_vectors(root)
    invalidate(root, "simulate")
    design = load_design(target.paths.rtl, net)
    build_harness(design.directory, design.sources, opt=cxx_opt_level(net, sim_build))
    x_int, golden = vectors.x_int, vectors.golden
    t0 = time.perf_counter()
    stalled, _ = run_network(net, design, x_int, stall_percent, stall_percent, seed=1, tag="stalled")
    t_stalled = time.perf_counter() - t0
    t0 = time.perf_counter()
    free, run_f = run_network(net, design, x_int, tag="free")
    t_free = time.perf_counter() - t0
    _, run_1 = run_network(net, design, x_int[:1], tag="single")  # one inference through the empty pipeline
    bad_s = int((stalled != golden).any(axis=1).sum())
    bad_f = int((free != golden).any(axis=1).sum())
    n = len(x_int)
    sim = {
        "vectors": n,
        "inputs": vectors.description,
        "mismatches_with_stalls": bad_s,
        "mismatches_without_stalls": bad_f,
        "stall_percent_input": stall_percent,
        "stall_percent_output": stall_percent,
        "cycles_per_inference_measured": run_f.steady_cycles_per_inference,
        "cycles_per_inference_predicted": design.cycles_per_inference,
        "latency_cycles_measured": run_1.latency_max,
        "latency_cycles_predicted": design.interface["latency_cycles_estimate"],
        "sim_seconds_with_stalls": round(t_stalled, 3),
        "sim_inferences_per_second": n / t_free if t_free > 0 else None,
        "comparison": "every output element compared with == against the golden integer network",
        "options": {"stall_percent": stall_percent, "sim_build": sim_build},
        "checks": [
            {"check": f"RTL simulation == golden, {stall_percent}% random stalls both sides", "vectors": n,
             "differing_outputs": bad_s},
            {"check": "RTL simulation == golden, no stalls", "vectors": n, "differing_outputs": bad_f},
        ],
        "layers": layer_timing(design, run_1, run_f),
    }
    sim["accuracy"] = quality(target.task, net, stalled, x_int, vectors.labels, "RTL (simulated)",
                              "Verilator simulation of the generated RTL on the test split")
    _save_outputs(root / "sim_outputs.npz", stalled)
    return write_artefact(root, "sim.json", sim, ["network.json", "vectors.npz", "sim_outputs.npz"])
