"""MLP-w4a4 on sklearn digits: 64-64-32-10, 4-bit weights, 4-bit unsigned (ReLU) activations, 4-bit input."""

from flow.qat.models import mlp
from flow.qat.train import TrainConfig
from flow.recipe import HardwareConfig, Recipe


def build():
    return mlp([64, 64, 32, 10], weight="int4", act="uint4", input_act="uint4", act_max=2.0)


RECIPE = Recipe(
    name="mlp_w4a4_digits",
    description=__doc__,
    dataset="digits",
    build=build,
    train=TrainConfig(epochs=30, batch_size=32, lr=5e-3, optimizer="adam", seed=0),
    hardware=HardwareConfig(default_folding="folded", clock_mhz=200.0),
)
