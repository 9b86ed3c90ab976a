"""Planning: every probe once, reproducible draws, persona rule, send slots in brand-local time."""

from __future__ import annotations

from collections import defaultdict
from zoneinfo import ZoneInfo

from sqlmodel import select

from qualibench.models import Brand, Event, Probe
from qualibench.planning import plan_campaign
from tests.factories import make_campaign


def _probes(ws):
    with ws.session() as s:
        return s.exec(select(Probe).order_by(Probe.key)).all()


def test_plan_creates_brand_channel_scenario_probes_once(tmp_path, db_url):
    ws = make_campaign(tmp_path, db_url, brands=4, channels=("email", "webform"))
    probes = _probes(ws)
    spec = ws.spec()
    expected = sum(1 for b in spec.brands for ch in ("email", "webform") for s in spec.scenarios
                   if ch in s.channels and ch in b.contacts)
    assert len(probes) == expected > 0
    again = plan_campaign(ws)
    assert again.created == 0 and again.existing == expected
    assert len(_probes(ws)) == expected


def test_no_persona_writes_twice_to_one_brand(tmp_path, db_url):
    ws = make_campaign(tmp_path, db_url, brands=5, channels=("email", "webform"))
    seen = defaultdict(set)
    for p in _probes(ws):
        assert p.persona_id not in seen[p.brand_id], p.key
        seen[p.brand_id].add(p.persona_id)


def test_plan_is_reproducible_with_the_seed(tmp_path, db_url):
    a = make_campaign(tmp_path / "a", db_url, brands=3)
    first = [(p.key, p.planned_at, p.reply_address, p.message_id, p.fills, p.persona_id) for p in _probes(a)]
    b = make_campaign(tmp_path / "b", f"sqlite:///{tmp_path / 'b.sqlite'}", brands=3)
    second = [(p.key, p.planned_at, p.reply_address, p.message_id, p.fills, p.persona_id) for p in _probes(b)]
    assert first == second
    c = make_campaign(tmp_path / "c", f"sqlite:///{tmp_path / 'c.sqlite'}", brands=3, seed=99)
    assert [p.planned_at for p in _probes(c)] != [x[1] for x in first]


def test_send_slots_fall_in_brand_local_weekday_hours(tmp_path, db_url):
    ws = make_campaign(tmp_path, db_url, brands=6)
    with ws.session() as s:
        tz = {b.id: ZoneInfo(b.timezone) for b in s.exec(select(Brand))}
    for p in _probes(ws):
        local = p.planned_at.astimezone(tz[p.brand_id])
        assert local.weekday() < 5
        assert 9 <= local.hour < 12 or 14 <= local.hour < 17
        assert p.planned_at.tzinfo is not None
        assert (p.window_ends_at - p.planned_at).days == 14


def test_probe_text_is_filled_and_carries_no_tracking_token(tmp_path, db_url):
    ws = make_campaign(tmp_path, db_url, brands=2)
    for p in _probes(ws):
        assert "{" not in p.subject + p.body
        token = p.reply_address.split("@")[0].split(".")[-1]
        assert token not in p.subject and token not in p.body
        for value in p.fills.values():
            assert value in p.body or value in p.subject or value in p.short_text or not value


def test_plan_logs_a_chained_event(tmp_path, db_url):
    ws = make_campaign(tmp_path, db_url, brands=2)
    with ws.session() as s:
        ev = s.exec(select(Event).where(Event.kind == "plan.created")).one()
        assert ev.payload["created"] == len(_probes(ws))
