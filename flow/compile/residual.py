"""The residual block of the integer network (:class:`Residual`) and the walks over layers that descend into its
branches (:func:`run_layers`, :func:`flat_layers`)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import numpy as np

from flow.blocks import eltwise_add
from flow.blocks.eltwise_add import EltwiseAddParams
from flow.compile.inttype import IntType

__all__ = ["Residual", "flat_layers", "run_layers"]


def run_layers(layers, y: np.ndarray) -> np.ndarray:
    """Run ``layers`` in order on ``y`` (N, pixels, channels)."""
    for layer in layers:
        y = layer.run(y)
    return y


@dataclass(frozen=True)
class Residual:
    """A residual block: the stream forks (block ``axis_fork``) into two branches of layers, whose quantized outputs
    (``a_type``, ``b_type``) are added exactly, their binary points aligned (block ``eltwise_add``). ``branches[0]``
    ends at the add's first input; a branch may be empty (the identity shortcut). The sums, ``pe`` per beat, go
    on as a matrix-vector layer's accumulators would: to thresholds (``out_type`` is their type)."""

    block: ClassVar[str] = "eltwise_add"

    name: str
    branches: tuple[tuple, tuple]
    a_type: IntType
    b_type: IntType
    channels: int
    pe: int
    vectors: int  # pixels per inference (1 for a vector)

    @property
    def out_frac(self) -> int:
        return max(self.a_type.frac, self.b_type.frac)

    @property
    def params(self) -> EltwiseAddParams:
        a, b = self.a_type, self.b_type
        return EltwiseAddParams(elems=self.pe, a_bits=a.bits, a_signed=a.signed, a_shift=self.out_frac - a.frac,
                                b_bits=b.bits, b_signed=b.signed, b_shift=self.out_frac - b.frac)

    @property
    def acc_bits(self) -> int:
        return self.params.out_bits

    @property
    def out_type(self) -> IntType:
        return IntType(self.acc_bits, True, self.out_frac)

    #: No memory contents.
    data: ClassVar[None] = None

    @property
    def in_features(self) -> int:
        """Elements per inference on each of the add's inputs."""
        return self.channels * self.vectors

    def describe(self) -> str:
        return (f"{self.name}: residual add of ({self.a_type.describe()}) + ({self.b_type.describe()}), "
                f"{self.channels} channels x {self.vectors} pixels, {self.pe} per beat")

    def run(self, x: np.ndarray) -> np.ndarray:
        """Both branches on ``x``, then their exact sum (N, pixels, channels)."""
        a = run_layers(self.branches[0], x)
        b = run_layers(self.branches[1], x)
        return eltwise_add.golden(a, b, self.params).reshape(len(x), self.vectors, self.channels)


def flat_layers(layers) -> list:
    """``layers`` with every residual block's branches before the block itself, in stream order."""
    out = []
    for layer in layers:
        if isinstance(layer, Residual):
            for branch in layer.branches:
                out.extend(flat_layers(branch))
        out.append(layer)
    return out
