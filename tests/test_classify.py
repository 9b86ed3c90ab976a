"""classify / classify_text / normalise_subject / extract_ticket_ref / detect_language."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import yaml

from qualibench.mail.classify import (
    classify,
    classify_text,
    extract_ticket_ref,
    normalise_subject,
    request_specifics,
    touches_request,
    with_request,
)
from qualibench.mail.language import detect_language
from qualibench.mail.parse import parse_message
from qualibench.models import ReplyKind
from tests.plugins.mail_corpus import EXPECTED, PARSEABLE, timing

SENT = datetime(2026, 3, 3, 9, 0, tzinfo=UTC)


@pytest.mark.parametrize("name", PARSEABLE)
def test_corpus_classification(name, mail_fixture_bytes):
    exp = EXPECTED[name]
    msg = parse_message(mail_fixture_bytes(name))
    result = classify(msg, **timing(exp))
    assert result.kind == ReplyKind(exp["kind"]), result.reason
    assert result.reason
    if "ticket_ref" in exp:
        assert result.ticket_ref == (exp["ticket_ref"] or "")
    if "normalised_subject" in exp:
        assert normalise_subject(msg.subject) == exp["normalised_subject"]
    if "failed_recipients" in exp:
        assert result.failed_recipients == exp["failed_recipients"]
    if "bounce_diagnostic_contains" in exp:
        assert exp["bounce_diagnostic_contains"] in result.bounce_diagnostic
    if "redirect_to_contains" in exp:
        assert exp["redirect_to_contains"] in result.redirect_to
    if "language" in exp:
        assert result.language == exp["language"]


def test_a_fast_content_free_email_is_automatic_a_fast_answer_is_not(mail_fixture_bytes):
    msg = parse_message(mail_fixture_bytes("ack-instant-no-headers.eml"))  # "Bien noté, merci."
    slow = classify(msg, sent_at=SENT, received_at=SENT + timedelta(hours=3))
    fast = classify(msg, sent_at=SENT, received_at=SENT + timedelta(seconds=12))
    assert slow.kind is ReplyKind.ANSWER
    assert fast.kind is ReplyKind.AUTO_ACK
    assert "12 s" in fast.reason and "says nothing" in fast.reason
    # Arrival time alone never makes a reply automatic: a real answer 12 s after stays an answer.
    raw = mail_fixture_bytes("ack-instant-no-headers.eml").replace(
        "Bien noté, merci.".encode(), b"Votre colis part demain par Colissimo, livraison jeudi avant midi.")
    quick_answer = classify(parse_message(raw), sent_at=SENT, received_at=SENT + timedelta(seconds=12))
    assert quick_answer.kind is ReplyKind.ANSWER


def test_only_bounces_carry_failed_recipients(mail_fixture_bytes):
    for name in PARSEABLE:
        result = classify(parse_message(mail_fixture_bytes(name)))
        if result.kind is not ReplyKind.BOUNCE:
            assert result.failed_recipients == [], name


def test_classify_text_for_headerless_replies():
    answer = classify_text(
        "Bonjour Marie, nous sommes désolés pour ce retard. Votre colis a été remis au transporteur "
        "ce matin et arrivera jeudi ; nous vous remboursons les frais de port.",
        subject="",
    )
    assert answer.kind is ReplyKind.ANSWER
    assert answer.language == "fr"
    dm_redirect = classify_text("Bonjour, merci de nous contacter par téléphone au 0 892 70 12 12.")
    assert dm_redirect.kind is ReplyKind.REDIRECT
    assert dm_redirect.redirect_to.replace(" ", "").startswith("0892")
    ack = classify_text("Hello! We've received your message and will get back to you shortly.")
    assert ack.kind is ReplyKind.AUTO_ACK
    # A person answering a tweet 50 s later is still a person: timing never decides on X.
    quick = classify_text("@emma Hi Emma, sorry about that! Your parcel left today and arrives Friday. ^JM",
                          sent_at=SENT, received_at=SENT + timedelta(seconds=50))
    assert quick.kind is ReplyKind.ANSWER


@pytest.mark.parametrize("text", [
    "Nous avons bien reçu votre demande. Votre colis CMD-640021 a été remis hier à Chronopost et sera livré "
    "jeudi ; le numéro de suivi est XY482216735FR.",
    "Hello Claire,\n\nThanks, we've received your message. Your LEGO set shipped with Royal Mail and should "
    "arrive tomorrow.\n\nBest regards,\nNathan",
])
def test_an_acknowledgement_followed_by_an_answer_is_an_answer(text):
    result = classify_text(text)
    assert result.kind is ReplyKind.ANSWER and result.acknowledged
    assert "acknowledgement phrase" in result.reason


@pytest.mark.parametrize("text", [
    "Bonjour,\n\nNous avons bien reçu votre demande n° 558214. Un conseiller vous répondra sous 48 heures "
    "ouvrées.\n\nCeci est un message automatique, merci de ne pas y répondre.\n\nLe service clients",
    "Thanks for contacting us! We've received your message and a member of our team will get back to you "
    "within 48 hours. Your reference is ML-552190.",
])
def test_an_acknowledgement_alone_is_automatic(text):
    assert classify_text(text).kind is ReplyKind.AUTO_ACK


@pytest.mark.parametrize("text", [
    "This mailbox is not monitored. Please do not reply to this email. If you need help, please use the "
    "contact form on our website.",
    "Bonjour,\n\nCette adresse e-mail n'est pas consultée. Pour toute demande, merci d'utiliser le formulaire "
    "de contact de votre espace client ou d'appeler le 3900.",
    "Ce message a été envoyé depuis une adresse qui ne peut pas recevoir de réponse (noreply).",
])
def test_not_monitored_notices_are_automatic_non_answers_not_redirects(text):
    result = classify_text(text)
    assert result.kind is ReplyKind.AUTO_ACK and result.notice == "not_monitored"


def test_a_bounce_pasted_as_text_is_a_bounce_but_a_version_number_is_not():
    bounce = classify_text("Delivery has failed to these recipients or groups:\ncontact@brand.example\n"
                           "Remote Server returned '550 5.1.1 RESOLVER.ADR.RecipNotFound; not found'")
    assert bounce.kind is ReplyKind.BOUNCE
    answer = classify_text("Hi Claire, version 5.2.1 fixes the crash and should be in the App Store by "
                           "Thursday. Best, Priya")
    assert answer.kind is ReplyKind.ANSWER


def test_a_closed_service_notice_is_out_of_office():
    result = classify_text("Bonjour,\n\nNotre service client est fermé du 24 décembre au 2 janvier inclus. "
                           "Votre message sera traité à notre retour.\n\nL'équipe")
    assert result.kind is ReplyKind.OUT_OF_OFFICE


def test_form_redirect_in_english_text():
    result = classify_text("Hi, please use our web form at https://brand-k.example/contact. Thanks")
    assert result.kind is ReplyKind.REDIRECT
    assert result.redirect_to == "https://brand-k.example/contact"


@pytest.mark.parametrize(
    ("subject", "normalised"),
    [
        ("RE: Ma commande", "ma commande"),
        ("TR: Fwd: AW: RE : Ma  Commande", "ma commande"),
        ("[Ticket #4821] RE: Ma commande", "ma commande"),
        ("RE: [Brand A] Re: Ma commande", "ma commande"),
        ("Réf. : 12345-ABC - RE: Ma commande", "ma commande"),
        ("RE: Ma commande [#1234]", "ma commande"),
        ("RÉF: Ma commande", "ma commande"),
        ("Re[2]: Ma commande", "ma commande"),
        ("Ma commande (Ticket 8812)", "ma commande"),
        ("Ma commande n'est pas arrivée", "ma commande n'est pas arrivee"),
        ("", ""),
    ],
)
def test_normalise_subject(subject, normalised):
    assert normalise_subject(subject) == normalised


@pytest.mark.parametrize(
    ("subject", "text", "ref"),
    [
        ("[Ticket #4821] RE: Ma commande", "", "4821"),
        ("RE: Ma commande - Réf. : 12345-ABC", "", "12345-ABC"),
        ("Case 00123456: your request", "", "00123456"),
        ("", "Votre demande n° 123456 a bien été enregistrée.", "123456"),
        ("", "Your request #789 has been received.", "789"),
        ("Re: Ma commande", "Bonjour, votre colis arrive demain.", None),
        ("RE: Commande du 3 mars", "Nous avons 2 articles en stock.", None),
    ],
)
def test_extract_ticket_ref(subject, text, ref):
    assert extract_ticket_ref(subject, text) == ref


@pytest.mark.parametrize(
    ("text", "language"),
    [
        ("Bonjour, nous avons bien reçu votre demande et nous vous répondrons.", "fr"),
        ("Hello, we have received your request and will answer you soon.", "en"),
        ("OK", ""),
        ("", ""),
    ],
)
def test_detect_language(text, language):
    assert detect_language(text) == language


def test_human_answer_opening_with_acknowledgement_words_is_an_answer():
    text = (
        "Bonjour Madame,\n\nNous avons bien reçu votre demande et nous sommes désolés pour ce retard. "
        "Votre colis est bloqué au dépôt de Lyon à cause des intempéries ; il repartira demain matin "
        "et vous sera livré jeudi. Nous vous remboursons les frais de port de 4,90 euros dès "
        "aujourd'hui.\n\nCordialement,"
    )
    assert classify_text(text).kind is ReplyKind.ANSWER
    short = "Bonjour,\n\nNous avons bien reçu votre demande, nous revenons vers vous rapidement.\n\nCordialement,"
    assert classify_text(short).kind is ReplyKind.AUTO_ACK


def test_back_on_date_inside_a_long_answer_is_not_out_of_office():
    text = (
        "Hello John,\n\nThe shop manager is on leave this week, so I checked the stock myself: the "
        "blue jacket in size M is available in our Lyon store and we can reserve it for you until "
        "Saturday evening. The price is the one shown on the website, 89 euros, and you can pay in "
        "store.\n\nKind regards,"
    )
    assert classify_text(text).kind is ReplyKind.ANSWER
    oof = "I am out of the office until Monday with limited access to email."
    assert classify_text(oof).kind is ReplyKind.OUT_OF_OFFICE


def test_auto_submitted_header_with_a_short_text_is_an_ack():
    raw = (
        b"From: noreply@brand-a.example\r\nTo: marie.durand.k3f9@alias.example\r\n"
        b"Subject: Re: Ma commande\r\nAuto-Submitted: auto-replied\r\n\r\nMessage transmis.\r\n"
    )
    result = classify(parse_message(raw))
    assert result.kind is ReplyKind.AUTO_ACK
    assert "Auto-Submitted" in result.reason
    human = classify(parse_message(raw.replace(b"Auto-Submitted: auto-replied\r\n", b"")))
    assert human.kind is ReplyKind.ANSWER


@pytest.mark.parametrize(
    ("text", "target"),
    [
        (
            "Bonjour, pour ce type de demande appelez le 0 892 35 03 30 (0,40 €/min). Cordialement",
            "0 892 35 03 30",
        ),
        ("Bonjour, merci de contacter notre service au 08 99 10 20 30.", "08 99 10 20 30"),
        (
            "Bonjour, veuillez utiliser notre formulaire de contact sur www.brand-a.example/contact.",
            "www.brand-a.example/contact",
        ),
        ("Bonjour, contactez-nous via l'espace client, rubrique Mes demandes.", ""),
        (
            "Hello, please call our customer line on 0 892 12 34 56, we cannot help by e-mail.",
            "0 892 12 34 56",
        ),
    ],
)
def test_redirect_wordings(text, target):
    result = classify_text(text)
    assert result.kind is ReplyKind.REDIRECT, result.reason
    assert result.redirect_to == target


def test_bounce_by_subject_needs_bounce_words_in_the_body():
    head = (
        b"From: Mail System <mail@mx.brand-z.example>\r\nTo: marie.durand.k3f9@alias.example\r\n"
        b"Subject: Undeliverable: Question sur ma commande\r\n\r\n"
    )
    ndr = classify(
        parse_message(
            head + b"Delivery has failed to these recipients:\r\n\r\ncontact@brand-z.example\r\n"
            b"Remote Server returned '550 5.1.1 User unknown'\r\n"
        )
    )
    assert ndr.kind is ReplyKind.BOUNCE
    assert ndr.failed_recipients == ["contact@brand-z.example"]
    assert "5.1.1" in ndr.bounce_diagnostic
    answer = classify(
        parse_message(
            head + b"Bonjour, nous avons retrouve votre commande au depot de Lyon : elle repart "
            b"demain et vous sera livree jeudi, sans frais supplementaires pour vous.\r\n"
        )
    )
    assert answer.kind is not ReplyKind.BOUNCE


def test_a_reply_dated_before_its_request_is_flagged_and_kept_out_of_timing(sent_campaign):
    from sqlmodel import select

    from qualibench.analytics import load_tests
    from qualibench.models import DelayReview, InboundMessage, Probe, Reply
    from qualibench.probes import decide_delay, record_reply

    ws, probes = sent_campaign(brands=1)
    first = probes[0]
    with ws.session() as s:
        cid = ws.campaign(s).id
        inbound = InboundMessage(campaign_id=cid, sha256="2" * 64)
        s.add(inbound)
        s.flush()
        # An X item whose created_at is an hour before the tweet it answers (a wrong API clock).
        reply = record_reply(s, s.get(Probe, first.id), inbound, kind=ReplyKind.ANSWER,
                             text="Bonjour, votre colis part demain.", method="api_thread",
                             received_at=first.sent_at - timedelta(hours=1), confidence=1.0,
                             clock=ws.clock)
        s.commit()
        reply_id = reply.id
    with ws.session() as s:
        probe = s.get(Probe, first.id)
        assert s.get(Reply, reply_id).delay_review == DelayReview.PENDING
        assert probe.first_answer_at is None and probe.state == "sent"
        tests = load_tests(s, cid)
        row = tests[tests.probe_id == first.id].iloc[0]
        assert not row["answered"] and row["first_answer_reply_id"] is None
        assert (tests["delay_h"].dropna() >= 0).all()
        # The analyst checks the dates and lets it count: now it stops the clock.
        decide_delay(s, s.get(Reply, reply_id), probe, keep=True, clock=ws.clock, by="ana")
        s.commit()
    with ws.session() as s:
        probe = s.exec(select(Probe).where(Probe.id == first.id)).one()
        assert s.get(Reply, reply_id).delay_review == DelayReview.KEPT
        assert probe.first_answer_at is not None and probe.state == "answered"


# Acknowledgements read by structure (a receipt with a reference, a promise to reply, an automatic
# notice, queue information), in wordings no template list of the classifier was written from.
@pytest.mark.parametrize(
    "text, kind",
    [
        ("We've got your message! Our team aims to reply within 24 hours.", "auto_ack"),
        ("Merci pour votre message. Nos conseillers mettent tout en œuvre pour vous répondre rapidement.", "auto_ack"),
        ("Votre demande a été prise en charge sous le numéro 4471-220.", "auto_ack"),
        ("Thanks! Please allow up to 3 working days for a response.", "auto_ack"),
        ("Votre dossier 20-44871 a été ouvert. Un conseiller reviendra vers vous.", "auto_ack"),
        ("I am currently on holiday with no access to email until 4 March.", "out_of_office"),
        ("Bonjour, je suis actuellement en vacances et je lirai votre message à mon retour.", "out_of_office"),
        ("Les réponses envoyées à cette adresse ne sont pas lues. Utilisez le formulaire d'aide.", "not_monitored"),
        ("Emails sent to this inbox won't be read. Please use our help centre.", "not_monitored"),
        # an acknowledgement followed by something about this case is an answer
        ("Nous avons bien reçu votre demande n° 55120. Votre colis a été remis à Chronopost et sera livré mardi.",
         "answer"),
        ("Thanks, we've received your request (ref 88120). Returns are free: print the label from your account "
         "and your refund reaches your card within 5 working days.", "answer"),
        # a bare "noted" is a curt human reply, scored low, not an automatic one
        ("Bonjour, nous avons pris note de votre demande. Cordialement, Le service clients", "answer"),
        # "automatique" about a direct debit, "reply" as an instruction: not acknowledgement roles
        ("Votre demande de résiliation est enregistrée. Le prélèvement automatique s'arrête le 15.", "answer"),
        ("We have received your photos. Reply to this email with your address and we'll send a new kettle.",
         "answer"),
        # a phone number after "demande" is not a reference
        ("Bonjour, pour ce type de demande appelez le 01 45 22 10 10. Cordialement", "redirect"),
        # self-help while waiting, or "do not write again", add nothing about the case
        ("Thanks for your email! We'll be in touch soon. In the meantime, our help centre answers most "
         "questions about orders and returns.", "auto_ack"),
        ("Votre message nous est bien parvenu, un conseiller vous répondra. En attendant, consultez notre "
         "rubrique Aide et ses questions fréquentes.", "auto_ack"),
        ("We've logged your enquiry. Please do not send your request again, as this will delay our reply.",
         "auto_ack"),
        # one sentence may acknowledge and answer: its clauses are read on their own
        ("Nous avons bien pris en compte votre résiliation : elle sera effective le 30 juin, sans frais.", "answer"),
        ("We have received your returned lamp and your refund of £39.99 has been issued to your card.", "answer"),
        # ...but the clauses of an acknowledgement that speak of replying stay acknowledgement
        ("Votre demande (#4821) a bien été reçue et est en cours d'examen. Un conseiller vous répondra vite.",
         "auto_ack"),
        # courtesy that could go to anybody is no content
        ("We're sorry you've had a problem. Your email is important to us and we'll respond within 2 days.",
         "auto_ack"),
        ("This is a send-only address. Replies to this message will not reach us. Please use the app.",
         "not_monitored"),
        ("@claire Hello, this account isn't staffed. Please contact us via our website.", "not_monitored"),
        # a time alone is not acknowledgement wording: a delivery due within 48 h answers
        ("Merci pour votre message. Votre colis a quitté notre entrepôt hier, la livraison est prévue sous "
         "48 heures.", "answer"),
        # an emoji is no word: a greeting and thanks stay filler
        ("Bonjour 👋 Merci pour votre message ! Un conseiller vous répond dès que possible.", "auto_ack"),
        # "réf." does not end the sentence that carries the reference
        ("Votre requête (réf. 558102) est en cours d'examen. Merci de votre patience.", "auto_ack"),
        # the message says it was sent by a machine; a confirmation mailed on submission
        ("Votre e-mail nous est parvenu et nous vous répondrons sous 3 jours. Ce courriel a été envoyé par "
         "un automate, n'y répondez pas.", "auto_ack"),
        ("Form received, thank you! A confirmation has been sent to your inbox.", "auto_ack"),
        # status pages, being told of the decision later, instructions once reviewed: no content
        ("Your enquiry has been submitted. You can track the status of your request in your account at any time.",
         "auto_ack"),
        ("Votre dossier sera étudié par ordre d'arrivée. Vous serez informé par courriel de la décision prise.",
         "auto_ack"),
        ("Your complaint has been logged (RMA 55-1023). You will receive an email with further instructions "
         "once we have looked at it.", "auto_ack"),
        ("Cet e-mail provient d'une adresse ne pouvant recevoir de messages. Écrivez-nous via l'appli.",
         "not_monitored"),
        # a person signs: a curt human reply, not an automatic one; an imperative asks for a detail
        ("Bonjour Léa, merci ! Nous avons transmis votre demande au service technique qui reviendra vers vous. -Marc",
         "answer"),
        ("Désolés pour ce souci ! Envoyez-nous votre numéro de client en DM et on revient vers vous dans l'heure. ^AB",
         "redirect"),
    ],
)
def test_acknowledgement_structure(text, kind):
    result = classify_text(text)
    assert (result.notice or result.kind.value) == kind, result.reason


NEW_WORDINGS = Path(__file__).parent / "fixtures" / "classify" / "new_wordings.yaml"
AUTOMATIC = {"auto_ack", "out_of_office", "not_monitored", "bounce"}


def _new_wordings() -> list[dict]:
    return yaml.safe_load(NEW_WORDINGS.read_text(encoding="utf-8"))["items"]


@pytest.mark.parametrize("item", _new_wordings(), ids=lambda item: item["id"])
def test_automatic_replies_in_wordings_no_rule_lists(item):
    """Receipts, promises, absences and unread-mailbox notices worded unlike any listed template are
    read by role; an acknowledgement opening followed by a fact of the case stays an answer."""
    result = classify_text(item["text"])
    predicted = result.notice or result.kind.value
    if item["kind"] in AUTOMATIC:
        assert predicted == item["kind"], result.reason
    else:
        assert predicted not in AUTOMATIC, result.reason


FRESH = Path(__file__).parent / "fixtures" / "classify" / "fresh_requests.yaml"
FRESH9 = FRESH.with_name("fresh_requests9.yaml")
FRESH10 = FRESH.with_name("fresh_requests10.yaml")
FRESH11 = FRESH.with_name("fresh_requests11.yaml")
FRESH12 = FRESH.with_name("fresh_requests12.yaml")
FRESH13 = FRESH.with_name("fresh_requests13.yaml")
# Notices told from an answer only by their request: a list of documents to prepare (f03), an incident
# notice (m07), a team that "reads every message personally" (t02), letters' investigation promises (t04),
# a return's next steps (t10).
NEEDS_REQUEST = ("f03", "m07", "t02", "t04", "t10")


def test_notices_and_answers_read_with_their_request():
    """Fresh sets 8 to 13 (each written before it was looked at, each reply with its request): every
    automatic notice is read as automatic -- tips, help links, hours, bots, menus and waits are part of a
    notice -- and no answer, redirect or curt human reply is, whether or not the request is known."""
    fresh = yaml.safe_load(FRESH.read_text(encoding="utf-8"))
    items = fresh["items"] + [item for path in (FRESH9, FRESH10, FRESH11, FRESH12, FRESH13)
                              for item in yaml.safe_load(path.read_text(encoding="utf-8"))["items"]]
    wrong = []
    for item in items:
        for request in (fresh["requests"][item["request"]], ""):
            result = classify_text(item["text"], request=request)
            automatic = (result.notice or result.kind.value) in AUTOMATIC
            if automatic != (item["kind"] in AUTOMATIC) and not (item["id"] in NEEDS_REQUEST and not request):
                wrong.append((item["id"], bool(request), result.reason))
    assert not wrong


TIP_NOTICE = ("Bonjour,\n\nVotre message a bien été reçu. Un conseiller vous répondra.\n\n"
              "Pièces utiles pour accélérer l'étude : photos du produit, numéro de série.\n\nService client")
ASKED = "Bonjour, mon aspirateur ne charge plus, la batterie reste à zéro. Comment obtenir un échange ?"


def test_the_request_tells_a_template_line_from_an_answer():
    """Without the request a line with words of its own beside a receipt is an answer; with it, a line
    sharing none of the request's specifics is the template's, and one that restates them answers."""
    alone = classify_text(TIP_NOTICE)
    assert alone.kind is ReplyKind.ANSWER and alone.acknowledged
    read = with_request(alone, ASKED, TIP_NOTICE)
    assert read.kind is ReplyKind.AUTO_ACK and "touches the request" in read.reason
    answer = TIP_NOTICE.replace("Pièces utiles pour accélérer l'étude : photos du produit, numéro de série.",
                                "Votre aspirateur sera échangé en magasin : la batterie est sous garantie.")
    kept = classify_text(answer)
    assert with_request(kept, ASKED, answer) is kept and kept.kind is ReplyKind.ANSWER
    # a reply read without any acknowledgement is never read again
    plain = classify_text("Votre aspirateur part en réparation demain.")
    assert with_request(plain, ASKED, "Votre aspirateur part en réparation demain.") is plain


def test_touching_the_request():
    asked = request_specifics("My order 88214 hasn't arrived and the tracking shows no update. Where is it?")
    assert touches_request("your order left the depot", asked)  # a word of the request
    assert touches_request("ref 88214 is with the courier", asked)  # a number of the request
    assert touches_request("it was handed to your neighbour yesterday", asked)  # a day of its own
    assert touches_request("a refund of £12.00 is on its way", asked)  # an amount
    assert not touches_request("pensez a l'application nexaline", asked)
