"""ResNet-8-w4a4 on mnist5k (MLPerf Tiny image-classification shape): conv3x3(16) stem, three residual stages (16, 32
stride 2, 64 stride 2; 1x1 strided shortcuts), global average pool over 7x7, dense classifier; 4-bit weights and
activations, 8-bit input, 8-bit logits."""

from flow.qat.tiny_models import resnet8
from flow.qat.train import TrainConfig
from flow.recipe import HardwareConfig, Recipe


def build():
    return resnet8("int4", act="uint4", input_act="uint8", logits="int8")


RECIPE = Recipe(
    name="resnet8_w4a4",
    description=__doc__,
    dataset="mnist5k",
    input_shape="image",
    build=build,
    train=TrainConfig(epochs=10, batch_size=64, lr=2e-3, optimizer="adam", seed=0),
    hardware=HardwareConfig(default_folding="folded", clock_mhz=200.0, hls={"IOType": "io_stream"}),
)
