import numpy as np
import pytest
import torch

from flow.errors import CheckpointError
from flow.qat import TrainConfig, evaluate, load_checkpoint, load_dataset, save_checkpoint, seed_everything, train
from flow.qat.models import mlp


@pytest.fixture(scope="module")
def digits():
    return load_dataset("digits")


def _net():
    seed_everything(7)
    return mlp([64, 32, 10], weight="int4", act="uint4", input_act="uint4")


def test_train_smoke_learns_and_is_deterministic(digits):
    config = TrainConfig(epochs=3, batch_size=64, lr=1e-2, seed=1)
    a, b = _net(), _net()
    ra = train(a, digits, config, progress=False)
    rb = train(b, digits, config, progress=False)
    assert ra.test_accuracy > 0.5  # 10 classes: chance is 0.1
    assert len(ra.history) == 3
    for (name, pa), (_, pb) in zip(a.state_dict().items(), b.state_dict().items(), strict=True):
        assert torch.equal(pa, pb), name
    assert ra.test_accuracy == rb.test_accuracy == evaluate(a, digits.test)


def test_checkpoint_round_trip(tmp_path, digits):
    net = _net()
    train(net, digits, TrainConfig(epochs=1), progress=False)
    path = save_checkpoint(net, tmp_path / "m.pt", meta={"recipe": "x"})
    other = _net()
    assert load_checkpoint(other, path) == {"recipe": "x"}
    x = torch.from_numpy(digits.test.x[:16])
    net.eval()
    assert np.array_equal(net(x).detach().numpy(), other(x).detach().numpy())


def test_missing_checkpoint(tmp_path):
    with pytest.raises(CheckpointError, match="not found"):
        load_checkpoint(_net(), tmp_path / "absent.pt")


def test_checkpoint_of_another_model(tmp_path):
    path = save_checkpoint(mlp([64, 16, 10], "int4", "uint4", "uint4"), tmp_path / "m.pt")
    with pytest.raises(CheckpointError, match="does not match"):
        load_checkpoint(_net(), path)


def test_corrupt_checkpoint(tmp_path):
    bad = tmp_path / "bad.pt"
    bad.write_bytes(b"not a checkpoint")
    with pytest.raises(CheckpointError, match="could not read"):
        load_checkpoint(_net(), bad)
