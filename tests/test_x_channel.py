"""The X channel against the local fake X API (real HTTP), plus respx for transport edge cases."""

from __future__ import annotations

import json
from datetime import timedelta

import httpx
import pytest
import respx
from sqlmodel import select

from qualibench.campaign.spec import AccountSpec
from qualibench.channels.x import XChannel
from qualibench.errors import RemoteFailure
from qualibench.models import Probe, ProbeState, Reply
from qualibench.world.xapi import x_time

TOKEN = "sekret-user-context-token-42"


@pytest.fixture
def x_env(monkeypatch, x_api, probe_world):
    monkeypatch.setenv("QB_TEST_X_TOKEN", TOKEN)
    x_api.clock = probe_world.clock
    account = AccountSpec(name="x", username="shopper_claire", token_env="QB_TEST_X_TOKEN",
                          api_base=x_api.base_url)
    return x_api, probe_world, XChannel(account)


def ingest_items(ws, campaign_id, items) -> list[Reply]:
    """Store and process `items` as `qualibench collect` does after asking the X API (collecting.
    _api_collect then processing.process_pending); return the replies this pass recorded."""
    from qualibench.collecting import ingest_raw
    from qualibench.processing import process_pending

    with ws.session() as s:
        before = {r.id for r in s.exec(select(Reply))}
        for item in items:
            ingest_raw(ws, s, campaign_id, item.raw, channel="x", source=item.source,
                       source_ref=item.source_ref, received_at=item.received_at,
                       media_type=item.media_type)
    process_pending(ws, campaign_id)
    with ws.session() as s:
        return [r for r in s.exec(select(Reply)) if r.id not in before]


def _send(world, channel, probe_id):
    with world.ws.session() as s:
        probe, brand, persona = world.rows(s, probe_id)
        result = channel.send(world.ws, probe, brand, persona)
        if result.outcome == "sent":
            probe.state = ProbeState.SENT.value
            probe.sent_at = result.sent_at
            probe.external_id = result.external_id
            s.add(probe)
    return result


def test_mention_is_posted_with_the_short_text_and_the_token_stays_secret(x_env):
    api, world, channel = x_env
    pid = world.probe("x", "@brandco")
    result = _send(world, channel, pid)
    assert result.outcome == "sent", result.detail
    [tweet] = api.tweets
    assert tweet["text"].startswith("@brandco Ma commande CMD-482913")
    assert result.external_id == tweet["id"]
    assert result.evidence["conversation_id"] == tweet["id"]
    assert api.auth_headers == [f"Bearer {TOKEN}"]
    stored = world.ws.evidence.get(result.evidence_sha256).decode()
    assert TOKEN not in stored and json.loads(stored)["response"]["data"]["id"] == tweet["id"]
    assert TOKEN not in json.dumps(result.evidence)


def test_dm_is_sent_to_the_brand_account(x_env):
    api, world, channel = x_env
    pid = world.probe("x", "@brandco", fills={"x_mode": "dm"})
    result = _send(world, channel, pid)
    assert result.outcome == "sent", result.detail
    assert result.external_id == "dm:1001-2001"
    [event] = api.dm_events
    assert event["sender_id"] == "1001" and "CMD-482913" in event["text"]


def test_dm_refused_by_the_brand_is_undeliverable_with_the_reason(x_env):
    api, world, channel = x_env
    api.add_user("2002", "nodms", accepts_dms=False)
    pid = world.probe("x", "@nodms", fills={"x_mode": "dm"})
    result = _send(world, channel, pid)
    assert result.outcome == "undeliverable"
    assert "You cannot send messages to this user." in result.detail


def test_spent_rate_limit_waits_for_the_reset_instead_of_calling(x_env):
    api, world, channel = x_env
    api.set_limit("POST /2/tweets", 1, window=900)
    first = _send(world, channel, world.probe("x", "@brandco"))
    start = world.clock.now()
    second = _send(world, channel, world.probe("x", "@brandco"))
    assert first.outcome == second.outcome == "sent"
    posts = [c for c in api.calls if c[0] == "POST"]
    assert len(posts) == 2  # no call was wasted on a known-empty window
    assert world.clock.now() - start >= timedelta(seconds=890)


def test_429_then_success_waits_until_the_reset(x_env):
    api, world, channel = x_env
    api.fail_next("429")
    start = world.clock.now()
    result = _send(world, channel, world.probe("x", "@brandco"))
    assert result.outcome == "sent"
    assert len(api.calls) == 2
    assert world.clock.now() - start >= timedelta(seconds=890)


def test_503_and_malformed_json_are_retried_with_backoff(x_env):
    """A read (the DM's user lookup) is retried through a 503 and a malformed answer, and the
    POST through a 503 (X overloaded: it took nothing). An unreadable answer to a POST is
    not retried: see test_send_x_unknown.py."""
    api, world, channel = x_env
    api.fail_next("503", "malformed", "pass", "503")
    start = world.clock.now()
    result = _send(world, channel, world.probe("x", "@brandco", fills={"x_mode": "dm"}))
    assert result.outcome == "sent", result.detail
    assert [method for method, _ in api.calls] == ["GET", "GET", "GET", "POST", "POST"]
    assert world.clock.now() - start == timedelta(seconds=2 + 4 + 2)
    assert len(api.dm_events) == 1


def test_a_post_whose_answer_is_lost_is_not_sent_again(x_env):
    """A POST that X answered with an unreadable body, or with a 500, may have posted: the
    outcome is "unknown" after one call, never a second post."""
    api, world, channel = x_env
    api.fail_next("garbled")
    first = _send(world, channel, world.probe("x", "@brandco"))
    assert first.outcome == "unknown" and "may have acted" in first.detail
    assert first.evidence["text"].startswith("@brandco ")
    assert len(api.tweets) == 1 and [m for m, _ in api.calls] == ["POST"]
    with respx.mock:
        route = respx.post(f"{api.base_url}/2/tweets").mock(
            side_effect=[httpx.Response(500, json={"title": "Internal Error"})])
        second = _send(world, channel, world.probe("x", "@brandco"))
        assert second.outcome == "unknown" and "HTTP 500" in second.detail
        assert route.call_count == 1
    with respx.mock:
        route = respx.post(f"{api.base_url}/2/tweets").mock(
            side_effect=[httpx.ReadTimeout("no answer")])
        third = _send(world, channel, world.probe("x", "@brandco"))
        assert third.outcome == "unknown" and "ReadTimeout" in third.detail
        assert route.call_count == 1
    assert TOKEN not in first.detail + second.detail + third.detail


def test_reconcile_finds_a_dm_whose_answer_was_lost(x_env):
    api, world, channel = x_env
    api.fail_next("pass", "garbled")  # the user lookup passes, the DM's answer is lost
    pid = world.probe("x", "@brandco", fills={"x_mode": "dm"})
    assert _send(world, channel, pid).outcome == "unknown"
    [event] = api.dm_events
    with world.ws.session() as s:
        probe = s.get(Probe, pid)
    found = channel.reconcile(world.ws, probe)
    assert found.outcome == "sent", found.detail
    assert found.external_id == f"dm:{event['dm_conversation_id']}"
    assert found.evidence["dm_event_id"] == event["id"]
    assert len(api.dm_events) == 1  # looked up, not sent again
    with world.ws.session() as s:  # recorded as the send loop does
        probe = s.get(Probe, pid)
        probe.external_id = found.external_id
        probe.dispatch = {**(probe.dispatch or {}), **found.evidence}
        s.add(probe)
    # Same words, same brand: the DM is the first probe's, not this one's.
    lonely = world.probe("x", "@brandco", fills={"x_mode": "dm"})
    with world.ws.session() as s:
        never = channel.reconcile(world.ws, s.get(Probe, lonely))
    assert never.outcome == "retry"


def test_x_down_gives_a_retry_without_the_token(x_env):
    api, world, channel = x_env
    api.fail_next(*["503"] * 6)
    result = _send(world, channel, world.probe("x", "@brandco"))
    assert result.outcome == "retry"
    assert "HTTP 503" in result.detail and TOKEN not in result.detail
    assert api.tweets == []


def test_too_long_text_fails_without_calling(x_env):
    api, world, channel = x_env
    pid = world.probe("x", "@brandco")
    with world.ws.session() as s:
        s.get(Probe, pid).short_text = "x" * 300
    result = _send(world, channel, pid)
    assert result.outcome == "failed" and "280" in result.detail
    assert api.calls == []


def test_collect_pages_through_dms_conversations_and_mentions(x_env):
    api, world, channel = x_env
    api.page_size = 2
    mention = _send(world, channel, world.probe("x", "@brandco"))
    dm = _send(world, channel, world.probe("x", "@brandco", fills={"x_mode": "dm"}))
    assert mention.outcome == dm.outcome == "sent"
    t0 = world.clock.now()
    api.reply_to_tweet(mention.external_id, "2001", "@shopper_claire Bonjour Claire, nous "
                       "regardons votre commande CMD-482913 tout de suite.", t0 + timedelta(hours=2))
    for i in range(3):
        api.send_dm("2001", "1001", f"Message {i} du service client", t0 + timedelta(hours=3, minutes=i))
    api.add_user("3003", "someone")
    other = api._add_tweet("3003", "@shopper_claire salut", t0 + timedelta(hours=4), None)

    items = list(channel.collect(world.ws))
    refs = sorted(i.source_ref for i in items)
    dm_ids = sorted(f"dm:{e['id']}" for e in api.dm_events if e["sender_id"] == "2001")
    reply_id = next(t["id"] for t in api.tweets if t["author_id"] == "2001")
    assert refs == sorted([*dm_ids, f"tweet:{reply_id}", f"tweet:{other['id']}"])
    by_ref = {i.source_ref: i for i in items}
    assert by_ref[f"tweet:{reply_id}"].received_at == t0 + timedelta(hours=2)
    assert by_ref[f"tweet:{reply_id}"].source == "x:x/conversation"  # x:<account>/<endpoint>
    assert json.loads(by_ref[f"tweet:{reply_id}"].raw)["conversation_id"] == mention.external_id
    assert any(path.startswith("/2/dm_events?") and "pagination_token=2" in path for _, path in api.calls)


def test_collected_replies_are_matched_timed_and_classified(x_env):
    api, world, channel = x_env
    mention = _send(world, channel, world.probe("x", "@brandco"))
    dm = _send(world, channel, world.probe("x", "@brandco", fills={"x_mode": "dm"}))
    t0 = world.clock.now()
    api.reply_to_tweet(mention.external_id, "2001", "@shopper_claire Bonjour Claire, nous sommes "
                       "désolés pour ce retard. Votre colis CMD-482913 a été retrouvé et sera livré "
                       "demain avant midi.", t0 + timedelta(hours=5))
    api.send_dm("2001", "1001", "Bonjour Claire, votre remboursement de la commande CMD-482913 est "
                "validé, vous le verrez sous 3 jours. Bonne journée !", t0 + timedelta(hours=7))
    api._add_tweet("3003", "@shopper_claire sans rapport", t0, None)
    items = list(channel.collect(world.ws))
    replies = ingest_items(world.ws, world.campaign_id, items)
    assert len(replies) == 2
    with world.ws.session() as s:
        rows = {r.probe_id: r for r in s.exec(select(Reply))}
        probes = {p.external_id: p for p in s.exec(select(Probe))}
    answered_mention = probes[mention.external_id]
    answered_dm = probes[dm.external_id]
    assert answered_mention.state == answered_dm.state == "answered"
    assert answered_mention.first_answer_at == t0 + timedelta(hours=5)
    assert answered_dm.first_answer_at == t0 + timedelta(hours=7)
    assert rows[answered_mention.id].match_method == "api_thread"
    assert rows[answered_dm.id].text.startswith("Bonjour Claire, votre remboursement")
    # the same items collected again add nothing
    assert ingest_items(world.ws, world.campaign_id, list(channel.collect(world.ws))) == []


def test_estimate_cost_counts_posts_and_dms():
    probes = [Probe(campaign_id=1, key="a", wave_id=1, brand_id=1, scenario_id=1, persona_id=1,
                    channel="x", fills=fills)
              for fills in ({}, {}, {"x_mode": "dm"})]
    probes.append(Probe(campaign_id=1, key="e", wave_id=1, brand_id=1, scenario_id=1,
                        persona_id=1, channel="email"))
    est = XChannel(prices={"post": 0.02, "dm": 0.05}).estimate_cost(probes)
    assert (est.posts, est.dms) == (2, 1)
    assert est.total == pytest.approx(0.09)


def test_network_error_is_retried_then_401_names_the_fix(monkeypatch, probe_world):
    monkeypatch.setenv("QB_TEST_X_TOKEN", TOKEN)
    account = AccountSpec(name="x", token_env="QB_TEST_X_TOKEN", api_base="https://x.test")
    channel = XChannel(account)
    pid = probe_world.probe("x", "@brandco")
    with respx.mock:
        route = respx.post("https://x.test/2/tweets")
        route.side_effect = [httpx.ConnectError("refused"),
                             httpx.Response(201, json={"data": {"id": "77", "text": "t"}})]
        result = _send(probe_world, channel, pid)
        assert result.outcome == "sent" and result.external_id == "77"
        assert route.call_count == 2
    pid2 = probe_world.probe("x", "@brandco")
    with respx.mock:
        respx.post("https://x.test/2/tweets").mock(return_value=httpx.Response(401, json={"title": "Unauthorized"}))
        with pytest.raises(RemoteFailure) as err:
            _send(probe_world, channel, pid2)
    assert "401" in err.value.message and TOKEN not in err.value.message + (err.value.hint or "")


def test_x_time_round_trips():
    from qualibench.channels.x import parse_x_time
    from tests.plugins.brandsite import START

    assert parse_x_time(x_time(START)) == START


def test_campaign_cost_counts_planned_x_probes_by_mode(probe_world):
    probe_world.probe("x", "@brandco")
    probe_world.probe("x", "@brandco", fills={"x_mode": "dm"})
    sent = probe_world.probe("x", "@brandco")
    probe_world.probe("webform", "http://site.test/contact")
    with probe_world.ws.session() as s:
        s.get(Probe, sent).state = ProbeState.SENT.value
    est = XChannel(prices={"post": 0.5, "dm": 2.0}).estimate_campaign_cost(probe_world.ws)
    assert (est.posts, est.dms, est.total) == (1, 1, 2.5)
    assert est.as_dict()["currency"] == "USD"


def test_unknown_conversation_stays_unmatched_and_bad_json_unparseable(probe_world):
    from qualibench.channels.base import CollectedItem
    from qualibench.models import InboundMessage

    at = probe_world.clock.now()
    stray = {"id": "901", "text": "@shopper_claire bonjour", "author_id": "2001",
             "conversation_id": "555", "created_at": x_time(at)}
    items = [CollectedItem(json.dumps(stray).encode(), "application/json", "x:mentions", "tweet:901", at),
             CollectedItem(b'{"id": "902", "te', "application/json", "x:mentions", "tweet:902", at)]
    assert ingest_items(probe_world.ws, probe_world.campaign_id, items) == []
    with probe_world.ws.session() as s:
        status = {i.source_ref: i.status for i in s.exec(select(InboundMessage))}
    assert status == {"tweet:901": "unmatched", "tweet:902": "unparseable"}


def test_conversation_queries_stay_under_the_length_limit():
    from qualibench.channels.x import conversation_queries

    ids = [str(1_890_000_000_000_000_000 + i) for i in range(60)]
    queries = conversation_queries(ids)
    assert all(len(q) <= 512 for q in queries)
    assert len(queries) == 5  # 13 ids fit in 512 characters (35 + 12 x 39)
    assert sorted(q.split(":")[1] for query in queries for q in query.split(" OR ")) == ids


def test_a_second_collect_resumes_after_the_newest_stored_item(x_env):
    """Mentions and conversation replies are asked with since_id, and the DM list stops paging
    at a stored event, instead of every pass reading the whole history again."""
    api, world, channel = x_env
    api.page_size = 2
    mention = _send(world, channel, world.probe("x", "@brandco"))
    assert mention.outcome == "sent"
    t0 = world.clock.now()
    api.reply_to_tweet(mention.external_id, "2001", "@shopper_claire Nous regardons.",
                       t0 + timedelta(hours=1))
    for i in range(5):
        api.send_dm("2001", "1001", f"Message {i}", t0 + timedelta(hours=2, minutes=i))
    api.add_user("3003", "someone")
    api._add_tweet("3003", "@shopper_claire salut", t0 + timedelta(hours=3), None)
    first = list(channel.collect(world.ws))
    ingest_items(world.ws, world.campaign_id, first)
    stored = {i.source_ref for i in first}

    api.calls.clear()
    api.reply_to_tweet(mention.external_id, "2001", "@shopper_claire C'est réglé.",
                       t0 + timedelta(hours=4))
    api.send_dm("2001", "1001", "Dernier message", t0 + timedelta(hours=5))
    second = list(channel.collect(world.ws))
    newest_tweet = max(int(r.split(":")[1]) for r in stored if r.startswith("tweet:"))
    searches = [p for _, p in api.calls if p.startswith("/2/tweets/search/recent?")]
    mentions = [p for _, p in api.calls if "/mentions?" in p]
    assert searches and all("since_id=" in p for p in searches)
    assert mentions and all("since_id=" in p for p in mentions)
    assert any(f"since_id={newest_tweet}" in p for p in searches + mentions)
    # Six DM events in pages of two: the first page already reaches a stored one.
    assert len([p for _, p in api.calls if p.startswith("/2/dm_events")]) == 1
    new = {i.source_ref for i in second} - stored
    assert len(new) == 2  # the new conversation reply and the new DM, nothing lost
