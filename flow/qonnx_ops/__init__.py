"""qflow's QONNX custom ops (the ONNX domain ``flow.qonnx_ops``, resolved by qonnx to this module).

``AdderMatMul(x, W)``: AdderNet's product ``y[..., j] = -sum_i |x[..., i] - W[i, j]|`` for ``x`` (..., in) and
``W`` (in, out), the MatMul layout. Exported by :class:`flow.qat.adder.AdderLinear`; qonnx executes it here,
exactly (float64 sums, cast to float32: exact whenever the codes' sums stay below 2^24).
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


custom_op = {"AdderMatMul": AdderMatMul}
__all__ = ["AdderMatMul", "adder_matmul", "custom_op"]
