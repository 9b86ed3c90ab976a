"""Delays in calendar and business hours; acknowledgements never stop the clock; censoring."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlmodel import select

from qualibench.models import Brand, Event, InboundMessage, Probe, ProbeState, ReplyKind
from qualibench.probes import record_reply
from qualibench.timing import brand_calendar, campaign_timings, close_windows, probe_timing

PARIS = ZoneInfo("Europe/Paris")


def _paris(*args) -> datetime:
    return datetime(*args, tzinfo=PARIS).astimezone(UTC)


def _brand(country="FR", hours="mon-fri 09:00-18:00") -> Brand:
    return Brand(campaign_id=1, key="b", name="B", country=country, timezone="Europe/Paris",
                 opening_hours=hours)


def _probe(sent, answer=None, ack=None, window_days=14) -> Probe:
    return Probe(id=1, campaign_id=1, key="k", wave_id=1, brand_id=1, scenario_id=1, persona_id=1,
                 channel="email", state="sent", sent_at=sent, first_answer_at=answer,
                 first_ack_at=ack, window_ends_at=sent + timedelta(days=window_days))


def test_weekend_is_not_business_time():
    sent, answer = _paris(2026, 12, 18, 17, 0), _paris(2026, 12, 21, 10, 0)  # Fri 17:00 -> Mon 10:00
    t = probe_timing(_probe(sent, answer), brand_calendar(_brand()), now=answer)
    assert t.answer_hours == pytest.approx(65.0)
    assert t.answer_business_hours == pytest.approx(2.0)
    assert t.answered and not t.censored and t.answered_in_window


def test_public_holiday_of_the_brand_country_is_closed():
    sent, answer = _paris(2026, 12, 24, 17, 0), _paris(2026, 12, 28, 10, 0)  # Thu -> Mon, Fri 25 Dec
    fr = probe_timing(_probe(sent, answer), brand_calendar(_brand("FR")), now=answer)
    assert fr.answer_business_hours == pytest.approx(2.0)
    # A country where 25 December is not a holiday (Israel) counts the Friday's 9 hours.
    il = probe_timing(_probe(sent, answer), brand_calendar(_brand("IL")), now=answer)
    assert il.answer_business_hours == pytest.approx(11.0)


def test_ack_is_timed_apart_and_does_not_stop_the_clock():
    sent = _paris(2026, 12, 1, 10, 0)
    ack, answer = sent + timedelta(seconds=30), sent + timedelta(hours=26)
    t = probe_timing(_probe(sent, answer, ack), brand_calendar(_brand()), now=answer)
    assert t.ack_hours == pytest.approx(30 / 3600)
    assert t.answer_hours == pytest.approx(26.0)
    assert t.answer_business_hours == pytest.approx(11.0)  # Tue 10-18, then Wed 09-12


def test_unanswered_probe_is_censored_at_window_end_not_dropped():
    sent = _paris(2026, 12, 1, 10, 0)
    t = probe_timing(_probe(sent, ack=sent + timedelta(minutes=1)), brand_calendar(_brand()),
                     now=sent + timedelta(days=30))
    assert t.censored and not t.answered and t.answer_hours is None
    assert t.observed_hours == pytest.approx(14 * 24)


def test_unknown_country_or_bad_hours_do_not_crash():
    cal = brand_calendar(_brand(country="ZZ", hours="whenever"))
    start = _paris(2026, 12, 1, 10, 0)
    assert cal.business_hours(start, start + timedelta(hours=5)) == pytest.approx(5.0)


def test_close_windows_censors_only_silent_probes_past_their_window(sent_campaign):
    ws, probes = sent_campaign(brands=1)
    a, b, c = probes[0], probes[1], probes[2]
    with ws.session() as s:
        cid = ws.campaign(s).id
        inbound = InboundMessage(campaign_id=cid, sha256="0" * 64)
        s.add(inbound)
        s.flush()
        record_reply(s, s.get(Probe, a.id), inbound, kind=ReplyKind.ANSWER, text="ok",
                     received_at=a.sent_at + timedelta(hours=3), method="reply_address",
                     confidence=1.0, clock=ws.clock)
        inbound2 = InboundMessage(campaign_id=cid, sha256="1" * 64)
        s.add(inbound2)
        s.flush()
        record_reply(s, s.get(Probe, b.id), inbound2, kind=ReplyKind.AUTO_ACK, text="ack",
                     received_at=b.sent_at + timedelta(seconds=20), method="reply_address",
                     confidence=1.0, clock=ws.clock)
        windows = {p.id: p.window_ends_at for p in s.exec(select(Probe)).all()}
    # Move the clock just past b's and c's windows.
    ws.clock.set(max(windows[b.id], windows[c.id]) + timedelta(minutes=1))
    still_open = [pid for pid, w in windows.items() if w > ws.clock.now()]

    closed = close_windows(ws)

    with ws.session() as s:
        states = {p.id: p.state for p in s.exec(select(Probe)).all()}
        events = [e for e in s.exec(select(Event)).all() if e.kind == "probe.unanswered"]
    assert states[a.id] == ProbeState.ANSWERED
    assert states[b.id] == ProbeState.UNANSWERED  # an ack alone is no answer
    assert states[c.id] == ProbeState.UNANSWERED
    assert all(states[pid] == ProbeState.SENT for pid in still_open)
    assert closed == len(events) == sum(1 for st in states.values() if st == ProbeState.UNANSWERED)
    assert close_windows(ws) == 0  # idempotent
    with ws.session() as s:
        timings = {t.probe_id: t for t in campaign_timings(s, cid, ws.clock.now())}
    assert timings[b.id].censored and timings[b.id].ack_hours is not None
