"""``qflow-rtl``: an hls4ml backend whose writer emits Verilog from the same ``ModelGraph`` hls4ml builds.

Registered through the ``hls4ml.backends`` entry point, so in any Python session with qflow installed::

    hls_model = hls4ml.converters.convert_from_onnx_model(qonnx_model, backend="qflow-rtl",
                                                          output_dir="build/x/rtl", folding="parallel")
    hls_model.compile()          # writes Verilog + builds the Verilator model
    y = hls_model.predict(x)     # runs the RTL on a float batch, outputs equal the QONNX reference
    resources = hls_model.build()  # Yosys synth_xilinx cell counts

Backend options (``create_initial_config``): ``folding`` = ``"parallel"`` | ``"folded"`` | an int (target
cycles per inference) | a :class:`~flow.compile.folding.Folding`, ``layer_folding`` = {layer name: (PE, SIMD)},
``clock_mhz``, ``prune`` (default True: remove the channels structured pruning left dead,
:mod:`flow.compile.prune`); parsed once into a typed ``Folding`` kept in the config. A layer's hls4ml
``ReuseFactor`` other than 1 selects PE x SIMD with exactly that many cycles per vector.
"""

from __future__ import annotations

import logging
import weakref
from pathlib import Path

import numpy as np

from flow.blocks.mvau import MvauMode
from flow.compile.constant import use_cmvm
from flow.compile.folding import Folding, fold_table
from flow.compile.lower import lower
from flow.compile.network import MatVec, Network, flat_layers
from flow.compile.prune import remove_pruned_channels
from flow.compile.registers import apply_pipeline
from flow.rtl.generate import RtlDesign, write_rtl
from flow.rtl.harness import run_network
from flow.rtl.verilator import build_harness
from flow.rtl.yosys import synth_xilinx

log = logging.getLogger(__name__)

BACKEND_NAME = "qflow-rtl"


# Above this many parallel lanes the generated C++ is large enough that g++ -O0 wins. A lane is one PE x SIMD
# element, except in XNOR layers: hw/mvau/mvau_dot.v sums those 64 bits at a time (Verilator emits word-level
# popcounts), so a lane there is one 64-bit word of a PE. Measured on a loaded 2-core machine (g++ time; batch
# harness CPU time per inference, stimulus file I/O excluded): fully parallel tfc_w1a1 (970 word lanes, 1.9 MB
# of C++): -O0 ~11 s, 180-310 us; -O1 ~30 s, 8 us. Fully parallel sfc_w1a1 (5,416 word lanes, 8.7 MB of C++):
# -O0 38 s, 1.2 ms; -O1 95 s, 86 us.
BIG_DESIGN_LANES = 2048


#: C++ flags of the "fast-sim" build: about 2x faster simulation of the fully parallel TFC than -O1 (the XNOR
#: popcounts vectorize), for a build about 1.3x longer (BENCHMARKS.md, issue 3 follow-up). -march=native is
#: safe here: the model is built and run on the same machine.
FAST_SIM_FLAGS = "-O3 -march=native"
SIM_BUILDS = ("fast-build", "fast-sim")


def cxx_opt_level(net: Network, sim_build: str = "fast-build") -> str:
    """C++ optimization flags for the Verilator model of ``net`` (see ``verilator.build_harness``):
    ``"fast-sim"`` -> :data:`FAST_SIM_FLAGS`; ``"fast-build"`` -> -O1, or -O0 for very wide designs."""
    if sim_build not in SIM_BUILDS:
        raise ValueError(f"QflowRTL SimBuild: expected one of {SIM_BUILDS}, got {sim_build!r}")
    if sim_build == "fast-sim":
        return FAST_SIM_FLAGS
    lanes = sum(
        layer.pe * (-(-layer.simd // 64) if layer.mode == MvauMode.XNOR else layer.simd)
        for layer in flat_layers(net.layers)
        if isinstance(layer, MatVec)
    )
    return "-O0" if lanes > BIG_DESIGN_LANES else "-O1"


def _initial_config(folding, layer_folding, clock_mhz: float, io_type: str, sim_build: str, frontend=None,
                    prune: bool = True, cmvm: bool = True) -> dict:
    """The backend's initial hls4ml config (``create_initial_config``): the backend options parsed once into a
    typed :class:`~flow.compile.folding.Folding` under ``"QflowRTL"``, and the front end's result
    (:class:`~flow.frontend.prepare.Prepared`, whose host stages the network runs around the accelerator) when
    the model came through :func:`flow.stages.compile.convert`."""
    if sim_build not in SIM_BUILDS:
        raise ValueError(f"qflow-rtl sim_build: expected one of {SIM_BUILDS}, got {sim_build!r}")
    return {
        "Part": "xc7 (Yosys synth_xilinx)",
        "ClockPeriod": 1000.0 / float(clock_mhz),
        "IOType": io_type,
        "HLSConfig": {},
        "WriterConfig": {},
        "QflowRTL": {
            "Folding": Folding.parse(folding, layer_folding),
            "ClockMHz": float(clock_mhz),
            "SimBuild": sim_build,
            "FrontEnd": frontend,
            "Prune": bool(prune),
            "Cmvm": bool(cmvm),
        },
    }


def build_network(model) -> Network:
    """The exact integer network of an hls4ml ``model`` on this backend: lowered with its configured folding's
    ``layer -> (PE, SIMD)`` table, without the channels structured pruning left dead unless the config's
    ``Prune`` is False (:func:`~flow.compile.prune.remove_pruned_channels`; ``net.pruned`` says what went), with
    the host stages of the front end around it (when it came through :func:`flow.stages.compile.convert`)."""
    cfg = model.config.config.get("QflowRTL", {})
    fold = cfg.get("Folding", Folding())
    net = lower(model, fold_table(model, fold))
    if cfg.get("Prune", True):
        net, removals = remove_pruned_channels(net)
        net.pruned = tuple(removals)
    apply_pipeline(net, fold.pipeline)  # after pruning: the stages depend on the units' final shapes
    use_cmvm(net, cfg.get("Cmvm", True))  # fully parallel linear layers: constant multipliers (block cmvm)
    frontend = cfg.get("FrontEnd")
    if frontend is not None:  # the float ops the host runs before and after the accelerator
        net.input_stage = frontend.input_stage or None
        net.output_stage = frontend.output_stage or None
    return net


def _backend_class():
    """The ``QflowRTLBackend`` class (a factory: hls4ml is imported here, it is heavy)."""
    from hls4ml.backends.fpga.fpga_backend import FPGABackend

    class QflowRTLBackend(FPGABackend):
        """hls4ml backend writing Verilog (hand-written ``hw/`` modules + a generated top)."""

        def __init__(self) -> None:
            super().__init__(BACKEND_NAME)
            # Per ModelGraph, held weakly: a model's network and design go when the model goes.
            self._networks: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()
            self._designs: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()

        # -- configuration ------------------------------------------------------------------------
        def create_initial_config(
            self, folding="parallel", layer_folding=None, clock_mhz=200.0, io_type="io_stream",
            sim_build="fast-build", frontend=None, prune=True, cmvm=True, **_
        ):
            return _initial_config(folding, layer_folding, clock_mhz, io_type, sim_build, frontend, prune, cmvm)

        def get_default_flow(self):
            # hls4ml's own QONNX parsing passes; our lowering takes the graph from there (no BN fusion,
            # which would destroy the integer weights).
            return "parse_qonnx"

        def get_writer_flow(self):
            return None

        # -- lowering ---------------------------------------------------------------------------
        def network(self, model) -> Network:
            """The exact integer network of ``model``: lowered once with the configured folding's
            ``layer -> (PE, SIMD)`` table, then kept with the model (not by ``id``: ids are reused)."""
            if model not in self._networks:
                self._networks[model] = build_network(model)
            return self._networks[model]

        def design(self, model) -> RtlDesign:
            """The generated RTL of ``model`` (written on first use)."""
            if model not in self._designs:
                self.write(model)
            return self._designs[model]

        # -- hls4ml API -------------------------------------------------------------------------------
        def write(self, model):
            net = self.network(model)
            out_dir = Path(model.config.get_output_dir())
            design = write_rtl(net, out_dir, source=model.config.get_project_name())
            self._designs[model] = design
            log.info("qflow-rtl: wrote %s (%d blocks)", out_dir, len(design.blocks))
            return design

        def compile(self, model):
            design = self.design(model)
            sim_build = model.config.config.get("QflowRTL", {}).get("SimBuild", "fast-build")
            build_harness(design.directory, design.sources, opt=cxx_opt_level(self.network(model), sim_build))
            return None  # hls4ml then dlopens the main program: there is no C library to load

        def predict_int(
            self, model, x_int: np.ndarray, stall_in: int = 0, stall_out: int = 0, seed: int = 1, tag: str = "predict"
        ):
            """Run integer input codes through the RTL; return (integer outputs, HarnessRun)."""
            return run_network(self.network(model), self.design(model), x_int, stall_in, stall_out, seed, tag)

        def predict(self, model, x, *args, **kwargs):
            net = self.network(model)
            x = np.asarray(x, dtype=np.float32)
            if x.ndim == 1:
                x = x[None, :]
            y_int, _ = self.predict_int(model, net.quantize_input(x))
            return net.outputs_to_float(y_int).astype(np.float32)

        def build(self, model, **kwargs):
            design = self.design(model)
            return synth_xilinx(design.directory, design.sources, design.top)

    return QflowRTLBackend


def _writer_class():
    from hls4ml.writer.writers import Writer

    class QflowRTLWriter(Writer):
        def write_hls(self, model):
            return model.config.backend.write(model)

    return QflowRTLWriter


def register(register_backend=None, register_writer=None) -> None:
    """hls4ml plugin entry point: register the writer first, then the backend."""
    if register_backend is None or register_writer is None:
        from hls4ml.backends.backend import register_backend as rb
        from hls4ml.writer.writers import register_writer as rw

        register_backend, register_writer = register_backend or rb, register_writer or rw
    from hls4ml.backends.backend import backend_map
    from hls4ml.writer.writers import writer_map

    if BACKEND_NAME not in writer_map:
        register_writer(BACKEND_NAME, _writer_class())
    if BACKEND_NAME.lower() not in backend_map:
        register_backend(BACKEND_NAME, _backend_class())
