"""``flow.blocks.cost``: the memory mapping by Yosys' costs, :class:`Resources` arithmetic, and the anchor
points and scaling of the per-operation energy table."""

from __future__ import annotations

import itertools

import pytest

from flow.blocks.cost import Resources, add_pj, map_memory, mul_pj, sram_pj


def test_memory_mapping_follows_yosys_costs():
    assert map_memory(512, 16, rom=True).kind == "logic"  # 8192 bits / 64 = 128 < one RAMB18 (129)
    assert map_memory(8192, 4, rom=True) == map_memory(8192, 4, rom=True) and \
        map_memory(8192, 4, rom=True).bram18 == 2
    assert map_memory(4, 1).kind == "logic"  # 4 bits in flip-flops beat one LUT RAM cell
    lutram = map_memory(256, 4)
    assert (lutram.kind, lutram.lutram, lutram.banks) == ("lutram", 8, 4)
    assert map_memory(256, 24).kind == "bram"
    assert map_memory(40, 64, sync_read=True).kind == "lutram"  # 22 cells beat two RAMB18 (64 bits wide)


def test_resources_arithmetic():
    total = Resources.total([Resources(lut=1.4, ff=2), Resources(lut=1.4, dsp=1)])
    assert total.as_dict() == {"LUT": 3, "FF": 2, "CARRY4": 0, "DSP48E1": 1, "BRAM18_equivalent": 0, "LUTRAM": 0}


def test_table_anchor_points_and_monotone_scaling():
    assert add_pj(8) == pytest.approx(0.03) and add_pj(32) == pytest.approx(0.1)
    assert mul_pj(8, 8) == pytest.approx(0.2) and mul_pj(32, 32) == pytest.approx(3.1)
    assert sram_pj(64, 8 * 1024 * 8) == pytest.approx(10.0) and sram_pj(64, 1024 * 1024 * 8) == pytest.approx(100)
    widths = [1, 2, 4, 8, 12, 16, 24, 32]
    assert all(add_pj(a) < add_pj(b) for a, b in itertools.pairwise(widths))
    assert all(mul_pj(a, a) < mul_pj(b, b) for a, b in itertools.pairwise(widths))
    assert sram_pj(64, 16 * 1024 * 8) > sram_pj(64, 8 * 1024 * 8)  # bigger arrays cost more per read
