"""Bit-level helpers shared by the hardware blocks (:mod:`flow.blocks`).

One module per block (:mod:`.mvau`, :mod:`.thresholding`, :mod:`.dwc`, :mod:`.fifo`), each with a frozen
parameter dataclass whose ``validate()`` raises :class:`ValueError`, a ``golden`` model on ``int64`` arrays,
memory-file packers and cycle formulas. This package module holds the bit-level helpers they share:

* AXI-Stream / memory-word packing: field ``k`` of a word sits at bits ``[k*bits, (k+1)*bits)``
  (element 0 in the least significant bits).
* Memory files for ``$readmemh``: one word per line, lower-case hex zero-padded to the word width,
  no ``@`` addresses; written atomically.

Nothing here imports the block modules, so they can import these helpers without cycles.
"""

from __future__ import annotations

import logging
import os
import tempfile
from collections.abc import Iterable, Sequence
from pathlib import Path

import numpy as np

__all__ = [
    "MAX_FIELD_BITS",
    "check_positive",
    "check_range",
    "clog2",
    "encode",
    "hex_lines",
    "pack_fields",
    "pack_fields_words",
    "parse_hex_lines",
    "read_mem",
    "signed_range",
    "unpack_fields",
    "unpack_fields_words",
    "unsigned_range",
    "write_mem",
]

log = logging.getLogger(__name__)

#: Largest field width handled by the numpy packers (values live in ``int64``).
MAX_FIELD_BITS = 62


def clog2(v: int) -> int:
    """Return ``ceil(log2(v))``, 0 for ``v <= 1``: Verilog's ``$clog2``, which the ``hw/`` blocks use."""
    if v < 0:
        raise ValueError(f"clog2: expected an integer >= 0, got {v}")
    return 0 if v <= 1 else (v - 1).bit_length()


def check_positive(block: str, name: str, v: object) -> None:
    """Raise :class:`ValueError` naming ``block`` and ``name`` unless ``v`` is an integer (not a bool) >= 1."""
    if not isinstance(v, int) or isinstance(v, bool) or v < 1:
        raise ValueError(f"{block}: {name} expected a positive integer, got {v!r}")


def signed_range(bits: int) -> tuple[int, int]:
    """Inclusive range of a ``bits``-wide two's complement number."""
    return -(1 << (bits - 1)), (1 << (bits - 1)) - 1


def unsigned_range(bits: int) -> tuple[int, int]:
    """Inclusive range of a ``bits``-wide unsigned number."""
    return 0, (1 << bits) - 1


def check_range(values: np.ndarray, lo: int, hi: int, what: str) -> None:
    """Raise :class:`ValueError` naming ``what`` unless every value lies in ``[lo, hi]``."""
    values = np.asarray(values)
    if values.size == 0:
        return
    vmin, vmax = int(values.min()), int(values.max())
    if vmin < lo or vmax > hi:
        raise ValueError(f"{what}: expected values in [{lo}, {hi}], got values in [{vmin}, {vmax}]")


def encode(values: np.ndarray, bits: int, signed: bool, what: str = "values") -> np.ndarray:
    """Two's complement (or unsigned) ``bits``-wide encoding of integer ``values``, range-checked.

    Returns an ``int64`` array of non-negative field values ``< 2**bits``.
    """
    if not 1 <= bits <= MAX_FIELD_BITS:
        raise ValueError(f"{what}: expected a field width in [1, {MAX_FIELD_BITS}] bits, got {bits}")
    values = np.asarray(values, dtype=np.int64)
    lo, hi = signed_range(bits) if signed else unsigned_range(bits)
    check_range(values, lo, hi, f"{what} ({'signed' if signed else 'unsigned'} {bits} bits)")
    return values & np.int64((1 << bits) - 1)


def pack_fields(fields: np.ndarray, bits: int) -> list[int]:
    """Pack rows of encoded fields into words: field ``k`` of row ``r`` at bits ``[k*bits, (k+1)*bits)``.

    ``fields`` is a 2-D array ``(n_words, n_fields)`` of values in ``[0, 2**bits)`` (see :func:`encode`).
    Returns one Python ``int`` per row (words may be thousands of bits wide).
    """
    fields = np.asarray(fields, dtype=np.int64)
    if fields.ndim != 2:
        raise ValueError(f"pack_fields: expected a 2-D array (words, fields), got shape {fields.shape}")
    check_range(fields, 0, (1 << bits) - 1, f"pack_fields ({bits}-bit fields)")
    packed = np.packbits(_bit_matrix(fields, bits), axis=1, bitorder="little")
    return [int.from_bytes(row.tobytes(), "little") for row in packed]


def _bit_matrix(fields: np.ndarray, bits: int) -> np.ndarray:
    """``(rows, n_fields)`` field values -> ``(rows, n_fields * bits)`` uint8 bits, field k's bit b at column
    ``k*bits + b`` (the smallest unsigned dtype holding ``bits`` keeps the intermediate small)."""
    dtype = next(d for d in (np.uint8, np.uint16, np.uint32, np.uint64) if np.dtype(d).itemsize * 8 >= bits)
    as_bytes = np.ascontiguousarray(fields.astype(np.dtype(dtype).newbyteorder("<"))).view(np.uint8)
    rows, n_fields = fields.shape
    if bits == 1:
        return as_bytes.reshape(rows, n_fields)
    per_field = np.unpackbits(as_bytes.reshape(-1), bitorder="little").reshape(rows, n_fields, -1)[:, :, :bits]
    return per_field.reshape(rows, n_fields * bits)


def pack_fields_words(fields: np.ndarray, bits: int) -> np.ndarray:
    """:func:`pack_fields` as an array: ``(rows, ceil(n_fields*bits/32))`` uint32 words, little-endian, the
    padding bits 0 (the binary layout of the batch harness, ``flow/rtl/templates/harness_io.cpp``)."""
    fields = np.asarray(fields)
    if fields.ndim != 2:
        raise ValueError(f"pack_fields_words: expected a 2-D array (rows, fields), got shape {fields.shape}")
    check_range(fields, 0, (1 << bits) - 1, f"pack_fields_words ({bits}-bit fields)")
    rows, n_fields = fields.shape
    n_words = max(1, -(-(n_fields * bits) // 32))
    bitmat = np.zeros((rows, n_words * 32), dtype=np.uint8)
    bitmat[:, : n_fields * bits] = _bit_matrix(fields, bits)
    packed = np.packbits(bitmat, axis=1, bitorder="little")
    return np.ascontiguousarray(packed).view(np.dtype("<u4")).reshape(rows, n_words)


def unpack_fields_words(words: np.ndarray, n_fields: int, bits: int, signed: bool) -> np.ndarray:
    """Inverse of :func:`pack_fields_words`: uint32 words ``(rows, n_words)`` -> int64 ``(rows, n_fields)``."""
    if not 1 <= bits <= MAX_FIELD_BITS:
        raise ValueError(f"unpack_fields_words: expected a field width in [1, {MAX_FIELD_BITS}] bits, got {bits}")
    words = np.ascontiguousarray(np.asarray(words, dtype=np.dtype("<u4")))
    total = n_fields * bits
    if words.ndim != 2 or words.shape[1] * 32 < total:
        raise ValueError(f"unpack_fields_words: expected (rows, >= {-(-total // 32)}) words, got {words.shape}")
    bitmat = np.unpackbits(words.view(np.uint8).reshape(len(words), -1), axis=1, bitorder="little")
    if bitmat[:, total:].any():
        row = int(np.flatnonzero(bitmat[:, total:].any(axis=1))[0])
        raise ValueError(f"unpack_fields_words: row {row} has bits set above bit {total - 1}")
    return _fields_from_bits(bitmat[:, :total], n_fields, bits, signed)


def _fields_from_bits(bitmat: np.ndarray, n_fields: int, bits: int, signed: bool) -> np.ndarray:
    """Inverse of :func:`_bit_matrix`: ``(rows, n_fields * bits)`` bits -> int64 fields, sign-extended if
    ``signed``."""
    weights = np.int64(1) << np.arange(bits, dtype=np.int64)
    out = (bitmat.reshape(len(bitmat), n_fields, bits).astype(np.int64) * weights).sum(axis=2)
    if signed:
        out = np.where(out >= (1 << (bits - 1)), out - (1 << bits), out)
    return out


def unpack_fields(words: Sequence[int], n_fields: int, bits: int, signed: bool) -> np.ndarray:
    """Inverse of :func:`pack_fields`: words -> ``int64`` array ``(len(words), n_fields)``.

    Fields are sign-extended when ``signed``. Bits above ``n_fields*bits`` must be zero.
    """
    if not 1 <= bits <= MAX_FIELD_BITS:
        raise ValueError(f"unpack_fields: expected a field width in [1, {MAX_FIELD_BITS}] bits, got {bits}")
    total = n_fields * bits
    nbytes = (total + 7) // 8
    out = np.zeros((len(words), n_fields), dtype=np.int64)
    if not words:
        return out
    raw = bytearray()
    for i, w in enumerate(words):
        w = int(w)
        if w < 0 or w >> total:
            raise ValueError(f"unpack_fields: word {i} = {w:#x} does not fit {total} bits")
        raw += w.to_bytes(nbytes, "little")
    bitmat = np.unpackbits(
        np.frombuffer(bytes(raw), dtype=np.uint8).reshape(len(words), nbytes), axis=1, bitorder="little"
    )
    return _fields_from_bits(bitmat[:, :total], n_fields, bits, signed)


def hex_lines(words: Iterable[int], width_bits: int) -> list[str]:
    """Format words as ``$readmemh`` lines, zero-padded to ``ceil(width_bits/4)`` hex digits."""
    digits = max(1, (width_bits + 3) // 4)
    lines = []
    for w in words:
        w = int(w)
        if w < 0 or w >> width_bits:
            raise ValueError(f"hex_lines: word {w:#x} does not fit {width_bits} bits")
        lines.append(f"{w:0{digits}x}")
    return lines


def parse_hex_lines(lines: Iterable[str]) -> list[int]:
    """Parse ``$readmemh`` lines written by :func:`hex_lines` (blank lines and ``//`` comments skipped)."""
    words = []
    for n, line in enumerate(lines, start=1):
        text = line.split("//", 1)[0].strip()
        if not text:
            continue
        if text.startswith("@"):
            raise ValueError(f"memory line {n}: expected a hex word, got an address {text!r}")
        words.append(int(text.replace("_", ""), 16))
    return words


def write_mem(path: str | os.PathLike[str], lines: Sequence[str]) -> None:
    """Write a ``$readmemh`` file, one word per line, atomically (temp file + ``os.replace``)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="ascii") as f:
            for line in lines:
                f.write(line)
                f.write("\n")
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    log.debug("wrote %d words to %s", len(lines), path)


def read_mem(path: str | os.PathLike[str]) -> list[int]:
    """Read a ``$readmemh`` file written by :func:`write_mem` back into integer words."""
    with open(path, encoding="ascii") as f:
        return parse_hex_lines(f)
