"""Recipes of filter-pruned twins (:func:`lenet5_filter_pruned`): one definition, one keep fraction per recipe file."""

from __future__ import annotations

from flow.qat.filter_prune import FilterPrune, PrunePlan, capped, fit_pruned
from flow.qat.models import LENET5_LAYERS, lenet5
from flow.qat.train import TrainConfig
from flow.recipe import HardwareConfig, Recipe

__all__ = ["lenet5_filter_pruned"]


def lenet5_filter_pruned(name: str, keep: float, description: str) -> Recipe:
    """LeNet-5-w4a4 with a fraction ``keep`` of its filters kept: ``lenet5_w4a4`` (same network, data, quantizers
    and its 10 epochs of straight-through QAT), then magnitude filter pruning (:mod:`flow.qat.filter_prune`): in
    conv1, conv2, fc120 and fc84 the filters of smallest L2 norm get exactly zero weights (``max(1, round(keep *
    n))`` of ``n`` kept; fc10's outputs are the logits, never pruned), then 5 epochs of fine-tuning (Adam 1e-3,
    cosine) with them held at zero.

    The exported model keeps LeNet-5's shape; the compile stage removes the zero filters from the hardware (and
    the input columns they fed), folding their constant outputs into the next layer's thresholds: the RTL stays
    bit-exact with the QONNX model. ``train.epochs`` caps each phase (the export test sets it to 1).
    """
    plan = PrunePlan(
        layers={layer: FilterPrune(keep, "magnitude") for layer in LENET5_LAYERS[:-1]},
        pretrain=TrainConfig(epochs=10, batch_size=64, lr=2e-3, optimizer="adam", seed=0),
        finetune=TrainConfig(epochs=5, batch_size=64, lr=1e-3, optimizer="adam", seed=0),
    )

    def build():
        return lenet5("int4", act="uint4", input_act="uint8", logits="int8")

    def fit(model, dataset, recipe):
        return fit_pruned(model, dataset, capped(plan, recipe.train.epochs), seed=recipe.train.seed)

    return Recipe(
        name=name,
        description=description,
        dataset="mnist5k",
        input_shape="image",
        build=build,
        fit=fit,
        train=TrainConfig(epochs=plan.epochs(), batch_size=64, lr=1e-3, optimizer="adam", seed=0),
        hardware=HardwareConfig(default_folding="folded", clock_mhz=200.0, hls={"IOType": "io_stream"}),
    )
