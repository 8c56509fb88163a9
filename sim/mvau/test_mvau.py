"""cocotb testbench of ``hw/mvau/mvau.v`` against :func:`flow.blocks.mvau.golden`.

The pytest entry (``test_mvau``) draws weights for one curated parameter case, sizes ``ACC_BITS`` to the
exact interval of those weights (so partial sums wrap and only the final value is exact), writes the
weight ROM and runs two cocotb tests in one Verilator build. Both read the parameters back from the DUT
and the weights back from the ROM file:

* ``stream_with_stalls`` -- random vectors (led by per-channel extreme vectors) with random input idle
  cycles and random output backpressure, compared beat by beat with ``==``;
* ``throughput_no_stalls`` -- back-to-back vectors, always ready: vectors start and finish every
  ``cycles_per_vector`` cycles and each output beat is first valid in ``output_valid_cycle``.
"""

from __future__ import annotations

import dataclasses

import cocotb
import numpy as np
import pytest

from flow.blocks.bits import read_mem
from flow.blocks.mvau import (
    HW_SOURCES,
    MvauMode,
    MvauParams,
    cycles_per_vector,
    golden,
    output_valid_cycle,
    pack_inputs,
    pack_outputs,
    pack_weights,
    required_acc_bits,
    unpack_weights,
    write_mem,
)
from sim.lib.axis import assert_beats_equal, check_stream_timing, dut_params, run_stream
from sim.lib.runner import run_cocotb, sim_build_dir, tb_config

PARAM_NAMES = ("MW", "MH", "PE", "SIMD", "MODE", "IN_BITS", "IN_SIGNED", "W_BITS", "ACC_BITS", "IN_REG", "FANIN",
               "TERM_REG")


# ---------------------------------------------------------------------------------------------- cocotb side
def params_from_dut(dut) -> MvauParams:
    """The DUT's parameters as :class:`MvauParams`."""
    p = dut_params(dut, PARAM_NAMES)
    params = MvauParams(
        mw=p["MW"],
        mh=p["MH"],
        pe=p["PE"],
        simd=p["SIMD"],
        mode=MvauMode(p["MODE"]),
        in_bits=p["IN_BITS"],
        in_signed=bool(p["IN_SIGNED"]),
        w_bits=p["W_BITS"],
        acc_bits=p["ACC_BITS"],
        in_reg=bool(p["IN_REG"]),
        fanin=p["FANIN"],
        term_reg=bool(p["TERM_REG"]),
    )
    params.validate()
    return params


def random_inputs(params: MvauParams, W: np.ndarray, n: int, rng: np.random.Generator) -> np.ndarray:
    """``n`` vectors: first the ones reaching the min and max of two random channels, then random ones."""
    lo, hi = params.x_range
    if params.mode in (MvauMode.XNOR, MvauMode.BIPOLAR_X):
        x = rng.choice(np.array([-1, 1]), size=(n, params.mw))
    else:
        x = rng.integers(lo, hi + 1, size=(n, params.mw))
    extremes = []
    for c in rng.choice(params.mh, size=min(2, params.mh), replace=False):
        w = W[c]
        if params.mode == MvauMode.ADDER:
            extremes += [np.where(np.abs(lo - w) >= np.abs(hi - w), lo, hi), np.clip(w, lo, hi)]
        else:
            extremes += [np.where(w > 0, hi, lo), np.where(w > 0, lo, hi)]
    return np.concatenate([np.array(extremes, dtype=np.int64), x])[:n]


@cocotb.test()
async def stream_with_stalls(dut) -> None:
    """Random vectors, random idle cycles on the input, random backpressure on the output."""
    cfg = tb_config()
    params = params_from_dut(dut)
    W = unpack_weights(read_mem(cfg["weight_file"]), params)
    x = random_inputs(params, W, cfg["vectors"], np.random.default_rng(cfg["seed"]))
    expected = pack_outputs(golden(x, W, params), params)
    _, sink = await run_stream(
        dut,
        pack_inputs(x, params),
        len(expected),
        idle_prob=cfg["idle_prob"],
        stall_prob=cfg["stall_prob"],
        seed=cfg["seed"],
        timeout_cycles=50 * len(expected) * params.sf + 100,
    )
    assert_beats_equal(sink.beats, expected, params.nf, "mvau output")


@cocotb.test()
async def throughput_no_stalls(dut) -> None:
    """Back-to-back vectors without stalls: interval == cycles_per_vector, latency == formula."""
    cfg = tb_config()
    params = params_from_dut(dut)
    W = unpack_weights(read_mem(cfg["weight_file"]), params)
    x = random_inputs(params, W, 6, np.random.default_rng(cfg["seed"] + 7))
    expected = pack_outputs(golden(x, W, params), params)
    src, sink = await run_stream(
        dut,
        pack_inputs(x, params),
        len(expected),
        idle_prob=0.0,
        stall_prob=0.0,
        seed=cfg["seed"],
        timeout_cycles=10 * len(expected) * params.sf + 100,
    )
    assert_beats_equal(sink.beats, expected, params.nf, "mvau output")
    check_stream_timing(
        src,
        sink,
        in_beats=params.sf,
        out_beats=params.nf,
        ii=cycles_per_vector(params),
        valid_cycle=lambda nf: output_valid_cycle(params, nf),
    )


# ---------------------------------------------------------------------------------------------- pytest side
def _case(
    name: str,
    mode: MvauMode,
    mw: int,
    mh: int,
    pe: int,
    simd: int,
    in_bits: int = 1,
    in_signed: bool = False,
    w_bits: int = 1,
    vectors: int = 40,
    in_reg: bool = False,
    fanin: int = 0,
    term_reg: bool = False,
):
    params = MvauParams(
        mw=mw, mh=mh, pe=pe, simd=simd, mode=mode, in_bits=in_bits, in_signed=in_signed, w_bits=w_bits, acc_bits=32,
        in_reg=in_reg, fanin=fanin, term_reg=term_reg,
    )
    return pytest.param(params, vectors, id=name)


X, M, B, A, BX = MvauMode.XNOR, MvauMode.MAC, MvauMode.BIPOLAR_W, MvauMode.ADDER, MvauMode.BIPOLAR_X
CASES = [
    _case("xnor_32x16_pe4_simd8", X, 32, 16, 4, 8),
    _case("xnor_784x64_full", X, 784, 64, 64, 784, vectors=30),
    _case("mac_u4w4_24x12_pe3_simd4", M, 24, 12, 3, 4, in_bits=4, w_bits=4),
    _case("mac_s4w3_16x8_pemh_simd4", M, 16, 8, 8, 4, in_bits=4, in_signed=True, w_bits=3),
    _case("mac_u2w1_12x6_pe2_simdmw", M, 12, 6, 2, 12, in_bits=2, w_bits=1),
    _case("mac_s8w8_8x4_full", M, 8, 4, 4, 8, in_bits=8, in_signed=True, w_bits=8),
    _case("mac_s3w2_5x3_pe1_simd1", M, 5, 3, 1, 1, in_bits=3, in_signed=True, w_bits=2),
    _case("bipw_s3_18x6_pe3_simd6", B, 18, 6, 3, 6, in_bits=3, in_signed=True),
    _case("bipw_u4_10x5_full", B, 10, 5, 5, 10, in_bits=4),
    _case("adder_u4w5_16x8_pe2_simd4", A, 16, 8, 2, 4, in_bits=4, w_bits=5),
    _case("adder_s3w3_6x4_full", A, 6, 4, 4, 6, in_bits=3, in_signed=True, w_bits=3),
    _case("bipx_w4_20x6_pe2_simd5", BX, 20, 6, 2, 5, w_bits=4),
    _case("bipx_w2_8x4_full", BX, 8, 4, 4, 8, w_bits=2),
    _case("bipx_w3_12x3_pe1_simd1", BX, 12, 3, 1, 1, w_bits=3),
    # register stages (IN_REG, FANIN): every mode, uneven last groups, 1 to 4 extra cycles, folded and parallel
    _case("xnor_784x64_full_f8_inreg", X, 784, 64, 64, 784, vectors=30, in_reg=True, fanin=8),
    _case("xnor_96x16_pe4_simd48_f3", X, 96, 16, 4, 48, fanin=3),
    _case("mac_u4w4_64x8_pe2_simd16_f4_inreg", M, 64, 8, 2, 16, in_bits=4, w_bits=4, in_reg=True, fanin=4),
    _case("mac_s4w3_20x6_full_f2", M, 20, 6, 6, 20, in_bits=4, in_signed=True, w_bits=3, fanin=2),
    _case("bipw_s3_18x6_pe3_simd6_f4", B, 18, 6, 3, 6, in_bits=3, in_signed=True, fanin=4),
    _case("adder_u4w5_16x8_pe2_simd8_f2_inreg", A, 16, 8, 2, 8, in_bits=4, w_bits=5, in_reg=True, fanin=2),
    _case("bipx_w4_20x6_pe2_simd10_f3", BX, 20, 6, 2, 10, w_bits=4, fanin=3),
    _case("mac_u2w2_12x4_pe1_simd4_inreg", M, 12, 4, 1, 4, in_bits=2, w_bits=2, in_reg=True),
    _case("mac_s4w4_48x6_pe2_simd16_f4_term_inreg", M, 48, 6, 2, 16, in_bits=4, in_signed=True, w_bits=4,
          in_reg=True, fanin=4, term_reg=True),
    _case("mac_u4w3_12x4_full_f4_term", M, 12, 4, 4, 12, in_bits=4, w_bits=3, fanin=4, term_reg=True),
    _case("mac_u3w3_9x3_pe3_simd3_f4_term", M, 9, 3, 3, 3, in_bits=3, w_bits=3, fanin=4, term_reg=True),
    _case("mac_s4w4_6x4_pe2_simd1_f4_term_inreg", M, 6, 4, 2, 1, in_bits=4, in_signed=True, w_bits=4, fanin=4,
          term_reg=True, in_reg=True),
]


def random_weights(params: MvauParams, rng: np.random.Generator) -> np.ndarray:
    """Weights over the whole legal range of ``params.mode``."""
    lo, hi = params.w_range
    if params.mode in (MvauMode.XNOR, MvauMode.BIPOLAR_W):
        return rng.choice(np.array([-1, 1]), size=(params.mh, params.mw))
    return rng.integers(lo, hi + 1, size=(params.mh, params.mw))


@pytest.mark.sim
@pytest.mark.parametrize(("params", "vectors"), CASES)
def test_mvau(request: pytest.FixtureRequest, params: MvauParams, vectors: int) -> None:
    """One Verilator build per case; the two cocotb tests above run in it."""
    case = request.node.callspec.id
    seed = sum(map(ord, case))
    W = random_weights(params, np.random.default_rng(seed))
    params = dataclasses.replace(params, acc_bits=required_acc_bits(W, params))
    build_dir = sim_build_dir("mvau", case)
    weight_file = build_dir / "weights.mem"
    write_mem(weight_file, pack_weights(W, params))
    run_cocotb(
        "mvau",
        HW_SOURCES,
        params.verilog_parameters(str(weight_file)),
        build_dir,
        "test_mvau",
        tb_config={
            "weight_file": str(weight_file),
            "seed": seed,
            "vectors": vectors,
            "idle_prob": 0.3,
            "stall_prob": 0.4,
        },
    )
