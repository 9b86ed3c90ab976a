"""Score one reply against a scenario with a rubric: points per criterion, each citing its spans."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

from rapidfuzz import fuzz

from ..campaign.spec import ScenarioSpec
from .rubric import Lexicon, Rubric, phrase_regex
from .signals import Span, make_span, penalise, personalisation, politeness
from .text import (
    TOKEN_RE,
    LemmaView,
    fold,
    is_stopword,
    lemma_phrase,
    lemma_view,
    lower_and_fold,
    scored_part,
)


@dataclass
class ScoreResult:
    """Points per criterion (summing to `total`), evidence spans per criterion, detected language."""

    total: float
    criteria: dict[str, float]
    evidence: dict[str, list[Span]]
    language: str
    notes: list[str] = field(default_factory=list)

    def evidence_json(self) -> dict[str, list[dict[str, Any]]]:
        """Return the evidence as stored in Score.evidence."""
        return {k: [s.to_dict() for s in v] for k, v in self.evidence.items()}

    def to_dict(self) -> dict[str, Any]:
        """Return the whole result as plain JSON-ready data."""
        return {"total": self.total, "criteria": self.criteria, "language": self.language,
                "notes": self.notes, "evidence": self.evidence_json()}


@dataclass(frozen=True)
class _KeyPoints:
    language: str
    weights: dict[str, float]
    labels: dict[str, str]
    surface: re.Pattern[str] | None
    surface_ids: dict[str, tuple[str, ...]]
    lemmas: re.Pattern[str] | None
    lemma_ids: dict[str, tuple[str, ...]]
    fuzzy: tuple[tuple[str, str], ...]  # (single folded word, key point id)


_FIELDS_CACHE: dict[int, tuple[object, tuple[str, str, str, tuple]]] = {}


def _scenario_fields(scenario: ScenarioSpec | dict) -> tuple[str, str, str, tuple]:
    # Scoring a campaign passes the same scenario object thousands of times.
    hit = _FIELDS_CACHE.get(id(scenario))
    if hit is not None and hit[0] is scenario:
        return hit[1]
    fields = _read_scenario(scenario)
    if len(_FIELDS_CACHE) > 1024:
        _FIELDS_CACHE.clear()
    _FIELDS_CACHE[id(scenario)] = (scenario, fields)
    return fields


def _read_scenario(scenario: ScenarioSpec | dict) -> tuple[str, str, str, tuple]:
    if isinstance(scenario, ScenarioSpec):
        kps = tuple((k.id, k.label, tuple(k.patterns), float(k.weight)) for k in scenario.key_points)
        return scenario.id, scenario.language, scenario.body, kps
    kps = tuple(
        (str(k["id"]), str(k.get("label", k["id"])),
         tuple(str(p) for p in (k.get("patterns") or []) + (k.get("synonyms") or [])),
         float(k.get("weight", 1.0)))
        for k in scenario.get("key_points") or []
    )
    return str(scenario.get("id", "")), str(scenario.get("language", "fr")), str(scenario.get("body", "")), kps


@lru_cache(maxsize=512)
def _compile_key_points(kps: tuple, language: str) -> _KeyPoints:
    surface: dict[str, set[str]] = {}
    lemmas: dict[str, set[str]] = {}
    fuzzy: list[tuple[str, str]] = []
    for kp_id, _label, patterns, _w in kps:
        for p in patterns:
            f = fold(p).strip()
            if not f:
                continue
            surface.setdefault(f, set()).add(kp_id)
            lem = lemma_phrase(p, language)
            if not is_stopword(lem):  # "avoir" (a credit note) must not match "nous avons"
                lemmas.setdefault(lem, set()).add(kp_id)
            if " " not in f and f.isalpha() and len(f) >= 5:
                fuzzy.append((f, kp_id))
    lemma_keys = sorted(k for k in lemmas if k)
    return _KeyPoints(
        language=language,
        weights={k[0]: k[3] for k in kps},
        labels={k[0]: k[1] for k in kps},
        surface=phrase_regex(list(surface)),
        surface_ids={k: tuple(sorted(v)) for k, v in surface.items()},
        lemmas=phrase_regex(lemma_keys, folded_input=False),
        lemma_ids={k: tuple(sorted(v)) for k, v in lemmas.items()},
        fuzzy=tuple(fuzzy),
    )


@lru_cache(maxsize=4096)
def _request_specifics(request: str, language: str, names: tuple[str, ...],
                       formulas: frozenset[str]) -> frozenset[str]:
    # What the customer said that is theirs: content words, numbers and references, not the
    # function words nor the courtesy formulas every message shares.
    view = lemma_view(request, language)
    return frozenset(
        lem for lem, word in zip(view.lemmas, view.words, strict=True)
        if (len(lem) >= 4 or any(c.isdigit() for c in lem)) and not is_stopword(word)
        and not is_stopword(lem) and word not in names and word not in formulas
        and lem not in formulas
    )


_CONCRETE = re.compile(
    # A price per minute is a premium-rate line, not a concrete answer.
    r"\b\d{1,2}/\d{1,2}\b|\b\d+(?:\.\d+)?\s?(?:€|eur|£|\$|cm|mm)(?!\s?(?:/|par|per|a)\s?min)"
    r"|[£$€]\s?\d+(?:\.\d+)?(?!\d|\.\d|\s?(?:/|par|per|a)\s?min)"
    r"|\b\d+\s?(?:jours?|heures?|h|days?|hours?|working days|years?|ans?|semaines?|weeks?)\b"
    r"|\b(?:lundi|mardi|mercredi|jeudi|vendredi|samedi|demain|aujourd'hui|monday|tuesday|wednesday"
    r"|thursday|friday|saturday|tomorrow|today)\b|\b[a-z0-9]*\d[a-z0-9]{7,}\b"
)


def score_reply(
    text: str,
    scenario: ScenarioSpec | dict,
    rubric: Rubric,
    *,
    request_text: str = "",
    persona_name: str = "",
    fills: dict | None = None,
    language: str | None = None,
    signature: str = "",
) -> ScoreResult:
    """Return the rubric's points for `text` as an answer to `scenario`, with evidence spans."""
    _sid, scenario_lang, body, kps = _scenario_fields(scenario)
    fills = {k: str(v) for k, v in (fills or {}).items() if v not in (None, "")}
    part = scored_part(text)
    lowered, folded = lower_and_fold(part)
    view = lemma_view(part, language or None, folded=folded, lowered=lowered, default=scenario_lang)
    reply_lang = view.language
    lex = rubric.lexicon(reply_lang, scenario_lang)
    names = _names(persona_name)
    formulas = rubric.vocabulary
    if request_text:
        specifics = _request_specifics(request_text, scenario_lang, names, formulas)
    else:
        # The scenario's text is shared by every probe: its specifics are computed once, and
        # only the drawn values (order number...) are added per reply.
        specifics = _request_specifics(_template(body), scenario_lang, (), formulas)
        if fills:
            specifics = specifics | {fold(t) for v in fills.values() for t in TOKEN_RE.findall(v.lower())}

    evidence: dict[str, list[Span]] = {c: [] for c in rubric.criteria}
    points: dict[str, float] = {}
    notes: list[str] = []
    share = 0.0
    if "relevance" in rubric.criteria:
        points["relevance"], share = _relevance(part, folded, view, kps, scenario_lang, rubric,
                                                evidence["relevance"])
    if "reformulation" in rubric.criteria:
        points["reformulation"] = _reformulation(part, folded, view, lex, specifics, rubric,
                                                 evidence["reformulation"])
    if "empathy" in rubric.criteria:
        points["empathy"] = _empathy(part, folded, lex, rubric, evidence["empathy"])
    if "personalisation" in rubric.criteria:
        points["personalisation"] = personalisation(part, folded, lex, names, fills, signature,
                                                     rubric, evidence["personalisation"])
    if "politeness" in rubric.criteria:
        points["politeness"] = politeness(part, folded, lex, rubric, evidence["politeness"])

    penalise(part, folded, view, lex, fills, specifics, share, reply_lang, scenario_lang,
              rubric, points, evidence, notes)
    if share == 0.0 and lex.sets["acknowledgement"].search(folded, view.wordset):
        notes.append("reads like an acknowledgement: no key point of the request is answered")
    criteria = {c: round(min(rubric.weight(c), max(0.0, points.get(c, 0.0))), 2) for c in rubric.criteria}
    return ScoreResult(round(sum(criteria.values()), 2), criteria, evidence, reply_lang, notes)


@lru_cache(maxsize=4096)
def _names(persona_name: str) -> tuple[str, ...]:
    return tuple(fold(n) for n in persona_name.split() if len(n) > 1)


@lru_cache(maxsize=512)
def _template(body: str) -> str:
    return re.sub(r"\{\w+\}", " ", body)


def _relevance(part: str, folded: str, view: LemmaView, kps: tuple, scenario_lang: str,
               rubric: Rubric, out: list[Span]) -> tuple[float, float]:
    rule = rubric.criteria["relevance"]
    weight = float(rule["weight"])
    compiled = _compile_key_points(kps, scenario_lang)
    total_w = sum(compiled.weights.values())
    if total_w <= 0:
        return 0.0, 0.0
    found: dict[str, tuple[int, int, str]] = {}
    if compiled.surface is not None:
        for m in compiled.surface.finditer(folded):
            for kp in compiled.surface_ids.get(m.group(), ()):
                found.setdefault(kp, (m.start(), m.end(), "matches"))
    if compiled.lemmas is not None and len(found) < len(compiled.weights):
        for m in compiled.lemmas.finditer(view.joined):
            for kp in compiled.lemma_ids.get(m.group(), ()):
                if kp not in found:
                    s, e = view.span_of(m.start(), m.end())
                    found[kp] = (s, e, "matches (lemma)")
    missing = [(w, kp) for w, kp in compiled.fuzzy if kp not in found]
    if missing:
        # Typos rarely hit the first two letters: compare each pattern only with the reply's
        # words that start like it, instead of with the whole reply.
        by_prefix: dict[str, list[int]] = {}
        for i, w in enumerate(view.words):
            if len(w) >= 5:
                by_prefix.setdefault(w[:2], []).append(i)
        cutoff = float(rule.get("fuzzy_cutoff", 88))
        for pattern, kp in missing:
            if kp in found:
                continue
            for i in by_prefix.get(pattern[:2], ()):
                if fuzz.ratio(pattern, view.words[i], score_cutoff=cutoff):
                    s, e = view.spans[i]
                    found[kp] = (s, e, f"close to {pattern!r}")
                    break
    bonus = float(rule.get("concrete_bonus", 0.0))
    share = sum(compiled.weights[k] for k in found) / total_w
    got = 0.0
    for kp, (s, e, how) in sorted(found.items(), key=lambda kv: kv[1][0]):
        pts = weight * (1 - bonus) * compiled.weights[kp] / total_w
        got += pts
        out.append(make_span(part, s, e, pts, f"key point {compiled.labels[kp]!r} {how}"))
    if share > 0 and bonus > 0:
        m = _CONCRETE.search(folded)
        if m:
            got += weight * bonus
            out.append(make_span(part, m.start(), m.end(), weight * bonus, "concrete date, amount or reference"))
    return got, share


def _reformulation(part: str, folded: str, view: LemmaView, lex: Lexicon, specifics: frozenset[str],
                   rubric: Rubric, out: list[Span]) -> float:
    rule = rubric.criteria["reformulation"]
    weight = float(rule["weight"])
    got = 0.0
    m = lex.sets["reformulation"].search(folded, view.wordset)
    if m:
        pts = weight * float(rule.get("marker", 0.45))
        got += pts
        out.append(make_span(part, m.start(), m.end(), pts, "reformulation formula"))
    opening = int(rule.get("opening_tokens", 45))
    seen: dict[str, int] = {}
    for i, lem in enumerate(view.lemmas[:opening]):
        if lem in specifics and lem not in seen:
            seen[lem] = i
    needed = max(1, int(rule.get("specifics_needed", 5)))
    if len(seen) >= int(rule.get("specifics_min", 2)):
        frac = min(1.0, len(seen) / needed)
        pts = weight * float(rule.get("specifics", 0.7)) * frac
        got += pts
        each = pts / len(seen)
        for lem, i in seen.items():
            s, e = view.spans[i]
            out.append(make_span(part, s, e, each, f"restates the request ({lem})"))
    return got


def _empathy(part: str, folded: str, lex: Lexicon, rubric: Rubric, out: list[Span]) -> float:
    rule = rubric.criteria["empathy"]
    weight = float(rule["weight"])
    saturation = max(1, int(rule.get("saturation", 2)))
    distinct: dict[str, re.Match[str]] = {}
    for m in lex.sets["empathy"].finditer(folded):
        distinct.setdefault(m.group(), m)
    matches = list(distinct.values())[:saturation]
    for m in matches:
        out.append(make_span(part, m.start(), m.end(), weight / saturation, "empathy or apology"))
    return weight * len(matches) / saturation
