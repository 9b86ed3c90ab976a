"""Connections kept across send runs inside keep_connections() (the demo's hundreds of runs),
and closed when the scope ends; outside a scope every run closes its own."""

from __future__ import annotations

from datetime import UTC, datetime

from qualibench.channels.reuse import keep_connections
from qualibench.clock import VirtualClock
from qualibench.sending import send_due_probes

MONDAY_MORNING = datetime(2026, 12, 7, 8, 30, tzinfo=UTC)


def test_two_runs_in_a_scope_share_their_smtp_and_imap_connections(mail_campaign, smtp_server,
                                                                   pymap_server):
    ws = mail_campaign(clock=VirtualClock(MONDAY_MORNING), brands=2)
    with keep_connections() as park:
        assert send_due_probes(ws, limit=1).sent == 1
        first = park.parked()
        kinds = sorted(key[0] for key in first)
        assert kinds == ["imap", "smtp"]
        assert send_due_probes(ws, limit=1).sent == 1
        second = park.parked()
        # the same connection objects (the IMAP one is parked with its Sent folder's name)
        assert all(_conn(second[key]) is _conn(conn) for key, conn in first.items())
    smtp_conn = next(conn for key, conn in first.items() if key[0] == "smtp")
    assert smtp_conn.sock is None  # QUIT when the scope ended
    assert park.parked() == {}
    assert len(smtp_server.messages) == 2
    assert len(pymap_server.messages("Sent")) == 2


def _conn(parked):
    return parked[0] if isinstance(parked, tuple) else parked


def test_outside_a_scope_a_run_closes_its_connections(mail_campaign, smtp_server):
    ws = mail_campaign(clock=VirtualClock(MONDAY_MORNING), brands=1)
    with keep_connections() as park:
        pass
    assert send_due_probes(ws, limit=1).sent == 1
    assert park.parked() == {}
