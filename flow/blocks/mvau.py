"""MVAU (matrix-vector unit, ``hw/mvau/mvau.v``): parameters, golden model, packers, cycle formulas.

Values, not encodings: every array here holds the integer *values* of the math. For the bipolar
operands (XNOR inputs and weights, BIPOLAR_W weights) the values are -1 and +1; the packers encode
+1 as bit 1 and -1 as bit 0, as the hardware reads them.

Layout contract shared with the Verilog (see the header of ``mvau.v``):

* input beat ``sf`` of a vector: elements ``x[sf*SIMD + s]``, ``s < SIMD``, each ``IN_BITS`` at ``s*IN_BITS``;
* output beat ``nf``: accumulators ``y[nf*PE + p]``, ``p < PE``, each ``ACC_BITS`` two's complement;
* weight ROM word ``nf*SF + sf``: ``W[nf*PE + p][sf*SIMD + s]`` at bit ``(p*SIMD + s)*W_BITS``.

Resource estimate (:func:`estimate_resources`, Xilinx 7-series cells after Yosys ``synth_xilinx``): memories
by Yosys' cost rules (weight ROM as logic or block RAM, input buffer and output queue as LUT RAM), DSP48E1 =
``PE*SIMD`` for MAC products of at least 9 bits, FF from the RTL's registers (exact to +-2 on the calibration
points), LUT = ``SIMD*IN_BITS`` (``NF > 1``) + ``sum(MVAU_LUT_COEFFS[k] * f[k])`` and CARRY4 =
``sum(MVAU_CARRY4_COEFFS[k] * f[k])`` over the structural features of :func:`resource_features` /
:func:`carry4_features`; the constants are the two dictionaries below, fitted by
``bench/resource_estimates.py --calibrate`` on its ``CALIBRATION`` points.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from enum import IntEnum

import numpy as np

from flow.blocks.bits import (
    MAX_FIELD_BITS,
    check_range,
    clog2,
    encode,
    hex_lines,
    pack_fields,
    signed_range,
    unpack_fields,
    unsigned_range,
    write_mem,
)
from flow.blocks.cost import (
    OpEnergy,
    Resources,
    add_pj,
    carry4,
    distinct_columns,
    field_bits,
    map_memory,
    mul_pj,
    rom_column_luts,
)
from flow.blocks.spec import BlockSpec, Stream, accept_times
from flow.paths import HW_ROOT

__all__ = [
    "HW_SOURCES",
    "SPEC",
    "MvauMode",
    "MvauParams",
    "cycles_per_vector",
    "estimate_resources",
    "golden",
    "latency_cycles",
    "output_valid_cycle",
    "pack_inputs",
    "pack_outputs",
    "pack_weights",
    "required_acc_bits",
    "unpack_outputs",
    "unpack_weights",
    "write_mem",
]

log = logging.getLogger(__name__)

#: Verilog files the block needs, in compile order.
HW_SOURCES = (HW_ROOT / "mvau" / "mvau.v", HW_ROOT / "mvau" / "mvau_dot.v")

#: Pipeline depth of ``mvau.v``: issue register + stage 1 (terms, tree, accumulate) -> output queue.
PIPELINE_CYCLES = 2


class MvauMode(IntEnum):
    """Arithmetic of one MVAU (the Verilog ``MODE`` parameter)."""

    XNOR = 0  #: x, w bipolar (+-1): y = sum x*w = 2*popcount(xnor) - MW
    MAC = 1  #: x integer (IN_BITS, signed or not), w signed W_BITS: y = sum x*w
    BIPOLAR_W = 2  #: w bipolar, x integer: y = sum +-x
    ADDER = 3  #: AdderNet, x integer, w signed: y = -sum |x - w|


@dataclass(frozen=True)
class MvauParams:
    """Parameters of one ``mvau`` instance (names mirror the Verilog parameters in lower case)."""

    mw: int
    mh: int
    pe: int
    simd: int
    mode: MvauMode
    in_bits: int
    in_signed: bool
    w_bits: int
    acc_bits: int

    @property
    def nf(self) -> int:
        """Neuron folds ``MH / PE`` (output beats per vector)."""
        return self.mh // self.pe

    @property
    def sf(self) -> int:
        """Synapse folds ``MW / SIMD`` (input beats per vector)."""
        return self.mw // self.simd

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
        if self.mode == MvauMode.XNOR:
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
        if self.mh % self.pe:
            raise ValueError(f"mvau: pe expected a divisor of mh={self.mh}, got {self.pe}")
        if self.mw % self.simd:
            raise ValueError(f"mvau: simd expected a divisor of mw={self.mw}, got {self.simd}")
        if self.mode == MvauMode.XNOR and self.in_bits != 1:
            raise ValueError(f"mvau: in_bits expected 1 for mode XNOR, got {self.in_bits}")
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
            "WEIGHT_FILE": str(weight_file),
        }


def _check_bipolar(values: np.ndarray, what: str) -> None:
    bad = (values != 1) & (values != -1)
    if bad.any():
        found = sorted({int(v) for v in values[bad].ravel()[:5]})
        raise ValueError(f"{what}: expected bipolar values -1/+1, got {found}")


def _check_x(x: np.ndarray, params: MvauParams) -> np.ndarray:
    x = np.asarray(x, dtype=np.int64)
    if x.ndim != 2 or x.shape[1] != params.mw:
        raise ValueError(f"mvau: x expected shape (batch, mw={params.mw}), got {x.shape}")
    if params.mode == MvauMode.XNOR:
        _check_bipolar(x, "mvau: x")
    else:
        check_range(x, *params.x_range, "mvau: x")
    return x


def _check_w(W: np.ndarray, params: MvauParams) -> np.ndarray:
    W = np.asarray(W, dtype=np.int64)
    if W.shape != (params.mh, params.mw):
        raise ValueError(f"mvau: W expected shape (mh={params.mh}, mw={params.mw}), got {W.shape}")
    if params.mode in (MvauMode.XNOR, MvauMode.BIPOLAR_W):
        _check_bipolar(W, "mvau: W")
    else:
        check_range(W, *params.w_range, "mvau: W")
    return W


def adder_output_range(W: np.ndarray, xlo: int, xhi: int) -> tuple[np.ndarray, np.ndarray]:
    """Exact per-channel (min, max) of ``-sum_i |x_i - W[j, i]|`` over inputs ``x_i`` in ``[xlo, xhi]``."""
    far = np.maximum(np.abs(xlo - W), np.abs(xhi - W))
    near = np.where((xlo <= W) & (xhi >= W), 0, np.minimum(np.abs(xlo - W), np.abs(xhi - W)))
    return -far.sum(axis=1), -near.sum(axis=1)


def _output_range(W: np.ndarray, params: MvauParams) -> tuple[np.ndarray, np.ndarray]:
    """Exact per-channel (min, max) of y over all inputs in ``params.x_range`` (elements independent)."""
    xlo, xhi = params.x_range
    if params.mode == MvauMode.XNOR:
        return np.full(params.mh, -params.mw, np.int64), np.full(params.mh, params.mw, np.int64)
    if params.mode == MvauMode.ADDER:
        return adder_output_range(W, xlo, xhi)
    a, b = xlo * W, xhi * W  # MAC and BIPOLAR_W: x*w is monotonic in x
    return np.minimum(a, b).sum(axis=1), np.maximum(a, b).sum(axis=1)


def required_acc_bits(W: np.ndarray, params: MvauParams) -> int:
    """Smallest ``ACC_BITS`` that holds every output for these weights and any input in range.

    Interval analysis per output channel (exact: the bounds are reached). ``params.acc_bits`` is ignored.
    """
    W = _check_w(W, params)
    lo, hi = _output_range(W, params)
    ymin, ymax = int(lo.min()), int(hi.max())
    bits = 1
    while not (signed_range(bits)[0] <= ymin and ymax <= signed_range(bits)[1]):
        bits += 1
    return bits


def golden(x: np.ndarray, W: np.ndarray, params: MvauParams, chunk: int = 256) -> np.ndarray:
    """Exact MVAU outputs for a batch: ``x`` ``(batch, MW)``, ``W`` ``(MH, MW)`` -> ``(batch, MH)`` int64.

    Raises :class:`ValueError` if an input or weight is out of range, or an output does not fit
    ``ACC_BITS`` (the hardware would wrap).
    """
    params.validate()
    x = _check_x(x, params)
    W = _check_w(W, params)
    if params.mode == MvauMode.ADDER:
        parts = [-np.abs(x[i : i + chunk, None, :] - W[None, :, :]).sum(axis=2) for i in range(0, len(x), chunk)]
        y = np.concatenate(parts, axis=0) if parts else np.zeros((0, params.mh), np.int64)
    else:
        y = x @ W.T
    check_range(y, *signed_range(params.acc_bits), f"mvau: outputs for acc_bits={params.acc_bits}")
    return y


def _encode_w(W: np.ndarray, params: MvauParams) -> np.ndarray:
    if params.mode in (MvauMode.XNOR, MvauMode.BIPOLAR_W):
        return (W > 0).astype(np.int64)
    return encode(W, params.w_bits, signed=True, what="mvau: W")


def pack_weights(W: np.ndarray, params: MvauParams) -> list[str]:
    """Weight ROM lines for ``WEIGHT_FILE``: ``NF*SF`` hex words of ``PE*SIMD*W_BITS`` bits."""
    params.validate()
    W = _check_w(W, params)
    nf, sf, pe, simd = params.nf, params.sf, params.pe, params.simd
    fields = _encode_w(W, params).reshape(nf, pe, sf, simd).transpose(0, 2, 1, 3).reshape(nf * sf, pe * simd)
    return hex_lines(pack_fields(fields, params.w_bits), params.weight_width)


def unpack_weights(words: Sequence[int], params: MvauParams) -> np.ndarray:
    """Inverse of :func:`pack_weights` (given parsed integer words): ``(MH, MW)`` weight values."""
    params.validate()
    if len(words) != params.weight_depth:
        raise ValueError(f"mvau: weight ROM expected {params.weight_depth} words, got {len(words)}")
    nf, sf, pe, simd = params.nf, params.sf, params.pe, params.simd
    bipolar = params.mode in (MvauMode.XNOR, MvauMode.BIPOLAR_W)
    f = unpack_fields(words, pe * simd, params.w_bits, signed=not bipolar)
    if bipolar:
        f = 2 * f - 1
    return f.reshape(nf, sf, pe, simd).transpose(0, 2, 1, 3).reshape(params.mh, params.mw)


def pack_inputs(x: np.ndarray, params: MvauParams) -> list[int]:
    """Input beats for a batch ``(batch, MW)``: ``batch*SF`` words of ``SIMD*IN_BITS`` bits, in order."""
    params.validate()
    x = _check_x(x, params)
    if params.mode == MvauMode.XNOR:
        enc = (x > 0).astype(np.int64)
    else:
        enc = encode(x, params.in_bits, params.in_signed, "mvau: x")
    return pack_fields(enc.reshape(-1, params.simd), params.in_bits)


def pack_outputs(y: np.ndarray, params: MvauParams) -> list[int]:
    """Output beats the hardware sends for outputs ``y`` ``(batch, MH)`` (the expected stream)."""
    params.validate()
    y = np.asarray(y, dtype=np.int64)
    if y.ndim != 2 or y.shape[1] != params.mh:
        raise ValueError(f"mvau: y expected shape (batch, mh={params.mh}), got {y.shape}")
    enc = encode(y, params.acc_bits, signed=True, what="mvau: y")
    return pack_fields(enc.reshape(-1, params.pe), params.acc_bits)


def unpack_outputs(beats: Sequence[int], params: MvauParams) -> np.ndarray:
    """Output beats (``NF`` per vector, in order) -> ``(batch, MH)`` signed int64."""
    params.validate()
    if len(beats) % params.nf:
        raise ValueError(f"mvau: output beats expected a multiple of nf={params.nf}, got {len(beats)}")
    return unpack_fields(beats, params.pe, params.acc_bits, signed=True).reshape(-1, params.mh)


def cycles_per_vector(params: MvauParams) -> int:
    """Initiation interval without stalls: one vector every ``NF*SF`` cycles."""
    params.validate()
    return params.nf * params.sf


def output_valid_cycle(params: MvauParams, nf: int) -> int:
    """Cycle (relative to the acceptance of the vector's first input beat, no stalls) in which
    output beat ``nf`` is first valid: ``(nf + 1)*SF + 1``."""
    params.validate()
    if not 0 <= nf < params.nf:
        raise ValueError(f"mvau: nf expected in [0, {params.nf}), got {nf}")
    return (nf + 1) * params.sf - 1 + PIPELINE_CYCLES


def latency_cycles(params: MvauParams) -> int:
    """Cycles from accepting a vector's first input beat to its last output beat being valid, no
    stalls: ``NF*SF + 1`` (2 for a fully parallel layer)."""
    return output_valid_cycle(params, params.nf - 1)


# ---------------------------------------------------------------------------------------------- resources
#: Fitted coefficients of :func:`estimate_resources` (LUT and CARRY4 over :func:`resource_features`).
MVAU_LUT_COEFFS: dict[str, float] = {
    "acc": 0.729,
    "add_const": 1.592,
    "add_var": 2.761,
    "bip_const": 1.53,
    "bip_var": 2.208,
    "counters": 1.396,
    "mac_const": 1.835,
    "mac_pp": 1.254,
    "mac_tree": 1.504,
    "one": 9.406,
    "rom": 0.984,
    "xnor_const": 0.98,
    "xnor_var": 2.039,
}
MVAU_CARRY4_COEFFS: dict[str, float] = {
    "acc4": 0.304,
    "add4_const": 1.215,
    "add4_var": 2.28,
    "bip4_const": 0.189,
    "bip4_var": 0.565,
    "counters4": 0.98,
    "mac4_const": 0.371,
    "mac4_var": 1.338,
    "one": 3.284,
    "tree4": 0.16,
    "xout4": 0.557,
}

#: ``synth_xilinx`` maps a multiplication to a DSP48E1 when its product is at least this wide
#: (``DSP_Y_MINWIDTH=9`` for 7-series); MODE MAC terms are ``IN_BITS + W_BITS`` wide.
DSP_MIN_PRODUCT_BITS = 9


def _csd_digits(values: np.ndarray) -> np.ndarray:
    """Non-zero digits of each integer's canonical signed-digit form (adders of a constant multiplication)."""
    v = np.abs(np.asarray(values, dtype=np.int64))
    digits = np.zeros(v.shape, dtype=np.int64)
    while np.any(v):
        odd = (v & 1) == 1
        step = np.where(odd, 2 - (v & 3), 0)  # +1 or -1 at odd positions (CSD), 0 elsewhere
        digits += odd
        v = (v - step) >> 1
    return digits


@dataclass(frozen=True)
class _MvauStats:
    rom_columns: int  # distinct non-constant weight-ROM columns
    nonzero: int  # non-zero weights
    csd_digits: int  # sum of CSD digits over all weights


def _weight_stats(params: MvauParams, weights: np.ndarray | None) -> _MvauStats:

    W = _check_w(weights if weights is not None else random_data(params), params)
    enc = _encode_w(W, params)
    nf, sf, pe, simd = params.nf, params.sf, params.pe, params.simd
    words = enc.reshape(nf, pe, sf, simd).transpose(0, 2, 1, 3).reshape(nf * sf, pe * simd)
    columns, _ = distinct_columns(field_bits(words, params.w_bits))
    return _MvauStats(columns, int(np.count_nonzero(W)), int(_csd_digits(W).sum()))


def uses_dsp(params: MvauParams) -> bool:
    """Whether Yosys maps this unit's products to DSP48E1 slices (MODE MAC with a product of at least
    :data:`DSP_MIN_PRODUCT_BITS` bits)."""
    return params.mode == MvauMode.MAC and params.in_bits + params.w_bits >= DSP_MIN_PRODUCT_BITS


def _term_bits(params: MvauParams) -> int:
    """``TW`` of ``mvau_dot.v``: the exact width of one term."""
    ext = max(params.in_bits if params.in_signed else params.in_bits + 1, params.w_bits)
    return {MvauMode.XNOR: 1, MvauMode.MAC: params.in_bits + params.w_bits,
            MvauMode.BIPOLAR_W: params.in_bits + 1, MvauMode.ADDER: ext + 1}[params.mode]


def resource_features(params: MvauParams, weights: np.ndarray | None = None) -> dict[str, float]:
    """Structural features of ``mvau.v`` + ``mvau_dot.v`` (``weights``: the ``(MH, MW)`` values; ``None``:
    seeded uniform random weights, as the calibration used). ``terms = PE*SIMD``; variable (``_var``) means
    weights read from the ROM (``NF*SF > 1``), constant (``_const``) means one ROM word folded into the logic.

    * ``rom``: the weight ROM when it is logic, ``D = NF*SF`` words of ``n`` distinct non-constant columns:
      ``n * rom_column_luts(D)`` (:func:`~flow.estimate.resources.rom_column_luts`);
    * ``xnor_var`` / ``xnor_const``: ``terms`` (XNOR-popcount bits);
    * ``mac_pp``, ``mac_tree``: ``terms*IN_BITS*W_BITS`` partial-product bits and ``terms*TW`` adder-tree bits
      (MAC in LUTs, variable weights); ``mac_const``: ``sum over weights of csd_digits(w) * (IN_BITS+1)``
      (shift-and-add of constant weights); products on DSP slices add no feature (the slices take the sums too);
    * ``bip_var`` / ``bip_const``: ``terms*(IN_BITS+1)`` (add or subtract x); ``add_var`` / ``add_const``:
      ``terms*TW`` (``|x - w|``);
    * ``acc``: ``PE*ACC_BITS`` (accumulator, ``SF > 1``); ``counters``: widths of the fold counters and ROM
      address; ``one``.
    """

    params.validate()
    p = params
    st = _weight_stats(p, weights)
    depth, terms, tw = p.weight_depth, p.pe * p.simd, _term_bits(p)
    const = depth == 1
    f: dict[str, float] = {k: 0.0 for k in (
        "rom", "xnor_var", "xnor_const", "mac_pp", "mac_tree", "mac_const", "bip_var",
        "bip_const", "add_var", "add_const", "acc", "counters", "one")}
    if not const and map_memory(depth, st.rom_columns, rom=True).kind == "logic":
        f["rom"] = st.rom_columns * rom_column_luts(depth)
    if p.mode == MvauMode.XNOR:
        f["xnor_const" if const else "xnor_var"] = terms
    elif p.mode == MvauMode.MAC:  # on DSP slices (uses_dsp) the products and their sums add no LUT feature
        if const and not uses_dsp(p):
            f["mac_const"] = st.csd_digits * (p.in_bits + 1)
        elif not uses_dsp(p):
            f["mac_pp"], f["mac_tree"] = terms * p.in_bits * p.w_bits, terms * tw
    elif p.mode == MvauMode.BIPOLAR_W:
        f["bip_const" if const else "bip_var"] = terms * (p.in_bits + 1)
    else:
        f["add_const" if const else "add_var"] = terms * tw
    f["acc"] = p.pe * p.acc_bits if p.sf > 1 else 0
    f["counters"] = (clog2(p.nf) if p.nf > 1 else 0) + (clog2(p.sf) if p.sf > 1 else 0) + clog2(depth)
    f["one"] = 1.0
    return f


def carry4_features(params: MvauParams, weights: np.ndarray | None = None) -> dict[str, float]:
    """CARRY4 features: ``acc4`` (``PE*carry4(ACC_BITS)``, ``SF > 1``), ``xout4`` (the same, XNOR), ``tree4``
    (``PE*carry4(SW)``, ``SW = max(TW+1, ACC_BITS)``: the final adder of each PE's sum, not on DSPs), term
    adders per mode and weight kind ``{mac,bip,add}4_{var,const}`` (``PE*SIMD*carry4(TW)``: MAC partial
    products in LUTs, the negation of x, the subtraction and absolute value; constant MAC weights: the sum of
    their CSD digits instead), ``counters4`` and ``one``."""

    p = params
    tw = _term_bits(p)
    sw = max(tw + 1, p.acc_bits)
    terms = p.pe * p.simd * carry4(tw)
    kind = "const" if p.weight_depth == 1 else "var"
    mode = {MvauMode.MAC: "mac", MvauMode.BIPOLAR_W: "bip", MvauMode.ADDER: "add"}.get(p.mode)
    f = {f"{m}4_{k}": 0.0 for m in ("mac", "bip", "add") for k in ("var", "const")}
    if mode == "mac" and kind == "const" and not uses_dsp(p):
        f["mac4_const"] = _weight_stats(p, weights).csd_digits  # one shifted copy of x added per CSD digit
    elif mode is not None and not uses_dsp(p):
        f[f"{mode}4_{kind}"] = terms
    return f | {
        "acc4": p.pe * carry4(p.acc_bits) if p.sf > 1 else 0,
        "xout4": p.pe * carry4(p.acc_bits) if p.mode == MvauMode.XNOR else 0,
        "tree4": p.pe * carry4(sw) if not uses_dsp(p) else 0,
        "counters4": carry4(clog2(p.nf)) + carry4(clog2(p.sf)) + carry4(clog2(p.weight_depth)),
        "one": 1.0,
    }


def estimate_resources(params: MvauParams, weights: np.ndarray | None = None) -> Resources:
    """Estimated Yosys ``synth_xilinx`` cells of an ``mvau`` (``weights``: the ``(MH, MW)`` values; ``None``:
    seeded uniform random weights -- real weights with many zeros or few distinct bit patterns cost less).

    Memories (:func:`~flow.estimate.resources.map_memory`): the weight ROM, ``NF*SF`` words of its distinct
    non-constant columns, as logic or block RAM (``NF*SF == 1``: constants folded into the arithmetic); the
    input buffer ``SF`` words of ``SIMD*IN_BITS`` (``NF > 1``, single port: flip-flops for one word, else LUT
    RAM); the 4-deep output queue of ``PE*ACC_BITS`` (LUT RAM). DSP48E1: one per product when
    :func:`uses_dsp` (``PE*SIMD``).

    LUT: ``SIMD*IN_BITS`` input multiplexers when ``NF > 1`` (structural) + ``sum(MVAU_LUT_COEFFS[k] * f[k])``
    over :func:`resource_features`; CARRY4: ``sum(MVAU_CARRY4_COEFFS[k] * f[k])`` over
    :func:`carry4_features`.

    FF: input register ``SIMD*IN_BITS`` (absorbed by the DSP slices when the weights are constant), ROM output
    register (one per distinct column, logic ROM), accumulators ``PE*ACC_BITS`` (``SF > 1``: with ``SF == 1``
    the accumulator is dead), fold counters, ROM address, 9 queue pointers, valid, first/last flags
    (``SF > 1``), a one-word input buffer, + 2 (observed on the calibration points; exact to +-2 on all of
    them except where Yosys trims logic that the weights make constant).
    """

    params.validate()
    p = params
    st = _weight_stats(p, weights)
    depth, xw = p.weight_depth, p.in_beat_bits
    f = resource_features(p, weights)
    lut = sum(MVAU_LUT_COEFFS.get(k, 0.0) * v for k, v in f.items())
    if p.nf > 1:  # the input register takes the stream or the input buffer: one 2:1 multiplexer LUT per bit
        lut += xw
    carry = sum(MVAU_CARRY4_COEFFS.get(k, 0.0) * v for k, v in carry4_features(p, weights).items())
    ff = xw + 1 + 9
    bram = lutram = 0
    if depth > 1:
        ff += clog2(depth)
        rom = map_memory(depth, st.rom_columns, rom=True)
        ff += st.rom_columns if rom.kind == "logic" else 0
        bram += rom.bram18
    if p.nf > 1:
        ff += clog2(p.nf)
        ibuf = map_memory(p.sf, xw, single_port=True, sync_read=True)
        if ibuf.kind == "logic":
            ff += p.sf * xw
        bram, lutram = bram + ibuf.bram18, lutram + ibuf.lutram
    if p.sf > 1:
        ff += clog2(p.sf) + 2 + p.pe * p.acc_bits
    queue = map_memory(4, p.pe * p.acc_bits)
    lutram += queue.lutram
    if queue.kind == "logic":
        ff, lut = ff + 4 * p.pe * p.acc_bits, lut + p.pe * p.acc_bits
    ff += 2  # observed on the calibration points: two flip-flops more than the RTL's registers
    dsp = 0
    if uses_dsp(p):
        dsp = p.pe * p.simd
        if depth == 1:  # constant weights: the DSP slices' input registers absorb the input register
            ff -= xw
    return Resources(lut=lut, ff=ff, carry4=carry, dsp=dsp, bram18=bram, lutram=lutram)


# ---------------------------------------------------------------------------------------------- the block spec
def random_data(params: MvauParams, seed: int = 0) -> np.ndarray:
    """Seeded uniform random weights ``(MH, MW)`` in the mode's weight range (what the estimates were
    calibrated on)."""
    rng = np.random.default_rng(seed)
    if params.mode in (MvauMode.XNOR, MvauMode.BIPOLAR_W):
        return rng.choice(np.array([-1, 1]), size=(params.mh, params.mw))
    lo, hi = params.w_range
    return rng.integers(lo, hi + 1, size=(params.mh, params.mw))


def ports(params: MvauParams) -> tuple[Stream, Stream]:
    """``SIMD`` inputs of ``IN_BITS`` per beat in, ``PE`` accumulators of ``ACC_BITS`` per beat out."""
    return Stream(params.simd, params.in_bits), Stream(params.pe, params.acc_bits)


def _vector_times(params: MvauParams, valid: list[int]) -> list[int]:
    """One vector: fold (0, s) issues when input beat s is accepted, later folds issue one per cycle; output
    beat n is valid ``PIPELINE_CYCLES`` after fold (n, SF-1) issued."""
    issue = accept_times(valid)
    out = [issue[-1] + PIPELINE_CYCLES]
    for _ in range(1, params.nf):
        out.append(out[-1] + params.sf)
    return out


def output_times(params: MvauParams, valid: list[int]) -> list[int]:
    """``len(valid) / SF`` vectors: each vector's beats are read during its first fold, and the next vector
    starts when the current one's ``NF*SF`` steps are issued."""
    out: list[int] = []
    free = -(10**9)  # first cycle the unit can accept the next vector's first beat
    for v in range(len(valid) // params.sf):
        accepted = accept_times([max(t, free) for t in valid[v * params.sf : (v + 1) * params.sf]])
        out.extend(_vector_times(params, accepted))
        free = accepted[0] + params.nf * params.sf
    return out


def energy(params: MvauParams, in_beats: int) -> OpEnergy:
    """Per vector ``MH*MW`` operations: XNOR + popcount addition (XNOR), multiply + addition (MAC), addition
    (binary weights), subtraction + absolute value + addition (AdderNet); every weight read once."""
    e = OpEnergy(f"matrix-vector ({params.mode.name})")
    vectors = in_beats // params.sf
    n = params.mh * params.mw * vectors
    acc = params.acc_bits
    if params.mode == MvauMode.XNOR:
        e.count("xnor", "1b", n, add_pj(1))
    elif params.mode == MvauMode.MAC:
        e.count("mul", f"{params.in_bits}x{params.w_bits}b", n, mul_pj(params.in_bits, params.w_bits))
    elif params.mode == MvauMode.ADDER:
        width = max(params.in_bits, params.w_bits) + 1
        e.count("sub", f"{width}b", n, add_pj(width))
        e.count("abs", f"{width}b", n, add_pj(width))
    e.count("add", f"{acc}b", n, add_pj(acc))
    weight_bits = params.mh * params.mw * params.w_bits
    e.read(weight_bits * vectors, weight_bits)
    return e


SPEC = BlockSpec(
    name="mvau",
    params_type=MvauParams,
    sources=HW_SOURCES,
    ports=ports,
    verilog_parameters=lambda p, mem: p.verilog_parameters(mem),
    output_times=output_times,
    cycles=lambda p, in_beats: cycles_per_vector(p) * (in_beats // p.sf),
    out_beats=lambda p, in_beats: in_beats // p.sf * p.nf,
    latency=latency_cycles,
    estimate=lambda p, data: estimate_resources(p, weights=data),
    energy=energy,
    random_data=random_data,
    memory_lines=lambda p, data: pack_weights(data, p),
)
