"""cocotb testbench of ``hw/axis/skid_buffer.v``: beats out == beats in (the golden model is the identity)
under random idle cycles and backpressure, capacity 2 (registered tready), one beat per cycle, latency 1.

The test body is shared with the FIFO (:mod:`sim.lib.passthrough`); this module holds what is the skid
buffer's own: its parameters, its cases and its build.
"""

from __future__ import annotations

import pytest

from flow.blocks.skid_buffer import HW_SOURCES, SkidBufferParams, capacity, cycles_per_vector, golden, latency_cycles
from sim.lib.axis import dut_params
from sim.lib.passthrough import PassthroughBlock, passthrough_tests
from sim.lib.runner import run_cocotb, sim_build_dir


def params_from_dut(dut) -> SkidBufferParams:
    """The DUT's parameters."""
    p = dut_params(dut, ("WIDTH",))
    params = SkidBufferParams(width=p["WIDTH"])
    params.validate()
    return params


SKID = PassthroughBlock(
    name="skid_buffer",
    params_from_dut=params_from_dut,
    golden=golden,
    capacity=capacity,
    cycles_per_vector=cycles_per_vector,
    latency_cycles=latency_cycles,
)

# cocotb runs the tests it finds among this module's globals
stream_with_stalls, throughput_no_stalls, holds_capacity = passthrough_tests(SKID, __name__)

CASES = [pytest.param(SkidBufferParams(width=13), id="w13")]


@pytest.mark.sim
@pytest.mark.parametrize("params", CASES)
def test_skid_buffer(request: pytest.FixtureRequest, params: SkidBufferParams) -> None:
    """One Verilator build per case; the cocotb tests above run in it."""
    case = request.node.callspec.id
    run_cocotb(
        "skid_buffer",
        HW_SOURCES,
        params.verilog_parameters(),
        sim_build_dir("skid_buffer", case),
        "test_skid_buffer",
        tb_config={"seed": sum(map(ord, case))},
    )
