"""CLI behaviour: user recipes by path, one-line errors with exit status 2, nothing half-written."""

import subprocess
import sys
import textwrap

import pytest

from flow.cli import main


def test_unknown_recipe_is_one_clear_line(capsys):
    assert main(["train", "no_such_recipe"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1
    assert "recipe 'no_such_recipe' not found" in err[0] and "tfc_w1a1" in err[0]


def test_export_without_checkpoint(capsys, build_root):
    assert main(["export", "mlp_w4a4_digits"]) == 2
    err = capsys.readouterr().err
    assert "model.pt: checkpoint not found" in err
    assert not (build_root / "mlp_w4a4_digits" / "model.qonnx.onnx").exists()


def test_recipe_file_that_is_not_a_recipe(tmp_path, capsys):
    bad = tmp_path / "bad_recipe.py"
    bad.write_text("X = 1\n")
    assert main(["train", str(bad)]) == 2
    assert "expected a module-level 'RECIPE = Recipe(...)'" in capsys.readouterr().err


def test_user_recipe_by_path_trains_and_exports(tmp_path, build_root):
    recipe = tmp_path / "my_recipe.py"
    recipe.write_text(textwrap.dedent('''
        from flow.qat.models import mlp
        from flow.qat.train import TrainConfig
        from flow.recipe import Recipe

        RECIPE = Recipe(name="my_net", dataset="digits",
                        build=lambda: mlp([64, 16, 10], "ternary", "uint4", "uint4"),
                        train=TrainConfig(epochs=1, lr=1e-3))
    '''))
    assert main(["-q", "train", str(recipe)]) == 0
    assert main(["export", str(recipe), "-q"]) == 0
    assert (build_root / "my_net" / "model.qonnx.onnx").is_file()
    assert (build_root / "my_net" / "metrics.json").is_file()


@pytest.mark.parametrize("args", [["--help"], ["recipes"]])
def test_console_script_runs(args):
    out = subprocess.run([sys.executable, "-m", "flow.cli", *args], capture_output=True, text=True, check=True)
    assert out.stdout
