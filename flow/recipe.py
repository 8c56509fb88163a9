"""Recipes: one Python file per network, found by name in ``models/`` or given as a path.

A recipe file defines ``RECIPE = Recipe(...)``:

* ``name``        -- build directory name (``build/<name>/``).
* ``dataset``     -- ``"digits"`` or ``"mnist5k"`` (see :mod:`flow.qat.data`), ``input_range``, ``input_shape``.
* ``build``       -- a zero-argument callable returning a fresh ``nn.Module`` (Brevitas/qflow layers).
* ``train``       -- a :class:`~flow.qat.train.TrainConfig` (epochs, lr, batch size, seed, ...).
* ``hardware``    -- a :class:`HardwareConfig` with default folding for the RTL flow.
* ``fit``         -- optional custom trainer ``fit(model, dataset, recipe) -> TrainResult`` (e.g. ADMM);
  the default is :func:`flow.qat.train.train`.
"""

from __future__ import annotations

import importlib.util
import os
import sys
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType

from torch import nn

from flow.compile.folding import Folding
from flow.compile.pipeline import DEFAULT_PIPELINE
from flow.errors import RecipeError, UnsupportedError
from flow.qat.data import DATASETS
from flow.qat.train import TASKS, TrainConfig


@dataclass(frozen=True)
class Fold:
    """Parallelism of one layer: ``pe`` output channels and ``simd`` inputs per cycle."""

    pe: int
    simd: int


@dataclass(frozen=True)
class HardwareConfig:
    """Default hardware settings of a recipe.

    ``default_folding`` is ``"parallel"`` (one vector per cycle: PE = outputs, SIMD = inputs), ``"folded"``
    (the RTL flow picks small PE/SIMD: 64 cycles per inference for an MLP, the slowest convolution's pace for a
    CNN) or a positive int, the target cycles per inference (each layer gets the smallest PE x SIMD that meets
    it); ``layers`` overrides it per layer name.
    ``clock_mhz`` is the clock assumed when cycles are turned into time (Yosys gives no timing).
    ``hls`` holds hls4ml settings for the Vitis project (``qflow hls``): ``IOType``, ``ReuseFactor``,
    ``Strategy``, ``LayerName``, ``Part``, ``ClockPeriod``.
    ``prune`` (default True): the compile stage removes the channels structured pruning left dead (all-zero
    filters, inputs the next layer does not use; :mod:`flow.compile.prune`), exactly; False keeps the dense layout.
    ``pipeline`` (default ``"auto"``): the register stages of the matrix-vector and thresholding units, for Fmax
    (``"none"``, ``"auto"`` or an adder-tree fan-in; :mod:`flow.compile.pipeline`).
    """

    default_folding: str | int = "parallel"
    layers: Mapping[str, Fold] = field(default_factory=lambda: MappingProxyType({}))
    clock_mhz: float = 200.0
    hls: Mapping[str, object] = field(default_factory=lambda: MappingProxyType({}))
    prune: bool = True
    pipeline: str | int = DEFAULT_PIPELINE  # register stages for Fmax: "none", "auto" or a fan-in (compile.pipeline)

    def __post_init__(self) -> None:
        try:
            self.folding()
        except UnsupportedError as e:
            raise RecipeError(f"HardwareConfig.default_folding / layers / pipeline: {e}") from None

    def folding(self, override: object = None, pipeline: object = None) -> Folding:
        """The typed folding of this recipe: ``override`` (a user's ``--folding``) or ``default_folding``,
        with the per-layer ``layers`` overrides and ``pipeline`` (a user's ``--pipeline``) or the recipe's."""
        value = self.default_folding if override is None else override
        return Folding.parse(value, {name: (f.pe, f.simd) for name, f in self.layers.items()},
                             self.pipeline if pipeline is None else pipeline)


@dataclass(frozen=True)
class Recipe:
    name: str
    dataset: str
    build: Callable[[], nn.Module]
    train: TrainConfig = field(default_factory=TrainConfig)
    input_range: tuple[float, float] = (0.0, 1.0)
    input_shape: str = "flat"
    hardware: HardwareConfig = field(default_factory=HardwareConfig)
    description: str = ""
    fit: Callable | None = None
    source: Path | None = None
    task: str = "classify"  # or "reconstruct": an autoencoder, scored by reconstruction MSE (flow.qat.train.TASKS)

    def __post_init__(self) -> None:
        if self.dataset not in DATASETS:
            raise RecipeError(f"recipe {self.name!r}: dataset expected one of {DATASETS}, got {self.dataset!r}")
        if self.task not in TASKS:
            raise RecipeError(f"recipe {self.name!r}: task expected one of {TASKS}, got {self.task!r}")
        if not callable(self.build):
            raise RecipeError(f"recipe {self.name!r}: 'build' must be a callable returning an nn.Module")


def models_dir() -> Path:
    """The directory of built-in recipes (``$QFLOW_MODELS`` or ``<repo>/models``)."""
    env = os.environ.get("QFLOW_MODELS")
    return Path(env) if env else Path(__file__).resolve().parent.parent / "models"


def available_recipes() -> list[str]:
    return sorted(p.stem for p in models_dir().glob("*.py") if not p.name.startswith("_"))


def load_recipe(name_or_path: str | os.PathLike[str]) -> Recipe:
    """Load a recipe by built-in name (``tfc_w1a1``) or by path (``path/to/my_recipe.py``)."""
    text = str(name_or_path)
    path = Path(text)
    if path.suffix == ".py" or os.sep in text:
        if not path.is_file():
            raise RecipeError(f"{path}: recipe file not found")
    else:
        path = models_dir() / f"{text}.py"
        if not path.is_file():
            known = ", ".join(available_recipes()) or "none"
            raise RecipeError(f"recipe {text!r} not found in {models_dir()} (available: {known})")
    module_name = f"qflow_recipe_{path.stem}"
    spec = importlib.util.spec_from_file_location(module_name, path)
    if spec is None or spec.loader is None:
        raise RecipeError(f"{path}: cannot be imported as a Python module")
    module = importlib.util.module_from_spec(spec)
    sys.modules[module_name] = module
    try:
        spec.loader.exec_module(module)
    except RecipeError:
        raise
    except Exception as exc:
        raise RecipeError(f"{path}: error while importing the recipe: {type(exc).__name__}: {exc}") from exc
    recipe = getattr(module, "RECIPE", None)
    if not isinstance(recipe, Recipe):
        raise RecipeError(f"{path}: expected a module-level 'RECIPE = Recipe(...)', found {type(recipe).__name__}")
    return _with_source(recipe, path)


def _with_source(recipe: Recipe, path: Path) -> Recipe:
    from dataclasses import replace

    return replace(recipe, source=path.resolve())
