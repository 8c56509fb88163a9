"""``qflow hls``: the exact hls4ml Vitis project of a recipe (or QONNX file), its C-simulation on the whole
test split, and the comparison with the QONNX reference and the golden integer network.

Settings come, later ones winning, from the recipe (``HardwareConfig.hls``), a YAML file (``--config``) and
the command line; keys are hls4ml's: ``IOType``, ``ReuseFactor``, ``Strategy``, ``LayerName`` (per-layer
``ReuseFactor``/``Strategy``/``Precision``), ``Part``, ``ClockPeriod``.
"""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np

from flow.errors import QflowError
from flow.frontend.graph import load_qonnx
from flow.frontend.prepare import prepare
from flow.hls.verify import localize, pairwise, require_equal, run_csim
from flow.io import write_json
from flow.paths import recipe_paths
from flow.recipe import load_recipe
from flow.reference import Reference
from flow.stages.train import ensure_exported, recipe_dataset

log = logging.getLogger(__name__)

SETTING_KEYS = ("IOType", "ReuseFactor", "Strategy", "LayerName", "Part", "ClockPeriod")
VENDOR_NOTE = (
    "Vendor flow (optional, needs AMD Vitis HLS): cd into this directory and run `vitis_hls -f build_prj.tcl` "
    '(C synthesis: `vitis_hls -f build_prj.tcl "csim=0 synth=1"`). qflow itself never calls it.'
)


def load_settings(path: str | Path) -> dict:
    """Read a YAML settings file; unknown keys are an error that names them."""
    import yaml

    path = Path(path)
    try:
        data = yaml.safe_load(path.read_text()) or {}
    except (OSError, yaml.YAMLError) as exc:
        raise QflowError(f"hls settings {path}: cannot read: {exc}") from exc
    if not isinstance(data, dict):
        raise QflowError(f"hls settings {path}: expected a mapping of settings, got {type(data).__name__}")
    return validate_settings(data, str(path))


def validate_settings(settings: dict, where: str) -> dict:
    unknown = sorted(set(settings) - set(SETTING_KEYS))
    if unknown:
        raise QflowError(f"{where}: unknown hls setting(s) {unknown}; expected some of {list(SETTING_KEYS)}")
    return dict(settings)


def outputs_as_codes(reference: np.ndarray, scale: float) -> np.ndarray:
    """QONNX reference outputs (real values) as integer codes of the output type; a value that is not a code
    becomes a sentinel that differs from every code (so the comparison reports it, never rounds it away)."""
    codes = np.asarray(reference, dtype=np.float64).reshape(len(reference), -1) / scale
    exact = codes == np.round(codes)
    return np.where(exact, np.round(codes), np.iinfo(np.int64).min).astype(np.int64)


def hls_recipe(model: str, settings: dict | None = None, progress: bool = True) -> dict:
    """Write ``build/<name>/hls/``, run its C-simulation on the test split and compare; return the summary
    (also written to ``build/<name>/hls.json``). Any difference raises :class:`NotExactError` naming the first
    differing sample and layer."""
    settings = dict(settings or {})
    if str(model).endswith(".onnx"):
        name = Path(model).name.removesuffix(".onnx").removesuffix(".qonnx")
        # the graph the accelerator computes, after the front end (host stages cut off, as qflow compile does)
        qonnx_model, x, labels = prepare(load_qonnx(model)).model, None, None
        paths = recipe_paths(name)
    else:
        recipe = load_recipe(model)
        name = recipe.name
        settings = {**validate_settings(dict(recipe.hardware.hls), f"recipe {name}: hardware.hls"), **settings}
        paths = ensure_exported(recipe)
        qonnx_model = load_qonnx(paths.qonnx)
        dataset = recipe_dataset(recipe)
        x, labels = dataset.test.x, dataset.test.y

    def input_codes(network) -> np.ndarray:
        """The test split's codes, or 1000 random codes of the declared input type for a bare QONNX file."""
        if x is not None:
            return network.quantize_input(x)
        rng = np.random.default_rng(0)
        lo, hi = network.input_type.range
        codes = rng.integers(lo, hi + 1, size=(1000, int(np.prod(network.input_shape))))
        return np.where(codes > 0, 1, -1) if network.input_type.bipolar else codes

    log.info("%s: hls4ml Vitis project + C-simulation", name)
    project, csim = run_csim(qonnx_model, input_codes, paths.hls, settings)
    network = project.network
    x_int = input_codes(network)  # deterministic: the same codes the C-simulation ran
    x_float = x if x is not None else (x_int * network.input_type.scale).astype(np.float32)
    # a bare QONNX file's random codes are in stream order (channels-last); the reference takes NCHW images
    ref_in = x_float if x is not None else _from_stream_order(network, x_float)
    reference = outputs_as_codes(Reference(qonnx_model).run(ref_in), network.output_type.scale)
    golden = network.run(x_int)
    rows = pairwise({"QONNX reference": reference, "golden": golden, "HLS C-sim": csim})
    summary = {
        "model": name,
        "project": str(paths.hls),
        "settings": project.settings,
        "vectors": len(x_int),
        "compile_seconds": round(project.compile_seconds or 0.0, 2),
        "csim_inferences_per_second": len(x_int) / project.settings["predict_seconds"],
        "comparisons": rows,
        "vendor_flow": VENDOR_NOTE,
    }
    if labels is not None:
        summary["accuracy_csim"] = float((csim.argmax(1) == labels).mean())
    write_json(paths.root / "hls.json", summary)

    def locate(row):
        sample = row["first_differing_sample"]
        return localize(qonnx_model, settings, x_int[sample : sample + 1], network)

    require_equal(rows, f"{name}: hls", locate)
    return summary


def _from_stream_order(network, x: np.ndarray) -> np.ndarray:
    """Stream-order inputs (N, features) as the graph's input tensor (NCHW for images)."""
    if network.input_layout == "nchw":
        c, h, w = network.input_shape
        return x.reshape(len(x), h, w, c).transpose(0, 3, 1, 2)
    return x.reshape(len(x), *network.input_shape)
