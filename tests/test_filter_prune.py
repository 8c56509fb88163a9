"""Filter pruning for training (flow.qat.filter_prune): the two criteria at one budget, and the fine-tune that
keeps pruned filters at exactly zero."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn

from flow.errors import QuantSpecError
from flow.qat import QAct, QLinear, TrainConfig, load_dataset, seed_everything
from flow.qat.filter_prune import FilterPrune, PrunePlan, fit_pruned, select_filters


def _mlp() -> nn.Sequential:
    seed_everything(0)
    return nn.Sequential(QAct("uint4"), QLinear(64, 16, "int4"), nn.BatchNorm1d(16), QAct("uint4"),
                         QLinear(16, 10, "int4"))


def test_magnitude_keeps_the_largest_filters():
    model = _mlp()
    with torch.no_grad():
        model[1].weight.mul_(0.01)
        model[1].weight[[3, 7, 11]] *= 100.0
    assert select_filters(model, "1", FilterPrune(3 / 16)).tolist() == [3, 7, 11]


def test_redundancy_drops_a_duplicate_filter_first():
    """Filter 5 computes what filter 2 does (scaled by 2): at a budget of 5 of 6 the redundancy criterion drops
    one of the pair, the smaller (2); magnitude would drop the smallest filter, whatever it computes."""
    model = nn.Sequential(nn.Linear(8, 6, bias=False), nn.ReLU(), nn.Linear(6, 2))
    torch.manual_seed(0)
    with torch.no_grad():
        model[0].weight[5] = 2.0 * model[0].weight[2]
    x = np.random.default_rng(0).normal(size=(128, 8)).astype(np.float32)
    kept = select_filters(model, "0", FilterPrune(5 / 6, "redundancy"), x)
    assert kept.tolist() == [0, 1, 3, 4, 5]
    magnitude = select_filters(model, "0", FilterPrune(5 / 6, "magnitude"))
    norms = model[0].weight.detach().pow(2).sum(1)
    assert int(norms.argmin()) not in magnitude.tolist()


def test_fine_tuning_keeps_pruned_filters_at_exactly_zero():
    data = load_dataset("digits")
    model = _mlp()
    plan = PrunePlan(layers={"1": FilterPrune(0.5)}, pretrain=TrainConfig(epochs=1, lr=5e-3),
                     finetune=TrainConfig(epochs=1, lr=5e-3))
    result = fit_pruned(model, data, plan, seed=0, progress=False)
    rows = model[1].weight.detach().abs().sum(dim=1)
    assert int((rows == 0).sum()) == 8 and result.epochs == 2
    assert 0.0 <= result.test_accuracy <= 1.0


@pytest.mark.parametrize(("kwargs", "message"), [({"keep": 0.0}, "kept fraction"),
                                                 ({"keep": 0.5, "criterion": "random"}, "criterion")])
def test_bad_settings_are_refused(kwargs, message):
    with pytest.raises(QuantSpecError, match=message):
        FilterPrune(**kwargs)
