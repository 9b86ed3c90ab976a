"""How the scorer reads a reply: sentences, clauses, and what each clause asserts.

One pass over the reply's tokens gives each token its sentence and its clause, and each clause
its polarity: negated ("aucun remboursement n'est possible", "no refund is due"), a condition
("si une erreur était constatée", "if the item is faulty"), hedged ("pourrait", "may"), or
hypothetical (the main clause of "si ... était ..., vous recevriez"). A sentence that restates
the customer's words ("Vous nous indiquez que...", "Regarding your order...") is marked too:
what it says earns reformulation, never relevance.
"""

from __future__ import annotations

import re
from bisect import bisect_left, bisect_right
from dataclasses import dataclass
from itertools import compress
from operator import itemgetter

from .text import LemmaView

NEG, COND, HEDGE, HYPO, RESTATE, IFMAIN = 1, 2, 4, 8, 16, 32

# A negation needs "ne/n'" plus its second word in French; these alone negate in either language.
_NEG_ALONE = frozenset({"aucun", "aucune", "sans", "without", "impossible", "ni", "not", "no", "never", "unable",
                        "cannot", "none", "nothing", "neither", "nor", "nobody", "jamais"})
# ...of which these negate only the words after them (a preposition: "sans frais", "without a fee").
_NEG_AFTER = frozenset({"sans", "without"})
_NEG_SECOND = frozenset({"pas", "plus", "jamais", "rien", "aucun", "aucune", "guere", "personne", "point"})
_NT = frozenset({"can", "don", "won", "isn", "aren", "doesn", "didn", "couldn", "wouldn", "shouldn",
                 "haven", "hasn", "wasn", "weren", "mustn"})
_IF = frozenset({"si", "if", "unless", "whether", "once", "lorsque"})
# "Once dispatched, you will receive..." describes what usually happens, not this customer's case.
_GENERIC_IF = frozenset({"once", "lorsque", "des", "whenever"})
_GENERIC = frozenset({"usually", "generally", "normally", "typically", "generalement", "habituellement",
                      "normalement", "general"})
_HEDGE = frozenset({"pourrait", "pourraient", "pourrions", "pourriez", "pourrais", "serait", "seraient",
                    "might", "may", "could", "possibly", "eventuellement", "envisager", "envisage",
                    "envisagee", "probablement", "probably",
                    # an appearance, or a range that depends on something else, is not this customer's answer
                    "semble", "semblent", "seem", "seems", "apparently", "apparemment",
                    "varient", "varie", "vary", "varies", "depending",
                    # "compatible qu'avec certains modèles": which ones, the customer cannot tell
                    "certains", "certaines"})
# A time with no date is vague (the guide's half credit: "dans les meilleurs délais", "in due course",
# "as soon as possible"): the word, and the word before it that makes it so.
_VAGUE = {"delais": frozenset({"meilleurs", "brefs"}), "possible": frozenset({"que", "as", "vite", "tot"}),
          "course": frozenset({"due"}), "asap": frozenset(), "jours": frozenset({"prochains"}),
          "days": frozenset({"few", "coming"})}
# "Compatible avec la plupart des smartphones", "in stock in most of our stores": true of many
# customers, not said of this one (half credit); "at most 5 days" is a bound, and stays asserted.
_MOST = {"plupart": frozenset(), "majorite": frozenset(), "most": frozenset({"at", "the"})}
# "en cas de", "au cas où", "in case of", "in the event of" open a condition like "si"; "le cas
# échéant" / "where applicable" put the rest of the sentence under one.
_CASE = {"cas": frozenset({"en", "au"}), "case": frozenset({"in"}), "event": frozenset({"the"}),
         # "tant que la commande n'est pas expédiée", "as long as", "à condition que"
         "tant": None, "long": frozenset({"as"}), "condition": frozenset({"a"})}
_NOT_CASE = {"tant": frozenset({"en"})}
_FROM_HERE_ON = {"echeant": frozenset({"cas"}), "applicable": frozenset({"where"})}
_IMPERFECT = frozenset({"etait", "etaient", "avait", "avaient", "etiez", "aviez", "were", "had"})
# "N'hésitez pas", "pas de souci", "nous ne manquerons pas de" say nothing negative.
_IDIOM = re.compile(
    r"n'?\s?hesite[rz]?\s+pas|ne\s+manquer\w*\s+pas|pas\s+(?:de\s+)?(?:souci|soucis|probleme|d'inquietude)"
    r"|sans\s+(?:faute|hesiter|souci|probleme|attendre)|do(?:n't| not)\s+hesitate|no\s+(?:problem|worries)"
    r"|not\s+only|no\s+later\s+than|ne\s+\w+\s+que\b|n'\w+\s+que\b"
)
# Inside a sentence, a clause ends at , ; : ( ) or before mais / but / car / because / however.
_IDIOM_CUES = frozenset({"pas", "hesitate", "que", "no", "sans", "not", "hesitez", "hesiter"})
_CLAUSE_BREAK = re.compile(r"[,;:()\u2013\u2014]\s*|\s(?=(?:mais|but|car|because|however|cependant|toutefois)\b)")
# A sentence ends at the spaces after . ! ? or at a line break. Written to start on the space
# (the lookbehind then checks the punctuation before it), so `re` skips from space to space:
# the same matches as (?<=[.!?])\s+|\n+, found faster.
_SENTENCE_BREAK = re.compile(r"\s(?<=[.!?]\s)\s*|\n+")


# "si" before one of these opens a condition on the case ("si votre commande...", "si elle est...");
# before anything else it may be "so" ("si rapidement", "si gentil").
_SI_OPENS = frozenset({"votre", "vos", "le", "la", "les", "l", "il", "elle", "ils", "elles", "un", "une",
                       "c", "ce", "cette", "cela", "ca", "nous", "on", "aucun", "aucune", "des", "du", "d",
                       "notre", "nos", "celui", "celle", "jamais", "toutefois", "malgre"})
# "if needed", "si besoin": a detail of the offer, not a condition on what the customer asked.
_IF_MINOR = frozenset({"needed", "necessary", "required", "possible", "so", "besoin", "necessaire",
                       "applicable", "appropriate", "any", "wished", "desired", "preferred"})
# After "si"/"if", the customer as subject makes an offer, not a hypothesis.
_CUSTOMER = frozenset({"vous", "you", "tu"})
# Without a comma, the main clause starts at its subject: "once it arrives we refund...".
_SUBJECTS = frozenset({"we", "i", "nous", "je", "j", "on"})


def _condition_end(words: list[str], start: int, clause_end: int) -> int:
    for t in range(start + 2, clause_end):
        if words[t] in _SUBJECTS:
            return t
    return clause_end


_CUES = _NEG_ALONE | _NEG_SECOND | _IF | _HEDGE | _GENERIC | _IMPERFECT | {"ne", "n", "t", "s"} | _VAGUE.keys() \
    | _CASE.keys() | _FROM_HERE_ON.keys() | _MOST.keys()
# A clause opened by one of these goes on with the clause before it: "votre facture, sur laquelle
# les frais semblent figurer deux fois" restates as much as what precedes it.
_RELATIVE = frozenset({"qui", "que", "dont", "ou", "laquelle", "lequel", "lesquels", "lesquelles", "which", "where",
                       "who", "whose"})


@dataclass
class Reading:
    """The reply cut into sentences and clauses; flags per clause, found from cue words only."""

    view: LemmaView
    sentences: list[tuple[int, int]]  # character spans
    sentence_tokens: list[tuple[int, int]]  # token index ranges [a, b)
    starts: list[int]  # each token's start offset
    bounds: list[int]  # where each clause starts (offsets)
    clause_flags: list[int]  # per clause: NEG | HEDGE | HYPO | RESTATE
    sentence_flags: list[int]  # per sentence: RESTATE, HYPO
    if_from: list[int]  # per clause: the token where its if-clause starts (-1: none)
    if_to: list[int]  # per clause: the token where its if-clause ends
    neg_from: list[int] | None = None  # per clause: first negated token ("sans" negates what follows it)

    def clause_of(self, token: int) -> int:
        return bisect_right(self.bounds, self.starts[token]) - 1

    def flags_of(self, token: int) -> int:
        c = bisect_right(self.bounds, self.starts[token]) - 1
        flags = self.clause_flags[c]
        if flags & NEG and self.neg_from is not None and token < self.neg_from[c]:
            flags &= ~NEG  # "navrée que votre aspirateur sans fil tombe en panne": "sans" negates "fil"
        return flags | COND if 0 <= self.if_from[c] <= token < self.if_to[c] else flags


def read(part: str, folded: str, view: LemmaView, restate_sentence, restate_clause,  # type: ignore[no-untyped-def]
         echo_of=None) -> Reading:
    """Return the Reading of `part` (folded: its folded text; view: its lemma view).

    `restate_sentence` / `restate_clause`: phrase sets whose match marks the sentence / the clause
    as a restatement of the request; `echo_of(a, b)` -> bool marks echoed sentences (token range).
    """
    n = len(folded)
    sent_spans: list[tuple[int, int]] = []
    start = 0
    for m in _SENTENCE_BREAK.finditer(folded):
        if m.start() > start:
            sent_spans.append((start, m.start()))
        start = m.end()
    if start < n:
        sent_spans.append((start, n))
    if not sent_spans:
        sent_spans.append((0, n))
    sent_starts = [s for s, _e in sent_spans]
    bounds = sorted({*sent_starts, *(m.end() for m in _CLAUSE_BREAK.finditer(folded))})
    clause_sentence = [bisect_right(sent_starts, b) - 1 for b in bounds]
    words, spans = view.words, view.spans
    starts = list(map(itemgetter(0), spans))
    cut = [bisect_left(starts, s) for s in sent_starts] + [len(starts)]
    sentence_tokens = [(cut[i], cut[i + 1]) for i in range(len(sent_starts))]
    n_clauses = len(bounds)
    flags = [0] * n_clauses
    seen_ne = [False] * n_clauses
    if_from = [-1] * n_clauses
    if_to = [0] * n_clauses
    # "sans" (and "without") negates the words after it, not the clause's start: "aspirateur sans
    # fil" is a product, "désolés que votre aspirateur sans fil tombe en panne" an apology. Every
    # other negation covers its whole clause ("votre colis n'est pas parti").
    neg_from = [0] * n_clauses
    generic_sent: set[int] = set()
    later: list[int] = []  # clauses from which the rest of the sentence is under a condition
    if_sent: set[int] = set()  # sentences whose statement hangs on a condition about the case
    cues = list(compress(range(len(words)), map(_CUES.__contains__, words))) if not _CUES.isdisjoint(view.wordset) else []
    if cues:
        idiom_spans = [m.span() for m in _IDIOM.finditer(folded)] if not _IDIOM_CUES.isdisjoint(view.wordset) else []
        for t in cues:
            w = words[t]
            if w == "s":
                # "s'il est déjà parti", "s'ils": the elided "si" opens a condition like "si"
                if t + 1 >= len(words) or words[t + 1] not in ("il", "ils") or \
                        (t + 3 < len(words) and words[t + 3] == "plait"):
                    continue  # ("s'il vous plaît" is "please")
                w = "si"
            s = starts[t]
            if idiom_spans and any(a <= s < b for a, b in idiom_spans):
                continue
            c = bisect_right(bounds, s) - 1
            if t > 0 and (w in _VAGUE or w in _CASE or w in _FROM_HERE_ON or w in _MOST):
                before = words[t - 1]
                if (w in _VAGUE and (not _VAGUE[w] or before in _VAGUE[w])) or \
                        (w in _MOST and before not in _MOST[w]):
                    flags[c] |= HEDGE
                elif w in _CASE and (before in _CASE[w] if _CASE[w] is not None else before not in _NOT_CASE[w]):
                    if if_from[c] < 0:
                        if_from[c] = t
                        if_to[c] = _condition_end(words, t, bisect_left(starts, bounds[c + 1]) if c + 1 < n_clauses
                                                  else len(words))
                    if_sent.add(clause_sentence[c])
                elif w in _FROM_HERE_ON and before in _FROM_HERE_ON[w]:
                    later.append(c)
                continue
            if w in _NEG_AFTER:
                if not flags[c] & NEG:
                    neg_from[c] = t
                flags[c] |= NEG
            elif w in _NEG_ALONE:
                flags[c] |= NEG
                neg_from[c] = 0
            elif w == "ne" or w == "n":
                seen_ne[c] = True
            elif (w in _NEG_SECOND and seen_ne[c]) or (w == "t" and t > 0 and words[t - 1] in _NT):
                flags[c] |= NEG
                neg_from[c] = 0
            if w in _IF and t + 1 < len(words) and words[t + 1] not in _CUSTOMER:
                # "si vous préférez...", "if you log in on our website": the customer's choice or
                # action, an offer that still asserts. Other conditions assert nothing.
                if if_from[c] < 0:
                    if_from[c] = t
                    if_to[c] = _condition_end(words, t, bisect_left(starts, bounds[c + 1]) if c + 1 < n_clauses
                                              else len(words))
                si = clause_sentence[c]
                if w in _GENERIC_IF and sentence_tokens[si][0] == t:
                    generic_sent.add(si)
                elif w in ("if", "unless") and words[t + 1] not in _IF_MINOR or \
                        (w == "si" and words[t + 1] in _SI_OPENS):
                    if c > 0 and clause_sentence[c - 1] == si and t > bisect_left(starts, bounds[c]):
                        # "fonctionne avec tous les Android, et en charge rapide si votre téléphone
                        # gère le PD": a condition inside a later clause bears on that clause only.
                        flags[c] |= IFMAIN
                    else:
                        if_sent.add(si)
            elif w in _GENERIC or w in _HEDGE:
                flags[c] |= HEDGE
            elif w in _IMPERFECT and if_from[c] >= 0:
                flags[c] |= HYPO
    for c0 in later:
        c = c0
        while c < n_clauses and clause_sentence[c] == clause_sentence[c0]:
            flags[c] |= IFMAIN
            c += 1
    sent_flags = [0] * len(sent_spans)
    for c in range(n_clauses):
        if flags[c] & HYPO:
            sent_flags[clause_sentence[c]] |= HYPO
    for si in list(generic_sent):
        a, b = sentence_tokens[si]
        if any(words[t][:1].isdigit() for t in range(a, b)):
            generic_sent.discard(si)  # "once it arrives we refund £39.99 within 5 days" is this case
    if if_sent:
        for c in range(n_clauses):
            if clause_sentence[c] in if_sent:
                flags[c] |= IFMAIN
    if any(sent_flags) or generic_sent:
        for c in range(n_clauses):
            if sent_flags[clause_sentence[c]] & HYPO and if_from[c] < 0:
                flags[c] |= HYPO
            if clause_sentence[c] in generic_sent and if_from[c] < 0:
                flags[c] |= HEDGE
    reading = Reading(view, sent_spans, sentence_tokens, starts, bounds, flags, sent_flags, if_from, if_to,
                      neg_from if any(neg_from) else None)
    _mark_restatements(reading, folded, restate_sentence, restate_clause, echo_of)
    return reading


def _mark_restatements(r: Reading, folded: str, restate_sentence, restate_clause, echo_of) -> None:  # type: ignore[no-untyped-def]
    words = r.view.wordset
    sentence_hit = restate_sentence.regex is not None and not restate_sentence.first_tokens.isdisjoint(words)
    clause_hit = restate_clause.regex is not None and not restate_clause.first_tokens.isdisjoint(words)
    # Each sentence's first marker, read off the reply's phrase scan at once (PhraseSet.first_in).
    opening = restate_sentence.first_in(folded, [(s, min(e, s + 60)) for s, e in r.sentences]) \
        if sentence_hit else ()
    in_sentence = restate_clause.first_in(folded, r.sentences) if clause_hit else ()
    for si, (a, b) in enumerate(r.sentence_tokens):
        if a >= b:
            continue
        whole = sentence_hit and opening[si] is not None
        if not whole and echo_of is not None:
            whole = echo_of(a, b)
        if whole:
            r.sentence_flags[si] |= RESTATE
            for c in range(r.clause_of(a), r.clause_of(b - 1) + 1):
                r.clause_flags[c] |= RESTATE
            continue
        if clause_hit:
            m = in_sentence[si]
            if m is not None:
                c = bisect_right(r.bounds, m.start()) - 1
                r.clause_flags[c] |= RESTATE
                # ...and the relative clauses that go on with it, in the same sentence
                last = r.clause_of(b - 1)
                while c < last:
                    c += 1
                    t = bisect_left(r.starts, r.bounds[c])
                    # ("sur laquelle", "in which": a preposition may come first)
                    if t >= b or (r.view.words[t] not in _RELATIVE and
                                  (t + 1 >= b or r.view.words[t + 1] not in _RELATIVE)):
                        break
                    r.clause_flags[c] |= RESTATE
