"""``flow.qat``: quantization-aware training on Brevitas (presets, layers, data, training)."""

from flow.qat.adder import AdderConv2d, AdderLinear
from flow.qat.data import DATASETS, Dataset, Split, load_dataset
from flow.qat.layers import ExactBatchNorm1d, ExactBatchNorm2d, QAct, QConv2d, QLinear
from flow.qat.quant import Kind, QuantSpec, binary, floating, int_, parse, ternary, uint
from flow.qat.train import (
    TrainConfig,
    TrainResult,
    evaluate,
    load_checkpoint,
    predict,
    save_checkpoint,
    seed_everything,
    train,
)

__all__ = [
    "DATASETS",
    "AdderConv2d",
    "AdderLinear",
    "Dataset",
    "ExactBatchNorm1d",
    "ExactBatchNorm2d",
    "Kind",
    "QAct",
    "QConv2d",
    "QLinear",
    "QuantSpec",
    "Split",
    "TrainConfig",
    "TrainResult",
    "binary",
    "evaluate",
    "floating",
    "int_",
    "load_checkpoint",
    "load_dataset",
    "parse",
    "predict",
    "save_checkpoint",
    "seed_everything",
    "ternary",
    "train",
    "uint",
]
