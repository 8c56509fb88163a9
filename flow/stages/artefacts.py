"""Stage artefacts: each records the digests of the inputs it was made from, and a stage refuses a missing or
stale input.

A stage's JSON artefact carries ``"made_from": {relative path: sha256}`` for the files (or directories) it
read. :func:`require` loads an artefact and checks that every input it names still has that digest, so a
stage never runs on, and a report never shows, results made from other inputs than the ones on disk.
:func:`invalidate` removes the artefacts downstream of a stage before it runs, so a failed run cannot leave an
older result next to a newer one.
"""

from __future__ import annotations

import contextlib
import fcntl
import functools
import hashlib
import json
import os
import shutil
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, TypeVar

import flow
from flow.errors import QflowError
from flow.io import write_json
from flow.paths import HW_ROOT

__all__ = ["DOWNSTREAM", "BuildLockedError", "StaleError", "build_lock", "digest", "invalidate", "locked",
           "require", "up_to_date", "write_artefact"]

T = TypeVar("T")

#: What each stage writes, in stage order; a stage invalidates its own and every later stage's artefacts.
DOWNSTREAM: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("compile", ("rtl", "network.json", "model.hw.onnx", "vectors.npz")),
    ("simulate", ("sim.json", "sim_outputs.npz")),
    ("crosscheck", ("three_way.json",)),
    ("estimate", ("synth.json", "energy.json")),
    ("implement", ("implement.json", "pnr")),
    ("report", ("report.json", "report.md", "report.html")),
)


class StaleError(QflowError):
    """An artefact is missing, or was made from inputs that have changed since."""


class BuildLockedError(QflowError):
    """Another qflow run is writing the same build directory."""


#: The package's sources: a digest over them names the generator that made an artefact.
FLOW_ROOT = Path(flow.__file__).resolve().parent


@functools.lru_cache(maxsize=1)
def generator_digest() -> str:
    """SHA-256 over qflow's own sources (``flow/**/*.py``, the RTL templates, ``hw/**/*.v``), names included: an
    artefact made by other code (an edited block in ``hw/``, a changed lowering) is stale even at the same
    version number. Computed once per process."""
    h = hashlib.sha256()
    files = [*FLOW_ROOT.rglob("*.py"), *(FLOW_ROOT / "rtl" / "templates").glob("*"), *HW_ROOT.rglob("*.v")]
    for path in sorted(p for p in files if p.is_file()):
        name = path.relative_to(FLOW_ROOT.parent) if path.is_relative_to(FLOW_ROOT.parent) else path.name
        h.update(str(name).encode() + b"\0" + path.read_bytes() + b"\0")
    return h.hexdigest()


_HELD: dict[Path, int] = {}  # build directories this process has locked -> how many holders


@contextlib.contextmanager
def build_lock(root: Path) -> Iterator[None]:
    """Hold ``root/.qflow.lock`` (an exclusive ``flock``) while a stage writes ``root``; a second run on the
    same directory gets :class:`BuildLockedError` at once, naming the holder. Re-entrant within a process
    (``synth`` holds it around the stages, which take it again). The kernel drops the lock when the holder
    dies, however it dies."""
    root = Path(root).resolve()
    if root in _HELD:
        _HELD[root] += 1
        try:
            yield
        finally:
            _HELD[root] -= 1
        return
    root.mkdir(parents=True, exist_ok=True)
    fd = os.open(root / ".qflow.lock", os.O_RDWR | os.O_CREAT, 0o644)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.pread(fd, 64, 0).decode(errors="replace").strip() or "?"
            raise BuildLockedError(f"{root}: another qflow run (pid {holder}) is writing this build directory; "
                                   "wait for it or use another QFLOW_BUILD") from None
        os.ftruncate(fd, 0)
        os.pwrite(fd, str(os.getpid()).encode(), 0)
        _HELD[root] = 1
        try:
            yield
        finally:
            del _HELD[root]
    finally:
        os.close(fd)


def digest(path: Path) -> str:
    """sha256 of a file, or of a directory's files (relative names and contents, in sorted order)."""
    h = hashlib.sha256()
    if path.is_dir():
        for f in sorted(p for p in path.rglob("*") if p.is_file()):
            h.update(str(f.relative_to(path)).encode() + b"\0")
            h.update(hashlib.sha256(f.read_bytes()).digest())
    else:
        h.update(path.read_bytes())
    return h.hexdigest()


def write_artefact(root: Path, name: str, data: dict[str, Any], made_from: list[str]) -> dict[str, Any]:
    """Write ``root/name`` (atomically) with ``made_from``: the digests of those inputs (paths relative to
    ``root``), which must exist. Returns what was written."""
    stamps = {}
    for rel in made_from:
        path = root / rel
        if not path.exists():
            raise StaleError(f"{path}: missing while writing {name} (expected it to be made before)")
        stamps[rel] = digest(path)
    written = {**data, "qflow": flow.__version__, "made_from": stamps}
    write_json(root / name, written)
    return written


def require(root: Path, name: str, stage: str) -> dict[str, Any]:
    """Load ``root/name`` and check that the inputs it was made from are unchanged.

    Raises :class:`StaleError` naming the file, what was expected and what arrived, and the command that
    makes it again (``qflow <stage>``)."""
    path = root / name
    if not path.is_file():
        raise StaleError(f"{path}: missing; run `qflow {stage}` first")
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError) as exc:
        raise StaleError(f"{path}: unreadable ({exc}); run `qflow {stage}` again") from exc
    if data.get("qflow", flow.__version__) != flow.__version__:
        raise StaleError(f"{path}: made by qflow {data['qflow']}, this is qflow {flow.__version__}; "
                         f"run `qflow {stage}` again")
    for rel, expected in data.get("made_from", {}).items():
        source = root / rel
        if not source.exists():
            raise StaleError(f"{path}: made from {source}, which is gone; run `qflow {stage}` again")
        if digest(source) != expected:
            raise StaleError(f"{path}: made from another {source} than the one on disk (stale); "
                             f"run `qflow {stage}` again")
    return data


def locked(stage_fn: Callable[..., T]) -> Callable[..., T]:
    """Run a stage function (first argument a :class:`~flow.stages.target.Target` or a build directory) under
    :func:`build_lock` of its build directory."""

    @functools.wraps(stage_fn)
    def wrapper(target, *args, **kwargs):
        root = target.paths.root if hasattr(target, "paths") else Path(target)
        with build_lock(root):
            return stage_fn(target, *args, **kwargs)

    return wrapper


def up_to_date(root: Path, name: str, stage: str, options: dict[str, Any]) -> bool:
    """Whether ``root/name`` exists, is fresh (:func:`require`) and was made with these ``options``: a stage
    may then be skipped."""
    try:
        return require(root, name, stage).get("options") == json.loads(json.dumps(options))
    except StaleError:
        return False


def invalidate(root: Path, stage: str) -> None:
    """Remove the artefacts of ``stage`` and of every stage after it."""
    names = [s for s, _ in DOWNSTREAM]
    if stage not in names:
        raise ValueError(f"invalidate: expected one of {names}, got {stage!r}")
    for _, files in DOWNSTREAM[names.index(stage):]:
        for rel in files:
            path = root / rel
            if path.is_dir():
                shutil.rmtree(path)
            elif path.exists():
                path.unlink()
