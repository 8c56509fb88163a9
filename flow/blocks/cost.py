"""Cost primitives shared by the blocks' resource and energy estimates: :class:`Resources` (Xilinx 7-series
cells after Yosys ``synth_xilinx``), Yosys' memory-mapping rules (:func:`map_memory`), small structural counts
(:func:`carry4`, :func:`mux_luts`, :func:`rom_column_luts`, :func:`distinct_columns`), and the per-operation
energies of the operation model (:func:`add_pj`, :func:`mul_pj`, :func:`sram_pj`, :class:`OpEnergy`).

Energies (45 nm, 0.9 V; M. Horowitz, "Computing's energy problem", ISSCC 2014): 8-bit add 0.03 pJ, 32-bit
add 0.1 pJ, 8-bit multiply 0.2 pJ, 32-bit multiply 3.1 pJ. Scaling rule for other widths: additions,
subtractions, comparisons, absolute values and XNORs grow linearly with the bit width, interpolated through
the two add points (``E_add(b) = 0.03 + (b - 8) * 0.07/24`` pJ, floored at 0.03*b/8 for b < 8); multiplies
grow with the product of the operand widths (``E_mul(a, b) = 0.2 * a*b/64`` pJ below 8x8, through the 8x8 and
32x32 points as ``0.2 * (a*b/64) ** 1.32`` above). SRAM reads: 10 pJ per 64-bit word from an 8 KiB array,
20 pJ from 32 KiB, 100 pJ from 1 MiB (Horowitz), log-interpolated in the array size and scaled linearly in
the bits read. These are textbook ASIC figures, not measurements of this design; the report says so.

Each block module (:mod:`flow.blocks.mvau`, ...) derives its estimate from its RTL with these; the constants
were fitted to Yosys on the calibration points of ``bench/resource_estimates.py``. The estimates model
Yosys' result, not Vivado's: no place and route, ROMs of constant weights folded into logic as Yosys/ABC
folds them. This module imports nothing from qflow: it sits at the bottom of the block floor.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field, fields
from typing import Any

import numpy as np

from flow.blocks.bits import clog2

__all__ = [
    "RESOURCE_KEYS",
    "MemoryMapping",
    "OpEnergy",
    "Resources",
    "add_pj",
    "bram18_blocks",
    "carry4",
    "clog2",
    "distinct_columns",
    "field_bits",
    "lutram_cells",
    "map_memory",
    "mul_pj",
    "mux_luts",
    "rom_column_luts",
    "sram_pj",
]

#: The report keys, in order (the keys of :func:`flow.rtl.yosys.synth_xilinx`'s summary).
RESOURCE_KEYS = ("LUT", "FF", "CARRY4", "DSP48E1", "BRAM18_equivalent", "LUTRAM")


@dataclass(frozen=True)
class Resources:
    """Cell counts of one block or design (floats: an estimate need not be whole)."""

    lut: float = 0.0
    ff: float = 0.0
    carry4: float = 0.0
    dsp: float = 0.0
    bram18: float = 0.0
    lutram: float = 0.0

    def __add__(self, other: Resources) -> Resources:
        return Resources(*(getattr(self, f.name) + getattr(other, f.name) for f in fields(self)))

    def as_dict(self) -> dict[str, float]:
        """``{key: value}`` with the keys of :data:`RESOURCE_KEYS`, values rounded to whole cells."""
        return {k: round(getattr(self, f.name)) for k, f in zip(RESOURCE_KEYS, fields(self), strict=True)}

    @classmethod
    def from_summary(cls, summary: dict[str, Any]) -> Resources:
        """From a Yosys summary (:func:`flow.rtl.yosys.synth_xilinx` totals or one of its ``blocks``)."""
        return cls(*(float(summary.get(k, 0)) for k in RESOURCE_KEYS))

    @classmethod
    def total(cls, items: Iterable[Resources]) -> Resources:
        """The sum of ``items`` (zero for none)."""
        out = cls()
        for r in items:
            out = out + r
        return out



def carry4(bits: int) -> int:
    """CARRY4 cells of one ``bits``-wide adder or counter: ``ceil(bits/4)``, none below 3 bits (Yosys
    maps 1- and 2-bit additions to LUTs)."""
    return math.ceil(bits / 4) if bits >= 3 else 0


def mux_luts(n: int) -> int:
    """LUTs of an ``n``:1 multiplexer of one bit: 0 for n <= 1, one LUT up to 4:1, else one LUT6 per 4
    inputs (the MUXF7/MUXF8 that join them are not LUTs)."""
    return 0 if n <= 1 else 1 if n <= 4 else math.ceil(n / 4)


#: Words per LUT of a logic ROM column: a LUT6 holds 64 words of one bit (MUXF7/MUXF8 join two and four of them
#: without LUTs). ``hw/mem/qflow_rom.v`` is synthesized as a module of its own, where ABC maps each distinct
#: column so; flattened into its block it had cost about depth/12 LUTs per column (BENCHMARKS.md, issue 19).
ROM_WORDS_PER_LUT = 64


def rom_column_luts(depth: int) -> float:
    """LUTs of one distinct, non-constant data bit of a ROM of ``depth`` words mapped to logic:
    ``ceil(depth / ROM_WORDS_PER_LUT)`` (scaled by a fitted coefficient in the block estimates)."""
    return float(max(1, math.ceil(depth / ROM_WORDS_PER_LUT)))


#: Yosys ``memory_libmap`` costs as ``synth_xilinx`` sets them for 7-series (``techlibs/xilinx/
#: {lutrams_xc5v,brams_xc4v}.txt``, ``-logic-cost-rom 0.015625``): a LUT RAM cell 8, a RAMB18 129; a memory
#: left to logic costs 1 per bit, a ROM 1/64 per bit.
LUTRAM_CELL_COST = 8
RAMB18_COST = 129
LOGIC_BIT_COST_RAM = 1.0
LOGIC_BIT_COST_ROM = 1.0 / 64
RAMB18_BITS = 18 * 1024


@dataclass(frozen=True)
class MemoryMapping:
    """How Yosys implements one memory: ``kind`` is ``"logic"`` (flip-flops / LUT logic), ``"lutram"`` or
    ``"bram"``; ``lutram`` cells, ``bram18`` RAMB18 equivalents, ``banks`` LUT RAM cells in depth (the read
    port then needs a ``banks``:1 multiplexer per data bit)."""

    kind: str
    lutram: int = 0
    bram18: int = 0
    banks: int = 1


def lutram_cells(depth: int, width: int, single_port: bool = False) -> tuple[int, int]:
    """``(cells, banks)`` of a LUT RAM of ``depth`` x ``width``.

    Simple dual port (one write port, one asynchronous read port): RAM32M holds 6 bits x 32 words, RAM64M 3
    bits x 64 words; deeper memories take ``depth // 64`` banks of RAM64M and one bank of RAM32M or RAM64M for
    the remaining words. Single port (read and write at one address): 8 bits x 32 words, 4 x 64, and 1 bit per
    cell (RAM128X1D / RAM256X1S) up to 256 words, in banks of 256 words beyond (as measured on the
    calibration points and in the example designs).
    """
    if single_port:
        if depth <= 64:
            return math.ceil(width / (8 if depth <= 32 else 4)), 1
        banks = math.ceil(depth / 256)
        return banks * width, banks
    full, rest = divmod(depth, 64)
    cells = full * math.ceil(width / 3)
    if rest:
        cells += math.ceil(width / (6 if rest <= 32 else 3))
    return cells, full + (1 if rest else 0)


def bram18_blocks(depth: int, width: int) -> int:
    """RAMB18 equivalents of a block-RAM memory: its bits over 18 Kbit, and at least one per 36 data bits (the
    widest read port of a RAMB18, simple dual port)."""
    return max(math.ceil(depth * width / RAMB18_BITS), math.ceil(width / 36))


def map_memory(depth: int, width: int, *, rom: bool = False, single_port: bool = False,
               sync_read: bool = False) -> MemoryMapping:
    """Which implementation Yosys' ``memory_libmap`` picks for a ``depth`` x ``width`` memory: the cheapest of
    logic (``depth*width`` bits at :data:`LOGIC_BIT_COST_RAM` / :data:`LOGIC_BIT_COST_ROM`), LUT RAM (RAMs
    only, :data:`LUTRAM_CELL_COST` per cell, one cell more for a registered read port that LUT RAM must
    emulate: ``sync_read``) and block RAM (:data:`RAMB18_COST` per RAMB18). Ties go to logic. A model of the
    pass's cost function, not a copy: it ignores its multiplexer scores; the emulation charge was set on the
    calibration points."""
    if depth <= 0 or width <= 0:
        return MemoryMapping("logic")
    best = MemoryMapping("logic")
    best_cost = depth * width * (LOGIC_BIT_COST_ROM if rom else LOGIC_BIT_COST_RAM)
    if not rom:
        cells, banks = lutram_cells(depth, width, single_port)
        cost = (cells + (1 if sync_read else 0)) * LUTRAM_CELL_COST
        if cost < best_cost:
            best, best_cost = MemoryMapping("lutram", lutram=cells, banks=banks), cost
    blocks = bram18_blocks(depth, width)
    if blocks * RAMB18_COST < best_cost:
        best = MemoryMapping("bram", bram18=blocks)
    return best


def distinct_columns(bits: np.ndarray) -> tuple[int, int]:
    """``(distinct non-constant columns, constant columns)`` of a 0/1 matrix ``(words, bits)``: the ROM data
    bits that need logic (identical columns share it; constant ones need none)."""
    bits = np.asarray(bits, dtype=np.uint8)
    if bits.size == 0:
        return 0, 0
    const = (bits.min(axis=0) == bits.max(axis=0))
    var = bits[:, ~const]
    if var.shape[1] == 0:
        return 0, int(const.sum())
    packed = np.packbits(var.T, axis=1)
    return int(np.unique(packed, axis=0).shape[0]), int(const.sum())


def field_bits(fields: np.ndarray, bits: int) -> np.ndarray:
    """Encoded fields ``(..., n)`` (non-negative, < 2**bits) -> their bits ``(..., n*bits)``, LSB first."""
    fields = np.asarray(fields, dtype=np.int64)
    shifts = np.arange(bits, dtype=np.int64)
    out = (fields[..., None] >> shifts) & 1
    return out.reshape(*fields.shape[:-1], fields.shape[-1] * bits).astype(np.uint8)




# ---------------------------------------------------------------------------------------------- energy
ADD8_PJ, ADD32_PJ = 0.03, 0.1
MUL8_PJ, MUL32_PJ = 0.2, 3.1
SRAM_POINTS = ((8 * 1024, 10.0), (32 * 1024, 20.0), (1024 * 1024, 100.0))  # (bytes, pJ per 64-bit read)
_MUL_EXP = math.log(MUL32_PJ / MUL8_PJ) / math.log(16.0)  # 8x8 -> 32x32 is 16x the operand-width product


def add_pj(bits: int) -> float:
    """Energy of one ``bits``-wide addition (also subtraction, comparison, absolute value, XNOR)."""
    if bits < 8:
        return ADD8_PJ * bits / 8
    return ADD8_PJ + (bits - 8) * (ADD32_PJ - ADD8_PJ) / 24


def mul_pj(a_bits: int, b_bits: int) -> float:
    """Energy of one ``a_bits`` x ``b_bits`` multiplication."""
    ratio = a_bits * b_bits / 64
    return MUL8_PJ * ratio if ratio <= 1 else MUL8_PJ * ratio**_MUL_EXP


def sram_pj(bits_read: int, array_bits: int) -> float:
    """Energy of reading ``bits_read`` bits from an SRAM of ``array_bits`` bits (64-bit words)."""
    size = max(array_bits / 8, 1.0)
    points = SRAM_POINTS
    if size <= points[0][0]:
        per_word = points[0][1]
    elif size >= points[-1][0]:
        per_word = points[-1][1]
    else:
        for (s0, e0), (s1, e1) in itertools.pairwise(points):
            if s0 <= size <= s1:
                t = (math.log(size) - math.log(s0)) / (math.log(s1) - math.log(s0))
                per_word = e0 + t * (e1 - e0)
                break
    return per_word * bits_read / 64


@dataclass
class OpEnergy:
    """Operation counts per inference of one block (``ops``: kind -> {bit width label: count}) and their
    energy by the operation model."""

    kind: str
    ops: dict[str, dict[str, int]] = field(default_factory=dict)
    memory_bits_read: int = 0
    memory_bits: int = 0
    compute_pj: float = 0.0
    memory_pj: float = 0.0

    @property
    def total_pj(self) -> float:
        return self.compute_pj + self.memory_pj

    def count(self, kind: str, width: str, n: int, pj_each: float) -> None:
        """Add ``n`` operations of ``kind`` at ``width``, ``pj_each`` each."""
        self.ops.setdefault(kind, {})
        self.ops[kind][width] = self.ops[kind].get(width, 0) + int(n)
        self.compute_pj += n * pj_each

    def read(self, bits: int, array_bits: int) -> None:
        """Add a read of ``bits`` bits from a memory of ``array_bits`` bits."""
        self.memory_bits_read += int(bits)
        self.memory_bits = max(self.memory_bits, int(array_bits))
        self.memory_pj += sram_pj(bits, array_bits)

    def as_dict(self) -> dict:
        d = asdict(self)
        d["total_pj"] = self.total_pj
        return d
