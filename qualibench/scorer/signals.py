"""Courtesy and negative signals of a reply: personalisation, politeness and penalties.

Each function adds the spans it found to an evidence list and gives back the points earned;
`penalise` takes points away (never below zero), citing the span that cost them.
"""

from __future__ import annotations

import re
from bisect import bisect_left
from functools import lru_cache
from typing import Any, NamedTuple

from .layout import Layout
from .rubric import Lexicon, Rubric
from .text import LemmaView, fold


class Span(NamedTuple):
    """A stretch of the reply that earned (points > 0) or cost (points < 0) points.

    A named tuple, not a frozen dataclass: a reply's ten or so spans were built through
    object.__setattr__ field by field (2.5 us each); make_span builds the tuple directly.
    """

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
    return _new_span(Span, (start, end, part[start:end], round(points, 2), why))


_new_span = tuple.__new__


def personalisation(part: str, folded: str, lay: Layout, names: tuple[str, ...], fills: dict,
                     rubric: Rubric, channel: str, out: list[Span], wordset: frozenset[str] = frozenset()) -> float:
    rule = rubric.rule("personalisation", channel)
    weight = float(rule["weight"])
    got = 0.0
    body = folded[:lay.body_end]
    if names:
        m = _name_in(names, folded, lay.body_end, wordset)
        if m:
            pts = weight * float(rule.get("name", 0.4))
            got += pts
            out.append(make_span(part, m.start(), m.end(), pts, "the customer's name"))
    for key, value in sorted(fills.items()):
        v = _folded(value)
        if len(v) < 3 or key in ("x_handle", "brand") or v in names:
            continue
        idx = body.find(v)
        if idx < 0:
            # "Votre robot pâtissier" names the drawn "un robot pâtissier": its words are enough.
            words = _value_words(v)
            if len(words) >= 2 and wordset.issuperset(words):
                m = re.search(rf"(?<!\w){re.escape(words[0])}(?!\w)", body)
                idx, v = (m.start(), words[0]) if m else (-1, v)
            elif key == "product" and words:
                # "Votre casque" names the drawn "un casque Bluetooth": the product's head word
                # (its first content word in French, its last in English) after a possessive.
                head = words[0] if lang_fr(v) else words[-1]
                m = re.search(rf"(?<!\w)(?:votre|vos|ton|ta|your|the|this|ce|cette|le|la|du|de la) {re.escape(head)}"
                              rf"(?!\w)", body) if len(head) >= 4 else None
                idx, v = (m.start(), m.group()) if m else (-1, v)
        if idx >= 0:
            pts = weight * float(rule.get("reference", 0.3))
            got += pts
            out.append(make_span(part, idx, idx + len(v), pts, f"the customer's {key}"))
            break
    if lay.signer is not None:
        pts = weight * float(rule.get("named_signature", 0.3))
        got += pts
        if lay.signer[0] >= 0:
            out.append(make_span(part, lay.signer[0], lay.signer[1], pts, "signed by a named person"))
        else:
            out.append(Span(-1, -1, lay.signature_text[:60], round(pts, 2), "signed by a named person"))
    return got


def _name_in(names: tuple[str, ...], folded: str, end: int, wordset: frozenset[str]) -> re.Match[str] | None:
    """Return the first of `names` in folded[:end] as a whole word, or None."""
    # Each name is a substring of any match: without one in folded[:end] (str.find, in C) the
    # regex has nothing to find.
    if names and all(folded.find(n, 0, end) < 0 for n in names):
        return None
    return _name_regex(names).search(folded, 0, end)


@lru_cache(maxsize=4096)
def _name_regex(names: tuple[str, ...]) -> re.Pattern[str]:
    return re.compile(r"(?<!\w)(?:" + "|".join(re.escape(n) for n in names) + r")(?!\w)")


@lru_cache(maxsize=65536)
def _value_words(folded_value: str) -> tuple[str, ...]:
    return tuple(w for w in re.findall(r"[a-z0-9]+", folded_value) if len(w) >= 3 and w not in _ARTICLES)


def lang_fr(folded_value: str) -> bool:
    """A drawn value in French opens with an article ("un casque Bluetooth", "une machine à café")."""
    return folded_value.split(" ", 1)[0] in ("un", "une", "des", "le", "la", "les", "l")


_ARTICLES = frozenset({"une", "des", "les", "the", "mon", "ma", "mes", "votre", "your", "pair", "set"})


@lru_cache(maxsize=65536)
def _folded(value: str) -> str:
    return fold(value).strip()


def politeness(part: str, folded: str, view: LemmaView, lay: Layout, lex: Lexicon, rubric: Rubric,
               channel: str, out: list[Span]) -> float:
    """Greeting, thanks, closing formula and signature; on X a courteous register replaces the greeting."""
    rule = rubric.rule("politeness", channel)
    weight = float(rule["weight"])
    got = 0.0

    def earn(share_key: str, default: float, span: tuple[int, int], why: str) -> None:
        nonlocal got
        pts = weight * float(rule.get(share_key, default))
        if pts > 0:
            got += pts
            out.append(make_span(part, span[0], span[1], pts, why))

    if lay.greeting is not None:
        earn("greeting", 0.3, lay.greeting, "greeting")
    if float(rule.get("register", 0.0)) > 0 and _words_between(view, lay.body_start, lay.body_end) >= 4:
        earn("register", 0.0, (lay.body_start, min(lay.body_end, lay.body_start + 40)), "courteous register")
    thanks = _thanks(folded[:lay.body_end], lex, view)
    if thanks is not None:
        earn("thanks", 0.3, thanks, "thanks the customer")
    if lay.closing is not None:
        earn("closing", 0.2, lay.closing, "closing formula")
    if lay.signature is not None:
        if lay.signature[0] >= 0:
            earn("signature", 0.2, lay.signature, "signed")
        else:
            pts = weight * float(rule.get("signature", 0.2))
            got += pts
            out.append(Span(-1, -1, lay.signature_text[:60], round(pts, 2), "signed"))
    return got


def _words_between(view: LemmaView, start: int, end: int) -> int:
    # The tokens starting in [start, end) by bisection of the sorted spans ((start,) sorts before
    # every (start, end) pair), then their words counted in C.
    a = bisect_left(view.spans, (start,))
    return sum(map(str.isalpha, view.words[a:max(a, bisect_left(view.spans, (end,)))]))


# "Merci de votre message", "merci de nous avoir écrit" thank; "merci de" before any other verb
# ("merci de nous préciser", "merci d'appeler le 08 92...") asks the customer to do something.
_THANKS_FOR = frozenset({"votre", "vos", "ton", "ta", "tes", "ce", "cette", "cet", "ces", "la", "le", "l", "les",
                         "avoir", "tout", "toute", "tous", "toutes", "sa", "son", "ses", "m", "me", "tant"})


def instruction_thanks(words: list[str], i: int) -> bool:
    """True when the "merci" at token i opens an instruction ("merci de nous préciser..."), not thanks."""
    if i + 2 >= len(words) or words[i] != "merci" or words[i + 1] not in ("de", "d"):
        return False
    nxt = words[i + 2]
    if nxt in ("nous", "vous") and i + 3 < len(words):
        # "merci de nous avoir écrit", "merci de nous l'avoir signalé", "merci de nous en avoir informés"
        at = i + 4 if words[i + 3] in ("l", "les", "en", "y") and i + 4 < len(words) else i + 3
        nxt = words[at] if words[at] == "avoir" else "_verb"
    return nxt not in _THANKS_FOR


def _thanks(body: str, lex: Lexicon, view: LemmaView) -> tuple[int, int] | None:
    # "Merci d'appeler le 08 92..." is an instruction: it does not thank the customer.
    for m in lex.sets["thanks"].finditer(body, view.wordset):
        nxt = lex.sets["thanks_not"].search(body[m.start():m.start() + 60])
        if nxt is not None and nxt.start() == 0:
            continue
        at = bisect_left(view.spans, (m.start(), -1))
        if at < len(view.words) and instruction_thanks(view.words, at):
            continue
        return m.span()
    return None


_SENTENCE = re.compile(r"[^.!?\n]+[.!?]?")


def penalise(part: str, folded: str, view: LemmaView, lay: Layout, lex: Lexicon, fills: dict,
              specifics: frozenset[str], share: float, reply_lang: str, scenario_lang: str,
              rubric: Rubric, points: dict[str, float], evidence: dict[str, list[Span]],
              notes: list[str], deflects: bool = True) -> None:
    """Apply the rubric's penalties; `deflects` False when every sentence naming another channel
    or place says what is done there (the procedure asked for, not a deflection)."""
    pen = rubric.penalties

    def cost(name: str, amount: float, start: int, end: int, why: str) -> None:
        crit = pen[name]["criterion"]
        amount = min(amount, points.get(crit, 0.0))
        points[crit] = points.get(crit, 0.0) - amount
        evidence.setdefault(crit, []).append(make_span(part, start, end, -amount, why))

    rel = rubric.criteria.get("relevance", {})
    premium = lex.premium_number.search(folded) if lex.premium_number is not None else None
    deflect = lex.sets["channel_deflection"].search(folded[:lay.body_end], view.wordset) if deflects else None
    if premium and "premium_number" in pen:
        if share == 0.0:
            _set_floor(points, evidence, part, "relevance", 0.0, premium.span(),
                       "only a premium-rate number: nothing answered")
        else:
            cost("premium_number", float(pen["premium_number"].get("points", 0)), premium.start(),
                 premium.end(), "deflection to a premium-rate number next to the answer")
    elif deflect and "channel_deflection" in pen:
        rule = pen["channel_deflection"]
        if share == 0.0:
            floor = float(rule.get("floor", 1))
            why = "sends the customer to another channel instead of answering"
            reason = lex.sets["deflection_reason"].search(folded[:lay.body_end], view.wordset)
            if reason:
                floor += float(rule.get("reason", 2))
                why += ", with a reason"
            _set_floor(points, evidence, part, "relevance", floor, deflect.span(), why)
        else:
            cost("channel_deflection", float(rule.get("points", 0)), deflect.start(), deflect.end(),
                 "also sends the customer to another channel")
    elif share == 0.0 and "relevance" in points:
        m = lex.sets["promise"].search(folded[:lay.body_end], view.wordset)
        if m:
            _set_floor(points, evidence, part, "relevance", float(rel.get("promise", 2)), m.span(),
                       "nothing answered yet, but a promise to act")
    for name, why in (("marketing", "marketing push"), ("condescension", "condescending")):
        if name in pen:
            m = lex.sets[name].search(folded, view.wordset)
            if m:
                cost(name, float(pen[name].get("points", 0)), m.start(), m.end(), why)
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


def _set_floor(points: dict[str, float], evidence: dict[str, list[Span]], part: str, crit: str,
               value: float, span: tuple[int, int], why: str) -> None:
    """Set a criterion to `value` (a deflection or a bare promise is worth this much, no more)."""
    if crit not in points:
        return
    points[crit] = value
    evidence.setdefault(crit, []).append(make_span(part, span[0], span[1], value, why))


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
