"""Analytical FPGA resource estimates of a whole design (Xilinx 7-series cells after Yosys ``synth_xilinx``),
and the standalone Yosys synthesis of one ``hw/`` block that the per-block estimates are checked against.

Each block's estimate lives with the block (``flow/blocks/<name>.py``, reached through its spec in
:data:`flow.blocks.registry.BLOCKS`): formulas derived from the block's RTL, constants fitted to Yosys on the
``CALIBRATION`` points of ``bench/resource_estimates.py``, whose ``VALIDATION`` points (never used for fitting)
measure the error. This module:

* :func:`estimate_block`: one block's estimate, for its actual memory contents or seeded random ones;
* :func:`synth_block`: synthesize one block alone, with given parameters and seeded random weights or
  thresholds, exactly as the network flow synthesizes each layer (``synth_xilinx -flatten``, the block kept as
  its own module), and read its cell counts back;
* :func:`estimate_network` (sum over the blocks :func:`flow.rtl.plan.plan` makes of a network) and
  :func:`compare` (estimate vs Yosys, key by key).

The estimates are a model of Yosys' result, not of Vivado's: no place and route, ROMs of constant weights
folded into logic the way Yosys/ABC folds them.
"""

from __future__ import annotations

import logging
import shutil
import tempfile
from pathlib import Path
from typing import Any

from flow.blocks.cost import RESOURCE_KEYS, Resources
from flow.blocks.registry import spec_of
from flow.compile.network import Network
from flow.rtl.plan import plan
from flow.rtl.yosys import synth_xilinx
from flow.rtl.yosys_blocks import WRAPPER_TOP, wrapper_verilog

__all__ = [
    "RESOURCE_KEYS",
    "Resources",
    "compare",
    "estimate_block",
    "estimate_network",
    "relative_error",
    "synth_block",
]

log = logging.getLogger(__name__)


def estimate_block(params: object, data: Any = None) -> Resources:
    """The analytical estimate of one block (its spec's ``estimate``).

    ``data``: the block's memory contents (an MVAU's weight matrix ``(MH, MW)``, a thresholding block's
    ``(T, flags)``); ``None``: the estimate for the seeded uniform random contents the constants were
    calibrated on.
    """
    return spec_of(params).estimate(params, data)


def synth_block(params: object, data: Any = None, seed: int = 0, workdir: str | Path | None = None) -> dict[str, Any]:
    """Synthesize one block alone with Yosys ``synth_xilinx`` and return its cell summary.

    The block is instantiated (instance ``dut``) in a wrapper whose ports are its AXI-Stream ports, and
    synthesized by :func:`flow.rtl.yosys.synth_xilinx` -- the same script and hierarchy handling as a whole
    network, so the counts are those the block has inside a design. ``data``: weights or ``(T, flags)``
    (default: the spec's ``random_data`` with ``seed``). ``workdir``: where the sources, memory file and Yosys
    log go (default a temporary directory, removed afterwards). Returns the summary of the ``dut`` instance
    (keys of :data:`RESOURCE_KEYS` and more) plus ``seconds`` (Yosys wall time). Raises
    :class:`flow.rtl.yosys.SynthesisError` if Yosys fails.
    """
    spec = spec_of(params)
    params.validate()  # type: ignore[attr-defined]
    if data is None:
        data = spec.random_data(params, seed)
    mem_name = "block.mem" if spec.memory_lines is not None else None
    tmp = Path(tempfile.mkdtemp(prefix="qflow_block_")) if workdir is None else Path(workdir)
    tmp.mkdir(parents=True, exist_ok=True)
    try:
        names = []
        for src in spec.sources:
            shutil.copy2(src, tmp / src.name)
            names.append(src.name)
        if spec.memory_lines is not None:
            (tmp / mem_name).write_text("\n".join(spec.memory_lines(params, data)) + "\n")
        vparams = spec.verilog_parameters(params, mem_name)
        (tmp / "top.v").write_text(wrapper_verilog(spec.name, vparams, spec.port_map(params)))
        result = synth_xilinx(tmp, [*names, "top.v"], WRAPPER_TOP)
    finally:
        if workdir is None:
            shutil.rmtree(tmp, ignore_errors=True)
    summary = dict(result["blocks"]["dut"])
    summary["seconds"] = result["seconds"]
    log.debug("%s %s: %s", spec.name, params, {k: summary[k] for k in RESOURCE_KEYS})
    return summary


def estimate_network(net: Network) -> dict[str, Any]:
    """Analytical resource estimate of the accelerator :func:`flow.rtl.write_rtl` makes of ``net``.

    Returns ``{"how": str, "total": {key: int}, "blocks": {instance: {"module", "layer", key: int, ...}}}``
    with the keys of :data:`RESOURCE_KEYS` (``LUT``, ``FF``, ``CARRY4``, ``DSP48E1``, ``BRAM18_equivalent``,
    ``LUTRAM``) -- the same keys and instance names as :func:`flow.rtl.yosys.synth_xilinx`'s totals and
    ``blocks``, so the two compare key by key (see :func:`compare`). Each block is estimated from its
    parameters and the layer's actual weights / thresholds (FIFOs and width converters included); the total is
    the sum of the blocks (the top level has no logic of its own).
    """
    blocks: dict[str, dict[str, Any]] = {}
    parts = []
    for b in plan(net)[1]:
        r = b.spec.estimate(b.params, b.data)
        parts.append(r)
        blocks[b.instance] = {"module": b.module, "layer": b.layer, **r.as_dict()}
    return {
        "how": "estimated: per-block formulas fitted to Yosys synth_xilinx (flow/blocks/<block>.py)",
        "total": Resources.total(parts).as_dict(),
        "blocks": blocks,
    }


def relative_error(estimate: float, measured: float) -> float | None:
    """``(estimate - measured) / measured``; ``None`` when ``measured`` is 0 (no relative error defined)."""
    return None if measured == 0 else (estimate - measured) / measured


def compare(estimate: dict[str, Any], synth: dict[str, Any]) -> dict[str, Any]:
    """Estimate vs Yosys, per key: ``{"total": {key: {"estimate", "yosys", "rel_error"}}, "blocks": {...}}``.

    ``estimate``: :func:`estimate_network`'s result; ``synth``: :func:`flow.rtl.yosys.synth_xilinx`'s (totals at
    the top level, per-instance counts in ``blocks``). ``rel_error`` is ``None`` where Yosys counts 0.
    """

    def row(est: dict[str, Any], got: dict[str, Any]) -> dict[str, dict[str, Any]]:
        out = {}
        for k in RESOURCE_KEYS:
            e, y = est.get(k, 0), got.get(k, 0)
            err = relative_error(e, y)
            out[k] = {"estimate": e, "yosys": y, "rel_error": None if err is None else round(err, 4)}
        return out

    blocks = {
        name: row(est, synth.get("blocks", {}).get(name, {}))
        for name, est in estimate["blocks"].items()
    }
    return {"total": row(estimate["total"], synth), "blocks": blocks}
