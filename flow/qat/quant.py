"""Quantization presets: ``binary``, ``ternary``, ``int(k)``, ``uint(k)``, and their Brevitas quantizers.

A preset is a :class:`QuantSpec`. Strings are parsed once, at the edge, with :func:`parse`:
``"binary"``, ``"ternary"``, ``"int4"``, ``"uint8"`` (``"float"`` means no quantization).

Every quantizer has a power-of-two scale, so every quantized tensor is an exact fixed-point number
and the hardware computes with integers:

* ``binary``  -- weights/activations in {-1, +1} (scale 1, Brevitas ``SignedBinary*Const``).
* ``ternary`` -- weights/activations in {-1, 0, +1} (scale 1, Brevitas ``SignedTernary*Const``).
* ``int(k)``  -- signed k-bit integers times a power-of-two scale (Brevitas ``*FixedPoint``);
  weights are narrow-range (-(2^(k-1)-1) .. 2^(k-1)-1), activations full range.
* ``uint(k)`` -- unsigned k-bit integers times a power-of-two scale (activations only).
"""

from __future__ import annotations

import enum
import re
from dataclasses import dataclass

from flow.errors import QuantSpecError


class Kind(enum.Enum):
    FLOAT = "float"
    BINARY = "binary"
    TERNARY = "ternary"
    INT = "int"
    UINT = "uint"


@dataclass(frozen=True)
class QuantSpec:
    """One quantization preset. ``bits`` is 1 for binary, 2 for ternary, k for int/uint, 32 for float."""

    kind: Kind
    bits: int

    def __post_init__(self) -> None:
        if self.kind in (Kind.INT, Kind.UINT) and not 1 <= self.bits <= 16:
            raise QuantSpecError(f"{self.kind.value}{self.bits}: expected 1 <= k <= 16 bits, got {self.bits}")
        if self.kind is Kind.INT and self.bits < 2:
            raise QuantSpecError("int1 is ambiguous: use 'binary' for {-1,+1} or 'uint1' for {0,1}")

    @property
    def name(self) -> str:
        if self.kind in (Kind.INT, Kind.UINT):
            return f"{self.kind.value}{self.bits}"
        return self.kind.value

    @property
    def signed(self) -> bool:
        return self.kind is not Kind.UINT

    def __str__(self) -> str:
        return self.name


def binary() -> QuantSpec:
    """Bipolar {-1, +1}."""
    return QuantSpec(Kind.BINARY, 1)


def ternary() -> QuantSpec:
    """{-1, 0, +1}."""
    return QuantSpec(Kind.TERNARY, 2)


def int_(k: int) -> QuantSpec:
    """Signed k-bit fixed point with a power-of-two scale (``int`` is a builtin, hence the underscore)."""
    return QuantSpec(Kind.INT, int(k))


def uint(k: int) -> QuantSpec:
    """Unsigned k-bit fixed point with a power-of-two scale."""
    return QuantSpec(Kind.UINT, int(k))


def floating() -> QuantSpec:
    """No quantization (float32): for baselines only; the hardware flow refuses it."""
    return QuantSpec(Kind.FLOAT, 32)


_PATTERN = re.compile(r"^(binary|ternary|float|int|uint)(\d*)$")


def parse(spec: str | QuantSpec) -> QuantSpec:
    """Parse ``"binary" | "ternary" | "float" | "int<k>" | "uint<k>"`` (a QuantSpec passes through)."""
    if isinstance(spec, QuantSpec):
        return spec
    if not isinstance(spec, str):
        raise QuantSpecError(f"quantization preset: expected a string like 'int4', got {type(spec).__name__}")
    match = _PATTERN.match(spec.strip().lower())
    if match is None:
        raise QuantSpecError(
            f"quantization preset {spec!r}: expected 'binary', 'ternary', 'float', 'int<k>' or 'uint<k>'"
        )
    word, digits = match.groups()
    if word in ("int", "uint"):
        if not digits:
            raise QuantSpecError(f"quantization preset {spec!r}: '{word}' needs a bit width, e.g. '{word}4'")
        return int_(int(digits)) if word == "int" else uint(int(digits))
    if digits:
        raise QuantSpecError(f"quantization preset {spec!r}: '{word}' takes no bit width")
    return {"binary": binary(), "ternary": ternary(), "float": floating()}[word]


def weight_quantizer(spec: QuantSpec):  # -> brevitas quantizer class (untyped injector)
    """Return the Brevitas weight quantizer for ``spec`` (None for float)."""
    from brevitas.quant import (
        Int8WeightPerTensorFixedPoint,
        SignedBinaryWeightPerTensorConst,
        SignedTernaryWeightPerTensorConst,
    )

    if spec.kind is Kind.FLOAT:
        return None
    if spec.kind is Kind.BINARY:
        return SignedBinaryWeightPerTensorConst.let(scaling_const=1.0)
    if spec.kind is Kind.TERNARY:
        return SignedTernaryWeightPerTensorConst.let(scaling_const=1.0)
    if spec.kind is Kind.UINT:
        raise QuantSpecError(f"weight preset {spec.name}: weights must be signed (binary, ternary or int<k>)")
    return Int8WeightPerTensorFixedPoint.let(bit_width=spec.bits, narrow_range=True)


def act_quantizer(spec: QuantSpec, max_val: float = 1.0):
    """Return the Brevitas activation quantizer for ``spec`` (None for float).

    ``max_val`` initialises the learned power-of-two scale of int/uint activations.
    """
    from brevitas.quant import (
        Int8ActPerTensorFixedPoint,
        SignedBinaryActPerTensorConst,
        SignedTernaryActPerTensorConst,
        Uint8ActPerTensorFixedPoint,
    )

    if spec.kind is Kind.FLOAT:
        return None
    if spec.kind is Kind.BINARY:
        return SignedBinaryActPerTensorConst.let(scaling_const=1.0)
    if spec.kind is Kind.TERNARY:
        return SignedTernaryActPerTensorConst.let(scaling_const=1.0)
    if spec.kind is Kind.UINT:
        return Uint8ActPerTensorFixedPoint.let(bit_width=spec.bits, max_val=max_val)
    return Int8ActPerTensorFixedPoint.let(bit_width=spec.bits, min_val=-max_val, max_val=max_val)
