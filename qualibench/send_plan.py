"""What `send` has still to do: per channel, the first and last planned send slots, the probes
each day, and what the X probes will cost. `send --dry-run` prints it; nothing is sent."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from sqlmodel import col, select

from .models import Probe, ProbeState
from .workspace import Workspace


@dataclass
class ChannelSchedule:
    """The planned probes of one channel still to send."""

    channel: str
    probes: int = 0
    first_slot: datetime | None = None  # UTC
    last_slot: datetime | None = None
    per_day: dict[date, int] = field(default_factory=dict)  # UTC calendar days
    cost: dict[str, Any] | None = None  # X only: posts, dms, prices, currency, total

    def as_dict(self) -> dict[str, Any]:
        return {"channel": self.channel, "probes": self.probes,
                "first_slot": self.first_slot.isoformat() if self.first_slot else None,
                "last_slot": self.last_slot.isoformat() if self.last_slot else None,
                "per_day": {d.isoformat(): n for d, n in sorted(self.per_day.items())},
                "cost": self.cost}


def send_schedule(ws: Workspace, channel: str | None = None) -> list[ChannelSchedule]:
    """Return, per channel, the planned (unsent) probes: slots, probes per day, X API cost."""
    with ws.session() as s:
        campaign = ws.campaign(s)
        query = select(Probe.channel, Probe.planned_at).where(
            Probe.campaign_id == campaign.id, Probe.state == ProbeState.PLANNED.value)
        if channel:
            query = query.where(Probe.channel == channel)
        rows = s.exec(query.order_by(col(Probe.planned_at))).all()
    out: dict[str, ChannelSchedule] = {}
    days: dict[str, Counter[date]] = {}
    for ch, planned in rows:
        sched = out.setdefault(ch, ChannelSchedule(ch))
        sched.probes += 1
        if planned is None:
            continue
        sched.first_slot = planned if sched.first_slot is None else min(sched.first_slot, planned)
        sched.last_slot = planned if sched.last_slot is None else max(sched.last_slot, planned)
        days.setdefault(ch, Counter())[planned.date()] += 1
    for ch, counter in days.items():
        out[ch].per_day = dict(sorted(counter.items()))
    if "x" in out:
        out["x"].cost = _x_cost(ws)
    return [out[ch] for ch in sorted(out)]


def _x_cost(ws: Workspace) -> dict[str, Any] | None:
    try:
        from .channels.x import XChannel
    except ImportError:  # pragma: no cover - the X channel ships with the package
        return None
    return XChannel().estimate_campaign_cost(ws).as_dict()
