"""score_reply: each criterion and negative signal, evidence spans, determinism."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from qualibench.campaign.spec import KeyPoint, ScenarioSpec
from qualibench.scorer.engine import score_reply
from qualibench.scorer.rubric import load_rubric
from qualibench.scorer.text import (
    digits_as_zero,
    fold,
    lemma_view,
    lower_and_fold,
    reply_view,
    scored_part,
)

SCENARIOS = Path(__file__).parent / "fixtures" / "scoring" / "scenarios"


@pytest.fixture(scope="module")
def rubric():
    return load_rubric()


@pytest.fixture(scope="module")
def delivery():
    return yaml.safe_load((SCENARIOS / "fr-delivery-late.yaml").read_text())


@pytest.fixture(scope="module")
def washer():
    return yaml.safe_load((SCENARIOS / "en-product-question.yaml").read_text())


def test_fold_keeps_offsets_and_folds_accents_and_decimal_commas():
    text = "Remboursé : 49,90 € — DÉSOLÉE"
    folded = fold(text)
    assert len(folded) == len(text)
    assert folded == 'rembourse : 49.90 € - desolee'


def test_lemma_view_maps_back_to_the_original_text():
    text = "Votre colis a été expédiée hier."
    view = lemma_view(text, "fr")
    i = view.joined.index("expedier")
    start, end = view.span_of(i, i + len("expedier"))
    assert text[start:end] == "expédiée"


def test_quoted_history_is_not_scored():
    text = "Bonjour,\nVoici la réponse.\n\nLe 3 mars 2026, Claire a écrit :\n> désolé désolé"
    assert scored_part(text) == "Bonjour,\nVoici la réponse."


def test_every_evidence_span_cites_the_reply_text(rubric, delivery):
    text = ("Bonjour Madame Martin,\n\nVous nous indiquez que votre commande CMD-482913 n'est pas arrivée. "
            "Toutes nos excuses. Le colis a été expédié hier et sera livré le 14/03.\n\nCordialement,\nJulien")
    res = score_reply(text, delivery, rubric, persona_name="Claire Martin", fills={"order_number": "CMD-482913"})
    spans = [s for group in res.evidence.values() for s in group]
    assert spans
    for s in spans:
        assert text[s.start:s.end] == s.text
    for crit, pts in res.criteria.items():
        assert 0 <= pts <= rubric.weight(crit)
    assert res.total == pytest.approx(sum(res.criteria.values()))
    assert res.criteria["personalisation"] == 10  # name, order number and a named signer


def test_a_full_answer_beats_an_acknowledgement(rubric, delivery):
    good = ("Bonjour Claire,\nVotre colis a été expédié hier, il vous sera livré jeudi. Si vous préférez, "
            "nous pouvons annuler la commande et vous rembourser.\nCordialement,\nJulien")
    ack = "Bonjour,\nNous avons bien reçu votre message et vous répondrons dans les meilleurs délais.\nLe service clients"
    g = score_reply(good, delivery, rubric)
    a = score_reply(ack, delivery, rubric)
    assert g.criteria["relevance"] > 25 and a.criteria["relevance"] == 0
    assert any("acknowledgement" in n for n in a.notes)


def test_key_points_match_lemmas_accents_and_typos(rubric, delivery):
    base = score_reply("Bonjour, merci.", delivery, rubric).criteria["relevance"]
    for variant in ("Nous allons REMBOURSER la commande.", "La commande sera remboursee.",
                    "Nous procédons au rembourssement."):
        res = score_reply(variant, delivery, rubric)
        assert res.criteria["relevance"] > base, variant
        assert any("remboursement" in s.why or "L'option" in s.why for s in res.evidence["relevance"])


def test_numbers_are_recognised_whatever_the_decimal_mark(rubric, washer):
    for text in ("It is 59.5 cm.", "It is 59,5 cm."):
        res = score_reply(text, washer, rubric, language="en")
        assert any(s.text.startswith("59") for s in res.evidence["relevance"]), text


def test_reformulation_needs_the_request_specifics_or_a_marker(rubric, washer):
    request = washer["body"].replace("{first_name}", "Claire").replace("{last_name}", "Martin")
    restated = "Hello,\nYou mentioned that your laundry space is exactly 60 cm wide and asked about installation."
    generic = "Hello,\nWe can help with that."
    r1 = score_reply(restated, washer, rubric, request_text=request)
    r2 = score_reply(generic, washer, rubric, request_text=request)
    # A marker and two specifics (60 cm, the laundry space): the guide's 6-11 band.
    assert 6 <= r1.criteria["reformulation"] <= 12 and r2.criteria["reformulation"] == 0


def test_premium_number_deflection_costs_relevance_with_a_negative_span(rubric, delivery):
    text = "Bonjour,\nPour le suivi de votre commande, appelez le 0 892 35 00 00 (0,35 €/min).\nCordialement"
    res = score_reply(text, delivery, rubric)
    negative = [s for s in res.evidence["relevance"] if s.points < 0]
    premium = [s for s in negative if "premium" in s.why]
    assert premium
    assert "0 892" in premium[0].text or "€/min" in premium[0].text
    assert not any("concrete" in s.why for s in res.evidence["relevance"])  # a per-minute price is no answer


def test_asking_again_for_the_order_number_costs_personalisation(rubric, delivery):
    text = "Bonjour Claire,\nMerci de nous communiquer votre numéro de commande.\nCordialement,\nJulien"
    with_fill = score_reply(text, delivery, rubric, persona_name="Claire Martin", fills={"order_number": "CMD-482913"})
    without = score_reply(text, delivery, rubric, persona_name="Claire Martin", fills={})
    assert with_fill.criteria["personalisation"] < without.criteria["personalisation"]
    assert any("asks again" in s.why for s in with_fill.evidence["personalisation"])


def test_marketing_push_costs_politeness(rubric, delivery):
    plain = "Bonjour,\nVotre colis est expédié.\nMerci, cordialement"
    pushy = plain.replace("expédié.", "expédié. Profitez de -20 % avec le code promo PRINTEMPS !")
    assert score_reply(pushy, delivery, rubric).criteria["politeness"] < score_reply(plain, delivery, rubric).criteria["politeness"]


def test_reply_in_another_language_is_detected_and_costs_relevance(rubric, delivery):
    fr = "Bonjour,\nVotre colis a été expédié et sera livré demain. Nous sommes désolés du retard."
    en = "Hello,\nYour parcel has been shipped and will be delivered tomorrow (tracking colis expédié)."
    rf, re_ = score_reply(fr, delivery, rubric), score_reply(en, delivery, rubric)
    assert rf.language == "fr" and re_.language == "en"
    assert any("request was in fr" in n for n in re_.notes)
    assert any(s.points < 0 and "reply in en" in s.why for s in re_.evidence["relevance"])


def test_generic_signature_earns_nothing_named_signature_does(rubric, delivery):
    generic = "Bonjour,\nVotre colis est expédié.\nCordialement,\nLe service clients"
    named = "Bonjour,\nVotre colis est expédié.\nCordialement,\nJulien Morel, service clients"
    assert score_reply(generic, delivery, rubric).criteria["personalisation"] == 0
    assert score_reply(named, delivery, rubric).criteria["personalisation"] == 3


def test_scenario_spec_and_dict_give_the_same_deterministic_result(rubric, delivery):
    spec = ScenarioSpec(
        id=delivery["id"], title=delivery["title"], kind=delivery["kind"], language="fr",
        channels=("email",), subject="", body=delivery["body"], short="",
        key_points=tuple(KeyPoint(k["id"], k["label"], tuple(k["patterns"]), float(k["weight"]))
                         for k in delivery["key_points"]),
        fills={}, content_hash="x",
    )
    text = "Bonjour Claire, toutes nos excuses : le colis est expédié, livraison prévue demain."
    a = score_reply(text, delivery, rubric, persona_name="Claire Martin")
    b = score_reply(text, spec, rubric, persona_name="Claire Martin")
    assert a.to_dict() == b.to_dict() == score_reply(text, delivery, rubric, persona_name="Claire Martin").to_dict()


def _fixture_replies() -> tuple[list[dict], dict[str, dict]]:
    data = yaml.safe_load((SCENARIOS.parent / "replies.yaml").read_text())
    scenarios = {p.stem: yaml.safe_load(p.read_text()) for p in SCENARIOS.glob("*.yaml")}
    return data["replies"], {s["id"]: s for s in scenarios.values()}


def _reshaped(text: str, i: int) -> str:
    # The shapes the line-by-line view must put together exactly: words split over lines, white
    # space around line breaks, blank lines, a character whose lowercase is longer ("İ").
    out = text.replace(". ", ".\n  " if i % 2 else ". \n").replace(" de ", " de\n")
    return out + ("\nİstanbul" if i % 5 == 0 else "\n\n")


def test_the_line_by_line_view_is_the_whole_text_view():
    """reply_view (each distinct line read once) gives what lower_and_fold and lemma_view give."""
    replies, _ = _fixture_replies()
    concepts = load_rubric().concepts
    texts = [r["text"] for r in replies] + [_reshaped(r["text"], i) for i, r in enumerate(replies)]
    for text in texts + texts:  # the second round reads every line from the cache
        for language in (None, "en"):
            lowered, folded, view = reply_view(text, language, default="fr")
            assert (lowered, folded) == lower_and_fold(text)
            ref = lemma_view(text, language, default="fr")
            assert (view.joined, view.spans, view.lemmas, view.words, view.language, view.folded) == \
                (ref.joined, ref.spans, ref.lemmas, ref.words, ref.language, ref.folded)
            single = concepts.single(view.language)  # the concept keys, remembered per line
            assert view.concept_keys(single) == ref.concept_keys(single)
            if view.records is not None:  # the lines and their shapes the other readers key on
                assert "\n".join(r.folded for r in view.records) == folded
                assert "\n".join(r.text for r in view.records) == text
                for r in view.records:
                    shape = r.shape or r
                    assert (shape.text, shape.folded) == (digits_as_zero(r.text), digits_as_zero(r.folded))


def test_a_texts_shape_writes_every_digit_re_reads_as_0():
    """text.digits_as_zero, by bytes for texts of characters below U+0100, is re.sub(r"\\d", "0")."""
    import re

    chars = [chr(c) for c in range(0x3000)]  # Latin, Arabic-Indic, Devanagari... digits among them
    texts = ["", "Réf. 4005", "CMD-482913 le 12/03", "49,90 € ٣ ۴", "x\xb2\xb9\xbc 7", *chars,
             *("".join(chars[i:i + 40]) for i in range(0, len(chars), 7))]
    for text in texts:
        assert digits_as_zero(text) == re.sub(r"\d", "0", text), repr(text)


def test_a_pattern_found_line_by_line_is_the_pattern_found_in_the_whole_text():
    """line_reading.some_line_matches (each distinct line searched once) is regex.search on the
    whole folded text, for a pattern that cannot take a line break and for one that can."""
    import re

    from qualibench.scorer.line_reading import _LINE_HITS, some_line_matches

    replies, _ = _fixture_replies()
    texts = [r["text"] for r in replies] + ["Voir notre site\ninternet", "la fiche\nproduit", "faq", ""]
    safe = re.compile(r"\b(?:site internet|fiche produit|faq|help cent(?:re|er)|votre)\b")
    wide = re.compile(r"\b(?:site\sinternet|fiche\sproduit)\b")  # \s takes a line break
    for text in texts + texts:  # the second round reads the lines remembered
        _lowered, folded, view = reply_view(text, None, default="fr")
        for regex in (safe, wide):
            assert some_line_matches(regex, view, folded) == (regex.search(folded) is not None)
    assert _LINE_HITS[id(safe)][1] and _LINE_HITS[id(wide)][1] is None  # lines kept for the safe one only


def test_the_same_replies_score_the_same_in_any_order(rubric):
    """Caches fill in whatever order replies come: every point, span and note is the same.

    The same replies with other digits (order numbers, amounts, "Réf. 7"): a line read once for
    its shape (text.digits_as_zero) is read first in one order, second in the other."""
    import re

    replies, scenarios = _fixture_replies()
    jobs = [(_reshaped(r["text"], i) if i % 3 == 0 else r["text"], scenarios[r["scenario"]], r.get("fills") or {},
             ("email", "webform", "x")[i % 3]) for i, r in enumerate(replies)]
    jobs += [(re.sub(r"\d", lambda m: str((int(m.group()) + 3) % 10), text) + f"\nRéf. {i}", scenario, fills, channel)
             for i, (text, scenario, fills, channel) in enumerate(jobs)]

    def run(order: list[int]) -> dict[int, dict]:
        return {i: score_reply(jobs[i][0], jobs[i][1], rubric, persona_name="Claire Martin", fills=jobs[i][2],
                               channel=jobs[i][3]).to_dict() for i in order}

    from qualibench.scorer.engine import forget_lines

    forget_lines(rubric)
    forward = run(list(range(len(jobs))))
    forget_lines(rubric)
    assert run(list(reversed(range(len(jobs))))) == forward
    assert run(list(range(len(jobs)))) == forward  # everything remembered
    assert any(r["evidence"]["relevance"] for r in forward.values())  # real results, not empty ones


from hypothesis import given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

_PIECES = st.sampled_from([
    "Bonjour Claire,", "Merci", "désolé", "CMD-482913", "expédiée", "49,90 €", "\n", " ", "> quoted",
    "Le 3 mars, X a écrit :", "0 892 35 00 00", "İ", "Profitez", "Cordialement,\nJulien", "rembourssement",
])


@settings(max_examples=150, deadline=None)
@given(st.lists(st.one_of(_PIECES, st.text(max_size=12)), max_size=25))
def test_any_text_gets_bounded_points_and_spans_that_cite_it(pieces):
    rubric = load_rubric()
    scenario = yaml.safe_load((SCENARIOS / "fr-delivery-late.yaml").read_text())
    text = "".join(pieces)
    res = score_reply(text, scenario, rubric, persona_name="Claire Martin", fills={"order_number": "CMD-482913"})
    for crit, pts in res.criteria.items():
        assert 0 <= pts <= rubric.weight(crit)
    assert res.total == pytest.approx(sum(res.criteria.values()))
    for spans in res.evidence.values():
        for s in spans:
            if s.start >= 0 and s.end > s.start:
                assert text[s.start:s.end] == s.text


def _regex_answers(ps, text: str, cuts: list[int]) -> list:
    rx = ps.regex
    return [[m.span() for m in rx.finditer(text)], [m.span() for m in rx.finditer(text[:cuts[0]])],
            (m.span() if (m := rx.search(text)) else None),
            *[(m.span() if (m := rx.search(text, a, b)) else None) for a, b in zip(cuts, cuts[1:], strict=False)],
            *[(m.span() if (m := rx.search(text[:b])) else None) for b in cuts]]


def _set_answers(ps, text: str, cuts: list[int]) -> list:
    # words=None: no early skip, every question really asks the scan (or the regex)
    return [[m.span() for m in ps.finditer(text)], [m.span() for m in ps.finditer(text[:cuts[0]])],
            (m.span() if (m := ps.search(text)) else None),
            *[(m.span() if (m := ps.find(text, None, a, b)) else None) for a, b in zip(cuts, cuts[1:], strict=False)],
            *[(m.span() if (m := ps.search(text[:b])) else None) for b in cuts]]


def test_one_scan_answers_every_phrase_set_as_its_own_regex_does(rubric):
    """Lexicon.scan finds all sets' phrases at once; each set's finditer, search and find then give
    the matches its own regex gives: on the whole text, on prefixes and in windows, including cuts
    inside a word and phrases spread over line breaks and runs of white space."""
    replies, _ = _fixture_replies()
    texts = [fold(r["text"]) for r in replies[::2]]
    texts += [fold(_reshaped(r["text"], i)).replace(" de\n", " de \n\n ") for i, r in enumerate(replies[1::4])]
    texts += ["merci pour votre patience", "merci pour\n\n  votre patience\nnavres", "mercis beaucoup navres",
              "thank you  for\n your patience"]
    matched = 0
    for lex in rubric.lexicons.values():
        sets = [*lex.sets.values(), lex.ask, *lex.ask_items.values()]
        for text in texts:
            cuts = sorted({len(text) // 3, len(text) // 3 + 1, len(text) // 2, 2 * len(text) // 3, len(text) - 1,
                           *(i for i, c in enumerate(text) if c == "\n")})[:12] or [0]
            lex.index._last = None  # nothing scanned: the sets' own regexes answer
            expected = [_set_answers(ps, text, cuts) for ps in sets if ps.regex is not None]
            assert expected == [_regex_answers(ps, text, cuts) for ps in sets if ps.regex is not None]
            lex.scan(text)
            assert [_set_answers(ps, text, cuts) for ps in sets if ps.regex is not None] == expected
            matched += sum(len(e[0]) for e in expected)
    assert matched > 100  # the texts do hold phrases of many sets


def _line_shapes(text: str, i: int) -> list[str]:
    # Line breaks before and after the words a rule reads across ("si", "en cas de", "meilleurs
    # délais", "n'hésitez pas"), white space at either end of lines, blank lines, clause breaks
    # at a line's end, a reply cut on a line break.
    return [text, _reshaped(text, i), text.replace(", ", ",\n"), text.replace(" si ", " si\n"),
            text.replace(" pas ", "\npas ").replace(" cas ", "\ncas "), text.replace(". ", ".\n\n"),
            text.replace("\n", "\n ") if i % 2 else text.replace("\n", " \n"), text + "\n",
            text.replace(" ", "\n", 3)]


def test_the_line_by_line_reading_is_the_whole_text_reading(rubric):
    """line_reading.read (each distinct line read once) gives the Reading reading.read gives: the
    same sentences and clauses, and the same flags for every token (a "sans" opening a line may
    keep a 0 where the whole text has its index: nothing of its clause lies before it)."""
    from qualibench.scorer.line_reading import read
    from qualibench.scorer.reading import read as read_whole

    replies, _ = _fixture_replies()
    extra = ["Votre aspirateur\nsans fil n'est pas\nparti, sans frais. Sans\nfrais, without\na fee.",
             "Si vous le souhaitez, nous\npouvons. En cas\nde retard, le cas\néchéant, dans les meilleurs\ndélais.",
             "N'hésitez\npas à nous écrire, sans\nfaute. If\nit ships, we refund. We don\n't know.",
             "Nous ne\npourrons pas, mais\nvotre colis, qui\narrive, sera livré."]
    texts = [s for i, r in enumerate(replies) for s in _line_shapes(r["text"], i)] + extra
    echoed = 0
    for lex in rubric.lexicons.values():
        sets = (lex.sets["reformulation"], lex.sets["topic_markers"])
        for text in texts + texts:  # the second round reads every line from the cache
            lowered, folded, view = reply_view(text, None, default="fr")

            def echo(a: int, b: int, words=view.words) -> bool:  # any rule of the token range will do
                return len(words[a:b]) % 3 == 0

            lex.scan(folded)
            got, want = read(text, folded, view, *sets, echo), read_whole(text, folded, view, *sets, echo)
            # A new field of Reading must be put together line by line too (line_reading.read).
            assert set(vars(got)) == set(vars(want)) == {"view", "sentences", "sentence_tokens", "starts", "bounds",
                                                         "clause_flags", "sentence_flags", "if_from", "if_to",
                                                         "neg_from"}
            assert [got.flags_of(t) for t in range(len(view.words))] == \
                [want.flags_of(t) for t in range(len(view.words))], text
            assert (got.sentences, got.sentence_tokens, got.starts, got.bounds, got.clause_flags,
                    got.sentence_flags, got.if_from, got.if_to) == \
                (want.sentences, want.sentence_tokens, want.starts, want.bounds, want.clause_flags,
                 want.sentence_flags, want.if_from, want.if_to), text
            echoed += sum(1 for f in want.sentence_flags if f & 16)
    assert echoed > 50
