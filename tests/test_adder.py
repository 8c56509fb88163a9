"""AdderNet layers: forward/gradients as published, the shared quantization grid, exact QONNX export,
the lowering to the MVAU ADDER mode, and clear errors."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn

from flow.errors import NotExactError, QuantSpecError, UnsupportedError
from flow.qat.adder import AdderConv2d, AdderFunction, AdderLinear, adder_matmul


def _tiny_adder(quant: str = "uint4") -> nn.Sequential:
    from flow.qat import QAct

    torch.manual_seed(0)
    return nn.Sequential(
        AdderLinear(12, 6, quant), nn.BatchNorm1d(6), AdderLinear(6, 4, quant, act_max=4.0), nn.BatchNorm1d(4),
        QAct("int8", max_val=8.0),
    )


def calibrated(model: nn.Module, input_shape: tuple[int, ...]) -> nn.Module:
    """``model`` with BatchNorm statistics from 32 random inputs (non-trivial thresholds), in eval mode."""
    model.train()
    with torch.no_grad():
        model(torch.rand(32, *input_shape))
    return model.eval()


def test_forward_and_adder_gradients_match_the_definitions():
    torch.manual_seed(1)
    x = torch.randn(5, 7, dtype=torch.float64, requires_grad=True)
    w = torch.randn(7, 3, dtype=torch.float64, requires_grad=True)
    y = AdderFunction.apply(x, w)
    brute = -(x[:, :, None] - w[None]).abs().sum(1)
    assert torch.allclose(y, brute)
    g = torch.randn(5, 3, dtype=torch.float64)
    y.backward(g)
    diff = x.detach()[:, :, None] - w.detach()[None]  # (b, i, j)
    expected_w = (g[:, None, :] * diff).sum(0)  # full-precision gradient x - w
    expected_x = (g[:, None, :] * (-diff).clamp(-1, 1)).sum(2)  # HardTanh(w - x)
    assert torch.allclose(w.grad, expected_w)
    assert torch.allclose(x.grad, expected_x)


def test_adaptive_learning_rate_normalizes_the_weight_gradient():
    layer = AdderLinear(10, 4, eta=0.2)
    y = layer(torch.rand(8, 10))
    (y * torch.randn_like(y)).sum().backward()
    assert float(layer.weight.grad.norm()) == pytest.approx(0.2 * np.sqrt(40), rel=1e-5)
    plain = AdderLinear(10, 4, eta=None)
    y = plain(torch.rand(8, 10))
    y.sum().backward()
    assert float(plain.weight.grad.norm()) != pytest.approx(0.2 * np.sqrt(40), rel=1e-3)


@pytest.mark.parametrize("quant", ["uint4", "int3"])
def test_quantized_weights_sit_on_the_input_grid(quant):
    layer = AdderLinear(6, 5, quant, act_max=2.0).eval()
    with torch.no_grad():
        layer.weight.uniform_(-3, 3)
        xq, wq = layer.quantize(torch.randn(4, 6))
    bits = int(quant[-1])
    lo, hi = (0, 2**bits - 1) if quant.startswith("u") else (-(2 ** (bits - 1)), 2 ** (bits - 1) - 1)
    scale = float(layer.input_quant(torch.zeros(1, 6)).scale)
    levels = 2**bits if quant.startswith("u") else 2 ** (bits - 1)
    assert scale == 2.0 ** np.round(np.log2(2.0 / levels))  # act_max / 2^k (2^(k-1) signed), power of two
    for t in (xq, wq):
        codes = t.numpy() / scale
        assert np.array_equal(codes, np.round(codes)) and codes.min() >= lo and codes.max() <= hi
    assert wq.min() == lo * scale and wq.max() == hi * scale  # clamped to the input's k-bit range


def test_conv_equals_unfolded_linear():
    torch.manual_seed(0)
    conv = AdderConv2d(2, 3, 3, stride=1, padding=1, eta=None)
    x = torch.rand(2, 2, 5, 5)
    y = conv(x)
    cols = torch.nn.functional.unfold(x, 3, padding=1).transpose(1, 2).reshape(-1, 18)
    expected = adder_matmul(cols, conv.weight).reshape(2, 25, 3).transpose(1, 2).reshape(2, 3, 5, 5)
    assert torch.allclose(y, expected)


def test_export_is_exact_and_uses_the_custom_node(tmp_path):
    from qonnx.core.onnx_exec import execute_onnx

    from flow.export import compare_with_torch, export_qonnx

    model = calibrated(_tiny_adder(), (12,))
    wrapper = export_qonnx(model, (12,), tmp_path / "adder.onnx")
    adders = [n for n in wrapper.graph.node if n.op_type == "AdderMatMul"]
    assert len(adders) == 2 and {n.domain for n in adders} == {"flow.qonnx_ops"}
    x = np.random.default_rng(0).random((64, 12)).astype(np.float32)
    assert compare_with_torch(model, wrapper, x).differing_outputs == 0
    one = execute_onnx(wrapper, {wrapper.graph.input[0].name: x[:1]})[wrapper.graph.output[0].name]
    assert np.array_equal(one, model(torch.from_numpy(x[:1])).detach().numpy())


def test_lowering_maps_adder_layers_and_golden_equals_reference(tmp_path):
    from flow.blocks.mvau import MvauMode
    from flow.export import export_qonnx
    from flow.reference import Reference
    from flow.stages.compile import convert

    model = calibrated(_tiny_adder(), (12,))
    wrapper = export_qonnx(model, (12,), tmp_path / "adder.onnx")
    hls_model = convert(wrapper, tmp_path / "rtl", folding=4)
    net = hls_model.config.backend.network(hls_model)
    adders = [layer for layer in net.layers if getattr(layer, "mode", None) == MvauMode.ADDER]
    assert len(adders) == 2
    first = adders[0]
    assert first.in_type.frac == 4 and first.out_frac == 4  # x, w and the sum share the input's grid
    # the accumulator is the narrowest that holds -sum |x - w| for these weights (plus a code each side)
    worst = np.maximum(first.weights, 15 - first.weights).sum(axis=1).max()
    assert 2 ** (first.acc_bits - 2) <= worst + 1 < 2 ** (first.acc_bits - 1)
    x = np.random.default_rng(1).random((300, 12)).astype(np.float32)
    gold = net.run(net.quantize_input(x)) * net.output_type.scale
    assert np.array_equal(gold, Reference(wrapper).run(x))


def test_bad_adder_configurations_are_refused(tmp_path):
    from flow.compile.network import IntType
    from flow.compile.weights import adder_weights
    from flow.export import export_qonnx

    with pytest.raises(QuantSpecError, match=r"AdderLinear.*binary"):
        AdderLinear(4, 2, "binary")
    with pytest.raises(Exception, match="float adder layer has no exact hardware form"):
        export_qonnx(nn.Sequential(AdderLinear(4, 2)).eval(), (4,), tmp_path / "f.onnx")
    with pytest.raises(Exception, match="AdderConv2d: a float adder layer has no exact hardware form"):
        export_qonnx(nn.Sequential(AdderConv2d(1, 2, 3)).eval(), (1, 5, 5), tmp_path / "c.onnx")
    assert not (tmp_path / "f.onnx").exists() and not (tmp_path / "c.onnx").exists()

    class _Precision:
        width, integer, signed = 6, 1, True

    class _Weights:
        data = np.full((3, 2), 0.03125)  # 2^-5: a finer grid than the input's 2^-4
        type = type("T", (), {"precision": _Precision})()

    layer = type("L", (), {"name": "adder0", "weights": {"weight": _Weights}})()
    with pytest.raises(NotExactError, match=r"adder0.*5 fraction bits, the input 4"):
        adder_weights(layer, IntType(4, False, 4))
    with pytest.raises(UnsupportedError, match=r"adder0.*bipolar"):
        adder_weights(layer, IntType(1, True, 0, bipolar=True))


def _tiny_adder_cnn() -> nn.Sequential:
    """AdderConv(pad 1) -> BN -> quantizer -> max-pool -> AdderConv (input already on the grid) -> BN ->
    quantizer -> flatten -> AdderLinear (input on the grid) -> BN -> int8 logits."""
    from flow.qat import QAct
    from flow.qat.adder import adder_act

    torch.manual_seed(0)
    return nn.Sequential(
        AdderConv2d(1, 4, 3, padding=1, quant="uint4"), nn.BatchNorm2d(4), adder_act("uint4", 4.0),
        nn.MaxPool2d(2), AdderConv2d(4, 6, 3, quant="uint4", act_max=4.0, quantize_input=False), nn.BatchNorm2d(6),
        adder_act("uint4", 4.0), nn.Flatten(), AdderLinear(24, 5, "uint4", act_max=4.0, quantize_input=False),
        nn.BatchNorm1d(5), QAct("int8", max_val=8.0),
    )


def test_adder_cnn_exports_exactly_and_lowers_to_adder_convolutions(tmp_path):
    from flow.blocks.mvau import MvauMode
    from flow.export import compare_with_torch, export_qonnx
    from flow.reference import Reference
    from flow.stages.compile import convert

    model = calibrated(_tiny_adder_cnn(), (1, 8, 8))
    wrapper = export_qonnx(model, (1, 8, 8), tmp_path / "cnn.onnx")
    assert [n.op_type for n in wrapper.graph.node].count("AdderConv") == 2
    x = np.random.default_rng(0).random((64, 1, 8, 8)).astype(np.float32)
    assert compare_with_torch(model, wrapper, x).differing_outputs == 0
    hls_model = convert(wrapper, tmp_path / "rtl", folding="folded")
    net = hls_model.config.backend.network(hls_model)
    kinds = [type(layer).__name__ for layer in net.layers]
    assert kinds.count("SlidingWindow") == 2 and "MaxPool" in kinds and "Pad" in kinds
    assert [layer.mode for layer in net.layers if hasattr(layer, "mode")] == [MvauMode.ADDER] * 3
    gold = net.run(net.quantize_input(x)) * net.output_type.scale
    assert np.array_equal(gold, Reference(wrapper).run(x))


@pytest.mark.parametrize("dims", [1, 2])
def test_exact_batchnorm_rounds_like_onnxruntime(dims):
    import onnxruntime as ort
    from onnx import TensorProto, helper, numpy_helper

    from flow.qat import ExactBatchNorm1d, ExactBatchNorm2d

    rng = np.random.default_rng(dims)
    c = 16
    bn = (ExactBatchNorm1d if dims == 1 else ExactBatchNorm2d)(c).eval()
    with torch.no_grad():
        bn.weight.copy_(torch.from_numpy(rng.normal(1, 0.5, c).astype(np.float32)))
        bn.bias.copy_(torch.from_numpy(rng.normal(0, 1, c).astype(np.float32)))
        bn.running_mean.copy_(torch.from_numpy(rng.normal(-300, 100, c).astype(np.float32)))
        bn.running_var.copy_(torch.from_numpy(rng.uniform(10, 5000, c).astype(np.float32)))
    shape = [256, c] if dims == 1 else [64, c, 8, 8]
    x = (rng.integers(-2000, 0, shape) * 0.25).astype(np.float32)  # adder-like outputs: large, negative
    params = [bn.weight, bn.bias, bn.running_mean, bn.running_var]
    node = helper.make_node("BatchNormalization", ["x", "g", "b", "m", "v"], ["y"], epsilon=bn.eps)
    graph = helper.make_graph(
        [node], "bn", [helper.make_tensor_value_info("x", TensorProto.FLOAT, shape)],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, shape)],
        initializer=[numpy_helper.from_array(p.detach().numpy(), n) for p, n in zip(params, "gbmv", strict=True)],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])
    model.ir_version = 8
    expected = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"]).run(
        None, {"x": x})[0]
    with torch.no_grad():
        got = bn(torch.from_numpy(x)).numpy()
        fused = nn.functional.batch_norm(torch.from_numpy(x), *params[2:], *params[:2], False, 0.0, bn.eps).numpy()
    assert np.array_equal(got, expected)
    assert not np.array_equal(fused, expected)  # why the class exists: the fused kernel rounds differently


def test_distillation_loss_and_settings():
    from flow.stages.distill import Distill, kd_loss

    torch.manual_seed(0)
    teacher = nn.Linear(6, 3)
    x, labels = torch.randn(8, 6), torch.randint(0, 3, (8,))
    logits = torch.randn(8, 3, requires_grad=True)
    plain = nn.functional.cross_entropy(logits, labels)
    assert torch.allclose(kd_loss(teacher, 0.0, 4.0)(logits, x, labels), plain)
    with torch.no_grad():
        same = teacher(x)
    # a student that equals the teacher pays no distillation term: only (1 - alpha) * CE remains
    assert torch.allclose(kd_loss(teacher, 0.5, 2.0)(same, x, labels), 0.5 * nn.functional.cross_entropy(same, labels))
    loss = kd_loss(teacher, 0.7, 3.0)(logits, x, labels)
    loss.backward()
    assert logits.grad is not None and teacher.weight.grad is None  # the teacher is frozen
    with pytest.raises(ValueError, match="alpha"):
        Distill("mlp_w8a8_mnist", alpha=1.5)
    with pytest.raises(ValueError, match="temperature"):
        Distill("mlp_w8a8_mnist", temperature=0)
