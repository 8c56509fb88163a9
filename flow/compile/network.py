"""The integer network: what the hardware computes, layer by layer, with exact integer semantics.

Built from an hls4ml ``ModelGraph`` by :mod:`flow.compile.lower`. Values are plain integers (bipolar values
are -1/+1); each tensor has an :class:`IntType` saying how to read it as a real number (``int * 2**-frac``).
``Network.run`` is the golden integer model the RTL is compared with, and it is checked against the
QONNX reference on whole test splits.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from flow.rtl.ops.mvau import MvauMode, MvauParams
from flow.rtl.ops.mvau import golden as mvau_golden


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


@dataclass(frozen=True)
class MatVec:
    """``y = W x`` (or the adder form) for one dense layer; ``weights`` is ``(MH, MW)`` int64."""

    name: str
    weights: np.ndarray
    mode: MvauMode
    in_type: IntType
    w_bits: int
    acc_bits: int
    out_frac: int  # real value of the accumulator = acc * 2**-out_frac
    pe: int
    simd: int

    @property
    def mh(self) -> int:
        return int(self.weights.shape[0])

    @property
    def mw(self) -> int:
        return int(self.weights.shape[1])

    @property
    def params(self) -> MvauParams:
        return MvauParams(
            mw=self.mw,
            mh=self.mh,
            pe=self.pe,
            simd=self.simd,
            mode=self.mode,
            in_bits=self.in_type.bits,
            in_signed=self.in_type.signed or self.in_type.bipolar,
            w_bits=self.w_bits,
            acc_bits=self.acc_bits,
        )

    @property
    def out_type(self) -> IntType:
        return IntType(self.acc_bits, True, self.out_frac)

    def run(self, x: np.ndarray) -> np.ndarray:
        return mvau_golden(x, self.weights, self.params)


@dataclass(frozen=True)
class Thresholds:
    """Per-channel step activation: ``y = out_min + #{t : x >= T[c, t]}`` (``<=`` where ``descending[c]``).

    ``thresholds`` is ``(C, N)`` int64, ascending along ``t`` for ascending channels and descending for
    descending ones. This is BatchNorm + activation + quantizer, made exact by construction.
    """

    name: str
    thresholds: np.ndarray
    descending: np.ndarray
    in_bits: int
    out_type: IntType
    pe: int

    @property
    def channels(self) -> int:
        return int(self.thresholds.shape[0])

    @property
    def out_min(self) -> int:
        return self.out_type.range[0] if not self.out_type.bipolar else 0

    def run(self, x: np.ndarray) -> np.ndarray:
        x = np.asarray(x, dtype=np.int64)[:, :, None]
        t = self.thresholds[None, :, :]
        ge = (x >= t).sum(axis=2)
        le = (x <= t).sum(axis=2)
        count = np.where(self.descending[None, :], le, ge)
        if self.out_type.bipolar:
            return 2 * count - 1
        return self.out_min + count


@dataclass
class Network:
    """The whole accelerator: input type, layers in stream order, output type."""

    input_type: IntType
    input_shape: tuple[int, ...]
    layers: list[MatVec | Thresholds] = field(default_factory=list)
    input_quantizer: object | None = None  # callable float -> int codes (the graph's own input quantizer)

    @property
    def output_type(self) -> IntType:
        last = self.layers[-1]
        return last.out_type

    def quantize_input(self, x: np.ndarray) -> np.ndarray:
        """Float inputs (N, ...) -> integer input codes, exactly as the graph's input quantizer."""
        if self.input_quantizer is None:
            raise ValueError("this network has no input quantizer; feed integer codes")
        return self.input_quantizer(np.asarray(x, dtype=np.float32).reshape(len(x), -1))

    def run(self, x_int: np.ndarray) -> np.ndarray:
        """Golden integer model: integer input codes (N, features) -> integer outputs (N, outputs)."""
        y = np.asarray(x_int, dtype=np.int64)
        for layer in self.layers:
            y = layer.run(y)
        return y

    def run_float(self, x: np.ndarray) -> np.ndarray:
        """Float in, float out (outputs times their scale): comparable with the QONNX reference."""
        return self.run(self.quantize_input(x)).astype(np.float64) * self.output_type.scale
