"""Test helper: read back a qflow HTML page (sections, numbers tied to JSON keys, tags) with html.parser."""

from __future__ import annotations

from html.parser import HTMLParser


class Page(HTMLParser):
    """Sections (id -> text), numbers (data-src, data-key, digits, scale, text), every tag with its attrs, and
    ``unbalanced``: end tags that do not close the innermost open element (void elements excepted)."""

    VOID = frozenset({"meta", "br", "hr", "img", "input", "link"})

    def __init__(self, text: str) -> None:
        super().__init__()
        self.sections: dict[str, str] = {}
        self.section_order: list[str] = []
        self.numbers: list[tuple[str, str, int, float, str]] = []
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self._section: str | None = None
        self._num: dict[str, str | None] | None = None
        self._num_text = ""
        self._open: list[str] = []
        self.unbalanced: list[str] = []
        self.feed(text)
        self.unbalanced += [f"<{t}> never closed" for t in self._open]

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        self.tags.append((tag, a))
        if tag not in self.VOID:
            self._open.append(tag)
        if tag == "section":
            self._section = a.get("id")
            self.section_order.append(a.get("id") or "")
            self.sections[self._section or ""] = ""
        if tag == "span" and "num" in (a.get("class") or "").split():
            self._num, self._num_text = a, ""

    def handle_endtag(self, tag):
        if self._open and self._open[-1] == tag:
            self._open.pop()
        else:
            self.unbalanced.append(f"</{tag}> inside {self._open[-3:]}")
        if tag == "section":
            self._section = None
        if tag == "span" and self._num is not None:
            a = self._num
            self.numbers.append((a["data-src"], a["data-key"], int(a["data-digits"]),
                                 float(a.get("data-scale") or 1.0), self._num_text))
            self._num = None

    def handle_data(self, data):
        if self._section:
            self.sections[self._section] += data
        if self._num is not None:
            self._num_text += data


def lookup(doc, dotted: str):
    """``checks.2.vectors`` in a JSON document (keys may contain spaces and '/', never dots)."""
    for part in dotted.split("."):
        doc = doc[int(part)] if isinstance(doc, list) else doc[part]
    return doc
