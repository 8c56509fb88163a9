"""Graph passes on a QONNX ``ModelWrapper``: loading with a clear error, cleanup, ``Gemm`` lowering, the
supported-op and exactness checks, and the channels-last form hls4ml's parser takes.

These are the steps every model goes through, a recipe's export and a user's own file alike
(:func:`flow.frontend.prepare.prepare` runs them in order).
"""

from __future__ import annotations

import copy
import warnings
from pathlib import Path

import numpy as np
import onnx
from onnx import TensorProto, helper

from flow import compat
from flow.errors import ExportError, NotExactError, UnsupportedError

__all__ = [
    "QUANT_OPS",
    "SUPPORTED_OPS",
    "check_exact",
    "check_supported",
    "clean",
    "for_hls4ml",
    "is_power_of_two",
    "load_qonnx",
    "rewrite_gemm_as_matmul",
]

QUANT_OPS = ("Quant", "BipolarQuant", "Trunc")
# ONNX op types the flow accepts after cleanup; anything else is refused at export, naming the node.
SUPPORTED_OPS = frozenset(
    {
        "Quant", "BipolarQuant", "MatMul", "Add", "Mul", "BatchNormalization", "Relu",
        "Reshape", "Flatten", "Conv", "MaxPool", "Transpose", "Identity", "Pad", "AdderMatMul", "AdderConv",
        "GlobalAveragePool",
    }
)


def clean(model):
    """Cleanup passes: names, shapes, datatypes, Gemm -> MatMul, constant folding, IR version."""
    from qonnx.transformation.general import GiveReadableTensorNames, GiveUniqueNodeNames
    from qonnx.transformation.infer_datatypes import InferDataTypes
    from qonnx.transformation.infer_shapes import InferShapes
    from qonnx.util.cleanup import cleanup_model

    model.model.ir_version = compat.IR_VERSION
    model = cleanup_model(model)
    model = rewrite_gemm_as_matmul(model)
    model = cleanup_model(model)
    for transformation in (InferShapes(), InferDataTypes(), GiveUniqueNodeNames(), GiveReadableTensorNames()):
        model = model.transform(transformation)
    model.model.ir_version = compat.IR_VERSION
    return model


def rewrite_gemm_as_matmul(model):
    """Replace each ``Gemm(A, B[, C])`` (alpha=beta=1, no transA) by ``MatMul(A, B or B^T) [+ C]``."""
    graph = model.graph
    for index, node in enumerate(list(graph.node)):
        if node.op_type != "Gemm":
            continue
        attrs = {a.name: helper.get_attribute_value(a) for a in node.attribute}
        if attrs.get("transA", 0) != 0 or attrs.get("alpha", 1.0) != 1.0 or attrs.get("beta", 1.0) != 1.0:
            raise ExportError(
                f"Gemm node {node.name!r}: expected transA=0, alpha=1, beta=1, got {attrs}"
            )
        a, b = node.input[0], node.input[1]
        c = node.input[2] if len(node.input) > 2 and node.input[2] else None
        new_nodes = []
        if attrs.get("transB", 0):
            b_t = model.make_new_valueinfo_name()
            new_nodes.append(helper.make_node("Transpose", [b], [b_t], perm=[1, 0], name=f"{node.name}_wT"))
            b = b_t
        out = node.output[0]
        mm_out = model.make_new_valueinfo_name() if c else out
        new_nodes.append(helper.make_node("MatMul", [a, b], [mm_out], name=f"{node.name}_matmul"))
        if c:
            new_nodes.append(helper.make_node("Add", [mm_out, c], [out], name=f"{node.name}_bias"))
        graph.node.remove(node)
        for offset, new in enumerate(new_nodes):
            graph.node.insert(index + offset, new)
    return model


def check_supported(model, check_ops: bool = True) -> None:
    """Raise :class:`UnsupportedError` saying that the graph has no quantizer at all (a float model: nothing
    in it is exact in integer hardware), or (``check_ops``) naming the first node whose op type the flow
    cannot take."""
    if not any(node.op_type in ("Quant", "BipolarQuant") for node in model.graph.node):
        raise UnsupportedError(
            "model: no quantizer (Quant/BipolarQuant) in the graph: a float model cannot be exported for exact "
            "integer hardware (quantize it with qflow.qat presets; float recipes such as lenet5_float are "
            "training baselines)"
        )
    for node in model.graph.node if check_ops else ():
        if node.op_type not in SUPPORTED_OPS:
            raise UnsupportedError(
                f"node {node.name!r}: op type {node.op_type!r} is not supported by qflow "
                f"(expected one of {', '.join(sorted(SUPPORTED_OPS))})"
            )


def is_power_of_two(values: np.ndarray) -> bool:
    """True if every entry is a positive power of two (2^k, any integer k)."""
    values = np.asarray(values, dtype=np.float64)
    if values.size == 0 or np.any(values <= 0) or not np.all(np.isfinite(values)):
        return False
    mantissa, _ = np.frexp(values)
    return bool(np.all(mantissa == 0.5))


def check_exact(model) -> None:
    """Raise :class:`NotExactError` naming the node if a quantizer's scale is not a power of two."""
    for node in model.graph.node:
        if node.op_type == "Quant":
            scale = model.get_initializer(node.input[1])
            zero_point = model.get_initializer(node.input[2])
            if scale is None:
                raise NotExactError(f"Quant node {node.name!r}: expected a constant scale, got a computed tensor")
            if not is_power_of_two(scale):
                hint = (
                    "the learned scale collapsed to Brevitas' lower clamp during training: lower the learning "
                    "rate or raise the activation's max_val"
                    if np.all(np.asarray(scale) <= 1e-8)
                    else "use the qflow presets or Brevitas '*FixedPoint' quantizers"
                )
                raise NotExactError(
                    f"Quant node {node.name!r}: expected a power-of-two scale, got {np.ravel(scale)[:4]} ({hint})"
                )
            if zero_point is None or np.any(np.asarray(zero_point) != 0):
                raise NotExactError(f"Quant node {node.name!r}: expected zero-point 0, got {zero_point}")
        elif node.op_type == "BipolarQuant":
            scale = model.get_initializer(node.input[1])
            if scale is None or not is_power_of_two(scale):
                raise NotExactError(f"BipolarQuant node {node.name!r}: expected a power-of-two scale, got {scale}")


def load_qonnx(path: str | Path):
    """Load a QONNX file as a ModelWrapper, with a clear error for a missing or corrupt file."""
    from qonnx.core.modelwrapper import ModelWrapper

    compat.apply()
    path = Path(path)
    if not path.is_file():
        raise ExportError(f"{path}: QONNX file not found (a recipe's comes from 'qflow export <recipe>')")
    try:
        proto = onnx.load(str(path))
        onnx.checker.check_model(proto)
    except Exception as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise ExportError(f"{path}: expected a valid ONNX model, could not parse it ({first})") from exc
    return ModelWrapper(proto)


def for_hls4ml(model):
    """The graph hls4ml's ONNX parser takes: convolutional graphs converted to channels-last.

    hls4ml parses Conv/MaxPool only in qonnx's channels-last form (``ConvertToChannelsLastAndClean``: a
    Transpose at the input, channels-last custom ops, MatMul weights after Flatten permuted to match); graphs
    without them are returned unchanged. The result computes the same function (the reference still runs the
    original), and nodes are renamed by :func:`clean`.
    """
    _check_image_ops(model)
    if not any(
        (node.op_type in ("Conv", "MaxPool") and not node.domain) or node.op_type == "AdderConv"
        for node in model.graph.node
    ):
        return model
    model = _adder_conv_channels_last(model)
    from qonnx.transformation.channels_last import ConvertToChannelsLastAndClean  # heavy: only for CNNs

    with warnings.catch_warnings():
        # qonnx warns when it cannot fold the channels-first transpose into a MatMul whose weights come out
        # of a quantizer node; the lowering absorbs that transpose itself (see flow.compile.lower)
        warnings.filterwarnings("ignore", message="Could not find weight initializer")
        return clean(model.transform(ConvertToChannelsLastAndClean()))


def _adder_conv_channels_last(model):
    """Each ``AdderConv`` becomes ``Transpose(NCHW->NHWC)``, the NHWC ``AdderConv``, ``Transpose(NHWC->NCHW)``:
    what qonnx's ``InsertChannelsLastDomainsAndTrafos`` does for a standard Conv, so that its later passes move
    and cancel these transposes like theirs (qonnx does not know qflow's op)."""
    model = copy.deepcopy(model)  # the caller's graph stays as exported (the reference runs it)
    graph = model.graph
    for node in list(graph.node):
        if node.op_type != "AdderConv":
            continue
        layout = next((helper.get_attribute_value(a) for a in node.attribute if a.name == "data_layout"), b"NCHW")
        if (layout.decode() if isinstance(layout, bytes) else layout) != "NCHW":
            continue
        n, c, h, w = model.get_tensor_shape(node.input[0])
        _, oc, oh, ow = model.get_tensor_shape(node.output[0])
        x_nhwc, y_nhwc = model.make_new_valueinfo_name(), model.make_new_valueinfo_name()
        graph.value_info.append(helper.make_tensor_value_info(x_nhwc, TensorProto.FLOAT, [n, h, w, c]))
        graph.value_info.append(helper.make_tensor_value_info(y_nhwc, TensorProto.FLOAT, [n, oh, ow, oc]))
        index = list(graph.node).index(node)
        graph.node.insert(index, helper.make_node("Transpose", [node.input[0]], [x_nhwc], perm=[0, 2, 3, 1]))
        graph.node.insert(index + 2, helper.make_node("Transpose", [y_nhwc], [node.output[0]], perm=[0, 3, 1, 2]))
        node.input[0], node.output[0] = x_nhwc, y_nhwc
        for attr in node.attribute:
            if attr.name == "data_layout":
                attr.s = b"NHWC"
        node.attribute.append(helper.make_attribute("out_shape", [n, oh, ow, oc]))
    return model


def _check_image_ops(model) -> None:
    """Refuse convolution/pooling attributes the hardware does not map, naming the node (hls4ml would fail
    later with a bare assertion, or map them to layers qflow-rtl does not have)."""
    for node in model.graph.node:
        attrs = {a.name: helper.get_attribute_value(a) for a in node.attribute}
        if node.op_type == "Conv":
            if any(int(d) != 1 for d in attrs.get("dilations", [1, 1])):
                raise UnsupportedError(
                    f"Conv node {node.name!r}: dilations {list(attrs['dilations'])} are not supported (expected 1)"
                )
            if attrs.get("auto_pad", b"NOTSET") not in (b"NOTSET", "NOTSET"):
                raise UnsupportedError(f"Conv node {node.name!r}: auto_pad is not supported (give explicit pads)")
        elif node.op_type == "MaxPool" and (
            int(attrs.get("ceil_mode", 0)) != 0 or any(int(d) != 1 for d in attrs.get("dilations", [1, 1]))
        ):
            raise UnsupportedError(f"MaxPool node {node.name!r}: ceil_mode and dilations are not supported")
