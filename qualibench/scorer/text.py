"""Text views of a reply for matching: accent-folded text and lemma strings that map back to spans.

Everything the scorer matches runs on views whose offsets lead back to the original text, so each
point can cite the exact characters that earned it. `fold` keeps the length of the text unchanged
(one character in, one character out) for that reason.
"""

from __future__ import annotations

import re
import sys
import unicodedata
from bisect import bisect_right
from dataclasses import dataclass, field
from functools import cache, lru_cache


def _fold_table() -> dict[int, str]:
    table: dict[int, str] = {}
    for code in range(0xC0, 0x250):
        ch = chr(code)
        base = unicodedata.normalize("NFKD", ch)[0].lower()
        if base.isascii() and base.isalpha():
            table[code] = base
    # Typographic variants that only change how a character looks, not what it says.
    table.update({ord("’"): "'", ord("‘"): "'", ord("\u00a0"): " ", ord("\u202f"): " ",
                  ord("«"): '"', ord("»"): '"', ord("–"): "-", ord("—"): "-"})
    return table


_FOLD = _fold_table()
# Written to start on the comma (the lookbehind checks the digit before it): `re` then jumps from
# comma to comma instead of trying a lookbehind at every character. Same matches as (?<=\d),(?=\d).
_DECIMAL_COMMA = re.compile(r",(?<=\d,)(?=\d)")


def fold(text: str) -> str:
    """Return `text` lowercased, accent-free, decimal commas as points: same length as `text`."""
    return _DECIMAL_COMMA.sub(".", _fold_lowered(_lower_same_length(text)))


def _fold_lowered(lowered: str) -> str:
    # Every character the table changes is outside ASCII: an ASCII text (isascii() costs
    # nothing) is already folded, and translate() would look each character up for nothing.
    # In a text with a few accents, only the runs outside ASCII are translated: translate()
    # leaves its fast ASCII path at the first other character (three times slower a line).
    return lowered if lowered.isascii() else _NOT_ASCII.sub(_fold_run, lowered)


_NOT_ASCII = re.compile(r"[^\x00-\x7f]+")


def _fold_run(m: re.Match[str]) -> str:
    return m.group().translate(_FOLD)


def lower_and_fold(text: str) -> tuple[str, str]:
    """Return `text` lowercased (accents kept) and folded, both the length of `text`."""
    lowered = _lower_same_length(text)
    return lowered, _DECIMAL_COMMA.sub(".", _fold_lowered(lowered))


# A reference such as CMD-482913 or ORD-730045 is one token; so is a number like 59.5.
# The possessive quantifiers (++, {1,6}+) match exactly what the plain ones would here (what
# follows a run can never be part of it), but spare `re` backtracking letter by letter
# through every word that is not a reference: tokenising is a third faster.
TOKEN_RE = re.compile(r"[a-z]{1,6}+-?\d{3,}|\d++(?:\.\d+)?|[^\W\d_]++", re.UNICODE)


@cache
def _lemmatizer():
    """simplemma's lemmatize, imported on first use: its import costs 0.1-0.2 s, and many
    commands that load the rubric (the report, awards, exports) never lemmatise."""
    import simplemma

    return simplemma.lemmatize


@lru_cache(maxsize=200_000)
def lemma(token: str, language: str) -> str:
    """Return the folded lemma of a lowercased token (simplemma, with a French participle fallback)."""
    if language not in ("fr", "en") or not token.isalpha():
        return token.translate(_FOLD)
    lemmatize = _lemmatizer()
    out = lemmatize(token, lang=language, greedy=True)
    if out == token and language == "fr":
        # simplemma leaves feminine/plural participles alone ("expédiée", "livrées").
        for suffix in ("ées", "ée", "és"):
            if token.endswith(suffix):
                stem = token[: -len(suffix)] + "é"
                alt = lemmatize(stem, lang="fr", greedy=True)
                if alt != stem:
                    out = alt
                break
    return out.lower().translate(_FOLD)


class _Once:
    """A value worked out on first read and kept in the instance (functools.cached_property
    without its lock: a view is never shared between threads while it is being read)."""

    def __init__(self, func) -> None:  # type: ignore[no-untyped-def]
        self.func, self.name = func, func.__name__
        self.__doc__ = func.__doc__

    def __get__(self, obj, cls=None):  # type: ignore[no-untyped-def]
        if obj is None:
            return self
        value = obj.__dict__[self.name] = self.func(obj)
        return value


@dataclass
class LemmaView:
    """The text as lemmas, with each lemma's place in the original text."""

    spans: list[tuple[int, int]]  # (start, end) of each token in the original text
    lemmas: list[str]
    words: list[str]  # the folded surface tokens
    language: str
    folded: str = ""  # the folded text the tokens were found in
    # function words per language (fr, en) leaving out those of both ("on", "a"...): detect_mix
    mix_counts: tuple[int, ...] | None = None
    # (lemma language, the lines holding words) when reply_view put the view together from lines
    lines: tuple[str, list[_Line]] | None = field(default=None, repr=False, compare=False)
    # every line of the text (blank ones too), when reply_view put the view together from lines:
    # the phrase scan, the sentence reading and the layout read their remembered shapes from them
    records: list[_Line] | None = field(default=None, repr=False, compare=False)

    def concept_keys(self, single: dict[str, str]) -> list[str]:
        """Return each token's key: the concept of its lemma, else of the word as written, else the
        lemma (`single`: lemma or word -> concept); worked out once per line when read by lines."""
        if self.lines is None:
            return list(map(single.get, self.lemmas, map(single.get, self.words, self.lemmas)))
        lang, infos = self.lines
        out: list[str] = []
        for info in infos:
            got = info.keys.get(lang)
            out += got[1] if got is not None and got[0] is single else info.keys_in(lang, single)
        return out

    @_Once
    def wordset(self) -> frozenset[str]:
        """Return the distinct folded tokens (a phrase set skips its scan when none starts a phrase)."""
        return frozenset(self.words)

    @_Once
    def joined(self) -> str:
        """Return the lemmas joined by one space (only read to find a lemma phrase in the text)."""
        return " ".join(self.lemmas)

    @_Once
    def joined_starts(self) -> list[int]:
        """Return where each lemma starts in `joined` (only needed to map a match back)."""
        starts = [0]
        for lem in self.lemmas[:-1]:
            starts.append(starts[-1] + len(lem) + 1)
        return starts

    def span_of(self, start: int, end: int) -> tuple[int, int]:
        """Return the original-text span of the match [start, end) found in `joined`."""
        first = bisect_right(self.joined_starts, start) - 1
        last = bisect_right(self.joined_starts, max(start, end - 1)) - 1
        return self.spans[first][0], self.spans[last][1]


_LEMMA_CACHE: dict[str, dict[str, str]] = {}
_MAX_LEMMAS = 200_000  # words per language (a token with a digit is its own lemma: never kept)


def _remember(cache: dict[str, str], token: str, lang: str) -> str:
    if len(cache) >= _MAX_LEMMAS:
        cache.clear()
    got = cache[token] = lemma(token, lang)
    return got


def lemma_view(text: str, language: str | None, *, folded: str | None = None,
               lowered: str | None = None, default: str = "fr") -> LemmaView:
    """Return the lemma view of `text`; with language None, the language is detected first.

    Tokens are found once on the folded text (same offsets as `text`); the lowercased original
    token, accents included, is what gets lemmatised.
    """
    folded = folded if folded is not None else fold(text)
    low = lowered if lowered is not None else _lower_same_length(text)
    matches = list(TOKEN_RE.finditer(folded))
    words = [m.group() for m in matches]
    spans = [m.span() for m in matches]
    if language is None:
        language = detect_language(words, default)
    lang = language if language in ("fr", "en") else default
    cache = _LEMMA_CACHE.setdefault(lang, {})
    # Without accents, typographic quotes or decimal commas the folded text is the lowercased
    # one, so its tokens are the words themselves: no need to slice them out again.
    tokens = words if low == folded else [low[s:e] for s, e in spans]
    lemmas = list(map(cache.get, tokens))
    if None in lemmas:  # first sight of some words, or numbers: lemmatise and remember words
        for i, lem in enumerate(lemmas):
            if lem is None:
                token = tokens[i]
                lemmas[i] = _remember(cache, token, lang) if token.isalpha() else words[i]
    return LemmaView(spans, lemmas, words, language, folded)


class _Line:
    """What the lemma view needs of one line of a reply, kept for the next reply with that line.

    Its sequences are tuples: the garbage collector stops following a tuple of strings or numbers
    once it has seen it, and tens of thousands of remembered lines would otherwise make each full
    collection walk all their lists again (several % of scoring a campaign's replies).
    """

    __slots__ = ("text", "shape", "lowered", "folded", "words", "spans", "tokens", "counts", "mix", "lemmas", "keys")

    def __init__(self, line: str, shape: _Line | None = None) -> None:
        self.text = line
        # The line with its digits as 0 (None: this line, which has none). Its text and folded text
        # are this line's with every digit as 0 (folding never makes or unmakes a digit), and their
        # str objects are kept: the caches keyed by them never hash a line twice.
        self.shape = shape
        low = line.lower()
        # A line whose lowercase form changes length ("İ") makes the whole reply take the
        # character-by-character path of _lower_same_length: reply_view sees `lowered` None.
        self.lowered: str | None = low if len(low) == len(line) else None
        self.folded = folded = _DECIMAL_COMMA.sub(".", _fold_lowered(low)) if self.lowered is not None else ""
        if shape is not None:
            # The same line with its digits as 0 (digits_as_zero): the same tokens at the same
            # places and the same function words (no function word holds a digit).
            self.spans, self.counts, self.mix = shape.spans, shape.counts, shape.mix
            self.words = tuple([folded[a:b] for a, b in self.spans])
        else:
            matches = list(TOKEN_RE.finditer(folded))
            self.words = tuple([m.group() for m in matches])
            self.spans = tuple([m.span() for m in matches])
            self.counts = tuple(sum(map(stop.__contains__, self.words)) for stop in _STOPWORDS.values())
            self.mix = tuple(n - sum(map(both.__contains__, self.words)) if n else 0
                             for n, both in zip(self.counts, _STOP_BOTH, strict=True))
        self.tokens = self.words if low == folded else tuple([low[a:b] for a, b in self.spans])
        self.lemmas: dict[str, tuple[str, ...]] = {}
        self.keys: dict[str, tuple[dict[str, str], tuple[str, ...]]] = {}  # lang -> (concept map, keys)

    def keys_in(self, lang: str, single: dict[str, str]) -> tuple[str, ...]:
        got = self.keys.get(lang)
        if got is None or got[0] is not single:  # (another rubric's concepts: worked out again)
            lemmas = self.lemmas_in(lang)
            got = self.keys[lang] = (single, tuple(map(single.get, lemmas, map(single.get, self.words, lemmas))))
        return got[1]

    def lemmas_in(self, lang: str) -> tuple[str, ...]:
        got = self.lemmas.get(lang)
        if got is None:
            cache = _LEMMA_CACHE.setdefault(lang, {})
            out = list(map(cache.get, self.tokens))
            if None in out:  # first sight of some words, or numbers: lemmatise and remember words
                for i in [i for i, lem in enumerate(out) if lem is None]:
                    token = self.tokens[i]
                    out[i] = _remember(cache, token, lang) if token.isalpha() else self.words[i]
            got = self.lemmas[lang] = tuple(out)
        return got


_LINES: dict[str, _Line] = {}
_DIGIT = re.compile(r"\d")


def digits_as_zero(text: str) -> str:
    """Return `text` with every digit (as `re` reads \\d) written 0: the text's shape for the
    tokeniser, the phrase sets and the sentence reading, none of which tells one digit from
    another (they only ask whether a character is a digit)."""
    # Below U+0100 the only decimal digits are 0-9: a text of such characters (stored one byte a
    # character, which its size tells) goes through bytes.translate, six times faster than re.sub.
    if text.isascii():
        return text.encode("ascii").translate(_ZEROS).decode("ascii")
    if sys.getsizeof(text) - len(text) == _ONE_BYTE_OVERHEAD:
        return text.encode("latin-1").translate(_ZEROS).decode("latin-1")
    return _DIGIT.sub("0", text)


_ZEROS = bytes.maketrans(b"0123456789", b"0000000000")
_ONE_BYTE_OVERHEAD = sys.getsizeof("\xe9") - 1  # a non-ASCII text of characters below U+0100


def reply_view(text: str, language: str | None, default: str = "fr") -> tuple[str, str, LemmaView]:
    """Return `text` lowercased, folded (as lower_and_fold) and its lemma view (as lemma_view).

    Replies are made of lines other replies also have (greetings, templates, closings,
    signatures): each distinct line is lowercased, folded, tokenised and lemmatised once, and a
    reply is put together from its lines (tokens never cross a line break). The result is the
    one lower_and_fold and lemma_view give for the whole text.
    """
    lines = text.split("\n")
    infos = []
    for line in lines:
        info = _LINES.get(line)
        if info is None:
            if len(_LINES) >= 50_000:
                _LINES.clear()
            # A line seen before with other numbers (an order reference, an amount, a date) has
            # its tokens at the same places: only its own words are sliced out again.
            shape = digits_as_zero(line)
            base = None
            if shape != line:
                base = _LINES.get(shape)
                if base is None:
                    base = _LINES[shape] = _Line(shape)
            info = _LINES[line] = _Line(line, base)
        if info.lowered is None:
            lowered, folded = lower_and_fold(text)
            return lowered, folded, lemma_view(text, language, folded=folded, lowered=lowered, default=default)
        infos.append(info)
    if len(infos) == 1:
        info = infos[0]
        lowered, folded, words, spans = info.lowered, info.folded, list(info.words), list(info.spans)
        counts, mix = info.counts, info.mix
    else:
        lowered = "\n".join([i.lowered for i in infos])  # type: ignore[misc]
        folded = "\n".join([i.folded for i in infos])
        words, spans = [], []
        offset = 0
        fr = en = mix_fr = mix_en = 0
        for info, line in zip(infos, lines, strict=True):
            if info.words:
                words += info.words
                spans += info.spans if offset == 0 else [(a + offset, b + offset) for a, b in info.spans]
                fr += info.counts[0]
                en += info.counts[1]
                mix_fr += info.mix[0]
                mix_en += info.mix[1]
            offset += len(line) + 1
        counts, mix = (fr, en), (mix_fr, mix_en)
    if language is None:
        language = _language_of(counts, default)
    lang = language if language in ("fr", "en") else default
    if len(infos) == 1:
        lemmas = list(infos[0].lemmas_in(lang))
    else:
        lemmas = []
        for info in infos:
            if info.words:
                got = info.lemmas.get(lang)
                lemmas += got if got is not None else info.lemmas_in(lang)
    view = LemmaView(spans, lemmas, words, language, folded, mix,  # type: ignore[arg-type]
                     (lang, [info for info in infos if info.words]), infos)
    return lowered, folded, view  # type: ignore[return-value]


def _language_of(counts: tuple[int, ...], default: str) -> str:
    # detect_language's rule on counts summed line by line (in _STOPWORDS order: fr, en): the
    # language with more function words (French on a tie, max() keeping the first), unless it has
    # fewer than 2 or no more than the other.
    fr, en = counts
    best, n = ("fr", fr) if fr >= en else ("en", en)
    if n < 2 or n == min(fr, en):
        return default
    return best


def lemma_tokens(text: str, language: str) -> list[str]:
    """Return the folded lemmas of `text`'s tokens (found on the folded text, lemmatised with accents)."""
    low, folded = lower_and_fold(text)
    return [lemma(low[m.start():m.end()], language) if m.group().isalpha() else m.group()
            for m in TOKEN_RE.finditer(folded)]


def lemma_phrase(phrase: str, language: str) -> str:
    """Return a pattern phrase in the lemma form the lemma view uses."""
    low = _DECIMAL_COMMA.sub(".", phrase.lower())
    return " ".join(lemma(m.group(), language) for m in TOKEN_RE.finditer(low))


def _lower_same_length(text: str) -> str:
    lowered = text.lower()
    if len(lowered) != len(text):
        lowered = "".join(c.lower()[0] for c in text)
    return lowered


_QUOTE_HEADER = re.compile(
    r"^\s*(?:>|on .{3,120} wrote\s*:|le .{3,120} a [ée]crit\s*:|-{2,}\s*(?:original message|message d'origine)"
    r"|de\s*:\s.+@|from\s*:\s.+@)",
    re.IGNORECASE | re.MULTILINE,
)
# "-- " alone on a line; written to start on the dash (the lookbehind asks for a line start
# before it) so `re` jumps between dashes: the same matches as ^-- ?$, four times faster.
_SIGNATURE_DASHES = re.compile(r"-(?<![^\n]-)- ?$", re.MULTILINE)


def scored_part(text: str) -> str:
    """Return the part of a reply that is scored: up to the quoted history or a '-- ' signature.

    It is a prefix of `text`, so offsets found in it are offsets in `text`.
    """
    cut = len(text)
    # Every quote header holds a ">", a ":" or two dashes, and the signature marker two dashes:
    # without them (found by `in`, in C) neither regex can match and the text is not scanned.
    dashes = "--" in text
    for rx, may in ((_QUOTE_HEADER, dashes or ":" in text or ">" in text), (_SIGNATURE_DASHES, dashes)):
        m = rx.search(text) if may else None
        if m and m.start() < cut:
            cut = m.start()
    return text[:cut].rstrip()


_STOPWORDS = {
    "fr": frozenset([
        "le", "la", "les", "de", "des", "du", "et", "est", "vous", "nous", "votre", "vos", "pour",
        "une", "un", "que", "qui", "pas", "sur", "avec", "dans", "ce", "cette", "ne", "se", "au",
        "aux", "sont", "je", "il", "elle", "mon", "ma", "mes", "son", "sa", "ses", "notre", "nos",
        "leur", "avoir", "etre", "faire", "pouvoir", "vouloir", "devoir", "aller", "depuis", "sous",
        "toujours", "tout", "tous", "plus", "mais", "ou", "donc", "car", "si", "dire", "bien",
        "rien", "encore", "quand", "comment", "quel", "quelle", "defaut", "merci", "cordialement",
    ]),
    "en": frozenset([
        "the", "and", "is", "you", "your", "we", "our", "for", "a", "an", "to", "of", "in", "it",
        "this", "that", "with", "be", "are", "will", "i", "us", "have", "has", "please", "my", "me",
        "do", "can", "would", "could", "should", "how", "what", "when", "not", "but", "or", "so",
        "if", "at", "on", "by", "from", "as", "there", "their", "its", "also", "about", "like",
        "thanks", "thank", "regards", "long", "exactly",
    ]),
}


assert tuple(_STOPWORDS) == ("fr", "en")  # the order _language_of and the lines' counts read


def detect_language(words: tuple[str, ...] | list[str], default: str) -> str:
    """Return "fr" or "en" by counting function words; `default` when too few to tell."""
    counts = {lang: sum(map(stop.__contains__, words)) for lang, stop in _STOPWORDS.items()}
    best = max(counts, key=lambda k: counts[k])
    if counts[best] < 2 or counts[best] == min(counts.values()):
        return default
    return best


def is_stopword(token: str) -> bool:
    """Return whether `token` is a function word in French or English."""
    return token in _ANY_STOPWORD


_ANY_STOPWORD = _STOPWORDS["fr"] | _STOPWORDS["en"]  # one set lookup instead of two


_BOTH = frozenset({"on", "a", "me", "i", "an", "as", "if", "son", "plus", "us", "est"})
_STOP_BOTH = tuple(stop & _BOTH for stop in _STOPWORDS.values())  # in _STOPWORDS order


def detect_mix(words: tuple[str, ...] | list[str], present: frozenset[str] | None = None,
               counts: tuple[int, ...] | None = None) -> str:
    """Return "fr and en" when both languages each hold a quarter of the function words, else "".

    `present`: the distinct words, when the caller already has them (the lemma view's wordset);
    `counts`: the function words per language, those of both left out (LemmaView.mix_counts).
    """
    present = set(words) if present is None else present
    if present.isdisjoint(_STOPWORDS["fr"]) or present.isdisjoint(_STOPWORDS["en"]):
        return ""
    if counts is None:
        # "on", "a", "me"... are words of both languages: they do not tell a mix.
        kept = [w for w in words if w not in _BOTH]
        counts = tuple(sum(map(stop.__contains__, kept)) for stop in _STOPWORDS.values())
    total = sum(counts)
    if total >= 6 and min(counts) >= max(3, total / 4):
        return "fr and en"
    return ""
