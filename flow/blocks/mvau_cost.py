"""MVAU resource estimate (:func:`estimate_resources`, Xilinx 7-series cells after Yosys ``synth_xilinx``).

Memories by Yosys' cost rules (weight ROM as logic or block RAM, input buffer and output queue as LUT RAM),
DSP48E1 = ``PE*SIMD`` for MAC products of at least 9 bits, FF from the RTL's registers (exact to +-2 on the
calibration points), LUT = ``SIMD*IN_BITS`` (``NF > 1``) + ``sum(MVAU_LUT_COEFFS[k] * f[k])`` and CARRY4 =
``sum(MVAU_CARRY4_COEFFS[k] * f[k])`` over the structural features of :func:`resource_features` /
:func:`carry4_features`; the constants are the two dictionaries below, fitted by
``bench/resource_estimates.py --calibrate`` on its ``CALIBRATION`` points.

:mod:`flow.blocks.mvau` re-exports the public names; import them from there.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from flow.blocks.bits import clog2
from flow.blocks.cost import Resources, carry4, distinct_columns, field_bits, map_memory, rom_column_luts
from flow.blocks.mvau_params import MvauMode, MvauParams, check_w, encode_w, random_data

__all__ = [
    "DSP_MIN_PRODUCT_BITS",
    "MVAU_CARRY4_COEFFS",
    "MVAU_LUT_COEFFS",
    "carry4_features",
    "estimate_resources",
    "resource_features",
    "uses_dsp",
]

#: Fitted coefficients of :func:`estimate_resources` (LUT and CARRY4 over :func:`resource_features`).
MVAU_LUT_COEFFS: dict[str, float] = {
    "acc": 0.679,
    "add_const": 1.591,
    "add_var": 2.597,
    "bip_const": 1.534,
    "bip_var": 2.221,
    "counters": 1.251,
    "mac_const": 1.761,
    "mac_pp": 1.41,
    "mac_tree": 1.307,
    "one": 8.911,
    "rom": 1.291,
    "xnor_const": 1.063,
    "xnor_var": 2.147,
}
MVAU_CARRY4_COEFFS: dict[str, float] = {
    "acc4": 0.366,
    "add4_const": 1.227,
    "add4_var": 2.391,
    "bip4_const": 0.195,
    "bip4_var": 0.608,
    "counters4": 1.182,
    "mac4_const": 0.452,
    "mac4_var": 1.427,
    "one": 2.763,
    "tree4": 0.059,
    "xout4": 0.785,
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

    W = check_w(weights if weights is not None else random_data(params), params)
    enc = encode_w(W, params)
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
            MvauMode.BIPOLAR_W: params.in_bits + 1, MvauMode.ADDER: ext + 1,
            MvauMode.BIPOLAR_X: params.w_bits + 1}[params.mode]


def tree_levels(params: MvauParams) -> list[tuple[int, int]]:
    """``(results, bits)`` of each level of ``mvau_tree.v`` (one PE) that ends in a register: level ``l`` sums
    groups of ``fanin`` results of level ``l-1`` (level 0: the lanes' terms) into ``TS + clog2(fanin)*(l+1)``
    bits, at most ``ACC_BITS``; empty when the unit is not pipelined."""
    if params.tree_regs == 0:
        return []
    ts = 2 if params.mode == MvauMode.XNOR else _term_bits(params)
    g0 = 1 if params.term_reg else params.fanin  # level 0's group size
    n, bits, out = params.simd, ts, []
    for level in range(params.tree_regs):
        group = g0 if level == 0 else params.fanin
        n, bits = -(-n // group), bits + clog2(group)
        out.append((n, min(params.acc_bits, bits)))
    return out


def stage_flip_flops(params: MvauParams) -> int:
    """Flip-flops of the register stages (``in_reg``, ``fanin``) of ``mvau.v``: the input word and the ROM
    word once more (a one-word ROM is constant: no register), every registered tree level's partial sums
    per PE, 3 flags per extra cycle, and the output queue's wider pointers."""
    p = params
    if p.extra_latency == 0:
        return 0
    ff = (p.in_beat_bits + (p.weight_width if p.weight_depth > 1 else 0)) if p.in_reg else 0
    ff += p.pe * sum(n * bits for n, bits in tree_levels(p))
    ff += 3 * p.extra_latency
    qd = 4 if p.extra_latency <= 1 else 1 << clog2(p.extra_latency + 3)
    return ff + 3 * (clog2(qd) + 1) - 9


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
    elif p.mode in (MvauMode.BIPOLAR_W, MvauMode.BIPOLAR_X):
        # +-x or +-w: a conditional negation of a TW-bit term. BIPOLAR_X shares BIPOLAR_W's fitted coefficients
        # (not calibrated on its own points: its estimate is rougher).
        f["bip_const" if const else "bip_var"] = terms * tw
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
    mode = {MvauMode.MAC: "mac", MvauMode.BIPOLAR_W: "bip", MvauMode.BIPOLAR_X: "bip",
            MvauMode.ADDER: "add"}.get(p.mode)
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
    them except where Yosys trims logic that the weights make constant), + the register stages
    (:func:`stage_flip_flops`). The LUT features do not model the register stages (measured: LUTs do not grow
    with them, ``bench/pipeline_estimates.py`` and BENCHMARKS.md, issue 20).
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
    ff += stage_flip_flops(p)
    dsp = 0
    if uses_dsp(p):
        dsp = p.pe * p.simd
        if depth == 1:  # constant weights: the DSP slices' input registers absorb the input register
            ff -= xw
    return Resources(lut=lut, ff=ff, carry4=carry, dsp=dsp, bram18=bram, lutram=lutram)
