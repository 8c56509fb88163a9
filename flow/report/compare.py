"""``qflow compare a b ...``: one static page comparing builds side by side (e.g. binary vs 4-bit twins).

:func:`write_compare_report` reads each build's ``report.json`` (the same files ``report.html`` comes from)
and writes ``build/compare.html`` (or ``out``): a table with one column per build -- accuracy, checks,
cycles/inference, latency, LUT/FF/DSP, NAND2 equivalents, energy per inference -- each figure with its kind
(simulated, synthesized, estimated, ...), ``not run`` where a build skipped a step, and bar plots of LUT and
energy. Numbers carry ``data-src="<name>/report.json"`` and their key (see :mod:`flow.report.page`).
"""

from __future__ import annotations

from pathlib import Path

from flow.io import write_text
from flow.paths import build_root
from flow.report import svg
from flow.report.html import ReportError, load_build
from flow.report.page import Page, badge, esc, not_run, table

# (label, key path in report.json, decimals, scale, unit, kind)
ROWS: tuple[tuple[str, str, int, float, str, str], ...] = (
    ("accuracy PyTorch / QONNX", "accuracy.PyTorch / QONNX.value", 2, 100.0, " %", "executed"),
    ("accuracy RTL", "accuracy.RTL (simulated).value", 2, 100.0, " %", "simulated"),
    ("cycles per inference", "simulation.cycles_per_inference_measured", 2, 1.0, "", "simulated"),
    ("latency (cycles)", "simulation.latency_cycles_measured", 0, 1.0, "", "simulated"),
    ("LUT", "resources.LUT", 0, 1.0, "", "synthesized"),
    ("FF", "resources.FF", 0, 1.0, "", "synthesized"),
    ("DSP48E1", "resources.DSP48E1", 0, 1.0, "", "synthesized"),
    ("BRAM18", "resources.BRAM18_equivalent", 0, 1.0, "", "synthesized"),
    ("NAND2 equivalents", "asic.nand2_equivalents", 0, 1.0, "", "synthesized"),
    ("energy per inference (pJ)", "energy.total_pj", 1, 1.0, "", "estimated"),
)


def _get(doc: dict, dotted: str):
    for part in dotted.split("."):
        if not isinstance(doc, dict) or part not in doc:
            return None
        doc = doc[part]
    return doc


def _build_dir(name: str) -> Path:
    path = Path(name)
    return path if path.is_dir() else build_root() / name


def render_compare(reports: dict[str, dict]) -> str:
    """The comparison page for ``{build name: report.json contents}`` (pure: no file access)."""
    if len(reports) < 2:
        raise ReportError(f"qflow compare: expected at least 2 builds, got {len(reports)}")
    page = Page()
    rows = []
    for label, key, digits, scale, unit, kind in ROWS:
        cells = [esc(label)]
        for name, r in reports.items():
            value = _get(r, key)
            cells.append(f"{page.num(value, key, digits, scale, f'{name}/report.json')}{esc(unit)} {badge(kind)}"
                         if value is not None else "<em>not run</em>")
        rows.append(cells)
    checks = [esc("checks passed")]
    for r in reports.values():
        c = r.get("checks") or []
        bad = sum(1 for x in c if x.get("differing_outputs"))
        checks.append(f'<span class="{"fail" if bad or not c else "ok"}">{len(c) - bad} / {len(c)}</span>')
    rows.insert(2, checks)
    body = [table(["figure", *reports], rows)]
    for plot, key, title in (("plot-lut", "resources.LUT", "LUT (synthesized)"),
                             ("plot-energy", "energy.total_pj", "energy per inference, pJ (estimated)")):
        have = {n: _get(r, key) for n, r in reports.items() if _get(r, key) is not None}
        if have:
            body.append(svg.grouped_bars(plot, list(have), {title: list(have.values())}, title, title))
        missing = [n for n in reports if n not in have]
        if missing:
            body.append(not_run(f"{title}: {', '.join(missing)}"))
    page.add("comparison", "Side by side", "\n".join(body))
    notes = ("<p>Each figure comes from that build's <code>report.json</code> (see its <code>report.html</code> "
             "for how it was produced). Cycles and latency are measured in simulation; LUT/FF are Yosys cell "
             "counts; energy is the operation model's estimate, not a measurement.</p>")
    page.add("provenance", "How the figures were produced", notes)
    return page.document("qflow compare: " + " vs ".join(reports), "")


def write_compare_report(builds: list[str], out: str | Path | None = None) -> Path:
    """Write the comparison page of ``builds`` (recipe names or build directories); return its path."""
    names = [Path(b).name if Path(b).is_dir() else b for b in builds]
    if len(set(names)) != len(names):
        raise ReportError(f"qflow compare: each build once, got {', '.join(names)}")
    reports = {n: load_build(_build_dir(b))["report.json"] for n, b in zip(names, builds, strict=True)}
    return write_text(Path(out) if out else build_root() / "compare.html", render_compare(reports))
