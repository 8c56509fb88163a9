"""Read SAIF (Switching Activity Interchange Format, version 2.0) files: per-bit toggle counts by instance.

The subset read is what simulators write in backward SAIF, Verilator's ``--trace-saif`` included::

    (SAIFILE (SAIFVERSION "2.0") (DIRECTION "backward") (DESIGN) (DATE ...) (VENDOR ...) (PROGRAM_NAME ...)
     (VERSION ...) (DIVIDER / ) (TIMESCALE 1 ps) (DURATION 12984)
     (INSTANCE ["design"] name
       (NET (name (T0 n) (T1 n) (TX n) (TC n) (IG n)) ...)   also (PORT ...), with (TZ n) (TB n)
       (INSTANCE child ...)))

Contracts:

* Instance paths are tuples of names from the outermost ``INSTANCE`` down; an ``INSTANCE`` name that holds
  the divider (``tb/dut``) is split at every divider that is not escaped.
* A net identifier ending in a bit select, escaped or not (``data\\[3\\]``, ``data[3]``), is bit 3 of net
  ``data``; only the last bracket group is a bit select, so Verilator's ``mem[0]\\[5\\]`` (bit 5 of element 0
  of the unpacked array ``mem``) is bit 5 of net ``mem[0]``. An identifier without a bit select is a scalar
  (bit ``None``). Backslash escapes are removed from every name (``a\\/b`` is ``a/b``).
* Missing duration fields (T0, T1, TX, TZ, TB, TC, IG) read as 0. Nets listed under ``PORT`` are merged with
  those under ``NET`` of the same instance; a bit listed twice is an error.
* Anything else (``COND``/state-dependent toggles, ``LEAF`` cells, forward SAIF) raises :class:`SaifError`
  naming the file and line, never a silent zero.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import NamedTuple

from flow.errors import QflowError

FIELDS = ("T0", "T1", "TX", "TZ", "TB", "TC", "IG")
HEADER_KEYS = ("SAIFVERSION", "DIRECTION", "DESIGN", "DATE", "VENDOR", "PROGRAM_NAME", "VERSION", "DIVIDER",
               "TIMESCALE", "DURATION")


class SaifError(QflowError):
    """A SAIF file is malformed or uses a construct this reader does not support."""


class BitActivity(NamedTuple):
    """Activity of one bit over the SAIF duration: time at 0/1/X/Z/bus-contention, toggles (TC), glitches (IG)."""

    t0: int = 0
    t1: int = 0
    tx: int = 0
    tz: int = 0
    tb: int = 0
    tc: int = 0
    ig: int = 0


@dataclass
class SaifNet:
    """One net of an instance: its bits by index (``None`` for a scalar)."""

    name: str
    bits: dict[int | None, BitActivity] = field(default_factory=dict)

    @property
    def width(self) -> int:
        """Number of bits listed (a scalar counts 1)."""
        return len(self.bits)

    @property
    def toggles(self) -> int:
        """Sum of TC over the bits."""
        return sum(b.tc for b in self.bits.values())

    def bit_names(self) -> Iterator[tuple[str, BitActivity]]:
        """``(name[i], activity)`` per bit, ``(name, activity)`` for a scalar, in bit order."""
        for index in sorted(self.bits, key=lambda b: -1 if b is None else b):
            yield (self.name if index is None else f"{self.name}[{index}]"), self.bits[index]


@dataclass
class Saif:
    """A parsed SAIF file: header values, duration, and the nets of every instance path."""

    header: dict[str, str]
    instances: dict[tuple[str, ...], dict[str, SaifNet]]

    @property
    def duration(self) -> int | None:
        """``DURATION`` in TIMESCALE units (None when the file has none)."""
        value = self.header.get("DURATION")
        return int(float(value)) if value is not None else None

    @property
    def timescale(self) -> str | None:
        return self.header.get("TIMESCALE")

    def nets(self, under: tuple[str, ...] = ()) -> Iterator[tuple[tuple[str, ...], SaifNet]]:
        """``(instance path, net)`` for every net of every instance at or below ``under``."""
        n = len(under)
        for path, nets in self.instances.items():
            if path[:n] == under:
                for net in nets.values():
                    yield path, net

    def toggle_counts(self) -> dict[str, dict[str, tuple[int, int]]]:
        """``{"a/b/c": {net: (width, toggles)}}``: bit width and summed TC of each net of each instance."""
        return {"/".join(path): {name: (net.width, net.toggles) for name, net in nets.items()}
                for path, nets in self.instances.items()}

    def total_toggles(self, under: tuple[str, ...] = ()) -> int:
        """Sum of TC over every bit of every net at or below ``under``."""
        return sum(net.toggles for _, net in self.nets(under))


_WS = r"(?P<ws>\s+|//[^\n]*|/\*.*?\*/)"
_OTHER = r"(?P<close>\))|(?P<other>\(\s*[^\s()]*|[^\s()]+)"
# Inside a NET or PORT section: one net per match, ``(name (T0 n) (T1 n) ... (TC n))``.
_IN_SECTION = re.compile(
    _WS + r"""
    | (?P<net>\(\s*(?P<net_name>(?:\\.|[^\s()\\"])+)\s*
        (?P<fields>(?:\(\s*[A-Z][A-Z0-9]*\s+[-+0-9.eE]+\s*\)\s*)+)\))
    | """ + _OTHER,
    re.VERBOSE | re.DOTALL,
)
# Elsewhere: the file, header entries, instances and sections.
_OUTSIDE = re.compile(
    _WS + r"""
    | (?P<saifile>\(\s*SAIFILE\s)
    | (?P<instance>\(\s*INSTANCE\s+(?:"(?P<design>[^"]*)"\s+)?(?P<inst_name>(?:\\.|[^\s()\\"])+))
    | (?P<section>\(\s*(?P<section_kw>NET|PORT)\s)
    | (?P<header>\(\s*(?P<key>[A-Z_]+)\s*(?P<value>(?:"[^"]*"|[^()"])*)\))
    | """ + _OTHER,
    re.VERBOSE | re.DOTALL,
)
_NET_ENTRY = re.compile(r"""\s*\(\s*((?:\\.|[^\s()\\"])+)\s*((?:\(\s*[A-Z][A-Z0-9]*\s+[-+0-9.eE]+\s*\)\s*)+)\)""")
_VERILATOR_NET = re.compile(r"""\s*\(((?:\\.|[^\s()\\"])+) \(T0 (\d+)\) \(T1 (\d+)\) \(TZ (\d+)\) \(TX (\d+)\) """
                            r"""\(TB (\d+)\) \(TC (\d+)\)\)""")
_FIELD = re.compile(r"\(\s*([A-Z][A-Z0-9]*)\s+([-+0-9.eE]+)\s*\)")
_FIELD_INDEX = {key: i for i, key in enumerate(FIELDS)}  # BitActivity's fields are in FIELDS order
_BIT = re.compile(r"^(?P<base>.*?)(?:\\\[|\[)(?P<bit>\d+)(?:\\\]|\])$", re.DOTALL)
_ESCAPE = re.compile(r"\\(.)", re.DOTALL)


def unescape(name: str) -> str:
    """A SAIF identifier with its backslash escapes removed."""
    return _ESCAPE.sub(r"\1", name) if "\\" in name else name


def split_bit(identifier: str) -> tuple[str, int | None]:
    """``data\\[3\\]`` -> (``data``, 3); ``mem[0]\\[5\\]`` -> (``mem[0]``, 5); ``valid`` -> (``valid``, None)."""
    if not identifier.endswith("]"):
        return unescape(identifier), None
    match = _BIT.match(identifier)
    if match and match.group("base"):
        return unescape(match.group("base")), int(match.group("bit"))
    return unescape(identifier), None


def _split_path(name: str, divider: str) -> tuple[str, ...]:
    if not divider:
        return (unescape(name),)
    parts, current, i = [], [], 0
    while i < len(name):
        ch = name[i]
        if ch == "\\" and i + 1 < len(name):
            current.append(name[i + 1])
            i += 2
            continue
        if ch == divider:
            parts.append("".join(current))
            current = []
        else:
            current.append(ch)
        i += 1
    parts.append("".join(current))
    return tuple(p for p in parts if p)


def parse_saif(text: str, source: str = "<saif>") -> Saif:
    """Parse SAIF ``text`` (``source`` names it in errors); see the module docstring for what is read."""
    header: dict[str, str] = {}
    instances: dict[tuple[str, ...], dict[str, SaifNet]] = {}
    # Stack of open constructs: ("saifile",), ("instance", path), ("section", kind).
    stack: list[tuple] = []
    pos = 0

    def fail(message: str, at: int) -> SaifError:
        line = text.count("\n", 0, at) + 1
        return SaifError(f"{source}:{line}: {message}")

    def add_net(nets: dict[str, SaifNet], path: tuple[str, ...], identifier: str, fields: str, at: int) -> None:
        name, bit = split_bit(identifier)
        values = [0] * len(FIELDS)
        for key, value in _FIELD.findall(fields):
            index = _FIELD_INDEX.get(key)
            if index is None:
                raise fail(f"net {name!r}: unknown field {key} (expected one of {', '.join(FIELDS)})", at)
            values[index] = int(value) if value.isdigit() else int(float(value))
        add_bit(nets, path, name, bit, BitActivity(*values), at)

    def add_bit(nets: dict[str, SaifNet], path: tuple[str, ...], name: str, bit: int | None,
                activity: BitActivity, at: int) -> None:
        net = nets.get(name)
        if net is None:
            net = nets[name] = SaifNet(name)
        elif bit in net.bits:
            label = name if bit is None else f"{name}[{bit}]"
            raise fail(f"bit {label} of instance {'/'.join(path)!r} listed twice", at)
        net.bits[bit] = activity

    def current_path() -> tuple[str, ...]:
        for entry in reversed(stack):
            if entry[0] == "instance":
                return entry[1]
        return ()

    while pos < len(text):
        in_section = bool(stack) and stack[-1][0] == "section"
        m = (_IN_SECTION if in_section else _OUTSIDE).match(text, pos)
        if m is None:  # pragma: no cover - the 'other' branch matches any non-space character
            raise fail(f"cannot read {text[pos:pos + 20]!r}", pos)
        kind = m.lastgroup
        if kind in ("instance", "section", "header") and not stack:
            raise fail("expected (SAIFILE at the start of the file", pos)
        if kind == "ws":
            pass
        elif kind == "saifile":
            if stack:
                raise fail("nested SAIFILE", pos)
            stack.append(("saifile",))
        elif kind == "net":
            path = current_path()
            add_net(instances.setdefault(path, {}), path, m.group("net_name"), m.group("fields"), pos)
        elif kind == "instance":
            if stack[-1][0] not in ("saifile", "instance"):
                raise fail("INSTANCE inside a NET or PORT section", pos)
            divider = header.get("DIVIDER", "/").strip() or "/"
            path = current_path() + _split_path(m.group("inst_name"), divider)
            stack.append(("instance", path))
            instances.setdefault(path, {})
        elif kind == "section":
            if stack[-1][0] != "instance":
                raise fail(f"{m.group('section_kw')} section outside an INSTANCE", pos)
            stack.append(("section", m.group("section_kw")))
            # The bulk of a file: net entries one after another; read them in a tight loop.
            path = current_path()
            nets = instances.setdefault(path, {})
            pos = m.end()
            while True:
                entry = _VERILATOR_NET.match(text, pos)  # fast path: the fields in the order Verilator writes
                if entry is not None:
                    name, bit = split_bit(entry.group(1))
                    t0, t1, tz, tx, tb, tc = map(int, entry.group(2, 3, 4, 5, 6, 7))
                    add_bit(nets, path, name, bit, BitActivity(t0, t1, tx, tz, tb, tc, 0), pos)
                elif (entry := _NET_ENTRY.match(text, pos)) is not None:
                    add_net(nets, path, entry.group(1), entry.group(2), pos)
                else:
                    break
                pos = entry.end()
            continue
        elif kind == "header":
            key = m.group("key")
            if key not in HEADER_KEYS:
                raise fail(f"unsupported SAIF construct ({key} ...); this reader takes backward SAIF with "
                           "INSTANCE/NET/PORT and T0/T1/TX/TZ/TB/TC/IG only", pos)
            if stack[-1][0] != "saifile":
                raise fail(f"({key} ...) inside an instance", pos)
            header[key] = m.group("value").strip().strip('"')
        elif kind == "close":
            if not stack:
                raise fail("unbalanced ')'", pos)
            stack.pop()
        elif not stack:
            raise fail("expected (SAIFILE at the start of the file", pos)
        elif stack[-1][0] == "instance" and re.fullmatch(r"\(\s*[^\s()A-Z][^\s()]*", m.group(0)):
            raise fail(f"net {m.group(0)[1:].strip()!r} outside a NET or PORT section", pos)
        else:
            raise fail(f"unsupported SAIF construct {m.group(0).strip()!r}; this reader takes backward SAIF with "
                       "INSTANCE/NET/PORT and T0/T1/TX/TZ/TB/TC/IG only", pos)
        pos = m.end()
    if stack:
        raise fail(f"file ends inside {len(stack)} open construct(s) (truncated?)", len(text))
    if "SAIFVERSION" not in header:
        raise SaifError(f"{source}: no (SAIFVERSION ...): not a SAIF file")
    if header.get("DIRECTION", "backward").lower() != "backward":
        raise SaifError(f"{source}: DIRECTION {header['DIRECTION']!r}: only backward SAIF carries toggle counts")
    return Saif(header, instances)


def read_saif(path: str | Path) -> Saif:
    """Parse the SAIF file at ``path`` (see :func:`parse_saif`)."""
    p = Path(path)
    return parse_saif(p.read_text(), str(p))


__all__ = ["BitActivity", "Saif", "SaifError", "SaifNet", "parse_saif", "read_saif", "split_bit", "unescape"]
