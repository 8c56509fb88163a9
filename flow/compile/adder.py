"""AdderNet layers in hls4ml: parser handlers, layer classes and the passes that attach their weights.

qflow exports adder layers as ``AdderMatMul(x, Quant(W))`` and ``AdderConv(x, Quant(W))`` (domain
``flow.qonnx_ops``, :mod:`flow.qonnx_ops`; the convolution in the channels-last form that
:func:`flow.frontend.graph.for_hls4ml` makes). :func:`register` teaches hls4ml these nodes, for every backend that
parses QONNX:

* ONNX handlers turn them into ``AdderMatMul`` / ``AdderConv`` layers (two inputs, like hls4ml's ``MatMul``);
* the passes ``qflow_adder_const_to_dense`` and ``qflow_adder_conv_to_conv2d``, appended to hls4ml's
  ``parse_qonnx`` flow (after hls4ml has fused the weight ``Quant`` into its ``Constant``), turn them with their
  ``Constant`` into ``QflowAdderDense`` / ``QflowAdderConv2D`` layers holding the weights with their quantizer,
  as ``matmul_const_to_dense`` and ``conv_to_conv_x_d`` do for MatMul and Conv.

Precision rule (used by :func:`flow.compile.lower.lower`, which owns all exact types): ``|x - w|`` of two
values on one k-bit grid needs k+1 bits, a sum of n of them ``ceil(log2 n)`` more; qflow computes the exact
per-channel interval from the real weights instead, which is never wider.

The Vitis HLS templates live with qflow's Vitis extension (:mod:`flow.hls.extension`); the ``qflow-rtl``
backend maps both layers to the MVAU's ADDER mode.
"""

from __future__ import annotations

import numpy as np

ADDER_LAYER = "QflowAdderDense"
ADDER_CONV_LAYER = "QflowAdderConv2D"
_registered = False

CONV_ATTRIBUTES = (
    "in_height", "in_width", "out_height", "out_width", "n_chan", "n_filt", "filt_height", "filt_width",
    "stride_height", "stride_width", "pad_top", "pad_bottom", "pad_left", "pad_right",
)


def _replace_with_weight_layer(model, node, const, layer_cls, attributes: dict) -> bool:
    """Replace ``node`` and its weight ``Constant`` ``const`` by a ``layer_cls`` layer ``Adder_<node name>``
    that keeps the node's layer configuration, data input and outputs (the shared tail of both passes)."""
    config = model.config.get_layer_config(node)
    new_name = f"Adder_{node.name}"
    model.config.set_name_config(new_name, config)
    model.config.parse_name_config(new_name, config)
    new = model.make_node(layer_cls, new_name, attributes, [node.inputs[0]], list(node.outputs))
    model.remove_node(const)
    del node.inputs[1]
    model.replace_node(node, new)
    return True


def _dense_classes():
    """``AdderMatMul``, ``QflowAdderDense`` and the pass between them (hls4ml imported here: it is heavy)."""
    from hls4ml.model.attributes import Attribute, TypeAttribute, WeightAttribute
    from hls4ml.model.layers import Constant, Layer
    from hls4ml.model.optimizer import OptimizerPass

    class AdderMatMul(Layer):
        """The parsed ``AdderMatMul`` node before its weights are attached (an intermediate form)."""

        def initialize(self):
            x = self.get_input_variable(self.inputs[0])
            w = self.get_input_variable(self.inputs[1])
            if x.shape[-1] != w.shape[0]:
                raise ValueError(f"AdderMatMul {self.name!r}: input has {x.shape[-1]} features, W {w.shape}")
            self.add_output_variable([*x.shape[:-1], w.shape[-1]])

    class QflowAdderDense(Layer):
        """``y = -sum_i |x_i - W[i, :]|`` with constant weights ``W`` (n_in, n_out); no bias."""

        _expected_attributes = [
            Attribute("n_in"),
            Attribute("n_out"),
            WeightAttribute("weight"),
            TypeAttribute("weight"),
        ]

        def initialize(self):
            shape = list(self.get_input_variable().shape)
            shape[-1] = self.attributes["n_out"]
            self.add_output_variable(shape)
            self.add_weights(quantizer=self.get_attr("weight_quantizer"))

    class AdderConstToDense(OptimizerPass):
        """``AdderMatMul`` whose second input is a ``Constant`` -> ``QflowAdderDense``."""

        def match(self, node):
            return (
                isinstance(node, AdderMatMul)
                and len(node.inputs) == 2
                and isinstance(node.get_input_node(node.inputs[1]), Constant)
            )

        def transform(self, model, node):
            const = node.get_input_node(node.inputs[1])
            weights = np.asarray(const.attributes["value"])
            in_shape = node.get_input_variable(node.inputs[0]).shape
            attributes = {
                "weight_data": weights,
                "weight_quantizer": const.get_attr("quantizer"),
                "n_in": int(np.prod(in_shape)),
                "n_out": int(np.prod([*in_shape[:-1], weights.shape[-1]])),
            }
            return _replace_with_weight_layer(model, node, const, QflowAdderDense, attributes)

    return AdderMatMul, QflowAdderDense, AdderConstToDense


def _conv_classes():
    """``AdderConv``, ``QflowAdderConv2D`` and the pass between them (hls4ml imported here: it is heavy)."""
    from hls4ml.model.attributes import Attribute, TypeAttribute, WeightAttribute
    from hls4ml.model.layers import Constant, Layer
    from hls4ml.model.optimizer import OptimizerPass

    class AdderConv(Layer):
        """The parsed channels-last ``AdderConv`` node before its weights are attached (an intermediate form)."""

        def initialize(self):
            self.add_output_variable([self.get_attr("out_height"), self.get_attr("out_width"), self.get_attr("n_filt")])

    class QflowAdderConv2D(Layer):
        """Channels-last 2-D adder convolution: each output pixel ``-sum |window - W[..., oc]|``; weights
        ``(K, K, C, OC)`` like hls4ml's Conv2D (window element order ky, kx, c); no bias."""

        _expected_attributes = [Attribute(name) for name in CONV_ATTRIBUTES] + [
            WeightAttribute("weight"),
            TypeAttribute("weight"),
        ]

        def initialize(self):
            self.add_output_variable([self.attributes["out_height"], self.attributes["out_width"],
                                      self.attributes["n_filt"]])
            self.add_weights(quantizer=self.get_attr("weight_quantizer"))

    class AdderConvConstToConv2D(OptimizerPass):
        """``AdderConv`` whose second input is a ``Constant`` -> ``QflowAdderConv2D``."""

        def match(self, node):
            return (
                isinstance(node, AdderConv)
                and len(node.inputs) == 2
                and isinstance(node.get_input_node(node.inputs[1]), Constant)
            )

        def transform(self, model, node):
            const = node.get_input_node(node.inputs[1])
            weights = np.asarray(const.attributes["value"])  # (OC, C, K, K)
            attributes = {k: node.get_attr(k) for k in CONV_ATTRIBUTES}
            attributes["weight_data"] = np.ascontiguousarray(weights.transpose(2, 3, 1, 0))  # (K, K, C, OC)
            attributes["weight_quantizer"] = const.get_attr("quantizer")
            return _replace_with_weight_layer(model, node, const, QflowAdderConv2D, attributes)

    return AdderConv, QflowAdderConv2D, AdderConvConstToConv2D


def adder_layer_class(name: str = ADDER_LAYER):
    """The registered hls4ml layer class ``name`` (``QflowAdderDense`` or ``QflowAdderConv2D``)."""
    register()
    from hls4ml.model.layers import layer_map

    return layer_map[name]


def _parse_adder_matmul(node, input_names, input_shapes, graph) -> dict:
    if len(node.input) != 2:
        raise ValueError(f"AdderMatMul node {node.name!r}: expected 2 inputs (x, W), got {len(node.input)}")
    return {"class_name": "AdderMatMul", "name": node.name, "inputs": input_names, "outputs": list(node.output)}


def _parse_adder_conv(node, input_names, input_shapes, graph) -> dict:
    from onnx import helper

    attrs = {a.name: helper.get_attribute_value(a) for a in node.attribute}
    layout = attrs.get("data_layout", b"NCHW")
    layout = layout.decode() if isinstance(layout, bytes) else layout
    if layout != "NHWC":
        raise ValueError(
            f"AdderConv node {node.name!r}: expected the channels-last form (data_layout NHWC, made by "
            f"flow.frontend.graph.for_hls4ml), got {layout}"
        )
    k, s, p = int(attrs["kernel_shape"][0]), int(attrs.get("strides", [1])[0]), int(attrs.get("pads", [0])[0])
    _, h, w, c = (int(d) for d in input_shapes[0])
    n_filt = int(attrs["out_shape"][3])
    return {
        "class_name": "AdderConv", "name": node.name, "inputs": input_names, "outputs": list(node.output),
        "in_height": h, "in_width": w, "n_chan": c, "n_filt": n_filt, "filt_height": k, "filt_width": k,
        "stride_height": s, "stride_width": s, "pad_top": p, "pad_bottom": p, "pad_left": p, "pad_right": p,
        "out_height": (h + 2 * p - k) // s + 1, "out_width": (w + 2 * p - k) // s + 1,
    }


def register() -> None:
    """Install the handler, the layers and the pass in hls4ml (idempotent; call before converting)."""
    global _registered
    if _registered:
        return
    from hls4ml.converters.onnx_to_hls import layer_handlers, register_onnx_layer_handler
    from hls4ml.model.flow import get_flow, update_flow
    from hls4ml.model.layers import layer_map, register_layer
    from hls4ml.model.optimizer import get_available_passes, register_pass

    matmul, dense, to_dense = _dense_classes()
    conv, conv2d, to_conv2d = _conv_classes()
    for op, handler in (("AdderMatMul", _parse_adder_matmul), ("AdderConv", _parse_adder_conv)):
        if op not in layer_handlers:
            register_onnx_layer_handler(op, handler)
    for name, cls in (("AdderMatMul", matmul), (ADDER_LAYER, dense), ("AdderConv", conv), (ADDER_CONV_LAYER, conv2d)):
        if name not in layer_map:
            register_layer(name, cls)
    for name, cls in (("qflow_adder_const_to_dense", to_dense), ("qflow_adder_conv_to_conv2d", to_conv2d)):
        if name not in get_available_passes():
            register_pass(name, cls)
        if name not in get_flow("parse_qonnx").optimizers:
            update_flow("parse_qonnx", add_optimizers=[name])
    _registered = True
