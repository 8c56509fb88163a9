"""Thresholding (``hw/thresholding/thresholding.v``): parameters, golden model, packers, cycle formulas.

Per channel ``c``: ``y = OUT_BIAS + #{t : x >= T[c][t]}`` when ``flags[c] == 0`` and
``y = OUT_BIAS + #{t : x <= T[c][t]}`` when ``flags[c] == 1`` (negative BatchNorm scale). Thresholds need
not be sorted. ``x`` and the thresholds are signed ``IN_BITS``; ``y`` leaves as ``OUT_BITS`` two's
complement, read back signed when ``OUT_BIAS < 0`` and unsigned otherwise (:attr:`ThresholdingParams.out_signed`).

Memory layout (``THRESH_FILE``): ``C/PE`` words; channel ``c = cf*PE + p`` in word ``cf``, in a slot of
``SLOT = N_THRESH*IN_BITS + 1`` bits at bit ``p*SLOT``; inside the slot ``T[c][t]`` at ``t*IN_BITS`` and the
flag at bit ``SLOT - 1``.

Resource estimate (:func:`estimate_resources`): threshold ROM (distinct non-constant columns) as logic or block
RAM, FF from the RTL's registers + 2, LUT and CARRY4 = ``sum(coeff[k] * f[k])`` over
:func:`resource_features` with the constants :data:`THRESHOLDING_LUT_COEFFS`, :data:`THRESHOLDING_CARRY4_COEFFS`
(fitted by ``bench/resource_estimates.py --calibrate``).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass

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
from flow.blocks.cost import OpEnergy, Resources, add_pj, distinct_columns, field_bits, map_memory, rom_column_luts
from flow.blocks.spec import BlockSpec, Stream, accept_times
from flow.paths import HW_ROOT

__all__ = [
    "HW_SOURCES",
    "SPEC",
    "ThresholdingParams",
    "cycles_per_vector",
    "estimate_resources",
    "golden",
    "latency_cycles",
    "output_valid_cycle",
    "pack_inputs",
    "pack_outputs",
    "pack_thresholds",
    "unpack_outputs",
    "unpack_thresholds",
    "write_mem",
]

log = logging.getLogger(__name__)

#: Verilog files the block needs, in compile order.
HW_SOURCES = (HW_ROOT / "thresholding" / "thresholding.v", HW_ROOT / "thresholding" / "thresholding_pe.v",
              HW_ROOT / "mem" / "qflow_rom.v")

#: Pipeline depth without register stages: issue register + compare/count stage -> output queue (``pipe``
#: adds its stages: :func:`pipeline_cycles`).
PIPELINE_CYCLES = 2


def pipeline_cycles(params: ThresholdingParams) -> int:
    """Cycles from a beat's acceptance to its output being valid: ``PIPELINE_CYCLES + pipe``."""
    return PIPELINE_CYCLES + params.pipe


@dataclass(frozen=True)
class ThresholdingParams:
    """Parameters of one ``thresholding`` instance (Verilog parameter names in lower case). ``pipe``: register
    stages for Fmax (0; 1: the ROM word and the input registered once more; 2: also the comparison results),
    each one cycle of latency."""

    c: int
    pe: int
    in_bits: int
    n_thresh: int
    out_bits: int
    out_bias: int
    pipe: int = 0

    @property
    def cf(self) -> int:
        """Channel folds ``C / PE`` (beats per vector)."""
        return self.c // self.pe

    @property
    def slot_bits(self) -> int:
        """Bits per channel in a memory word: ``N_THRESH*IN_BITS + 1``."""
        return self.n_thresh * self.in_bits + 1

    @property
    def word_bits(self) -> int:
        """Bits per memory word: ``PE*SLOT``."""
        return self.pe * self.slot_bits

    @property
    def out_signed(self) -> bool:
        """Whether outputs are read back as signed (``OUT_BIAS < 0``)."""
        return self.out_bias < 0

    @property
    def out_range(self) -> tuple[int, int]:
        """Inclusive range of output values: ``[OUT_BIAS, OUT_BIAS + N_THRESH]``."""
        return self.out_bias, self.out_bias + self.n_thresh

    def validate(self) -> None:
        """Raise :class:`ValueError` naming the first bad parameter, what was expected and what arrived."""
        for name in ("c", "pe", "in_bits", "n_thresh", "out_bits"):
            v = getattr(self, name)
            if not isinstance(v, int) or isinstance(v, bool) or v < 1:
                raise ValueError(f"thresholding: {name} expected a positive integer, got {v!r}")
        if not isinstance(self.out_bias, int) or isinstance(self.out_bias, bool):
            raise ValueError(f"thresholding: out_bias expected an integer, got {self.out_bias!r}")
        if self.c % self.pe:
            raise ValueError(f"thresholding: pe expected a divisor of c={self.c}, got {self.pe}")
        if self.pipe not in (0, 1, 2) or isinstance(self.pipe, bool):
            raise ValueError(f"thresholding: pipe expected 0, 1 or 2 (register stages), got {self.pipe!r}")
        for name in ("in_bits", "out_bits"):
            if getattr(self, name) > MAX_FIELD_BITS:
                raise ValueError(
                    f"thresholding: {name} expected at most {MAX_FIELD_BITS} (int64 model), got {getattr(self, name)}"
                )
        lo, hi = self.out_range
        rng = signed_range(self.out_bits) if self.out_signed else unsigned_range(self.out_bits)
        if lo < rng[0] or hi > rng[1]:
            kind = "signed" if self.out_signed else "unsigned"
            raise ValueError(
                f"thresholding: out_bits={self.out_bits} ({kind}) expected to hold outputs "
                f"[out_bias, out_bias + n_thresh] = [{lo}, {hi}], but holds only [{rng[0]}, {rng[1]}]"
            )

    def verilog_parameters(self, thresh_file: str) -> dict[str, int | str]:
        """The Verilog parameter map (``THRESH_FILE`` as a plain, unquoted string)."""
        self.validate()
        return {
            "C": self.c,
            "PE": self.pe,
            "IN_BITS": self.in_bits,
            "N_THRESH": self.n_thresh,
            "OUT_BITS": self.out_bits,
            "OUT_BIAS": self.out_bias,
            "PIPE": self.pipe,
            "THRESH_FILE": str(thresh_file),
        }


def _check_tables(T: np.ndarray, flags: np.ndarray, params: ThresholdingParams) -> tuple[np.ndarray, np.ndarray]:
    T = np.asarray(T, dtype=np.int64)
    flags = np.asarray(flags)
    if T.shape != (params.c, params.n_thresh):
        raise ValueError(f"thresholding: T expected shape (c={params.c}, n_thresh={params.n_thresh}), got {T.shape}")
    if flags.shape != (params.c,):
        raise ValueError(f"thresholding: flags expected shape (c={params.c},), got {flags.shape}")
    flags = flags.astype(np.int64)
    check_range(flags, 0, 1, "thresholding: flags")
    check_range(T, *signed_range(params.in_bits), f"thresholding: T (signed {params.in_bits} bits)")
    return T, flags


def _check_x(x: np.ndarray, params: ThresholdingParams) -> np.ndarray:
    x = np.asarray(x, dtype=np.int64)
    if x.ndim != 2 or x.shape[1] != params.c:
        raise ValueError(f"thresholding: x expected shape (batch, c={params.c}), got {x.shape}")
    check_range(x, *signed_range(params.in_bits), f"thresholding: x (signed {params.in_bits} bits)")
    return x


def golden(x: np.ndarray, T: np.ndarray, flags: np.ndarray, params: ThresholdingParams) -> np.ndarray:
    """Outputs for a batch: ``x`` ``(batch, C)``, ``T`` ``(C, N_THRESH)``, ``flags`` ``(C,)`` -> ``(batch, C)``."""
    params.validate()
    x = _check_x(x, params)
    T, flags = _check_tables(T, flags, params)
    ge = (x[:, :, None] >= T[None, :, :]).sum(axis=2)
    le = (x[:, :, None] <= T[None, :, :]).sum(axis=2)
    return params.out_bias + np.where(flags[None, :] == 1, le, ge).astype(np.int64)


def pack_thresholds(T: np.ndarray, flags: np.ndarray, params: ThresholdingParams) -> list[str]:
    """Memory lines for ``THRESH_FILE``: ``C/PE`` hex words of ``PE*SLOT`` bits."""
    params.validate()
    T, flags = _check_tables(T, flags, params)
    enc = encode(T, params.in_bits, signed=True, what="thresholding: T")
    # a slot mixes field widths (thresholds, then the flag bit): lay out the bits, LSB first, and pack
    shifts = np.arange(params.in_bits, dtype=np.int64)
    tbits = ((enc[:, :, None] >> shifts) & 1).reshape(params.c, params.n_thresh * params.in_bits)
    slots = np.concatenate([tbits, flags[:, None]], axis=1)  # (C, SLOT) bits, LSB first
    words = pack_fields(slots.reshape(params.cf, params.pe * params.slot_bits), 1)
    return hex_lines(words, params.word_bits)


def unpack_thresholds(words: Sequence[int], params: ThresholdingParams) -> tuple[np.ndarray, np.ndarray]:
    """Inverse of :func:`pack_thresholds` (given parsed integer words): ``(T, flags)``."""
    params.validate()
    if len(words) != params.cf:
        raise ValueError(f"thresholding: memory expected {params.cf} words, got {len(words)}")
    bits = unpack_fields(words, params.pe * params.slot_bits, 1, signed=False).reshape(params.c, params.slot_bits)
    flags = bits[:, -1].copy()
    tb = bits[:, :-1].reshape(params.c, params.n_thresh, params.in_bits)
    vals = (tb * (np.int64(1) << np.arange(params.in_bits, dtype=np.int64))).sum(axis=2)
    vals = np.where(vals >= (1 << (params.in_bits - 1)), vals - (1 << params.in_bits), vals)
    return vals, flags


def pack_inputs(x: np.ndarray, params: ThresholdingParams) -> list[int]:
    """Input beats for a batch ``(batch, C)``: ``batch*C/PE`` words of ``PE*IN_BITS`` bits, in order."""
    params.validate()
    x = _check_x(x, params)
    return pack_fields(encode(x, params.in_bits, True, "thresholding: x").reshape(-1, params.pe), params.in_bits)


def pack_outputs(y: np.ndarray, params: ThresholdingParams) -> list[int]:
    """Output beats the hardware sends for outputs ``y`` ``(batch, C)`` (the expected stream)."""
    params.validate()
    y = np.asarray(y, dtype=np.int64)
    if y.ndim != 2 or y.shape[1] != params.c:
        raise ValueError(f"thresholding: y expected shape (batch, c={params.c}), got {y.shape}")
    enc = encode(y, params.out_bits, signed=params.out_signed, what="thresholding: y")
    return pack_fields(enc.reshape(-1, params.pe), params.out_bits)


def unpack_outputs(beats: Sequence[int], params: ThresholdingParams) -> np.ndarray:
    """Output beats (``C/PE`` per vector) -> ``(batch, C)`` values (signed iff ``out_signed``)."""
    params.validate()
    if len(beats) % params.cf:
        raise ValueError(f"thresholding: output beats expected a multiple of cf={params.cf}, got {len(beats)}")
    return unpack_fields(beats, params.pe, params.out_bits, signed=params.out_signed).reshape(-1, params.c)


def cycles_per_vector(params: ThresholdingParams) -> int:
    """Initiation interval without stalls: ``C/PE`` cycles (one beat per cycle)."""
    params.validate()
    return params.cf


def output_valid_cycle(params: ThresholdingParams, cf: int) -> int:
    """Cycle (relative to the acceptance of the vector's first input beat, no stalls) in which output
    beat ``cf`` is first valid: ``cf + 2 + pipe``."""
    params.validate()
    if not 0 <= cf < params.cf:
        raise ValueError(f"thresholding: cf expected in [0, {params.cf}), got {cf}")
    return cf + pipeline_cycles(params)


def latency_cycles(params: ThresholdingParams) -> int:
    """Cycles from accepting a vector's first input beat to its last output beat being valid, no
    stalls: ``C/PE + 1 + pipe``."""
    return output_valid_cycle(params, params.cf - 1)


# ---------------------------------------------------------------------------------------------- resources
#: Fitted coefficients of :func:`estimate_resources` (LUT and CARRY4 over :func:`resource_features`).
THRESHOLDING_LUT_COEFFS: dict[str, float] = {
    "cmp_const": 0.031,
    "cmp_var": 0.695,
    "count": 4.536,
    "one": 7.621,
    "rom": 1.145,
}
THRESHOLDING_CARRY4_COEFFS: dict[str, float] = {
    "cmp_const": 0.05,
    "cmp_var": 0.152,
    "count": 0.565,
    "one": 3.979,
    "rom": 0.032,
}


@dataclass(frozen=True)
class _RomStats:
    columns: int  # distinct non-constant ROM columns (the bits that need logic or block RAM)
    descending_mixed: bool  # some channels count x >= T, others x <= T: both comparators per threshold


def _rom_stats(params: ThresholdingParams, tables: tuple[np.ndarray, np.ndarray] | None) -> _RomStats:

    T, flags = tables if tables is not None else random_data(params)
    T, flags = _check_tables(T, flags, params)
    enc = encode(T, params.in_bits, signed=True, what="thresholding: T")
    tb = field_bits(enc, params.in_bits)  # (C, N*IN_BITS)
    slots = np.concatenate([tb, flags[:, None].astype(np.uint8)], axis=1).reshape(params.cf, params.word_bits)
    columns, _ = distinct_columns(slots)
    return _RomStats(columns=columns, descending_mixed=bool(flags.min() != flags.max()))


def resource_features(
    params: ThresholdingParams, tables: tuple[np.ndarray, np.ndarray] | None = None
) -> dict[str, float]:
    """Structural features of ``thresholding.v`` (``tables``: ``(T, flags)``; ``None``: seeded random sorted
    thresholds, flags 0, as the calibration used):

    * ``rom``: the threshold ROM when it is logic (``C > PE``, not block RAM), ``D = C/PE`` words of ``n``
      distinct non-constant columns: ``n * rom_column_luts(D)`` (:func:`~flow.estimate.resources.rom_column_luts`);
    * ``cmp_var`` / ``cmp_const``: ``PE*N_THRESH*IN_BITS`` comparator bits against thresholds read from the ROM
      (``C > PE``) or folded constants (``C == PE``), doubled where channels of both directions share a lane;
    * ``count``: ``PE*N_THRESH`` hit bits summed into the output count; ``one``.
    """

    params.validate()
    stats = _rom_stats(params, tables)
    cmp_bits = params.pe * params.n_thresh * params.in_bits * (2 if stats.descending_mixed else 1)
    logic_rom = params.cf > 1 and map_memory(params.cf, stats.columns, rom=True).kind == "logic"
    return {
        "rom": stats.columns * rom_column_luts(params.cf) if logic_rom else 0,
        "cmp_var": cmp_bits if params.cf > 1 else 0,
        "cmp_const": cmp_bits if params.cf == 1 else 0,
        "count": params.pe * params.n_thresh,
        "one": 1.0,
    }


def estimate_resources(
    params: ThresholdingParams, tables: tuple[np.ndarray, np.ndarray] | None = None
) -> Resources:
    """Estimated Yosys ``synth_xilinx`` cells of a ``thresholding`` block.

    Memories (:func:`~flow.estimate.resources.map_memory`): the threshold ROM, ``C/PE`` words of its distinct
    non-constant columns (constant bits -- equal high bits of the thresholds, a flag column without descending
    channels -- cost nothing; ``C == PE``: all constants), as logic or block RAM; the 4-deep output queue of
    ``PE*OUT_BITS`` bits. FF: ``PE*IN_BITS`` input register + 1 valid + 9 queue pointers + ``clog2(C/PE)``
    channel counter (``C > PE``) + one ROM output register per distinct ROM column (logic ROM) + 2 (observed
    on every calibration point). LUT and
    CARRY4: ``sum(coeff[k] * f[k])`` over :func:`resource_features` (data-dependent through the ROM columns and
    the directions; ``tables=None`` estimates seeded random sorted thresholds).
    """

    params.validate()
    stats = _rom_stats(params, tables)
    f = resource_features(params, tables)
    lut = sum(THRESHOLDING_LUT_COEFFS.get(k, 0.0) * v for k, v in f.items())
    carry = sum(THRESHOLDING_CARRY4_COEFFS.get(k, 0.0) * v for k, v in f.items())
    ff = params.pe * params.in_bits + 1 + 9 + 2  # + 2: observed on every calibration point
    bram = 0
    if params.cf > 1:
        ff += clog2(params.cf)
        rom = map_memory(params.cf, stats.columns, rom=True)
        ff += stats.columns if rom.kind == "logic" else 0
        bram = rom.bram18
    queue = map_memory(4, params.pe * params.out_bits)
    if queue.kind == "logic":
        ff, lut = ff + 4 * params.pe * params.out_bits, lut + params.pe * params.out_bits
    if params.pipe >= 1:  # the input and (a ROM of several words) the ROM word once more, the valid flags
        ff += params.pe * params.in_bits + (params.word_bits if params.cf > 1 else 0) + params.pipe
    if params.pipe >= 2:  # the comparison results, and a queue of 8: three 4-bit pointers
        ff += params.pe * params.n_thresh + 3
    return Resources(lut=lut, ff=ff, carry4=carry, bram18=bram, lutram=queue.lutram)


# ---------------------------------------------------------------------------------------------- the block spec
def random_data(params: ThresholdingParams, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Seeded uniform random tables ``(T, flags)``: thresholds sorted ascending per channel, flags 0 (as
    BatchNorm with positive scales gives) -- what the estimates were calibrated on."""
    rng = np.random.default_rng(seed)
    lo, hi = signed_range(params.in_bits)
    T = np.sort(rng.integers(lo, hi + 1, size=(params.c, params.n_thresh)), axis=1)
    return T, np.zeros(params.c, dtype=np.int64)


def ports(params: ThresholdingParams) -> tuple[Stream, Stream]:
    """``PE`` inputs of ``IN_BITS`` per beat in, ``PE`` outputs of ``OUT_BITS`` per beat out."""
    return Stream(params.pe, params.in_bits), Stream(params.pe, params.out_bits)


def output_times(params: ThresholdingParams, valid: list[int]) -> list[int]:
    """One beat per cycle; a beat accepted in cycle t is valid at the output in cycle ``t + 2 + pipe``."""
    return [t + pipeline_cycles(params) for t in accept_times(valid)]


def energy(params: ThresholdingParams, in_beats: int) -> OpEnergy:
    """Per vector ``C*N_THRESH`` comparisons at the input width and one read of the threshold table."""
    e = OpEnergy("thresholds")
    vectors = in_beats // params.cf
    e.count("compare", f"{params.in_bits}b", params.c * params.n_thresh * vectors, add_pj(params.in_bits))
    table_bits = params.c * params.n_thresh * params.in_bits
    e.read(table_bits * vectors, table_bits)
    return e


SPEC = BlockSpec(
    name="thresholding",
    params_type=ThresholdingParams,
    sources=HW_SOURCES,
    ports=ports,
    verilog_parameters=lambda p, mem: p.verilog_parameters(mem),
    output_times=output_times,
    cycles=lambda p, in_beats: in_beats,
    out_beats=lambda p, in_beats: in_beats,
    latency=pipeline_cycles,
    estimate=lambda p, data: estimate_resources(p, tables=data),
    energy=energy,
    random_data=random_data,
    memory_lines=lambda p, data: pack_thresholds(data[0], data[1], p),
)
