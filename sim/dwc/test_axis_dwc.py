"""cocotb testbench of ``hw/dwc/axis_dwc.v`` against :func:`flow.blocks.axis_dwc.repack`.

Random element streams with random idle cycles and backpressure, compared beat by beat with ``==``; and a
run without stalls: groups of ``lcm(IN, OUT)`` elements every ``max(K_UP, K_DOWN)`` cycles once the
converter has filled, the first output beat ``latency_cycles`` after the last input beat of its group.
"""

from __future__ import annotations

import random

import cocotb
import pytest

from flow.blocks.axis_dwc import HW_SOURCES, DwcParams, cycles_per_vector, latency_cycles, repack
from sim.lib.axis import assert_beats_equal, check_stream_timing, dut_params, run_stream
from sim.lib.runner import run_cocotb, sim_build_dir, tb_config


def params_from_dut(dut) -> DwcParams:
    """The DUT's parameters."""
    p = dut_params(dut, ("IN_ELEMS", "OUT_ELEMS", "ELEM_BITS"))
    params = DwcParams(in_elems=p["IN_ELEMS"], out_elems=p["OUT_ELEMS"], elem_bits=p["ELEM_BITS"])
    params.validate()
    return params


def _beats(params: DwcParams, groups: int, seed: int) -> list[int]:
    rng = random.Random(seed)
    return [rng.getrandbits(params.in_elems * params.elem_bits) for _ in range(groups * params.k_up)]


@cocotb.test()
async def stream_with_stalls(dut) -> None:
    """Random beats, random idle cycles and backpressure."""
    cfg = tb_config()
    params = params_from_dut(dut)
    beats = _beats(params, 40, cfg["seed"])
    expected = repack(beats, params)
    _, sink = await run_stream(
        dut, beats, len(expected), idle_prob=0.3, stall_prob=0.4, seed=cfg["seed"], timeout_cycles=30 * len(beats)
    )
    assert_beats_equal(sink.beats, expected, params.k_down, "axis_dwc output")


@cocotb.test()
async def throughput_no_stalls(dut) -> None:
    """Steady state: one group every max(K_UP, K_DOWN) cycles; first-beat latency as documented."""
    cfg = tb_config()
    params = params_from_dut(dut)
    beats = _beats(params, 12, cfg["seed"] + 7)
    expected = repack(beats, params)
    src, sink = await run_stream(
        dut, beats, len(expected), idle_prob=0.0, stall_prob=0.0, seed=cfg["seed"], timeout_cycles=10 * len(beats)
    )
    assert_beats_equal(sink.beats, expected, params.k_down, "axis_dwc output")
    check_stream_timing(
        src,
        sink,
        in_beats=params.k_up,
        out_beats=params.k_down,
        ii=cycles_per_vector(params, params.mid_elems),
        warmup=4,
    )
    measured = sink.cycles[0] - src.accept_cycles[params.k_up - 1]
    assert measured == latency_cycles(params), (
        f"first output beat: latency {measured}, expected {latency_cycles(params)}"
    )


CASES = [
    pytest.param(DwcParams(4, 2, 1), id="down_4to2_b1"),
    pytest.param(DwcParams(1, 8, 3), id="up_1to8_b3"),
    pytest.param(DwcParams(3, 2, 4), id="lcm_3to2_b4"),
    pytest.param(DwcParams(4, 6, 2), id="lcm_4to6_b2"),
    pytest.param(DwcParams(5, 5, 7), id="same_5_b7"),
]


@pytest.mark.sim
@pytest.mark.parametrize("params", CASES)
def test_axis_dwc(request: pytest.FixtureRequest, params: DwcParams) -> None:
    """One Verilator build per case; the cocotb tests above run in it."""
    case = request.node.callspec.id
    run_cocotb(
        "axis_dwc",
        HW_SOURCES,
        params.verilog_parameters(),
        sim_build_dir("axis_dwc", case),
        "test_axis_dwc",
        tb_config={"seed": sum(map(ord, case))},
    )
