"""The ``fit`` hook of ADMM recipes: float pretraining, progressive ADMM, then the exportable binary twin.

A recipe whose weights come from ADMM builds two networks of the same shape: the exported one (qflow
``binary``/``ternary`` weight presets) and a float-weight *twin* that ADMM trains (its activations are already
the recipe's quantized ones). :func:`fit_admm` trains the twin, folds each channel's scale into the following
BatchNorm (:func:`flow.qat.admm.binary_twin`) and loads the result, weights exactly +-1 (or 0 where pruned),
into the recipe's model. ``recipe.train.epochs`` caps every phase (pretraining, ADMM iterations per stage,
fine-tuning), so a 1-epoch recipe (the export tests) runs one short pass of each.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace

from torch import nn

from flow.qat.admm import AdmmConfig, AdmmResult, Constraint, admm_train, binary_twin
from flow.qat.data import Dataset
from flow.qat.train import TrainConfig, evaluate, pretrain, seed_everything

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class AdmmPlan:
    """What an ADMM recipe trains.

    ``twin`` builds the float-weight network; ``constraints`` maps module names of the twin to progressive
    schedules (lists of constraints, see :func:`flow.qat.admm.admm_train`; :func:`same_schedule` builds the
    common case); ``pretrain`` is plain training of the twin before ADMM (``None``: start from the initial
    weights). ``rescale_output``: see :func:`flow.qat.admm.binarize_for_export`.
    """

    twin: Callable[[], nn.Module]
    constraints: Mapping[str, Sequence[Constraint]]
    config: AdmmConfig
    pretrain: TrainConfig | None = None
    rescale_output: bool = False

    def stages(self) -> int:
        return max(len(s) for s in self.constraints.values())

    def epochs(self) -> int:
        """Epoch budget of the whole plan when no stage converges early (pretraining + ADMM + fine-tuning)."""
        pre = self.pretrain.epochs if self.pretrain is not None else 0
        admm = self.stages() * self.config.max_iterations * self.config.inner_epochs
        return pre + admm + self.config.finetune_epochs


def same_schedule(layers: Sequence[str], schedule: Sequence[Constraint]) -> dict[str, list[Constraint]]:
    """Every layer in ``layers`` gets the progressive ``schedule``."""
    return {name: list(schedule) for name in layers}


def capped(plan: AdmmPlan, cap: int) -> AdmmPlan:
    """``plan`` with every phase limited to ``cap`` epochs/iterations; ``cap == 1`` also keeps only the last
    stage of the schedule (the short runs of the export tests)."""
    cap = max(1, cap)
    config = replace(
        plan.config,
        max_iterations=min(plan.config.max_iterations, cap),
        finetune_epochs=min(plan.config.finetune_epochs, cap),
    )
    pretrain = plan.pretrain and replace(plan.pretrain, epochs=min(plan.pretrain.epochs, cap))
    constraints = {n: list(s)[-1:] if cap == 1 else list(s) for n, s in plan.constraints.items()}
    return replace(plan, config=config, pretrain=pretrain, constraints=constraints)


def fit_admm(model: nn.Module, dataset: Dataset, plan: AdmmPlan, seed: int, progress: bool = True) -> AdmmResult:
    """Train ``plan.twin()`` (pretraining, then ADMM) and load its exportable binary twin into ``model``.

    ``model`` must have the twin's structure with binary/ternary weight presets in the constrained layers; the
    returned result's accuracies are those of ``model`` after loading, epochs and seconds cover every phase.
    """
    start = time.perf_counter()
    config = replace(plan.config, seed=seed)
    seed_everything(seed, config.threads)
    twin = plan.twin()
    pre_epochs = pretrain(twin, dataset, plan.pretrain, seed, progress, "ADMM pretraining")
    result = admm_train(twin, dataset, plan.constraints, config)
    model.load_state_dict(binary_twin(twin, rescale_output=plan.rescale_output).state_dict())
    result.epochs += pre_epochs
    result.seconds = time.perf_counter() - start
    result.test_accuracy = evaluate(model, dataset.test)
    result.train_accuracy = evaluate(model, dataset.train)
    return result
