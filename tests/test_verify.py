"""`verify` names a tampered raw file and a rewritten event."""

from __future__ import annotations

from sqlalchemy import text

from qualibench.evidence import record_evidence
from qualibench.verify import verify_campaign
from tests.factories import make_campaign


def test_verify_detects_tampered_evidence_and_rewritten_event(tmp_path, db_url):
    ws = make_campaign(tmp_path, db_url, brands=2)
    with ws.session() as s:
        digest = record_evidence(s, ws.evidence, b"From: a@b.example\r\n\r\nhello", "message/rfc822")
    assert verify_campaign(ws).ok
    ws.evidence.path_for(digest).write_bytes(b"From: a@b.example\r\n\r\nHELLO")
    report = verify_campaign(ws)
    assert any(digest in p and "altered" in p for p in report.problems)

    ws.evidence.path_for(digest).write_bytes(b"From: a@b.example\r\n\r\nhello")
    with ws.engine.begin() as c:
        c.execute(text("UPDATE event SET payload = :p WHERE seq = 1"), {"p": '{"created": 999}'})
    report = verify_campaign(ws)
    assert report.problems == ["event log: event 1 (plan.created campaign:1) was rewritten"]


def test_verify_detects_a_deleted_event(tmp_path, db_url):
    ws = make_campaign(tmp_path, db_url, brands=2)
    from qualibench.planning import plan_campaign

    plan_campaign(ws)  # a second event
    plan_campaign(ws)  # a third
    with ws.engine.begin() as c:
        c.execute(text("DELETE FROM event WHERE seq = 2"))
    problems = verify_campaign(ws).problems
    assert any("missing" in p for p in problems) and any("does not follow" in p for p in problems)
