"""Network builders used by recipes (users may write their own ``nn.Module`` instead)."""

from __future__ import annotations

import itertools
from collections.abc import Sequence

from torch import nn

from flow.qat.layers import QAct, QLinear
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
) -> nn.Sequential:
    """``input_act -> [QLinear -> BatchNorm -> act] * hidden -> QLinear`` (bias-free, no final activation).

    ``sizes = [in, hidden..., out]``. The last layer outputs integers times a power-of-two scale (logits).
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
    return nn.Sequential(*layers)
