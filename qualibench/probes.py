"""The probe state machine and the recording of replies against it."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import event as sa_event
from sqlalchemy.orm import Session as OrmSession
from sqlmodel import Session

from .clock import Clock, ensure_utc
from .errors import StateError
from .events import log_event
from .models import (
    PROBE_TRANSITIONS,
    DelayReview,
    Event,
    InboundMessage,
    InboundStatus,
    Probe,
    ProbeState,
    Reply,
    ReplyKind,
)

# session.info key: ids of the probes the transaction already holds FOR UPDATE (a batch).
LOCKED_PROBES = "qualibench.probes.locked"


@sa_event.listens_for(OrmSession, "after_commit")
@sa_event.listens_for(OrmSession, "after_rollback")
def _locks_released(session: OrmSession) -> None:
    session.info.pop(LOCKED_PROBES, None)  # row locks end with the transaction


def transition(
    session: Session,
    probe: Probe,
    new_state: ProbeState | str,
    *,
    clock: Clock,
    reason: str = "",
    payload: dict[str, Any] | None = None,
) -> Probe:
    """Move `probe` to `new_state` (validated against PROBE_TRANSITIONS) and log the event.

    Setting the state it already has is a no-op, so a rerun can replay a step safely.
    """
    target = ProbeState(new_state)
    current = ProbeState(probe.state)
    if target == current:
        return probe
    if target not in PROBE_TRANSITIONS[current]:
        raise StateError(
            f"probe {probe.key} cannot go from {current.value} to {target.value}",
            "this is a bug or a concurrent edit; rerun the command, the state is consistent",
        )
    probe.state = target.value
    now = clock.now()
    if target == ProbeState.DISPATCHING:
        probe.dispatching_at = now
        probe.attempts += 1
    if target in (ProbeState.FAILED, ProbeState.UNDELIVERABLE, ProbeState.ASSISTED) and reason:
        probe.failure_reason = reason
    session.add(probe)
    body = {"from": current.value, "to": target.value}
    if reason:
        body["reason"] = reason
    if payload:
        body.update(payload)
    assert probe.id is not None
    log_event(session, probe.campaign_id, f"probe.{target.value}", f"probe:{probe.id}", body, clock)
    return probe


def record_reply(
    session: Session,
    probe: Probe,
    inbound: InboundMessage,
    *,
    kind: ReplyKind | str,
    text: str,
    received_at: datetime,
    method: str,
    confidence: float,
    clock: Clock,
    language: str = "",
    signature: str = "",
    redirect_to: str = "",
    ticket_ref: str = "",
    needs_review: bool = False,
    notice: str = "",
) -> Reply:
    """Record `inbound` as a reply to `probe` and update the probe's clock and state.

    An acknowledgement or out-of-office never stops the clock (first_ack_at only); an answer
    or a redirect sets first_answer_at and makes the probe answered; a bounce makes it
    undeliverable. A reply dated before its request or in the future (see `impossible_delay`)
    is recorded with delay_review "pending" and touches neither the clock nor the state until an
    analyst decides (`decide_delay`).
    """
    hold(session, probe)
    fields = reply_fields(probe, inbound.id, kind=kind, text=text,  # type: ignore[arg-type]
                          received_at=received_at, method=method, confidence=confidence,
                          language=language, signature=signature, redirect_to=redirect_to,
                          ticket_ref=ticket_ref, needs_review=needs_review, notice=notice)
    reply = Reply(**fields)
    session.add(reply)
    inbound.status = InboundStatus.MATCHED.value
    session.add(inbound)
    event = apply_reply(session, probe, fields, clock)
    session.flush()
    event.subject = f"reply:{reply.id}"
    return reply


def reply_fields(probe: Probe, inbound_id: int, *, kind: ReplyKind | str, text: str,
                 received_at: datetime, method: str, confidence: float, language: str = "",
                 signature: str = "", redirect_to: str = "", ticket_ref: str = "",
                 needs_review: bool = False, notice: str = "") -> dict[str, Any]:
    """Return the columns of the Reply row recording `inbound_id` as a reply to `probe`."""
    received_at = ensure_utc(received_at)
    why = impossible_delay(probe.sent_at, received_at)
    return {
        "campaign_id": probe.campaign_id, "inbound_id": inbound_id, "probe_id": probe.id,
        "kind": ReplyKind(kind).value, "match_method": str(method),
        "match_confidence": confidence, "needs_review": needs_review,
        "received_at": received_at, "language": language, "text": text, "signature": signature,
        "redirect_to": redirect_to, "ticket_ref": ticket_ref,
        "delay_review": DelayReview.PENDING.value if why else DelayReview.NONE.value,
        "notice": notice,
    }


def apply_reply(session: Session, probe: Probe, fields: dict[str, Any], clock: Clock) -> Event:
    """Apply a reply (its `reply_fields`) to its probe's clock and state, and queue its
    "reply.recorded" event; return the event, whose subject the caller sets once the reply
    row has its id. The caller holds the probe (see `hold`)."""
    received_at = fields["received_at"]
    why = impossible_delay(probe.sent_at, received_at)
    if fields["ticket_ref"] and not probe.ticket_ref:
        probe.ticket_ref = fields["ticket_ref"]
    if not why:
        _apply_to_probe(session, probe, fields["kind"], received_at, fields["text"], clock)
    if probe not in session:  # (add cascades over its relations: 60 us a reply for nothing)
        session.add(probe)
    body = {"probe": probe.id, "inbound": fields["inbound_id"], "kind": fields["kind"],
            "method": fields["match_method"], "confidence": fields["match_confidence"],
            "received_at": received_at.isoformat()}
    if fields["notice"]:
        body["notice"] = fields["notice"]
    if why:
        body["delay_review"] = why
    return log_event(session, probe.campaign_id, "reply.recorded", "reply:", body, clock)


# Clocks of mail servers drift by seconds; a reply dated more than this before its request has
# a wrong date (a time zone lost, an API clock), not a delay.
DELAY_TOLERANCE = timedelta(minutes=2)


def impossible_delay(sent_at: datetime | None, received_at: datetime) -> str:
    """Return why a reply's arrival time cannot be a delay ("" when it can)."""
    if sent_at is None:
        return ""
    gap = ensure_utc(sent_at) - ensure_utc(received_at)
    if gap > DELAY_TOLERANCE:
        return f"dated {int(gap.total_seconds())} s before its request was sent"
    return ""


def hold(session: Session, probe: Probe) -> None:
    """Read `probe`'s clock and state afresh under its row lock (PostgreSQL), held until commit.

    Two machines of a team may write one probe at once (two collectors, a collector and the
    review app): each reads what the other committed, so neither overwrites the other's
    first_answer_at or state."""
    if session.get_bind().dialect.name != "postgresql" or probe.id is None:
        return
    locked = session.info.setdefault(LOCKED_PROBES, set())
    if probe.id in locked:
        return
    session.flush()  # this transaction's own changes (an assisted "sent" just before) first
    session.refresh(probe, with_for_update=True)
    locked.add(probe.id)


def decide_delay(session: Session, reply: Reply, probe: Probe, *, keep: bool, clock: Clock,
                 by: str = "") -> Reply:
    """Record an analyst's decision on a flagged delay: `keep` lets the reply count in timing."""
    if reply.delay_review != DelayReview.PENDING.value:
        raise StateError(f"reply {reply.id} has no delay waiting for a decision",
                         "only replies flagged delay_review=pending can be decided")
    hold(session, probe)
    reply.delay_review = (DelayReview.KEPT if keep else DelayReview.EXCLUDED).value
    session.add(reply)
    log_event(session, probe.campaign_id, "reply.delay_decided", f"probe:{probe.id}",
              {"reply_id": reply.id, "decision": reply.delay_review, "by": by}, clock)
    if keep:
        assert reply.received_at is not None
        _apply_to_probe(session, probe, reply.kind, reply.received_at, reply.text, clock)
    return reply


def withdraw_reply(session: Session, reply: Reply, probe: Probe, *, clock: Clock, reason: str) -> None:
    """Delete `reply`, recorded against `probe` by mistake, and recompute the probe's clock and
    state from its remaining replies, as if the wrong one had never arrived.

    The remaining replies are applied again, in arrival order, through `_apply_to_probe`: the
    one rule that applies replies. A probe that only the withdrawn reply had answered (or
    bounced) goes back to sent first (event probe.reopened); if its window has already ended,
    the next collect censors it as unanswered like any other. Rows pointing at the reply (scores,
    assignments) are the caller's to remove first.
    """
    from sqlmodel import col, select

    hold(session, probe)
    rest = session.exec(select(Reply).where(Reply.probe_id == probe.id, Reply.id != reply.id)
                        .order_by(col(Reply.received_at), col(Reply.id))).all()
    counted = [r for r in rest if r.delay_review in (DelayReview.NONE.value, DelayReview.KEPT.value)]
    kind, state = ReplyKind(reply.kind), ProbeState(probe.state)
    session.delete(reply)
    session.flush()
    answers, left = (ReplyKind.ANSWER, ReplyKind.REDIRECT), {ReplyKind(r.kind) for r in counted}
    # Only the withdrawn reply made the probe answered (or undeliverable): none left does.
    only_cause = (state == ProbeState.ANSWERED and kind in answers and not left & set(answers)) or \
                 (state == ProbeState.UNDELIVERABLE and kind == ReplyKind.BOUNCE and ReplyKind.BOUNCE not in left)
    if only_cause and probe.sent_at is not None:
        # The one way back in the state machine: what made the probe answered never happened.
        probe.state = ProbeState.SENT.value
        if state == ProbeState.UNDELIVERABLE:
            probe.failure_reason = None
        assert probe.id is not None
        log_event(session, probe.campaign_id, "probe.reopened", f"probe:{probe.id}",
                  {"from": state.value, "to": ProbeState.SENT.value, "reason": reason}, clock)
    probe.first_ack_at = probe.first_answer_at = None
    for other in counted:
        _apply_to_probe(session, probe, other.kind, other.received_at,  # type: ignore[arg-type]
                        other.text, clock)
    session.add(probe)


def _apply_to_probe(session: Session, probe: Probe, kind: ReplyKind | str, received_at: datetime,
                    text: str, clock: Clock) -> None:
    kind = ReplyKind(kind)
    received_at = ensure_utc(received_at)
    state = ProbeState(probe.state)
    if kind in (ReplyKind.AUTO_ACK, ReplyKind.OUT_OF_OFFICE):
        if probe.first_ack_at is None or received_at < probe.first_ack_at:
            probe.first_ack_at = received_at
    elif kind == ReplyKind.BOUNCE:
        if state in (ProbeState.SENT, ProbeState.UNANSWERED):
            transition(session, probe, ProbeState.UNDELIVERABLE, clock=clock,
                       reason=text[:500] or "bounced")
    else:  # answer or redirect
        if probe.first_answer_at is None or received_at < probe.first_answer_at:
            probe.first_answer_at = received_at
        if state in (ProbeState.SENT, ProbeState.UNANSWERED):
            transition(session, probe, ProbeState.ANSWERED, clock=clock)
    if probe not in session:
        session.add(probe)
