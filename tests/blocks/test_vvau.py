"""``flow.blocks.vvau``: the depthwise golden model against a direct sum, the ROM layout, the timing model and
parameter checks. The RTL is checked in ``sim/mvau/test_vvau.py``."""

from __future__ import annotations

import numpy as np
import pytest

from flow.blocks.bits import parse_hex_lines, unpack_fields
from flow.blocks.mvau_params import MvauMode
from flow.blocks.vvau import SPEC, VvauParams, estimate_resources, golden, output_times, pack_weights

P = VvauParams(ch=6, k2=9, simd=3, mode=MvauMode.MAC, in_bits=4, in_signed=False, w_bits=4, acc_bits=12)


def test_golden_is_the_per_channel_window_sum() -> None:
    rng = np.random.default_rng(0)
    x = rng.integers(0, 16, size=(5, 9 * 6))
    W = rng.integers(-8, 8, size=(6, 9))
    want = np.einsum("nkc,ck->nc", x.reshape(5, 9, 6), W)
    assert np.array_equal(golden(x, W, P), want)


def test_bipolar_modes_are_the_mvau_operations() -> None:
    p = VvauParams(ch=2, k2=4, simd=1, mode=MvauMode.XNOR, in_bits=1, in_signed=False, w_bits=1, acc_bits=4)
    x = np.array([[1, -1, 1, -1, 1, 1, -1, 1]])  # position-major: (k, c)
    W = np.array([[1, 1, 1, 1], [-1, 1, -1, 1]])
    assert golden(x, W, p).tolist() == [[1 + 1 + 1 - 1, 1 - 1 - 1 + 1]]


def test_rom_word_k_cf_holds_the_channels_of_that_fold() -> None:
    W = np.arange(6 * 9).reshape(6, 9) % 15 - 7
    words = parse_hex_lines(pack_weights(W, P))
    assert len(words) == 9 * 2
    fields = unpack_fields(words, 3, 4, signed=True).reshape(9, 2, 3)  # (k, cf, s)
    assert np.array_equal(fields.transpose(1, 2, 0).reshape(6, 9), W)


def test_output_is_valid_two_cycles_after_the_last_position() -> None:
    times = output_times(P, list(range(2 * 18)))
    assert times == [16 + 2, 17 + 2, 34 + 2, 35 + 2]
    assert SPEC.out_beats(P, 36) == 4
    assert SPEC.latency(P) == 19


def test_parameters_are_checked() -> None:
    with pytest.raises(ValueError, match="SIMD=4 must divide CH=6"):
        VvauParams(6, 9, 4, MvauMode.MAC, 4, False, 4, 12).validate()


def test_estimate_has_the_partial_sum_memory() -> None:
    est = estimate_resources(P)
    assert est.lutram > 0 and est.lut > 0
