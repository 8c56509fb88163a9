"""Analytical FPGA resource estimates (Xilinx 7-series cells after Yosys ``synth_xilinx``) and the standalone
Yosys synthesis of one ``hw/`` block that they are checked against.

Each block module in :mod:`flow.rtl.ops` has an ``estimate_resources(params)`` function whose formulas are
derived from the block's RTL (stated in its docstring) and whose constants (the ``*_COEFFS`` tables next to it)
were fitted to Yosys on the ``CALIBRATION`` points of ``bench/resource_estimates.py``; its ``VALIDATION``
points, never used for fitting, measure the error. This module holds what the blocks share:

* :class:`Resources`: LUT, FF, CARRY4, DSP48E1, BRAM18 (equivalent) and LUTRAM counts, the keys of
  :func:`flow.rtl.yosys.synth_xilinx`'s summary;
* :func:`synth_block`: synthesize one block alone, with given parameters and seeded random weights or
  thresholds, exactly as the network flow synthesizes each layer (``synth_xilinx -flatten``, the block kept as
  its own module), and read its cell counts back;
* :func:`estimate_block` (dispatch on the parameter type) and :func:`estimate_network` (sum over the blocks a
  :class:`~flow.compile.network.Network` becomes, as :func:`flow.rtl.generate.plan` builds them).

The estimates are a model of Yosys' result, not of Vivado's: no place and route, ROMs of constant weights
folded into logic the way Yosys/ABC folds them. Weight- and threshold-dependent logic (constant folding) is
estimated for seeded uniform random values unless the actual values are passed (see ``mvau.estimate_resources``).
"""

from __future__ import annotations

import logging
import math
import shutil
import tempfile
from collections.abc import Iterable
from dataclasses import dataclass, fields
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    from flow.compile.network import Network

__all__ = [
    "RESOURCE_KEYS",
    "MemoryMapping",
    "Resources",
    "block_module",
    "compare",
    "estimate_block",
    "estimate_network",
    "map_memory",
    "network_blocks",
    "random_data",
    "relative_error",
    "synth_block",
]

log = logging.getLogger(__name__)

#: The report keys, in order (the keys of :func:`flow.rtl.yosys.synth_xilinx`'s summary).
RESOURCE_KEYS = ("LUT", "FF", "CARRY4", "DSP48E1", "BRAM18_equivalent", "LUTRAM")


@dataclass(frozen=True)
class Resources:
    """Cell counts of one block or design (floats: an estimate need not be whole)."""

    lut: float = 0.0
    ff: float = 0.0
    carry4: float = 0.0
    dsp: float = 0.0
    bram18: float = 0.0
    lutram: float = 0.0

    def __add__(self, other: Resources) -> Resources:
        return Resources(*(getattr(self, f.name) + getattr(other, f.name) for f in fields(self)))

    def as_dict(self) -> dict[str, float]:
        """``{key: value}`` with the keys of :data:`RESOURCE_KEYS`, values rounded to whole cells."""
        return {k: round(getattr(self, f.name)) for k, f in zip(RESOURCE_KEYS, fields(self), strict=True)}

    @classmethod
    def from_summary(cls, summary: dict[str, Any]) -> Resources:
        """From a Yosys summary (:func:`flow.rtl.yosys.synth_xilinx` totals or one of its ``blocks``)."""
        return cls(*(float(summary.get(k, 0)) for k in RESOURCE_KEYS))

    @classmethod
    def total(cls, items: Iterable[Resources]) -> Resources:
        """The sum of ``items`` (zero for none)."""
        out = cls()
        for r in items:
            out = out + r
        return out


def clog2(v: int) -> int:
    """``ceil(log2(v))`` for ``v >= 1``, 0 for ``v <= 1`` (the RTL's ``clog2``)."""
    return 0 if v <= 1 else (v - 1).bit_length()


def carry4(bits: int) -> int:
    """CARRY4 cells of one ``bits``-wide adder or counter: ``ceil(bits/4)``, none below 3 bits (Yosys
    maps 1- and 2-bit additions to LUTs)."""
    return math.ceil(bits / 4) if bits >= 3 else 0


def mux_luts(n: int) -> int:
    """LUTs of an ``n``:1 multiplexer of one bit: 0 for n <= 1, one LUT up to 4:1, else one LUT6 per 4
    inputs (the MUXF7/MUXF8 that join them are not LUTs)."""
    return 0 if n <= 1 else 1 if n <= 4 else math.ceil(n / 4)


#: Words per LUT of a logic ROM column, as ABC maps the ROMs of these blocks: measured with the MVAU
#: datapath fixed (XNOR, PE=2, SIMD=32) and only the ROM depth changed, 8 / 16 / 64 / 256 words cost about
#: 1 / 1 / 5 / 21 LUTs per column -- not the ``ceil(D/64)`` LUT6 of an ideal mux tree.
ROM_WORDS_PER_LUT = 12


def rom_column_luts(depth: int) -> float:
    """LUTs of one distinct, non-constant data bit of a ROM of ``depth`` words mapped to logic:
    ``max(1, depth / ROM_WORDS_PER_LUT)`` (scaled by a fitted coefficient in the block estimates)."""
    return max(1.0, depth / ROM_WORDS_PER_LUT)


#: Yosys ``memory_libmap`` costs as ``synth_xilinx`` sets them for 7-series (``techlibs/xilinx/
#: {lutrams_xc5v,brams_xc4v}.txt``, ``-logic-cost-rom 0.015625``): a LUT RAM cell 8, a RAMB18 129; a memory
#: left to logic costs 1 per bit, a ROM 1/64 per bit.
LUTRAM_CELL_COST = 8
RAMB18_COST = 129
LOGIC_BIT_COST_RAM = 1.0
LOGIC_BIT_COST_ROM = 1.0 / 64
RAMB18_BITS = 18 * 1024


@dataclass(frozen=True)
class MemoryMapping:
    """How Yosys implements one memory: ``kind`` is ``"logic"`` (flip-flops / LUT logic), ``"lutram"`` or
    ``"bram"``; ``lutram`` cells, ``bram18`` RAMB18 equivalents, ``banks`` LUT RAM cells in depth (the read
    port then needs a ``banks``:1 multiplexer per data bit)."""

    kind: str
    lutram: int = 0
    bram18: int = 0
    banks: int = 1


def lutram_cells(depth: int, width: int, single_port: bool = False) -> tuple[int, int]:
    """``(cells, banks)`` of a LUT RAM of ``depth`` x ``width``.

    Simple dual port (one write port, one asynchronous read port): RAM32M holds 6 bits x 32 words, RAM64M 3
    bits x 64 words; deeper memories take ``depth // 64`` banks of RAM64M and one bank of RAM32M or RAM64M for
    the remaining words. Single port (read and write at one address): 8 bits x 32 words, 4 x 64, and 1 bit per
    cell (RAM128X1D / RAM256X1S) up to 256 words, in banks of 256 words beyond (as measured on the
    calibration points and in the example designs).
    """
    if single_port:
        if depth <= 64:
            return math.ceil(width / (8 if depth <= 32 else 4)), 1
        banks = math.ceil(depth / 256)
        return banks * width, banks
    full, rest = divmod(depth, 64)
    cells = full * math.ceil(width / 3)
    if rest:
        cells += math.ceil(width / (6 if rest <= 32 else 3))
    return cells, full + (1 if rest else 0)


def bram18_blocks(depth: int, width: int) -> int:
    """RAMB18 equivalents of a block-RAM memory: its bits over 18 Kbit, and at least one per 36 data bits (the
    widest read port of a RAMB18, simple dual port)."""
    return max(math.ceil(depth * width / RAMB18_BITS), math.ceil(width / 36))


def map_memory(depth: int, width: int, *, rom: bool = False, single_port: bool = False,
               sync_read: bool = False) -> MemoryMapping:
    """Which implementation Yosys' ``memory_libmap`` picks for a ``depth`` x ``width`` memory: the cheapest of
    logic (``depth*width`` bits at :data:`LOGIC_BIT_COST_RAM` / :data:`LOGIC_BIT_COST_ROM`), LUT RAM (RAMs
    only, :data:`LUTRAM_CELL_COST` per cell, one cell more for a registered read port that LUT RAM must
    emulate: ``sync_read``) and block RAM (:data:`RAMB18_COST` per RAMB18). Ties go to logic. A model of the
    pass's cost function, not a copy: it ignores its multiplexer scores; the emulation charge was set on the
    calibration points."""
    if depth <= 0 or width <= 0:
        return MemoryMapping("logic")
    best = MemoryMapping("logic")
    best_cost = depth * width * (LOGIC_BIT_COST_ROM if rom else LOGIC_BIT_COST_RAM)
    if not rom:
        cells, banks = lutram_cells(depth, width, single_port)
        cost = (cells + (1 if sync_read else 0)) * LUTRAM_CELL_COST
        if cost < best_cost:
            best, best_cost = MemoryMapping("lutram", lutram=cells, banks=banks), cost
    blocks = bram18_blocks(depth, width)
    if blocks * RAMB18_COST < best_cost:
        best = MemoryMapping("bram", bram18=blocks)
    return best


def distinct_columns(bits: np.ndarray) -> tuple[int, int]:
    """``(distinct non-constant columns, constant columns)`` of a 0/1 matrix ``(words, bits)``: the ROM data
    bits that need logic (identical columns share it; constant ones need none)."""
    bits = np.asarray(bits, dtype=np.uint8)
    if bits.size == 0:
        return 0, 0
    const = (bits.min(axis=0) == bits.max(axis=0))
    var = bits[:, ~const]
    if var.shape[1] == 0:
        return 0, int(const.sum())
    packed = np.packbits(var.T, axis=1)
    return int(np.unique(packed, axis=0).shape[0]), int(const.sum())


def field_bits(fields: np.ndarray, bits: int) -> np.ndarray:
    """Encoded fields ``(..., n)`` (non-negative, < 2**bits) -> their bits ``(..., n*bits)``, LSB first."""
    fields = np.asarray(fields, dtype=np.int64)
    shifts = np.arange(bits, dtype=np.int64)
    out = (fields[..., None] >> shifts) & 1
    return out.reshape(*fields.shape[:-1], fields.shape[-1] * bits).astype(np.uint8)


# ---------------------------------------------------------------------------------------------- dispatch
def block_module(params: object) -> tuple[str, tuple[Path, ...]]:
    """``(Verilog module name, source files)`` of the block whose parameter object is ``params``."""
    from flow.rtl.ops import dwc, fifo, maxpool, mvau, pad, swg, thresholding

    table: list[tuple[type, str, tuple[Path, ...]]] = [
        (mvau.MvauParams, "mvau", mvau.HW_SOURCES),
        (thresholding.ThresholdingParams, "thresholding", thresholding.HW_SOURCES),
        (fifo.AxisFifoParams, "axis_fifo", fifo.FIFO_SOURCES),
        (fifo.SkidBufferParams, "skid_buffer", fifo.SKID_SOURCES),
        (dwc.DwcParams, "axis_dwc", dwc.HW_SOURCES),
        (swg.SwgParams, "swg", swg.HW_SOURCES),
        (maxpool.MaxpoolParams, "maxpool", maxpool.HW_SOURCES),
        (pad.PadParams, "pad", pad.HW_SOURCES),
    ]
    for cls, module, sources in table:
        if isinstance(params, cls):
            return module, sources
    raise TypeError(f"resources: expected the parameters of a hw/ block, got {type(params).__name__}")


def estimate_block(params: object, data: Any = None) -> Resources:
    """The analytical estimate of one block (the ``estimate_resources`` of its module).

    ``data``: for an MVAU its weight matrix ``(MH, MW)`` (values), for thresholding ``(T, flags)``; ``None``:
    the estimate for uniform random values (what the constants were calibrated on).
    """
    from flow.rtl.ops import dwc, fifo, maxpool, mvau, pad, swg, thresholding

    if isinstance(params, mvau.MvauParams):
        return mvau.estimate_resources(params, weights=data)
    if isinstance(params, thresholding.ThresholdingParams):
        return thresholding.estimate_resources(params, tables=data)
    if isinstance(params, fifo.AxisFifoParams | fifo.SkidBufferParams):
        return fifo.estimate_resources(params)
    if isinstance(params, dwc.DwcParams):
        return dwc.estimate_resources(params)
    if isinstance(params, swg.SwgParams):
        return swg.estimate_resources(params)
    if isinstance(params, maxpool.MaxpoolParams):
        return maxpool.estimate_resources(params)
    if isinstance(params, pad.PadParams):
        return pad.estimate_resources(params)
    raise TypeError(f"resources: expected the parameters of a hw/ block, got {type(params).__name__}")


def _port_widths(params: object) -> tuple[int, int]:
    """``(s_axis_tdata, m_axis_tdata)`` widths of a block."""
    from flow.rtl.ops import dwc, fifo, mvau, thresholding

    if isinstance(params, mvau.MvauParams):
        return params.in_beat_bits, params.out_beat_bits
    if isinstance(params, thresholding.ThresholdingParams):
        return params.pe * params.in_bits, params.pe * params.out_bits
    if isinstance(params, fifo.AxisFifoParams | fifo.SkidBufferParams):
        return params.width, params.width
    if isinstance(params, dwc.DwcParams):
        return params.in_elems * params.elem_bits, params.out_elems * params.elem_bits
    width = params.simd * params.elem_bits  # type: ignore[attr-defined]  # image blocks
    return width, width


def random_data(params: object, seed: int = 0) -> Any:
    """Seeded uniform random weights ``(MH, MW)`` of an MVAU, or ``(T, flags)`` of a thresholding block
    (thresholds sorted ascending per channel, flags 0, as BatchNorm with positive scales gives); ``None`` for
    blocks without memory contents."""
    from flow.rtl.ops import mvau, thresholding

    rng = np.random.default_rng(seed)
    if isinstance(params, mvau.MvauParams):
        lo, hi = params.w_range
        if params.mode in (mvau.MvauMode.XNOR, mvau.MvauMode.BIPOLAR_W):
            return rng.choice(np.array([-1, 1]), size=(params.mh, params.mw))
        return rng.integers(lo, hi + 1, size=(params.mh, params.mw))
    if isinstance(params, thresholding.ThresholdingParams):
        lo, hi = -(1 << (params.in_bits - 1)), (1 << (params.in_bits - 1)) - 1
        T = np.sort(rng.integers(lo, hi + 1, size=(params.c, params.n_thresh)), axis=1)
        return T, np.zeros(params.c, dtype=np.int64)
    return None


def _memory_file(params: object, data: Any) -> tuple[str, list[str]] | None:
    from flow.rtl.ops import mvau, thresholding

    if isinstance(params, mvau.MvauParams):
        return "weights.mem", mvau.pack_weights(data, params)
    if isinstance(params, thresholding.ThresholdingParams):
        T, flags = data
        return "thresholds.mem", thresholding.pack_thresholds(T, flags, params)
    return None


def _verilog_parameters(params: object, mem_name: str | None) -> dict[str, int | str]:
    if mem_name is None:
        return params.verilog_parameters()  # type: ignore[attr-defined]
    return params.verilog_parameters(mem_name)  # type: ignore[attr-defined]


WRAPPER_TOP = "qflow_block"


def _wrapper(module: str, vparams: dict[str, int | str], in_w: int, out_w: int) -> str:
    quoted = {k: v if isinstance(v, int) else f'"{v}"' for k, v in vparams.items()}
    plist = ",\n".join(f"        .{k}({v})" for k, v in quoted.items())
    return f"""`default_nettype none
module {WRAPPER_TOP} (
    input  wire clk, input wire rst_n,
    input  wire [{in_w - 1}:0] s_axis_tdata, input wire s_axis_tvalid, output wire s_axis_tready,
    output wire [{out_w - 1}:0] m_axis_tdata, output wire m_axis_tvalid, input wire m_axis_tready
);
    {module} #(
{plist}
    ) dut (
        .clk(clk), .rst_n(rst_n),
        .s_axis_tdata(s_axis_tdata), .s_axis_tvalid(s_axis_tvalid), .s_axis_tready(s_axis_tready),
        .m_axis_tdata(m_axis_tdata), .m_axis_tvalid(m_axis_tvalid), .m_axis_tready(m_axis_tready)
    );
endmodule
`default_nettype wire
"""


def synth_block(params: object, data: Any = None, seed: int = 0, workdir: str | Path | None = None) -> dict[str, Any]:
    """Synthesize one block alone with Yosys ``synth_xilinx`` and return its cell summary.

    The block is instantiated (instance ``dut``) in a wrapper whose ports are its AXI-Stream ports, and
    synthesized by :func:`flow.rtl.yosys.synth_xilinx` -- the same script and hierarchy handling as a whole
    network, so the counts are those the block has inside a design. ``data``: weights or ``(T, flags)``
    (default :func:`random_data` with ``seed``). ``workdir``: where the sources, memory file and Yosys log
    go (default a temporary directory, removed afterwards). Returns the summary of the ``dut`` instance
    (keys of :data:`RESOURCE_KEYS` and more) plus ``seconds`` (Yosys wall time). Raises
    :class:`flow.rtl.yosys.SynthesisError` if Yosys fails.
    """
    from flow.rtl.yosys import synth_xilinx

    params.validate()  # type: ignore[attr-defined]
    module, sources = block_module(params)
    if data is None:
        data = random_data(params, seed)
    mem = _memory_file(params, data)
    in_w, out_w = _port_widths(params)
    tmp = Path(tempfile.mkdtemp(prefix="qflow_block_")) if workdir is None else Path(workdir)
    tmp.mkdir(parents=True, exist_ok=True)
    try:
        names = []
        for src in sources:
            shutil.copy2(src, tmp / src.name)
            names.append(src.name)
        if mem is not None:
            (tmp / mem[0]).write_text("\n".join(mem[1]) + "\n")
        (tmp / "top.v").write_text(_wrapper(module, _verilog_parameters(params, mem and mem[0]), in_w, out_w))
        result = synth_xilinx(tmp, [*names, "top.v"], WRAPPER_TOP)
    finally:
        if workdir is None:
            shutil.rmtree(tmp, ignore_errors=True)
    summary = dict(result["blocks"]["dut"])
    summary["seconds"] = result["seconds"]
    log.debug("%s %s: %s", module, params, {k: summary[k] for k in RESOURCE_KEYS})
    return summary


# ---------------------------------------------------------------------------------------------- networks
def _int_params(block: Any) -> dict[str, int]:
    return {k: int(v) for k, v in block.params if not v.startswith('"')}


def network_blocks(net: Network) -> list[tuple[Any, object, Any]]:
    """``(block, parameters, data)`` for every block :func:`flow.rtl.generate.plan` makes of ``net`` (the same
    instances, FIFOs and width converters included); ``data`` is the layer's weights or ``(T, flags)``."""
    from flow.compile.network import MatVec, Thresholds
    from flow.rtl.generate import plan, threshold_params
    from flow.rtl.ops import dwc, fifo, maxpool, pad, swg

    layers = {layer.name: layer for layer in net.layers if hasattr(layer, "name")}
    _, blocks, _ = plan(net)
    out: list[tuple[Any, object, Any]] = []
    for b in blocks:
        v = _int_params(b)
        layer = layers.get(b.layer)
        if b.module == "mvau" and isinstance(layer, MatVec):
            out.append((b, layer.params, layer.weights))
        elif b.module == "thresholding" and isinstance(layer, Thresholds):
            out.append((b, threshold_params(layer), (layer.thresholds, layer.descending.astype(np.int64))))
        elif b.module == "axis_fifo":
            out.append((b, fifo.AxisFifoParams(width=v["WIDTH"], depth=v["DEPTH"]), None))
        elif b.module == "axis_dwc":
            out.append((b, dwc.DwcParams(v["IN_ELEMS"], v["OUT_ELEMS"], v["ELEM_BITS"]), None))
        elif b.module in ("swg", "maxpool", "pad"):
            cls = {"swg": swg.SwgParams, "maxpool": maxpool.MaxpoolParams, "pad": pad.PadParams}[b.module]
            kwargs = {name.lower(): v[name] for name in cls.VERILOG_PARAMETERS}
            if b.module == "maxpool":
                kwargs["signed"] = bool(kwargs["signed"])
            if b.module == "pad":
                kwargs["pad_value"] = 0  # the pad value does not change the structure
            out.append((b, cls(**kwargs), None))
        else:
            raise TypeError(f"resources: block {b.instance!r} ({b.module}) of layer {b.layer!r} has no estimator")
    return out


def estimate_network(net: Network) -> dict[str, Any]:
    """Analytical resource estimate of the accelerator :func:`flow.rtl.write_rtl` makes of ``net``.

    Returns ``{"how": str, "total": {key: int}, "blocks": {instance: {"module", "layer", key: int, ...}}}``
    with the keys of :data:`RESOURCE_KEYS` (``LUT``, ``FF``, ``CARRY4``, ``DSP48E1``, ``BRAM18_equivalent``,
    ``LUTRAM``) -- the same keys and instance names as :func:`flow.rtl.yosys.synth_xilinx`'s totals and
    ``blocks``, so the two compare key by key (see :func:`compare`). Each block is estimated from its
    parameters and the layer's actual weights / thresholds; the total is the sum of the blocks (the top level
    has no logic of its own).
    """
    blocks: dict[str, dict[str, Any]] = {}
    parts = []
    for b, params, data in network_blocks(net):
        r = estimate_block(params, data)
        parts.append(r)
        blocks[b.instance] = {"module": b.module, "layer": b.layer, **r.as_dict()}
    return {
        "how": "estimated: per-block formulas fitted to Yosys synth_xilinx (flow/estimate/resources.py)",
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
