"""qflow: quantization-aware training to bit-exact, simulated RTL accelerators.

Public API (heavy modules load lazily):

* :mod:`flow.qat` -- quantization presets, quantized layers, datasets, ``train``/``evaluate``.
* :func:`load_recipe` -- a recipe by name (``models/<name>.py``) or path.
* :func:`train_recipe`, :func:`export_recipe` -- the stages behind ``qflow train`` / ``qflow export``.
* :func:`resolve` (a recipe or ``.onnx`` file -> its build target), :class:`Folding`, and the stages
  :func:`compile_target`, :func:`simulate_target`, :func:`estimate_target`, :func:`implement_target` (ECP5
  place and route, :class:`PnrOptions`), :func:`report_build`;
  :func:`synth` runs them all (``qflow synth``).
* :func:`export_qonnx`, :func:`compare_with_torch` -- Brevitas -> QONNX, and its check.
* :class:`Reference` -- the fast batched executor of an exported graph.
"""

from __future__ import annotations

import importlib
from typing import Any

__version__ = "0.1.0"

_LAZY = {
    "load_recipe": "flow.recipe",
    "Recipe": "flow.recipe",
    "HardwareConfig": "flow.recipe",
    "Fold": "flow.recipe",
    "train_recipe": "flow.stages.train",
    "trained_model": "flow.stages.train",
    "export_recipe": "flow.stages.train",
    "resolve": "flow.stages.target",
    "Folding": "flow.compile.folding",
    "compile_target": "flow.stages.compile",
    "simulate_target": "flow.stages.simulate",
    "estimate_target": "flow.stages.estimate",
    "implement_target": "flow.stages.implement",
    "PnrOptions": "flow.stages.implement",
    "report_build": "flow.stages.report",
    "synth": "flow.stages.synth",
    "export_qonnx": "flow.export",
    "compare_with_torch": "flow.export",
    "Reference": "flow.reference",
    "QflowError": "flow.errors",
}

__all__ = ["__version__", *sorted(_LAZY)]


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'flow' has no attribute {name!r}")
    return getattr(importlib.import_module(module), name)
