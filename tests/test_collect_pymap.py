"""End to end on in-process servers: send real probes, answer them as helpdesks do, collect.

The brand responder below writes the shapes real helpdesks produce: a plain quoted reply, an
HTML-only windows-1252 reply with a rewritten "[Ticket #...]" subject and no References, an
acknowledgement then a human answer hours later that only carries the ticket number, an
out-of-office, and a reply from another domain of the same brand.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from email import message_from_bytes
from email.message import EmailMessage
from email.policy import default as default_policy
from email.utils import format_datetime

from sqlmodel import select

from qualibench.clock import VirtualClock
from qualibench.collecting import collect
from qualibench.models import MatchMethod, Probe, ProbeState, Reply, ReplyKind
from qualibench.sending import send_due_probes

MONDAY_MORNING = datetime(2026, 12, 7, 8, 30, tzinfo=UTC)


def _answer(sent: bytes, body: str, *, when: datetime, sender: str | None = None,
            to: str | None = None, subject: str | None = None, thread: bool = True,
            html_1252: bool = False, headers: dict[str, str] | None = None) -> bytes:
    original = message_from_bytes(sent, policy=default_policy)
    msg = EmailMessage()
    msg["From"] = sender or str(original["To"])
    msg["To"] = to or str(original["Reply-To"] or original["From"])
    msg["Subject"] = subject or f"RE: {original['Subject']}"
    msg["Date"] = format_datetime(when)
    msg["Message-ID"] = f"<{abs(hash((body, when)))}@helpdesk.test>"
    if thread:
        msg["In-Reply-To"] = str(original["Message-ID"])
        msg["References"] = str(original["Message-ID"])
    for k, v in (headers or {}).items():
        msg[k] = v
    if html_1252:
        msg.set_content(f"<html><body><p>{body}</p></body></html>".encode("cp1252"),
                        maintype="text", subtype="html", cte="quoted-printable")
        msg.replace_header("Content-Type", 'text/html; charset="windows-1252"')
    else:
        msg.set_content(body)
    return msg.as_bytes()


def test_helpdesk_shapes_land_on_the_right_probe_with_kind_and_delay(mail_campaign, smtp_server,
                                                                     pymap_server):
    clock = VirtualClock(MONDAY_MORNING)
    ws = mail_campaign(clock=clock, brands=3)
    assert send_due_probes(ws).sent >= 4
    with ws.session() as s:
        probes = {p.message_id: p for p in s.exec(select(Probe).where(Probe.channel == "email"))}
    sent = {str(message_from_bytes(m.data, policy=default_policy)["Message-ID"]): m.data
            for m in smtp_server.messages}
    (a, raw_a), (b, raw_b), (c, raw_c), (d, raw_d) = [(probes[mid], sent[mid]) for mid in list(sent)[:4]]
    brand_domain = str(message_from_bytes(raw_a, policy=default_policy)["To"]).split("@")[1]
    t0 = MONDAY_MORNING

    replies = [
        # a: a plain answer from another domain of the same brand, 3 hours later
        (_answer(raw_a, "Bonjour, je suis désolée pour ce souci. Nous vous remboursons sous 5 jours. "
                 "Cordialement, Julie", when=t0 + timedelta(hours=3),
                 sender=f"julie@mail.{brand_domain.replace('.example', '-group.example')}"),
         t0 + timedelta(hours=3)),
        # b: HTML only, windows-1252, ticket subject, References dropped
        (_answer(raw_b, "Bonjour, voici la réponse à votre question : le modèle est compatible. "
                 "Cordialement, Léa", when=t0 + timedelta(hours=5), thread=False, html_1252=True,
                 subject="[Ticket #4821] RE: votre demande"), t0 + timedelta(hours=5)),
        # c: acknowledgement with a ticket number, within seconds...
        (_answer(raw_c, "Ceci est une réponse automatique. Votre demande a bien été enregistrée "
                 "sous le numéro 77120. Nous vous répondrons sous 48 heures.",
                 when=t0 + timedelta(seconds=20), subject="[Ticket #77120] Accusé de réception",
                 headers={"Auto-Submitted": "auto-replied"}), t0 + timedelta(seconds=20)),
        # ...then the human answer 26 hours later, from the CRM to the shopper's main mailbox,
        # with nothing but the ticket number to go by
        (_answer(raw_c, "Bonjour, nous avons remplacé votre appareil, il part demain. Cordialement, "
                 "Marc", when=t0 + timedelta(hours=26), thread=False, to=pymap_server.user,
                 subject="[Ticket #77120] Votre demande"), t0 + timedelta(hours=26)),
        # d: out of office
        (_answer(raw_d, "Je suis absent du bureau jusqu'au 14 décembre, sans accès à mes e-mails.",
                 when=t0 + timedelta(minutes=2), subject="Absent du bureau",
                 headers={"Auto-Submitted": "auto-replied", "X-Auto-Response-Suppress": "All"}),
         t0 + timedelta(minutes=2)),
    ]
    for raw, when in replies:
        pymap_server.append("INBOX", raw, when=when)

    report = collect(ws)

    assert report.new == 5 and report.matched == 5, report.as_dict()
    with ws.session() as s:
        got = {(r.probe_id, r.kind, r.match_method) for r in s.exec(select(Reply))}
        by_id = {p.id: p for p in s.exec(select(Probe))}
    assert (a.id, ReplyKind.ANSWER, MatchMethod.REPLY_ADDRESS) in got
    assert (b.id, ReplyKind.ANSWER, MatchMethod.REPLY_ADDRESS) in got
    assert (c.id, ReplyKind.AUTO_ACK, MatchMethod.REPLY_ADDRESS) in got
    assert (c.id, ReplyKind.ANSWER, MatchMethod.TICKET_REF) in got
    assert (d.id, ReplyKind.OUT_OF_OFFICE, MatchMethod.REPLY_ADDRESS) in got
    pa, pc, pd = by_id[a.id], by_id[c.id], by_id[d.id]
    assert pa.state == ProbeState.ANSWERED and pa.first_answer_at - pa.sent_at == timedelta(hours=3)
    assert pc.first_ack_at - pc.sent_at == timedelta(seconds=20)
    assert pc.first_answer_at - pc.sent_at == timedelta(hours=26)
    assert pd.state == ProbeState.SENT and pd.first_answer_at is None  # an OOO stops no clock
    # The shopper's copies in Sent are not replies: only INBOX/Junk are scanned.
    assert {f.folder for f in report.folders} <= {"INBOX", "Junk"}
