"""Layers of today's tiny models, from a Brevitas model to RTL.

Depthwise convolutions (``groups == in == out channels``) map to the depthwise unit (``vvau``); other grouped
convolutions are expanded to dense ones with block-diagonal weights by the front end.

Global average pooling: torch exports ``AdaptiveAvgPool2d(1)`` as ``ReduceMean`` over the spatial axes, the
front end reads it as ``GlobalAveragePool``, the lowering maps it to the ``gap`` block (exact sum, power-of-two
pixel count as a scale), directly into a dense layer or through thresholds when a quantizer follows. Strided,
padded and 1x1 convolutions go through the sliding-window generator. The RTL equals the golden network under
random stalls."""

from __future__ import annotations

import pytest
from torch import nn

from flow.compile.folding import Folding
from flow.errors import UnsupportedError
from flow.export import export_qonnx
from flow.qat import QAct, QConv2d, QLinear, seed_everything
from flow.stages.compile import compile_target, load_network
from flow.stages.simulate import simulate_target
from flow.stages.target import resolve


def _cnn(size: int, quantize_pool: bool) -> nn.Module:
    seed_everything(0)
    tail = [QAct("uint4")] if quantize_pool else []
    return nn.Sequential(QAct("uint4"), QConv2d(1, 8, 3, weight="int4"), nn.BatchNorm2d(8), QAct("uint4"),
                         nn.AdaptiveAvgPool2d(1), *tail, nn.Flatten(), QLinear(8, 3, weight="int4")).eval()


@pytest.mark.sim
@pytest.mark.parametrize(("quantize_pool", "folding"), [(False, "folded"), (True, "parallel")],
                         ids=["sum_into_dense", "thresholds_after_pool"])
def test_global_average_pool_is_exact_in_rtl(quantize_pool, folding, tmp_path, build_root):
    path = tmp_path / "gap_cnn.onnx"
    export_qonnx(_cnn(10, quantize_pool), (1, 10, 10), path)  # 3x3 conv: 8x8 = 64 pixels pooled
    target = resolve(path)
    compile_target(target, Folding.parse(folding))
    net, _ = load_network(target.paths.root)
    kinds = [type(layer).__name__ for layer in net.layers]
    assert "GlobalPool" in kinds
    assert (kinds[kinds.index("GlobalPool") + 1] == "Thresholds") == quantize_pool
    sim = simulate_target(target, stall_percent=40)
    assert (sim["mismatches_with_stalls"], sim["mismatches_without_stalls"]) == (0, 0)


def test_a_pixel_count_that_is_not_a_power_of_two_needs_a_quantizer_after_it(tmp_path, build_root):
    path = tmp_path / "gap9.onnx"
    export_qonnx(_cnn(5, False), (1, 5, 5), path)  # 3x3 conv on 5x5: 3x3 = 9 pixels, straight into a dense layer
    with pytest.raises(UnsupportedError, match=r"a global average over 9 pixels \(not a power of two\) needs a"):
        compile_target(resolve(path), Folding.parse("folded"))


@pytest.mark.sim
def test_a_global_average_over_9_pixels_is_divided_inside_the_thresholds(tmp_path, build_root):
    path = tmp_path / "gap9q.onnx"
    export_qonnx(_cnn(5, True), (1, 5, 5), path)  # 9 pixels, a quantizer after the pool
    target = resolve(path)
    compile_target(target, Folding.parse("folded"))  # the integer network == QONNX on 1000 inputs, or it raises
    net, _ = load_network(target.paths.root)
    pool = next(layer for layer in net.layers if type(layer).__name__ == "GlobalPool")
    assert (pool.averaged, pool.shift) == (False, 0)
    sim = simulate_target(target, stall_percent=40)
    assert (sim["mismatches_with_stalls"], sim["mismatches_without_stalls"]) == (0, 0)


@pytest.mark.sim
def test_strided_padded_and_pointwise_convolutions_are_exact(tmp_path, build_root):
    """A stride-2 3x3 convolution with padding 1, a 1x1 convolution and a global average pool (the shapes of
    ResNet-8 / MobileNet stages, without the residual and depthwise parts): RTL == golden under stalls."""
    seed_everything(0)
    model = nn.Sequential(QAct("uint4"), QConv2d(1, 8, 3, weight="int4", stride=2, padding=1), nn.BatchNorm2d(8),
                          QAct("uint4"), QConv2d(8, 16, 1, weight="int4"), nn.BatchNorm2d(16), QAct("uint4"),
                          nn.AdaptiveAvgPool2d(1), nn.Flatten(), QLinear(16, 4, weight="int4")).eval()
    path = tmp_path / "strided.onnx"
    export_qonnx(model, (1, 16, 16), path)
    target = resolve(path)
    compile_target(target, Folding.parse("folded"))
    net, _ = load_network(target.paths.root)
    swgs = [(layer.k, layer.stride) for layer in net.layers if type(layer).__name__ == "SlidingWindow"]
    assert swgs == [(3, 2), (1, 1)]
    sim = simulate_target(target, stall_percent=40)
    assert (sim["mismatches_with_stalls"], sim["mismatches_without_stalls"]) == (0, 0)


def _separable(groups_pointwise: int = 1, multiplier: int = 1) -> nn.Module:
    """A stem conv, a strided depthwise 3x3 conv (or depth multiplier > 1), a grouped 1x1 conv, global pool."""
    seed_everything(0)
    mid = 8 * multiplier
    return nn.Sequential(
        QAct("uint4"), QConv2d(1, 8, 3, weight="int4", padding=1), nn.BatchNorm2d(8), QAct("uint4"),
        QConv2d(8, mid, 3, weight="int4", padding=1, stride=2, groups=8), nn.BatchNorm2d(mid), QAct("uint4"),
        QConv2d(mid, 8, 1, weight="int4", groups=groups_pointwise), nn.BatchNorm2d(8), QAct("uint4"),
        nn.AdaptiveAvgPool2d(1), nn.Flatten(), QLinear(8, 3, weight="int4")).eval()


@pytest.mark.sim
@pytest.mark.parametrize("folding", ["folded", "parallel"])
def test_depthwise_and_grouped_convolutions_are_exact_in_rtl(folding, tmp_path, build_root):
    """A strided depthwise convolution maps to the depthwise unit (``vvau``); a grouped 1x1 convolution (2 groups)
    to a dense MVAU with block-diagonal weights. RTL == golden under stalls."""
    path = tmp_path / "separable.onnx"
    export_qonnx(_separable(groups_pointwise=2), (1, 8, 8), path)
    target = resolve(path)
    compile_target(target, Folding.parse(folding))
    net, _ = load_network(target.paths.root)
    dw = [layer for layer in net.layers if type(layer).__name__ == "Depthwise"]
    assert [(d.mh, d.k2, d.vectors) for d in dw] == [(8, 9, 16)]
    assert dw[0].simd == 8 or folding == "folded"  # parallel: every channel of a position in one beat
    pointwise = next(layer for layer in net.layers if type(layer).__name__ == "MatVec" and layer.mw == 8)
    assert (pointwise.weights[:4, 4:] == 0).all() and (pointwise.weights[4:, :4] == 0).all()
    sim = simulate_target(target, stall_percent=40)
    assert (sim["mismatches_with_stalls"], sim["mismatches_without_stalls"]) == (0, 0)
    assert sim["cycles_per_inference_measured"] == sim["cycles_per_inference_predicted"]


def test_a_depth_multiplier_above_one_is_expanded_to_a_dense_convolution(tmp_path, build_root):
    path = tmp_path / "multiplier.onnx"
    export_qonnx(_separable(multiplier=2), (1, 8, 8), path)
    target = resolve(path)
    compile_target(target, Folding.parse("folded"))  # the integer network == QONNX, or it raises
    net, _ = load_network(target.paths.root)
    assert "Depthwise" not in [type(layer).__name__ for layer in net.layers]


def test_a_depthwise_layer_takes_pe_equal_to_simd(tmp_path, build_root):
    path = tmp_path / "dw_fold.onnx"
    export_qonnx(_separable(), (1, 8, 8), path)
    with pytest.raises(UnsupportedError, match=r"a depthwise layer takes PE = SIMD, a divisor of its 8 channels"):
        compile_target(resolve(path), Folding.parse("folded", {"Conv_1": (4, 2)}))


@pytest.mark.parametrize("window", [8, 2])
def test_an_average_pool_over_the_whole_map_is_global_pooling(window, tmp_path, build_root):
    """``AvgPool2d(8)`` on an 8x8 map is global average pooling (ResNets write it so); a smaller window is not
    mapped, and says so."""
    seed_everything(0)
    model = nn.Sequential(QAct("uint4"), QConv2d(1, 8, 3, weight="int4", padding=1), nn.BatchNorm2d(8), QAct("uint4"),
                          nn.AvgPool2d(window), QAct("uint4"), nn.Flatten(),
                          QLinear(8 * (8 // window) ** 2, 3, weight="int4")).eval()
    path = tmp_path / f"avgpool{window}.onnx"
    if window == 2:  # the export checks the graph with the front end already
        with pytest.raises(UnsupportedError, match=r"AveragePool node .*: a windowed average pool is not mapped"):
            export_qonnx(model, (1, 8, 8), path)
        return
    export_qonnx(model, (1, 8, 8), path)
    target = resolve(path)
    compile_target(target, Folding.parse("folded"))
    net, _ = load_network(target.paths.root)
    assert "GlobalPool" in [type(layer).__name__ for layer in net.layers]
