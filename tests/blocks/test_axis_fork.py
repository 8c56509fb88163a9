"""``flow.blocks.axis_fork``: golden model, timing model and resource count. The RTL is checked in
``sim/axis/test_axis_fork.py``."""

from __future__ import annotations

import numpy as np
import pytest

from flow.blocks.axis_fork import SPEC, AxisForkParams, estimate_resources, golden, output_valid_times
from flow.blocks.cost import Resources


def test_both_outputs_are_the_input() -> None:
    a, b = golden(np.array([3, 1, 2]))
    assert a.tolist() == b.tolist() == [3, 1, 2]


def test_timing_is_the_acceptance() -> None:
    assert output_valid_times(AxisForkParams(4), [0, 0, 5]) == [0, 1, 5]


def test_ports_name_both_outputs() -> None:
    ports = SPEC.port_map(AxisForkParams(7))
    assert {k: d for k, (d, _) in ports.items()} == {"s_axis": "in", "m0_axis": "out", "m1_axis": "out"}
    assert all(s.width == 7 for _, s in ports.values())


def test_resources_and_validation() -> None:
    assert estimate_resources(AxisForkParams(64)) == Resources(lut=5, ff=2)
    with pytest.raises(ValueError, match="width"):
        AxisForkParams(0).validate()
