"""cocotb testbench of ``hw/mvau/vvau.v`` (the depthwise unit) against :func:`flow.blocks.vvau.golden`.

The pytest entry draws weights for one parameter case, sizes ``ACC_BITS`` to the exact interval of those
weights (the MVAU's interval analysis, per channel), writes the weight ROM and runs two cocotb tests in one
Verilator build: random windows under random input idle cycles and output backpressure, compared with ``==``;
and back-to-back windows without stalls, each output beat valid exactly when
:func:`~flow.blocks.vvau.output_times` says.
"""

from __future__ import annotations

import dataclasses

import cocotb
import numpy as np
import pytest

from flow.blocks import mvau
from flow.blocks.bits import write_mem
from flow.blocks.mvau_params import MvauMode
from flow.blocks.vvau import HW_SOURCES, VvauParams, golden, output_times, pack_inputs, pack_weights, unpack_outputs
from sim.lib.axis import dut_params, run_stream
from sim.lib.runner import run_cocotb, sim_build_dir, tb_config

NAMES = ("CH", "K2", "SIMD", "MODE", "IN_BITS", "IN_SIGNED", "W_BITS", "ACC_BITS")


def params_from_dut(dut) -> VvauParams:
    p = {k.lower(): v for k, v in dut_params(dut, NAMES).items()}
    return VvauParams(**(p | {"mode": MvauMode(p["mode"]), "in_signed": bool(p["in_signed"])}))


def _windows(params: VvauParams, n: int, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    if params.mode in (MvauMode.XNOR, MvauMode.BIPOLAR_X):
        return rng.choice(np.array([-1, 1]), size=(n, params.k2 * params.ch))
    lo, hi = params.lane.x_range
    x = rng.integers(lo, hi + 1, size=(n, params.k2 * params.ch))
    x[0], x[1] = lo, hi  # the extremes first
    return x


def _weights() -> np.ndarray:
    cfg = tb_config()
    return np.asarray(cfg["weights"], dtype=np.int64)


async def _run(dut, windows: int, idle: float, stall: float, seed: int):
    params = params_from_dut(dut)
    W = _weights()
    x = _windows(params, windows, seed)
    src, sink = await run_stream(dut, pack_inputs(x, params), windows * params.cf, idle_prob=idle, stall_prob=stall,
                                 seed=seed, timeout_cycles=60 * windows * params.k2 * params.cf + 200)
    got = unpack_outputs(sink.beats, params)
    want = golden(x, W, params)
    bad = np.argwhere(got != want)
    assert not bad.size, f"vvau: {len(bad)} outputs differ, first at window/channel {bad[0].tolist()}"
    return params, src, sink


@cocotb.test()
async def stream_with_stalls(dut) -> None:
    """Random windows, input idle 30 %, output stalls 40 %: every output == golden."""
    await _run(dut, 40, 0.3, 0.4, tb_config()["seed"])


@cocotb.test()
async def timing_no_stalls(dut) -> None:
    """Back-to-back windows, always ready: one input beat per cycle, outputs valid exactly as modelled."""
    params, src, sink = await _run(dut, 12, 0.0, 0.0, tb_config()["seed"] + 3)
    first = src.accept_cycles[0]
    assert src.accept_cycles == list(range(first, first + len(src.accept_cycles))), "input beats were held back"
    model = [t + first for t in output_times(params, list(range(len(src.accept_cycles))))]
    assert sink.cycles == model, "output cycles differ from the model"


def _p(ch, k2, simd, mode, in_bits, in_signed, w_bits):
    return VvauParams(ch, k2, simd, mode, in_bits, in_signed, w_bits, acc_bits=32)


CASES = [
    pytest.param(_p(8, 9, 2, MvauMode.MAC, 4, False, 4), id="mac_u4w4_8ch_3x3_simd2"),
    pytest.param(_p(6, 9, 6, MvauMode.MAC, 3, True, 3), id="mac_s3w3_6ch_3x3_simd_all"),
    pytest.param(_p(4, 1, 4, MvauMode.MAC, 4, False, 2), id="mac_1x1_one_rom_word"),
    pytest.param(_p(4, 9, 1, MvauMode.BIPOLAR_X, 1, False, 4), id="bipolar_x_4ch_simd1"),
    pytest.param(_p(6, 4, 3, MvauMode.XNOR, 1, False, 1), id="xnor_6ch_2x2_simd3"),
]


@pytest.mark.sim
@pytest.mark.parametrize("params", CASES)
def test_vvau(request: pytest.FixtureRequest, params: VvauParams) -> None:
    """One Verilator build per case; the two cocotb tests above run in it."""
    case = request.node.callspec.id
    seed = sum(map(ord, case))
    W = mvau.random_data(dataclasses.replace(params.lane, mw=params.k2, mh=params.ch), seed)
    twin = dataclasses.replace(params.lane, mw=params.k2, mh=params.ch)
    params = dataclasses.replace(params, acc_bits=mvau.required_acc_bits(W, twin))
    build_dir = sim_build_dir("vvau", case)
    weight_file = build_dir / "weights.mem"
    write_mem(weight_file, pack_weights(W, params))
    run_cocotb("vvau", HW_SOURCES, params.verilog_parameters(str(weight_file)), build_dir, "test_vvau",
               tb_config={"seed": seed, "weights": W.tolist()})
