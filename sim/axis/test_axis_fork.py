"""cocotb testbench of ``hw/axis/axis_fork.v`` against :mod:`flow.blocks.axis_fork`: both outputs carry exactly
the input beats (``==``, in order) while each output stalls on its own random pattern and the input idles at
random; without stalls a beat is valid on both outputs in the cycle it is accepted, one beat per cycle."""

from __future__ import annotations

import random

import cocotb
import pytest

from flow.blocks.axis_fork import HW_SOURCES, AxisForkParams, golden, output_valid_times
from sim.lib.axis import AxisSink, AxisSource, assert_beats_equal, dut_params, start_clock_and_reset
from sim.lib.runner import run_cocotb, sim_build_dir, tb_config

BEATS = 400


async def _run(dut, idle: float, stalls: tuple[float, float], seed: int):
    params = AxisForkParams(**{k.lower(): v for k, v in dut_params(dut, ("WIDTH",)).items()})
    rng = random.Random(seed)
    beats = [rng.getrandbits(params.width) for _ in range(BEATS)]
    for name in ("m0_axis_tready", "m1_axis_tready"):
        getattr(dut, name).value = 0
    counter = await start_clock_and_reset(dut)
    src = AxisSource(dut, "s_axis", counter, idle_prob=idle, seed=seed)
    sinks = [AxisSink(dut, f"m{k}_axis", counter, stall_prob=stalls[k], seed=seed + 1 + k) for k in (0, 1)]
    src.send(beats)
    for sink in sinks:
        await sink.wait_beats(BEATS, 40 * BEATS)
    await counter.wait(20)
    for k, (sink, expected) in enumerate(zip(sinks, golden(beats), strict=True)):
        if sink.monitor.errors:
            raise AssertionError("AXI-Stream rule broken:\n" + "\n".join(sink.monitor.errors[:10]))
        assert_beats_equal(sink.beats, [int(b) for b in expected], 1, f"axis_fork output {k}")
    return params, src, sinks


@cocotb.test()
async def stream_with_stalls(dut) -> None:
    """Input idles 30 %, output 0 stalls 40 %, output 1 stalls 70 %: both outputs == the input."""
    await _run(dut, 0.3, (0.4, 0.7), tb_config()["seed"])


@cocotb.test()
async def timing_no_stalls(dut) -> None:
    """Consumers always ready, input idles 30 %: each beat valid on both outputs in its acceptance cycle (the
    timing model), so back-to-back beats pass one per cycle."""
    seed = tb_config()["seed"] + 5
    params, src, sinks = await _run(dut, 0.3, (0.0, 0.0), seed)
    for sink in sinks:
        assert sink.cycles == output_valid_times(params, src.accept_cycles), "output cycles differ from the model"


CASES = [pytest.param(AxisForkParams(width=1), id="w1"), pytest.param(AxisForkParams(width=37), id="w37")]


@pytest.mark.sim
@pytest.mark.parametrize("params", CASES)
def test_axis_fork(request: pytest.FixtureRequest, params: AxisForkParams) -> None:
    """One Verilator build per case; the cocotb tests above run in it."""
    case = request.node.callspec.id
    run_cocotb("axis_fork", HW_SOURCES, params.verilog_parameters(), sim_build_dir("axis_fork", case),
               "test_axis_fork", tb_config={"seed": sum(map(ord, case))}, public=("m0_axis_*", "m1_axis_*"))
