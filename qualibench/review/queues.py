"""The analyst's queues: low-confidence matches to confirm or reject, and replies flagged for review.

The inbox itself (unmatched and unparseable messages, assign, dismiss) is qualibench.inbox, the
same functions `qualibench inbox` calls; this module adds what the browser needs beside it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlmodel import Session, and_, col, delete, or_, select

from ..errors import NotFound, QualibenchError, StateError
from ..events import log_event
from ..models import CodingAssignment, InboundMessage, InboundStatus, Probe, Reply, Score
from ..workspace import Workspace

# Below this a match is a guess (sender domain + subject + time window) an analyst confirms.
LOW_CONFIDENCE = 0.9
LIMIT = 200


@dataclass(frozen=True)
class MatchItem:
    """A reply whose match to its probe, or whose delay, waits for an analyst."""

    reply_id: int
    probe_id: int
    probe_key: str
    kind: str
    match_method: str
    match_confidence: float
    received_at: datetime | None
    from_address: str
    subject: str
    why: str


def _items(ws: Workspace, *conditions) -> list[MatchItem]:  # type: ignore[no-untyped-def]
    with ws.session() as session:
        cid = ws.campaign(session).id
        rows = session.exec(
            select(Reply, Probe.key, InboundMessage.from_address, InboundMessage.subject)
            .join(Probe, col(Probe.id) == Reply.probe_id)
            .join(InboundMessage, col(InboundMessage.id) == Reply.inbound_id)
            .where(Reply.campaign_id == cid, *conditions).order_by(col(Reply.id)).limit(LIMIT)).all()
    out = []
    for reply, key, sender, subject in rows:
        why = []
        if reply.match_confidence < LOW_CONFIDENCE:
            why.append(f"matched by {reply.match_method} at {reply.match_confidence:.2f}")
        if reply.delay_review == "pending":
            why.append("impossible delay (dated before its request)")
        if reply.needs_review and not why:
            why.append("flagged for review")
        out.append(MatchItem(reply.id or 0, reply.probe_id, key, reply.kind, reply.match_method,
                             reply.match_confidence, reply.received_at, sender, subject, "; ".join(why)))
    return out


def low_confidence_matches(ws: Workspace) -> list[MatchItem]:
    """Return replies matched with less than LOW_CONFIDENCE and not yet confirmed."""
    return _items(ws, col(Reply.match_confidence) < LOW_CONFIDENCE, col(Reply.needs_review).is_(True))


def flagged_replies(ws: Workspace) -> list[MatchItem]:
    """Return replies flagged for review: impossible delays, or any other review flag."""
    # A low-confidence match waits in its own queue, unless its delay is also impossible.
    return _items(ws, or_(Reply.delay_review == "pending",
                          and_(col(Reply.needs_review).is_(True), col(Reply.match_confidence) >= LOW_CONFIDENCE)))


def _awaiting_review(session: Session, cid: int | None, reply_id: int) -> Reply:
    """Return the reply of this campaign whose match waits for an analyst, or raise why not."""
    reply = session.get(Reply, reply_id)
    if reply is None or reply.campaign_id != cid:
        raise NotFound(f"reply {reply_id} is not in this campaign", "reload the queue")
    if not reply.needs_review:
        raise StateError(f"reply {reply_id} is not waiting for review", "reload the queue")
    return reply


def confirm_match(ws: Workspace, reply_id: int, analyst: str) -> None:
    """Record that an analyst checked a reply's match (or flag) and keeps it as it is."""
    with ws.session() as session:
        cid = ws.campaign(session).id
        reply = _awaiting_review(session, cid, reply_id)
        reply.needs_review = False
        session.add(reply)
        log_event(session, cid or 0, "match.confirmed", f"reply:{reply_id}",
                  {"analyst": analyst, "method": reply.match_method,
                   "confidence": reply.match_confidence}, ws.clock)


def reject_match(ws: Workspace, reply_id: int, analyst: str, why: str) -> InboundMessage:
    """Undo a wrong match: the message goes back to the inbox (unmatched) with who and why logged,
    and the probe's clock and state are recomputed from its remaining replies
    (qualibench.probes.withdraw_reply). Its scores and coding assignments go with it."""
    from ..probes import withdraw_reply

    why = (why or "").strip()
    if not why:
        raise QualibenchError("rejecting a match needs a reason", "say why this message is not an answer to that probe")
    with ws.session() as session:
        cid = ws.campaign(session).id
        reply = _awaiting_review(session, cid, reply_id)
        probe = session.get(Probe, reply.probe_id)
        inbound = session.get(InboundMessage, reply.inbound_id)
        assert probe is not None and inbound is not None
        scorers = list(session.exec(select(Score.scorer).where(Score.reply_id == reply_id)))
        session.exec(delete(Score).where(col(Score.reply_id) == reply_id))  # type: ignore[call-overload]
        session.exec(delete(CodingAssignment).where(col(CodingAssignment.reply_id) == reply_id))  # type: ignore[call-overload]
        inbound.status = InboundStatus.UNMATCHED.value
        inbound.note = f"match to probe {probe.key} rejected by {analyst}: {why}"
        session.add(inbound)
        log_event(session, cid or 0, "match.rejected", f"inbound:{inbound.id}",
                  {"reply_id": reply_id, "probe": probe.id, "analyst": analyst, "why": why,
                   "method": reply.match_method, "confidence": reply.match_confidence,
                   "scores_removed": sorted(scorers)}, ws.clock)
        withdraw_reply(session, reply, probe, clock=ws.clock, reason=f"match rejected by {analyst}: {why}")
        session.flush()
        session.expunge(inbound)
        return inbound


def decide_flagged_delay(ws: Workspace, reply_id: int, analyst: str, keep: bool) -> None:
    """Keep or exclude a reply whose delay is impossible (qualibench.probes.decide_delay)."""
    from ..probes import decide_delay

    with ws.session() as session:
        cid = ws.campaign(session).id
        reply = session.get(Reply, reply_id)
        if reply is None or reply.campaign_id != cid:
            raise NotFound(f"reply {reply_id} is not in this campaign", "reload the queue")
        probe = session.get(Probe, reply.probe_id)
        assert probe is not None
        decide_delay(session, reply, probe, keep=keep, clock=ws.clock, by=analyst)
