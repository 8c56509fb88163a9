"""CNV-w1a1 for 28x28 mnist5k: a reduced FINN-CNV-style binary net.

conv3x3(32)-conv3x3(32)-maxpool2-conv3x3(64)-conv3x3(64)-maxpool2-fc256-fc10 (28 -> 26 -> 24 -> 12 -> 10 -> 8
-> 4), binary weights in every layer, BatchNorm + binary (sign) activations after every hidden layer, an
8-bit input into the first convolution (binary weights, so add/subtract), integer logits. No padding (a +-1
feature map has no code for 0). FINN's CNV has 64-64-128-128-256-256 channels and 32x32 inputs; the widths are
halved here so that training and simulation fit minutes on 2 cores.
"""

from torch import nn

from flow.qat.layers import QAct, QConv2d, QLinear
from flow.qat.train import TrainConfig
from flow.recipe import HardwareConfig, Recipe


def build() -> nn.Sequential:
    def conv(cin: int, cout: int) -> list[nn.Module]:
        return [QConv2d(cin, cout, 3, weight="binary"), nn.BatchNorm2d(cout), QAct("binary")]

    return nn.Sequential(
        QAct("uint8"),
        *conv(1, 32),
        *conv(32, 32),
        nn.MaxPool2d(2),
        *conv(32, 64),
        *conv(64, 64),
        nn.MaxPool2d(2),
        nn.Flatten(),
        QLinear(64 * 4 * 4, 256, weight="binary"),
        nn.BatchNorm1d(256),
        QAct("binary"),
        QLinear(256, 10, weight="binary"),
    )


RECIPE = Recipe(
    name="cnv_w1a1_mnist",
    description=__doc__,
    dataset="mnist5k",
    input_shape="image",
    build=build,
    train=TrainConfig(epochs=8, batch_size=64, lr=5e-3, optimizer="adam", seed=0, logit_scale=0.0625),
    hardware=HardwareConfig(default_folding="folded", clock_mhz=200.0, hls={"IOType": "io_stream"}),
)
