"""`verify` names each kind of tampering precisely, and nothing on an untouched campaign.

Tampering is done as an intruder would: SQL on the database (or the evidence file), never
through qualibench. Each case is undone before the next, so each finding is the case's own.
"""

from __future__ import annotations

from sqlalchemy import text
from sqlmodel import select

from qualibench.evidence import record_evidence
from qualibench.models import Event, Probe, Reply, Score
from qualibench.verify import verify_campaign
from tests.factories import make_campaign
from tests.plugins.demo_world import make_answered_campaign


def _tamper(ws, sql: str, **params) -> None:  # type: ignore[no-untyped-def]
    with ws.engine.begin() as c:
        c.execute(text(sql), params)


def test_verify_detects_tampered_evidence_and_rewritten_event(tmp_path, db_url):
    ws = make_campaign(tmp_path, db_url, brands=2)
    with ws.session() as s:
        digest = record_evidence(s, ws.evidence, b"From: a@b.example\r\n\r\nhello", "message/rfc822")
    assert verify_campaign(ws).problems == []
    if ws.evidence.kind == "folder":
        ws.evidence.path_for(digest).write_bytes(b"From: a@b.example\r\n\r\nHELLO")
    else:
        _tamper(ws, "UPDATE evidenceblob SET data = :d WHERE sha256 = :h",
                d=b"From: a@b.example\r\n\r\nHELLO", h=digest)
    report = verify_campaign(ws)
    assert [p for p in report.problems if digest in p and "altered" in p] == report.problems != []

    if ws.evidence.kind == "folder":
        ws.evidence.path_for(digest).write_bytes(b"From: a@b.example\r\n\r\nhello")
    else:
        _tamper(ws, "UPDATE evidenceblob SET data = :d WHERE sha256 = :h",
                d=b"From: a@b.example\r\n\r\nhello", h=digest)
    _tamper(ws, "UPDATE event SET subject = 'campaign:99' WHERE seq = 1")
    assert verify_campaign(ws).problems == ["event log: event 1 (plan.created campaign:99) was rewritten"]


def test_verify_detects_a_deleted_event(tmp_path, db_url):
    ws = make_campaign(tmp_path, db_url, brands=2)
    from qualibench.planning import plan_campaign

    plan_campaign(ws)  # a second event
    plan_campaign(ws)  # a third
    _tamper(ws, "DELETE FROM event WHERE seq = 2")
    problems = verify_campaign(ws).problems
    assert any("event(s) 2..2 are missing" in p for p in problems)
    assert any("event 3" in p and "does not follow" in p for p in problems)


def test_each_tampering_of_an_answered_campaign_is_named(tmp_path, db_url):
    from qualibench.collecting import collect
    from qualibench.scorer.audit import set_override
    from qualibench.scorer.campaign import score_campaign

    with make_answered_campaign(tmp_path, db_url, brands=6, seed=3) as c:
        ws = c.ws
        collect(ws)
        score_campaign(ws)
        with ws.session() as s:
            reply = s.exec(select(Reply).where(Reply.kind == "answer").order_by(Reply.id)).first()
            assert reply is not None
        set_override(ws, reply.id, {"empathy": 0}, "ana", "cold tone")
        report = verify_campaign(ws)
        assert report.problems == [], report.problems  # untouched: not one finding
        assert report.facts_checked > 0
        with ws.session() as s:
            probe = s.get(Probe, reply.probe_id)
            auto = s.exec(select(Score).where(Score.reply_id == reply.id, Score.scorer == "auto")).first()
            override = s.exec(select(Score).where(Score.reply_id == reply.id,
                                                  Score.scorer == "auditor:ana")).first()
            last = s.exec(select(Event.seq).order_by(Event.seq.desc())).first()  # type: ignore[attr-defined]
        assert probe is not None and auto is not None and override is not None and last > 35
        who = f"reply #{reply.id} (probe {probe.key})"

        def only(sql: str, expected: str, undo: str, **params) -> None:  # type: ignore[no-untyped-def]
            _tamper(ws, sql, **params)
            problems = verify_campaign(ws).problems
            assert len(problems) == 1 and expected in problems[0], problems
            _tamper(ws, undo, **params)
            assert verify_campaign(ws).problems == []

        only("UPDATE reply SET text = 'Merci de votre patience.' WHERE id = :i",
             f"{who}: text differ(s)", "UPDATE reply SET text = :t WHERE id = :i", i=reply.id, t=reply.text)
        with ws.engine.connect() as conn:  # the raw stored value, to put it back as it was
            raw_at = conn.execute(text("SELECT received_at FROM reply WHERE id = :i"), {"i": reply.id}).scalar()
        only("UPDATE reply SET received_at = :x WHERE id = :i", f"{who}: received_at differ(s)",
             "UPDATE reply SET received_at = :r WHERE id = :i", i=reply.id, r=raw_at,
             x="2026-11-01 08:00:00" if ws.engine.dialect.name == "sqlite" else "2026-11-01T08:00:00+00:00")
        only("UPDATE reply SET kind = 'auto_ack' WHERE id = :i", f"{who}: kind differ(s)",
             "UPDATE reply SET kind = 'answer' WHERE id = :i", i=reply.id)
        only("UPDATE score SET total = 99 WHERE id = :i", f"score #{auto.id} of reply #{reply.id} (auto, total 99)",
             "UPDATE score SET total = :t WHERE id = :i", i=auto.id, t=auto.total)
        only("UPDATE score SET total = 100 WHERE id = :i",
             f"score #{override.id} of reply #{reply.id} (auditor:ana, total 100)",
             "UPDATE score SET total = :t WHERE id = :i", i=override.id, t=override.total)
        only("UPDATE probe SET state = 'unanswered' WHERE id = :i", f"probe {probe.key}: state differ(s)",
             "UPDATE probe SET state = :st WHERE id = :i", i=probe.id, st=probe.state)

        _tamper(ws, "DELETE FROM event WHERE seq > :n", n=last - 30)
        problems = verify_campaign(ws).problems
        assert f"event log: events {last - 29}..{last} were deleted: the log ends at event {last - 30} " \
               f"but its head checkpoint says {last}" in problems
        _tamper(ws, "DELETE FROM event")
        problems = verify_campaign(ws).problems
        assert f"event log: all {last} events were deleted (the head checkpoint says the log reached " \
               f"event {last})" in problems
        _tamper(ws, "DELETE FROM eventhead")
        problems = verify_campaign(ws).problems
        assert any("every event was deleted, but the anchor" in p for p in problems), problems


def test_a_campaign_begun_before_fact_fingerprints_gives_no_false_alarm(tmp_path, db_url):
    """A chain written by an older version (events without facts) accuses none of its rows."""
    from datetime import UTC, datetime

    from qualibench.events import GENESIS, _digest

    ws = make_campaign(tmp_path, db_url, brands=2)
    assert verify_campaign(ws).problems == []
    with ws.session() as s:
        cid = s.exec(select(Event.campaign_id)).first()
    # Rewrite the log as the old version wrote it: the same events, no "facts" in them.
    at = datetime(2026, 11, 30, 9, 0, tzinfo=UTC)
    _tamper(ws, "DELETE FROM event")
    digest = _digest(GENESIS, 1, at, "plan.created", f"campaign:{cid}", {"created": 6})
    with ws.session() as s:
        s.add(Event(campaign_id=cid, seq=1, at=at, kind="plan.created", subject=f"campaign:{cid}",
                    payload={"created": 6}, prev_hash=GENESIS, hash=digest))
    _tamper(ws, "UPDATE eventhead SET seq = 1, hash = :h", h=digest)
    ws.anchor_path.unlink()
    assert verify_campaign(ws).problems == []
