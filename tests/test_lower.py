"""Lowering QONNX -> hls4ml -> exact integer network: thresholds, accumulator widths, errors."""

import numpy as np
import pytest
import torch
from torch import nn

from flow.blocks.mvau import MvauMode
from flow.compile.chain import search_thresholds
from flow.compile.network import IntType, Thresholds
from flow.errors import UnsupportedError
from flow.export import export_qonnx
from flow.qat import QAct, QLinear, seed_everything
from flow.reference import Reference
from flow.stages.compile import convert


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


@pytest.mark.parametrize(
    ("weight", "act", "inp"),
    [
        ("int4", "uint4", "uint4"),
        ("binary", "binary", "binary"),
        ("ternary", "int3", "int4"),
        ("binary", "uint2", "uint8"),
    ],
)
def test_integer_network_equals_reference_with_negative_bn(weight, act, inp, tmp_path):
    seed_everything(3)
    model = nn.Sequential(
        QAct(inp, max_val=2.0),
        QLinear(24, 12, weight),
        nn.BatchNorm1d(12),
        QAct(act, max_val=2.0),
        QLinear(12, 5, weight),
    )
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
    from flow.compile.weights import acc_interval, signed_bits_for

    W = np.array([[7, -7, 7], [1, 0, -1]])
    lo, hi, _ = acc_interval(W, IntType(4, False))
    assert lo.tolist() == [-105, -15] and hi.tolist() == [210, 15]
    assert signed_bits_for(int(lo.min()) - 1, int(hi.max()) + 1) == 9  # [-106, 211] needs 9 bits signed


def test_threshold_search_matches_brute_force():
    rng = np.random.default_rng(1)
    scale = rng.uniform(-1.5, 1.5, 6)
    bias = rng.uniform(-4, 4, 6)

    def f(a):  # a uint3 quantized ReLU of an affine map, per channel
        return np.clip(np.round(np.maximum(a * scale + bias, 0)), 0, 7).astype(np.int64)

    lo, hi = np.full(6, -20), np.full(6, 20)
    out_type = IntType(3, False)
    t, desc = search_thresholds(f, lo, hi, out_type)
    th = Thresholds("t", t, desc, 8, out_type, 1)
    a = np.arange(-20, 21)[:, None].repeat(6, 1)
    assert np.array_equal(th.run(a), f(a))
    assert desc.tolist() == (scale < 0).tolist()


def test_unmapped_layer_is_refused_before_writing(tmp_path):
    model = nn.Sequential(QAct("uint4"), QLinear(8, 4, "int4"), QAct("uint4"), QLinear(4, 3, "int4"), nn.ReLU())
    with pytest.raises(UnsupportedError, match=r"ops after the last layer \(\[.Relu"):
        _lowered(model, 8, tmp_path)
    assert not (tmp_path / "rtl").exists()


def _conv_net(conv: nn.Module, pool: nn.Module | None = None, inp: str = "uint4") -> nn.Sequential:
    from flow.qat import QAct

    layers = [QAct(inp), conv, nn.BatchNorm2d(conv.out_channels), QAct("uint4")]
    if pool is not None:
        layers.append(pool)
    return nn.Sequential(
        *layers, nn.Flatten(), QLinear(conv.out_channels * 4 * 4 if pool else conv.out_channels * 36, 5, "int4")
    )


def _conv_lowered(model, tmp_path, size=8):
    import torch

    from flow.export import export_qonnx
    from flow.stages.compile import convert

    torch.manual_seed(0)
    model.train()
    with torch.no_grad():  # BatchNorm statistics from data, so the thresholds are not trivial
        model(torch.rand(64, 1, size, size))
    model.eval()
    qonnx_model = export_qonnx(model, (1, size, size), tmp_path / "conv.onnx")
    hls_model = convert(qonnx_model, tmp_path / "rtl", folding="folded")
    return qonnx_model, hls_model.config.backend.network(hls_model)


@pytest.mark.parametrize(
    ("conv", "pool"),
    [
        pytest.param(("int4", 3, 1, 1), nn.MaxPool2d(2), id="k3-pad1-pool2"),
        pytest.param(("binary", 3, 1, 0), None, id="binary-k3"),
        pytest.param(("int3", 5, 1, 2), nn.MaxPool2d(2), id="k5-pad2-pool2"),
    ],
)
def test_conv_network_golden_equals_reference(conv, pool, tmp_path):
    """Conv (+ padding) + BatchNorm + quantizer (+ max-pool) + flatten + dense: golden == QONNX on 200 images."""
    import numpy as np
    import torch

    from flow.compile.network import MaxPool, Pad, SlidingWindow
    from flow.qat import QConv2d
    from flow.reference import Reference

    weight, k, stride, pad = conv
    model = _conv_net(QConv2d(1, 4, k, weight=weight, stride=stride, padding=pad), pool)
    qonnx_model, net = _conv_lowered(model, tmp_path)
    kinds = {type(layer) for layer in net.layers}
    assert SlidingWindow in kinds and (Pad in kinds) == (pad > 0) and (MaxPool in kinds) == (pool is not None)
    x = torch.rand(200, 1, 8, 8, generator=torch.Generator().manual_seed(1)).numpy()
    ref = Reference(qonnx_model).run(x)
    got = net.run_float(x)
    assert np.array_equal(got, ref.reshape(got.shape))
    assert len(np.unique(got.argmax(1))) > 1  # not a constant network


@pytest.mark.parametrize(
    ("conv", "inp", "message"),
    [
        pytest.param(
            nn.Conv2d(1, 4, 3, dilation=2, bias=False), "uint4", r"Conv node .*: dilations \[2, 2\]", id="dilation"
        ),
        pytest.param(nn.Conv2d(1, 4, 3, padding=1, bias=False), "binary", "zero padding", id="bipolar-pad"),
    ],
)
def test_unsupported_convolutions_are_named(conv, inp, message, tmp_path):
    from brevitas.nn import QuantConv2d

    from flow.qat.quant import parse, weight_quantizer

    qconv = QuantConv2d(
        1, 4, 3, dilation=conv.dilation, padding=conv.padding, bias=False, weight_quant=weight_quantizer(parse("int4"))
    )
    model = _conv_net(qconv, None, inp)
    size = 8
    model[-1] = QLinear(4 * ((size + 2 * conv.padding[0] - 2 * conv.dilation[0] - 1 + 1) ** 2), 5, "int4")
    with pytest.raises(UnsupportedError, match=message):
        _conv_lowered(model, tmp_path, size)


def test_threshold_search_keeps_unreachable_levels_within_the_accumulator_range():
    """Found by the fuzzer (flow.fuzz seed 11): a level no accumulator reaches must stay at hi + 1 while other
    searches go on; it used to step to hi + 2, outside the accumulator's width."""
    import numpy as np

    from flow.compile.chain import search_thresholds
    from flow.compile.network import IntType

    lo, hi = np.array([-30, -30]), np.array([30, 2])
    out_type = IntType(8, False, 0)  # 255 levels: most unreachable for these ranges
    thresholds, descending = search_thresholds(lambda a: np.clip(a, 0, 255), lo, hi, out_type)
    assert not descending.any()
    assert thresholds.max(axis=1).tolist() == [31, 3] and thresholds.min() >= -30
