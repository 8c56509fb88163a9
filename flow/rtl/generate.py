"""Emit the Verilog of an integer :class:`~flow.compile.network.Network`: a generated top-level that
instantiates the hand-written ``hw/`` modules, their memory files, and ``interface.json``.

Python only writes glue (Jinja2 templates in ``flow/rtl/templates``); all arithmetic is in ``hw/``, except the
constant multipliers (block ``cmvm``), whose adder networks are generated per layer from the weights
(``cmvm_<layer>.v``, listed in the design's sources before the top).
The output directory is self-contained (``hw`` sources are copied in) and written atomically: it is built
under a temporary name and renamed into place only when complete.
"""

from __future__ import annotations

import json
import shutil
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

import jinja2
import numpy as np

import flow
from flow.blocks.bits import encode, pack_fields, pack_fields_words, unpack_fields, unpack_fields_words
from flow.compile.network import (
    IntType,
    MatVec,
    MaxPool,
    Network,
    Pad,
    Residual,
    SlidingWindow,
    Thresholds,
    flat_layers,
)
from flow.paths import HW_ROOT
from flow.rtl.plan import Block, Stream, block_times, input_elems, input_features, plan, predict_latency

TOP = "qflow_accel"
TEMPLATES = Path(__file__).resolve().parent / "templates"
MAX_HARNESS_BEATS = 1 << 17


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


def _hw_sources() -> list[Path]:
    return sorted(HW_ROOT.glob("*/*.v"))


def design_sources(hw_names: list[str], generated: list[str]) -> list[str]:
    """The design's Verilog sources in compile order, relative to its directory: the ``hw/`` copies, the blocks'
    modules generated per layer (``cmvm_<layer>.v``), then the top."""
    return [f"hw/{name}" for name in hw_names] + generated + ["top.v"]


def _render(name: str, **context) -> str:
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(TEMPLATES),
        trim_blocks=True,
        lstrip_blocks=True,
        undefined=jinja2.StrictUndefined,
        keep_trailing_newline=True,
    )
    return env.get_template(name).render(**context)


def _output_layer(net: Network):
    return next(layer for layer in reversed(net.layers) if isinstance(layer, MatVec | Thresholds | Residual))


def _output_elems(net: Network) -> int:
    return _output_layer(net).pe


def _output_stream_type(net: Network) -> IntType:
    """Type of the output stream's elements: a MatVec's signed accumulators or a quantizer's codes."""
    last = _output_layer(net)
    if isinstance(last, MatVec):
        return IntType(last.acc_bits, True, last.out_frac)
    return last.out_type


def _output_features(net: Network) -> int:
    last = _output_layer(net)
    return last.mh if isinstance(last, MatVec) else last.channels


def _encoding(t: IntType) -> str:
    return "bit 1 = +1, bit 0 = -1" if t.bipolar else "two's complement" if t.signed else "unsigned binary"


def interface(net: Network, streams: list[Stream], blocks: list[Block]) -> dict:
    in_s, out_s = streams[0], streams[-1]
    in_t, out_t = net.input_type, _output_stream_type(net)
    last = _output_layer(net)
    in_beats = input_features(net) // in_s.elems
    out_beats = _output_features(net) // out_s.elems
    image = net.input_layout == "nchw"
    if isinstance(last, Residual):
        meaning = (f"exact sums of the last layer, a residual add ({last.name}); real output = value * "
                   f"2^-{out_t.frac}")
    elif isinstance(last, MatVec):
        meaning = (f"integer accumulators of the last layer ({last.name}); real output (logit) = value * "
                   f"2^-{out_t.frac}; the predicted class is the argmax")
    else:
        meaning = (f"quantized outputs of the last layer ({last.name}, {out_t.describe()}); real output = value * "
                   f"2^-{out_t.frac}; the predicted class is the argmax")
    conv = any(isinstance(layer, SlidingWindow | MaxPool | Pad | Residual) for layer in flat_layers(net.layers))
    return {
        "top": TOP,
        "generator": f"qflow {flow.__version__}",
        "clock": {"name": "clk", "edge": "rising"},
        "reset": {"name": "rst_n", "active": "low", "synchronous": True, "min_cycles": 1},
        "input": {
            "port": "s_axis",
            "tdata_width": in_s.width,
            "beats_per_inference": in_beats,
            "elements_per_beat": in_s.elems,
            "element_bits": in_s.elem_bits,
            "signed": in_t.signed and not in_t.bipolar,
            "frac_bits": in_t.frac,
            "bipolar": in_t.bipolar,
            "packing": (
                "beat j carries input features j*E .. j*E+E-1 (E = elements_per_beat); feature j*E+i sits at "
                "bits [i*element_bits +: element_bits]: element 0 in the least significant bits"
                + ("; features are the image channels-last: pixel (y, x) in row-major order, its channels "
                   f"together (C={net.input_shape[0]}, H={net.input_shape[1]}, W={net.input_shape[2]}; "
                   "a PyTorch NCHW tensor is transposed to NHWC first)" if image else "")
            ),
            "encoding": _encoding(in_t),
            "meaning": f"quantized input: real value = code * 2^-{in_t.frac} ({in_t.describe()})",
        },
        "output": {
            "port": "m_axis",
            "tdata_width": out_s.width,
            "beats_per_inference": out_beats,
            "elements_per_beat": out_s.elems,
            "element_bits": out_s.elem_bits,
            "signed": out_t.signed and not out_t.bipolar,
            "frac_bits": out_t.frac,
            "bipolar": out_t.bipolar,
            "packing": "same as input: element 0 in the least significant bits",
            "encoding": _encoding(out_t),
            "meaning": meaning,
        },
        "cycles_per_inference": max(b.cycles_per_inference for b in blocks),
        "latency_cycles_estimate": predict_latency(blocks, in_beats),
        "latency_model": (
            "beat timing of each block without backpressure between blocks: an estimate for pipelines whose "
            "blocks wait on slower consumers (convolutional nets; within 1 % on LeNet-5 and the tests' CNN)"
            if conv else
            "beat timing of each block (exact for these pipelines: checked against simulation in the tests)"
        ),
        "protocol": "AXI-Stream without tlast/tkeep; tvalid/tready handshakes; any stall pattern is allowed",
        "blocks": [
            {
                "instance": b.instance,
                "module": b.module,
                "layer": b.layer,
                "cycles_per_inference": b.cycles_per_inference,
                "latency": b.latency,
                "comment": b.comment,
            }
            for b in blocks
        ],
    }


def idle_limit(iface: dict) -> int:
    """Cycles without a beat in or out after which the batch harness calls the run a deadlock (before the
    stall percentages scale it): 16x the predicted latency plus cycles per inference, and never below 10,000.
    A working design moves a beat at least every latency + cycles-per-inference cycles without stalls."""
    return max(10_000, 16 * (iface["latency_cycles_estimate"] + iface["cycles_per_inference"]))


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
    probes = [
        {"instance": b.instance, "stream": b.dst, "beats": len(t)}
        for b, t in zip(blocks, block_times(blocks, in_beats), strict=True)
    ]
    harness_v = _render(
        "harness.v.j2",
        top=TOP,
        probes=probes,
        in_width=streams[0].width,
        out_width=streams[-1].width,
        in_beats=in_beats,
        out_beats=out_beats,
        max_in_beats=MAX_HARNESS_BEATS,
        idle_limit=idle_limit(iface),
    )
    directory.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{directory.name}.", dir=directory.parent))
    try:
        (tmp / "hw").mkdir()
        for src in _hw_sources():
            shutil.copy2(src, tmp / "hw" / src.name)
        (tmp / "top.v").write_text(top_v)
        (tmp / "harness.v").write_text(harness_v)
        shutil.copy2(TEMPLATES / "harness_main.cpp", tmp / "harness_main.cpp")
        shutil.copy2(TEMPLATES / "harness_io.cpp", tmp / "harness_io.cpp")
        for name, lines in mems.items():
            (tmp / name).write_text("\n".join(lines) + "\n")
        sources = design_sources([src.name for src in _hw_sources()], [n for n in mems if n.endswith(".v")])
        (tmp / "interface.json").write_text(json.dumps(iface, indent=2) + "\n")
        if directory.exists():
            shutil.rmtree(directory)
        tmp.rename(directory)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return RtlDesign(directory=directory, top=TOP, sources=sources, interface=iface, blocks=blocks)


def _encode(values: np.ndarray, t: IntType, what: str) -> np.ndarray:
    """Field codes of ``values`` in type ``t``: bipolar -1/+1 -> 0/1 as uint8 (no int64 copy: whole data sets
    pass here), else :func:`~flow.blocks.bits.encode`. Values outside the type raise :class:`ValueError`."""
    values = np.asarray(values)
    if t.bipolar:
        positive = values == 1
        if np.count_nonzero(positive) + np.count_nonzero(values == -1) != values.size:
            bad = values.reshape(-1)[int(np.flatnonzero((values != 1) & (values != -1))[0])]
            raise ValueError(f"{what} (bipolar): expected values -1 or +1, got {bad}")
        return positive.view(np.uint8)
    return encode(values, t.bits, t.signed, what)


def pack_input_beats(net: Network, x_int: np.ndarray) -> list[int]:
    """Input codes (N, features) in stream order -> AXI-Stream beats, in order (the interface's packing)."""
    x = np.asarray(x_int, dtype=np.int64).reshape(len(x_int), -1)
    return pack_fields(_encode(x, net.input_type, "input").reshape(-1, input_elems(net)), net.input_type.bits)


def pack_input_words(net: Network, x_int: np.ndarray) -> np.ndarray:
    """Input codes (N, features) -> the harness's binary stimulus: ``(beats, ceil(width/32))`` uint32 words,
    little-endian, element 0 in the least significant bits (the packing of :func:`pack_input_beats`).

    Values outside the input type raise :class:`ValueError` (bipolar inputs must be exactly -1 or +1)."""
    x = np.asarray(x_int).reshape(len(x_int), -1)
    fields = _encode(x, net.input_type, "input")
    return pack_fields_words(fields.reshape(-1, input_elems(net)), net.input_type.bits)


def unpack_output_words(net: Network, words: np.ndarray) -> np.ndarray:
    """The harness's binary outputs ``(beats, ceil(width/32))`` uint32 -> (N, outputs) integers."""
    t = _output_stream_type(net)
    values = unpack_fields_words(words, _output_elems(net), t.bits, t.signed and not t.bipolar)
    if t.bipolar:
        values = 2 * values - 1
    return values.reshape(-1, _output_features(net))


def pack_output_beats(net: Network, y_int: np.ndarray) -> list[int]:
    """Integer outputs (N, outputs) -> the AXI-Stream beats the accelerator sends, in order."""
    t = _output_stream_type(net)
    y = np.asarray(y_int, dtype=np.int64).reshape(len(y_int), -1)
    return pack_fields(_encode(y, t, "output").reshape(-1, _output_elems(net)), t.bits)


def unpack_output_beats(net: Network, beats: list[int]) -> np.ndarray:
    """Output beats -> (N, outputs) integers (bipolar outputs as -1/+1)."""
    t = _output_stream_type(net)
    values = unpack_fields(beats, _output_elems(net), t.bits, t.signed and not t.bipolar)
    if t.bipolar:
        values = 2 * values - 1
    return values.reshape(-1, _output_features(net))


__all__ = ["TOP", "RtlDesign", "design_sources", "pack_input_beats", "pack_input_words", "pack_output_beats",
           "unpack_output_beats", "unpack_output_words", "write_rtl"]
