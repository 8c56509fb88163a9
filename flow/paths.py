"""Where artefacts live: ``build/<recipe>/`` (``$QFLOW_BUILD`` overrides ``./build``)."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

#: Folder holding the hand-written Verilog (``hw/<dir>/<block>.v``).
HW_ROOT = Path(__file__).resolve().parents[1] / "hw"


def build_root() -> Path:
    return Path(os.environ.get("QFLOW_BUILD", "build"))


@dataclass(frozen=True)
class RecipePaths:
    """The artefacts of one recipe, one file per stage."""

    root: Path

    @property
    def checkpoint(self) -> Path:
        return self.root / "model.pt"

    @property
    def metrics(self) -> Path:
        return self.root / "metrics.json"

    @property
    def qonnx(self) -> Path:
        return self.root / "model.qonnx.onnx"

    @property
    def export_check(self) -> Path:
        return self.root / "export.json"

    @property
    def rtl(self) -> Path:
        return self.root / "rtl"

    @property
    def hls(self) -> Path:
        return self.root / "hls"


def recipe_paths(name: str, root: Path | None = None) -> RecipePaths:
    return RecipePaths((root or build_root()) / name)
