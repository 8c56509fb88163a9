"""``qflow sweep``: Pareto optimality on hand-made points, folding parsing, and a serial sweep of a tiny recipe
(one row per folding, Pareto flags, outputs written, the synthesis cache). Dask, the point cache, resuming and
faults: ``tests/test_sweep_dask.py``."""

from __future__ import annotations

import json
import textwrap
import xml.etree.ElementTree as ET

import pytest

from flow.cli import main
from flow.report.pareto import dominates, pareto_optimal
from flow.stages.sweep import SweepError, folding_label, parse_foldings, sweep
from flow.stages.sweep_spec import parse_pipelines

TINY = textwrap.dedent('''
    from flow.qat.models import mlp
    from flow.qat.train import TrainConfig
    from flow.recipe import Recipe

    RECIPE = Recipe(name="tiny_sweep", dataset="digits",
                    build=lambda: mlp([64, 16, 10], "binary", "binary", "binary"),
                    train=TrainConfig(epochs=1, lr=1e-2, seed=0))
''')


def test_pareto_on_hand_made_points():
    points = [
        (100, 10, 5.0),  # 0: optimal (fewest cycles among the small ones)
        (100, 20, 5.0),  # 1: dominated by 0 (same area and energy, more cycles)
        (50, 40, 5.0),   # 2: optimal (smallest area)
        (50, 40, 5.0),   # 3: equal to 2: equal points do not dominate each other
        (400, 1, 5.0),   # 4: optimal (fastest)
        (400, 1, 9.0),   # 5: dominated by 4 (more energy)
        (60, 40, 4.0),   # 6: optimal: more area than 2 but less energy
        (500, 50, 9.0),  # 7: dominated by everything optimal
    ]
    assert pareto_optimal(points) == [True, False, True, True, True, False, True, False]
    assert pareto_optimal([]) == []
    assert pareto_optimal([(3, 3)]) == [True]
    assert dominates((1, 2), (1, 3)) and not dominates((1, 3), (1, 3)) and not dominates((0, 4), (1, 3))
    with pytest.raises(ValueError, match="2 and 3 objectives"):
        dominates((1, 2), (1, 2, 3))


def test_parse_foldings():
    assert parse_foldings("parallel, folded,256") == ["parallel", "folded", 256]
    assert [folding_label(f) for f in parse_foldings("parallel,16")] == ["parallel", "c16"]
    for bad, match in (("fast", "got 'fast'"), ("0", "got '0'"), ("16,16", "each folding once"), (",", "list")):
        with pytest.raises(SweepError, match=match):
            parse_foldings(bad)


def test_parse_pipelines():
    assert parse_pipelines("none, auto,4") == ("none", "auto", "4")
    assert parse_pipelines(["auto", 8]) == ("auto", "8")
    for bad, match in (("1", "fan-in >= 2"), ("auto,auto", "each setting once"), (3.5, "expected a list")):
        with pytest.raises(SweepError, match=match):
            parse_pipelines(bad)


@pytest.fixture(scope="module")
def tiny_recipe(tmp_path_factory):
    """A trained and exported 64-16-10 binary net on digits, under its own build root."""
    root = tmp_path_factory.mktemp("sweep")
    recipe = root / "tiny_sweep.py"
    recipe.write_text(TINY)
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("QFLOW_BUILD", str(root / "build"))
        assert main(["-q", "train", str(recipe)]) == 0
        assert main(["-q", "export", str(recipe)]) == 0
    return recipe, root / "build"


@pytest.fixture()
def tiny(tiny_recipe, monkeypatch):
    recipe, build = tiny_recipe
    monkeypatch.setenv("QFLOW_BUILD", str(build))
    return recipe, build / "sweeps" / "tiny_sweep"


def test_sweep_without_synthesis_one_row_per_folding(tiny, capsys):
    recipe, out = tiny
    assert main(["-q", "sweep", str(recipe), "--no-synth", "--foldings", "256,parallel,folded", "--serial"]) == 0
    printed = capsys.readouterr().out
    summary = json.loads((out / "sweep.json").read_text())
    rows = summary["rows"]
    assert [r["label"] for r in rows] == ["c256", "parallel", "folded"]
    assert [r["folding"] for r in rows] == [256, "parallel", "folded"]
    by = {r["label"]: r for r in rows}
    # 64-16-10: parallel is PE=MH, SIMD=MW in both layers -> one vector per cycle.
    assert [(m["pe"], m["simd"]) for m in by["parallel"]["layers"]] == [(16, 64), (10, 16)]
    assert by["parallel"]["lanes"] == 16 * 64 + 10 * 16 and by["parallel"]["cycles_per_inference"] == 1
    assert by["folded"]["cycles_per_inference"] <= 64 < by["c256"]["cycles_per_inference"] <= 256
    assert by["c256"]["lanes"] < by["folded"]["lanes"] < by["parallel"]["lanes"]
    # the operation model counts the same MACs at any folding of an mvau; the fully parallel layers are cmvm
    # blocks (constant weights, shared adders: their additions only, no weight reads), which cost less
    assert by["c256"]["energy_pj"] == by["folded"]["energy_pj"] > by["parallel"]["energy_pj"]
    assert all(r["LUT"] is None and r["synth"] == {"not_run": "--no-synth"} for r in rows)
    assert summary["objectives"] == ["lanes", "cycles_per_inference", "energy_pj"]
    flags = pareto_optimal([(r["lanes"], r["cycles_per_inference"], r["energy_pj"]) for r in rows])
    assert [r["pareto"] for r in rows] == flags
    assert summary["pareto"] == [r["label"] for r in rows if r["pareto"]]
    md = (out / "sweep.md").read_text()
    assert md.count("\n| c256 |") == md.count("\n| parallel |") == 1 and "not run" in md
    assert "| c256 |" in printed
    svg = ET.parse(out / "pareto.svg").getroot()
    assert svg.tag.endswith("svg") and "NOT synthesized" in ET.tostring(svg, encoding="unicode")


def test_a_sweep_over_register_stages_has_one_row_per_folding_and_setting(tiny):
    recipe, out = tiny
    assert main(["-q", "sweep", str(recipe), "--no-synth", "--foldings", "folded", "--pipelines", "none,2",
                 "--serial", "--name", "tiny_pipes"]) == 0
    rows = json.loads((out.parent / "tiny_pipes" / "sweep.json").read_text())["rows"]
    assert [(r["label"], r["pipeline"]) for r in rows] == [("folded-pnone", "none"), ("folded-p2", "2")]
    plain, staged = rows
    # every unit's weights are in a ROM of several words (a register on it) and its SIMD lanes a tree of 2-input
    # sums; the binary thresholds between the layers (16 channels, one per beat) get a register on their ROM:
    # each stage adds its cycle to the latency, none to the cycles per inference
    extra = sum(1 + max(0, (m["simd"] - 1).bit_length() - 1) for m in staged["layers"])
    assert extra > len(staged["layers"])
    assert staged["latency_cycles"] - plain["latency_cycles"] == extra + 1
    assert staged["cycles_per_inference"] == plain["cycles_per_inference"]


def test_sweep_synthesis_is_cached_and_limited(tiny, monkeypatch):
    """Yosys replaced by a counting fake: identical designs synthesize once, big ones are not synthesized."""
    import flow.stages.sweep_point as sweep_module

    calls = []

    def fake_synth(rtl_dir, sources, top, timeout=0):
        calls.append(rtl_dir)
        return {"tool": "fake", "seconds": 0.0, "LUT": 100 + len(calls), "FF": 10, "CARRY4": 0, "DSP48E1": 0,
                "BRAM18_equivalent": 0, "LUTRAM": 0}

    monkeypatch.setattr(sweep_module, "synth_xilinx", fake_synth)
    monkeypatch.setattr(sweep_module, "yosys_command", lambda: (["fake-yosys"], "fake"))  # its own cache keys
    recipe, out = tiny
    first = sweep(str(recipe), ["parallel", "folded", 64, 256], max_synth_lanes=500, progress=False)
    rows = {r["label"]: r for r in first["rows"]}
    assert rows["parallel"]["LUT"] is None and "--max-synth-lanes" in rows["parallel"]["synth"]["not_run"]
    assert rows["parallel"]["pareto"] is None  # not compared without a LUT figure
    # "folded" (<= 64 cycles/vector) and 64 give the same design: one synthesis, then the cache.
    assert rows["folded"]["layers"] == rows["c64"]["layers"]
    assert len(calls) == 2
    assert rows["folded"]["LUT"] == rows["c64"]["LUT"] and rows["c64"]["synth"]["cached"]
    second = sweep(str(recipe), ["folded", 256], max_synth_lanes=500, progress=False)
    assert len(calls) == 2 and second["counts"]["computed"] == 0  # both points from the sweep's point cache
    cached = [json.loads(p.read_text()) for p in (out.parent / "synth_cache").glob("*.json")]
    assert sum(c["tool"] == "fake" for c in cached) == 2
    assert [r["LUT"] for r in second["rows"]] == [rows["folded"]["LUT"], rows["c256"]["LUT"]]


@pytest.mark.slow
def test_sweep_with_yosys_and_simulation(tiny):
    """Real Yosys and Verilator (about 40 s): more lanes cost LUTs, simulated cycles equal predicted."""
    recipe, _ = tiny
    summary = sweep(str(recipe), ["parallel", 256], simulate=20, progress=False)
    par, slow = summary["rows"]
    assert par["LUT"] > slow["LUT"] > 0 and par["FF"] > 0
    for row in summary["rows"]:
        assert row["simulation"]["differing_outputs"] == 0
        assert row["simulation"]["cycles_per_inference"] == pytest.approx(row["cycles_per_inference"])
    assert summary["pareto"] == ["parallel", "c256"]
