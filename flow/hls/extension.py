"""qflow's extension of hls4ml's Vitis backend: exact types and an exact threshold layer.

hls4ml alone is not bit-exact on quantized nets with BatchNorm (see ``shared/TOOLCHAIN.md``): default
precisions overflow, BatchNorm runs in narrow fixed point, and its BNN passes mishandle negative BatchNorm
scales. qflow's lowering (:func:`flow.compile.lower.lower`) already knows the exact answer for every tensor, so
this extension makes the Vitis project compute exactly that:

* the pass ``qflow_exact`` runs right after hls4ml's QONNX parsing (flow ``qflow_hls:exact``, before any of
  hls4ml's fusions), lowers the graph and rewrites it: input codes enter directly in their exact fixed-point
  type (the input quantizer runs in Python, as for the RTL); every Dense gets its integer weights in an exact
  type (bipolar +-1 as ``ap_int<2>``), a zero bias, and accumulator/result types from interval analysis; the
  BatchNorm/bias/ReLU/quantizer chain after it becomes one ``QflowThresholds`` layer;
* ``QflowThresholds`` (C++ in ``nnet_qflow_thresholds.h``, io_parallel and io_stream) compares the accumulator
  with per-channel integer thresholds stored in the accumulator's own type, so it is exact by construction.

:func:`register` installs all of it on the Vitis backend (idempotent); :func:`flow.hls.project.convert_exact`
uses it.
"""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np

from flow.blocks.mvau import MvauMode
from flow.compile import adder
from flow.compile.adder import ADDER_CONV_LAYER, ADDER_LAYER, adder_layer_class
from flow.compile.chain import is_quant_activation
from flow.compile.folding import Folding, fold_table
from flow.compile.lower import lower
from flow.compile.network import IntType, MatVec, Network, Thresholds, flat_layers
from flow.errors import UnsupportedError

log = logging.getLogger(__name__)

HEADER = Path(__file__).with_name("nnet_qflow_thresholds.h")
ADDER_HEADER = Path(__file__).with_name("nnet_qflow_adder.h")
EXACT_FLOW = "qflow_hls:exact"
_registered = False


def fixed_type(t: IntType):
    """The hls4ml precision holding exactly the values ``code * 2^-frac`` of ``t`` (bipolar: ap_int<2>)."""
    from hls4ml.model.types import FixedPrecisionType, IntegerPrecisionType

    if t.bipolar:
        return IntegerPrecisionType(width=2, signed=True)
    if t.frac == 0:
        return IntegerPrecisionType(width=t.bits, signed=t.signed)
    return FixedPrecisionType(width=t.bits, integer=t.bits - t.frac, signed=t.signed)


# C++ of the layers: config struct and function call templates (hls4ml fills the {fields}).
_THRESHOLDS_CONFIG = """struct config{index} : nnet::qflow_thresholds_config {{
    static const unsigned n_in = {n_in};
    static const unsigned n_chan = {n_chan};
    static const unsigned n_steps = {n_steps};
    static const unsigned io_type = nnet::{iotype};
    static const unsigned reuse_factor = {reuse};
    typedef {threshold_t} threshold_t;
}};\n"""
_THRESHOLDS_CALL = (
    "nnet::qflow_thresholds<{input_t}, {output_t}, {config}>({input}, {output}, {thresholds}, {levels}, "
    "{descending});"
)
_ADDER_CONFIG = """struct config{index} : nnet::qflow_adder_config {{
    static const unsigned n_in = {n_in};
    static const unsigned n_out = {n_out};
    static const unsigned io_type = nnet::{iotype};
    static const unsigned reuse_factor = {reuse};
    typedef {weight_t} weight_t;
    typedef {diff_t} diff_t;
    typedef {accum_t} accum_t;
}};\n"""
_ADDER_CALL = "nnet::qflow_adder_dense<{input_t}, {output_t}, {config}>({input}, {output}, {w});"
_ADDER_CONV_CONFIG = """struct config{index} : nnet::qflow_adder_conv_config {{
    static const unsigned in_height = {in_height}, in_width = {in_width}, n_chan = {n_chan};
    static const unsigned out_height = {out_height}, out_width = {out_width}, n_filt = {n_filt};
    static const unsigned filt = {filt_height}, stride = {stride_height}, pad_top = {pad_top}, pad_left = {pad_left};
    static const unsigned io_type = nnet::{iotype};
    static const unsigned reuse_factor = {reuse};
    typedef {weight_t} weight_t;
    typedef {diff_t} diff_t;
    typedef {accum_t} accum_t;
}};\n"""
_ADDER_CONV_CALL = "nnet::qflow_adder_conv2d<{input_t}, {output_t}, {config}>({input}, {output}, {w});"


def _thresholds_classes():
    """``QflowThresholds`` and its config and function-call templates (hls4ml imported here: it is heavy)."""
    from hls4ml.backends.template import FunctionCallTemplate, LayerConfigTemplate
    from hls4ml.model.layers import Layer
    from hls4ml.model.types import IntegerPrecisionType

    class QflowThresholds(Layer):
        """Per-channel multi-threshold activation: ``levels[#{t: x >= T[c, t]}]`` (``<=`` for descending c)."""

        from hls4ml.model.attributes import Attribute, ConfigurableAttribute

        _expected_attributes = [
            Attribute("n_in"),
            Attribute("n_chan"),
            Attribute("n_steps"),
            ConfigurableAttribute("reuse_factor", default=1),
        ]

        def initialize(self):
            inp = self.get_input_variable()
            out_precision = self.get_attr("out_precision")
            self.add_output_variable(inp.shape, precision=out_precision)
            self.add_weights_variable(
                name="thresholds",
                var_name="qt{index}",
                data=self.get_attr("thresholds_data"),
                precision=inp.type.precision,
            )
            self.add_weights_variable(
                name="levels", var_name="ql{index}", data=self.get_attr("levels_data"), precision=out_precision
            )
            self.add_weights_variable(
                name="descending",
                var_name="qd{index}",
                data=self.get_attr("descending_data"),
                precision=IntegerPrecisionType(width=1, signed=False),
            )

    class ThresholdsConfigTemplate(LayerConfigTemplate):
        def __init__(self):
            super().__init__(QflowThresholds)
            self.template = _THRESHOLDS_CONFIG

        def format(self, node):
            params = self._default_config_params(node)
            params["threshold_t"] = node.get_weights("thresholds").type.name
            return self.template.format(**params)

    class ThresholdsFunctionTemplate(FunctionCallTemplate):
        def __init__(self):
            super().__init__(QflowThresholds, include_header=[f"nnet_utils/{HEADER.name}"])
            self.template = _THRESHOLDS_CALL

        def format(self, node):
            params = self._default_function_params(node)
            for name in ("thresholds", "levels", "descending"):
                params[name] = node.get_weights(name).name
            return self.template.format(**params)

    return QflowThresholds, ThresholdsConfigTemplate, ThresholdsFunctionTemplate


def _adder_templates() -> list:
    """Config and function-call templates of ``QflowAdderDense`` and ``QflowAdderConv2D`` (the conv ones reuse
    the dense ones' ``format``; hls4ml imported here: it is heavy)."""
    from hls4ml.backends.template import FunctionCallTemplate, LayerConfigTemplate

    adder_cls = adder_layer_class()

    class AdderConfigTemplate(LayerConfigTemplate):
        def __init__(self):
            super().__init__(adder_cls)
            self.template = _ADDER_CONFIG

        def format(self, node):
            params = self._default_config_params(node)
            params["weight_t"] = node.get_weights("weight").type.name
            for name in ("diff_t", "accum_t"):
                t = node.get_attr(name)
                if t is None:
                    raise UnsupportedError(
                        f"layer {node.name!r}: {ADDER_LAYER} has no exact {name} (run the flow {EXACT_FLOW})"
                    )
                params[name] = t.name
            return self.template.format(**params)

    class AdderFunctionTemplate(FunctionCallTemplate):
        def __init__(self):
            super().__init__(adder_cls, include_header=[f"nnet_utils/{ADDER_HEADER.name}"])
            self.template = _ADDER_CALL

        def format(self, node):
            params = self._default_function_params(node)
            params["w"] = node.get_weights("weight").name
            return self.template.format(**params)

    adder_conv_cls = adder_layer_class(ADDER_CONV_LAYER)

    class AdderConvConfigTemplate(AdderConfigTemplate):
        def __init__(self):
            LayerConfigTemplate.__init__(self, adder_conv_cls)
            self.template = _ADDER_CONV_CONFIG

    class AdderConvFunctionTemplate(AdderFunctionTemplate):
        def __init__(self):
            FunctionCallTemplate.__init__(self, adder_conv_cls, include_header=[f"nnet_utils/{ADDER_HEADER.name}"])
            self.template = _ADDER_CONV_CALL

    return [AdderConfigTemplate, AdderFunctionTemplate, AdderConvConfigTemplate, AdderConvFunctionTemplate]


def _exact_pass(thresholds_cls):
    """The ``qflow_exact`` optimizer pass, making ``thresholds_cls`` layers (hls4ml imported here: it is heavy)."""
    from hls4ml.model.optimizer import OptimizerPass

    class QflowExact(OptimizerPass):
        """Rewrite the parsed QONNX graph into qflow's exact integer network (runs once, on the Input node)."""

        def match(self, node):
            return node.class_name == "Input" and not node.model.config.config.get("_qflow_exact_done")

        def transform(self, model, node):
            model.config.config["_qflow_exact_done"] = True
            model._qflow_network = make_exact(model, thresholds_cls)
            return True

    return QflowExact


def _layer_classes():
    """The thresholds layer, the templates of qflow's layers, and the exact pass."""
    thresholds, th_config, th_function = _thresholds_classes()
    templates = [th_config, th_function, *_adder_templates()]
    return thresholds, templates, _exact_pass(thresholds)


def register() -> None:
    """Install the layer, its templates, its C++ header, the pass and the flow on the Vitis backend."""
    global _registered
    if _registered:
        return
    import hls4ml
    from hls4ml.model.flow import register_flow
    from hls4ml.model.layers import register_layer

    adder.register()
    layer, templates, exact_pass = _layer_classes()
    backend = hls4ml.backends.get_backend("Vitis")
    register_layer("QflowThresholds", layer)
    for template in templates:
        backend.register_template(template)
    backend.register_source(HEADER)
    backend.register_source(ADDER_HEADER)
    backend.register_pass("qflow_exact", exact_pass)
    register_flow("exact", ["vitis:qflow_exact"], requires=["parse_qonnx"], backend="qflow_hls")
    _registered = True


#: Layers the exact HLS path rewrites (dense, convolution, max-pool and their thresholds).
HLS_EXACT_LAYERS = ("MatVec", "Thresholds", "SlidingWindow", "MaxPool", "Pad", "Flatten")


def hls_gap(net: Network) -> str | None:
    """Why the exact HLS path cannot build ``net`` (``None``: it can): residual adds, depthwise convolutions and
    global pooling are in the RTL backend only so far."""
    missing = sorted({type(layer).__name__ for layer in flat_layers(net.layers)} - set(HLS_EXACT_LAYERS))
    if not missing:
        return None
    return (f"the exact HLS path (qflow hls, the three-way C-simulation) maps {', '.join(HLS_EXACT_LAYERS)} layers; "
            f"this network also has {', '.join(missing)}, which it does not make exact yet (the RTL backend does)")


def make_exact(model, thresholds_cls) -> Network:
    """Rewrite ``model`` (parsed QONNX, before hls4ml's fusions) so that it computes qflow's integer network.

    Returns the :class:`Network` it follows. Raises :class:`UnsupportedError`/:class:`NotExactError` exactly
    where the RTL backend would (same lowering).
    """
    net = lower(model, fold_table(model, Folding()))  # fully parallel: the HLS code has no PE/SIMD
    reason = hls_gap(net)
    if reason is not None:
        raise UnsupportedError(reason)
    layers = list(model.get_layers())
    by_name = {layer.name: layer for layer in layers}
    matvecs = [layer for layer in net.layers if isinstance(layer, MatVec)]

    # Input: the codes arrive in their exact type, channels-last for images; the input quantizer (Python
    # side) and the input's channels-last Transpose are removed from the graph.
    input_layer = layers[0]
    input_layer.get_output_variable().type.precision = fixed_type(net.input_type)
    if net.input_layout == "nchw":
        c, h, w = net.input_shape
        input_layer.get_output_variable().shape = [h, w, c]
    first_dense = by_name[matvecs[0].name]
    for layer in layers[1 : layers.index(first_dense)]:
        model.remove_node(layer)
    # Transposes between channels-first and channels-last (before a flatten, or in pairs around an elementwise
    # op): the lowering keeps everything channels-last and permuted the Dense layer after a flatten into that
    # order, so every transpose goes.
    for layer in list(model.get_layers()):
        if layer.class_name == "Transpose":
            model.remove_node(layer)

    for mv in matvecs:
        dense = by_name[mv.name]
        _exact_dense(dense, mv)
        th = next((t for t in net.layers if isinstance(t, Thresholds) and t.name == f"{mv.name}_thresholds"), None)
        chain = _chain_after(model, dense)
        if th is None:
            if chain:
                names = [c.name for c in chain]
                raise UnsupportedError(f"layer {dense.name!r}: ops {names} follow it but no thresholds")
            continue
        if not chain:
            raise UnsupportedError(f"layer {dense.name!r}: expected BatchNorm/activation/quantizer layers after it")
        attrs = {
            "n_in": int(np.prod(dense.get_output_variable().shape)),
            "n_chan": mv.mh,
            "n_steps": int(th.thresholds.shape[1]),
            "out_precision": fixed_type(th.out_type),
            "thresholds_data": (th.thresholds.astype(np.float64) * 2.0**-mv.out_frac),
            "levels_data": _levels(th.out_type),
            "descending_data": th.descending.astype(np.int64),
            "trace": dense.get_attr("trace", False),
        }
        new = model.make_node(thresholds_cls, f"qflow_thresholds_{dense.name}", attrs, [dense.outputs[0]])
        for layer in chain[:-1]:
            model.remove_node(layer)
        model.replace_node(chain[-1], new)
    log.info("qflow_hls: exact rewrite of %d dense layers", len(matvecs))
    return net


def _levels(t: IntType) -> np.ndarray:
    if t.bipolar:
        return np.array([-1.0, 1.0])
    lo, hi = t.range
    return np.arange(lo, hi + 1, dtype=np.float64) * 2.0**-t.frac


def _chain_after(model, dense) -> list:
    """The elementwise layers after ``dense`` up to and including its quantizer (empty if none follows)."""
    chain = []
    node = dense
    while True:
        nexts = [layer for layer in model.get_layers() if node.outputs[0] in layer.inputs]
        if not nexts:
            return []
        if len(nexts) > 1:
            raise UnsupportedError(f"layer {node.name!r}: branching outputs are not supported")
        node = nexts[0]
        if node.class_name not in ("BatchNormalization", "ApplyAlpha", "Activation"):
            return []  # a Dense/Conv/pool follows directly: no thresholds
        chain.append(node)
        if is_quant_activation(node):
            return chain


def _exact_dense(dense, mv: MatVec) -> None:
    from hls4ml.model.types import NamedType

    if mv.mode == MvauMode.ADDER:
        w_type = IntType(mv.w_bits, True, mv.in_type.frac)  # x - w: both on the input's grid
        in_bits = mv.in_type.bits + (0 if mv.in_type.signed else 1)  # the input as a signed number
        diff = fixed_type(IntType(max(in_bits, mv.w_bits) + 1, True, mv.in_type.frac))
        dense.set_attr("diff_t", NamedType(f"layer{dense.index}_diff_t", diff))
    elif mv.w_bits == 1:
        w_type = IntType(2, True, 0, bipolar=True)  # +-1 as ap_int<2>: the Dense then sums +-x exactly
    else:
        w_type = IntType(mv.w_bits, True, mv.out_frac - mv.in_type.frac)
    w_precision = fixed_type(w_type)
    weights = dense.weights["weight"]
    shape = np.shape(weights.data)  # (MW, MH) for Dense, (K, K, C, OC) for a channels-last Conv2D
    data = (mv.weights.T.astype(np.float64) * 2.0**-w_type.frac).reshape(shape)
    weights.data = data
    weights.data_unquantized = data
    weights.update_precision(w_precision)
    dense.set_attr("weight_quantizer", None)
    acc = fixed_type(IntType(mv.acc_bits, True, mv.out_frac))
    bias = dense.weights.get("bias")
    if bias is not None:
        zeros = np.zeros_like(np.asarray(bias.data, dtype=np.float64))  # the bias lives in the thresholds
        bias.data = zeros
        bias.data_unquantized = zeros
        bias.update_precision(acc)
        dense.set_attr("bias_quantizer", None)
    dense.set_attr("accum_t", NamedType(f"layer{dense.index}_accum_t", acc))
    dense.get_output_variable().type.precision = acc
