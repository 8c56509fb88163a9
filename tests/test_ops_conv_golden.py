"""Fast checks of the pure-numpy side of the convolution blocks (``flow.blocks.swg``, ``.maxpool``, ``.pad``):
golden models against naive loops, beat layouts against the documented contracts, round trips, parameter
validation and the cycle models (the RTL itself is checked against them in ``sim/conv/``)."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from flow.blocks import maxpool, pad, swg
from flow.blocks.maxpool import MaxpoolParams
from flow.blocks.pad import PadParams
from flow.blocks.swg import SwgParams

RNG_SEED = 20240611


def _rng(tag: str) -> np.random.Generator:
    return np.random.default_rng([RNG_SEED, *map(ord, tag)])


def _x(params, n: int, tag: str) -> np.ndarray:
    lo, hi = params.value_range
    return _rng(tag).integers(lo, hi + 1, size=(n, params.ifm_h, params.ifm_w, params.ch))


def _naive_beats(a: np.ndarray, simd: int, bits: int) -> list[int]:
    """Beats from the contract: element s of a beat at bits [s*bits, (s+1)*bits), two's complement."""
    flat = [int(v) & ((1 << bits) - 1) for v in a.reshape(-1)]
    return [sum(v << (s * bits) for s, v in enumerate(flat[i : i + simd])) for i in range(0, len(flat), simd)]


# ------------------------------------------------------------------------------------------------ swg
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
    x = _x(p, 2, f"swg{p}")
    y = swg.golden(x, p)
    assert y.shape == (2, p.oh * p.ow, p.k * p.k * p.ch)
    ranges = (range(2), range(p.oh), range(p.ow), range(p.k), range(p.k), range(p.ch))
    for n, oy, ox, ky, kx, c in itertools.product(*ranges):
        assert y[n, oy * p.ow + ox, (ky * p.k + kx) * p.ch + c] == x[n, oy * p.stride + ky, ox * p.stride + kx, c]


@pytest.mark.parametrize("p", SWG_PARAMS[1:4], ids=str)
def test_swg_stream_layout(p: SwgParams) -> None:
    x = _x(p, 2, f"swgl{p}")
    assert swg.pack_inputs(x, p) == _naive_beats(x, p.simd, p.elem_bits)
    # output beat b of window (oy, ox): ky, kx, cf from b; lane s = channel cf*SIMD + s
    expected = []
    for n, oy, ox, ky, kx, cf in itertools.product(
        range(2), range(p.oh), range(p.ow), range(p.k), range(p.k), range(p.cf)
    ):
        pix = x[n, oy * p.stride + ky, ox * p.stride + kx, cf * p.simd : (cf + 1) * p.simd]
        expected += _naive_beats(pix, p.simd, p.elem_bits)
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
    rng = _rng(f"swgt{p}")
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


# ------------------------------------------------------------------------------------------------ maxpool
MAXPOOL_PARAMS = [
    MaxpoolParams(7, 5, 4, 2, 2, 4, True),
    MaxpoolParams(8, 10, 3, 1, 3, 5, False),
    MaxpoolParams(24, 24, 6, 1, 2, 4, False),
    MaxpoolParams(6, 6, 8, 8, 2, 1, False),
    MaxpoolParams(4, 3, 2, 1, 1, 3, True),
]


@pytest.mark.parametrize("p", MAXPOOL_PARAMS, ids=str)
def test_maxpool_golden_matches_naive_loop(p: MaxpoolParams) -> None:
    x = _x(p, 2, f"mp{p}")
    y = maxpool.golden(x, p)
    assert y.shape == (2, p.ifm_h // p.k, p.ifm_w // p.k, p.ch)
    for n, oy, ox, c in itertools.product(range(2), range(p.oh), range(p.ow), range(p.ch)):
        win = [x[n, oy * p.k + ky, ox * p.k + kx, c] for ky in range(p.k) for kx in range(p.k)]
        assert y[n, oy, ox, c] == max(win)
    beats = maxpool.pack_outputs(y, p)
    assert beats == _naive_beats(y, p.simd, p.elem_bits)
    assert maxpool.pack_inputs(x, p) == _naive_beats(x, p.simd, p.elem_bits)
    assert np.array_equal(maxpool.unpack_outputs(beats, p), y)


def test_maxpool_bipolar_as_unsigned() -> None:
    """1-bit bipolar codes (1 = +1, 0 = -1): unsigned max == max of the +-1 values."""
    p = MaxpoolParams(4, 4, 2, 2, 2, 1, False)
    x = _x(p, 3, "bip")
    pm = 2 * x - 1
    pooled = pm.reshape(3, 2, 2, 2, 2, 2).max(axis=(2, 4))
    assert np.array_equal(2 * maxpool.golden(x, p) - 1, pooled)


def test_maxpool_validate_and_timing() -> None:
    with pytest.raises(ValueError, match="k expected <= ifm_h=3 and <= ifm_w=5, got 4"):
        MaxpoolParams(3, 5, 2, 1, 4, 4, True).validate()
    with pytest.raises(ValueError, match="signed expected a bool, got 1"):
        MaxpoolParams(3, 5, 2, 1, 2, 4, 1).validate()
    with pytest.raises(ValueError, match=r"y expected shape \(n, 1, 2, 2\)"):
        maxpool.pack_outputs(np.zeros((1, 2, 2, 2)), MaxpoolParams(3, 5, 2, 1, 2, 4, True))
    p = MaxpoolParams(5, 5, 2, 1, 2, 4, True)  # 2x2 outputs, row 4 and column 4 dropped
    assert maxpool.cycles_per_image(p) == 50
    # all beats valid at 0: beat i accepted in cycle i; output (oy, ox, c) from beat ((2oy+1)*5 + 2ox+1)*2 + c
    assert maxpool.output_valid_times(p, [0] * 50) == [13, 14, 17, 18, 33, 34, 37, 38]
    late = [0] * 50
    late[13] = 40  # beat 13 (last pixel of window (0,0), c=1) arrives late: every later beat waits
    assert maxpool.output_valid_times(p, late)[:3] == [13, 41, 44]
    assert len(maxpool.output_valid_times(p, [0] * 100)) == 16


# ------------------------------------------------------------------------------------------------ pad
PAD_PARAMS = [
    PadParams(5, 6, 4, 2, 1, 1, 1, 1, 4),
    PadParams(7, 5, 3, 1, 2, 2, 2, 2, 5, pad_value=17),
    PadParams(4, 5, 6, 3, 0, 2, 1, 0, 6, pad_value=-5, signed=True),
    PadParams(6, 4, 4, 1, 0, 0, 0, 0, 4),
]


@pytest.mark.parametrize("p", PAD_PARAMS, ids=str)
def test_pad_golden_matches_naive_loop(p: PadParams) -> None:
    x = _x(p, 2, f"pad{p}")
    y = pad.golden(x, p)
    assert y.shape == (2, p.oh, p.ow, p.ch)
    for n, oy, ox, c in itertools.product(range(2), range(p.oh), range(p.ow), range(p.ch)):
        iy, ix = oy - p.pad_t, ox - p.pad_l
        inside = 0 <= iy < p.ifm_h and 0 <= ix < p.ifm_w
        assert y[n, oy, ox, c] == (x[n, iy, ix, c] if inside else p.pad_value)
    beats = pad.pack_outputs(y, p)
    assert beats == _naive_beats(y, p.simd, p.elem_bits)
    assert np.array_equal(pad.unpack_outputs(beats, p), y)


def test_pad_value_encoding() -> None:
    assert PadParams(2, 2, 1, 1, 1, 1, 1, 1, 8, pad_value=-5, signed=True).verilog_pad_value == -5
    assert PadParams(2, 2, 1, 1, 1, 1, 1, 1, 8, pad_value=251).verilog_pad_value == 251
    assert PadParams(2, 2, 1, 1, 1, 1, 1, 1, 32, pad_value=(1 << 32) - 1).verilog_pad_value == -1
    assert PadParams(2, 2, 1, 1, 1, 1, 1, 1, 40, pad_value=-1, signed=True).verilog_parameters()["PAD_VALUE"] == -1
    with pytest.raises(ValueError, match="sign extension of a 32-bit integer"):
        PadParams(2, 2, 1, 1, 1, 1, 1, 1, 40, pad_value=1 << 35).validate()
    with pytest.raises(ValueError, match=r"pad_value expected an integer in \[0, 15\] \(unsigned 4 bits\), got -1"):
        PadParams(2, 2, 1, 1, 1, 1, 1, 1, 4, pad_value=-1).validate()
    with pytest.raises(ValueError, match="pad_l expected an integer >= 0, got -1"):
        PadParams(2, 2, 1, 1, 1, 1, -1, 1, 4).validate()


def test_pad_timing() -> None:
    p = PadParams(2, 2, 1, 1, 1, 0, 1, 0, 4)  # 3x3 output, input at (1..2, 1..2)
    assert pad.cycles_per_image(p) == 9
    # inputs always there: one beat per cycle from cycle 0, valid one cycle later
    assert pad.output_valid_times(p, [0] * 4) == list(range(1, 10))
    # the first border beat waits for the image's first input beat; border beats do not wait
    assert pad.output_valid_times(p, [5, 5, 20, 20]) == [6, 7, 8, 9, 10, 11, 12, 21, 22]
    # back to back: image 2's first (border) beat waits for its first input beat
    assert pad.output_valid_times(p, [0, 0, 0, 0, 30, 30, 30, 30])[9:12] == [31, 32, 33]
