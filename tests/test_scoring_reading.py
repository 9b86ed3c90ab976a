"""The scorer reads sentences: negation, conditions, echoes, formulas, signatures, channels, bad input.

Each test is one behaviour the issue (#10) names, on the real scenarios of scenarios/.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from qualibench.scorer.engine import MAX_SCORED_CHARS, score_reply
from qualibench.scorer.rubric import load_rubric

SCENARIOS = Path(__file__).resolve().parent.parent / "scenarios"
PERSONA = "Claire Martin"


@pytest.fixture(scope="module")
def rubric():
    return load_rubric()


def scenario(name: str) -> dict:
    return yaml.safe_load((SCENARIOS / f"{name}.yaml").read_text(encoding="utf-8"))


def request(name: str, channel: str = "email", **fills: str) -> str:
    sc = scenario(name)
    text = sc["short"] if channel == "x" else sc["body"]
    values = {"full_name": PERSONA, "x_handle": "@brand", **fills}
    for key, value in values.items():
        text = text.replace("{" + key + "}", value)
    return text


def score(rubric, name: str, text: str, channel: str = "email", **fills: str):
    return score_reply(text, scenario(name), rubric, request_text=request(name, channel, **fills),
                       persona_name=PERSONA, fills=fills, channel=channel)


def credited(result, label_part: str) -> float:
    return sum(s.points for s in result.evidence["relevance"] if label_part in s.why and s.points > 0)


def test_a_negated_refund_does_not_earn_the_refund_point(rubric):
    yes = score(rubric, "billing-wrong-invoice-fr", "Bonjour,\nLa différence vous sera remboursée sous 5 jours.")
    no = score(rubric, "billing-wrong-invoice-fr", "Bonjour,\nAucun remboursement n'est possible sur cette facture.")
    en = score(rubric, "refund-return-en", "Hello,\nNo refund is due for this item.")
    assert credited(yes, "remboursement") == pytest.approx(2 * credited(no, "remboursement"), abs=0.02)
    assert any("negated" in s.why for s in no.evidence["relevance"])
    assert any("negated" in s.why for s in en.evidence["relevance"] if "refund" in s.why.lower())


def test_a_clear_no_answers_a_yes_no_question(rubric):
    # "Y a-t-il des frais de résiliation ?" -- "il n'y a aucun frais" is the full answer.
    res = score(rubric, "cancellation-subscription-fr", "Bonjour,\nIl n'y a aucun frais de résiliation.")
    assert credited(res, "frais") == pytest.approx(40 / 6, abs=0.01)
    assert any("yes/no" in s.why for s in res.evidence["relevance"])


def test_a_condition_or_a_hypothesis_asserts_nothing(rubric):
    hypo = score(rubric, "complaint-late-delivery-fr",
                 "Bonjour,\nSi votre colis était expédié, vous recevriez un numéro de suivi.")
    assert hypo.criteria["relevance"] == 0
    offer = score(rubric, "complaint-late-delivery-fr",
                  "Bonjour,\nSi vous préférez annuler, nous vous remboursons sous 48 heures.")
    assert credited(offer, "annuler") > 0  # the customer's choice, then a real promise


def test_a_statement_under_a_condition_on_the_case_earns_a_quarter(rubric):
    # "If it has shipped, a tracking number will be available": the customer is told nothing about
    # their own parcel; the same statement without the condition is the answer.
    cond = score(rubric, "delivery-tracking-en", "Hello,\nIf your order has been dispatched, a tracking number "
                 "will be available in your account.")
    plain = score(rubric, "delivery-tracking-en", "Hello,\nYour order has been dispatched: a tracking number "
                  "is available in your account.")
    fr = score(rubric, "delivery-change-address-fr", "Bonjour,\nSi votre commande n'est pas encore expédiée, "
               "nous pourrons modifier l'adresse.")
    assert credited(plain, "tracking") > 0
    assert credited(cond, "tracking") == pytest.approx(credited(plain, "tracking") / 4, abs=0.02)
    assert any("under a condition" in s.why for s in fr.evidence["relevance"])
    # "si" meaning "so" is no condition
    so = score(rubric, "sympathy-thanks-fr", "Bonjour,\nNous sommes si heureux de votre message, merci !")
    assert not any("under a condition" in s.why for s in so.evidence["relevance"])


def test_words_echoed_from_the_request_earn_reformulation_never_relevance(rubric):
    fills = {"order_number": "CMD-117450", "street_number": "8", "street": "Acacias", "town": "44000 Nantes"}
    echo = ("Bonjour,\nVous nous demandez de modifier l'adresse de livraison de votre commande CMD-117450 pour "
            "le 8 rue des Acacias, 44000 Nantes, ou de la faire livrer en point relais.")
    res = score(rubric, "delivery-change-address-fr", echo, **fills)
    assert res.criteria["relevance"] == 0
    assert res.criteria["reformulation"] > 0
    assert any("restates the request" in s.why for s in res.evidence["relevance"])


def test_si_je_comprends_bien_is_reformulation_not_empathy(rubric):
    res = score(rubric, "technical-login-fr", "Bonjour,\nSi je comprends bien, vous ne pouvez plus vous connecter.")
    assert res.criteria["empathy"] == 0
    assert any("marker" in s.why for s in res.evidence["reformulation"])


def test_a_sentence_that_sends_the_customer_elsewhere_answers_nothing(rubric):
    # the topic is named ("plan questions", "pricing") in the very sentence that deflects
    res = score(rubric, "commercial-pricing-subscription-en", "Hi,\nFor any question about pricing or the "
                "contract, please call our sales team on 0800 123 4567.\nThanks!")
    assert res.criteria["relevance"] <= 3
    assert any("sends the customer elsewhere" in s.why for s in res.evidence["relevance"])


def test_merci_d_appeler_is_not_thanks(rubric):
    res = score(rubric, "billing-wrong-invoice-fr", "Bonjour,\nMerci d'appeler le 08 92 70 12 34.\nCordialement")
    assert not any("thanks" in s.why for s in res.evidence["politeness"])
    assert res.criteria["relevance"] == 0


def test_merci_de_before_a_verb_asks_and_does_not_thank(rubric):
    asks = score(rubric, "sympathy-thanks-fr", "Bonjour,\nMerci de nous préciser votre numéro de commande.\n"
                 "Cordialement,\nService Clients")
    thanks = score(rubric, "sympathy-thanks-fr", "Bonjour,\nMerci de nous avoir écrit, votre message nous touche.\n"
                   "Cordialement,\nService Clients")
    assert not any("thanks" in s.why for s in asks.evidence["politeness"])
    assert credited(asks, "Remercie") == 0
    assert any("thanks" in s.why for s in thanks.evidence["politeness"]) and credited(thanks, "Remercie") > 0


def test_a_request_to_the_customer_is_not_delight(rubric):
    # "please" is an instruction; "pleased to hear" is delight
    res = score(rubric, "sympathy-compliment-en", "Dear Claire,\nPlease send us a photo of the damage.")
    assert credited(res, "Thanks the customer") == 0


def test_a_team_is_not_a_named_signer_a_person_and_initials_are(rubric):
    body = "Bonjour,\nVotre facture est corrigée.\nCordialement,\n"
    team = score(rubric, "billing-wrong-invoice-fr", body + "L'équipe Fibréo")
    person = score(rubric, "billing-wrong-invoice-fr", body + "Kevin | Service clients")
    tweet = score(rubric, "billing-wrong-invoice-fr", "@claire Votre facture est corrigée, merci ! ^JM", channel="x")
    dash = score(rubric, "refund-return-en", "@claire Returns are free, thanks for asking! -AK", channel="x")
    assert not any("named" in s.why for s in team.evidence["personalisation"])
    assert any("named" in s.why for s in person.evidence["personalisation"])
    assert [s.text for s in tweet.evidence["personalisation"] if "named" in s.why] == ["^JM"]
    assert [s.text for s in dash.evidence["personalisation"] if "named" in s.why] == ["-AK"]

    # "Moneta Support" is the brand's team; "Sofia, Moneta Support" is Sofia (a person of the team)
    body = "Hello Claire,\nYour invoice is corrected.\nKind regards,\n"
    brand = score(rubric, "technical-app-bug-en", body + "Moneta Support")
    sofia = score(rubric, "technical-app-bug-en", body + "Sofia, Moneta Support")
    julie = score(rubric, "technical-app-bug-en", body + "Julie Support")
    assert not any("named" in s.why for s in brand.evidence["personalisation"])
    assert [s.text for s in sofia.evidence["personalisation"] if "named" in s.why] == ["Sofia"]
    assert [s.text for s in julie.evidence["personalisation"] if "named" in s.why] == ["Julie"]


@pytest.mark.parametrize(("channel", "text", "pers", "pol"), [
    # the name after the closing formula on its line; a phone line under the signature
    ("email", "Bonjour Claire,\n\nVotre colis part demain.\n\nCordialement, Léa Moreau", 7, 7),
    ("email", "Bonjour Claire,\n\nVotre casque part demain.\n\nCordialement\n\nThomas\nService Clients\n"
              "01 23 45 67 89", 10, 7),
    ("email", "Madame, Monsieur,\n\nVotre colis part demain.\n\nAu plaisir,\nHugo Bernard", 3, 7),
    # a tweet signed with a bare first name, or "Sophie de l'équipe"; "avec plaisir" is a courteous formula
    ("x", "@claire_mrt Votre colis part demain. Merci ! Colissimo", 0, 6),  # a courier is no signer
    ("x", "@claire_mrt Your parcel leaves tomorrow, happy to help! Tom from the team", 3, 8),
    ("x", "@claire_mrt Votre colis part demain, avec plaisir ! On reste dispo en DM. Sophie de l'équipe", 3, 10),
    ("x", "@claire_mrt Votre colis part demain, livraison prévue Jeudi", 0, 3),
])
def test_signatures_and_courtesy_of_every_shape(rubric, channel, text, pers, pol):
    fills = {"order_number": "CMD-482913", "product": "un casque Bluetooth"}
    res = score(rubric, "complaint-late-delivery-fr", text, channel=channel, **fills)
    assert (res.criteria["personalisation"], res.criteria["politeness"]) == (pers, pol)


def test_the_last_body_line_above_the_closing_is_body_not_signature(rubric):
    # "Your tracking number is 15501234" has no full stop: it is still the answer, not a signature
    res = score(rubric, "delivery-tracking-en", "Hello Claire,\n\nYour parcel is with DPD and arrives Friday.\n"
                "Your tracking number is 15501234\n\nKind regards,\nNathan", order_number="338104297",
                order_day="Thursday", needed_by="Saturday", product="LEGO set")
    assert credited(res, "tracking number") > 0
    assert [s.text for s in res.evidence["personalisation"] if "named" in s.why] == ["Nathan"]


def test_a_complete_courteous_tweet_can_reach_the_top_band(rubric):
    fills = {"order_number": "CMD-552017", "product": "un robot pâtissier", "amount": "319", "order_day": "lundi 3"}
    tweet = ("@claire_mrt Bonjour Claire, vraiment désolés pour ce retard, on sait que vous en aviez besoin "
             "cette semaine. Votre robot pâtissier a quitté l'entrepôt, livraison prévue jeudi. Sinon on annule "
             "et on rembourse sous 48 h. Merci de votre patience, bonne journée ^MB")
    res = score(rubric, "complaint-late-delivery-fr", tweet, channel="x", **fills)
    assert res.criteria["politeness"] == 10  # register, thanks, wish, initials: no greeting needed on X
    assert res.total >= 75


def test_content_free_replies_are_still_told_apart(rubric):
    a = score(rubric, "technical-login-fr", "Reçu.")
    b = score(rubric, "technical-login-fr", "Bonjour,\nNous avons pris note.\nCordialement,\nLe service clients")
    c = score(rubric, "technical-login-fr",
              "Bonjour Claire,\nMerci pour votre message, nous revenons vers vous très vite.\nBonne journée,\nJulie")
    assert a.total < b.total < c.total


def test_an_english_answer_to_a_french_request_is_read_and_halved_once(rubric):
    fr = score(rubric, "technical-login-fr", "Bonjour,\nVotre compte est débloqué et un nouveau lien de "
                                             "réinitialisation vous a été envoyé.")
    en = score(rubric, "technical-login-fr", "Hello,\nYour account is unlocked and a new reset link has been sent.")
    assert en.language == "en" and fr.criteria["relevance"] > 0
    assert en.criteria["relevance"] == pytest.approx(fr.criteria["relevance"] / 2, abs=0.5)
    assert sum(1 for s in en.evidence["relevance"] if "reply in en" in s.why) == 1


def test_a_paraphrase_with_other_words_covers_the_same_key_points(rubric):
    fills = {"customer_number": "30417265", "month": "avril", "billed": "71,98", "expected": "39,99"}
    a = score(rubric, "billing-wrong-invoice-fr", "Bonjour,\nLa différence vous sera remboursée.", **fills)
    b = score(rubric, "billing-wrong-invoice-fr", "Bonjour,\nLe trop-perçu sera recrédité sur votre compte.", **fills)
    assert credited(a, "remboursement") == credited(b, "remboursement") > 0


def test_key_points_written_as_examples_or_without_anything_score_with_a_note(rubric):
    sc = {"id": "s", "language": "en", "body": "Hello, where is my parcel?",
          "key_points": [{"id": "eta", "label": "Gives a date", "examples": ["Your parcel will arrive on Friday"],
                          "weight": 1},
                         {"id": "bare", "label": "Courier named", "weight": 1}]}
    res = score_reply("Hi,\nYour parcel arrives on Friday with the courier.", sc, rubric, channel="email")
    assert res.criteria["relevance"] > 0
    assert any("'bare' has no patterns" in n for n in res.notes)


@pytest.mark.parametrize(("text", "note"), [
    ("", "empty reply"),
    ("> Bonjour, ma facture est fausse.\n> Claire", "only quoted history"),
    ("@claire_mrt 👀🙏", "no words"),
    ("Hello, votre facture est corrigée et nous vous remboursons, and the refund is on its way, thanks a lot",
     "mixed languages"),
])
def test_bad_input_gets_a_score_and_a_note(rubric, text, note):
    res = score(rubric, "billing-wrong-invoice-fr", text, channel="x" if text.startswith("@") else "email")
    assert 0 <= res.total <= 100
    assert any(note in n for n in res.notes), res.notes


def test_200_kb_of_text_is_scored_on_its_first_part_with_a_note(rubric):
    text = "Bonjour,\n" + ("Votre facture est corrigée et remboursée. " * 5000)
    assert len(text) > 200_000
    res = score(rubric, "billing-wrong-invoice-fr", text)
    assert any("long reply" in n for n in res.notes)
    assert all(s.end <= MAX_SCORED_CHARS for spans in res.evidence.values() for s in spans)


def test_same_input_same_points_and_spans(rubric):
    text = "Bonjour Claire,\nLa différence vous sera remboursée. Toutes nos excuses.\nNadia"
    runs = [score(rubric, "billing-wrong-invoice-fr", text).to_dict() for _ in range(3)]
    assert runs[0] == runs[1] == runs[2]


def test_an_answer_in_the_request_s_concepts_and_other_words_is_no_echo(rubric):
    # "which courier ... when will it arrive" answered with the same concepts in other words
    r = score(rubric, "delivery-tracking-en", "Hello Claire,\n\nYour LEGO set shipped with Royal Mail Tracked 48 and "
              "should arrive tomorrow. Your tracking number is WB123456785GB.\n\nBest regards,\nNathan",
              order_number="338104297", order_day="Thursday", needed_by="Saturday", product="LEGO set")
    assert credited(r, "Names the courier") > 0
    assert credited(r, "expected delivery date") > 0


def test_an_apology_about_the_case_is_tied_even_when_the_tweet_does_not_name_it(rubric):
    fills = {"order_number": "CMD-775120", "product": "une machine à café"}
    tied = score(rubric, "complaint-late-delivery-fr", "@claire_mrt Bonjour Claire, vraiment navrés pour ce retard. "
                 "Votre commande est partie ce matin, livraison vendredi. ^LN", channel="x", **fills)
    formula = score(rubric, "complaint-late-delivery-fr", "@claire_mrt Bonjour Claire, navrés pour la gêne "
                    "occasionnée. Votre commande est partie ce matin, livraison vendredi. ^LN", channel="x", **fills)
    assert any("tied to this customer's situation" in s.why for s in tied.evidence["empathy"])
    assert tied.criteria["empathy"] > formula.criteria["empathy"]


def test_participles_and_phrase_concepts_are_read_as_their_concept(rubric):
    # "corrigée" meets "résolu" (one concept, written as verbs); "merci pour votre retour" is thanks,
    # not a parcel sent back that would cover the reset key point ("renvoyé").
    r = score(rubric, "technical-login-fr", "Bonjour Madame Martin, merci pour votre retour. Nous avons trouvé une "
              "faute dans votre adresse e-mail et nous l'avons corrigée. Cordialement, Lucas", since="lundi",
              email="claire.martin@exemple.fr")
    assert credited(r, "Résout le problème") > 0
    assert credited(r, "réinitialiser le mot de passe") == 0


def test_a_vague_time_or_an_appearance_is_half_credit(rubric):
    # The guide: "dans les meilleurs délais", "in due course" are vague: half, not full, credit.
    dated = score(rubric, "complaint-late-delivery-fr", "Bonjour,\nVotre commande sera expédiée demain.")
    vague = score(rubric, "complaint-late-delivery-fr",
                  "Bonjour,\nVotre commande sera expédiée dans les meilleurs délais.")
    assert credited(vague, "état") == pytest.approx(credited(dated, "état") / 2, abs=0.02)
    assert credited(vague, "état") > 0
    assert any("hedged" in s.why for s in vague.evidence["relevance"])
    seems = score(rubric, "billing-wrong-invoice-fr", "Bonjour,\nIl semble qu'il y ait une erreur sur votre facture.")
    assert any("hedged" in s.why for s in seems.evidence["relevance"] if "erreur" in s.why.lower())


def test_en_cas_de_and_le_cas_echeant_are_conditions(rubric):
    sure = score(rubric, "billing-wrong-invoice-fr", "Bonjour,\nLa facture est vérifiée et la différence vous sera "
                 "remboursée.")
    maybe = score(rubric, "billing-wrong-invoice-fr", "Bonjour,\nLa facture est vérifiée et, le cas échéant, la "
                  "différence vous sera remboursée.")
    case = score(rubric, "cancellation-subscription-fr",
                 "Bonjour,\nEn cas de déménagement à l'étranger, la résiliation est sans frais.")
    assert 0 < credited(maybe, "remboursement") < credited(sure, "remboursement")
    assert any("condition" in s.why for s in case.evidence["relevance"] if "frais" in s.why.lower())


def test_a_relative_clause_goes_on_with_the_restatement_it_follows(rubric):
    res = score(rubric, "billing-wrong-invoice-fr",
                "Bonjour,\nMerci pour votre message concernant votre facture, sur laquelle les frais de service "
                "figurent deux fois par erreur.\nCordialement, Julie")
    assert credited(res, "erreur") == 0
    assert res.criteria["reformulation"] > 0


def test_html_line_breaks_end_sentences_and_keep_the_offsets(rubric):
    text = ("Hello Claire,<br><br>Your order was shipped with DPD, tracking number 15501234567890. It should be "
            "with you on Friday.<br>If nobody is in, the courier may leave it with a neighbour.<br>Kind regards")
    res = score(rubric, "delivery-tracking-en", text)
    date = [s for s in res.evidence["relevance"] if "delivery date" in s.why]
    assert date and date[0].why.startswith("key point 'Gives the expected delivery date': asserted")
    for spans in res.evidence.values():
        for s in spans:
            if s.start >= 0 and s.text:
                assert text[s.start:s.end].replace("<br>", "\n   ") == s.text.replace("<br>", "\n   ")


def test_a_figure_the_customer_never_gave_is_news_not_an_echo(rubric):
    # Built from the request's words, but "5 working days" is the brand's news: an answer.
    res = score(rubric, "refund-return-en", "Hello,\nOnce the parcel is back, the refund usually takes 5 working "
                "days and goes back to the card you paid with.\nKind regards")
    assert credited(res, "time frame") > 0
    assert not any("restates the request" in s.why for s in res.evidence["relevance"])


def test_warmth_in_other_words_is_empathy(rubric):
    for text in ("Bonjour Claire,\nVotre message nous a fait chaud au cœur : Nicolas en est tout ému.\nFanny",
                 "Bonjour Claire,\nVotre message nous a rendus très contents, merci !\nFanny"):
        assert score(rubric, "sympathy-thanks-fr", text).criteria["empathy"] > 0, text


def test_going_to_look_for_the_answer_elsewhere_is_a_deflection(rubric):
    shop = score(rubric, "commercial-compatibility-fr", "Bonjour,\nPour toute question de compatibilité, nous vous "
                 "invitons à vous rendre dans l'un de nos magasins.\nCordialement")
    terms = score(rubric, "commercial-pricing-subscription-en", "Hello,\nPlease refer to our terms and conditions "
                  "for the contract length and the cancellation charges.\nKind regards")
    for res in (shop, terms):
        assert res.criteria["relevance"] <= 3
        assert any("elsewhere" in s.why or "another channel" in s.why for s in res.evidence["relevance"])


def test_true_of_most_customers_is_half_credit_at_most_is_a_bound(rubric):
    most = score(rubric, "commercial-compatibility-fr", "Bonjour,\nLa station est compatible avec la plupart des "
                 "ordinateurs portables.")
    yours = score(rubric, "commercial-compatibility-fr", "Bonjour,\nLa station est compatible avec votre "
                  "ordinateur portable.")
    assert credited(most, "compatibilit") == pytest.approx(credited(yours, "compatibilit") / 2, abs=0.02)
    bound = score(rubric, "refund-return-en", "Hello,\nThe refund takes at most 5 working days.")
    assert not any("hedged" in s.why for s in bound.evidence["relevance"])


def test_words_only_the_request_s_questions_hold_restate_half_as_much(rubric, tmp_path):
    from qualibench.scorer.engine import _question_keys
    req = request("commercial-pricing-subscription-en", plan="Plus", price="£14.99")
    asked = _question_keys(req, "en", (), rubric.vocabulary, rubric.concepts)
    assert {"price", "cancel", "minimum"} <= asked and "website" not in asked  # "...aren't clear from your website"
    # Answering repeats the question's words: with them weighed as much as the customer's own
    # account of the case, the same answer would seem to restate more.
    text = (SCENARIOS.parent / "scoring" / "rubrics" / "default.yaml").read_text(encoding="utf-8")
    assert "question_word_weight: 0.5" in text
    flat = tmp_path / "flat.yaml"
    flat.write_text(text.replace("question_word_weight: 0.5", "question_word_weight: 1.0"), encoding="utf-8")
    answer = ("Hello,\nThe £14.99 Plus price is fixed and there is no minimum term: you can cancel early at any time with no "
              "fee.\nKind regards")
    halved = score(rubric, "commercial-pricing-subscription-en", answer, plan="Plus", price="£14.99")
    full = score(load_rubric(flat), "commercial-pricing-subscription-en", answer, plan="Plus", price="£14.99")
    assert 0 < halved.criteria["reformulation"] < full.criteria["reformulation"]
    # ...and answering in the question's words is no echo of the customer: the points are answered
    assert not any("restates the request" in sp.why for sp in halved.evidence["relevance"])
    assert credited(halved, "minimum term") > 0


def test_a_softened_refusal_is_no_sympathy_and_other_apologies_are(rubric):
    # "Malheureusement"/"unfortunately" soften a refusal; they acknowledge nothing of the customer.
    cold = score(rubric, "delivery-change-address-fr", "Bonjour,\nMalheureusement, aucune modification d'adresse "
                 "n'est possible une fois la commande expédiée.")
    en = score(rubric, "refund-return-en", "Hello,\nUnfortunately no refund can be offered for used items.")
    assert cold.criteria["empathy"] == 0 and en.criteria["empathy"] == 0
    for text in ("Bonjour Claire,\nPardon pour ce retard de livraison, votre commande part demain.",
                 "Bonjour Claire,\nVotre commande a pris du retard, veuillez nous en excuser."):
        assert score(rubric, "complaint-late-delivery-fr", text).criteria["empathy"] > 0, text


def test_a_wish_is_warm_only_about_what_the_customer_lives(rubric):
    move = score(rubric, "cancellation-subscription-fr", "Bonjour Claire,\nMerci de nous avoir prévenus de votre "
                 "départ à l'étranger ; nous vous souhaitons une belle installation. La résiliation est enregistrée.")
    day = score(rubric, "cancellation-subscription-fr", "Bonjour Claire,\nLa résiliation est enregistrée et nous "
                "vous souhaitons une excellente semaine.")
    assert move.criteria["empathy"] > 0
    assert day.criteria["empathy"] == 0


def test_tant_que_as_long_as_and_the_next_few_days(rubric):
    # "tant que" / "as long as" put what follows under a condition; "dans les prochains jours" is vague.
    cond = score(rubric, "delivery-change-address-fr", "Bonjour,\nL'adresse peut être modifiée dans votre espace "
                 "client tant que la commande n'est pas expédiée.")
    assert any("condition" in s.why for s in cond.evidence["relevance"] if "expédié" in s.why)
    soon = score(rubric, "complaint-late-delivery-fr", "Bonjour,\nVotre commande partira dans les prochains jours.")
    earned = [s for s in soon.evidence["relevance"] if s.points > 0]
    assert earned and all("hedged" in s.why for s in earned)


def test_sans_negates_what_follows_it_not_the_clause_before(rubric):
    # "aspirateur sans fil" is a product: the apology before it is not negated; "sans frais" still is a no.
    sorry = score(rubric, "complaint-faulty-product-fr", "Bonjour,\nJe suis navrée que votre aspirateur sans fil "
                  "tombe en panne après trois semaines.")
    assert [s for s in sorry.evidence["relevance"] if "compatit" in s.why and "asserted" in s.why]
    free = score(rubric, "cancellation-subscription-fr", "Bonjour,\nVotre résiliation est enregistrée, sans frais.")
    assert any("yes/no" in s.why for s in free.evidence["relevance"] if "frais" in s.why)


def test_a_conditional_question_made_moot_is_answered(rubric):
    # "If it is too late, how do I redirect it?" is answered by "the address is changed" (the guide).
    done = score(rubric, "delivery-change-address-fr", "Bonjour,\nVotre colis est encore en préparation : "
                 "l'adresse de livraison a bien été modifiée.")
    assert any("moot" in s.why and s.points > 0 for s in done.evidence["relevance"])
    refused = score(rubric, "delivery-change-address-fr", "Bonjour,\nL'adresse ne peut plus être modifiée, "
                    "le colis est déjà expédié.")
    assert not any("moot" in s.why for s in refused.evidence["relevance"])


def test_a_place_where_the_case_is_handled_is_a_procedure_not_a_deflection(rubric):
    there = score(rubric, "complaint-faulty-product-fr", "Bonjour,\nVous pouvez vous rendre dans l'un de nos "
                  "magasins avec votre facture, où il sera échangé immédiatement.")
    away = score(rubric, "complaint-faulty-product-fr", "Bonjour,\nNous vous invitons à vous rendre dans l'un de nos "
                 "magasins, où nos vendeurs pourront vous conseiller.")
    assert credited(there, "marche à suivre") > 0
    assert not any("another channel" in s.why for s in there.evidence["relevance"])
    assert credited(away, "marche à suivre") == 0


def test_a_three_letter_courier_is_not_a_lemma(rubric):
    # "UPS" is a courier; its plural-stripped lemma "up" must not make "up to 7 days" name one.
    up = score(rubric, "delivery-tracking-en", "Hello,\nPlease allow up to 7 working days for delivery.")
    ups = score(rubric, "delivery-tracking-en", "Hello,\nYour parcel is with UPS.")
    assert credited(up, "courier") == 0
    assert credited(ups, "courier") > 0


def test_the_steps_the_customer_already_tried_answer_nothing(rubric):
    # The login request says the reset e-mail never came after three tries: the canned procedure
    # earns nothing; sending a new link oneself is an answer.
    canned = score(rubric, "technical-login-fr", "Bonjour,\nPour réinitialiser votre mot de passe, cliquez sur "
                   "« Mot de passe oublié » et suivez les instructions reçues par e-mail.", since="lundi")
    done = score(rubric, "technical-login-fr", "Bonjour,\nJe vous ai renvoyé un lien de réinitialisation "
                 "depuis une autre adresse.", since="lundi")
    assert credited(canned, "réinitialiser") == 0
    assert any("already tried" in s.why for s in canned.evidence["relevance"])
    assert credited(done, "réinitialiser") > 0


def test_a_template_keeps_part_of_its_relevance_on_mail_not_on_x(rubric):
    # Nothing of this customer named and nothing of their situation: true of every customer who writes.
    text = "Bonjour,\nLa résiliation se fait par lettre recommandée ou depuis l'espace client."
    bare = score(rubric, "cancellation-subscription-fr", text)
    named = score(rubric, "cancellation-subscription-fr", text.replace("Bonjour,", "Bonjour Madame Martin,"))
    tweet = score(rubric, "cancellation-subscription-fr", text, channel="x")
    assert any("a template" in s.why for s in bare.evidence["relevance"])
    assert bare.criteria["relevance"] == pytest.approx(0.75 * named.criteria["relevance"], abs=0.02)
    assert not any("a template" in s.why for s in tweet.evidence["relevance"])


def test_a_condition_inside_a_later_clause_bears_on_that_clause_only(rubric):
    # "fonctionne avec tous les Android USB-C, et en charge rapide si ...": the yes stands.
    res = score(rubric, "commercial-compatibility-fr", "Bonjour,\nL'adaptateur fonctionne avec tous les Android "
                "USB-C, et en charge rapide si votre téléphone gère le PD.")
    ans = [s for s in res.evidence["relevance"] if "compatibilité" in s.why and s.points > 0]
    assert ans and not any("condition" in s.why for s in ans)
    whole = score(rubric, "commercial-compatibility-fr", "Bonjour,\nSi votre téléphone gère le PD, l'adaptateur "
                  "fonctionne avec lui.")
    assert any("condition" in s.why for s in whole.evidence["relevance"] if "compatibilité" in s.why)


def test_a_wish_about_the_customers_move_is_warmth(rubric):
    for text in ("Bonjour Claire,\nMerci pour votre message, et bonne installation à l'étranger ! La résiliation "
                 "est enregistrée.",
                 "Bonjour Claire,\nJe vous remercie et vous souhaite une belle installation à l'étranger. La "
                 "résiliation est enregistrée."):
        assert score(rubric, "cancellation-subscription-fr", text).criteria["empathy"] > 0, text
    day = score(rubric, "cancellation-subscription-fr", "Bonjour Claire,\nLa résiliation est enregistrée. Je vous "
                "remercie et vous souhaite une bonne journée.")
    assert day.criteria["empathy"] == 0


def test_a_wish_ending_a_tweet_is_its_closing(rubric):
    base = "Hi Claire, your parcel is with DPD, tracking 1550 1977, due Thursday. Thanks for your patience."
    wish = score(rubric, "delivery-tracking-en", base + " Have a great week ^JS", channel="x")
    none = score(rubric, "delivery-tracking-en", base + " ^JS", channel="x")
    assert wish.criteria["politeness"] == pytest.approx(none.criteria["politeness"] + 2)
    assert any(s.why == "closing formula" and "great week" in s.text for s in wish.evidence["politeness"])


def test_the_request_told_back_in_the_second_person_is_still_pasted(rubric):
    # "J'ai passé hier la commande ... et je remarque que l'adresse de livraison indiquée est mon
    # ancienne adresse" told back as "vous avez passé ... votre ancienne adresse": capped at half.
    res = score(rubric, "delivery-change-address-fr", "Bonjour,\nVous avez passé hier la commande CMD-123456 et vous "
                "remarquez que l'adresse de livraison indiquée est votre ancienne adresse : vous avez déménagé le mois "
                "dernier.", order_number="CMD-123456")
    assert any("pasted back" in s.why for s in res.evidence["reformulation"])
    assert res.criteria["reformulation"] <= 10


def test_a_question_to_the_customer_answers_nothing_unless_the_point_is_to_ask(rubric):
    fills = {"accessory": "le câble USB-C vers HDMI", "device": "ma tablette tactile"}
    asks = score(rubric, "commercial-compatibility-fr", "Bonjour Claire,\nPour vous répondre sur la compatibilité, "
                 "pouvez-vous m'indiquer le modèle de votre tablette ?", **fills)
    says = score(rubric, "commercial-compatibility-fr", "Bonjour Claire,\nLe câble est compatible avec votre "
                 "tablette.", **fills)
    assert credited(asks, "compatibilité") == 0 and credited(says, "compatibilité") > 0
    assert any("question to the customer" in s.why for s in asks.evidence["relevance"])
    # "asks for useful details" is met by the question that asks them
    detail = score(rubric, "technical-app-bug-en", "Hi Claire,\nCould you send us a screenshot of the error?")
    assert credited(detail, "asks for useful details") > 0


def test_a_customer_sent_to_look_it_up_or_to_the_only_channel_gets_no_answer(rubric):
    fills = {"accessory": "le câble USB-C vers HDMI", "device": "ma tablette tactile"}
    site = score(rubric, "commercial-compatibility-fr", "Bonjour,\nLes informations de compatibilité sont "
                 "disponibles sur notre site internet, nous vous invitons à les consulter.", **fills)
    sellers = score(rubric, "commercial-compatibility-fr", "Bonjour,\nNos vendeurs en magasin sauront vous "
                    "conseiller sur la compatibilité.", **fills)
    phone = score(rubric, "delivery-change-address-fr", "Bonjour,\nLes modifications d'adresse se font "
                  "uniquement par téléphone au 09 69 32 10 10.", order_number="CMD-558109")
    assert credited(site, "compatibilité") == 0 and credited(sellers, "compatibilité") == 0
    assert credited(phone, "adresse") == 0
    # the product said to be on sale on the site is stock, not a pointer to information
    sold = score(rubric, "commercial-compatibility-fr", "Bonjour,\nLe câble est disponible sur notre site et "
                 "en stock dans notre magasin de Lyon.", **fills)
    assert credited(sold, "disponibilité") > 0
    # ...and something to do there is the procedure: "veuillez imprimer l'étiquette depuis votre espace client"
    label = score(rubric, "complaint-faulty-product-fr", "Bonjour,\nVeuillez imprimer l'étiquette de retour depuis "
                  "votre espace client.", product="un purificateur d'air", order_number="CMD-731846")
    assert credited(label, "marche à suivre") > 0
    # ...but the website is the answer to "offers a workaround (website, other access)"
    web = score(rubric, "technical-app-bug-en", "Hi Claire,\nIn the meantime, please log in on our website "
                "to make your payments.")
    assert credited(web, "workaround") > 0


def test_most_some_and_an_elided_si_do_not_assert_for_this_customer(rubric):
    fills = {"accessory": "le chargeur rapide 65 W", "device": "mon ordinateur portable"}
    yours = score(rubric, "commercial-compatibility-fr", "Bonjour,\nLe chargeur est compatible avec votre "
                  "ordinateur portable.", **fills)
    most = score(rubric, "commercial-compatibility-fr", "Bonjour,\nLe chargeur est compatible avec la majorité "
                 "des ordinateurs portables.", **fills)
    some = score(rubric, "commercial-compatibility-fr", "Bonjour,\nLe chargeur n'est compatible qu'avec "
                 "certains modèles.", **fills)
    assert credited(most, "compatibilité") == credited(some, "compatibilité") == \
        pytest.approx(credited(yours, "compatibilité") / 2, abs=0.01)
    # "s'il est déjà parti" is a condition like "si le colis est déjà parti"
    elided = score(rubric, "delivery-change-address-fr", "Bonjour,\nS'il est déjà parti, une redirection "
                   "vers un point relais sera possible.", order_number="CMD-558109")
    assert 0 < credited(elided, "trop tard") < 40 / 5  # weight 1 of 5: 8 when asserted
    # ...but "s'il vous plaît" is "please", no condition
    please = score(rubric, "delivery-change-address-fr", "Bonjour,\nS'il vous plaît, notez que nous avons "
                   "modifié l'adresse de livraison.", order_number="CMD-558109")
    plain = score(rubric, "delivery-change-address-fr", "Bonjour,\nNous avons modifié l'adresse de livraison.",
                  order_number="CMD-558109")
    assert credited(please, "adresse peut") == credited(plain, "adresse peut") > 0


def test_the_request_s_multi_word_concepts_are_restated_too(rubric):
    fills = {"month": "mars", "billed": "64,98", "expected": "34,99", "customer_number": "60428817"}
    res = score(rubric, "billing-wrong-invoice-fr", "@claire Les frais de service de mars ont été comptés deux "
                "fois : on vous rembourse la différence. ^NA", channel="x", **fills)
    assert any("'error'" in s.why for s in res.evidence["reformulation"])


def test_a_date_asked_is_met_in_full_only_by_a_time_told(rubric):
    fills = {"order_number": "338104297", "order_day": "Tuesday", "needed_by": "Saturday", "product": "LEGO set"}
    vague = score(rubric, "delivery-tracking-en", "Hello Claire,\nYour parcel is being delivered by DPD.", **fills)
    dated = score(rubric, "delivery-tracking-en", "Hello Claire,\nYour parcel will be delivered by DPD on "
                  "Thursday.", **fills)
    assert credited(dated, "delivery date") > 0
    assert credited(vague, "delivery date") == pytest.approx(credited(dated, "delivery date") / 2, abs=0.01)
    assert any("none given" in s.why for s in vague.evidence["relevance"])


def test_an_unlocked_account_is_the_problem_fixed(rubric):
    res = score(rubric, "technical-login-fr", "Bonjour Claire,\nVotre compte était bloqué : il est débloqué.")
    assert credited(res, "Résout le problème") > 0


def test_an_apology_or_a_thanks_is_never_the_request_told_back(rubric):
    # "about your" opens a restatement, but the apology before it is the brand's own
    res = score(rubric, "complaint-faulty-product-fr", "@claire So sorry about your air purifier! ^JS", channel="x",
                product="un purificateur d'air", order_number="CMD-731846")
    assert credited(res, "S'excuse") > 0


def test_an_invoice_is_an_invoice_in_either_language(rubric):
    # "facture" is read as an invoice, not as a fee: an English "next bill" meets "prochaine facture"
    fills = {"month": "mars", "billed": "64,98", "expected": "34,99", "customer_number": "60428817"}
    res = score(rubric, "billing-wrong-invoice-fr", "Hello Claire,\nYour next bill will be back to normal.", **fills)
    assert credited(res, "prochaines factures") > 0


def test_thanks_said_with_an_object_pronoun_or_en_still_thank(rubric):
    fills = {"month": "mars", "billed": "64,98", "expected": "34,99", "customer_number": "60428817"}
    told = score(rubric, "billing-wrong-invoice-fr", "Bonjour,\nMerci de nous l'avoir signalé : la facture est "
                 "corrigée.\nCordialement,\nNadia", **fills)
    en = score(rubric, "billing-wrong-invoice-fr", "Bonjour,\nNous avons reçu votre demande et vous en "
               "remercions.\nCordialement,\nNadia", **fills)
    ask = score(rubric, "billing-wrong-invoice-fr", "Bonjour,\nMerci de nous préciser votre numéro client.\n"
                "Cordialement,\nNadia", **fills)
    assert any("thanks the customer" in s.why for s in told.evidence["politeness"])
    assert any("thanks the customer" in s.why for s in en.evidence["politeness"])
    assert not any("thanks the customer" in s.why for s in ask.evidence["politeness"])


def test_the_praised_agent_having_the_message_is_the_thanks_passed_on(rubric):
    fills = {"agent_name": "Priya", "product": "table lamp", "when": "Last week", "brand": "Lampwell"}
    seen = score(rubric, "sympathy-compliment-en", "@claire Thanks so much! Priya has seen it and is delighted. "
                 "^RD", channel="x", **fills)
    solved = score(rubric, "sympathy-compliment-en", "@claire Thanks so much! Priya fixed it quickly, glad it "
                   "worked out. ^RD", channel="x", **fills)
    assert credited(seen, "pass the thanks on") > 0
    assert credited(solved, "pass the thanks on") == 0


def test_an_app_version_asked_is_no_update(rubric):
    version = score(rubric, "technical-app-bug-en", "Hi Claire,\nPlease tell us your app version.")
    assert credited(version, "asks for useful details") > 0
    assert credited(version, "an update to install") == 0
