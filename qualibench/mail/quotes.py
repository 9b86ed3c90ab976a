"""Split a reply's text into what the writer wrote, their signature and the quoted history.

The history is found by structure, whatever the client (tests/fixtures/quotes/ holds the
development corpus): an attribution line (a date, a name or an address and a verb of writing,
wrapped over up to three lines or glued to the reply's last line), a header block read as a
whole (a run of "Word :" lines with a sender among them, wrapped or folded onto one line), an
"Original message" separator, a helpdesk comment header (a short author line over a date
stamp), or '>' quoting to the end. Answers written below the quote or between its pieces are
the writer's. Then the chrome that belongs to neither reply nor signature is dropped: client
footers, helpdesk markers, ticket lines and links, disclaimers, list and helpdesk footers
(quote_patterns.py holds those line shapes).

The signature is the sign-off block (signature.py): the closing formula on its own line and
the name lines after it, or a name block alone, or everything from an RFC 3676 "-- " line.
The scorer rates politeness on the closing, so `for_scoring` gives the reply its closing back.

Every step is one pass over the lines, each pattern tried on at most MAX_PATTERN_LINE
characters, with look-aheads of a few lines: the cost is linear in the text.
"""

from __future__ import annotations

import re

from qualibench.mail.bounds import MAX_PATTERN_LINE
from qualibench.mail.prefilter import kept_by_text
from qualibench.mail.quote_patterns import (
    ATTRIBUTION,
    ATTRIBUTION_OPENING,
    AUTHOR,
    CHROME,
    COLLAPSED_HEADERS,
    DATE_FIRST,
    DISCLAIMER,
    HEADER_ANY,
    HEADER_FROM,
    INLINE_ATTRIBUTION,
    LIST_FOOTER,
    MESSAGE_DU,
    NBSP,
    REPLY_MARKER,
    RULE,
    SEPARATOR,
    STAMP,
    TOP_MARKER,
    WROTE_WORD,
)
from qualibench.mail.signature import CLOSING, closing_and_name, shaped_closing, signature_start

_NBSP_CHARS = tuple(map(chr, NBSP))


def _norm(line: str) -> str:
    return line if line.isascii() else line.translate(NBSP)


def _is_quoted(line: str) -> bool:
    return line.lstrip().startswith(">")


def _pattern_line(line: str) -> bool:
    return bool(line.strip()) and len(line) <= MAX_PATTERN_LINE


def _header_block_at(lines: list[str], i: int, shape: int | None = None) -> bool:
    """Say whether lines[i] opens a header block: three header lines, one of them a sender.
    (`shape`: _shape(lines[i]), when the caller has it.)"""
    shape = _shape(lines[i]) if shape is None else shape
    if not shape & _HEADER:  # (set on pattern lines only)
        return False
    headers = 0
    sender = False
    wrapped = 0
    previous = ""
    for line in lines[i : i + 10]:
        if not line.strip():
            if headers:
                break
            continue
        if (line_shape := _shape(line)) & _HEADER:
            headers += 1
            sender = sender or bool(line_shape & _FROM_QUOTED)
        elif headers and wrapped < 2 and _header_continues(previous, line):
            wrapped += 1  # a header wrapped by the client: "From: Name\n<address>"
        else:
            break
        previous = line
    return headers >= 3 and sender or (headers >= 2 and sender and bool(shape & _FROM))


def _header_continues(previous: str, line: str) -> bool:
    """Say whether `line` carries on the header line above it, wrapped by the client: an
    address cut inside its brackets, the address on its own line, a folded line, a list of
    recipients going on."""
    text = line.strip().lstrip("> ")
    if len(text) > 120:
        return False
    unclosed = previous.count("<") > previous.count(">") or previous.count("[") > previous.count("]")
    return unclosed or text.startswith(("<", "[", "(")) or line[:1] in (" ", "\t") \
        or previous.rstrip().endswith((";", ",")) or ("@" in text and len(text.split()) <= 3)


def _attribution_span(lines: list[str], i: int, shape: int | None = None) -> int:
    """Give back how many lines the attribution at lines[i] takes (0: none there).
    (`shape`: _shape(lines[i]), when the caller has it.)"""
    if (_shape(lines[i]) if shape is None else shape) & _ATTRIBUTION:  # (the first span: the line alone)
        return 1
    # Attributions may be wrapped over two or three lines by the sending client.
    for span in (2, 3):
        parts = lines[i : i + span]
        if (not ATTRIBUTION_OPENING.match(lines[i]) or len(parts) < span
                or not parts[-1].strip() or _is_quoted(parts[-1])):
            break  # only "Le .../On .../date ..." attributions get wrapped, and not into the quote
        joined = " ".join(part.strip() for part in parts)
        if len(joined) < 320 and (ATTRIBUTION.match(joined) or DATE_FIRST.match(joined)):
            return span
    return 0


def _history_marker_at(lines: list[str], i: int) -> bool:
    """Say whether an unquoted line opens (more) history: a separator, attribution or header block."""
    shape = _shape(lines[i])
    return bool(shape & _PATTERN) and bool(
        shape & _SEPARATOR or _attribution_span(lines, i, shape) > 0 or _header_block_at(lines, i, shape)
        or shape & _MESSAGE_DU)


_DIGIT = re.compile(r"\d")


def _stamp_after(lines: list[str], i: int, shape: int | None = None) -> int | None:
    """Give back the index of the date stamp under a comment's author line i, or None.

    (An HTML helpdesk mail puts them in two paragraphs: one blank line may sit between.
    `shape`: _shape(lines[i]), when the caller has it.)
    """
    shape = _shape(lines[i]) if shape is None else shape  # (what the line alone says: _stamp_shape)
    if not shape & _PATTERN:
        return None
    if shape & _STAMP_HERE:
        return i
    # A name-only author needs the header's own paragraph (blank lines around it).
    if shape & _STAMP_IF_ALONE and (i == 0 or not lines[i - 1].strip()) \
            and (i + 1 >= len(lines) or not lines[i + 1].strip()):
        return i
    if not shape & _AUTHOR_LINE:
        return None
    for k in (i + 1, i + 2):
        if k < len(lines) and lines[k].strip():
            return k if STAMP.match(lines[k]) else None
    return None


def _stamp_shape(line: str) -> int:
    """The bits of _stamp_after's reading of a pattern line that depend on the line alone."""
    shape = 0
    # A stamp holds a time: a line without a digit cannot end with one (the checks below are
    # skipped, not changed).
    if _DIGIT.search(line):
        # "Julie (Maison Lumière) - 3 mars 2026 à 10:02": the author and the stamp on one line.
        for joiner in (" - ", " – ", " | ", ", "):
            author, _, stamp = line.rpartition(joiner)
            if author.strip() and len(author.split()) <= 6 and STAMP.match(stamp) \
                    and not author.rstrip().endswith((".", ":", "!", "?")):
                return _STAMP_HERE
        # ... or with a space only, when the author reads as one: "Julie (Maison Lumière) 3 mars
        # 2026 à 10:02" anywhere, "Julie Martin 3 mars 2026 à 10:02" in its own paragraph.
        words = line.split()
        for k in range(max(3, len(words) - 6), min(9, len(words))):  # (an author of six words at most)
            author = " ".join(words[:-k])
            if STAMP.match(" ".join(words[-k:])):
                if author.endswith(")"):
                    return _STAMP_HERE
                if AUTHOR.match(author):
                    shape |= _STAMP_IF_ALONE
    if not (len(line.split()) > 6 or line.rstrip().endswith((".", ":", ",", "!", "?"))):
        shape |= _AUTHOR_LINE  # an author line a stamp may follow
    return shape


# What a line is, each bit a test of quotes.py on the line alone, read once per distinct line
# (speed only: a collect meets the same template and quoted lines again and again): _shape for
# finding the history, _chrome_shape for the chrome. All but _ATTRIBUTION are set on pattern
# lines only (_pattern_line), where the tests are tried.
_PATTERN = 1
_ATTRIBUTION = 1 << 1  # the line alone (stripped) is an attribution: _attribution_span's first span
_SEPARATOR = 1 << 2
_COLLAPSED = 1 << 3  # a header block folded onto the line: three colons and COLLAPSED_HEADERS
_MESSAGE_DU = 1 << 4
_HEADER = 1 << 5  # HEADER_ANY
_FROM = 1 << 6  # HEADER_FROM on the line
_FROM_QUOTED = 1 << 7  # HEADER_FROM on the line without its '>' quoting
_RULE = 1 << 8
_DISCLAIMER = 1 << 9
_LIST_FOOTER = 1 << 10
_CHROME = 1 << 11  # CHROME or REPLY_MARKER
_TOP_MARKER = 1 << 12
_STAMP_HERE = 1 << 13  # an author and a date stamp on the line, whatever is around it
_STAMP_IF_ALONE = 1 << 14  # ... a name and a stamp: when the line is a paragraph of its own
_AUTHOR_LINE = 1 << 15  # short, no sentence end: a date stamp on the next line makes it a header


@kept_by_text
def _shape(line: str) -> int:
    stripped = line.strip()
    shape = 0
    if len(stripped) < 320 and (ATTRIBUTION.match(stripped) or DATE_FIRST.match(stripped)):
        shape |= _ATTRIBUTION
    if not stripped or len(line) > MAX_PATTERN_LINE:
        return shape
    shape |= _PATTERN | _stamp_shape(line)
    if SEPARATOR.match(line):
        shape |= _SEPARATOR
    if line.count(":") >= 3 and COLLAPSED_HEADERS.match(line):
        shape |= _COLLAPSED
    if MESSAGE_DU.match(line):
        shape |= _MESSAGE_DU
    if HEADER_ANY.match(line):
        shape |= _HEADER
        if HEADER_FROM.match(line):
            shape |= _FROM
        if HEADER_FROM.match(line.lstrip("> ")):
            shape |= _FROM_QUOTED
    return shape


@kept_by_text
def _chrome_shape(line: str) -> int:
    """The bits _drop_chrome reads (apart from _shape's: a splitter that reads every line of a
    long text tries on each the patterns it tried before, no more)."""
    if not line.strip() or len(line) > MAX_PATTERN_LINE:
        return 0
    shape = _PATTERN
    if RULE.match(line):
        shape |= _RULE
    if DISCLAIMER.match(line):
        shape |= _DISCLAIMER
    if LIST_FOOTER.match(line):
        shape |= _LIST_FOOTER
    if CHROME.match(line) or REPLY_MARKER.match(line):
        shape |= _CHROME
    if TOP_MARKER.match(line):
        shape |= _TOP_MARKER
    return shape


def _quote_start(lines: list[str], first_text: int = 0) -> int | None:
    """Give back the index of the first line of quoted history, or None.

    One pass, each line tried against patterns on at most MAX_PATTERN_LINE characters, so
    the cost is linear in the text whatever its shape.
    """
    # Every non-blank line from `tail` on is '>'-quoted (found once, backwards).
    tail = len(lines)
    while tail and (not (opening := lines[tail - 1].lstrip()) or opening[0] == ">"):
        tail -= 1
    for i, line in enumerate(lines):
        if i < first_text:
            continue  # the helpdesk's chrome above the reply (markers, the agent's header)
        shape = _shape(line)
        if not shape & _PATTERN:
            if i >= tail and line.strip() and _is_quoted(line):
                return i
            continue
        if shape & (_SEPARATOR | _COLLAPSED) or _attribution_span(lines, i, shape) > 0:
            return i
        if shape & _MESSAGE_DU and any(_header_block_at(lines, k)
                                             for k in range(i + 1, min(i + 3, len(lines)))):
            return i
        if _header_block_at(lines, i, shape):
            # An Outlook rule ("____") right above belongs to the history too.
            j = i - 1
            while j >= 0 and not lines[j].strip():
                j -= 1
            return j if j >= 0 and RULE.match(lines[j]) else i
        if i > first_text and _stamp_after(lines, i, shape) is not None:
            # A helpdesk comment's author line, followed by its date stamp.
            return i
        if i >= tail and _is_quoted(line):
            return i
    return None


def _answers_below(lines: list[str], start: int) -> list[int]:
    """Give back the writer's own lines below a '>' quote that opens at `start`.

    Answers written below the quote (bottom-posting) or between its pieces (interleaving) are
    the unquoted lines after the '>' lines, up to the next history marker. When the writer
    also wrote above the quote (more than a greeting), lines below count only if more quote
    follows them (the interleaved shape), so a footer under a top-posted reply's quote stays out.
    """
    span = 0 if _is_quoted(lines[start]) else _attribution_span(lines, start)
    if not _is_quoted(lines[start]) and not span:
        return []
    first = start + span
    while first < len(lines) and not lines[first].strip():
        first += 1
    if first >= len(lines) or not _is_quoted(lines[first]):
        return []
    below: list[int] = []
    quote_after_answer = False
    previous = ""
    for k in range(first, len(lines)):
        line = lines[k]
        if line.lstrip().startswith(">"):  # (_is_quoted, inline: this loop reads the whole quote)
            quote_after_answer = quote_after_answer or bool(below)
        elif line.strip():
            if _history_marker_at(lines, k):
                break
            # A long quoted line wrapped by a client that forgot the '>' on its continuation.
            if not (_is_quoted(previous) and len(previous) > 60 and line.lstrip()[:1].islower()):
                below.append(k)
        elif below:
            below.append(k)  # the blank lines between the writer's paragraphs
        previous = line
    # Above the quote, a greeting alone ("Bonjour Madame,") opens a bottom-posted answer.
    above = [line.strip() for line in lines[:start] if line.strip()]
    greeting_only = len(above) == 1 and above[0].endswith(",") and len(above[0].split()) <= 6
    return below if below and (quote_after_answer or not above or greeting_only) else []


def _trim(lines: list[str]) -> str:
    return "\n".join(lines).strip("\n").rstrip()


def _split_inline_attribution(raw: list[str], lines: list[str]) -> tuple[list[str], list[str]]:
    """Put an attribution (or a header block folded onto one line) glued to the end of a line
    on a line of its own."""
    # (a line that opens with '>' is quoted: no cut, and no call)
    cuts = [0 if line[:1] == ">" else _inline_cut(line) for line in lines]
    if not any(cuts):
        return raw, lines
    out_raw: list[str] = []
    out: list[str] = []
    for raw_line, line, cut in zip(raw, lines, cuts, strict=True):
        if cut:
            out_raw += [raw_line[:cut].rstrip(), raw_line[cut:]]
            out += [line[:cut].rstrip(), line[cut:]]
        else:
            out_raw.append(raw_line)
            out.append(line)
    return out_raw, out


@kept_by_text  # (speed only: a collect meets the same quoted and template lines again and again)
def _inline_cut(line: str) -> int:
    """Give back where an attribution or a folded header block glued to the end of `line`
    starts (0: none; it never starts a line, its text is before it)."""
    if not _pattern_line(line) or _is_quoted(line):
        return 0
    # (the verb first: a cheap test that spares the costly search on almost every line)
    found = INLINE_ATTRIBUTION.search(line) if WROTE_WORD.search(line) else None
    if not found and line.count(":") >= 3:
        found = COLLAPSED_HEADERS.search(line)
    if found and line[: found.start()].strip():
        return next(found.start(k) for k in range(1, (found.re.groups or 0) + 1) if found.group(k))
    return 0


def _first_text(lines: list[str]) -> int:
    return next((i for i, x in enumerate(lines) if x.strip()), 0)


def _rule_in_text(lines: list[str], i: int) -> bool:
    """Say whether the rule at lines[i] is drawn by the text: it underlines a heading written
    just above it (to the heading's width), or follows a line announcing what comes ("Voici
    le détail :"), and text that is not a footer follows. A footer's rule is drawn wide under
    a sign-off, or stands apart."""
    above = lines[i - 1].strip() if i else ""
    below = lines[i + 1] if i + 1 < len(lines) else ""
    if not above or not below.strip() or not _pattern_line(below):
        return False
    if LIST_FOOTER.match(below) or DISCLAIMER.match(below) or CHROME.match(below):
        return False
    rule = lines[i].strip()
    underline = abs(len(rule) - len(above)) <= max(3, len(above) // 4)  # drawn to the heading's width
    return above.endswith(":") or (underline and not above.endswith((".", ",", "!", "?")))


def _drop_chrome(raw: list[str], lines: list[str]) -> tuple[list[str], list[str]]:
    """Remove helpdesk and client chrome; cut at a disclaimer or a list/helpdesk footer."""
    kept_raw: list[str] = []
    kept: list[str] = []
    started = False  # a non-blank line is kept (read at every line: kept once, not rescanned)
    table_end = 0
    i = 0
    while i < len(lines):
        line = lines[i]
        shape = _chrome_shape(line)
        rule = bool(shape & _RULE)
        if rule and i >= table_end and any(_chrome_shape(x) & _RULE for x in lines[i + 2 : i + 15]):
            table_end = i + 15  # two rules a few lines apart frame a table, not a footer
        if rule and (i < table_end or _rule_in_text(lines, i)):
            pass  # a rule of a table, under a heading, or after "Voici le détail :"
        elif shape & _DISCLAIMER or (rule and started):
            break  # the rest is a disclaimer or footer (history was cut before)
        if shape & _LIST_FOOTER:
            # A list footer often hangs under a "-- " line: that line goes with it.
            while kept and (not kept[-1].strip() or kept[-1].strip() in ("--", "-- ", "---")):
                kept.pop()
                kept_raw.pop()
            break
        if shape & _CHROME:
            i += 1
            continue
        if not started and (stamp := _stamp_after(lines, i)) is not None:
            i = stamp + 1  # the helpdesk's own header above the agent's comment
            continue
        if not started and shape & _TOP_MARKER:
            i += 1
            continue
        kept_raw.append(raw[i])
        kept.append(line)
        started = started or bool(line.strip())
        i += 1
    return kept_raw, kept


def split_reply(text: str, language: str | None = None) -> tuple[str, str, str]:
    """Give back (reply, signature, quoted) for a message body; every language's patterns apply.

    `language` is accepted for callers that know it; all patterns are tried anyway since
    brands often answer with templates in another language.
    """
    del language
    raw_lines = text.replace("\r\n", "\n").replace("\r", "\n").split("\n")
    # (most texts hold no no-break space: then the lines are their own normal form)
    lines = [_norm(x) for x in raw_lines] if any(map(text.__contains__, _NBSP_CHARS)) else list(raw_lines)
    raw_lines, lines = _split_inline_attribution(raw_lines, lines)

    # Chrome at the very top (a helpdesk marker, its "request updated" line, the agent's
    # comment header) would hide where the history starts.
    top = _first_text(lines)
    while top < len(lines) and (REPLY_MARKER.match(lines[top]) or CHROME.match(lines[top])
                                or TOP_MARKER.match(lines[top]) or not lines[top].strip()):
        top += 1
    stamp = _stamp_after(lines, top) if top < len(lines) else None
    first = stamp + 1 if stamp is not None else top
    start = _quote_start(lines, first)
    quoted_lines: list[str] = []
    if start is not None:
        below = set(_answers_below(lines, start))
        quoted_lines = [raw_lines[k] for k in range(start, len(lines)) if k not in below]
        keep = [*range(start), *sorted(below)]
        raw_lines, lines = [raw_lines[k] for k in keep], [lines[k] for k in keep]

    # Inline '>' lines left above the history (interleaved answers) are quotes too.
    kept_raw, kept = [], []
    inline_quotes = []
    for raw, norm in zip(raw_lines, lines, strict=True):
        if _is_quoted(norm):
            inline_quotes.append(raw)
        else:
            kept_raw.append(raw)
            kept.append(norm)
    if inline_quotes:
        quoted_lines = inline_quotes + ([""] if quoted_lines else []) + quoted_lines
    kept_raw, kept = _drop_chrome(kept_raw, kept)

    sig_at = signature_start(kept)
    signature_lines: list[str] = []
    if sig_at is not None:
        signature_lines = kept_raw[sig_at:]
        kept_raw = kept_raw[:sig_at]

    reply = _trim(kept_raw)
    return reply, _trim(signature_lines).strip(), _trim(quoted_lines).strip()


def for_scoring(reply: str, signature: str) -> tuple[str, str]:
    """Give back (text the scorer rates, name block): the closing formula goes with the text.

    Politeness is rated on the closing ("Cordialement,"), which the corpus convention puts at
    the head of the signature; the separator line "-- " is no part of either.
    """
    lines = signature.split("\n") if signature else []
    if lines and lines[0].strip() in ("--", "-- ", "—"):
        lines = lines[1:]
    # A closing known by its words, or by its shape when a name block follows it (that is
    # how signature_start found it: "Au plaisir de vous lire, / Hugo").
    if lines and _pattern_line(_norm(lines[0])) and (
            CLOSING.match(_norm(lines[0])) or (shaped_closing(lines[0]) and len(lines) > 1)):
        closing = lines[0].strip()
        reply = f"{reply}\n\n{closing}" if reply.strip() else closing
        lines = lines[1:]
    elif lines and (parts := closing_and_name(_norm(lines[0]))):
        # "Bonne journée, Julie": the closing to the text, the name to the name block.
        closing, name = parts
        reply = f"{reply}\n\n{closing}" if reply.strip() else closing
        lines = [name, *lines[1:]]
    return reply, "\n".join(lines).strip()
