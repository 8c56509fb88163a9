import numpy as np
import pytest

from flow.errors import RecipeError
from flow.qat import load_dataset


@pytest.mark.parametrize(("name", "n_train", "n_test", "features"), [("digits", 1437, 360, 64),
                                                                      ("mnist5k", 4000, 1000, 784)])
def test_split_sizes_are_fixed(name, n_train, n_test, features):
    ds = load_dataset(name)
    assert (len(ds.train), len(ds.test)) == (n_train, n_test)
    assert ds.train.x.shape[1] == features and ds.train.x.dtype == np.float32
    assert ds.num_classes == 10


def test_split_is_deterministic_and_stratified():
    a, b = load_dataset("digits"), load_dataset("digits")
    assert np.array_equal(a.test.x, b.test.x) and np.array_equal(a.test.y, b.test.y)
    counts = np.bincount(a.test.y, minlength=10)
    assert counts.min() >= 35 and counts.max() <= 37


def test_input_range_and_image_shape():
    ds = load_dataset("mnist5k", input_range=(-1, 1), shape="image")
    assert ds.test.x.shape[1:] == (1, 28, 28)
    assert ds.test.x.min() == -1.0 and ds.test.x.max() == 1.0


def test_unknown_dataset():
    with pytest.raises(RecipeError, match="dataset 'cifar'"):
        load_dataset("cifar")


def test_hardware_default_folding_accepts_a_cycle_target():
    from flow.errors import RecipeError
    from flow.recipe import HardwareConfig

    assert HardwareConfig(default_folding=1024).default_folding == 1024
    for bad in (0, -3, True, 1.5, "fast"):
        with pytest.raises(RecipeError, match="positive int"):
            HardwareConfig(default_folding=bad)
