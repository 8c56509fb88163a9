"""The hls4ml Vitis project of a QONNX model, made exact (see :mod:`flow.hls.extension`), and its C-simulation.

``convert_exact(qonnx_model, out_dir, ...)`` returns an :class:`HlsProject`: the hls4ml ``ModelGraph`` on the
Vitis backend plus the integer :class:`~flow.compile.network.Network` it follows. ``project.predict_int(x_int)``
runs hls4ml's own ``compile()``/``predict()`` (g++ C-simulation) on integer input codes and returns integer
output codes, directly comparable with the golden network and the RTL simulation.
"""

from __future__ import annotations

import copy
import logging
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from flow.compile.network import Network
from flow.errors import QflowError
from flow.frontend.graph import for_hls4ml
from flow.hls.extension import EXACT_FLOW, register
from flow.io import quiet_stdout

log = logging.getLogger(__name__)

IO_TYPES = ("io_parallel", "io_stream")
STRATEGIES = ("Latency", "Resource")
PROJECT_NAME = "qflow_hls"


@dataclass
class HlsProject:
    """An exact hls4ml Vitis project and the integer network it computes."""

    model: object  # hls4ml ModelGraph
    network: Network
    out_dir: Path
    io_type: str
    compile_seconds: float | None = None
    settings: dict = field(default_factory=dict)

    def compile(self) -> float:
        """Write the project and build the C-simulation library (hls4ml ``compile()``); returns seconds."""
        t0 = time.perf_counter()
        with quiet_stdout():
            self.model.compile()
        self.compile_seconds = time.perf_counter() - t0
        return self.compile_seconds

    def predict_int(self, x_int: np.ndarray) -> np.ndarray:
        """Integer input codes (N, features) -> integer output codes (N, outputs) via the C-simulation."""
        if self.compile_seconds is None:
            self.compile()
        in_type, out_type = self.network.input_type, self.network.output_type
        x = np.ascontiguousarray(np.asarray(x_int, dtype=np.float64) * in_type.scale, dtype=np.float64)
        with quiet_stdout():
            y = np.asarray(self.model.predict(x), dtype=np.float64).reshape(len(x_int), -1)
        codes = y / out_type.scale
        if not np.array_equal(codes, np.round(codes)):
            raise QflowError("hls4ml C-simulation returned values that are not integer codes of the output type")
        return codes.astype(np.int64)

    def trace(self, x_int: np.ndarray) -> dict[str, np.ndarray]:
        """Per-layer outputs of the C-simulation (hls4ml's ``trace``; the project must be converted with
        ``trace=True``), keyed by hls4ml layer name, as real values."""
        if self.compile_seconds is None:
            self.compile()
        x = np.ascontiguousarray(np.asarray(x_int, dtype=np.float64) * self.network.input_type.scale)
        with quiet_stdout():
            _, traced = self.model.trace(x)
        return {k: np.asarray(v) for k, v in traced.items()}


def hls_config(
    qonnx_model, reuse_factor: int = 1, strategy: str = "Latency", layers: dict | None = None, trace: bool = False
) -> dict:
    """hls4ml's per-layer configuration of ``qonnx_model`` with qflow's exact flow and the user's settings.

    ``layers`` maps hls4ml layer names to per-layer settings (``ReuseFactor``, ``Strategy``); precision
    overrides are checked after conversion (:func:`check_precision_overrides`).
    """
    import hls4ml

    if strategy not in STRATEGIES:
        raise QflowError(f"hls: Strategy expected one of {STRATEGIES}, got {strategy!r}")
    if int(reuse_factor) < 1:
        raise QflowError(f"hls: ReuseFactor expected >= 1, got {reuse_factor!r}")
    with quiet_stdout():
        config = hls4ml.utils.config_from_onnx_model(qonnx_model, granularity="name", backend="Vitis")
    config["Model"]["ReuseFactor"] = int(reuse_factor)
    config["Model"]["Strategy"] = strategy
    for name, settings in (layers or {}).items():
        if name not in config["LayerName"]:
            known = ", ".join(config["LayerName"])
            raise QflowError(f"hls: LayerName {name!r}: no such layer (layers: {known})")
        config["LayerName"][name].update(copy.deepcopy(settings))
    if trace:
        for settings in config["LayerName"].values():
            settings["Trace"] = True
    config["Flows"] = [EXACT_FLOW, "vitis:ip"]
    return config


def convert_exact(
    qonnx_model,
    out_dir: str | Path,
    io_type: str = "io_parallel",
    reuse_factor: int = 1,
    strategy: str = "Latency",
    layers: dict | None = None,
    part: str = "xc7z020clg400-1",
    clock_period_ns: float = 5.0,
    trace: bool = False,
) -> HlsProject:
    """Convert ``qonnx_model`` with hls4ml's Vitis backend so that the project computes the exact network."""
    import hls4ml

    if io_type not in IO_TYPES:
        raise QflowError(f"hls: IOType expected one of {IO_TYPES}, got {io_type!r}")
    register()
    qonnx_model = for_hls4ml(qonnx_model)
    config = hls_config(qonnx_model, reuse_factor, strategy, layers, trace)
    out_dir = Path(out_dir)
    with quiet_stdout():
        model = hls4ml.converters.convert_from_onnx_model(
            qonnx_model,
            hls_config=config,
            backend="Vitis",
            output_dir=str(out_dir),
            project_name=PROJECT_NAME,
            io_type=io_type,
            part=part,
            clock_period=clock_period_ns,
        )
    network = _network_of(model)
    check_precision_overrides(model, layers or {})
    settings = {
        "IOType": io_type,
        "ReuseFactor": int(reuse_factor),
        "Strategy": strategy,
        "Part": part,
        "ClockPeriod": clock_period_ns,
    }
    return HlsProject(model=model, network=network, out_dir=out_dir, io_type=io_type, settings=settings)


def _network_of(model) -> Network:
    net = getattr(model, "_qflow_network", None)
    if net is None:  # the flow did not run: a bug in the registration, not bad input
        raise QflowError(f"hls: the exact flow {EXACT_FLOW!r} did not run on this model")
    return net


def _fits(exact, wanted) -> bool:
    """Whether precision ``wanted`` holds every value of ``exact`` (enough integer and fractional bits)."""
    e_int, w_int = int(exact.integer), int(wanted.integer)
    e_frac, w_frac = int(exact.width) - e_int, int(wanted.width) - w_int
    if bool(exact.signed) and not bool(wanted.signed):
        return False
    if not bool(exact.signed) and bool(wanted.signed):
        w_int -= 1  # a signed type spends one integer bit on the sign
    return w_int >= e_int and w_frac >= e_frac


def check_precision_overrides(model, layers: dict) -> None:
    """Refuse per-layer ``Precision`` settings narrower than the exact types qflow derived.

    Exact types stay in the project either way (a wider setting changes no value); a narrower one would
    overflow or round, so it is an error naming the layer, the variable, the exact type and the setting.
    """
    graph = {layer.name: layer for layer in model.get_layers()}
    for name, settings in layers.items():
        precision = settings.get("Precision")
        if not precision:
            continue
        layer = graph.get(name) or graph.get(f"Dense_{name}")
        if layer is None:
            continue  # removed by the exact rewrite (an input quantizer, a BatchNorm folded into thresholds)
        items = precision.items() if isinstance(precision, dict) else [("result", precision)]
        for var, text in items:
            if str(text) == "auto":
                continue
            if var == "result":
                exact = layer.get_output_variable().type.precision
            elif var == "accum" and layer.get_attr("accum_t") is not None:
                exact = layer.get_attr("accum_t").precision
            elif var in layer.weights:
                exact = layer.weights[var].type.precision
            else:
                continue
            wanted = model.config.backend.convert_precision_string(str(text))
            if not _fits(exact, wanted):
                raise QflowError(
                    f"hls: layer {name!r}: Precision {var} = {text!r} would break exactness: the exact type is "
                    f"{exact} (qflow keeps the exact types; a setting at least that wide is accepted)"
                )
