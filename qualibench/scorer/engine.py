"""Score one reply against a scenario with a rubric: points per criterion, each citing its spans."""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass, field
from functools import lru_cache
from typing import Any

from rapidfuzz import fuzz, process

from ..campaign.spec import ScenarioSpec
from .rubric import Lexicon, Rubric, phrase_regex
from .text import (
    LemmaView,
    detect_language,
    fold,
    is_stopword,
    lemma_phrase,
    lemma_view,
    scored_part,
)


@dataclass(frozen=True)
class Span:
    """A stretch of the reply that earned (points > 0) or cost (points < 0) points."""

    start: int
    end: int
    text: str
    points: float
    why: str

    def to_dict(self) -> dict[str, Any]:
        """Return the JSON form stored in Score.evidence."""
        return asdict(self)


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
    r"\b\d{1,2}/\d{1,2}\b|\b\d+(?:\.\d+)?\s?(?:€|eur|£|\$|cm|mm)|[£$€]\s?\d+"
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
    folded = fold(part)
    quick_words = re.findall(r"[^\W\d_]+", folded[:2000])
    reply_lang = language or detect_language(quick_words, scenario_lang)
    lex = rubric.lexicon(reply_lang, scenario_lang)
    view = lemma_view(part, reply_lang if reply_lang in ("fr", "en") else scenario_lang,
                      folded=folded)
    names = tuple(fold(n) for n in persona_name.split() if len(n) > 1)
    request = request_text or _fill(body, fills)
    formulas = rubric.vocabulary
    specifics = (_request_specifics(request, scenario_lang, names, formulas) if request
                 else frozenset())

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
        points["personalisation"] = _personalisation(part, folded, lex, names, fills, signature,
                                                     rubric, evidence["personalisation"])
    if "politeness" in rubric.criteria:
        points["politeness"] = _politeness(part, folded, lex, rubric, evidence["politeness"])

    _penalise(part, folded, view, lex, fills, specifics, share, reply_lang, scenario_lang,
              rubric, points, evidence, notes)
    if lex.sets["acknowledgement"].search(folded) and share == 0.0:
        notes.append("reads like an acknowledgement: no key point of the request is answered")
    criteria = {c: round(min(rubric.weight(c), max(0.0, points.get(c, 0.0))), 2) for c in rubric.criteria}
    return ScoreResult(round(sum(criteria.values()), 2), criteria, evidence, reply_lang, notes)


def _fill(body: str, fills: dict[str, str]) -> str:
    return re.sub(r"\{(\w+)\}", lambda m: fills.get(m.group(1), ""), body)


def _span(part: str, start: int, end: int, points: float, why: str) -> Span:
    return Span(start, end, part[start:end], round(points, 2), why)


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
        words = sorted({w for w in view.words if len(w) >= 5})
        cutoff = float(rule.get("fuzzy_cutoff", 88))
        for pattern, kp in missing:
            if kp in found:
                continue
            hit = process.extractOne(pattern, words, scorer=fuzz.ratio, score_cutoff=cutoff)
            if hit:
                idx = view.words.index(hit[0])
                s, e = view.spans[idx]
                found[kp] = (s, e, f"close to {pattern!r}")
    bonus = float(rule.get("concrete_bonus", 0.0))
    share = sum(compiled.weights[k] for k in found) / total_w
    got = 0.0
    for kp, (s, e, how) in sorted(found.items(), key=lambda kv: kv[1][0]):
        pts = weight * (1 - bonus) * compiled.weights[kp] / total_w
        got += pts
        out.append(_span(part, s, e, pts, f"key point {compiled.labels[kp]!r} {how}"))
    if share > 0 and bonus > 0:
        m = _CONCRETE.search(folded)
        if m:
            got += weight * bonus
            out.append(_span(part, m.start(), m.end(), weight * bonus, "concrete date, amount or reference"))
    return got, share


def _reformulation(part: str, folded: str, view: LemmaView, lex: Lexicon, specifics: frozenset[str],
                   rubric: Rubric, out: list[Span]) -> float:
    rule = rubric.criteria["reformulation"]
    weight = float(rule["weight"])
    got = 0.0
    m = lex.sets["reformulation"].search(folded)
    if m:
        pts = weight * float(rule.get("marker", 0.45))
        got += pts
        out.append(_span(part, m.start(), m.end(), pts, "reformulation formula"))
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
            out.append(_span(part, s, e, each, f"restates the request ({lem})"))
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
        out.append(_span(part, m.start(), m.end(), weight / saturation, "empathy or apology"))
    return weight * len(matches) / saturation


def _tail_lines(part: str, n: int) -> list[tuple[int, str]]:
    lines: list[tuple[int, str]] = []
    pos = len(part)
    for line in reversed(part.splitlines(keepends=True)):
        pos -= len(line)
        if line.strip():
            lines.append((pos, line.rstrip("\r\n")))
            if len(lines) == n:
                break
    return list(reversed(lines))


def _personalisation(part: str, folded: str, lex: Lexicon, names: tuple[str, ...], fills: dict,
                     signature: str, rubric: Rubric, out: list[Span]) -> float:
    rule = rubric.criteria["personalisation"]
    weight = float(rule["weight"])
    got = 0.0
    for name in names:
        m = re.search(rf"(?<!\w){re.escape(name)}(?!\w)", folded)
        if m:
            pts = weight * float(rule.get("name", 0.4))
            got += pts
            out.append(_span(part, m.start(), m.end(), pts, "the customer's name"))
            break
    for key, value in sorted(fills.items()):
        idx = folded.find(fold(value))
        if len(value) >= 4 and idx >= 0:
            pts = weight * float(rule.get("reference", 0.3))
            got += pts
            out.append(_span(part, idx, idx + len(value), pts, f"the customer's {key}"))
            break
    signer = _named_signer(part, lex, names, signature)
    if signer:
        pts = weight * float(rule.get("named_signature", 0.3))
        got += pts
        if signer[0] >= 0:
            out.append(_span(part, signer[0], signer[1], pts, "signed by a named person"))
        else:
            out.append(Span(-1, -1, signature.strip()[:60], round(pts, 2), "signed by a named person"))
    return got


_CAPITALISED = re.compile(r"\b[A-ZÀ-Ý][a-zà-ÿ'-]+\b")


def _named_signer(part: str, lex: Lexicon, names: tuple[str, ...], signature: str) -> tuple[int, int] | None:
    candidates = _tail_lines(part, 3)
    if signature.strip():
        candidates = [(-1, line) for line in signature.strip().splitlines()[:3]] + candidates
    for offset, line in candidates:
        stripped = line.strip()
        if len(stripped.split()) > 6 or stripped.endswith((".", "?", "!", ":")):
            continue
        for m in _CAPITALISED.finditer(line):
            word = fold(m.group())
            if word in lex.vocabulary or is_stopword(word) or word in names or len(word) < 3:
                continue
            if offset < 0:
                return (-1, -1)
            return (offset + m.start(), offset + m.end())
    return None


def _politeness(part: str, folded: str, lex: Lexicon, rubric: Rubric, out: list[Span]) -> float:
    rule = rubric.criteria["politeness"]
    weight = float(rule["weight"])
    got = 0.0
    first_line_end = len(part) - len(part.lstrip())
    first_line_end = part.find("\n", first_line_end)
    head = folded[: first_line_end if first_line_end > 0 else 60]
    checks = [("greeting", lex.sets["greeting"].search(head), "greeting")]
    checks.append(("thanks", lex.sets["thanks"].search(folded), "thanks"))
    tail = _tail_lines(part, 5)
    closing = None
    if tail:
        start = tail[0][0]
        m = lex.sets["closing"].search(folded[start:])
        if m:
            closing = (start + m.start(), start + m.end())
    for key, m, why in checks:
        if m:
            pts = weight * float(rule.get(key, 0.3))
            got += pts
            out.append(_span(part, m.start(), m.end(), pts, why))
    if closing:
        pts = weight * float(rule.get("closing", 0.4))
        got += pts
        out.append(_span(part, closing[0], closing[1], pts, "closing formula"))
    return got


_SENTENCE = re.compile(r"[^.!?\n]+[.!?]?")


def _penalise(part: str, folded: str, view: LemmaView, lex: Lexicon, fills: dict,
              specifics: frozenset[str], share: float, reply_lang: str, scenario_lang: str,
              rubric: Rubric, points: dict[str, float], evidence: dict[str, list[Span]],
              notes: list[str]) -> None:
    pen = rubric.penalties

    def cost(name: str, amount: float, start: int, end: int, why: str) -> None:
        crit = pen[name]["criterion"]
        amount = min(amount, points.get(crit, 0.0))
        points[crit] = points.get(crit, 0.0) - amount
        evidence.setdefault(crit, []).append(_span(part, start, end, -amount, why))

    unanswered = 1.0 - share  # deflecting costs less when the answer is there anyway
    if "premium_number" in pen and lex.premium_number is not None:
        m = lex.premium_number.search(folded)
        if m:
            cost("premium_number", float(pen["premium_number"].get("points", 0)) * unanswered,
                 m.start(), m.end(), "deflection to a premium-rate number")
    if "channel_deflection" in pen:
        m = lex.sets["channel_deflection"].search(folded)
        if m:
            cost("channel_deflection", float(pen["channel_deflection"].get("points", 0)) * unanswered,
                 m.start(), m.end(), "sends the customer to another channel")
    if "marketing" in pen:
        m = lex.sets["marketing"].search(folded)
        if m:
            cost("marketing", float(pen["marketing"].get("points", 0)), m.start(), m.end(),
                 "marketing push")
    if "asks_again" in pen:
        hit = _asks_again(folded, view, lex, fills, specifics)
        if hit:
            cost("asks_again", float(pen["asks_again"].get("points", 0)), hit[0], hit[1],
                 "asks again for information the customer already gave")
    if "wrong_language" in pen and reply_lang != scenario_lang:
        crit = pen["wrong_language"]["criterion"]
        factor = float(pen["wrong_language"].get("factor", 1.0))
        lost = points.get(crit, 0.0) * (1 - factor)
        points[crit] = points.get(crit, 0.0) - lost
        evidence.setdefault(crit, []).append(Span(0, 0, "", -round(lost, 2),
                                                  f"reply in {reply_lang}, request in {scenario_lang}"))
        notes.append(f"reply written in {reply_lang}, the request was in {scenario_lang}")


def _asks_again(folded: str, view: LemmaView, lex: Lexicon, fills: dict,
                specifics: frozenset[str]) -> tuple[int, int] | None:
    for m in lex.ask.finditer(folded):
        sentence = _SENTENCE.match(folded, m.start())
        end = sentence.end() if sentence else len(folded)
        window = folded[m.start():end]
        for key in fills:
            items = lex.ask_items.get(key)
            if items is not None and items.search(window):
                return m.start(), end
        words = {lem for (s, _e), lem in zip(view.spans, view.lemmas, strict=True) if m.start() <= s < end}
        if len(words & specifics) >= 2:
            return m.start(), end
    return None
