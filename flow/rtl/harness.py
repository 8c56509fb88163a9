"""Run integer input codes through a generated design's Verilator batch harness, and reopen a design that an
earlier run wrote (``rtl/``) so that simulation can be re-run alone."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from flow.compile.network import Network
from flow.errors import QflowError
from flow.rtl.generate import (
    MAX_HARNESS_BEATS,
    TOP,
    RtlDesign,
    design_sources,
    pack_input_words,
    unpack_output_words,
)
from flow.rtl.plan import plan
from flow.rtl.verilator import HarnessRun, merge_runs, run_harness

__all__ = ["load_design", "run_network"]


def load_design(directory: Path, net: Network) -> RtlDesign:
    """The :class:`RtlDesign` that :func:`flow.rtl.generate.write_rtl` wrote of ``net`` into ``directory``.

    The blocks are planned again from ``net`` (planning is deterministic) and must match ``interface.json``'s
    list; a mismatch (RTL written from another network) raises :class:`QflowError`."""
    iface_path = Path(directory) / "interface.json"
    if not iface_path.is_file():
        raise QflowError(f"{iface_path}: missing; run `qflow compile` first")
    interface = json.loads(iface_path.read_text())
    blocks = plan(net)[1]
    written = [b["instance"] for b in interface.get("blocks", [])]
    if written != [b.instance for b in blocks]:
        raise QflowError(f"{directory}: its blocks {written} are not those of the network "
                         f"{[b.instance for b in blocks]}; run `qflow compile` again")
    generated = [b.memory_file for b in blocks if b.memory_file and b.memory_file.endswith(".v")]
    sources = design_sources([p.name for p in sorted((Path(directory) / "hw").glob("*.v"))], generated)
    return RtlDesign(directory=Path(directory), top=TOP, sources=sources, interface=interface, blocks=blocks)


def run_network(net: Network, design: RtlDesign, x_int: np.ndarray, stall_in: int = 0, stall_out: int = 0,
                seed: int = 1, tag: str = "predict") -> tuple[np.ndarray, HarnessRun]:
    """Integer input codes ``(N, features)`` through the built harness -> ``(integer outputs, HarnessRun)``.

    The harness holds :data:`MAX_HARNESS_BEATS` input beats: larger batches run in chunks of the same model
    (chunk ``i`` with stall seed ``seed + i``)."""
    per_chunk = max(1, MAX_HARNESS_BEATS // design.interface["input"]["beats_per_inference"])
    runs = []
    for i, start in enumerate(range(0, len(x_int), per_chunk)):
        chunk = x_int[start : start + per_chunk]
        runs.append(
            run_harness(
                design.directory, pack_input_words(net, chunk), design.interface["output"]["tdata_width"],
                len(chunk), stall_in=stall_in, stall_out=stall_out, seed=seed + i, tag=tag,
            )
        )
    run = merge_runs(runs)
    return unpack_output_words(net, run.words), run
