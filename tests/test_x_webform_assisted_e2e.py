"""A real campaign with form, X and assisted probes: plan, send, brands answer, collect, score."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlmodel import select

from qualibench.assisted import next_missions, record_reply, record_sent
from qualibench.clock import VirtualClock
from qualibench.collecting import collect
from qualibench.models import Brand, Probe, Reply, Score
from qualibench.sending import send_due_probes
from tests.factories import make_campaign

ANSWER = ("Bonjour, nous sommes désolés pour ce retard. Nous avons vérifié votre commande : le "
          "colis est parti hier du dépôt de Lyon et sera livré jeudi. Nous vous offrons les frais "
          "de port en dédommagement. Bien cordialement, Julie")


@pytest.mark.slow
def test_form_x_and_assisted_probes_run_end_to_end(tmp_path, db_url, brand_site, x_api, monkeypatch):
    monkeypatch.setenv("QB_TEST_X_TOKEN", "e2e-token")
    clock = VirtualClock(datetime(2026, 11, 30, 7, 0, tzinfo=UTC))
    x_api.clock = clock
    ws = make_campaign(tmp_path, db_url, brands=3, channels=("webform", "x", "facebook"),
                       clock=clock, site_url=brand_site.base_url,
                       x_api={"token_env": "QB_TEST_X_TOKEN", "api_base": x_api.base_url},
                       per_domain_seconds=1, mail={"smtp_host": "", "imap_host": ""})
    with ws.session() as s:
        brands = list(s.exec(select(Brand)))
        probes = list(s.exec(select(Probe)))
    for i, b in enumerate(brands):
        x_api.add_user(str(5000 + i), b.contacts["x"].lstrip("@"))
    channels = {p.channel for p in probes}
    assert channels == {"webform", "x", "facebook"}, channels

    # every probe's slot has passed; Monday 10:00 in Paris is inside the send slots
    clock.set(datetime(2026, 12, 7, 9, 0, tzinfo=UTC))
    report = send_due_probes(ws)
    by_channel: dict[str, set[str]] = {}
    with ws.session() as s:
        for p in s.exec(select(Probe)):
            by_channel.setdefault(p.channel, set()).add(p.state)
    assert by_channel["webform"] == {"sent"}, report.items
    assert by_channel["x"] == {"sent"}, report.items
    assert by_channel["facebook"] == {"assisted"}

    # forms were submitted with each probe's own reply address (replies come back by e-mail)
    with ws.session() as s:
        form_aliases = {p.reply_address for p in s.exec(select(Probe).where(Probe.channel == "webform"))}
    assert {sub.email for sub in brand_site.submissions} == form_aliases

    # brands answer on X; shoppers send and record the Facebook probes
    clock.advance(timedelta(hours=3))
    with ws.session() as s:
        x_probes = list(s.exec(select(Probe).where(Probe.channel == "x")))
    for p in x_probes:
        tweet = next(t for t in x_api.tweets if t["id"] == p.external_id)
        brand_id = next(uid for uid, name in x_api.users.items() if f"@{name}".lower() in tweet["text"].lower())
        x_api.reply_to_tweet(p.external_id, brand_id, "@shopper " + ANSWER, clock.now() - timedelta(hours=1))
    for mission in next_missions(ws, limit=50):
        record_sent(ws, mission.probe_id, clock.now() - timedelta(hours=2))
        record_reply(ws, mission.probe_id, clock.now() - timedelta(minutes=30), ANSWER)

    with ws.session() as s:
        campaign_id = ws.campaign(s).id
    # the pipeline's own collect: X items are stored raw, then matched by their thread
    report = collect(ws)
    assert report.api_items >= len(x_probes)
    with ws.session() as s:
        x_replies = s.exec(select(Reply).join(Probe, Probe.id == Reply.probe_id)
                           .where(Probe.channel == "x", Reply.campaign_id == campaign_id)).all()
    assert len(x_replies) == len(x_probes)
    assert {r.match_method for r in x_replies} == {"api_thread"}

    from qualibench.scorer.campaign import score_campaign

    score_campaign(ws)
    with ws.session() as s:
        rows = list(s.exec(select(Probe).where(Probe.channel.in_(("x", "facebook")))))
        assert {p.state for p in rows} == {"answered"}
        assert all(p.first_answer_at is not None and p.first_answer_at > p.sent_at for p in rows)
        scored = {r.probe_id for r, _ in s.exec(select(Reply, Score).join(Score, Score.reply_id == Reply.id))}
    assert scored == {p.id for p in rows}
