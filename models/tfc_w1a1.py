"""TFC-w1a1: 784-64-64-64-10, binary weights and activations, BatchNorm (like FINN's TFC), on mnist5k.

The input is binarized (pixels scaled to [-1, 1], then sign), so every layer is XNOR-popcount.
"""

from flow.qat.models import mlp
from flow.qat.train import TrainConfig
from flow.recipe import HardwareConfig, Recipe


def build():
    return mlp([784, 64, 64, 64, 10], weight="binary", act="binary", input_act="binary")


RECIPE = Recipe(
    name="tfc_w1a1",
    description=__doc__,
    dataset="mnist5k",
    input_range=(-1.0, 1.0),
    build=build,
    train=TrainConfig(epochs=20, batch_size=64, lr=1e-2, optimizer="adam", seed=0, logit_scale=0.125),
    hardware=HardwareConfig(default_folding="folded", clock_mhz=200.0),
)
