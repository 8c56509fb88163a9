"""The MLPerf-Tiny-shaped recipes through ``qflow synth`` (slow tier: each trains its default epochs, then its
whole test split is simulated under random stalls): every check at 0 differing outputs, PyTorch/QONNX and RTL
give the same accuracy (or reconstruction MSE), the residual and depthwise blocks are in the design."""

from __future__ import annotations

import json

import pytest

from flow.cli import main

CASES = {
    "resnet8_w4a4": {"axis_fork", "eltwise_add", "gap"},
    "dscnn_w4a4": {"vvau", "gap"},
    "mobilenet_tiny_w4a4": {"vvau", "gap"},
    "autoencoder_w8a8": {"mvau"},
}


@pytest.mark.slow
@pytest.mark.sim
@pytest.mark.parametrize("name", sorted(CASES))
def test_tiny_recipe_synthesizes_bit_exactly(name, build_root):
    assert main(["synth", name, "--no-hls", "--no-yosys", "--no-pnr", "--quiet"]) == 0
    report = json.loads((build_root / name / "report.json").read_text())
    assert all(c["differing_outputs"] == 0 for c in report["checks"]), report["checks"]
    values = {entry["value"] for entry in report["accuracy"].values()}
    assert len(report["accuracy"]) == 2 and len(values) == 1, report["accuracy"]
    assert CASES[name] <= {b["module"] for b in report["interface"]["blocks"]}
