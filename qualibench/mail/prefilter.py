"""Plain substring tests that spare a big pattern's search when its words are not in the text.

The reply and classification patterns are long alternations of words ("nous avons bien
recu|avons bien pris en compte|..."); the regular-expression engine tries each of them at
every position of the text, which is most of a message's processor time. Yet almost every
match of such a pattern contains one of a few literal words, and `word in text` runs in C at
memory speed. So `prefiltered(pattern)` reads the pattern's syntax tree once and derives a set
of lowercase words such that any match contains one of them; a search on a text holding none
of them is answered "no match" without running the pattern. The words are derived, never
written by hand: the pattern stays the one rule, and its results are identical by construction.

The patterns of one module are put behind their words together (`prefilter_namespace`): all
their words go in one Aho-Corasick automaton (pyahocorasick), so a single pass over a sentence
tells which of the module's patterns it can match at all.

A collect meets the same template lines and sentences thousands of times: for a short text
(a line, a sentence) a group keeps the words found and each pattern what its search or match
found, by text, a bounded number of them. A whole body meets few patterns: each tests its own
words in it with `in`, cheaper than a pass of the whole automaton.

Case: the words are compared with the text lowercased, which covers case-insensitive patterns
(Python's re.IGNORECASE matches by simple lowercase; the few letters it also matches otherwise,
"ı" and "ſ" for "i" and "s", are folded the same way here, and the two characters whose
lowercase is ambiguous, "µ" and "İ", are never put in a word).
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable, Iterable, Iterator
from typing import Any

try:
    import ahocorasick as _ahocorasick
except ImportError:  # pragma: no cover - the package is a dependency; the tests run without it too
    _ahocorasick = None

try:  # Python 3.11+
    from re import _constants as _c
    from re import _parser as _sre_parse
except ImportError:  # pragma: no cover - older Pythons
    import sre_constants as _c  # type: ignore[no-redef]
    import sre_parse as _sre_parse  # type: ignore[no-redef]

# Strings spelled out for one piece of a pattern ("[ée]crit" -> "écrit", "ecrit").
_LIMIT = 32
# Words kept as one requirement (more would cost more substring tests than they save).
_MAX_WORDS = 96
# ... but behind a group's automaton, which finds any number of words in one pass, this many.
_GROUP_WORDS = 1024
_most = _MAX_WORDS  # the limit of the derivation running (required_words)
# A character class this small is spelled out ("[ée]" -> "é", "e").
_SMALL_CLASS = 8
# What re.IGNORECASE matches beyond lowercase equality, folded onto the letter it matches.
_FOLD = {"\u0131": "i", "\u017f": "s", "\u0307": ""}
_UNSAFE = {"\u00b5", "\u0130"}

_ZERO_WIDTH = frozenset({""})
# Characters rare enough in prose that one alone is a selective word ("#" of "#48213", "@" of
# an address, "[" of a ticket tag), though shorter than a pattern's `shortest`.
_RARE = frozenset("#[]@<>|^~{}\\")
# Texts up to this long are lines and sentences: a group answers their words in one automaton
# pass, and each pattern keeps what it found in them (a collect meets the same template lines and
# sentences thousands of times). Longer texts (a whole body) meet few patterns each: then each
# pattern tests its own words, which costs less than a pass of the whole automaton.
_SHORT = 1000
# Texts whose answers a group or a pattern keeps before it starts afresh (bounded memory).
_KEPT = 4096
_MISSING = object()


def _char(code: int) -> str | None:
    ch = chr(code)
    if code >= 0x250 or ch in _UNSAFE:
        return None
    low = ch.lower()
    return _FOLD.get(low, low) if len(low) == 1 else None


def _minimal(words: Iterable[str]) -> frozenset[str]:
    """Drop the words that contain another one: finding the shorter is enough."""
    ordered = sorted(set(words), key=len)
    kept: list[str] = []
    for word in ordered:
        if not any(k in word for k in kept):
            kept.append(word)
    return frozenset(kept)


def _score(words: frozenset[str]) -> tuple[int, int, int]:
    # Past four letters a word is rare enough in a sentence: then fewer words are better
    # (an alternation's words add up in the alternation's requirement).
    shortest = min(map(len, words))
    return min(4, shortest), -len(words), shortest


def _better(a: frozenset[str] | None, b: frozenset[str] | None) -> frozenset[str] | None:
    """The more selective of two requirements."""
    if a is None:
        return b
    if b is None:
        return a
    return a if _score(a) >= _score(b) else b


def _usable(words: frozenset[str] | None) -> frozenset[str] | None:
    if words is None or "" in words or len(words) > _most:
        return None
    return words


# Each node gives (exact, required): `exact` is every string the node can match, when they are
# few (None otherwise); `required` is a set of words one of which is in any match (None: no
# such guarantee).
_Info = tuple[frozenset[str] | None, frozenset[str] | None]


def _sequence(items: Any) -> _Info:
    best: frozenset[str] | None = None
    run: frozenset[str] = _ZERO_WIDTH
    whole = True
    for op, av in items:
        exact, required = _node(op, av)
        if exact is not None and len(run) * len(exact) <= _LIMIT:
            # What the piece requires is in the run's strings, but for a lookaround's.
            if required is not None and exact == _ZERO_WIDTH:
                best = _better(best, _usable(required))
            run = exact if run is _ZERO_WIDTH else frozenset(a + b for a in run for b in exact)
            continue
        best = _better(_better(best, _usable(required)), _usable(run))
        whole = False
        run = exact if exact is not None and len(exact) <= _LIMIT else _ZERO_WIDTH
    best = _better(best, _usable(run))
    return (run if whole else None), best


def _node(op: Any, av: Any) -> _Info:
    if op is _c.LITERAL:
        ch = _char(av)
        return (None, None) if ch is None else (frozenset({ch}), frozenset({ch}))
    if op is _c.IN:
        chars: set[str] = set()
        for kind, value in av:
            if kind is _c.LITERAL:
                codes: Iterable[int] = (value,)
            elif kind is _c.RANGE and value[1] - value[0] < _SMALL_CLASS:
                codes = range(value[0], value[1] + 1)
            else:  # a category, a negation, a wide range
                return None, None
            for code in codes:
                ch = _char(code)
                if ch is None:
                    return None, None
                chars.add(ch)
        if not chars or len(chars) > _SMALL_CLASS:
            return None, None
        return frozenset(chars), frozenset(chars)
    if op is _c.BRANCH:
        infos = [_sequence(branch) for branch in av[1]]
        exacts = [e for e, _ in infos]
        exact = frozenset().union(*exacts) if all(e is not None for e in exacts) else None
        reqs = [_usable(r) for _, r in infos]
        required = _minimal(frozenset().union(*reqs)) if all(r is not None for r in reqs) else None
        return (exact if exact is not None and len(exact) <= _LIMIT else None), required
    if op is _c.SUBPATTERN:
        return _sequence(av[-1])
    if op is getattr(_c, "ATOMIC_GROUP", None):
        return _sequence(av)
    if op in (_c.MAX_REPEAT, _c.MIN_REPEAT) or op is getattr(_c, "POSSESSIVE_REPEAT", None):
        low, high, item = av
        exact, required = _sequence(item)
        if low == 0:
            if high == 1 and exact is not None:
                return exact | _ZERO_WIDTH, None
            return None, None
        if exact is not None and low == high and len(exact) ** low <= _LIMIT:
            words = _ZERO_WIDTH
            for _ in range(low):
                words = frozenset(a + b for a in words for b in exact)
            return words, required
        return None, required
    if op is _c.AT or op is _c.ASSERT_NOT:
        return _ZERO_WIDTH, None  # zero-width: the characters around it are contiguous
    if op is _c.ASSERT:
        # A lookaround matches text that is in the string too, and consumes none of it.
        return _ZERO_WIDTH, _sequence(av[1])[1]
    return None, None  # any character, a category, a back-reference, a conditional...


def _leading_sequence(items: Any) -> frozenset[str] | None:
    items = list(items)
    run: frozenset[str] = _ZERO_WIDTH
    for k, (op, av) in enumerate(items):
        if op in (_c.AT, _c.ASSERT, _c.ASSERT_NOT):
            continue  # zero-width: the match still starts with what follows
        exact, _required = _node(op, av)
        if exact is not None and "" not in exact and len(run) * len(exact) <= _LIMIT:
            run = exact if run is _ZERO_WIDTH else frozenset(a + b for a in run for b in exact)
            continue
        if run is not _ZERO_WIDTH:
            break
        if exact is not None and "" in exact:  # an optional opening: it, or what follows
            rest = _leading_sequence(items[k + 1:])
            return None if rest is None else (exact - _ZERO_WIDTH) | rest
        return _leading_node(op, av)
    return None if run is _ZERO_WIDTH else run


def _leading_node(op: Any, av: Any) -> frozenset[str] | None:
    if op is _c.BRANCH:
        starts = [_leading_sequence(branch) for branch in av[1]]
        return None if any(s is None for s in starts) else frozenset().union(*starts)  # type: ignore[arg-type]
    if op is _c.SUBPATTERN:
        return _leading_sequence(av[-1])
    if op is getattr(_c, "ATOMIC_GROUP", None):
        return _leading_sequence(av)
    if (op in (_c.MAX_REPEAT, _c.MIN_REPEAT) or op is getattr(_c, "POSSESSIVE_REPEAT", None)) \
            and av[0] >= 1:
        return _leading_sequence(av[2])
    return None


def leading_words(pattern: re.Pattern[str]) -> frozenset[str] | None:
    """Give back lowercase words one of which every match of `pattern` starts with, or None."""
    if not isinstance(pattern.pattern, str):
        return None
    words = _leading_sequence(_sre_parse.parse(pattern.pattern, pattern.flags))
    if not words or len(words) > _MAX_WORDS:
        return None
    # A word that starts with another one starts where that one does.
    ordered = sorted(words, key=len)
    return frozenset(w for k, w in enumerate(ordered) if not any(w.startswith(v) for v in ordered[:k]))


def required_words(pattern: re.Pattern[str], most: int = _MAX_WORDS) -> frozenset[str] | None:
    """Give back lowercase words one of which is in any text `pattern` matches, or None; at
    most `most` words (for a requirement and for each of its parts)."""
    global _most
    if not isinstance(pattern.pattern, str):
        return None
    _most = most
    try:
        words = _usable(_sequence(_sre_parse.parse(pattern.pattern, pattern.flags))[1])
    finally:
        _most = _MAX_WORDS
    return None if words is None else _minimal(words)


_last: tuple[str, str] = ("", "")  # the last text lowercased (a sentence meets many patterns)


def _selective(words: Iterable[str], shortest: int) -> bool:
    return all(len(word) >= shortest or _RARE.issuperset(word) for word in words)


def _lowered(text: str) -> str:
    global _last
    seen, low = _last
    if seen is text:
        return low
    if text.isascii():
        low = text.lower()
    else:
        try:
            # Latin-1 text (most French mail) is lowered by a byte table, in C: str.lower() takes
            # its slow path, character by character, on any non-ASCII text.
            low = text.encode("latin-1").translate(_LATIN1_LOWER).decode("latin-1")
        except UnicodeEncodeError:
            low = text.lower()
            for odd, letter in _FOLD.items():  # (str.translate with a dict is slow on long texts)
                if odd in low:
                    low = low.replace(odd, letter)
    _last = (text, low)
    return low


# Each Latin-1 character's lowercase, which str.lower() gives (all are Latin-1 characters
# themselves, and none is folded by _FOLD).
_LATIN1_LOWER = bytes(ord(chr(code).lower()) for code in range(256))


_long: tuple[str, dict[str, bool]] = ("", {})  # the last long text and its words looked for


def _holds_any(text: str, words: tuple[str, ...]) -> bool:
    """Say whether a long text holds one of `words` (lowercased as the module doc says). Several
    patterns read one body in turn (the ticket-reference patterns) and share words: each word is
    looked for once in it."""
    global _long
    seen, found = _long
    if seen is not text:
        found = {}
        _long = (text, found)
    low = _lowered(text)
    for word in words:
        hit = found.get(word)
        if hit is None:
            hit = found[word] = word in low
        if hit:
            return True
    return False


def _starts(low: str, words: tuple[str, ...]) -> set[int]:
    starts = set()
    for word in words:
        at = low.find(word)
        while at >= 0:
            starts.add(at)
            at = low.find(word, at + 1)
    return starts


_METHODS = ("search", "match", "fullmatch", "findall", "finditer", "split", "sub")


class Prefiltered:
    """A compiled pattern whose searches first look for its required words (see the module doc).

    The words are derived on first use (a process pays only for the patterns it runs); a
    pattern without selective words then answers through its own methods directly.
    """

    def __init__(self, pattern: re.Pattern[str], *, shortest: int = 3,
                 group: _Group | None = None) -> None:
        # The compiled pattern; `.pattern`, `.flags`, `.groups`... answer as its own (see
        # __getattr__), so a Prefiltered stands wherever the re.Pattern stood.
        self.regex = pattern
        self.shortest = shortest
        self.words: tuple[str, ...] | None = None  # None: not derived yet
        self.group = group  # the module's patterns whose words are looked for together
        self.bit = 0  # this pattern's bit in its group's masks
        self.leading: tuple[str, ...] = ()  # words every match starts with, when known
        # What search() and match() found in short texts, by text (see _SHORT).
        self._searched: dict[str, re.Match[str] | None] = {}
        self._matched: dict[str, re.Match[str] | None] = {}

    def _derive(self, most: int = _MAX_WORDS) -> None:
        if self.group is not None:
            self.group.build()  # derives every pattern of the group
            return
        words = required_words(self.regex, most)
        if not words or not _selective(words, self.shortest):
            # A test for "e" would cost more than it spares: the pattern answers alone.
            for name in _METHODS:
                setattr(self, name, getattr(self.regex, name))
            self.words = ()
        else:
            self.words = tuple(sorted(words))
            leading = leading_words(self.regex)
            if leading and _selective(leading, self.shortest):
                self.leading = tuple(sorted(leading))

    def possible(self, text: str) -> bool:
        """Say whether `text` holds one of the words (False: the pattern cannot match it)."""
        if self.words is None:
            self._derive()
        if not self.words:
            return True
        if self.bit and (len(text) <= _SHORT or len(self.words) > _MAX_WORDS):
            # (a long text too when the words are many: one pass instead of a test each)
            return bool(self.group.mask(text) & self.bit)  # type: ignore[union-attr]
        if len(text) > _SHORT:
            return _holds_any(text, self.words)
        return any(map(_lowered(text).__contains__, self.words))

    def search(self, text: str, *args: int) -> re.Match[str] | None:
        if args or len(text) > _SHORT:
            return self._search(text, *args)
        found = self._searched.get(text, _MISSING)
        if found is _MISSING:
            if len(self._searched) >= _KEPT:
                self._searched.clear()
            found = self._searched[text] = self._search(text)
        return found  # type: ignore[return-value]

    def _search(self, text: str, *args: int) -> re.Match[str] | None:
        if not self.possible(text):
            return None
        if self.leading and not args:
            low = _lowered(text)
            if len(low) == len(text):  # (positions in the lowercased text are the text's)
                # A match starts where one of its leading words does: the pattern is tried
                # there only, in order, which is what a search finds first.
                for start in sorted(_starts(low, self.leading)):
                    found = self.regex.match(text, start)
                    if found:
                        return found
                return None
        return self.regex.search(text, *args)

    def match(self, text: str, *args: int) -> re.Match[str] | None:
        if args or len(text) > _SHORT:
            return self.regex.match(text, *args) if self.possible(text) else None
        found = self._matched.get(text, _MISSING)
        if found is _MISSING:
            if len(self._matched) >= _KEPT:
                self._matched.clear()
            found = self._matched[text] = self.regex.match(text) if self.possible(text) else None
        return found  # type: ignore[return-value]

    def fullmatch(self, text: str, *args: int) -> re.Match[str] | None:
        return self.regex.fullmatch(text, *args) if self.possible(text) else None

    def findall(self, text: str, *args: int) -> list[Any]:
        return self.regex.findall(text, *args) if self.possible(text) else []

    def finditer(self, text: str, *args: int) -> Iterator[re.Match[str]]:
        return self.regex.finditer(text, *args) if self.possible(text) else iter(())

    def split(self, text: str, maxsplit: int = 0) -> list[str | Any]:
        return self.regex.split(text, maxsplit) if self.possible(text) else [text]

    def sub(self, repl: Any, text: str, count: int = 0) -> str:
        return self.regex.sub(repl, text, count) if self.possible(text) else text

    def __getattr__(self, name: str) -> Any:  # flags, groups, groupindex, pattern's text...
        return getattr(self.regex, name)

    def __repr__(self) -> str:
        return f"Prefiltered({self.regex!r})"


class _Group:
    """The Prefiltered patterns of one module, their words in one Aho-Corasick automaton
    (pyahocorasick): one pass over a text tells which of them it can match, where one
    substring test per word and pattern would cost several microseconds a sentence. Without
    the package each pattern tests its own words."""

    def __init__(self) -> None:
        self.members: list[Prefiltered] = []
        self.automaton: Any = None
        self._masks: dict[str, int] = {}  # the short texts met and their masks (see _KEPT)
        self._long: tuple[str, int] = ("", 0)  # the last long text and its mask

    def build(self) -> None:
        masks: dict[str, int] = {}
        for k, member in enumerate(self.members):
            member.group = None
            member._derive(_MAX_WORDS if _ahocorasick is None else _GROUP_WORDS)
            member.group = self
            for word in member.words or ():
                masks[word] = masks.get(word, 0) | 1 << k
        if _ahocorasick is None or not masks:
            return
        automaton = _ahocorasick.Automaton()
        for word, mask in masks.items():
            automaton.add_word(word, mask)
        automaton.make_automaton()
        self.automaton = automaton
        for k, member in enumerate(self.members):
            member.bit = 1 << k if member.words else 0

    def mask(self, text: str) -> int:
        """The bits of the patterns one of whose words `text` holds."""
        if len(text) > _SHORT:
            seen, mask = self._long
            if seen is not text:
                mask = 0
                for _end, bits in self.automaton.iter(_lowered(text)):
                    mask |= bits
                self._long = (text, mask)
            return mask
        mask = self._masks.get(text)
        if mask is None:
            mask = 0
            for _end, bits in self.automaton.iter(_lowered(text)):
                mask |= bits
            if len(self._masks) >= _KEPT:
                self._masks.clear()
            self._masks[text] = mask
        return mask


def _holds_pattern(item: Any) -> bool:
    if isinstance(item, tuple) and len(item) == 2:
        item = item[1]
    return isinstance(item, re.Pattern) and isinstance(item.pattern, str)


_GROUPS: list[_Group] = []


def derive_all() -> None:
    """Derive now the words of every prefiltered pattern imported so far (instead of at their
    first use): a process that forks workers pays for it once, not in each worker."""
    for group in _GROUPS:
        if group.members and group.members[0].words is None:
            group.build()


def prefilter_namespace(namespace: dict[str, Any]) -> None:
    """Put each compiled str pattern of a module's namespace behind a Prefiltered, and each one
    held in a module-level tuple or list (alone or as the last item of a pair)."""
    group = _Group()
    _GROUPS.append(group)

    def wrap(value: Any) -> Any:
        if isinstance(value, re.Pattern) and isinstance(value.pattern, str):
            member = Prefiltered(value, group=group)
            group.members.append(member)
            return member
        if isinstance(value, tuple) and len(value) == 2 and isinstance(value[1], re.Pattern):
            return (value[0], wrap(value[1]))
        return value

    for name, value in list(namespace.items()):
        if name.startswith("__"):
            continue
        if isinstance(value, re.Pattern):
            namespace[name] = wrap(value)
        elif isinstance(value, tuple | list) and value and all(map(_holds_pattern, value)):
            namespace[name] = type(value)(wrap(item) for item in value)


def prefiltered(pattern: re.Pattern[str], *, shortest: int = 3) -> re.Pattern[str] | Prefiltered:
    """Give back `pattern` behind a test of its required words (derived now), or `pattern`
    itself when it has none at least `shortest` characters long."""
    fast = Prefiltered(pattern, shortest=shortest)
    fast.possible("")
    return fast if fast.words else pattern


def kept_by_text(function: Callable[[str], Any]) -> Callable[[str], Any]:
    """Give back `function` (a pure function of one str giving an immutable value) keeping its
    answers for short texts, as the patterns keep theirs (_SHORT, _KEPT)."""
    kept: dict[str, Any] = {}

    @functools.wraps(function)
    def answer(text: str) -> Any:
        if len(text) > _SHORT:
            return function(text)
        found = kept.get(text, _MISSING)
        if found is _MISSING:
            if len(kept) >= _KEPT:
                kept.clear()
            found = kept[text] = function(text)
        return found

    return answer

