"""Lower an hls4ml ``ModelGraph`` (converted from QONNX) to the exact integer :class:`Network`.

One handler per hls4ml layer class (:data:`HANDLERS`, filled by :func:`handles`), each a method of
:class:`_Lowering`, which holds the state that flows along the graph: the network built so far, the
elementwise chain waiting for its quantizer, the current tensor type and feature-map shape. Adding a layer
kind = one handler here + one block in :mod:`flow.blocks` (its Verilog and cocotb test), nothing else.

Per matrix-vector layer: integer weights from the layer's fixed-point weight type, the accumulator width from
interval analysis of the real weights (plus one code on each side for thresholds), PE x SIMD from the folding
table (:func:`flow.compile.folding.fold_table`), and the following elementwise chain (bias, BatchNorm, ReLU,
quantizer) turned into exact per-channel integer thresholds (:mod:`flow.compile.chain`).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping

import numpy as np

from flow.blocks.mvau import MvauMode
from flow.compile.branches import BranchWalk, features, stream_elems
from flow.compile.chain import Chain, is_quant_activation, search_thresholds, verify_thresholds
from flow.compile.network import (
    Depthwise,
    Flatten,
    GlobalPool,
    Image,
    IntType,
    MatVec,
    MaxPool,
    Network,
    Pad,
    Residual,
    SlidingWindow,
    Thresholds,
)
from flow.compile.weights import acc_interval, adder_interval, layer_weights, signed_bits_for
from flow.errors import NotExactError, UnsupportedError

__all__ = ["FLOAT32_EXACT_BITS", "HANDLERS", "handles", "lower"]

log = logging.getLogger(__name__)

FLOAT32_EXACT_BITS = 24  # float32 holds integers up to 2^24 exactly: the QONNX reference's limit

Handler = Callable[["_Lowering", object], None]

#: hls4ml layer class name -> its lowering handler.
HANDLERS: dict[str, Handler] = {}


def handles(*class_names: str) -> Callable[[Handler], Handler]:
    """Register the decorated :class:`_Lowering` method as the handler of these hls4ml layer classes."""

    def register(fn: Handler) -> Handler:
        for name in class_names:
            HANDLERS[name] = fn
        return fn

    return register


def _pads(layer) -> list[int]:
    return [int(layer.get_attr(f"pad_{side}", 0) or 0) for side in ("top", "bottom", "left", "right")]


class _Lowering(BranchWalk):
    """The walk over the graph's layers, in order; see the module docstring."""

    def __init__(self, hls_model, folds: Mapping[str, tuple[int, int]]) -> None:
        self.layers = list(hls_model.get_layers())
        if not self.layers or self.layers[0].class_name != "Input":
            raise UnsupportedError("model: expected an Input layer first")
        self.folds = folds
        input_layer = self.layers[0]
        input_shape = tuple(int(d) for d in input_layer.get_attr("input_shape"))
        self.net = Network(input_type=IntType(1, False), input_shape=input_shape)
        self.chain = Chain(input_layer.name)
        self.pending: tuple[MatVec, np.ndarray, np.ndarray] | None = None  # a layer waiting for its chain
        self.current_type: IntType | None = None
        self.image: Image | None = None  # the current feature map (channels-last), None for a vector
        self.chw_flatten: Image | None = None  # a flatten in channels-first order is pending (see transpose)
        if len(input_shape) == 3:
            if not any(x.class_name == "Transpose" and list(x.get_attr("perm")) == [1, 2, 0] for x in self.layers):
                raise UnsupportedError(
                    f"model: image input {input_shape} expected the channels-last Transpose (perm [1, 2, 0]) "
                    "that qonnx's ConvertToChannelsLast inserts before the first convolution"
                )
            c, h, w = input_shape
            self.image = Image(h, w, c)
            self.net.input_layout = "nchw"

    # -- the walk -----------------------------------------------------------------------------------
    def run(self) -> Network:
        self.consumers: dict[str, list] = {}
        for layer in self.layers:
            for name in layer.inputs:
                if name:
                    self.consumers.setdefault(name, []).append(layer)
        self.walk(self.layers[0])
        self._check_end()
        return self.net

    def handle(self, layer) -> None:
        """Lower one layer with its class's handler."""
        handler = HANDLERS.get(layer.class_name)
        if handler is None:
            raise UnsupportedError(
                f"layer {layer.name!r}: hls4ml layer type {layer.class_name!r} is not mapped by qflow-rtl "
                f"(supported: {', '.join(sorted(HANDLERS))}, and Merge (add) closing a residual fork; Mul/Add "
                "by constants arrive as ApplyAlpha)"
            )
        handler(self, layer)

    def _check_end(self) -> None:
        net = self.net
        last = net.layers[-1] if net.layers else None
        if not isinstance(last, MatVec | Thresholds | Residual) or (isinstance(last, Residual) and last.vectors > 1):
            raise UnsupportedError(
                "model: expected the network to end with a Dense layer (integer logits), a residual add of vectors "
                "or a quantizer after either"
            )
        if self.chain.steps:
            raise UnsupportedError(
                f"layer {net.layers[-1].name!r}: ops after the last layer ({self.chain.names}) are not mapped; "
                "end the network with a bias-free dense layer or a quantizer"
            )
        if net.input_quantizer is None:
            raise UnsupportedError("model: expected an input quantizer (QAct/QuantIdentity) as the first layer")

    # -- shared steps -------------------------------------------------------------------------------
    def ready_input(self, layer) -> IntType:
        """The quantized input type of a weight/pool layer (its chain must be closed). A global pooling's exact
        sums may feed the next layer directly (no quantizer between)."""
        pool = self.pending[0] if self.pending is not None else None
        if isinstance(pool, GlobalPool) and (not self.chain.steps or self.chain.names == [pool.name]):
            if not pool.averaged:
                raise UnsupportedError(
                    f"layer {pool.name!r}: a global average over {pool.ifm.pixels} pixels (not a power of two) needs "
                    "a quantizer after it, whose thresholds absorb the division; add one before "
                    f"{layer.name!r}"
                )
            self.pending = None
        if self.chain.steps:
            raise UnsupportedError(
                f"layer {layer.name!r}: expected a quantizer before this layer, found only {self.chain.names}"
            )
        if self.pending is not None or self.current_type is None:
            raise UnsupportedError(f"layer {layer.name!r}: its input is not quantized (add a quantizer)")
        return self.current_type

    def fold(self, layer, mw: int, channels: int | None) -> tuple[int, int]:
        """The layer's (PE, SIMD) from the folding table; SIMD must divide the channels of a convolution."""
        if layer.name not in self.folds:
            raise UnsupportedError(f"layer {layer.name!r}: no (PE, SIMD) in the folding table")
        pe, simd = self.folds[layer.name]
        if channels is not None and channels % simd:
            raise UnsupportedError(
                f"layer {layer.name!r}: SIMD={simd} must divide the {channels} input channels "
                "(the sliding-window generator streams channels of one pixel)"
            )
        return pe, simd

    def add_matvec(self, layer, W, w_frac, w_bipolar, in_type, vectors, channels, adder=False) -> MatVec:
        """Append the matrix-vector layer of ``layer`` and open the chain that follows it."""
        mode, w_bits = self._mode(layer, in_type, w_bipolar, adder, W)
        lo, hi, partial = adder_interval(W, in_type) if adder else acc_interval(W, in_type)
        self._check_exact(layer, partial)
        pe, simd = self.fold(layer, W.shape[1], channels)
        matvec = MatVec(
            name=layer.name, weights=W, mode=mode, in_type=in_type, w_bits=w_bits,
            acc_bits=signed_bits_for(int(lo.min()) - 1, int(hi.max()) + 1), out_frac=in_type.frac + w_frac,
            pe=pe, simd=simd, vectors=vectors,
        )
        matvec.params.validate()
        self.net.layers.append(matvec)
        self.open_chain(layer, matvec, lo, hi)
        return matvec

    @staticmethod
    def _check_exact(layer, partial: np.ndarray) -> None:
        if int(partial.max()) >= 2**FLOAT32_EXACT_BITS:
            raise NotExactError(
                f"layer {layer.name!r}: partial sums reach {int(partial.max())} >= 2^24, so the float32 "
                "QONNX reference is not exact; use fewer bits or a smaller layer"
            )

    def open_chain(self, layer, producer, lo: np.ndarray, hi: np.ndarray) -> None:
        """``producer``'s accumulators wait for the elementwise chain after ``layer`` (its bias first)."""
        self.pending = (producer, lo, hi)
        self.chain = Chain(layer.name)
        bias = layer.weights.get("bias")
        if bias is not None and np.any(np.asarray(bias.data) != 0):
            self.chain.add_bias(np.asarray(bias.data))
        self.current_type = None

    @staticmethod
    def _mode(layer, in_type: IntType, w_bipolar: bool, adder: bool, W: np.ndarray) -> tuple[MvauMode, int]:
        if adder:
            return MvauMode.ADDER, signed_bits_for(int(W.min()), int(W.max()))
        if in_type.bipolar and w_bipolar:
            return MvauMode.XNOR, 1
        if w_bipolar:
            return MvauMode.BIPOLAR_W, 1
        if in_type.bipolar:  # +-1 inputs, k-bit weights: each term is +w or -w
            return MvauMode.BIPOLAR_X, int(layer.weights["weight"].type.precision.width)
        return MvauMode.MAC, int(layer.weights["weight"].type.precision.width)

    def close_chain(self) -> None:
        """The chain reached its quantizer: the input quantizer, or thresholds after the pending layer."""
        chain = self.chain
        if chain.out_type is None:
            return
        if self.pending is None and self.current_type is not None:  # a quantizer on a quantized stream
            self._requantize(chain)
        elif self.pending is None:  # the input quantizer
            self.net.input_type = chain.out_type
            self.net.input_quantizer = chain
        else:
            matvec, lo, hi = self.pending
            f = _on_codes(chain, matvec.out_frac)
            thresholds, descending = search_thresholds(f, lo, hi, chain.out_type)
            th = Thresholds(
                name=f"{matvec.name}_thresholds", thresholds=thresholds, descending=descending,
                in_bits=matvec.acc_bits, out_type=chain.out_type, pe=matvec.pe, vectors=matvec.vectors,
            )
            verify_thresholds(th, f, lo, hi, chain.out_type)
            self.net.layers.append(th)
            self.pending = None
        self.current_type = chain.out_type
        self.chain = Chain("")

    def _requantize(self, chain: Chain) -> None:
        """A quantizer on an already quantized stream (e.g. a residual shortcut's QuantIdentity): nothing when it
        gives every input value back exactly, else thresholds on the input codes (a signed stream only: the
        thresholding block compares signed values)."""
        t = self.current_type
        lo, hi = t.range
        codes = np.arange(lo, hi + 1, dtype=np.int64)
        real_in = codes.astype(np.float64) * t.scale
        out = chain(real_in.astype(np.float32).reshape(-1, 1)).reshape(-1)
        if not chain.out_type.bipolar and np.array_equal(out.astype(np.float64) * chain.out_type.scale, real_in):
            self.current_type = chain.out_type if chain.out_type.frac == t.frac else t
            return
        if not t.signed or t.bipolar:
            raise UnsupportedError(
                f"layer {chain.names[-1]!r}: requantizing an unsigned or bipolar stream ({t.describe()} -> "
                f"{chain.out_type.describe()}) is not mapped; quantize the branch once, or use a signed type"
            )
        channels = self.image.c if self.image is not None else features(self.net.layers, [])
        elems = stream_elems(self.net.layers, [])
        f = _on_codes(chain, t.frac)
        lo_c, hi_c = np.full(channels, lo), np.full(channels, hi)
        thresholds, descending = search_thresholds(f, lo_c, hi_c, chain.out_type)
        th = Thresholds(name=f"{chain.names[-1]}_requant", thresholds=thresholds, descending=descending, in_bits=t.bits,
                        out_type=chain.out_type, pe=elems, vectors=self.image.pixels if self.image else 1)
        verify_thresholds(th, f, lo_c, hi_c, chain.out_type)
        self.net.layers.append(th)
        self.current_type = chain.out_type

    # -- handlers -----------------------------------------------------------------------------------
    @handles("Transpose")
    def transpose(self, layer) -> None:
        """Layout transposes: the stream is channels-last throughout, so they only change bookkeeping."""
        perm = list(layer.get_attr("perm"))
        if self.net.input_layout == "nchw" and not self.net.layers and perm == [1, 2, 0]:
            # the input's channels-last transpose (before the first layer; elementwise quantizers commute
            # with it): the stream is channels-last already
            return
        if self.image is not None and perm == [2, 0, 1]:
            # back to channels-first (before a flatten, or around an elementwise op qonnx could not move the
            # transposes through): the stream stays channels-last; a Dense layer after the flatten gets its
            # columns permuted from (c, h, w) to the stream's (h, w, c) order instead
            if self.chw_flatten is not None:
                raise UnsupportedError(f"layer {layer.name!r}: two channels-first transposes in a row")
            self.chw_flatten = self.image
            return
        if self.chw_flatten is not None and perm == [1, 2, 0]:
            self.chw_flatten = None  # back to channels-last: the pair was a no-op on the stream
            return
        raise UnsupportedError(f"layer {layer.name!r}: a Transpose with perm {perm} is not mapped here")

    @handles("Dense", "QflowAdderDense")
    def dense(self, layer) -> None:
        adder = layer.class_name == "QflowAdderDense"
        in_type = self.ready_input(layer)
        if self.image is not None:
            im = self.image
            raise UnsupportedError(
                f"layer {layer.name!r}: {layer.class_name} on a {im.h}x{im.w}x{im.c} feature map needs a Flatten "
                "before it"
            )
        W, w_frac, w_bipolar = layer_weights(layer, in_type, adder)
        if self.chw_flatten is not None:  # columns from the flatten's (c, h, w) order to the stream's (h, w, c)
            f = self.chw_flatten
            if W.shape[1] != f.pixels * f.c:
                raise UnsupportedError(f"layer {layer.name!r}: expected {f.pixels * f.c} inputs after the flatten")
            W = W.reshape(-1, f.c, f.h, f.w).transpose(0, 2, 3, 1).reshape(W.shape[0], -1)
            self.chw_flatten = None
        self.add_matvec(layer, W, w_frac, w_bipolar, in_type, 1, None, adder=adder)

    def _conv_geometry(self, layer) -> tuple[int, int]:
        """``(K, stride)`` of a square, undilated convolution with equal strides (else a clear error)."""
        k = int(layer.get_attr("filt_height"))
        stride = int(layer.get_attr("stride_height"))
        dil = (int(layer.get_attr("dilation_height", 1) or 1), int(layer.get_attr("dilation_width", 1) or 1))
        if k != int(layer.get_attr("filt_width")) or stride != int(layer.get_attr("stride_width")):
            raise UnsupportedError(
                f"layer {layer.name!r}: expected a square kernel and equal strides, got kernel "
                f"{k}x{layer.get_attr('filt_width')}, stride {stride}x{layer.get_attr('stride_width')}"
            )
        if dil != (1, 1):
            raise UnsupportedError(f"layer {layer.name!r}: dilation {dil} is not supported (expected 1)")
        return k, stride

    @handles("Conv2D", "QflowAdderConv2D")
    def conv(self, layer) -> None:
        """Padding (if any), a sliding-window generator and a matrix-vector layer, all at the conv's SIMD."""
        adder = layer.class_name == "QflowAdderConv2D"
        if self.chw_flatten is not None:
            raise UnsupportedError(f"layer {layer.name!r}: expected a channels-last input, got a channels-first one")
        in_type = self.ready_input(layer)
        if self.image is None:
            raise UnsupportedError(f"layer {layer.name!r}: Conv2D expected an image input, got a vector")
        k, stride = self._conv_geometry(layer)
        pads, image = _pads(layer), self.image
        if any(pads) and in_type.bipolar:
            raise UnsupportedError(
                f"layer {layer.name!r}: zero padding {pads} of a bipolar (+-1) input has no code for 0; "
                "use padding=0 or a k-bit input"
            )
        padded = Image(image.h + pads[0] + pads[1], image.w + pads[2] + pads[3], image.c)
        W, w_frac, w_bipolar = layer_weights(layer, in_type, adder)
        if W.shape[1] != k * k * image.c:
            raise UnsupportedError(
                f"layer {layer.name!r}: weights {layer.weights['weight'].data.shape} do not match a "
                f"{k}x{k} kernel over {image.c} channels (grouped/depthwise convolutions are not mapped)"
            )
        windows = SlidingWindow(f"{layer.name}_swg", padded, k, stride, simd=1, elem_type=in_type).ofm
        layers = self.net.layers
        at = len(layers)
        mv = self.add_matvec(layer, W, w_frac, w_bipolar, in_type, windows.pixels, image.c, adder=adder)
        # the padding block and the window generator stream at the convolution's SIMD, in front of its MVAU
        front = [SlidingWindow(f"{layer.name}_swg", padded, k, stride, simd=mv.simd, elem_type=in_type)]
        if any(pads):
            front.insert(0, Pad(f"{layer.name}_pad", image, *pads, value=0, simd=mv.simd, elem_type=in_type))
        layers[at:at] = front
        self.image = Image(windows.h, windows.w, mv.mh)

    @handles("DepthwiseConv2D")
    def depthwise(self, layer) -> None:
        """Padding (if any), a sliding-window generator and the depthwise unit (block ``vvau``), all at the layer's
        SIMD (channels per beat). Depth multiplier 1 only (one output channel per input channel)."""
        in_type = self.ready_input(layer)
        if self.image is None or self.chw_flatten is not None:
            raise UnsupportedError(f"layer {layer.name!r}: DepthwiseConv2D expected a channels-last image input")
        k, stride = self._conv_geometry(layer)
        pads, image = _pads(layer), self.image
        if int(layer.get_attr("depth_multiplier", 1) or 1) != 1 or int(layer.get_attr("n_filt")) != image.c:
            raise UnsupportedError(
                f"layer {layer.name!r}: a depthwise convolution with depth multiplier "
                f"{layer.get_attr('depth_multiplier')} is not mapped (expected 1: one output channel per input channel)"
            )
        if any(pads) and in_type.bipolar:
            raise UnsupportedError(f"layer {layer.name!r}: zero padding {pads} of a bipolar (+-1) input has no code "
                                   "for 0")
        W, w_frac, w_bipolar = layer_weights(layer, in_type, False)
        mode, w_bits = self._mode(layer, in_type, w_bipolar, False, W)
        lo, hi, partial = acc_interval(W, in_type)
        self._check_exact(layer, partial)
        padded = Image(image.h + pads[0] + pads[1], image.w + pads[2] + pads[3], image.c)
        _, simd = self.fold(layer, W.shape[1] * image.c, image.c)
        swg = SlidingWindow(f"{layer.name}_swg", padded, k, stride, simd=simd, elem_type=in_type)
        dw = Depthwise(name=layer.name, weights=W, mode=mode, in_type=in_type, w_bits=w_bits,
                       acc_bits=signed_bits_for(int(lo.min()) - 1, int(hi.max()) + 1),
                       out_frac=in_type.frac + w_frac, simd=simd, vectors=swg.ofm.pixels)
        dw.params.validate()
        if any(pads):
            self.net.layers.append(Pad(f"{layer.name}_pad", image, *pads, value=0, simd=simd, elem_type=in_type))
        self.net.layers += [swg, dw]
        self.open_chain(layer, dw, lo, hi)
        self.image = Image(swg.ofm.h, swg.ofm.w, image.c)

    @handles("Pooling2D")
    def pool(self, layer) -> None:
        if self.chw_flatten is not None:
            raise UnsupportedError(f"layer {layer.name!r}: expected a channels-last input, got a channels-first one")
        in_type = self.ready_input(layer)
        op = str(layer.get_attr("pool_op", "Max") or "Max")
        k = int(layer.get_attr("pool_height"))
        pads = _pads(layer)
        if self.image is None or op.lower() != "max":
            raise UnsupportedError(f"layer {layer.name!r}: only max-pooling of a feature map is mapped, got {op}")
        shape = (int(layer.get_attr("pool_width")), int(layer.get_attr("stride_height")),
                 int(layer.get_attr("stride_width")))
        if (k, k, k) != shape or any(pads):
            raise UnsupportedError(
                f"layer {layer.name!r}: expected a square pool window equal to its stride and no padding, got "
                f"window {k}x{shape[0]}, stride {shape[1]}x{shape[2]}, pads {pads}"
            )
        producer_pe = next((x.pe for x in reversed(self.net.layers) if hasattr(x, "pe")), 1)
        pool = MaxPool(layer.name, self.image, k, simd=producer_pe, elem_type=in_type)
        self.net.layers.append(pool)
        self.image = pool.ofm

    @handles("GlobalPooling2D")
    def global_pool(self, layer) -> None:
        """Global average pooling: the exact per-channel sum (block ``gap``). A power-of-two pixel count is a scale
        of the sum, exact, and the sums may feed the next layer directly; any other count is divided inside the
        thresholds of the quantizer that must follow (the division evaluated by onnxruntime, as in QONNX)."""
        in_type = self.ready_input(layer)
        op = str(layer.get_attr("pool_op", "Average") or "Average")
        if self.image is None or op.lower() != "average":
            raise UnsupportedError(f"layer {layer.name!r}: only global average pooling of a feature map is mapped, "
                                   f"got {op}")
        pixels = self.image.pixels
        averaged = not pixels & (pixels - 1)  # a power of two: the average is the sum, scaled
        if in_type.bipolar:
            raise UnsupportedError(f"layer {layer.name!r}: global average pooling of bipolar (+-1) inputs is not "
                                   "mapped; use a k-bit activation before it")
        producer_pe = next((x.pe for x in reversed(self.net.layers) if hasattr(x, "pe")), 1)
        pool = GlobalPool(layer.name, self.image, producer_pe, in_type, pixels.bit_length() - 1 if averaged else 0,
                          averaged)
        self.net.layers.append(pool)
        lo, hi = in_type.range
        channels = self.image.c
        self.pending = (pool, np.full(channels, lo * pixels), np.full(channels, hi * pixels))
        self.chain = Chain(layer.name)
        if not averaged:  # the division goes into the thresholds of the quantizer that must follow
            self.chain.add_global_average(layer.name, pixels, channels)
        self.current_type = pool.out_type
        self.image = Image(1, 1, channels)
        self.chw_flatten = None  # 1 x 1 pixels: channels-first and channels-last are the same order

    @handles("Reshape")
    def reshape(self, layer) -> None:
        if self.image is None:
            raise UnsupportedError(f"layer {layer.name!r}: a Reshape of a vector is not mapped (only a flatten)")
        self.ready_input(layer)
        self.net.layers.append(Flatten(layer.name))
        self.image = None

    @handles("BatchNormalization")
    def batchnorm(self, layer) -> None:
        self.chain.add_batchnorm(layer)

    @handles("ApplyAlpha")
    def affine(self, layer) -> None:
        self.chain.add_affine(layer)

    @handles("Activation")
    def activation(self, layer) -> None:
        """A quantizer closes the chain; ReLU joins it; a linear activation is nothing."""
        kind = layer.get_attr("activation")
        if is_quant_activation(layer):
            self.chain.add_quantizer(layer)
            self.close_chain()
        elif kind in ("ReLU", "relu"):
            self.chain.add_relu(layer.name)
        elif kind != "linear":
            raise UnsupportedError(
                f"layer {layer.name!r}: activation {kind!r} is not mapped (supported: quantizers, ReLU, linear)"
            )


def _on_codes(chain: Chain, frac: int) -> Callable[[np.ndarray], np.ndarray]:
    """The chain as a function of integer codes whose real value is ``code * 2**-frac``."""
    scale = np.float32(2.0**-frac)
    return lambda a: chain((np.asarray(a, dtype=np.float64) * scale).astype(np.float32))


def lower(hls_model, folds: Mapping[str, tuple[int, int]]) -> Network:
    """Turn an hls4ml ModelGraph (parsed from QONNX) into the exact integer :class:`Network`.

    ``folds``: ``{layer name: (PE, SIMD)}`` for every dense and convolution layer
    (:func:`flow.compile.folding.fold_table`). Raises :class:`UnsupportedError` for a layer type the RTL
    backend cannot map and :class:`NotExactError` when a tensor cannot be made exact.
    """
    return _Lowering(hls_model, folds).run()
