"""reading.read put together line by line: each distinct line of a reply is read once.

Replies share lines (greetings, templates, whole sentences, closings). A sentence never spans a
line break (the break ends it), and neither does a clause, so the sentences, clauses and flags
read.read finds in the whole reply are those it finds in each line alone, moved to the line's
place. `read` below reads each distinct line once (remembered), puts the reply's Reading
together from its lines, then marks the sentences that echo the request (which depends on the
request, so is never remembered).

Where the whole text could read otherwise, the reply is read whole, as before:
- a line after the first that starts with white space (the break before it may swallow that
  white space into the sentence break, and a white-space line may be a sentence of its own);
- a line after the first whose first word reads the word before it ("en cas", "le cas
  échéant", "meilleurs délais", "don't"), or a line before the last whose last word reads the
  word after it ("si", "if": "si vous...");
- an idiom ("n'hésitez pas") that runs over a line break;
- no sentence at all (an empty reply).

tests/test_scoring_engine.py checks that both ways give the same Reading on the labelled
replies and on the same texts with line breaks and white space moved about: a rule of
reading.py that reads across a line break must be added to the conditions above.
"""

from __future__ import annotations

import re
from operator import itemgetter

from .reading import _CASE, _FROM_HERE_ON, _IDIOM, _IDIOM_CUES, _IF, _MOST, _VAGUE, RESTATE, Reading
from .reading import read as read_whole
from .text import TOKEN_RE, LemmaView, digits_as_zero

# A line's first word that reads the word before it / last word that reads the word after it.
_READS_BEFORE = frozenset({*_VAGUE, *_CASE, *_FROM_HERE_ON, *_MOST, "t"})
_READS_AFTER = _IF

# (sentence spans, sentence token ranges, clause bounds, clause flags, sentence flags, if_from,
# if_to, number of words, first word, last word, whether a clause bound falls on the line's end,
# neg_from or None, whether some clause has an if-clause)
_LineReading = tuple
_CACHES: dict[tuple[int, int], tuple[object, object, dict[str, _LineReading], bool]] = {}
_MAX_LINES = 50_000


def _read_line(line: str, restate_sentence, restate_clause) -> _LineReading:  # type: ignore[no-untyped-def]
    matches = list(TOKEN_RE.finditer(line))
    words = [m.group() for m in matches]
    view = LemmaView([m.span() for m in matches], [], words, "", line)
    r = read_whole(line, line, view, restate_sentence, restate_clause, None)
    n = len(line)
    # A clause break at the end of the line (", " before the line break) goes on over the break
    # in the whole text, to the next line's first character, where a sentence starts anyway.
    end_bound = bool(r.bounds) and r.bounds[-1] == n and n > 0
    return (tuple(r.sentences), tuple(r.sentence_tokens), tuple(r.bounds), tuple(r.clause_flags),
            tuple(r.sentence_flags), tuple(r.if_from), tuple(r.if_to), len(words),
            words[0] if words else "", words[-1] if words else "", end_bound,
            tuple(r.neg_from) if r.neg_from is not None else None, any(f >= 0 for f in r.if_from))


def read(part: str, folded: str, view: LemmaView, restate_sentence, restate_clause,  # type: ignore[no-untyped-def]
         echo_of=None) -> Reading:
    """Return what reading.read returns for these arguments, reading each distinct line once."""
    key = (id(restate_sentence), id(restate_clause))
    got = _CACHES.get(key)
    if got is None or got[0] is not restate_sentence or got[1] is not restate_clause:
        if len(_CACHES) > 64:
            _CACHES.clear()
        # Without a digit in their phrases, a line reads as its shape does (digits as 0): no rule
        # of reading.py tells one digit from another.
        digit_free = not any(c.isdigit() for p in (*restate_sentence.phrases, *restate_clause.phrases) for c in p)
        got = _CACHES[key] = (restate_sentence, restate_clause, {}, digit_free)
    cache, digit_free = got[2], got[3]
    # The lines as reply_view remembers them (text._Line): their folded shapes are the keys, kept
    # str objects (hashed once), so no line is split out or shaped again.
    records = view.records if view.folded is folded else None
    if records is not None:
        lines = [r.folded for r in records]
        keys = [(r.shape or r).folded for r in records] if digit_free else lines
    else:
        lines = folded.split("\n")
        keys = None
    if not lines[-1]:  # a reply cut at MAX_SCORED_CHARS may end on a line break: read whole
        return read_whole(part, folded, view, restate_sentence, restate_clause, echo_of)
    infos: list[tuple[int, _LineReading]] = []
    offset = 0
    last = len(lines) - 1
    for i, line in enumerate(lines):
        if not line:
            offset += 1
            continue
        if i and line[0].isspace():
            return read_whole(part, folded, view, restate_sentence, restate_clause, echo_of)
        key = line if keys is None else keys[i]
        info = cache.get(key)
        if info is None:
            if len(cache) >= _MAX_LINES:
                cache.clear()
            if keys is not None:  # the shape already
                info = cache[key] = _read_line(key, restate_sentence, restate_clause)
            else:
                shape = digits_as_zero(line) if digit_free else line
                info = cache.get(shape) if shape != line else None
                if info is None:
                    info = cache[shape] = _read_line(shape, restate_sentence, restate_clause)
                cache[line] = info
        if info[7] and ((i and info[8] in _READS_BEFORE) or (i < last and info[9] in _READS_AFTER)):
            return read_whole(part, folded, view, restate_sentence, restate_clause, echo_of)
        infos.append((offset, info))
        offset += len(line) + 1
    if not infos or (len(infos) > 1 and not _IDIOM_CUES.isdisjoint(view.wordset)
                     and any("\n" in m.group() for m in _IDIOM.finditer(folded))):
        return read_whole(part, folded, view, restate_sentence, restate_clause, echo_of)
    starts = list(map(itemgetter(0), view.spans))
    if len(infos) == 1 and infos[0][0] == 0:
        info = infos[0][1]
        reading = Reading(view, list(info[0]), list(info[1]), starts, list(info[2]), list(info[3]), list(info[4]),
                          list(info[5]), list(info[6]), list(info[11]) if info[11] is not None else None)
    else:
        sentences: list[tuple[int, int]] = []
        sentence_tokens: list[tuple[int, int]] = []
        bounds: list[int] = []
        clause_flags: list[int] = []
        sentence_flags: list[int] = []
        if_from: list[int] = []
        if_to: list[int] = []
        # A clause's first negated token (0: the whole clause): moved to the line's place. A 0
        # stays 0, also where "sans" opens a line (what it would exclude lies on earlier lines).
        neg_from: list[int] | None = None
        tok = 0
        final = infos[-1][0]
        for o, info in infos:
            sentences += [(s + o, e + o) for s, e in info[0]] if o else info[0]
            sentence_tokens += [(a + tok, b + tok) for a, b in info[1]] if tok else info[1]
            sentence_flags += info[4]
            n = len(info[2]) - 1 if info[10] and o != final else len(info[2])
            bounds += [b + o for b in info[2][:n]] if o else info[2][:n]
            clause_flags += info[3][:n]
            if tok and info[12]:
                if_from += [f + tok if f >= 0 else f for f in info[5][:n]]
                if_to += [t + tok if f >= 0 else t for f, t in zip(info[5][:n], info[6][:n], strict=True)]
            else:
                if_from += info[5][:n]
                if_to += info[6][:n]
            if info[11] is not None:
                if neg_from is None:
                    neg_from = [0] * (len(clause_flags) - n)
                neg_from += [t + tok if t else 0 for t in info[11][:n]]
            elif neg_from is not None:
                neg_from += [0] * n
            tok += info[7]
        reading = Reading(view, sentences, sentence_tokens, starts, bounds, clause_flags, sentence_flags,
                          if_from, if_to, neg_from)
    if echo_of is not None:
        flags = reading.sentence_flags
        for si, (a, b) in enumerate(reading.sentence_tokens):
            if a < b and not flags[si] & RESTATE and echo_of(a, b):
                flags[si] |= RESTATE
                for c in range(reading.clause_of(a), reading.clause_of(b - 1) + 1):
                    reading.clause_flags[c] |= RESTATE
    return reading


# Inside a pattern made only of these (and of \b, \w, \d, non-capturing groups, alternatives and
# quantifiers), nothing can match a line break: such a pattern matches a text iff it matches one of
# its lines alone (a line break is no word character, as the ends of a line alone are not).
_LINE_SAFE = re.compile(r"(?:\\[bwd]|\(\?:|[a-zA-Z0-9 '|()?*+{},-])*")
_LINE_HITS: dict[int, tuple[re.Pattern[str], dict[str, bool] | None]] = {}


def some_line_matches(regex: re.Pattern[str], view: LemmaView, folded: str) -> bool:
    """Return whether `regex` finds a match in `folded` (the reply's folded text, `view` its lemma
    view), searching each distinct line once. A pattern that might match a line break (any other
    escape, a class, a dot, a flag) is searched in the whole text every time."""
    got = _LINE_HITS.get(id(regex))
    if got is None or got[0] is not regex:
        if len(_LINE_HITS) > 64:
            _LINE_HITS.clear()
        safe = not regex.flags & re.DOTALL and _LINE_SAFE.fullmatch(regex.pattern) is not None
        got = _LINE_HITS[id(regex)] = (regex, {} if safe else None)
    seen = got[1]
    records = view.records if view.folded is folded else None
    if seen is None or records is None:
        return regex.search(folded) is not None
    for rec in records:
        hit = seen.get(rec.folded)
        if hit is None:
            if len(seen) >= _MAX_LINES:
                seen.clear()
            hit = seen[rec.folded] = regex.search(rec.folded) is not None
        if hit:
            return True
    return False
