"""LeNet-5-w1a4 by ADMM on mnist5k: conv5x5(6)-pool-conv5x5(16)-pool-fc120-fc84-fc10, binary weights in every
layer (first and last included), BatchNorm after each, 4-bit unsigned activations, 8-bit input, 8-bit logits.

Training (the recipe's ``fit`` hook): a float-weight twin of the network is trained with ADMM towards
``Binary(per_channel=True)`` on every conv and fc layer (progressive: a 4-bit power-of-two grid stage first),
hard-projected and fine-tuned with the weights frozen; then each channel's scale alpha is folded into the
following BatchNorm (:func:`flow.qat.admm.binary_twin`) and the result, weights exactly +-1, is loaded into the
recipe's model built with qflow binary presets. ``train.epochs`` caps the ADMM iterations per stage and the
fine-tuning epochs (the export test shortens recipes by setting it to 1).
"""

from dataclasses import replace

from torch import nn

from flow.qat.admm import AdmmConfig, Binary, PowerOfTwoGrid, admm_train, binary_twin
from flow.qat.layers import QAct, QConv2d, QLinear
from flow.qat.train import TrainConfig, evaluate, seed_everything
from flow.recipe import HardwareConfig, Recipe

LAYERS = ("1", "5", "10", "13", "16")  # conv1, conv2, fc120, fc84, fc10 in the nn.Sequential below

ADMM = AdmmConfig(
    rho=0.5,
    rho_growth=2.0,
    max_iterations=4,
    inner_epochs=1,
    finetune_epochs=2,
    optimizer="sgd",  # SGD steps shrink with the penalty's gradient; Adam's ~lr-sized steps kept W from Z
    lr=0.05,
    finetune_lr=0.01,
    batch_size=64,
    seed=0,
)


def lenet5(weight: str) -> nn.Sequential:
    """LeNet-5 for 1x28x28 inputs with ``weight`` presets (``"binary"`` for export, ``"float"`` for ADMM)."""
    return nn.Sequential(
        QAct("uint8"),  # 0: input pixels in [0, 1]
        QConv2d(1, 6, 5, weight=weight),  # 1
        nn.BatchNorm2d(6),
        QAct("uint4"),
        nn.MaxPool2d(2),  # 4: 6x12x12
        QConv2d(6, 16, 5, weight=weight),  # 5
        nn.BatchNorm2d(16),
        QAct("uint4"),
        nn.MaxPool2d(2),  # 8: 16x4x4
        nn.Flatten(),
        QLinear(256, 120, weight=weight),  # 10
        nn.BatchNorm1d(120),
        QAct("uint4"),
        QLinear(120, 84, weight=weight),  # 13
        nn.BatchNorm1d(84),
        QAct("uint4"),
        QLinear(84, 10, weight=weight),  # 16
        nn.BatchNorm1d(10),  # absorbs the last layer's alpha
        QAct("int8", max_val=8.0),  # 8-bit logits
    )


def build() -> nn.Module:
    return lenet5("binary")


def fit(model: nn.Module, dataset, recipe: Recipe):
    """ADMM on a float twin, then load its binarized form (weights +-1, alpha in BatchNorm) into ``model``."""
    cap = max(1, recipe.train.epochs)
    config = replace(
        ADMM,
        max_iterations=min(ADMM.max_iterations, cap),
        finetune_epochs=min(ADMM.finetune_epochs, cap),
        seed=recipe.train.seed,
    )
    seed_everything(config.seed, config.threads)
    float_model = lenet5("float")
    schedule = [PowerOfTwoGrid(4), Binary(per_channel=True)][-cap:]  # a 1-epoch cap skips the grid stage
    result = admm_train(float_model, dataset, dict.fromkeys(LAYERS, schedule), config)
    model.load_state_dict(binary_twin(float_model).state_dict())
    result.test_accuracy = evaluate(model, dataset.test)
    result.train_accuracy = evaluate(model, dataset.train)
    return result


RECIPE = Recipe(
    name="lenet5_admm_w1",
    description=__doc__,
    dataset="mnist5k",
    input_shape="image",
    build=build,
    fit=fit,
    # Only epochs (the cap) and seed are read by ``fit``; the rest mirrors ADMM so metrics.json is not misleading.
    train=TrainConfig(epochs=10, batch_size=64, lr=0.05, optimizer="sgd", seed=0),
    hardware=HardwareConfig(default_folding="folded", clock_mhz=200.0),
)
