"""The exact hls4ml Vitis path: C-simulation == golden == QONNX reference, settings, errors, localization."""

from __future__ import annotations

import json

import numpy as np
import pytest

pytestmark = pytest.mark.sim  # compiles C++ (g++), like the simulation tests


def _tiny(tmp_path, weight: str, act: str, inp: str, negate_bn: bool = True):
    """A 64-16-10 net trained one epoch on digits, some BatchNorm scales made negative, exported to QONNX."""
    import torch
    from torch import nn

    from flow.export import export_qonnx
    from flow.qat import QAct, QLinear, TrainConfig, load_dataset, seed_everything, train

    data = load_dataset("digits", input_range=(-1, 1) if inp == "binary" else (0, 1))
    seed_everything(0)
    if weight == "adder":  # AdderNet layers (x and w on one grid), BatchNorm after each, int8 logits
        from flow.qat.models import adder_mlp

        model = adder_mlp([64, 16, 10], act, input_max=1.0, act_max=4.0)
        first_bn = model[1]
    else:
        model = nn.Sequential(
            QAct(inp), QLinear(64, 16, weight), nn.BatchNorm1d(16), QAct(act), QLinear(16, 10, weight)
        )
        first_bn = model[2]
    train(model, data, TrainConfig(epochs=1, lr=1e-2, logit_scale=0.25), progress=False)
    if negate_bn:  # negative BatchNorm scales: the case hls4ml's own BNN passes get wrong
        with torch.no_grad():
            first_bn.weight[::3] *= -1
    model.eval()
    return data, export_qonnx(model, (64,), tmp_path / "m.onnx")


CASES = [
    pytest.param("binary", "binary", "binary", "io_parallel", id="w1a1-parallel"),
    pytest.param("int4", "uint4", "uint4", "io_stream", id="w4a4-stream"),
    pytest.param("binary", "uint2", "uint4", "io_parallel", id="w1a2-bipolarw-parallel"),
    pytest.param("adder", "uint4", "uint4", "io_parallel", id="adder-u4-parallel"),
    pytest.param("adder", "uint3", "uint3", "io_stream", id="adder-u3-stream"),
]


@pytest.mark.parametrize(("weight", "act", "inp", "io_type"), CASES)
def test_csim_equals_golden_and_reference(weight, act, inp, io_type, tmp_path):
    from flow.hls.verify import pairwise, run_csim
    from flow.reference import Reference
    from flow.stages.hls import outputs_as_codes

    data, qonnx_model = _tiny(tmp_path, weight, act, inp)
    out_dir = tmp_path / "hls"
    project, _ = run_csim(qonnx_model, np.zeros((1, 64), dtype=np.int64), out_dir, {"IOType": io_type})
    net = project.network
    assert any(np.any(t.descending) for t in net.layers if hasattr(t, "descending")), "no negative BN scale"
    x_int = net.quantize_input(data.test.x)
    csim = project.predict_int(x_int)
    reference = outputs_as_codes(Reference(qonnx_model).run(data.test.x), net.output_type.scale)
    rows = pairwise({"reference": reference, "golden": net.run(x_int), "csim": csim})
    assert [r["differing_outputs"] for r in rows] == [0, 0, 0], rows
    assert (out_dir / "build_prj.tcl").is_file() and (out_dir / "firmware" / "qflow_hls.cpp").is_file()
    assert (out_dir / "firmware" / "nnet_utils" / "nnet_qflow_thresholds.h").is_file()
    if weight == "adder":
        assert "nnet::qflow_adder_dense" in (out_dir / "firmware" / "qflow_hls.cpp").read_text()
    assert not list(tmp_path.glob(".hls.*")), "temporary project directory left behind"


def test_localize_names_the_faulty_layer(tmp_path):
    from flow.hls.verify import localize

    data, qonnx_model = _tiny(tmp_path, "int4", "uint4", "uint4")
    from flow.hls.project import convert_exact

    net = convert_exact(qonnx_model, tmp_path / "unused").network
    x_int = net.quantize_input(data.test.x[:8])

    def corrupt(project):  # shift one channel's thresholds: that layer, and only from it on, differs
        layer = next(layer for layer in project.model.get_layers() if layer.class_name == "QflowThresholds")
        weights = layer.weights["thresholds"]
        weights.data = np.asarray(weights.data).copy()
        weights.data[0, :] += 1.0
        corrupt.name = layer.name

    assert localize(qonnx_model, {}, x_int, net, mutate=corrupt) == corrupt.name


def test_precision_overrides_narrower_refused_wider_accepted(tmp_path):
    from flow.errors import QflowError
    from flow.hls.project import convert_exact

    _, qonnx_model = _tiny(tmp_path, "int4", "uint4", "uint4", negate_bn=False)
    project = convert_exact(qonnx_model, tmp_path / "a")
    dense = next(layer for layer in project.model.get_layers() if layer.class_name == "Dense")
    onnx_name = dense.name.removeprefix("Dense_")
    exact = dense.get_output_variable().type.precision
    with pytest.raises(QflowError, match=rf"layer '{onnx_name}': Precision result = 'fixed<6,3>' would break"):
        convert_exact(qonnx_model, tmp_path / "b", layers={onnx_name: {"Precision": {"result": "fixed<6,3>"}}})
    wide = f"fixed<{int(exact.width) + 4},{int(exact.integer) + 2}>"
    ok = convert_exact(qonnx_model, tmp_path / "c", layers={onnx_name: {"Precision": {"result": wide}}})
    assert str(ok.model.graph[dense.name].get_output_variable().type.precision) == str(exact)
    with pytest.raises(QflowError, match="LayerName 'nope': no such layer"):
        convert_exact(qonnx_model, tmp_path / "d", layers={"nope": {"ReuseFactor": 2}})
    with pytest.raises(QflowError, match="IOType expected one of"):
        convert_exact(qonnx_model, tmp_path / "e", io_type="io_serial")


def test_settings_file_errors(tmp_path):
    from flow.errors import QflowError
    from flow.stages.hls import load_settings

    good = tmp_path / "good.yml"
    good.write_text("IOType: io_stream\nReuseFactor: 4\nLayerName:\n  MatMul_0:\n    ReuseFactor: 8\n")
    assert load_settings(good) == {
        "IOType": "io_stream",
        "ReuseFactor": 4,
        "LayerName": {"MatMul_0": {"ReuseFactor": 8}},
    }
    bad = tmp_path / "bad.yml"
    bad.write_text("IOTyp: io_stream\n")
    with pytest.raises(QflowError, match=r"unknown hls setting\(s\) \['IOTyp'\]"):
        load_settings(bad)


def test_cli_hls_on_a_user_qonnx_file(tmp_path, monkeypatch):
    from flow.cli import main

    _, _ = _tiny(tmp_path, "binary", "binary", "binary")
    monkeypatch.setenv("QFLOW_BUILD", str(tmp_path / "build"))
    settings = tmp_path / "s.yml"
    settings.write_text("ReuseFactor: 2\nStrategy: Resource\n")
    assert main(["-q", "hls", str(tmp_path / "m.onnx"), "--config", str(settings), "--io-type", "io_stream"]) == 0
    summary = json.loads((tmp_path / "build" / "m" / "hls.json").read_text())
    assert summary["vectors"] == 1000 and all(r["differing_outputs"] == 0 for r in summary["comparisons"])
    assert summary["settings"]["IOType"] == "io_stream" and summary["settings"]["ReuseFactor"] == 2
    assert main(["-q", "hls", str(tmp_path / "m.onnx"), "--config", str(tmp_path / "missing.yml")]) == 2


@pytest.mark.slow
@pytest.mark.parametrize("recipe_name", ["tfc_w1a1", "mlp_w4a4_digits", "lenet5_w4a4"])
def test_recipe_three_way_whole_test_split(recipe_name, tmp_path, monkeypatch):
    """QONNX reference == hls4ml C-sim == RTL simulation on the recipe's whole test split (``qflow synth``)."""
    from flow.stages.synth import synth

    monkeypatch.setenv("QFLOW_BUILD", str(tmp_path / "build"))
    assert synth(recipe_name, progress=False, skip_yosys=True, skip_hls=False) == 0
    report = json.loads((tmp_path / "build" / recipe_name / "report.json").read_text())
    rows = report["three_way"]["comparisons"]
    assert [r["pair"] for r in rows] == [
        "QONNX reference vs HLS C-sim",
        "QONNX reference vs RTL sim",
        "HLS C-sim vs RTL sim",
    ]
    assert all(r["differing_outputs"] == 0 and r["vectors"] == report["simulation"]["vectors"] for r in rows)


def test_adder_cnn_csim_equals_reference(tmp_path):
    """AdderNet convolutions (padding, max-pool between adder layers, flatten) in the Vitis project, io_stream:
    C-sim == golden == QONNX reference."""
    from test_adder import _tiny_adder_cnn, calibrated

    from flow.export import export_qonnx
    from flow.hls.verify import pairwise, run_csim
    from flow.reference import Reference
    from flow.stages.hls import outputs_as_codes

    model = calibrated(_tiny_adder_cnn(), (1, 8, 8))
    qonnx_model = export_qonnx(model, (1, 8, 8), tmp_path / "cnn.onnx")
    x = np.random.default_rng(0).random((100, 1, 8, 8)).astype(np.float32)
    project, csim = run_csim(qonnx_model, lambda net: net.quantize_input(x), tmp_path / "hls", {"IOType": "io_stream"})
    net = project.network
    reference = outputs_as_codes(Reference(qonnx_model).run(x), net.output_type.scale)
    rows = pairwise({"reference": reference, "golden": net.run(net.quantize_input(x)), "csim": csim})
    assert [r["differing_outputs"] for r in rows] == [0, 0, 0], rows
    assert "nnet::qflow_adder_conv2d" in (tmp_path / "hls" / "firmware" / "qflow_hls.cpp").read_text()
