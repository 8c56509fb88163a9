"""Host stages: the float ops at the very start and end of a graph that the accelerator does not compute.

Brevitas exports of networks people bring carry such ops: BNN-PYNQ's MLPs flatten their 4-D input and
compute ``2x - 1`` before the first quantizer; CNV ends with a TensorNorm (``Sub``, ``Div``, ``Mul``, ``Add``
per channel) after its last layer, i.e. after the integer logits. :func:`split_host_stages` cuts them out of
the graph: the accelerator takes the first quantizer's input and gives the last integer layer's output, and
each cut piece becomes a :class:`HostStage` that the host runs on the way in and out *with onnxruntime, node
by node, as qonnx's own execution does*, so that accelerator + host stages compute exactly what the user's
file computes (the compile stage checks it on every input).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import onnxruntime as ort
from onnx import TensorProto, helper, numpy_helper

__all__ = ["ELEMENTWISE_OPS", "LAYOUT_OPS", "HostStage", "split_host_stages"]

#: Elementwise ops with one constant operand that a host stage may hold.
ELEMENTWISE_OPS = ("Mul", "Add", "Sub", "Div")
#: Ops that only reshape (input stages: the flatten in front of an MLP).
LAYOUT_OPS = ("Reshape", "Flatten", "Identity", "Dropout")
QUANTIZERS = ("Quant", "BipolarQuant")


@dataclass
class HostStage:
    """Ops run on the host, in order: ``("reshape", shape without batch)`` or ``(op, constant, constant_first)``
    for an elementwise op (``constant_first``: the constant is the op's first operand, as in ``1 - x``)."""

    ops: list[tuple] = field(default_factory=list)
    _sessions: dict[int, ort.InferenceSession] = field(default_factory=dict, repr=False)

    def __bool__(self) -> bool:
        return bool(self.ops)

    def describe(self) -> list[str]:
        """One line per op, e.g. ``"Mul by 2.0"``, ``"reshape to (784,)"``."""
        out = []
        for op in self.ops:
            if op[0] == "reshape":
                out.append(f"reshape to {tuple(op[1])}")
            else:
                const = np.ravel(op[1])
                shown = f"{const[0]:g}" if const.size == 1 else f"a per-channel constant ({const.size} values)"
                out.append(f"{op[0]} {'of' if op[2] else 'by'} {shown}")
        return out

    def _session(self, index: int, op: str, const: np.ndarray, const_first: bool, rank: int):
        """A one-node onnxruntime model of elementwise op ``index`` (cached): the kernel qonnx runs."""
        if index not in self._sessions:
            names = ["c", "x"] if const_first else ["x", "c"]
            graph = helper.make_graph(
                [helper.make_node(op, names, ["y"])], "host",
                [helper.make_tensor_value_info("x", TensorProto.FLOAT, [None] * rank)],
                [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)],
                initializer=[numpy_helper.from_array(np.asarray(const, dtype=np.float32), "c")],
            )
            model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])
            model.ir_version = 8
            self._sessions[index] = ort.InferenceSession(model.SerializeToString(),
                                                         providers=["CPUExecutionProvider"])
        return self._sessions[index]

    def run(self, x: np.ndarray) -> np.ndarray:
        """Apply the stage to a float32 batch ``(N, ...)``."""
        y = np.asarray(x, dtype=np.float32)
        for index, op in enumerate(self.ops):
            if op[0] == "reshape":
                y = y.reshape(len(y), *op[1])
            else:
                y = self._session(index, op[0], op[1], op[2], y.ndim).run(None, {"x": np.ascontiguousarray(y)})[0]
        return y


def _constant_operand(model, node) -> tuple[np.ndarray, bool] | None:
    """``(constant, constant_first)`` of an elementwise node with exactly one initializer operand."""
    consts = [model.get_initializer(name) for name in node.input]
    if len(node.input) != 2 or sum(c is not None for c in consts) != 1:
        return None
    return (consts[1], False) if consts[1] is not None else (consts[0], True)


def _host_op(model, node, allow_layout: bool) -> tuple | None:
    """The host-stage op of ``node``, or ``None`` if it cannot be one."""
    if node.op_type in ELEMENTWISE_OPS:
        const = _constant_operand(model, node)
        return None if const is None else (node.op_type, const[0], const[1])
    if allow_layout and node.op_type in LAYOUT_OPS:
        return ("reshape", tuple(model.get_tensor_shape(node.output[0])[1:]))
    return None


def _cut(model, removed: list, ends, tensor: str) -> None:
    """Remove the ``removed`` nodes and make ``tensor`` the graph's first input or output (``ends``: the graph's
    ``input`` or ``output`` list), its value info taken out of the intermediate ones."""
    if not removed:
        return
    for node in removed:
        model.graph.node.remove(node)
    shape = model.get_tensor_shape(tensor)
    for vi in [v for v in model.graph.value_info if v.name == tensor]:
        model.graph.value_info.remove(vi)
    ends.remove(ends[0])
    ends.insert(0, helper.make_tensor_value_info(tensor, TensorProto.FLOAT, shape))


def _split_input(model) -> HostStage:
    stage, graph, removed = HostStage(), model.graph, []
    tensor = graph.input[0].name
    while True:
        consumers = model.find_consumers(tensor) or []
        if len(consumers) != 1 or consumers[0].op_type in QUANTIZERS:
            break
        op = _host_op(model, consumers[0], allow_layout=True)
        if op is None:
            return HostStage()  # no quantizer right after: leave the graph as it is (later checks name it)
        stage.ops.append(op)
        removed.append(consumers[0])
        tensor = consumers[0].output[0]
    _cut(model, removed, graph.input, tensor)
    return stage


def _split_output(model) -> HostStage:
    stage, graph, removed = HostStage(), model.graph, []
    tensor = graph.output[0].name
    if model.find_consumers(tensor):
        return stage
    while True:
        node = model.find_producer(tensor)
        op = None if node is None else _host_op(model, node, allow_layout=False)
        if op is None:
            break
        before = next(name for name in node.input if model.get_initializer(name) is None)
        if len(model.find_consumers(before) or []) != 1:
            break
        stage.ops.insert(0, op)
        removed.append(node)
        tensor = before
    _cut(model, removed, graph.output, tensor)
    return stage


def split_host_stages(model) -> tuple[HostStage, HostStage]:
    """Cut the input stage (reshapes and elementwise ops by constants between the graph input and its first
    quantizer) and the output stage (elementwise ops by constants after the last layer) out of ``model``, in
    place; return them. Either is empty when there is nothing to cut."""
    return _split_input(model), _split_output(model)
