"""``flow.blocks.axis_fifo``: parameter validation, capacity and cycle formulas, and the flip-flop and memory
estimates against Yosys counts. The RTL itself is checked in ``sim/axis/test_axis_fifo.py``."""

from __future__ import annotations

import pytest

from flow.blocks import axis_fifo
from flow.blocks.axis_fifo import AxisFifoParams

# Yosys synth_xilinx counts measured on calibration points (bench/resource_estimates.py): (FF, LUTRAM, BRAM18).
FIFO_MEASURED = {
    (4, 32): (17, 1, 0), (16, 64): (20, 6, 0), (8, 128): (23, 6, 0), (4, 256): (26, 8, 0), (2, 1024): (32, 16, 0),
    (24, 256): (43, 0, 1), (32, 1024): (55, 0, 2), (64, 2): (5, 11, 0), (128, 2): (5, 22, 0), (8, 2): (21, 0, 0),
    (12, 512): (33, 0, 1),
}


def test_fifo_parameters() -> None:
    with pytest.raises(ValueError, match="depth expected a power of two >= 2, got 12"):
        AxisFifoParams(width=8, depth=12).validate()
    assert axis_fifo.capacity(AxisFifoParams(width=8, depth=16)) == 16
    assert axis_fifo.latency_cycles(AxisFifoParams(width=8, depth=2)) == 1


@pytest.mark.parametrize(("width", "depth"), sorted(FIFO_MEASURED))
def test_fifo_flip_flops_and_memories_are_exact(width, depth):
    est = axis_fifo.estimate_resources(AxisFifoParams(width, depth))
    assert (est.ff, est.lutram, est.bram18) == FIFO_MEASURED[(width, depth)]
