"""cocotb testbench of ``hw/conv/pad.v`` against :mod:`flow.rtl.ops.pad` (golden model and cycle model).

Back-to-back random images, one Verilator build per parameter case, three cocotb tests in it:

* ``stream_with_stalls`` -- random input idle cycles and output backpressure, beats compared with ``==``;
* ``timing_input_idle`` -- random input idle cycles, output always ready: every output beat is valid exactly
  in the cycle :func:`~flow.rtl.ops.pad.output_valid_times` predicts from the measured input valid times;
* ``throughput_no_stalls`` -- no stalls: valid times as predicted and one image every
  :func:`~flow.rtl.ops.pad.cycles_per_image` cycles (intervals between the images' last output beats).
"""

from __future__ import annotations

import cocotb
import numpy as np
import pytest
from cocotb import start_soon
from cocotb.triggers import ReadOnly, RisingEdge

from flow.rtl.ops.pad import (
    HW_SOURCES,
    PadParams,
    cycles_per_image,
    golden,
    output_valid_times,
    pack_inputs,
    pack_outputs,
)
from sim.lib.axis import AxisSink, AxisSource, assert_beats_equal, dut_params, start_clock_and_reset
from sim.lib.runner import run_cocotb, sim_build_dir, tb_config

PARAM_NAMES = ("IFM_H", "IFM_W", "CH", "SIMD", "PAD_T", "PAD_B", "PAD_L", "PAD_R", "ELEM_BITS")


# ---------------------------------------------------------------------------------------------- cocotb side
def params_from_dut(dut) -> PadParams:
    """The DUT's parameters; ``pad_value`` and ``signed`` come from the test configuration (VPI reads a
    negative ``PAD_VALUE`` as unsigned: checked modulo 2^32)."""
    cfg = tb_config()
    p = {k.lower(): v for k, v in dut_params(dut, PARAM_NAMES).items()}
    params = PadParams(**p, pad_value=cfg["pad_value"], signed=cfg["signed"])
    params.validate()
    got = int(dut.PAD_VALUE.value) % (1 << 32)
    if got != params.verilog_pad_value % (1 << 32):
        raise AssertionError(f"PAD_VALUE in the DUT is {got:#x}, expected {params.verilog_pad_value:#x}")
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
    output accept cycles)."""
    params = params_from_dut(dut)
    rng = np.random.default_rng(seed)
    lo, hi = params.value_range
    x = rng.integers(lo, hi + 1, size=(images, params.ifm_h, params.ifm_w, params.ch))
    x.flat[0], x.flat[-1] = lo, hi  # extreme codes
    in_beats, expected = pack_inputs(x, params), pack_outputs(golden(x, params), params)

    counter = await start_clock_and_reset(dut)
    valid_times: list[int] = []
    start_soon(_record_valid_times(dut, counter, valid_times))
    src = AxisSource(dut, "s_axis", counter, idle_prob=idle, seed=seed)
    sink = AxisSink(dut, "m_axis", counter, stall_prob=stall, seed=seed + 1)
    src.send(in_beats)
    await sink.wait_beats(len(expected), 4 * (len(expected) + len(in_beats)) + 200)
    await counter.wait(20)
    if sink.monitor.errors:
        raise AssertionError("AXI-Stream rule broken:\n" + "\n".join(sink.monitor.errors[:10]))
    assert src.idle, f"{len(src.queue)} input beats never accepted"
    assert_beats_equal(sink.beats, expected, params.cf, "pad output (vector = pixel)")
    return params, valid_times, sink.cycles


def _check_valid_times(params: PadParams, valid_times: list[int], out_cycles: list[int]) -> None:
    predicted = output_valid_times(params, valid_times)
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
    params, valid_times, out_cycles = await _run(dut, cfg["images"], 0.3, 0.0, cfg["seed"] + 3)
    _check_valid_times(params, valid_times, out_cycles)


@cocotb.test()
async def throughput_no_stalls(dut) -> None:
    """No stalls: output valid times == cycle model; one image every cycles_per_image cycles."""
    cfg = tb_config()
    images = cfg["images"] + 1
    params, valid_times, out_cycles = await _run(dut, images, 0.0, 0.0, cfg["seed"] + 7)
    _check_valid_times(params, valid_times, out_cycles)
    ends = out_cycles[params.out_beats - 1 :: params.out_beats]
    intervals = np.diff(ends).tolist()
    ii = cycles_per_image(params)
    assert intervals == [ii] * (images - 1), f"images should finish every {ii} cycles, measured {intervals}"


# ---------------------------------------------------------------------------------------------- pytest side
def _p(h, w, ch, simd, pads, bits, value=0, signed=False):
    """``pads`` = (top, bottom, left, right)."""
    t, b, left, right = pads
    return PadParams(h, w, ch, simd, t, b, left, right, bits, pad_value=value, signed=signed)


CASES = [
    pytest.param(_p(5, 6, 4, 2, (1, 1, 1, 1), 4), 4, id="sym1_5x6x4_simd2"),
    pytest.param(_p(7, 5, 3, 1, (2, 2, 2, 2), 5, 17), 3, id="sym2_7x5x3_value17"),
    pytest.param(_p(4, 5, 6, 3, (0, 2, 1, 0), 6, -5, True), 4, id="asym_tb02_lr10_signed_value-5"),
    pytest.param(_p(3, 4, 2, 2, (3, 1, 0, 2), 3, 7), 4, id="asym_tb31_lr02_value7"),
    pytest.param(_p(6, 4, 4, 1, (0, 0, 0, 0), 4), 4, id="passthrough_6x4x4"),
    pytest.param(_p(28, 28, 1, 1, (2, 2, 2, 2), 8, 0), 2, id="lenet_28x28x1_pad2"),
    pytest.param(_p(1, 1, 2, 1, (1, 0, 2, 1), 40, -1, True), 6, id="pixel_1x1_wide40"),
]


@pytest.mark.sim
@pytest.mark.parametrize(("params", "images"), CASES)
def test_pad(request: pytest.FixtureRequest, params: PadParams, images: int) -> None:
    """One Verilator build per case; the three cocotb tests above run in it."""
    case = request.node.callspec.id
    run_cocotb(
        "pad",
        HW_SOURCES,
        params.verilog_parameters(),
        sim_build_dir("pad", case),
        "test_pad",
        tb_config={
            "seed": sum(map(ord, case)),
            "images": images,
            "pad_value": params.pad_value,
            "signed": params.signed,
        },
    )
