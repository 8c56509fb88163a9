"""Stream fork (``hw/axis/axis_fork.v``): the same beats of ``WIDTH`` bits out on two streams, the start of a
residual block. Parameters, golden model (two copies), the timing model (latency 0, one beat per cycle) and
an exact resource count.

Its spec's ``ports`` gives the input and *one* of the two identical outputs (``m0_axis``/``m1_axis``); the
RTL planner wires the second (:mod:`flow.rtl.generate`).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from flow.blocks.bits import check_positive
from flow.blocks.cost import Resources
from flow.blocks.spec import BlockSpec, Stream, accept_times
from flow.paths import HW_ROOT

__all__ = ["HW_SOURCES", "SPEC", "AxisForkParams", "estimate_resources", "golden", "output_valid_times"]

#: Verilog files of the block.
HW_SOURCES = (HW_ROOT / "axis" / "axis_fork.v",)


@dataclass(frozen=True)
class AxisForkParams:
    """``axis_fork``: ``WIDTH``-bit beats copied to two outputs."""

    width: int

    def validate(self) -> None:
        """Raise :class:`ValueError` naming the first bad parameter, what was expected and what arrived."""
        check_positive("axis_fork", "width", self.width)

    def verilog_parameters(self) -> dict[str, int]:
        """The Verilog parameter map."""
        self.validate()
        return {"WIDTH": self.width}


def golden(beats: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Both outputs carry the input beats unchanged, in order."""
    return np.array(beats, copy=True), np.array(beats, copy=True)


def output_valid_times(params: AxisForkParams, valid: list[int]) -> list[int]:
    """Both consumers always ready: a beat is valid on both outputs in the cycle it is accepted (no register)."""
    params.validate()
    return accept_times(valid)


def estimate_resources(params: AxisForkParams) -> Resources:
    """Two flip-flops (which output took the beat) and five LUTs of handshake logic (Yosys ``synth_xilinx`` at
    widths 8 and 64: exact); the data wires through."""
    params.validate()
    return Resources(lut=5, ff=2)


SPEC = BlockSpec(
    name="axis_fork",
    params_type=AxisForkParams,
    sources=HW_SOURCES,
    ports=lambda p: (Stream(1, p.width), Stream(1, p.width)),
    verilog_parameters=lambda p, mem: p.verilog_parameters(),
    output_times=output_valid_times,
    cycles=lambda p, in_beats: in_beats,
    out_beats=lambda p, in_beats: in_beats,
    latency=lambda p: 0,
    estimate=lambda p, data: estimate_resources(p),
    port_names=("s_axis", "m0_axis"),
    extra_ports=lambda p: {"m1_axis": ("out", Stream(1, p.width))},
)
