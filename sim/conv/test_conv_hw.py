"""Static checks of the convolution blocks in ``hw/conv/``: ``verilator --lint-only -Wall`` on curated parameter
sets (the defaults are linted by ``sim/test_hw_lint.py``) and Yosys ``synth_xilinx`` on one small set each."""

from __future__ import annotations

import json
import shutil
import subprocess

import pytest

from flow.blocks.maxpool import MaxpoolParams
from flow.blocks.pad import PadParams
from flow.blocks.swg import SwgParams
from flow.rtl.yosys import yosys_command
from sim.lib.runner import REPO_ROOT, lint, sim_build_dir

HW_FILES = sorted((REPO_ROOT / "hw").rglob("*.v"))
CONV_DIR = REPO_ROOT / "hw" / "conv"

# parameter sets that reach the corners of each module's generate logic and counter widths
LINT_CASES = {
    "swg": [
        SwgParams(28, 28, 1, 1, 5, 1, 8),
        SwgParams(12, 12, 6, 3, 5, 1, 4),
        SwgParams(8, 8, 2, 1, 1, 1, 4),  # power-of-two buffer depth
        SwgParams(8, 7, 2, 1, 1, 2, 4),  # STRIDE > K
        SwgParams(3, 4, 2, 1, 3, 3, 1),
        SwgParams(1, 1, 1, 1, 1, 1, 1),
        SwgParams(5, 5, 3, 3, 5, 1, 6),
    ],
    "maxpool": [
        MaxpoolParams(24, 24, 6, 1, 2, 8, True),
        MaxpoolParams(8, 8, 16, 4, 2, 8, False),
        MaxpoolParams(2, 2, 1, 1, 2, 1, False),  # one word of partial maxima
        MaxpoolParams(3, 5, 2, 1, 2, 3, True),  # ob passes DEPTH in the dropped column
        MaxpoolParams(4, 3, 2, 1, 1, 3, True),
    ],
    "pad": [
        PadParams(28, 28, 1, 1, 2, 2, 2, 2, 8),
        PadParams(6, 4, 4, 1, 0, 0, 0, 0, 4),
        PadParams(4, 5, 6, 3, 0, 2, 1, 0, 6, pad_value=-5, signed=True),
        PadParams(1, 1, 2, 1, 1, 0, 2, 1, 40, pad_value=-1, signed=True),
    ],
}


@pytest.mark.sim
@pytest.mark.parametrize(
    ("top", "params"),
    [pytest.param(top, p, id=f"{top}-{i}") for top, ps in LINT_CASES.items() for i, p in enumerate(ps)],
)
def test_lint_conv(top: str, params) -> None:
    """Lint-clean under ``-Wall`` for every curated parameter set."""
    lint(HW_FILES, top, params.verilog_parameters(), cwd=CONV_DIR)


# one small parameter set each: Yosys reads the module and maps it (memories included) without complaint
SYNTH_CASES = [
    pytest.param("swg", SwgParams(7, 9, 4, 2, 3, 2, 4), id="swg"),
    pytest.param("maxpool", MaxpoolParams(7, 5, 4, 2, 2, 4, True), id="maxpool"),
    pytest.param("pad", PadParams(5, 6, 4, 2, 1, 2, 0, 1, 4, pad_value=3), id="pad"),
]


def synth_cells(top: str, parameters: dict[str, int], build_dir) -> dict[str, int]:
    """``synth_xilinx`` of ``hw/conv/<top>.v`` with ``parameters``; cell counts by type."""
    shutil.copy(CONV_DIR / f"{top}.v", build_dir / f"{top}.v")  # yowasp sees the working directory only
    chparam = " ".join(f"-set {k} {v}" for k, v in parameters.items())
    script = f"read_verilog {top}.v; chparam {chparam} {top}; synth_xilinx -top {top}; tee -q -o stat.json stat -json"
    cmd, _ = yosys_command()
    proc = subprocess.run(
        [*cmd, "-q", "-l", "synth.log", "-p", script], cwd=build_dir, capture_output=True, text=True, timeout=900
    )
    if proc.returncode != 0:
        raise AssertionError(f"Yosys failed on {top} (see {build_dir / 'synth.log'}):\n{proc.stdout}{proc.stderr}")
    stat = json.loads((build_dir / "stat.json").read_text())
    return {k: int(v) for k, v in stat["design"]["num_cells_by_type"].items()}


@pytest.mark.sim
@pytest.mark.parametrize(("top", "params"), SYNTH_CASES)
def test_synth_conv(top: str, params) -> None:
    """Yosys ``synth_xilinx`` maps the block to 7-series cells: no latches, no unmapped cells."""
    cells = synth_cells(top, params.verilog_parameters(), sim_build_dir("conv_synth", top))
    assert cells, f"{top}: empty netlist"
    unmapped = {k: v for k, v in cells.items() if k.startswith("$") or k.startswith(("LD", "LDC", "LDP"))}
    assert not unmapped, f"{top}: unmapped cells or latches after synth_xilinx: {unmapped}"
    assert any(k.startswith("FD") for k in cells), f"{top}: no flip-flops in {cells}"
