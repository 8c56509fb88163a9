"""``flow.blocks.swg`` (sliding-window generator): the golden model against a naive loop, beat layouts
against the documented contract, round trips, parameter validation and the cycle model (the RTL itself is
checked against them in ``sim/conv/test_swg.py``)."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from flow.blocks import swg
from flow.blocks.swg import SwgParams

from .helpers import naive_beats, random_images, seeded_rng

SWG_PARAMS = [
    SwgParams(28, 28, 1, 1, 5, 1, 8),
    SwgParams(12, 12, 6, 3, 5, 1, 4, signed=True),
    SwgParams(7, 9, 4, 2, 3, 2, 4),
    SwgParams(8, 10, 2, 1, 3, 2, 3),
    SwgParams(8, 7, 2, 1, 1, 2, 4),
    SwgParams(5, 5, 3, 3, 5, 1, 6),
    SwgParams(3, 4, 2, 1, 3, 3, 1),
]


@pytest.mark.parametrize("p", SWG_PARAMS, ids=str)
def test_swg_golden_matches_naive_loop(p: SwgParams) -> None:
    x = random_images(p, 2, f"swg{p}")
    y = swg.golden(x, p)
    assert y.shape == (2, p.oh * p.ow, p.k * p.k * p.ch)
    ranges = (range(2), range(p.oh), range(p.ow), range(p.k), range(p.k), range(p.ch))
    for n, oy, ox, ky, kx, c in itertools.product(*ranges):
        assert y[n, oy * p.ow + ox, (ky * p.k + kx) * p.ch + c] == x[n, oy * p.stride + ky, ox * p.stride + kx, c]


@pytest.mark.parametrize("p", SWG_PARAMS[1:4], ids=str)
def test_swg_stream_layout(p: SwgParams) -> None:
    x = random_images(p, 2, f"swgl{p}")
    assert swg.pack_inputs(x, p) == naive_beats(x, p.simd, p.elem_bits)
    # output beat b of window (oy, ox): ky, kx, cf from b; lane s = channel cf*SIMD + s
    expected = []
    for n, oy, ox, ky, kx, cf in itertools.product(
        range(2), range(p.oh), range(p.ow), range(p.k), range(p.k), range(p.cf)
    ):
        pix = x[n, oy * p.stride + ky, ox * p.stride + kx, cf * p.simd : (cf + 1) * p.simd]
        expected += naive_beats(pix, p.simd, p.elem_bits)
    y = swg.golden(x, p)
    assert swg.pack_outputs(y, p) == expected
    assert np.array_equal(swg.unpack_outputs(expected, p), y)


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"simd": 4}, "simd expected a divisor of ch=6, got 4"),
        ({"k": 13}, "k expected <= ifm_h=12 and <= ifm_w=12, got 13"),
        ({"stride": 0}, "stride expected a positive integer, got 0"),
        ({"elem_bits": 63}, "elem_bits expected at most 62"),
        ({"signed": 1}, "signed expected a bool, got 1"),
    ],
)
def test_swg_validate_names_the_parameter(changes: dict, message: str) -> None:
    base = dict(ifm_h=12, ifm_w=12, ch=6, simd=3, k=5, stride=1, elem_bits=4)
    with pytest.raises(ValueError, match=message.replace("(", r"\(").replace(")", r"\)")):
        SwgParams(**(base | changes)).validate()


def test_swg_rejects_bad_inputs() -> None:
    p = SwgParams(5, 5, 2, 1, 3, 1, 3)
    with pytest.raises(ValueError, match=r"x expected shape \(n, ifm_h, ifm_w, ch\) = \(n, 5, 5, 2\)"):
        swg.golden(np.zeros((1, 5, 4, 2)), p)
    with pytest.raises(ValueError, match=r"unsigned 3 bits\): expected values in \[0, 7\]"):
        swg.pack_inputs(np.full((1, 5, 5, 2), 8), p)
    with pytest.raises(ValueError, match="multiple of 50 beats, got 49"):
        swg.output_valid_times(p, [0] * 49)


@pytest.mark.parametrize(
    "p",
    [
        SwgParams(28, 28, 1, 1, 5, 1, 8),
        SwgParams(12, 12, 6, 6, 5, 1, 8),
        SwgParams(12, 12, 6, 3, 5, 1, 8),
        SwgParams(7, 9, 4, 2, 3, 2, 4),
        SwgParams(8, 8, 2, 1, 1, 1, 4),
        SwgParams(8, 7, 2, 1, 1, 2, 4),
        SwgParams(5, 5, 3, 3, 5, 1, 4),
    ],
    ids=str,
)
def test_swg_cycles_per_image(p: SwgParams) -> None:
    """Away from the balance point: max(input beats, output beats + (K - STRIDE) rows of input)."""
    expected = max(p.in_beats, p.out_beats + max(p.k - p.stride, 0) * p.ifm_w * p.cf)
    assert swg.cycles_per_image(p) == expected


def test_swg_first_output() -> None:
    """LeNet conv1: the first window needs 5 rows (140 beats, cycles 0..139); read in 140, valid in 142."""
    p = SwgParams(28, 28, 1, 1, 5, 1, 8)
    times = swg.output_valid_times(p, [0] * p.in_beats)
    assert times[:3] == [142, 143, 144]
    assert len(times) == p.out_beats


@pytest.mark.parametrize("p", SWG_PARAMS[1:], ids=str)
def test_swg_model_respects_data_and_buffer(p: SwgParams) -> None:
    """Random input timing: each output beat is valid at least 3 cycles after its input beat was accepted
    (write, read, queue), never two in one cycle, and no stored row is overwritten before its last read."""
    rng = seeded_rng(f"swgt{p}")
    images = 3
    v = np.cumsum(rng.integers(0, 3, size=images * p.in_beats)).tolist()
    accepted, out = swg.simulate(p, v)
    assert len(accepted) == len(v) and len(out) == images * p.out_beats
    assert all(b > a for a, b in itertools.pairwise(out))
    assert all(a >= t for a, t in zip(accepted, v, strict=True))
    # sequence number of each stored row (rows numbered across images), accept cycle of its last beat
    row_beats = p.ifm_w * p.cf
    row_done, last_read = {}, {}
    for img in range(images):
        for y in range(p.kept_rows):
            row_done[img * p.kept_rows + y] = accepted[img * p.in_beats + (y + 1) * row_beats - 1]
        for j in range(p.out_beats):
            oy, rest = divmod(j, p.ow * p.window_beats)
            ky = rest % p.window_beats // (p.k * p.cf)
            seq = img * p.kept_rows + oy * p.stride + ky
            t = out[img * p.out_beats + j]
            assert t >= row_done[seq] + 3, f"image {img} beat {j} valid before its row was written"
            last_read[seq] = t - swg.PIPELINE_CYCLES
    for img in range(images):
        for y in range(p.kept_rows):
            seq = img * p.kept_rows + y
            first_write = accepted[img * p.in_beats + y * row_beats]
            older = seq - p.buffer_rows
            if older in last_read:
                assert first_write > last_read[older], f"row {seq} overwrites row {older} before its last read"
