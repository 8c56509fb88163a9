"""cocotb testbench of ``hw/thresholding/thresholding.v`` against :func:`flow.blocks.thresholding.golden`.

The pytest entry draws thresholds (including the extreme codes) and direction flags for one curated case,
writes the threshold memory and runs two cocotb tests in one build; both read the parameters back from
the DUT and the thresholds back from the memory file:

* ``stream_with_stalls`` -- random inputs, half of them on or next to a threshold (to hit ``==``), with
  random input idle cycles and output backpressure, compared beat by beat with ``==``;
* ``throughput_no_stalls`` -- one beat per cycle, vectors every ``C/PE`` cycles, latency as documented.
"""

from __future__ import annotations

import cocotb
import numpy as np
import pytest

from flow.blocks.bits import read_mem
from flow.blocks.thresholding import (
    HW_SOURCES,
    ThresholdingParams,
    cycles_per_vector,
    golden,
    output_valid_cycle,
    pack_inputs,
    pack_outputs,
    pack_thresholds,
    unpack_thresholds,
    write_mem,
)
from sim.lib.axis import assert_beats_equal, check_stream_timing, dut_params, run_stream
from sim.lib.runner import run_cocotb, sim_build_dir, tb_config

PARAM_NAMES = ("C", "PE", "IN_BITS", "N_THRESH", "OUT_BITS", "PIPE")


# ---------------------------------------------------------------------------------------------- cocotb side
def params_from_dut(dut, out_bias: int) -> ThresholdingParams:
    """The DUT's parameters (``OUT_BIAS`` may be negative: VPI reads it as unsigned, so it is passed in
    and checked against the DUT modulo 2^32)."""
    p = dut_params(dut, (*PARAM_NAMES, "OUT_BIAS"))
    if p["OUT_BIAS"] % (1 << 32) != out_bias % (1 << 32):
        raise AssertionError(f"OUT_BIAS in the DUT is {p['OUT_BIAS']}, the test expected {out_bias}")
    params = ThresholdingParams(
        c=p["C"],
        pe=p["PE"],
        in_bits=p["IN_BITS"],
        n_thresh=p["N_THRESH"],
        out_bits=p["OUT_BITS"],
        out_bias=out_bias,
        pipe=p["PIPE"],
    )
    params.validate()
    return params


def random_inputs(params: ThresholdingParams, T: np.ndarray, n: int, rng: np.random.Generator) -> np.ndarray:
    """``n`` input vectors; about half of the values sit on a threshold of their channel or next to it."""
    lo, hi = -(1 << (params.in_bits - 1)), (1 << (params.in_bits - 1)) - 1
    x = rng.integers(lo, hi + 1, size=(n, params.c))
    pick = T[np.arange(params.c)[None, :], rng.integers(0, params.n_thresh, size=(n, params.c))]
    near = np.clip(pick + rng.integers(-1, 2, size=(n, params.c)), lo, hi)
    return np.where(rng.random((n, params.c)) < 0.5, near, x)


async def _run(dut, vectors: int, idle: float, stall: float, seed: int):
    cfg = tb_config()
    params = params_from_dut(dut, cfg["out_bias"])
    T, flags = unpack_thresholds(read_mem(cfg["thresh_file"]), params)
    x = random_inputs(params, T, vectors, np.random.default_rng(seed))
    expected = pack_outputs(golden(x, T, flags, params), params)
    src, sink = await run_stream(
        dut,
        pack_inputs(x, params),
        len(expected),
        idle_prob=idle,
        stall_prob=stall,
        seed=seed,
        timeout_cycles=50 * len(expected) + 100,
    )
    assert_beats_equal(sink.beats, expected, params.cf, "thresholding output")
    return params, src, sink


@cocotb.test()
async def stream_with_stalls(dut) -> None:
    """Random inputs with random idle cycles and backpressure."""
    cfg = tb_config()
    await _run(dut, cfg["vectors"], cfg["idle_prob"], cfg["stall_prob"], cfg["seed"])


@cocotb.test()
async def throughput_no_stalls(dut) -> None:
    """One beat per cycle; vectors every C/PE cycles; latency as documented."""
    cfg = tb_config()
    params, src, sink = await _run(dut, 6, 0.0, 0.0, cfg["seed"] + 7)
    check_stream_timing(
        src,
        sink,
        in_beats=params.cf,
        out_beats=params.cf,
        ii=cycles_per_vector(params),
        valid_cycle=lambda cf: output_valid_cycle(params, cf),
    )


# ---------------------------------------------------------------------------------------------- pytest side
CASES = [
    pytest.param(ThresholdingParams(c=16, pe=4, in_bits=8, n_thresh=3, out_bits=2, out_bias=0), id="c16_pe4_in8_t3"),
    pytest.param(ThresholdingParams(c=8, pe=8, in_bits=6, n_thresh=1, out_bits=1, out_bias=0), id="c8_full_bin"),
    pytest.param(
        ThresholdingParams(c=12, pe=3, in_bits=10, n_thresh=7, out_bits=4, out_bias=-4), id="c12_pe3_signed_out"
    ),
    pytest.param(ThresholdingParams(c=6, pe=1, in_bits=5, n_thresh=15, out_bits=4, out_bias=0), id="c6_pe1_t15"),
    # register stages: the ROM word (1), and the comparison results too (2: an 8-deep queue)
    pytest.param(ThresholdingParams(c=12, pe=3, in_bits=10, n_thresh=7, out_bits=4, out_bias=-4, pipe=2),
                 id="c12_pe3_signed_out_pipe2"),
    pytest.param(ThresholdingParams(c=8, pe=2, in_bits=6, n_thresh=1, out_bits=1, out_bias=0, pipe=1),
                 id="c8_pe2_bin_pipe1"),
    pytest.param(ThresholdingParams(c=8, pe=8, in_bits=6, n_thresh=3, out_bits=2, out_bias=0, pipe=2),
                 id="c8_full_t3_pipe2"),
]


def random_tables(params: ThresholdingParams, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Random (unsorted) thresholds including the extreme codes, random direction flags."""
    lo, hi = -(1 << (params.in_bits - 1)), (1 << (params.in_bits - 1)) - 1
    T = rng.integers(lo, hi + 1, size=(params.c, params.n_thresh))
    T.flat[0], T.flat[-1] = lo, hi
    flags = rng.integers(0, 2, size=params.c)
    return T, flags


@pytest.mark.sim
@pytest.mark.parametrize("params", CASES)
def test_thresholding(request: pytest.FixtureRequest, params: ThresholdingParams) -> None:
    """One Verilator build per case; the two cocotb tests above run in it."""
    case = request.node.callspec.id
    seed = sum(map(ord, case))
    T, flags = random_tables(params, np.random.default_rng(seed))
    build_dir = sim_build_dir("thresholding", case)
    thresh_file = build_dir / "thresholds.mem"
    write_mem(thresh_file, pack_thresholds(T, flags, params))
    run_cocotb(
        "thresholding",
        HW_SOURCES,
        params.verilog_parameters(str(thresh_file)),
        build_dir,
        "test_thresholding",
        tb_config={
            "thresh_file": str(thresh_file),
            "out_bias": params.out_bias,
            "seed": seed,
            "vectors": 40,
            "idle_prob": 0.3,
            "stall_prob": 0.4,
        },
    )
