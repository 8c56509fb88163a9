"""MLP-w8a8 on mnist5k: 784-64-64-10, 8-bit weights, 8-bit unsigned (ReLU) activations, 8-bit input."""

from flow.qat.models import mlp
from flow.qat.train import TrainConfig
from flow.recipe import HardwareConfig, Recipe


def build():
    return mlp([784, 64, 64, 10], weight="int8", act="uint8", input_act="uint8", act_max=4.0)


RECIPE = Recipe(
    name="mlp_w8a8_mnist",
    description=__doc__,
    dataset="mnist5k",
    build=build,
    train=TrainConfig(epochs=10, batch_size=64, lr=2e-3, optimizer="adam", seed=0),
    hardware=HardwareConfig(default_folding="folded", clock_mhz=200.0),
)
