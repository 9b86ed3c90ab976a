"""Hostile X API payloads against the real `qualibench collect` (issue #13).

Brands write the posts and DMs the X API relays; the API itself answers whatever its server
sends. Probes are sent through the fake X API (real HTTP on loopback), then the installed console
script collects in a subprocess whose own CPU time and peak memory are read with wait4. Each
hostile answer is refused or set aside within its bound, and the rest of the collect goes on.
"""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime, timedelta

import pytest
from sqlmodel import select

from qualibench.campaign.spec import AccountSpec
from qualibench.channels.x import MAX_ANSWER_BYTES, XChannel, XUnavailable
from qualibench.clock import VirtualClock
from qualibench.mail.bounds import MAX_TEXT_CHARS
from qualibench.models import Brand, InboundMessage, Persona, Probe, ProbeState, Reply
from tests.factories import make_campaign
from tests.hostile.conftest import MB, drip, gzip_bomb, run_qualibench

TOKEN_ENV = "QB_HOSTILE_X_TOKEN"
ANSWER = ("Bonjour, nous sommes désolés pour ce retard. Votre colis est parti hier du dépôt de "
          "Lyon et sera livré jeudi. Bien cordialement, Julie")
# Every bound below is far above what a collect of a few items takes (about 1 s of CPU and
# 150 MB on this machine) and far below what an unbounded read of these answers took.
CPU_BOUND = 30.0
MEMORY_BOUND_MB = 400


def sent_x_campaign(tmp_path, db_url, x_api):  # type: ignore[no-untyped-def]
    """Return (Workspace, [Probe]) of 3 brands on X, every probe posted as a mention through
    `x_api` six hours ago (the collecting subprocess runs on the system clock, inside every
    window). The caller exports the token variable TOKEN_ENV. Also used by bench/hostile.py."""
    clock = VirtualClock(datetime.now(UTC).replace(microsecond=0) - timedelta(hours=6))
    x_api.clock = clock
    ws = make_campaign(tmp_path, db_url, brands=3, channels=("x",), clock=clock,
                       start=clock.now().date(),
                       x_api={"token_env": TOKEN_ENV, "api_base": x_api.base_url},
                       mail={"smtp_host": "", "imap_host": ""})
    channel = XChannel()
    with ws.session() as s:
        for i, brand in enumerate(s.exec(select(Brand))):
            x_api.add_user(str(5000 + i), brand.contacts["x"].lstrip("@"))
        rows = [(p, s.get(Brand, p.brand_id), s.get(Persona, p.persona_id))
                for p in s.exec(select(Probe))]
        s.expunge_all()
    for probe, brand, persona in rows:
        result = channel.send(ws, probe, brand, persona)
        assert result.outcome == "sent", result.detail
        with ws.session() as s:
            row = s.get(Probe, probe.id)
            row.state, row.sent_at = ProbeState.SENT.value, result.sent_at
            row.external_id = result.external_id
            row.window_ends_at = result.sent_at + timedelta(days=14)
            s.add(row)
    with ws.session() as s:
        sent = list(s.exec(select(Probe).order_by(Probe.id)))
    return ws, sent


@pytest.fixture
def x_campaign(tmp_path, db_url, x_api, monkeypatch):
    """A campaign of 3 brands on X, every probe posted as a mention through the fake X API."""
    monkeypatch.setenv(TOKEN_ENV, "hostile-test-token")
    ws, sent = sent_x_campaign(tmp_path, db_url, x_api)
    return ws, x_api, sent


def _brand_of(api, tweet_id: str) -> str:
    tweet = next(t for t in api.tweets if t["id"] == tweet_id)
    return next(uid for uid, name in api.users.items()
                if f"@{name}".lower() in tweet["text"].lower())


def _collect(ws):
    run = run_qualibench("--db", ws.db_url, "collect", "--json", cwd=ws.root, timeout=240,
                         memory_cap_mb=2500)
    assert not run.killed, "collect still running after 240 s"
    return run


def _replies(ws) -> dict[int, Reply]:
    with ws.session() as s:
        return {r.probe_id: r for r in s.exec(select(Reply))}


def test_control_characters_nul_markup_and_long_posts_are_stored_and_the_rest_goes_on(x_campaign):
    ws, api, sent = x_campaign
    hostile = [
        "\x1b[2J\x1b]0;pwned\x07 [/] [link=http://evil.test]clic[/link] \x00 NUL \u202egnp.exe "
        + ANSWER,
        "\ud800 lone surrogate \udfff " + ANSWER,
        (ANSWER + " ") * 150,  # ~20,000 characters: a long post, kept whole
        ANSWER + " " + "mot " * 40_000,  # past the text bound: cut with a note, raw kept whole
    ]
    assert len(sent) >= len(hostile)
    now = datetime.now(UTC)
    for probe, text in zip(sent, hostile, strict=False):
        api.reply_to_tweet(probe.external_id, _brand_of(api, probe.external_id),
                           "@shopper " + text, now - timedelta(hours=1))
    run = _collect(ws)
    assert run.returncode == 0, run.stderr
    assert "Traceback" not in run.stderr
    report = json.loads(run.stdout)
    replies = _replies(ws)
    assert len(replies) == len(hostile), (report["warnings"], run.stderr)
    for probe, text in zip(sent, hostile[:3], strict=False):
        stored = replies[probe.id].text
        assert "\x00" not in stored and not any(0xD800 <= ord(c) <= 0xDFFF for c in stored)
        assert stored.endswith(text.replace("\x00", "\ufffd")[-40:].replace("\ud800", "\ufffd")
                               .replace("\udfff", "\ufffd"))
    long = replies[sent[3].id]
    assert len(long.text) == MAX_TEXT_CHARS and long.text.startswith("@shopper " + ANSWER)
    with ws.session() as s:
        cut = s.get(InboundMessage, long.inbound_id)
        assert "truncated to its first 100,000 characters" in cut.parse_error
        assert len(json.loads(ws.evidence.get(cut.sha256))["text"]) > 150_000
    first = replies[sent[0].id].text
    assert "\x1b[2J" in first and "[link=http://evil.test]" in first  # stored as written
    assert run.cpu_seconds < CPU_BOUND and run.peak_mb < MEMORY_BOUND_MB
    # what the brand wrote reaches the analyst's colour terminal as inert, visible text
    env = {"FORCE_COLOR": "1", "COLUMNS": "120"}
    assert run_qualibench("--db", ws.db_url, "score", cwd=ws.root, env=env).returncode == 0
    shown = run_qualibench("--db", ws.db_url, "score", "explain", str(replies[sent[0].id].id),
                           cwd=ws.root, env=env)
    assert shown.returncode == 0, shown.stderr
    for action in ("\x1b[2J", "\x1b]0;", "\x1b]8;", "\x07", "\u202e"):
        assert action not in shown.stdout + shown.stderr, action
    text = re.sub(r"\x1b\[[0-9;]*m", "", shown.stdout)  # rich's own colours, around spans
    assert "\\x1b[2J\\x1b]0;pwned\\x07 [/] [link=http://evil.test]clic[/link]" in text


def deep_json(depth: int) -> bytes:
    return b'{"data": ' + b"[" * depth + b"]" * depth + b"}"


def test_huge_and_deeply_nested_answers_are_refused_and_other_endpoints_still_collected(x_campaign):
    ws, api, sent = x_campaign
    now = datetime.now(UTC)
    for probe in sent:
        api.reply_to_tweet(probe.external_id, _brand_of(api, probe.external_id),
                           "@shopper " + ANSWER, now - timedelta(hours=1))
    # DMs: nested a million deep; mentions: 3 times the answer cap, as one valid JSON body
    api.raw_answers["GET /2/dm_events"] = deep_json(1_000_000)
    filler = json.dumps({"id": "9", "text": "x" * 1000, "created_at": "2026-12-01T00:00:00.000Z",
                         "author_id": "77"})
    api.raw_answers["GET /2/users/:id/mentions"] = (
        b'{"data": [' + b",".join([filler.encode()] * (3 * MAX_ANSWER_BYTES // 1100)) + b"]}")
    run = _collect(ws)
    assert run.returncode == 0, run.stderr
    assert "Traceback" not in run.stderr
    report = json.loads(run.stdout)
    warnings = " | ".join(report["warnings"])
    assert "GET /2/dm_events: the JSON answer is nested too deeply" in warnings
    assert "GET /2/users/:id/mentions: the answer" in warnings and "bytes" in warnings
    # the conversation search answered normally: every brand's reply was recorded
    assert set(_replies(ws)) == {p.id for p in sent}
    assert run.cpu_seconds < CPU_BOUND and run.peak_mb < MEMORY_BOUND_MB


def test_wrong_types_are_skipped_or_set_aside_never_crash_the_collect(x_campaign):
    ws, api, sent = x_campaign
    good, *others = sent
    created = (datetime.now(UTC) - timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M:%S.000Z")
    weird_items = [
        1, "text", None, [], True,
        {"id": {"nested": 1}, "text": 5, "created_at": created, "conversation_id": good.external_id},
        {"id": "41", "text": ["list"], "created_at": created, "conversation_id": good.external_id},
        {"id": "42", "text": "ok", "created_at": 12345, "conversation_id": good.external_id},
        {"id": "43", "text": "ok", "created_at": "yesterday", "conversation_id": good.external_id},
        {"id": "44", "text": "@shopper " + ANSWER, "created_at": created, "author_id": "5000",
         "conversation_id": good.external_id, "referenced_tweets": "not a list"},
    ]
    api.raw_answers["GET /2/tweets/search/recent"] = json.dumps(
        {"data": weird_items, "meta": {"next_token": {"not": "a string"}}}).encode()
    api.raw_answers["GET /2/dm_events"] = json.dumps({"data": "a" * 10_000, "meta": [1]}).encode()
    api.raw_answers["GET /2/users/me"] = json.dumps({"data": ["1001"]}).encode()
    run = _collect(ws)
    assert run.returncode == 0, run.stderr
    assert "Traceback" not in run.stderr
    report = json.loads(run.stdout)
    warnings = " | ".join(report["warnings"])
    assert "'data' is a str, not a list" in warnings
    assert "an item that is a int, not an object" in warnings
    assert "an unusable next_token" in warnings
    replies = _replies(ws)
    assert list(replies) == [good.id] and replies[good.id].text.endswith(ANSWER)
    with ws.session() as s:
        aside = {i.source_ref: i.parse_error
                 for i in s.exec(select(InboundMessage).where(InboundMessage.status == "unparseable"))}
    assert "text is a int" in aside["tweet:"]
    assert "text is a list" in aside["tweet:41"]
    assert "created_at is not an X time" in aside["tweet:42"]
    assert "created_at is not an X time" in aside["tweet:43"]
    assert not others or all(p.id not in replies for p in others)


def test_a_trickling_or_inflating_answer_is_cut_at_its_deadline_and_size(hostile_site, probe_world,
                                                                          monkeypatch):
    # In-process: the deadline and the decompressed-size cap of one call, against real HTTP.
    monkeypatch.setenv(TOKEN_ENV, "t")
    account = AccountSpec(name="x", username="shopper", token_env=TOKEN_ENV,
                          api_base=hostile_site.base_url)
    hostile_site.route("/2/users/me", drip(byte_every=0.05, prelude=b'{"data": {"id": "1001"'))
    channel = XChannel(account, deadline=1.0, max_retries=0)
    with pytest.raises(XUnavailable, match="took more than 1 s"):
        channel.collect(probe_world.ws)
    hostile_site.route("/2/users/me", gzip_bomb(50 * MB, "application/json"))
    with pytest.raises(XUnavailable, match="larger than the 5,000,000 bytes"):
        channel.collect(probe_world.ws)
