"""Delays in calendar and business hours, as the report reads them (analytics.load_tests, which
calls qualibench.hours.brand_calendar); acknowledgements never stop the clock; censoring."""

from __future__ import annotations

import itertools
import threading
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import numpy as np
import pytest
from sqlmodel import select

from qualibench.analytics import load_tests
from qualibench.hours import (
    DEFAULT_OPENING_HOURS,
    HoursSyntaxError,
    OpeningHours,
    _midnight,
    brand_calendar,
)
from qualibench.models import Brand, Event, InboundMessage, Probe, ProbeState, ReplyKind
from qualibench.probes import record_reply
from qualibench.timing import close_windows

PARIS = ZoneInfo("Europe/Paris")
_sha = (f"{n:064x}" for n in itertools.count(1))


def _paris(*args) -> datetime:
    return datetime(*args, tzinfo=PARIS).astimezone(UTC)


def _record(session, ws, cid: int, pid: int, kind: ReplyKind, at: datetime) -> None:
    """Record a reply of `kind` received at `at` to probe `pid`, in `session`'s transaction."""
    inbound = InboundMessage(campaign_id=cid, sha256=next(_sha))
    session.add(inbound)
    session.flush()
    record_reply(session, session.get(Probe, pid), inbound, kind=kind, text="Bonjour",
                 received_at=at, method="reply_address", confidence=1.0, clock=ws.clock)


class Campaign:
    """A sent e-mail campaign in a real database; probes re-dated and answered at will."""

    def __init__(self, ws, probes) -> None:
        self.ws, self.probes = ws, probes
        with ws.session() as s:
            self.cid = ws.campaign(s).id

    def brand(self, **cells) -> None:
        with self.ws.session() as s:
            for b in s.exec(select(Brand)).all():
                for k, v in cells.items():
                    setattr(b, k, v)
                s.add(b)

    def sent(self, index: int, at: datetime, window_days: int = 14) -> int:
        pid = self.probes[index].id
        with self.ws.session() as s:
            p = s.get(Probe, pid)
            p.sent_at, p.window_ends_at = at, at + timedelta(days=window_days)
            s.add(p)
        return pid

    def reply(self, pid: int, kind: ReplyKind, at: datetime) -> None:
        with self.ws.session() as s:
            _record(s, self.ws, self.cid, pid, kind, at)

    def row(self, pid: int, as_of: datetime) -> dict:
        with self.ws.session() as s:
            df = load_tests(s, self.cid, as_of=as_of)
        return df.set_index("probe_id").loc[pid].to_dict()


@pytest.fixture
def campaign(sent_campaign) -> Campaign:
    c = Campaign(*sent_campaign(brands=1))
    c.brand(opening_hours="mon-fri 09:00-18:00", timezone="Europe/Paris", country="FR")
    return c


def test_weekend_is_not_business_time(campaign):
    sent, answer = _paris(2026, 12, 18, 17, 0), _paris(2026, 12, 21, 10, 0)  # Fri 17:00 -> Mon 10:00
    pid = campaign.sent(0, sent)
    campaign.reply(pid, ReplyKind.ANSWER, answer)
    row = campaign.row(pid, as_of=answer + timedelta(days=1))
    assert row["time_h"] == pytest.approx(65.0) and row["delay_h"] == pytest.approx(65.0)
    assert row["business_time_h"] == pytest.approx(2.0)
    assert row["answered"] and not row["censored"]


def test_public_holiday_of_the_brand_country_is_closed(campaign):
    sent, answer = _paris(2026, 12, 24, 17, 0), _paris(2026, 12, 28, 10, 0)  # Thu -> Mon, Fri 25 Dec
    pid = campaign.sent(0, sent)
    campaign.reply(pid, ReplyKind.ANSWER, answer)
    campaign.brand(country="FR")
    assert campaign.row(pid, answer)["business_time_h"] == pytest.approx(2.0)
    # A country where 25 December is not a holiday (Israel) counts the Friday's 9 hours.
    campaign.brand(country="IL")
    assert campaign.row(pid, answer)["business_time_h"] == pytest.approx(11.0)


def test_blank_hours_and_timezone_mean_what_check_means(campaign):
    # The reported bug: timing said 2.0 h, analytics 65.0 h for the same blank cells.
    sent, answer = _paris(2026, 12, 18, 17, 0), _paris(2026, 12, 21, 10, 0)
    pid = campaign.sent(0, sent)
    campaign.reply(pid, ReplyKind.ANSWER, answer)
    campaign.brand(opening_hours="", timezone="", country="")
    blank = brand_calendar("", "", "")
    assert blank == brand_calendar("Europe/Paris", DEFAULT_OPENING_HOURS, "FR")
    assert blank.business_hours(sent, answer) == pytest.approx(2.0)
    assert campaign.row(pid, answer)["business_time_h"] == pytest.approx(2.0)


def test_overlapping_spans_are_refused_or_counted_once(campaign):
    with pytest.raises(HoursSyntaxError, match="10:00-12:00 overlaps 09:00-18:00"):
        OpeningHours.parse("mon-fri 09:00-18:00, 10:00-12:00")
    # A brand row written before `check` refused overlaps: a 9-hour day, not 11.
    day_start, day_end = _paris(2026, 12, 1, 0, 0), _paris(2026, 12, 2, 0, 0)
    pid = campaign.sent(0, day_start)
    campaign.reply(pid, ReplyKind.ANSWER, day_end)
    campaign.brand(opening_hours="mon-fri 09:00-18:00, 10:00-12:00")
    assert campaign.row(pid, day_end)["business_time_h"] == pytest.approx(9.0)


def test_ack_is_timed_apart_and_does_not_stop_the_clock(campaign):
    sent = _paris(2026, 12, 1, 10, 0)
    ack, answer = sent + timedelta(seconds=30), sent + timedelta(hours=26)
    pid = campaign.sent(0, sent)
    campaign.reply(pid, ReplyKind.AUTO_ACK, ack)
    campaign.reply(pid, ReplyKind.ANSWER, answer)
    row = campaign.row(pid, answer)
    assert row["ack_delay_h"] == pytest.approx(30 / 3600) and row["acknowledged"]
    assert row["time_h"] == pytest.approx(26.0)
    assert row["business_time_h"] == pytest.approx(11.0)  # Tue 10-18, then Wed 09-12


def test_unanswered_probe_is_censored_at_window_end_not_dropped(campaign):
    sent = _paris(2026, 12, 1, 10, 0)
    pid = campaign.sent(0, sent)
    campaign.reply(pid, ReplyKind.AUTO_ACK, sent + timedelta(minutes=1))
    row = campaign.row(pid, as_of=sent + timedelta(days=30))
    assert row["censored"] and not row["answered"]
    assert row["censor_h"] == pytest.approx(14 * 24) and row["time_h"] == pytest.approx(14 * 24)


def test_unknown_country_or_bad_hours_do_not_crash():
    cal = brand_calendar("Europe/Paris", "whenever", "ZZ")
    start = _paris(2026, 12, 1, 10, 0)  # a Tuesday: the default hours, no holidays
    assert cal.business_hours(start, start + timedelta(hours=5)) == pytest.approx(5.0)


def test_close_windows_censors_only_silent_probes_past_their_window(sent_campaign):
    ws, probes = sent_campaign(brands=1)
    a, b, c = probes[0], probes[1], probes[2]
    with ws.session() as s:
        cid = ws.campaign(s).id
        _record(s, ws, cid, a.id, ReplyKind.ANSWER, a.sent_at + timedelta(hours=3))
        _record(s, ws, cid, b.id, ReplyKind.AUTO_ACK, b.sent_at + timedelta(seconds=20))
        windows = {p.id: p.window_ends_at for p in s.exec(select(Probe)).all()}
    # Move the clock just past b's and c's windows.
    ws.clock.set(max(windows[b.id], windows[c.id]) + timedelta(minutes=1))
    still_open = [pid for pid, w in windows.items() if w > ws.clock.now()]

    closed = close_windows(ws)

    with ws.session() as s:
        states = {p.id: p.state for p in s.exec(select(Probe)).all()}
        events = [e for e in s.exec(select(Event)).all() if e.kind == "probe.unanswered"]
        tests = load_tests(s, cid, as_of=ws.clock.now()).set_index("probe_id")
    assert states[a.id] == ProbeState.ANSWERED
    assert states[b.id] == ProbeState.UNANSWERED  # an ack alone is no answer
    assert states[c.id] == ProbeState.UNANSWERED
    assert all(states[pid] == ProbeState.SENT for pid in still_open)
    assert closed == len(events) == sum(1 for st in states.values() if st == ProbeState.UNANSWERED)
    assert close_windows(ws) == 0  # idempotent
    assert tests.loc[b.id, "censored"] and tests.loc[b.id, "acknowledged"]


def test_close_windows_never_censors_a_probe_another_collector_is_answering(sent_campaign,
                                                                           on_postgres):
    """A team on PostgreSQL: machine A records an answer to a probe past its window while
    machine B closes windows. B must not turn A's answered probe into an unanswered one."""
    if not on_postgres:
        pytest.skip("needs PostgreSQL (set QUALIBENCH_TEST_PG): SQLite has one writer at a time")
    from sqlalchemy import text

    from qualibench.verify import verify_campaign

    ws, probes = sent_campaign(brands=1)
    target = probes[0]
    with ws.session() as s:
        cid = ws.campaign(s).id
        late = max(p.window_ends_at for p in s.exec(select(Probe)).all())
    ws.clock.set(late + timedelta(minutes=1))
    outcome: dict = {}
    with ws.session() as a:  # machine A: the answer is recorded, its transaction still open
        _record(a, ws, cid, target.id, ReplyKind.ANSWER, target.sent_at + timedelta(hours=3))
        a.flush()
        b = threading.Thread(target=lambda: outcome.update(closed=close_windows(ws)))
        b.start()
        # Let B reach A's locked row: either it has finished (it skipped the row) or it is
        # waiting on A's lock (the bug: it would censor the probe once A commits).
        with ws.engine.connect() as watch:
            for _ in range(200):
                b.join(0.05)
                waiting = watch.execute(text(
                    "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock' "
                    "AND datname = current_database()")).scalar()
                if not b.is_alive() or waiting:
                    break
    b.join(30)
    assert not b.is_alive()
    with ws.session() as s:
        probe = s.get(Probe, target.id)
        states = {p.id: p.state for p in s.exec(select(Probe)).all()}
    assert probe.state == ProbeState.ANSWERED and probe.first_answer_at is not None
    assert outcome["closed"] == len(states) - 1  # every other silent probe is censored
    # The logged facts match the rows (the made-up inbound has no raw evidence: not checked).
    assert [p for p in verify_campaign(ws).problems if "differ" in p] == []


def test_business_hours_of_many_pairs_are_each_pair_alone():
    """The batch the report uses (business_hours_many) is the rule of one pair, pair by pair:
    across a DST change, a public holiday, a new year, lunch breaks and reversed pairs."""
    cal = brand_calendar("Europe/Paris", "mon-fri 09:00-12:00,14:00-18:00; sat 10:00-12:00", "FR")
    pairs = [
        (_paris(2026, 3, 27, 11, 30), _paris(2026, 3, 30, 9, 30)),  # Fri 11:30 -> Mon 9:30 over the DST change
        (_paris(2026, 12, 31, 17, 0), _paris(2027, 1, 4, 10, 0)),  # New Year's Day closed, Sat 2 open 10-12
        (_paris(2026, 5, 1, 8, 0), _paris(2026, 5, 1, 20, 0)),  # 1 May: a holiday, nothing open
        (_paris(2026, 6, 2, 11, 0, 0, 250_000), _paris(2026, 6, 2, 15, 0, 0, 125)),  # lunch skipped, microseconds
        (_paris(2026, 6, 2, 15, 0), _paris(2026, 6, 2, 11, 0)),  # reversed: no time
    ]
    alone = [cal.business_hours(a, b) for a, b in pairs]
    assert alone == pytest.approx([0.5 + 4 + 2 + 0.5, 1 + 2 + 1, 0.0, 2 - (0.25 - 125e-6) / 3600, 0.0], abs=1e-12)
    many = cal.business_hours_many([a for a, _ in pairs], [b for _, b in pairs])
    assert [float(h) for h in many] == alone  # the same floats, not only close ones


@pytest.mark.parametrize("zone", ["Europe/Paris", "America/Santiago", "Asia/Beirut"])
def test_brand_local_dates_of_microseconds_are_astimezone_dates(zone):
    """business_hours_us dates each time by the local midnight before it, and by astimezone where
    a midnight is skipped or repeated (Santiago and Beirut change their clocks at midnight)."""
    cal = brand_calendar(zone, "24/7", "ZZ")
    tz = ZoneInfo(zone)
    epoch = datetime(1970, 1, 1, tzinfo=UTC)
    # every 30 minutes over both of 2026's clock changes of the zone, plus a microsecond either side of each hour
    times = [datetime(2026, m, 1, tzinfo=UTC) + timedelta(minutes=30 * k) for m in (3, 4, 9, 10) for k in range(1540)]
    times += [t + timedelta(microseconds=d) for t in times[::2] for d in (-1, 1)]
    us = np.array([(t - epoch) // timedelta(microseconds=1) for t in times], dtype=np.int64)
    days = range(datetime(2026, 3, 1).toordinal(), datetime(2026, 11, 3).toordinal())
    assert any(_midnight(tz, d) is None for d in days) == (zone != "Europe/Paris")  # both ways are checked
    assert cal._local_days(us).tolist() == [t.astimezone(tz).toordinal() for t in times]
    # open all the time: the open hours of any pair are its elapsed hours, across the changes too
    starts, ends = us[::7], us[::7] + 3 * 86_400_000_000 + 1
    assert cal.business_hours_us(starts, ends).tolist() == pytest.approx([72 + 1e-6 / 3600] * len(starts), abs=1e-9)
