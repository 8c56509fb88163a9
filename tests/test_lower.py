"""Lowering QONNX -> hls4ml -> exact integer network: thresholds, accumulator widths, errors."""

import numpy as np
import pytest
import torch
from torch import nn

from flow.compile.lower import _search_thresholds
from flow.compile.network import IntType, Thresholds
from flow.errors import UnsupportedError
from flow.export import export_qonnx
from flow.qat import QAct, QLinear, seed_everything
from flow.reference import Reference
from flow.rtl.ops.mvau import MvauMode
from flow.synth import convert


def _lowered(model, n_in, tmp_path, folding="parallel"):
    wrapper = export_qonnx(model.eval(), (n_in,), tmp_path / "m.onnx")
    hls_model = convert(wrapper, tmp_path / "rtl", folding=folding)
    return wrapper, hls_model, hls_model.config.backend.network(hls_model)


def _randomize_bn(bn: nn.BatchNorm1d, negative_every: int = 3) -> None:
    with torch.no_grad():
        c = bn.num_features
        gamma = torch.linspace(0.2, 2.0, c)
        gamma[::negative_every] *= -1  # negative scales: descending thresholds
        bn.weight.copy_(gamma)
        bn.bias.copy_(torch.linspace(-1, 1, c))
        bn.running_mean.copy_(torch.linspace(-3, 3, c))
        bn.running_var.copy_(torch.linspace(0.5, 4, c))


@pytest.mark.parametrize(("weight", "act", "inp"), [("int4", "uint4", "uint4"), ("binary", "binary", "binary"),
                                                    ("ternary", "int3", "int4"), ("binary", "uint2", "uint8")])
def test_integer_network_equals_reference_with_negative_bn(weight, act, inp, tmp_path):
    seed_everything(3)
    model = nn.Sequential(QAct(inp, max_val=2.0), QLinear(24, 12, weight), nn.BatchNorm1d(12), QAct(act, max_val=2.0),
                          QLinear(12, 5, weight))
    _randomize_bn(model[2])
    wrapper, _, net = _lowered(model, 24, tmp_path)
    x = np.random.default_rng(0).uniform(-2.5, 2.5, (2000, 24)).astype(np.float32)
    ref = Reference(wrapper).run(x)
    got = net.run_float(x)
    assert np.array_equal(ref, got)
    th = net.layers[1]
    assert isinstance(th, Thresholds)
    # Descending (<=) channels exist and are exactly among the negative-scale ones (0, 3, 6, 9); a channel
    # that is constant over its whole accumulator range may be stored either way.
    assert th.descending.any() and set(np.flatnonzero(th.descending)) <= {0, 3, 6, 9}
    modes = {"binary": {MvauMode.XNOR, MvauMode.BIPOLAR_W}, "int4": {MvauMode.MAC}, "ternary": {MvauMode.MAC}}
    assert net.layers[0].mode in modes[weight]


def test_accumulator_width_is_minimal_for_interval():
    from flow.compile.lower import _acc_interval, _signed_bits_for

    W = np.array([[7, -7, 7], [1, 0, -1]])
    lo, hi, _ = _acc_interval(W, IntType(4, False))
    assert lo.tolist() == [-105, -15] and hi.tolist() == [210, 15]
    assert _signed_bits_for(int(lo.min()) - 1, int(hi.max()) + 1) == 9  # [-106, 211] needs 9 bits signed


def test_threshold_search_matches_brute_force():
    rng = np.random.default_rng(1)
    scale = rng.uniform(-1.5, 1.5, 6)
    bias = rng.uniform(-4, 4, 6)

    def f(a):  # a uint3 quantized ReLU of an affine map, per channel
        return np.clip(np.round(np.maximum(a * scale + bias, 0)), 0, 7).astype(np.int64)

    lo, hi = np.full(6, -20), np.full(6, 20)
    out_type = IntType(3, False)
    t, desc = _search_thresholds(f, lo, hi, out_type)
    th = Thresholds("t", t, desc, 8, out_type, 1)
    a = np.arange(-20, 21)[:, None].repeat(6, 1)
    assert np.array_equal(th.run(a), f(a))
    assert desc.tolist() == (scale < 0).tolist()


def test_unmapped_layer_is_refused_before_writing(tmp_path):
    model = nn.Sequential(QAct("uint4"), QLinear(8, 4, "int4"), QAct("uint4"), QLinear(4, 3, "int4"), nn.ReLU())
    with pytest.raises(UnsupportedError, match=r"ops after the last layer \(\[.Relu"):
        _lowered(model, 8, tmp_path)
    assert not (tmp_path / "rtl").exists()
