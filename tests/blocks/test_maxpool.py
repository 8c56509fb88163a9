"""``flow.blocks.maxpool``: the golden model against a naive loop, beat layouts against the documented
contract, round trips, parameter validation and the cycle model (the RTL itself is checked against them in
``sim/conv/test_maxpool.py``)."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from flow.blocks import maxpool
from flow.blocks.maxpool import MaxpoolParams

from .helpers import naive_beats, random_images

MAXPOOL_PARAMS = [
    MaxpoolParams(7, 5, 4, 2, 2, 4, True),
    MaxpoolParams(8, 10, 3, 1, 3, 5, False),
    MaxpoolParams(24, 24, 6, 1, 2, 4, False),
    MaxpoolParams(6, 6, 8, 8, 2, 1, False),
    MaxpoolParams(4, 3, 2, 1, 1, 3, True),
]


@pytest.mark.parametrize("p", MAXPOOL_PARAMS, ids=str)
def test_maxpool_golden_matches_naive_loop(p: MaxpoolParams) -> None:
    x = random_images(p, 2, f"mp{p}")
    y = maxpool.golden(x, p)
    assert y.shape == (2, p.ifm_h // p.k, p.ifm_w // p.k, p.ch)
    for n, oy, ox, c in itertools.product(range(2), range(p.oh), range(p.ow), range(p.ch)):
        win = [x[n, oy * p.k + ky, ox * p.k + kx, c] for ky in range(p.k) for kx in range(p.k)]
        assert y[n, oy, ox, c] == max(win)
    beats = maxpool.pack_outputs(y, p)
    assert beats == naive_beats(y, p.simd, p.elem_bits)
    assert maxpool.pack_inputs(x, p) == naive_beats(x, p.simd, p.elem_bits)
    assert np.array_equal(maxpool.unpack_outputs(beats, p), y)


def test_maxpool_bipolar_as_unsigned() -> None:
    """1-bit bipolar codes (1 = +1, 0 = -1): unsigned max == max of the +-1 values."""
    p = MaxpoolParams(4, 4, 2, 2, 2, 1, False)
    x = random_images(p, 3, "bip")
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
