"""cocotb testbench of ``hw/axis/skid_buffer.v``: beats out == beats in (the golden model is the identity)
under random idle cycles and backpressure, capacity 2 (registered tready), one beat per cycle, latency 1."""

from __future__ import annotations

import random

import cocotb
import pytest

from flow.blocks.skid_buffer import HW_SOURCES, SkidBufferParams, capacity, cycles_per_vector, golden, latency_cycles
from sim.lib.axis import assert_beats_equal, check_capacity, check_stream_timing, dut_params, run_stream
from sim.lib.runner import run_cocotb, sim_build_dir, tb_config


def params_from_dut(dut) -> SkidBufferParams:
    """The DUT's parameters."""
    p = dut_params(dut, ("WIDTH",))
    params = SkidBufferParams(width=p["WIDTH"])
    params.validate()
    return params


def _beats(params: SkidBufferParams, n: int, seed: int) -> list[int]:
    rng = random.Random(seed)
    return [rng.getrandbits(params.width) for _ in range(n)]


@cocotb.test()
async def stream_with_stalls(dut) -> None:
    """Random beats, random idle cycles and backpressure."""
    cfg = tb_config()
    params = params_from_dut(dut)
    beats = _beats(params, 300, cfg["seed"])
    _, sink = await run_stream(
        dut, beats, len(beats), idle_prob=0.3, stall_prob=0.4, seed=cfg["seed"], timeout_cycles=20 * len(beats)
    )
    assert_beats_equal(sink.beats, list(golden(beats)), 1, "skid_buffer output")


@cocotb.test()
async def throughput_no_stalls(dut) -> None:
    """One beat per cycle; a beat is valid at the output one cycle after it was accepted."""
    cfg = tb_config()
    params = params_from_dut(dut)
    beats = _beats(params, 50, cfg["seed"] + 7)
    src, sink = await run_stream(
        dut, beats, len(beats), idle_prob=0.0, stall_prob=0.0, seed=cfg["seed"], timeout_cycles=10 * len(beats)
    )
    assert_beats_equal(sink.beats, beats, 1, "skid_buffer output")
    check_stream_timing(
        src,
        sink,
        in_beats=1,
        out_beats=1,
        ii=cycles_per_vector(params),
        valid_cycle=lambda _: latency_cycles(params),
    )


@cocotb.test()
async def holds_capacity(dut) -> None:
    """Exactly 2 beats fit while the output is held."""
    params = params_from_dut(dut)
    await check_capacity(dut, capacity(params), tb_config()["seed"])


CASES = [pytest.param(SkidBufferParams(width=13), id="w13")]


@pytest.mark.sim
@pytest.mark.parametrize("params", CASES)
def test_skid_buffer(request: pytest.FixtureRequest, params: SkidBufferParams) -> None:
    """One Verilator build per case; the cocotb tests above run in it."""
    case = request.node.callspec.id
    run_cocotb(
        "skid_buffer",
        SKID_SOURCES,
        params.verilog_parameters(),
        sim_build_dir("skid_buffer", case),
        "test_skid_buffer",
        tb_config={"seed": sum(map(ord, case))},
    )
