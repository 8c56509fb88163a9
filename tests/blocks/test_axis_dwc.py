"""``flow.blocks.axis_dwc`` (AXI-Stream data-width converter): the repacking model preserves element order,
the cycle and latency formulas, and the flip-flop estimate against Yosys counts. The RTL itself is checked
in ``sim/dwc/test_axis_dwc.py``."""

from __future__ import annotations

import pytest

from flow.blocks import axis_dwc
from flow.blocks.axis_dwc import DwcParams

from .helpers import seeded_rng

# Yosys synth_xilinx flip-flops measured on calibration points (bench/resource_estimates.py).
DWC_MEASURED_FF = {
    (1, 64, 1): 134, (64, 1, 1): 71, (1, 32, 4): 258, (32, 1, 4): 134, (4, 8, 2): 26, (8, 4, 2): 18, (2, 3, 4): 69,
    (16, 64, 1): 115, (2, 8, 4): 59, (8, 2, 8): 67, (3, 2, 4): 65,
}


@pytest.mark.parametrize(("i", "o", "b"), [(4, 2, 3), (2, 4, 1), (3, 2, 5), (5, 5, 2)])
def test_dwc_repack_preserves_element_order(i: int, o: int, b: int) -> None:
    p = DwcParams(in_elems=i, out_elems=o, elem_bits=b)
    rng = seeded_rng(f"dwc{i}{o}{b}")
    elems = rng.integers(0, 1 << b, size=2 * p.mid_elems)
    beats_in = [sum(int(e) << (k * b) for k, e in enumerate(elems[j : j + i])) for j in range(0, len(elems), i)]
    beats_out = [sum(int(e) << (k * b) for k, e in enumerate(elems[j : j + o])) for j in range(0, len(elems), o)]
    assert axis_dwc.repack(beats_in, p) == beats_out
    assert axis_dwc.cycles_per_vector(p, p.mid_elems) == max(p.k_up, p.k_down)


def test_dwc_parameters() -> None:
    assert [axis_dwc.latency_cycles(DwcParams(i, o, 1)) for i, o in [(4, 2), (2, 4), (3, 2), (5, 5)]] == [1, 1, 2, 0]
    with pytest.raises(ValueError, match="vector_elems expected a multiple"):
        axis_dwc.cycles_per_vector(DwcParams(4, 2, 1), 6)


@pytest.mark.parametrize("shape", sorted(DWC_MEASURED_FF))
def test_width_converter_flip_flops_are_exact(shape):
    assert axis_dwc.estimate_resources(DwcParams(*shape)).ff == DWC_MEASURED_FF[shape]
