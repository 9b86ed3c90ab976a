"""Fixtures of the collecting tests: a planned campaign whose e-mail probes are sent, and replies."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid

import pytest
from sqlmodel import col, select

from qualibench.clock import VirtualClock
from qualibench.models import Brand, Persona, Probe, ProbeState
from qualibench.probes import transition
from qualibench.workspace import Workspace

SHOPPER = "shopper@shop.test"
PASSWORD_ENV = "QB_TEST_IMAP_PASSWORD"


@dataclass
class SentProbe:
    id: int
    key: str
    reply_address: str
    message_id: str
    subject: str
    sent_at: datetime
    brand_email: str
    persona_email: str


def mark_sent(ws: Workspace) -> list[SentProbe]:
    """Mark every e-mail probe sent at its planned slot (the sending side is not under test)."""
    out = []
    with ws.session() as session:
        probes = session.exec(select(Probe).where(Probe.channel == "email").order_by(col(Probe.id))).all()
        for p in probes:
            assert p.planned_at is not None
            transition(session, p, ProbeState.SENT, clock=ws.clock)
            p.sent_at = p.planned_at
            session.add(p)
            brand = session.get(Brand, p.brand_id)
            persona = session.get(Persona, p.persona_id)
            out.append(SentProbe(p.id, p.key, p.reply_address, p.message_id, p.subject, p.sent_at,
                                 brand.contacts["email"], persona.email))
    return out


def reply_bytes(
    probe: SentProbe | None,
    body: str,
    *,
    sender: str | None = None,
    to: str | None = None,
    subject: str | None = None,
    date: datetime | None = None,
    in_reply_to: bool = True,
    headers: dict[str, str] | None = None,
) -> bytes:
    """Return a reply as a brand's helpdesk would write it to `probe`."""
    msg = EmailMessage()
    msg["From"] = sender or (probe.brand_email if probe else "someone@elsewhere.test")
    msg["To"] = to or (probe.reply_address if probe else SHOPPER)
    msg["Subject"] = subject if subject is not None else f"RE: {probe.subject if probe else 'hello'}"
    msg["Date"] = format_datetime(date or datetime(2026, 12, 4, 10, 0, tzinfo=UTC))
    msg["Message-ID"] = make_msgid(domain="helpdesk.test")
    if probe and in_reply_to:
        msg["In-Reply-To"] = probe.message_id
        msg["References"] = probe.message_id
    for k, v in (headers or {}).items():
        msg[k] = v
    msg.set_content(body)
    return msg.as_bytes()


@pytest.fixture
def sent_campaign(tmp_path, db_url, monkeypatch):
    """Return a factory: (imap host, port) -> (Workspace, [SentProbe]) on a planned, sent campaign."""
    from tests.factories import make_campaign

    def build(host: str = "127.0.0.1", port: int = 143, password: str = "pw", brands: int = 2):
        monkeypatch.setenv(PASSWORD_ENV, password)
        clock = VirtualClock(datetime(2026, 12, 10, 12, 0, tzinfo=UTC))
        ws = make_campaign(tmp_path, db_url, brands=brands, clock=clock, mail={
            "imap_host": host, "imap_port": port, "imap_security": "plain",
            "username": SHOPPER, "password_env": PASSWORD_ENV})
        return ws, mark_sent(ws)

    return build


HOUR = timedelta(hours=1)
HUMAN = ("Bonjour Madame,\n\nJe suis désolée pour cette panne. Je vous envoie une étiquette de "
         "retour : le remboursement sera fait sous cinq jours après réception.\n\nCordialement,\nJulie")
