"""cocotb testbench of ``hw/conv/maxpool.v`` against :mod:`flow.rtl.ops.maxpool` (golden model, cycle model).

Back-to-back random images, one Verilator build per parameter case, three cocotb tests in it:

* ``stream_with_stalls`` -- random input idle cycles and output backpressure, beats compared with ``==``;
* ``timing_input_idle`` -- random input idle cycles, output always ready: every output beat is valid exactly
  in the cycle :func:`~flow.rtl.ops.maxpool.output_valid_times` predicts from the measured input valid times;
* ``throughput_no_stalls`` -- no stalls: valid times as predicted and one image every
  :func:`~flow.rtl.ops.maxpool.cycles_per_image` cycles (intervals between the images' last output beats).
"""

from __future__ import annotations

import cocotb
import numpy as np
import pytest
from cocotb import start_soon
from cocotb.triggers import ReadOnly, RisingEdge

from flow.rtl.ops.maxpool import (
    HW_SOURCES,
    MaxpoolParams,
    cycles_per_image,
    golden,
    output_valid_times,
    pack_inputs,
    pack_outputs,
)
from sim.lib.axis import AxisSink, AxisSource, assert_beats_equal, dut_params, start_clock_and_reset
from sim.lib.runner import run_cocotb, sim_build_dir, tb_config

PARAM_NAMES = ("IFM_H", "IFM_W", "CH", "SIMD", "K", "ELEM_BITS", "SIGNED")


# ---------------------------------------------------------------------------------------------- cocotb side
def params_from_dut(dut) -> MaxpoolParams:
    """The DUT's parameters."""
    p = {k.lower(): v for k, v in dut_params(dut, PARAM_NAMES).items()}
    params = MaxpoolParams(**(p | {"signed": bool(p["signed"])}))
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
    output accept cycles)."""
    params = params_from_dut(dut)
    rng = np.random.default_rng(seed)
    lo, hi = params.value_range
    x = rng.integers(lo, hi + 1, size=(images, params.ifm_h, params.ifm_w, params.ch))
    x.flat[0], x.flat[-1] = lo, hi  # extreme codes
    if params.elem_bits > 2:  # many ties and near-ties: values from a narrow band half of the time
        mid = rng.integers(lo, hi - 2)
        x = np.where(rng.random(x.shape) < 0.5, rng.integers(mid, mid + 3, size=x.shape), x)
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
    assert_beats_equal(sink.beats, expected, params.cf, "maxpool output (vector = pixel)")
    return params, valid_times, sink.cycles


def _check_valid_times(params: MaxpoolParams, valid_times: list[int], out_cycles: list[int]) -> None:
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
def _p(h, w, ch, simd, k, bits, signed):
    return MaxpoolParams(ifm_h=h, ifm_w=w, ch=ch, simd=simd, k=k, elem_bits=bits, signed=signed)


CASES = [
    pytest.param(_p(7, 5, 4, 2, 2, 4, True), 4, id="k2_signed_drop_7x5x4_simd2"),
    pytest.param(_p(8, 10, 3, 1, 3, 5, False), 4, id="k3_unsigned_drop_8x10x3"),
    pytest.param(_p(9, 9, 4, 4, 3, 6, True), 3, id="k3_signed_9x9x4_simd4"),
    pytest.param(_p(24, 24, 6, 1, 2, 4, False), 1, id="lenet1_24x24x6_k2"),
    pytest.param(_p(8, 8, 16, 4, 2, 8, True), 3, id="lenet2_8x8x16_k2_simd4"),
    pytest.param(_p(6, 6, 8, 8, 2, 1, False), 4, id="bipolar_6x6x8_k2"),
    pytest.param(_p(4, 3, 2, 1, 1, 3, True), 4, id="k1_4x3x2"),
    pytest.param(_p(3, 3, 2, 2, 3, 7, True), 6, id="single_window_3x3x2_k3"),
]


@pytest.mark.sim
@pytest.mark.parametrize(("params", "images"), CASES)
def test_maxpool(request: pytest.FixtureRequest, params: MaxpoolParams, images: int) -> None:
    """One Verilator build per case; the three cocotb tests above run in it."""
    case = request.node.callspec.id
    run_cocotb(
        "maxpool",
        HW_SOURCES,
        params.verilog_parameters(),
        sim_build_dir("maxpool", case),
        "test_maxpool",
        tb_config={"seed": sum(map(ord, case)), "images": images},
    )
