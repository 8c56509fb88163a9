"""``qflow compare a b ...``: one static page comparing builds side by side (e.g. binary vs 4-bit twins).

:func:`write_compare_report` reads each build's ``report.json`` (the same files ``report.html`` comes from)
and writes ``build/compare.html`` (or ``out``): a table with one column per build -- accuracy, checks,
cycles/inference, latency, LUT/FF/DSP, NAND2 equivalents, energy per inference -- each figure with its kind
(simulated, synthesized, estimated, ...), the channels pruning removed from the hardware, ``not run`` where a
build skipped a step, bar plots of LUT and energy, and the accuracy/cost trade-off: test error against LUT and
against energy per inference with the Pareto front (both minimized) marked. Numbers carry
``data-src="<name>/report.json"`` and their key (see :mod:`flow.report.page`).
"""

from __future__ import annotations

from pathlib import Path

from flow.io import write_text
from flow.paths import build_root
from flow.report import svg
from flow.report.html import ReportError, load_build
from flow.report.page import Page, badge, esc, not_run, table
from flow.report.pareto import pareto_optimal

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


#: Accuracy keys, best first: the RTL's when simulated on the test split, else the QONNX reference's.
ACCURACY_KEYS = ("accuracy.RTL (simulated).value", "accuracy.PyTorch / QONNX.value")

#: The trade-off plots: (plot id, cost key, cost label).
PARETO_PLOTS = (("pareto-lut", "resources.LUT", "LUT (synthesized)"),
                ("pareto-energy", "energy.total_pj", "energy per inference, pJ (estimated)"))


def _accuracy(report: dict) -> float | None:
    return next((v for v in (_get(report, k) for k in ACCURACY_KEYS) if v is not None), None)


def _pruning_cell(report: dict) -> str:
    """``removed / before`` output channels over the layers pruning touched, or 'none'."""
    rows = report.get("pruning") or []
    removed = sum(int(r.get("removed", 0)) for r in rows)
    if not removed:
        return "none"
    before = sum(int(r.get("channels_before", 0)) for r in rows)
    per_layer = ", ".join(f"{esc(r['layer'])} {r['channels_before']}&rarr;{r['channels_after']}" for r in rows
                          if r.get("removed"))
    return f"{removed} of {before} ({per_layer})"


def trade_off_plots(reports: dict[str, dict]) -> list[str]:
    """Test error (%) against each cost of :data:`PARETO_PLOTS`, one point per build with both figures, colour =
    cycles per inference, the Pareto-optimal builds (error and cost both minimized) circled; a note names the
    builds without the figures."""
    body = []
    for plot, key, label in PARETO_PLOTS:
        names = [n for n, r in reports.items() if _get(r, key) is not None and _accuracy(r) is not None]
        x = [float(_get(reports[n], key)) for n in names]
        y = [max(100.0 * (1.0 - float(_accuracy(reports[n]))), 1e-3) for n in names]
        cycles = [float(_get(reports[n], "simulation.cycles_per_inference_measured") or 0.0) for n in names]
        optimal = pareto_optimal(list(zip(x, y, strict=True)))
        body.append(svg.pareto_scatter(plot, x, y, cycles, names, optimal, label, "test error, %",
                                       "cycles per inference", f"accuracy vs {label}"))
        missing = [n for n in reports if n not in names]
        if missing:
            body.append(not_run(f"accuracy vs {label}: {', '.join(missing)}"))
        front = [n for n, o in zip(names, optimal, strict=True) if o]
        body.append(f"<p>Pareto-optimal (test error and {esc(label)}): {esc(', '.join(front) or 'none')}</p>")
    return body


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
    rows.append([esc("channels removed by pruning"), *(_pruning_cell(r) for r in reports.values())])
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
    page.add("tradeoff", "Accuracy against cost", "\n".join(trade_off_plots(reports)))
    notes = ("<p>Each figure comes from that build's <code>report.json</code> (see its <code>report.html</code> "
             "for how it was produced). Cycles and latency are measured in simulation; LUT/FF are Yosys cell "
             "counts; energy is the operation model's estimate, not a measurement. Test error is the RTL's on "
             "the test split where simulated (else the QONNX reference's). Channels removed by pruning: the output "
             "channels the compile stage took out of the hardware (all-zero filters, channels the next layer does "
             "not read); the network stays bit-exact.</p>")
    page.add("provenance", "How the figures were produced", notes)
    return page.document("qflow compare: " + " vs ".join(reports), "")


def write_compare_report(builds: list[str], out: str | Path | None = None) -> Path:
    """Write the comparison page of ``builds`` (recipe names or build directories); return its path."""
    names = [Path(b).name if Path(b).is_dir() else b for b in builds]
    if len(set(names)) != len(names):
        raise ReportError(f"qflow compare: each build once, got {', '.join(names)}")
    reports = {n: load_build(_build_dir(b))["report.json"] for n, b in zip(names, builds, strict=True)}
    return write_text(Path(out) if out else build_root() / "compare.html", render_compare(reports))
