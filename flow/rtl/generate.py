"""Emit the Verilog of an integer :class:`~flow.compile.network.Network`: a generated top-level that
instantiates the hand-written ``hw/`` modules, their memory files, and ``interface.json``.

Python only writes glue (Jinja2 templates in ``flow/rtl/templates``); all arithmetic is in ``hw/``.
The output directory is self-contained (``hw`` sources are copied in) and written atomically: it is built
under a temporary name and renamed into place only when complete.
"""

from __future__ import annotations

import json
import shutil
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import jinja2
import numpy as np

import flow
from flow.compile.network import MatVec, Network, Thresholds
from flow.errors import UnsupportedError
from flow.rtl.ops import HW_ROOT
from flow.rtl.ops import mvau as mvau_ops
from flow.rtl.ops import thresholding as thresholding_ops

TOP = "qflow_accel"
TEMPLATES = Path(__file__).resolve().parent / "templates"
MAX_HARNESS_BEATS = 1 << 17


@dataclass(frozen=True)
class Stream:
    name: str
    width: int
    elems: int
    elem_bits: int


@dataclass
class Block:
    module: str
    instance: str
    params: list[tuple[str, str]]
    src: str
    dst: str
    comment: str
    cycles_per_vector: int
    latency: int
    layer: str
    # One vector through the empty pipeline, no backpressure: input beat valid cycles -> output beat valid cycles.
    timing: Callable[[list[int]], list[int]] | None = None


def _accept_times(valid: list[int]) -> list[int]:
    """A block that takes one beat per cycle accepts beat i at max(valid_i, accept_{i-1} + 1)."""
    out: list[int] = []
    for v in valid:
        out.append(v if not out else max(v, out[-1] + 1))
    return out


def _mvau_timing(nf: int, sf: int) -> Callable[[list[int]], list[int]]:
    """``hw/mvau``: fold (0, s) issues when input beat s is accepted, later folds issue one per cycle;
    output beat n is valid PIPELINE_CYCLES after fold (n, SF-1) issued."""

    def timing(valid: list[int]) -> list[int]:
        issue = _accept_times(valid)
        out = [issue[-1] + mvau_ops.PIPELINE_CYCLES]
        for _ in range(1, nf):
            issue_last = out[-1] - mvau_ops.PIPELINE_CYCLES + sf
            out.append(issue_last + mvau_ops.PIPELINE_CYCLES)
        return out

    return timing


def _register_timing(valid: list[int]) -> list[int]:
    """One register stage (FIFO): output valid the cycle after the input is accepted."""
    return [t + 1 for t in _accept_times(valid)]


THRESHOLDING_LATENCY = 2  # hw/thresholding: a beat accepted in cycle t is valid at the output in cycle t + 2


def _thresholding_timing(valid: list[int]) -> list[int]:
    return [t + THRESHOLDING_LATENCY for t in _accept_times(valid)]


def _dwc_timing(a: int, b: int) -> Callable[[list[int]], list[int]]:
    def timing(valid: list[int]) -> list[int]:
        accepted = _accept_times(valid)
        if a == b:
            return list(valid)
        if b % a == 0:  # pack k input beats into one output beat
            k = b // a
            return [accepted[i + k - 1] + 1 for i in range(0, len(accepted), k)]
        k = a // b  # split each input beat into k output beats, one per cycle
        out: list[int] = []
        for t in accepted:
            start = max(t + 1, out[-1] + 1) if out else t + 1
            out.extend(start + j for j in range(k))
        return out

    return timing


def predict_latency(blocks: list[Block], in_beats: int) -> int:
    """Cycles from the first input beat's acceptance to the last output beat's, one vector, no stalls."""
    times = list(range(in_beats))
    for block in blocks:
        assert block.timing is not None, block.instance
        times = block.timing(times)
    return times[-1]


@dataclass
class RtlDesign:
    """What was generated: enough to simulate, synthesize and document the accelerator."""

    directory: Path
    top: str
    sources: list[str]
    interface: dict
    blocks: list[Block] = field(default_factory=list)

    @property
    def cycles_per_inference(self) -> int:
        return int(self.interface["cycles_per_inference"])


def _verilog_value(value: int | str) -> str:
    return f'"{value}"' if isinstance(value, str) else str(int(value))


def threshold_params(th: Thresholds) -> thresholding_ops.ThresholdingParams:
    """The ``hw/thresholding`` parameters of a threshold layer."""
    return thresholding_ops.ThresholdingParams(
        c=th.channels,
        pe=th.pe,
        in_bits=th.in_bits,
        n_thresh=int(th.thresholds.shape[1]),
        out_bits=th.out_type.bits,
        out_bias=0 if th.out_type.bipolar else th.out_min,
    )


def threshold_mem_lines(th: Thresholds) -> list[str]:
    """Memory words of ``hw/thresholding`` for ``th`` (layout: ``flow.rtl.ops.thresholding``)."""
    return thresholding_ops.pack_thresholds(th.thresholds, th.descending.astype(np.int64), threshold_params(th))


def _fifo_depth(beats: int) -> int:
    depth = 2
    while depth < beats:
        depth *= 2
    return depth


def _hw_sources() -> list[Path]:
    return sorted(HW_ROOT.glob("*/*.v"))


def _render(name: str, **context) -> str:
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(TEMPLATES),
        trim_blocks=True,
        lstrip_blocks=True,
        undefined=jinja2.StrictUndefined,
        keep_trailing_newline=True,
    )
    return env.get_template(name).render(**context)


def plan(net: Network) -> tuple[list[Stream], list[Block], dict[str, list[str]]]:
    """Streams, blocks and memory files (name -> lines) for ``net``; pure, writes nothing."""
    streams: list[Stream] = []
    blocks: list[Block] = []
    mems: dict[str, list[str]] = {}
    first = net.layers[0]
    if not isinstance(first, MatVec):
        raise UnsupportedError("network: expected the first layer to be a matrix-vector layer")
    cur = Stream("s0", first.simd * first.in_type.bits, first.simd, first.in_type.bits)
    streams.append(cur)
    for index, layer in enumerate(net.layers):
        if isinstance(layer, MatVec):
            if cur.elems != layer.simd or cur.elem_bits != layer.in_type.bits:
                if cur.elem_bits != layer.in_type.bits:
                    raise UnsupportedError(
                        f"layer {layer.name!r}: input element width {layer.in_type.bits} "
                        f"does not match the stream ({cur.elem_bits})"
                    )
                a, b = cur.elems, layer.simd
                if a % b and b % a:
                    raise UnsupportedError(
                        f"layer {layer.name!r}: SIMD={b} and the previous layer's PE={a} must divide one another"
                    )
                nxt = Stream(f"s{len(streams)}", b * cur.elem_bits, b, cur.elem_bits)
                total = layer.mw
                blocks.append(
                    Block(
                        "axis_dwc",
                        f"dwc_{index}",
                        [("IN_ELEMS", str(a)), ("OUT_ELEMS", str(b)), ("ELEM_BITS", str(cur.elem_bits))],
                        cur.name,
                        nxt.name,
                        f"width converter {a} -> {b} elements of {cur.elem_bits} bits",
                        max(total // a, total // b),
                        1,
                        layer.name,
                        _dwc_timing(a, b),
                    )
                )
                streams.append(nxt)
                cur = nxt
            if index > 0:
                # MVAUs read their input only during the first neuron fold: a FIFO that holds one whole
                # input vector lets the producer keep streaming during the other folds (as FINN does).
                depth = _fifo_depth(layer.mw // layer.simd)
                nxt = Stream(f"s{len(streams)}", cur.width, cur.elems, cur.elem_bits)
                blocks.append(
                    Block(
                        "axis_fifo",
                        f"fifo_{index}",
                        [("WIDTH", str(cur.width)), ("DEPTH", str(depth))],
                        cur.name,
                        nxt.name,
                        f"FIFO, {depth} beats of {cur.width} bits",
                        1,
                        1,
                        layer.name,
                        _register_timing,
                    )
                )
                streams.append(nxt)
                cur = nxt
            params = layer.params
            weight_file = f"{layer.name}_weights.mem"
            mems[weight_file] = mvau_ops.pack_weights(layer.weights, params)
            out = Stream(f"s{len(streams)}", layer.pe * layer.acc_bits, layer.pe, layer.acc_bits)
            blocks.append(
                Block(
                    "mvau",
                    f"mvau_{index}",
                    [(k, _verilog_value(v)) for k, v in params.verilog_parameters(weight_file).items()],
                    cur.name,
                    out.name,
                    f"{layer.name}: {layer.mode.name} {layer.mh}x{layer.mw}, PE={layer.pe} SIMD={layer.simd}, "
                    f"acc {layer.acc_bits} bits",
                    mvau_ops.cycles_per_vector(params),
                    mvau_ops.latency_cycles(params),
                    layer.name,
                    _mvau_timing(params.nf, params.sf),
                )
            )
            streams.append(out)
            cur = out
        else:
            thresh_file = f"{layer.name}.mem"
            mems[thresh_file] = threshold_mem_lines(layer)
            out_bits = layer.out_type.bits
            out_bias = 0 if layer.out_type.bipolar else layer.out_min
            out = Stream(f"s{len(streams)}", layer.pe * out_bits, layer.pe, out_bits)
            blocks.append(
                Block(
                    "thresholding",
                    f"thresholding_{index}",
                    [
                        ("C", str(layer.channels)),
                        ("PE", str(layer.pe)),
                        ("IN_BITS", str(layer.in_bits)),
                        ("N_THRESH", str(layer.thresholds.shape[1])),
                        ("OUT_BITS", str(out_bits)),
                        ("OUT_BIAS", str(out_bias)),
                        ("THRESH_FILE", _verilog_value(thresh_file)),
                    ],
                    cur.name,
                    out.name,
                    f"{layer.name}: {layer.thresholds.shape[1]} thresholds/channel -> {layer.out_type.describe()}",
                    layer.channels // layer.pe,
                    THRESHOLDING_LATENCY,
                    layer.name,
                    _thresholding_timing,
                )
            )
            streams.append(out)
            cur = out
    return streams, blocks, mems


def interface(net: Network, streams: list[Stream], blocks: list[Block]) -> dict:
    first, last = net.layers[0], net.layers[-1]
    assert isinstance(first, MatVec) and isinstance(last, MatVec)
    in_s, out_s = streams[0], streams[-1]
    in_t, out_t = first.in_type, last.out_type
    return {
        "top": TOP,
        "generator": f"qflow {flow.__version__}",
        "clock": {"name": "clk", "edge": "rising"},
        "reset": {"name": "rst_n", "active": "low", "synchronous": True, "min_cycles": 1},
        "input": {
            "port": "s_axis",
            "tdata_width": in_s.width,
            "beats_per_inference": first.mw // first.simd,
            "elements_per_beat": in_s.elems,
            "element_bits": in_s.elem_bits,
            "signed": in_t.signed and not in_t.bipolar,
            "frac_bits": in_t.frac,
            "bipolar": in_t.bipolar,
            "packing": "beat j carries input features j*E .. j*E+E-1 (E = elements_per_beat); feature j*E+i sits at "
            "bits [i*element_bits +: element_bits]: element 0 in the least significant bits",
            "encoding": (
                "bit 1 = +1, bit 0 = -1" if in_t.bipolar else "two's complement" if in_t.signed else "unsigned binary"
            ),
            "meaning": f"quantized input: real value = code * 2^-{in_t.frac} ({in_t.describe()})",
        },
        "output": {
            "port": "m_axis",
            "tdata_width": out_s.width,
            "beats_per_inference": last.mh // last.pe,
            "elements_per_beat": out_s.elems,
            "element_bits": out_s.elem_bits,
            "signed": True,
            "frac_bits": out_t.frac,
            "bipolar": False,
            "packing": "same as input: element 0 in the least significant bits",
            "encoding": "two's complement",
            "meaning": f"integer accumulators of the last layer ({last.name}); real output (logit) = value * "
            f"2^-{out_t.frac}; the predicted class is the argmax",
        },
        "cycles_per_inference": max(b.cycles_per_vector for b in blocks),
        "latency_cycles_estimate": predict_latency(blocks, first.mw // first.simd),
        "protocol": "AXI-Stream without tlast/tkeep; tvalid/tready handshakes; any stall pattern is allowed",
        "blocks": [
            {
                "instance": b.instance,
                "module": b.module,
                "layer": b.layer,
                "cycles_per_vector": b.cycles_per_vector,
                "latency": b.latency,
                "comment": b.comment,
            }
            for b in blocks
        ],
    }


def write_rtl(net: Network, directory: str | Path, source: str = "") -> RtlDesign:
    """Write ``top.v``, ``hw/*.v``, memory files, the batch harness and ``interface.json`` to ``directory``."""
    directory = Path(directory)
    streams, blocks, mems = plan(net)
    iface = interface(net, streams, blocks)
    in_beats, out_beats = iface["input"]["beats_per_inference"], iface["output"]["beats_per_inference"]
    top_v = _render(
        "top.v.j2",
        version=flow.__version__,
        source=source or "a qflow network",
        top=TOP,
        streams=streams,
        blocks=blocks,
        in_width=streams[0].width,
        out_width=streams[-1].width,
        in_beats=in_beats,
        out_beats=out_beats,
        in_elems=streams[0].elems,
        in_bits=streams[0].elem_bits,
        out_elems=streams[-1].elems,
        out_bits=streams[-1].elem_bits,
    )
    harness_v = _render(
        "harness.v.j2",
        top=TOP,
        in_width=streams[0].width,
        out_width=streams[-1].width,
        in_beats=in_beats,
        out_beats=out_beats,
        max_in_beats=MAX_HARNESS_BEATS,
    )
    directory.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{directory.name}.", dir=directory.parent))
    try:
        (tmp / "hw").mkdir()
        sources = []
        for src in _hw_sources():
            shutil.copy2(src, tmp / "hw" / src.name)
            sources.append(f"hw/{src.name}")
        (tmp / "top.v").write_text(top_v)
        sources.append("top.v")
        (tmp / "harness.v").write_text(harness_v)
        shutil.copy2(TEMPLATES / "harness_main.cpp", tmp / "harness_main.cpp")
        for name, lines in mems.items():
            (tmp / name).write_text("\n".join(lines) + "\n")
        (tmp / "interface.json").write_text(json.dumps(iface, indent=2) + "\n")
        if directory.exists():
            shutil.rmtree(directory)
        tmp.rename(directory)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return RtlDesign(directory=directory, top=TOP, sources=sources, interface=iface, blocks=blocks)


def pack_input_beats(net: Network, x_int: np.ndarray) -> list[int]:
    """Input codes (N, MW) -> AXI-Stream beats, in order (the interface's packing)."""
    first = net.layers[0]
    assert isinstance(first, MatVec)
    return mvau_ops.pack_inputs(x_int, first.params)


def pack_output_beats(net: Network, y_int: np.ndarray) -> list[int]:
    """Integer outputs (N, MH) -> the AXI-Stream beats the accelerator sends, in order."""
    last = net.layers[-1]
    assert isinstance(last, MatVec)
    return mvau_ops.pack_outputs(y_int, last.params)


def unpack_output_beats(net: Network, beats: list[int]) -> np.ndarray:
    last = net.layers[-1]
    assert isinstance(last, MatVec)
    return mvau_ops.unpack_outputs(beats, last.params)


__all__ = ["TOP", "RtlDesign", "pack_input_beats", "pack_output_beats", "plan", "threshold_mem_lines",
           "unpack_output_beats", "write_rtl"]
