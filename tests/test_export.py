"""QONNX export round trip: for every recipe, QONNX execution equals PyTorch exactly on the test split."""

from dataclasses import replace

import numpy as np
import pytest
import torch
from torch import nn

from flow.errors import ExportError, NotExactError, UnsupportedError
from flow.export import compare_outputs, export_qonnx
from flow.frontend.graph import is_power_of_two, load_qonnx
from flow.qat import QAct, QLinear
from flow.recipe import available_recipes, load_recipe
from flow.reference import Reference
from flow.stages.train import export_recipe, train_recipe

# Recipes whose one-epoch training takes long (ADMM stages, ResNet-8 ~60 s, DS-CNN ~35 s, the pruned LeNet-5
# twins' dense epoch + fine-tuning epoch ~40 s) run in the slow tier.
SLOW_RECIPES = {"lenet5_admm_w1", "resnet8_w4a4", "dscnn_w4a4", "lenet5_w4a4_f75", "lenet5_w4a4_f50",
                "lenet5_w4a4_f25"}


FLOAT_RECIPES = {"lenet5_float"}  # baselines: refused by export (see test below)


@pytest.mark.parametrize(
    "name",
    [
        pytest.param(n, marks=pytest.mark.slow) if n in SLOW_RECIPES else n
        for n in available_recipes()
        if n not in FLOAT_RECIPES
    ],
)
def test_recipe_export_is_exact(name, build_root):
    recipe = load_recipe(name)
    # One short epoch: enough for trained BatchNorm statistics and non-trivial weights.
    recipe = replace(recipe, train=replace(recipe.train, epochs=1))
    train_recipe(recipe, progress=False)
    summary = export_recipe(recipe)
    assert summary["samples"] == {"digits": 360, "mnist5k": 1000}[recipe.dataset]
    assert summary["differing_outputs"] == 0
    assert (build_root / name / "model.qonnx.onnx").is_file()
    assert (build_root / name / "export.json").is_file()


def test_reference_matches_per_sample_execution(tmp_path):
    from qonnx.core.onnx_exec import execute_onnx

    torch.manual_seed(0)
    model = nn.Sequential(
        QAct("uint4"), QLinear(12, 6, "int4"), nn.BatchNorm1d(6), QAct("uint4"), QLinear(6, 3, "int4")
    )
    model.eval()
    wrapper = export_qonnx(model, (12,), tmp_path / "m.onnx")
    x = np.random.default_rng(0).uniform(0, 1, (20, 12)).astype(np.float32)
    batched = Reference(wrapper, chunk=7).run(x)
    single = np.concatenate([execute_onnx(wrapper, {wrapper.graph.input[0].name: x[i : i + 1]})[
        wrapper.graph.output[0].name] for i in range(len(x))])
    assert compare_outputs(batched, single).differing_outputs == 0


def test_non_power_of_two_scale_is_refused(tmp_path):
    from brevitas.nn import QuantLinear
    from brevitas.quant import Int8WeightPerTensorFloat

    model = nn.Sequential(QAct("uint4"), QuantLinear(8, 4, bias=False, weight_quant=Int8WeightPerTensorFloat))
    target = tmp_path / "m.onnx"
    with pytest.raises(NotExactError, match=r"Quant node .*power-of-two scale"):
        export_qonnx(model, (8,), target)
    assert not target.exists()


def test_unsupported_layer_is_refused(tmp_path):
    model = nn.Sequential(QAct("uint4"), QLinear(8, 4, "int4"), nn.Sigmoid())
    with pytest.raises(UnsupportedError, match=r"op type 'Sigmoid'"):
        export_qonnx(model, (8,), tmp_path / "m.onnx")
    assert not (tmp_path / "m.onnx").exists()


def test_corrupt_onnx_file(tmp_path):
    bad = tmp_path / "bad.onnx"
    bad.write_bytes(b"\x00garbage")
    with pytest.raises(ExportError, match=r"bad\.onnx: expected a valid ONNX model"):
        load_qonnx(bad)
    with pytest.raises(ExportError, match="not found"):
        load_qonnx(tmp_path / "absent.onnx")


def test_is_power_of_two():
    assert is_power_of_two(np.array([1.0, 0.5, 2.0**-12, 64.0]))
    assert not is_power_of_two(np.array([0.1]))
    assert not is_power_of_two(np.array([-0.5]))
    assert not is_power_of_two(np.array([0.0]))


def test_float_recipe_export_is_refused(build_root):
    from flow.errors import UnsupportedError

    recipe = load_recipe("lenet5_float")
    recipe = replace(recipe, train=replace(recipe.train, epochs=1))
    train_recipe(recipe, progress=False)
    with pytest.raises(UnsupportedError, match=r"no quantizer .* a float model cannot be exported"):
        export_recipe(recipe)
    assert not (build_root / "lenet5_float" / "model.qonnx.onnx").exists()
