"""Plots as inline SVG for static pages: matplotlib figures rendered by its SVG backend, no pyplot.

Contract: every function returns one ``<svg ...>...</svg>`` element as a string, ready to paste into an HTML
page -- no XML declaration, no DOCTYPE, no external reference (fonts are left to the browser: text stays
``<text>``, so numbers and labels in a plot are searchable). Element ids are prefixed with the plot's name so
several plots can share one page. The output is deterministic for the same data (fixed hash salt, no date).
"""

from __future__ import annotations

import io
import re
from collections.abc import Mapping, Sequence

_ID = re.compile(r'\bid="([^"]+)"')
_REF = re.compile(r'(url\(#|href="#)([^")]+)')
_METADATA = re.compile(r"\s*<metadata>.*?</metadata>", re.S)


def _figure(width_in: float, height_in: float):
    from matplotlib.figure import Figure

    return Figure(figsize=(width_in, height_in), layout="constrained")


def figure_to_svg(fig, name: str) -> str:
    """Render ``fig`` as an inline ``<svg>`` element whose ids all start with ``name``."""
    import matplotlib

    buf = io.StringIO()
    with matplotlib.rc_context({"svg.fonttype": "none", "svg.hashsalt": name, "font.size": 9}):
        fig.savefig(buf, format="svg", metadata={"Date": None, "Creator": None})
    text = buf.getvalue()
    text = text[text.index("<svg") :]
    text = _METADATA.sub("", text)  # Dublin Core boilerplate: nothing a reader needs
    text = text.replace("*{", "svg.plot *{", 1)  # matplotlib's global style rule, scoped to the plots
    text = _ID.sub(lambda m: f'id="{name}-{m.group(1)}"', text)
    text = _REF.sub(lambda m: f"{m.group(1)}{name}-{m.group(2)}", text)
    # Scale with the page: drop the fixed size in points, keep the viewBox.
    head_end = text.index(">")
    head = re.sub(r'\s(width|height)="[^"]*"', "", text[:head_end])
    head += f' class="plot" role="img" aria-label="{name}"'
    return head + text[head_end:]


def stacked_bars(
    name: str, labels: Sequence[str], series: Mapping[str, Sequence[float]], ylabel: str, title: str = ""
) -> str:
    """Horizontal stacked bars, one bar per label, one colour per series (e.g. compute / memory energy)."""
    fig = _figure(7.0, 0.45 * len(labels) + 1.2)
    ax = fig.add_subplot()
    left = [0.0] * len(labels)
    positions = list(range(len(labels)))[::-1]  # first label on top
    for key, values in series.items():
        ax.barh(positions, list(values), left=left, label=key, height=0.6)
        left = [a + float(b) for a, b in zip(left, values, strict=True)]
    ax.set_yticks(positions, labels)
    ax.set_xlabel(ylabel)
    if title:
        ax.set_title(title)
    if len(series) > 1:
        ax.legend(loc="lower right")
    ax.grid(axis="x", alpha=0.3)
    return figure_to_svg(fig, name)


def grouped_bars(
    name: str, labels: Sequence[str], series: Mapping[str, Sequence[float]], xlabel: str, title: str = "",
    log: bool = False,
) -> str:
    """Horizontal grouped bars, one group per label, one bar per series (e.g. LUT and FF per block)."""
    fig = _figure(7.0, 0.22 * len(labels) * max(1, len(series)) + 1.2)
    ax = fig.add_subplot()
    height = 0.8 / max(1, len(series))
    base = list(range(len(labels)))[::-1]
    for i, (key, values) in enumerate(series.items()):
        ax.barh([p + (len(series) - 1 - i) * height - 0.4 + height / 2 for p in base], list(values),
                height=height, label=key)
    ax.set_yticks(base, labels)
    ax.set_xlabel(xlabel)
    if log:
        ax.set_xscale("log")
    if title:
        ax.set_title(title)
    if len(series) > 1:
        ax.legend(loc="lower right")
    ax.grid(axis="x", alpha=0.3)
    return figure_to_svg(fig, name)


def pareto_scatter(
    name: str,
    x: Sequence[float],
    y: Sequence[float],
    colour: Sequence[float],
    labels: Sequence[str],
    optimal: Sequence[bool],
    xlabel: str,
    ylabel: str,
    colour_label: str,
    title: str = "",
) -> str:
    """Scatter of design points on log-log axes, colour = a third figure, Pareto-optimal points circled and
    joined by a staircase line, every point labelled."""
    from matplotlib import colors

    fig = _figure(7.0, 4.8)
    ax = fig.add_subplot()
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    if title:
        ax.set_title(title)
    if not x:
        ax.text(0.5, 0.5, "no design point has all figures", ha="center", va="center", transform=ax.transAxes)
        return figure_to_svg(fig, name)
    lo, hi = min(colour), max(colour)
    norm = colors.Normalize(vmin=lo, vmax=hi if hi > lo else lo + 1.0)
    points = ax.scatter(x, y, c=colour, cmap="viridis", norm=norm, s=50, zorder=3, label="design point")
    front = sorted((a, b) for a, b, o in zip(x, y, optimal, strict=True) if o)
    if front:
        ax.scatter([a for a, _ in front], [b for _, b in front], s=180, facecolors="none", edgecolors="crimson",
                   linewidths=1.5, zorder=4, label="Pareto-optimal")
        ax.step([a for a, _ in front], [b for _, b in front], where="post", color="crimson", alpha=0.5, zorder=2)
    for a, b, text in zip(x, y, labels, strict=True):
        ax.annotate(text, (a, b), textcoords="offset points", xytext=(6, 5), fontsize=8)
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.grid(alpha=0.3, which="both")
    ax.legend(loc="upper right")
    if hi > lo:
        fig.colorbar(points, ax=ax, label=colour_label)
    else:  # one value for every point: say it instead of drawing a one-colour scale
        ax.text(0.02, 0.02, f"{colour_label}: {lo:.4g} for every point", transform=ax.transAxes, fontsize=8)
    return figure_to_svg(fig, name)


def standalone(svg: str) -> str:
    """An inline ``<svg>`` element as a standalone ``.svg`` file (XML declaration added)."""
    return '<?xml version="1.0" encoding="utf-8" standalone="no"?>\n' + svg + ("" if svg.endswith("\n") else "\n")
