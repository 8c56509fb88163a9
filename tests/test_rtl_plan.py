"""RTL planning without simulation: folding rules, ReuseFactor, memory packing, interface.json, errors."""

import json

import numpy as np
import pytest
from torch import nn

from flow.blocks.registry import BLOCKS
from flow.compile.folding import check_fold, fold_for_reuse, fold_for_target
from flow.compile.network import IntType, Thresholds
from flow.errors import UnsupportedError
from flow.export import export_qonnx
from flow.qat import QAct, QLinear, seed_everything
from flow.rtl.generate import write_rtl
from flow.stages.compile import convert


def test_fold_for_target_is_smallest_meeting_target():
    pe, simd = fold_for_target(64, 784, 64)
    assert (64 // pe) * (784 // simd) <= 64 and pe * simd == 784
    assert fold_for_target(10, 16, 1) == (10, 16)
    assert fold_for_target(16, 64, 1024) == (1, 1)
    assert fold_for_target(16, 64, 1000) == (1, 2)


def test_fold_for_reuse_exact_and_error_lists_valid_values():
    pe, simd = fold_for_reuse("L", 16, 64, 8)
    assert (16 // pe) * (64 // simd) == 8
    with pytest.raises(UnsupportedError, match=r"layer 'L': ReuseFactor 3 .* \(valid: 1, 2, 4"):
        fold_for_reuse("L", 16, 64, 3)


def test_check_fold_names_layer_and_divisors():
    with pytest.raises(UnsupportedError, match=r"layer 'Dense_0': PE=3 must divide the layer's 16 outputs"):
        check_fold("Dense_0", 16, 64, 3, 4)
    with pytest.raises(UnsupportedError, match=r"SIMD=5 must divide the layer's 64 inputs"):
        check_fold("Dense_0", 16, 64, 4, 5)


def test_threshold_memory_layout():
    t = np.array([[-3, 5], [2, 2], [0, -1], [7, 9]])
    th = Thresholds("t", t, np.array([False, True, False, False]), in_bits=5, out_type=IntType(2, False), pe=2)
    words = [int(x, 16) for x in BLOCKS[th.block].memory_lines(th.params, th.data)]
    slot = 2 * 5 + 1
    assert len(words) == 2
    for ch in range(4):
        word = words[ch // 2] >> ((ch % 2) * slot)
        fields = [(word >> (k * 5)) & 31 for k in range(2)]
        values = [f - 32 if f >= 16 else f for f in fields]
        assert values == t[ch].tolist()
        assert (word >> 10) & 1 == int(th.descending[ch])


def _model():
    seed_everything(0)
    return nn.Sequential(QAct("uint4"), QLinear(32, 16, "int4"), nn.BatchNorm1d(16), QAct("uint4"),
                         QLinear(16, 10, "int4")).eval()


def test_interface_json_describes_top(tmp_path):
    wrapper = export_qonnx(_model(), (32,), tmp_path / "m.onnx")
    hls_model = convert(wrapper, tmp_path / "rtl", layer_folding={"Dense_MatMul_0": (4, 8)})
    net = hls_model.config.backend.network(hls_model)
    design = write_rtl(net, tmp_path / "rtl")
    iface = json.loads((tmp_path / "rtl" / "interface.json").read_text())
    assert iface["top"] == "qflow_accel" and iface["clock"]["name"] == "clk"
    assert iface["reset"] == {"name": "rst_n", "active": "low", "synchronous": True, "min_cycles": 1}
    inp, out = iface["input"], iface["output"]
    assert (inp["elements_per_beat"], inp["beats_per_inference"], inp["element_bits"]) == (8, 4, 4)
    assert inp["tdata_width"] == 32 and inp["signed"] is False and inp["frac_bits"] == net.input_type.frac
    assert out["elements_per_beat"] * out["beats_per_inference"] == 10 and out["signed"] is True
    assert "least significant" in inp["packing"] and "2^-" in out["meaning"]
    assert iface["cycles_per_inference"] == design.cycles_per_inference == 4 * 4
    top = (tmp_path / "rtl" / "top.v").read_text()  # the folded layer an MVAU, the parallel one a constant multiplier
    assert top.count("mvau #(") == 1 and top.count("cmvm_Dense_MatMul_1 #(") == 1


def test_reuse_factor_from_hls4ml_config_sets_folding(tmp_path):
    import hls4ml

    import flow.rtl.backend as backend

    backend.register()
    wrapper = export_qonnx(_model(), (32,), tmp_path / "m.onnx")
    config = hls4ml.utils.config_from_onnx_model(wrapper, granularity="name", backend="Vitis")
    # Per-layer settings use the ONNX node names (hls4ml's granularity="name" config).
    config["LayerName"]["MatMul_0"]["ReuseFactor"] = 8
    config["LayerName"]["MatMul_1"]["ReuseFactor"] = 4
    hls_model = hls4ml.converters.convert_from_onnx_model(wrapper, hls_config=config, backend="qflow-rtl",
                                                          output_dir=str(tmp_path / "rtl"))
    net = hls_model.config.backend.network(hls_model)
    for layer, reuse in ((net.layers[0], 8), (net.layers[2], 4)):
        assert (layer.mh // layer.pe) * (layer.mw // layer.simd) == reuse


def test_bad_folding_is_refused_before_any_file(tmp_path):
    wrapper = export_qonnx(_model(), (32,), tmp_path / "m.onnx")
    hls_model = convert(wrapper, tmp_path / "rtl", layer_folding={"MatMul_1": (3, 16)})
    with pytest.raises(UnsupportedError, match=r"layer 'Dense_MatMul_1': PE=3 must divide"):
        hls_model.write()
    assert not (tmp_path / "rtl").exists()


def test_bipolar_stream_values_must_be_plus_or_minus_one():
    """Bipolar codes become bits 1/0; anything else is refused with the value named (not silently -1)."""
    from flow.rtl.generate import _encode

    t = IntType(1, True, bipolar=True)
    assert _encode(np.array([[1, -1, -1, 1]]), t, "input").tolist() == [[1, 0, 0, 1]]
    with pytest.raises(ValueError, match=r"input \(bipolar\): expected values -1 or \+1, got 0"):
        _encode(np.array([[1, 0, -1]]), t, "input")
