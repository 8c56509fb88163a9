"""``flow.blocks.eltwise_add``: exact aligned sums, the output width, the join timing and the resource
estimate. The RTL is checked in ``sim/residual/test_eltwise_add.py``."""

from __future__ import annotations

import numpy as np
import pytest

from flow.blocks.eltwise_add import SPEC, EltwiseAddParams, estimate_resources, golden, join_times


def test_sum_aligns_the_binary_points() -> None:
    p = EltwiseAddParams(elems=2, a_bits=4, a_signed=True, a_shift=2, b_bits=3, b_signed=False, b_shift=0)
    assert golden(np.array([-8, 7]), np.array([7, 0]), p).tolist() == [-32 + 7, 28]


@pytest.mark.parametrize(("a", "b"), [((4, True, 0), (4, False, 0)), ((8, True, 0), (5, True, 3)),
                                      ((1, False, 0), (6, True, 1)), ((4, False, 3), (4, False, 0))])
def test_out_bits_hold_every_sum_and_no_more(a, b) -> None:
    p = EltwiseAddParams(1, *a, *b)
    lo, hi = p.out_range
    bits = p.out_bits
    assert -(1 << (bits - 1)) <= lo and hi < (1 << (bits - 1))
    assert bits == max(a[0], b[0]) + 1 or not (-(1 << (bits - 2)) <= lo and hi < (1 << (bits - 2)))


def test_codes_outside_their_type_are_refused() -> None:
    p = EltwiseAddParams(1, 4, False, 0, 4, False, 0)
    with pytest.raises(ValueError, match="unsigned 4 bits"):
        golden(np.array([16]), np.array([0]), p)


def test_a_pair_waits_for_its_later_beat_then_one_register() -> None:
    p = EltwiseAddParams(1, 4, True, 0, 4, True, 0)
    assert SPEC.output_times(p, join_times([0, 1, 2], [3, 3, 9])) == [4, 5, 10]
    with pytest.raises(ValueError, match="same beats"):
        join_times([0], [0, 1])


def test_estimate() -> None:
    est = estimate_resources(EltwiseAddParams(4, 8, True, 0, 8, True, 3))  # Yosys: 37 LUT, 49 FF, 12 CARRY4
    assert (est.lut, est.ff, est.carry4) == (37, 49, 12)
