"""LeNet-5-w4a4 on mnist5k: conv5x5(6)-pool-conv5x5(16)-pool-fc120-fc84-fc10, 4-bit weights, BatchNorm after
every weight layer, 4-bit unsigned activations, 8-bit input and 8-bit logits (straight-through QAT)."""

from flow.qat.models import lenet5
from flow.qat.train import TrainConfig
from flow.recipe import HardwareConfig, Recipe


def build():
    return lenet5("int4", act="uint4", input_act="uint8", logits="int8")


RECIPE = Recipe(
    name="lenet5_w4a4",
    description=__doc__,
    dataset="mnist5k",
    input_shape="image",
    build=build,
    train=TrainConfig(epochs=10, batch_size=64, lr=2e-3, optimizer="adam", seed=0),
    hardware=HardwareConfig(default_folding="folded", clock_mhz=200.0, hls={"IOType": "io_stream"}),
)
