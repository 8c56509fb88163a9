"""TFC-w1a1 by ADMM on mnist5k: the network of ``tfc_w1a1`` (784-64-64-64-10, binary weights in every layer,
first and last included, binary activations and input, BatchNorm after the hidden layers, integer logits),
trained with ADMM instead of the straight-through estimator, so it runs on the same hardware.

Training: a float-weight twin with the same binary activations is trained with progressive ADMM from its initial
weights: 9 iterations of one epoch towards a 4-bit power-of-two grid, then 9 towards ``Binary(per_channel=True)``
in the hidden layers and ``Binary()`` (one alpha) in the output layer; rho 0.005 growing x1.2, Adam 1e-2 on a
cosine schedule per stage, the W-step loss computed on the projected weights (ADMM + straight-through); then
hard-projected and fine-tuned for 2 epochs with the weights frozen; 20 epochs in all, the budget of
``tfc_w1a1``. Seeds 0 / 1 / 2: 0.902 / 0.899 / 0.901, against 0.889 / 0.887 / 0.886 for one binary stage of 18
iterations and 0.864 (seed 0) for 8 epochs of float pretraining, 8 plain ADMM iterations and 4 of fine-tuning.
The hidden layers' alpha is folded into their BatchNorm; the output layer's single alpha is dropped
(logits / alpha: argmax unchanged), leaving weights exactly +-1 everywhere.
"""

from flow.qat.admm import AdmmConfig, Binary, PowerOfTwoGrid
from flow.qat.admm_fit import AdmmPlan, capped, fit_admm, same_schedule
from flow.qat.models import mlp
from flow.qat.train import TrainConfig
from flow.recipe import HardwareConfig, Recipe

LAYERS = ("1", "4", "7", "10")  # the four QLinear modules of the nn.Sequential built by mlp()


def network(weight: str):
    return mlp([784, 64, 64, 64, 10], weight=weight, act="binary", input_act="binary")


PLAN = AdmmPlan(
    twin=lambda: network("float"),
    constraints={
        **same_schedule(LAYERS[:-1], [PowerOfTwoGrid(4), Binary(per_channel=True)]),
        LAYERS[-1]: [PowerOfTwoGrid(4), Binary(per_channel=False)],
    },
    rescale_output=True,
    config=AdmmConfig(
        rho=0.005,
        rho_growth=1.2,
        max_iterations=9,
        inner_epochs=1,
        finetune_epochs=2,
        optimizer="adam",
        lr=1e-2,
        finetune_lr=1e-2,
        batch_size=64,
        quantized_forward=True,
        lr_schedule="cosine",
    ),
    pretrain=None,
)


def build():
    return network("binary")


def fit(model, dataset, recipe):
    return fit_admm(model, dataset, capped(PLAN, recipe.train.epochs), seed=recipe.train.seed)


RECIPE = Recipe(
    name="tfc_admm_w1",
    description=__doc__,
    dataset="mnist5k",
    input_range=(-1.0, 1.0),
    build=build,
    fit=fit,
    train=TrainConfig(epochs=PLAN.epochs(), batch_size=64, lr=1e-3, optimizer="adam", seed=0),
    hardware=HardwareConfig(default_folding="folded", clock_mhz=200.0),
)
