"""cocotb testbench of ``hw/axis/axis_fifo.v``: beats out == beats in (the golden model is the identity)
under random idle cycles and backpressure, capacity exactly ``DEPTH``, one beat per cycle, latency 1.

The test body is shared with the skid buffer (:mod:`sim.lib.passthrough`); this module holds what is the
FIFO's own: its parameters, its cases and its build.
"""

from __future__ import annotations

import pytest

from flow.blocks.axis_fifo import HW_SOURCES, AxisFifoParams, capacity, cycles_per_vector, golden, latency_cycles
from sim.lib.axis import dut_params
from sim.lib.passthrough import PassthroughBlock, passthrough_tests
from sim.lib.runner import run_cocotb, sim_build_dir


def params_from_dut(dut) -> AxisFifoParams:
    """The DUT's parameters."""
    p = dut_params(dut, ("WIDTH", "DEPTH"))
    params = AxisFifoParams(width=p["WIDTH"], depth=p["DEPTH"])
    params.validate()
    return params


FIFO = PassthroughBlock(
    name="axis_fifo",
    params_from_dut=params_from_dut,
    golden=golden,
    capacity=capacity,
    cycles_per_vector=cycles_per_vector,
    latency_cycles=latency_cycles,
)

# cocotb runs the tests it finds among this module's globals
stream_with_stalls, throughput_no_stalls, holds_capacity = passthrough_tests(FIFO, __name__)

CASES = [
    pytest.param(AxisFifoParams(width=8, depth=2), id="w8_d2"),
    pytest.param(AxisFifoParams(width=37, depth=16), id="w37_d16"),
]


@pytest.mark.sim
@pytest.mark.parametrize("params", CASES)
def test_axis_fifo(request: pytest.FixtureRequest, params: AxisFifoParams) -> None:
    """One Verilator build per case; the cocotb tests above run in it."""
    case = request.node.callspec.id
    run_cocotb(
        "axis_fifo",
        HW_SOURCES,
        params.verilog_parameters(),
        sim_build_dir("axis_fifo", case),
        "test_axis_fifo",
        tb_config={"seed": sum(map(ord, case))},
    )
