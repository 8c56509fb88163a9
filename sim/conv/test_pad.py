"""cocotb testbench of ``hw/conv/pad.v`` against :mod:`flow.blocks.pad` (golden model and cycle model).

Back-to-back random images, one Verilator build per parameter case, three cocotb tests in it:

* ``stream_with_stalls`` -- random input idle cycles and output backpressure, beats compared with ``==``;
* ``timing_input_idle`` -- random input idle cycles, output always ready: every output beat is valid exactly
  in the cycle :func:`~flow.blocks.pad.output_valid_times` predicts from the measured input valid times;
* ``throughput_no_stalls`` -- no stalls: valid times as predicted and one image every
  :func:`~flow.blocks.pad.cycles_per_image` cycles (intervals between the images' last output beats).
"""

from __future__ import annotations

from functools import partial

import pytest

from flow.blocks import pad
from flow.blocks.pad import HW_SOURCES, PadParams
from sim.lib.axis import dut_params
from sim.lib.images import ImageBench, image_stream_tests, random_images, run_image_case
from sim.lib.runner import tb_config


# ---------------------------------------------------------------------------------------------- cocotb side
def params_from_dut(dut) -> PadParams:
    """The DUT's parameters; ``pad_value`` and ``signed`` come from the test configuration (VPI reads a
    negative ``PAD_VALUE`` as unsigned: checked modulo 2^32)."""
    cfg = tb_config()
    p = {k.lower(): v for k, v in dut_params(dut, PadParams.VERILOG_PARAMETERS).items()}
    params = PadParams(**p, pad_value=cfg["pad_value"], signed=cfg["signed"])
    params.validate()
    got = int(dut.PAD_VALUE.value) % (1 << 32)
    if got != params.verilog_pad_value % (1 << 32):
        raise AssertionError(f"PAD_VALUE in the DUT is {got:#x}, expected {params.verilog_pad_value:#x}")
    return params


BENCH = ImageBench(pad, params_from_dut, "pad output (vector = pixel)", draw=partial(random_images, extremes=True))
stream_with_stalls, timing_input_idle, throughput_no_stalls = image_stream_tests(BENCH, __name__)


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
    run_image_case("pad", HW_SOURCES, params, case, images, pad_value=params.pad_value, signed=params.signed)
