"""Network builders used by recipes (users may write their own ``nn.Module`` instead)."""

from __future__ import annotations

import itertools
from collections.abc import Sequence

from torch import nn

from flow.qat.adder import AdderConv2d, AdderLinear, adder_act
from flow.qat.layers import ExactBatchNorm1d, ExactBatchNorm2d, QAct, QConv2d, QLinear
from flow.qat.quant import QuantSpec


def mlp(
    sizes: Sequence[int],
    weight: str | QuantSpec,
    act: str | QuantSpec,
    input_act: str | QuantSpec,
    batch_norm: bool = True,
    act_max: float = 1.0,
    input_max: float = 1.0,
    last_weight: str | QuantSpec | None = None,
    logits: str | QuantSpec | None = None,
    logits_max: float = 8.0,
) -> nn.Sequential:
    """``input_act -> [QLinear -> BatchNorm -> act] * hidden -> QLinear`` (bias-free).

    ``sizes = [in, hidden..., out]``. Without ``logits`` the last layer outputs integers times a power-of-two
    scale; with it, the last layer is followed by BatchNorm and the ``logits`` quantizer (the shape ADMM
    recipes need: the BatchNorm absorbs the last layer's binary scale).
    """
    if len(sizes) < 2:
        raise ValueError(f"mlp sizes: expected at least [in, out], got {list(sizes)}")
    layers: list[nn.Module] = [QAct(input_act, max_val=input_max)]
    for i, (n_in, n_out) in enumerate(itertools.pairwise(sizes)):
        last = i == len(sizes) - 2
        layers.append(QLinear(n_in, n_out, weight=(last_weight or weight) if last else weight))
        if not last:
            if batch_norm:
                layers.append(nn.BatchNorm1d(n_out))
            layers.append(QAct(act, max_val=act_max))
    if logits is not None:
        layers += [nn.BatchNorm1d(sizes[-1]), QAct(logits, max_val=logits_max)]
    return nn.Sequential(*layers)


def lenet5(
    weight: str | QuantSpec,
    act: str | QuantSpec = "uint4",
    input_act: str | QuantSpec = "uint8",
    logits: str | QuantSpec | None = "int8",
    act_max: float = 1.0,
    logits_max: float = 8.0,
) -> nn.Sequential:
    """LeNet-5 for 1x28x28 inputs: conv5x5(6)-pool-conv5x5(16)-pool-fc120-fc84-fc10, BatchNorm after every
    conv/fc layer (bias-free layers; BatchNorm supplies the offset and absorbs binary scales).

    Module indices of the weight layers: ``LENET5_LAYERS`` = conv1 "1", conv2 "5", fc120 "10", fc84 "13",
    fc10 "16". ``logits``: the quantizer on the outputs (``None``: plain float logits, for float baselines).
    With ``act="float"`` the activations are ReLU.
    """
    return nn.Sequential(
        QAct(input_act),  # 0: input pixels in [0, 1]
        QConv2d(1, 6, 5, weight=weight),  # 1
        nn.BatchNorm2d(6),
        QAct(act, max_val=act_max),
        nn.MaxPool2d(2),  # 4: 6x12x12
        QConv2d(6, 16, 5, weight=weight),  # 5
        nn.BatchNorm2d(16),
        QAct(act, max_val=act_max),
        nn.MaxPool2d(2),  # 8: 16x4x4
        nn.Flatten(),
        QLinear(256, 120, weight=weight),  # 10
        nn.BatchNorm1d(120),
        QAct(act, max_val=act_max),
        QLinear(120, 84, weight=weight),  # 13
        nn.BatchNorm1d(84),
        QAct(act, max_val=act_max),
        QLinear(84, 10, weight=weight),  # 16
        nn.BatchNorm1d(10),  # absorbs the last layer's binary alpha
        QAct(logits, max_val=logits_max) if logits is not None else nn.Identity(),
    )


LENET5_LAYERS = ("1", "5", "10", "13", "16")


def adder_mlp(
    sizes: Sequence[int],
    quant: str | QuantSpec,
    input_max: float = 1.0,
    act_max: float = 1.0,
    logits: str | QuantSpec | None = "int8",
    logits_max: float = 8.0,
    eta: float | None = 0.1,
) -> nn.Sequential:
    """AdderNet MLP: ``[AdderLinear -> BatchNorm] * layers -> logits quantizer``.

    ``sizes = [in, hidden..., out]``. Each :class:`~flow.qat.adder.AdderLinear` quantizes its own input with
    ``quant`` (the first one quantizes the network input, scale from ``input_max``; later ones are quantized
    ReLUs for ``uint<k>``, scale from ``act_max``) and its weights on the same grid. BatchNorm follows every adder
    layer (AdderNet's outputs are large and all negative), as :class:`~flow.qat.layers.ExactBatchNorm1d` so the
    export stays bit-exact at those magnitudes; ``logits`` quantizes the last BatchNorm's output (``None``: float
    logits, a training-only baseline).
    """
    if len(sizes) < 2:
        raise ValueError(f"adder_mlp sizes: expected at least [in, out], got {list(sizes)}")
    layers: list[nn.Module] = []
    for i, (n_in, n_out) in enumerate(itertools.pairwise(sizes)):
        layers.append(AdderLinear(n_in, n_out, quant, act_max=input_max if i == 0 else act_max, eta=eta))
        layers.append(ExactBatchNorm1d(n_out))
    if logits is not None:
        layers.append(QAct(logits, max_val=logits_max))
    return nn.Sequential(*layers)


def adder_lenet5(
    act: str | QuantSpec = "uint4",
    input_act: str | QuantSpec = "uint8",
    act_max: float = 4.0,
    logits: str | QuantSpec = "int8",
    logits_max: float = 8.0,
    eta: float | None = 0.1,
) -> nn.Sequential:
    """LeNet-5 with AdderNet layers (the shape of :func:`lenet5`): adder conv5x5(6)-pool-adder conv5x5(16)-pool-
    adder fc120-fc84-fc10, :class:`~flow.qat.layers.ExactBatchNorm2d`/``1d`` after every adder layer.

    The first adder convolution quantizes the input pixels (``input_act``, x and w on that grid); the others take
    ``act`` with scale ``act_max / 2^k``: after a max-pool or flatten from an :func:`~flow.qat.adder.adder_act`
    before it (``quantize_input=False``, same grid), otherwise with their own input quantizer.
    """
    a = {"quant": act, "act_max": act_max, "eta": eta}
    return nn.Sequential(
        AdderConv2d(1, 6, 5, quant=input_act, act_max=1.0, eta=eta),  # 0: input pixels in [0, 1]
        ExactBatchNorm2d(6),
        adder_act(act, act_max),
        nn.MaxPool2d(2),  # 3: 6x12x12
        AdderConv2d(6, 16, 5, quantize_input=False, **a),  # 4
        ExactBatchNorm2d(16),
        adder_act(act, act_max),
        nn.MaxPool2d(2),  # 7: 16x4x4
        nn.Flatten(),
        AdderLinear(256, 120, quantize_input=False, **a),  # 9
        ExactBatchNorm1d(120),
        AdderLinear(120, 84, **a),  # 11
        ExactBatchNorm1d(84),
        AdderLinear(84, 10, **a),  # 13
        ExactBatchNorm1d(10),
        QAct(logits, max_val=logits_max),
    )
