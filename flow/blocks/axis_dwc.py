"""AXI-Stream width converter (``hw/dwc/axis_dwc.v``): parameters, golden model, cycle formulas.

The converter re-packs a stream of ``ELEM_BITS``-wide elements from ``IN_ELEMS`` to ``OUT_ELEMS`` elements
per beat, element order preserved (element 0 of a beat in its least significant bits). Any pair of
element counts works: the hardware goes through ``MID = lcm(IN_ELEMS, OUT_ELEMS)`` elements (gather
``MID/IN_ELEMS`` beats, then split into ``MID/OUT_ELEMS`` beats); a stage with factor 1 is a wire.

Resource estimate (:func:`estimate_resources`): FF exact from the RTL's registers, LUT =
``sum(DWC_LUT_COEFFS[k] * f[k])`` over :func:`resource_features` (constants fitted by
``bench/resource_estimates.py --calibrate``).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from flow.blocks.bits import MAX_FIELD_BITS, clog2, pack_fields, unpack_fields
from flow.blocks.cost import Resources
from flow.blocks.spec import BlockSpec, Stream, accept_times
from flow.paths import HW_ROOT

__all__ = [
    "HW_SOURCES",
    "SPEC",
    "DwcParams",
    "cycles_per_vector",
    "estimate_resources",
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


# ---------------------------------------------------------------------------------------------- resources
#: Fitted LUT coefficients of :func:`estimate_resources` (see :func:`resource_features`).
DWC_LUT_COEFFS: dict[str, float] = {
    "dn_bits": 1.027,
    "dn_idx": 0.118,
    "dn_one": 4.966,
    "up_beats": 0.198,
    "up_bits": 1.032,
    "up_one": 3.461,
}


def resource_features(params: DwcParams) -> dict[str, float]:
    """Structural LUT features of the converter (LUT estimate ``sum(DWC_LUT_COEFFS[k] * f[k])``):

    * gather stage (``K_UP > 1``): ``up_bits`` = ``(K_UP-1)*IN_ELEMS*ELEM_BITS`` assembly-register bits, each
      loaded from the input by a decoded index; ``up_beats`` = ``K_UP`` (the index decoder); ``up_one`` = 1;
    * split stage (``K_DN > 1``): ``dn_bits`` = ``MID*ELEM_BITS*(K_DN-1)/K_DN`` shift-register bits that
      choose between load and shift (the last slice only loads); ``dn_idx`` = the index width; ``dn_one`` = 1.
    """

    params.validate()
    iw, mw = params.in_elems * params.elem_bits, params.mid_elems * params.elem_bits
    f: dict[str, float] = {}
    if params.k_up > 1:
        f |= {"up_bits": (params.k_up - 1) * iw, "up_beats": params.k_up, "up_one": 1.0}
    if params.k_down > 1:
        f |= {"dn_bits": mw * (params.k_down - 1) / params.k_down, "dn_idx": max(clog2(params.k_down), 1),
              "dn_one": 1.0}
    return f


def estimate_resources(params: DwcParams) -> Resources:
    """Estimated Yosys ``synth_xilinx`` cells of an ``axis_dwc``.

    FF, exact in the RTL's structure (``UW``, ``DW``: index widths ``max(clog2(K), 1)``): gather stage
    ``(K_UP-1)*IN_ELEMS*ELEM_BITS + MID*ELEM_BITS + UW + 1`` (assembly register, output register, index,
    valid); split stage ``MID*ELEM_BITS + DW + 1`` (shift register, index, valid); a stage with factor 1 is a
    wire (0). CARRY4 (fitted on the calibration points): ``2*ceil(UW/4)`` for the gather stage when ``UW >= 2``,
    ``ceil(DW/4)`` for the split stage when ``DW >= 3``.
    LUT: ``sum(DWC_LUT_COEFFS[k] * f[k])`` over :func:`resource_features`.
    """

    params.validate()
    iw, mw = params.in_elems * params.elem_bits, params.mid_elems * params.elem_bits
    ff = carry = 0
    if params.k_up > 1:
        uw = max(clog2(params.k_up), 1)
        ff += (params.k_up - 1) * iw + mw + uw + 1
        carry += 2 * math.ceil(uw / 4) if uw >= 2 else 0
    if params.k_down > 1:
        dw = max(clog2(params.k_down), 1)
        ff += mw + dw + 1
        carry += math.ceil(dw / 4) if dw >= 3 else 0
    lut = sum(DWC_LUT_COEFFS.get(k, 0.0) * v for k, v in resource_features(params).items())
    return Resources(lut=lut, ff=ff, carry4=carry)


# ---------------------------------------------------------------------------------------------- the block spec
def output_times(params: DwcParams, valid: list[int]) -> list[int]:
    """Equal widths: a wire. Otherwise per group of ``MID`` elements: the up stage (``K_UP > 1``) makes the group
    the cycle after its last input beat is accepted (a wire when ``K_UP == 1``); the down stage (``K_DN > 1``)
    sends its ``K_DN`` slices one per cycle from the cycle after it takes the group, and takes the next group
    when its last slice leaves."""
    a, b = params.in_elems, params.out_elems
    if a == b:
        return list(valid)
    accepted = accept_times(valid)
    k_up, k_dn = params.k_up, params.k_down
    out: list[int] = []
    for last in accepted[k_up - 1 :: k_up]:
        group = last + (1 if k_up > 1 else 0)
        if k_dn == 1:
            out.append(group)
        else:
            start = max(group + 1, out[-1] + 1) if out else group + 1
            out.extend(start + j for j in range(k_dn))
    return out


SPEC = BlockSpec(
    name="axis_dwc",
    params_type=DwcParams,
    sources=HW_SOURCES,
    ports=lambda p: (Stream(p.in_elems, p.elem_bits), Stream(p.out_elems, p.elem_bits)),
    verilog_parameters=lambda p, mem: p.verilog_parameters(),
    output_times=output_times,
    cycles=lambda p, in_beats: cycles_per_vector(p, in_beats * p.in_elems),
    out_beats=lambda p, in_beats: in_beats * p.in_elems // p.out_elems,
    latency=latency_cycles,
    estimate=lambda p, data: estimate_resources(p),
)
