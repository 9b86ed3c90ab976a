"""Rubric files: criteria, weights, rules and lexicons, loaded once and versioned by content hash."""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Set as AbstractSet
from dataclasses import dataclass, field
from functools import lru_cache
from itertools import compress, islice, product
from pathlib import Path
from typing import Any

import yaml

from ..errors import QualibenchError
from ..resources import data_dir
from .phrases import PhraseIndex, PhraseMatch
from .text import TOKEN_RE, fold, lemma_tokens

CRITERIA = ("relevance", "reformulation", "empathy", "personalisation", "politeness")
PENALTIES = ("premium_number", "channel_deflection", "asks_again", "marketing", "wrong_language",
             "condescension")
PHRASE_CATEGORIES = (
    "reformulation", "topic_markers", "empathy", "warmth", "empathy_formula", "ownership",
    "consequence", "greeting", "thanks", "thanks_not", "closing", "generic_signature",
    "channel_deflection", "deflection_reason", "promise", "condescension", "marketing",
    "acknowledgement",
)
CHANNELS = ("email", "webform", "x")
# The formulas every reply shares: their words are never the customer's specifics nor a name.
_VOCABULARY = ("reformulation", "topic_markers", "empathy", "empathy_formula", "warmth", "greeting",
               "thanks", "closing", "generic_signature", "acknowledgement")


@dataclass(frozen=True)
class PhraseSet:
    """One lexicon category compiled to a single regex over folded text.

    The sets of one lexicon share a PhraseIndex: once the scorer has scanned a reply with it
    (Lexicon.scan), their questions about that text (or a prefix of it) are answered from the
    scan; any other text goes to the set's own regex. Both give the same matches.
    """

    regex: re.Pattern[str] | None
    phrases: tuple[str, ...]
    # The first token of every phrase: when a reply has none of them, no phrase can match and
    # the regex scan is skipped (most replies hold no marketing, no deflection...).
    first_tokens: frozenset[str] = frozenset()
    name: str = ""  # the set's name in `index`
    index: PhraseIndex | None = field(default=None, repr=False, compare=False)

    def finditer(self, folded: str, words: AbstractSet[str] | None = None):  # type: ignore[no-untyped-def]
        """Yield the matches in `folded` (`words`: the reply's folded tokens, to skip early)."""
        # No phrase of the set can match when the reply holds none of their first words (tested
        # inline: some twenty questions a reply, most of them answered here).
        if self.regex is None or (words is not None and self.first_tokens.isdisjoint(words)):
            return iter(())
        scanned = self.index.pass_for(folded) if self.index is not None else None
        if scanned is None:
            return self.regex.finditer(folded)  # type: ignore[union-attr]
        found, end = scanned
        return iter([PhraseMatch(folded, s, e) for s, e in found.all(self.name, end)])

    def search(self, folded: str, words: AbstractSet[str] | None = None) -> re.Match[str] | None:
        """Return the first match in `folded`, or None."""
        if self.regex is None or (words is not None and self.first_tokens.isdisjoint(words)):  # as finditer
            return None
        scanned = self.index.pass_for(folded) if self.index is not None else None
        if scanned is None:
            return self.regex.search(folded)  # type: ignore[union-attr]
        found, end = scanned
        if end == len(found.text):  # the first of the whole reply's matches, as finditer gives them
            hits = found.all(self.name, end)
            return PhraseMatch(folded, *hits[0]) if hits else None  # type: ignore[return-value]
        hit = found.first(self.name, 0, end)
        return None if hit is None else PhraseMatch(folded, *hit)  # type: ignore[return-value]

    def find(self, folded: str, words: AbstractSet[str] | None, start: int, end: int) -> re.Match[str] | None:
        """Return `self.regex.search(folded, start, end)` (offsets in `folded`), or None."""
        if self.regex is None:  # no early skip: a window may cut a word to a phrase's first word
            return None
        scanned = self.index.pass_for(folded) if self.index is not None else None
        if scanned is None or not self.index.clean_cut(folded, end):  # type: ignore[union-attr]
            return self.regex.search(folded, start, end)  # type: ignore[union-attr]
        hit = scanned[0].first(self.name, start, min(end, scanned[1]))
        return None if hit is None else PhraseMatch(folded, *hit)  # type: ignore[return-value]

    def first_in(self, folded: str, windows: list[tuple[int, int]]) -> list[re.Match[str] | None]:
        """Return [self.find(folded, None, start, end) for start, end in windows], read off the
        scan in one go when `folded` was scanned (the sentences of a reply, say)."""
        if self.regex is None:
            return [None] * len(windows)
        scanned = self.index.pass_for(folded) if self.index is not None else None
        if scanned is None:
            return [self.regex.search(folded, s, e) for s, e in windows]
        found, n = scanned
        first, name, clean = found.first, self.name, self.index.clean_cut  # type: ignore[union-attr]
        out: list[re.Match[str] | None] = []
        for s, e in windows:
            if not clean(folded, e):
                out.append(self.regex.search(folded, s, e))
            else:
                hit = first(name, s, min(e, n))
                out.append(None if hit is None else PhraseMatch(folded, *hit))  # type: ignore[arg-type]
        return out


@dataclass(frozen=True)
class Lexicon:
    """The compiled formulas of one language."""

    language: str
    sets: dict[str, PhraseSet]
    premium_number: re.Pattern[str] | None
    ask: PhraseSet
    ask_items: dict[str, PhraseSet]  # fills key -> how a reply names that piece of information
    vocabulary: frozenset[str]  # every folded word of the formulas (not a person's name)
    index: PhraseIndex | None = field(default=None, repr=False, compare=False)  # all sets at once

    def scan(self, folded: str, records: list | None = None) -> None:
        """Find every phrase of every set in `folded` in one pass: the sets' questions about this
        text (or a prefix of it) are then answered from it, until another text is scanned.
        `records`: folded's lines as reply_view read them (LemmaView.records), if it did."""
        if self.index is not None:
            self.index.scan(folded, records)


def _participles(word: str, language: str) -> tuple[str, ...]:
    """French participles of an -er verb ("corriger": corrigé, corrigée, corrigés, corrigées), whose
    lemma the lemmatiser sometimes gives as an adjective ("corrige"), so that a concept written as
    the verb still meets the participle in a reply."""
    if language != "fr" or len(word) < 5 or not word.endswith("er"):
        return ()
    stem = word[:-2]
    return tuple(stem + end for end in ("é", "ée", "és", "ées", "e", "ee", "es", "ees"))


class Concepts:
    """Bilingual concepts (scoring/lexicons/concepts.yaml): lemma -> concept, per language."""

    def __init__(self, groups: dict[str, list[str]], digest: str) -> None:
        self.digest = digest
        self._single: dict[str, dict[str, str]] = {"fr": {}, "en": {}}
        self._multi: dict[str, dict[tuple[str, ...], str]] = {"fr": {}, "en": {}}
        for concept, words in sorted(groups.items()):
            for word in words:
                for lang in ("fr", "en"):
                    lems = tuple(lemma_tokens(str(word), lang))
                    surface = tuple(TOKEN_RE.findall(fold(str(word))))
                    if len(lems) == 1:
                        # A word of three letters or fewer is its own lemma: an acronym ("UPS" is a
                        # courier; its lemma "up" would make every "up to 7 days" one).
                        if len(surface[0]) > 3 or lems[0] == surface[0]:
                            self._single[lang].setdefault(lems[0], concept)
                        self._single[lang].setdefault(surface[0], concept)
                        for form in _participles(surface[0], lang):
                            for lem in {*lemma_tokens(form, lang)[:1], fold(form)}:
                                self._single[lang].setdefault(lem, concept)
                    elif lems:
                        # Written without accents, "a deux reprises" lemmatises "a" as "avoir":
                        # each word may be read as its lemma or as written.
                        for variant in product(*({a, b} for a, b in zip(lems, surface, strict=True))):
                            self._multi[lang].setdefault(tuple(variant), concept)
        # first lemma -> the phrase lengths starting with it, longest first: a reply's word only
        # tries the lengths some concept has (most first words start phrases of one length).
        self._first: dict[str, dict[str, tuple[int, ...]]] = {}
        for lang, m in self._multi.items():
            sizes: dict[str, set[int]] = {}
            for k in m:
                sizes.setdefault(k[0], set()).add(len(k))
            self._first[lang] = {w: tuple(sorted((n for n in v if n in (2, 3, 4)), reverse=True))
                                 for w, v in sizes.items()}
        # The first two lemmas of every phrase: a reply's word starts a phrase only where it and the
        # next word start one (about one place a reply, where the first lemma alone gives a dozen).
        self._pairs: dict[str, frozenset[tuple[str, str]]] = {
            lang: frozenset(k[:2] for k in m) for lang, m in self._multi.items()}

    def __hash__(self) -> int:
        return hash(self.digest)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Concepts) and other.digest == self.digest

    def single(self, language: str) -> dict[str, str]:
        """Return lemma -> concept for `language`."""
        return self._single.get(language) or self._single["fr"]

    def phrases(self, language: str, lemmas: list[str]) -> list[tuple[range, str]]:
        """Return the multi-word concepts found in a lemma sequence: (token indices, concept)."""
        multi = self._multi.get(language) or self._multi["fr"]
        firsts = self._first.get(language) or self._first["fr"]
        pairs = self._pairs.get(language) if self._multi.get(language) else self._pairs["fr"]
        out: list[tuple[range, str]] = []
        n = len(lemmas)
        after = -1
        starting = map(pairs.__contains__, zip(lemmas, islice(lemmas, 1, None), strict=False))
        for i in list(compress(range(n - 1), starting)):  # in C
            if i <= after:
                continue
            for size in firsts[lemmas[i]]:
                if i + size <= n and (c := multi.get(tuple(lemmas[i:i + size]))):
                    out.append((range(i, i + size), c))
                    after = i + size - 1
                    break
        return out


EMPTY_CONCEPTS = Concepts({}, "none")


@dataclass(frozen=True)
class Rubric:
    """A loaded rubric: `criteria` maps each criterion to its rule parameters (with `weight`)."""

    name: str
    version: str
    source: Path
    criteria: dict[str, dict[str, Any]]
    penalties: dict[str, dict[str, Any]]
    lexicons: dict[str, Lexicon] = field(repr=False)
    vocabulary: frozenset[str] = field(default=frozenset(), repr=False)  # words of all formulas
    concepts: Concepts = field(default=EMPTY_CONCEPTS, repr=False)
    channels: dict[str, dict[str, dict[str, Any]]] = field(default_factory=dict, repr=False)
    # (criterion, channel) -> merged rule: every reply asks for the same five or so (read only)
    _rules: dict[tuple[str, str], dict[str, Any]] = field(default_factory=dict, init=False, repr=False,
                                                          compare=False)

    def rule(self, criterion: str, channel: str = "") -> dict[str, Any]:
        """Return the rule parameters of `criterion`, with the channel's overrides applied."""
        merged = self._rules.get((criterion, channel))
        if merged is None:
            base = self.criteria[criterion]
            over = (self.channels.get(channel) or {}).get(criterion)
            merged = self._rules[(criterion, channel)] = {**base, **over} if over else base
        return merged

    def weight(self, criterion: str) -> float:
        """Return the maximum points of `criterion`."""
        return float(self.criteria[criterion]["weight"])

    def lexicon(self, language: str, fallback: str = "fr") -> Lexicon:
        """Return the lexicon of `language`, else of `fallback`, else any."""
        return self.lexicons.get(language) or self.lexicons.get(fallback) or next(iter(self.lexicons.values()))


def phrase_regex(phrases: list[str] | tuple[str, ...], *, folded_input: bool = True,
                 word_start_first: bool = False) -> re.Pattern[str] | None:
    """Return one regex matching any of `phrases` as whole words on folded text.

    The alternation is built as a character trie: Python's `re` tries alternatives one by one, so
    sharing prefixes is what keeps scanning a reply fast with hundreds of formulas.
    `word_start_first`: the same matches, for a trie whose phrases start with most letters (all
    the sets of a lexicon at once): the word-start test comes first and the trie is entered at
    word starts only, a third faster there.
    """
    folded = {(fold(p) if folded_input else p).strip() for p in phrases if p and p.strip()}
    folded.discard("")
    if not folded:
        return None
    trie: dict = {}
    for phrase in folded:
        node = trie
        for ch in " ".join(phrase.split()):
            node = node.setdefault(ch, {})
        node[""] = {}
    # "(?<!\w)" (a phrase starts a word) is checked just after the phrase's first character, as
    # "(?<!\w.)": the same condition, but a pattern that starts on a character lets `re` skip
    # the positions where no phrase can start instead of trying an assertion at each one
    # (about a third faster over a reply; the matches are the same).
    if word_start_first:
        return re.compile(r"(?<!\w)" + _trie_regex(trie) + r"(?!\w)")
    branches = [re.escape(ch) + r"(?<!\w.)" + _trie_regex(trie[ch]) for ch in sorted(trie)]
    body = branches[0] if len(branches) == 1 else "(?:" + "|".join(branches) + ")"
    return re.compile(body + r"(?!\w)")


def _trie_regex(node: dict) -> str:
    ends = "" in node
    branches = []
    for ch in sorted(k for k in node if k):
        piece = r"\s+" if ch == " " else re.escape(ch)
        branches.append(piece + _trie_regex(node[ch]))
    if not branches:
        return ""
    body = branches[0] if len(branches) == 1 else "(?:" + "|".join(branches) + ")"
    if ends:
        # Longest match first: try to go on, else stop here (the trailing (?!\w) decides).
        return "(?:" + body + ")?"
    return body


def rubric_path(name_or_path: str | Path | None) -> Path:
    """Return the rubric file designated by a name in scoring/rubrics/ or a path."""
    if name_or_path is None or str(name_or_path) == "":
        name_or_path = "default"
    candidate = Path(name_or_path)
    if candidate.suffix in (".yaml", ".yml") or candidate.exists():
        if not candidate.is_file():
            raise QualibenchError(
                f"rubric file {candidate} does not exist",
                "give the path of a rubric YAML or a name from scoring/rubrics/ (e.g. default)",
            )
        return candidate.resolve()
    folder = data_dir("scoring") / "rubrics"
    path = folder / f"{name_or_path}.yaml"
    if not path.is_file():
        known = ", ".join(sorted(p.stem for p in folder.glob("*.yaml")))
        raise QualibenchError(f"no rubric named {name_or_path!r}", f"use one of: {known}, or a file path")
    return path


def load_rubric(name_or_path: str | Path | None = None) -> Rubric:
    """Return the rubric named (in scoring/rubrics/) or at a path, checked and compiled."""
    path = rubric_path(name_or_path)
    return _load(path, path.stat().st_mtime_ns)


def rubric_weights(name_or_path: str | Path | None = None) -> dict[str, float]:
    """Return criterion -> maximum points of a rubric, checked as load_rubric checks them.

    For readers of stored scores (the report): the lexicons are neither read nor lemmatised.
    """
    path = rubric_path(name_or_path)
    return dict(_weights(path, path.stat().st_mtime_ns))


@lru_cache(maxsize=32)
def _weights(path: Path, _mtime: int) -> tuple[tuple[str, float], ...]:
    criteria = _check_criteria(path, _read_yaml(path).get("criteria"))
    return tuple((c, float(rule["weight"])) for c, rule in criteria.items())


@lru_cache(maxsize=32)
def _load(path: Path, _mtime: int) -> Rubric:
    raw = _read_yaml(path)
    criteria = _check_criteria(path, raw.get("criteria"))
    penalties = _check_penalties(path, raw.get("penalties") or {}, criteria)
    lexicon_refs = raw.get("lexicons") or {"fr": "fr", "en": "en"}
    lexicons_raw: dict[str, dict] = {}
    for lang, ref in sorted(lexicon_refs.items()):
        lexicons_raw[lang] = _read_yaml(_lexicon_path(path, str(ref)))
    concepts_raw = _read_yaml(_lexicon_path(path, str(raw.get("concepts") or "concepts"))) \
        if raw.get("concepts", "concepts") else {}
    channels = _check_channels(path, raw.get("channels") or {}, criteria)
    canonical = json.dumps({"rubric": raw, "lexicons": lexicons_raw, "concepts": concepts_raw}, sort_keys=True,
                           ensure_ascii=False, default=str, separators=(",", ":"))
    version = hashlib.sha256(canonical.encode()).hexdigest()[:16]
    lexicons = {lang: _compile_lexicon(lang, data) for lang, data in lexicons_raw.items()}
    return Rubric(
        name=str(raw.get("name") or path.stem), version=version, source=path, criteria=criteria,
        penalties=penalties, lexicons=lexicons,
        vocabulary=frozenset().union(*(lx.vocabulary for lx in lexicons.values())),
        concepts=Concepts({str(k): [str(w) for w in (v or [])] for k, v in concepts_raw.items()}, version),
        channels=channels,
    )


def _check_channels(path: Path, channels: Any, criteria: dict) -> dict[str, dict[str, dict[str, Any]]]:
    if not isinstance(channels, dict):
        raise QualibenchError(f"{path}: `channels` must be a mapping", "see scoring/rubrics/default.yaml")
    out: dict[str, dict[str, dict[str, Any]]] = {}
    for channel, per in channels.items():
        if channel not in CHANNELS or not isinstance(per, dict):
            raise QualibenchError(f"{path}: channel {channel!r} is unknown or not a mapping",
                                  f"channels the scorer knows: {', '.join(CHANNELS)}")
        for crit, rule in per.items():
            if crit not in criteria or not isinstance(rule, dict) or "weight" in rule:
                raise QualibenchError(f"{path}: channels.{channel}.{crit} is not a rule of a criterion",
                                      "override rule parameters of the rubric's criteria (not their weight)")
        out[str(channel)] = {str(k): dict(v) for k, v in per.items()}
    return out


def _read_yaml(path: Path) -> dict:
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as exc:
        raise QualibenchError(f"{path}: cannot be read as YAML: {exc}", "fix the YAML syntax") from None
    if not isinstance(data, dict):
        raise QualibenchError(f"{path}: expected a mapping at the top level", "see scoring/rubrics/default.yaml")
    return data


def _lexicon_path(rubric_file: Path, ref: str) -> Path:
    for candidate in (rubric_file.parent / ref, rubric_file.parent / f"{ref}.yaml",
                      data_dir("scoring") / "lexicons" / f"{ref}.yaml"):
        if candidate.is_file():
            return candidate
    raise QualibenchError(
        f"{rubric_file}: lexicon {ref!r} not found",
        "name a file of scoring/lexicons/ (fr, en) or a path relative to the rubric",
    )


def _check_criteria(path: Path, criteria: Any) -> dict[str, dict[str, Any]]:
    if not isinstance(criteria, dict) or not criteria:
        raise QualibenchError(f"{path}: no `criteria` mapping", f"list criteria among {', '.join(CRITERIA)}")
    out: dict[str, dict[str, Any]] = {}
    for name, rule in criteria.items():
        if name not in CRITERIA:
            raise QualibenchError(f"{path}: criterion {name!r} is unknown",
                                  f"criteria the scorer knows: {', '.join(CRITERIA)}")
        rule = dict(rule or {})
        weight = rule.get("weight")
        if isinstance(weight, bool) or not isinstance(weight, int | float) or weight < 0:
            raise QualibenchError(f"{path}: criterion {name!r} has weight {weight!r}",
                                  "give a number of points >= 0")
        out[name] = rule
    total = sum(float(r["weight"]) for r in out.values())
    if abs(total - 100.0) > 1e-9:
        detail = ", ".join(f"{n} {out[n]['weight']:g}" for n in out)
        raise QualibenchError(
            f"{path}: criterion weights sum to {total:g}, not 100 ({detail})",
            f"change the weights so they add up to 100 (off by {total - 100:+g})",
        )
    return out


def _check_penalties(path: Path, penalties: Any, criteria: dict) -> dict[str, dict[str, Any]]:
    if not isinstance(penalties, dict):
        raise QualibenchError(f"{path}: `penalties` must be a mapping", "see scoring/rubrics/default.yaml")
    out: dict[str, dict[str, Any]] = {}
    for name, rule in penalties.items():
        if name not in PENALTIES:
            raise QualibenchError(f"{path}: penalty {name!r} is unknown",
                                  f"penalties the scorer knows: {', '.join(PENALTIES)}")
        rule = dict(rule or {})
        if rule.get("criterion") not in criteria:
            raise QualibenchError(f"{path}: penalty {name!r} targets criterion {rule.get('criterion')!r}",
                                  f"name one of the rubric's criteria: {', '.join(criteria)}")
        out[name] = rule
    return out


def _compile_lexicon(language: str, data: dict) -> Lexicon:
    raw_sets = {cat: data.get(cat) or [] for cat in PHRASE_CATEGORIES}
    premium = (data.get("premium_number") or {}).get("regex") or []
    asks = data.get("asks_again") or {}
    raw_sets["asks_again"] = asks.get("ask") or []
    items = {k: list(v) for k, v in (asks.get("items") or {}).items()}
    raw_sets.update({f"asks_again.{k}": v for k, v in items.items()})
    # One index over every set: a reply is scanned once for all of them (phrases.py).
    normalised = {name: tuple(n for n in (" ".join(fold(p).split()) for p in phrases if p) if n)
                  for name, phrases in raw_sets.items()}
    every = sorted({p for phrases in normalised.values() for p in phrases})
    index = PhraseIndex(normalised, phrase_regex(every, folded_input=False, word_start_first=True),
                        lambda heads: phrase_regex(heads, folded_input=False, word_start_first=True))
    sets = {cat: _phrase_set(raw_sets[cat], cat, index) for cat in PHRASE_CATEGORIES}
    vocabulary: set[str] = set()
    for cat in _VOCABULARY:
        for phrase in sets[cat].phrases:
            vocabulary.update(re.findall(r"\w+", phrase))
    return Lexicon(
        language=language,
        sets=sets,
        # Every premium pattern starts on a digit or a currency sign (a number or a price): the
        # lookahead lets `re` skip the rest of the text quickly, three times faster.
        premium_number=re.compile(r"(?=[\d+£$€])(?:" + "|".join(f"(?:{r})" for r in premium) + ")")
        if premium else None,
        ask=_phrase_set(raw_sets["asks_again"], "asks_again", index),
        ask_items={k: _phrase_set(v, f"asks_again.{k}", index) for k, v in items.items()},
        vocabulary=frozenset(vocabulary),
        index=index,
    )


def _phrase_set(phrases: list[str], name: str = "", index: PhraseIndex | None = None) -> PhraseSet:
    folded = tuple(fold(p).strip() for p in phrases)
    firsts = set()
    for phrase in folded:
        tokens = TOKEN_RE.findall(phrase)
        if tokens:
            firsts.add(tokens[0])
    return PhraseSet(phrase_regex(phrases), folded, frozenset(firsts), name, index)
