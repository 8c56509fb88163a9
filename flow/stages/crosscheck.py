"""The three-way cross-check: the QONNX reference, hls4ml's Vitis C-simulation of the exact HLS project
(:mod:`flow.hls`) and the RTL simulation, output for output with ``==``, on the compile stage's vectors.

Artefact: ``three_way.json``. Refuses a missing or stale ``sim.json``; a C-simulation that differs names the
first differing layer (:func:`flow.hls.verify.localize`). A network with layers the exact HLS path does not
cover (:func:`flow.hls.extension.hls_gap`: residual adds, depthwise convolutions, global pooling) gets a
``three_way.json`` that says so (``skipped``) and compares nothing.
"""

from __future__ import annotations

import numpy as np

from flow.frontend.graph import load_qonnx
from flow.hls.extension import hls_gap
from flow.hls.verify import localize, pairwise, run_csim
from flow.stages.artefacts import invalidate, locked, require, write_artefact
from flow.stages.compile import load_network, load_vectors
from flow.stages.hls import outputs_as_codes
from flow.stages.target import Target

__all__ = ["crosscheck_target"]


@locked
def crosscheck_target(target: Target) -> dict:
    """Run the C-simulation on the vectors the RTL simulation ran and compare all three; return
    ``three_way.json``'s contents (differences are recorded as checks, not raised)."""
    root = target.paths.root
    net, _ = load_network(root)
    require(root, "sim.json", "simulate")
    vectors = load_vectors(root)
    with np.load(root / "sim_outputs.npz") as f:
        rtl = f["stalled"]
    invalidate(root, "crosscheck")
    settings = target.hls_settings
    gap = hls_gap(net)
    if gap is not None:  # recorded, not raised: the RTL is still checked against the golden network and QONNX
        data = {"options": {"hls_settings": settings}, "skipped": gap, "comparisons": []}
        return write_artefact(root, "three_way.json", data, ["network.json", "model.hw.onnx", "sim_outputs.npz"])
    qonnx_model = load_qonnx(target.paths.root / "model.hw.onnx")  # the graph the accelerator computes
    project, csim = run_csim(qonnx_model, vectors.x_int, target.paths.hls, settings)
    outputs = {"QONNX reference": outputs_as_codes(vectors.reference, net.output_type.scale), "HLS C-sim": csim,
               "RTL sim": rtl}
    rows = pairwise(outputs)
    for row in rows:
        if row["differing_outputs"] and "HLS C-sim" in row["pair"]:
            sample = row["first_differing_sample"]
            row["first_differing_layer"] = localize(qonnx_model, settings, vectors.x_int[sample : sample + 1], net)
    data = {"options": {"hls_settings": settings},
            "comparisons": rows, "hls_project": str(target.paths.hls), "hls_settings": project.settings,
            "hls_compile_seconds": round(project.compile_seconds or 0.0, 2)}
    return write_artefact(root, "three_way.json", data, ["network.json", "model.hw.onnx", "sim_outputs.npz"])
