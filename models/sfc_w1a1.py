"""SFC-w1a1: 784-256-256-256-10, binary weights and activations, BatchNorm (like FINN's SFC), on mnist5k."""

from flow.qat.models import mlp
from flow.qat.train import TrainConfig
from flow.recipe import HardwareConfig, Recipe


def build():
    return mlp([784, 256, 256, 256, 10], weight="binary", act="binary", input_act="binary")


RECIPE = Recipe(
    name="sfc_w1a1",
    description=__doc__,
    dataset="mnist5k",
    input_range=(-1.0, 1.0),
    build=build,
    train=TrainConfig(epochs=10, batch_size=64, lr=1e-2, optimizer="adam", seed=0, logit_scale=0.0625),
    # Fully parallel SFC is too large to verilate comfortably on 2 cores: fold it by default.
    hardware=HardwareConfig(default_folding="folded", clock_mhz=200.0),
)
