"""The stages one at a time on a user's QONNX file: each writes its artefact, can run alone, refuses a missing
or stale input, and a re-run removes everything downstream first. Also the typed folding and the saved
integer network."""

from __future__ import annotations

import json

import numpy as np
import pytest
from torch import nn

from flow.compile.folding import Folding, FoldMode
from flow.compile.serialize import network_from_dict, network_to_dict
from flow.errors import UnsupportedError
from flow.export import export_qonnx
from flow.qat import QAct, QLinear, seed_everything
from flow.stages.artefacts import StaleError, require
from flow.stages.compile import compile_target, load_network, load_vectors
from flow.stages.estimate import estimate_target
from flow.stages.report import report_build
from flow.stages.simulate import simulate_target
from flow.stages.target import resolve


@pytest.mark.parametrize(("value", "mode", "cycles"), [
    ("parallel", FoldMode.PARALLEL, None), ("folded", FoldMode.FOLDED, None), ("256", FoldMode.CYCLES, 256),
    (16, FoldMode.CYCLES, 16), (" folded ", FoldMode.FOLDED, None),
])
def test_folding_parses_what_users_write(value, mode, cycles):
    f = Folding.parse(value)
    assert (f.mode, f.cycles) == (mode, cycles)
    assert Folding.parse(f.label) == f  # the label reads back


@pytest.mark.parametrize("bad", [0, "", "0", -3, True, 1.5, "fast", None])
def test_folding_refuses_anything_else_naming_it(bad):
    with pytest.raises(UnsupportedError, match=r"folding: expected 'parallel', 'folded' or a positive integer"):
        Folding.parse(bad)


def test_folding_layer_overrides_merge():
    f = Folding.parse(Folding.parse(64, {"fc1": (2, 4)}), {"fc2": (1, 8)})
    assert (f.cycles, dict(f.layers)) == (64, {"fc1": (2, 4), "fc2": (1, 8)})


@pytest.fixture(scope="module")
def onnx_file(tmp_path_factory):
    seed_everything(0)
    model = nn.Sequential(QAct("uint4"), QLinear(32, 16, "int4"), nn.BatchNorm1d(16), QAct("uint4"),
                          QLinear(16, 10, "int4")).eval()
    path = tmp_path_factory.mktemp("model") / "tiny.onnx"
    export_qonnx(model, (32,), path)
    return path


def test_a_layer_override_naming_no_layer_is_refused(onnx_file, build_root):
    with pytest.raises(UnsupportedError, match=r"override\(s\) \['nope'\] name no dense or convolution layer"):
        compile_target(resolve(onnx_file), Folding.parse("parallel", {"nope": (1, 1)}))


def test_network_json_round_trips_exactly(onnx_file, build_root):
    target = resolve(onnx_file)
    compile_target(target, Folding.parse(16))
    net, data = load_network(target.paths.root)
    assert data["folding"] == "16" and data["checks"][0]["differing_outputs"] == 0
    assert network_to_dict(network_from_dict(network_to_dict(net))) == network_to_dict(net)
    vectors = load_vectors(target.paths.root)
    assert np.array_equal(net.run(vectors.x_int), vectors.golden)
    with pytest.raises(ValueError, match="expected format"):
        network_from_dict({**network_to_dict(net), "format": "other/0"})


@pytest.mark.sim
def test_stages_alone_refuse_stale_inputs_and_clear_downstream(onnx_file, build_root):
    target = resolve(onnx_file)
    root = target.paths.root
    with pytest.raises(StaleError, match=r"network\.json: missing; run `qflow compile` first"):
        simulate_target(target)
    compile_target(target, Folding.parse("folded"))
    sim = simulate_target(target, stall_percent=30)
    assert sim["mismatches_with_stalls"] == 0 and sim["vectors"] == 1000
    assert estimate_target(target, yosys=False)[0] is None
    report = report_build(root)
    assert [c["differing_outputs"] for c in report["checks"]] == [0, 0, 0]
    assert set(report["made_from"]) == {"network.json", "sim.json", "energy.json"}

    # Changed vectors: sim.json (made from them) is stale, and the report refuses to present it.
    vectors = root / "vectors.npz"
    vectors.write_bytes(vectors.read_bytes() + b"\0")
    with pytest.raises(StaleError, match=r"network\.json: made from another .*vectors\.npz.* \(stale\)"):
        report_build(root)
    with pytest.raises(StaleError, match="stale"):
        require(root, "sim.json", "simulate")

    # A new compile removes every later artefact before it writes its own.
    compile_target(target, Folding.parse("parallel"))
    assert not any((root / name).exists() for name in ("sim.json", "energy.json", "report.json", "report.md"))
    assert json.loads((root / "network.json").read_text())["folding"] == "parallel"
    with pytest.raises(StaleError, match=r"sim\.json: missing; run `qflow simulate` first"):
        report_build(root)


@pytest.mark.parametrize("command", ["synth", "compile"])
def test_cli_refuses_a_bad_folding_before_anything_runs(command, build_root, capsys):
    from flow.cli import main

    assert main([command, "tfc_w1a1", "--folding", "0"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("qflow: error: folding: expected 'parallel', 'folded' or a positive integer") and "0" in err
    assert not build_root.exists()  # nothing trained, exported or compiled


def test_cli_target_cycles_is_a_cycle_folding_and_excludes_folding(build_root, capsys):
    from flow.cli import _folding, build_parser, main
    from flow.compile.folding import FoldMode

    args = build_parser().parse_args(["compile", "tfc_w1a1", "--target-cycles", "256"])
    assert (_folding(args).mode, _folding(args).cycles) == (FoldMode.CYCLES, 256)
    assert main(["compile", "tfc_w1a1", "--target-cycles", "0"]) == 2
    assert main(["compile", "tfc_w1a1", "--folding", "folded", "--target-cycles", "64"]) == 2
    assert "expected one of them, got both" in capsys.readouterr().err


def test_options_are_checked_before_anything_runs(build_root, capsys):
    from flow.cli import main

    assert main(["synth", "tfc_w1a1", "--stall", "150"]) == 2
    assert main(["synth", "tfc_w1a1", "--activity", "-1"]) == 2
    err = capsys.readouterr().err
    assert "--stall: expected a percentage in [0, 99], got 150" in err and "--activity: expected" in err
    assert not build_root.exists()


def test_an_artefact_of_another_qflow_version_is_refused(tmp_path):
    from flow.stages.artefacts import write_artefact

    (tmp_path / "in.txt").write_text("x")
    write_artefact(tmp_path, "a.json", {"v": 1}, ["in.txt"])
    assert require(tmp_path, "a.json", "compile")["v"] == 1
    data = json.loads((tmp_path / "a.json").read_text())
    (tmp_path / "a.json").write_text(json.dumps({**data, "qflow": "0.0.1"}))
    with pytest.raises(StaleError, match=r"made by qflow 0.0.1, this is qflow .*run `qflow compile` again"):
        require(tmp_path, "a.json", "compile")


@pytest.mark.sim
def test_synth_skips_stages_whose_artefacts_are_fresh(onnx_file, build_root, capsys, monkeypatch):
    """A second synth with the same inputs and options skips compile, simulate and estimate; other stall
    options rerun the simulation only; a new folding, or other qflow sources, rerun from compile."""
    from flow.stages.synth import synth

    def lines(**options) -> str:
        assert synth(str(onnx_file), progress=True, skip_yosys=True, skip_hls=True, **options) == 0
        return capsys.readouterr().err

    first = lines()
    assert "up to date" not in first
    second = lines()
    assert "compile (up to date, skipped)" in second and "simulate (up to date, skipped)" in second
    third = lines(stall_percent=10)
    assert "compile (up to date, skipped)" in third and "simulate (up to date" not in third
    fourth = lines(folding="parallel")
    assert "up to date" not in fourth
    # other qflow sources (an edited hw/ block): the compile stage and everything after it run again
    import flow.stages.compile as compile_stage

    monkeypatch.setattr(compile_stage, "generator_digest", lambda: "0" * 64)
    assert "up to date" not in lines(folding="parallel")
