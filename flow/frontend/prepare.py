"""The one front end: every model, a recipe's export or a user's own QONNX file, goes through :func:`prepare`
before hls4ml sees it.

Steps, in order: qonnx cleanup (constant folding, shapes, datatypes, readable names) with ``Gemm`` lowered to
``MatMul`` (+ ``Add``); the host stages cut off (:mod:`flow.frontend.host`: the reshapes and elementwise ops
by constants before the first quantizer, the elementwise ops by constants after the last layer); ``Sub`` by a
constant rewritten as ``Add`` of its negation and ``Div`` by a power of two as ``Mul`` by its inverse (both
exact; a ``Div`` by any other constant between layers is refused, naming the node); ``ReduceMean`` over the
spatial axes read as ``GlobalAveragePool``; grouped convolutions other than depthwise expanded to dense ones with
block-diagonal weights (:func:`rewrite_grouped_conv`); then the supported-op
check and the exactness check (every quantizer scale a power of two, zero point 0). Each refusal is an
:class:`~flow.errors.UnsupportedError` / :class:`~flow.errors.NotExactError` naming the node, what was
expected and what arrived.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass

import numpy as np
from onnx import helper, numpy_helper

from flow.errors import NotExactError, UnsupportedError
from flow.frontend.graph import check_exact, check_supported, clean, is_power_of_two
from flow.frontend.host import HostStage, split_host_stages

__all__ = ["Prepared", "prepare"]


@dataclass
class Prepared:
    """A model ready for hls4ml: the graph the accelerator computes and the host stages around it."""

    model: object  # qonnx ModelWrapper
    input_stage: HostStage
    output_stage: HostStage

    @property
    def host_stages(self) -> bool:
        """Whether the host computes anything around the accelerator."""
        return bool(self.input_stage) or bool(self.output_stage)

    def describe(self) -> dict[str, list[str]]:
        return {"input": self.input_stage.describe(), "output": self.output_stage.describe()}


def _replace_initializer(model, name: str, value: np.ndarray) -> str:
    new = model.make_new_valueinfo_name()
    model.graph.initializer.append(numpy_helper.from_array(np.asarray(value, dtype=np.float32), new))
    return new


def rewrite_sub_div(model) -> None:
    """``Sub(x, c)`` -> ``Add(x, -c)``; ``Div(x, c)`` -> ``Mul(x, 1/c)`` where ``c`` is a power of two (both
    exact in float32). Raises :class:`NotExactError` naming a ``Div`` by another constant, or a ``Sub``/``Div``
    whose constant is its first operand."""
    for node in model.graph.node:
        if node.op_type not in ("Sub", "Div"):
            continue
        const = model.get_initializer(node.input[1]) if len(node.input) == 2 else None
        if const is None:
            raise NotExactError(f"{node.op_type} node {node.name!r}: expected x {node.op_type} constant between "
                                "layers, got a computed second operand (or a constant first operand)")
        if node.op_type == "Sub":
            node.op_type, value = "Add", -np.asarray(const, dtype=np.float32)
        elif is_power_of_two(np.abs(const)):
            node.op_type, value = "Mul", (1.0 / np.asarray(const, dtype=np.float64)).astype(np.float32)
        else:
            raise NotExactError(
                f"Div node {node.name!r}: expected a division by a power of two between layers (exact as a "
                f"multiplication), got {np.ravel(const)[:4]}; such a division is only supported before the first "
                "quantizer or after the last layer, where the host computes it"
            )
        node.input[1] = _replace_initializer(model, node.input[1], value)


def rewrite_spatial_mean(model) -> None:
    """``ReduceMean`` over the spatial axes (2, 3) of an NCHW tensor, keeping them (what torch exports for
    ``AdaptiveAvgPool2d(1)``), and an ``AveragePool`` whose window is the whole unpadded feature map (a
    ResNet's ``AvgPool2d(4)`` on a 4x4 map) -> ``GlobalAveragePool``: the same function."""
    for node in model.graph.node:
        if node.op_type == "AveragePool":
            attrs = {a.name: helper.get_attribute_value(a) for a in node.attribute}
            shape = model.get_tensor_shape(node.input[0]) or []
            if len(shape) == 4 and list(attrs.get("kernel_shape", [])) == list(shape[2:]) \
                    and not any(attrs.get("pads", [0])):
                node.op_type = "GlobalAveragePool"
                del node.attribute[:]
                continue
            raise UnsupportedError(
                f"AveragePool node {node.name!r}: a windowed average pool is not mapped (kernel "
                f"{list(attrs.get('kernel_shape', []))} over a {shape[2:]} map, pads {list(attrs.get('pads', []))}); "
                "expected a window covering the whole unpadded map (global average pooling), or max-pooling")
        if node.op_type != "ReduceMean":
            continue
        attrs = {a.name: helper.get_attribute_value(a) for a in node.attribute}
        axes = attrs.get("axes")
        if axes is None and len(node.input) > 1:
            axes = model.get_initializer(node.input[1])
        rank = len(model.get_tensor_shape(node.input[0]) or [])
        if rank == 4 and axes is not None and sorted(int(a) % 4 for a in np.ravel(axes)) == [2, 3] \
                and int(attrs.get("keepdims", 1)) == 1:
            node.op_type = "GlobalAveragePool"
            del node.input[1:]
            del node.attribute[:]


def _conv_attr(node, name: str, default):
    return next((helper.get_attribute_value(a) for a in node.attribute if a.name == name), default)


def rewrite_grouped_conv(model) -> None:
    """A grouped ``Conv`` (``1 < group``) that is not depthwise (``group == C_in == C_out``, which the depthwise
    unit maps) becomes a dense ``Conv`` whose weights are block-diagonal: zero outside each group's block. The
    same function exactly (the added terms are 0 * x), at the cost of a dense convolution's operations. The
    weight must be an initializer, directly or through a weight ``Quant`` with zero point 0 (0 stays 0)."""
    for node in model.graph.node:
        group = int(_conv_attr(node, "group", 1))
        if node.op_type != "Conv" or group == 1:
            continue
        c_in = (model.get_tensor_shape(node.input[0]) or [0, 0])[1]
        holder, w = node, model.get_initializer(node.input[1])
        if w is None:
            quant = model.find_producer(node.input[1])
            zero = model.get_initializer(quant.input[2]) if quant is not None and quant.op_type == "Quant" else None
            if zero is None or np.any(np.asarray(zero) != 0) or model.get_initializer(quant.input[0]) is None:
                raise UnsupportedError(
                    f"Conv node {node.name!r}: group={group}: expected its weights as an initializer or a Quant of "
                    "one with zero point 0 (to expand the groups into a dense convolution)"
                )
            holder, w = quant, model.get_initializer(quant.input[0])
        c_out = w.shape[0]
        if group == c_in == c_out:
            continue  # depthwise: the vvau block
        per_in, per_out = w.shape[1], c_out // group
        dense = np.zeros((c_out, per_in * group, *w.shape[2:]), dtype=np.float32)
        for g in range(group):
            dense[g * per_out:(g + 1) * per_out, g * per_in:(g + 1) * per_in] = w[g * per_out:(g + 1) * per_out]
        at = 1 if holder is node else 0
        holder.input[at] = _replace_initializer(model, holder.input[at], dense)
        for info in [*model.graph.value_info]:  # its shape changed: let the cleanup infer it again
            if info.name == holder.output[0] and holder is not node:
                model.graph.value_info.remove(info)
        for attr in node.attribute:
            if attr.name == "group":
                attr.i = 1


def prepare(model) -> Prepared:
    """Run the front end on a QONNX ``ModelWrapper`` (not modified); see the module docstring."""
    work = clean(copy.deepcopy(model))
    check_supported(work, check_ops=False)  # a float model is refused before anything is cut
    input_stage, output_stage = split_host_stages(work)
    rewrite_sub_div(work)
    rewrite_spatial_mean(work)
    rewrite_grouped_conv(work)
    work = clean(work)
    check_supported(work)
    check_exact(work)
    return Prepared(work, input_stage, output_stage)
