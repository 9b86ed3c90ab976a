"""Campaign status: how far each channel and brand has come."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field

from sqlalchemy import func
from sqlmodel import select

from .models import Brand, InboundMessage, InboundStatus, Probe, ProbeState, Reply
from .workspace import Workspace

COLUMNS = ("planned", "sent", "answered", "pending", "failed", "undeliverable", "censored", "total")


def _bucket(state: str) -> list[str]:
    s = ProbeState(state)
    if s in (ProbeState.PLANNED, ProbeState.DISPATCHING, ProbeState.ASSISTED):
        return ["planned"]
    if s == ProbeState.SENT:
        return ["sent", "pending"]
    if s == ProbeState.ANSWERED:
        return ["sent", "answered"]
    if s == ProbeState.UNANSWERED:
        return ["sent", "censored"]
    if s == ProbeState.UNDELIVERABLE:
        return ["undeliverable"]
    return ["failed"]


@dataclass
class CampaignStatus:
    campaign: str
    by_channel: dict[str, dict[str, int]] = field(default_factory=dict)
    by_brand: dict[str, dict[str, int]] = field(default_factory=dict)
    totals: dict[str, int] = field(default_factory=dict)
    replies: int = 0
    unmatched: int = 0

    def as_dict(self) -> dict:
        return {"campaign": self.campaign, "totals": self.totals, "by_channel": self.by_channel,
                "by_brand": self.by_brand, "replies": self.replies, "unmatched_inbox": self.unmatched}


def campaign_status(ws: Workspace) -> CampaignStatus:
    """Return counts of probes per channel and per brand, by stage."""
    with ws.session() as session:
        camp = ws.campaign(session)
        rows = session.exec(
            select(Brand.name, Probe.channel, Probe.state, func.count())
            .join(Brand, Brand.id == Probe.brand_id)
            .where(Probe.campaign_id == camp.id)
            .group_by(Brand.name, Probe.channel, Probe.state)
        ).all()
        replies = session.exec(select(func.count()).select_from(Reply).where(Reply.campaign_id == camp.id)).one()
        unmatched = session.exec(
            select(func.count()).select_from(InboundMessage).where(
                InboundMessage.campaign_id == camp.id, InboundMessage.status == InboundStatus.UNMATCHED.value)
        ).one()

    def empty() -> dict[str, int]:
        return dict.fromkeys(COLUMNS, 0)

    by_channel: dict[str, dict[str, int]] = defaultdict(empty)
    by_brand: dict[str, dict[str, int]] = defaultdict(empty)
    totals = empty()
    for brand, channel, state, n in rows:
        for col in [*_bucket(state), "total"]:
            by_channel[channel][col] += n
            by_brand[brand][col] += n
            totals[col] += n
    return CampaignStatus(campaign=camp.name, by_channel=dict(sorted(by_channel.items())),
                          by_brand=dict(sorted(by_brand.items())), totals=totals, replies=replies,
                          unmatched=unmatched)
