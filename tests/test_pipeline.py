"""Register stages for Fmax (``--pipeline``, :mod:`flow.compile.pipeline`, ``IN_REG``/``FANIN`` of ``mvau.v``).

The block itself is tested under stalls in ``sim/mvau/test_mvau.py`` (every mode, uneven groups, 1 to 4 extra
cycles); here: the setting, which units get which stages, the timing model, the flip-flop estimate, the CLI's
refusal, and a residual + convolution + dense network through the RTL with stages, exact under stalls.
"""

from __future__ import annotations

import subprocess
import sys

import pytest
from torch import nn

from flow.blocks.mvau import MvauMode, MvauParams, latency_cycles, output_times
from flow.blocks.mvau_cost import stage_flip_flops, tree_levels
from flow.compile.folding import Folding
from flow.compile.network import flat_layers
from flow.compile.pipeline import AUTO_FANIN, Pipeline
from flow.errors import UnsupportedError
from flow.export import export_qonnx
from flow.qat import QAct, QConv2d, QLinear, seed_everything
from flow.rtl.harness import load_design
from flow.stages.compile import compile_target, load_network
from flow.stages.simulate import simulate_target
from flow.stages.target import resolve


def _params(simd: int = 784, mode: MvauMode = MvauMode.XNOR, **kw) -> MvauParams:
    bits = 1 if mode == MvauMode.XNOR else 4
    base = dict(mw=784, mh=64, pe=1, simd=simd, mode=mode, in_bits=bits, in_signed=False, w_bits=bits,
                acc_bits=11)
    return MvauParams(**(base | kw))


@pytest.mark.parametrize(("value", "label"), [("none", "none"), ("auto", "auto"), ("8", "8"), (3, "3"),
                                              (Pipeline("fanin", 5), "5")])
def test_a_pipeline_setting_parses_and_reads_back(value, label):
    assert Pipeline.parse(value).label == label
    assert Pipeline.parse(Pipeline.parse(value).label) == Pipeline.parse(value)


@pytest.mark.parametrize("value", ["fast", 1, 0, "1", -4, True, "", None])
def test_a_bad_pipeline_setting_is_refused_naming_what_is_expected(value):
    with pytest.raises(UnsupportedError, match=r"pipeline: expected 'none', 'auto' or an adder-tree fan-in >= 2"):
        Pipeline.parse(value)


def test_the_pipeline_travels_in_the_folding_and_a_folding_keeps_its_own():
    fold = Folding.parse("folded", None, "auto")
    assert fold.pipeline == Pipeline("auto") and fold.label == "folded"
    assert Folding.parse(fold).pipeline == Pipeline("auto")
    assert Folding.parse(fold, None, 6).pipeline == Pipeline("fanin", 6)
    assert Folding.parse("parallel").pipeline == Pipeline("none")


@pytest.mark.parametrize(("simd", "fanin", "regs"), [(784, 8, 3), (784, 0, 0), (8, 8, 0), (9, 8, 1), (64, 4, 2),
                                                     (65, 4, 3), (5, 2, 2)])
def test_tree_registers_are_the_levels_of_the_fanin_ary_tree_minus_one(simd, fanin, regs):
    p = _params(simd=simd, mw=simd * 2, fanin=fanin)
    assert p.tree_regs == regs
    assert len(tree_levels(p)) == regs
    if fanin:  # the products' register is one more, holding every term
        t = _params(simd=simd, mw=simd * 2, fanin=fanin, term_reg=True, mode=MvauMode.MAC)
        assert t.tree_regs == regs + 1 and tree_levels(t)[0] == (simd, 8)


def test_each_stage_adds_a_cycle_of_latency_and_none_per_vector():
    plain = _params()
    staged = _params(in_reg=True, fanin=8)
    assert staged.extra_latency == 4
    assert latency_cycles(staged) == latency_cycles(plain) + 4
    valid = list(range(3))  # three vectors, one beat each (SF = 1)
    assert [b - a for a, b in zip(output_times(plain, valid), output_times(staged, valid), strict=True)] == [4] * 192


def test_the_flip_flop_estimate_counts_the_stage_registers():
    # 784 XNOR lanes, fan-in 8: 98 sums of 5 bits, 13 of 8, 2 of 11 (capped at ACC_BITS); the input word and a
    # 784-bit ROM word once more; 3 flags x 4 cycles; queue of 8: three 4-bit pointers instead of 3-bit ones
    p = _params(in_reg=True, fanin=8)
    assert tree_levels(p) == [(98, 5), (13, 8), (2, 11)]
    assert stage_flip_flops(p) == 784 + 784 + (98 * 5 + 13 * 8 + 2 * 11) + 12 + 3
    assert stage_flip_flops(_params()) == 0
    const = _params(mw=16, mh=4, pe=4, simd=16, in_reg=True, fanin=4)  # one ROM word: constants, no register
    # 16 lanes, fan-in 4: 4 sums of 4 bits per PE; 2 extra cycles: queue of 8 (+3 pointer bits)
    assert stage_flip_flops(const) == 16 + 4 * (4 * 4) + 3 * 2 + 3


@pytest.mark.parametrize(("mode", "simd", "depth_words", "expected"), [
    (MvauMode.XNOR, 784, 64, (True, AUTO_FANIN, False)),
    (MvauMode.MAC, 64, 1, (False, AUTO_FANIN, True)),  # products registered before the tree
    (MvauMode.XNOR, 4, 16, (True, 0, False)),  # no more lanes than the fan-in: no tree registers
    (MvauMode.MAC, 4, 16, (True, AUTO_FANIN, True)),  # ... but the products' own register
    (MvauMode.MAC, 1, 16, (True, AUTO_FANIN, True)),  # one lane: its product registered all the same
])
def test_auto_registers_block_ram_weights_and_wide_sums(mode, simd, depth_words, expected):
    class Unit:  # what stages_for reads of a MatVec
        def __init__(self) -> None:
            self.simd = simd
            mw = simd * (depth_words if depth_words > 1 else 1)
            self.params = _params(simd=simd, mode=mode, mw=mw, mh=64, pe=64)

    assert Pipeline.parse("auto").stages_for(Unit()) == expected
    assert Pipeline.parse("none").stages_for(Unit()) == (False, 0, False)


def test_the_cli_refuses_a_bad_pipeline_in_one_line(build_root):
    run = subprocess.run([sys.executable, "-m", "flow.cli", "compile", "tfc_w1a1", "--pipeline", "1"],
                         capture_output=True, text=True)
    assert run.returncode == 2
    assert run.stderr.strip().splitlines() == [
        "qflow: error: pipeline: expected 'none', 'auto' or an adder-tree fan-in >= 2 (a register every N inputs), "
        "got '1'"]


class _Res(nn.Module):
    """A convolution, a residual pair of 3x3 convolutions, global pooling and a dense layer."""

    def __init__(self) -> None:
        super().__init__()
        self.stem = nn.Sequential(QAct("uint4"), QConv2d(1, 8, 3, weight="int4", padding=1), nn.BatchNorm2d(8),
                                  QAct("int4"))
        self.body = nn.Sequential(QConv2d(8, 8, 3, weight="int4", padding=1), nn.BatchNorm2d(8), QAct("int4"))
        self.head = nn.Sequential(nn.ReLU(), QAct("uint4"), nn.AdaptiveAvgPool2d(1), nn.Flatten(),
                                  QLinear(8, 10, weight="int4"))

    def forward(self, x):
        y = self.stem(x)
        return self.head(y + self.body(y))


def _mlp() -> nn.Module:
    return nn.Sequential(QAct("uint4"), QLinear(64, 32, weight="int4"), nn.BatchNorm1d(32),
                         QAct("uint4"), QLinear(32, 10, weight="int4"))


@pytest.mark.sim
@pytest.mark.parametrize(("model", "folding", "pipeline"), [(_Res, "folded", "auto"), (_Res, "parallel", "2"),
                                                            (_mlp, "folded", "auto"), (_mlp, "parallel", "3")])
def test_a_network_with_register_stages_is_exact_and_its_timing_is_predicted(model, folding, pipeline, tmp_path,
                                                                             build_root):
    seed_everything(0)
    path = tmp_path / "net.onnx"
    export_qonnx(model().eval(), (1, 8, 8) if model is _Res else (64,), path)
    target = resolve(path)
    compile_target(target, Folding.parse(folding, None, pipeline))
    net, _ = load_network(target.paths.root)
    units = [layer for layer in flat_layers(net.layers) if type(layer).__name__ == "MatVec"]
    assert any(u.fanin for u in units) and all(u.params.tree_regs for u in units if u.fanin)
    # what synthesis and place and route read: the generated per-layer modules too, before the top
    generated = sorted(p.name for p in target.paths.rtl.glob("cmvm_*.v"))
    sources = load_design(target.paths.rtl, net).sources
    assert sorted(s for s in sources if s.startswith("cmvm_")) == generated and sources[-1] == "top.v"
    assert bool(generated) == (folding == "parallel")
    sim = simulate_target(target, stall_percent=40)
    assert (sim["mismatches_with_stalls"], sim["mismatches_without_stalls"]) == (0, 0)
    assert sim["cycles_per_inference_measured"] == sim["cycles_per_inference_predicted"]
    assert sim["latency_cycles_measured"] == sim["latency_cycles_predicted"]


@pytest.mark.parametrize(("n_thresh", "pe", "expected"), [(15, 2, 2), (3, 8, 2), (1, 2, 1), (1, 8, 0)])
def test_auto_registers_threshold_roms_and_comparisons(n_thresh, pe, expected):
    from flow.blocks.thresholding import ThresholdingParams

    class Unit:  # what threshold_stages reads of a Thresholds layer: 8 channels, pe per beat
        params = ThresholdingParams(c=8, pe=pe, in_bits=8, n_thresh=n_thresh, out_bits=4, out_bias=0)

    assert Pipeline.parse("auto").threshold_stages(Unit()) == expected
    assert Pipeline.parse(3).threshold_stages(Unit()) == expected
    assert Pipeline.parse("none").threshold_stages(Unit()) == 0
