"""``flow.blocks.cmvm``: the adder graph (built from da4ml's solution) against the golden model in every mode,
zero rows, the pipelining (stages, registers), parameter validation, the timing model, the estimate and the
selection pass (:func:`flow.compile.constant.use_cmvm`). The generated Verilog itself runs against the golden
model under stalls in ``sim/cmvm/test_cmvm.py``."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from flow.blocks import cmvm
from flow.blocks.cmvm_verilog import node_stages
from flow.blocks.mvau import MvauMode, MvauParams
from flow.blocks.registry import BLOCKS, spec_of
from flow.compile.constant import cmvm_eligible, use_cmvm
from flow.compile.inttype import IntType
from flow.compile.network import MatVec, Network
from flow.compile.serialize import network_from_dict, network_to_dict

from .helpers import seeded_rng

X, M, B, A, BX = MvauMode.XNOR, MvauMode.MAC, MvauMode.BIPOLAR_W, MvauMode.ADDER, MvauMode.BIPOLAR_X


def _base(mode: MvauMode, mw: int, mh: int, in_bits: int = 1, in_signed: bool = False, w_bits: int = 1,
          acc_bits: int = 20) -> MvauParams:
    return MvauParams(mw=mw, mh=mh, pe=mh, simd=mw, mode=mode, in_bits=in_bits, in_signed=in_signed, w_bits=w_bits,
                      acc_bits=acc_bits)


BASES = [
    _base(X, 40, 8),
    _base(M, 16, 8, in_bits=4, w_bits=4),
    _base(M, 12, 5, in_bits=3, in_signed=True, w_bits=3),
    _base(M, 6, 3, in_bits=8, in_signed=True, w_bits=8, acc_bits=24),
    _base(B, 10, 4, in_bits=4),
    _base(B, 9, 4, in_bits=2, in_signed=True),
    _base(BX, 9, 3, w_bits=4),
]


def _values(base: MvauParams, rng: np.random.Generator, n: int = 300) -> tuple[np.ndarray, np.ndarray]:
    W = cmvm.mvau.random_data(base, int(rng.integers(1 << 30)))
    if base.mode in (X, BX):
        x = rng.choice([-1, 1], size=(n, base.mw))
    else:
        lo, hi = base.x_range
        x = rng.integers(lo, hi + 1, size=(n, base.mw))
    return W, x


@pytest.mark.parametrize("base", BASES, ids=lambda b: f"{b.mode.name}_{b.mw}x{b.mh}_in{b.in_bits}")
@pytest.mark.parametrize("fanin", [0, 2, 8])
def test_graph_equals_golden(base: MvauParams, fanin: int) -> None:
    rng = seeded_rng(f"graph{base}{fanin}")
    W, x = _values(base, rng)
    p = cmvm.layer_params("layer", W, base, fanin)
    g = cmvm.params_graph(W, p)
    codes = (x > 0).astype(np.int64) if base.mode in (X, BX) else x
    assert np.array_equal(g.evaluate(codes), cmvm.golden(x, W, p))
    assert p.stages == g.stages(cmvm.levels_for_fanin(fanin))
    assert p.adders == len(g.adders()) + sum(g.output_needs_adder(j) for j in range(base.mh))


def test_extreme_inputs_and_zero_rows() -> None:
    """All-zero rows (a constant output), a repeated row, and the inputs that reach each output's bounds."""
    base = _base(M, 8, 4, in_bits=4, in_signed=True, w_bits=4, acc_bits=12)
    W = np.array([[0] * 8, [7, -7, 3, 0, 1, -1, 2, -8], [7, -7, 3, 0, 1, -1, 2, -8], [1] * 8])
    p = cmvm.layer_params("zeros", W, base)
    g = cmvm.params_graph(W, p)
    x = np.array([np.where(W[1] > 0, 7, -8), np.where(W[1] > 0, -8, 7), np.full(8, -8), np.full(8, 7)])
    assert np.array_equal(g.evaluate(x), cmvm.golden(x, W, p))
    assert g.outputs[0] is None


def test_stages_follow_levels() -> None:
    base = _base(M, 32, 8, in_bits=4, w_bits=4)
    W = cmvm.mvau.random_data(base, 3)
    g = cmvm.params_graph(W, cmvm.layer_params("s", W, base))
    assert g.stages(0) == 1
    assert g.stages(1) == g.depth()
    stage = node_stages(g, 2)
    for i, n in enumerate(g.nodes):
        if not n.is_input:
            assert stage[i] == -(-n.level // 2) and stage[n.u] <= stage[i] and stage[n.s] <= stage[i]


def test_validation_names_the_problem() -> None:
    base = _base(M, 4, 2, in_bits=4, w_bits=4)
    p = cmvm.layer_params("v", np.ones((2, 4), np.int64), base)
    with pytest.raises(ValueError, match="ADDER"):
        dataclasses.replace(p, mode=A).validate()
    with pytest.raises(ValueError, match="module expected a Verilog identifier"):
        dataclasses.replace(p, module="a/b").validate()
    with pytest.raises(ValueError, match="stages expected an integer >= 1"):
        dataclasses.replace(p, stages=0).validate()
    with pytest.raises(ValueError, match="W expected shape"):
        cmvm.params_graph(np.ones((3, 4), np.int64), p)


def test_timing_model() -> None:
    base = _base(X, 16, 4)
    W = cmvm.mvau.random_data(base, 1)
    p = cmvm.layer_params("t", W, base, fanin=2)
    spec = BLOCKS["cmvm"]
    assert spec_of(p) is spec and spec.module_of(p) == "cmvm_t"
    assert spec.latency(p) == p.stages + 1
    assert spec.output_times(p, [0, 0, 5]) == [p.stages + 1, p.stages + 2, p.stages + 6]
    assert spec.cycles(p, 7) == 7 and spec.out_beats(p, 7) == 7


def test_verilog_names_and_checks() -> None:
    base = _base(BX, 9, 3, w_bits=4)
    W = cmvm.mvau.random_data(base, 2)
    p = cmvm.layer_params("fc1", W, base, fanin=4)
    text = cmvm.verilog(p, W)
    assert "module cmvm_fc1 #(" in text and f".STAGES({p.stages})" in text
    with pytest.raises(ValueError, match="stages"):
        cmvm.verilog(dataclasses.replace(p, stages=p.stages + 1), W)


def test_estimate_counts_the_solution() -> None:
    base = _base(M, 16, 8, in_bits=4, w_bits=4, acc_bits=14)
    W = cmvm.mvau.random_data(base, 5)
    flat, piped = cmvm.layer_params("e", W, base), cmvm.layer_params("e", W, base, fanin=2)
    r0, r1 = cmvm.estimate_resources(flat), cmvm.estimate_resources(piped, W)
    assert r0.lut >= cmvm.LUT_PER_ADDER_BIT * flat.adder_bits and r0.carry4 == cmvm.CARRY4_KEPT * flat.carry4
    assert r1.ff > r0.ff  # stage registers
    assert cmvm.energy(flat, 3).ops["add"] and cmvm.energy(flat, 3).memory_bits_read == 0


def _matvec(name: str, mode: MvauMode, pe: int, simd: int, mw: int = 8, mh: int = 4) -> MatVec:
    rng = seeded_rng(name)
    W = rng.choice([-1, 1], size=(mh, mw)) if mode in (X, B) else rng.integers(-3, 4, size=(mh, mw))
    in_type = IntType(1, True, 0, bipolar=True) if mode in (X, BX) else IntType(3, False, 0)
    w_bits = 1 if mode in (X, B) else 3
    return MatVec(name=name, weights=W, mode=mode, in_type=in_type, w_bits=w_bits, acc_bits=10, out_frac=0, pe=pe,
                  simd=simd)


def test_selection_and_network_json() -> None:
    layers = [_matvec("a", M, 4, 8), _matvec("b", M, 2, 8), _matvec("c", A, 4, 8), _matvec("d", X, 4, 8)]
    assert [cmvm_eligible(x) for x in layers] == [True, False, False, True]
    net = use_cmvm(Network(IntType(3, False), (8,), list(layers)))
    assert [x.block for x in net.layers] == ["cmvm", "mvau", "mvau", "cmvm"]
    assert isinstance(net.layers[0].params, cmvm.CmvmParams)
    x = seeded_rng("x").integers(0, 8, size=(5, 8))
    assert np.array_equal(net.layers[0].run(x), layers[0].run(x))
    back = network_from_dict(network_to_dict(net))
    assert [x.block for x in back.layers] == ["cmvm", "mvau", "mvau", "cmvm"]
    assert [x.block for x in use_cmvm(back, enabled=False).layers] == ["mvau"] * 4
