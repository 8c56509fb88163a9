"""``flow.blocks.pad``: the golden model against a naive loop, beat layouts against the documented contract,
round trips, the pad value's encoding, parameter validation and the cycle model (the RTL itself is checked
against them in ``sim/conv/test_pad.py``)."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from flow.blocks import pad
from flow.blocks.pad import PadParams

from .helpers import naive_beats, random_images

PAD_PARAMS = [
    PadParams(5, 6, 4, 2, 1, 1, 1, 1, 4),
    PadParams(7, 5, 3, 1, 2, 2, 2, 2, 5, pad_value=17),
    PadParams(4, 5, 6, 3, 0, 2, 1, 0, 6, pad_value=-5, signed=True),
    PadParams(6, 4, 4, 1, 0, 0, 0, 0, 4),
]


@pytest.mark.parametrize("p", PAD_PARAMS, ids=str)
def test_pad_golden_matches_naive_loop(p: PadParams) -> None:
    x = random_images(p, 2, f"pad{p}")
    y = pad.golden(x, p)
    assert y.shape == (2, p.oh, p.ow, p.ch)
    for n, oy, ox, c in itertools.product(range(2), range(p.oh), range(p.ow), range(p.ch)):
        iy, ix = oy - p.pad_t, ox - p.pad_l
        inside = 0 <= iy < p.ifm_h and 0 <= ix < p.ifm_w
        assert y[n, oy, ox, c] == (x[n, iy, ix, c] if inside else p.pad_value)
    beats = pad.pack_outputs(y, p)
    assert beats == naive_beats(y, p.simd, p.elem_bits)
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
