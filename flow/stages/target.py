"""What a stage works on: a recipe (by name or path) or a user's QONNX file, and its build directory."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from flow.compile.folding import Folding
from flow.compile.pipeline import DEFAULT_PIPELINE
from flow.paths import RecipePaths, recipe_paths
from flow.recipe import Recipe, load_recipe

__all__ = ["Target", "resolve"]


@dataclass(frozen=True)
class Target:
    """``recipe`` is ``None`` for a QONNX file (``onnx`` is then its path)."""

    name: str
    paths: RecipePaths
    recipe: Recipe | None
    onnx: Path | None = None

    @property
    def qonnx(self) -> Path:
        """The QONNX graph the compile stage reads."""
        return self.onnx if self.onnx is not None else self.paths.qonnx

    @property
    def task(self) -> str:
        """What the net computes: the recipe's task, ``"classify"`` for a QONNX file."""
        return self.recipe.task if self.recipe is not None else "classify"

    @property
    def clock_mhz(self) -> float:
        return self.recipe.hardware.clock_mhz if self.recipe is not None else 200.0

    @property
    def prune(self) -> bool:
        """Whether the compile stage removes the channels structured pruning left dead (on for a QONNX file)."""
        return self.recipe.hardware.prune if self.recipe is not None else True

    def folding(self, override: object = None, pipeline: object = None) -> Folding:
        """``override`` (a user's folding) or the recipe's default; ``"folded"`` for a QONNX file (as for recipes:
        fully parallel designs of real networks take Yosys far longer). ``pipeline``: the register stages
        (``None``: the recipe's; :data:`~flow.compile.pipeline.DEFAULT_PIPELINE` for a QONNX file)."""
        if self.recipe is not None:
            return self.recipe.hardware.folding(override, pipeline)
        return Folding.parse("folded" if override is None else override, None,
                             DEFAULT_PIPELINE if pipeline is None else pipeline)

    @property
    def hls_settings(self) -> dict:
        return dict(self.recipe.hardware.hls) if self.recipe is not None else {}


def resolve(model: str | Path) -> Target:
    """A recipe name, a recipe ``.py`` path or a ``.onnx`` file -> its :class:`Target` (build dir
    ``$QFLOW_BUILD/<name>``)."""
    if str(model).endswith(".onnx"):
        path = Path(model)
        name = path.name.removesuffix(".onnx").removesuffix(".qonnx")
        return Target(name, recipe_paths(name), None, path)
    recipe = load_recipe(str(model))
    return Target(recipe.name, recipe_paths(recipe.name), recipe)
