"""``flow.blocks.mvau``: the golden model against a naive loop, weight and stream layouts against the
documented contracts (naive bit loops), accumulator sizing, parameter validation, the cycle formulas and the
resource estimate (flip-flops against Yosys counts, monotone LUTs, constant ROM columns). The RTL itself is
checked against the golden model in ``sim/mvau/test_mvau.py``."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from flow.blocks import mvau
from flow.blocks.bits import parse_hex_lines
from flow.blocks.mvau import MvauMode, MvauParams

from .helpers import mvau_params, seeded_rng

MVAU_PARAMS = [
    MvauParams(mw=12, mh=6, pe=2, simd=4, mode=MvauMode.XNOR, in_bits=1, in_signed=False, w_bits=1, acc_bits=5),
    MvauParams(mw=12, mh=6, pe=3, simd=6, mode=MvauMode.MAC, in_bits=4, in_signed=False, w_bits=3, acc_bits=10),
    MvauParams(mw=8, mh=4, pe=4, simd=8, mode=MvauMode.MAC, in_bits=3, in_signed=True, w_bits=2, acc_bits=8),
    MvauParams(mw=9, mh=3, pe=1, simd=3, mode=MvauMode.BIPOLAR_W, in_bits=3, in_signed=True, w_bits=1, acc_bits=7),
    MvauParams(mw=6, mh=4, pe=2, simd=1, mode=MvauMode.ADDER, in_bits=4, in_signed=False, w_bits=5, acc_bits=9),
    MvauParams(mw=6, mh=4, pe=4, simd=6, mode=MvauMode.ADDER, in_bits=3, in_signed=True, w_bits=3, acc_bits=8),
    MvauParams(mw=10, mh=4, pe=2, simd=5, mode=MvauMode.BIPOLAR_X, in_bits=1, in_signed=True, w_bits=4, acc_bits=8),
]


def _mvau_id(p: MvauParams) -> str:
    return f"{p.mode.name}_{p.mw}x{p.mh}_pe{p.pe}_simd{p.simd}"


def _mvau_values(p: MvauParams, rng: np.random.Generator, batch: int = 5) -> tuple[np.ndarray, np.ndarray]:
    if p.mode in (MvauMode.XNOR, MvauMode.BIPOLAR_X):
        x = rng.choice([-1, 1], size=(batch, p.mw))
    else:
        x = rng.integers(p.x_range[0], p.x_range[1] + 1, size=(batch, p.mw))
    if p.mode in (MvauMode.XNOR, MvauMode.BIPOLAR_W):
        W = rng.choice([-1, 1], size=(p.mh, p.mw))
    else:
        W = rng.integers(p.w_range[0], p.w_range[1] + 1, size=(p.mh, p.mw))
    return x, W


def _naive_mvau(x: np.ndarray, W: np.ndarray, p: MvauParams) -> np.ndarray:
    y = np.zeros((len(x), p.mh), dtype=np.int64)
    for b, c, i in itertools.product(range(len(x)), range(p.mh), range(p.mw)):
        xi, wi = int(x[b, i]), int(W[c, i])
        if p.mode == MvauMode.XNOR:
            y[b, c] += 1 if (xi > 0) == (wi > 0) else -1
        elif p.mode == MvauMode.ADDER:
            y[b, c] -= abs(xi - wi)
        else:
            y[b, c] += xi * wi
    return y


# ------------------------------------------------------------------------------------------------ golden model
@pytest.mark.parametrize("p", MVAU_PARAMS, ids=_mvau_id)
def test_mvau_golden_matches_naive_loop(p: MvauParams) -> None:
    rng = seeded_rng(f"mvau{p}")
    x, W = _mvau_values(p, rng)
    p = MvauParams(**{**p.__dict__, "acc_bits": mvau.required_acc_bits(W, p)})
    assert np.array_equal(mvau.golden(x, W, p), _naive_mvau(x, W, p))


@pytest.mark.parametrize("p", MVAU_PARAMS, ids=_mvau_id)
def test_mvau_weight_layout(p: MvauParams) -> None:
    """Word nf*SF + sf holds W[nf*PE + p][sf*SIMD + s] at bit (p*SIMD + s)*W_BITS (naive bit loop)."""
    _, W = _mvau_values(p, seeded_rng(f"w{p}"))
    lines = mvau.pack_weights(W, p)
    assert len(lines) == p.nf * p.sf
    assert {len(line) for line in lines} == {(p.weight_width + 3) // 4}
    bipolar = p.mode in (MvauMode.XNOR, MvauMode.BIPOLAR_W)
    for nf, sf in itertools.product(range(p.nf), range(p.sf)):
        word = 0
        for pe, s in itertools.product(range(p.pe), range(p.simd)):
            w = int(W[nf * p.pe + pe, sf * p.simd + s])
            code = int(w > 0) if bipolar else w & ((1 << p.w_bits) - 1)
            word |= code << ((pe * p.simd + s) * p.w_bits)
        assert int(lines[nf * p.sf + sf], 16) == word
    assert np.array_equal(mvau.unpack_weights(parse_hex_lines(lines), p), W)


@pytest.mark.parametrize("p", MVAU_PARAMS, ids=_mvau_id)
def test_mvau_stream_layout(p: MvauParams) -> None:
    x, W = _mvau_values(p, seeded_rng(f"s{p}"), batch=3)
    beats = mvau.pack_inputs(x, p)
    assert len(beats) == 3 * p.sf
    for b, sf, s in itertools.product(range(3), range(p.sf), range(p.simd)):
        v = int(x[b, sf * p.simd + s])
        bipolar = p.mode in (MvauMode.XNOR, MvauMode.BIPOLAR_X)  # bit 1 = +1, bit 0 = -1
        code = int(v > 0) if bipolar else v & ((1 << p.in_bits) - 1)
        assert (beats[b * p.sf + sf] >> (s * p.in_bits)) & ((1 << p.in_bits) - 1) == code
    p = MvauParams(**{**p.__dict__, "acc_bits": mvau.required_acc_bits(W, p)})
    y = mvau.golden(x, W, p)
    out = mvau.pack_outputs(y, p)
    assert len(out) == 3 * p.nf
    assert np.array_equal(mvau.unpack_outputs(out, p), y)
    assert (out[0] & ((1 << p.acc_bits) - 1)) == int(y[0, 0]) & ((1 << p.acc_bits) - 1)


def test_mvau_required_acc_bits_is_tight() -> None:
    p = MvauParams(mw=4, mh=2, pe=1, simd=2, mode=MvauMode.MAC, in_bits=2, in_signed=False, w_bits=3, acc_bits=32)
    W = np.array([[3, 3, 3, 3], [-4, 0, 0, 0]])  # outputs span [-4*3, 4*3*3] = [-12, 36]
    assert mvau.required_acc_bits(W, p) == 7  # 36 > 31: 7 bits signed
    x_max = np.full((1, 4), 3)
    assert mvau.golden(x_max, W, MvauParams(**{**p.__dict__, "acc_bits": 7})).tolist() == [[36, -12]]
    pa = MvauParams(mw=2, mh=1, pe=1, simd=2, mode=MvauMode.ADDER, in_bits=2, in_signed=False, w_bits=3, acc_bits=32)
    assert mvau.required_acc_bits(np.array([[-4, 1]]), pa) == 5  # outputs span [-(7 + 2), -(4 + 0)] = [-9, -4]


def test_mvau_golden_rejects_overflow_and_bad_values() -> None:
    p = MvauParams(mw=4, mh=1, pe=1, simd=4, mode=MvauMode.MAC, in_bits=2, in_signed=False, w_bits=3, acc_bits=5)
    W = np.full((1, 4), 3)
    with pytest.raises(ValueError, match="acc_bits=5"):
        mvau.golden(np.full((1, 4), 3), W, p)
    with pytest.raises(ValueError, match=r"mvau: x"):
        mvau.golden(np.full((1, 4), 4), W, p)
    px = MvauParams(mw=4, mh=1, pe=1, simd=4, mode=MvauMode.XNOR, in_bits=1, in_signed=False, w_bits=1, acc_bits=4)
    with pytest.raises(ValueError, match="bipolar"):
        mvau.golden(np.zeros((1, 4), dtype=int), np.ones((1, 4), dtype=int), px)


# ------------------------------------------------------------------------------------------------ parameters, timing
@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"pe": 4}, "pe expected a divisor of mh=6, got 4"),
        ({"simd": 5}, "simd expected a divisor of mw=12, got 5"),
        ({"in_bits": 2}, "in_bits expected 1 for mode XNOR, got 2"),
        ({"w_bits": 0}, "w_bits expected a positive integer, got 0"),
        ({"mode": 7}, "mode expected one of"),
    ],
)
def test_mvau_validate_names_the_parameter(changes: dict, message: str) -> None:
    p = MvauParams(**{**MVAU_PARAMS[0].__dict__, **changes})
    with pytest.raises(ValueError, match=message):
        p.validate()


def test_mvau_cycle_formulas() -> None:
    p = MVAU_PARAMS[0]  # NF=3, SF=3
    assert mvau.cycles_per_vector(p) == 9
    assert [mvau.output_valid_cycle(p, nf) for nf in range(3)] == [4, 7, 10]
    assert mvau.latency_cycles(p) == 10
    full = MVAU_PARAMS[2]  # fully parallel
    assert (mvau.cycles_per_vector(full), mvau.latency_cycles(full)) == (1, 2)


# ------------------------------------------------------------------------------------------------ resources
@pytest.mark.parametrize(
    ("params", "ff"),
    [  # measured; the estimate counts the RTL's registers (+2), weights seeded random as in the synthesis
        (mvau_params(32, 16, 4, 8), 230),
        (mvau_params(64, 16, 1, 16, acc=13), 167),
        (mvau_params(32, 16, 4, 8, MvauMode.XNOR, 1, 1, 7), 90),
        (mvau_params(9, 32, 32, 1, MvauMode.BIPOLAR_W, 8, 1), 444),
        (mvau_params(16, 8, 8, 16, MvauMode.ADDER, acc=10), 76),
    ],
)
def test_mvau_flip_flops_match_the_rtl_registers(params, ff):
    assert mvau.estimate_resources(params).ff == ff


@pytest.mark.parametrize("mode", list(MvauMode))
def test_mvau_luts_grow_with_pe_and_simd(mode):
    bits = {MvauMode.XNOR: (1, 1), MvauMode.MAC: (4, 4), MvauMode.BIPOLAR_W: (4, 1), MvauMode.ADDER: (4, 4),
            MvauMode.BIPOLAR_X: (1, 4)}[mode]

    def lut(pe, simd):
        return mvau.estimate_resources(mvau_params(64, 16, pe, simd, mode, *bits, acc=12)).lut

    # weights from the ROM throughout (NF*SF >= 2); the ROM holds the same MH*MW weights whatever the folding
    pes = [lut(pe, 16) for pe in (1, 2, 4, 8)]
    simds = [lut(2, simd) for simd in (1, 2, 4, 8, 16, 32)]
    assert pes == sorted(pes) and len(set(pes)) == len(pes)
    assert simds == sorted(simds) and len(set(simds)) == len(simds)


def test_constant_rom_bits_cost_nothing():
    params = mvau_params(32, 16, 4, 8)
    ones = np.ones((16, 32), dtype=np.int64)  # every ROM column constant: no ROM logic or register left
    est = mvau.estimate_resources(params, ones)
    assert est.ff < mvau.estimate_resources(params).ff - 100
    assert mvau.resource_features(params, ones)["rom"] == 0
