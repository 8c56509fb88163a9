"""cocotb testbench of ``hw/conv/maxpool.v`` against :mod:`flow.blocks.maxpool` (golden model, cycle model).

Back-to-back random images, one Verilator build per parameter case, three cocotb tests in it:

* ``stream_with_stalls`` -- random input idle cycles and output backpressure, beats compared with ``==``;
* ``timing_input_idle`` -- random input idle cycles, output always ready: every output beat is valid exactly
  in the cycle :func:`~flow.blocks.maxpool.output_valid_times` predicts from the measured input valid times;
* ``throughput_no_stalls`` -- no stalls: valid times as predicted and one image every
  :func:`~flow.blocks.maxpool.cycles_per_image` cycles (intervals between the images' last output beats).
"""

from __future__ import annotations

import numpy as np
import pytest

from flow.blocks import maxpool
from flow.blocks.maxpool import HW_SOURCES, MaxpoolParams
from sim.lib.axis import dut_params
from sim.lib.images import ImageBench, image_stream_tests, random_images, run_image_case


# ---------------------------------------------------------------------------------------------- cocotb side
def params_from_dut(dut) -> MaxpoolParams:
    """The DUT's parameters."""
    p = {k.lower(): v for k, v in dut_params(dut, MaxpoolParams.VERILOG_PARAMETERS).items()}
    params = MaxpoolParams(**(p | {"signed": bool(p["signed"])}))
    params.validate()
    return params


def draw_images(params: MaxpoolParams, images: int, rng: np.random.Generator) -> np.ndarray:
    """Random images with the extreme codes and, half of the time, values from a narrow band (many ties and
    near-ties)."""
    x = random_images(params, images, rng, extremes=True)
    if params.elem_bits > 2:
        lo, hi = params.value_range
        mid = rng.integers(lo, hi - 2)
        x = np.where(rng.random(x.shape) < 0.5, rng.integers(mid, mid + 3, size=x.shape), x)
    return x


BENCH = ImageBench(
    maxpool,
    params_from_dut,
    "maxpool output (vector = pixel)",
    draw=draw_images,
    trailing_input=True,  # trailing dropped rows/columns may follow the last output beat
)
stream_with_stalls, timing_input_idle, throughput_no_stalls = image_stream_tests(BENCH, __name__)


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
    run_image_case("maxpool", HW_SOURCES, params, request.node.callspec.id, images)
