"""Run the exact HLS project's C-simulation on a test set and compare it with the other models.

:func:`run_csim` converts, compiles and predicts (the project is written to a temporary directory and moved
to its final place only after the C-simulation has run, so a half-written project never looks complete);
:func:`pairwise` counts differing outputs between any set of models; :func:`localize` names the first layer
where the C-simulation departs from the golden network (hls4ml's per-layer trace).
"""

from __future__ import annotations

import logging
import shutil
import tempfile
import time
from collections.abc import Callable
from itertools import combinations
from pathlib import Path

import numpy as np

from flow.compile.network import MatVec, Network, Thresholds
from flow.errors import NotExactError
from flow.hls.project import HlsProject, convert_exact

log = logging.getLogger(__name__)


def _convert(qonnx_model, out_dir: Path, settings: dict, trace: bool = False) -> HlsProject:
    """:func:`convert_exact` with hls4ml-style settings (``IOType``, ``ReuseFactor``, ``Strategy``,
    ``LayerName``, ``Part``, ``ClockPeriod``; defaults for the missing ones)."""
    return convert_exact(
        qonnx_model,
        out_dir,
        io_type=settings.get("IOType", "io_parallel"),
        reuse_factor=settings.get("ReuseFactor", 1),
        strategy=settings.get("Strategy", "Latency"),
        layers=settings.get("LayerName"),
        part=settings.get("Part", "xc7z020clg400-1"),
        clock_period_ns=settings.get("ClockPeriod", 5.0),
        trace=trace,
    )


def run_csim(
    qonnx_model, inputs: np.ndarray | Callable[[Network], np.ndarray], out_dir: Path, settings: dict | None = None
) -> tuple[HlsProject, np.ndarray]:
    """Write the exact Vitis project of ``qonnx_model`` to ``out_dir``, compile it, run it on the inputs.

    ``inputs``: integer input codes, or a function of the project's integer network returning them (so a
    caller that needs the network to make its inputs converts only once). ``settings``: see :func:`_convert`.
    Returns the project and the integer outputs.
    """
    settings = dict(settings or {})
    out_dir = Path(out_dir)
    out_dir.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{out_dir.name}.", dir=out_dir.parent))
    try:
        project = _convert(qonnx_model, tmp, settings)
        x_int = inputs(project.network) if callable(inputs) else inputs
        project.compile()
        t0 = time.perf_counter()
        y = project.predict_int(x_int)
        project.settings["predict_seconds"] = time.perf_counter() - t0
        if out_dir.exists():
            shutil.rmtree(out_dir)
        tmp.rename(out_dir)  # the loaded C-sim library stays valid: it is already open
        project.out_dir = out_dir
        project.model.config.config["OutputDir"] = str(out_dir)  # predict() changes into <OutputDir>/firmware
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)
    return project, y


def pairwise(outputs: dict[str, np.ndarray]) -> list[dict]:
    """For every pair of named output arrays (same shape, integer codes): differing outputs and samples, and
    the first differing sample index (or None)."""
    rows = []
    for (a, ya), (b, yb) in combinations(outputs.items(), 2):
        diff = np.asarray(ya).reshape(len(ya), -1) != np.asarray(yb).reshape(len(yb), -1)
        samples = np.flatnonzero(diff.any(axis=1))
        rows.append(
            {
                "pair": f"{a} vs {b}",
                "vectors": len(diff),
                "differing_outputs": int(diff.sum()),
                "differing_samples": len(samples),
                "first_differing_sample": int(samples[0]) if len(samples) else None,
            }
        )
    return rows


def golden_trace(network: Network, x_int: np.ndarray) -> dict[str, np.ndarray]:
    """Per-layer outputs of the golden network, keyed by the hls4ml layer names of the exact project."""
    out = {}
    y = np.asarray(x_int, dtype=np.int64)
    for layer in network.layers:
        y = layer.run(y)
        if isinstance(layer, MatVec):
            out[layer.name] = y * layer.out_type.scale
        elif isinstance(layer, Thresholds):
            dense = layer.name.removesuffix("_thresholds")
            out[f"qflow_thresholds_{dense}"] = y * layer.out_type.scale
    return out


def localize(qonnx_model, settings: dict | None, x_int: np.ndarray, network: Network, mutate=None) -> str | None:
    """Rebuild the project with hls4ml's trace on every layer and return the first layer (in stream order)
    whose C-simulation output differs from the golden network on ``x_int`` (None if none does).

    ``mutate(project)``, if given, edits the traced project before it is compiled (tests inject faults so).
    """
    settings = dict(settings or {})
    with tempfile.TemporaryDirectory(prefix="qflow-hls-trace-") as tmp:
        project = _convert(qonnx_model, Path(tmp) / "p", settings, trace=True)
        if mutate is not None:
            mutate(project)
        project.compile()
        traced = project.trace(x_int)
    expected = golden_trace(network, x_int)
    for name, want in expected.items():
        got = traced.get(name)
        if got is None:
            continue
        if not np.array_equal(np.asarray(got, dtype=np.float64).reshape(want.shape), want):
            return name
    return None


def require_equal(rows: list[dict], what: str, locate=None) -> None:
    """Raise :class:`NotExactError` naming the first differing pair, sample and (via ``locate``) layer."""
    for row in rows:
        if row["differing_outputs"]:
            layer = locate(row) if locate is not None else None
            where = f", first differing layer {layer!r}" if layer else ""
            raise NotExactError(
                f"{what}: {row['pair']}: {row['differing_outputs']} differing outputs in "
                f"{row['differing_samples']} of {row['vectors']} samples; first differing sample "
                f"{row['first_differing_sample']}{where}"
            )
