"""Shared fixtures: every test writes its artefacts under a temporary build root."""

from __future__ import annotations

import pytest


@pytest.fixture()
def build_root(tmp_path, monkeypatch):
    """Point ``$QFLOW_BUILD`` at a fresh temporary directory."""
    root = tmp_path / "build"
    monkeypatch.setenv("QFLOW_BUILD", str(root))
    return root
