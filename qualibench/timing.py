"""Censoring at window end, and the brand calendar of a brand row.

An acknowledgement never stops the clock: first_ack_at and first_answer_at are kept apart. A
probe still unanswered when its window closes is censored as unanswered, never dropped, so the
analysis (qualibench.analytics.load_tests, which the report and exports read) counts it in every
"answered within" rate. Business hours have one implementation: qualibench.hours.
"""

from __future__ import annotations

from sqlmodel import col, select

from .db import skip_locked
from .hours import BrandCalendar
from .hours import brand_calendar as calendar_of
from .models import Brand, Probe, ProbeState
from .probes import transition
from .workspace import Workspace


def brand_calendar(brand: Brand) -> BrandCalendar:
    """Return the BrandCalendar of a brand row (qualibench.hours.brand_calendar of its cells)."""
    return calendar_of(brand.timezone, brand.opening_hours, brand.country)


def close_windows(ws: Workspace) -> int:
    """Censor as unanswered every sent probe whose window ended without an answer; return how many."""
    now = ws.clock.now()
    closed = 0
    with ws.session() as session:
        campaign = ws.campaign(session)
        # A team: another collector may be recording an answer to one of these probes right
        # now. Its row is skipped (it is closed by a later run if still silent), and the rows
        # taken are locked and read afresh, so a probe answered meanwhile is never censored.
        due = session.exec(
            skip_locked(select(Probe).where(
                Probe.campaign_id == campaign.id,
                Probe.state == ProbeState.SENT.value,
                col(Probe.window_ends_at).is_not(None),
                col(Probe.window_ends_at) <= now,
                col(Probe.first_answer_at).is_(None),
            ).order_by(col(Probe.id))).execution_options(populate_existing=True)
        ).all()
        for probe in due:
            reason = "no answer by the end of the window"
            if probe.first_ack_at is not None:
                reason = "only an acknowledgement by the end of the window"
            transition(session, probe, ProbeState.UNANSWERED, clock=ws.clock, reason=reason,
                       payload={"window_ends_at": probe.window_ends_at})
            closed += 1
    return closed
