"""LeNet-5-w1a4 by plain straight-through QAT on mnist5k: the network of ``lenet5_admm_w1`` (binary weights in
every layer, BatchNorm after each, 4-bit unsigned activations, 8-bit input and logits), trained directly with
Brevitas' binary weight quantizer (sign in the forward pass, identity gradient) for the same epoch budget.

The STE baseline of the ADMM comparison (``bench/admm_accuracy.py``).
"""

from flow.qat.models import lenet5
from flow.qat.train import TrainConfig
from flow.recipe import HardwareConfig, Recipe

EPOCHS = 30  # = lenet5_float.EPOCHS = lenet5_admm_w1's plan


def build():
    return lenet5("binary")


RECIPE = Recipe(
    name="lenet5_ste_w1",
    description=__doc__,
    dataset="mnist5k",
    input_shape="image",
    build=build,
    train=TrainConfig(epochs=EPOCHS, batch_size=64, lr=2e-3, optimizer="adam", seed=0, logit_scale=1.0),
    hardware=HardwareConfig(default_folding="folded", clock_mhz=200.0, hls={"IOType": "io_stream"}),
)
