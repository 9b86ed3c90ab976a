"""Courtesy and negative signals of a reply: personalisation, politeness and penalties.

Each function adds the spans it found to an evidence list and gives back the points earned;
`penalise` takes points away (never below zero), citing the span that cost them.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from .rubric import Lexicon, Rubric
from .text import LemmaView, fold, is_stopword


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
        # Built by hand: dataclasses.asdict deep-copies and is slow for 100,000 replies.
        return {"start": self.start, "end": self.end, "text": self.text, "points": self.points,
                "why": self.why}


def make_span(part: str, start: int, end: int, points: float, why: str) -> Span:
    return Span(start, end, part[start:end], round(points, 2), why)


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


def personalisation(part: str, folded: str, lex: Lexicon, names: tuple[str, ...], fills: dict,
                     signature: str, rubric: Rubric, out: list[Span]) -> float:
    rule = rubric.criteria["personalisation"]
    weight = float(rule["weight"])
    got = 0.0
    for name in names:
        m = re.search(rf"(?<!\w){re.escape(name)}(?!\w)", folded)
        if m:
            pts = weight * float(rule.get("name", 0.4))
            got += pts
            out.append(make_span(part, m.start(), m.end(), pts, "the customer's name"))
            break
    for key, value in sorted(fills.items()):
        idx = folded.find(fold(value))
        if len(value) >= 4 and idx >= 0:
            pts = weight * float(rule.get("reference", 0.3))
            got += pts
            out.append(make_span(part, idx, idx + len(value), pts, f"the customer's {key}"))
            break
    signer = _named_signer(part, lex, names, signature)
    if signer:
        pts = weight * float(rule.get("named_signature", 0.3))
        got += pts
        if signer[0] >= 0:
            out.append(make_span(part, signer[0], signer[1], pts, "signed by a named person"))
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


def politeness(part: str, folded: str, lex: Lexicon, rubric: Rubric, out: list[Span]) -> float:
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
            out.append(make_span(part, m.start(), m.end(), pts, why))
    if closing:
        pts = weight * float(rule.get("closing", 0.4))
        got += pts
        out.append(make_span(part, closing[0], closing[1], pts, "closing formula"))
    return got


_SENTENCE = re.compile(r"[^.!?\n]+[.!?]?")


def penalise(part: str, folded: str, view: LemmaView, lex: Lexicon, fills: dict,
              specifics: frozenset[str], share: float, reply_lang: str, scenario_lang: str,
              rubric: Rubric, points: dict[str, float], evidence: dict[str, list[Span]],
              notes: list[str]) -> None:
    pen = rubric.penalties

    def cost(name: str, amount: float, start: int, end: int, why: str) -> None:
        crit = pen[name]["criterion"]
        amount = min(amount, points.get(crit, 0.0))
        points[crit] = points.get(crit, 0.0) - amount
        evidence.setdefault(crit, []).append(make_span(part, start, end, -amount, why))

    unanswered = 1.0 - share  # deflecting costs less when the answer is there anyway
    if "premium_number" in pen and lex.premium_number is not None:
        m = lex.premium_number.search(folded)
        if m:
            cost("premium_number", float(pen["premium_number"].get("points", 0)) * unanswered,
                 m.start(), m.end(), "deflection to a premium-rate number")
    if "channel_deflection" in pen:
        m = lex.sets["channel_deflection"].search(folded, view.wordset)
        if m:
            cost("channel_deflection", float(pen["channel_deflection"].get("points", 0)) * unanswered,
                 m.start(), m.end(), "sends the customer to another channel")
    if "marketing" in pen:
        m = lex.sets["marketing"].search(folded, view.wordset)
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
    for m in lex.ask.finditer(folded, view.wordset):
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
