"""Batched database work of a send run: the outcome of one probe commits with the claim of the
next (one commit a probe instead of two), and an outcome is never left unwritten while the
run waits for its throttle."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import event
from sqlmodel import select

from qualibench.clock import VirtualClock
from qualibench.models import Event, Probe
from qualibench.sending import send_due_probes

MONDAY_MORNING = datetime(2026, 12, 7, 8, 30, tzinfo=UTC)


def _count_commits(ws) -> list[int]:
    """Count the commits of probe state changes (raw evidence, kept in the database on
    PostgreSQL, commits on its own and is not counted)."""
    commits = [0]
    storing = [False]
    put = ws.evidence.put

    def counted_put(*args, **kwargs):  # noqa: ANN002, ANN003, ANN202
        storing[0] = True
        try:
            return put(*args, **kwargs)
        finally:
            storing[0] = False

    def on_commit(conn) -> None:  # noqa: ANN001
        if not storing[0]:
            commits[0] += 1

    ws.evidence.put = counted_put
    event.listen(ws.engine, "commit", on_commit)
    return commits


def test_one_commit_per_probe_and_every_outcome_recorded(mail_campaign, smtp_server):
    ws = mail_campaign(clock=VirtualClock(MONDAY_MORNING), brands=6)
    with ws.session() as s:
        due = len(list(s.exec(select(Probe))))
    commits = _count_commits(ws)
    seen: list[str] = []
    report = send_due_probes(ws, progress=lambda done, total, what: seen.append(what))
    assert report.sent == due == len(smtp_server.messages)
    # two commits a probe would be 2 * 18; the run's own (liveness lock, queue, reconciliation,
    # summary) are a handful more
    assert commits[0] <= due + 8, commits[0]
    with ws.session() as s:
        probes = list(s.exec(select(Probe)))
        kinds = [e.kind for e in s.exec(select(Event).order_by(Event.seq))]
    assert {p.state for p in probes} == {"sent"}
    assert all(p.sent_at is not None and p.dispatch.get("stage") == "end" for p in probes)
    # every probe still went planned -> dispatching -> sent, in order, in the event log
    assert sum(k.endswith("dispatching") for k in kinds) == due, kinds
    assert len(seen) == due and all(line.endswith(": sent") for line in seen)


def test_an_outcome_is_written_before_the_run_waits_for_its_throttle(mail_campaign, smtp_server):
    ws = mail_campaign(clock=VirtualClock(MONDAY_MORNING), brands=1, per_domain_seconds=120)
    states_when_waiting: list[set[str]] = []
    sleep = ws.clock.sleep

    def watching_sleep(seconds: float) -> None:
        with ws.session() as s:
            states_when_waiting.append({p.state for p in s.exec(select(Probe))})
        sleep(seconds)

    ws.clock.sleep = watching_sleep
    report = send_due_probes(ws)
    assert report.sent >= 2 and report.throttled_seconds > 0
    # while waiting, nothing is half-recorded: no probe sits in `dispatching`
    assert states_when_waiting and all("dispatching" not in s for s in states_when_waiting)


def test_web_forms_claimed_by_batch_after_a_kill_unstarted_resent_started_left_to_an_analyst(
        tmp_path, db_url, brand_site):
    """Forms are claimed by batch; each submission is marked started (committed) before its
    first POST. A kill leaves the batch in `dispatching`: the probes without the mark of their
    claim were never submitted and go out on the next run, the one with it is not sent again."""
    from qualibench.send_batch import claim, mark_started
    from tests.factories import make_campaign

    clock = VirtualClock(datetime(2026, 11, 30, 7, 0, tzinfo=UTC))
    ws = make_campaign(tmp_path, db_url, brands=3, channels=("webform",), clock=clock,
                       site_url=brand_site.base_url, per_domain_seconds=1,
                       mail={"smtp_host": "", "imap_host": ""})
    clock.set(datetime(2026, 12, 7, 9, 0, tzinfo=UTC))
    with ws.session() as s:
        ids = [p.id for p in s.exec(select(Probe).order_by(Probe.id))]
        claimed = claim(s, ids, "dead-host:1:0", clock)  # a run's batch claim, then killed...
    mark_started(ws, claimed[ids[0]])  # ...just after its first probe's mark
    with ws.session() as s:
        assert {p.state for p in s.exec(select(Probe))} == {"dispatching"}

    report = send_due_probes(ws)

    assert report.reconciled_failed == 1 and report.reconciled_requeued == len(ids) - 1
    assert report.sent == len(ids) - 1 and len(brand_site.submissions) == len(ids) - 1
    with ws.session() as s:
        after = {p.id: p for p in s.exec(select(Probe))}
    assert after[ids[0]].state == "failed" and "cannot tell" in after[ids[0]].failure_reason
    assert all(after[i].state == "sent" for i in ids[1:])
    # the resent ones were claimed again, together, and each marked before its POST
    assert all(after[i].dispatch["started"] == after[i].dispatch["claim"] for i in ids[1:])
    assert len({after[i].claimed_by for i in ids[1:]}) == 1
