"""Bring your own model: Xilinx's BNN-PYNQ networks, exported with Brevitas and given to ``qflow synth`` as they
are, and a corpus of bad models, each refused with one ``qflow: error:`` line (exit 2, no traceback).

The BNN-PYNQ networks come from the brevitas wheel (``brevitas_examples.bnn_pynq``) with seeded random
weights (``pretrained=False``: nothing is downloaded). TFC 1W1A runs in the default suite; the others are slow.
"""

from __future__ import annotations

import json
import warnings

import pytest
import torch
from torch import nn

from flow.cli import main

BNN_PYNQ = ["TFC_1W2A", "TFC_2W2A", "SFC_1W1A", "SFC_1W2A", "SFC_2W2A", "LFC_1W1A", "LFC_1W2A", "CNV_1W1A"]


def export_bnn_pynq(name: str, path) -> None:
    """``model_with_cfg(name)`` with seeded random weights, exported by Brevitas' ``export_qonnx`` unedited."""
    from brevitas.export import export_qonnx
    from brevitas_examples.bnn_pynq.models import model_with_cfg

    torch.manual_seed(0)
    model, _ = model_with_cfg(name.lower(), pretrained=False)
    shape = (1, 3, 32, 32) if name.startswith("CNV") else (1, 1, 28, 28)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        export_qonnx(model.eval(), torch.randn(*shape), str(path))


def _synth_file(name: str, tmp_path, build_root, *options: str) -> dict:
    path = tmp_path / f"{name}.onnx"
    export_bnn_pynq(name, path)
    assert main(["-q", "synth", str(path), "--no-yosys", "--no-asic", *options]) == 0
    return json.loads((build_root / name / "report.json").read_text())


@pytest.mark.sim
def test_bnn_pynq_tfc_1w1a_as_exported_is_exact(tmp_path, build_root):
    report = _synth_file("TFC_1W1A", tmp_path, build_root, "--hls")  # the three-way check included
    checks = {c["check"]: c["differing_outputs"] for c in report["checks"]}
    assert checks["accelerator + host stages == qonnx execution of TFC_1W1A.onnx"] == 0
    assert len(checks) == 7 and set(checks.values()) == {0}  # compile x2, simulate x2, three-way x3
    assert report["host_stages"]["input"] == ["reshape to (784,)", "Mul by 2", "Sub by 1"]
    assert report["host_stages"]["output"][1] == "Div by 1.00005"  # TensorNorm's 1/sqrt(1 + eps), on the host
    assert report["folding"] == "folded" and report["simulation"]["cycles_per_inference_measured"] == 64


@pytest.mark.slow
@pytest.mark.parametrize("name", BNN_PYNQ)
def test_bnn_pynq_networks_as_exported_are_exact(name, tmp_path, build_root):
    report = _synth_file(name, tmp_path, build_root, "--no-hls")
    assert [c["differing_outputs"] for c in report["checks"]] == [0, 0, 0, 0]


# ------------------------------------------------------------------------------------------------ bad models
def _brevitas(model: nn.Module, path, shape=(1, 16)) -> None:
    from brevitas.export import export_qonnx

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        export_qonnx(model.eval(), torch.zeros(*shape), str(path))


class _Residual(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        from flow.qat import QAct, QLinear

        self.q, self.fc, self.q2 = QAct("binary"), QLinear(16, 16, "int4"), QAct("binary")

    def forward(self, x):
        x = self.q(x)
        return self.q2(self.fc(x)) + x


class _DivBetweenLayers(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        from flow.qat import QAct, QLinear

        self.q, self.fc1 = QAct("uint4"), QLinear(16, 16, "int4")
        self.q2, self.fc2 = QAct("uint4"), QLinear(16, 4, "int4")

    def forward(self, x):
        return self.fc2(self.q2(self.fc1(self.q(x)) / 3.0))


def _bad_models():
    from brevitas.nn import QuantLinear

    from flow.qat import QAct, QLinear

    return {
        "float": (lambda p: _brevitas(nn.Sequential(nn.Linear(16, 4)), p),
                  "model: no quantizer (Quant/BipolarQuant) in the graph"),
        "float_scale": (lambda p: _brevitas(nn.Sequential(QAct("uint4"), QuantLinear(16, 4, bias=False)), p),
                        "expected a power-of-two scale"),
        "unsupported_op": (lambda p: _brevitas(nn.Sequential(QAct("uint4"), QLinear(16, 4, "int4"), nn.Sigmoid(),
                                                             QAct("uint4"), QLinear(4, 2, "int4")), p),
                           "op type 'Sigmoid' is not supported by qflow"),
        "div_between_layers": (lambda p: _brevitas(_DivBetweenLayers(), p), "expected a division by a power of two"),
        "residual": (lambda p: _brevitas(_Residual(), p), "adding a bipolar (+-1) branch"),
        "corrupt": (lambda p: p.write_bytes(b"\x08\x07not an onnx model"), "expected a valid ONNX model"),
        "missing": (lambda p: None, "QONNX file not found"),
    }


@pytest.mark.parametrize("case", ["float", "float_scale", "unsupported_op", "div_between_layers", "residual",
                                  "corrupt", "missing"])
def test_bad_models_get_one_clear_error(case, tmp_path, build_root, capsys):
    make, message = _bad_models()[case]
    path = tmp_path / f"{case}.onnx"
    make(path)
    assert main(["compile", str(path)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("qflow: error: ") and message in err, err
    assert err.count("\n") == 1 and "Traceback" not in err


# ------------------------------------------------------------------------------------------------ random networks
@pytest.mark.sim
@pytest.mark.parametrize("seed", range(4))
def test_random_networks_build_and_match_or_are_refused_clearly(seed, tmp_path, build_root):
    """flow.fuzz: MLPs (even seeds) and CNNs (odd seeds) with random bit widths, shapes and foldings."""
    from flow.fuzz import fuzz_one

    fuzz_one(seed, tmp_path)


@pytest.mark.slow
@pytest.mark.parametrize("seed", range(4, 40))
def test_random_networks_many(seed, tmp_path, build_root):
    from flow.fuzz import fuzz_one

    fuzz_one(seed, tmp_path)


@pytest.mark.sim
def test_width_converter_between_widths_that_do_not_divide(tmp_path, build_root):
    """PE=5 into SIMD=2 (lcm 10): no refusal, exact, and the beat-timing model still equals simulation."""
    from flow.compile.folding import Folding
    from flow.export import export_qonnx
    from flow.qat import QAct, QLinear, seed_everything
    from flow.stages.compile import compile_target, load_network
    from flow.stages.simulate import simulate_target
    from flow.stages.target import resolve

    seed_everything(0)
    model = nn.Sequential(QAct("uint4"), QLinear(16, 10, "int4"), nn.BatchNorm1d(10), QAct("uint4"),
                          QLinear(10, 16, "int4"), nn.BatchNorm1d(16), QAct("uint4"), QLinear(16, 4, "int4"))
    path = tmp_path / "lcm.onnx"
    export_qonnx(model.eval(), (16,), path)
    target = resolve(path)
    compile_target(target, Folding.parse("parallel", {"MatMul_0": (5, 16), "MatMul_1": (16, 2)}))
    interface = json.loads((target.paths.rtl / "interface.json").read_text())
    assert any(b["module"] == "axis_dwc" and "5 -> 2" in b["comment"] for b in interface["blocks"])
    sim = simulate_target(target, stall_percent=40)
    assert (sim["mismatches_with_stalls"], sim["mismatches_without_stalls"]) == (0, 0)
    assert sim["latency_cycles_measured"] == sim["latency_cycles_predicted"]
    assert load_network(target.paths.root)[0].layers[2].simd == 2


def test_qflow_hls_takes_the_same_front_end(tmp_path, build_root, capsys):
    """``qflow hls file.onnx`` on BNN-PYNQ's TFC as exported: the host stages are cut off as for the RTL, and
    the exact HLS C-simulation equals the QONNX reference of the accelerator's graph and the golden network."""
    path = tmp_path / "TFC_1W1A.onnx"
    export_bnn_pynq("TFC_1W1A", path)
    assert main(["-q", "hls", str(path)]) == 0
    assert capsys.readouterr().out.count(": 0 differing") == 3
