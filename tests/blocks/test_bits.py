"""``flow.blocks.bits``: bit packers against naive per-bit layouts written from the documented contracts,
round trips, range checks, ``clog2`` and the ``$readmemh`` memory files."""

from __future__ import annotations

import os

import numpy as np
import pytest

from flow.blocks.bits import (
    clog2,
    encode,
    hex_lines,
    pack_fields,
    pack_fields_words,
    parse_hex_lines,
    read_mem,
    unpack_fields,
    unpack_fields_words,
    write_mem,
)

from .helpers import seeded_rng


@pytest.mark.parametrize("bits", [1, 3, 8, 13, 62])
def test_pack_fields_round_trip(bits: int) -> None:
    rng = seeded_rng(f"fields{bits}")
    fields = rng.integers(0, 1 << bits, size=(7, 5), dtype=np.int64)
    words = pack_fields(fields, bits)
    assert words == [sum(int(v) << (k * bits) for k, v in enumerate(row)) for row in fields]
    assert np.array_equal(unpack_fields(words, 5, bits, signed=False), fields)
    signed = np.where(fields >= 1 << (bits - 1), fields - (1 << bits), fields)
    assert np.array_equal(unpack_fields(words, 5, bits, signed=True), signed)


@pytest.mark.parametrize(("bits", "n_fields"), [(1, 784), (1, 32), (4, 17), (8, 10), (13, 5), (33, 2), (62, 1)])
def test_pack_fields_words_is_the_harness_layout(bits: int, n_fields: int) -> None:
    """The binary stimulus layout (uint32 words, little-endian, padding 0) holds the same integer per row as
    pack_fields, and unpack_fields_words inverts it."""
    rng = seeded_rng(f"words{bits}-{n_fields}")
    fields = rng.integers(0, 1 << bits, size=(9, n_fields), dtype=np.int64)
    words = pack_fields_words(fields, bits)
    assert words.dtype == np.dtype("<u4") and words.shape == (9, -(-(n_fields * bits) // 32))
    assert [int.from_bytes(row.tobytes(), "little") for row in words] == pack_fields(fields, bits)
    assert np.array_equal(unpack_fields_words(words, n_fields, bits, signed=False), fields)
    signed = np.where(fields >= 1 << (bits - 1), fields - (1 << bits), fields)
    assert np.array_equal(unpack_fields_words(words, n_fields, bits, signed=True), signed)
    with pytest.raises(ValueError, match=rf"pack_fields_words \({bits}-bit fields\): expected values in"):
        pack_fields_words(fields + (1 << bits), bits)
    if (n_fields * bits) % 32:
        words[4, -1] |= np.uint32(1 << 31)
        with pytest.raises(ValueError, match=r"unpack_fields_words: row 4 has bits set above bit"):
            unpack_fields_words(words, n_fields, bits, signed=False)


def test_encode_checks_range() -> None:
    assert encode(np.array([-4, 3, -1]), 3, signed=True).tolist() == [4, 3, 7]
    with pytest.raises(ValueError, match=r"x \(signed 3 bits\): expected values in \[-4, 3\], got .*4\]"):
        encode(np.array([0, 4]), 3, signed=True, what="x")
    with pytest.raises(ValueError, match="unsigned 2 bits"):
        encode(np.array([-1]), 2, signed=False)


def test_hex_lines_and_mem_files(tmp_path) -> None:
    lines = hex_lines([0, 5, (1 << 9) - 1], 9)
    assert lines == ["000", "005", "1ff"]
    with pytest.raises(ValueError, match="does not fit 9 bits"):
        hex_lines([1 << 9], 9)
    path = tmp_path / "sub" / "w.mem"
    write_mem(path, lines)
    assert path.read_text() == "000\n005\n1ff\n"
    assert read_mem(path) == [0, 5, 511]
    assert [p.name for p in path.parent.iterdir()] == ["w.mem"]  # no temp file left behind
    with pytest.raises(ValueError, match="address"):
        parse_hex_lines(["@10", "ff"])


def test_write_mem_is_atomic(tmp_path, monkeypatch) -> None:
    path = tmp_path / "w.mem"
    write_mem(path, ["aa"])

    def boom(*_args, **_kwargs):
        raise OSError("disk full")

    monkeypatch.setattr(os, "replace", boom)
    with pytest.raises(OSError, match="disk full"):
        write_mem(path, ["bb"])
    assert path.read_text() == "aa\n"
    assert [p.name for p in tmp_path.iterdir()] == ["w.mem"]


def test_clog2() -> None:
    assert [clog2(v) for v in (1, 2, 3, 4, 5, 784)] == [0, 1, 2, 2, 3, 10]
    assert clog2(0) == 0  # as Verilog's $clog2
    with pytest.raises(ValueError, match="clog2: expected an integer >= 0, got -1"):
        clog2(-1)
