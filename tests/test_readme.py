"""The README's Python API example runs as written."""

import re
from pathlib import Path

README = Path(__file__).resolve().parent.parent / "README.md"


def test_readme_api_example_runs(tmp_path, monkeypatch):
    text = README.read_text()
    section = text.split("## Python API", 1)[1]
    block = re.search(r"```python\n(.*?)```", section, re.S)
    assert block, "README has no python block under '## Python API'"
    code = block.group(1)
    assert len(code.strip().splitlines()) <= 20
    monkeypatch.chdir(tmp_path)
    exec(compile(code, str(README), "exec"), {"__name__": "readme_example"})
    assert (tmp_path / "build/api_example/model.qonnx.onnx").is_file()


def test_readme_admm_example_runs(tmp_path, monkeypatch):
    text = README.read_text()
    section = text.split("### ADMM", 1)[1]
    block = re.search(r"```python\n(.*?)```", section, re.S)
    assert block, "README has no python block under '### ADMM'"
    monkeypatch.chdir(tmp_path)
    namespace: dict = {"__name__": "readme_admm"}
    exec(compile(block.group(1), str(README), "exec"), namespace)
    twin = namespace["exportable"]
    weights = [m.quant_weight().value for m in twin.modules() if hasattr(m, "quant_weight")]
    assert weights and all(set(w.unique().tolist()) <= {-1.0, 1.0} for w in weights)


def test_readme_adder_example_runs(tmp_path, monkeypatch):
    text = README.read_text()
    section = text.split("### AdderNet", 1)[1]
    block = re.search(r"```python\n(.*?)```", section, re.S)
    assert block, "README has no python block under '### AdderNet'"
    monkeypatch.chdir(tmp_path)
    namespace: dict = {"__name__": "readme_adder"}
    exec(compile(block.group(1), str(README), "exec"), namespace)
    assert namespace["result"].test_accuracy > 0.5  # two epochs on digits: far above chance (0.1)
