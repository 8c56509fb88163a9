"""The analytical resource estimate next to the synthesized figures, with the relative error: the report's
"estimate vs synthesis" table (``report.json``'s ``resources_estimate``, made by
:func:`flow.estimate.resources.compare`), for the whole design and for each block.

A report without ``resources_estimate`` (made before the estimate was recorded, or without Yosys) gets no table:
the resources section already says whether synthesis ran.
"""

from __future__ import annotations

from flow.report.page import Page, esc, table

__all__ = ["KEYS", "estimate_html", "estimate_markdown"]

#: The figures compared side by side (keys of :data:`flow.blocks.cost.RESOURCE_KEYS`).
KEYS = ("LUT", "FF")

HOW = ("estimated: analytical per-block formulas (flow/blocks/<block>.py) from the real weights; synthesized: "
       "Yosys synth_xilinx; error = (estimated - synthesized) / synthesized")


def _rows(r: dict) -> list[tuple[str, str, dict]]:
    """``(label, JSON key prefix, {key: {"estimate", "yosys", "rel_error"}})``: the total, then each block in
    the interface's order."""
    est = r.get("resources_estimate") or {}
    rows = [("total", "resources_estimate.total", est["total"])] if "total" in est else []
    blocks = est.get("blocks", {})
    order = [b["instance"] for b in r.get("interface", {}).get("blocks", []) if b["instance"] in blocks]
    order += sorted(b for b in blocks if b not in order)
    return rows + [(inst, f"resources_estimate.blocks.{inst}", blocks[inst]) for inst in order]


def _error_text(err: float | None) -> str:
    return "-" if err is None else f"{err * 100:+.1f} %"


def estimate_markdown(r: dict) -> list[str]:
    """Markdown lines: the estimate-vs-synthesis table (empty when the report has no estimate)."""
    rows = _rows(r)
    if not rows:
        return []
    head = " | ".join(f"{k} estimated | {k} synthesized | {k} error" for k in KEYS)
    lines = ["", "### Estimate vs synthesis", "", HOW + ".", "", f"| block | {head} |",
             "|---|" + "---|" * (3 * len(KEYS))]
    for label, _, figures in rows:
        cells = []
        for k in KEYS:
            f = figures.get(k, {})
            cells += [f"{f.get('estimate', 0):,}", f"{f.get('yosys', 0):,}", _error_text(f.get("rel_error"))]
        name = f"**{label}**" if label == "total" else label
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
    return lines


def estimate_html(page: Page, r: dict) -> str:
    """HTML: the estimate-vs-synthesis table, every number tied to its ``report.json`` key; the totals are
    registered as figures (estimated, synthesized). Empty when the report has no estimate."""
    rows = _rows(r)
    if not rows:
        return ""
    body = []
    for label, prefix, figures in rows:
        cells = [f"<code>{esc(label)}</code>"]
        for k in KEYS:
            if k not in figures:
                cells += ["-", "-", "-"]
                continue
            est = page.num(figures[k]["estimate"], f"{prefix}.{k}.estimate")
            got = page.num(figures[k]["yosys"], f"{prefix}.{k}.yosys")
            if label == "total":
                est = page.figure(f"{k} (estimated)", est, "estimated", HOW)
                got = page.figure(f"{k} (synthesized)", got, "synthesized", "Yosys synth_xilinx")
            err = figures[k]["rel_error"]
            cells += [est, got, "-" if err is None else page.num(err, f"{prefix}.{k}.rel_error", 1, 100.0) + " %"]
        body.append(cells)
    headers = ["block"] + [f"{k} {what}" for k in KEYS for what in ("estimated", "synthesized", "error")]
    return ("<h3>Estimate vs synthesis</h3>" + table(headers, body)
            + f'<p class="note">{esc(HOW)}.</p>')
