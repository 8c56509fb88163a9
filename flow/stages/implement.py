"""``qflow implement``: the compiled design placed and routed on a Lattice ECP5 with open tools.

Yosys ``synth_ecp5`` -> ``nextpnr-ecp5`` (timing-driven at ``freq_mhz``, fixed seed) -> ``ecppack``, on the
generated accelerator inside a generated top whose streams fit the package (:mod:`flow.rtl.nextpnr`).

Artefacts: ``pnr/`` (the generated top, netlist, logs, nextpnr's report, ``<model>.bit``) and
``implement.json``: the achieved Fmax and whether the target clock was met, the critical path (from which
block to which), utilisation in % of the device (LUT4, FF, EBR, DSP), inferences per second = Fmax / cycles
per inference, the times of each tool -- every figure "placed and routed". ``implement.json`` is made from
``network.json`` and the design's sources (``rtl/top.v``, ``rtl/hw/``, the memory files); a missing or stale
``network.json`` is refused. A design that does not fit raises :class:`~flow.rtl.nextpnr.DoesNotFitError`
naming the utilisation it needed.
"""

from __future__ import annotations

import logging
import os
import time
from dataclasses import asdict, dataclass
from pathlib import Path

from flow.errors import QflowError
from flow.rtl.generate import RtlDesign
from flow.rtl.harness import load_design
from flow.rtl.nextpnr import (
    DEVICES,
    PNR_TOP,
    IoPlan,
    pack_bitstream,
    parse_report,
    place_and_route,
    plan_io,
    synth_ecp5,
    tool_identities,
    write_pnr_top,
)
from flow.rtl.pnr_cache import PnrCache, pnr_key
from flow.stages.artefacts import invalidate, locked, write_artefact
from flow.stages.compile import load_network
from flow.stages.estimate import Step
from flow.stages.target import Target

__all__ = ["PnrOptions", "design_inputs", "implement_target", "place_design", "throughput"]

log = logging.getLogger(__name__)

PACKAGES = ("CABGA381", "CABGA256", "CSFBGA285")
STATUS = "placed and routed"


@dataclass(frozen=True)
class PnrOptions:
    """Implementation settings: ``device`` ``"25k"|"45k"|"85k"`` (LFE5U-25F/45F/85F), ``package``, the target
    clock ``freq_mhz``, nextpnr's ``seed``, and ``io_pins``: data pins per stream of the generated top."""

    device: str = "85k"
    freq_mhz: float = 100.0
    package: str = "CABGA381"
    seed: int = 1
    io_pins: int = 32

    def __post_init__(self) -> None:
        if self.device not in DEVICES:
            raise QflowError(f"--device: expected one of {', '.join(DEVICES)}, got {self.device!r}")
        if self.package not in PACKAGES:
            raise QflowError(f"--package: expected one of {', '.join(PACKAGES)}, got {self.package!r}")
        if not 1.0 <= self.freq_mhz <= 1000.0:
            raise QflowError(f"--freq: expected a target clock in MHz in [1, 1000], got {self.freq_mhz:g}")
        if not 1 <= self.io_pins <= 128:
            raise QflowError(f"io_pins: expected 1..128 data pins per stream, got {self.io_pins}")

    def as_dict(self) -> dict:
        return asdict(self)


def design_inputs(root: Path) -> list[str]:
    """What ``implement.json`` is made from (relative to ``root``): ``network.json`` and the design's sources."""
    mems = sorted(f"rtl/{p.name}" for p in (root / "rtl").glob("*.mem"))
    return ["network.json", "rtl/top.v", "rtl/hw", *mems]


def throughput(fmax_mhz: float, cycles_per_inference: float, plan: IoPlan | None = None) -> dict:
    """Inferences per second at ``fmax_mhz``: ``fmax / max(cycles per inference, the pins' cycles)``."""
    io = plan.io_cycles_per_inference if plan is not None else 0
    cycles = max(float(cycles_per_inference), float(io))
    return {"cycles_per_inference": cycles, "io_limited": io > cycles_per_inference,
            "inferences_per_second": round(fmax_mhz * 1e6 / cycles, 1)}


def _plain(name: str, fn):
    return fn()


def place_design(design: RtlDesign, out: Path, options: PnrOptions, step: Step = _plain) -> dict:
    """Yosys ``synth_ecp5`` of ``design`` inside the generated top (written to ``out``), then nextpnr-ecp5:
    the device, the parsed report (clock, critical path, utilisation), the I/O plan, the synthesis and P&R runs.
    The unit the ``implement`` stage and the sweep's place-and-route points share. Raises
    :class:`~flow.rtl.nextpnr.DoesNotFitError` / :class:`~flow.rtl.nextpnr.ImplementationError`."""
    device = DEVICES[options.device]
    plan = plan_io(design.interface, options.io_pins)
    wrapper = write_pnr_top(out / f"{PNR_TOP}.v", design.top, plan)
    sources = [*design.sources, os.path.relpath(wrapper, design.directory)]
    mems = sorted(p.name for p in design.directory.glob("*.mem"))
    key = pnr_key(design.directory, [*sources, *mems], options.as_dict(), tool_identities())
    cache = PnrCache()
    pnr_line = f"nextpnr-ecp5 on the {device.part} {options.package} at {options.freq_mhz:g} MHz (timing-driven)"
    if cache.has(key):
        # Same sources, memories, top, options and tools as a run before: its results, not a new run.
        cached = step("Yosys synth_ecp5 (ECP5 cells): same sources, options and tools as before, from the cache",
                      lambda: cache.restore(key, out))
        if cached is not None:
            step(f"{pnr_line}: from the cache ({cache.directory / key[:16]}...)", lambda: None)
            return {**cached, "cache": {"hit": True, "key": key}}
    synth = step("Yosys synth_ecp5 (ECP5 cells)", lambda: synth_ecp5(design.directory, sources, out))
    report, pnr_seconds, tool = step(pnr_line, lambda: place_and_route(out, device, options.package,
                                                                         options.freq_mhz, options.seed))
    placed = {
        "device": {"family": "Lattice ECP5", "part": device.part, "package": options.package, "speed_grade": 6},
        **parse_report(report, options.freq_mhz, [b.instance for b in design.blocks]),
        "io": {"how": plan.describe(), "in_pin_width": plan.in_pin_width, "out_pin_width": plan.out_pin_width,
               "io_cycles_per_inference": plan.io_cycles_per_inference, **asdict(plan)},
        "synthesis": synth,
        "pnr": {"tool": tool, "seconds": round(pnr_seconds, 1), "seed": options.seed,
                "log": f"{out.name}/nextpnr.log"},
    }
    cache.store(key, out, placed)
    return {**placed, "cache": {"hit": False, "key": key}}


@locked
def implement_target(target: Target, options: PnrOptions | None = None, step: Step = _plain) -> dict:
    """Synthesize, place and route and pack the compiled design of ``target``; return ``implement.json``'s
    contents. Earlier ``implement.json``/``pnr/`` (and the report) are removed first. Three ``step`` lines:
    synth_ecp5, nextpnr-ecp5, ecppack."""
    options = options or PnrOptions()
    root = target.paths.root
    net, network = load_network(root)
    invalidate(root, "implement")
    design = load_design(target.paths.rtl, net)
    start = time.perf_counter()
    placed = place_design(design, root / "pnr", options, step)
    bit = f"{target.name}.bit"
    size, pack_seconds = step("ecppack -> bitstream", lambda: pack_bitstream(root / "pnr", bit))
    fmax = placed["clock"]["fmax_mhz"]
    if not placed["clock"]["met"]:
        log.warning("%s: Fmax %.1f MHz misses the %g MHz target", target.name, fmax, options.freq_mhz)
    plan = plan_io(design.interface, options.io_pins)
    data = {
        "status": STATUS,
        **placed,
        "throughput": {**throughput(fmax, network["cycles_per_inference_predicted"], plan),
                       "how": "Fmax (placed and routed) / max(cycles per inference predicted by the beat-timing "
                              "model and checked by simulation, pin beats per inference)"},
        "bitstream": {"path": f"pnr/{bit}", "bytes": size, "seconds": round(pack_seconds, 1)},
        "seconds": round(time.perf_counter() - start, 1),
        "options": options.as_dict(),
    }
    return write_artefact(root, "implement.json", data, design_inputs(root))
