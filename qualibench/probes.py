"""The probe state machine and the recording of replies against it."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlmodel import Session

from .clock import Clock, ensure_utc
from .errors import StateError
from .events import log_event
from .models import (
    PROBE_TRANSITIONS,
    InboundMessage,
    InboundStatus,
    Probe,
    ProbeState,
    Reply,
    ReplyKind,
)


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
) -> Reply:
    """Record `inbound` as a reply to `probe` and update the probe's clock and state.

    An acknowledgement or out-of-office never stops the clock (first_ack_at only); an answer
    or a redirect sets first_answer_at and makes the probe answered; a bounce makes it
    undeliverable.
    """
    kind = ReplyKind(kind)
    received_at = ensure_utc(received_at)
    reply = Reply(
        campaign_id=probe.campaign_id,
        inbound_id=inbound.id,  # type: ignore[arg-type]
        probe_id=probe.id,  # type: ignore[arg-type]
        kind=kind.value,
        match_method=str(method),
        match_confidence=confidence,
        needs_review=needs_review,
        received_at=received_at,
        language=language,
        text=text,
        signature=signature,
        redirect_to=redirect_to,
        ticket_ref=ticket_ref,
    )
    session.add(reply)
    inbound.status = InboundStatus.MATCHED.value
    session.add(inbound)
    if ticket_ref and not probe.ticket_ref:
        probe.ticket_ref = ticket_ref

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
    session.add(probe)
    session.flush()
    log_event(
        session,
        probe.campaign_id,
        "reply.recorded",
        f"reply:{reply.id}",
        {"probe": probe.id, "inbound": inbound.id, "kind": kind.value, "method": str(method),
         "confidence": confidence, "received_at": received_at.isoformat()},
        clock,
    )
    return reply
