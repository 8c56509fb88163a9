"""The elementwise ops between a matrix-vector layer (or the input) and the next quantizer, and their exact
conversion to per-channel integer thresholds.

Why thresholds are exact: the chain is evaluated on integer accumulator values with the *same kernels*
the QONNX reference uses (onnxruntime's BatchNormalization on float32, numpy ReLU, the quantizer's own
rounding), and every step of it is monotone in the accumulator, so a binary search per (channel, level)
finds the exact step points (:func:`search_thresholds`); negative BatchNorm scales give descending channels.
The result is then checked against the chain on every accumulator value, or a large sample for very wide
ranges (:func:`verify_thresholds`).
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from flow.compile.network import IntType, Thresholds
from flow.errors import NotExactError

__all__ = ["Chain", "is_quant_activation", "quant_type", "search_thresholds", "verify_thresholds"]


def _precision(layer):
    return layer.get_output_variable().type.precision


def quant_type(layer) -> IntType:
    """The integer type of a quantizer activation's output."""
    if layer.get_attr("activation") == "binary_tanh":
        return IntType(1, True, 0, bipolar=True)
    p = _precision(layer)
    width, integer = int(p.width), int(p.integer)
    return IntType(width, bool(p.signed), width - integer)


def is_quant_activation(layer) -> bool:
    return layer.class_name == "Activation" and (
        layer.get_attr("activation") == "binary_tanh" or layer.get_attr("quantizer") is not None
    )


class Chain:
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

    def add_global_average(self, name: str, pixels: int, channels: int, chunk: int = 512) -> None:
        """A global average over ``pixels`` pixels, given the exact per-channel sums: onnxruntime's own
        ``GlobalAveragePool`` on an image holding the sum in one pixel and 0 in the others (its float sum is the
        exact sum whatever the order, as every value is an integer times a power of two), so the division
        rounds exactly as in the QONNX reference. Evaluated ``chunk`` rows at a time (the images are large)."""
        import onnxruntime as ort
        from onnx import TensorProto, helper

        graph = helper.make_graph(
            [helper.make_node("GlobalAveragePool", ["x"], ["y"])], "gap",
            [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["n", channels, 1, pixels])],
            [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["n", channels, 1, 1])],
        )
        model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])
        model.ir_version = 8
        session = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])

        def average(x: np.ndarray) -> np.ndarray:
            x = np.asarray(x, dtype=np.float32)
            out = np.empty_like(x)
            for start in range(0, len(x), chunk):
                part = x[start : start + chunk]
                img = np.zeros((len(part), channels, 1, pixels), dtype=np.float32)
                img[:, :, 0, 0] = part
                out[start : start + chunk] = session.run(None, {"x": img})[0].reshape(len(part), channels)
            return out

        self.steps.append(average)
        self.names.append(name)

    def add_relu(self, name: str) -> None:
        self.steps.append(lambda x: np.maximum(x, np.float32(0)).astype(np.float32))
        self.names.append(name)

    def add_quantizer(self, layer) -> None:
        qtype = quant_type(layer)
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


def search_thresholds(
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
    while np.any(active := L < H):
        mid = np.where(desc, (L + H + 1) // 2, (L + H) // 2)
        mid_eval = np.clip(mid, lo[None, :], hi[None, :])
        ok = g(mid_eval) >= levels
        # only the searches still open move: a finished one (L == H) at an unreachable level (hi + 1, or
        # lo - 1 when descending) would otherwise step past it while the others go on
        L, H = (
            np.where(active, np.where(desc, np.where(ok, mid, L), np.where(ok, L, mid + 1)), L),
            np.where(active, np.where(desc, np.where(ok, H, mid - 1), np.where(ok, mid, H)), H),
        )
    thresholds = L.T.reshape(channels, n_levels)
    return thresholds, descending


def verify_thresholds(
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


