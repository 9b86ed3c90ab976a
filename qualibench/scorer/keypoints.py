"""A scenario's key points, compiled to signatures of concepts, and matched sentence by sentence.

A key point is written as `patterns` (the old form: phrases), `examples` (sentences a good answer
might contain) and/or a plain `description`. Each becomes a signature: the set of its content
words, read as concepts (scoring/lexicons/concepts.yaml: "recrédité", "remboursement" and
"refund" are one concept) or as lemmas. A sentence covers a key point when it holds enough of a
signature's concepts; how much it earns then depends on what the clause asserts (reading.py).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import lru_cache

from .reading import COND, HEDGE, HYPO, IFMAIN, NEG, RESTATE
from .rubric import Concepts
from .text import TOKEN_RE, fold, is_stopword, lemma_tokens

# Negation words are not content: the polarity of the clause decides what a "no" is worth.
_NOT_CONTENT = frozenset({"ne", "n", "pas", "aucun", "aucune", "sans", "no", "not", "never", "t",
                          "plus", "jamais", "rien", "non", "none", "nothing", "any"})


# Function words are not content, but thanks are what a "thank the customer" key point is about.
_COURTESY = frozenset({"merci", "thank", "thanks", "remercier"})


@dataclass(frozen=True)
class Signature:
    kp: str
    keys: frozenset[str]
    needed: int
    source: str  # what the author wrote, quoted in the evidence


@dataclass(frozen=True)
class KeyPoints:
    weights: dict[str, float]
    labels: dict[str, str]
    answers_no: frozenset[str]  # yes/no questions: a clear "no" answers them fully
    asked_on: dict[str, frozenset[str] | None]  # channels whose request asks it (None: all)
    moot_if: dict[str, str]  # key point -> the key point whose full answer makes it moot
    signatures: tuple[Signature, ...]
    index: dict[str, tuple[int, ...]]  # concept or lemma -> signatures holding it
    fuzzy: tuple[tuple[str, str], ...]  # (single folded word >= 5 letters, key point id)
    notes: tuple[str, ...]


def content_keys(text: str, language: str, concepts: Concepts) -> list[str]:
    """Return the concepts (or lemmas) of the content words of `text`, in order."""
    lemmas = lemma_tokens(text, language)
    surface = TOKEN_RE.findall(fold(text))
    if len(surface) == len(lemmas):
        # a word of three letters or fewer is not read as a plural: "UPS" is not "up"
        lemmas = [w if len(w) <= 3 and w != lem and w.startswith(lem) else lem
                  for w, lem in zip(surface, lemmas, strict=True)]
    keys: list[str] = []
    for phrase, concept in concepts.phrases(language, lemmas):
        keys.append(concept)
        for i in phrase:
            lemmas[i] = ""
    for lem in lemmas:
        if not lem or lem in _NOT_CONTENT or (is_stopword(lem) and lem not in _COURTESY):
            continue
        if len(lem) < 3 and not lem.isdigit():
            continue
        keys.append(concepts.single(language).get(lem, lem))
    return keys


@lru_cache(maxsize=512)
def compile_key_points(kps: tuple, language: str, concepts: Concepts) -> KeyPoints:
    """Compile `kps` ((id, label, patterns, weight, examples, description, answers_no, asked_on[,
    moot_if]), ...)."""
    sigs: list[Signature] = []
    fuzzy: list[tuple[str, str]] = []
    notes: list[str] = []
    for kp_id, label, patterns, _w, examples, description, _no, _asked, *_moot in kps:
        for p in patterns:
            keys = frozenset(content_keys(p, language, concepts))
            if keys:
                n = len(keys)
                sigs.append(Signature(kp_id, keys, n if n <= 2 else math.ceil(0.67 * n), f"pattern {p!r}"))
            f = fold(p).strip()
            if " " not in f and f.isalpha() and len(f) >= 5:
                fuzzy.append((f, kp_id))
        for ex in examples:
            keys = frozenset(content_keys(ex, language, concepts))
            if keys:
                n = len(keys)
                sigs.append(Signature(kp_id, keys, n if n <= 2 else math.ceil(0.6 * n), f"example {ex[:60]!r}"))
        texts = [description] if description else []
        if not patterns and not examples:
            if not description:
                texts = [label]
                notes.append(f"key point {kp_id!r} has no patterns, examples or description: matched on its label")
            else:
                notes.append(f"key point {kp_id!r} has no patterns or examples: matched on its description")
        for d in texts:
            keys = frozenset(content_keys(d, language, concepts))
            if len(keys) >= 2:
                sigs.append(Signature(kp_id, keys, max(2, math.ceil(0.5 * len(keys))), f"description {d[:60]!r}"))
            elif keys:
                sigs.append(Signature(kp_id, keys, 1, f"description {d[:60]!r}"))
    index: dict[str, list[int]] = {}
    for i, s in enumerate(sigs):
        for k in s.keys:
            index.setdefault(k, []).append(i)
    return KeyPoints(
        weights={k[0]: float(k[3]) for k in kps},
        labels={k[0]: k[1] for k in kps},
        answers_no=frozenset(k[0] for k in kps if k[6]),
        asked_on={k[0]: (frozenset(k[7]) if k[7] else None) for k in kps},
        moot_if={k[0]: k[8] for k in kps if len(k) > 8 and k[8] in {o[0] for o in kps}},
        signatures=tuple(sigs),
        index={k: tuple(v) for k, v in index.items()},
        fuzzy=tuple(fuzzy),
        notes=tuple(notes),
    )


_IFMAIN_CREDIT = 0.25  # the guide: a conditional statement does not deliver the point; a quarter for trying


def credit_of(flags: int, answers_no: bool) -> tuple[float, str]:
    """Return the share of a key point's weight a matching clause earns, and why."""
    if flags & RESTATE:
        return 0.0, "restates the request (reformulation, not an answer)"
    if flags & HYPO:
        return 0.0, "hypothetical ('si ... était', 'if ... were'): nothing asserted"
    if flags & COND:
        return 0.0, "only in a condition ('si', 'if'): nothing asserted"
    if flags & IFMAIN:
        return _IFMAIN_CREDIT, "stated under a condition on the case ('si votre commande...', 'if it has shipped'): quarter credit"
    if flags & NEG:
        if answers_no:
            return 1.0, "a clear 'no' answers this yes/no question"
        return 0.5, "negated: a refusal or a 'no' (half credit)"
    if flags & HEDGE:
        return 0.5, "hedged ('pourrait', 'may'): half credit"
    return 1.0, "asserted"
