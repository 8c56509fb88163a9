"""Knowledge distillation from a teacher recipe (plain KD, Hinton et al. 2015), as a recipe ``fit`` hook.

``Recipe(fit=Distill("mlp_w8a8_mnist"))`` trains the recipe's model on

    loss = (1 - alpha) * CE(student, labels) + alpha * T^2 * KL(softmax(teacher / T) || softmax(student / T))

with the teacher recipe's trained checkpoint (trained first when it has none). AdderNet's papers distil from
a CNN of the same shape; qflow's twin recipes are exactly that.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import torch
from torch import nn
from torch.nn import functional as F

from flow.paths import recipe_paths
from flow.qat.data import Dataset
from flow.qat.train import TrainResult, train
from flow.recipe import load_recipe
from flow.stages.train import train_recipe, trained_model

log = logging.getLogger(__name__)


def kd_loss(teacher: nn.Module, alpha: float, temperature: float):
    """The distillation loss ``(logits, x, labels) -> loss`` against ``teacher`` (kept in eval mode)."""
    teacher.eval()

    def loss(logits: torch.Tensor, x: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        with torch.no_grad():
            target = F.softmax(teacher(x) / temperature, dim=1)
        soft = F.kl_div(F.log_softmax(logits / temperature, dim=1), target, reduction="batchmean")
        return (1 - alpha) * F.cross_entropy(logits, labels) + alpha * temperature**2 * soft

    return loss


@dataclass(frozen=True)
class Distill:
    """A recipe ``fit`` hook: train with :func:`kd_loss` from the recipe named ``teacher``."""

    teacher: str
    alpha: float = 0.5
    temperature: float = 4.0

    def __post_init__(self) -> None:
        if not 0.0 <= self.alpha <= 1.0:
            raise ValueError(f"Distill.alpha: expected 0 <= alpha <= 1, got {self.alpha}")
        if self.temperature <= 0:
            raise ValueError(f"Distill.temperature: expected > 0, got {self.temperature}")

    def teacher_model(self) -> nn.Module:
        """The teacher recipe's trained model (trained now if it has no checkpoint)."""
        recipe = load_recipe(self.teacher)
        if not recipe_paths(recipe.name).checkpoint.is_file():
            log.info("distillation: training the teacher %s first", recipe.name)
            train_recipe(recipe, progress=False)
        return trained_model(recipe)

    def __call__(self, model: nn.Module, dataset: Dataset, recipe) -> TrainResult:
        teacher = self.teacher_model()
        return train(model, dataset, recipe.train, loss=kd_loss(teacher, self.alpha, self.temperature))
