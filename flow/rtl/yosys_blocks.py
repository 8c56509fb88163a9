"""Synthesize a generated design block by block, each block instance's result cached, the Xilinx and the NAND2
Yosys jobs side by side.

:func:`synthesize` is what the estimate stage runs. Each block instance of the top level is a
:class:`BlockJob`: its module, Verilog parameters, ports, ``hw/`` sources (the copies in ``rtl/hw``) and
memory contents. :meth:`BlockJob.key` is the SHA-256 of all of them, of the Yosys script and of the Yosys
version; a result is stored as ``<cache>/<key>.json`` (written atomically; an unreadable or foreign entry is
ignored and written again). Identical instances (same module, parameters and memory contents, whatever their
layer's name) share a key and are synthesized once; a rerun reuses every block, and a change to one layer
synthesizes that layer alone. The cache directory is ``$QFLOW_YOSYS_CACHE``, default
``$QFLOW_BUILD/.cache/yosys``.

The blocks not in the cache are synthesized together, one Yosys run per flavour (``synth_xilinx``, and the
generic CMOS synthesis for NAND2 equivalents): a batch top (:data:`BATCH_TOP`) instantiates each once, every
port a top-level port, each instance kept as its own module and flattened inside -- as in the whole design
(:func:`flow.rtl.yosys.synth_xilinx`) -- so the counts are per instance and one Yosys start-up (about 8 s of
``synth_xilinx``'s cell-library parsing in yowasp) serves them all. Each block is named after its key in the
batch (instance ``b_<key>``, memory file ``b_<key>.mem``), so its netlist does not depend on what else is in
the batch. The two flavours' runs go to ``$QFLOW_YOSYS_JOBS`` threads (default 2) through
:func:`flow.proc.run_parallel`: the first failure stops the other and is the error raised.

The generated top level (``top.v``) is wiring only -- stream wires between instances and ``assign``s of the
ports, no logic (``templates/top.v.j2``) -- so the design's cells are the sum of its instances' cells (no I/O
buffers: those belong to a chip's pins, not to the accelerator). ``whole_design=True`` runs the single Yosys
run per flavour of the whole design instead (no cache; the NAND2 synthesis then flattens across blocks and its
logic depth follows paths through several blocks), the two flavours side by side too.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import shutil
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from flow import proc
from flow.errors import QflowError
from flow.io import write_json
from flow.paths import build_root
from flow.rtl.plan import Block
from flow.rtl.yosys import SynthesisError, asic_script, synth_asic, synth_xilinx, xilinx_script, yosys_version

__all__ = ["BATCH_TOP", "CACHE_ENV", "JOBS_ENV", "WRAPPER_TOP", "BlockJob", "SynthCache", "cache_dir", "synthesize",
           "wrapper_verilog", "yosys_jobs"]

log = logging.getLogger(__name__)

CACHE_ENV = "QFLOW_YOSYS_CACHE"
JOBS_ENV = "QFLOW_YOSYS_JOBS"
WRAPPER_TOP = "qflow_block"
BATCH_TOP = "qflow_blocks"
#: The memory file name a job's parameters carry (the batch renames it per block).
MEMORY_NAME = "block.mem"
#: Bump when what a cache entry holds changes (the summaries' keys): older entries become misses.
CACHE_FORMAT = 1
FLAVOURS = ("xilinx", "asic")
#: Cell-summary keys that add up across blocks (integers), and those that are per-type counts (dicts).
_INT_KEYS = ("LUT", "FF", "CARRY4", "DSP48E1", "BRAM18_equivalent", "LUTRAM", "SRL", "MUXF7", "MUXF8")
_DICT_KEYS = ("LUT_by_size", "BRAM_cells", "cells")

Port = tuple[str, str, int]  # (AXI-Stream prefix, "in" | "out", tdata width)


def cache_dir() -> Path:
    """``$QFLOW_YOSYS_CACHE``, else ``$QFLOW_BUILD/.cache/yosys``."""
    return Path(os.environ.get(CACHE_ENV) or build_root() / ".cache" / "yosys")


def yosys_jobs() -> int:
    """``$QFLOW_YOSYS_JOBS`` (Yosys runs at a time), default 2; anything but an integer >= 1 is refused."""
    text = os.environ.get(JOBS_ENV, "2").strip()
    if not text.isdigit() or int(text) < 1:
        raise QflowError(f"${JOBS_ENV}: expected an integer >= 1 (Yosys runs at a time), got {text!r}")
    return int(text)


def _top_verilog(top: str, instances: list[tuple[str, str, dict[str, int | str], list[Port], str]]) -> str:
    """A top module with ``clk``, ``rst_n`` and, per ``(instance, module, parameters, ports, prefix)``, one
    instance whose AXI-Stream ports are top-level ports named ``<prefix><port prefix>_t*``."""
    decls, bodies = [], []
    for inst, module, vparams, ports, prefix in instances:
        plist = ",\n".join(f"        .{k}({v if isinstance(v, int) else chr(34) + v + chr(34)})"
                           for k, v in vparams.items())
        conns = []
        for port, direction, width in ports:
            data, ready = ("input", "output") if direction == "in" else ("output", "input")
            outer = f"{prefix}{port}"
            decls.append(f"    {data} wire [{width - 1}:0] {outer}_tdata, {data} wire {outer}_tvalid, "
                         f"{ready} wire {outer}_tready")
            conns.append(f"        .{port}_tdata({outer}_tdata), .{port}_tvalid({outer}_tvalid), "
                         f".{port}_tready({outer}_tready)")
        conn_text = ",\n".join(conns)
        bodies.append(f"    {module} #(\n{plist}\n    ) {inst} (\n        .clk(clk), .rst_n(rst_n),\n{conn_text}\n"
                      "    );\n")
    decl_text = ",\n".join(decls)
    return (f"`default_nettype none\nmodule {top} (\n    input  wire clk, input wire rst_n,\n{decl_text}\n);\n"
            + "".join(bodies) + "endmodule\n`default_nettype wire\n")


def wrapper_verilog(module: str, vparams: dict[str, int | str], ports: dict[str, tuple[str, Any]]) -> str:
    """A top (:data:`WRAPPER_TOP`) with one instance ``dut`` of ``module`` whose AXI-Stream ports
    (``{prefix: ("in" | "out", stream with .width)}``) are the top's ports, plus ``clk`` and ``rst_n``."""
    plain = [(prefix, direction, stream.width) for prefix, (direction, stream) in ports.items()]
    return _top_verilog(WRAPPER_TOP, [("dut", module, vparams, plain, "")])


@dataclass(frozen=True)
class BlockJob:
    """What Yosys reads to synthesize one block instance: its module, Verilog parameters (the memory file
    named :data:`MEMORY_NAME`), AXI-Stream ports, ``hw/`` sources (name, text; compile order) and memory
    contents (``None``: no memory); ``weight`` (estimated LUT + FF) orders nothing, it is logged."""

    module: str
    parameters: tuple[tuple[str, int | str], ...]
    ports: tuple[Port, ...]
    sources: tuple[tuple[str, bytes], ...]
    memory: bytes | None
    weight: int = 0

    @classmethod
    def of(cls, block: Block, rtl_dir: Path) -> BlockJob:
        """The job of ``block`` of the design in ``rtl_dir`` (its ``hw/`` copies and memory file; a memory file
        that is Verilog -- a module generated per layer -- is one more source, under its own name); a missing
        file raises :class:`SynthesisError` naming it."""
        spec, mem_file = block.spec, block.memory_file
        sources = tuple((src.name, _read(rtl_dir / "hw" / src.name, block)) for src in spec.sources)
        memory = None
        if mem_file is not None and mem_file.endswith(".v"):
            sources += ((mem_file, _read(rtl_dir / mem_file, block)),)
        elif mem_file is not None:
            memory, mem_file = _read(rtl_dir / mem_file, block), MEMORY_NAME
        vparams = spec.verilog_parameters(block.params, mem_file)
        ports = tuple((prefix, direction, stream.width)
                      for prefix, (direction, stream) in spec.port_map(block.params).items())
        est = spec.estimate(block.params, block.data)
        return cls(spec.module_of(block.params), tuple(vparams.items()), ports, sources, memory,
                   round(est.lut + est.ff))

    def key(self, flavour: str, yosys: str) -> str:
        """SHA-256 over the cache format, ``flavour`` and its script, the Yosys version line, the module, its
        parameters and ports, and the contents of every source and of the memory."""
        script = (xilinx_script if flavour == "xilinx" else _asic_blocks_script)(["SOURCES"], "TOP")
        head = [CACHE_FORMAT, flavour, script, yosys, self.module, list(self.parameters), list(self.ports)]
        h = hashlib.sha256(json.dumps(head).encode())
        for name, data in self.sources:
            h.update(b"\0" + name.encode() + b"\0" + hashlib.sha256(data).digest())
        h.update(b"\0memory\0" + (b"-" if self.memory is None else hashlib.sha256(self.memory).digest()))
        return h.hexdigest()

    def instance(self, name: str, memory_file: str | None) -> tuple[str, str, dict[str, int | str], list[Port], str]:
        """This block as an instance ``name`` of a batch top, its memory file renamed ``memory_file``."""
        vparams = {k: memory_file if v == MEMORY_NAME and memory_file else v for k, v in self.parameters}
        return name, self.module, vparams, list(self.ports), f"{name}_"


def _asic_blocks_script(sources: list[str], top: str) -> str:
    return asic_script(sources, top, keep_blocks=True)


def _read(path: Path, block: Block) -> bytes:
    if not path.is_file():
        raise SynthesisError(f"{path}: missing (block {block.instance}, module {block.module} reads it); run "
                             "`qflow compile` again")
    return path.read_bytes()


class SynthCache:
    """Yosys results by key, one JSON file each in ``directory`` (written atomically, so concurrent writers of
    one key -- the same result -- never leave half a file)."""

    def __init__(self, directory: Path) -> None:
        self.directory = Path(directory)

    def path(self, key: str) -> Path:
        return self.directory / f"{key}.json"

    def load(self, key: str) -> dict | None:
        """The stored result for ``key``; ``None`` when absent, unreadable or not an entry of this key and
        format (logged; the caller synthesizes again and overwrites it)."""
        path = self.path(key)
        if not path.is_file():
            return None
        try:
            entry = json.loads(path.read_text())
            if entry["format"] == CACHE_FORMAT and entry["key"] == key and isinstance(entry["result"], dict):
                return entry["result"]
        except (OSError, ValueError, KeyError, TypeError):
            pass
        log.warning("%s: unreadable or foreign Yosys cache entry; synthesizing again", path)
        return None

    def store(self, key: str, result: dict, about: dict) -> None:
        """Write ``result`` under ``key`` (``about``: what it is, for a reader of the file)."""
        write_json(self.path(key), {"format": CACHE_FORMAT, "key": key, **about, "result": result})


def _run_batch(flavour: str, jobs: dict[str, BlockJob], workdir: Path, timeout: int,
               cancel: threading.Event) -> tuple[dict[str, dict], float]:
    """Synthesize ``jobs`` (key -> job) in one Yosys run in ``workdir`` (removed on success, kept with Yosys'
    log on failure): (key -> per-block result, Yosys seconds)."""
    if workdir.exists():
        shutil.rmtree(workdir)
    workdir.mkdir(parents=True)
    sources: dict[str, bytes] = {}
    instances = []
    for key, job in jobs.items():
        for name, text in job.sources:
            if sources.setdefault(name, text) != text:
                raise SynthesisError(f"{workdir}: two different texts of {name} in one design")
        name = f"b_{key[:24]}"
        memory = None if job.memory is None else f"{name}.mem"
        if memory is not None:
            (workdir / memory).write_bytes(job.memory)  # type: ignore[arg-type]
        instances.append(job.instance(name, memory))
    for name, text in sources.items():
        (workdir / name).write_bytes(text)
    (workdir / "top.v").write_text(_top_verilog(BATCH_TOP, instances))
    files = [*sources, "top.v"]
    if flavour == "xilinx":
        full = synth_xilinx(workdir, files, BATCH_TOP, timeout, cancel)
        out = {key: {**full["blocks"][f"b_{key[:24]}"], "dsp_mapping": full["dsp_mapping"]} for key in jobs}
    else:
        full = synth_asic(workdir, files, BATCH_TOP, timeout, cancel, keep_blocks=True)
        out = {key: full["blocks"][f"b_{key[:24]}"] for key in jobs}
    shutil.rmtree(workdir, ignore_errors=True)
    return out, full["seconds"]


def synthesize(rtl_dir: Path, blocks: list[Block], sources: list[str], top: str, asic: bool = True,
               whole_design: bool = False, cache: SynthCache | None = None, jobs: int | None = None,
               timeout: int = 3600) -> tuple[dict, dict | None]:
    """Yosys ``synth_xilinx`` (and, with ``asic``, the NAND2 synthesis) of the design in ``rtl_dir``:
    ``(xilinx result, asic result or None)`` in the shapes of :func:`flow.rtl.yosys.synth_xilinx` and
    :func:`flow.rtl.yosys.synth_asic` (totals, ``blocks`` by instance) plus ``mode``; per block also
    ``cache`` (instances, unique jobs, hits, misses, directory) -- see the module docstring. ``blocks``: the
    design's planned instances (:class:`flow.rtl.generate.RtlDesign`'s); ``sources``/``top``: its files, for
    ``whole_design``. ``cache``: default :func:`cache_dir`'s; ``jobs``: default :func:`yosys_jobs`. Raises
    :class:`SynthesisError` (the first Yosys run to fail; the other is stopped)."""
    jobs = yosys_jobs() if jobs is None else jobs
    if whole_design:
        return _whole(rtl_dir, sources, top, asic, jobs, timeout)
    start = time.perf_counter()
    flavours = FLAVOURS if asic else FLAVOURS[:1]
    cache = SynthCache(cache_dir()) if cache is None else cache
    yosys = yosys_version()
    per_block = {b.instance: BlockJob.of(b, rtl_dir) for b in blocks}
    keys = {(f, inst): job.key(f, yosys) for inst, job in per_block.items() for f in flavours}
    found: dict[str, dict] = {}
    todo: dict[str, dict[str, BlockJob]] = {f: {} for f in flavours}
    for (flavour, inst), key in keys.items():
        if key not in found and key not in todo[flavour]:
            hit = cache.load(key)
            if hit is None:
                todo[flavour][key] = per_block[inst]
            else:
                found[key] = hit
    hits = set(found)
    seconds = _run_missing(rtl_dir / "yosys_blocks", todo, cache, yosys, jobs, timeout, found)
    wall = round(time.perf_counter() - start, 1)
    counts = {"directory": str(cache.directory), "instances": len(per_block), "unique": len(set(keys.values())),
              "hits": len(hits), "misses": sum(len(t) for t in todo.values())}
    xilinx = _xilinx_totals(per_block, keys, found, hits, yosys) | {
        "seconds": wall, "yosys_seconds": seconds.get("xilinx", 0.0), "jobs": jobs, "cache": counts}
    if not asic:
        return xilinx, None
    return xilinx, _asic_totals(per_block, keys, found, yosys) | {"seconds": wall,
                                                                   "yosys_seconds": seconds.get("asic", 0.0)}


def _run_missing(workroot: Path, todo: dict[str, dict[str, BlockJob]], cache: SynthCache, yosys: str, jobs: int,
                 timeout: int, found: dict[str, dict]) -> dict[str, float]:
    """One batch per flavour with work, ``jobs`` at a time; each block's result stored as the batch ends and
    added to ``found``. Returns Yosys seconds per flavour."""
    if workroot.exists():
        shutil.rmtree(workroot, ignore_errors=True)  # earlier failures' work directories
    batches = [(flavour, batch) for flavour, batch in todo.items() if batch]

    def task(flavour: str, batch: dict[str, BlockJob]) -> Callable[[threading.Event], tuple[dict, float]]:
        def run(cancel: threading.Event) -> tuple[dict, float]:
            results, seconds = _run_batch(flavour, batch, workroot / flavour, timeout, cancel)
            for key, result in results.items():
                cache.store(key, result, {"flavour": flavour, "module": batch[key].module, "yosys": yosys})
            return results, seconds
        return run

    for flavour, batch in batches:
        log.info("Yosys %s: %d block(s) to synthesize (estimated %d LUT + FF)", flavour, len(batch),
                 sum(j.weight for j in batch.values()))
    done = proc.run_parallel([task(f, b) for f, b in batches], jobs)
    shutil.rmtree(workroot, ignore_errors=True)  # all succeeded (a failure raised above and left its log)
    for results, _ in done:
        found |= results
    return {flavour: seconds for (flavour, _), (_, seconds) in zip(batches, done, strict=True)}


def _xilinx_totals(per_block: dict[str, BlockJob], keys: dict, found: dict[str, dict], hits: set[str],
                   yosys: str) -> dict:
    blocks = {}
    for inst in per_block:
        key = keys[("xilinx", inst)]
        blocks[inst] = {**found[key], "key": key, "cached": key in hits}
    totals: dict[str, Any] = {k: sum(b.get(k, 0) for b in blocks.values()) for k in _INT_KEYS}
    for k in _DICT_KEYS:
        totals[k] = _merge(b.get(k, {}) for b in blocks.values())
    no_dsp = [inst for inst, b in blocks.items() if b.get("dsp_mapping", "on") != "on"]
    return {
        "tool": yosys.split(":")[0],
        "yosys_version": yosys,
        "mode": "per block",
        "command": "synth_xilinx -flatten, keep_hierarchy on each block, per block instance (cached), summed",
        "dsp_mapping": "on" if not no_dsp else f"{blocks[no_dsp[0]]['dsp_mapping']} (in {', '.join(no_dsp)})",
        **totals,
        "blocks": blocks,
    }


def _merge(counts) -> dict[str, int]:
    merged: dict[str, int] = {}
    for c in counts:
        for cell, n in c.items():
            merged[cell] = merged.get(cell, 0) + n
    return dict(sorted(merged.items()))


def _asic_totals(per_block: dict[str, BlockJob], keys: dict, found: dict[str, dict], yosys: str) -> dict:
    results = {inst: found[keys[("asic", inst)]] for inst in per_block}
    transistors = sum(r["transistors"] for r in results.values())
    deepest = max(results, key=lambda inst: results[inst]["logic_depth"]["gates"])
    depth = dict(results[deepest]["logic_depth"])
    for end in ("from", "to"):
        if isinstance(depth.get(end), str):
            depth[end] = f"{deepest}.{depth[end].lstrip(chr(92))}"
    depth["block"] = deepest
    depth["scope"] = ("the longest path inside one block instance; combinational paths through several "
                      "blocks' handshakes are not followed (the whole-design mode follows them)")
    return {
        "tool": yosys.split(":")[0],
        "mode": "per block",
        "command": "synth -flatten; dfflegalize to $_DFF_P_; abc -g cmos2; stat -tech cmos, keep_hierarchy on each "
                   "block, per block instance (cached), summed",
        "cells": _merge(r["cells"] for r in results.values()),
        "transistors": transistors,
        "nand2_equivalents": transistors / 4,
        "logic_depth": depth,
        "blocks": {inst: {"transistors": r["transistors"], "nand2_equivalents": r["nand2_equivalents"],
                          "logic_depth_gates": r["logic_depth"]["gates"], "key": keys[("asic", inst)]}
                   for inst, r in results.items()},
    }


def _whole(rtl_dir: Path, sources: list[str], top: str, asic: bool, jobs: int,
           timeout: int) -> tuple[dict, dict | None]:
    """The single-run mode: ``synth_xilinx`` and ``synth_asic`` of the whole design, side by side."""
    start = time.perf_counter()
    tasks: list[Callable[[threading.Event], dict]] = [lambda c: synth_xilinx(rtl_dir, sources, top, timeout, c)]
    if asic:
        tasks.append(lambda c: synth_asic(rtl_dir, sources, top, timeout, c))
    results = proc.run_parallel(tasks, jobs)
    wall = round(time.perf_counter() - start, 1)
    mode = {"mode": "whole design", "wall_seconds": wall, "jobs": jobs}
    return results[0] | mode, (results[1] | mode if asic else None)
