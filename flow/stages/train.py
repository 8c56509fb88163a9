"""The first two stages of a recipe: ``train_recipe`` -> ``model.pt`` + ``metrics.json``; ``export_recipe`` ->
``model.qonnx.onnx`` + ``export.json`` (checked against PyTorch). Each can be re-run alone.
"""

from __future__ import annotations

import hashlib
import json
import logging
import platform
from dataclasses import asdict

from torch import nn

from flow.errors import NotExactError
from flow.export import compare_with_torch, export_qonnx
from flow.io import write_json
from flow.paths import RecipePaths, recipe_paths
from flow.qat.data import Dataset, load_dataset
from flow.qat.train import TrainResult, load_checkpoint, save_checkpoint, seed_everything, train
from flow.recipe import Recipe

log = logging.getLogger(__name__)


def recipe_dataset(recipe: Recipe) -> Dataset:
    return load_dataset(recipe.dataset, input_range=recipe.input_range, shape=recipe.input_shape)


def recipe_digest(recipe: Recipe) -> str | None:
    """sha256 of the recipe's source file (``None`` for a recipe made in Python, without a file)."""
    return hashlib.sha256(recipe.source.read_bytes()).hexdigest() if recipe.source else None


def checkpoint_is_current(recipe: Recipe, paths: RecipePaths | None = None) -> bool:
    """Whether the checkpoint exists and was trained from the recipe file as it is now (``metrics.json``
    records the recipe's sha256; a checkpoint from before that record counts as current)."""
    paths = paths or recipe_paths(recipe.name)
    if not paths.checkpoint.is_file():
        return False
    try:
        recorded = json.loads(paths.metrics.read_text()).get("recipe_sha256")
    except (OSError, ValueError):
        return False
    return recorded is None or recorded == recipe_digest(recipe)


def export_is_current(paths: RecipePaths) -> bool:
    """Whether ``model.qonnx.onnx`` exists and ``export.json`` says it was exported (and checked) from the
    checkpoint as it is now."""
    if not (paths.qonnx.is_file() and paths.checkpoint.is_file()):
        return False
    try:
        recorded = json.loads(paths.export_check.read_text()).get("checkpoint_sha256")
    except (OSError, ValueError):
        return False
    return recorded == hashlib.sha256(paths.checkpoint.read_bytes()).hexdigest()


def train_recipe(recipe: Recipe, progress: bool = True, paths: RecipePaths | None = None) -> TrainResult:
    """Train ``recipe`` and write its checkpoint and ``metrics.json``."""
    paths = paths or recipe_paths(recipe.name)
    dataset = recipe_dataset(recipe)
    seed_everything(recipe.train.seed, recipe.train.threads)  # the initial weights depend on the seed too
    model = recipe.build()
    fit = recipe.fit or (lambda m, d, r: train(m, d, r.train, progress=progress, task=r.task))
    result: TrainResult = fit(model, dataset, recipe)
    meta = {"recipe": recipe.name, "source": str(recipe.source) if recipe.source else None}
    save_checkpoint(model, paths.checkpoint, meta=meta)
    write_json(
        paths.metrics,
        {
            "recipe": recipe.name,
            "recipe_sha256": recipe_digest(recipe),
            "dataset": recipe.dataset,
            "test_samples": len(dataset.test),
            "task": recipe.task,
            "test_accuracy": None if result.test_mse is not None else result.test_accuracy,
            "train_accuracy": None if result.test_mse is not None else result.train_accuracy,
            "test_mse": result.test_mse,
            "train_mse": result.train_mse,
            "epochs": result.epochs,
            "train_seconds": round(result.seconds, 2),
            "train_config": asdict(recipe.train),
            "history": result.history,
            "machine": platform.machine(),
        },
    )
    log.info("%s: %s after %d epochs (%.1f s)", recipe.name, result.summary(), result.epochs, result.seconds)
    return result


def trained_model(recipe: Recipe, paths: RecipePaths | None = None) -> nn.Module:
    """The recipe's model with its checkpoint loaded (eval mode)."""
    paths = paths or recipe_paths(recipe.name)
    model = recipe.build()
    load_checkpoint(model, paths.checkpoint)
    return model


def export_recipe(recipe: Recipe, paths: RecipePaths | None = None) -> dict:
    """Export the trained recipe to ``model.qonnx.onnx`` and check it against PyTorch on the test split.

    Writes ``export.json`` with the comparison. Raises :class:`~flow.errors.NotExactError` when the
    exported graph differs from PyTorch on any output (power-of-two models must match exactly).
    """
    paths = paths or recipe_paths(recipe.name)
    model = trained_model(recipe, paths)
    dataset = recipe_dataset(recipe)
    input_shape = tuple(dataset.test.x.shape[1:])
    # Write the graph under a temporary name first: a graph that fails the check must not look complete.
    candidate = paths.qonnx.with_name(paths.qonnx.name + ".unchecked")
    wrapper = export_qonnx(model, input_shape, candidate)
    comparison = compare_with_torch(model, wrapper, dataset.test.x)
    summary = {
        "recipe": recipe.name,
        "checkpoint_sha256": hashlib.sha256(paths.checkpoint.read_bytes()).hexdigest(),
        "qonnx": str(paths.qonnx),
        "split": "test",
        **comparison.as_dict(),
        "nodes": [n.op_type for n in wrapper.graph.node],
    }
    write_json(paths.export_check, summary)
    if comparison.differing_outputs:
        raise NotExactError(
            f"{candidate}: QONNX execution differs from PyTorch on {comparison.differing_samples} of "
            f"{comparison.samples} test samples (max |diff| {comparison.max_abs_difference:g}); "
            "expected exact equality for power-of-two quantizers"
        )
    candidate.replace(paths.qonnx)
    log.info("%s: QONNX == PyTorch on all %d test samples", recipe.name, comparison.samples)
    return summary


def ensure_exported(recipe: Recipe, paths: RecipePaths | None = None) -> RecipePaths:
    """Train (if there is no checkpoint) and export (if there is no QONNX file) ``recipe``; return its paths."""
    paths = paths or recipe_paths(recipe.name)
    if not paths.checkpoint.is_file():
        train_recipe(recipe, progress=False, paths=paths)
    if not paths.qonnx.is_file():
        export_recipe(recipe, paths=paths)
    return paths
