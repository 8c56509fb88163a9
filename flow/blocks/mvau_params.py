"""MVAU parameters and value checks, shared by :mod:`flow.blocks.mvau` (golden model, packers, timing) and
:mod:`flow.blocks.mvau_cost` (resource estimate); import them from :mod:`flow.blocks.mvau`.

Values, not encodings: for the bipolar operands the values are -1 and +1; :func:`encode_w` encodes +1 as bit 1
and -1 as bit 0, as the hardware reads them.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import IntEnum

import numpy as np

from flow.blocks.bits import MAX_FIELD_BITS, check_range, encode, signed_range, unsigned_range

__all__ = ["MvauMode", "MvauParams", "check_w", "check_x", "encode_w", "random_data"]


class MvauMode(IntEnum):
    """Arithmetic of one MVAU (the Verilog ``MODE`` parameter)."""

    XNOR = 0  #: x, w bipolar (+-1): y = sum x*w = 2*popcount(xnor) - MW
    MAC = 1  #: x integer (IN_BITS, signed or not), w signed W_BITS: y = sum x*w
    BIPOLAR_W = 2  #: w bipolar, x integer: y = sum +-x
    ADDER = 3  #: AdderNet, x integer, w signed: y = -sum |x - w|
    BIPOLAR_X = 4  #: x bipolar (1-bit code, bit 1 = +1), w signed W_BITS: y = sum +-w


@dataclass(frozen=True)
class MvauParams:
    """Parameters of one ``mvau`` instance (names mirror the Verilog parameters in lower case).

    ``in_reg`` and ``fanin`` are the register stages for Fmax (``IN_REG``, ``FANIN`` in ``mvau.v``): one more
    register on the weight ROM's output and the input word; an adder tree of ``fanin``-input sums with a
    register after each level but the last (0, or ``fanin >= simd``: the whole SIMD-wide sum in one cycle);
    ``term_reg`` (with ``fanin >= 2``): every term (product) registered before the tree. Each stage adds one
    cycle of latency (:attr:`extra_latency`) and never a cycle per vector.
    """

    mw: int
    mh: int
    pe: int
    simd: int
    mode: MvauMode
    in_bits: int
    in_signed: bool
    w_bits: int
    acc_bits: int
    in_reg: bool = False
    fanin: int = 0
    term_reg: bool = False

    @property
    def nf(self) -> int:
        """Neuron folds ``MH / PE`` (output beats per vector)."""
        return self.mh // self.pe

    @property
    def sf(self) -> int:
        """Synapse folds ``MW / SIMD`` (input beats per vector)."""
        return self.mw // self.simd

    @property
    def tree_regs(self) -> int:
        """Register stages inside the SIMD-wide sum: ``ceil(log_fanin(SIMD)) - 1`` (0 when not pipelined), + 1
        for the terms' own register (``term_reg``)."""
        if self.fanin < 2:
            return 0
        n, regs = self.simd, int(self.term_reg)
        while n > self.fanin:
            n = -(-n // self.fanin)
            regs += 1
        return regs

    @property
    def extra_latency(self) -> int:
        """Cycles the register stages add between issue and output queue: ``in_reg + tree_regs``."""
        return int(self.in_reg) + self.tree_regs

    @property
    def weight_depth(self) -> int:
        """Words in the weight ROM (``NF*SF``)."""
        return self.nf * self.sf

    @property
    def weight_width(self) -> int:
        """Bits per weight ROM word (``PE*SIMD*W_BITS``)."""
        return self.pe * self.simd * self.w_bits

    @property
    def in_beat_bits(self) -> int:
        """Width of ``s_axis_tdata``."""
        return self.simd * self.in_bits

    @property
    def out_beat_bits(self) -> int:
        """Width of ``m_axis_tdata``."""
        return self.pe * self.acc_bits

    @property
    def x_range(self) -> tuple[int, int]:
        """Inclusive range of input element values."""
        if self.mode in (MvauMode.XNOR, MvauMode.BIPOLAR_X):
            return -1, 1
        return signed_range(self.in_bits) if self.in_signed else unsigned_range(self.in_bits)

    @property
    def w_range(self) -> tuple[int, int]:
        """Inclusive range of weight values."""
        if self.mode in (MvauMode.XNOR, MvauMode.BIPOLAR_W):
            return -1, 1
        return signed_range(self.w_bits)

    def validate(self) -> None:
        """Raise :class:`ValueError` naming the first bad parameter, what was expected and what arrived."""
        for name in ("mw", "mh", "pe", "simd", "in_bits", "w_bits", "acc_bits"):
            v = getattr(self, name)
            if not isinstance(v, int) or isinstance(v, bool) or v < 1:
                raise ValueError(f"mvau: {name} expected a positive integer, got {v!r}")
        if not isinstance(self.mode, MvauMode):
            raise ValueError(f"mvau: mode expected one of {[m.name for m in MvauMode]}, got {self.mode!r}")
        if not isinstance(self.in_signed, bool):
            raise ValueError(f"mvau: in_signed expected a bool, got {self.in_signed!r}")
        if not isinstance(self.in_reg, bool):
            raise ValueError(f"mvau: in_reg expected a bool, got {self.in_reg!r}")
        if not isinstance(self.fanin, int) or isinstance(self.fanin, bool) or self.fanin < 0 or self.fanin == 1:
            raise ValueError(f"mvau: fanin expected 0 (no adder-tree registers) or an integer >= 2, got {self.fanin!r}")
        if not isinstance(self.term_reg, bool) or (self.term_reg and self.fanin < 2):
            raise ValueError(f"mvau: term_reg expected a bool, True only with fanin >= 2, got {self.term_reg!r} "
                             f"(fanin {self.fanin})")
        if self.mh % self.pe:
            raise ValueError(f"mvau: pe expected a divisor of mh={self.mh}, got {self.pe}")
        if self.mw % self.simd:
            raise ValueError(f"mvau: simd expected a divisor of mw={self.mw}, got {self.simd}")
        if self.mode in (MvauMode.XNOR, MvauMode.BIPOLAR_X) and self.in_bits != 1:
            raise ValueError(f"mvau: in_bits expected 1 for mode {self.mode.name}, got {self.in_bits}")
        if self.mode in (MvauMode.XNOR, MvauMode.BIPOLAR_W) and self.w_bits != 1:
            raise ValueError(f"mvau: w_bits expected 1 for mode {self.mode.name}, got {self.w_bits}")
        if self.mode == MvauMode.XNOR and self.acc_bits < 2:
            raise ValueError(f"mvau: acc_bits expected >= 2 for mode XNOR, got {self.acc_bits}")
        for name in ("in_bits", "w_bits", "acc_bits"):
            v = getattr(self, name)
            if v > MAX_FIELD_BITS:
                raise ValueError(f"mvau: {name} expected at most {MAX_FIELD_BITS} (int64 model), got {v}")

    def verilog_parameters(self, weight_file: str) -> dict[str, int | str]:
        """The Verilog parameter map of this instance (``WEIGHT_FILE`` as a plain, unquoted string)."""
        self.validate()
        return {
            "MW": self.mw,
            "MH": self.mh,
            "PE": self.pe,
            "SIMD": self.simd,
            "MODE": int(self.mode),
            "IN_BITS": self.in_bits,
            "IN_SIGNED": int(self.in_signed),
            "W_BITS": self.w_bits,
            "ACC_BITS": self.acc_bits,
            "IN_REG": int(self.in_reg),
            "FANIN": self.fanin,
            "TERM_REG": int(self.term_reg),
            "WEIGHT_FILE": str(weight_file),
        }


def _check_bipolar(values: np.ndarray, what: str) -> None:
    bad = (values != 1) & (values != -1)
    if bad.any():
        found = sorted({int(v) for v in values[bad].ravel()[:5]})
        raise ValueError(f"{what}: expected bipolar values -1/+1, got {found}")


def check_x(x: np.ndarray, params: MvauParams) -> np.ndarray:
    """``x`` as int64 ``(batch, MW)``; :class:`ValueError` if its shape or a value is off."""
    x = np.asarray(x, dtype=np.int64)
    if x.ndim != 2 or x.shape[1] != params.mw:
        raise ValueError(f"mvau: x expected shape (batch, mw={params.mw}), got {x.shape}")
    if params.mode in (MvauMode.XNOR, MvauMode.BIPOLAR_X):
        _check_bipolar(x, "mvau: x")
    else:
        check_range(x, *params.x_range, "mvau: x")
    return x


def check_w(W: np.ndarray, params: MvauParams) -> np.ndarray:
    """``W`` as int64 ``(MH, MW)``; :class:`ValueError` if its shape or a value is off."""
    W = np.asarray(W, dtype=np.int64)
    if W.shape != (params.mh, params.mw):
        raise ValueError(f"mvau: W expected shape (mh={params.mh}, mw={params.mw}), got {W.shape}")
    if params.mode in (MvauMode.XNOR, MvauMode.BIPOLAR_W):
        _check_bipolar(W, "mvau: W")
    else:
        check_range(W, *params.w_range, "mvau: W")
    return W


def encode_w(W: np.ndarray, params: MvauParams) -> np.ndarray:
    """Weight values -> the field values the ROM holds (bipolar: +1 -> 1, -1 -> 0; else two's complement)."""
    if params.mode in (MvauMode.XNOR, MvauMode.BIPOLAR_W):
        return (W > 0).astype(np.int64)
    return encode(W, params.w_bits, signed=True, what="mvau: W")


def random_data(params: MvauParams, seed: int = 0) -> np.ndarray:
    """Seeded uniform random weights ``(MH, MW)`` in the mode's weight range (what the estimates were
    calibrated on)."""
    rng = np.random.default_rng(seed)
    if params.mode in (MvauMode.XNOR, MvauMode.BIPOLAR_W):
        return rng.choice(np.array([-1, 1]), size=(params.mh, params.mw))
    lo, hi = params.w_range
    return rng.integers(lo, hi + 1, size=(params.mh, params.mw))
