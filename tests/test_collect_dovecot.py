"""Collecting from a real Dovecot: read-only, incremental, resync-safe, every reply placed."""

from __future__ import annotations

import threading
import time
from datetime import UTC, datetime, timedelta

import pytest
from imapclient import IMAPClient
from sqlmodel import select

from qualibench.collecting import collect, store_mail_batch
from qualibench.inbox import assign, dismiss, list_inbox
from qualibench.mail.imap import sync_account
from qualibench.models import (
    Event,
    InboundMessage,
    InboundStatus,
    MatchMethod,
    Probe,
    ProbeState,
    Reply,
    ReplyKind,
    SyncState,
)
from tests.plugins.collecting import HUMAN, SHOPPER, reply_bytes

pytestmark = pytest.mark.integration


@pytest.fixture
def world(dovecot_server, sent_campaign):
    ws, probes = sent_campaign(dovecot_server.host, dovecot_server.port, dovecot_server.password)
    return ws, probes, dovecot_server


def _rows(ws, model):
    with ws.session() as s:
        return s.exec(select(model)).all()


def _flags(server):
    c = IMAPClient(server.host, port=server.port, ssl=False)
    c.login(SHOPPER, server.password)
    out = {}
    for folder in ("INBOX", "Junk"):
        c.select_folder(folder, readonly=True)
        out[folder] = c.fetch(c.search(["ALL"]), ["FLAGS"]) if c.search(["ALL"]) else {}
    c.logout()
    return out


def test_collect_matches_by_reply_address_keeps_internaldate_and_never_marks_seen(world):
    ws, probes, server = world
    p = probes[0]
    arrived = p.sent_at + timedelta(hours=3)
    raw = reply_bytes(p, HUMAN,
                      in_reply_to=False, date=arrived)
    server.deliver(SHOPPER, raw, mtime=arrived.timestamp())

    report = collect(ws)

    assert report.new == 1 and report.matched == 1
    (inbound,) = _rows(ws, InboundMessage)
    # stored exactly as the server gave it (IMAP serves CRLF line ends)
    assert ws.evidence.get(inbound.sha256) == raw.replace(b"\n", b"\r\n")
    assert inbound.received_at == arrived
    assert inbound.status == InboundStatus.MATCHED
    (reply,) = _rows(ws, Reply)
    assert reply.probe_id == p.id and reply.match_method == MatchMethod.REPLY_ADDRESS
    assert reply.kind == ReplyKind.ANSWER
    with ws.session() as s:
        probe = s.get(Probe, p.id)
        assert probe.state == ProbeState.ANSWERED and probe.first_answer_at == arrived
    # read-only: the analyst's mailbox shows the message still unread
    flags = _flags(server)
    assert all(b"\\Seen" not in f[b"FLAGS"] for f in flags["INBOX"].values())
    assert len(flags["INBOX"]) == 1


def test_second_pass_fetches_only_new_uids_and_junk_is_scanned(world):
    ws, probes, server = world
    server.deliver(SHOPPER, reply_bytes(probes[0], "Première réponse."))
    first = collect(ws)
    assert first.new == 1
    again = collect(ws)
    assert again.new == 0 and all(f.fetched == 0 for f in again.folders)

    server.deliver(SHOPPER, reply_bytes(probes[1], "Réponse classée en spam."), folder="Junk")
    third = collect(ws)
    junk = [f for f in third.folders if f.folder == "Junk"]
    assert junk and junk[0].new == 1
    assert {r.probe_id for r in _rows(ws, Reply)} == {probes[0].id, probes[1].id}
    states = {(s.folder, s.last_uid) for s in _rows(ws, SyncState)}
    assert ("INBOX", 1) in states and ("Junk", 1) in states


def test_uidvalidity_change_resyncs_without_duplicates(world):
    ws, probes, server = world
    for p in probes[:3]:
        server.deliver(SHOPPER, reply_bytes(p, f"Réponse pour {p.key}"))
    assert collect(ws).new == 3
    with ws.session() as s:
        state = s.exec(select(SyncState).where(SyncState.folder == "INBOX")).one()
        state.uidvalidity += 1  # as after the server rebuilt its index
        s.add(state)

    report = collect(ws)

    inbox = next(f for f in report.folders if f.folder == "INBOX")
    assert inbox.resynced and inbox.fetched == 3 and inbox.duplicates == 3 and inbox.new == 0
    assert len(_rows(ws, InboundMessage)) == 3 and len(_rows(ws, Reply)) == 3
    assert any(e.kind == "imap.uidvalidity_changed" for e in _rows(ws, Event))


def test_crash_between_storing_and_processing_loses_nothing(world):
    ws, probes, server = world
    server.deliver(SHOPPER, reply_bytes(probes[0], "Réponse stockée avant la panne."))
    with ws.session() as s:
        campaign_id = ws.campaign(s).id
    account = ws.spec().config.accounts["shopper"]
    # First half only, as if killed right after the batch was committed.
    sync_account(ws, campaign_id, account,
                 lambda session, batch: store_mail_batch(ws, session, campaign_id, batch))
    (pending,) = _rows(ws, InboundMessage)
    assert pending.status == InboundStatus.PENDING

    report = collect(ws)

    assert report.new == 0 and report.matched == 1
    assert len(_rows(ws, InboundMessage)) == 1 and len(_rows(ws, Reply)) == 1


def test_ack_with_ticket_then_answer_found_by_ticket_only(world):
    ws, probes, server = world
    p = probes[0]
    ack_at = p.sent_at + timedelta(seconds=40)
    answer_at = p.sent_at + timedelta(hours=26)
    ack = reply_bytes(p, "Ceci est une réponse automatique. Votre demande a bien été enregistrée "
                         "sous la référence 48213. Nous vous répondrons sous 48 heures.",
                      subject=f"[Ticket #48213] Accusé de réception : {p.subject}",
                      headers={"Auto-Submitted": "auto-replied"}, date=ack_at)
    # The human answer drops References and goes to the persona's main address.
    answer = reply_bytes(p, "Bonjour, suite à votre demande, nous vous envoyons un produit neuf.",
                         to=p.persona_email, subject="[Ticket #48213] RE: votre demande",
                         in_reply_to=False, date=answer_at)
    server.deliver(SHOPPER, ack, mtime=ack_at.timestamp())
    server.deliver(SHOPPER, answer, mtime=answer_at.timestamp())

    report = collect(ws)

    assert report.matched == 2
    replies = sorted(_rows(ws, Reply), key=lambda r: r.received_at)
    assert [r.kind for r in replies] == [ReplyKind.AUTO_ACK, ReplyKind.ANSWER]
    assert replies[1].match_method == MatchMethod.TICKET_REF
    with ws.session() as s:
        probe = s.get(Probe, p.id)
    assert probe.ticket_ref and "48213" in probe.ticket_ref
    assert probe.first_ack_at == ack_at and probe.first_answer_at == answer_at


def test_bounce_makes_probe_undeliverable_and_strays_wait_in_inbox(world):
    ws, probes, server = world
    p = probes[0]
    dsn = (
        f"From: MAILER-DAEMON@mx.brand.test\r\nTo: {p.persona_email}\r\nSubject: Undelivered Mail Returned to Sender\r\n"
        "Date: Fri, 04 Dec 2026 10:00:00 +0000\r\nMessage-ID: <dsn1@mx.brand.test>\r\n"
        "MIME-Version: 1.0\r\nContent-Type: multipart/report; report-type=delivery-status; boundary=\"B\"\r\n\r\n"
        "--B\r\nContent-Type: text/plain\r\n\r\nThis is the mail system. Your message could not be delivered.\r\n"
        "--B\r\nContent-Type: message/delivery-status\r\n\r\nReporting-MTA: dns; mx.brand.test\r\n\r\n"
        f"Final-Recipient: rfc822; {p.brand_email}\r\nAction: failed\r\nStatus: 5.1.1\r\n"
        "Diagnostic-Code: smtp; 550 5.1.1 user unknown\r\n"
        f"--B\r\nContent-Type: text/rfc822-headers\r\n\r\nFrom: {p.persona_email}\r\nTo: {p.brand_email}\r\nMessage-ID: {p.message_id}\r\n"
        f"Subject: {p.subject}\r\n--B--\r\n"
    )
    # Arrived after the send: a bounce dated before its request would wait for a review instead.
    server.deliver(SHOPPER, dsn.encode(), mtime=(p.sent_at + timedelta(hours=1)).timestamp())
    stray = reply_bytes(None, "Découvrez nos promotions de Noël !", sender="news@shop-news.test",
                        subject="Newsletter de décembre")
    server.deliver(SHOPPER, stray)
    server.deliver(SHOPPER, bytes(range(0, 32)) * 20)  # binary garbage, no header

    report = collect(ws)

    assert report.unmatched == 1 and report.unparseable == 1
    with ws.session() as s:
        assert s.get(Probe, p.id).state == ProbeState.UNDELIVERABLE
    items = list_inbox(ws)
    assert {i.status for i in items} == {"unmatched", "unparseable"}
    news = next(i for i in items if i.status == "unmatched")
    junk = next(i for i in items if i.status == "unparseable")
    dismiss(ws, news.id, "alice", "newsletter")
    reply = assign(ws, junk.id, probes[1].key, "alice", kind="answer")
    assert reply.match_method == MatchMethod.MANUAL and reply.probe_id == probes[1].id
    assert list_inbox(ws) == []
    kinds = [e.kind for e in _rows(ws, Event)]
    assert "inbox.dismissed" in kinds and "inbox.assigned" in kinds
    # raw bytes of the unparseable one are still there (as Dovecot served them: NUL -> 0x80)
    (row,) = [r for r in _rows(ws, InboundMessage) if r.id == junk.id]
    assert bytes(range(1, 9)) in ws.evidence.get(row.sha256)


def test_date_header_far_from_internaldate_is_flagged(world):
    ws, probes, server = world
    arrived = datetime(2026, 12, 5, 9, 0, tzinfo=UTC)
    server.deliver(SHOPPER, reply_bytes(probes[0], "Vieille date.", date=arrived - timedelta(days=3)),
                   mtime=arrived.timestamp())
    server.deliver(SHOPPER, reply_bytes(probes[1], "Bonne date.", date=arrived + timedelta(minutes=2)),
                   mtime=arrived.timestamp())
    collect(ws)
    flagged = {r.probe_id: r for r in _rows(ws, Reply)}
    rows = {r.id: r for r in _rows(ws, InboundMessage)}
    assert rows[flagged[probes[0].id].inbound_id].date_disagreement is True
    assert rows[flagged[probes[1].id].inbound_id].date_disagreement is False
    assert rows[flagged[probes[0].id].inbound_id].date_header == arrived - timedelta(days=3)


def _watch_through_one_delivery(ws, deliver) -> tuple[bool, list]:
    """Run `watch` with a 600 s IDLE timeout, call `deliver` once its first pass is done and
    its connections IDLE, and return (still waiting after 120 s, the reports). Only the
    server's IDLE push can end the second round within that join."""
    from qualibench.collecting import watch

    reports = []
    stop = threading.Event()

    def on_report(r):
        reports.append(r)
        if len(reports) >= 2:
            stop.set()

    thread = threading.Thread(target=watch, args=(ws,), kwargs={
        "on_report": on_report, "stop": stop.is_set, "idle_timeout": 600, "poll_seconds": 1})
    thread.start()
    deadline = time.monotonic() + 30
    while not reports and time.monotonic() < deadline:
        time.sleep(0.05)
    time.sleep(1.0)  # let every folder's connection enter IDLE
    deliver()
    thread.join(timeout=120)
    stop.set()
    return thread.is_alive(), reports


def test_watch_wakes_up_on_idle_and_collects(world):
    ws, probes, server = world
    waiting, reports = _watch_through_one_delivery(
        ws, lambda: server.deliver(SHOPPER, reply_bytes(probes[0], "Réponse arrivée pendant l'IDLE.")))
    assert not waiting
    assert reports[1].new == 1


def test_collect_censors_silent_probes_once_their_window_has_closed(world):
    ws, probes, server = world
    answered = probes[0]
    at = answered.sent_at + timedelta(hours=2)
    server.deliver(SHOPPER, reply_bytes(answered, HUMAN), mtime=at.timestamp())
    with ws.session() as s:
        last_window = max(p.window_ends_at for p in s.exec(select(Probe)).all())
    ws.clock.set(last_window + timedelta(seconds=1))

    report = collect(ws)

    assert report.matched == 1 and report.censored == len(probes) - 1
    with ws.session() as s:
        states = {p.id: p.state for p in s.exec(select(Probe)).all()}
    assert states[answered.id] == ProbeState.ANSWERED
    assert sum(st == ProbeState.UNANSWERED for st in states.values()) == len(probes) - 1


def test_watch_survives_a_server_outage(world):
    import dataclasses

    from qualibench.collecting import watch

    ws, probes, server = world
    real_port = server.port
    account = ws.spec().config.accounts["shopper"]
    # Point the account at a closed port for the first pass, as during an outage
    # (the virtual clock makes the retry wait instant).
    down = dataclasses.replace(account, imap_port=1)
    ws.spec().config.accounts["shopper"] = down
    reports = []

    def on_report(r):
        reports.append(r)
        ws.spec().config.accounts["shopper"] = dataclasses.replace(down, imap_port=real_port)

    server.deliver(SHOPPER, reply_bytes(probes[0], HUMAN))
    passes = watch(ws, on_report=on_report, stop=lambda: len(reports) >= 2, poll_seconds=5)

    assert passes == 2
    assert reports[0].warnings and "retrying" in reports[0].warnings[0]
    assert reports[1].new == 1 and reports[1].matched == 1


def test_a_second_collect_while_one_runs_says_so_and_stores_nothing(world):
    from qualibench.collecting import CollectBusy, collect_lock

    ws, probes, server = world
    server.deliver(SHOPPER, reply_bytes(probes[0], HUMAN))
    with collect_lock(ws), pytest.raises(CollectBusy) as busy:
        collect(ws)
    assert "another `qualibench collect`" in busy.value.message and busy.value.hint
    assert _rows(ws, InboundMessage) == []
    assert collect(ws).new == 1  # the lock is released with its holder


def test_mail_that_arrives_before_idle_begins_is_not_left_waiting(world):
    from qualibench.mail.imap import wait_for_mail

    ws, probes, server = world
    account = ws.spec().config.accounts["shopper"]
    assert collect(ws).new == 0
    server.deliver(SHOPPER, reply_bytes(probes[0], HUMAN))  # between the pass and the IDLE
    # Were it left waiting, the wait would end by its timeout: "timeout", not "new".
    assert wait_for_mail(account, timeout=120, last_uid=0) == "new"


def test_watch_idles_on_every_collected_folder_and_wakes_for_junk(world):
    """Mail filed straight into Junk wakes the watch as INBOX mail does (IDLE on each folder)."""
    ws, probes, server = world
    waiting, reports = _watch_through_one_delivery(ws, lambda: server.deliver(
        SHOPPER, reply_bytes(probes[0], "Réponse classée en indésirable."), folder="Junk"))
    assert not waiting, "the watch was not woken by the Junk folder"
    assert reports[1].new == 1 and reports[1].matched == 1
    assert [f.folder for f in reports[1].folders if f.new] == ["Junk"]
