"""Convert an HTML mail body to plain text that keeps paragraphs and marks quoted blocks."""

from __future__ import annotations

import re

from lxml import etree
from lxml import html as lxml_html

_BLOCK = {
    "p",
    "div",
    "br",
    "li",
    "ul",
    "ol",
    "tr",
    "table",
    "h1",
    "h2",
    "h3",
    "h4",
    "h5",
    "h6",
    "hr",
    "pre",
    "section",
    "article",
    "header",
    "footer",
    "address",
    "center",
    "dl",
    "dt",
    "dd",
}
_PARAGRAPH = {"p", "h1", "h2", "h3", "h4", "h5", "h6", "table", "ul", "ol", "blockquote", "hr"}
_SKIP = {"script", "style", "head", "title", "meta", "link", "noscript", "template"}


class _TextWriter:
    def __init__(self) -> None:
        self.lines: list[str] = [""]

    def text(self, s: str) -> None:
        s = re.sub(r"[ \t\r\n\f]+", " ", s)
        if not s:
            return
        if not self.lines[-1] and s.startswith(" "):
            s = s.lstrip()
        self.lines[-1] += s

    def newline(self, blank: bool = False) -> None:
        if self.lines[-1].strip():
            self.lines[-1] = self.lines[-1].rstrip()
            self.lines.append("")
        if blank and len(self.lines) >= 2 and self.lines[-2] != "":
            self.lines.append("")


def _walk(el: etree._Element, out: _TextWriter) -> None:
    tag = el.tag if isinstance(el.tag, str) else ""
    tag = tag.lower()
    if tag in _SKIP or not isinstance(el.tag, str):
        # Comments and processing instructions carry no text, but their tail does.
        if el.tail:
            out.text(el.tail)
        return
    if tag == "blockquote":
        inner = _TextWriter()
        if el.text:
            inner.text(el.text)
        for child in el:
            _walk(child, inner)
        out.newline()
        for line in "\n".join(inner.lines).strip("\n").split("\n"):
            out.lines[-1] = ("> " + line).rstrip() if line else ">"
            out.lines.append("")
        out.newline(blank=True)
        if el.tail:
            out.text(el.tail)
        return
    if tag in _BLOCK and tag != "br":
        out.newline(blank=tag in _PARAGRAPH)
    if tag in ("td", "th"):
        out.text(" ")
    if el.text:
        out.text(el.text)
    for child in el:
        _walk(child, out)
    if tag == "br":
        out.lines[-1] = out.lines[-1].rstrip()
        out.lines.append("")
    elif tag in _BLOCK:
        out.newline(blank=tag in _PARAGRAPH)
    if el.tail:
        out.text(el.tail)


def html_to_text(markup: str) -> str:
    """Give back the readable text of an HTML body: paragraphs kept, blockquotes '>'-prefixed."""
    if not markup.strip():
        return ""
    # lxml refuses str input that carries an XML encoding declaration.
    markup = re.sub(r"^\s*<\?xml[^>]*\?>", "", markup)
    markup = markup.replace("\x00", "")
    try:
        root = lxml_html.document_fromstring(markup)
    except (etree.ParserError, ValueError):
        return re.sub(r"<[^>]+>", " ", markup).strip()
    out = _TextWriter()
    body = root.find("body")
    _walk(body if body is not None else root, out)
    lines = [line.rstrip() for line in out.lines]
    text = "\n".join(lines)
    text = re.sub(r"\n{3,}", "\n\n", text)
    return text.strip()
