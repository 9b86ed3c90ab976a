"""Score one reply against a scenario with a rubric: points per criterion, each citing its spans.

The reply is read sentence by sentence (reading.py): a key point counts only where a clause
asserts it (not negated, not a condition, not the customer's words restated), reformulation is
the customer's specifics restated near the opening, empathy tells a formula from words about this
customer's situation, and courtesy is judged per channel (signals.py).
"""

from __future__ import annotations

import re
from bisect import bisect_left, bisect_right
from dataclasses import dataclass, field
from functools import lru_cache
from itertools import compress
from typing import Any, NamedTuple

from rapidfuzz import fuzz

from ..campaign.spec import ScenarioSpec
from ..mail.person_names import FIRST_NAMES
from .keypoints import compile_key_points, content_keys, credit_of
from .layout import Layout, layout_of
from .line_reading import read, some_line_matches
from .reading import COND, NEG, RESTATE, Reading
from .rubric import Concepts, Lexicon, Rubric
from .signals import Span, instruction_thanks, make_span, penalise, personalisation, politeness
from .text import TOKEN_RE, detect_mix, fold, is_stopword, lemma_view, reply_view, scored_part

_MENTIONS = re.compile(r"^\s*(?:@\w+[\s,:]*)+")
_BR = re.compile(r"<br\s*/?>", re.IGNORECASE)
# (a private message is how X goes on: "écrivez-nous en DM et on rembourse" is a procedure)
_INVITES = re.compile(r"^(?!.*\b(?:dm|mp|message prive|direct message)\b).*(?:call|appel|contactez|contacter|contact us"
                      r"|rendez-vous|rapprochez|\bask\b|speak|talk|give (?:us|them)|passer voir|voir avec|demander|demandez"
                      r"|\bvisit|see our|fill in|invit|veuillez|please|consult|refer|vous rendre)")
_SELF_SERVICE = re.compile(r"\b(?:site|website|site internet|fiche produit|product page|faq|espace client|conditions"
                           r"|terms|help cent(?:re|er)|centre d'aide|rubrique|my account|online account)\b")
# (information said to be there, not the product: "le câble est disponible sur notre site" is stock)
# (to look something up, not to do something there: "veuillez imprimer l'étiquette depuis votre espace
# client", "nous vous invitons à télécharger votre facture" are the procedure asked for)
_LOOK_IT_UP = re.compile(r"\b(?:invit\w* a (?:la |le |les )?(?:consulter|visiter|vous (?:rendre|reporter|referer)|verifier"
                         r"|regarder|lire)|consult\w*|please (?:visit|check|see|refer)|visit|refer to"
                         r"|pour (?:connaitre|savoir|verifier)|to (?:find out|check|see)"
                         r"|(?:informations?|details|renseignements|conditions)\b[^.!?]{0,40}\b(?:are available"
                         r"|sont disponibles|est disponible|is available|se trouvent|can be found|peuvent etre consultees?))\b")
# "Les modifications se font uniquement par téléphone", "changes can only be made by phone": the
# channel named is the only way, so the answer is there, not here; "nos vendeurs sauront vous
# conseiller", "our staff will be happy to advise": somebody else will answer.
_ONLY_THERE = re.compile(r"\b(?:uniquement|seulement|exclusivement|only)\b|\b(?:sauront|pourront|saura|pourra) vous "
                         r"(?:conseiller|renseigner|orienter|aider|repondre|guider)\b|\b(?:happy|able|pleased) to "
                         r"(?:advise|help you with|assist you with)\b")
_FIRST_PERSON = frozenset({"je", "j", "nous", "we", "i", "on", "we've", "ve", "ll"})
# What has been done or will be: "l'adresse a été modifiée", "sera livré", "will go back to your
# card", "has been dispatched". The customer's words told back never carry these news.
_DONE_OR_TO_COME = frozenset({"sera", "seront", "ete", "desormais", "will", "been", "now", "vient", "viennent"})
# Beyond this, a "reply" is a pasted document: the first part is scored, and the note says so.
MAX_SCORED_CHARS = 20_000


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


_FIELDS_CACHE: dict[int, tuple[object, tuple]] = {}


def _scenario_fields(scenario: ScenarioSpec | dict) -> tuple[str, str, str, str, tuple]:
    # Scoring a campaign passes the same scenario object thousands of times.
    hit = _FIELDS_CACHE.get(id(scenario))
    if hit is not None and hit[0] is scenario:
        return hit[1]  # type: ignore[return-value]
    fields = _read_scenario(scenario)
    if len(_FIELDS_CACHE) > 1024:
        _FIELDS_CACHE.clear()
    _FIELDS_CACHE[id(scenario)] = (scenario, fields)
    return fields


def _read_scenario(scenario: ScenarioSpec | dict) -> tuple[str, str, str, str, tuple]:
    if isinstance(scenario, ScenarioSpec):
        raw = scenario.raw or {}
        extra = {str(k.get("id")): k for k in raw.get("key_points") or [] if isinstance(k, dict)}
        kps = tuple(_key_point(k.id, k.label, list(k.patterns), k.weight, extra.get(k.id, {}))
                    for k in scenario.key_points)
        return scenario.id, scenario.language, scenario.body, scenario.short, kps
    kps = tuple(
        _key_point(str(k.get("id", f"kp{i}")), str(k.get("label", k.get("id", ""))),
                   [*(k.get("patterns") or []), *(k.get("synonyms") or [])], k.get("weight", 1.0), k)
        for i, k in enumerate(scenario.get("key_points") or [], 1) if isinstance(k, dict)
    )
    return (str(scenario.get("id", "")), str(scenario.get("language", "fr")), str(scenario.get("body", "")),
            str(scenario.get("short", "")), kps)


def _key_point(kp_id: str, label: str, patterns: list, weight: Any, raw: dict) -> tuple:
    examples = tuple(str(e) for e in raw.get("examples") or [])
    asked = raw.get("asked_on")
    return (kp_id, label, tuple(str(p) for p in patterns), float(weight or 0), examples,
            str(raw.get("description") or ""), bool(raw.get("answers_no")),
            tuple(str(c) for c in asked) if asked else (), str(raw.get("moot_if") or ""))


class _Request(NamedTuple):
    """The request as each reply to it is read (a named tuple: built per reply, and a frozen
    dataclass sets its fields one by one)."""

    keys: frozenset[str]  # the customer's specifics, as concepts or lemmas
    ngrams: frozenset[tuple[str, ...]]  # 5-word runs, to tell a pasted echo from a restatement
    fill_words: frozenset[str]
    fill_of: dict[str, str]  # a word of a drawn value -> that value's key (one detail, however many words)
    said: frozenset[str] = frozenset()  # the request's own words and lemmas (not their concepts)


@lru_cache(maxsize=4096)
def _request_base(request: str, language: str, names: tuple[str, ...], formulas: frozenset[str],
                  concepts: Concepts) -> tuple[frozenset[str], frozenset[tuple[str, ...]], frozenset[str]]:
    view = lemma_view(request, language)
    single = concepts.single(language)
    keys = set()
    for lem, word in zip(view.lemmas, view.words, strict=True):
        if (len(lem) >= 4 or any(c.isdigit() for c in lem)) and not is_stopword(word) \
                and not is_stopword(lem) and word not in names and word not in formulas and lem not in formulas:
            keys.add(single.get(lem, lem))
    # The request's multi-word concepts too ("facturé deux fois", "mot de passe"): the reply reads
    # them as one concept, so "les frais ont été comptés deux fois" restates the customer's "deux fois".
    keys.update(concept for _idx, concept in concepts.phrases(language, list(view.lemmas)))
    w = view.words
    p = [_PERSON.get(x, x) for x in w]
    return frozenset(keys), frozenset(tuple(p[i:i + 5]) for i in range(len(p) - 4)), frozenset(w) | frozenset(view.lemmas)


# The customer's sentence told back with the person changed is still pasted: "j'ai passé la commande
# avec mon ancienne adresse" -> "vous avez passé la commande avec votre ancienne adresse". The 5-word
# runs compare the words with each person and possessive (and avoir / être) made one.
_PERSON = {**dict.fromkeys(("je", "j", "vous", "nous", "i", "you", "we", "me", "m", "moi", "on"), "<p>"),
           **dict.fromkeys(("mon", "ma", "mes", "votre", "vos", "notre", "nos", "my", "your", "our"), "<poss>"),
           **dict.fromkeys(("ai", "avez", "avons", "have", "ve"), "<avoir>"),
           **dict.fromkeys(("suis", "etes", "sommes", "am", "are", "re"), "<etre>")}


_QUESTION = re.compile(r"[^.!?\n]*\?")
# A key point that is itself asking the customer something ("asks for useful details") is met by a
# question; every other is not.
_ASKS = re.compile(r"\b(?:asks?|asking|demande|demander|pose des questions)\b", re.IGNORECASE)


@lru_cache(maxsize=4096)
def _question_keys(request: str, language: str, names: tuple[str, ...], formulas: frozenset[str],
                   concepts: Concepts) -> frozenset[str]:
    """The request's keys that only its questions hold ("is that price fixed?", "y en a-t-il en
    stock ?"): an answer repeats them to answer, which restates nothing of the customer's case."""
    asked = "\n".join(m.group() for m in _QUESTION.finditer(request))
    if not asked:
        return frozenset()
    told = _QUESTION.sub(" ", request)
    return _request_base(asked, language, names, formulas, concepts)[0] - \
        _request_base(told, language, names, formulas, concepts)[0]


# The customer's account of what they already did: "I've already tried restarting", "j'ai cliqué
# sur « mot de passe oublié » à trois reprises", "J'ai aussi essayé depuis un autre navigateur".
_TRIED = re.compile(r"[^.!?\n]*\b(?:already|tried|essaye|deja|reprises)\b[^.!?\n]*")
# A sentence telling the customer what to do: an imperative ("cliquez", "pensez à", "please try",
# "make sure"), with no word of the brand doing it ("nous vous avons renvoyé un lien" is an act).
_INSTRUCTS = re.compile(r"(?<!vous )\b(?!(?:chez|assez)\b)\w{3,}ez\b|\b(?:please|try|make sure|ensure)\b")


@lru_cache(maxsize=4096)
def _tried_keys(request: str, language: str, names: tuple[str, ...], formulas: frozenset[str],
                concepts: Concepts) -> frozenset[str]:
    """The keys of the request's sentences that say what the customer already tried."""
    folded = fold(request)
    # (not a question: "si le colis est déjà parti, comment le rediriger ?" reports no attempt)
    tried = "\n".join(m.group() for m in _TRIED.finditer(folded)
                      if folded[m.end():m.end() + 1] != "?" and not m.group().lstrip().startswith(("si ", "if ")))
    return _request_base(tried, language, names, formulas, concepts)[0] if tried else frozenset()


@lru_cache(maxsize=65536)
def _fill_words(value: str) -> frozenset[str]:
    return frozenset(t for t in TOKEN_RE.findall(fold(value)) if (len(t) >= 3 and not is_stopword(t)) or t.isdigit())


@lru_cache(maxsize=65536)
def _fill_keys(value: str, language: str, concepts: Concepts) -> frozenset[str]:
    """The drawn value's words as written and as the reply's keys read them (lemma or concept):
    "set of mugs" is met by "your damaged mugs" (lemma "mug")."""
    words = _fill_words(value)
    single = concepts.single(language)
    if not any(map(str.isalpha, words)):
        # An order number, a date, an amount: a token with a digit is its own lemma, no view needed
        # (most drawn values are new strings: the cache above rarely holds them).
        return words | frozenset(k for k in {single.get(w, w) for w in words} if len(k) >= 3 or k.isdigit())
    view = lemma_view(value, language)
    lemmas = {single.get(lem, lem) for w, lem in zip(view.words, view.lemmas, strict=True) if w in words}
    return words | frozenset(k for k in lemmas if len(k) >= 3 or k.isdigit())


def _request(request: str, language: str, names: tuple[str, ...], formulas: frozenset[str],
             concepts: Concepts, fills: dict[str, str],
             base: tuple[frozenset[str], frozenset[tuple[str, ...]], frozenset[str]] | None = None) -> _Request:
    # The scenario's text is shared by every probe (cached); only the drawn values are added.
    keys, ngrams, said = base or _request_base(request, language, names, formulas, concepts)
    fill_of = {w: k for k, v in sorted(fills.items()) for w in _fill_keys(v, language, concepts)}
    fill_words = frozenset(fill_of)
    return _Request(keys | fill_words, ngrams, fill_words, fill_of, said)


@dataclass(frozen=True)
class _Prepared:
    """What score_reply reads of a scenario's request for one rubric, channel and persona: the
    same for every reply to it (the drawn values apart), so worked out once, not per reply."""

    names: tuple[str, ...]
    request: str  # the request text scored against (the scenario's, placeholders blanked)
    base: tuple[frozenset[str], frozenset[tuple[str, ...]], frozenset[str]]  # _request_base
    asked_only: frozenset[str]  # _question_keys
    tried: frozenset[str]  # _tried_keys
    situation: frozenset[str]  # _situation, with the request's keys (the drawn values apart)


_PREPARED: dict[tuple, tuple[tuple, Rubric, _Prepared]] = {}


def _prepared(fields: tuple, rubric: Rubric, channel: str, persona_name: str, request_text: str) -> _Prepared:
    key = (id(fields), id(rubric), channel, persona_name, request_text)
    hit = _PREPARED.get(key)
    if hit is not None and hit[0] is fields and hit[1] is rubric:
        return hit[2]
    _sid, scenario_lang, body, short, kps = fields
    names = _names(persona_name)
    if not request_text:
        request_text = _template(short if channel == "x" and short else body)
    args = (scenario_lang, names, rubric.vocabulary, rubric.concepts)
    base = _request_base(request_text, *args)
    prep = _Prepared(names, request_text, base, _question_keys(request_text, *args), _tried_keys(request_text, *args),
                     _situation(_template(body), kps, *args) | base[0])
    if len(_PREPARED) > 4096:
        _PREPARED.clear()
    _PREPARED[key] = (fields, rubric, prep)
    return prep


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
    channel: str = "email",
) -> ScoreResult:
    """Return the rubric's points for `text` as an answer to `scenario`, with evidence spans.

    `channel` (email, webform, x) selects the rubric's per-channel rules (politeness on X) and
    which key points the request asked (a tweet asks less than an e-mail).
    """
    fields = _scenario_fields(scenario)
    _sid, scenario_lang, body, short, kps = fields
    fills = {k: str(v) for k, v in (fills or {}).items() if v not in (None, "")}
    notes: list[str] = []
    text = text or ""
    if "<br" in text or "<BR" in text:
        # A web form's answer pasted with its HTML line breaks: each is a line break, padded to the
        # same length so that every span's offsets stay those of the text as received.
        text = _BR.sub(lambda m: "\n" + " " * (len(m.group()) - 1), text)
    part = scored_part(text)
    if not part.strip():
        notes.append("the reply holds only quoted history: nothing of the brand's own to score"
                     if text.strip() else "empty reply: nothing to score")
    if len(part) > MAX_SCORED_CHARS:
        part = part[:MAX_SCORED_CHARS]
        notes.append(f"long reply: the first {MAX_SCORED_CHARS:,} characters are scored")
    lowered, folded, view = reply_view(part, language or None, default=scenario_lang)
    reply_lang = view.language
    mention = _MENTIONS.match(part)
    # (the words after the mentions: from the first token starting at or after their end)
    if part.strip() and not any(map(str.isalpha, view.words[bisect_left(view.spans, (mention.end(),)):]
                                    if mention else view.words)):
        notes.append("no words to score (emoji or symbols only)")
    mixed = detect_mix(view.words, view.wordset, view.mix_counts)
    if mixed:
        notes.append(f"mixed languages ({mixed}): read as {reply_lang}")
    lex = rubric.lexicon(reply_lang, scenario_lang)
    lex.scan(folded, view.records)  # every phrase set's places in one pass: the rules' questions read them
    prep = _prepared(fields, rubric, channel, persona_name, request_text)
    names, request_text = prep.names, prep.request
    req = _request(request_text, scenario_lang, names, rubric.vocabulary, rubric.concepts, fills, prep.base)
    single = rubric.concepts.single(reply_lang)
    # The lemma's concept, else the word's as written ("envoyé" is listed; its lemma "envoyer" may
    # not be), else the lemma itself: single.get(lemma, single.get(word, lemma)), mostly in C.
    keys = view.concept_keys(single)  # per token: single.get(lemma, single.get(word, lemma))
    extra: dict[int, str] = {}
    for idx, concept in rubric.concepts.phrases(reply_lang, view.lemmas):
        extra[idx.start] = concept
        # The words of a phrase concept are not read on their own as well: in "merci pour votre
        # retour" the "retour" is feedback, not a parcel sent back.
        for i in idx:
            keys[i] = concept if i == idx.start else ""
    if "merci" in view.wordset:
        # "Merci de nous préciser votre numéro" asks; it does not thank (nor meet a thanks key point).
        for i in [i for i, w in enumerate(view.words) if w == "merci"]:
            if instruction_thanks(view.words, i):
                keys[i] = ""
    if fills:
        _passed_on(view.words, keys, fills)
    lay = layout_of(part, folded, lex, channel, signature, names, view.records)

    masks: list[list[int]] = []
    # What only the request's questions hold: a statement that answers "is that price fixed?" with
    # "the price is fixed" uses the question's words, and echoes nothing the customer told.
    asked_only = prep.asked_only

    def echo(a: int, b: int) -> bool:
        # A sentence mostly made of the request's words, with no word of the brand's own doing.
        # Words, not concepts: "shipped with Royal Mail, should arrive tomorrow" answers "which
        # courier, when will it arrive" with the same concepts and other words.
        if b - a < 6 or not _FIRST_PERSON.isdisjoint(view.words[a:b]) or \
                not _DONE_OR_TO_COME.isdisjoint(view.words[a:b]):
            return False  # "J'ai remplacé l'adresse..." is the brand acting, not an echo
        if any(w[:1].isdigit() and w not in req.said for w in view.words[a:b]):
            return False  # a figure the customer never gave ("within 5 working days") is news
        if not masks:  # content words, and those shared with the request: once per reply
            content = list(map(_CONTENT.__getitem__, keys))  # 1 if len(k) >= 4 and not a stopword, in C
            masks.extend((content, [c if (w in req.said or lem in req.said) and k not in asked_only else 0
                                    for c, w, lem, k in zip(content, view.words, view.lemmas, keys, strict=True)]))
        n = sum(masks[0][a:b])
        return n >= 6 and sum(masks[1][a:b]) >= 0.8 * n

    reading = read(part, folded, view, lex.sets["reformulation"], lex.sets["topic_markers"], echo)
    evidence: dict[str, list[Span]] = {c: [] for c in rubric.criteria}
    points: dict[str, float] = {}
    share = 0.0
    procedure = False
    if "relevance" in rubric.criteria:
        promises = list(lex.sets["promise"].finditer(folded, view.wordset))
        deflections = list(lex.sets["channel_deflection"].finditer(folded, view.wordset))
        procedure = bool(deflections) and all(
            _done_there(view.words[slice(*reading.sentence_tokens[_sentence_at(reading, m.start())])])
            for m in deflections)
        tried = prep.tried
        points["relevance"], share = _relevance(part, reading, keys, extra, kps, scenario_lang, rubric, channel,
                                                lay, evidence["relevance"], notes, promises, deflections, tried)
    # Reformulation markers serve two criteria (a marker earns reformulation and is not empathy):
    # scan the reply for them once.
    markers = list(lex.sets["reformulation"].finditer(folded, view.wordset)) \
        if "reformulation" in rubric.criteria or "empathy" in rubric.criteria else []
    if "reformulation" in rubric.criteria:
        points["reformulation"] = _reformulation(part, folded, reading, keys, req, lex, rubric, channel, lay,
                                                 evidence["reformulation"], markers, asked_only)
    if "empathy" in rubric.criteria:
        situation = prep.situation | req.fill_words  # the case's concepts and the request's keys, with the drawn values
        points["empathy"] = _empathy(part, folded, reading, keys, situation, lex, rubric, channel, lay,
                                     evidence["empathy"], markers)
    if "personalisation" in rubric.criteria:
        points["personalisation"] = personalisation(part, folded, lay, names, fills, rubric, channel,
                                                     evidence["personalisation"], view.wordset)
    if "politeness" in rubric.criteria:
        points["politeness"] = politeness(part, folded, view, lay, lex, rubric, channel, evidence["politeness"])
    _impersonal(points, evidence, rubric, channel)
    penalise(part, folded, view, lay, lex, fills, req.keys, share, reply_lang, scenario_lang,
             rubric, points, evidence, notes, deflects=not procedure)
    if share == 0.0 and lex.sets["acknowledgement"].search(folded, view.wordset):
        notes.append("reads like an acknowledgement: no key point of the request is answered")
    criteria = {c: round(min(w, max(0.0, points.get(c, 0.0))), 2) for c, w in _weights(rubric)}
    return ScoreResult(round(sum(criteria.values()), 2), criteria, evidence, reply_lang, notes)


# "Priya has seen it", "Karim les a bien reçus", "Priya now has your message": the person the
# customer praised has the message, so the thanks were passed on.
_RECEIVED = frozenset({"seen", "read", "received", "got", "vu", "lu", "recu", "recus", "recue", "recues", "eu"})
_HOLDS = frozenset({"has", "have"})


def _passed_on(words: list[str], keys: list[str], fills: dict[str, str]) -> None:
    people = {fold(v) for v in fills.values() if " " not in v.strip() and fold(v.strip()) in FIRST_NAMES}
    if not people:
        return
    for i, w in enumerate(words):
        if w not in people:
            continue
        after = words[i + 1:i + 5]
        for j, x in enumerate(after):
            if x in _RECEIVED or (x in _HOLDS and j + 1 < len(after) and after[j + 1] in ("your", "it", "this")):
                keys[i + 1 + j] = "forward"
                break


def _impersonal(points: dict[str, float], evidence: dict[str, list[Span]], rubric: Rubric, channel: str) -> None:
    """A reply that names nothing of this customer (no name, no detail of the file, nobody signing)
    and acknowledges nothing of what they live is a template: what it answers is true of every
    customer who writes, between the guide's full credit and its half for "true of many, not said
    of this one". Its relevance keeps the rubric's `template` share (1 keeps it all; X sets 1: a
    tweet is expected to be short and impersonal)."""
    if points.get("relevance", 0.0) <= 0 or "personalisation" not in points or "empathy" not in points:
        return
    share = float(rubric.rule("relevance", channel).get("template", 1.0))
    if share >= 1.0 or points["empathy"] > 0 or any(s.points > 0 for s in evidence["personalisation"]):
        return
    lost = points["relevance"] * (1 - share)
    points["relevance"] -= lost
    evidence["relevance"].append(Span(0, 0, "", -round(lost, 2), "a template: nothing of this customer named "
                                      "(name, file, signer) and nothing of their situation acknowledged"))


_WEIGHTS: dict[int, tuple[Rubric, tuple[tuple[str, float], ...]]] = {}


def _weights(rubric: Rubric) -> tuple[tuple[str, float], ...]:
    """(criterion, maximum points) in the rubric's order: read once per rubric, not per reply."""
    hit = _WEIGHTS.get(id(rubric))
    if hit is None or hit[0] is not rubric:
        if len(_WEIGHTS) > 64:
            _WEIGHTS.clear()
        hit = _WEIGHTS[id(rubric)] = (rubric, tuple((c, rubric.weight(c)) for c in rubric.criteria))
    return hit[1]


class _ContentWords(dict):
    """key -> 1 when it is a content word (4 letters or more, not a function word), else 0."""

    def __missing__(self, key: str) -> int:
        if len(self) > 200_000:
            self.clear()
        self[key] = value = 1 if len(key) >= 4 and not is_stopword(key) else 0
        return value


_CONTENT = _ContentWords()


@lru_cache(maxsize=4096)
def _names(persona_name: str) -> tuple[str, ...]:
    return tuple(fold(n) for n in persona_name.split() if len(n) > 1)


@lru_cache(maxsize=512)
def _template(body: str) -> str:
    return re.sub(r"\{\w+\}", " ", body)


def _done_there(words: list[str]) -> bool:
    """A passive future says what is done to the customer's case: "il sera échangé", "it will be
    exchanged" (not "nos vendeurs pourront vous conseiller", "our team will be happy to help")."""
    for i, w in enumerate(words[:-1]):
        nxt = words[i + 1]
        if (w in ("sera", "seront") and nxt[-1:] in "eé" and len(nxt) > 3 and nxt not in ("heureuse", "ravie")) or \
                (w == "will" and nxt == "be" and i + 2 < len(words) and words[i + 2].endswith("ed")):
            return True
    return False


_COURTESY_KEYS = frozenset({"apology", "thanks"})
_WHEN = re.compile(r"\b(?:date|dates|delai|delais|time frame|timeframe|timeline|when|quand|how long)\b")


@lru_cache(maxsize=4096)
def _asks_when(label: str) -> bool:
    """Whether a key point's label asks when (read once per label, not per reply)."""
    return _WHEN.search(fold(label)) is not None
# Words that tell a time without a digit (a weekday or "demain" is the day_date concept).
_TIME_WORDS = frozenset({"jour", "jours", "day", "days", "semaine", "semaines", "week", "weeks", "heure", "heures",
                         "hour", "hours", "mois", "month", "months", "minute", "minutes", "janvier", "fevrier",
                         "mars", "avril", "mai", "juin", "juillet", "aout", "septembre", "octobre", "novembre",
                         "decembre", "january", "february", "march", "april", "june", "july", "august",
                         "september", "october", "november", "december", "weekend", "week-end", "h"})


def _tells_a_time(reading: Reading, keys: list[str], si: int) -> bool:
    a, b = reading.sentence_tokens[si]
    words = reading.view.words
    return any(words[t][:1].isdigit() or words[t] in _TIME_WORDS or keys[t] == "day_date" for t in range(a, b))


def _sentence_at(reading: Reading, offset: int) -> int:
    # Sentences are in order and never overlap: the last one starting at or before `offset`
    # (bisection; (offset, inf) sorts after every (offset, end)) holds it, or none does.
    sentences = reading.sentences
    i = bisect_right(sentences, (offset, _AFTER_ALL)) - 1
    return i if i >= 0 and offset < sentences[i][1] else -1


_AFTER_ALL = float("inf")


def _asked(compiled: Any, channel: str) -> dict[str, float]:
    """Return the weights of the key points the request asked on `channel`."""
    return {k: w for k, w in compiled.weights.items()
            if compiled.asked_on[k] is None or channel in compiled.asked_on[k]}


def _relevance(part: str, reading: Reading, keys: list[str], extra: dict[int, str], kps: tuple,
               scenario_lang: str, rubric: Rubric, channel: str, lay: Layout, out: list[Span],
               notes: list[str], promises: list, deflections: list = (),
               tried: frozenset[str] = frozenset()) -> tuple[float, float]:
    rule = rubric.rule("relevance", channel)
    weight = float(rule["weight"])
    compiled = compile_key_points(kps, scenario_lang, rubric.concepts)
    notes.extend(compiled.notes)
    asked = _asked(compiled, channel)
    total_w = sum(asked.values())
    if total_w <= 0:
        return 0.0, 0.0
    index, sigs = compiled.index, compiled.signatures
    folded = reading.view.folded  # the reply's folded text
    best: dict[str, tuple[float, int, int, str]] = {}
    granted: set[str] = set()  # key points asserted in full, not by a "no"
    spans = reading.view.spans
    promised = {_sentence_at(reading, m.start()) for m in promises} if promises else set()
    # A question to the customer asks; it asserts nothing ("pour vous répondre sur la compatibilité,
    # pourriez-vous m'indiquer le modèle ?", "have you tried reinstalling the app?").
    questions = {si for si, (s, e) in enumerate(reading.sentences) if part[s:e].rstrip().endswith("?")} \
        if "?" in part else set()
    # The guide: a template of the steps the customer says they already took answers nothing.
    repeated: set[int] = set()
    if tried:
        for si, (a, b) in enumerate(reading.sentence_tokens):
            s, e = reading.sentences[si]
            if a < b and _FIRST_PERSON.isdisjoint(reading.view.words[a:b]) and \
                    _INSTRUCTS.search(reading.view.words and " ".join(reading.view.words[a:b])):
                repeated.add(si)
    # A sentence that sends the customer elsewhere ("le mieux est de passer voir nos vendeurs en
    # magasin", "give our sales team a call") names the topic; it answers nothing.
    # A channel only named ("on vous envoie le lien en DM", "by phone") may carry the answer: only an
    # invitation to go or call elsewhere deflects the sentence.
    deflecting = {si for m in deflections
                  if (si := _sentence_at(reading, m.start())) >= 0 and
                  (_INVITES.search(m.group()) or _ONLY_THERE.search(folded[slice(*reading.sentences[si])]))} \
        if deflections else set()
    # ...unless the sentence says what the brand does once the customer is there ("rendez-vous en
    # magasin avec la facture, où il sera échangé immédiatement"): that is the procedure asked for.
    deflecting = {si for si in deflecting if not _done_there(reading.view.words[slice(*reading.sentence_tokens[si])])}
    # The customer sent to look the answer up themselves ("nous vous invitons à consulter notre site",
    # "full details are available in our Terms", "vous trouverez les informations sur la fiche
    # produit"): the sentence names the topic and answers nothing, unless the place is the answer
    # asked for (a key point about the website itself: a workaround on the web).
    # (A sentence's place in the folded text reads as the sentence folded alone for these ASCII
    # patterns: it lies between white space. None in the whole text, none in any sentence.)
    looked_up = {si for si, (s, e) in enumerate(reading.sentences)
                 if _SELF_SERVICE.search(folded[s:e]) and _LOOK_IT_UP.search(folded[s:e])} \
        if some_line_matches(_SELF_SERVICE, reading.view, folded) else set()
    # The guide's full credit is concrete where it can be: a key point that asks when ("gives the
    # expected delivery date", "un délai de livraison", "a time frame") is met in full only by a
    # sentence that tells a time ("livraison jeudi", "within 5 days"); "it is being delivered by
    # Royal Mail", "le correctif sera dans la prochaine mise à jour" are on the point, vaguely.
    timed = {kp for kp in asked if _asks_when(compiled.labels[kp])}
    # One pass finds the tokens that belong to some signature; sentences only look at those.
    at = [(t, keys[t]) for t in compress(range(len(keys)), map(index.__contains__, keys))]  # found in C
    at += [(t, c) for t, c in extra.items() if c in index]
    if not at:
        at_by_sentence: dict[int, list[tuple[int, str]]] = {}
    else:
        at.sort()
        at_by_sentence = {}
        cuts = [a for a, _b in reading.sentence_tokens]
        for t, k in at:
            at_by_sentence.setdefault(bisect_right(cuts, t) - 1, []).append((t, k))
    for si, found in at_by_sentence.items():
        a, b = reading.sentence_tokens[si]
        if a >= b or spans[a][0] >= lay.body_end:
            continue
        first: dict[str, int] = {}
        for t, k in found:
            if k not in first:
                first[k] = t
        hits: dict[int, int] = {}
        for k in first:
            for sig in index[k]:
                hits[sig] = hits.get(sig, 0) + 1
        for sig_id, n in hits.items():
            sig = sigs[sig_id]
            if n < sig.needed or sig.kp not in asked:
                continue
            toks = [first[k] for k in sig.keys if k in first]
            flags = 0
            all_cond = True
            for t in toks:
                f = reading.flags_of(t)
                flags |= f & ~COND
                all_cond = all_cond and bool(f & COND)
            if all_cond:
                flags |= COND
            if flags & RESTATE and not _COURTESY_KEYS.isdisjoint(sig.keys):
                # An apology or a thanks is the brand's own act, never the customer's words told
                # back: "so sorry about your air purifier", "thank you for your message about Priya".
                flags &= ~RESTATE
            credit, why = credit_of(flags, sig.kp in compiled.answers_no)
            if si in questions and credit > 0 and not _ASKS.search(compiled.labels[sig.kp]):
                credit, why = 0.0, "in a question to the customer, not an answer"
            elif si in promised and credit > 0:
                credit, why = 0.0, "in a promise to come back later, not an answer"
            elif si in repeated and credit > 0 and all(k in tried for k in sig.keys if k in first):
                credit, why = 0.0, "tells the customer to do what they say they already tried"
            elif si in looked_up and credit > 0 and "website" not in sig.keys:
                credit, why = 0.0, "sends the customer to look it up themselves, not an answer"
            elif si in deflecting and credit > 0:
                credit, why = 0.0, "in a sentence that sends the customer elsewhere, not an answer"
            elif credit >= 1.0 and sig.kp in timed and not _tells_a_time(reading, keys, si):
                credit, why = 0.5, "a date or time frame asked, none given (vague: half credit)"
            s, e = spans[min(toks)][0], spans[max(toks)][1]
            prev = best.get(sig.kp)
            if prev is None or credit > prev[0]:
                best[sig.kp] = (credit, s, e, f"{why}; {sig.source}")
                if credit >= 1.0 and not flags & NEG:
                    granted.add(sig.kp)
    missing = [(w, kp) for w, kp in compiled.fuzzy if kp in asked and kp not in best]
    if missing:
        # Typos rarely hit the first two letters: compare each pattern only with the reply's
        # words that start like it, instead of with the whole reply.
        words = reading.view.words
        wanted = {p[:2] for p, _kp in missing}
        by_prefix: dict[str, list[int]] = {}
        for i in [i for i, w in enumerate(words) if len(w) >= 5 and w[:2] in wanted]:
            if spans[i][0] < lay.body_end:
                by_prefix.setdefault(words[i][:2], []).append(i)
        cutoff = float(rule.get("fuzzy_cutoff", 88))
        for pattern, kp in missing:
            if kp in best:
                continue
            for i in by_prefix.get(pattern[:2], ()):
                if fuzz.ratio(pattern, words[i], score_cutoff=cutoff):
                    credit, why = credit_of(reading.flags_of(i), kp in compiled.answers_no)
                    best[kp] = (credit, spans[i][0], spans[i][1], f"{why}; close to {pattern!r}")
                    break
    for kp, other in compiled.moot_if.items():
        # The guide: a conditional question made moot is answered. "If it is too late, what can I
        # do?" is answered by "the address is changed" (the key point it hangs on, granted).
        if kp in asked and other in granted and best.get(kp, (0.0,))[0] < 1.0:
            _c, s, e, _w = best[other]
            best[kp] = (1.0, s, e, f"made moot by the answer to {compiled.labels[other]!r} (the guide: "
                                   "a conditional question made moot is answered)")
    got = 0.0
    share = 0.0
    for kp, (credit, s, e, why) in sorted(best.items(), key=lambda kv: kv[1][1]):
        pts = weight * credit * asked[kp] / total_w
        share += credit * asked[kp] / total_w
        if credit > 0:
            got += pts
        out.append(make_span(part, s, e, pts, f"key point {compiled.labels[kp]!r}: {why}"))
    return got, share


def _reformulation(part: str, folded: str, reading: Reading, keys: list[str], req: Any, lex: Lexicon,
                   rubric: Rubric, channel: str, lay: Layout, out: list[Span], markers: list,
                   asked_only: frozenset[str] = frozenset()) -> float:
    rule = rubric.rule("reformulation", channel)
    weight = float(rule["weight"])
    spans, words = reading.view.spans, reading.view.words
    # The first token at or after each offset (token starts are sorted): a bisection, not a scan.
    start_tok = bisect_left(reading.starts, lay.body_start)
    end_tok = bisect_left(reading.starts, lay.body_end)
    opening_end = start_tok + int(rule.get("opening_tokens", 40))
    seen: dict[str, int] = {}
    for t in range(start_tok, end_tok):
        k = keys[t]
        if k in req.keys and k not in seen:
            seen[k] = t
    late = float(rule.get("late_weight", 0.5))
    common = float(rule.get("word_weight", 0.4))
    asked_weight = float(rule.get("question_word_weight", 1.0))
    details: dict[str, float] = {}  # a drawn value (product, order number...) counts once
    eff = 0.0
    for k, t in seen.items():
        where = 1.0 if t < opening_end else late
        if k in req.fill_of:
            details[req.fill_of[k]] = max(details.get(req.fill_of[k], 0.0), where)
        elif k[:1].isdigit():
            eff += where
        elif k in asked_only and not reading.flags_of(t) & RESTATE:
            eff += where * common * asked_weight
        else:
            eff += where * common
    eff += sum(details.values())
    got = 0.0
    m = markers[0] if markers else lex.sets["topic_markers"].search(folded, reading.view.wordset)
    if m and m.start() < lay.body_end:
        pts = weight * float(rule.get("marker", 0.15))
        got += pts
        out.append(make_span(part, m.start(), m.end(), pts, "reformulation marker"))
    if eff >= float(rule.get("specifics_min", 2)):
        pts = min(weight - got, weight * float(rule.get("per_specific", 0.1)) * eff)
        # Pasting the customer's sentence back shows it was read, not understood: look at the
        # sentences that restate, else at the opening.
        restating = [i for i, f in enumerate(reading.sentence_flags) if f & RESTATE]
        if restating:
            window = [w for i in restating for w in words[slice(*reading.sentence_tokens[i])]]
        else:
            window = words[start_tok:min(end_tok, opening_end + 20)]
        covered: set[int] = set()
        p = [_PERSON.get(x, x) for x in window]
        ngrams = req.ngrams
        # each 5-word run of the window, made in C by zip
        for i in [i for i, run in enumerate(zip(p, p[1:], p[2:], p[3:], p[4:], strict=False)) if run in ngrams]:
            covered.update(range(i, i + 5))
        if len(window) >= 10 and len(covered) >= float(rule.get("echo_share", 0.35)) * len(window):
            cap = weight * float(rule.get("echo_cap", 0.5)) - got
            if pts > cap:
                pts = max(0.0, cap)
                out.append(make_span(part, spans[start_tok][0], spans[min(end_tok, opening_end) - 1][1], 0.0,
                                     "the request pasted back nearly word for word: capped"))
        got += pts
        each = pts / len(seen)
        for k, t in seen.items():
            s, e = spans[t]
            where = "near the opening" if t < opening_end else "later in the reply"
            out.append(make_span(part, s, e, each, f"restates the customer's {k!r} {where}"))
    return got


# Warmth cues that are wishes: warm only when they name what the customer is living.
_WISHES = ("nous vous souhait", "je vous souhait", "vous souhait", "we wish", "i wish")
_GOOD_DAY = re.compile(r"\W*(?:\w+\W+){0,3}?(?:journee|soiree|semaine|week-?end|fin de (?:journee|semaine)|day|evening|week"
                       r"|weekend)\b")
# Concepts that make any sentence sympathetic: they say nothing of this customer's situation.
_NOT_SITUATION = frozenset({"apology", "thanks", "delighted"})


@lru_cache(maxsize=512)
def _situation(body: str, kps: tuple, language: str, names: tuple[str, ...], formulas: frozenset[str],
               concepts: Concepts) -> frozenset[str]:
    """Return the concepts of the customer's situation: the scenario's full request (a tweet asks
    less but the customer lives the same case) and what its key points are about ("S'excuse du
    retard": the delay), so "navrés pour ce retard" is tied to the case whatever the channel."""
    keys = set(_request_base(body, language, names, formulas, concepts)[0])
    for kp in kps:
        keys.update(k for k in content_keys(kp[1], language, concepts) if len(k) >= 4)
    return frozenset(keys - _NOT_SITUATION)


def _empathy(part: str, folded: str, reading: Reading, keys: list[str], situation: frozenset[str], lex: Lexicon,
             rubric: Rubric, channel: str, lay: Layout, out: list[Span], marker_matches: list) -> float:
    rule = rubric.rule("empathy", channel)
    weight = float(rule["weight"])
    words = reading.view.wordset
    markers = [m.span() for m in marker_matches]
    cues = [m for m in lex.sets["empathy"].finditer(folded, words)]
    cues += [m for m in lex.sets["warmth"].finditer(folded, words)]
    by_sentence: dict[int, re.Match[str]] = {}
    sent = reading.sentences
    starts = [s for s, _e in sent]
    for m in sorted(cues, key=lambda m: m.start()):
        if m.start() >= lay.body_end or any(s <= m.start() < e for s, e in markers):
            continue  # "si je comprends bien" is a reformulation marker, not empathy
        si = bisect_right(starts, m.start()) - 1
        if si >= 0 and m.start() < sent[si][1]:
            by_sentence.setdefault(si, m)
    if not by_sentence:
        return 0.0
    specific_pts = float(rule.get("specific", 0.45)) * weight
    more_pts = float(rule.get("more", 0.15)) * weight
    formula_pts = float(rule.get("formula", 0.15)) * weight
    formula_cap = float(rule.get("formula_cap", 0.3)) * weight
    bonus = float(rule.get("bonus", 0.15)) * weight
    got = formulas = 0.0
    specifics = 0
    for si, m in sorted(by_sentence.items()):
        a, b = reading.sentence_tokens[si]
        s, e = sent[si]
        tied = any(keys[t] in situation and len(keys[t]) >= 4 for t in range(a, b)) or \
            lex.sets["consequence"].find(folded, words, s, e) is not None or \
            lex.sets["ownership"].find(folded, words, s, e) is not None
        generic = lex.sets["empathy_formula"].find(folded, words, s, e) is not None
        if m.group().startswith(_WISHES) and _GOOD_DAY.match(folded, m.end()):
            continue  # "nous vous souhaitons une bonne journée" is a closing; a wish for the move is warmth
        if tied and not (generic and not _tied_strongly(keys, a, b, situation)):
            pts = specific_pts if specifics == 0 else more_pts
            specifics += 1
            why = "sympathy tied to this customer's situation"
        else:
            pts = min(formula_pts, formula_cap - formulas)
            formulas += pts
            why = "a formula that could go to anybody"
        if pts > 0:
            got += pts
            out.append(make_span(part, m.start(), e, pts, why))
    for cat, why in (("ownership", "the brand owns the fault"), ("consequence", "names what it means for the customer")):
        m = lex.sets[cat].search(folded[:lay.body_end], words)
        if m and got > 0:
            got += bonus
            out.append(make_span(part, m.start(), m.end(), bonus, why))
    return min(weight, got)


def _tied_strongly(keys: list[str], a: int, b: int, situation: frozenset[str]) -> bool:
    return sum(1 for t in range(a, b) if keys[t] in situation and len(keys[t]) >= 4) >= 2


def forget_lines(rubric: Rubric | None = None) -> None:
    """Drop every line the scorer remembers (tokens, lemmas, phrase places, readings, closing
    blocks, signers) and `rubric`'s lexicons' phrase places: memory back, and the next replies
    read as on a fresh start. Results never depend on what is remembered (a test scores replies
    in two orders, forgetting in between)."""
    from . import layout, line_reading, text

    text._LINES.clear()
    for cache in text._LEMMA_CACHE.values():
        cache.clear()
    line_reading._CACHES.clear()
    layout._TAIL_CACHE.clear()
    layout._PERSON_CACHE.clear()
    layout._BLOCK_CACHE.clear()
    for lex in (rubric.lexicons.values() if rubric is not None else ()):
        if lex.index is not None:
            lex.index._lines.clear()
            lex.index._last = None


__all__ = ["RESTATE", "ScoreResult", "Span", "forget_lines", "score_reply"]

