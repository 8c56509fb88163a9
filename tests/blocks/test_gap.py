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


#: Yosys synth_xilinx of the block alone (flow.estimate.resources.synth_block, 2026-12-06): LUT, FF, CARRY4,
#: LUTRAM. The first four shaped the estimate, the last three were measured after it (BENCHMARKS.md).
GAP_MEASURED = {
    (8, 8, 16, 16, 4, False): (191, 12, 50, 60),
    (8, 8, 64, 8, 4, True): (99, 18, 27, 28),
    (5, 5, 32, 4, 4, False): (62, 16, 15, 14),
    (4, 4, 128, 16, 8, True): (213, 16, 51, 64),
    (6, 6, 24, 3, 6, True): (57, 17, 12, 12),
    (16, 16, 8, 8, 2, False): (107, 14, 27, 30),
    (3, 3, 10, 5, 3, True): (53, 11, 11, 12),
}


@pytest.mark.parametrize("shape", GAP_MEASURED, ids=str)
def test_estimate_against_yosys(shape) -> None:
    lut, ff, carry, lutram = GAP_MEASURED[shape]
    e = gap.estimate_resources(GapParams(*shape))
    assert abs(e.lut - lut) <= 0.10 * lut and (e.ff, e.lutram) == (ff, lutram) and abs(e.carry4 - carry) <= 2


def test_energy_counts_one_addition_per_element() -> None:
    assert SPEC.energy(GapParams(8, 8, 16, 16, 4, False), 64).ops == {"add": {"11b": 64 * 16}}
