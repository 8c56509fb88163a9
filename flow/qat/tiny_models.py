"""Quantized nets of the MLPerf Tiny shapes, sized for the data sets that ship in packages (MNIST 28x28,
digits 8x8): a ResNet-8 (three residual stages, global average pool), a DS-CNN (depthwise-separable blocks), a
MobileNetV1-style net (strided depthwise convolutions) and the anomaly-detection autoencoder (a fully
connected bottleneck, output = reconstruction).

Every weight layer is bias-free and followed by BatchNorm (:class:`~flow.qat.layers.ExactBatchNorm2d`: rounds
as onnxruntime does) and a quantizer with a power-of-two scale, so each one lowers to exact thresholds. In a
residual block both branches end in a quantizer before the add (the body's is signed), the identity shortcut
is the block's quantized input, a strided stage's shortcut is a 1x1 strided convolution; the sum goes through
ReLU and an unsigned quantizer.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence

import torch
from torch import nn

from flow.qat.layers import ExactBatchNorm1d, ExactBatchNorm2d, QAct, QConv2d, QLinear
from flow.qat.quant import QuantSpec

__all__ = ["ResidualBlock", "autoencoder", "dscnn", "mobilenet_tiny", "resnet8"]

Spec = str | QuantSpec


def _conv_bn_act(c_in: int, c_out: int, k: int, weight: Spec, act: Spec, stride: int = 1, groups: int = 1,
                 act_max: float = 1.0) -> list[nn.Module]:
    return [QConv2d(c_in, c_out, k, weight=weight, stride=stride, padding=k // 2, groups=groups),
            ExactBatchNorm2d(c_out), QAct(act, max_val=act_max)]


class ResidualBlock(nn.Module):
    """``act(relu(body(x) + shortcut(x)))``: body = conv3x3(stride)-BN-quant-conv3x3-BN-quant(signed); shortcut =
    the input (stride 1, same channels) or conv1x1(stride)-BN-quant(signed)."""

    def __init__(self, c_in: int, c_out: int, stride: int, weight: Spec, act: Spec, branch_act: Spec) -> None:
        super().__init__()
        self.body = nn.Sequential(*_conv_bn_act(c_in, c_out, 3, weight, act, stride),
                                  *_conv_bn_act(c_out, c_out, 3, weight, branch_act))
        self.shortcut = (nn.Identity() if stride == 1 and c_in == c_out
                         else nn.Sequential(*_conv_bn_act(c_in, c_out, 1, weight, branch_act, stride)))
        self.out = QAct(act)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.out(torch.relu(self.body(x) + self.shortcut(x)))


def _head(channels: int, classes: int, weight: Spec, act: Spec, logits: Spec) -> list[nn.Module]:
    """Global average pool, its quantizer (it absorbs a pixel count that is not a power of two), the classifier."""
    return [nn.AdaptiveAvgPool2d(1), QAct(act), nn.Flatten(), QLinear(channels, classes, weight=weight),
            ExactBatchNorm1d(classes), QAct(logits, max_val=8.0)]


def resnet8(weight: Spec = "int4", act: Spec = "uint4", input_act: Spec = "uint8", logits: Spec = "int8",
            channels: Sequence[int] = (16, 32, 64), classes: int = 10, in_channels: int = 1) -> nn.Sequential:
    """MLPerf Tiny's ResNet-8 shape: conv3x3 stem, three residual stages (the 2nd and 3rd strided by 2, with 1x1
    strided shortcuts), global average pool, dense classifier. 28x28 in: 28x28, 14x14, 7x7 feature maps."""
    c0, c1, c2 = channels
    return nn.Sequential(
        QAct(input_act), *_conv_bn_act(in_channels, c0, 3, weight, act),
        ResidualBlock(c0, c0, 1, weight, act, "int4"),
        ResidualBlock(c0, c1, 2, weight, act, "int4"),
        ResidualBlock(c1, c2, 2, weight, act, "int4"),
        *_head(c2, classes, weight, act, logits),
    )


def _separable(c_in: int, c_out: int, stride: int, weight: Spec, act: Spec) -> list[nn.Module]:
    """Depthwise conv3x3 (stride) - BN - quant, pointwise conv1x1 - BN - quant."""
    return [*_conv_bn_act(c_in, c_in, 3, weight, act, stride, groups=c_in), *_conv_bn_act(c_in, c_out, 1, weight, act)]


def dscnn(weight: Spec = "int4", act: Spec = "uint4", input_act: Spec = "uint8", logits: Spec = "int8",
          channels: int = 32, blocks: int = 4, classes: int = 10) -> nn.Sequential:
    """MLPerf Tiny's DS-CNN shape (keyword spotting): a strided conv3x3 stem, ``blocks`` depthwise-separable
    blocks at ``channels``, global average pool, dense classifier. 28x28 in: 14x14 feature maps."""
    layers: list[nn.Module] = [QAct(input_act), *_conv_bn_act(1, channels, 3, weight, act, stride=2)]
    for _ in range(blocks):
        layers += _separable(channels, channels, 1, weight, act)
    return nn.Sequential(*layers, *_head(channels, classes, weight, act, logits))


def mobilenet_tiny(weight: Spec = "int4", act: Spec = "uint4", input_act: Spec = "uint8", logits: Spec = "int8",
                   classes: int = 10) -> nn.Sequential:
    """MobileNetV1's shape, small (visual wake words in MLPerf Tiny): a strided stem and depthwise-separable
    blocks whose strided depthwise convolutions halve the map: 28 -> 14 -> 7 -> 4, channels 8 -> 64."""
    return nn.Sequential(
        QAct(input_act), *_conv_bn_act(1, 8, 3, weight, act, stride=2),
        *_separable(8, 16, 1, weight, act),
        *_separable(16, 32, 2, weight, act),
        *_separable(32, 32, 1, weight, act),
        *_separable(32, 64, 2, weight, act),
        *_head(64, classes, weight, act, logits),
    )


def autoencoder(features: int = 64, hidden: Sequence[int] = (32, 32), bottleneck: int = 8, weight: Spec = "int8",
                act: Spec = "uint8", input_act: Spec = "uint8", output: Spec = "uint8") -> nn.Sequential:
    """MLPerf Tiny's anomaly-detection autoencoder shape: dense-BN-ReLU layers ``features -> hidden ->
    bottleneck -> reversed(hidden) -> features``; the output quantizer (``output``, inputs in [0, 1]) gives the
    reconstruction."""
    widths = [features, *hidden, bottleneck, *reversed(hidden), features]
    layers: list[nn.Module] = [QAct(input_act)]
    for i, (a, b) in enumerate(itertools.pairwise(widths)):
        last = i == len(widths) - 2
        out = QAct(output, max_val=1.0) if last else QAct(act, max_val=2.0)
        layers += [QLinear(a, b, weight=weight), ExactBatchNorm1d(b), out]
    return nn.Sequential(*layers)
