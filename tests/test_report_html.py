"""report.html: every section present, every number equal to the JSON it came from, skipped steps 'not run',
self-contained (no script, no external URL), the ``qflow report`` command, and a headless-browser screenshot
when a Chromium binary is installed."""

from __future__ import annotations

import copy
import json
import shutil
import subprocess
from pathlib import Path

import pytest
from report_page import Page, lookup

from flow.cli import main
from flow.report.html import SECTION_IDS, load_build, render_html, write_html_report

DATA = Path(__file__).parent / "data"
# The page's contract: these ids, in this order (a test-side copy, so renaming one fails here).
EXPECTED_SECTIONS = ["summary", "verification", "resources", "performance", "energy", "provenance"]
METRICS = {"recipe": "tfc_w1a1", "dataset": "mnist5k", "test_accuracy": 0.9, "epochs": 20, "train_seconds": 10.7}


@pytest.fixture()
def report() -> dict:
    return json.loads((DATA / "report_tfc_w1a1.json").read_text())


def page_for(report: dict, **extra: dict) -> tuple[Page, dict]:
    files = {"report.json": report, **{k.replace("_", "."): v for k, v in extra.items()}}
    return Page(render_html(files)), files


def test_every_section_present_in_order(report):
    page, _ = page_for(report, metrics_json=METRICS)
    assert list(SECTION_IDS) == EXPECTED_SECTIONS
    assert page.section_order == EXPECTED_SECTIONS
    for section in EXPECTED_SECTIONS:
        assert "not run" not in page.sections[section], section  # a full build: nothing skipped


def test_numbers_in_the_page_equal_report_json(report):
    page, files = page_for(report, metrics_json=METRICS)
    keys = set()
    for src, key, digits, scale, text in page.numbers:
        expected = lookup(files[src], key) * scale
        shown = float(text.replace(",", ""))
        assert abs(shown - expected) <= 0.5 * 10**-digits + 1e-9, (src, key, text, expected)
        keys.add(key)
    # The headline figures are among them (so the loop above cannot pass on an empty page).
    for key in ("resources.LUT", "resources.FF", "asic.nand2_equivalents", "energy.total_pj",
                "energy.layers.0.total_pj", "simulation.cycles_per_inference_measured",
                "simulation.latency_cycles_predicted", "checks.2.vectors", "checks.2.differing_outputs",
                "three_way.comparisons.1.differing_outputs", "resources.blocks.mvau_0.LUT",
                "accuracy.RTL (simulated).value", "clock_mhz", "epochs"):
        assert key in keys, key
    assert len(page.numbers) > 100


def test_skipped_steps_render_as_not_run(report):
    for key in ("resources", "asic", "energy", "three_way", "accuracy", "simulation"):
        report.pop(key)
    page, _ = page_for(report)
    for section in ("summary", "resources", "performance", "energy"):
        assert "not run" in page.sections[section], section
    assert "not run" in page.sections["verification"]  # the three-way comparison
    assert page.sections["resources"].count("not run") == 2  # FPGA cells and NAND2 equivalents
    assert "not run" in page.sections["provenance"]
    assert not any(k.startswith(("resources.", "asic.", "energy.")) for _, k, *_ in page.numbers)


def test_no_asic_only_marks_the_asic_figure(report):
    report.pop("asic")
    page, _ = page_for(report)
    assert page.sections["resources"].count("not run") == 1
    assert "--no-asic" in page.sections["resources"]
    assert any(k == "resources.LUT" for _, k, *_ in page.numbers)


def test_three_way_from_hls_json_when_the_report_has_none(report):
    report.pop("three_way")
    hls = {"comparisons": [{"pair": "golden vs HLS C-sim", "vectors": 360, "differing_outputs": 3,
                            "differing_samples": 1, "first_differing_sample": 7}]}
    page, _ = page_for(report, hls_json=hls)
    hls_numbers = {k: t for src, k, _, _, t in page.numbers if src == "hls.json"}
    assert hls_numbers == {"comparisons.0.vectors": "360", "comparisons.0.differing_outputs": "3",
                           "comparisons.0.differing_samples": "1"}
    assert "not run" not in page.sections["verification"]


def test_estimate_beside_the_synthesized_figures_with_the_error(report):
    """The analytical estimate next to the synthesized LUT/FF, in total and per block, with the relative error;
    every number tied to report.json's ``resources_estimate`` (and report.md has the same table)."""
    from flow.estimate.resources import compare
    from flow.report.markdown import report_markdown

    res = report["resources"]
    est = {"total": {"LUT": res["LUT"] + 100, "FF": res["FF"]},
           "blocks": {inst: {"LUT": b["LUT"] + 10, "FF": b["FF"]} for inst, b in res["blocks"].items()}}
    report["resources_estimate"] = {"how": "test", **compare(est, res)}
    page, _ = page_for(report)
    shown = {k: (digits, scale, text) for _, k, digits, scale, text in page.numbers}
    for key in ("resources_estimate.total.LUT.estimate", "resources_estimate.total.LUT.yosys",
                "resources_estimate.total.LUT.rel_error", "resources_estimate.blocks.mvau_0.FF.yosys",
                "resources_estimate.blocks.mvau_0.LUT.rel_error"):
        digits, scale, text = shown[key]
        assert abs(float(text.replace(",", "")) - lookup(report, key) * scale) <= 0.5 * 10**-digits + 1e-9, key
    assert shown["resources_estimate.total.LUT.rel_error"][1] == 100.0  # shown in percent
    assert "Estimate vs synthesis" in page.sections["resources"]
    md = report_markdown(report)
    err = report["resources_estimate"]["blocks"]["mvau_0"]["LUT"]["rel_error"]
    assert "### Estimate vs synthesis" in md and f"| {res['blocks']['mvau_0']['LUT']:,} | {err * 100:+.1f} % |" in md
    report.pop("resources_estimate")
    assert "Estimate vs synthesis" not in render_html({"report.json": report})  # an older report: no table


def test_failed_check_is_shown(report):
    report["checks"][3]["differing_outputs"] = 5
    page, _ = page_for(report)
    assert "FAIL" in page.sections["verification"]
    assert "1 of 7 checks found differing outputs" in render_html({"report.json": report})


def test_page_is_self_contained(report):
    text = render_html({"report.json": report, "metrics.json": METRICS})
    page = Page(text)
    tags = {t for t, _ in page.tags}
    assert "script" not in tags and "link" not in tags and "img" not in tags and "iframe" not in tags
    for tag, attrs in page.tags:
        for name in ("src", "href", "xlink:href"):
            value = attrs.get(name) or ""
            assert not value or value.startswith("#"), (tag, name, value)
    assert "url(http" not in text and "@import" not in text
    assert sum(t == "svg" for t, _ in page.tags) == 3  # resources, cycles, energy
    assert page.unbalanced == []
    ids = [a["id"] for _, a in page.tags if a.get("id")]
    assert len(ids) == len(set(ids)), "duplicate element ids across the inline plots"


def test_write_and_cli_regenerate(report, build_root, capsys):
    build = build_root / "tfc_w1a1"
    build.mkdir(parents=True)
    (build / "report.json").write_text(json.dumps(report))
    (build / "metrics.json").write_text(json.dumps(METRICS))
    path = write_html_report(build)
    assert path == build / "report.html" and path.stat().st_size > 10_000
    first = path.read_text()
    path.unlink()
    assert main(["report", "tfc_w1a1"]) == 0
    assert (build / "report.html").read_text() == first  # deterministic
    assert main(["report", str(build)]) == 0
    assert "report.html" in capsys.readouterr().out
    assert set(load_build(build)) == {"report.json", "metrics.json"}


def test_cli_without_a_build_is_one_clear_line(build_root, capsys):
    assert main(["report", "tfc_w1a1"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "report.json: not found" in err[0] and "qflow synth" in err[0]


def _chromium() -> str | None:
    for name in ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable", "chrome"):
        found = shutil.which(name)
        if found:
            return found
    return None


@pytest.mark.skipif(_chromium() is None, reason="no chromium/google-chrome binary on PATH")
def test_headless_chromium_screenshot(report, tmp_path):
    """The README's documented browser check: a real browser renders the page to a non-trivial PNG."""
    full = copy.deepcopy(report)
    (tmp_path / "report.json").write_text(json.dumps(full))
    page = write_html_report(tmp_path)
    shot = tmp_path / "report.png"
    subprocess.run(
        [_chromium(), "--headless", "--disable-gpu", "--no-sandbox", "--hide-scrollbars", "--window-size=1200,4000",
         f"--screenshot={shot}", page.resolve().as_uri()],
        check=True, capture_output=True, timeout=120,
    )
    data = shot.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) > 50_000


@pytest.mark.sim
def test_qflow_synth_writes_report_html(tmp_path, build_root):
    """``qflow synth`` ends by writing report.html next to report.md (tiny net, no Yosys, no HLS; ~15 s)."""
    recipe = tmp_path / "tiny_report.py"
    recipe.write_text(
        "from flow.qat.models import mlp\nfrom flow.qat.train import TrainConfig\nfrom flow.recipe import Recipe\n"
        "RECIPE = Recipe(name='tiny_report', dataset='digits', train=TrainConfig(epochs=1, lr=1e-2),\n"
        "                build=lambda: mlp([64, 16, 10], 'binary', 'binary', 'binary'))\n"
    )
    assert main(["-q", "synth", str(recipe), "--no-hls", "--no-yosys"]) == 0
    build = build_root / "tiny_report"
    page = Page((build / "report.html").read_text())
    assert page.section_order == EXPECTED_SECTIONS
    assert "not run" in page.sections["resources"] and "not run" not in page.sections["energy"]
    report = json.loads((build / "report.json").read_text())
    shown = {k: t for src, k, _, _, t in page.numbers if src == "report.json"}
    predicted = report["simulation"]["cycles_per_inference_predicted"]
    assert shown["simulation.cycles_per_inference_predicted"] == f"{predicted:,}"
