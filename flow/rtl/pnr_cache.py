"""Place-and-route results reused: Yosys ``synth_ecp5`` + ``nextpnr-ecp5`` of a design that came before.

A result is keyed by the SHA-256 of the cache format, the implementation options (device, package, target clock,
seed, pins), the tools (Yosys' version line; the nextpnr wheel's version, or a native binary's path, size and
time), and the name and contents of every file the run reads: the design's sources, its memory files and the
generated top. Nothing else goes in, and nextpnr is deterministic for a fixed seed, so a hit is the run that
would happen again. An entry is ``<cache>/<key>/``: the files the two tools wrote (netlist, logs, nextpnr's
report, the ``.config`` ecppack reads) and ``placed.json`` (what :func:`flow.stages.implement.place_design`
returned). Entries are written to a temporary folder and renamed into place, so a half-written entry is never
read; an entry without ``placed.json`` or with a foreign format is a miss. The cache directory is
``$QFLOW_PNR_CACHE``, default ``$QFLOW_BUILD/.cache/pnr``; deleting it only costs time.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import shutil
import tempfile
from importlib import metadata
from pathlib import Path

from flow.paths import build_root

__all__ = ["CACHE_ENV", "PnrCache", "pnr_key", "tool_identity"]

log = logging.getLogger(__name__)

CACHE_ENV = "QFLOW_PNR_CACHE"
#: Bump when what an entry holds changes: older entries become misses.
CACHE_FORMAT = 1
PLACED = "placed.json"


def cache_dir() -> Path:
    """``$QFLOW_PNR_CACHE``, else ``$QFLOW_BUILD/.cache/pnr``."""
    return Path(os.environ.get(CACHE_ENV) or build_root() / ".cache" / "pnr")


def tool_identity(command: str, name: str) -> str:
    """What identifies the tool ``command`` (found as ``name``): a YoWASP wheel by its package version, a native
    binary by its path, size and modification time (no process is started)."""
    if name.startswith("yowasp-"):
        try:
            return f"{name} {metadata.version(name)}"
        except metadata.PackageNotFoundError:
            pass
    path = Path(command)
    stat = path.stat() if path.exists() else None
    return f"{name} {path} {stat.st_size if stat else '-'} {stat.st_mtime_ns if stat else '-'}"


def _files(directory: Path, names: list[str]) -> list[Path]:
    """The files behind ``names`` (files or folders, relative to ``directory``), folders walked, sorted."""
    found: list[Path] = []
    for name in names:
        path = directory / name
        found.extend(sorted(p for p in path.rglob("*") if p.is_file()) if path.is_dir() else [path])
    return found


def pnr_key(directory: Path, inputs: list[str], options: dict, tools: list[str]) -> str:
    """SHA-256 over the format, ``options``, ``tools`` and each input file's name (relative to ``directory``) and
    contents. ``inputs`` are paths relative to ``directory`` (folders are walked); a missing one raises
    ``FileNotFoundError`` (the design is incomplete, and the run itself would fail)."""
    h = hashlib.sha256(json.dumps([CACHE_FORMAT, options, tools], sort_keys=True).encode())
    for path in _files(directory, inputs):
        rel = os.path.relpath(path, directory)
        h.update(b"\0" + rel.encode() + b"\0" + hashlib.sha256(path.read_bytes()).digest())
    return h.hexdigest()


class PnrCache:
    """Entries in ``directory`` (default :func:`cache_dir`)."""

    def __init__(self, directory: Path | None = None):
        self.directory = directory or cache_dir()

    def has(self, key: str) -> bool:
        """Whether entry ``key`` is complete (its ``placed.json`` is written last)."""
        return (self.directory / key / PLACED).is_file()

    def restore(self, key: str, out: Path) -> dict | None:
        """Copy entry ``key``'s files into ``out`` and return its ``placed`` dict, or ``None`` on a miss."""
        entry = self.directory / key
        try:
            placed = json.loads((entry / PLACED).read_text())
        except (OSError, ValueError):
            return None
        if not isinstance(placed, dict) or placed.get("cache_format") != CACHE_FORMAT:
            return None
        out.mkdir(parents=True, exist_ok=True)
        for path in entry.iterdir():
            if path.name != PLACED and path.is_file():
                shutil.copy2(path, out / path.name)
        log.info("place and route: cache hit %s", key[:16])
        return placed["placed"]

    def store(self, key: str, out: Path, placed: dict) -> None:
        """Keep ``out``'s files and ``placed`` as entry ``key`` (atomically; an entry already there is kept).
        A cache that cannot be written is logged and skipped: it only costs time later."""
        entry = self.directory / key
        if self.has(key):
            return
        try:
            self.directory.mkdir(parents=True, exist_ok=True)
            tmp = Path(tempfile.mkdtemp(prefix=f".{key[:16]}-", dir=self.directory))
            for path in out.iterdir():
                if path.is_file():
                    shutil.copy2(path, tmp / path.name)
            (tmp / PLACED).write_text(json.dumps({"cache_format": CACHE_FORMAT, "placed": placed}, indent=1))
            try:
                os.rename(tmp, entry)
            except OSError:  # another run stored the same key first
                shutil.rmtree(tmp, ignore_errors=True)
        except OSError as exc:
            log.warning("place-and-route cache %s not written: %s", self.directory, exc)
