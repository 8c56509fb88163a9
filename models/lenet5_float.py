"""LeNet-5 float baseline on mnist5k: conv5x5(6)-pool-conv5x5(16)-pool-fc120-fc84-fc10, BatchNorm after each
weight layer, float weights, ReLU activations, float logits.

The reference point of the ADMM comparison (``bench/admm_accuracy.py``): same network, data, seed and epoch
budget as ``lenet5_admm_w1`` and ``lenet5_ste_w1``. Not exportable to hardware (nothing is quantized).
"""

from flow.qat.models import lenet5
from flow.qat.train import TrainConfig
from flow.recipe import Recipe

EPOCHS = 30  # the comparison's budget, shared by lenet5_ste_w1 and lenet5_admm_w1


def build():
    return lenet5("float", act="float", input_act="float", logits=None)


RECIPE = Recipe(
    name="lenet5_float",
    description=__doc__,
    dataset="mnist5k",
    input_shape="image",
    build=build,
    train=TrainConfig(epochs=EPOCHS, batch_size=64, lr=2e-3, optimizer="adam", seed=0),
)
