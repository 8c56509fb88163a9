"""Filter pruning with a fine-tune: which filters go (per layer, by a criterion), and the training around it.

:func:`fit_pruned` is the ``fit`` hook of pruned recipes: train the dense network (``PrunePlan.pretrain``), choose
each pruned layer's kept filters (:func:`select_filters`), set the others' weights to exactly zero and fine-tune
with them held at zero (``PrunePlan.finetune``). The exported model keeps the dense shape; the compile stage
removes the zero filters from the hardware, exactly (:mod:`flow.compile.prune`).

Criteria (:class:`FilterPrune`, chosen per layer):

* ``"magnitude"``: keep the filters of largest L2 norm (what ADMM's ``Sparsity(structure="filter")`` projects onto).
* ``"redundancy"``: in the spirit of functionality-oriented filter pruning, look at what each filter *computes*:
  its outputs on ``PrunePlan.samples`` training inputs (every position of a feature map), as a vector per filter.
  Repeatedly take the most similar pair of kept filters (absolute Pearson correlation of those vectors: a filter
  that is an affine function of another one is a duplicate, BatchNorm absorbs the affine part) and drop the one
  of smaller norm, until the budget is met. Filters whose outputs never vary (correlation undefined) go first.

Both keep ``FilterPrune.count(n)`` = ``max(1, round(keep * n))`` of a layer's ``n`` filters, so two criteria at
one ``keep`` compare at equal kept-filter budgets.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping
from dataclasses import dataclass, replace

import numpy as np
import torch
from torch import nn

from flow.errors import QuantSpecError
from flow.qat.data import Dataset
from flow.qat.train import TrainConfig, TrainResult, evaluate, pretrain, seed_everything, train

__all__ = ["CRITERIA", "FilterMasks", "FilterPrune", "PrunePlan", "capped", "fit_pruned", "select_filters"]

log = logging.getLogger(__name__)

CRITERIA = ("magnitude", "redundancy")


@dataclass(frozen=True)
class FilterPrune:
    """Keep the fraction ``keep`` (0 < keep <= 1) of a layer's filters (output channels), chosen by ``criterion``."""

    keep: float
    criterion: str = "magnitude"

    def __post_init__(self) -> None:
        if not 0.0 < float(self.keep) <= 1.0:
            raise QuantSpecError(f"FilterPrune.keep: expected a kept fraction 0 < keep <= 1, got {self.keep!r}")
        if self.criterion not in CRITERIA:
            raise QuantSpecError(f"FilterPrune.criterion: expected one of {CRITERIA}, got {self.criterion!r}")

    def count(self, n: int) -> int:
        """How many of ``n`` filters are kept."""
        return max(1, round(self.keep * n))


@dataclass(frozen=True)
class PrunePlan:
    """``layers``: module name (as in ``model.named_modules()``) -> :class:`FilterPrune`; ``pretrain``: the dense
    training (``None``: start from the model as given); ``finetune``: training with the pruned filters held at 0;
    ``samples``: training inputs the redundancy criterion looks at."""

    layers: Mapping[str, FilterPrune]
    finetune: TrainConfig
    pretrain: TrainConfig | None = None
    samples: int = 256

    def epochs(self) -> int:
        return (self.pretrain.epochs if self.pretrain is not None else 0) + self.finetune.epochs


def capped(plan: PrunePlan, cap: int) -> PrunePlan:
    """``plan`` with each training phase limited to ``cap`` epochs (the 1-epoch runs of the export tests)."""
    cap = max(1, cap)
    pre = plan.pretrain and replace(plan.pretrain, epochs=min(plan.pretrain.epochs, cap))
    return replace(plan, pretrain=pre, finetune=replace(plan.finetune, epochs=min(plan.finetune.epochs, cap)))


def _weight(module: nn.Module, name: str) -> torch.Tensor:
    w = getattr(module, "weight", None)
    if not isinstance(w, torch.Tensor) or w.dim() < 2:
        raise QuantSpecError(f"layer {name!r}: expected a conv/linear layer with a weight of >= 2 dims, got "
                             f"{type(module).__name__}")
    return w


def _outputs(model: nn.Module, module: nn.Module, x: torch.Tensor) -> torch.Tensor:
    """``module``'s outputs on ``x`` as (filters, samples x positions), float64."""
    seen: list[torch.Tensor] = []

    def grab(_m, _inp, out):
        seen.append(out.detach() if isinstance(out, torch.Tensor) else out.value.detach())

    handle = module.register_forward_hook(grab)
    try:
        model.eval()
        with torch.no_grad():
            model(x)
    finally:
        handle.remove()
    out = seen[0].to(torch.float64)
    return out.transpose(0, 1).reshape(out.shape[1], -1)


def select_filters(model: nn.Module, name: str, spec: FilterPrune, x: np.ndarray | None = None) -> np.ndarray:
    """The indices of the filters of layer ``name`` that ``spec`` keeps (sorted). ``x``: training inputs, needed by
    the redundancy criterion."""
    module = dict(model.named_modules()).get(name)
    if module is None:
        raise QuantSpecError(f"layer {name!r}: no such module (layers: {[n for n, _ in model.named_modules() if n]})")
    w = _weight(module, name).detach().to(torch.float64)
    n = w.shape[0]
    budget = spec.count(n)
    norms = w.reshape(n, -1).pow(2).sum(dim=1).numpy()
    if spec.criterion == "magnitude":
        return np.sort(np.argsort(-norms, kind="stable")[:budget])
    if x is None:
        raise QuantSpecError(f"layer {name!r}: the redundancy criterion needs training inputs")
    out = _outputs(model, module, torch.from_numpy(np.asarray(x, dtype=np.float32))).numpy()
    out = out - out.mean(axis=1, keepdims=True)
    std = np.linalg.norm(out, axis=1)
    kept = list(range(n))
    for r in [int(i) for i in np.argsort(norms) if std[i] == 0]:  # constant outputs: no function at all
        if len(kept) > budget:
            kept.remove(r)
    live = std > 0
    corr = np.zeros((n, n))
    unit = np.where(live[:, None], out / np.where(live, std, 1.0)[:, None], 0.0)
    corr[np.ix_(live, live)] = np.abs(unit[live] @ unit[live].T)
    np.fill_diagonal(corr, -1.0)
    while len(kept) > budget:
        sub = corr[np.ix_(kept, kept)]
        i, j = np.unravel_index(int(np.argmax(sub)), sub.shape)
        a, b = kept[i], kept[j]
        kept.remove(a if norms[a] < norms[b] else b)
    return np.array(sorted(kept), dtype=np.int64)


class FilterMasks:
    """Pruned filters held at exactly zero: a forward pre-hook zeroes them before every forward pass (the
    optimizer may move them in between; no forward ever sees it), BatchNorm statistics of the next layer are
    untouched."""

    def __init__(self, model: nn.Module, kept: Mapping[str, np.ndarray]) -> None:
        modules = dict(model.named_modules())
        self.handles = []
        self.masks: dict[str, torch.Tensor] = {}
        for name, keep in kept.items():
            module = modules[name]
            w = _weight(module, name)
            mask = torch.zeros(w.shape[0], dtype=w.dtype)
            mask[torch.from_numpy(keep)] = 1
            mask = mask.reshape(-1, *([1] * (w.dim() - 1)))
            self.masks[name] = mask
            self.handles.append(module.register_forward_pre_hook(self._hook(mask)))
            self._zero(module, mask)

    @staticmethod
    def _zero(module: nn.Module, mask: torch.Tensor) -> None:
        with torch.no_grad():
            module.weight.mul_(mask)

    def _hook(self, mask: torch.Tensor):
        return lambda module, _inp: self._zero(module, mask)

    def remove(self) -> None:
        for h in self.handles:
            h.remove()


def fit_pruned(model: nn.Module, dataset: Dataset, plan: PrunePlan, seed: int, progress: bool = True) -> TrainResult:
    """Dense training, filter selection per ``plan.layers``, then fine-tuning with the pruned filters at zero;
    ``model`` is trained in place and ends with those filters' weights exactly 0. Accuracies are of the final
    model; ``epochs``/``seconds`` cover both phases; the kept filters per layer are logged."""
    start = time.perf_counter()
    pre_epochs = pretrain(model, dataset, plan.pretrain, seed, progress, "dense training")
    seed_everything(seed, plan.finetune.threads)
    rng = np.random.default_rng(seed)
    x = dataset.train.x[np.sort(rng.choice(len(dataset.train), min(plan.samples, len(dataset.train)), replace=False))]
    kept = {name: select_filters(model, name, spec, x) for name, spec in plan.layers.items()}
    for name, keep in kept.items():
        log.info("layer %s: %d filters kept (%s): %s", name, len(keep), plan.layers[name].criterion, keep.tolist())
    masks = FilterMasks(model, kept)
    try:
        result = train(model, dataset, replace(plan.finetune, seed=seed), progress=progress)
    finally:
        masks.remove()
    for name, mask in masks.masks.items():  # the last optimizer step moved them: zero for the checkpoint
        FilterMasks._zero(dict(model.named_modules())[name], mask)
    result.epochs += pre_epochs
    result.seconds = time.perf_counter() - start
    result.test_accuracy = evaluate(model, dataset.test)
    result.train_accuracy = evaluate(model, dataset.train)
    return result
