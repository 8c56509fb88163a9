"""AXI-Stream FIFO (``hw/axis/axis_fifo.v``): parameters, golden model (identity), cycle formulas.

Resource estimate (:func:`estimate_resources`): storage by Yosys' memory cost rules, FF exact from the RTL's
registers, LUT = ``sum(FIFO_LUT_COEFFS[k] * f[k])`` over :func:`resource_features` (constants fitted by
``bench/resource_estimates.py --calibrate``).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from flow.blocks.bits import check_positive, clog2
from flow.blocks.cost import Resources, carry4, map_memory, mux_luts
from flow.blocks.spec import passthrough_spec
from flow.paths import HW_ROOT

__all__ = [
    "HW_SOURCES",
    "SPEC",
    "AxisFifoParams",
    "capacity",
    "cycles_per_vector",
    "estimate_resources",
    "golden",
    "latency_cycles",
]

#: Verilog files of each block.
HW_SOURCES = (HW_ROOT / "axis" / "axis_fifo.v",)


@dataclass(frozen=True)
class AxisFifoParams:
    """``axis_fifo``: ``DEPTH`` beats (a power of two >= 2) of ``WIDTH`` bits; LUT-RAM storage."""

    width: int
    depth: int

    def validate(self) -> None:
        """Raise :class:`ValueError` naming the first bad parameter, what was expected and what arrived."""
        check_positive("axis_fifo", "width", self.width)
        check_positive("axis_fifo", "depth", self.depth)
        if self.depth < 2 or self.depth & (self.depth - 1):
            raise ValueError(f"axis_fifo: depth expected a power of two >= 2, got {self.depth}")

    def verilog_parameters(self) -> dict[str, int]:
        """The Verilog parameter map."""
        self.validate()
        return {"WIDTH": self.width, "DEPTH": self.depth}



def capacity(params: AxisFifoParams) -> int:
    """Beats held while the output is stalled: ``DEPTH``."""
    params.validate()
    return params.depth


def cycles_per_vector(params: AxisFifoParams, beats_per_vector: int = 1) -> int:
    """Cycles per vector of ``beats_per_vector`` beats without stalls: one beat per cycle."""
    params.validate()
    return beats_per_vector


def latency_cycles(params: AxisFifoParams) -> int:
    """A beat accepted in cycle t (into an empty FIFO) is valid at the output in cycle t + 1."""
    params.validate()
    return 1


def golden(beats: np.ndarray) -> np.ndarray:
    """A FIFO passes beats unchanged, in order."""
    return np.array(beats, copy=True)


# ---------------------------------------------------------------------------------------------- resources
#: Fitted LUT coefficients of :func:`estimate_resources` (see :func:`resource_features`); calibration points
#: and fit in ``bench/resource_estimates.py``.
FIFO_LUT_COEFFS: dict[str, float] = {
    "aw": 1.543,
    "banks": 1.627,
    "bram_width": 1.736,
    "one": 6.165,
    "rd_mux": 0.663,
}


def resource_features(params: AxisFifoParams) -> dict[str, float]:
    """Structural LUT features of a FIFO (the LUT estimate is ``sum(FIFO_LUT_COEFFS[k] * f[k])``):

    * ``one``: pointer and flag logic that does not grow; ``aw``: the pointer width ``log2(DEPTH)``;
    * ``rd_mux``: ``WIDTH * mux_luts(banks)`` -- the read multiplexer of a LUT-RAM deeper than 64 words
      (``banks = DEPTH/64`` RAM64M per bit group); ``banks``: their write-enable decoders;
    * ``bram_width``: ``WIDTH`` when the storage is block RAM (Yosys bypasses the read-during-write
      register there: one LUT per data bit).
    """

    aw = clog2(params.depth)
    mem = map_memory(params.depth, params.width)
    banked = mem.kind == "lutram" and mem.banks > 1
    return {
        "one": 1.0,
        "aw": aw,
        "rd_mux": params.width * mux_luts(mem.banks) if banked else 0,
        "banks": mem.banks if banked else 0,
        "bram_width": params.width if mem.kind == "bram" else 0,
    }


def estimate_resources(params: AxisFifoParams) -> Resources:
    """Estimated Yosys ``synth_xilinx`` cells of an ``axis_fifo``.

    ``axis_fifo`` (``AW = log2(DEPTH)``): the storage goes where :func:`~flow.estimate.resources.map_memory`
    says (LUT RAM: ``ceil(WIDTH/6)`` RAM32M up to 32 words, ``ceil(DEPTH/64)*ceil(WIDTH/3)`` RAM64M beyond;
    block RAM above about 16 LUT RAM cells). FF, exact for LUT RAM: ``2*(AW+1)`` (both pointers with their
    wrap bit) ``+ AW`` (Yosys registers the read address once more for the LUT RAM read port); block RAM:
    ``2*(AW+1) + WIDTH + 1`` (read-during-write bypass register). CARRY4: ``2*carry4(AW+1)`` (the pointer
    increments). A FIFO too small for LUT RAM (2 words of at most 8 bits) keeps its words in flip-flops:
    FF ``2*(AW+1) + AW + DEPTH*WIDTH``, plus a read multiplexer of ``WIDTH`` LUTs. LUT:
    ``sum(FIFO_LUT_COEFFS[k] * f[k])`` over :func:`resource_features`.
    """

    params.validate()
    aw = clog2(params.depth)
    mem = map_memory(params.depth, params.width)
    f = resource_features(params)
    lut = sum(FIFO_LUT_COEFFS.get(k, 0.0) * v for k, v in f.items())
    if mem.kind == "bram":
        ff = 2 * (aw + 1) + params.width + 1
    elif mem.kind == "lutram":
        ff = 2 * (aw + 1) + aw
    else:  # a FIFO too small for LUT RAM: the words are flip-flops, read through a multiplexer
        ff = 2 * (aw + 1) + aw + params.depth * params.width
        lut += params.width * mux_luts(params.depth)
    return Resources(lut=lut, ff=ff, carry4=2 * carry4(aw + 1), bram18=mem.bram18, lutram=mem.lutram)


SPEC = passthrough_spec("axis_fifo", AxisFifoParams, HW_SOURCES, estimate_resources, cycles_per_vector, latency_cycles)
