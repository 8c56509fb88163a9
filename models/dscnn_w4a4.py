"""DS-CNN-w4a4 on mnist5k (MLPerf Tiny keyword-spotting shape): strided conv3x3(32) stem, four depthwise-separable
blocks (depthwise 3x3 + pointwise 1x1, 32 channels, 14x14), global average pool, dense classifier; 4-bit weights and
activations, 8-bit input, 8-bit logits."""

from flow.qat.tiny_models import dscnn
from flow.qat.train import TrainConfig
from flow.recipe import HardwareConfig, Recipe


def build():
    return dscnn("int4", act="uint4", input_act="uint8", logits="int8")


RECIPE = Recipe(
    name="dscnn_w4a4",
    description=__doc__,
    dataset="mnist5k",
    input_shape="image",
    build=build,
    train=TrainConfig(epochs=10, batch_size=64, lr=2e-3, optimizer="adam", seed=0),
    hardware=HardwareConfig(default_folding="folded", clock_mhz=200.0, hls={"IOType": "io_stream"}),
)
