"""Shared fixtures: every test writes its artefacts under a temporary build root."""

from __future__ import annotations

import pytest


@pytest.fixture()
def build_root(tmp_path, monkeypatch):
    """Point ``$QFLOW_BUILD`` at a fresh temporary directory."""
    root = tmp_path / "build"
    monkeypatch.setenv("QFLOW_BUILD", str(root))
    return root


def compile_tiny_mlp(path, folding: str):
    """A seeded 16-8-4 int4 MLP (BatchNorm between), exported to ``path`` (a ``.onnx`` file) and compiled at
    ``folding`` under ``$QFLOW_BUILD``; returns its :class:`~flow.stages.target.Target`."""
    from torch import nn

    from flow.compile.folding import Folding
    from flow.export import export_qonnx
    from flow.qat import QAct, QLinear, seed_everything
    from flow.stages.compile import compile_target
    from flow.stages.target import resolve

    seed_everything(0)
    model = nn.Sequential(QAct("uint4"), QLinear(16, 8, "int4"), nn.BatchNorm1d(8), QAct("uint4"),
                          QLinear(8, 4, "int4")).eval()
    export_qonnx(model, (16,), path)
    target = resolve(path)
    compile_target(target, Folding.parse(folding))
    return target
