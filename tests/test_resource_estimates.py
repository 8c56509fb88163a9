"""Analytical resource estimates (flow/estimate/resources.py and each block's ``estimate_resources``).

Fast tests check the formulas against Yosys counts measured once on calibration points (flip-flops and
memories that the RTL's structure fixes exactly), the memory-mapping decisions, monotonicity in the folding,
and the network sum. The slow test synthesizes validation points -- never used to fit the constants -- and
checks the LUT and FF errors against the bound stated in ``BOUND``.
"""

from __future__ import annotations

import numpy as np
import pytest

from flow.blocks import dwc, fifo, mvau, thresholding
from flow.blocks.axis_dwc import DwcParams
from flow.blocks.axis_fifo import AxisFifoParams
from flow.blocks.mvau import MvauMode, MvauParams
from flow.blocks.skid_buffer import SkidBufferParams
from flow.blocks.thresholding import ThresholdingParams
from flow.compile.network import IntType, MatVec, Network, Thresholds
from flow.estimate.resources import (
    RESOURCE_KEYS,
    Resources,
    compare,
    estimate_block,
    estimate_network,
    map_memory,
    relative_error,
    synth_block,
)
from flow.rtl.generate import plan

# Yosys synth_xilinx counts measured on calibration points (bench/resource_estimates.py): (FF, LUTRAM, BRAM18).
FIFO_MEASURED = {
    (4, 32): (17, 1, 0), (16, 64): (20, 6, 0), (8, 128): (23, 6, 0), (4, 256): (26, 8, 0), (2, 1024): (32, 16, 0),
    (24, 256): (43, 0, 1), (32, 1024): (55, 0, 2), (64, 2): (5, 11, 0), (128, 2): (5, 22, 0), (8, 2): (21, 0, 0),
    (12, 512): (33, 0, 1),
}
DWC_MEASURED_FF = {
    (1, 64, 1): 134, (64, 1, 1): 71, (1, 32, 4): 258, (32, 1, 4): 134, (4, 8, 2): 26, (8, 4, 2): 18, (2, 3, 4): 69,
    (16, 64, 1): 115, (2, 8, 4): 59, (8, 2, 8): 67, (3, 2, 4): 65,
}


@pytest.mark.parametrize(("width", "depth"), sorted(FIFO_MEASURED))
def test_fifo_flip_flops_and_memories_are_exact(width, depth):
    est = fifo.estimate_resources(AxisFifoParams(width, depth))
    assert (est.ff, est.lutram, est.bram18) == FIFO_MEASURED[(width, depth)]


@pytest.mark.parametrize("shape", sorted(DWC_MEASURED_FF))
def test_width_converter_flip_flops_are_exact(shape):
    assert dwc.estimate_resources(DwcParams(*shape)).ff == DWC_MEASURED_FF[shape]


def test_skid_buffer_is_exact():
    assert fifo.estimate_resources(SkidBufferParams(8)) == Resources(lut=12, ff=18)
    assert fifo.estimate_resources(SkidBufferParams(64)) == Resources(lut=68, ff=130)


def _mvau(mw, mh, pe, simd, mode=MvauMode.MAC, in_bits=4, w_bits=4, acc=12):
    return MvauParams(mw, mh, pe, simd, mode, in_bits, mode == MvauMode.XNOR, w_bits, acc)


@pytest.mark.parametrize(
    ("params", "ff"),
    [  # measured; the estimate counts the RTL's registers (+2), weights seeded random as in the synthesis
        (_mvau(32, 16, 4, 8), 230),
        (_mvau(64, 16, 1, 16, acc=13), 167),
        (_mvau(32, 16, 4, 8, MvauMode.XNOR, 1, 1, 7), 90),
        (_mvau(9, 32, 32, 1, MvauMode.BIPOLAR_W, 8, 1), 444),
        (_mvau(16, 8, 8, 16, MvauMode.ADDER, acc=10), 76),
    ],
)
def test_mvau_flip_flops_match_the_rtl_registers(params, ff):
    assert mvau.estimate_resources(params).ff == ff


def test_memory_mapping_follows_yosys_costs():
    assert map_memory(512, 16, rom=True).kind == "logic"  # 8192 bits / 64 = 128 < one RAMB18 (129)
    assert map_memory(8192, 4, rom=True) == map_memory(8192, 4, rom=True) and \
        map_memory(8192, 4, rom=True).bram18 == 2
    assert map_memory(4, 1).kind == "logic"  # 4 bits in flip-flops beat one LUT RAM cell
    lutram = map_memory(256, 4)
    assert (lutram.kind, lutram.lutram, lutram.banks) == ("lutram", 8, 4)
    assert map_memory(256, 24).kind == "bram"
    assert map_memory(40, 64, sync_read=True).kind == "lutram"  # 22 cells beat two RAMB18 (64 bits wide)


@pytest.mark.parametrize("mode", list(MvauMode))
def test_mvau_luts_grow_with_pe_and_simd(mode):
    bits = {MvauMode.XNOR: (1, 1), MvauMode.MAC: (4, 4), MvauMode.BIPOLAR_W: (4, 1), MvauMode.ADDER: (4, 4)}[mode]

    def lut(pe, simd):
        return mvau.estimate_resources(_mvau(64, 16, pe, simd, mode, *bits, acc=12)).lut

    # weights from the ROM throughout (NF*SF >= 2); the ROM holds the same MH*MW weights whatever the folding
    pes = [lut(pe, 16) for pe in (1, 2, 4, 8)]
    simds = [lut(2, simd) for simd in (1, 2, 4, 8, 16, 32)]
    assert pes == sorted(pes) and len(set(pes)) == len(pes)
    assert simds == sorted(simds) and len(set(simds)) == len(simds)


def test_thresholding_luts_grow_with_pe_and_thresholds():
    def lut(pe, n):
        return thresholding.estimate_resources(ThresholdingParams(64, pe, 10, n, 4, 0)).lut

    assert lut(1, 15) < lut(2, 15) < lut(4, 15) < lut(8, 15)
    assert lut(4, 1) < lut(4, 3) < lut(4, 7) < lut(4, 15)


def test_constant_rom_bits_cost_nothing():
    params = _mvau(32, 16, 4, 8)
    ones = np.ones((16, 32), dtype=np.int64)  # every ROM column constant: no ROM logic or register left
    est = mvau.estimate_resources(params, ones)
    assert est.ff < mvau.estimate_resources(params).ff - 100
    assert mvau.resource_features(params, ones)["rom"] == 0


def _small_network() -> Network:
    rng = np.random.default_rng(1)
    w1 = rng.integers(-7, 8, size=(8, 16))
    t = np.sort(rng.integers(-100, 100, size=(8, 3)), axis=1)
    w2 = rng.integers(-7, 8, size=(4, 8))
    return Network(
        input_type=IntType(4, False),
        input_shape=(16,),
        layers=[
            MatVec("fc1", w1, MvauMode.MAC, IntType(4, False), 4, 12, 0, pe=2, simd=4),
            Thresholds("act1", t, np.zeros(8, bool), 12, IntType(2, False), pe=2),
            MatVec("fc2", w2, MvauMode.MAC, IntType(2, False), 4, 10, 0, pe=1, simd=2),
        ],
    )


def test_network_estimate_sums_the_planned_blocks():
    net = _small_network()
    est = estimate_network(net)
    _, blocks, _ = plan(net)
    assert list(est["blocks"]) == [b.instance for b in blocks]  # FIFOs and width converters included
    for k in RESOURCE_KEYS:
        assert est["total"][k] == pytest.approx(sum(b[k] for b in est["blocks"].values()), abs=len(blocks))
    fc1 = next(layer for layer in net.layers if layer.name == "fc1")
    assert est["blocks"]["mvau_0"]["FF"] == estimate_block(fc1.params, fc1.weights).as_dict()["FF"]
    cmp = compare(est, {**est["total"], "blocks": est["blocks"]})
    assert all(v["rel_error"] in (0.0, None) for v in cmp["total"].values())


def test_relative_error_and_resources_arithmetic():
    assert relative_error(110, 100) == pytest.approx(0.1) and relative_error(3, 0) is None
    total = Resources.total([Resources(lut=1.4, ff=2), Resources(lut=1.4, dsp=1)])
    assert total.as_dict() == {"LUT": 3, "FF": 2, "CARRY4": 0, "DSP48E1": 1, "BRAM18_equivalent": 0, "LUTRAM": 0}


#: Stated bounds, from the 27 validation points of bench/resource_estimates.py (never used to fit the
#: constants): per point |estimate - Yosys| / Yosys at most 40 % for LUT (measured: mean 8.5 %, worst 35.5 %)
#: and 5 % for FF (worst 3.8 %); over the points below together, LUT within 10 % (all 27: LUT+FF +0.7 %).
BOUND = {"LUT": 0.40, "FF": 0.05}
AGGREGATE_LUT_BOUND = 0.10

#: Validation points (bench/resource_estimates.py VALIDATION), picked for a short Yosys run (about 15 s each)
#: before their results were known.
SLOW_POINTS = [
    _mvau(64, 32, 4, 8),
    _mvau(64, 32, 4, 16, MvauMode.XNOR, 1, 1, 8),
    _mvau(64, 16, 2, 16, MvauMode.ADDER, acc=11),
    ThresholdingParams(32, 4, 12, 15, 4, 0),
    AxisFifoParams(32, 64),
]


@pytest.fixture(scope="module")
def synthesized():
    """Yosys summaries of SLOW_POINTS (one synth_xilinx run each, one at a time)."""
    return [synth_block(p) for p in SLOW_POINTS]


@pytest.mark.slow
def test_estimates_within_bound_of_yosys_on_validation_points(synthesized):
    failures = []
    for params, got in zip(SLOW_POINTS, synthesized, strict=True):
        est = estimate_block(params).as_dict()
        for k, bound in BOUND.items():
            err = relative_error(est[k], got[k])
            if err is None or abs(err) > bound:
                failures.append(f"{params}: {k} estimate {est[k]} vs Yosys {got[k]}")
    assert not failures, "\n".join(failures)


@pytest.mark.slow
def test_total_lut_estimate_within_bound(synthesized):
    est = sum(estimate_block(p).as_dict()["LUT"] for p in SLOW_POINTS)
    got = sum(s["LUT"] for s in synthesized)
    assert abs(relative_error(est, got)) <= AGGREGATE_LUT_BOUND, f"LUT estimate {est} vs Yosys {got}"
