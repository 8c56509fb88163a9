"""Helpers shared by the block unit tests: seeded randomness, random images, the naive beat layout and a
shorthand for MVAU parameters."""

from __future__ import annotations

import numpy as np

from flow.blocks.image import ImageParams
from flow.blocks.mvau import MvauMode, MvauParams

RNG_SEED = 20240611


def seeded_rng(tag: str) -> np.random.Generator:
    """A generator seeded by ``RNG_SEED`` and ``tag``: each test draws its own reproducible stream."""
    return np.random.default_rng([RNG_SEED, *map(ord, tag)])


def random_images(params: ImageParams, n: int, tag: str) -> np.ndarray:
    """``n`` random input images ``(n, ifm_h, ifm_w, ch)`` over the block's value range."""
    lo, hi = params.value_range
    return seeded_rng(tag).integers(lo, hi + 1, size=(n, params.ifm_h, params.ifm_w, params.ch))


def naive_beats(a: np.ndarray, simd: int, bits: int) -> list[int]:
    """Beats from the contract: element s of a beat at bits [s*bits, (s+1)*bits), two's complement."""
    flat = [int(v) & ((1 << bits) - 1) for v in a.reshape(-1)]
    return [sum(v << (s * bits) for s, v in enumerate(flat[i : i + simd])) for i in range(0, len(flat), simd)]


def mvau_params(mw, mh, pe, simd, mode=MvauMode.MAC, in_bits=4, w_bits=4, acc=12) -> MvauParams:
    """MVAU parameters as in ``bench/resource_estimates.py``: signed inputs exactly in XNOR mode."""
    return MvauParams(mw, mh, pe, simd, mode, in_bits, mode == MvauMode.XNOR, w_bits, acc)
