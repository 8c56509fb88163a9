"""Lower an hls4ml ``ModelGraph`` (converted from QONNX) to the exact integer :class:`Network`.

Per dense layer: integer weights from the layer's fixed-point weight type, the accumulator width from
interval analysis of the real weights (plus one code on each side for thresholds), and the following
elementwise chain (bias, BatchNorm, ReLU, quantizer) turned into per-channel integer thresholds.

Why thresholds are exact: the chain is evaluated on integer accumulator values with the *same kernels*
the QONNX reference uses (onnxruntime's BatchNormalization on float32, numpy ReLU, the quantizer's own
rounding), and every step of it is monotone in the accumulator, so a binary search per (channel, level)
finds the exact step points; negative BatchNorm scales give descending channels. The result is then
checked against the chain on every accumulator value (or a large sample for very wide ranges).
"""

from __future__ import annotations

import logging
from collections.abc import Callable

import numpy as np

from flow.blocks.mvau import MvauMode
from flow.compile.network import Flatten, Image, IntType, MatVec, MaxPool, Network, Pad, SlidingWindow, Thresholds
from flow.errors import NotExactError, UnsupportedError

log = logging.getLogger(__name__)

FoldFn = Callable[..., tuple[int, int]]  # (name, mh, mw[, vectors=, channels=]) -> (pe, simd)
FLOAT32_EXACT_BITS = 24  # float32 holds integers up to 2^24 exactly: the QONNX reference's limit


def _signed_bits_for(lo: int, hi: int) -> int:
    bits = 1
    while not (-(1 << (bits - 1)) <= lo and hi <= (1 << (bits - 1)) - 1):
        bits += 1
    return bits


def _precision(layer):
    return layer.get_output_variable().type.precision


def _quant_type(layer) -> IntType:
    """The integer type of a quantizer activation's output."""
    if layer.get_attr("activation") == "binary_tanh":
        return IntType(1, True, 0, bipolar=True)
    p = _precision(layer)
    width, integer = int(p.width), int(p.integer)
    return IntType(width, bool(p.signed), width - integer)


def _is_quant_activation(layer) -> bool:
    return layer.class_name == "Activation" and (
        layer.get_attr("activation") == "binary_tanh" or layer.get_attr("quantizer") is not None
    )


class _Chain:
    """The elementwise ops between a dense layer (or the input) and the next quantizer, as a float function."""

    def __init__(self, owner: str) -> None:
        self.owner = owner
        self.steps: list[Callable[[np.ndarray], np.ndarray]] = []
        self.names: list[str] = []
        self.out_type: IntType | None = None

    def add_bias(self, bias: np.ndarray) -> None:
        b = np.asarray(bias, dtype=np.float32)
        self.steps.append(lambda x: (x + b).astype(np.float32))
        self.names.append("bias")

    def add_batchnorm(self, layer) -> None:
        import onnx
        import onnxruntime as ort
        from onnx import TensorProto, helper, numpy_helper

        params = [
            np.asarray(layer.get_attr(f"{k}_data"), dtype=np.float32) for k in ("gamma", "beta", "mean", "variance")
        ]
        channels = params[0].size
        names = ["gamma", "beta", "mean", "var"]
        node = helper.make_node("BatchNormalization", ["x", *names], ["y"], epsilon=float(layer.get_attr("epsilon")))
        graph = helper.make_graph(
            [node],
            "bn",
            [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["n", channels])],
            [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["n", channels])],
            initializer=[numpy_helper.from_array(p, n) for p, n in zip(params, names, strict=True)],
        )
        model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])
        model.ir_version = 8
        onnx.checker.check_model(model)
        session = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
        self.steps.append(lambda x: session.run(None, {"x": np.ascontiguousarray(x, dtype=np.float32)})[0])
        self.names.append(layer.name)

    def add_affine(self, layer) -> None:
        """hls4ml's ``ApplyAlpha`` (an ONNX ``Mul``/``Add`` by per-channel constants): ``x * scale + bias``,
        each operation rounded to float32 like onnxruntime's Mul and Add."""
        scale = np.asarray(layer.get_attr("scale_data"), dtype=np.float32).reshape(-1)
        bias = np.asarray(layer.get_attr("bias_data"), dtype=np.float32).reshape(-1)
        self.steps.append(lambda x: ((x * scale).astype(np.float32) + bias).astype(np.float32))
        self.names.append(layer.name)

    def add_relu(self, name: str) -> None:
        self.steps.append(lambda x: np.maximum(x, np.float32(0)).astype(np.float32))
        self.names.append(name)

    def add_quantizer(self, layer) -> None:
        qtype = _quant_type(layer)
        if qtype.bipolar:
            self.steps.append(lambda x: np.where(x >= 0, 1, -1).astype(np.int64))
        else:
            quantizer = layer.get_attr("quantizer")
            scale = float(2.0**qtype.frac)
            lo, hi = qtype.range

            def to_codes(x: np.ndarray, quantizer=quantizer, scale=scale, lo=lo, hi=hi) -> np.ndarray:
                real = np.asarray(quantizer(np.asarray(x, dtype=np.float32)), dtype=np.float64)
                codes = real * scale
                if not np.array_equal(codes, np.round(codes)):
                    raise NotExactError(f"quantizer {layer.name!r}: outputs are not multiples of 2^-{qtype.frac}")
                return np.clip(codes.astype(np.int64), lo, hi)

            self.steps.append(to_codes)
        self.names.append(layer.name)
        self.out_type = qtype

    def __call__(self, x: np.ndarray) -> np.ndarray:
        y = x
        for step in self.steps:
            y = step(y)
        return y


def _dense_weights(layer) -> tuple[np.ndarray, int, bool]:
    """(W as (MH, MW) integers, frac bits, bipolar?) from a Dense or Conv2D layer's quantized weights.

    hls4ml holds Dense weights as (MW, MH) and channels-last Conv2D weights as (K, K, C, OC); the conv's
    matrix row is the window in the sliding-window generator's order, element (ky*K + kx)*C + c."""
    raw = np.asarray(layer.weights["weight"].data, dtype=np.float64)
    data = raw.reshape(-1, raw.shape[-1]).T
    p = layer.weights["weight"].type.precision
    from hls4ml.model.quantizers import BinaryQuantizer

    if isinstance(layer.get_attr("weight_quantizer"), BinaryQuantizer) or (int(p.width) == 1 and not p.signed):
        if not np.all(np.isin(data, (-1.0, 0.0, 1.0))):
            raise NotExactError(f"layer {layer.name!r}: binary weights expected in {{0, 1}} or {{-1, +1}}")
        return np.where(data > 0, 1, -1).astype(np.int64), 0, True
    frac = int(p.width) - int(p.integer)
    ints = data * 2.0**frac
    if not np.array_equal(ints, np.round(ints)):
        raise NotExactError(
            f"layer {layer.name!r}: weights are not integers times 2^-{frac} (type {p}); "
            "expected power-of-two quantized weights"
        )
    return ints.astype(np.int64), frac, False


def _layer_weights(layer, in_type: IntType, adder: bool) -> tuple[np.ndarray, int, bool]:
    """(W as (MH, MW) integers, w_frac, bipolar?) of a Dense/Conv2D or adder layer, where the layer's output
    scale is 2^-(input frac + w_frac). Adder weights sit on the input's grid (:func:`_adder_weights`) and
    ``-sum |x - w|`` keeps that grid, so their w_frac is 0."""
    if adder:
        W, frac = _adder_weights(layer, in_type)
        return W, frac - in_type.frac, False
    return _dense_weights(layer)


def _adder_weights(layer, in_type: IntType) -> tuple[np.ndarray, int]:
    """(W as (MH, MW) integer codes on the input's grid, that grid's frac bits) of a ``QflowAdderDense``.

    ``x - w`` is an integer subtraction only when both sit on one grid: weights on a coarser grid than the
    input (fewer fraction bits) are shifted onto it (exact); a finer one cannot be, and is refused."""
    if in_type.bipolar:
        raise UnsupportedError(f"layer {layer.name!r}: adder layers take k-bit integer inputs, got a bipolar input")
    raw = np.asarray(layer.weights["weight"].data, dtype=np.float64)
    data = raw.reshape(-1, raw.shape[-1]).T  # (MH, MW): dense (MW, MH) or channels-last conv (K, K, C, OC)
    p = layer.weights["weight"].type.precision
    w_frac = int(p.width) - int(p.integer)
    if w_frac > in_type.frac:
        raise NotExactError(
            f"layer {layer.name!r}: adder weights have {w_frac} fraction bits, the input {in_type.frac}; "
            "x - w needs one grid (quantize x and w with the same power-of-two scale, as flow.qat.AdderLinear does)"
        )
    ints = data * 2.0**in_type.frac
    if not np.array_equal(ints, np.round(ints)):
        raise NotExactError(
            f"layer {layer.name!r}: adder weights are not integers times 2^-{in_type.frac} (type {p})"
        )
    return ints.astype(np.int64), in_type.frac


def _adder_interval(W: np.ndarray, in_type: IntType) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per-channel exact (lo, hi) of ``-sum |x - w|`` over all inputs, and the bound on any partial sum."""
    from flow.blocks.mvau import adder_output_range

    lo, hi = adder_output_range(W, *in_type.range)
    return lo, hi, -lo  # every term is <= 0, so the partial sums lie between the total and 0


def _acc_interval(W: np.ndarray, in_type: IntType) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per-channel exact (lo, hi) of ``W x`` over all inputs, and the bound on any partial sum."""
    xlo, xhi = in_type.range
    a, b = W * xlo, W * xhi
    lo, hi = np.minimum(a, b).sum(axis=1), np.maximum(a, b).sum(axis=1)
    partial = (np.abs(W) * max(abs(xlo), abs(xhi))).sum(axis=1)
    return lo, hi, partial


def _search_thresholds(
    f: Callable[[np.ndarray], np.ndarray], lo: np.ndarray, hi: np.ndarray, out_type: IntType
) -> tuple[np.ndarray, np.ndarray]:
    """Exact step points of the monotone per-channel functions ``f`` on integer ranges [lo, hi]."""
    omin, omax = (0, 1) if out_type.bipolar else out_type.range
    codes = (lambda v: (v > 0).astype(np.int64)) if out_type.bipolar else (lambda v: v)
    n_levels = omax - omin
    levels = (omin + 1 + np.arange(n_levels))[:, None]  # (N, 1)

    def g(a: np.ndarray) -> np.ndarray:
        return codes(f(a))

    ends = g(np.stack([lo, hi]).astype(np.int64))
    descending = ends[0] > ends[1]
    channels = lo.size
    L = np.where(descending, lo - 1, lo)[None, :].repeat(n_levels, 0).astype(np.int64)
    H = np.where(descending, hi, hi + 1)[None, :].repeat(n_levels, 0).astype(np.int64)
    desc = descending[None, :].repeat(n_levels, 0)
    while np.any(L < H):
        mid = np.where(desc, (L + H + 1) // 2, (L + H) // 2)
        mid_eval = np.clip(mid, lo[None, :], hi[None, :])
        ok = g(mid_eval) >= levels
        L, H = (
            np.where(desc, np.where(ok, mid, L), np.where(ok, L, mid + 1)),
            np.where(desc, np.where(ok, H, mid - 1), np.where(ok, mid, H)),
        )
    thresholds = L.T.reshape(channels, n_levels)
    return thresholds, descending


def _verify(
    th: Thresholds, f: Callable[[np.ndarray], np.ndarray], lo: np.ndarray, hi: np.ndarray, out_type: IntType
) -> None:
    """Compare thresholds with the chain on every accumulator value (a 20k-point sample if huge)."""
    span = int((hi - lo).max()) + 1
    rng = np.random.default_rng(0)
    if span <= 4096:
        offsets = np.arange(span)[:, None]
        a = np.minimum(lo[None, :] + offsets, hi[None, :])
    else:
        a = lo[None, :] + (rng.random((20000, lo.size)) * (hi - lo + 1)[None, :]).astype(np.int64)
        a = np.concatenate([a, lo[None, :], hi[None, :]])
    expected = f(a)
    got = th.run(a)
    if out_type.bipolar:
        expected = np.where(expected > 0, 1, -1)
    if not np.array_equal(expected, got):
        bad = np.argwhere(expected != got)[0]
        raise NotExactError(
            f"layer {th.name!r}: threshold conversion differs from the BatchNorm/activation chain at channel "
            f"{bad[1]}, accumulator {a[bad[0], bad[1]]} (expected {expected[tuple(bad)]}, got {got[tuple(bad)]})"
        )


def lower(hls_model, fold: FoldFn) -> Network:
    """Turn an hls4ml ModelGraph (parsed from QONNX) into the exact integer :class:`Network`.

    ``fold(layer_name, mh, mw) -> (pe, simd)`` gives each dense layer's parallelism; convolutions call
    ``fold(layer_name, mh, mw, vectors=windows per image, channels=C)`` and need SIMD to divide C.
    Raises :class:`UnsupportedError` for a layer type the RTL backend cannot map and
    :class:`NotExactError` when a tensor cannot be made exact.
    """
    layers = list(hls_model.get_layers())
    if not layers or layers[0].class_name != "Input":
        raise UnsupportedError("model: expected an Input layer first")
    input_layer = layers[0]
    input_shape = tuple(int(d) for d in input_layer.get_attr("input_shape"))
    net = Network(input_type=IntType(1, False), input_shape=input_shape)
    chain = _Chain(input_layer.name)
    pending: tuple[MatVec, np.ndarray, np.ndarray] | None = None  # dense layer waiting for its chain
    current_type: IntType | None = None
    image: Image | None = None  # the current feature map (channels-last), None for a vector
    chw_flatten: Image | None = None  # a flatten in channels-first order is pending (see Transpose below)
    if len(input_shape) == 3:
        transposes = [x for x in layers if x.class_name == "Transpose" and list(x.get_attr("perm")) == [1, 2, 0]]
        if not transposes:
            raise UnsupportedError(
                f"model: image input {input_shape} expected the channels-last Transpose (perm [1, 2, 0]) "
                "that qonnx's ConvertToChannelsLast inserts before the first convolution"
            )
        c, h, w = input_shape
        image = Image(h, w, c)
        net.input_layout = "nchw"

    def ready_input(layer) -> IntType:
        """The quantized input type of a weight/pool layer (its chain must be closed)."""
        if chain.steps:
            raise UnsupportedError(
                f"layer {layer.name!r}: expected a quantizer before this layer, found only {chain.names}"
            )
        if pending is not None or current_type is None:
            raise UnsupportedError(f"layer {layer.name!r}: its input is not quantized (add a quantizer)")
        return current_type

    def add_matvec(layer, W, w_frac, w_bipolar, in_type, vectors, simd_divides, adder=False) -> MatVec:
        nonlocal pending, chain, current_type
        if adder:
            mode, w_bits = MvauMode.ADDER, _signed_bits_for(int(W.min()), int(W.max()))
        elif in_type.bipolar and w_bipolar:
            mode, w_bits = MvauMode.XNOR, 1
        elif w_bipolar:
            mode, w_bits = MvauMode.BIPOLAR_W, 1
        elif in_type.bipolar:
            raise UnsupportedError(
                f"layer {layer.name!r}: bipolar inputs with k-bit weights are not mapped; "
                "use binary weights or a k-bit input quantizer"
            )
        else:
            mode = MvauMode.MAC
            w_bits = int(layer.weights["weight"].type.precision.width)
        lo, hi, partial = _adder_interval(W, in_type) if adder else _acc_interval(W, in_type)
        if int(partial.max()) >= 2**FLOAT32_EXACT_BITS:
            raise NotExactError(
                f"layer {layer.name!r}: partial sums reach {int(partial.max())} >= 2^24, so the float32 "
                "QONNX reference is not exact; use fewer bits or a smaller layer"
            )
        acc_bits = _signed_bits_for(int(lo.min()) - 1, int(hi.max()) + 1)
        mh, mw = W.shape
        if vectors == 1 and simd_divides == mw:
            pe, simd = fold(layer.name, mh, mw)
        else:  # a convolution: SIMD lanes take channels of one pixel, so SIMD must divide C
            pe, simd = fold(layer.name, mh, mw, vectors=vectors, channels=simd_divides)
            if simd_divides % simd:
                raise UnsupportedError(
                    f"layer {layer.name!r}: SIMD={simd} must divide the {simd_divides} input channels "
                    "(the sliding-window generator streams channels of one pixel)"
                )
        matvec = MatVec(
            name=layer.name,
            weights=W,
            mode=mode,
            in_type=in_type,
            w_bits=w_bits,
            acc_bits=acc_bits,
            out_frac=in_type.frac + w_frac,
            pe=pe,
            simd=simd,
            vectors=vectors,
        )
        matvec.params.validate()
        net.layers.append(matvec)
        pending = (matvec, lo, hi)
        chain = _Chain(layer.name)
        bias = layer.weights.get("bias")
        if bias is not None and np.any(np.asarray(bias.data) != 0):
            chain.add_bias(np.asarray(bias.data))
        current_type = None
        return matvec

    def close_chain() -> None:
        nonlocal pending, chain, current_type
        if chain.out_type is None:
            return
        if pending is None:  # the input quantizer
            net.input_type = chain.out_type
            net.input_quantizer = chain
        else:
            matvec, lo, hi = pending
            scale = np.float32(2.0**-matvec.out_frac)
            acc_chain = chain

            def f(a: np.ndarray, acc_chain=acc_chain, scale=scale) -> np.ndarray:
                return acc_chain((np.asarray(a, dtype=np.float64) * scale).astype(np.float32))

            thresholds, descending = _search_thresholds(f, lo, hi, chain.out_type)
            th = Thresholds(
                name=f"{matvec.name}_thresholds",
                thresholds=thresholds,
                descending=descending,
                in_bits=matvec.acc_bits,
                out_type=chain.out_type,
                pe=matvec.pe,
                vectors=matvec.vectors,
            )
            _verify(th, f, lo, hi, chain.out_type)
            net.layers.append(th)
            pending = None
        current_type = chain.out_type
        chain = _Chain("")

    for layer in layers[1:]:
        kind = layer.class_name
        if kind == "Transpose" and net.input_layout == "nchw" and not net.layers:
            # the input's channels-last transpose (before the first layer; elementwise quantizers commute
            # with it): the stream is channels-last already
            continue
        if kind == "Transpose" and image is not None and list(layer.get_attr("perm")) == [2, 0, 1]:
            # back to channels-first (before a flatten, or around an elementwise op qonnx could not move the
            # transposes through): the stream stays channels-last; a Dense layer after the flatten gets its
            # columns permuted from (c, h, w) to the stream's (h, w, c) order instead
            if chw_flatten is not None:
                raise UnsupportedError(f"layer {layer.name!r}: two channels-first transposes in a row")
            chw_flatten = image
            continue
        if kind == "Transpose" and chw_flatten is not None and list(layer.get_attr("perm")) == [1, 2, 0]:
            chw_flatten = None  # back to channels-last: the pair was a no-op on the stream
            continue
        if kind in ("Dense", "QflowAdderDense"):
            adder = kind == "QflowAdderDense"
            in_type = ready_input(layer)
            if image is not None:
                raise UnsupportedError(
                    f"layer {layer.name!r}: {kind} on a {image.h}x{image.w}x{image.c} feature map needs a Flatten "
                    "before it"
                )
            W, w_frac, w_bipolar = _layer_weights(layer, in_type, adder)
            if chw_flatten is not None:  # columns from the flatten's (c, h, w) order to the stream's (h, w, c)
                f = chw_flatten
                if W.shape[1] != f.pixels * f.c:
                    raise UnsupportedError(f"layer {layer.name!r}: expected {f.pixels * f.c} inputs after the flatten")
                W = W.reshape(-1, f.c, f.h, f.w).transpose(0, 2, 3, 1).reshape(W.shape[0], -1)
                chw_flatten = None
            add_matvec(layer, W, w_frac, w_bipolar, in_type, 1, int(W.shape[1]), adder=adder)
        elif kind in ("Conv2D", "QflowAdderConv2D", "Pooling2D") and chw_flatten is not None:
            raise UnsupportedError(f"layer {layer.name!r}: expected a channels-last input, got a channels-first one")
        elif kind in ("Conv2D", "QflowAdderConv2D"):
            adder = kind == "QflowAdderConv2D"
            in_type = ready_input(layer)
            if image is None:
                raise UnsupportedError(f"layer {layer.name!r}: Conv2D expected an image input, got a vector")
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
            pads = [int(layer.get_attr(f"pad_{side}", 0) or 0) for side in ("top", "bottom", "left", "right")]
            if any(pads):
                if in_type.bipolar:
                    raise UnsupportedError(
                        f"layer {layer.name!r}: zero padding {pads} of a bipolar (+-1) input has no code for 0; "
                        "use padding=0 or a k-bit input"
                    )
                pad = Pad(f"{layer.name}_pad", image, *pads, value=0, simd=1, elem_type=in_type)
                net.layers.append(pad)
                image = pad.ofm
            W, w_frac, w_bipolar = _layer_weights(layer, in_type, adder)
            if W.shape[1] != k * k * image.c:
                raise UnsupportedError(
                    f"layer {layer.name!r}: weights {layer.weights['weight'].data.shape} do not match a "
                    f"{k}x{k} kernel over {image.c} channels (grouped/depthwise convolutions are not mapped)"
                )
            swg = SlidingWindow(f"{layer.name}_swg", image, k, stride, simd=1, elem_type=in_type)
            net.layers.append(swg)
            mv = add_matvec(layer, W, w_frac, w_bipolar, in_type, swg.ofm.pixels, image.c, adder=adder)
            net.layers[-2] = SlidingWindow(swg.name, image, k, stride, simd=mv.simd, elem_type=in_type)
            if any(pads):  # the padding block streams at the convolution's width too
                old = net.layers[-3]
                net.layers[-3] = Pad(old.name, old.ifm, *pads, value=0, simd=mv.simd, elem_type=in_type)
            image = Image(swg.ofm.h, swg.ofm.w, mv.mh)
        elif kind == "Pooling2D":
            in_type = ready_input(layer)
            op = str(layer.get_attr("pool_op", "Max") or "Max")
            k = int(layer.get_attr("pool_height"))
            pads = [int(layer.get_attr(f"pad_{side}", 0) or 0) for side in ("top", "bottom", "left", "right")]
            if image is None or op.lower() != "max":
                raise UnsupportedError(f"layer {layer.name!r}: only max-pooling of a feature map is mapped, got {op}")
            if (k, k, k) != (
                int(layer.get_attr("pool_width")),
                int(layer.get_attr("stride_height")),
                int(layer.get_attr("stride_width")),
            ) or any(pads):
                raise UnsupportedError(
                    f"layer {layer.name!r}: expected a square pool window equal to its stride and no padding, got "
                    f"window {k}x{layer.get_attr('pool_width')}, stride {layer.get_attr('stride_height')}x"
                    f"{layer.get_attr('stride_width')}, pads {pads}"
                )
            producer_pe = next((x.pe for x in reversed(net.layers) if hasattr(x, "pe")), 1)
            pool = MaxPool(layer.name, image, k, simd=producer_pe, elem_type=in_type)
            net.layers.append(pool)
            image = pool.ofm
        elif kind == "Reshape" and image is not None:
            ready_input(layer)
            net.layers.append(Flatten(layer.name))
            image = None
        elif kind == "BatchNormalization":
            chain.add_batchnorm(layer)
        elif kind == "ApplyAlpha":
            chain.add_affine(layer)
        elif kind == "Activation" and _is_quant_activation(layer):
            chain.add_quantizer(layer)
            close_chain()
        elif kind == "Activation" and layer.get_attr("activation") in ("ReLU", "relu"):
            chain.add_relu(layer.name)
        elif kind == "Activation" and layer.get_attr("activation") == "linear":
            continue
        else:
            raise UnsupportedError(
                f"layer {layer.name!r}: hls4ml layer type {kind!r} is not mapped by qflow-rtl "
                "(supported: Dense, Conv2D, MaxPool, QflowAdderDense, BatchNormalization, Mul/Add by constants, "
                "ReLU, quantizers)"
            )
    if not net.layers or not isinstance(net.layers[-1], MatVec | Thresholds):
        raise UnsupportedError(
            "model: expected the network to end with a Dense layer (integer logits) or a quantizer after it"
        )
    if chain.steps:
        raise UnsupportedError(
            f"layer {net.layers[-1].name!r}: ops after the last layer ({chain.names}) are not mapped; "
            "end the network with a bias-free dense layer or a quantizer"
        )
    if net.input_quantizer is None:
        raise UnsupportedError("model: expected an input quantizer (QAct/QuantIdentity) as the first layer")
    return net
