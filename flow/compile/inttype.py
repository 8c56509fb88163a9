"""Integer tensor types of the integer network (:class:`IntType`) and the codes the hardware streams for them
(:func:`to_codes`, :func:`from_codes`)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

__all__ = ["IntType", "from_codes", "to_codes"]


@dataclass(frozen=True)
class IntType:
    """An integer tensor type: ``bits`` wide, ``signed`` or not, real value ``int * 2**-frac``.

    ``bipolar`` types hold -1/+1 in one bit (bit 1 = +1, bit 0 = -1).
    """

    bits: int
    signed: bool
    frac: int = 0
    bipolar: bool = False

    @property
    def scale(self) -> float:
        return float(2.0**-self.frac)

    @property
    def range(self) -> tuple[int, int]:
        if self.bipolar:
            return -1, 1
        if self.signed:
            return -(1 << (self.bits - 1)), (1 << (self.bits - 1)) - 1
        return 0, (1 << self.bits) - 1

    def describe(self) -> str:
        if self.bipolar:
            return "bipolar (1 bit: 1 = +1, 0 = -1)"
        kind = "int" if self.signed else "uint"
        return f"{kind}{self.bits} x 2^-{self.frac}" if self.frac else f"{kind}{self.bits}"

    def as_dict(self) -> dict:
        return {
            "bits": self.bits,
            "signed": self.signed,
            "frac_bits": self.frac,
            "bipolar": self.bipolar,
            "scale": self.scale,
        }


def to_codes(x: np.ndarray, t: IntType) -> np.ndarray:
    """Values of type ``t`` -> the codes the hardware streams (bipolar -1/+1 -> 0/1; others unchanged)."""
    x = np.asarray(x, dtype=np.int64)
    return (x + 1) // 2 if t.bipolar else x


def from_codes(codes: np.ndarray, t: IntType) -> np.ndarray:
    """Inverse of :func:`to_codes`."""
    return 2 * codes - 1 if t.bipolar else codes
