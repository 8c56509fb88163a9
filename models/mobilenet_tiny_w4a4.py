"""MobileNet-tiny-w4a4 on mnist5k (MLPerf Tiny visual-wake-words shape, MobileNetV1 style): strided conv3x3(8) stem,
four depthwise-separable blocks, two with stride-2 depthwise convolutions (28 -> 14 -> 7 -> 4), channels 8 to 64,
global average pool over 4x4, dense classifier; 4-bit weights and activations."""

from flow.qat.tiny_models import mobilenet_tiny
from flow.qat.train import TrainConfig
from flow.recipe import HardwareConfig, Recipe


def build():
    return mobilenet_tiny("int4", act="uint4", input_act="uint8", logits="int8")


RECIPE = Recipe(
    name="mobilenet_tiny_w4a4",
    description=__doc__,
    dataset="mnist5k",
    input_shape="image",
    build=build,
    train=TrainConfig(epochs=10, batch_size=64, lr=2e-3, optimizer="adam", seed=0),
    hardware=HardwareConfig(default_folding="folded", clock_mhz=200.0, hls={"IOType": "io_stream"}),
)
