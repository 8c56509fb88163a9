"""The integer network: what the hardware computes, layer by layer, with exact integer semantics.

Built from an hls4ml ``ModelGraph`` by :mod:`flow.compile.lower`. Values are plain integers (bipolar values
are -1/+1); each tensor has an :class:`IntType` saying how to read it as a real number (``int * 2**-frac``).
``Network.run`` is the golden integer model the RTL is compared with, and it is checked against the
QONNX reference on whole test splits. Each hardware layer names its block (``block``), gives that block's
parameters (``params``) and memory contents (``data``), and computes its output with the block's golden model
(:mod:`flow.blocks`): no block's function is written twice.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import ClassVar

import numpy as np

from flow.blocks import cmvm, gap, maxpool, mvau, pad, swg, thresholding, vvau
from flow.blocks.mvau import MvauMode, MvauParams
from flow.compile.inttype import IntType, from_codes, to_codes
from flow.compile.residual import Residual, flat_layers, run_layers


@dataclass(frozen=True)
class MatVec:
    """``y = W x`` (or the adder form) for one dense layer; ``weights`` is ``(MH, MW)`` int64. Block: ``mvau``, or
    ``cmvm`` where ``cmvm`` is set (a fully parallel layer built as a constant multiplier with shared adders,
    :mod:`flow.compile.constant`)."""

    name: str
    weights: np.ndarray
    mode: MvauMode
    in_type: IntType
    w_bits: int
    acc_bits: int
    out_frac: int  # real value of the accumulator = acc * 2**-out_frac
    pe: int
    simd: int
    vectors: int = 1  # vectors per inference: 1 for a dense layer, OH*OW windows for a convolution
    in_reg: bool = False  # register stages for Fmax (flow.compile.pipeline): a register on the ROM output,
    fanin: int = 0  # ... and an adder tree with a register every `fanin` inputs (0: none)
    term_reg: bool = False  # ... and every product registered before the tree
    cmvm: bool = False  # built by the cmvm block (constant weights, shared adders) instead of mvau

    @property
    def block(self) -> str:
        return "cmvm" if self.cmvm else "mvau"

    @property
    def mh(self) -> int:
        return int(self.weights.shape[0])

    @property
    def mw(self) -> int:
        return int(self.weights.shape[1])

    @property
    def params(self) -> MvauParams | cmvm.CmvmParams:
        """The block's parameters (``cmvm``'s solve the constant matrix once, cached)."""
        if self.cmvm:
            return cmvm.layer_params(self.name, self.weights, self.mvau_params, self.fanin)
        return self.mvau_params

    @property
    def mvau_params(self) -> MvauParams:
        """The layer as an MVAU (the function either block computes)."""
        return MvauParams(
            mw=self.mw,
            mh=self.mh,
            pe=self.pe,
            simd=self.simd,
            mode=self.mode,
            in_bits=self.in_type.bits,
            in_signed=self.in_type.signed or self.in_type.bipolar,
            w_bits=self.w_bits,
            acc_bits=self.acc_bits,
            in_reg=self.in_reg,
            fanin=self.fanin,
            term_reg=self.term_reg,
        )

    @property
    def in_features(self) -> int:
        """Input elements per inference."""
        return self.mw * self.vectors

    @property
    def data(self) -> np.ndarray:
        """The weight ROM's contents."""
        return self.weights

    @property
    def out_type(self) -> IntType:
        return IntType(self.acc_bits, True, self.out_frac)

    def describe(self) -> str:
        vec = f", {self.vectors} windows" if self.vectors > 1 else ""
        return (f"{self.name}: {self.mode.name} {self.mh}x{self.mw}, PE={self.pe} SIMD={self.simd}, "
                f"acc {self.acc_bits} bits{vec}")

    def run(self, x: np.ndarray) -> np.ndarray:
        """(N, ..., MW) integers -> (N, ..., MH): one matrix-vector product per vector."""
        x = np.asarray(x, dtype=np.int64)
        y = mvau.golden(x.reshape(-1, self.mw), self.weights, self.mvau_params)
        return y.reshape(*x.shape[:-1], self.mh)


@dataclass(frozen=True)
class Depthwise:
    """A depthwise convolution after its sliding-window generator: per window (``K2*C`` elements,
    position-major) one output per channel, ``y[c] = sum_k op(x[k][c], W[c][k])``; ``weights`` is ``(C, K2)``
    int64. ``simd`` channels per beat in and out. Block: ``vvau``."""

    block: ClassVar[str] = "vvau"

    name: str
    weights: np.ndarray
    mode: MvauMode
    in_type: IntType
    w_bits: int
    acc_bits: int
    out_frac: int
    simd: int
    vectors: int  # windows per inference

    @property
    def mh(self) -> int:
        """Outputs per window: the channels."""
        return int(self.weights.shape[0])

    @property
    def k2(self) -> int:
        return int(self.weights.shape[1])

    @property
    def pe(self) -> int:
        """Outputs per beat (= channels per input beat)."""
        return self.simd

    @property
    def params(self) -> vvau.VvauParams:
        return vvau.VvauParams(ch=self.mh, k2=self.k2, simd=self.simd, mode=self.mode, in_bits=self.in_type.bits,
                               in_signed=self.in_type.signed or self.in_type.bipolar, w_bits=self.w_bits,
                               acc_bits=self.acc_bits)

    @property
    def in_features(self) -> int:
        return self.k2 * self.mh * self.vectors

    @property
    def data(self) -> np.ndarray:
        return self.weights

    @property
    def out_type(self) -> IntType:
        return IntType(self.acc_bits, True, self.out_frac)

    def describe(self) -> str:
        return (f"{self.name}: depthwise {self.mode.name} {self.mh} channels x {self.k2} taps, SIMD={self.simd}, "
                f"acc {self.acc_bits} bits, {self.vectors} windows")

    def run(self, x: np.ndarray) -> np.ndarray:
        """(N, windows, K2*C) -> (N, windows, C)."""
        x = np.asarray(x, dtype=np.int64)
        y = vvau.golden(x.reshape(-1, self.k2 * self.mh), self.weights, self.params)
        return y.reshape(*x.shape[:-1], self.mh)


@dataclass(frozen=True)
class Image:
    """Shape of a channels-last feature map in the stream: ``h`` x ``w`` pixels of ``c`` channels."""

    h: int
    w: int
    c: int

    @property
    def pixels(self) -> int:
        return self.h * self.w


@dataclass(frozen=True)
class _ImageLayer:
    """A layer on a feature map, streamed channels-last ``simd`` channels per beat: (N, H*W, C) in. Its block's
    golden model computes it on codes (:func:`to_codes`)."""

    @property
    def in_features(self) -> int:
        """Input elements per inference."""
        return self.ifm.pixels * self.ifm.c

    def run(self, x: np.ndarray) -> np.ndarray:
        n = len(x)
        img = to_codes(x, self.elem_type).reshape(n, self.ifm.h, self.ifm.w, self.ifm.c)
        out = BLOCK_GOLDEN[self.block](img, self.params)
        return from_codes(out, self.elem_type).reshape(n, self.ofm.pixels, -1)

    #: No memory contents.
    data: ClassVar[None] = None


@dataclass(frozen=True)
class SlidingWindow(_ImageLayer):
    """Convolution input generator: (N, H*W, C) -> (N, OH*OW, K*K*C), window element (ky*K + kx)*C + c.
    Block: ``swg``."""

    block: ClassVar[str] = "swg"

    name: str
    ifm: Image
    k: int
    stride: int
    simd: int
    elem_type: IntType

    @property
    def ofm(self) -> Image:
        return Image((self.ifm.h - self.k) // self.stride + 1, (self.ifm.w - self.k) // self.stride + 1, self.ifm.c)

    @property
    def params(self) -> swg.SwgParams:
        return swg.SwgParams(
            ifm_h=self.ifm.h, ifm_w=self.ifm.w, ch=self.ifm.c, simd=self.simd, k=self.k, stride=self.stride,
            elem_bits=self.elem_type.bits, signed=self.elem_type.signed and not self.elem_type.bipolar,
        )

    def describe(self) -> str:
        return (f"{self.name}: {self.k}x{self.k} windows, stride {self.stride}, over "
                f"{self.ifm.h}x{self.ifm.w}x{self.ifm.c}, SIMD={self.simd}")


@dataclass(frozen=True)
class MaxPool(_ImageLayer):
    """Non-overlapping max-pool (window = stride = ``k``, floor): (N, H*W, C) -> (N, (H//k)*(W//k), C).
    Block: ``maxpool``."""

    block: ClassVar[str] = "maxpool"

    name: str
    ifm: Image
    k: int
    simd: int
    elem_type: IntType

    @property
    def ofm(self) -> Image:
        return Image(self.ifm.h // self.k, self.ifm.w // self.k, self.ifm.c)

    @property
    def params(self) -> maxpool.MaxpoolParams:
        return maxpool.MaxpoolParams(
            ifm_h=self.ifm.h, ifm_w=self.ifm.w, ch=self.ifm.c, simd=self.simd, k=self.k,
            elem_bits=self.elem_type.bits, signed=self.elem_type.signed and not self.elem_type.bipolar,
        )

    def describe(self) -> str:
        return f"{self.name}: {self.k}x{self.k} max-pool over {self.ifm.h}x{self.ifm.w}x{self.ifm.c}"


@dataclass(frozen=True)
class Pad(_ImageLayer):
    """Constant padding of a feature map (``value`` is an integer code of ``elem_type``). Block: ``pad``."""

    block: ClassVar[str] = "pad"

    name: str
    ifm: Image
    top: int
    bottom: int
    left: int
    right: int
    value: int
    simd: int
    elem_type: IntType

    @property
    def ofm(self) -> Image:
        return Image(self.ifm.h + self.top + self.bottom, self.ifm.w + self.left + self.right, self.ifm.c)

    @property
    def params(self) -> pad.PadParams:
        return pad.PadParams(
            ifm_h=self.ifm.h, ifm_w=self.ifm.w, ch=self.ifm.c, simd=self.simd, pad_t=self.top, pad_b=self.bottom,
            pad_l=self.left, pad_r=self.right, elem_bits=self.elem_type.bits, pad_value=self.value,
            signed=self.elem_type.signed and not self.elem_type.bipolar,
        )

    def describe(self) -> str:
        return (f"{self.name}: pad {self.top}/{self.bottom}/{self.left}/{self.right} around "
                f"{self.ifm.h}x{self.ifm.w}x{self.ifm.c}")


@dataclass(frozen=True)
class GlobalPool(_ImageLayer):
    """Global average pooling: the exact per-channel sum (N, H*W, C) -> (N, 1, C), block ``gap``. Over ``2**shift``
    pixels the sum read with ``shift`` more fraction bits is the average, exactly (``averaged``); over any other
    count the sum goes to thresholds that absorb the division (``averaged`` False, ``shift`` 0)."""

    block: ClassVar[str] = "gap"

    name: str
    ifm: Image
    simd: int
    elem_type: IntType
    shift: int
    averaged: bool = True

    @property
    def ofm(self) -> Image:
        return Image(1, 1, self.ifm.c)

    @property
    def params(self) -> gap.GapParams:
        return gap.GapParams(ifm_h=self.ifm.h, ifm_w=self.ifm.w, ch=self.ifm.c, simd=self.simd,
                             elem_bits=self.elem_type.bits, signed=self.elem_type.signed)

    # what the thresholds after it need, as after a matrix-vector layer
    @property
    def acc_bits(self) -> int:
        return self.params.out_bits

    @property
    def out_frac(self) -> int:
        return self.elem_type.frac + self.shift

    @property
    def pe(self) -> int:
        return self.simd

    vectors: ClassVar[int] = 1

    @property
    def out_type(self) -> IntType:
        return IntType(self.acc_bits, True, self.out_frac)

    def describe(self) -> str:
        return f"{self.name}: global average pool of {self.ifm.h}x{self.ifm.w}x{self.ifm.c} (sum, 2^-{self.shift})"


#: The golden model of each image block, as ``f(images (N, H, W, C) of codes, params)``.
BLOCK_GOLDEN = {"swg": swg.golden, "maxpool": maxpool.golden, "pad": pad.golden, "gap": gap.golden}


@dataclass(frozen=True)
class Flatten:
    """(N, P, C) -> (N, 1, P*C) in stream order (pixel-major, channels last): no hardware, only a view."""

    name: str

    def run(self, x: np.ndarray) -> np.ndarray:
        return np.asarray(x).reshape(len(x), 1, -1)


@dataclass(frozen=True)
class Thresholds:
    """Per-channel step activation: ``y = out_min + #{t : x >= T[c, t]}`` (``<=`` where ``descending[c]``).
    Block: ``thresholding``.

    ``thresholds`` is ``(C, N)`` int64, ascending along ``t`` for ascending channels and descending for
    descending ones. This is BatchNorm + activation + quantizer, made exact by construction. ``vectors``:
    vectors of ``C`` channels per inference (the windows of the convolution before it).
    """

    block: ClassVar[str] = "thresholding"

    name: str
    thresholds: np.ndarray
    descending: np.ndarray
    in_bits: int
    out_type: IntType
    pe: int
    vectors: int = 1
    pipe: int = 0  # register stages for Fmax (flow.compile.pipeline): 1 the ROM word, 2 also the comparisons

    @property
    def channels(self) -> int:
        return int(self.thresholds.shape[0])

    @property
    def out_min(self) -> int:
        return self.out_type.range[0] if not self.out_type.bipolar else 0

    @property
    def params(self) -> thresholding.ThresholdingParams:
        return thresholding.ThresholdingParams(
            c=self.channels,
            pe=self.pe,
            in_bits=self.in_bits,
            n_thresh=int(self.thresholds.shape[1]),
            out_bits=self.out_type.bits,
            out_bias=self.out_min,
            pipe=self.pipe,
        )

    @property
    def in_features(self) -> int:
        """Input elements per inference."""
        return self.channels * self.vectors

    @property
    def data(self) -> tuple[np.ndarray, np.ndarray]:
        """The threshold memory's contents: ``(T, flags)``, flag 1 for a descending channel."""
        return self.thresholds, self.descending.astype(np.int64)

    def describe(self) -> str:
        return f"{self.name}: {self.thresholds.shape[1]} thresholds/channel -> {self.out_type.describe()}"

    def run(self, x: np.ndarray) -> np.ndarray:
        """(N, ..., C) integers -> (N, ..., C) output values (bipolar outputs as -1/+1)."""
        shape = np.shape(x)
        T, flags = self.data
        codes = thresholding.golden(np.asarray(x, dtype=np.int64).reshape(-1, shape[-1]), T, flags, self.params)
        return from_codes(codes, self.out_type).reshape(shape)


@dataclass
class Network:
    """The whole accelerator: input type, layers in stream order, output type."""

    input_type: IntType
    input_shape: tuple[int, ...]
    layers: list[Layer] = field(default_factory=list)
    input_quantizer: object | None = None  # callable float -> int codes (the graph's own input quantizer)
    # "flat": inputs are vectors; "nchw": images given channels-first (PyTorch), streamed channels-last
    input_layout: str = "flat"
    # Float ops the host runs before the input quantizer and after the last layer (flow.frontend.host);
    # None when the accelerator takes the graph's input and gives its output directly. Not saved in
    # network.json: a loaded network runs on integer codes.
    input_stage: object | None = None
    output_stage: object | None = None
    # The channels structured pruning removed (flow.compile.prune.ChannelRemoval per layer); the compile stage
    # reports them in network.json. Not saved with the layers.
    pruned: tuple = ()

    @property
    def output_type(self) -> IntType:
        last = next(layer for layer in reversed(self.layers) if hasattr(layer, "out_type"))
        return last.out_type

    def to_stream_order(self, x: np.ndarray) -> np.ndarray:
        """Inputs (N, ...) as the accelerator streams them: (N, features), images channels-last."""
        x = np.asarray(x)
        if self.input_layout == "nchw":
            x = x.reshape(len(x), *self.input_shape).transpose(0, 2, 3, 1)
        return x.reshape(len(x), -1)

    def quantize_input(self, x: np.ndarray) -> np.ndarray:
        """Float inputs (N, ...) -> integer input codes in stream order, exactly as the graph's quantizer."""
        if self.input_quantizer is None:
            raise ValueError("this network has no input quantizer; feed integer codes")
        x = np.asarray(x, dtype=np.float32)
        if self.input_stage is not None:
            x = self.input_stage.run(x)
        return self.input_quantizer(np.asarray(self.to_stream_order(x)))

    def run(self, x_int: np.ndarray) -> np.ndarray:
        """Golden integer model: integer input codes (N, features) in stream order -> integer outputs
        (N, outputs)."""
        x = np.asarray(x_int, dtype=np.int64)
        first = self.layers[0]
        pixels = first.ifm.pixels if hasattr(first, "ifm") else 1
        return run_layers(self.layers, x.reshape(len(x), pixels, -1)).reshape(len(x), -1)

    def run_float(self, x: np.ndarray) -> np.ndarray:
        """Float in, float out (outputs times their scale, then the host's output stage): comparable with the
        QONNX reference of the graph the network was made from."""
        return self.outputs_to_float(self.run(self.quantize_input(x)))

    def outputs_to_float(self, y_int: np.ndarray) -> np.ndarray:
        """Integer outputs -> real values (times the output scale, exact in float32), through the host's
        output stage when there is one."""
        y = np.asarray(y_int).astype(np.float64) * self.output_type.scale
        return y if self.output_stage is None else self.output_stage.run(y.astype(np.float32))


__all__ = ["BLOCK_GOLDEN", "Depthwise", "Flatten", "GlobalPool", "Image", "IntType", "Layer", "MatVec", "MaxPool",
           "Network", "Pad", "Residual", "SlidingWindow", "Thresholds", "flat_layers", "from_codes", "run_layers",
           "to_codes"]

Layer = MatVec | Depthwise | Thresholds | SlidingWindow | MaxPool | Pad | GlobalPool | Residual | Flatten
