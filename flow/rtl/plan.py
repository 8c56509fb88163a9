"""Plan the accelerator of an integer :class:`~flow.compile.network.Network`: its streams and block instances
(:func:`plan`), and the beat-timing model over them (:func:`stream_times`, :func:`block_times`,
:func:`predict_latency`). Pure: writes nothing (:mod:`flow.rtl.generate` writes the Verilog).

Each layer names its block; the blocks' specs (:data:`flow.blocks.registry.BLOCKS`) give ports, parameters,
memory contents and timing. A residual block becomes a fork, its two branches, a FIFO on a branch whose beats
must wait for the other one (as deep as the timing model says), and the add.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from flow.blocks import axis_dwc, axis_fifo, axis_fork
from flow.blocks.eltwise_add import join_times
from flow.blocks.registry import BLOCKS
from flow.blocks.spec import BlockSpec
from flow.blocks.spec import Stream as StreamShape
from flow.compile.network import Flatten, MatVec, Network, Residual, SlidingWindow, flat_layers
from flow.errors import UnsupportedError

__all__ = ["Block", "Stream", "block_times", "fifo_need", "input_elems", "input_features", "plan", "predict_latency",
           "stream_times"]


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
    extra: dict[str, str] = field(default_factory=dict)  # further port prefix -> stream (fork, add)

    @property
    def module(self) -> str:
        return self.spec.name

    @property
    def connections(self) -> list[tuple[str, str]]:
        """``(port prefix, stream)`` of every AXI-Stream port of the instance."""
        return [(self.spec.port_names[0], self.src), (self.spec.port_names[1], self.dst), *self.extra.items()]

    @property
    def inputs(self) -> list[str]:
        """The streams the block reads (two for an add)."""
        ports = self.spec.port_map(self.params)
        return [self.src, *(s for k, s in self.extra.items() if ports[k][0] == "in")]

    @property
    def outputs(self) -> list[str]:
        """The streams the block writes (two for a fork)."""
        ports = self.spec.port_map(self.params)
        return [self.dst, *(s for k, s in self.extra.items() if ports[k][0] == "out")]

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


def stream_times(blocks: list[Block], in_beats: int) -> dict[str, list[int]]:
    """Per stream, the cycles its beats of one inference are valid (relative to the first input beat's
    acceptance, empty pipeline, no stalls): each block's timing model applied in stream order; a block with
    two inputs (a residual add) starts from the later of each pair of beats."""
    times: dict[str, list[int]] = {}
    for block in blocks:
        inputs = [times.get(s, list(range(in_beats))) for s in block.inputs]
        valid = inputs[0] if len(inputs) == 1 else join_times(*inputs)
        out = block.output_times(valid)
        for s in block.outputs:
            times[s] = out
    return times


def block_times(blocks: list[Block], in_beats: int) -> list[list[int]]:
    """Per block, the cycles its (first) output's beats of one inference are valid: :func:`stream_times`, the
    beat-timing model behind :func:`predict_latency`."""
    times = stream_times(blocks, in_beats)
    return [times[b.dst] for b in blocks]


def predict_latency(blocks: list[Block], in_beats: int) -> int:
    """Cycles from the first input beat's acceptance to the last output beat's, one vector, no stalls (as the
    simulation measures it: a first block that sends beats of its own first, a padding border, takes the first
    input beat late, and the count starts there)."""
    valid = list(range(in_beats))
    first = blocks[0].spec.first_accept if blocks else None
    start = first(blocks[0].params, valid) if first is not None else valid[0]
    return block_times(blocks, in_beats)[-1][-1] - start


def fifo_need(arrivals: list[int], taken: list[int]) -> int:
    """Beats a FIFO must hold so that a stream whose beats arrive at ``arrivals`` never waits for a consumer that
    takes beat i at ``taken[i]``: the most beats that have arrived but are not yet taken, over every take."""
    need, j = 0, 0
    for i, t in enumerate(taken):
        while j < len(arrivals) and arrivals[j] <= t:
            j += 1
        need = max(need, j - i)
    return need


def _verilog_value(value: int | str) -> str:
    return f'"{value}"' if isinstance(value, str) else str(int(value))


def _fifo_depth(beats: int) -> int:
    depth = 2
    while depth < beats:
        depth *= 2
    return depth


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
    beats per inference. ``fifo_depths`` overrides the depth of a residual branch's FIFO (``{"<add>/<branch>":
    beats}``, branch 0 or 1): a depth below what the timing model needs is refused (:meth:`balance`)."""

    def __init__(self, elems: int, elem_bits: int, features: int, fifo_depths: dict[str, int] | None = None) -> None:
        self.streams: list[Stream] = []
        self.blocks: list[Block] = []
        self.mems: dict[str, list[str]] = {}
        self.cur = self.stream(elems, elem_bits)
        self.beats = features // elems  # beats of the current stream per inference
        self.in_beats = self.beats
        self.fifo_depths = dict(fifo_depths or {})

    def stream(self, elems: int, bits: int) -> Stream:
        s = Stream(f"s{len(self.streams)}", elems * bits, elems, bits)
        self.streams.append(s)
        return s

    def add(self, spec: BlockSpec, params: Any, instance: str, comment: str, layer: str, data: Any = None,
            extra_in: dict[str, Stream] | None = None) -> Block:
        """Append an instance of ``spec`` fed by the current stream (and ``extra_in``: further input ports); its
        (first) output becomes the current stream, further outputs get streams of their own."""
        params.validate()
        out = spec.ports(params)[1]
        if spec.name in ("axis_fifo", "skid_buffer", "axis_fork"):  # a pass-through keeps the elements' shape
            out = StreamShape(self.cur.elems, self.cur.elem_bits)
        memory_file = None
        if spec.memory_lines is not None:
            memory_file = spec.memory_name.format(layer=layer)
            self.mems[memory_file] = spec.memory_lines(params, data)
        dst = self.stream(out.elems, out.elem_bits)
        extra = {k: s.name for k, s in (extra_in or {}).items()}
        for prefix, (direction, _) in spec.port_map(params).items():
            if direction == "out" and prefix != spec.port_names[1]:
                extra[prefix] = self.stream(out.elems, out.elem_bits).name
        block = Block(spec, params, data, instance, self.cur.name, dst.name, comment, layer, self.beats, memory_file,
                      extra)
        self.blocks.append(block)
        self.beats = spec.out_beats(params, self.beats)
        self.cur = dst
        return block

    def width(self, elems: int, tag: str, layer: str) -> None:
        """Insert a width converter so that the current stream carries ``elems`` elements per beat."""
        a, b, bits = self.cur.elems, elems, self.cur.elem_bits
        if a == b:
            return
        # Any pair of widths: the converter goes through lcm(a, b) elements, which divides the elements per
        # inference (a and b both do).
        self.add(BLOCKS["axis_dwc"], axis_dwc.DwcParams(a, b, bits), f"dwc_{tag}",
                 f"width converter {a} -> {b} elements of {bits} bits", layer)

    def fifo(self, beats: int, tag: str, layer: str, depth: int | None = None) -> None:
        depth, width = depth or _fifo_depth(beats), self.cur.width
        self.add(BLOCKS["axis_fifo"], axis_fifo.AxisFifoParams(width=width, depth=depth), f"fifo_{tag}",
                 f"FIFO, {depth} beats of {width} bits", layer)

    def layer(self, layers: list, index: int, tag: str | None = None) -> None:
        """The blocks of one network layer: a width converter and an input FIFO where needed, then its block."""
        layer = layers[index]
        tag = str(index) if tag is None else tag
        if isinstance(layer, Residual):
            self.residual(layer, tag)
            return
        spec = BLOCKS[layer.block]
        params = layer.params
        self.width(spec.ports(params)[0].elems, tag, layer.name)
        buffer = _input_buffer_beats(layers, index)
        if buffer:
            self.fifo(buffer, tag, layer.name)
        self.add(spec, params, f"{spec.name}_{tag}", layer.describe(), layer.name, layer.data)

    def residual(self, res: Residual, tag: str) -> None:
        """Fork, both branches (each brought to the add's ``PE`` elements per beat), a FIFO on a branch that must
        wait for the other (:meth:`balance`), the add."""
        fork = self.add(BLOCKS["axis_fork"], axis_fork.AxisForkParams(self.cur.width), f"fork_{tag}",
                        f"fork of the residual block {res.name}", res.name)
        second = next(s for s in self.streams if s.name == fork.extra["m1_axis"])
        starts, beats, ends = [self.cur, second], self.beats, []
        for k, (branch, start) in enumerate(zip(res.branches, starts, strict=True)):
            self.cur, self.beats = start, beats
            chain = [None, *branch]  # the first layer of a branch has a producer (the fork)
            for i in range(1, len(chain)):
                self.layer(chain, i, f"{tag}b{k}_{i - 1}")
            self.width(res.pe, f"{tag}b{k}", res.name)
            ends.append(self.cur)
        ends = self.balance(res, ends, tag)
        self.cur = ends[0]
        self.add(BLOCKS["eltwise_add"], res.params, f"eltwise_add_{tag}", res.describe(), res.name,
                 extra_in={"s1_axis": ends[1]})

    def balance(self, res: Residual, ends: list[Stream], tag: str) -> list[Stream]:
        """A FIFO at the end of each branch whose beats arrive before the add can take them (the other branch is
        later), as deep as the beat-timing model needs (:func:`fifo_need`, plus two), so the fork never waits
        on a full branch: that would stall the design, or deadlock it when the slower branch needs more input
        before its next output. A depth given in ``fifo_depths`` below that need raises
        :class:`UnsupportedError` here, at generation, instead of hanging in simulation."""
        times = stream_times(self.blocks, self.in_beats)
        arrivals = [times[s.name] for s in ends]
        taken = [max(a, b) for a, b in zip(*arrivals, strict=True)]  # one cycle more with a FIFO: still safe
        out = []
        for k, end in enumerate(ends):
            need = fifo_need(arrivals[k], taken)
            key = f"{res.name}/{k}"
            depth = self.fifo_depths.pop(key, None)
            if depth is not None and depth < need:
                raise UnsupportedError(
                    f"residual {res.name!r}: a FIFO of {depth} beats on branch {k} is too shallow: the beat-timing "
                    f"model has up to {need} of its beats waiting for the other branch (the fork would stall, "
                    "and deadlock when the other branch needs more input first)"
                )
            self.cur = end
            if depth is not None or need > 1:
                self.fifo(need, f"{tag}b{k}", res.name, depth=depth or _fifo_depth(need + 2))
            out.append(self.cur)
        return out


def plan(net: Network, fifo_depths: dict[str, int] | None = None) -> tuple[list[Stream], list[Block],
                                                                            dict[str, list[str]]]:
    """Streams, blocks and memory files (name -> lines) for ``net``; pure, writes nothing. ``fifo_depths``: see
    :class:`_Planner`.

    Each network layer names its block; the blocks' specs (:data:`flow.blocks.registry.BLOCKS`) give ports,
    parameters, memory contents and timing. ``Block.cycles_per_inference`` is the block's cycles per
    inference (for a convolution: all its windows); the slowest block sets the pipeline's.
    """
    layers = [layer for layer in net.layers if not isinstance(layer, Flatten)]
    if not layers:
        raise UnsupportedError("network: no layers to map")
    for layer in flat_layers(layers):
        if not isinstance(layer, Flatten) and getattr(layer, "block", None) not in BLOCKS:
            raise UnsupportedError(f"layer {getattr(layer, 'name', layer)!r}: {type(layer).__name__} is not mapped")
    p = _Planner(input_elems(net), net.input_type.bits, input_features(net), fifo_depths)
    for index in range(len(layers)):
        p.layer(layers, index)
    if p.fifo_depths:
        raise UnsupportedError(f"fifo_depths: {sorted(p.fifo_depths)} name no residual branch (expected "
                               "'<add layer>/<0 or 1>')")
    return p.streams, p.blocks, p.mems


def input_elems(net: Network) -> int:
    """Elements per input beat: what the first block takes."""
    first = next(layer for layer in net.layers if not isinstance(layer, Flatten))
    return first.simd


def input_features(net: Network) -> int:
    first = next(layer for layer in net.layers if not isinstance(layer, Flatten))
    return first.in_features
