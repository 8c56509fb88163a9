"""A sweep's outputs, from its summary (:func:`flow.stages.sweep.run_sweep`): the Pareto flags, the Markdown
table, the plots (area vs cycles per inference; energy vs accuracy) and ``index.html``.

Pareto optimality is taken over the summary's ``objectives`` (all minimized except ``accuracy``, ``fmax_mhz`` and
``inferences_per_s``), over the
rows with ``status = "ok"`` and every objective figure; the other rows get ``pareto = None``.
"""

from __future__ import annotations

from flow.report import svg
from flow.report.page import CSS, esc, table
from flow.report.pareto import pareto_optimal
from flow.stages.sweep_spec import MAXIMIZED

__all__ = ["accuracy_plot", "index_html", "mark_pareto", "pareto_plot", "sweep_markdown", "sweep_table"]

AREA_LABELS = {"LUT": "LUT (synthesized, Yosys synth_xilinx)", "lanes": "lanes (PE x SIMD; NOT synthesized)"}


def _figures(row: dict, objectives: list[str]) -> tuple | None:
    if row.get("status") != "ok" or any(row.get(o) is None for o in objectives):
        return None
    return tuple(-row[o] if o in MAXIMIZED else row[o] for o in objectives)


def mark_pareto(rows: list[dict], objectives: list[str]) -> None:
    """Set ``row["pareto"]``: ``True``/``False`` over the comparable rows, ``None`` for the others."""
    figures = [_figures(r, objectives) for r in rows]
    comparable = [(r, f) for r, f in zip(rows, figures, strict=True) if f is not None]
    flags = pareto_optimal([f for _, f in comparable])
    for r in rows:
        r["pareto"] = None
    for (r, _), flag in zip(comparable, flags, strict=True):
        r["pareto"] = flag


def _layers_text(row: dict) -> str:
    return ", ".join(f"{layer['pe']}x{layer['simd']}" for layer in row["layers"])


def _placed(row: dict) -> list[str]:
    """Fmax and inferences/s of a placed point, or why it was not placed."""
    if row.get("fmax_mhz") is None:
        return ["not placed", "-"]
    return [f"{row['fmax_mhz']:.1f}", f"{row['inferences_per_s']:,.0f}"]


def _cells(row: dict, sim: bool, clock: float, placed: bool = False) -> list[str]:
    cells = [str(row["point"])]
    if row.get("status") != "ok":
        return [*cells, f"failed: {row.get('error', '?')}"]
    cells += [_layers_text(row), f"{row['lanes']:,}", f"{row['cycles_per_inference']:,}"]
    if sim:
        s = row.get("simulation")
        cells += [f"{s['cycles_per_inference']:,.2f}", str(s["differing_outputs"])] if s else ["-", "-"]
    not_run = "not run" if row["LUT"] is None else None
    accuracy = "-" if row.get("accuracy") is None else f"{row['accuracy']:.4f}"
    cells += [f"{row['latency_cycles']:,}", f"{clock * 1e6 / row['cycles_per_inference']:,.0f}",
              not_run or f"{row['LUT']:,}", not_run or f"{row['FF']:,}", f"{row['energy_pj'] / 1000:.2f} nJ",
              accuracy]
    cells += _placed(row) if placed else []
    return [*cells, {True: "**yes**", False: "no", None: "-"}[row["pareto"]]]


def _header(summary: dict) -> tuple[list[str], bool]:
    sim = any(r.get("simulation") for r in summary["rows"])
    head = ["point", "PE x SIMD per layer", "lanes", "cycles/inf. (predicted)"]
    head += ["cycles/inf. (simulated)", "mismatches"] if sim else []
    head += ["latency (predicted)", f"inf./s at {summary['clock_mhz']:g} MHz", "LUT", "FF",
             "energy/inf. (estimated)", "accuracy (trained)"]
    if _any_placed(summary):
        head += ["Fmax, MHz (placed and routed)", "inf./s (placed and routed)"]
    return [*head, "Pareto"], sim


def _any_placed(summary: dict) -> bool:
    return any("fmax_mhz" in r for r in summary["rows"] if r.get("status") == "ok")


def sweep_table(summary: dict) -> str:
    """The sweep as a Markdown table (one row per finished point; a failed point shows its error)."""
    head, sim = _header(summary)
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    placed = _any_placed(summary)
    lines += ["| " + " | ".join(_cells(r, sim, summary["clock_mhz"], placed)) + " |" for r in summary["rows"]]
    return "\n".join(lines)


def sweep_markdown(summary: dict) -> str:
    """``sweep.md``: the table, how each column was produced, rows not synthesized or failed and why."""
    lines = [f"# qflow sweep: {summary['name']}", "", sweep_table(summary), "", "How each column was produced:", ""]
    lines += [f"- {k}: {v}" for k, v in summary["how"].items()]
    missing = [r for r in summary["rows"] if r.get("status") == "ok" and r["synth"].get("not_run")]
    if missing:
        lines += ["", "Not synthesized:", ""] + [f"- {r['point']}: {r['synth']['not_run']}" for r in missing]
    failed = [r for r in summary["rows"] if r.get("status") != "ok"]
    if failed:
        lines += ["", "Failed:", ""] + [f"- {r['point']}: {r.get('error')}" for r in failed]
    unplaced = [r for r in summary["rows"] if r.get("status") == "ok" and r.get("pnr", {}).get("not_run")]
    if unplaced:
        lines += ["", "Not placed:", ""] + [f"- {r['point']}: {r['pnr']['not_run']}" for r in unplaced]
    if summary["pending"]:
        lines += ["", f"Not finished yet: {', '.join(summary['pending'])}"]
    lines += ["", f"Pareto-optimal (over {', '.join(summary['objectives'])}; maximizing "
              f"{', '.join(o for o in summary['objectives'] if o in MAXIMIZED) or 'none'}): "
              + (", ".join(summary["pareto"]) or "none"), "",
              f"Sweep time {summary['seconds']} s. Plots: `pareto.svg`, `accuracy.svg`; page: `index.html`.", ""]
    return "\n".join(lines)


def _area_key(summary: dict) -> str:
    return "LUT" if summary["yosys"] else "lanes"


def pareto_plot(summary: dict) -> str:
    """``pareto.svg`` (inline SVG): area (LUT or lanes) vs cycles/inference, energy as colour, Pareto points circled."""
    x_key = _area_key(summary)
    ok = [r for r in summary["rows"] if r.get("status") == "ok"]
    rows = [r for r in ok if r[x_key] is not None]
    left_out = [r["point"] for r in summary["rows"] if r not in rows]
    title = f"qflow sweep {summary['name']}: area vs speed"
    if left_out:
        title += f"\nnot plotted (not synthesized or failed): {', '.join(left_out)}"
    return svg.pareto_scatter(
        "pareto", [r[x_key] for r in rows], [r["cycles_per_inference"] for r in rows],
        [r["energy_pj"] / 1000 for r in rows], [r["point"] for r in rows], [bool(r["pareto"]) for r in rows],
        AREA_LABELS[x_key], "cycles per inference (predicted)", "energy per inference, nJ (estimated)", title,
    )


def accuracy_plot(summary: dict) -> str:
    """``accuracy.svg`` (inline SVG): energy per inference vs test error (1 - accuracy), cycles/inference as colour."""
    rows = [r for r in summary["rows"] if r.get("status") == "ok" and r.get("accuracy") is not None]
    return svg.pareto_scatter(
        "accuracy", [r["energy_pj"] / 1000 for r in rows], [max(1 - r["accuracy"], 1e-4) for r in rows],
        [r["cycles_per_inference"] for r in rows], [r["point"] for r in rows], [bool(r["pareto"]) for r in rows],
        "energy per inference, nJ (estimated)", "test error, 1 - accuracy (trained; metrics.json)",
        "cycles per inference (predicted)", f"qflow sweep {summary['name']}: energy vs accuracy",
    )


def _status_line(summary: dict) -> str:
    c = summary["counts"]
    return (f"<p>{c['done']} of {c['points']} points done ({c['failed']} failed, {c['cached']} from the cache), "
            f"{c['pending']} not finished; {esc(summary['execution'])}; {summary['seconds']} s.</p>")


def index_html(summary: dict, plots: dict[str, str]) -> str:
    """``index.html``: status, the plots (inline SVG), the table, how each figure was produced, failures."""
    head, sim = _header(summary)
    bold = {"**yes**": "<strong>yes</strong>"}
    placed = _any_placed(summary)
    rows = [[bold.get(c) or esc(c) for c in _cells(r, sim, summary["clock_mhz"], placed)] for r in summary["rows"]]
    rows = [cells + [""] * (len(head) - len(cells)) for cells in rows]
    parts = [_status_line(summary), *(f"<figure>{p}</figure>" for p in plots.values()),
             "<h2>Points</h2>", table(head, rows),
             f"<p>Pareto-optimal (over {esc(', '.join(summary['objectives']))}): "
             f"{esc(', '.join(summary['pareto']) or 'none')}</p>",
             "<h2>How each figure was produced</h2><ul>"
             + "".join(f"<li>{esc(k)}: {esc(v)}</li>" for k, v in summary["how"].items()) + "</ul>"]
    failed = [r for r in summary["rows"] if r.get("status") != "ok"]
    if failed:
        parts.append("<h2>Failed points</h2><ul>" + "".join(
            f"<li>{esc(r['point'])}: {esc(r.get('error'))}<pre>{esc(r.get('detail', ''))}</pre></li>"
            for r in failed) + "</ul>")
    title = f"qflow sweep {summary['name']}"
    return ("<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
            f"<title>{esc(title)}</title>\n<style>{CSS}</style>\n</head>\n<body>\n<main>\n<h1>{esc(title)}</h1>\n"
            + "\n".join(parts) + "\n</main>\n</body>\n</html>\n")
