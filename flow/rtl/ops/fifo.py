"""AXI-Stream FIFO (``hw/axis/axis_fifo.v``) and skid buffer (``hw/axis/skid_buffer.v``): parameters,
golden model (identity), cycle formulas."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from flow.rtl.ops import HW_ROOT

__all__ = [
    "FIFO_SOURCES",
    "SKID_SOURCES",
    "AxisFifoParams",
    "SkidBufferParams",
    "capacity",
    "cycles_per_vector",
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
