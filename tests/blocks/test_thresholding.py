"""``flow.blocks.thresholding``: the golden model against a naive loop, the threshold memory layout against
the documented contract (naive bit loop), parameter validation, the cycle formulas and the resource estimate.
The RTL itself is checked against the golden model in ``sim/thresholding/test_thresholding.py``."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from flow.blocks import thresholding
from flow.blocks.bits import parse_hex_lines
from flow.blocks.thresholding import ThresholdingParams

from .helpers import seeded_rng

TH_PARAMS = [
    ThresholdingParams(c=6, pe=2, in_bits=5, n_thresh=3, out_bits=2, out_bias=0),
    ThresholdingParams(c=4, pe=4, in_bits=4, n_thresh=1, out_bits=1, out_bias=0),
    ThresholdingParams(c=3, pe=1, in_bits=7, n_thresh=7, out_bits=4, out_bias=-4),
]


def _th_id(p: ThresholdingParams) -> str:
    return f"c{p.c}_pe{p.pe}_t{p.n_thresh}"


def _th_tables(p: ThresholdingParams, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    lo, hi = -(1 << (p.in_bits - 1)), (1 << (p.in_bits - 1)) - 1
    return rng.integers(lo, hi + 1, size=(p.c, p.n_thresh)), rng.integers(0, 2, size=p.c)


@pytest.mark.parametrize("p", TH_PARAMS, ids=_th_id)
def test_thresholding_golden_matches_naive_loop(p: ThresholdingParams) -> None:
    rng = seeded_rng(f"th{p}")
    T, flags = _th_tables(p, rng)
    lo, hi = -(1 << (p.in_bits - 1)), (1 << (p.in_bits - 1)) - 1
    x = np.concatenate([rng.integers(lo, hi + 1, size=(6, p.c)), T.T[:1]])  # last row sits on thresholds
    y = thresholding.golden(x, T, flags, p)
    for b, c in itertools.product(range(len(x)), range(p.c)):
        hits = sum((x[b, c] <= t) if flags[c] else (x[b, c] >= t) for t in T[c])
        assert y[b, c] == p.out_bias + hits
    beats = thresholding.pack_outputs(y, p)
    assert np.array_equal(thresholding.unpack_outputs(beats, p), y)


@pytest.mark.parametrize("p", TH_PARAMS, ids=_th_id)
def test_thresholding_memory_layout(p: ThresholdingParams) -> None:
    """Word cf, slot p at p*SLOT: thresholds at t*IN_BITS, flag at SLOT-1 (naive bit loop)."""
    T, flags = _th_tables(p, seeded_rng(f"tm{p}"))
    lines = thresholding.pack_thresholds(T, flags, p)
    assert len(lines) == p.cf
    for cf in range(p.cf):
        word = 0
        for pe in range(p.pe):
            c = cf * p.pe + pe
            slot = int(flags[c]) << (p.n_thresh * p.in_bits)
            for t in range(p.n_thresh):
                slot |= (int(T[c, t]) & ((1 << p.in_bits) - 1)) << (t * p.in_bits)
            word |= slot << (pe * p.slot_bits)
        assert int(lines[cf], 16) == word
    T2, f2 = thresholding.unpack_thresholds(parse_hex_lines(lines), p)
    assert np.array_equal(T2, T) and np.array_equal(f2, flags)


def test_thresholding_validate() -> None:
    with pytest.raises(ValueError, match=r"out_bits=2 \(unsigned\) expected to hold outputs .* \[1, 4\]"):
        ThresholdingParams(c=2, pe=1, in_bits=4, n_thresh=3, out_bits=2, out_bias=1).validate()
    with pytest.raises(ValueError, match="pe expected a divisor of c=6, got 4"):
        ThresholdingParams(c=6, pe=4, in_bits=4, n_thresh=3, out_bits=2, out_bias=0).validate()
    p = TH_PARAMS[0]
    assert (thresholding.cycles_per_vector(p), thresholding.latency_cycles(p)) == (3, 4)
    assert p.out_signed is False and TH_PARAMS[2].out_signed is True


def test_thresholding_luts_grow_with_pe_and_thresholds():
    def lut(pe, n):
        return thresholding.estimate_resources(ThresholdingParams(64, pe, 10, n, 4, 0)).lut

    assert lut(1, 15) < lut(2, 15) < lut(4, 15) < lut(8, 15)
    assert lut(4, 1) < lut(4, 3) < lut(4, 7) < lut(4, 15)
