"""Every phrase of every phrase set of a lexicon, found in one pass over a reply.

Scoring a reply asks its lexicon's phrase sets some twenty questions (where are the promises,
the empathy cues, the deflections; is there a thanks in the body; which sentence restates).
Each set is a trie regex (rubric.phrase_regex), and each question was one more scan of the
reply. A PhraseIndex compiles the phrases of all the sets into one trie regex and a table. One scan finds each place where some phrase starts, with the longest
phrase there; the table says which shorter phrases of which sets also match at that place
(a phrase is a prefix of it, followed by a character that ends a word). Every set's answers are
then read off that list by the rules its own regex follows, so they are the same matches:

- a phrase starts and ends on whole words (the text around it is no word character);
- at one place, the longest phrase wins; words are separated by any run of white space;
- finditer goes left to right and never overlaps; a window [start, end) sees only what lies in
  it, as regex.search(text, start, end) does.

A window whose end cuts a word (or leaves a word character right after it) can turn a phrase's
end into a word's end: such a question goes to the set's own regex, as before.

Each distinct line is scanned once and remembered (replies share greetings, templates and
closings); a reply with a line that ends on the first words of a longer phrase is scanned whole.
Paired with the per-set regexes on the bench corpus (bench/score.py --against), the scorer as a
whole is about 6 % faster: the sets' own early skip (no first word of theirs in the reply) had
already spared most scans.
"""

from __future__ import annotations

import re
from bisect import bisect_left
from collections.abc import Callable

from .text import digits_as_zero

_WORD = re.compile(r"\w")
_DIGIT = re.compile(r"\d")
_MISSING = object()


class PhraseMatch:
    """A match of a phrase set, shaped like the re.Match the rules read (start, end, span, group)."""

    __slots__ = ("string", "_start", "_end")

    def __init__(self, string: str, start: int, end: int) -> None:
        self.string = string
        self._start = start
        self._end = end

    def start(self) -> int:
        return self._start

    def end(self) -> int:
        return self._end

    def span(self) -> tuple[int, int]:
        return self._start, self._end

    def group(self) -> str:
        return self.string[self._start:self._end]

    def __repr__(self) -> str:
        return f"<PhraseMatch span={self.span()!r} match={self.group()!r}>"


class PhraseIndex:
    """The phrases of several sets (name -> normalised folded phrases), scanned for all at once."""

    def __init__(self, sets: dict[str, tuple[str, ...]], regex: re.Pattern[str] | None,
                 open_regex: Callable[[list[str]], re.Pattern[str] | None]) -> None:
        # regex: rubric.phrase_regex over every phrase of every set (the same construction as each
        # set's own regex, so a scan finds the longest phrase of any set at each place).
        self.regex = regex
        every = {p for phrases in sets.values() for p in phrases}
        # phrase -> ((set, lengths of that set's phrases matching where it matches, ascending), ...)
        self.table: dict[str, tuple[tuple[str, tuple[int, ...]], ...]] = {}
        for longest in every:
            found = []
            for name, phrases in sets.items():
                lengths = sorted({len(p) for p in phrases if longest.startswith(p)
                                  and (len(p) == len(longest) or not _WORD.match(longest[len(p)]))})
                if lengths:
                    found.append((name, tuple(lengths)))
            self.table[longest] = tuple(found)
        # A text cut at n reads like the whole text up to n unless a phrase could end at n in the
        # cut (its last character at n - 1) while a word character at n goes on in the whole.
        self._last_chars = frozenset(p[-1] for p in every)
        self._last: tuple[str, PhrasePass] | None = None
        # A line ending with the first words of a phrase of several ("merci pour" of "merci pour
        # votre patience"), white space after them: that phrase may go on over the line break.
        heads = sorted({p[:i] for p in every for i, c in enumerate(p) if c == " "})
        self._open_end = re.compile(opening.pattern[:-len(r"(?!\w)")] + r"\s*\Z") \
            if heads and (opening := open_regex(heads)) is not None else None
        self._lines: dict[str, list | None] = {}
        # No phrase holds a digit: a line is scanned as its shape (digits as 0), so lines that
        # differ only in an order number or an amount are scanned once.
        self._digit_free = not any(_DIGIT.search(p) for p in every)

    def clean_cut(self, text: str, n: int) -> bool:
        """Return whether text[:n] holds exactly the phrases of `text` that end by n."""
        return n >= len(text) or n <= 0 or text[n - 1] not in self._last_chars or not _WORD.match(text, n)

    def found_in(self, text: str) -> list[tuple[int, tuple[tuple[str, tuple[int, ...]], ...], bool]]:
        """Return each place of `text` where a phrase starts: (start, the table's entry for the
        longest phrase there, whether its characters map one to one onto the text's)."""
        search = self.regex.search  # type: ignore[union-attr]
        table = self.table
        out = []
        m = search(text)
        while m is not None:
            start, end = m.span()
            phrase = m.group()
            info = table.get(phrase)
            if info is None:  # white space other than one space between words
                phrase = " ".join(phrase.split())
                info = table[phrase]
            out.append((start, info, end - start == len(phrase)))
            m = search(text, start + 1)
        return out

    def lines_found(self, folded: str, records: list | None = None) -> list | None:
        """Return [(offset of a line, found_in(line))] for the lines of `folded`, or None when a
        line ends with the first words of a phrase (which may go on over the line break).

        Replies share lines (greetings, templates, closings): each distinct line is scanned
        once. A line break is no word character, so a phrase inside a line is found alike in
        the line alone and in the whole text; only a phrase over a line break tells them apart.
        `records`: the text's lines as reply_view remembers them (text._Line), whose folded
        shapes are the keys, with no line split or shaped again.
        """
        if records is not None:
            return self._records_found(records)
        out = []
        offset = 0
        lines = self._lines
        for line in folded.split("\n"):
            hit = lines.get(line, _MISSING)
            if hit is _MISSING:
                if len(lines) >= 50_000:
                    lines.clear()
                shape = digits_as_zero(line) if self._digit_free else line
                hit = lines.get(shape, _MISSING) if shape != line else _MISSING
                if hit is _MISSING:
                    opens = self._open_end is not None and self._open_end.search(shape) is not None
                    hit = lines[shape] = (None if opens else self.found_in(shape))
                lines[line] = hit
            if hit is None:
                return None
            if hit:
                out.append((offset, hit))
            offset += len(line) + 1
        return out

    def _records_found(self, records: list) -> list | None:
        out = []
        offset = 0
        lines = self._lines
        digit_free = self._digit_free
        for rec in records:
            # (a line without digits is its own shape; a shape's folded text is the line's folded
            # text with its digits as 0: the key lines_found would make)
            line = (rec.shape or rec).folded if digit_free else rec.folded
            hit = lines.get(line, _MISSING)
            if hit is _MISSING:
                if len(lines) >= 50_000:
                    lines.clear()
                opens = self._open_end is not None and self._open_end.search(line) is not None
                hit = lines[line] = (None if opens else self.found_in(line))
            if hit is None:
                return None
            if hit:
                out.append((offset, hit))
            offset += len(rec.folded) + 1
        return out

    def scan(self, folded: str, records: list | None = None) -> PhrasePass:
        """Return the pass over `folded` (every phrase's places), remembered for the next questions.
        `records`: folded's lines as reply_view read them (LemmaView.records), or None."""
        last = self._last
        if last is not None and last[0] is folded:
            return last[1]
        found = PhrasePass(folded, self, records)
        self._last = (folded, found)
        return found

    def pass_for(self, text: str) -> tuple[PhrasePass, int] | None:
        """Return (the remembered pass, the end of `text` in it) when `text` is its text or a prefix
        of it cut between words; else None (the set's own regex answers)."""
        last = self._last
        if last is None:
            return None
        whole, found = last
        if text is whole:
            return found, len(whole)
        n = len(text)
        if n > len(whole) or not whole.startswith(text):
            return None
        if not self.clean_cut(whole, n):
            return None  # "merci" cut out of "mercis": in the prefix it ends a word, not in the text
        return found, n


class PhrasePass:
    """Where each set's phrases occur in one text: set -> [(start, lengths, exact offsets)]."""

    __slots__ = ("text", "places", "_whole")

    def __init__(self, folded: str, index: PhraseIndex, records: list | None = None) -> None:
        self.text = folded
        places: dict[str, list[tuple[int, tuple[int, ...], bool]]] = {}
        self.places = places
        self._whole: dict[str, list[tuple[int, int]]] = {}  # set -> all() over the whole text
        if index.regex is None:
            return
        found = index.lines_found(folded, records)
        if found is None:  # a phrase may go on over a line break: the whole text at once
            found = [(0, index.found_in(folded))]
        for offset, hits in found:
            for start, info, exact in hits:
                start += offset
                for name, lengths in info:
                    got = places.get(name)
                    if got is None:
                        places[name] = [(start, lengths, exact)]
                    else:
                        got.append((start, lengths, exact))

    def _end(self, start: int, length: int, exact: bool) -> int:
        if exact:
            return start + length
        # The phrase's `length` characters, words joined by one space, over the text's white space.
        text, at, i = self.text, start, 0
        while i < length:
            if text[at].isspace():
                while text[at].isspace():
                    at += 1
            else:
                at += 1
            i += 1
        return at

    def first(self, name: str, start: int, end: int) -> tuple[int, int] | None:
        """Return the first match of set `name` within [start, end), as regex.search would."""
        places = self.places.get(name)
        if not places:
            return None
        for at, lengths, exact in places[bisect_left(places, (start,)) if start > places[0][0] else 0:]:
            if at >= end:
                return None
            for length in reversed(lengths):
                stop = self._end(at, length, exact)
                if stop <= end:
                    return at, stop
        return None

    def all(self, name: str, end: int) -> list[tuple[int, int]]:
        """Return the matches of set `name` in text[:end], left to right, as regex.finditer would."""
        if end >= len(self.text):  # several rules ask the same set about the whole reply
            got = self._whole.get(name)
            if got is None:
                got = self._whole[name] = self._all(name, len(self.text))
            return got
        return self._all(name, end)

    def _all(self, name: str, end: int) -> list[tuple[int, int]]:
        out: list[tuple[int, int]] = []
        cursor = 0
        for at, lengths, exact in self.places.get(name, ()):
            if at < cursor:
                continue
            if at >= end:
                break
            for length in reversed(lengths):
                stop = self._end(at, length, exact)
                if stop <= end:
                    out.append((at, stop))
                    cursor = stop
                    break
        return out
