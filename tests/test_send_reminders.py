"""The optional reminder: one follow-up in the same thread to brands that have not answered."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime, timedelta
from email import message_from_bytes
from email.policy import default as default_policy

from sqlmodel import select

from qualibench.channels.email import reminder_message_id
from qualibench.clock import VirtualClock
from qualibench.models import Probe, ProbeState
from qualibench.sending import send_due_probes, send_reminders

MONDAY_MORNING = datetime(2026, 12, 7, 8, 30, tzinfo=UTC)


def _with_reminders(ws, after_days: int = 2):
    toml = ws.root / "campaign.toml"
    toml.write_text(toml.read_text().replace("[reminder]\nenabled = false\nafter_days = 7",
                                             f"[reminder]\nenabled = true\nafter_days = {after_days}"))
    ws._spec = None  # reload the edited campaign.toml
    assert ws.spec().config.reminder.enabled


def _probes(ws) -> list[Probe]:
    with ws.session() as s:
        return list(s.exec(select(Probe).order_by(Probe.id)))


def test_one_reminder_in_the_thread_for_the_unanswered_only(mail_campaign, smtp_server,
                                                            pymap_server):
    clock = VirtualClock(MONDAY_MORNING)
    ws = mail_campaign(clock=clock, brands=2)
    _with_reminders(ws)
    first = send_due_probes(ws)
    probes = _probes(ws)
    assert first.sent == len(probes) and first.reminders_sent == 0  # not due yet

    answered = probes[0]
    with ws.session() as s:
        row = s.get(Probe, answered.id)
        row.state = ProbeState.ANSWERED.value
        row.first_answer_at = MONDAY_MORNING + timedelta(hours=5)
        s.add(row)

    clock.advance(timedelta(days=2, minutes=1))
    report = send_due_probes(ws)
    assert report.sent == 0
    assert report.reminders_sent == len(probes) - 1

    reminders = [message_from_bytes(m.data, policy=default_policy) for m in smtp_server.messages
                 if b"In-Reply-To" in m.data]
    assert len(reminders) == len(probes) - 1
    by_thread = {str(m["In-Reply-To"]): m for m in reminders}
    assert answered.message_id not in by_thread
    for p in probes[1:]:
        msg = by_thread[p.message_id]
        assert msg["Message-ID"] == reminder_message_id(p.message_id)
        assert p.message_id in str(msg["References"])
        assert msg["Subject"].endswith(p.subject)
        assert msg["From"].addresses[0].addr_spec == p.reply_address
        assert "relance" in msg.get_content().lower() or "follow" in msg.get_content().lower()
    after = {p.id: p for p in _probes(ws)}
    assert after[answered.id].reminder_sent_at is None
    assert all(after[p.id].reminder_sent_at == clock.now() for p in probes[1:])
    assert all(after[p.id].state == ProbeState.SENT.value for p in probes[1:])  # still waiting

    # Counted apart and never twice.
    assert send_reminders(ws).reminders_sent == 0
    clock.advance(timedelta(days=3))
    assert send_due_probes(ws).reminders_sent == 0
    assert Counter(m.data.count(b"In-Reply-To") for m in smtp_server.messages)[1] == \
        len(probes) - 1


def test_interrupted_reminder_is_reconciled_from_the_sent_folder(mail_campaign, smtp_server,
                                                                 pymap_server):
    clock = VirtualClock(MONDAY_MORNING)
    ws = mail_campaign(clock=clock, brands=1)
    _with_reminders(ws)
    send_due_probes(ws)
    clock.advance(timedelta(days=2, minutes=1))
    probes = _probes(ws)
    # Two reminders were interrupted: one after its copy reached Sent, one before.
    delivered, lost = probes[0], probes[1]
    for p in (delivered, lost):
        with ws.session() as s:
            row = s.get(Probe, p.id)
            row.dispatch = {**row.dispatch, "reminder": {
                "state": "dispatching", "message_id": reminder_message_id(p.message_id)}}
            s.add(row)
    copy = (f"Message-ID: {reminder_message_id(delivered.message_id)}\r\n"
            f"Subject: Relance\r\n\r\nBonjour\r\n").encode()
    pymap_server.append("Sent", copy, when=clock.now() - timedelta(minutes=1),
                        flags=(b"\\Seen",))  # read: the server had accepted it
    before = len(smtp_server.messages)

    report = send_reminders(ws)

    new_ids = Counter(smtp_server.message_ids()[before:])
    assert reminder_message_id(delivered.message_id) not in new_ids
    assert new_ids[reminder_message_id(lost.message_id)] == 1
    after = {p.id: p for p in _probes(ws)}
    assert after[delivered.id].reminder_sent_at == clock.now() - timedelta(minutes=1)
    assert after[lost.id].reminder_sent_at == clock.now()
    assert report.reminders_sent == len(probes)
