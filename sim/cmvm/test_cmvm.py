"""cocotb testbench of a generated ``cmvm`` layer (``flow/blocks/cmvm_verilog.py`` + ``hw/cmvm/cmvm.v``)
against :func:`flow.blocks.cmvm.golden`.

The pytest entry (``test_cmvm``) draws weights for one curated case, sizes ``ACC_BITS`` to their exact interval,
solves the constant matrix (da4ml, cached), writes the layer's module and runs three cocotb tests in one
Verilator build; each reads ``MW``/``MH``/``IN_BITS``/``ACC_BITS`` back from the DUT and the rest of the
parameters and the weights from the files the entry wrote:

* ``stream_with_stalls`` -- random vectors (led by per-channel extreme vectors) with random input idle cycles
  and random output backpressure, compared beat by beat with ``==``;
* ``throughput_no_stalls`` -- back-to-back vectors, always ready: one vector per cycle, each output valid
  ``stages + 1`` cycles after its input (the block's timing model);
* ``capacity`` -- with the output held, the block takes exactly ``stages + 2`` beats (its registers), then
  delivers them in order.
"""

from __future__ import annotations

import dataclasses

import cocotb
import numpy as np
import pytest

from flow.blocks.cmvm import HW_SOURCES, CmvmParams, golden, latency_cycles, layer_params, pack_inputs, verilog
from flow.blocks.mvau import MvauMode, MvauParams, pack_outputs, required_acc_bits
from sim.lib.axis import (
    AxisSink,
    AxisSource,
    assert_beats_equal,
    check_stream_timing,
    dut_params,
    run_stream,
    start_clock_and_reset,
)
from sim.lib.runner import lint, run_cocotb, sim_build_dir, tb_config
from sim.mvau.test_mvau import random_inputs, random_weights


# ---------------------------------------------------------------------------------------------- cocotb side
def _setup(dut) -> tuple[CmvmParams, np.ndarray, dict]:
    """The case's parameters (checked against the DUT's) and weights."""
    cfg = tb_config()
    params = CmvmParams(**{**cfg["params"], "mode": MvauMode[cfg["params"]["mode"]]})
    p = dut_params(dut, ("MW", "MH", "IN_BITS", "ACC_BITS"))
    assert (p["MW"], p["MH"], p["IN_BITS"], p["ACC_BITS"]) == (params.mw, params.mh, params.in_bits, params.acc_bits)
    return params, np.load(cfg["weight_file"]), cfg


@cocotb.test()
async def stream_with_stalls(dut) -> None:
    """Random vectors, random idle cycles on the input, random backpressure on the output."""
    params, W, cfg = _setup(dut)
    x = random_inputs(params.mvau, W, cfg["vectors"], np.random.default_rng(cfg["seed"]))
    expected = pack_outputs(golden(x, W, params), params.mvau)
    _, sink = await run_stream(dut, pack_inputs(x, params), len(expected), idle_prob=cfg["idle_prob"],
                               stall_prob=cfg["stall_prob"], seed=cfg["seed"],
                               timeout_cycles=50 * len(expected) + 100)
    assert_beats_equal(sink.beats, expected, 1, "cmvm output")


@cocotb.test()
async def throughput_no_stalls(dut) -> None:
    """Back-to-back vectors without stalls: one per cycle, each valid ``stages + 1`` cycles after its input."""
    params, W, cfg = _setup(dut)
    x = random_inputs(params.mvau, W, 8, np.random.default_rng(cfg["seed"] + 7))
    expected = pack_outputs(golden(x, W, params), params.mvau)
    src, sink = await run_stream(dut, pack_inputs(x, params), len(expected), idle_prob=0.0, stall_prob=0.0,
                                 seed=cfg["seed"], timeout_cycles=10 * len(expected) + 100)
    assert_beats_equal(sink.beats, expected, 1, "cmvm output")
    check_stream_timing(src, sink, in_beats=1, out_beats=1, ii=1, valid_cycle=lambda b: latency_cycles(params))


@cocotb.test()
async def capacity(dut) -> None:
    """Output held: the input register, the stage registers, the output register and the slice's spare
    register (before the input register or after the output one) fill (``stages + 2`` vectors), no more;
    released, every vector comes out, in order and exact."""
    params, W, cfg = _setup(dut)
    cap = params.stages + 2
    x = random_inputs(params.mvau, W, cap + 3, np.random.default_rng(cfg["seed"] + 11))
    expected = pack_outputs(golden(x, W, params), params.mvau)
    counter = await start_clock_and_reset(dut)
    src = AxisSource(dut, "s_axis", counter, seed=cfg["seed"])
    sink = AxisSink(dut, "m_axis", counter, stall_prob=1.0, seed=cfg["seed"] + 1)
    src.send(pack_inputs(x, params))
    await counter.wait(4 * cap + 10)
    assert len(src.accept_cycles) == cap, f"output held: expected {cap} vectors taken, got {len(src.accept_cycles)}"
    assert not sink.beats, "beats delivered while tready was low"
    sink.stall_prob = 0.0
    await sink.wait_beats(len(expected), 10 * len(expected) + 10)
    assert not sink.monitor.errors, "AXI-Stream rule broken:\n" + "\n".join(sink.monitor.errors[:10])
    assert_beats_equal(sink.beats, expected, 1, "cmvm output after release")


# ---------------------------------------------------------------------------------------------- pytest side
def _case(name: str, mode: MvauMode, mw: int, mh: int, in_bits: int = 1, in_signed: bool = False, w_bits: int = 1,
          fanin: int = 0, vectors: int = 60):
    base = MvauParams(mw=mw, mh=mh, pe=mh, simd=mw, mode=mode, in_bits=in_bits, in_signed=in_signed,
                      w_bits=w_bits, acc_bits=32)
    return pytest.param(base, fanin, vectors, id=name)


X, M, B, BX = MvauMode.XNOR, MvauMode.MAC, MvauMode.BIPOLAR_W, MvauMode.BIPOLAR_X
CASES = [
    _case("xnor_64x16", X, 64, 16),
    _case("xnor_96x12_f8", X, 96, 12, fanin=8),
    _case("mac_u4w4_32x16", M, 32, 16, in_bits=4, w_bits=4),
    _case("mac_u4w4_32x16_f2", M, 32, 16, in_bits=4, w_bits=4, fanin=2),
    _case("mac_s4w3_16x8_f4", M, 16, 8, in_bits=4, in_signed=True, w_bits=3, fanin=4),
    _case("mac_s8w8_8x4", M, 8, 4, in_bits=8, in_signed=True, w_bits=8),
    _case("mac_u2w1_12x6", M, 12, 6, in_bits=2, w_bits=1),
    _case("bipw_s3_18x6_f2", B, 18, 6, in_bits=3, in_signed=True, fanin=2),
    _case("bipw_u4_10x5", B, 10, 5, in_bits=4),
    _case("bipx_w4_20x6_f4", BX, 20, 6, w_bits=4, fanin=4),
    _case("bipx_w2_8x4", BX, 8, 4, w_bits=2),
    _case("mac_u4w2_48x3_f2", M, 48, 3, in_bits=4, w_bits=2, fanin=2),  # wide in, narrow out
]

#: Cases whose output is the narrower side (the register slice after the output register); the others have it
#: before the input register.
OUTPUT_SIDE_SLICE = {"xnor_96x12_f8", "bipw_s3_18x6_f2", "bipw_u4_10x5", "mac_u4w2_48x3_f2"}


@pytest.mark.sim
@pytest.mark.parametrize(("base", "fanin", "vectors"), CASES)
def test_cmvm(request: pytest.FixtureRequest, base: MvauParams, fanin: int, vectors: int) -> None:
    """One Verilator build per case; the three cocotb tests above run in it."""
    case = request.node.callspec.id
    seed = sum(map(ord, case))
    W = random_weights(base, np.random.default_rng(seed))
    base = dataclasses.replace(base, acc_bits=required_acc_bits(W, base))
    params = layer_params(case, W, base, fanin)
    assert params.skid_in == (case not in OUTPUT_SIDE_SLICE), "the case no longer covers the slice side it names"
    build_dir = sim_build_dir("cmvm", case)
    source = build_dir / f"{params.module}.v"
    source.write_text(verilog(params, W))
    weight_file = build_dir / "weights.npy"
    np.save(weight_file, W)
    run_cocotb(
        params.module,
        [*HW_SOURCES, source],
        params.verilog_parameters(),
        build_dir,
        "test_cmvm",
        tb_config={
            "params": {**dataclasses.asdict(params), "mode": params.mode.name},
            "weight_file": str(weight_file),
            "seed": seed,
            "vectors": vectors,
            "idle_prob": 0.3,
            "stall_prob": 0.4,
        },
    )


@pytest.mark.sim
@pytest.mark.parametrize(("base", "fanin", "vectors"), [CASES[1], CASES[4], CASES[9], CASES[11]])
def test_cmvm_lint(request: pytest.FixtureRequest, base: MvauParams, fanin: int, vectors: int) -> None:
    """The generated module passes ``verilator --lint-only -Wall`` (with ``hw/cmvm/cmvm.v``)."""
    case = request.node.callspec.id
    W = random_weights(base, np.random.default_rng(sum(map(ord, case))))
    params = layer_params(case, W, dataclasses.replace(base, acc_bits=required_acc_bits(W, base)), fanin)
    source = sim_build_dir("cmvm_lint", case) / f"{params.module}.v"
    source.write_text(verilog(params, W))
    lint([*HW_SOURCES, source], params.module)
