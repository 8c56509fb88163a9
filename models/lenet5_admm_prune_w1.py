"""LeNet-5-w1a4, pruned and binarized by ADMM on mnist5k (ADMM-NN-S style joint pruning and quantization).

The network, data and activations of ``lenet5_admm_w1``. Every conv and fc weight ends in
``Intersect(Sparsity(keep), Binary(per_channel=True))``: the ``keep`` largest-magnitude weights of the layer
are +-alpha_c, the rest exactly 0. Progressive schedule: prune to half the weights, then to the final keep
fraction, then binarize the survivors. After the fold of alpha into BatchNorm the weights are {-1, 0, +1}, so
the exported model uses qflow's ``ternary`` preset in those layers (2-bit signed weights in hardware, or
1 bit plus a sparsity mask).

Training as ``lenet5_admm_w1``: from the initial weights, the W-step loss on the projected weights
(ADMM + straight-through), rho 0.005 x1.2, Adam 2e-3 on a cosine schedule restarted at each stage; 3 stages of 9
iterations and 3 epochs of fine-tuning (30 in all). Seeds 0 and 1: 0.980 and 0.974, against 0.968 and 0.967 for
12 epochs of float pretraining, 3 x 4 plain ADMM iterations (rho 0.02 x1.5) and 6 of fine-tuning.
"""

from flow.qat.admm import AdmmConfig, Binary, Intersect, Sparsity
from flow.qat.admm_fit import AdmmPlan, capped, fit_admm, same_schedule
from flow.qat.models import LENET5_LAYERS, lenet5
from flow.qat.train import TrainConfig
from flow.recipe import HardwareConfig, Recipe

KEEP = 0.25  # fraction of weights kept in every layer (75 % pruned)

PLAN = AdmmPlan(
    twin=lambda: lenet5("float"),
    constraints=same_schedule(
        LENET5_LAYERS,
        [
            Sparsity(keep=0.5),
            Sparsity(keep=KEEP),
            Intersect(Sparsity(keep=KEEP), Binary(per_channel=True)),
        ],
    ),
    config=AdmmConfig(
        rho=0.005,
        rho_growth=1.2,
        max_iterations=9,
        inner_epochs=1,
        finetune_epochs=3,
        optimizer="adam",
        lr=2e-3,
        finetune_lr=1e-2,
        batch_size=64,
        quantized_forward=True,
        lr_schedule="cosine",
    ),
    pretrain=None,
)


def build():
    return lenet5("ternary")


def fit(model, dataset, recipe):
    return fit_admm(model, dataset, capped(PLAN, recipe.train.epochs), seed=recipe.train.seed)


RECIPE = Recipe(
    name="lenet5_admm_prune_w1",
    description=__doc__,
    dataset="mnist5k",
    input_shape="image",
    build=build,
    fit=fit,
    train=TrainConfig(epochs=PLAN.epochs(), batch_size=64, lr=1e-3, optimizer="adam", seed=0),
    hardware=HardwareConfig(default_folding="folded", clock_mhz=200.0, hls={"IOType": "io_stream"}),
)
