"""Quantized building blocks on top of Brevitas (``QLinear``, ``QConv2d``, ``QAct``).

Each block takes a preset (string or :class:`~flow.qat.quant.QuantSpec`) and returns a plain
Brevitas module, so anything Brevitas exports, qflow exports. With the preset ``"float"`` the block is
the ordinary torch module (for float baselines).
"""

from __future__ import annotations

import torch
from torch import nn

from flow.qat.quant import Kind, QuantSpec, act_quantizer, parse, weight_quantizer


def QLinear(in_features: int, out_features: int, weight: str | QuantSpec = "int8", bias: bool = False) -> nn.Module:
    """A fully connected layer with quantized weights (bias-free by default: BatchNorm supplies the offset)."""
    spec = parse(weight)
    if spec.kind is Kind.FLOAT:
        return nn.Linear(in_features, out_features, bias=bias)
    from brevitas.nn import QuantLinear

    layer = QuantLinear(
        in_features, out_features, bias=bias, weight_quant=weight_quantizer(spec), **_bias_kwargs(bias)
    )
    return _init_for(spec, layer)


def QConv2d(
    in_channels: int,
    out_channels: int,
    kernel_size: int,
    weight: str | QuantSpec = "int8",
    stride: int = 1,
    padding: int = 0,
    bias: bool = False,
    groups: int = 1,
) -> nn.Module:
    """A 2-D convolution with quantized weights (bias-free by default); ``groups`` as in PyTorch
    (``groups=in_channels=out_channels``: depthwise)."""
    spec = parse(weight)
    if spec.kind is Kind.FLOAT:
        return nn.Conv2d(in_channels, out_channels, kernel_size, stride=stride, padding=padding, bias=bias,
                         groups=groups)
    from brevitas.nn import QuantConv2d

    layer = QuantConv2d(
        in_channels,
        out_channels,
        kernel_size,
        stride=stride,
        padding=padding,
        bias=bias,
        groups=groups,
        weight_quant=weight_quantizer(spec),
        **_bias_kwargs(bias),
    )
    return _init_for(spec, layer)


def QAct(spec: str | QuantSpec, max_val: float = 1.0) -> nn.Module:
    """An activation quantizer.

    ``binary``/``ternary``/``int<k>`` quantize a signed value (QuantIdentity: sign, ternary or clamp-round);
    ``uint<k>`` is a quantized ReLU. ``max_val`` initialises the learned power-of-two scale (int/uint).
    Use it as the first layer to quantize the network input.
    """
    parsed = parse(spec)
    if parsed.kind is Kind.FLOAT:
        return nn.ReLU()
    from brevitas.nn import QuantIdentity, QuantReLU

    quantizer = act_quantizer(parsed, max_val=max_val)
    if parsed.kind is Kind.UINT:
        return QuantReLU(act_quant=quantizer)
    return QuantIdentity(act_quant=quantizer)


class _OnnxRoundingBatchNorm:
    """Inference computed exactly as onnxruntime's ``BatchNormalization`` kernel computes it, in float32:
    ``a = gamma * (1 / sqrt(var + eps))``, ``c = beta - mean * a``, ``y = x * a + c`` (each operation rounded
    once). Export writes the standard ``BatchNormalization`` node; training is ordinary BatchNorm.

    Why: PyTorch's fused kernel rounds differently in the last bit (measured: 56 % of 204,800 outputs differ for
    inputs of a few hundred), which now and then flips the quantizer after the BatchNorm at a rounding tie
    (the adder MLP's BatchNorm inputs reach 500: 2 of 1000 test samples differed). Use these classes where a
    BatchNorm with large inputs feeds a quantizer; the formula was checked bit for bit against onnxruntime on
    204,800 values (see ``tests/test_adder.py``).
    """

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.training or torch.compiler.is_exporting():
            return super().forward(x)
        shape = (1, -1) + (1,) * (x.dim() - 2)
        # sqrt in float64, rounded once to float32: correctly rounded, as onnxruntime's. torch's own float32
        # sqrt is not on every CPU (measured: it differs in the last bit on some x86 machines).
        std = torch.sqrt((self.running_var + self.eps).double()).float()
        a = self.weight * (1.0 / std)
        c = self.bias - self.running_mean * a
        return x * a.reshape(shape) + c.reshape(shape)


class ExactBatchNorm1d(_OnnxRoundingBatchNorm, nn.BatchNorm1d):
    """``BatchNorm1d`` whose inference rounds like onnxruntime's (see :class:`_OnnxRoundingBatchNorm`)."""


class ExactBatchNorm2d(_OnnxRoundingBatchNorm, nn.BatchNorm2d):
    """``BatchNorm2d`` whose inference rounds like onnxruntime's (see :class:`_OnnxRoundingBatchNorm`)."""


def _init_for(spec: QuantSpec, layer: nn.Module) -> nn.Module:
    """Ternary weights have scale 1 and threshold 1/2: the default init (|w| << 1/2) would make every weight
    0, the layer's output 0 and the next activation's scale statistic 0. Start them uniform in [-1, 1]."""
    if spec.kind is Kind.TERNARY:
        nn.init.uniform_(layer.weight, -1.0, 1.0)
    return layer


def _bias_kwargs(bias: bool) -> dict:
    if not bias:
        return {}
    # A bias must be exact in hardware: quantize it to 16 bits with the accumulator's scale.
    from brevitas.quant import Int16Bias

    return {"bias_quant": Int16Bias}
