"""Autoencoder-w8a8 on sklearn digits (MLPerf Tiny anomaly-detection shape): dense 64-32-32-8-32-32-64, BatchNorm
and ReLU after each layer, 8-bit weights and activations, 8-bit input; the output is the reconstruction of the
input (unsigned 8-bit), trained on mean squared error and scored by the reconstruction MSE."""

from flow.qat.tiny_models import autoencoder
from flow.qat.train import TrainConfig
from flow.recipe import HardwareConfig, Recipe


def build():
    return autoencoder(features=64, hidden=(32, 32), bottleneck=8, weight="int8", act="uint8", input_act="uint8",
                       output="uint8")


RECIPE = Recipe(
    name="autoencoder_w8a8",
    description=__doc__,
    dataset="digits",
    task="reconstruct",
    build=build,
    train=TrainConfig(epochs=40, batch_size=32, lr=5e-3, optimizer="adam", seed=0),
    hardware=HardwareConfig(default_folding="folded", clock_mhz=200.0),
)
