"""Fast checks of the pure-numpy side of the ``hw/`` blocks (``flow.blocks``): bit packers against
naive per-bit layouts written from the documented contracts, round trips, golden models against naive
loops, parameter validation and the cycle formulas."""

from __future__ import annotations

import itertools
import os

import numpy as np
import pytest

from flow.blocks import bits as ops
from flow.blocks import dwc, fifo, mvau, thresholding
from flow.blocks.mvau import MvauMode, MvauParams
from flow.blocks.thresholding import ThresholdingParams

RNG_SEED = 20240611


def _rng(tag: str) -> np.random.Generator:
    return np.random.default_rng([RNG_SEED, *map(ord, tag)])


# ------------------------------------------------------------------------------------------------ helpers
@pytest.mark.parametrize("bits", [1, 3, 8, 13, 62])
def test_pack_fields_round_trip(bits: int) -> None:
    rng = _rng(f"fields{bits}")
    fields = rng.integers(0, 1 << bits, size=(7, 5), dtype=np.int64)
    words = ops.pack_fields(fields, bits)
    assert words == [sum(int(v) << (k * bits) for k, v in enumerate(row)) for row in fields]
    assert np.array_equal(ops.unpack_fields(words, 5, bits, signed=False), fields)
    signed = np.where(fields >= 1 << (bits - 1), fields - (1 << bits), fields)
    assert np.array_equal(ops.unpack_fields(words, 5, bits, signed=True), signed)


@pytest.mark.parametrize(("bits", "n_fields"), [(1, 784), (1, 32), (4, 17), (8, 10), (13, 5), (33, 2), (62, 1)])
def test_pack_fields_words_is_the_harness_layout(bits: int, n_fields: int) -> None:
    """The binary stimulus layout (uint32 words, little-endian, padding 0) holds the same integer per row as
    pack_fields, and unpack_fields_words inverts it."""
    rng = _rng(f"words{bits}-{n_fields}")
    fields = rng.integers(0, 1 << bits, size=(9, n_fields), dtype=np.int64)
    words = ops.pack_fields_words(fields, bits)
    assert words.dtype == np.dtype("<u4") and words.shape == (9, -(-(n_fields * bits) // 32))
    assert [int.from_bytes(row.tobytes(), "little") for row in words] == ops.pack_fields(fields, bits)
    assert np.array_equal(ops.unpack_fields_words(words, n_fields, bits, signed=False), fields)
    signed = np.where(fields >= 1 << (bits - 1), fields - (1 << bits), fields)
    assert np.array_equal(ops.unpack_fields_words(words, n_fields, bits, signed=True), signed)
    with pytest.raises(ValueError, match=rf"pack_fields_words \({bits}-bit fields\): expected values in"):
        ops.pack_fields_words(fields + (1 << bits), bits)
    if (n_fields * bits) % 32:
        words[4, -1] |= np.uint32(1 << 31)
        with pytest.raises(ValueError, match=r"unpack_fields_words: row 4 has bits set above bit"):
            ops.unpack_fields_words(words, n_fields, bits, signed=False)


def test_encode_checks_range() -> None:
    assert ops.encode(np.array([-4, 3, -1]), 3, signed=True).tolist() == [4, 3, 7]
    with pytest.raises(ValueError, match=r"x \(signed 3 bits\): expected values in \[-4, 3\], got .*4\]"):
        ops.encode(np.array([0, 4]), 3, signed=True, what="x")
    with pytest.raises(ValueError, match="unsigned 2 bits"):
        ops.encode(np.array([-1]), 2, signed=False)


def test_hex_lines_and_mem_files(tmp_path) -> None:
    lines = ops.hex_lines([0, 5, (1 << 9) - 1], 9)
    assert lines == ["000", "005", "1ff"]
    with pytest.raises(ValueError, match="does not fit 9 bits"):
        ops.hex_lines([1 << 9], 9)
    path = tmp_path / "sub" / "w.mem"
    ops.write_mem(path, lines)
    assert path.read_text() == "000\n005\n1ff\n"
    assert ops.read_mem(path) == [0, 5, 511]
    assert [p.name for p in path.parent.iterdir()] == ["w.mem"]  # no temp file left behind
    with pytest.raises(ValueError, match="address"):
        ops.parse_hex_lines(["@10", "ff"])


def test_write_mem_is_atomic(tmp_path, monkeypatch) -> None:
    path = tmp_path / "w.mem"
    ops.write_mem(path, ["aa"])

    def boom(*_args, **_kwargs):
        raise OSError("disk full")

    monkeypatch.setattr(os, "replace", boom)
    with pytest.raises(OSError, match="disk full"):
        ops.write_mem(path, ["bb"])
    assert path.read_text() == "aa\n"
    assert [p.name for p in tmp_path.iterdir()] == ["w.mem"]


def test_clog2() -> None:
    assert [ops.clog2(v) for v in (1, 2, 3, 4, 5, 784)] == [0, 1, 2, 2, 3, 10]


# ------------------------------------------------------------------------------------------------ mvau
MVAU_PARAMS = [
    MvauParams(mw=12, mh=6, pe=2, simd=4, mode=MvauMode.XNOR, in_bits=1, in_signed=False, w_bits=1, acc_bits=5),
    MvauParams(mw=12, mh=6, pe=3, simd=6, mode=MvauMode.MAC, in_bits=4, in_signed=False, w_bits=3, acc_bits=10),
    MvauParams(mw=8, mh=4, pe=4, simd=8, mode=MvauMode.MAC, in_bits=3, in_signed=True, w_bits=2, acc_bits=8),
    MvauParams(mw=9, mh=3, pe=1, simd=3, mode=MvauMode.BIPOLAR_W, in_bits=3, in_signed=True, w_bits=1, acc_bits=7),
    MvauParams(mw=6, mh=4, pe=2, simd=1, mode=MvauMode.ADDER, in_bits=4, in_signed=False, w_bits=5, acc_bits=9),
    MvauParams(mw=6, mh=4, pe=4, simd=6, mode=MvauMode.ADDER, in_bits=3, in_signed=True, w_bits=3, acc_bits=8),
]


def _mvau_values(p: MvauParams, rng: np.random.Generator, batch: int = 5) -> tuple[np.ndarray, np.ndarray]:
    if p.mode == MvauMode.XNOR:
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


@pytest.mark.parametrize("p", MVAU_PARAMS, ids=lambda p: f"{p.mode.name}_{p.mw}x{p.mh}_pe{p.pe}_simd{p.simd}")
def test_mvau_golden_matches_naive_loop(p: MvauParams) -> None:
    rng = _rng(f"mvau{p}")
    x, W = _mvau_values(p, rng)
    p = MvauParams(**{**p.__dict__, "acc_bits": mvau.required_acc_bits(W, p)})
    assert np.array_equal(mvau.golden(x, W, p), _naive_mvau(x, W, p))


@pytest.mark.parametrize("p", MVAU_PARAMS, ids=lambda p: f"{p.mode.name}_{p.mw}x{p.mh}_pe{p.pe}_simd{p.simd}")
def test_mvau_weight_layout(p: MvauParams) -> None:
    """Word nf*SF + sf holds W[nf*PE + p][sf*SIMD + s] at bit (p*SIMD + s)*W_BITS (naive bit loop)."""
    _, W = _mvau_values(p, _rng(f"w{p}"))
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
    assert np.array_equal(mvau.unpack_weights(ops.parse_hex_lines(lines), p), W)


@pytest.mark.parametrize("p", MVAU_PARAMS, ids=lambda p: f"{p.mode.name}_{p.mw}x{p.mh}_pe{p.pe}_simd{p.simd}")
def test_mvau_stream_layout(p: MvauParams) -> None:
    x, W = _mvau_values(p, _rng(f"s{p}"), batch=3)
    beats = mvau.pack_inputs(x, p)
    assert len(beats) == 3 * p.sf
    for b, sf, s in itertools.product(range(3), range(p.sf), range(p.simd)):
        v = int(x[b, sf * p.simd + s])
        code = int(v > 0) if p.mode == MvauMode.XNOR else v & ((1 << p.in_bits) - 1)
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


# ------------------------------------------------------------------------------------------------ thresholding
TH_PARAMS = [
    ThresholdingParams(c=6, pe=2, in_bits=5, n_thresh=3, out_bits=2, out_bias=0),
    ThresholdingParams(c=4, pe=4, in_bits=4, n_thresh=1, out_bits=1, out_bias=0),
    ThresholdingParams(c=3, pe=1, in_bits=7, n_thresh=7, out_bits=4, out_bias=-4),
]


def _th_tables(p: ThresholdingParams, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    lo, hi = -(1 << (p.in_bits - 1)), (1 << (p.in_bits - 1)) - 1
    return rng.integers(lo, hi + 1, size=(p.c, p.n_thresh)), rng.integers(0, 2, size=p.c)


@pytest.mark.parametrize("p", TH_PARAMS, ids=lambda p: f"c{p.c}_pe{p.pe}_t{p.n_thresh}")
def test_thresholding_golden_matches_naive_loop(p: ThresholdingParams) -> None:
    rng = _rng(f"th{p}")
    T, flags = _th_tables(p, rng)
    lo, hi = -(1 << (p.in_bits - 1)), (1 << (p.in_bits - 1)) - 1
    x = np.concatenate([rng.integers(lo, hi + 1, size=(6, p.c)), T.T[:1]])  # last row sits on thresholds
    y = thresholding.golden(x, T, flags, p)
    for b, c in itertools.product(range(len(x)), range(p.c)):
        hits = sum((x[b, c] <= t) if flags[c] else (x[b, c] >= t) for t in T[c])
        assert y[b, c] == p.out_bias + hits
    beats = thresholding.pack_outputs(y, p)
    assert np.array_equal(thresholding.unpack_outputs(beats, p), y)


@pytest.mark.parametrize("p", TH_PARAMS, ids=lambda p: f"c{p.c}_pe{p.pe}_t{p.n_thresh}")
def test_thresholding_memory_layout(p: ThresholdingParams) -> None:
    """Word cf, slot p at p*SLOT: thresholds at t*IN_BITS, flag at SLOT-1 (naive bit loop)."""
    T, flags = _th_tables(p, _rng(f"tm{p}"))
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
    T2, f2 = thresholding.unpack_thresholds(ops.parse_hex_lines(lines), p)
    assert np.array_equal(T2, T) and np.array_equal(f2, flags)


def test_thresholding_validate() -> None:
    with pytest.raises(ValueError, match=r"out_bits=2 \(unsigned\) expected to hold outputs .* \[1, 4\]"):
        ThresholdingParams(c=2, pe=1, in_bits=4, n_thresh=3, out_bits=2, out_bias=1).validate()
    with pytest.raises(ValueError, match="pe expected a divisor of c=6, got 4"):
        ThresholdingParams(c=6, pe=4, in_bits=4, n_thresh=3, out_bits=2, out_bias=0).validate()
    p = TH_PARAMS[0]
    assert (thresholding.cycles_per_vector(p), thresholding.latency_cycles(p)) == (3, 4)
    assert p.out_signed is False and TH_PARAMS[2].out_signed is True


# ------------------------------------------------------------------------------------------------ dwc, fifo
@pytest.mark.parametrize(("i", "o", "b"), [(4, 2, 3), (2, 4, 1), (3, 2, 5), (5, 5, 2)])
def test_dwc_repack_preserves_element_order(i: int, o: int, b: int) -> None:
    p = dwc.DwcParams(in_elems=i, out_elems=o, elem_bits=b)
    rng = _rng(f"dwc{i}{o}{b}")
    elems = rng.integers(0, 1 << b, size=2 * p.mid_elems)
    beats_in = [sum(int(e) << (k * b) for k, e in enumerate(elems[j : j + i])) for j in range(0, len(elems), i)]
    beats_out = [sum(int(e) << (k * b) for k, e in enumerate(elems[j : j + o])) for j in range(0, len(elems), o)]
    assert dwc.repack(beats_in, p) == beats_out
    assert dwc.cycles_per_vector(p, p.mid_elems) == max(p.k_up, p.k_down)


def test_dwc_and_fifo_parameters() -> None:
    assert [dwc.latency_cycles(dwc.DwcParams(i, o, 1)) for i, o in [(4, 2), (2, 4), (3, 2), (5, 5)]] == [1, 1, 2, 0]
    with pytest.raises(ValueError, match="vector_elems expected a multiple"):
        dwc.cycles_per_vector(dwc.DwcParams(4, 2, 1), 6)
    with pytest.raises(ValueError, match="depth expected a power of two >= 2, got 12"):
        fifo.AxisFifoParams(width=8, depth=12).validate()
    assert fifo.capacity(fifo.AxisFifoParams(width=8, depth=16)) == 16
    assert fifo.capacity(fifo.SkidBufferParams(width=8)) == 2
    assert fifo.cycles_per_vector(fifo.SkidBufferParams(width=8), 5) == 5
    assert fifo.latency_cycles(fifo.AxisFifoParams(width=8, depth=2)) == 1
