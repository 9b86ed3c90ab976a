"""Where a reply greets, where its body is, and how it closes and is signed, per channel.

E-mail: a greeting line, the body, then a block of short lines (closing formula, a name, a
team). X: a mention and maybe a greeting, the body, then a wish and a signature in initials
("^JM", "-AK", "/Léa"). A signature names a person when its first word is not a team word:
"Kevin | Service clients" is Kevin, "L'équipe Voltea" and "Customer Care" are teams.
"""

from __future__ import annotations

import re
from typing import NamedTuple

from ..mail.person_names import FIRST_NAMES
from .rubric import Lexicon, PhraseSet
from .text import digits_as_zero, fold, is_stopword

_MENTIONS = re.compile(r"^\s*(?:@\w+[\s,:]*)+")
_X_SIGNATURE = re.compile(r"(?:^|\s)([\^~/\-\u2013\u2014]\s?[A-Z\u00c0-\u00dd][\w\u00c0-\u00ff.'-]{0,15})\s*$")
_CAPITALISED = re.compile(r"(?<![\w'])[A-Z\u00c0-\u00dd][a-z\u00e0-\u00ff'-]+|\b[A-Z]\.(?=\s|$)")
_INITIAL_END = re.compile(r"\b[A-Z]\.$")  # "Marc D." ends on an initial, not a sentence
_LEADING = frozenset({"l", "le", "la", "les", "the", "your", "votre", "vos", "de", "from", "ton"})
# Contact lines under a signature (a phone number, an address, a site) belong to the closing block.
_CONTACT = re.compile(r"^(?:(?:t[eé]l|phone|tel|t|m|mob|fax|web|site|e-?mail)\s*[.:]?\s*)?"
                      r"(?:[\d\s+().\-/]{8,}|https?://\S+|www\.\S+|[\w.+-]+@[\w-]+(?:\.[\w-]+)+)$", re.I)
# A tweet signed "Sophie de l'équipe" / "Tom from the team" (a bare capitalised word at the end may
# as well be a courier or a brand: "Merci ! Colissimo").
_X_NAME_END = re.compile(r"(?:^|[\s.!?,\u2600-\u27bf\U0001f300-\U0001faff])([A-Z\u00c0-\u00dd][a-z\u00e0-\u00ff]+)"
                         r"\s+(?:de l['\u2019]\s?[ée]quipe|from the team|for the team|pour l['\u2019]\s?[ée]quipe|de la team)(?:\s+\w+)?\s*$")


class Layout(NamedTuple):
    """Where a reply greets, its body lies, and it closes and is signed (offsets in the reply).

    A named tuple: one is built per reply (a frozen dataclass set its fields one by one)."""

    greeting: tuple[int, int] | None  # the greeting formula
    body_start: int
    body_end: int  # where the closing/signature block starts
    closing: tuple[int, int] | None  # the closing formula
    signature: tuple[int, int] | None  # the signature text (a name or a team), (-1, -1): given apart
    signer: tuple[int, int] | None  # a person's name or initials
    signature_text: str = ""


def layout_of(part: str, folded: str, lex: Lexicon, channel: str, signature: str,
              names: tuple[str, ...], records: list | None = None) -> Layout:
    """Return the Layout of a reply (`signature`: a signature the mail parser already split off;
    `records`: part's lines as text.reply_view read them, LemmaView.records, if it did)."""
    m = _MENTIONS.match(part)
    start = m.end() if m else len(part) - len(part.lstrip())
    line_end = part.find("\n", start)
    line_end = len(part) if line_end < 0 else line_end
    greeting = None
    body_start = start
    g = lex.sets["greeting"].search(folded[start:line_end])
    if g and g.start() <= 3:
        greeting = (start + g.start(), start + g.end())
        first_line = part[start:line_end]
        if channel != "x" and len(first_line.split()) <= 8:
            body_start = line_end
        else:
            comma = part.find(",", greeting[1], min(line_end, greeting[1] + 40))
            body_start = comma + 1 if comma > 0 else greeting[1]
    if channel == "x" and "\n" not in part.strip():
        return _tweet(part, folded, lex, body_start, greeting, signature, names)
    body_end, closing, sig, signer = _closing_block(part, folded, lex, body_start, names, records)
    sig_text = part[sig[0]:sig[1]] if sig else ""
    if signature.strip():
        for line in signature.strip().splitlines()[:3]:
            if _is_signature_line(line.strip()):
                sig = sig or (-1, -1)
                sig_text = sig_text or line.strip()
                if signer is None and _person(line, 0, line, lex, names):
                    signer = (-1, -1)
                break
    return Layout(greeting, body_start, body_end, closing, sig, signer, sig_text)


_Block = tuple[int, "tuple[int, int] | None", "tuple[int, int] | None", "tuple[int, int] | None"]
_BLOCK_CACHE: dict[int, tuple[Lexicon, dict[tuple, _Block]]] = {}


def _closing_block(part: str, folded: str, lex: Lexicon, body_start: int, names: tuple[str, ...],
                   records: list | None = None) -> _Block:
    """Return (body end, closing formula, signature, signer) read from the reply's last lines.

    Brands end thousands of replies with the same block (closing, name, team, a reference): it is
    read once per block. What _read_block finds depends only on the last lines' text (folded too),
    on where they lie after body_start, on the lexicon and on the names; its spans are moved to the
    block's place. When no formula word and no closing or team phrase holds a digit (nothing there
    tells one digit from another), the block is remembered by its shape, digits as 0.
    """
    lines = _tail_lines(part, 5)
    if not lines:
        return _read_block(part, folded, lex, body_start, names, lines)
    at = lines[0][0]
    store = _BLOCK_CACHE.get(id(lex))
    if store is None or store[0] is not lex:
        if len(_BLOCK_CACHE) > 64:
            _BLOCK_CACHE.clear()
        store = _BLOCK_CACHE[id(lex)] = (lex, {})
    if _digit_free(lex.sets["closing"].phrases) and _digit_free(lex.vocabulary) and \
            _digit_free(lex.sets["generic_signature"].phrases):
        if records is not None:
            # The lines' remembered shapes (text._Line: the line and its folded text, digits as
            # 0), from the first of the last lines on: the same strings, none shaped again.
            shapes = [r.shape or r for r in records[part.count("\n", 0, at):]]
            tail, folded_tail = "\n".join([r.text for r in shapes]), "\n".join([r.folded for r in shapes])
        else:
            tail, folded_tail = digits_as_zero(part[at:]), digits_as_zero(folded[at:])
    else:
        tail, folded_tail = part[at:], folded[at:]
    key = (tail, folded_tail, max(body_start - at, -1), names)
    hit = store[1].get(key)
    if hit is None:
        if len(store[1]) > 20_000:
            store[1].clear()
        # (the tail starts on the first of the last lines: its last lines are those lines)
        hit = store[1][key] = _read_block(tail, folded_tail, lex, key[2], names, _tail_lines(tail, 5))
    end, closing, sig, signer = hit
    return (at + end, _moved(closing, at), _moved(sig, at), _moved(signer, at))


def _moved(span: tuple[int, int] | None, by: int) -> tuple[int, int] | None:
    return None if span is None else (span[0] + by, span[1] + by)


def _read_block(part: str, folded: str, lex: Lexicon, body_start: int, names: tuple[str, ...],
                lines: list[tuple[int, str]]) -> _Block:
    body_end = len(part)
    closing = None
    sig: tuple[int, int] | None = None
    signer: tuple[int, int] | None = None
    block: list[tuple[int, str, tuple[int, int] | None, bool]] = []
    closing_set = lex.sets["closing"]
    closed = False
    for offset, line in reversed(lines):
        if offset <= body_start:
            break
        c, keep, is_sig = _tail_line(closing_set, folded[offset:offset + len(line)], line)
        if closed and c is None:
            break  # above the closing formula is the body ("Your tracking number is 1550 1234")
        closed = closed or c is not None
        if not keep and block and _CONTACT.search(line.strip()):
            keep = True  # "01 23 45 67 89" under the name: part of the signature, nobody's name
        elif not keep and not block and _CONTACT.search(line.strip()):
            keep = True
        if keep:
            block.append((offset, line, c, is_sig))
            continue
        break
    block.reverse()
    for offset, line, c, is_sig in block:
        if c and closing is None:
            closing = (offset + c[0], offset + c[1])
            rest = line[c[1]:].strip(" ,.!")
            if not rest:
                continue
        if is_sig and (c is None or line[c[1]:].strip(" ,.!")):
            if sig is None:
                sig = (offset + len(line) - len(line.lstrip()), offset + len(line.rstrip()))
            if signer is None and not _CONTACT.search(line.strip()):
                # "Cordialement, Léa Moreau": the name after the closing formula on its line
                skip = c[1] if c else 0
                signer = _person(part, offset + skip, line[skip:], lex, names)
    if block:
        body_end = block[0][0]
    return body_end, closing, sig, signer


_TAIL_CACHE: dict[int, tuple[re.Pattern[str] | None, dict[tuple[str, str], tuple[tuple[int, int] | None, bool, bool]]]] = {}


def _tail_line(closing_set: PhraseSet, folded_line: str, line: str) -> tuple[tuple[int, int] | None, bool, bool]:
    """Return (closing formula span in the line, line belongs to the closing block, signature line).

    Brands close with the same few lines thousands of times: each line is read once. The
    closing regex on the folded line alone finds what it finds on the whole text between the
    line's bounds (the line follows a line break).
    """
    # Lines are remembered per closing regex object: hashing a compiled pattern hashes its whole
    # program (2 us for the closing trie), which a (regex, line) key paid on every lookup.
    regex = closing_set.regex
    store = _TAIL_CACHE.get(id(regex))
    if store is None or store[0] is not regex:
        if len(_TAIL_CACHE) > 64:
            _TAIL_CACHE.clear()
        store = _TAIL_CACHE[id(regex)] = (regex, {})
    lines = store[1]
    key = (folded_line, line)
    hit = lines.get(key)
    if hit is None:
        if len(lines) > 20_000:
            lines.clear()
        if _digit_free(closing_set.phrases):
            # "Réf. 5631", "Tél. 01 23 45 67 89": read as the line with its digits as 0 (nothing
            # here tells one digit from another), so such lines are read once whatever the number.
            shape = (digits_as_zero(folded_line), digits_as_zero(line))
            if shape != key:
                hit = lines.get(shape)
                if hit is None:
                    hit = lines[shape] = _read_tail_line(closing_set, shape[0], shape[1])
                lines[key] = hit
                return hit
        hit = lines[key] = _read_tail_line(closing_set, folded_line, line)
    return hit


def _digit_free(words: tuple[str, ...] | frozenset[str]) -> bool:
    # Remembered per tuple/set object: a lexicon's phrase sets and vocabulary are loaded once.
    got = _DIGIT_FREE.get(id(words))
    if got is None or got[0] is not words:
        if len(_DIGIT_FREE) > 256:
            _DIGIT_FREE.clear()
        got = _DIGIT_FREE[id(words)] = (words, not any(c.isdigit() for w in words for c in w))
    return got[1]


_DIGIT_FREE: dict[int, tuple[object, bool]] = {}


def _read_tail_line(closing_set: PhraseSet, folded_line: str, line: str) -> tuple[tuple[int, int] | None, bool, bool]:
    stripped = line.strip()
    m = closing_set.regex.search(folded_line) if closing_set.regex else None
    c = m.span() if m is not None else None
    is_sig = _is_signature_line(stripped)
    return (c, is_sig or (c is not None and len(stripped.split()) <= 8), is_sig)


def _tweet(part: str, folded: str, lex: Lexicon, body_start: int, greeting: tuple[int, int] | None,
           signature: str, names: tuple[str, ...]) -> Layout:
    end = len(part.rstrip())
    sig = signer = None
    m = _X_SIGNATURE.search(part[:end])
    body_end = end
    if m:
        sig = signer = (m.start(1), m.end(1))
        body_end = m.start(1)
    else:
        n = _X_NAME_END.search(part[:end])
        if n and fold(n.group(1)) not in lex.vocabulary and not is_stopword(fold(n.group(1))) \
                and fold(n.group(1)) not in _NOT_NAMES \
                and fold(n.group(1)) not in names and lex.sets["closing"].search(fold(n.group(1))) is None:
            sig = (n.start(1), n.end())
            signer = (n.start(1), n.end(1))
            body_end = n.start(1)
    closing = None
    tail_from = max(body_start, body_end - 70)
    for c in lex.sets["closing"].finditer(folded[tail_from:body_end]):
        closing = (tail_from + c.start(), tail_from + c.end())
    if closing is None and body_end > body_start:
        # The guide: on X the closing is a wish, in the tweet's last sentence -- "Have a great
        # week", "Bonne installation à Lyon", "Enjoy the new lamp!". No formula list holds every
        # wish: the last sentence's shape decides. (Read as closings as well, thanks and offers to
        # continue, "Merci de votre patience, dites-nous si ça coince encore", cost more than they
        # gave on the development parts: not taken.)
        last = _LAST_SENTENCE.search(folded[body_start:body_end])
        if last and _X_WISH.match(last.group(1)):
            closing = (body_start + last.start(1), body_start + last.end(1))
    return Layout(greeting, body_start, body_end, closing, sig, signer, part[sig[0]:sig[1]] if sig else "")


_LAST_SENTENCE = re.compile(r"(?:^|[.!?]\s+)([^.!?]+[.!?]*)\W*$")
_X_WISH = re.compile(r"(?:(?:tres )?(?:bonne|bon|belle|excellente?)\s|have an? |enjoy |happy |joyeux )")
_NOT_NAMES = frozenset({"lundi", "mardi", "mercredi", "jeudi", "vendredi", "samedi", "dimanche", "monday", "tuesday",
                        "wednesday", "thursday", "friday", "saturday", "sunday", "merci", "thanks", "cheers", "bisous",
                        "demain", "tomorrow", "today", "bravo", "super", "parfait", "courage", "enjoy", "salut"})


def _is_signature_line(line: str) -> bool:
    if not line or len(line.split()) > 7 or len(line) > 70:
        return False
    if line.endswith(("?", "!", ":", ";")):
        return False
    if line.endswith(".") and not _INITIAL_END.search(line):
        return False
    return any(ch.isalpha() for ch in line)


_PERSON_CACHE: dict[tuple[str, str, tuple[str, ...]], tuple[int, int] | None] = {}


def _person(part: str, offset: int, line: str, lex: Lexicon, names: tuple[str, ...]) -> tuple[int, int] | None:
    # Brands sign with the same few lines thousands of times: remember each line's answer.
    key = (lex.language, line, names)
    if key not in _PERSON_CACHE:
        if len(_PERSON_CACHE) > 20_000:
            _PERSON_CACHE.clear()
        # Capitalised words hold no digit: a line differing only in its digits ("Réf. 5631")
        # names the same person at the same place, when no formula word has a digit.
        shape = digits_as_zero(line) if _digit_free(lex.vocabulary) and \
            _digit_free(lex.sets["generic_signature"].phrases) else line
        if shape != line:
            shape_key = (lex.language, shape, names)
            if shape_key not in _PERSON_CACHE:
                _PERSON_CACHE[shape_key] = _person_in(shape, lex, names)
            _PERSON_CACHE[key] = _PERSON_CACHE[shape_key]
        else:
            _PERSON_CACHE[key] = _person_in(line, lex, names)
    found = _PERSON_CACHE[key]
    return None if found is None else (offset + found[0], offset + found[1])


def _person_in(line: str, lex: Lexicon, names: tuple[str, ...]) -> tuple[int, int] | None:
    offset = 0
    words = [w for w in re.findall(r"[\w\u00c0-\u00ff'-]+", line)]
    lead = [w for w in words if fold(w).split("'")[-1] not in _LEADING and fold(w) not in _LEADING]
    if not lead:
        return None
    first = fold(lead[0]).split("'")[-1]
    team = lex.sets["generic_signature"]
    if team.search(first) is not None or first in lex.vocabulary:
        return None
    for m in _CAPITALISED.finditer(line):
        word = fold(m.group()).strip(".")
        if word in lex.vocabulary or is_stopword(word) or word in names:
            continue
        if team.search(word) is not None:
            return None
        if len(word) >= 2 or m.group().endswith("."):
            if word not in FIRST_NAMES and _names_a_team(line, m.end(), team):
                return None  # "Streamly Support", "Decora Customer Services": the brand's team
            return (offset + m.start(), offset + m.end())
    return None


# Where a signature line's parts split: "Sophie - service clients", "Kevin | Support", "Pauline, SAV".
_PART_END = re.compile(r"\s[-\u2013\u2014|/]\s|[,|(]")


def _names_a_team(line: str, after: int, team: PhraseSet) -> bool:
    """A capitalised word followed, in the same part of the line, by a team word names the brand's
    team ("Moneta Support", "Brightwave Customer Services"), unless it is a first name ("Julie
    Support" is Julie): the guide's person vs team names."""
    cut = _PART_END.search(line, after)
    rest = fold(line[after:cut.start() if cut else len(line)]).strip()
    if rest.startswith(_OF_THE_TEAM):
        return False  # "Sonia de l'équipe Nexaline", "Tom from the Support team": a person of the team
    return bool(rest) and team.search(rest) is not None


_OF_THE_TEAM = ("de l'", "pour l'", "de la team", "from the ", "of the ", "for the ", "at ")


def _tail_lines(part: str, n: int) -> list[tuple[int, str]]:
    """Return the last `n` non-blank lines of `part` with their offsets, reading from the end."""
    lines: list[tuple[int, str]] = []
    end = len(part)
    while end > 0 and len(lines) < n:
        start = part.rfind("\n", 0, end) + 1
        line = part[start:end].rstrip("\r")
        if line.strip():
            lines.append((start, line))
        end = start - 1
    return lines[::-1]
