"""The terminal printer on arbitrary Unicode and markup: nothing a brand writes is read as markup
or reaches the terminal as a control character, and nothing makes the printer crash."""

from __future__ import annotations

import io
import re

from hypothesis import given, settings
from hypothesis import strategies as st
from rich.table import Table

from qualibench.cli.terminal import TerminalConsole, highlighted, json_safe, plain, shown, visible

# Any code point, lone surrogates included (undecodable bytes kept with surrogateescape),
# mixed with the markup, escapes and emoji codes an attacker would try.
ATTACKS = st.sampled_from(["[/]", "[link=https://evil.example]x[/link]", "[bold red]", "\\", "\\[",
                           "[/bold]", ":warning:", "\x1b[2J", "\x1b]8;;http://e\x1b\\", "\x9b31m",
                           "\u202e", "\r", "\x07", "\x00", "[", "]", "[@click=quit]", "\udcff"])
TEXT = st.lists(st.one_of(st.text(st.characters(codec=None)), ATTACKS), max_size=8).map("".join)
UNSAFE = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u061c\u200e\u200f\u2028-\u202e\u2066-\u2069\ud800-\udfff]")


def render(*objects, width: int = 200, terminal: bool = False, **kw) -> str:
    out = io.StringIO()
    TerminalConsole(file=out, width=width, force_terminal=terminal, color_system="truecolor" if terminal else None,
                    legacy_windows=False).print(*objects, soft_wrap=True, **kw)
    return out.getvalue()


@settings(max_examples=300, deadline=None)
@given(TEXT)
def test_data_in_markup_prints_exactly_as_visible_text(text):
    assert render(f"[bold]{shown(text)}[/bold]") == visible(text) + "\n"
    # A reply body keeps its line breaks (and its tabs, which rich sets as spaces to a tab stop).
    body = text.replace("\t", " ")
    assert render(f"{shown(body, newlines=True)}") == visible(body, newlines=True) + "\n"
    assert "\t" not in render(shown(text, newlines=True))


@settings(max_examples=300, deadline=None)
@given(TEXT)
def test_no_control_character_and_no_link_reaches_a_colour_terminal(text):
    for obj in (f"[green]{shown(text)}[/]", plain(text), text, highlighted(text, [(0, len(text), "bold")])):
        out = render(obj, terminal=True)
        # Only the colour codes rich itself writes (CSI ... m) may carry an ESC.
        stripped = re.sub(r"\x1b\[[0-9;]*m", "", out)
        assert not UNSAFE.search(stripped), repr(stripped)
        assert "\x1b]8;" not in out  # no OSC 8 hyperlink


@settings(max_examples=200, deadline=None)
@given(TEXT)
def test_raw_data_never_crashes_the_printer(text):
    # The safety net for a call site that forgot shown(): broken markup prints as text.
    render(text)
    render(text, markup=False)
    table = Table("a", "b")
    table.add_row(plain(text), text)
    render(table, width=40)


@given(TEXT)
def test_visible_is_stable_and_keeps_ordinary_text(text):
    once = visible(text)
    assert visible(once) == once and not UNSAFE.search(once)
    ordinary = UNSAFE.sub("", text).replace("\t", "").replace("\n", "")
    assert visible(ordinary) == ordinary


@given(TEXT)
def test_json_output_is_valid_and_inert(text):
    import json

    dumped = json_safe(json.dumps({"subject": text}, ensure_ascii=False))
    assert not UNSAFE.search(dumped)
    assert json.loads(dumped) == {"subject": text}


def test_highlighted_spans_follow_spelt_out_characters():
    text = "a\x1b[2Jb GOOD c"
    start = text.index("GOOD")
    out = highlighted(text, [(start, start + 4, "bold")])
    assert out.plain == "a\\x1b[2Jb GOOD c"
    (span,) = out.spans
    assert out.plain[span.start:span.end] == "GOOD"


HINT = "pip install 'qualibench[pdf]'"


def test_hints_keep_their_brackets():
    assert render(f"[bold]Hint:[/] {shown(HINT)}") == \
        "Hint: pip install 'qualibench[pdf]'\n"
