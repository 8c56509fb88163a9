"""Building blocks of a static, self-contained HTML page: escaped text, numbers tied to their source, tables,
and the list of every figure shown with how it was produced.

Contract for numbers: :meth:`Page.num` renders ``<span class="num" data-src=FILE data-key=PATH
data-digits=D data-scale=S>TEXT</span>`` where ``TEXT`` is ``value * S`` with ``D`` decimals (thousands
separated by ``,``) and ``PATH`` is the dotted path of the value in ``FILE`` (list items by index, e.g.
``checks.2.vectors``). A checker can therefore read each number back and compare it with the JSON it came from.
"""

from __future__ import annotations

import html
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

# How a figure was obtained; each kind has a badge colour in the page.
KINDS = {
    "simulated": "Verilator simulation of the generated RTL",
    "executed": "software execution (QONNX reference, integer network, HLS C-simulation), compared with ==",
    "synthesized": "Yosys synthesis of the generated RTL (cell counts, no place and route)",
    "predicted": "qflow's beat-timing model of the generated blocks",
    "estimated": "operation model (counts x per-operation energies), not a measurement of this design",
    "assumed": "a setting, not a result (e.g. the clock: Yosys gives no timing)",
    "placed and routed": "nextpnr-ecp5 place and route of the generated RTL on a Lattice ECP5 (timing analysed)",
    "trained": "PyTorch training run (metrics.json)",
    "not run": "the step did not run for this build",
}
NOT_RUN = "not run"


def esc(text: object) -> str:
    return html.escape(str(text), quote=True)


def fmt(value: float | int, digits: int = 0) -> str:
    """``1234.5`` -> ``1,234.5`` (``digits`` decimals; integers keep no decimals)."""
    if isinstance(value, bool):
        return str(value)
    if isinstance(value, int) and digits == 0:
        return f"{value:,}"
    return f"{float(value):,.{digits}f}"


def badge(kind: str) -> str:
    css = kind.replace(" ", "-")
    return f'<span class="kind {esc(css)}" title="{esc(KINDS.get(kind, kind))}">{esc(kind)}</span>'


def not_run(reason: str = "") -> str:
    """The marker for missing data: the words ``not run`` and why."""
    tail = f" ({esc(reason)})" if reason else ""
    return f'<p class="not-run"><strong>{NOT_RUN}</strong>{tail}</p>'


def table(headers: Sequence[str], rows: Iterable[Sequence[str]], cls: str = "") -> str:
    """A table of already-escaped cell HTML (use :func:`esc` / :meth:`Page.num` for the cells)."""
    head = "".join(f"<th>{esc(h)}</th>" for h in headers)
    body = "".join("<tr>" + "".join(f"<td>{c}</td>" for c in row) + "</tr>" for row in rows)
    class_attr = f' class="{esc(cls)}"' if cls else ""
    return f"<table{class_attr}><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


@dataclass(frozen=True)
class FigureRecord:
    """One figure shown in the page: its label, value (HTML), kind and how it was produced."""

    label: str
    value_html: str
    kind: str
    how: str


class Page:
    """Collects sections and the provenance of every figure registered with :meth:`figure`."""

    def __init__(self) -> None:
        self.figures: list[FigureRecord] = []
        self.sections: list[tuple[str, str, str]] = []  # (id, title, body html)

    @staticmethod
    def num(value: float | int, key: str, digits: int = 0, scale: float = 1.0, src: str = "report.json") -> str:
        """A number tied to ``key`` in ``src`` (see the module docstring)."""
        shown = value * scale if scale != 1.0 else value
        scale_attr = f' data-scale="{scale!r}"' if scale != 1.0 else ""
        return (f'<span class="num" data-src="{esc(src)}" data-key="{esc(key)}" data-digits="{digits}"'
                f"{scale_attr}>{fmt(shown, digits)}</span>")

    def figure(self, label: str, value_html: str, kind: str, how: str) -> str:
        """Register a figure for the provenance table; return its value HTML followed by its kind badge."""
        self.figures.append(FigureRecord(label, value_html, kind, how))
        return f"{value_html} {badge(kind)}"

    def missing(self, label: str, reason: str) -> str:
        """Register a figure that was not produced; return the ``not run`` marker."""
        self.figures.append(FigureRecord(label, f"<em>{NOT_RUN}</em>", NOT_RUN, reason))
        return not_run(reason)

    def add(self, section_id: str, title: str, body: str) -> None:
        self.sections.append((section_id, title, body))

    def document(self, title: str, header_html: str) -> str:
        nav = " · ".join(f'<a href="#{esc(i)}">{esc(t)}</a>' for i, t, _ in self.sections)
        sections = "\n".join(
            f'<section id="{esc(i)}">\n<h2>{esc(t)}</h2>\n{body}\n</section>' for i, t, body in self.sections
        )
        return (
            "<!DOCTYPE html>\n"
            '<html lang="en">\n<head>\n<meta charset="utf-8">\n'
            '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
            f"<title>{esc(title)}</title>\n<style>{CSS}</style>\n</head>\n<body>\n"
            f"<header>\n<h1>{esc(title)}</h1>\n{header_html}\n<nav>{nav}</nav>\n</header>\n<main>\n{sections}\n"
            "</main>\n</body>\n</html>\n"
        )


CSS = """
:root { --fg: #1d2330; --muted: #5b6475; --line: #d9dde5; --bg: #ffffff; --alt: #f5f7fa; }
body { font: 15px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; color: var(--fg);
       background: var(--bg); margin: 0; }
header, main { max-width: 1100px; margin: 0 auto; padding: 0 24px; }
header { padding-top: 18px; border-bottom: 1px solid var(--line); }
h1 { font-size: 1.6em; margin: 0.3em 0; } h2 { font-size: 1.25em; margin-top: 1.8em;
     border-bottom: 2px solid var(--line); padding-bottom: 4px; } h3 { font-size: 1.05em; margin-top: 1.3em; }
nav { margin: 10px 0 14px; color: var(--muted); } nav a { color: #2456a6; text-decoration: none; }
table { border-collapse: collapse; margin: 8px 0 14px; font-size: 0.93em; }
th, td { border: 1px solid var(--line); padding: 4px 9px; text-align: left; vertical-align: top; }
th { background: var(--alt); } tbody tr:nth-child(even) { background: #fafbfc; }
td .num, td.num { font-variant-numeric: tabular-nums; }
.num { font-variant-numeric: tabular-nums; font-weight: 600; }
.kind { display: inline-block; font-size: 0.72em; padding: 1px 6px; border-radius: 8px; margin-left: 4px;
        color: #fff; background: #7a8294; vertical-align: middle; font-weight: 500; white-space: nowrap; }
.kind.simulated { background: #1f7a4d; } .kind.synthesized { background: #2456a6; }
.kind.estimated { background: #b26a00; } .kind.predicted { background: #6b4fa3; }
.kind.executed { background: #147a85; } .kind.assumed { background: #8a8f99; }
.kind.trained { background: #5d6b2f; } .kind.not-run { background: #b3261e; }
.kind.placed-and-routed { background: #0b5e3c; }
.not-run { color: #b3261e; } .ok { color: #1f7a4d; font-weight: 600; } .fail { color: #b3261e; font-weight: 700; }
.status { padding: 8px 12px; border-radius: 6px; margin: 6px 0 4px; display: inline-block; }
.status.ok { background: #e6f4ec; } .status.fail { background: #fbe9e7; }
.note { color: var(--muted); font-size: 0.9em; }
svg.plot { width: 100%; max-width: 760px; height: auto; display: block; margin: 6px 0 16px; }
code { background: var(--alt); padding: 0 4px; border-radius: 3px; }
"""
