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
) -> nn.Module:
    """A 2-D convolution with quantized weights (bias-free by default)."""
    spec = parse(weight)
    if spec.kind is Kind.FLOAT:
        return nn.Conv2d(in_channels, out_channels, kernel_size, stride=stride, padding=padding, bias=bias)
    from brevitas.nn import QuantConv2d

    layer = QuantConv2d(
        in_channels,
        out_channels,
        kernel_size,
        stride=stride,
        padding=padding,
        bias=bias,
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


class AffineBatchNorm1d(nn.BatchNorm1d):
    """BatchNorm whose inference is ``x * a + b`` (``a = gamma / sqrt(var + eps)``, ``b = beta - mean * a``),
    two float32 operations that PyTorch and ONNX (``Mul``, ``Add``) both round exactly the same way.

    Training is ordinary BatchNorm. Use it where a BatchNorm feeds a quantizer and its inputs are large: the
    fused kernels of PyTorch and onnxruntime's ``BatchNormalization`` differ in the last bit, which flips a
    quantizer at a rounding tie now and then (the adder MLP's BatchNorm inputs reach 500: 2 of 1000 test
    samples differed). With this module the exported graph equals PyTorch bit for bit.
    """

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.training:
            return super().forward(x)
        a = self.weight / torch.sqrt(self.running_var + self.eps)
        b = self.bias - self.running_mean * a
        return x * a + b


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
