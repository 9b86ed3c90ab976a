"""split_reply: quoted history and signatures, over the corpus and on hand-made cases."""

from __future__ import annotations

import pytest

from qualibench.mail.parse import parse_message
from qualibench.mail.quotes import split_reply
from tests.plugins.mail_corpus import EXPECTED, PARSEABLE


@pytest.mark.parametrize("name", PARSEABLE)
def test_corpus_reply_signature_quoted(name, mail_fixture_bytes):
    exp = EXPECTED[name]
    msg = parse_message(mail_fixture_bytes(name))
    for needle in exp.get("reply_contains", []):
        assert needle in msg.reply_text, f"{needle!r} missing from reply:\n{msg.reply_text}"
    for needle in exp.get("reply_absent", []):
        assert needle not in msg.reply_text, f"{needle!r} left in reply:\n{msg.reply_text}"
    for needle in exp.get("signature_contains", []):
        assert needle in msg.signature, f"{needle!r} missing from signature:\n{msg.signature}"
    for needle in exp.get("quoted_contains", []):
        assert needle in msg.quoted, f"{needle!r} missing from quoted:\n{msg.quoted}"


def test_french_attribution_with_narrow_no_break_space():
    text = (
        "Bonjour,\n\nC'est réglé.\n\n"
        "Le 3 mars 2026 à 10:02, Marie Durand <marie.durand.k3f9@alias.example> a écrit\u202f:\n"
        "> Ma commande ?\n"
    )
    reply, signature, quoted = split_reply(text, "fr")
    assert reply == "Bonjour,\n\nC'est réglé."
    assert signature == ""
    assert quoted.startswith("Le 3 mars 2026") and "> Ma commande ?" in quoted


def test_english_attribution_wrapped_over_two_lines():
    text = (
        "Hi,\nDone.\n\nOn Tue, Mar 3, 2026 at 10:02 AM Marie Durand <\n"
        "marie.durand.k3f9@alias.example> wrote:\n> question\n"
    )
    reply, _, quoted = split_reply(text, "en")
    assert reply == "Hi,\nDone."
    assert "> question" in quoted


def test_outlook_english_block_without_separator():
    text = (
        "Refund issued.\n\nFrom: Emma <emma@alias.example>\nSent: Monday, March 9, 2026 4:20 PM\n"
        "To: care@brand-f.example\nSubject: Damaged item\n\nHello\n"
    )
    reply, _, quoted = split_reply(text)
    assert reply == "Refund issued."
    assert quoted.startswith("From: Emma")


def test_outlook_french_block_with_no_break_spaces():
    text = (
        "Remboursé.\n\nDe\u00a0: Paul <p@alias.example>\nEnvoyé\u00a0: lundi 9 mars 2026 10:00\n"
        "À\u00a0: sav@brand-e.example\nObjet\u00a0: Retour\n\nBonjour\n"
    )
    reply, _, quoted = split_reply(text)
    assert reply == "Remboursé."
    assert "Objet\u00a0: Retour" in quoted


def test_a_sentence_starting_with_de_is_not_a_header_block():
    text = "De : nombreux clients nous ont écrit.\nNous corrigeons le problème.\n\nCordialement,"
    reply, _, quoted = split_reply(text)
    assert quoted == ""
    assert "Nous corrigeons le problème." in reply


def test_original_message_separators_in_both_languages():
    for sep in ("-----Original Message-----", "-----Message d'origine-----"):
        reply, _, quoted = split_reply(f"Voici.\n\n{sep}\nDe : x\nBonjour\n")
        assert reply == "Voici."
        assert quoted.startswith(sep)


def test_closing_stays_in_reply_and_name_block_goes_to_signature():
    text = "Bonjour,\n\nVotre colis arrive demain.\n\nBien à vous,\nJulie\nService client\n"
    reply, signature, quoted = split_reply(text)
    assert reply.endswith("Bien à vous,")
    assert signature == "Julie\nService client"
    assert quoted == ""


def test_sig_dash_delimiter():
    reply, signature, _ = split_reply("Hello,\nDone.\n-- \nTom\nBrand B\n")
    assert reply == "Hello,\nDone."
    assert signature == "Tom\nBrand B"


def test_mobile_footer_is_signature():
    reply, signature, _ = split_reply("Oui, c'est possible.\n\nSent from my iPhone\n")
    assert reply == "Oui, c'est possible."
    assert signature == "Sent from my iPhone"


def test_closing_word_in_the_middle_of_a_long_text_is_not_a_signature():
    body = "\n".join(f"Ligne d'explication numéro {i} sur votre dossier." for i in range(15))
    text = f"Bonjour,\nMerci,\n{body}\n"
    reply, signature, _ = split_reply(text)
    assert signature == ""
    assert "numéro 14" in reply


def test_inline_quotes_between_answers_are_removed():
    text = "Bonjour,\n> Où est mon colis ?\nIl arrive demain.\n> Et la facture ?\nJointe.\n"
    reply, _, quoted = split_reply(text)
    assert "Où est mon colis" not in reply
    assert "Il arrive demain." in reply and "Jointe." in reply
    assert "> Et la facture ?" in quoted


def test_text_without_history_or_signature_is_unchanged():
    text = "Bonjour,\nVotre remboursement est parti."
    assert split_reply(text) == (text, "", "")


def test_merci_followed_by_sentences_is_not_a_signature_closing():
    text = "Bonjour,\nMerci.\nVotre colis arrive demain.\nJulie"
    reply, signature, _ = split_reply(text)
    assert "Votre colis arrive demain." in reply
    assert "Votre colis" not in signature
    reply, signature, _ = split_reply("Oui, c'est fait.\n\nMerci,\nJulie\nService client\n")
    assert reply == "Oui, c'est fait.\n\nMerci,"
    assert signature == "Julie\nService client"


@pytest.mark.parametrize(
    "marker",
    [
        "Begin forwarded message:",
        "Début du message réexpédié :",
        "-------- Message original --------",
        "--------------- Original Message ---------------",
        "---------- Forwarded message ---------",
    ],
)
def test_forward_and_original_markers(marker):
    reply, _, quoted = split_reply(f"C'est noté.\n\n{marker}\n\nDe : x\nAncien texte\n")
    assert reply == "C'est noté."
    assert quoted.startswith(marker) and "Ancien texte" in quoted


def test_answer_written_below_the_quoted_history():
    text = (
        "Le 3 mars 2026 à 10:02, Marie Durand <marie.durand.k3f9@alias.example> a écrit :\n"
        "> Où est mon colis ?\n>\n\nIl arrive demain matin.\n\nCordialement,\nJulie\n"
    )
    reply, signature, quoted = split_reply(text)
    assert reply == "Il arrive demain matin.\n\nCordialement,"
    assert signature == "Julie"
    assert "Où est mon colis" in quoted and "a écrit" in quoted
