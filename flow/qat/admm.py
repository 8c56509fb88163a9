"""ADMM training towards quantized and pruned weights, and the fully binarized export path.

``admm_train(model, dataset, constraints, config)`` solves ``min loss(W) s.t. W_i in S_i`` for the weights
``W_i`` of the named layers with the split W = Z (ADMM-NN, Ren et al. 2019):

* W-step: ``config.inner_epochs`` epochs of Adam/SGD on ``loss(W) + rho/2 * sum_i ||W_i - Z_i + U_i||^2``
  (the layers' float ``weight`` Parameters: the latent weights of Brevitas layers, or plain nn.Linear/Conv2d);
* Z-step: ``Z_i = project_i(W_i + U_i)``;   U-step: ``U_i += W_i - Z_i``;   ``rho *= rho_growth``.

With ``config.quantized_forward`` the W-step's loss is computed on ``project_i(W_i)`` and its gradient applied
to ``W_i`` (straight-through; the penalty still acts on ``W_i``): on the 30-epoch LeNet-5 budget this ADMM +
STE hybrid is what brings ADMM level with plain straight-through training (BENCHMARKS.md).

It stops when the primal residual ``||W - Z||`` and the dual residual ``rho ||Z - Z_prev||`` (both over all
constrained layers) are below their tolerances, or after ``max_iterations``. Then the weights are projected
hard (``W <- project(W)``) and the rest is fine-tuned for ``finetune_epochs``: quantized weights are frozen
(their levels stay exactly in the set; BatchNorm, biases and activation scales train), pruned-only weights
train under a fixed mask (gradient masked, the mask re-applied after every step). With ``config.finetune ==
"ste"`` the constrained weights keep training straight-through instead (see :func:`_hard_project_and_finetune`).
``config.lr_schedule == "cosine"`` decays the rate to 0 over each stage and over the fine-tuning.

A list of constraints per layer is a progressive schedule: stage j applies each layer's j-th constraint (or its
last one, if its list is shorter), starting from the weights the previous stage left (not hard-projected between
stages; Z and U restart from the new set's projection and zero).

The binarized export path (:mod:`flow.qat.admm_export`, re-exported here): after ADMM with
:class:`~flow.qat.admm_sets.Binary` constraints a layer's weight is ``alpha_c * s`` with ``s`` in {-1, +1};
:func:`binarize_for_export` folds ``alpha_c`` into the BatchNorm that follows the layer, leaving weights exactly
+-1, and :func:`binary_twin` rebuilds the model with qflow ``QLinear/QConv2d(weight="binary")`` layers that the
export flow takes.
"""

from __future__ import annotations

import contextlib
import logging
import math
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import asdict, dataclass, field

import torch
from torch import nn

from flow.errors import QuantSpecError
from flow.qat.admm_export import binarize_for_export, binary_twin
from flow.qat.admm_sets import (
    QUANT_SETS,
    Binary,
    Constraint,
    Intersect,
    PowerOfTwoGrid,
    Sparsity,
    Ternary,
)
from flow.qat.data import Dataset
from flow.qat.train import TrainResult, _batches, evaluate, seed_everything

log = logging.getLogger(__name__)

__all__ = [
    "AdmmConfig",
    "AdmmIteration",
    "AdmmResult",
    "Binary",
    "Constraint",
    "Intersect",
    "PowerOfTwoGrid",
    "Sparsity",
    "Ternary",
    "admm_train",
    "binarize_for_export",
    "binary_twin",
    "constrained_weights",
]

_CONSTRAINT_TYPES = (Binary, Ternary, PowerOfTwoGrid, Sparsity, Intersect)


@dataclass(frozen=True)
class AdmmConfig:
    """ADMM hyperparameters. Per stage: up to ``max_iterations`` ADMM iterations of ``inner_epochs`` epochs each;
    after the last stage ``finetune_epochs`` epochs with the projected weights fixed (or masked)."""

    rho: float = 0.1
    rho_growth: float = 1.5
    max_iterations: int = 10
    inner_epochs: int = 1
    finetune_epochs: int = 1
    tol_primal: float = 1e-3
    tol_dual: float = 1e-3
    lr: float = 1e-3
    finetune_lr: float = 1e-3
    optimizer: str = "adam"  # "adam" or "sgd" (momentum 0.9)
    batch_size: int = 64
    weight_decay: float = 0.0
    seed: int = 0
    threads: int = 1
    logit_scale: float = 1.0  # loss-only temperature, as in TrainConfig
    # W-step loss on the projected weights with a straight-through gradient (ADMM + STE hybrid)
    quantized_forward: bool = False
    # after the hard projection: "frozen" (quantized weights fixed, the rest trains) or "ste" (the latent
    # float weights keep training through the projection, straight-through; re-projected at the end)
    finetune: str = "frozen"
    # learning rate over each ADMM stage's W-steps and over the fine-tuning: "constant" or "cosine" (decayed to
    # 0 over the stage's max_iterations x inner_epochs epochs, and over finetune_epochs)
    lr_schedule: str = "constant"

    def __post_init__(self) -> None:
        if self.optimizer not in ("adam", "sgd"):
            raise ValueError(f"AdmmConfig.optimizer: expected 'adam' or 'sgd', got {self.optimizer!r}")
        if self.lr_schedule not in ("constant", "cosine"):
            raise ValueError(f"AdmmConfig.lr_schedule: expected 'constant' or 'cosine', got {self.lr_schedule!r}")
        if self.finetune not in ("frozen", "ste"):
            raise ValueError(f"AdmmConfig.finetune: expected 'frozen' or 'ste', got {self.finetune!r}")
        if not self.rho > 0 or not self.rho_growth >= 1:
            raise ValueError(f"AdmmConfig: expected rho > 0 and rho_growth >= 1, got {self.rho}, {self.rho_growth}")
        if self.max_iterations < 1 or self.inner_epochs < 0 or self.finetune_epochs < 0 or self.batch_size < 1:
            raise ValueError(
                "AdmmConfig: expected max_iterations >= 1, inner_epochs >= 0, finetune_epochs >= 0, "
                f"batch_size >= 1, got {self}"
            )


@dataclass(frozen=True)
class AdmmIteration:
    """One ADMM iteration: residuals measured after its Z- and U-steps (``rho`` is the value it trained with)."""

    stage: int
    iteration: int
    rho: float
    primal: float
    dual: float
    loss: float


@dataclass
class AdmmResult(TrainResult):
    """A :class:`TrainResult` (so it can be a recipe's ``fit`` result) plus the ADMM trace.

    ``iterations`` lists every ADMM iteration of every stage; ``converged[j]`` says whether stage j met both
    tolerances before ``max_iterations``; ``stage_accuracy[j]`` is the test accuracy after stage j (before the
    hard projection); ``history`` holds the same iterations as dicts (``"phase": "admm"``) followed by the
    fine-tuning epochs (``"phase": "finetune"``), so a recipe's ``metrics.json`` records the residuals.
    """

    iterations: list[AdmmIteration] = field(default_factory=list)
    converged: list[bool] = field(default_factory=list)
    stage_accuracy: list[float] = field(default_factory=list)


def constrained_weights(model: nn.Module) -> dict[str, nn.Parameter]:
    """The layers ADMM can constrain: every named module with a float ``weight`` Parameter of >= 2 dims
    (nn.Linear/Conv2d and Brevitas QuantLinear/QuantConv2d, whose ``weight`` is the latent float weight)."""
    out: dict[str, nn.Parameter] = {}
    for name, module in model.named_modules():
        weight = getattr(module, "weight", None)
        if isinstance(weight, nn.Parameter) and weight.dim() >= 2 and weight.is_floating_point():
            out[name] = weight
    return out


def _schedule(model: nn.Module, constraints: Mapping[str, Constraint | Iterable[Constraint]]) -> list[dict]:
    """Validate ``constraints`` and return one ``{layer: constraint}`` dict per stage."""
    layers = constrained_weights(model)
    per_layer: dict[str, list[Constraint]] = {}
    for name, spec in constraints.items():
        if name not in layers:
            valid = ", ".join(repr(n) for n in layers) or "none"
            raise QuantSpecError(
                f"ADMM constraint for layer {name!r}: no such layer with a weight in the model (valid: {valid})"
            )
        items = [spec] if isinstance(spec, _CONSTRAINT_TYPES) else list(spec)
        if not items:
            raise QuantSpecError(f"ADMM constraint for layer {name!r}: expected at least one constraint, got []")
        for item in items:
            if not isinstance(item, _CONSTRAINT_TYPES):
                raise QuantSpecError(
                    f"ADMM constraint for layer {name!r}: expected Binary, Ternary, PowerOfTwoGrid, Sparsity or "
                    f"Intersect, got {type(item).__name__}"
                )
            try:
                item.project(layers[name].detach())  # shape errors (e.g. column pruning of 1-D) surface here
            except QuantSpecError as exc:
                raise QuantSpecError(f"ADMM constraint for layer {name!r}: {exc}") from exc
        per_layer[name] = items
    if not per_layer:
        raise QuantSpecError("ADMM constraints: expected at least one layer, got an empty mapping")
    n_stages = max(len(v) for v in per_layer.values())
    return [{name: items[min(j, len(items) - 1)] for name, items in per_layer.items()} for j in range(n_stages)]


def _optimizer(params: list[nn.Parameter], config: AdmmConfig, lr: float) -> torch.optim.Optimizer:
    if config.optimizer == "adam":
        return torch.optim.Adam(params, lr=lr, weight_decay=config.weight_decay)
    return torch.optim.SGD(params, lr=lr, momentum=0.9, weight_decay=config.weight_decay)


def _scheduler(opt: torch.optim.Optimizer, config: AdmmConfig, epochs: int, n_train: int):
    """Per-step LR schedule of ``config.lr_schedule`` over ``epochs`` epochs of ``n_train`` samples."""
    steps = max(1, epochs * -(-n_train // config.batch_size))
    if config.lr_schedule == "cosine":
        return torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=steps)
    return torch.optim.lr_scheduler.LambdaLR(opt, lambda _: 1.0)


def _norm(tensors: Iterable[torch.Tensor]) -> float:
    return math.sqrt(sum(float(t.pow(2).sum()) for t in tensors))


@dataclass
class _Split:
    """The ADMM split of one stage: ``z`` (the projections), ``u`` (the scaled duals) and the current ``rho``."""

    stage: dict[str, Constraint]
    z: dict[str, torch.Tensor]
    u: dict[str, torch.Tensor]
    rho: float

    @classmethod
    def start(cls, stage: dict[str, Constraint], weights: dict[str, nn.Parameter], rho: float) -> _Split:
        """Z from the projection of the current weights, U zero."""
        with torch.no_grad():
            z = {n: c.project(weights[n].detach()) for n, c in stage.items()}
            u = {n: torch.zeros_like(weights[n]) for n in stage}
        return cls(stage, z, u, rho)

    def penalty(self, weights: dict[str, nn.Parameter]) -> torch.Tensor:
        """``sum_i ||W_i - Z_i + U_i||^2`` (differentiable in the weights)."""
        return sum((weights[n] - self.z[n] + self.u[n]).pow(2).sum() for n in self.stage)

    def update(self, weights: dict[str, nn.Parameter]) -> tuple[float, float]:
        """Z-step and U-step; returns the primal residual ``||W - Z||`` and the dual ``rho ||Z - Z_prev||``."""
        with torch.no_grad():
            z_prev = self.z
            self.z = {n: c.project(weights[n].detach() + self.u[n]) for n, c in self.stage.items()}
            for n in self.stage:
                self.u[n] += weights[n].detach() - self.z[n]
            primal = _norm(weights[n].detach() - self.z[n] for n in self.stage)
            dual = self.rho * _norm(self.z[n] - z_prev[n] for n in self.stage)
        return primal, dual

    def grow(self, rate: float) -> None:
        """``rho *= rate``. Scaled ADMM: U = Y / rho, so a new rho rescales U (Boyd et al. 2011, sec. 3.4.1)."""
        self.rho *= rate
        for n in self.stage:
            self.u[n] /= rate


def _w_step(
    model: nn.Module,
    dataset: Dataset,
    split: _Split,
    weights: dict[str, nn.Parameter],
    opt: torch.optim.Optimizer,
    sched,
    config: AdmmConfig,
    generator: torch.Generator,
) -> tuple[float, int]:
    """``config.inner_epochs`` epochs on ``loss + rho/2 * penalty``; returns the summed batch loss and samples."""
    loss_fn = nn.CrossEntropyLoss()
    projectors = {n: c.project for n, c in split.stage.items()}
    running, seen = 0.0, 0
    for _ in range(config.inner_epochs):
        model.train()
        for xb, yb in _batches(dataset.train, config.batch_size, generator):
            opt.zero_grad(set_to_none=True)
            if config.quantized_forward:
                # straight-through W-step: the loss sees the projected weights, its gradient is
                # applied to the latent ones (which the penalty keeps near Z)
                with _projected(weights, projectors):
                    loss = loss_fn(model(xb) * config.logit_scale, yb)
                    loss.backward()
                (0.5 * split.rho * split.penalty(weights)).backward()
            else:
                loss = loss_fn(model(xb) * config.logit_scale, yb)
                (loss + 0.5 * split.rho * split.penalty(weights)).backward()
            opt.step()
            sched.step()
            running += float(loss.detach()) * len(yb)
            seen += len(yb)
    return running, seen


def _admm_stage(
    model: nn.Module,
    dataset: Dataset,
    j: int,
    stage: dict[str, Constraint],
    weights: dict[str, nn.Parameter],
    config: AdmmConfig,
    generator: torch.Generator,
    result: AdmmResult,
) -> int:
    """Stage ``j``: ADMM iterations until both residuals are below their tolerances or ``max_iterations``;
    records them, the convergence and the test accuracy in ``result``. Returns the epochs trained."""
    split = _Split.start(stage, weights, config.rho)
    opt = _optimizer([p for p in model.parameters() if p.requires_grad], config, config.lr)
    sched = _scheduler(opt, config, config.max_iterations * config.inner_epochs, len(dataset.train))
    converged = False
    epochs = 0
    for it in range(config.max_iterations):
        running, seen = _w_step(model, dataset, split, weights, opt, sched, config, generator)
        epochs += config.inner_epochs
        primal, dual = split.update(weights)
        record = AdmmIteration(j, it, split.rho, primal, dual, running / seen if seen else float("nan"))
        result.iterations.append(record)
        result.history.append({"phase": "admm", **asdict(record)})
        log.info(
            "ADMM stage %d iteration %d: rho %.3g primal %.4g dual %.4g loss %.4f",
            j,
            it,
            split.rho,
            primal,
            dual,
            record.loss,
        )
        split.grow(config.rho_growth)
        if primal < config.tol_primal and dual < config.tol_dual:
            converged = True
            break
    result.converged.append(converged)
    result.stage_accuracy.append(evaluate(model, dataset.test))
    return epochs


def admm_train(
    model: nn.Module,
    dataset: Dataset,
    constraints: Mapping[str, Constraint | Iterable[Constraint]],
    config: AdmmConfig,
) -> AdmmResult:
    """Train ``model`` in place with ADMM so that each named layer's weight ends exactly in its set.

    ``constraints`` maps layer names (as in ``model.named_modules()``) to a constraint or a list of them (a
    progressive schedule). On return, ``constraints[name].contains(weight)`` holds for every layer (the last
    constraint of a list). Unknown layer names or malformed constraints raise :class:`QuantSpecError`.
    """
    seed_everything(config.seed, config.threads)
    stages = _schedule(model, constraints)
    weights = constrained_weights(model)
    generator = torch.Generator().manual_seed(config.seed)
    result = AdmmResult(test_accuracy=float("nan"), train_accuracy=float("nan"), epochs=0, seconds=0.0)
    start = time.perf_counter()
    epochs = 0
    for j, stage in enumerate(stages):
        epochs += _admm_stage(model, dataset, j, stage, weights, config, generator, result)

    final = stages[-1]
    _hard_project_and_finetune(model, dataset, final, weights, config, generator, result)
    result.epochs = epochs + config.finetune_epochs
    result.seconds = time.perf_counter() - start
    result.test_accuracy = evaluate(model, dataset.test)
    result.train_accuracy = evaluate(model, dataset.train)
    return result


def _projector(c: Constraint, mask: torch.Tensor | None):
    """The projection the STE fine-tuning applies every step: ``c.project``, with the support of a pruned
    set fixed to ``mask`` (the one chosen by the hard projection), so only the levels move."""
    if mask is None:
        return c.project
    if isinstance(c, Intersect) and isinstance(c.quant, Binary):
        return lambda w: c.quant.project_on_support(w, mask)
    if isinstance(c, Intersect):
        return lambda w: c.quant.project(w * mask) * mask
    return lambda w: w * mask


def _hard_project_and_finetune(
    model: nn.Module,
    dataset: Dataset,
    final: dict[str, Constraint],
    weights: dict[str, nn.Parameter],
    config: AdmmConfig,
    generator: torch.Generator,
    result: AdmmResult,
) -> None:
    """``W <- project(W)``, then fine-tune.

    ``config.finetune == "frozen"``: quantized weights are fixed, pruned-only ones train under their mask.
    ``"ste"``: every constrained layer keeps a latent float weight that trains straight-through: each step the
    loss sees ``project(latent)`` (with the hard projection's support fixed for pruned sets), its gradient is
    applied to the latent weight, and at the end ``W <- project(latent)``.
    """
    masks: dict[str, torch.Tensor] = {}
    ste = config.finetune == "ste"
    with torch.no_grad():
        for n, c in final.items():
            projected = c.project(weights[n].detach())
            if isinstance(c, Sparsity | Intersect):
                masks[n] = projected != 0
            if isinstance(c, QUANT_SETS) and not ste:
                weights[n].requires_grad_(False)
            # STE keeps the latent weight (its distance to the set is what the next steps can still change);
            # frozen/masked fine-tuning starts from the projection
            if not ste:
                weights[n].copy_(projected)
    projectors = {n: _projector(c, masks.get(n)) for n, c in final.items()}
    # frozen mode: pruned-only weights train under their mask (quantized ones are frozen, STE projects)
    pruned = {} if ste else {n: m for n, m in masks.items() if not isinstance(final[n], QUANT_SETS)}
    hooks = [weights[n].register_hook(lambda g, m=m: g * m) for n, m in pruned.items()]
    params = [p for p in model.parameters() if p.requires_grad]
    loss_fn = nn.CrossEntropyLoss()
    try:
        if params:
            opt = _optimizer(params, config, config.finetune_lr)
            sched = _scheduler(opt, config, config.finetune_epochs, len(dataset.train))
            for epoch in range(config.finetune_epochs):
                model.train()
                running = 0.0
                for xb, yb in _batches(dataset.train, config.batch_size, generator):
                    opt.zero_grad(set_to_none=True)
                    with _projected(weights, projectors if ste else {}):
                        loss = loss_fn(model(xb) * config.logit_scale, yb)
                        loss.backward()
                    opt.step()
                    sched.step()
                    with torch.no_grad():
                        for n, m in pruned.items():
                            weights[n].mul_(m)  # weight decay / momentum cannot revive a pruned weight
                    running += float(loss.detach()) * len(yb)
                with _projected(weights, projectors if ste else {}):
                    acc = evaluate(model, dataset.test)
                loss_avg = running / len(dataset.train)
                result.history.append({"phase": "finetune", "epoch": epoch + 1, "loss": loss_avg, "test_accuracy": acc})
                log.info("ADMM fine-tune epoch %d: test accuracy %.4f", epoch + 1, acc)
    finally:
        for h in hooks:
            h.remove()
        for p in weights.values():
            p.requires_grad_(True)  # frozen for fine-tuning only: the caller gets an ordinary model back
    with torch.no_grad():
        for n, project in projectors.items():
            weights[n].copy_(project(weights[n].detach()))
    for n, c in final.items():
        if not c.contains(weights[n].detach()):  # a bug, not bad input: the set must hold by construction
            raise AssertionError(f"layer {n!r}: weight left its constraint set {c} after fine-tuning")


@contextlib.contextmanager
def _projected(weights: dict[str, nn.Parameter], projectors: Mapping[str, Callable[[torch.Tensor], torch.Tensor]]):
    """Inside the block each weight named in ``projectors`` holds ``project(latent)``; on exit its latent value
    is back. In place, so optimizers keep their parameters and a gradient computed inside (straight-through)
    lands on the latent weight."""
    with torch.no_grad():
        latent = {n: weights[n].detach().clone() for n in projectors}
        for n, project in projectors.items():
            weights[n].copy_(project(latent[n]))
    try:
        yield
    finally:
        with torch.no_grad():
            for n, w in latent.items():
                weights[n].copy_(w)
