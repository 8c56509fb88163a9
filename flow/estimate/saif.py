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


class _SaifParser:
    """One pass over a SAIF text: the header, the nets read so far by instance path, and the stack of open
    constructs (``("saifile",)``, ``("instance", path)``, ``("section", kind)``)."""

    def __init__(self, text: str, source: str) -> None:
        self.text, self.source = text, source
        self.header: dict[str, str] = {}
        self.instances: dict[tuple[str, ...], dict[str, SaifNet]] = {}
        self.stack: list[tuple] = []

    def fail(self, message: str, at: int) -> SaifError:
        """The error for ``message`` at offset ``at``, naming the file and line."""
        line = self.text.count("\n", 0, at) + 1
        return SaifError(f"{self.source}:{line}: {message}")

    def add_net(self, nets: dict[str, SaifNet], path: tuple[str, ...], identifier: str, fields: str,
                at: int) -> None:
        """Add one net entry given as its identifier and its ``(KEY n)`` fields, in any order."""
        name, bit = split_bit(identifier)
        values = [0] * len(FIELDS)
        for key, value in _FIELD.findall(fields):
            index = _FIELD_INDEX.get(key)
            if index is None:
                raise self.fail(f"net {name!r}: unknown field {key} (expected one of {', '.join(FIELDS)})", at)
            values[index] = int(value) if value.isdigit() else int(float(value))
        self.add_bit(nets, path, name, bit, BitActivity(*values), at)

    def add_bit(self, nets: dict[str, SaifNet], path: tuple[str, ...], name: str, bit: int | None,
                activity: BitActivity, at: int) -> None:
        """Record one bit's activity; a bit listed twice in one instance is an error."""
        net = nets.get(name)
        if net is None:
            net = nets[name] = SaifNet(name)
        elif bit in net.bits:
            label = name if bit is None else f"{name}[{bit}]"
            raise self.fail(f"bit {label} of instance {'/'.join(path)!r} listed twice", at)
        net.bits[bit] = activity

    def current_path(self) -> tuple[str, ...]:
        """The path of the innermost open instance (``()`` outside every instance)."""
        for entry in reversed(self.stack):
            if entry[0] == "instance":
                return entry[1]
        return ()

    def read_section(self, m: re.Match, pos: int) -> int:
        """Open the NET/PORT section that ``m`` starts and read its net entries; return the offset after them."""
        if self.stack[-1][0] != "instance":
            raise self.fail(f"{m.group('section_kw')} section outside an INSTANCE", pos)
        self.stack.append(("section", m.group("section_kw")))
        # The bulk of a file: net entries one after another; read them in a tight loop.
        text, path = self.text, self.current_path()
        nets = self.instances.setdefault(path, {})
        pos = m.end()
        while True:
            entry = _VERILATOR_NET.match(text, pos)  # fast path: the fields in the order Verilator writes
            if entry is not None:
                name, bit = split_bit(entry.group(1))
                t0, t1, tz, tx, tb, tc = map(int, entry.group(2, 3, 4, 5, 6, 7))
                self.add_bit(nets, path, name, bit, BitActivity(t0, t1, tx, tz, tb, tc, 0), pos)
            elif (entry := _NET_ENTRY.match(text, pos)) is not None:
                self.add_net(nets, path, entry.group(1), entry.group(2), pos)
            else:
                return pos
            pos = entry.end()

    def read_token(self, kind: str, m: re.Match, pos: int) -> None:
        """Apply one token other than a section start (``kind``: the regex group that matched) at ``pos``."""
        stack = self.stack
        if kind == "ws":
            pass
        elif kind == "saifile":
            if stack:
                raise self.fail("nested SAIFILE", pos)
            stack.append(("saifile",))
        elif kind == "net":
            path = self.current_path()
            self.add_net(self.instances.setdefault(path, {}), path, m.group("net_name"), m.group("fields"), pos)
        elif kind == "instance":
            if stack[-1][0] not in ("saifile", "instance"):
                raise self.fail("INSTANCE inside a NET or PORT section", pos)
            divider = self.header.get("DIVIDER", "/").strip() or "/"
            path = self.current_path() + _split_path(m.group("inst_name"), divider)
            stack.append(("instance", path))
            self.instances.setdefault(path, {})
        elif kind == "header":
            key = m.group("key")
            if key not in HEADER_KEYS:
                raise self.fail(f"unsupported SAIF construct ({key} ...); this reader takes backward SAIF with "
                                "INSTANCE/NET/PORT and T0/T1/TX/TZ/TB/TC/IG only", pos)
            if stack[-1][0] != "saifile":
                raise self.fail(f"({key} ...) inside an instance", pos)
            self.header[key] = m.group("value").strip().strip('"')
        elif kind == "close":
            if not stack:
                raise self.fail("unbalanced ')'", pos)
            stack.pop()
        elif not stack:
            raise self.fail("expected (SAIFILE at the start of the file", pos)
        elif stack[-1][0] == "instance" and re.fullmatch(r"\(\s*[^\s()A-Z][^\s()]*", m.group(0)):
            raise self.fail(f"net {m.group(0)[1:].strip()!r} outside a NET or PORT section", pos)
        else:
            raise self.fail(f"unsupported SAIF construct {m.group(0).strip()!r}; this reader takes backward SAIF "
                            "with INSTANCE/NET/PORT and T0/T1/TX/TZ/TB/TC/IG only", pos)

    def parse(self) -> Saif:
        """Read the whole text and check that it is a complete backward SAIF file."""
        text, stack, pos = self.text, self.stack, 0
        while pos < len(text):
            in_section = bool(stack) and stack[-1][0] == "section"
            m = (_IN_SECTION if in_section else _OUTSIDE).match(text, pos)
            if m is None:  # pragma: no cover - the 'other' branch matches any non-space character
                raise self.fail(f"cannot read {text[pos:pos + 20]!r}", pos)
            kind = m.lastgroup
            if kind in ("instance", "section", "header") and not stack:
                raise self.fail("expected (SAIFILE at the start of the file", pos)
            if kind == "section":
                pos = self.read_section(m, pos)
                continue
            self.read_token(kind, m, pos)
            pos = m.end()
        if stack:
            raise self.fail(f"file ends inside {len(stack)} open construct(s) (truncated?)", len(text))
        if "SAIFVERSION" not in self.header:
            raise SaifError(f"{self.source}: no (SAIFVERSION ...): not a SAIF file")
        if self.header.get("DIRECTION", "backward").lower() != "backward":
            raise SaifError(f"{self.source}: DIRECTION {self.header['DIRECTION']!r}: only backward SAIF carries "
                            "toggle counts")
        return Saif(self.header, self.instances)


def parse_saif(text: str, source: str = "<saif>") -> Saif:
    """Parse SAIF ``text`` (``source`` names it in errors); see the module docstring for what is read."""
    return _SaifParser(text, source).parse()


def read_saif(path: str | Path) -> Saif:
    """Parse the SAIF file at ``path`` (see :func:`parse_saif`)."""
    p = Path(path)
    return parse_saif(p.read_text(), str(p))


__all__ = ["BitActivity", "Saif", "SaifError", "SaifNet", "parse_saif", "read_saif", "split_bit", "unescape"]
