"""pytest setup for the cocotb testbenches: make ``sim.lib`` importable (here and in the simulator)."""

from __future__ import annotations

import sys
from pathlib import Path

_ROOT = str(Path(__file__).resolve().parents[1])
if _ROOT not in sys.path:
    sys.path.insert(0, _ROOT)
