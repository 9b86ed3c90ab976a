"""Printing text that brands wrote on an analyst's terminal, harmlessly.

A subject, a reply, a brand name or a file cell is data: it must never be read as rich markup
(`[/]` crashed `inbox list`, `[link=...]` became a link) nor reach the terminal as control
characters (ESC sequences clear the screen, recolour, retitle the window; bidi overrides
reorder what is shown). `shown()` is for data inside a markup string, `plain()` for a table
cell or any rich Text, and the consoles make control characters visible in anything else too.
"""

from __future__ import annotations

import re
from typing import Any

from rich.console import Console
from rich.errors import MarkupError, StyleSyntaxError
from rich.style import Style
from rich.text import Span, Text

# Beside C0 controls: DEL and C1 controls, bidi embeddings/overrides/isolates and marks,
# line/paragraph separators, and lone surrogates (undecodable bytes kept by surrogateescape).
# json.dumps escapes C0 itself but leaves these raw.
_JSON_RAW = "\x7f-\x9f\u061c\u200e\u200f\u2028-\u202e\u2066-\u2069\ud800-\udfff"
_UNSAFE = "\x00-\x08\x0b-\x1f" + _JSON_RAW
_UNSAFE_MULTILINE = re.compile(f"[{_UNSAFE}]")
_UNSAFE_ONE_LINE = re.compile(f"[\t\n{_UNSAFE}]")
_NAMED = {"\t": "\\t", "\n": "\\n", "\r": "\\r"}


def _spelt(match: re.Match[str]) -> str:
    ch = match.group()
    if ch in _NAMED:
        return _NAMED[ch]
    code = ord(ch)
    return f"\\x{code:02x}" if code <= 0xFF else f"\\u{code:04x}"


def visible(text: Any, *, newlines: bool = False) -> str:
    """Return `text` with every control character spelt out (ESC -> `\\x1b`, U+202E -> `\\u202e`).

    Newlines (and tabs) are kept when `newlines` is true (a reply body), else spelt too (a
    subject in a table row).
    """
    pattern = _UNSAFE_MULTILINE if newlines else _UNSAFE_ONE_LINE
    return pattern.sub(_spelt, "" if text is None else str(text))


_OPEN_BRACKET = re.compile(r"(\\*)\[")
_TAG_AHEAD = re.compile(r"\[[a-z#/@][^[]*?]")  # what rich's markup parser takes for a tag
_TRAILING_BACKSLASHES = re.compile(r"(\\+)$")


def escape_markup(text: str) -> str:
    """Return markup that rich renders as exactly `text`, whatever comes before or after it.

    rich.markup.escape misses two cases: a backslash before a "[" that is not a tag is eaten,
    and trailing backslashes come out doubled unless a tag follows. rich reads 2n+1 backslashes
    before a tag as n backslashes and a literal tag, and drops one backslash before any other
    "["; trailing backslashes are doubled and closed by an empty span so they escape nothing.
    """
    def bracket(m: re.Match[str]) -> str:
        n = len(m.group(1))
        is_tag = _TAG_AHEAD.match(text, m.end() - 1) is not None
        return "\\" * (2 * n + 1 if is_tag else n + 1) + "["

    out = _OPEN_BRACKET.sub(bracket, text)
    return _TRAILING_BACKSLASHES.sub(lambda m: m.group(1) * 2 + "[dim][/dim]", out)


def shown(text: Any, *, newlines: bool = False) -> str:
    """Return third-party `text` ready to put inside a rich markup string: visible and escaped."""
    return escape_markup(visible(text, newlines=newlines))


def plain(text: Any, *, newlines: bool = False, style: str = "") -> Text:
    """Return third-party `text` as a rich Text (never parsed as markup), control characters visible."""
    return Text(visible(text, newlines=newlines), style=style)


def highlighted(text: str, spans: list[tuple[int, int, str]]) -> Text:
    """Return `text` (multi-line, control characters visible) with styles on (start, end) spans
    of the original text; spelling out a character shifts what follows, so offsets are mapped."""
    cuts = sorted({0, len(text), *(i for a, b, _ in spans for i in (a, b) if 0 <= i <= len(text))})
    out = Text()
    new_at: dict[int, int] = {0: 0}
    for a, b in zip(cuts, cuts[1:], strict=False):
        out.append(visible(text[a:b], newlines=True))
        new_at[b] = len(out.plain)
    for a, b, style in spans:
        if a in new_at and b in new_at:
            out.stylize(style, new_at[a], new_at[b])
    return out


class TerminalConsole(Console):
    """A rich Console that never lets a control character through and never crashes on markup.

    Callers still escape data with `shown()` (a markup error is only caught, not prevented,
    and a `[link=...]` in unescaped data would still be a link): this is the safety net.
    """

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("highlight", False)
        kwargs.setdefault("emoji", False)  # ":warning:" in a subject stays text
        super().__init__(**kwargs)

    def render_str(self, text: str, **kwargs: Any) -> Text:  # type: ignore[override]
        text = visible(text, newlines=True)
        try:
            rendered = super().render_str(text, **kwargs)
        except MarkupError:
            return super().render_str(text, **{**kwargs, "markup": False})
        # qualibench prints no hyperlink: a `[link=...]` can only come from data.
        for i, span in enumerate(rendered.spans):
            style = span.style
            if isinstance(style, str):
                if "link" not in style:
                    continue
                try:
                    style = Style.parse(style)
                except StyleSyntaxError:
                    rendered.spans[i] = Span(span.start, span.end, "")
                    continue
            if style.link:
                rendered.spans[i] = Span(span.start, span.end, style.update_link(None))
        return rendered


_JSON_UNSAFE = re.compile(f"[{_JSON_RAW}]")


def json_safe(dumped: str) -> str:
    """Return JSON text with the characters json.dumps leaves raw (C1, DEL, bidi) as \\u escapes."""
    return _JSON_UNSAFE.sub(lambda m: f"\\u{ord(m.group()):04x}", dumped)
