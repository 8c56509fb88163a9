"""Channels structured pruning left dead leave the integer network exactly (flow.compile.prune): zero filters
with their constant folded into the next thresholds, inputs the next layer does not use, convolutions, flatten,
padding, the last layer, residual forks; and end to end: a pruned Brevitas net, QONNX == golden == RTL."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn

from flow.blocks.mvau import MvauMode
from flow.compile.network import (
    Flatten,
    Image,
    IntType,
    MatVec,
    MaxPool,
    Network,
    Pad,
    Residual,
    SlidingWindow,
    Thresholds,
)
from flow.compile.prune import remove_pruned_channels
from flow.compile.weights import acc_interval, signed_bits_for

U2 = IntType(2, False)


def _matvec(name: str, W: np.ndarray, in_type: IntType, vectors: int = 1, simd: int | None = None) -> MatVec:
    lo, hi, _ = acc_interval(W, in_type)
    return MatVec(name, W.astype(np.int64), MvauMode.MAC, in_type, 4, signed_bits_for(int(lo.min()) - 1,
                  int(hi.max()) + 1), 0, W.shape[0], simd or W.shape[1], vectors)


def _thresholds(mv: MatVec, rng: np.random.Generator, out_type: IntType = U2) -> Thresholds:
    """Random monotone thresholds within the accumulator range, every third channel descending."""
    lo, hi, _ = acc_interval(mv.weights, mv.in_type)
    n = 2**out_type.bits - 1
    t = np.sort(rng.integers(lo[:, None] - 1, hi[:, None] + 2, size=(mv.mh, n)), axis=1)
    desc = np.arange(mv.mh) % 3 == 1
    t[desc] = t[desc][:, ::-1]
    return Thresholds(f"{mv.name}_thresholds", t, desc, mv.acc_bits, out_type, mv.pe, mv.vectors)


def _codes(net: Network, n: int = 3000) -> np.ndarray:
    lo, hi = net.input_type.range
    return np.random.default_rng(5).integers(lo, hi + 1, size=(n, int(np.prod(net.input_shape))))


def _same(a: Network, b: Network) -> bool:
    x = _codes(a)
    return np.array_equal(a.run(x), b.run(x))


def test_dense_zero_filter_whose_threshold_always_fires_is_folded_exactly():
    rng = np.random.default_rng(0)
    w1 = rng.integers(-7, 8, size=(6, 10))
    w1[2] = 0
    w1[4] = 0
    fc1 = _matvec("fc1", w1, U2)
    t1 = _thresholds(fc1, rng)
    t1.thresholds[2] = [-9, -3, 0]  # acc 0 >= every threshold: channel 2 is the constant 3
    t1.descending[2] = False
    t1.thresholds[4] = [1, 2, 3]  # channel 4 is the constant 0
    t1.descending[4] = False
    fc2 = _matvec("fc2", rng.integers(-7, 8, size=(5, 6)), U2)
    t2 = _thresholds(fc2, rng)
    fc3 = _matvec("fc3", rng.integers(-7, 8, size=(3, 5)), U2)
    net = Network(U2, (10,), [fc1, t1, fc2, t2, fc3])
    pruned, report = remove_pruned_channels(net)
    assert pruned.layers[0].mh == 4 and pruned.layers[2].mw == 4 and pruned.layers[1].channels == 4
    assert pruned.layers[2].pe == 5 and pruned.layers[2].simd == 4  # parallel stays parallel
    assert [(r.layer, r.removed, r.zero_filters, r.unused) for r in report] == [("fc1", (2, 4), 2, 0)]
    assert not np.array_equal(pruned.layers[3].thresholds, t2.thresholds)  # channel 2's 3 * W moved into them
    assert pruned.layers[-1] is fc3  # the last layer keeps its outputs
    assert _same(net, pruned)
    assert net.layers[0] is fc1 and net.layers[0].mh == 6  # the input network is not changed


def test_a_nonzero_constant_into_the_last_layer_stays_a_zero_one_goes():
    rng = np.random.default_rng(1)
    w1 = rng.integers(-7, 8, size=(4, 6))
    w1[1] = 0
    w1[3] = 0
    fc1 = _matvec("fc1", w1, U2)
    t1 = _thresholds(fc1, rng)
    t1.thresholds[1], t1.descending[1] = [-1, 5, 6], False  # constant 1: reaches the logits
    t1.thresholds[3], t1.descending[3] = [1, 5, 6], False  # constant 0: contributes nothing
    fc2 = _matvec("fc2", rng.integers(-7, 8, size=(3, 4)), U2)
    net = Network(U2, (6,), [fc1, t1, fc2])
    pruned, report = remove_pruned_channels(net)
    assert report[0].removed == (3,)
    assert report[0].kept_zero_filters[0][0] == 1 and "last layer" in report[0].kept_zero_filters[0][1]
    assert pruned.layers[2].acc_bits == fc2.acc_bits  # the output type is the user's
    assert _same(net, pruned)


def test_a_column_pruned_layer_gets_a_narrower_input():
    rng = np.random.default_rng(2)
    fc1 = _matvec("fc1", rng.integers(-7, 8, size=(8, 6)), U2, simd=3)
    fc1 = MatVec(**{**fc1.__dict__, "pe": 2})  # folded: 4 x 2 = 8 cycles per vector
    t1 = _thresholds(fc1, rng)
    w2 = rng.integers(-7, 8, size=(4, 8))
    w2[:, [0, 5, 6]] = 0  # columns 0, 5, 6 of the next layer are pruned
    fc2 = _matvec("fc2", w2, U2)
    net = Network(U2, (6,), [fc1, t1, fc2, _thresholds(fc2, rng)])
    pruned, report = remove_pruned_channels(net)
    assert (report[0].removed, report[0].unused, report[0].zero_filters) == ((0, 5, 6), 3, 0)
    p = pruned.layers[0]
    assert (p.mh, p.simd) == (5, 3) and (p.mh // p.pe) * (p.mw // p.simd) <= 8  # the same pace or faster
    assert pruned.layers[2].mw == 5
    assert _same(net, pruned)


def _conv_net(rng: np.random.Generator, pad: bool) -> Network:
    """6x6x1 -> conv3x3 (4 filters, 1 and 3 zero) -> max-pool 2 -> [pad 1] -> conv2x2 (3 filters, 0 zero) ->
    flatten -> dense 2 (last)."""
    img = Image(6, 6, 1)
    sw1 = SlidingWindow("c1_swg", img, 3, 1, 1, U2)
    w1 = rng.integers(-7, 8, size=(4, 9))
    w1[[1, 3]] = 0
    c1 = _matvec("c1", w1, U2, vectors=16)
    t1 = _thresholds(c1, rng)
    t1.thresholds[1], t1.descending[1] = [-5, -1, 0], False  # constant 3
    t1.thresholds[3], t1.descending[3] = [-5, 0, 1], False  # constant 2
    mp = MaxPool("pool", Image(4, 4, 4), 2, 4, U2)
    layers: list = [sw1, c1, t1, mp]
    im = Image(2, 2, 4)
    if pad:
        layers.append(Pad("c2_pad", im, 1, 1, 1, 1, 0, 4, U2))
        im = Image(4, 4, 4)
    sw2 = SlidingWindow("c2_swg", im, 2, 1 if not pad else 2, 4, U2)
    w2 = rng.integers(-7, 8, size=(3, 16))
    w2[0] = 0
    c2 = _matvec("c2", w2, U2, vectors=sw2.ofm.pixels)
    t2 = _thresholds(c2, rng)
    t2.thresholds[0], t2.descending[0] = [1, 2, 3], False  # constant 0: may leave before the last layer
    fc = _matvec("fc", rng.integers(-7, 8, size=(2, 3 * sw2.ofm.pixels)), U2)
    layers += [sw2, c2, t2, Flatten("flat"), fc]
    return Network(U2, (1, 6, 6), layers, input_layout="nchw")


def test_convolution_zero_filters_leave_every_window_position_and_the_flatten():
    net = _conv_net(np.random.default_rng(3), pad=False)
    pruned, report = remove_pruned_channels(net)
    by_layer = {r.layer: r for r in report}
    assert by_layer["c1"].removed == (1, 3) and by_layer["c2"].removed == (0,)
    kinds = {type(layer).__name__: layer for layer in pruned.layers}
    assert kinds["MaxPool"].ifm.c == 2 and kinds["SlidingWindow"].ifm.c in (1, 2)
    c2 = pruned.layers[5]
    assert (c2.mh, c2.mw) == (2, 8)  # 2x2 window x 2 channels
    assert pruned.layers[-1].mw == 2  # channel-last flatten: 1 pixel x 2 channels
    assert _same(net, pruned)


def test_padding_keeps_a_zero_filter_whose_constant_is_not_zero():
    net = _conv_net(np.random.default_rng(4), pad=True)
    pruned, report = remove_pruned_channels(net)
    c1 = next(r for r in report if r.layer == "c1")
    assert c1.removed == () and {c for c, _ in c1.kept_zero_filters} == {1, 3}
    assert "padding" in c1.kept_zero_filters[0][1]
    assert _same(net, pruned)


def test_residual_forks_are_left_alone():
    rng = np.random.default_rng(6)
    w1 = rng.integers(-7, 8, size=(4, 4))
    w1[0] = 0
    fc1 = _matvec("fc1", w1, U2)
    t1 = _thresholds(fc1, rng)
    fc_b = _matvec("fcb", rng.integers(-7, 8, size=(4, 4)), U2)
    t_b = _thresholds(fc_b, rng)
    res = Residual("add", ((fc_b, t_b), ()), U2, U2, 4, 4, 1)
    t_add = Thresholds("add_thresholds", np.array([[0, 1, 2]] * 4), np.zeros(4, bool), res.acc_bits, U2, 4)
    fc2 = _matvec("fc2", rng.integers(-7, 8, size=(2, 4)), U2)
    net = Network(U2, (4,), [fc1, t1, res, t_add, fc2])
    pruned, report = remove_pruned_channels(net)
    assert report == [] and pruned is net


def test_without_dead_channels_the_network_is_returned_as_is():
    rng = np.random.default_rng(7)
    fc1 = _matvec("fc1", rng.integers(1, 8, size=(4, 4)), U2)
    net = Network(U2, (4,), [fc1, _thresholds(fc1, rng), _matvec("fc2", rng.integers(1, 8, size=(2, 4)), U2)])
    assert remove_pruned_channels(net) == (net, [])


def _pruned_brevitas_cnn() -> nn.Module:
    """conv3x3(6) -> BN -> uint4 -> pool -> fc(8) -> BN -> uint4 -> fc(4): conv filters 1 and 4 zero (their BN
    makes them nonzero constants), fc1 row 2 zero, fc1 reads nothing of conv channel 3, fc2 nothing of fc1's 5."""
    from flow.qat import QAct, QConv2d, QLinear, seed_everything

    seed_everything(0)
    model = nn.Sequential(QAct("uint4"), QConv2d(1, 6, 3, weight="int4"), nn.BatchNorm2d(6), QAct("uint4"),
                          nn.MaxPool2d(2), nn.Flatten(), QLinear(6 * 3 * 3, 8, weight="int4"), nn.BatchNorm1d(8),
                          QAct("uint4"), QLinear(8, 4, weight="int4"))
    model.train()
    with torch.no_grad():
        model(torch.rand(64, 1, 8, 8))  # BatchNorm statistics, so the thresholds are not trivial
        model[1].weight[[1, 4]] = 0
        model[2].bias[[1, 4]] = torch.tensor([0.8, 0.5])
        model[2].running_mean[[1, 4]] = 0.0
        model[6].weight[2] = 0
        model[7].bias[2] = 0.6
        model[7].running_mean[2] = 0.0
        model[6].weight.view(8, 6, 3, 3)[:, 3] = 0  # channels-first flatten: conv channel 3's 9 pixels
        model[9].weight[:, 5] = 0
    return model.eval()


@pytest.mark.sim
def test_a_pruned_cnn_is_exact_from_qonnx_to_rtl(tmp_path, build_root):
    from flow.compile.folding import Folding
    from flow.export import export_qonnx
    from flow.stages.compile import compile_target, load_network
    from flow.stages.simulate import simulate_target
    from flow.stages.target import resolve

    path = tmp_path / "pruned_cnn.onnx"
    export_qonnx(_pruned_brevitas_cnn(), (1, 8, 8), path)
    target = resolve(path)
    data = compile_target(target, Folding.parse("folded"))  # golden == QONNX on 1000 inputs, or it raises
    by_layer = {r["layer"]: r for r in data["pruning"]}
    conv, fc1 = (next(v for k, v in by_layer.items() if k.startswith(p)) for p in ("Conv", "Dense"))
    assert set(conv["removed_channels"]) == {1, 3, 4} and conv["zero_filters"] == 2 and conv["unused"] == 1
    assert fc1["removed_channels"] == [5] and fc1["kept_zero_filters"][0]["channel"] == 2
    assert data["options"]["prune"] is True
    net, _ = load_network(target.paths.root)
    assert [layer.mh for layer in net.layers if isinstance(layer, MatVec)] == [3, 7, 4]
    sim = simulate_target(target, stall_percent=30)
    assert (sim["mismatches_with_stalls"], sim["mismatches_without_stalls"]) == (0, 0)

    dense = compile_target(target, Folding.parse("folded"), prune=False)
    assert dense["pruning"] == [] and dense["options"]["prune"] is False
    net, _ = load_network(target.paths.root)
    assert [layer.mh for layer in net.layers if isinstance(layer, MatVec)] == [6, 8, 4]


def test_the_compile_command_has_an_off_switch():
    from flow.cli import build_parser

    parser = build_parser()
    assert parser.parse_args(["compile", "net.onnx", "--no-prune"]).no_prune is True
    assert parser.parse_args(["compile", "net.onnx"]).no_prune is False
