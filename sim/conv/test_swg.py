"""cocotb testbench of ``hw/conv/swg.v`` against :mod:`flow.rtl.ops.swg` (golden model and cycle model).

Back-to-back random images, one Verilator build per parameter case, three cocotb tests in it:

* ``stream_with_stalls`` -- random input idle cycles and output backpressure, beats compared with ``==``;
* ``timing_input_idle`` -- random input idle cycles, output always ready: every output beat is valid exactly
  in the cycle :func:`~flow.rtl.ops.swg.output_valid_times` predicts from the measured input valid times,
  every input beat accepted in the cycle :func:`~flow.rtl.ops.swg.simulate` predicts;
* ``throughput_no_stalls`` -- no stalls: valid times as predicted and one image every
  :func:`~flow.rtl.ops.swg.cycles_per_image` cycles (intervals between the images' last output beats).
"""

from __future__ import annotations

import cocotb
import numpy as np
import pytest
from cocotb import start_soon
from cocotb.triggers import ReadOnly, RisingEdge

from flow.rtl.ops.swg import (
    HW_SOURCES,
    SwgParams,
    cycles_per_image,
    golden,
    output_valid_times,
    pack_inputs,
    pack_outputs,
    simulate,
)
from sim.lib.axis import AxisSink, AxisSource, assert_beats_equal, dut_params, start_clock_and_reset
from sim.lib.runner import run_cocotb, sim_build_dir, tb_config

PARAM_NAMES = ("IFM_H", "IFM_W", "CH", "SIMD", "K", "STRIDE", "ELEM_BITS")


# ---------------------------------------------------------------------------------------------- cocotb side
def params_from_dut(dut, signed: bool) -> SwgParams:
    """The DUT's parameters (``signed`` only says how test values are drawn: the block moves bits)."""
    p = {k.lower(): v for k, v in dut_params(dut, PARAM_NAMES).items()}
    params = SwgParams(**p, signed=signed)
    params.validate()
    return params


async def _record_valid_times(dut, counter, times: list[int]) -> None:
    """Passively record the cycle in which each ``s_axis`` beat is first offered (tvalid high)."""
    pending = False
    while True:
        await ReadOnly()
        valid, ready = bool(dut.s_axis_tvalid.value), bool(dut.s_axis_tready.value)
        if valid and not pending:
            times.append(counter.cycle)
        pending = valid and not ready
        await RisingEdge(dut.clk)


async def _run(dut, images: int, idle: float, stall: float, seed: int):
    """Stream ``images`` random images; check beats with ``==``; return (params, input valid times,
    input accept cycles, output accept cycles)."""
    cfg = tb_config()
    params = params_from_dut(dut, cfg["signed"])
    rng = np.random.default_rng(seed)
    lo, hi = params.value_range
    x = rng.integers(lo, hi + 1, size=(images, params.ifm_h, params.ifm_w, params.ch))
    in_beats, expected = pack_inputs(x, params), pack_outputs(golden(x, params), params)

    counter = await start_clock_and_reset(dut)
    valid_times: list[int] = []
    start_soon(_record_valid_times(dut, counter, valid_times))
    src = AxisSource(dut, "s_axis", counter, idle_prob=idle, seed=seed)
    sink = AxisSink(dut, "m_axis", counter, stall_prob=stall, seed=seed + 1)
    src.send(in_beats)
    await sink.wait_beats(len(expected), 4 * (len(expected) + len(in_beats)) + 200)
    for _ in range(4 * len(in_beats)):  # trailing dropped rows/columns may follow the last output beat
        if src.idle:
            break
        await counter.wait(1)
    await counter.wait(20)
    if sink.monitor.errors:
        raise AssertionError("AXI-Stream rule broken:\n" + "\n".join(sink.monitor.errors[:10]))
    assert src.idle, f"{len(src.queue)} input beats never accepted"
    assert_beats_equal(sink.beats, expected, params.window_beats, "swg output (vector = window)")
    return params, valid_times, src.accept_cycles, sink.cycles


def _check_timing(params: SwgParams, valid_times: list[int], in_cycles: list[int], out_cycles: list[int]) -> None:
    """Input accept cycles == :func:`simulate`, output valid cycles == :func:`output_valid_times`."""
    accepted, predicted = simulate(params, valid_times)
    assert predicted == output_valid_times(params, valid_times)
    for i, (m, p) in enumerate(zip(in_cycles, accepted, strict=True)):
        if m != p:
            img, b = divmod(i, params.in_beats)
            raise AssertionError(f"image {img} input beat {b}: accepted in cycle {m}, model predicts {p}")
    for i, (m, p) in enumerate(zip(out_cycles, predicted, strict=True)):
        if m != p:
            img, b = divmod(i, params.out_beats)
            raise AssertionError(f"image {img} output beat {b}: valid in cycle {m}, model predicts {p}")


@cocotb.test()
async def stream_with_stalls(dut) -> None:
    """Random images, random idle cycles and backpressure."""
    cfg = tb_config()
    await _run(dut, cfg["images"], 0.3, 0.4, cfg["seed"])


@cocotb.test()
async def timing_input_idle(dut) -> None:
    """Random input idle cycles, output always ready: output valid times == cycle model."""
    cfg = tb_config()
    params, valid_times, in_cycles, out_cycles = await _run(dut, cfg["images"], 0.3, 0.0, cfg["seed"] + 3)
    _check_timing(params, valid_times, in_cycles, out_cycles)


@cocotb.test()
async def throughput_no_stalls(dut) -> None:
    """No stalls: output valid times == cycle model; one image every cycles_per_image cycles."""
    cfg = tb_config()
    images = cfg["images"] + 1
    params, valid_times, in_cycles, out_cycles = await _run(dut, images, 0.0, 0.0, cfg["seed"] + 7)
    _check_timing(params, valid_times, in_cycles, out_cycles)
    ends = out_cycles[params.out_beats - 1 :: params.out_beats]
    intervals = np.diff(ends).tolist()
    ii = cycles_per_image(params)
    assert intervals == [ii] * (images - 1), f"images should finish every {ii} cycles, measured {intervals}"


# ---------------------------------------------------------------------------------------------- pytest side
def _p(h, w, ch, simd, k, s, bits, signed=False):
    return SwgParams(ifm_h=h, ifm_w=w, ch=ch, simd=simd, k=k, stride=s, elem_bits=bits, signed=signed)


CASES = [
    pytest.param(_p(28, 28, 1, 1, 5, 1, 8), 1, id="lenet1_28x28x1_k5"),
    pytest.param(_p(12, 12, 6, 6, 5, 1, 4, signed=True), 3, id="lenet2_12x12x6_k5_simd6"),
    pytest.param(_p(12, 12, 6, 3, 5, 1, 2), 3, id="lenet2_12x12x6_k5_simd3"),
    pytest.param(_p(7, 9, 4, 2, 3, 2, 4), 3, id="odd_7x9x4_k3_s2"),
    pytest.param(_p(8, 10, 2, 1, 3, 2, 3), 3, id="drop_8x10x2_k3_s2"),
    pytest.param(_p(11, 9, 2, 2, 5, 2, 5), 3, id="k5_s2_11x9x2"),
    pytest.param(_p(5, 6, 4, 4, 1, 1, 3), 3, id="k1_s1_5x6x4"),
    pytest.param(_p(8, 7, 2, 1, 1, 2, 4), 3, id="k1_s2_drop_8x7x2"),
    pytest.param(_p(5, 5, 3, 3, 5, 1, 6), 4, id="single_window_5x5x3_k5"),
    pytest.param(_p(3, 4, 2, 1, 3, 3, 1), 4, id="single_row_3x4x2_k3_s3"),
]


@pytest.mark.sim
@pytest.mark.parametrize(("params", "images"), CASES)
def test_swg(request: pytest.FixtureRequest, params: SwgParams, images: int) -> None:
    """One Verilator build per case; the three cocotb tests above run in it."""
    case = request.node.callspec.id
    run_cocotb(
        "swg",
        HW_SOURCES,
        params.verilog_parameters(),
        sim_build_dir("swg", case),
        "test_swg",
        tb_config={"seed": sum(map(ord, case)), "images": images, "signed": params.signed},
    )
