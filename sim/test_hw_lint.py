"""``verilator --lint-only -Wall`` on every ``hw/**/*.v`` module: defaults and curated parameter sets.

Every file holds one module named after the file; all of ``hw/`` is passed so submodules resolve.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from sim.lib.runner import REPO_ROOT, lint

HW_FILES = sorted((REPO_ROOT / "hw").rglob("*.v"))

# parameter sets that reach the corners of each module's generate logic
CONFIGS: dict[str, list[dict[str, int]]] = {
    "mvau": [
        {"MW": 784, "MH": 64, "PE": 64, "SIMD": 784, "MODE": 0, "IN_BITS": 1, "W_BITS": 1, "ACC_BITS": 11},
        {"MW": 8, "MH": 4, "PE": 1, "SIMD": 1, "MODE": 0, "IN_BITS": 1, "W_BITS": 1, "ACC_BITS": 40},
        {"MW": 8, "MH": 4, "PE": 2, "SIMD": 3, "MODE": 1, "IN_BITS": 3, "W_BITS": 1, "ACC_BITS": 3},
        {"MW": 9, "MH": 4, "PE": 2, "SIMD": 3, "MODE": 1, "IN_BITS": 3, "IN_SIGNED": 1, "W_BITS": 2, "ACC_BITS": 40},
        {"MW": 9, "MH": 4, "PE": 2, "SIMD": 3, "MODE": 2, "IN_BITS": 3, "IN_SIGNED": 1, "W_BITS": 1, "ACC_BITS": 8},
        {"MW": 9, "MH": 4, "PE": 2, "SIMD": 9, "MODE": 3, "IN_BITS": 3, "W_BITS": 5, "ACC_BITS": 9},
        {"MW": 9, "MH": 4, "PE": 4, "SIMD": 1, "MODE": 3, "IN_BITS": 3, "IN_SIGNED": 1, "W_BITS": 2, "ACC_BITS": 4},
        # register stages: an XNOR tree of 4 levels with the ROM register, a 2-level MAC tree without it
        {"MW": 784, "MH": 64, "PE": 1, "SIMD": 784, "MODE": 0, "IN_BITS": 1, "W_BITS": 1, "ACC_BITS": 11,
         "IN_REG": 1, "FANIN": 8},
        {"MW": 18, "MH": 4, "PE": 2, "SIMD": 9, "MODE": 1, "IN_BITS": 3, "W_BITS": 2, "ACC_BITS": 9, "FANIN": 3},
        {"MW": 48, "MH": 8, "PE": 2, "SIMD": 16, "MODE": 1, "IN_BITS": 4, "W_BITS": 4, "ACC_BITS": 14, "FANIN": 4,
         "TERM_REG": 1, "IN_REG": 1},
    ],
    "mvau_tree": [
        {"SIMD": 5, "MODE": 4, "IN_BITS": 1, "W_BITS": 3, "ACC_BITS": 6, "FANIN": 2},
        {"SIMD": 100, "MODE": 3, "IN_BITS": 4, "W_BITS": 4, "ACC_BITS": 20, "FANIN": 7},
    ],
    "thresholding": [
        {"C": 8, "PE": 8, "IN_BITS": 6, "N_THRESH": 1, "OUT_BITS": 1, "OUT_BIAS": 0},
        {"C": 12, "PE": 3, "IN_BITS": 10, "N_THRESH": 7, "OUT_BITS": 4, "OUT_BIAS": -4},
        {"C": 6, "PE": 1, "IN_BITS": 5, "N_THRESH": 15, "OUT_BITS": 4, "OUT_BIAS": 0},
        {"C": 6, "PE": 1, "IN_BITS": 5, "N_THRESH": 15, "OUT_BITS": 4, "OUT_BIAS": 0, "PIPE": 2},
        {"C": 8, "PE": 8, "IN_BITS": 6, "N_THRESH": 1, "OUT_BITS": 1, "OUT_BIAS": 0, "PIPE": 1},
    ],
    "axis_dwc": [
        {"IN_ELEMS": i, "OUT_ELEMS": o, "ELEM_BITS": b}
        for i, o, b in [(4, 2, 1), (1, 8, 3), (3, 2, 4), (4, 6, 2), (5, 5, 7), (8, 1, 2), (28, 784, 1), (1, 2, 4)]
    ],
    "axis_fifo": [{"WIDTH": 1, "DEPTH": 2}, {"WIDTH": 37, "DEPTH": 64}],
    "cmvm": [{"IN_WIDTH": 1, "OUT_WIDTH": 2, "STAGES": 1}, {"IN_WIDTH": 784, "OUT_WIDTH": 640, "STAGES": 4},
             {"IN_WIDTH": 8, "OUT_WIDTH": 64, "STAGES": 1, "SKID_IN": 1},
             {"IN_WIDTH": 256, "OUT_WIDTH": 768, "STAGES": 3, "SKID_IN": 1}],
    "qflow_rom": [{"WIDTH": 1, "DEPTH": 2, "AW": 1}, {"WIDTH": 3136, "DEPTH": 64, "AW": 6},
                  {"WIDTH": 7, "DEPTH": 5, "AW": 3}],
    "skid_buffer": [{"WIDTH": 1}],
    "vvau": [
        {"CH": 8, "K2": 9, "SIMD": 2, "MODE": 1, "IN_BITS": 4, "W_BITS": 4, "ACC_BITS": 12},
        {"CH": 4, "K2": 1, "SIMD": 4, "MODE": 1, "IN_BITS": 4, "W_BITS": 4, "ACC_BITS": 9},
        {"CH": 6, "K2": 4, "SIMD": 3, "MODE": 0, "IN_BITS": 1, "W_BITS": 1, "ACC_BITS": 4},
        {"CH": 6, "K2": 9, "SIMD": 1, "MODE": 4, "IN_BITS": 1, "W_BITS": 4, "ACC_BITS": 8},
    ],
    "eltwise_add": [
        {"ELEMS": 1, "A_BITS": 1, "A_SIGNED": 0, "A_SHIFT": 0, "B_BITS": 8, "B_SIGNED": 1, "B_SHIFT": 2,
         "OUT_BITS": 11},
        {"ELEMS": 16, "A_BITS": 4, "A_SIGNED": 1, "A_SHIFT": 3, "B_BITS": 4, "B_SIGNED": 0, "B_SHIFT": 0,
         "OUT_BITS": 9},
    ],
}

_BY_STEM = {f.stem: f for f in HW_FILES}

CASES = [pytest.param(f, {}, id=f.stem) for f in HW_FILES] + [
    pytest.param(_BY_STEM[top], cfg, id=f"{top}-{i}") for top, cfgs in CONFIGS.items() for i, cfg in enumerate(cfgs)
]


@pytest.mark.sim
@pytest.mark.parametrize(("path", "parameters"), CASES)
def test_lint(path: Path, parameters: dict[str, int]) -> None:
    """Lint-clean under ``-Wall``, no waivers beyond the ``_unused*`` naming convention."""
    lint(HW_FILES, path.stem, parameters, cwd=path.parent)
