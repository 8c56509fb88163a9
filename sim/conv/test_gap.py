"""cocotb testbench of ``hw/conv/gap.v`` against :mod:`flow.blocks.gap` (golden model, cycle model).

Back-to-back random images, one Verilator build per parameter case, the three image-block cocotb tests in
it (:func:`sim.lib.images.image_stream_tests`): beats compared with ``==`` under random idle cycles and
backpressure; output valid cycles exactly as :func:`~flow.blocks.gap.output_valid_times` predicts; one image
every :func:`~flow.blocks.gap.cycles_per_image` cycles without stalls.
"""

from __future__ import annotations

import pytest

from flow.blocks import gap
from flow.blocks.gap import HW_SOURCES, GapParams
from sim.lib.axis import dut_params
from sim.lib.images import ImageBench, image_stream_tests, run_image_case


def params_from_dut(dut) -> GapParams:
    """The DUT's parameters (``OUT_BITS`` must be the one the model derives)."""
    p = {k.lower(): v for k, v in dut_params(dut, (*GapParams.VERILOG_PARAMETERS, "OUT_BITS")).items()}
    params = GapParams(**({k: v for k, v in p.items() if k != "out_bits"} | {"signed": bool(p["signed"])}))
    params.validate()
    assert p["out_bits"] == params.out_bits, f"OUT_BITS {p['out_bits']}, model {params.out_bits}"
    return params


BENCH = ImageBench(gap, params_from_dut, "gap output (vector = the sums of one image)")
stream_with_stalls, timing_input_idle, throughput_no_stalls = image_stream_tests(BENCH, __name__)


def _p(h, w, ch, simd, bits, signed):
    return GapParams(ifm_h=h, ifm_w=w, ch=ch, simd=simd, elem_bits=bits, signed=signed)


CASES = [
    pytest.param(_p(4, 4, 8, 2, 4, True), 4, id="pow2_4x4x8_simd2_signed"),
    pytest.param(_p(5, 3, 6, 3, 3, False), 4, id="odd_5x3x6_simd3_unsigned"),
    pytest.param(_p(8, 8, 16, 16, 4, False), 3, id="resnet8_8x8x16_full"),
    pytest.param(_p(1, 1, 4, 1, 5, True), 6, id="one_pixel_1x1x4"),
    pytest.param(_p(2, 3, 1, 1, 8, True), 5, id="one_channel_2x3x1_b8"),
]


@pytest.mark.sim
@pytest.mark.parametrize(("params", "images"), CASES)
def test_gap(request: pytest.FixtureRequest, params: GapParams, images: int) -> None:
    """One Verilator build per case; the three cocotb tests above run in it."""
    run_image_case("gap", HW_SOURCES, params, request.node.callspec.id, images)
