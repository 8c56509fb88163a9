"""cocotb testbench of ``hw/residual/eltwise_add.v`` against :mod:`flow.blocks.eltwise_add`: the sums ``==`` the
golden model while both inputs idle on their own random patterns and the output stalls at random; without
output stalls a pair is taken when its later beat arrives and the sum is valid one cycle later (the timing
model: :func:`~flow.blocks.eltwise_add.join_times`, then one register stage)."""

from __future__ import annotations

import cocotb
import numpy as np
import pytest

from flow.blocks.bits import signed_range, unsigned_range
from flow.blocks.eltwise_add import SPEC, EltwiseAddParams, golden, join_times, pack_inputs, unpack_outputs
from sim.lib.axis import AxisSink, AxisSource, dut_params, start_clock_and_reset
from sim.lib.runner import run_cocotb, sim_build_dir, tb_config

BEATS = 300
NAMES = ("ELEMS", "A_BITS", "A_SIGNED", "A_SHIFT", "B_BITS", "B_SIGNED", "B_SHIFT")


def params_from_dut(dut) -> EltwiseAddParams:
    """The DUT's parameters (``OUT_BITS`` must be the one the model derives)."""
    p = {k.lower(): v for k, v in dut_params(dut, (*NAMES, "OUT_BITS")).items()}
    out_bits = p.pop("out_bits")
    params = EltwiseAddParams(**(p | {"a_signed": bool(p["a_signed"]), "b_signed": bool(p["b_signed"])}))
    assert out_bits == params.out_bits, f"OUT_BITS {out_bits}, model {params.out_bits}"
    return params


def _codes(rng: np.random.Generator, bits: int, signed: bool, n: int) -> np.ndarray:
    lo, hi = signed_range(bits) if signed else unsigned_range(bits)
    return rng.integers(lo, hi + 1, size=n)


async def _run(dut, idle: tuple[float, float], stall: float, seed: int):
    params = params_from_dut(dut)
    rng = np.random.default_rng(seed)
    n = BEATS * params.elems
    a = _codes(rng, params.a_bits, params.a_signed, n)
    b = _codes(rng, params.b_bits, params.b_signed, n)
    for name in ("s0_axis_tvalid", "s1_axis_tvalid"):
        getattr(dut, name).value = 0
    counter = await start_clock_and_reset(dut)
    srcs = [AxisSource(dut, f"s{k}_axis", counter, idle_prob=idle[k], seed=seed + k) for k in (0, 1)]
    sink = AxisSink(dut, "m_axis", counter, stall_prob=stall, seed=seed + 2)
    srcs[0].send(pack_inputs(a, params.a_bits, params.a_signed, params.elems))
    srcs[1].send(pack_inputs(b, params.b_bits, params.b_signed, params.elems))
    await sink.wait_beats(BEATS, 40 * BEATS)
    await counter.wait(20)
    if sink.monitor.errors:
        raise AssertionError("AXI-Stream rule broken:\n" + "\n".join(sink.monitor.errors[:10]))
    got = unpack_outputs(sink.beats, params).reshape(-1)
    want = golden(a, b, params)
    bad = np.flatnonzero(got != want)
    assert len(got) == n and not bad.size, (
        f"eltwise_add: {bad.size} sums differ; first at element {bad[0] if bad.size else '-'}")
    return params, srcs, sink


@cocotb.test()
async def stream_with_stalls(dut) -> None:
    """Input a idles 30 %, input b 60 %, the output stalls 40 %: every sum == golden."""
    await _run(dut, (0.3, 0.6), 0.4, tb_config()["seed"])


@cocotb.test()
async def timing_no_stalls(dut) -> None:
    """Output always ready, inputs idle at random: both beats of a pair are taken together, in the cycle the
    later one is there (not before the previous pair), and the sum is valid one cycle later."""
    seed = tb_config()["seed"] + 9
    params, (sa, sb), sink = await _run(dut, (0.3, 0.5), 0.0, seed)
    assert sa.accept_cycles == sb.accept_cycles, "the two beats of a pair were taken in different cycles"
    model = SPEC.output_times(params, join_times(sa.accept_cycles, sb.accept_cycles))
    assert sink.cycles == model, "output cycles differ from the model"


def _p(elems, a_bits, a_signed, a_shift, b_bits, b_signed, b_shift):
    return EltwiseAddParams(elems, a_bits, a_signed, a_shift, b_bits, b_signed, b_shift)


CASES = [
    pytest.param(_p(2, 4, True, 0, 4, False, 0), id="int4_plus_uint4"),
    pytest.param(_p(3, 4, True, 2, 3, False, 0), id="shift_a_by_2"),
    pytest.param(_p(1, 8, True, 0, 5, True, 3), id="one_lane_shift_b"),
    pytest.param(_p(4, 1, False, 0, 6, True, 1), id="uint1_plus_int6"),
]


@pytest.mark.sim
@pytest.mark.parametrize("params", CASES)
def test_eltwise_add(request: pytest.FixtureRequest, params: EltwiseAddParams) -> None:
    """One Verilator build per case; the cocotb tests above run in it."""
    case = request.node.callspec.id
    run_cocotb("eltwise_add", (*SPEC.sources,), params.verilog_parameters(), sim_build_dir("eltwise_add", case),
               "test_eltwise_add", tb_config={"seed": sum(map(ord, case))}, public=("s0_axis_*", "s1_axis_*"))
