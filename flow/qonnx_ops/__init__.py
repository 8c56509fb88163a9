"""qflow's QONNX custom ops (the ONNX domain ``flow.qonnx_ops``, resolved by qonnx to this module).

``AdderMatMul(x, W)``: AdderNet's product ``y[..., j] = -sum_i |x[..., i] - W[i, j]|`` for ``x`` (..., in) and
``W`` (in, out), the MatMul layout. Exported by :class:`flow.qat.adder.AdderLinear`.

``AdderConv(x, W)``: AdderNet's convolution, each output pixel ``-sum |window - W[oc]|``; ``W`` is
``(OC, C, K, K)`` like ONNX Conv; attributes ``kernel_shape``, ``strides``, ``pads`` (as ONNX Conv, square and
symmetric) and ``data_layout`` (``"NCHW"`` as exported, ``"NHWC"`` after :func:`flow.frontend.graph.for_hls4ml`, which
also sets ``out_shape``).
Exported by :class:`flow.qat.adder.AdderConv2d`.

qonnx executes both here, exactly (float64 sums, cast to float32: exact whenever the codes' sums stay below
2^24).
"""

from __future__ import annotations

import numpy as np
from onnx import helper
from qonnx.core.datatype import DataType
from qonnx.custom_op.base import CustomOp


def adder_matmul(x: np.ndarray, w: np.ndarray) -> np.ndarray:
    """``-sum_i |x[..., i] - w[i, j]|`` in float64 (chunked over rows to bound memory)."""
    x = np.asarray(x, dtype=np.float64)
    w = np.asarray(w, dtype=np.float64)
    if x.shape[-1] != w.shape[0]:
        raise ValueError(f"AdderMatMul: input has {x.shape[-1]} features, weights expect {w.shape[0]}")
    flat = x.reshape(-1, x.shape[-1])
    out = np.empty((flat.shape[0], w.shape[1]))
    for start in range(0, flat.shape[0], 256):
        rows = flat[start : start + 256]
        out[start : start + 256] = -np.abs(rows[:, :, None] - w[None, :, :]).sum(axis=1)
    return out.reshape(*x.shape[:-1], w.shape[1])


class AdderMatMul(CustomOp):
    """AdderNet's matrix product (no attributes; inputs x and W; one output)."""

    def get_nodeattr_types(self):
        return {}

    def make_shape_compatible_op(self, model):
        node = self.onnx_node
        return helper.make_node("MatMul", [node.input[0], node.input[1]], [node.output[0]])

    def infer_node_datatype(self, model):
        model.set_tensor_datatype(self.onnx_node.output[0], DataType["FLOAT32"])

    def execute_node(self, context, graph):
        node = self.onnx_node
        context[node.output[0]] = adder_matmul(context[node.input[0]], context[node.input[1]]).astype(np.float32)

    def verify_node(self):
        if len(self.onnx_node.input) != 2:
            return [f"AdderMatMul {self.onnx_node.name!r}: expected 2 inputs (x, W), got {len(self.onnx_node.input)}"]
        return ["AdderMatMul: 2 inputs"]


def adder_conv(x: np.ndarray, w: np.ndarray, stride: int, pad: int, layout: str = "NCHW") -> np.ndarray:
    """The adder convolution of ``x`` (NCHW or NHWC) with ``w`` (OC, C, K, K); output in the same layout."""
    x = np.asarray(x, dtype=np.float64)
    if layout == "NHWC":
        x = x.transpose(0, 3, 1, 2)
    n, c, h, wd = x.shape
    oc, wc, k, _ = w.shape
    if wc != c:
        raise ValueError(f"AdderConv: weights expect {wc} input channels, the input has {c}")
    xp = np.pad(x, ((0, 0), (0, 0), (pad, pad), (pad, pad)))
    oh, ow = (h + 2 * pad - k) // stride + 1, (wd + 2 * pad - k) // stride + 1
    cols = np.empty((n, oh, ow, c, k, k))
    for ky in range(k):
        for kx in range(k):
            window = xp[:, :, ky : ky + stride * oh : stride, kx : kx + stride * ow : stride]
            cols[:, :, :, :, ky, kx] = window.transpose(0, 2, 3, 1)
    flat_w = np.asarray(w, dtype=np.float64).reshape(oc, c * k * k).T
    y = adder_matmul(cols.reshape(n * oh * ow, c * k * k), flat_w).reshape(n, oh, ow, oc)  # NHWC
    return y if layout == "NHWC" else y.transpose(0, 3, 1, 2)


class AdderConv(CustomOp):
    """AdderNet's 2-D convolution (inputs x and W; attributes kernel_shape, strides, pads, data_layout)."""

    def get_nodeattr_types(self):
        return {
            "kernel_shape": ("ints", True, []),
            "strides": ("ints", False, [1, 1]),
            "pads": ("ints", False, [0, 0, 0, 0]),
            "data_layout": ("s", False, "NCHW", {"NCHW", "NHWC"}),
            "out_shape": ("ints", False, []),  # NHWC only: the output shape, for shape inference
        }

    def _geometry(self) -> tuple[int, int, int, str]:
        k = self.get_nodeattr("kernel_shape")
        strides, pads = self.get_nodeattr("strides"), self.get_nodeattr("pads")
        if len(set(k)) != 1 or len(set(strides)) != 1 or len(set(pads)) != 1:
            raise ValueError(
                f"AdderConv {self.onnx_node.name!r}: expected a square kernel, equal strides and symmetric pads, "
                f"got kernel {k}, strides {strides}, pads {pads}"
            )
        return int(k[0]), int(strides[0]), int(pads[0]), self.get_nodeattr("data_layout")

    def make_shape_compatible_op(self, model):
        node = self.onnx_node
        k, s, p, layout = self._geometry()
        if layout == "NCHW":  # same shapes as the ONNX Conv with these attributes
            return helper.make_node(
                "Conv", list(node.input), list(node.output), kernel_shape=[k, k], strides=[s, s], pads=[p] * 4
            )
        shape = self.get_nodeattr("out_shape")  # NHWC nodes are made by a rewrite that knows their shape
        if len(shape) != 4:
            raise ValueError(f"AdderConv {node.name!r}: an NHWC node needs its out_shape attribute (4 ints)")
        return self.make_const_shape_op(shape)

    def infer_node_datatype(self, model):
        model.set_tensor_datatype(self.onnx_node.output[0], DataType["FLOAT32"])

    def execute_node(self, context, graph):
        node = self.onnx_node
        _, s, p, layout = self._geometry()
        y = adder_conv(context[node.input[0]], np.asarray(context[node.input[1]]), s, p, layout)
        context[node.output[0]] = y.astype(np.float32)

    def verify_node(self):
        if len(self.onnx_node.input) != 2:
            return [f"AdderConv {self.onnx_node.name!r}: expected 2 inputs (x, W), got {len(self.onnx_node.input)}"]
        return ["AdderConv: 2 inputs"]


custom_op = {"AdderMatMul": AdderMatMul, "AdderConv": AdderConv}
__all__ = ["AdderConv", "AdderMatMul", "adder_conv", "adder_matmul", "custom_op"]
