"""An analyst rejects low-confidence matches in headless Chromium, on the real `qualibench review`:
the message goes back to the inbox with the reason logged, and each probe's clock and state are
recomputed from the replies it has left; the event log still verifies, and the message can be
assigned again."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from sqlmodel import select

from qualibench.models import Event, InboundMessage, Probe, Reply, Score
from tests.plugins.review import (
    add_mail_reply,
    login_link,
    qb,
    start_review_server,
    stop_review_server,
)

pytestmark = [pytest.mark.browser, pytest.mark.integration]


@pytest.fixture
def wrong_matches(review_world):
    """Probe A: its real answer at 10:00 and a wrong low-confidence one at 08:00 that set its
    clock; probe B: its only reply is a wrong low-confidence match (scored, so it has a score)."""
    world = review_world
    ws = world.ws
    with ws.session() as s:
        a, b = s.exec(select(Probe).order_by(Probe.id)).all()[:2]
        real_a = s.exec(select(Reply).where(Reply.probe_id == a.id)).one()
        wrong_a = add_mail_reply(ws, s, a, "Votre colis part demain.", -1, confidence=0.5, needs_review=True)
        a.first_answer_at = wrong_a.received_at  # as record_reply did: the earliest answer counts
        s.add(a)
        wrong_b = s.exec(select(Reply).where(Reply.probe_id == b.id)).one()
        wrong_b.match_confidence, wrong_b.needs_review, wrong_b.match_method = 0.4, True, "subject_window"
        s.add(wrong_b)
        ids = {"a": a.id, "b": b.id, "real_a_at": real_a.received_at, "wrong_a": wrong_a.id,
               "wrong_b": wrong_b.id, "inbound_a": wrong_a.inbound_id, "inbound_b": wrong_b.inbound_id}
    with ws.session() as s:
        assert s.exec(select(Score).where(Score.reply_id == ids["wrong_b"])).first() is not None
    server = start_review_server(world)
    yield world, server, ids
    stop_review_server(server)


def test_an_analyst_rejects_wrong_matches_and_the_probes_are_recomputed(wrong_matches, browser):
    world, server, ids = wrong_matches
    context = browser.new_context()
    context.set_default_timeout(90_000)
    page = context.new_page()
    page.goto(login_link(world, "al", "analyst", server.base))
    page.click("#signin")
    page.wait_for_url(re.compile(r"/inbox$"))
    page.goto(server.base + "/matches")
    for key, why in (("wrong_a", "a newsletter, not the answer"), ("wrong_b", "answers another customer")):
        row = page.locator(f"#low #reply-{ids[key]}")
        row.locator("input[name=why]").fill(why)
        with page.expect_navigation():  # the post, its redirect, the reloaded queue
            row.locator("form.reject button").click()
        assert page.locator(".error").count() == 0, page.inner_text("main")
        assert page.locator(f"#low #reply-{ids[key]}").count() == 0
    assert page.locator("#low tr").count() == 1  # the header row only
    page.goto(server.base + "/inbox")
    for key in ("inbound_a", "inbound_b"):
        assert page.locator(f"#inbound-{ids[key]}").count() == 1
    context.close()

    ws = world.ws
    with ws.session() as s:
        a, b = s.get(Probe, ids["a"]), s.get(Probe, ids["b"])
        assert a.state == "answered" and a.first_answer_at == ids["real_a_at"]  # the real answer's time
        assert b.state == "sent" and b.first_answer_at is None and b.first_ack_at is None
        assert s.get(Reply, ids["wrong_b"]) is None and s.exec(select(Reply).where(Reply.probe_id == b.id)).all() == []
        assert s.exec(select(Score).where(Score.reply_id == ids["wrong_b"])).all() == []
        for key in ("inbound_a", "inbound_b"):
            msg = s.get(InboundMessage, ids[key])
            assert msg.status == "unmatched" and "rejected by al" in msg.note
        events = s.exec(select(Event).where(Event.kind.in_(["match.rejected", "probe.reopened"]))
                        .order_by(Event.seq)).all()
    rejected = [e.payload for e in events if e.kind == "match.rejected"]
    assert [(p["reply_id"], p["analyst"], p["why"]) for p in rejected] == [
        (ids["wrong_a"], "al", "a newsletter, not the answer"), (ids["wrong_b"], "al", "answers another customer")]
    assert rejected[1]["scores_removed"] == ["auto"]
    assert [e.subject for e in events if e.kind == "probe.reopened"] == [f"probe:{ids['b']}"]
    # The event log accepts the deletions it recorded, and the message can be assigned again.
    assert "OK" in qb(world, "verify").stdout
    qb(world, "inbox", "assign", str(ids["inbound_b"]), str(ids["b"]), "--analyst", "al", "--kind", "answer")
    with ws.session() as s:
        b = s.get(Probe, ids["b"])
        assert b.state == "answered" and b.first_answer_at is not None
        assert b.first_answer_at - b.sent_at == timedelta(hours=5)
