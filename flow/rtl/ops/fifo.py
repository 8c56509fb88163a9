"""AXI-Stream FIFO (``hw/axis/axis_fifo.v``) and skid buffer (``hw/axis/skid_buffer.v``): parameters,
golden model (identity), cycle formulas.

Resource estimate (:func:`estimate_resources`): storage by Yosys' memory cost rules, FF exact from the RTL's
registers, FIFO LUT = ``sum(FIFO_LUT_COEFFS[k] * f[k])`` over :func:`resource_features` (constants fitted by
``bench/resource_estimates.py --calibrate``); the skid buffer is exact (LUT ``WIDTH + 4``, FF ``2*WIDTH + 2``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from flow.rtl.ops import HW_ROOT

if TYPE_CHECKING:
    from flow.estimate.resources import Resources

__all__ = [
    "FIFO_SOURCES",
    "SKID_SOURCES",
    "AxisFifoParams",
    "SkidBufferParams",
    "capacity",
    "cycles_per_vector",
    "estimate_resources",
    "golden",
    "latency_cycles",
]

#: Verilog files of each block.
FIFO_SOURCES = (HW_ROOT / "axis" / "axis_fifo.v",)
SKID_SOURCES = (HW_ROOT / "axis" / "skid_buffer.v",)


def _check_positive(block: str, name: str, v: object) -> None:
    if not isinstance(v, int) or isinstance(v, bool) or v < 1:
        raise ValueError(f"{block}: {name} expected a positive integer, got {v!r}")


@dataclass(frozen=True)
class AxisFifoParams:
    """``axis_fifo``: ``DEPTH`` beats (a power of two >= 2) of ``WIDTH`` bits; LUT-RAM storage."""

    width: int
    depth: int

    def validate(self) -> None:
        """Raise :class:`ValueError` naming the first bad parameter, what was expected and what arrived."""
        _check_positive("axis_fifo", "width", self.width)
        _check_positive("axis_fifo", "depth", self.depth)
        if self.depth < 2 or self.depth & (self.depth - 1):
            raise ValueError(f"axis_fifo: depth expected a power of two >= 2, got {self.depth}")

    def verilog_parameters(self) -> dict[str, int]:
        """The Verilog parameter map."""
        self.validate()
        return {"WIDTH": self.width, "DEPTH": self.depth}


@dataclass(frozen=True)
class SkidBufferParams:
    """``skid_buffer``: register slice of ``WIDTH`` bits, registered ``s_axis_tready``, capacity 2."""

    width: int

    def validate(self) -> None:
        """Raise :class:`ValueError` naming the first bad parameter, what was expected and what arrived."""
        _check_positive("skid_buffer", "width", self.width)

    def verilog_parameters(self) -> dict[str, int]:
        """The Verilog parameter map."""
        self.validate()
        return {"WIDTH": self.width}


def capacity(params: AxisFifoParams | SkidBufferParams) -> int:
    """Beats held while the output is stalled: ``DEPTH`` for a FIFO, 2 for a skid buffer."""
    params.validate()
    return params.depth if isinstance(params, AxisFifoParams) else 2


def cycles_per_vector(params: AxisFifoParams | SkidBufferParams, beats_per_vector: int = 1) -> int:
    """Cycles per vector of ``beats_per_vector`` beats without stalls: one beat per cycle."""
    params.validate()
    return beats_per_vector


def latency_cycles(params: AxisFifoParams | SkidBufferParams) -> int:
    """A beat accepted in cycle t (into an empty FIFO / buffer) is valid at the output in cycle t + 1."""
    params.validate()
    return 1


def golden(beats: np.ndarray) -> np.ndarray:
    """FIFOs and skid buffers pass beats unchanged, in order."""
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


def resource_features(params: AxisFifoParams | SkidBufferParams) -> dict[str, float]:
    """Structural LUT features of a FIFO (the LUT estimate is ``sum(FIFO_LUT_COEFFS[k] * f[k])``):

    * ``one``: pointer and flag logic that does not grow; ``aw``: the pointer width ``log2(DEPTH)``;
    * ``rd_mux``: ``WIDTH * mux_luts(banks)`` -- the read multiplexer of a LUT-RAM deeper than 64 words
      (``banks = DEPTH/64`` RAM64M per bit group); ``banks``: their write-enable decoders;
    * ``bram_width``: ``WIDTH`` when the storage is block RAM (Yosys bypasses the read-during-write
      register there: one LUT per data bit).
    """
    from flow.estimate.resources import clog2, map_memory, mux_luts

    if isinstance(params, SkidBufferParams):
        return {"skid_width": params.width}
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


def estimate_resources(params: AxisFifoParams | SkidBufferParams) -> Resources:
    """Estimated Yosys ``synth_xilinx`` cells of an ``axis_fifo`` or ``skid_buffer``.

    ``axis_fifo`` (``AW = log2(DEPTH)``): the storage goes where :func:`~flow.estimate.resources.map_memory`
    says (LUT RAM: ``ceil(WIDTH/6)`` RAM32M up to 32 words, ``ceil(DEPTH/64)*ceil(WIDTH/3)`` RAM64M beyond;
    block RAM above about 16 LUT RAM cells). FF, exact for LUT RAM: ``2*(AW+1)`` (both pointers with their
    wrap bit) ``+ AW`` (Yosys registers the read address once more for the LUT RAM read port); block RAM:
    ``2*(AW+1) + WIDTH + 1`` (read-during-write bypass register). CARRY4: ``2*carry4(AW+1)`` (the pointer
    increments). A FIFO too small for LUT RAM (2 words of at most 8 bits) keeps its words in flip-flops:
    FF ``2*(AW+1) + AW + DEPTH*WIDTH``, plus a read multiplexer of ``WIDTH`` LUTs. LUT:
    ``sum(FIFO_LUT_COEFFS[k] * f[k])`` over :func:`resource_features`.

    ``skid_buffer``: FF ``2*WIDTH + 2`` and LUT ``WIDTH + 4`` (one 3-input multiplexer per output data bit plus
    four for the handshake), both exact in the RTL's structure.
    """
    from flow.estimate.resources import Resources, carry4, clog2, map_memory, mux_luts

    params.validate()
    if isinstance(params, SkidBufferParams):
        return Resources(lut=params.width + 4, ff=2 * params.width + 2)
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
