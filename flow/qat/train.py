"""Seeded, deterministic training and evaluation on CPU, with checkpoints.

``train(model, dataset, config)`` runs ``config.epochs`` epochs of Adam/SGD on cross-entropy with a
progress bar and returns a :class:`TrainResult`; the same seed gives the same weights on the same machine.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path

import numpy as np
import torch
from torch import nn

from flow.errors import CheckpointError
from flow.io import atomic_path
from flow.qat.data import Dataset, Split

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class TrainConfig:
    """Training hyperparameters of a recipe."""

    epochs: int = 10
    batch_size: int = 64
    lr: float = 1e-2
    optimizer: str = "adam"  # "adam" or "sgd"
    weight_decay: float = 0.0
    lr_schedule: str = "cosine"  # "cosine" or "constant"
    seed: int = 0
    # One thread: these nets are small, and with a second busy core (a Verilator build) 2 threads made
    # each step ~20x slower (OpenMP spin-waiting). Measured on the 2-core machine.
    threads: int = 1
    # The loss sees logits * logit_scale. Binary last layers output integer logits up to +-fan_in, which makes
    # cross-entropy far too sharp; a loss-only temperature fixes that without touching the exported graph.
    logit_scale: float = 1.0

    def __post_init__(self) -> None:
        if self.optimizer not in ("adam", "sgd"):
            raise ValueError(f"TrainConfig.optimizer: expected 'adam' or 'sgd', got {self.optimizer!r}")
        if self.lr_schedule not in ("cosine", "constant"):
            raise ValueError(f"TrainConfig.lr_schedule: expected 'cosine' or 'constant', got {self.lr_schedule!r}")
        if self.epochs < 0 or self.batch_size < 1:
            raise ValueError(f"TrainConfig: epochs >= 0 and batch_size >= 1 expected, got {self}")


#: What a recipe's net is trained for: ``classify`` (cross-entropy, top-1 accuracy) or ``reconstruct`` (an
#: autoencoder: mean squared error of the output against the flattened input).
TASKS = ("classify", "reconstruct")


@dataclass
class TrainResult:
    """``test_accuracy``/``train_accuracy``: top-1 accuracy (NaN for a reconstruction task);
    ``test_mse``/``train_mse``: reconstruction mean squared error (``None`` for a classifier)."""

    test_accuracy: float
    train_accuracy: float
    epochs: int
    seconds: float
    history: list[dict] = field(default_factory=list)
    test_mse: float | None = None
    train_mse: float | None = None

    def summary(self) -> str:
        """``test accuracy 0.9812`` or ``test reconstruction MSE 0.00412``."""
        if self.test_mse is not None:
            return f"test reconstruction MSE {self.test_mse:.5f}"
        return f"test accuracy {self.test_accuracy:.4f}"


def seed_everything(seed: int, threads: int = 1) -> None:
    """Seed torch and numpy and make CPU kernels deterministic."""
    torch.manual_seed(seed)
    np.random.seed(seed)
    torch.set_num_threads(threads)
    torch.use_deterministic_algorithms(True, warn_only=True)


def _batches(split: Split, batch_size: int, generator: torch.Generator | None):
    n = len(split)
    order = torch.randperm(n, generator=generator) if generator is not None else torch.arange(n)
    x = torch.from_numpy(split.x)
    y = torch.from_numpy(split.y)
    for start in range(0, n, batch_size):
        idx = order[start : start + batch_size]
        yield x[idx], y[idx]


@torch.no_grad()
def predict(model: nn.Module, x: np.ndarray, batch_size: int = 1000) -> np.ndarray:
    """Model outputs (float32 numpy) for inputs ``x`` in eval mode."""
    model.eval()
    outs = [model(torch.from_numpy(x[i : i + batch_size])) for i in range(0, len(x), batch_size)]
    return torch.cat(outs).numpy()


def evaluate(model: nn.Module, split: Split) -> float:
    """Top-1 accuracy (0..1) of ``model`` on ``split``."""
    if len(split) == 0:
        return float("nan")
    logits = predict(model, split.x)
    return float((logits.argmax(axis=1) == split.y).mean())


def reconstruction_mse(model: nn.Module, split: Split) -> float:
    """Mean squared error of ``model``'s outputs against its flattened inputs on ``split``."""
    if len(split) == 0:
        return float("nan")
    out = predict(model, split.x)
    return float(np.mean((out.reshape(len(split), -1) - split.x.reshape(len(split), -1)) ** 2))


LossFn = Callable[[torch.Tensor, torch.Tensor, torch.Tensor], torch.Tensor]  # (logits, x, labels) -> loss


def train(
    model: nn.Module, dataset: Dataset, config: TrainConfig, progress: bool = True, loss: LossFn | None = None,
    task: str = "classify",
) -> TrainResult:
    """Train ``model`` in place on ``dataset.train``; evaluate on ``dataset.test`` after each epoch.

    ``loss(logits, x, labels)`` replaces cross-entropy (e.g. knowledge distillation, :mod:`flow.stages.distill`);
    the logits it gets are already multiplied by ``config.logit_scale``. ``task="reconstruct"`` trains an
    autoencoder: the loss is the mean squared error against the flattened input and the score
    :func:`reconstruction_mse` (see :data:`TASKS`).

    The data order is seeded by ``config.seed``; the initial weights are whatever the caller built (call
    :func:`seed_everything` before building the model for a fully reproducible run, as ``train_recipe`` does).
    """
    from tqdm import tqdm

    seed_everything(config.seed, config.threads)
    generator = torch.Generator().manual_seed(config.seed)
    params = [p for p in model.parameters() if p.requires_grad]
    if config.optimizer == "adam":
        opt: torch.optim.Optimizer = torch.optim.Adam(params, lr=config.lr, weight_decay=config.weight_decay)
    else:
        opt = torch.optim.SGD(params, lr=config.lr, momentum=0.9, weight_decay=config.weight_decay)
    steps_per_epoch = -(-len(dataset.train) // config.batch_size)
    total = max(1, config.epochs * steps_per_epoch)
    sched = (
        torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=total)
        if config.lr_schedule == "cosine"
        else torch.optim.lr_scheduler.LambdaLR(opt, lambda _: 1.0)
    )
    if task not in TASKS:
        raise ValueError(f"train: task expected one of {TASKS}, got {task!r}")
    cross_entropy, mse = nn.CrossEntropyLoss(), nn.MSELoss()
    default: LossFn = ((lambda out, x, _labels: mse(out, x.flatten(1))) if task == "reconstruct"
                       else (lambda logits, _x, labels: cross_entropy(logits, labels)))
    loss_fn: LossFn = loss or default
    score = reconstruction_mse if task == "reconstruct" else evaluate
    metric = "test reconstruction MSE" if task == "reconstruct" else "test accuracy"
    history: list[dict] = []
    start = time.perf_counter()
    bar = tqdm(total=total, desc="train", unit="step", disable=not progress, leave=False)
    for epoch in range(config.epochs):
        model.train()
        running = 0.0
        for xb, yb in _batches(dataset.train, config.batch_size, generator):
            opt.zero_grad(set_to_none=True)
            step_loss = loss_fn(model(xb) * config.logit_scale, xb, yb)
            step_loss.backward()
            opt.step()
            sched.step()
            running += float(step_loss.detach()) * len(yb)
            bar.update(1)
        test_score = score(model, dataset.test)
        entry = {"epoch": epoch + 1, "loss": running / len(dataset.train), metric.replace(" ", "_"): test_score}
        history.append(entry)
        bar.set_postfix(loss=f"{entry['loss']:.3f}", test=f"{test_score:.4f}")
        log.info("epoch %d: loss %.4f %s %.5f", epoch + 1, entry["loss"], metric, test_score)
    bar.close()
    seconds = time.perf_counter() - start
    if task == "reconstruct":
        return TrainResult(test_accuracy=float("nan"), train_accuracy=float("nan"), epochs=config.epochs,
                           seconds=seconds, history=history, test_mse=reconstruction_mse(model, dataset.test),
                           train_mse=reconstruction_mse(model, dataset.train))
    return TrainResult(
        test_accuracy=evaluate(model, dataset.test),
        train_accuracy=evaluate(model, dataset.train),
        epochs=config.epochs,
        seconds=seconds,
        history=history,
    )


def pretrain(model: nn.Module, dataset: Dataset, config: TrainConfig | None, seed: int, progress: bool,
             what: str) -> int:
    """The optional dense training before a compression method (ADMM, filter pruning): :func:`train` with
    ``config`` at ``seed`` when it has epochs; returns the epochs run (0 when skipped) and logs the accuracy
    under ``what``."""
    if config is None or config.epochs <= 0:
        return 0
    result = train(model, dataset, replace(config, seed=seed), progress=progress)
    log.info("%s: %d epochs, test accuracy %.4f", what, result.epochs, result.test_accuracy)
    return result.epochs


def save_checkpoint(model: nn.Module, path: str | Path, meta: dict | None = None) -> Path:
    """Save ``model``'s state dict (and ``meta``) atomically to ``path``."""
    with atomic_path(path) as tmp:
        torch.save({"state_dict": model.state_dict(), "meta": meta or {}}, tmp)
    return Path(path)


def load_checkpoint(model: nn.Module, path: str | Path) -> dict:
    """Load a checkpoint written by :func:`save_checkpoint` into ``model``; return its ``meta``."""
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"{path}: checkpoint not found (run 'qflow train' for this recipe first)")
    try:
        blob = torch.load(path, map_location="cpu", weights_only=False)
        state = blob["state_dict"]
    except Exception as exc:
        raise CheckpointError(f"{path}: expected a qflow checkpoint, could not read it ({exc})") from exc
    try:
        model.load_state_dict(state)
    except RuntimeError as exc:
        first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise CheckpointError(f"{path}: checkpoint does not match the recipe's model ({first})") from exc
    model.eval()
    return dict(blob.get("meta", {}))


def config_dict(config: TrainConfig) -> dict:
    return asdict(config)
