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
    assert page.section_order == ["comparison", "provenance"]
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
