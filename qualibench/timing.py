"""How long each brand took: calendar and business-hours delays, and censoring at window end.

An acknowledgement never stops the clock: first_ack_at and first_answer_at are kept apart and
the answer (the first human answer or redirect, even after an ack) is the one timed. A probe
still unanswered when its window closes is censored as unanswered, never dropped, so the
analysis can count it in every "answered within" rate.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from functools import lru_cache
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import holidays
from sqlmodel import Session, col, select

from .clock import ensure_utc
from .hours import HoursSyntaxError, OpeningHours, business_seconds
from .models import Brand, Probe, ProbeState
from .probes import transition
from .workspace import Workspace


@dataclass(frozen=True)
class BrandCalendar:
    """When a brand is open: weekly hours in its timezone, minus its country's public holidays."""

    hours: OpeningHours
    tz: ZoneInfo
    country: str

    def closed_days(self, start: datetime, end: datetime) -> frozenset[date]:
        """Return the public holidays between `start` and `end` (brand-local dates)."""
        first = start.astimezone(self.tz).year
        last = end.astimezone(self.tz).year
        return _holidays(self.country, tuple(range(first, last + 1)))

    def business_hours(self, start: datetime, end: datetime) -> float:
        """Return the open hours between two aware datetimes."""
        seconds = business_seconds(start, end, self.hours, self.tz, self.closed_days(start, end))
        return seconds / 3600.0


@lru_cache(maxsize=64)
def _holidays(country: str, years: tuple[int, ...]) -> frozenset[date]:
    try:
        return frozenset(holidays.country_holidays(country.upper(), years=list(years)).keys())
    except NotImplementedError:  # a country the package does not know: no holidays, not a crash
        return frozenset()


def brand_calendar(brand: Brand) -> BrandCalendar:
    """Return the BrandCalendar of a brand row (24/7 if its hours cannot be read)."""
    try:
        tz = ZoneInfo(brand.timezone or "UTC")
    except (ZoneInfoNotFoundError, ValueError):
        tz = ZoneInfo("UTC")
    try:
        hours = OpeningHours.parse(brand.opening_hours)
    except HoursSyntaxError:
        hours = OpeningHours.parse("24/7")
    return BrandCalendar(hours=hours, tz=tz, country=brand.country or "FR")


@dataclass(frozen=True)
class ProbeTiming:
    """The delays of one probe, in calendar hours and in the brand's business hours."""

    probe_id: int
    brand_id: int
    channel: str
    state: str
    sent_at: datetime | None
    first_ack_at: datetime | None
    first_answer_at: datetime | None
    window_ends_at: datetime | None
    answered: bool
    censored: bool  # no answer by the end of the window (or yet)
    ack_hours: float | None
    answer_hours: float | None
    ack_business_hours: float | None
    answer_business_hours: float | None
    observed_hours: float | None  # to the answer, or to the censoring point
    answered_in_window: bool


def probe_timing(probe: Probe, calendar: BrandCalendar, now: datetime) -> ProbeTiming:
    """Return the ProbeTiming of `probe`; a probe not answered yet is censored at min(now, window end)."""
    now = ensure_utc(now)
    sent = probe.sent_at

    def hours(end: datetime | None) -> float | None:
        return None if sent is None or end is None else max(0.0, (end - sent).total_seconds() / 3600)

    def business(end: datetime | None) -> float | None:
        return None if sent is None or end is None else calendar.business_hours(sent, end)

    answer = probe.first_answer_at
    end_of_observation = answer
    if answer is None and sent is not None:
        end_of_observation = min(now, probe.window_ends_at) if probe.window_ends_at else now
    in_window = answer is not None and (probe.window_ends_at is None or answer <= probe.window_ends_at)
    return ProbeTiming(
        probe_id=probe.id or 0, brand_id=probe.brand_id, channel=probe.channel, state=probe.state,
        sent_at=sent, first_ack_at=probe.first_ack_at, first_answer_at=answer,
        window_ends_at=probe.window_ends_at, answered=answer is not None,
        censored=sent is not None and answer is None,
        ack_hours=hours(probe.first_ack_at), answer_hours=hours(answer),
        ack_business_hours=business(probe.first_ack_at), answer_business_hours=business(answer),
        observed_hours=hours(end_of_observation), answered_in_window=in_window,
    )


def campaign_timings(session: Session, campaign_id: int, now: datetime) -> list[ProbeTiming]:
    """Return the ProbeTiming of every sent probe of a campaign."""
    brands = {b.id: b for b in session.exec(select(Brand).where(Brand.campaign_id == campaign_id))}
    calendars = {bid: brand_calendar(b) for bid, b in brands.items()}
    probes = session.exec(
        select(Probe).where(Probe.campaign_id == campaign_id, col(Probe.sent_at).is_not(None))
        .order_by(col(Probe.id))
    ).all()
    return [probe_timing(p, calendars[p.brand_id], now) for p in probes]


def close_windows(ws: Workspace) -> int:
    """Censor as unanswered every sent probe whose window ended without an answer; return how many."""
    now = ws.clock.now()
    closed = 0
    with ws.session() as session:
        campaign = ws.campaign(session)
        due = session.exec(
            select(Probe).where(
                Probe.campaign_id == campaign.id,
                Probe.state == ProbeState.SENT.value,
                col(Probe.window_ends_at).is_not(None),
                col(Probe.window_ends_at) <= now,
                col(Probe.first_answer_at).is_(None),
            )
        ).all()
        for probe in due:
            reason = "no answer by the end of the window"
            if probe.first_ack_at is not None:
                reason = "only an acknowledgement by the end of the window"
            transition(session, probe, ProbeState.UNANSWERED, clock=ws.clock, reason=reason,
                       payload={"window_ends_at": probe.window_ends_at})
            closed += 1
    return closed
