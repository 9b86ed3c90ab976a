"""Convert an HTML mail body to plain text that keeps paragraphs and marks quoted blocks."""

from __future__ import annotations

import re

from lxml import etree

from qualibench.mail.bounds import MAX_HTML_CHARS, cut_text

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
    """Lines of text; the current one kept as fragments (appending to one str copies it each time).

    Fragments are never empty, and `has_text` says whether one is more than spaces, so that
    neither is found again by scanning the fragments at every element.
    """

    def __init__(self) -> None:
        self.lines: list[str] = []
        self.current: list[str] = []
        self.has_text = False

    def text(self, s: str) -> None:
        # (a text with single spaces only is its own folding: `in` tests spare the substitution,
        # which builds a piece per space)
        if "  " in s or "\n" in s or "\t" in s or "\r" in s or "\f" in s:
            s = _SPACES.sub(" ", s)
        if not s:
            return
        if not self.current and s.startswith(" "):
            s = s.lstrip()
            if not s:
                return
        self.current.append(s)
        self.has_text = self.has_text or bool(s.strip())

    def end_line(self) -> None:
        """End the current line as it is (a <br>)."""
        self.lines.append("".join(self.current).rstrip())
        self.current = []
        self.has_text = False

    def put_line(self, line: str) -> None:
        """Add a finished line (the current one must be empty)."""
        self.lines.append(line)

    def newline(self, blank: bool = False) -> None:
        if self.has_text:
            self.end_line()
        elif self.current:
            self.current = []
        if blank and self.lines and self.lines[-1] != "":
            self.lines.append("")

    def finish(self) -> list[str]:
        if self.current:
            self.end_line()
        return self.lines


_SPACES = re.compile(r"[ \t\r\n\f]+")


# What each tag does to the text, read once per element from one table: a block opens and
# closes a line (a paragraph a blank line too), <br> ends one, a cell is spaced from the one
# before; skipped elements keep only their tail; anything else is inline.
_INLINE, _BLOCK_TAG, _BR, _CELL, _SKIPPED, _QUOTE = range(6)
_ROLES: dict[str, tuple[int, bool]] = {
    **{tag: (_BLOCK_TAG, tag in _PARAGRAPH) for tag in _BLOCK},
    "br": (_BR, False), "td": (_CELL, False), "th": (_CELL, False),
    **{tag: (_SKIPPED, False) for tag in _SKIP},
    "blockquote": (_QUOTE, True),
}
_AS_INLINE = (_INLINE, False)


def _walk(el: etree._Element, out: _TextWriter) -> None:
    # (lxml builds a new str at each read of tag, text or tail: each is read once)
    raw_tag = el.tag
    tail = el.tail
    if not isinstance(raw_tag, str):
        # Comments and processing instructions carry no text, but their tail does.
        if tail:
            out.text(tail)
        return
    role, paragraph = _ROLES.get(raw_tag.lower(), _AS_INLINE)
    if role == _SKIPPED:
        if tail:
            out.text(tail)
        return
    text = el.text
    if role == _QUOTE:
        inner = _TextWriter()
        if text:
            inner.text(text)
        for child in el:
            _walk(child, inner)
        out.newline()
        for line in "\n".join(inner.finish()).strip("\n").split("\n"):
            out.put_line(("> " + line).rstrip() if line else ">")
        out.newline(True)
        if tail:
            out.text(tail)
        return
    if role == _BLOCK_TAG:
        out.newline(paragraph)
    elif role == _CELL:
        out.text(" ")
    if text:
        out.text(text)
    for child in el:
        _walk(child, out)
    if role == _BLOCK_TAG:
        out.newline(paragraph)
    elif role == _BR:
        out.end_line()
    if tail:
        out.text(tail)


# The parser lxml.html uses, but for its element classes (the walk reads tags, texts and tails
# only, which are the same); a parser is not for two threads at once, as lxml.html's own.
_PARSER = etree.HTMLParser()

# Inline images (data: URIs) are often megabytes of base64 in one attribute: never text.
_DATA_URI = re.compile(r"data:[^,\"'\s>]{0,100},[^\"'\s>)]{64,}+", re.IGNORECASE)


def html_to_text(markup: str, notes: list[str] | None = None) -> str:
    """Give back the readable text of an HTML body: paragraphs kept, blockquotes '>'-prefixed.

    Bounded: data: URIs are dropped and at most MAX_HTML_CHARS of markup are read (the cut is
    noted in `notes`).
    """
    if not markup.strip():
        return ""
    # lxml refuses str input that carries an XML encoding declaration.
    markup = re.sub(r"^\s*<\?xml[^>]*\?>", "", markup)
    markup = markup.replace("\x00", "")
    if len(markup) > MAX_HTML_CHARS // 4:
        markup = _DATA_URI.sub("data:,", markup)
    markup = cut_text(markup, MAX_HTML_CHARS, "HTML body", notes if notes is not None else [])
    try:
        # (what lxml.html.document_fromstring does, with lxml's plain HTML parser: lxml.html's
        # picks each element's Python class by a Python call, at every element the walk meets)
        root = etree.fromstring(markup, _PARSER)
        if root is None:
            raise etree.ParserError("Document is empty")
    except (etree.ParserError, ValueError):
        return re.sub(r"<[^>]+>", " ", markup).strip()
    out = _TextWriter()
    body = root.find("body")
    _walk(body if body is not None else root, out)
    lines = [line.rstrip() for line in out.finish()]
    text = "\n".join(lines)
    text = re.sub(r"\n{3,}", "\n\n", text)
    return text.strip()
