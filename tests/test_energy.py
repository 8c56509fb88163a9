"""Operation-model energy: counts on small networks (the per-operation table's anchor points are checked in
``tests/blocks/test_cost.py``)."""

from __future__ import annotations

import numpy as np
import pytest

from flow.blocks.mvau import MvauMode
from flow.compile.network import Image, IntType, MatVec, MaxPool, Network, Thresholds
from flow.estimate.energy import add_pj, layer_energy, mul_pj, network_energy


def _matvec(mode, in_type, w_bits, mh=3, mw=4, vectors=1):
    return MatVec("fc", np.ones((mh, mw), dtype=np.int64), mode, in_type, w_bits, 8, 0, 1, 1, vectors=vectors)


def test_counts_per_mode():
    mac = layer_energy(_matvec(MvauMode.MAC, IntType(4, False), 4))
    assert mac.ops == {"mul": {"4x4b": 12}, "add": {"8b": 12}}
    assert mac.compute_pj == pytest.approx(12 * mul_pj(4, 4) + 12 * add_pj(8))
    assert mac.memory_bits_read == 12 * 4
    xnor = layer_energy(_matvec(MvauMode.XNOR, IntType(1, True, bipolar=True), 1, vectors=5))
    assert xnor.ops == {"xnor": {"1b": 60}, "add": {"8b": 60}} and xnor.memory_bits_read == 5 * 12
    adder = layer_energy(_matvec(MvauMode.ADDER, IntType(4, True), 4))
    assert set(adder.ops) == {"sub", "abs", "add"} and "mul" not in adder.ops
    th = layer_energy(Thresholds("t", np.zeros((3, 15), dtype=np.int64), np.zeros(3, bool), 8, IntType(4, False), 1))
    assert th.ops == {"compare": {"8b": 45}}
    pool = layer_energy(MaxPool("p", Image(4, 4, 2), 2, 1, IntType(4, False)))
    assert pool.ops == {"compare": {"4b": 2 * 2 * 2 * 3}}


def test_network_total_is_the_sum_and_binary_is_cheaper_than_8bit():
    def net(mode, in_type, w_bits):
        return Network(in_type, (4,), [_matvec(mode, in_type, w_bits, mh=64, mw=784)])

    binary = network_energy(net(MvauMode.XNOR, IntType(1, True, bipolar=True), 1))
    int8 = network_energy(net(MvauMode.MAC, IntType(8, True), 8))
    for e in (binary, int8):
        assert e["total_pj"] == pytest.approx(sum(x["total_pj"] for x in e["layers"]))
        assert e["how"].startswith("estimated")
    assert binary["total_pj"] < int8["total_pj"] / 5
