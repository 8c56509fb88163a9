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
from flow.compile.network import Flatten, IntType, MatVec, MaxPool, Network, Pad, SlidingWindow, Thresholds
from flow.errors import UnsupportedError
from flow.rtl.ops import HW_ROOT, encode, pack_fields, pack_fields_words, unpack_fields, unpack_fields_words
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


def block_times(blocks: list[Block], in_beats: int) -> list[list[int]]:
    """Per block, the cycles its output beats of one inference are valid (relative to the first input beat's
    acceptance, empty pipeline, no stalls): the beat-timing model behind :func:`predict_latency`."""
    times = list(range(in_beats))
    out = []
    for block in blocks:
        assert block.timing is not None, block.instance
        times = block.timing(times)
        out.append(times)
    return out


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


def _mvau_images_timing(nf: int, sf: int, vectors: int) -> Callable[[list[int]], list[int]]:
    """``hw/mvau`` over ``vectors`` vectors: each vector's beats are read during its first fold, and the
    next vector starts when the current one's NF*SF steps are issued (no backpressure)."""
    one = _mvau_timing(nf, sf)

    def timing(valid: list[int]) -> list[int]:
        out: list[int] = []
        free = -(10**9)  # first cycle the unit can accept the next vector's first beat
        for v in range(vectors):
            beats = [max(t, free) for t in valid[v * sf : (v + 1) * sf]]
            accepted = _accept_times(beats)
            out.extend(one(accepted))
            free = accepted[0] + nf * sf
        return out

    return timing


class _Planner:
    """Builds the stream/block list layer by layer (see :func:`plan`)."""

    def __init__(self, net: Network) -> None:
        self.net = net
        self.streams: list[Stream] = []
        self.blocks: list[Block] = []
        self.mems: dict[str, list[str]] = {}
        self.cur: Stream | None = None

    def stream(self, elems: int, bits: int) -> Stream:
        s = Stream(f"s{len(self.streams)}", elems * bits, elems, bits)
        self.streams.append(s)
        return s

    def add(self, module, instance, params, out: Stream, comment, cycles, latency, layer, timing) -> None:
        assert self.cur is not None
        self.blocks.append(
            Block(module, instance, [(k, _verilog_value(v)) for k, v in params], self.cur.name, out.name, comment,
                  cycles, latency, layer, timing)
        )
        self.cur = out

    def start(self, elems: int, t: IntType) -> None:
        self.cur = self.stream(elems, t.bits)

    def width(self, elems: int, per_inference: int, index: int, layer: str) -> None:
        """Insert a width converter so that the current stream carries ``elems`` elements per beat."""
        assert self.cur is not None
        a, b = self.cur.elems, elems
        if a == b:
            return
        if a % b and b % a:
            raise UnsupportedError(
                f"layer {layer!r}: {b} elements per beat and the previous block's {a} must divide one another"
            )
        bits = self.cur.elem_bits
        self.add(
            "axis_dwc", f"dwc_{index}", [("IN_ELEMS", a), ("OUT_ELEMS", b), ("ELEM_BITS", bits)],
            self.stream(b, bits), f"width converter {a} -> {b} elements of {bits} bits",
            max(per_inference // a, per_inference // b), 1, layer, _dwc_timing(a, b),
        )

    def fifo(self, beats: int, per_inference_beats: int, index: int, layer: str) -> None:
        assert self.cur is not None
        depth = _fifo_depth(beats)
        self.add(
            "axis_fifo", f"fifo_{index}", [("WIDTH", self.cur.width), ("DEPTH", depth)],
            self.stream(self.cur.elems, self.cur.elem_bits), f"FIFO, {depth} beats of {self.cur.width} bits",
            per_inference_beats, 1, layer, _register_timing,
        )


def plan(net: Network) -> tuple[list[Stream], list[Block], dict[str, list[str]]]:
    """Streams, blocks and memory files (name -> lines) for ``net``; pure, writes nothing.

    ``Block.cycles_per_vector`` holds the block's cycles per *inference* (for a convolution: per image, all
    its windows); the slowest block sets the pipeline's cycles per inference.
    """
    from flow.rtl.ops import swg as swg_ops

    p = _Planner(net)
    layers = [layer for layer in net.layers if not isinstance(layer, Flatten)]
    if not layers:
        raise UnsupportedError("network: no layers to map")
    p.start(_input_elems(net), net.input_type)
    for index, layer in enumerate(layers):
        if isinstance(layer, MatVec):
            per_inference = layer.mw * layer.vectors
            p.width(layer.simd, per_inference, index, layer.name)
            if index > 0 and not isinstance(layers[index - 1], SlidingWindow):
                # MVAUs read their input only during the first neuron fold: a FIFO that holds one whole
                # input vector lets the producer keep streaming during the other folds (as FINN does).
                p.fifo(layer.mw // layer.simd, per_inference // layer.simd, index, layer.name)
            params = layer.params
            weight_file = f"{layer.name}_weights.mem"
            p.mems[weight_file] = mvau_ops.pack_weights(layer.weights, params)
            vec = f", {layer.vectors} windows" if layer.vectors > 1 else ""
            p.add(
                "mvau", f"mvau_{index}", list(params.verilog_parameters(weight_file).items()),
                p.stream(layer.pe, layer.acc_bits),
                f"{layer.name}: {layer.mode.name} {layer.mh}x{layer.mw}, PE={layer.pe} SIMD={layer.simd}, "
                f"acc {layer.acc_bits} bits{vec}",
                mvau_ops.cycles_per_vector(params) * layer.vectors, mvau_ops.latency_cycles(params), layer.name,
                _mvau_images_timing(params.nf, params.sf, layer.vectors),
            )
        elif isinstance(layer, Thresholds):
            thresh_file = f"{layer.name}.mem"
            p.mems[thresh_file] = threshold_mem_lines(layer)
            tp = threshold_params(layer)
            vectors = layers[index - 1].vectors if isinstance(layers[index - 1], MatVec) else 1
            p.add(
                "thresholding", f"thresholding_{index}",
                [("C", tp.c), ("PE", tp.pe), ("IN_BITS", tp.in_bits), ("N_THRESH", tp.n_thresh),
                 ("OUT_BITS", tp.out_bits), ("OUT_BIAS", tp.out_bias), ("THRESH_FILE", thresh_file)],
                p.stream(layer.pe, layer.out_type.bits),
                f"{layer.name}: {layer.thresholds.shape[1]} thresholds/channel -> {layer.out_type.describe()}",
                layer.channels // layer.pe * vectors, THRESHOLDING_LATENCY, layer.name, _thresholding_timing,
            )
        elif isinstance(layer, SlidingWindow):
            sp = swg_ops.SwgParams(
                ifm_h=layer.ifm.h, ifm_w=layer.ifm.w, ch=layer.ifm.c, simd=layer.simd, k=layer.k,
                stride=layer.stride, elem_bits=layer.elem_type.bits, signed=layer.elem_type.signed,
            )
            sp.validate()
            p.width(layer.simd, layer.ifm.pixels * layer.ifm.c, index, layer.name)
            if index > 0:
                # A whole input image of buffering in front of the generator: its line buffer holds only
                # K + STRIDE rows, and a convolution that is slower per row than its producer (fewer output
                # than input rows) would otherwise stall the producer mid-image and lower the throughput.
                beats = layer.ifm.pixels * layer.ifm.c // layer.simd
                p.fifo(beats, beats, index, layer.name)
            p.add(
                "swg", f"swg_{index}", list(sp.verilog_parameters().items()),
                p.stream(layer.simd, layer.elem_type.bits),
                f"{layer.name}: {layer.k}x{layer.k} windows, stride {layer.stride}, over "
                f"{layer.ifm.h}x{layer.ifm.w}x{layer.ifm.c}, SIMD={layer.simd}",
                swg_ops.cycles_per_image(sp), swg_ops.PIPELINE_CYCLES, layer.name,
                lambda valid, sp=sp: swg_ops.output_valid_times(sp, valid),
            )
        elif isinstance(layer, MaxPool):
            from flow.rtl.ops import maxpool as pool_ops

            mp = pool_ops.MaxpoolParams(
                ifm_h=layer.ifm.h, ifm_w=layer.ifm.w, ch=layer.ifm.c, simd=layer.simd, k=layer.k,
                elem_bits=layer.elem_type.bits, signed=layer.elem_type.signed and not layer.elem_type.bipolar,
            )
            mp.validate()
            p.width(layer.simd, layer.ifm.pixels * layer.ifm.c, index, layer.name)
            p.add(
                "maxpool", f"maxpool_{index}", list(mp.verilog_parameters().items()),
                p.stream(layer.simd, layer.elem_type.bits),
                f"{layer.name}: {layer.k}x{layer.k} max-pool over {layer.ifm.h}x{layer.ifm.w}x{layer.ifm.c}",
                pool_ops.cycles_per_image(mp), pool_ops.PIPELINE_CYCLES, layer.name,
                lambda valid, mp=mp: pool_ops.output_valid_times(mp, valid),
            )
        elif isinstance(layer, Pad):
            from flow.rtl.ops import pad as pad_ops

            pp = pad_ops.PadParams(
                ifm_h=layer.ifm.h, ifm_w=layer.ifm.w, ch=layer.ifm.c, simd=layer.simd, pad_t=layer.top,
                pad_b=layer.bottom, pad_l=layer.left, pad_r=layer.right, elem_bits=layer.elem_type.bits,
                pad_value=layer.value, signed=layer.elem_type.signed,
            )
            pp.validate()
            p.width(layer.simd, layer.ifm.pixels * layer.ifm.c, index, layer.name)
            p.add(
                "pad", f"pad_{index}", list(pp.verilog_parameters().items()),
                p.stream(layer.simd, layer.elem_type.bits),
                f"{layer.name}: pad {layer.top}/{layer.bottom}/{layer.left}/{layer.right} around "
                f"{layer.ifm.h}x{layer.ifm.w}x{layer.ifm.c}",
                pad_ops.cycles_per_image(pp), pad_ops.PIPELINE_CYCLES, layer.name,
                lambda valid, pp=pp: pad_ops.output_valid_times(pp, valid),
            )
        else:
            raise UnsupportedError(f"layer {getattr(layer, 'name', layer)!r}: {type(layer).__name__} is not mapped")
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
    return first.ifm.pixels * first.ifm.c if hasattr(first, "ifm") else first.mw


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
        "cycles_per_inference": max(b.cycles_per_vector for b in blocks),
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
                "cycles_per_inference": b.cycles_per_vector,
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
    pass here), else :func:`~flow.rtl.ops.encode`. Values outside the type raise :class:`ValueError`."""
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
           "threshold_mem_lines", "unpack_output_beats", "unpack_output_words", "write_rtl"]
