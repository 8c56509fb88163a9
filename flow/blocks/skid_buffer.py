"""Skid buffer (``hw/axis/skid_buffer.v``): a register slice of ``WIDTH`` bits with a registered
``s_axis_tready``. Parameters, golden model (identity), cycle formulas and an exact resource count
(LUT ``WIDTH + 4``, FF ``2*WIDTH + 2``)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from flow.blocks.bits import check_positive
from flow.blocks.cost import Resources
from flow.blocks.spec import passthrough_spec
from flow.paths import HW_ROOT

__all__ = [
    "HW_SOURCES",
    "SPEC",
    "SkidBufferParams",
    "capacity",
    "cycles_per_vector",
    "estimate_resources",
    "golden",
    "latency_cycles",
]

#: Verilog files of the block.
HW_SOURCES = (HW_ROOT / "axis" / "skid_buffer.v",)


@dataclass(frozen=True)
class SkidBufferParams:
    """``skid_buffer``: register slice of ``WIDTH`` bits, registered ``s_axis_tready``, capacity 2."""

    width: int

    def validate(self) -> None:
        """Raise :class:`ValueError` naming the first bad parameter, what was expected and what arrived."""
        check_positive("skid_buffer", "width", self.width)

    def verilog_parameters(self) -> dict[str, int]:
        """The Verilog parameter map."""
        self.validate()
        return {"WIDTH": self.width}


def capacity(params: SkidBufferParams) -> int:
    """Beats held while the output is stalled: 2."""
    params.validate()
    return 2


def cycles_per_vector(params: SkidBufferParams, beats_per_vector: int = 1) -> int:
    """Cycles per vector of ``beats_per_vector`` beats without stalls: one beat per cycle."""
    params.validate()
    return beats_per_vector


def latency_cycles(params: SkidBufferParams) -> int:
    """A beat accepted in cycle t (into an empty buffer) is valid at the output in cycle t + 1."""
    params.validate()
    return 1


def golden(beats: np.ndarray) -> np.ndarray:
    """A skid buffer passes beats unchanged, in order."""
    return np.array(beats, copy=True)


def estimate_resources(params: SkidBufferParams) -> Resources:
    """Estimated Yosys ``synth_xilinx`` cells: FF ``2*WIDTH + 2`` and LUT ``WIDTH + 4`` (one 3-input multiplexer
    per output data bit plus four for the handshake), both exact in the RTL's structure."""
    params.validate()
    return Resources(lut=params.width + 4, ff=2 * params.width + 2)


SPEC = passthrough_spec("skid_buffer", SkidBufferParams, HW_SOURCES, estimate_resources, cycles_per_vector,
                        latency_cycles)
