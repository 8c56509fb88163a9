"""``qflow compare``: one column per build, numbers equal each build's report.json, skipped steps 'not run'."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from report_page import Page, lookup

from flow.cli import main
from flow.report.compare import render_compare
from flow.report.html import ReportError

DATA = Path(__file__).parent / "data"


def test_compare_two_builds(build_root, capsys):
    full = json.loads((DATA / "report_tfc_w1a1.json").read_text())
    bare = json.loads(json.dumps(full)) | {"model": "bare"}
    for key in ("resources", "asic", "energy"):
        bare.pop(key)
    for name, report in (("tfc_w1a1", full), ("bare", bare)):
        (build_root / name).mkdir(parents=True)
        (build_root / name / "report.json").write_text(json.dumps(report))
    assert main(["compare", "tfc_w1a1", "bare"]) == 0
    assert "compare.html" in capsys.readouterr().out
    page = Page((build_root / "compare.html").read_text())
    assert page.section_order == ["comparison", "tradeoff", "provenance"]
    docs = {"tfc_w1a1/report.json": full, "bare/report.json": bare}
    seen = {(src, key) for src, key, *_ in page.numbers}
    for src, key, digits, scale, text in page.numbers:
        assert abs(float(text.replace(",", "")) - lookup(docs[src], key) * scale) <= 0.5 * 10**-digits + 1e-9
    assert ("tfc_w1a1/report.json", "resources.LUT") in seen and ("bare/report.json", "resources.LUT") not in seen
    assert ("bare/report.json", "simulation.cycles_per_inference_measured") in seen
    assert page.sections["comparison"].count("not run") >= 4  # LUT, FF, DSP, BRAM, NAND2, energy of "bare"


def test_compare_needs_two_builds():
    with pytest.raises(ReportError, match="at least 2 builds"):
        render_compare({"one": {}})


def test_compare_pruned_twins_shows_removed_channels_and_the_pareto_front(build_root):
    """A dense build and two pruned twins: the channels each removed, and accuracy against LUT and energy with
    the Pareto-optimal builds named (a twin that is both less accurate and larger than another is not)."""
    base = json.loads((DATA / "report_tfc_w1a1.json").read_text())
    twins = {  # name: (RTL accuracy, LUT, energy pJ, pruning rows)
        "dense": (0.975, 9000, 250000.0, []),
        "f50": (0.970, 5000, 120000.0, [{"layer": "conv1", "channels_before": 6, "channels_after": 3, "removed": 3}]),
        "f25_bad": (0.960, 6000, 130000.0, [{"layer": "conv1", "channels_before": 6, "channels_after": 2,
                                             "removed": 4}]),
    }
    reports = {}
    for name, (acc, lut, pj, pruning) in twins.items():
        r = json.loads(json.dumps(base)) | {"model": name, "pruning": pruning}
        r["accuracy"]["RTL (simulated)"]["value"] = acc
        r["resources"]["LUT"] = lut
        r["energy"]["total_pj"] = pj
        reports[name] = r
        (build_root / name).mkdir(parents=True)
        (build_root / name / "report.json").write_text(json.dumps(r))
    assert main(["compare", *twins, "-o", str(build_root / "twins.html")]) == 0
    page = Page((build_root / "twins.html").read_text())
    assert "3 of 6 (conv1 6\u21923)" in page.sections["comparison"] and "none" in page.sections["comparison"]
    trade = page.sections["tradeoff"]
    assert trade.count("Pareto-optimal (test error and") == 2
    assert "Pareto-optimal (test error and LUT (synthesized)): dense, f50" in trade
    plots = {a.get("aria-label") for tag, a in page.tags if tag == "svg"}
    assert {"pareto-lut", "pareto-energy"} <= plots
