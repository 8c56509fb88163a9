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
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import jinja2
import numpy as np

import flow
from flow.blocks import axis_dwc, axis_fifo
from flow.blocks.bits import encode, pack_fields, pack_fields_words, unpack_fields, unpack_fields_words
from flow.blocks.registry import BLOCKS
from flow.blocks.spec import BlockSpec
from flow.blocks.spec import Stream as StreamShape
from flow.compile.network import Flatten, IntType, MatVec, MaxPool, Network, Pad, SlidingWindow, Thresholds
from flow.errors import UnsupportedError
from flow.paths import HW_ROOT

TOP = "qflow_accel"
TEMPLATES = Path(__file__).resolve().parent / "templates"
MAX_HARNESS_BEATS = 1 << 17


@dataclass(frozen=True)
class Stream:
    """One AXI-Stream wire bundle of the top level: ``elems`` elements of ``elem_bits`` per beat."""

    name: str
    width: int
    elems: int
    elem_bits: int


@dataclass
class Block:
    """One block instance of the top level: its block's spec, parameters and memory contents, its place in
    the stream (``src`` -> ``dst``), the layer it belongs to, and its timing for one inference."""

    spec: BlockSpec
    params: Any
    data: Any
    instance: str
    src: str
    dst: str
    comment: str
    layer: str
    in_beats: int  # input beats per inference
    memory_file: str | None = None

    @property
    def module(self) -> str:
        return self.spec.name

    @property
    def verilog_params(self) -> list[tuple[str, str]]:
        """``(name, Verilog literal)`` pairs for the instance."""
        return [(k, _verilog_value(v)) for k, v in self.spec.verilog_parameters(self.params, self.memory_file).items()]

    @property
    def cycles_per_inference(self) -> int:
        return self.spec.cycles(self.params, self.in_beats)

    @property
    def latency(self) -> int:
        return self.spec.latency(self.params)

    def output_times(self, valid: list[int]) -> list[int]:
        """One inference through the empty pipeline, no backpressure: input beat valid cycles -> output beat
        valid cycles (the block's timing model)."""
        return self.spec.output_times(self.params, valid)


def block_times(blocks: list[Block], in_beats: int) -> list[list[int]]:
    """Per block, the cycles its output beats of one inference are valid (relative to the first input beat's
    acceptance, empty pipeline, no stalls): the beat-timing model behind :func:`predict_latency`."""
    times = list(range(in_beats))
    out = []
    for block in blocks:
        times = block.output_times(times)
        out.append(times)
    return out


def predict_latency(blocks: list[Block], in_beats: int) -> int:
    """Cycles from the first input beat's acceptance to the last output beat's, one vector, no stalls."""
    return block_times(blocks, in_beats)[-1][-1]


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


def _input_buffer_beats(layers: list, index: int) -> int:
    """Beats of FIFO in front of layer ``index`` (0: none).

    An MVAU reads its input only during its first neuron fold: a FIFO that holds one whole input vector lets
    the producer keep streaming during the other folds (as FINN does); after a sliding-window generator the
    generator's own buffer does that. A sliding-window generator gets a whole input image: its line buffer
    holds only K + STRIDE rows, and a convolution that is slower per row than its producer would otherwise
    stall the producer mid-image and lower the throughput.
    """
    layer = layers[index]
    if index == 0:
        return 0
    if isinstance(layer, MatVec) and not isinstance(layers[index - 1], SlidingWindow):
        return layer.mw // layer.simd
    if isinstance(layer, SlidingWindow):
        return layer.ifm.pixels * layer.ifm.c // layer.simd
    return 0


class _Planner:
    """Builds the stream/block list layer by layer (see :func:`plan`), tracking the current stream and its
    beats per inference."""

    def __init__(self, elems: int, elem_bits: int, features: int) -> None:
        self.streams: list[Stream] = []
        self.blocks: list[Block] = []
        self.mems: dict[str, list[str]] = {}
        self.cur = self.stream(elems, elem_bits)
        self.beats = features // elems  # beats of the current stream per inference

    def stream(self, elems: int, bits: int) -> Stream:
        s = Stream(f"s{len(self.streams)}", elems * bits, elems, bits)
        self.streams.append(s)
        return s

    def add(self, spec: BlockSpec, params: Any, instance: str, comment: str, layer: str, data: Any = None) -> None:
        """Append an instance of ``spec`` fed by the current stream; its output becomes the current stream."""
        params.validate()
        out = spec.ports(params)[1]
        if spec.name in ("axis_fifo", "skid_buffer"):  # a pass-through keeps the elements' shape
            out = StreamShape(self.cur.elems, self.cur.elem_bits)
        memory_file = None
        if spec.memory_lines is not None:
            memory_file = spec.memory_name.format(layer=layer)
            self.mems[memory_file] = spec.memory_lines(params, data)
        dst = self.stream(out.elems, out.elem_bits)
        self.blocks.append(
            Block(spec, params, data, instance, self.cur.name, dst.name, comment, layer, self.beats, memory_file)
        )
        self.beats = spec.out_beats(params, self.beats)
        self.cur = dst

    def width(self, elems: int, index: int, layer: str) -> None:
        """Insert a width converter so that the current stream carries ``elems`` elements per beat."""
        a, b, bits = self.cur.elems, elems, self.cur.elem_bits
        if a == b:
            return
        # Any pair of widths: the converter goes through lcm(a, b) elements, which divides the elements per
        # inference (a and b both do).
        self.add(BLOCKS["axis_dwc"], axis_dwc.DwcParams(a, b, bits), f"dwc_{index}",
                 f"width converter {a} -> {b} elements of {bits} bits", layer)

    def fifo(self, beats: int, index: int, layer: str) -> None:
        depth, width = _fifo_depth(beats), self.cur.width
        self.add(BLOCKS["axis_fifo"], axis_fifo.AxisFifoParams(width=width, depth=depth), f"fifo_{index}",
                 f"FIFO, {depth} beats of {width} bits", layer)

    def layer(self, layers: list, index: int) -> None:
        """The blocks of one network layer: a width converter and an input FIFO where needed, then its block."""
        layer = layers[index]
        spec = BLOCKS[layer.block]
        params = layer.params
        self.width(spec.ports(params)[0].elems, index, layer.name)
        buffer = _input_buffer_beats(layers, index)
        if buffer:
            self.fifo(buffer, index, layer.name)
        self.add(spec, params, f"{spec.name}_{index}", layer.describe(), layer.name, layer.data)


def plan(net: Network) -> tuple[list[Stream], list[Block], dict[str, list[str]]]:
    """Streams, blocks and memory files (name -> lines) for ``net``; pure, writes nothing.

    Each network layer names its block; the blocks' specs (:data:`flow.blocks.registry.BLOCKS`) give ports,
    parameters, memory contents and timing. ``Block.cycles_per_inference`` is the block's cycles per
    inference (for a convolution: all its windows); the slowest block sets the pipeline's.
    """
    layers = [layer for layer in net.layers if not isinstance(layer, Flatten)]
    if not layers:
        raise UnsupportedError("network: no layers to map")
    for layer in layers:
        if getattr(layer, "block", None) not in BLOCKS:
            raise UnsupportedError(f"layer {getattr(layer, 'name', layer)!r}: {type(layer).__name__} is not mapped")
    p = _Planner(_input_elems(net), net.input_type.bits, _input_features(net))
    for index in range(len(layers)):
        p.layer(layers, index)
    return p.streams, p.blocks, p.mems


def _input_elems(net: Network) -> int:
    """Elements per input beat: what the first block takes."""
    first = next(layer for layer in net.layers if not isinstance(layer, Flatten))
    return first.simd


def _output_layer(net: Network):
    return next(layer for layer in reversed(net.layers) if isinstance(layer, MatVec | Thresholds))


def _output_elems(net: Network) -> int:
    return _output_layer(net).pe


def _output_stream_type(net: Network) -> IntType:
    """Type of the output stream's elements: a MatVec's signed accumulators or a quantizer's codes."""
    last = _output_layer(net)
    if isinstance(last, MatVec):
        return IntType(last.acc_bits, True, last.out_frac)
    return last.out_type


def _input_features(net: Network) -> int:
    first = next(layer for layer in net.layers if not isinstance(layer, Flatten))
    return first.in_features


def _output_features(net: Network) -> int:
    last = _output_layer(net)
    return last.mh if isinstance(last, MatVec) else last.channels


def _encoding(t: IntType) -> str:
    return "bit 1 = +1, bit 0 = -1" if t.bipolar else "two's complement" if t.signed else "unsigned binary"


def interface(net: Network, streams: list[Stream], blocks: list[Block]) -> dict:
    in_s, out_s = streams[0], streams[-1]
    in_t, out_t = net.input_type, _output_stream_type(net)
    last = _output_layer(net)
    in_beats = _input_features(net) // in_s.elems
    out_beats = _output_features(net) // out_s.elems
    image = net.input_layout == "nchw"
    if isinstance(last, MatVec):
        meaning = (f"integer accumulators of the last layer ({last.name}); real output (logit) = value * "
                   f"2^-{out_t.frac}; the predicted class is the argmax")
    else:
        meaning = (f"quantized outputs of the last layer ({last.name}, {out_t.describe()}); real output = value * "
                   f"2^-{out_t.frac}; the predicted class is the argmax")
    conv = any(isinstance(layer, SlidingWindow | MaxPool | Pad) for layer in net.layers)
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
        shutil.copy2(TEMPLATES / "harness_io.cpp", tmp / "harness_io.cpp")
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
    return pack_fields(_encode(x, net.input_type, "input").reshape(-1, _input_elems(net)), net.input_type.bits)


def pack_input_words(net: Network, x_int: np.ndarray) -> np.ndarray:
    """Input codes (N, features) -> the harness's binary stimulus: ``(beats, ceil(width/32))`` uint32 words,
    little-endian, element 0 in the least significant bits (the packing of :func:`pack_input_beats`).

    Values outside the input type raise :class:`ValueError` (bipolar inputs must be exactly -1 or +1)."""
    x = np.asarray(x_int).reshape(len(x_int), -1)
    fields = _encode(x, net.input_type, "input")
    return pack_fields_words(fields.reshape(-1, _input_elems(net)), net.input_type.bits)


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


__all__ = ["TOP", "RtlDesign", "pack_input_beats", "pack_input_words", "pack_output_beats", "plan",
           "unpack_output_beats", "unpack_output_words", "write_rtl"]
