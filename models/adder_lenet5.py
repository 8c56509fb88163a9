"""AdderNet LeNet-5 on mnist5k: adder conv5x5(6)-pool-adder conv5x5(16)-pool-adder fc120-fc84-fc10 (y = -sum |x - w|,
no multiplier), BatchNorm after every adder layer, 4-bit unsigned activations with each layer's weights on its
input's 4-bit grid (the first layer: 8-bit pixels and 8-bit weights), int8 logits. The CNN twin is
``lenet5_w4a4`` (same shape, 4-bit weights and activations, 8-bit input and logits, same 10 epochs).

Training as in the AdderNet paper: full-precision gradient for W, HardTanh gradient for X, adaptive per-layer
learning rate (eta = 0.1) with SGD (momentum 0.9, cosine schedule).
"""

from flow.qat.models import adder_lenet5
from flow.qat.train import TrainConfig
from flow.recipe import HardwareConfig, Recipe


def build():
    return adder_lenet5(act="uint4", input_act="uint8", act_max=4.0, logits="int8")


RECIPE = Recipe(
    name="adder_lenet5",
    description=__doc__,
    dataset="mnist5k",
    input_shape="image",
    build=build,
    train=TrainConfig(epochs=10, batch_size=64, lr=0.1, optimizer="sgd", seed=0),
    hardware=HardwareConfig(default_folding="folded", clock_mhz=200.0, hls={"IOType": "io_stream"}),
)
