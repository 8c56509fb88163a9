"""cocotb test of the XNOR popcount (MODE 0) of ``hw/mvau/mvau_dot.v`` at SIMD widths around its 64-bit words.

``mvau_dot`` sums MODE 0 a 64-bit word at a time (see the comment in the RTL); the mvau tests only reach
SIMD 8 and 784. ``sim/mvau/mvau_dot_xnor_tb.v`` instantiates it at 1, 2, 63, 64, 65, 128, 129, 784 and 4097
(more than 64 words: the word loop stays a loop in Verilator) and this test compares every instance with
``popcount(~(x ^ w))`` on random, all-equal and all-different inputs. The same widths are linted.
"""

from __future__ import annotations

import random

import cocotb
import pytest
from cocotb.triggers import Timer

from flow.blocks.mvau import HW_SOURCES
from sim.lib.runner import REPO_ROOT, lint, run_cocotb, sim_build_dir

SIMDS = (1, 2, 63, 64, 65, 128, 129, 784, 4097)  # the order of simd_of in the wrapper
ACC = 14
WIDTH = 4160
WRAPPER = REPO_ROOT / "sim" / "mvau" / "mvau_dot_xnor_tb.v"


@cocotb.test()
async def popcount_widths(dut) -> None:
    if int(dut.NT.value) != len(SIMDS) or int(dut.ACC.value) != ACC:
        raise AssertionError("mvau_dot_xnor_tb parameters differ from SIMDS/ACC in the test")
    rng = random.Random(7)
    full = (1 << WIDTH) - 1
    cases = [(0, 0), (0, full), (full, full)]
    for _ in range(60):
        x = rng.getrandbits(WIDTH)
        flips = rng.choice([0, 1, 3, 0.5])  # equal, sparse or dense differences
        if flips == 0.5:
            w = rng.getrandbits(WIDTH)
        else:
            w = x
            for _ in range(flips):
                w ^= 1 << rng.randrange(WIDTH)
        cases.append((x, w))
    for n, (x, w) in enumerate(cases):
        dut.x.value = x
        dut.w.value = w
        await Timer(1, unit="ns")
        dots = int(dut.dots.value)
        for i, simd in enumerate(SIMDS):
            mask = (1 << simd) - 1
            want = bin(~(x ^ w) & mask).count("1")
            got = (dots >> (i * ACC)) & ((1 << ACC) - 1)
            if got != want:
                raise AssertionError(f"case {n}, SIMD={simd}: dot {got}, expected popcount {want}")


@pytest.mark.sim
def test_mvau_dot_xnor_widths() -> None:
    build_dir = sim_build_dir("mvau_dot", "xnor_widths")
    run_cocotb(
        "mvau_dot_xnor_tb",
        [*HW_SOURCES, WRAPPER],
        {"NT": len(SIMDS), "ACC": ACC},
        build_dir,
        "test_mvau_dot",
        public=("x", "w", "dots"),
    )


@pytest.mark.sim
@pytest.mark.parametrize("simd", SIMDS)
def test_mvau_dot_xnor_lint(simd: int) -> None:
    lint(HW_SOURCES, "mvau_dot", {"SIMD": simd, "MODE": 0, "IN_BITS": 1, "W_BITS": 1, "ACC_BITS": ACC})
