"""An X post whose answer is lost is never posted twice: "outcome unknown", then reconciled from
the account's own posts on the fake X API (real HTTP on loopback) by the next `send`."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime

from sqlmodel import select

from qualibench.clock import VirtualClock
from qualibench.models import Brand, Event, Probe, ProbeState
from qualibench.sending import send_due_probes
from tests.factories import make_campaign


def _campaign(tmp_path, db_url, x_api, monkeypatch):
    monkeypatch.setenv("QB_TEST_X_TOKEN", "unknown-token")
    clock = VirtualClock(datetime(2026, 11, 30, 7, 0, tzinfo=UTC))
    x_api.clock = clock
    ws = make_campaign(tmp_path, db_url, brands=2, channels=("x",), clock=clock,
                       x_api={"token_env": "QB_TEST_X_TOKEN", "api_base": x_api.base_url},
                       per_domain_seconds=1, mail={"smtp_host": "", "imap_host": ""})
    with ws.session() as s:
        for i, b in enumerate(s.exec(select(Brand))):
            x_api.add_user(str(5000 + i), b.contacts["x"].lstrip("@"))
    clock.set(datetime(2026, 12, 7, 9, 0, tzinfo=UTC))  # Monday 10:00 in Paris: slots open
    return ws


def _probes(ws) -> list[Probe]:
    with ws.session() as s:
        return list(s.exec(select(Probe).order_by(Probe.id)))


def _posts(x_api) -> int:
    return sum(1 for method, path in x_api.calls if method == "POST")


def test_a_post_whose_answer_was_lost_is_found_on_the_next_run_not_posted_again(
        tmp_path, db_url, x_api, monkeypatch):
    ws = _campaign(tmp_path, db_url, x_api, monkeypatch)
    total = len(_probes(ws))
    x_api.fail_next("garbled")  # the first post is made, its answer cut short
    first = send_due_probes(ws)
    assert first.outcome_unknown == 1 and first.sent == total - 1, first.items
    [lost] = [p for p in _probes(ws) if p.state == ProbeState.DISPATCHING.value]
    assert "may have acted" in lost.dispatch["outcome_unknown"]
    assert len(x_api.tweets) == total and _posts(x_api) == total
    garbled = x_api.tweets[0]

    second = send_due_probes(ws)
    assert second.reconciled_sent == 1 and second.sent == 0, second.items
    assert _posts(x_api) == total  # looked up, never posted again
    after = {p.id: p for p in _probes(ws)}
    assert Counter(p.state for p in after.values()) == {ProbeState.SENT.value: total}
    assert after[lost.id].external_id == garbled["id"]
    assert after[lost.id].dispatch["reconciled"] is True
    assert len({p.external_id for p in after.values()}) == total
    with ws.session() as s:
        kinds = [e.kind for e in s.exec(select(Event).where(Event.subject == f"probe:{lost.id}"))]
    assert kinds == ["probe.dispatching", "probe.outcome_unknown", "probe.sent"]


def test_a_post_x_never_took_is_sent_once_after_the_lookup(tmp_path, db_url, x_api, monkeypatch):
    ws = _campaign(tmp_path, db_url, x_api, monkeypatch)
    total = len(_probes(ws))
    x_api.fail_next("malformed")  # an unreadable answer, and nothing posted
    assert send_due_probes(ws).outcome_unknown == 1
    assert len(x_api.tweets) == total - 1

    second = send_due_probes(ws)
    assert second.reconciled_requeued == 1 and second.sent == 1, second.items
    texts = Counter(t["text"] for t in x_api.tweets)
    assert len(texts) == total and set(texts.values()) == {1}
    assert {p.state for p in _probes(ws)} == {ProbeState.SENT.value}


def test_x_unreachable_during_the_lookup_leaves_the_question_to_the_run_after(
        tmp_path, db_url, x_api, monkeypatch):
    ws = _campaign(tmp_path, db_url, x_api, monkeypatch)
    total = len(_probes(ws))
    x_api.fail_next("garbled")
    send_due_probes(ws)
    x_api.fail_next(*["503"] * 6)  # every retry of the lookup
    second = send_due_probes(ws)
    assert second.outcome_unknown == 1 and second.reconciled_sent == 0
    assert sum(p.state == ProbeState.DISPATCHING.value for p in _probes(ws)) == 1
    third = send_due_probes(ws)
    assert third.reconciled_sent == 1
    assert {p.state for p in _probes(ws)} == {ProbeState.SENT.value}
    assert len(x_api.tweets) == total and _posts(x_api) == total
