"""AXI-Stream width converter (``hw/dwc/axis_dwc.v``): parameters, golden model, cycle formulas.

The converter re-packs a stream of ``ELEM_BITS``-wide elements from ``IN_ELEMS`` to ``OUT_ELEMS`` elements
per beat, element order preserved (element 0 of a beat in its least significant bits). Any pair of
element counts works: the hardware goes through ``MID = lcm(IN_ELEMS, OUT_ELEMS)`` elements (gather
``MID/IN_ELEMS`` beats, then split into ``MID/OUT_ELEMS`` beats); a stage with factor 1 is a wire.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from flow.rtl.ops import HW_ROOT, MAX_FIELD_BITS, pack_fields, unpack_fields

__all__ = [
    "HW_SOURCES",
    "DwcParams",
    "cycles_per_vector",
    "golden",
    "latency_cycles",
    "repack",
]

#: Verilog files the block needs.
HW_SOURCES = (HW_ROOT / "dwc" / "axis_dwc.v",)


@dataclass(frozen=True)
class DwcParams:
    """Parameters of one ``axis_dwc`` instance."""

    in_elems: int
    out_elems: int
    elem_bits: int

    @property
    def mid_elems(self) -> int:
        """``lcm(IN_ELEMS, OUT_ELEMS)``: the internal group size."""
        return math.lcm(self.in_elems, self.out_elems)

    @property
    def k_up(self) -> int:
        """Input beats gathered per group."""
        return self.mid_elems // self.in_elems

    @property
    def k_down(self) -> int:
        """Output beats emitted per group."""
        return self.mid_elems // self.out_elems

    def validate(self) -> None:
        """Raise :class:`ValueError` naming the first bad parameter, what was expected and what arrived."""
        for name in ("in_elems", "out_elems", "elem_bits"):
            v = getattr(self, name)
            if not isinstance(v, int) or isinstance(v, bool) or v < 1:
                raise ValueError(f"axis_dwc: {name} expected a positive integer, got {v!r}")
        if self.elem_bits > MAX_FIELD_BITS:
            raise ValueError(f"axis_dwc: elem_bits expected at most {MAX_FIELD_BITS}, got {self.elem_bits}")

    def verilog_parameters(self) -> dict[str, int]:
        """The Verilog parameter map."""
        self.validate()
        return {"IN_ELEMS": self.in_elems, "OUT_ELEMS": self.out_elems, "ELEM_BITS": self.elem_bits}


def golden(x: np.ndarray, params: DwcParams) -> np.ndarray:
    """Element values out = element values in: ``(batch, N)`` -> ``(batch, N)`` (a copy)."""
    params.validate()
    return np.array(x, dtype=np.int64, copy=True)


def repack(beats: Sequence[int], params: DwcParams) -> list[int]:
    """The output beats the converter makes from ``beats`` (input beats, ``IN_ELEMS`` elements each).

    The element count must be a multiple of ``OUT_ELEMS`` (a partial last beat is never emitted).
    """
    params.validate()
    elems = unpack_fields(list(beats), params.in_elems, params.elem_bits, signed=False).reshape(-1)
    if elems.size % params.out_elems:
        raise ValueError(f"axis_dwc: {elems.size} elements expected to be a multiple of out_elems={params.out_elems}")
    return pack_fields(elems.reshape(-1, params.out_elems), params.elem_bits)


def cycles_per_vector(params: DwcParams, vector_elems: int) -> int:
    """Cycles per vector of ``vector_elems`` elements without stalls: ``max(N/IN_ELEMS, N/OUT_ELEMS)``.

    ``vector_elems`` must be a multiple of both element counts.
    """
    params.validate()
    if vector_elems % params.in_elems or vector_elems % params.out_elems:
        raise ValueError(
            f"axis_dwc: vector_elems expected a multiple of in_elems={params.in_elems} and "
            f"out_elems={params.out_elems}, got {vector_elems}"
        )
    return max(vector_elems // params.in_elems, vector_elems // params.out_elems)


def latency_cycles(params: DwcParams) -> int:
    """Cycles from accepting the last input beat of a group to the group's first output beat being
    valid, no stalls: ``(K_UP > 1) + (K_DOWN > 1)`` (0 when ``IN_ELEMS == OUT_ELEMS``: a wire)."""
    params.validate()
    return int(params.k_up > 1) + int(params.k_down > 1)
