"""``qflow compile``: QONNX -> the front end -> hls4ml (backend ``qflow-rtl``) -> the exact integer network and
its Verilog.

Artefacts: ``rtl/`` (top, ``hw/`` sources, memory files, ``interface.json``); ``network.json`` (the integer
network, loadable with :func:`load_network`, with its folding, host stages and checks); ``model.hw.onnx``
(the graph the accelerator computes, after the front end); ``vectors.npz`` (the check's inputs as integer
codes, the golden outputs, the accelerator graph's QONNX reference outputs and the labels: what the
simulation and the cross-check run on). Everything downstream is removed first.
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from flow.compile import adder
from flow.compile.folding import Folding
from flow.compile.network import Network
from flow.compile.serialize import network_from_dict, network_to_dict
from flow.errors import NotExactError, QflowError
from flow.frontend.graph import for_hls4ml, load_qonnx
from flow.frontend.prepare import Prepared, prepare
from flow.io import atomic_path, quiet_stdout
from flow.reference import Reference
from flow.rtl import backend as rtl_backend
from flow.stages.artefacts import digest, generator_digest, invalidate, locked, require, write_artefact
from flow.stages.quality import quality
from flow.stages.target import Target
from flow.stages.train import recipe_dataset

__all__ = ["Vectors", "compile_target", "convert", "load_network", "load_vectors"]

log = logging.getLogger(__name__)

#: Random test inputs of the declared input type for a QONNX file (no data set to take them from).
RANDOM_VECTORS = 1000


def convert(qonnx_model, rtl_dir: Path, folding: Folding | str | int = "parallel", layer_folding=None,
            clock_mhz: float = 200.0, sim_build: str = "fast-build", prune: bool = True, cmvm: bool = True):
    """QONNX -> hls4ml ModelGraph on the qflow-rtl backend (exact types come from the lowering), through the
    front end (:func:`flow.frontend.prepare.prepare`: cleanup, host stages, checks) like every model.

    ``folding`` (with ``layer_folding`` overrides ``{layer: (PE, SIMD)}``) is parsed once here
    (:meth:`Folding.parse`) and travels typed in the backend config. ``sim_build``: ``"fast-build"`` (default)
    or ``"fast-sim"`` (``-O3 -march=native``: a longer C++ build, about twice the simulation speed of wide
    designs; for long simulations such as whole data sets). ``prune``: remove the channels structured pruning left
    dead (:mod:`flow.compile.prune`; the network stays exact), default on. ``cmvm``: build fully parallel linear
    layers as constant multipliers (:mod:`flow.compile.constant`), default on; ``False`` keeps them ``mvau``."""
    import hls4ml  # heavy: loaded when a model is converted, not when the CLI starts

    rtl_backend.register()
    adder.register()  # not in the entry point: hls4ml is half-imported there
    fold = Folding.parse(folding, layer_folding)
    prepared = prepare(qonnx_model)
    graph = for_hls4ml(prepared.model)
    with quiet_stdout():
        config = hls4ml.utils.config_from_onnx_model(graph, granularity="name", backend="Vitis")
        return hls4ml.converters.convert_from_onnx_model(
            graph, hls_config=config, backend=rtl_backend.BACKEND_NAME, output_dir=str(rtl_dir),
            project_name="qflow_accel", folding=fold, clock_mhz=clock_mhz, sim_build=sim_build, frontend=prepared,
            prune=prune, cmvm=cmvm,
        )


@dataclass
class Vectors:
    """The compile stage's test vectors: integer input codes, golden outputs, QONNX reference outputs (real
    values), labels (``None`` for random inputs) and what they are."""

    x_int: np.ndarray
    golden: np.ndarray
    reference: np.ndarray
    labels: np.ndarray | None
    description: str


def _inputs(target: Target, original, net: Network, inputs: Path | None) -> tuple[np.ndarray, np.ndarray | None, str]:
    """Float inputs of the user's graph, labels and their description: the recipe's test split; the user's
    ``inputs`` (``.npy``); or, for a QONNX file, 1000 random inputs -- codes of the input quantizer's type when
    the graph starts with it, else values of the input's declared qonnx datatype (uniform in [0, 1) for a
    float input that the host preprocesses)."""
    if inputs is not None:
        try:
            x = np.load(inputs, allow_pickle=False).astype(np.float32)
        except (OSError, ValueError) as exc:
            raise QflowError(f"{inputs}: expected a .npy array of inputs, could not read it ({exc})") from exc
        expected = tuple(d for d in original.get_tensor_shape(original.graph.input[0].name)[1:])
        if x.shape[1:] != expected:
            raise QflowError(f"{inputs}: expected inputs of shape (N, {', '.join(map(str, expected))}), "
                             f"got {x.shape}")
        return x, None, f"{len(x)} inputs from {inputs}"
    if target.recipe is not None:
        dataset = recipe_dataset(target.recipe)
        return dataset.test.x, dataset.test.y, f"{target.recipe.dataset} test split"
    rng = np.random.default_rng(0)
    if net.input_stage is None:
        lo, hi = net.input_type.range
        codes = rng.integers(lo, hi + 1, size=(RANDOM_VECTORS, int(np.prod(net.input_shape))))
        if net.input_type.bipolar:
            codes = np.where(codes > 0, 1, -1)
        x = (codes * net.input_type.scale).astype(np.float32).reshape(RANDOM_VECTORS, *net.input_shape)
        return x, None, f"{RANDOM_VECTORS} random inputs of the declared input type"
    name = original.graph.input[0].name
    shape = (RANDOM_VECTORS, *original.get_tensor_shape(name)[1:])
    dtype = original.get_tensor_datatype(name)
    if dtype.is_integer():
        x = rng.integers(int(dtype.min()), int(dtype.max()) + 1, size=shape).astype(np.float32)
        return x, None, f"{RANDOM_VECTORS} random inputs of the file's input datatype {dtype.name}"
    x = rng.random(shape, dtype=np.float32)
    return x, None, f"{RANDOM_VECTORS} random float inputs uniform in [0, 1) (the host preprocesses them)"


def _save_vectors(path: Path, v: Vectors) -> None:
    """``vectors.npz``, atomically."""
    labels = v.labels if v.labels is not None else np.zeros(0, dtype=np.int64)
    with atomic_path(path) as tmp, open(tmp, "wb") as f:
        np.savez(f, x_int=v.x_int, golden=v.golden, reference=v.reference, labels=labels,
                 description=np.array(v.description))


def _checks(target: Target, prepared: Prepared, net: Network, original, x: np.ndarray,
            golden: np.ndarray) -> tuple[list, np.ndarray]:
    """The compile stage's checks: the integer network's outputs ``golden`` (on the inputs ``x``) against qonnx's
    execution of the graph the accelerator computes and, when the host runs stages around it, accelerator + host
    stages against the user's own file. Returns the check rows and the accelerator graph's reference outputs."""
    hw_in = prepared.input_stage.run(x) if prepared.input_stage else x
    reference = Reference(prepared.model).run(hw_in)
    real = golden.astype(np.float64) * net.output_type.scale
    bad = int((real != reference.reshape(real.shape)).any(axis=1).sum())
    checks = [{"check": "integer network (golden) == QONNX reference", "vectors": len(x), "differing_outputs": bad}]
    if prepared.host_stages:
        final = net.outputs_to_float(golden)
        original_out = Reference(original).run(x)
        bad_file = int((final != original_out.reshape(final.shape)).any(axis=1).sum())
        checks.append({"check": f"accelerator + host stages == qonnx execution of {target.qonnx.name}",
                       "vectors": len(x), "differing_outputs": bad_file})
    failed = [c for c in checks if c["differing_outputs"]]
    if failed:
        raise NotExactError(f"{target.name}: " + "; ".join(
            f"{c['check']}: differs on {c['differing_outputs']} of {c['vectors']} inputs" for c in failed))
    return checks, reference


def compile_options(target: Target, folding: Folding, inputs: Path | None = None, prune: bool | None = None,
                    cmvm: bool = True) -> dict:
    """What besides its input files decides the compile stage's result (recorded in ``network.json``), the
    digest of qflow's own sources included (an edited ``hw/`` block or lowering makes the build stale);
    ``prune`` ``None`` is the target's default (:attr:`Target.prune`)."""
    return {"folding": folding.label, "layer_folding": {k: list(v) for k, v in folding.layers.items()},
            "pipeline": folding.pipeline.label, "clock_mhz": target.clock_mhz,
            "inputs": digest(Path(inputs)) if inputs is not None else None,
            "prune": target.prune if prune is None else bool(prune), "cmvm": bool(cmvm),
            "generator": generator_digest()}


@locked
def compile_target(target: Target, folding: Folding, inputs: Path | None = None, prune: bool | None = None,
                   cmvm: bool = True) -> dict:
    """Run the compile stage for ``target`` at ``folding`` (on ``inputs``, a ``.npy`` file, when given);
    return ``network.json``'s contents. ``prune``: remove the channels structured pruning left dead
    (:mod:`flow.compile.prune`; ``None``: the target's default, on unless its recipe says
    ``HardwareConfig(prune=False)``); ``network.json``'s ``pruning`` lists what went, per layer. ``cmvm``: fully
    parallel linear layers as constant multipliers (block ``cmvm``), default on; ``False``: every layer ``mvau``.

    Raises :class:`NotExactError` when the integer network differs from the QONNX reference on any input, or
    accelerator + host stages from the user's file (nothing of this stage is then left behind)."""
    root = target.paths.root
    invalidate(root, "compile")
    original = load_qonnx(target.qonnx)
    prune = target.prune if prune is None else bool(prune)
    hls_model = convert(original, target.paths.rtl, folding, clock_mhz=target.clock_mhz, prune=prune, cmvm=cmvm)
    prepared: Prepared = hls_model.config.config["QflowRTL"]["FrontEnd"]
    net = hls_model.config.backend.network(hls_model)
    x, labels, description = _inputs(target, original, net, inputs)
    x_int = net.quantize_input(x)
    golden = net.run(x_int)
    checks, reference = _checks(target, prepared, net, original, x, golden)
    design = hls_model.config.backend.write(hls_model)
    _save_vectors(root / "vectors.npz", Vectors(x_int, golden, reference, labels, description))
    with atomic_path(root / "model.hw.onnx") as tmp:
        prepared.model.save(str(tmp))
    data = {
        "model": target.name,
        "source": str(target.qonnx),
        "folding": folding.label,
        "layer_folding": {k: list(v) for k, v in folding.layers.items()},
        "pipeline": folding.pipeline.label,
        "clock_mhz": target.clock_mhz,
        "cycles_per_inference_predicted": design.cycles_per_inference,
        "host_stages": prepared.describe(),
        "options": compile_options(target, folding, inputs, prune, cmvm),
        "checks": checks,
        "pruning": [removal.as_dict() for removal in net.pruned],
        "network": network_to_dict(net),
    }
    data["accuracy"] = quality(target.task, net, golden, x_int, labels, "PyTorch / QONNX",
                               "QONNX reference on the test split (== PyTorch, checked by the export)")
    source = os.path.relpath(target.qonnx.resolve(), root.resolve())
    log.info("%s: compiled at folding %s -> %s", target.name, folding.label, root)
    return write_artefact(root, "network.json", data,
                          [source, "model.hw.onnx", "vectors.npz", "rtl/top.v", "rtl/interface.json"])


def load_network(root: Path) -> tuple[Network, dict]:
    """The integer network of the build in ``root`` and ``network.json``'s other fields; refuses a missing or
    stale ``network.json`` (:class:`~flow.stages.artefacts.StaleError`)."""
    data = require(root, "network.json", "compile")
    return network_from_dict(data["network"]), data


def load_vectors(root: Path) -> Vectors:
    """The compile stage's ``vectors.npz`` (check it with :func:`load_network` first)."""
    with np.load(root / "vectors.npz") as f:
        labels = f["labels"] if f["labels"].size else None
        return Vectors(f["x_int"], f["golden"], f["reference"], labels, str(f["description"]))

