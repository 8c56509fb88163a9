"""The README's Python API examples run as written."""

import re
from pathlib import Path

README = Path(__file__).resolve().parent.parent / "README.md"


def _example(heading: str) -> str:
    """The first python block after ``heading`` in the README."""
    section = README.read_text().split(heading, 1)[1]
    block = re.search(r"```python\n(.*?)```", section, re.S)
    assert block, f"README has no python block under {heading!r}"
    return block.group(1)


def _run(heading: str, tmp_path, monkeypatch) -> dict:
    """Run the example under ``heading`` in ``tmp_path``; return its namespace."""
    monkeypatch.chdir(tmp_path)
    namespace: dict = {"__name__": "readme_example"}
    exec(compile(_example(heading), str(README), "exec"), namespace)
    return namespace


def test_readme_api_example_runs(tmp_path, monkeypatch):
    assert len(_example("## Python API").strip().splitlines()) <= 20
    _run("## Python API", tmp_path, monkeypatch)
    assert (tmp_path / "build/api_example/model.qonnx.onnx").is_file()


def test_readme_admm_example_runs(tmp_path, monkeypatch):
    twin = _run("### ADMM", tmp_path, monkeypatch)["exportable"]
    weights = [m.quant_weight().value for m in twin.modules() if hasattr(m, "quant_weight")]
    assert weights and all(set(w.unique().tolist()) <= {-1.0, 1.0} for w in weights)


def test_readme_adder_example_runs(tmp_path, monkeypatch):
    result = _run("### AdderNet", tmp_path, monkeypatch)["result"]
    assert result.test_accuracy > 0.5  # two epochs on digits: far above chance (0.1)
