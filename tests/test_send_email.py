"""Sending e-mail probes through real in-process SMTP (aiosmtpd) and IMAP (pymap) servers."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from email import message_from_bytes
from email.policy import default as default_policy

import pytest
from sqlmodel import select

from qualibench.clock import VirtualClock
from qualibench.errors import RemoteFailure
from qualibench.models import Event, Probe, ProbeState
from qualibench.sending import MAX_TEMPORARY_FAILURES, send_due_probes

# Monday 7 December 2026, 09:30 in Paris: after every slot of the wave starting 30 November.
MONDAY_MORNING = datetime(2026, 12, 7, 8, 30, tzinfo=UTC)


def _probes(ws) -> list[Probe]:
    with ws.session() as s:
        return list(s.exec(select(Probe).order_by(Probe.id)))


def _parsed(raw: bytes):
    return message_from_bytes(raw, policy=default_policy)


def test_every_due_probe_is_sent_once_with_its_sent_copy(mail_campaign, smtp_server,
                                                          pymap_server):
    clock = VirtualClock(MONDAY_MORNING)
    ws = mail_campaign(clock=clock)
    probes = _probes(ws)
    assert probes, "the campaign planned no probe"

    report = send_due_probes(ws)

    assert report.sent == len(probes)
    assert sorted(smtp_server.message_ids()) == sorted(p.message_id for p in probes)
    sent_copies = [str(_parsed(raw)["Message-ID"]) for raw in pymap_server.messages("Sent")]
    assert sorted(sent_copies) == sorted(p.message_id for p in probes)
    for p in _probes(ws):
        assert p.state == ProbeState.SENT.value
        assert p.sent_at == MONDAY_MORNING  # the virtual clock did not move (no throttle)
        assert p.dispatch["evidence_sha256"]
        assert ws.evidence.get(p.dispatch["evidence_sha256"]).startswith(b"Message-ID:")
    with ws.session() as s:
        kinds = [e.kind for e in s.exec(select(Event))]
    assert kinds.count("probe.sent") == len(probes)
    assert kinds.count("probe.dispatching") == len(probes)

    again = send_due_probes(ws)
    assert again.sent == 0
    assert len(smtp_server.messages) == len(probes)


def test_message_looks_like_a_customers(mail_campaign, smtp_server):
    ws = mail_campaign(clock=VirtualClock(MONDAY_MORNING), brands=1)
    send_due_probes(ws)
    probe = _probes(ws)[0]
    received = next(m for m in smtp_server.messages
                    if probe.message_id in m.data.decode("ascii"))
    msg = _parsed(received.data)

    assert msg["Message-ID"] == probe.message_id
    assert msg["Subject"] == probe.subject
    assert msg.get_content().replace("\r\n", "\n").strip() == probe.body.strip()
    assert msg["From"].addresses[0].addr_spec == probe.reply_address
    assert received.mail_from == probe.reply_address  # bounces come back to the alias
    assert msg["MIME-Version"] == "1.0"
    assert msg.get_content_type() == "text/plain"
    assert msg.get_content_charset() == "utf-8"
    assert msg["Content-Transfer-Encoding"] in ("quoted-printable", "8bit")
    assert msg["Date"].datetime == MONDAY_MORNING
    assert msg["Date"].datetime.utcoffset() == timedelta(hours=1)  # Paris time, as a client
    raw_text = received.data.decode("ascii").lower()
    assert "x-mailer" not in raw_text and "qualibench" not in raw_text
    token = probe.reply_address.split("@")[0].rsplit(".", 1)[-1]
    visible = f"{probe.subject}\n{msg.get_content()}"
    for secret in (token, probe.key, probe.message_id.strip("<>").split("@")[0]):
        assert secret not in visible


def test_permanent_refusal_marks_undeliverable_with_the_servers_words(mail_campaign,
                                                                      smtp_server,
                                                                      pymap_server):
    ws = mail_campaign(clock=VirtualClock(MONDAY_MORNING), brands=2)
    victim = _probes(ws)[0]
    with ws.session() as s:
        from qualibench.models import Brand

        address = s.get(Brand, victim.brand_id).contacts["email"]
    smtp_server.answer(address, f"550 5.1.1 <{address}>: Recipient address rejected")

    report = send_due_probes(ws)

    refused = [p for p in _probes(ws) if p.brand_id == victim.brand_id]
    assert report.undeliverable == len(refused) > 0
    for p in refused:
        assert p.state == ProbeState.UNDELIVERABLE.value
        assert "550 5.1.1" in p.failure_reason and "Recipient address rejected" in p.failure_reason
    assert all(victim.message_id not in m.data.decode() for m in smtp_server.messages)
    assert report.sent == len(_probes(ws)) - len(refused)


def test_refusal_after_data_removes_the_sent_copy(mail_campaign, smtp_server, pymap_server):
    ws = mail_campaign(clock=VirtualClock(MONDAY_MORNING), brands=1)
    probes = _probes(ws)
    with ws.session() as s:
        from qualibench.models import Brand

        address = s.get(Brand, probes[0].brand_id).contacts["email"]
    smtp_server.answer(address, "554 5.7.1 Message rejected as spam", at="data")

    report = send_due_probes(ws)

    assert report.undeliverable == len(probes)
    assert smtp_server.messages == []
    # A leftover copy would make a later reconciliation believe the message went out.
    assert pymap_server.messages("Sent") == []
    assert all("554 5.7.1" in p.failure_reason for p in _probes(ws))


def test_temporary_refusal_is_retried_later_then_sent(mail_campaign, smtp_server):
    clock = VirtualClock(MONDAY_MORNING)
    ws = mail_campaign(clock=clock, brands=1)
    probes = _probes(ws)
    with ws.session() as s:
        from qualibench.models import Brand

        address = s.get(Brand, probes[0].brand_id).contacts["email"]
    # Greylisting: the first two attempts of each message are refused.
    smtp_server.answer(address, "451 4.7.1 Greylisted, try again later", times=2 * len(probes))

    first = send_due_probes(ws)
    assert first.deferred == len(probes) and first.sent == 0
    assert all(p.state == ProbeState.PLANNED.value for p in _probes(ws))
    assert send_due_probes(ws).sent == 0  # the backoff has not elapsed

    clock.advance(timedelta(minutes=1, seconds=1))
    second = send_due_probes(ws)
    assert second.deferred == len(probes)
    clock.advance(timedelta(minutes=2, seconds=1))  # backoff doubles
    third = send_due_probes(ws)
    assert third.sent == len(probes)
    assert sorted(smtp_server.message_ids()) == sorted(p.message_id for p in probes)
    assert all(p.dispatch["temporary_failures"] == 2 for p in _probes(ws))


def test_endless_temporary_refusal_ends_failed(mail_campaign, smtp_server):
    clock = VirtualClock(MONDAY_MORNING)
    ws = mail_campaign(clock=clock, brands=1)
    with ws.session() as s:
        from qualibench.models import Brand

        address = s.exec(select(Brand)).first().contacts["email"]
    smtp_server.answer(address, "421 4.3.2 Service not available")
    for _ in range(MAX_TEMPORARY_FAILURES):
        send_due_probes(ws)
        clock.advance(timedelta(minutes=10))  # longer than any backoff so far
    assert all(p.state == ProbeState.FAILED.value for p in _probes(ws))
    assert all("421 4.3.2" in p.failure_reason for p in _probes(ws))
    assert smtp_server.messages == []


def test_sent_folder_failure_sends_nothing_and_requeues(mail_campaign, smtp_server,
                                                        pymap_server, monkeypatch):
    from qualibench.mail.sentbox import SentFolder

    ws = mail_campaign(clock=VirtualClock(MONDAY_MORNING), brands=1)

    def broken_append(self, raw, when, then):
        raise RemoteFailure("IMAP APPEND refused: over quota", "free some space")

    monkeypatch.setattr(SentFolder, "append_then", broken_append)
    with pytest.raises(RemoteFailure, match="over quota"):
        send_due_probes(ws)
    # The payload had reached the server, but without the final dot it was never accepted.
    assert smtp_server.messages == []
    assert all(p.state == ProbeState.PLANNED.value for p in _probes(ws))
    monkeypatch.undo()


def test_throttle_spaces_sends_to_one_domain_on_the_clock(mail_campaign, smtp_server):
    clock = VirtualClock(MONDAY_MORNING)
    ws = mail_campaign(clock=clock, brands=2, per_domain_seconds=90)
    report = send_due_probes(ws)
    probes = _probes(ws)
    assert report.sent == len(probes)
    by_brand: dict[int, list[datetime]] = {}
    for p in probes:
        by_brand.setdefault(p.brand_id, []).append(p.sent_at)
    for times in by_brand.values():
        times.sort()
        gaps = [(b - a).total_seconds() for a, b in zip(times, times[1:], strict=False)]
        assert gaps and min(gaps) >= 90
    # Two domains interleave: the whole run takes about one domain's share, not both.
    longest = max(len(t) for t in by_brand.values())
    assert clock.now() - MONDAY_MORNING <= timedelta(seconds=90 * longest)
    assert report.throttled_seconds > 0


def test_outside_send_slots_nothing_goes_out(mail_campaign, smtp_server):
    saturday = datetime(2026, 12, 5, 10, 0, tzinfo=UTC)
    ws = mail_campaign(clock=VirtualClock(saturday), brands=1)
    report = send_due_probes(ws)
    assert report.sent == 0 and report.waiting_for_slot > 0
    assert smtp_server.messages == []


def test_dry_run_changes_nothing(mail_campaign, smtp_server, pymap_server):
    ws = mail_campaign(clock=VirtualClock(MONDAY_MORNING), brands=1)
    report = send_due_probes(ws, dry_run=True)
    assert report.would_send == len(_probes(ws))
    assert smtp_server.messages == [] and pymap_server.messages("Sent") == []
    assert all(p.state == ProbeState.PLANNED.value for p in _probes(ws))


def test_limit_caps_the_number_sent(mail_campaign, smtp_server):
    ws = mail_campaign(clock=VirtualClock(MONDAY_MORNING), brands=2)
    assert send_due_probes(ws, limit=2).sent == 2
    assert len(smtp_server.messages) == 2


def test_a_failing_channel_stops_alone_and_assisted_probes_go_to_a_person(mail_campaign,
                                                                          smtp_server,
                                                                          monkeypatch):
    # On PostgreSQL a sender walks the domains in an order drawn per run (team spreading);
    # fix the draw so the e-mail domain comes first, as on SQLite, and the run must go on.
    import types

    import qualibench.sending as sending

    monkeypatch.setattr(sending, "random", types.SimpleNamespace(random=lambda: 0.0))
    ws = mail_campaign(clock=VirtualClock(MONDAY_MORNING), brands=1,
                       channels=("email", "facebook"), mail={"smtp_port": 1})  # nothing listens
    with pytest.raises(RemoteFailure, match="cannot reach SMTP server") as caught:
        send_due_probes(ws)
    assert "smtp_host/smtp_port" in caught.value.hint
    by_channel: dict[str, set[str]] = {}
    for p in _probes(ws):
        by_channel.setdefault(p.channel, set()).add(p.state)
    assert by_channel["email"] == {ProbeState.PLANNED.value}  # requeued, nothing went out
    assert by_channel["facebook"] == {ProbeState.ASSISTED.value}
    with ws.session() as s:
        events = [(e.seq, e.kind) for e in s.exec(select(Event).order_by(Event.seq))]
    requeued = min(seq for seq, kind in events if kind == "probe.planned")
    assert any(seq > requeued for seq, kind in events if kind == "probe.assisted"), \
        "the facebook probes should still be handled after e-mail failed"


def test_the_direct_wire_bytes_equal_the_email_packages_byte_for_byte():
    """send writes the message's bytes directly (mail/compose.py): plain headers as they are,
    the rest through the email package's folding. Same bytes, same envelope, over plain,
    accented, quoted, long and encoded-word-looking inputs."""
    from qualibench.mail.compose import wire_message
    from qualibench.mail.smtp import Sender, build_message, message_bytes

    names = ["Claire Martin", "Claire Martin-Éloïse", "J. Dupont", "", "Anne  Marie", "O'Brien",
             "Jean-Baptiste de La Rochefoucauld-Montmorency Saint-Exupéry", "Zoë"]
    addrs = ["claire.1x7@replies.test",
             "a.very.long.alias.for.probe.number.12345678901234567890@alias.shopper.example",
             '"odd local"@replies.test']
    tos = ["service.client@fnac.example", "Service Client <sc@darty.example>",
           "a@b.example, c@d.example", "Équipe Relation Client <rc@sncf.example>"]
    subjects = ["Commande CMD-482913 : où en est ma livraison ?", "Simple subject",
                "A  double  space", "x" * 90, "Re: =?utf-8?q?abc?=", "",
                "Problème de facturation sur ma facture n° 2026-11-0042, montant erroné"]
    bodies = ["Bonjour,\n\nJ'ai passé la commande.\n\nClaire\n", "line\r\nwith crlf\r\n\r\n",
              ".leading dot\n" + "y" * 200 + "\n", "tab\there = sign\n\n\n", "ünïcode " * 30]
    replies = [None, "<orig.1@replies.test>"]
    reply_tos = [None, "marie@shopper.example"]
    zones = ["Europe/Paris", "America/Montreal", "Not/AZone"]
    for i in range(84):  # every value of every list, in varied combinations
        pick = lambda values, i=i: values[i % len(values)]  # noqa: E731
        kw = dict(sender=Sender(pick(names), pick(addrs), reply_to=pick(reply_tos)),
                  to=pick(tos), subject=pick(subjects), body=pick(bodies),
                  message_id=f"<m{i}.x7@replies.test>", timezone=pick(zones),
                  date=MONDAY_MORNING + timedelta(minutes=i), in_reply_to=pick(replies))
        msg = build_message(**kw)
        wire = wire_message(**kw)
        assert wire.raw == message_bytes(msg), kw
        assert wire.mail_from == msg["From"].addresses[0].addr_spec
        assert wire.rcpts == [a.addr_spec for a in msg["To"].addresses]
        assert wire.message_id == str(msg["Message-ID"])
