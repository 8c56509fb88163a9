"""Residual blocks from a Brevitas model to RTL: the fork (``axis_fork``), both branches, a FIFO on the branch
that waits (sized by the beat-timing model), the exact add (``eltwise_add``) and the thresholds after it.

The integer network equals the QONNX reference (``compile_target`` checks it on 1000 inputs or raises); the RTL
equals the integer network under random stalls. A FIFO too shallow for the timing model is refused when the
design is planned; a design that deadlocks anyway stops with a clear error, never a hang."""

from __future__ import annotations

import re

import numpy as np
import pytest
import torch
from torch import nn

from flow.compile.folding import Folding
from flow.compile.network import Residual, Thresholds
from flow.errors import UnsupportedError
from flow.export import export_qonnx
from flow.qat import QAct, QConv2d, QLinear, seed_everything
from flow.rtl.generate import write_rtl
from flow.rtl.harness import load_design, run_network
from flow.rtl.plan import fifo_need, plan
from flow.rtl.verilator import SimulationError, build_harness
from flow.stages.compile import compile_target, load_network, load_vectors
from flow.stages.simulate import simulate_target
from flow.stages.target import resolve


class _Block(nn.Module):
    """conv-BN-QReLU, then a residual block: body conv-BN-quant (signed), shortcut identity or a strided 1x1
    conv, add, ReLU, quantizer; global average pool and a dense classifier."""

    def __init__(self, stride: int = 1, shortcut_quant: str | None = None, stem_act: str = "uint4") -> None:
        super().__init__()
        self.stem = nn.Sequential(QAct("uint4"), QConv2d(1, 8, 3, weight="int4", padding=1), nn.BatchNorm2d(8),
                                  QAct(stem_act))
        self.body = nn.Sequential(QConv2d(8, 8, 3, weight="int4", padding=1, stride=stride), nn.BatchNorm2d(8),
                                  QAct("int4"))
        if stride > 1:
            self.short = nn.Sequential(QConv2d(8, 8, 1, weight="int4", stride=stride), nn.BatchNorm2d(8),
                                       QAct("int4"))
        else:
            self.short = QAct(shortcut_quant) if shortcut_quant else nn.Identity()
        self.out = QAct("uint4")
        self.head = QLinear(8, 3, weight="int4")

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.stem(x)
        y = self.out(torch.relu(self.body(x) + self.short(x)))
        return self.head(nn.functional.adaptive_avg_pool2d(y, 1).flatten(1))


def _export(tmp_path, name: str, **kw):
    seed_everything(0)
    model = _Block(**kw).eval()
    with torch.no_grad():  # BatchNorm statistics away from the defaults, so the thresholds are not trivial
        for bn in (m for m in model.modules() if isinstance(m, nn.BatchNorm2d)):
            bn.running_mean.uniform_(-0.5, 0.5)
            bn.running_var.uniform_(0.5, 2.0)
    path = tmp_path / f"{name}.onnx"
    export_qonnx(model, (1, 8, 8), path)
    return resolve(path)


@pytest.mark.sim
@pytest.mark.parametrize(("kw", "folding"), [({}, "folded"), ({"stride": 2}, "parallel")],
                         ids=["identity_shortcut", "strided_conv_shortcut"])
def test_residual_block_is_exact_in_rtl(kw, folding, tmp_path, build_root):
    target = _export(tmp_path, "res", **kw)
    compile_target(target, Folding.parse(folding))
    net, _ = load_network(target.paths.root)
    res = next(layer for layer in net.layers if isinstance(layer, Residual))
    assert [len(b) > 0 for b in res.branches] == [True, bool(kw)]
    assert isinstance(net.layers[net.layers.index(res) + 1], Thresholds)
    sim = simulate_target(target, stall_percent=40)
    assert (sim["mismatches_with_stalls"], sim["mismatches_without_stalls"]) == (0, 0)
    assert sim["cycles_per_inference_measured"] == sim["cycles_per_inference_predicted"]


@pytest.mark.parametrize(("stem_act", "shortcut", "expected"), [
    ("int4", "int2", "thresholds"), ("uint4", "uint4", "nothing"), ("uint4", "int2", "refused")])
def test_a_shortcut_requantizer(stem_act, shortcut, expected, tmp_path, build_root):
    """A QuantIdentity on the shortcut: nothing when it gives its input back exactly, thresholds on the
    shortcut when it changes a signed stream, a clear error on an unsigned one (the thresholding block compares
    signed values). compile_target checks the whole network against QONNX."""
    target = _export(tmp_path, f"res_requant_{stem_act}_{shortcut}", shortcut_quant=shortcut, stem_act=stem_act)
    if expected == "refused":
        with pytest.raises(UnsupportedError, match=r"requantizing an unsigned or bipolar stream \(uint4 x 2\^-\d+ "
                                                   r"-> int2"):
            compile_target(target, Folding.parse("folded"))
        return
    compile_target(target, Folding.parse("folded"))
    net, _ = load_network(target.paths.root)
    res = next(layer for layer in net.layers if isinstance(layer, Residual))
    kinds = [type(layer).__name__ for layer in res.branches[1]]
    assert kinds == (["Thresholds"] if expected == "thresholds" else [])


def test_fifo_need_counts_the_beats_waiting() -> None:
    assert fifo_need([0, 1, 2, 3], [10, 11, 12, 13]) == 4
    assert fifo_need([0, 5, 10], [1, 6, 11]) == 1
    assert fifo_need([], []) == 0


def test_too_shallow_a_shortcut_fifo_is_refused_when_planned(tmp_path, build_root):
    target = _export(tmp_path, "res_shallow")
    compile_target(target, Folding.parse("folded"))
    net, _ = load_network(target.paths.root)
    res = next(layer for layer in net.layers if isinstance(layer, Residual))
    blocks = plan(net)[1]
    depth = next(b.params.depth for b in blocks if b.instance.startswith("fifo_") and b.layer == res.name)
    assert depth >= 8  # the body (two rows of a 3x3 window) is far behind the identity shortcut
    with pytest.raises(UnsupportedError, match=rf"residual '{res.name}': a FIFO of 2 beats on branch 1 is too shallow"):
        plan(net, {f"{res.name}/1": 2})
    with pytest.raises(UnsupportedError, match="name no residual branch"):
        plan(net, {"nothing/0": 64})


@pytest.mark.sim
def test_a_deadlocked_design_stops_with_a_clear_error(tmp_path, build_root):
    """The shortcut FIFO cut to 2 beats behind the planner's back: the body needs two rows of input before its
    first output, the fork cannot give them, nothing moves. The harness's guard stops the run."""
    target = _export(tmp_path, "res_deadlock")
    compile_target(target, Folding.parse("folded"))
    net, _ = load_network(target.paths.root)
    rtl = tmp_path / "rtl"
    design = write_rtl(net, rtl)
    top = (rtl / "top.v").read_text()
    fifo = next(b for b in design.blocks if b.instance.startswith("fifo_") and b.layer.startswith("Add"))
    pattern = rf"(\.DEPTH\()\d+(\)\s*\)\s*{fifo.instance} \()"
    assert re.search(pattern, top), "the shortcut FIFO's instance was not found in top.v"
    (rtl / "top.v").write_text(re.sub(pattern, r"\g<1>2\g<2>", top))
    build_harness(rtl, design.sources)
    x = load_vectors(target.paths.root).x_int[:4]
    with pytest.raises(SimulationError, match=r"simulation stopped: deadlock: no beat entered or left"):
        run_network(net, load_design(rtl, net), np.asarray(x))


def _plain_brevitas_net() -> nn.Module:
    """A residual block and a depthwise-separable block written with brevitas.nn alone (power-of-two scales from
    brevitas' own FixedPoint quantizers), as a user outside qflow would."""
    from brevitas.nn import QuantConv2d, QuantIdentity, QuantLinear, QuantReLU
    from brevitas.quant import Int8ActPerTensorFixedPoint, Int8WeightPerTensorFixedPoint, Uint8ActPerTensorFixedPoint

    def conv(c_in, c_out, k, groups=1):
        return QuantConv2d(c_in, c_out, k, padding=k // 2, groups=groups, bias=False,
                           weight_quant=Int8WeightPerTensorFixedPoint, weight_bit_width=4)

    def relu():
        return QuantReLU(act_quant=Uint8ActPerTensorFixedPoint, bit_width=4)

    class Net(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.inq = QuantIdentity(act_quant=Uint8ActPerTensorFixedPoint, bit_width=8)
            self.stem = nn.Sequential(conv(1, 8, 3), nn.BatchNorm2d(8), relu())
            self.body = nn.Sequential(conv(8, 8, 3), nn.BatchNorm2d(8), relu(), conv(8, 8, 3), nn.BatchNorm2d(8),
                                      QuantIdentity(act_quant=Int8ActPerTensorFixedPoint, bit_width=4))
            self.out = relu()
            self.dw = nn.Sequential(conv(8, 8, 3, groups=8), nn.BatchNorm2d(8), relu(), conv(8, 8, 1),
                                    nn.BatchNorm2d(8), relu())
            self.pool_q = relu()
            self.fc = QuantLinear(8, 4, bias=False, weight_quant=Int8WeightPerTensorFixedPoint, weight_bit_width=4)

        def forward(self, x):
            x = self.stem(self.inq(x))
            x = self.dw(self.out(torch.relu(self.body(x) + x)))
            return self.fc(self.pool_q(nn.functional.adaptive_avg_pool2d(x, 1)).flatten(1))

    return Net()


@pytest.mark.sim
def test_a_residual_and_depthwise_net_from_plain_brevitas_goes_through_qflow_synth(tmp_path, build_root, capsys):
    from brevitas.export import export_qonnx as brevitas_export

    from flow.cli import main

    seed_everything(1)
    model = _plain_brevitas_net().eval()
    path = tmp_path / "plain_brevitas.onnx"
    brevitas_export(model, torch.rand(1, 1, 8, 8), str(path))
    assert main(["synth", str(path), "--no-hls", "--no-yosys", "--no-pnr", "--quiet"]) == 0
    import json

    report = json.loads((build_root / "plain_brevitas" / "report.json").read_text())
    assert [c["differing_outputs"] for c in report["checks"]] == [0] * len(report["checks"])
    kinds = [b["module"] for b in report["interface"]["blocks"]]
    assert {"axis_fork", "eltwise_add", "vvau"} <= set(kinds)


@pytest.mark.sim
def test_a_residual_mlp_may_end_at_the_add(tmp_path, build_root):
    """The sums of a residual add of vectors are exact outputs, like a dense layer's accumulators."""

    class Net(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.q, self.fc0, self.q1 = QAct("uint4"), QLinear(16, 16, "int4"), QAct("int4")
            self.fc, self.q2 = QLinear(16, 16, "int4"), QAct("int4")

        def forward(self, x):
            x = self.q1(self.fc0(self.q(x)))
            return self.q2(self.fc(x)) + x

    seed_everything(0)
    path = tmp_path / "res_mlp.onnx"
    export_qonnx(Net().eval(), (16,), path)
    target = resolve(path)
    compile_target(target, Folding.parse("folded"))
    sim = simulate_target(target, stall_percent=40)
    assert (sim["mismatches_with_stalls"], sim["mismatches_without_stalls"]) == (0, 0)
