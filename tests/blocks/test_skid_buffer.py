"""``flow.blocks.skid_buffer``: capacity and cycle formulas and the exact resource count. The RTL itself is
checked in ``sim/axis/test_skid_buffer.py``."""

from __future__ import annotations

from flow.blocks import skid_buffer
from flow.blocks.cost import Resources
from flow.blocks.skid_buffer import SkidBufferParams


def test_skid_buffer_parameters() -> None:
    assert skid_buffer.capacity(SkidBufferParams(width=8)) == 2
    assert skid_buffer.cycles_per_vector(SkidBufferParams(width=8), 5) == 5


def test_skid_buffer_is_exact():
    assert skid_buffer.estimate_resources(SkidBufferParams(8)) == Resources(lut=12, ff=18)
    assert skid_buffer.estimate_resources(SkidBufferParams(64)) == Resources(lut=68, ff=130)
