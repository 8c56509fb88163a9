"""cocotb testbench of ``hw/conv/swg.v`` against :mod:`flow.blocks.swg` (golden model and cycle model).

Back-to-back random images, one Verilator build per parameter case, three cocotb tests in it:

* ``stream_with_stalls`` -- random input idle cycles and output backpressure, beats compared with ``==``;
* ``timing_input_idle`` -- random input idle cycles, output always ready: every output beat is valid exactly
  in the cycle :func:`~flow.blocks.swg.output_valid_times` predicts from the measured input valid times,
  every input beat accepted in the cycle :func:`~flow.blocks.swg.simulate` predicts;
* ``throughput_no_stalls`` -- no stalls: valid times as predicted and one image every
  :func:`~flow.blocks.swg.cycles_per_image` cycles (intervals between the images' last output beats).
"""

from __future__ import annotations

import pytest

from flow.blocks import swg
from flow.blocks.swg import HW_SOURCES, SwgParams, simulate
from sim.lib.axis import dut_params
from sim.lib.images import ImageBench, image_stream_tests, run_image_case
from sim.lib.runner import tb_config


# ---------------------------------------------------------------------------------------------- cocotb side
def params_from_dut(dut) -> SwgParams:
    """The DUT's parameters; ``signed`` comes from the test configuration (it only says how test values are
    drawn: the block moves bits)."""
    p = {k.lower(): v for k, v in dut_params(dut, SwgParams.VERILOG_PARAMETERS).items()}
    params = SwgParams(**p, signed=tb_config()["signed"])
    params.validate()
    return params


BENCH = ImageBench(
    swg,
    params_from_dut,
    "swg output (vector = window)",
    vector_beats=lambda params: params.window_beats,
    trailing_input=True,  # trailing dropped rows/columns may follow the last output beat
    input_accept_times=lambda params, valid_times: simulate(params, valid_times)[0],
)
stream_with_stalls, timing_input_idle, throughput_no_stalls = image_stream_tests(BENCH, __name__)


# ---------------------------------------------------------------------------------------------- pytest side
def _p(h, w, ch, simd, k, s, bits, signed=False):
    return SwgParams(ifm_h=h, ifm_w=w, ch=ch, simd=simd, k=k, stride=s, elem_bits=bits, signed=signed)


CASES = [
    pytest.param(_p(28, 28, 1, 1, 5, 1, 8), 1, id="lenet1_28x28x1_k5"),
    pytest.param(_p(12, 12, 6, 6, 5, 1, 4, signed=True), 3, id="lenet2_12x12x6_k5_simd6"),
    pytest.param(_p(12, 12, 6, 3, 5, 1, 2), 3, id="lenet2_12x12x6_k5_simd3"),
    pytest.param(_p(7, 9, 4, 2, 3, 2, 4), 3, id="odd_7x9x4_k3_s2"),
    pytest.param(_p(8, 10, 2, 1, 3, 2, 3), 3, id="drop_8x10x2_k3_s2"),
    pytest.param(_p(11, 9, 2, 2, 5, 2, 5), 3, id="k5_s2_11x9x2"),
    pytest.param(_p(5, 6, 4, 4, 1, 1, 3), 3, id="k1_s1_5x6x4"),
    pytest.param(_p(8, 7, 2, 1, 1, 2, 4), 3, id="k1_s2_drop_8x7x2"),
    pytest.param(_p(5, 5, 3, 3, 5, 1, 6), 4, id="single_window_5x5x3_k5"),
    pytest.param(_p(3, 4, 2, 1, 3, 3, 1), 4, id="single_row_3x4x2_k3_s3"),
]


@pytest.mark.sim
@pytest.mark.parametrize(("params", "images"), CASES)
def test_swg(request: pytest.FixtureRequest, params: SwgParams, images: int) -> None:
    """One Verilator build per case; the three cocotb tests above run in it."""
    run_image_case("swg", HW_SOURCES, params, request.node.callspec.id, images, signed=params.signed)
