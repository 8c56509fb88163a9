"""Unit tests of :mod:`flow.blocks.gap` (global sum pooling): golden model vs a plain loop, the stream layout
of the wider sums, the cycle model, validation, and the spec's ports."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from flow.blocks import gap
from flow.blocks.gap import SPEC, GapParams

from .helpers import random_images

PARAMS = [
    GapParams(4, 4, 8, 2, 4, True),
    GapParams(5, 3, 6, 3, 3, False),
    GapParams(1, 1, 4, 1, 5, True),
    GapParams(8, 8, 16, 16, 4, False),
]


@pytest.mark.parametrize("p", PARAMS, ids=str)
def test_golden_is_the_per_channel_sum(p: GapParams) -> None:
    x = random_images(p, 3, "gap")
    y = gap.golden(x, p)
    for n, c in itertools.product(range(3), range(p.ch)):
        assert y[n, 0, 0, c] == sum(int(x[n, i, j, c]) for i in range(p.ifm_h) for j in range(p.ifm_w))
    lo, hi = p.value_range
    extreme = np.full((1, p.ifm_h, p.ifm_w, p.ch), lo if p.signed else hi)
    assert np.array_equal(gap.unpack_outputs(gap.pack_outputs(gap.golden(extreme, p), p), p), gap.golden(extreme, p))


def test_out_bits_hold_every_sum() -> None:
    p = GapParams(8, 8, 16, 16, 4, True)  # 64 pixels of int4: sums in [-512, 448]
    assert p.out_bits == 4 + 6
    assert SPEC.ports(p)[1].elem_bits == 10 and SPEC.ports(p)[0].elem_bits == 4
    assert p.verilog_parameters()["OUT_BITS"] == 10


def test_stream_layout() -> None:
    p = GapParams(2, 2, 4, 2, 3, False)
    x = np.arange(16).reshape(1, 2, 2, 4) % 8
    beats = gap.pack_outputs(gap.golden(x, p), p)
    sums = gap.golden(x, p).reshape(-1)
    assert len(beats) == p.cf == 2
    for c in range(p.ch):
        assert (beats[c // 2] >> ((c % 2) * p.out_bits)) & ((1 << p.out_bits) - 1) == sums[c]


def test_cycle_model() -> None:
    p = GapParams(2, 3, 4, 2, 4, True)  # 12 input beats per image, the last 2 emit
    assert gap.cycles_per_image(p) == 12 and SPEC.cycles(p, 24) == 24 and SPEC.out_beats(p, 24) == 4
    assert gap.output_valid_times(p, list(range(12))) == [11, 12]
    assert gap.output_valid_times(p, [0] * 24) == [11, 12, 23, 24]  # back to back, one beat per cycle
    with pytest.raises(ValueError, match="multiple of 12"):
        gap.output_valid_times(p, list(range(5)))


def test_validate_names_the_parameter() -> None:
    with pytest.raises(ValueError, match="gap: simd expected a divisor of ch=6"):
        GapParams(2, 2, 6, 4, 4, True).validate()
    with pytest.raises(ValueError, match="gap: ifm_h expected a positive integer"):
        GapParams(0, 2, 6, 3, 4, True).validate()
    assert GapParams(8, 8, 4, 1, 4, False).out_bits == 4 + 6 + 1  # unsigned inputs: sums read as signed


def test_estimate_grows_with_lanes() -> None:
    small, wide = gap.estimate_resources(GapParams(8, 8, 16, 1, 4, False)), gap.estimate_resources(
        GapParams(8, 8, 16, 16, 4, False))
    assert wide.lut > small.lut and wide.ff > small.ff
    assert SPEC.energy(GapParams(8, 8, 16, 16, 4, False), 64).ops == {"add": {"11b": 64 * 16}}
