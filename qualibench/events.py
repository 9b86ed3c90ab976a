"""Append-only, hash-chained event log; `verify_chain` detects a rewritten or removed event."""

from __future__ import annotations

import contextlib
import hashlib
import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import func
from sqlmodel import Session, select

from .clock import Clock, SystemClock
from .models import Event

GENESIS = "0" * 64


def _digest(prev_hash: str, seq: int, at: datetime, kind: str, subject: str, payload: dict) -> str:
    body = json.dumps(
        {"prev": prev_hash, "seq": seq, "at": at.isoformat(), "kind": kind, "subject": subject,
         "payload": payload},
        sort_keys=True,
        ensure_ascii=False,
        default=str,
        separators=(",", ":"),
    )
    return hashlib.sha256(body.encode()).hexdigest()


def log_event(
    session: Session,
    campaign_id: int,
    kind: str,
    subject: str = "",
    payload: dict[str, Any] | None = None,
    clock: Clock | None = None,
) -> Event:
    """Append one event chained to the campaign's last one (in the caller's transaction).

    The (campaign_id, seq) unique constraint makes two concurrent writers collide instead of
    forking the chain; the loser's transaction fails and is retried by its caller.
    """
    payload = json.loads(json.dumps(payload or {}, default=str))
    tails = session.info.get(_TAILS)
    if tails is not None and campaign_id in tails:
        seq, prev = tails[campaign_id]
        seq += 1
    else:
        last = session.exec(
            select(Event).where(Event.campaign_id == campaign_id).order_by(Event.seq.desc()).limit(1)  # type: ignore[attr-defined]
        ).first()
        seq = (last.seq + 1) if last else 1
        prev = last.hash if last else GENESIS
    at = (clock or SystemClock()).now().replace(microsecond=0)
    ev = Event(
        campaign_id=campaign_id,
        seq=seq,
        at=at,
        kind=kind,
        subject=subject,
        payload=payload,
        prev_hash=prev,
        hash=_digest(prev, seq, at, kind, subject, payload),
    )
    session.add(ev)
    if tails is None:
        session.flush()
    else:
        tails[campaign_id] = (seq, ev.hash)
    return ev


_TAILS = "qualibench.events.tails"


@contextlib.contextmanager
def chain_in_memory(session: Session) -> Iterator[None]:
    """Within the block, log_event chains from the last event it wrote instead of querying it.

    For a batch written in one transaction (collect records hundreds of replies per
    commit): one SELECT of the chain's end per campaign, and the events inserted together at
    the next flush instead of one flush each. The block must own its transaction: an event
    written meanwhile by another process makes the commit fail on (campaign_id, seq), and the
    caller retries the batch.
    """
    session.info[_TAILS] = {}
    try:
        yield
    finally:
        session.info.pop(_TAILS, None)


@dataclass
class ChainProblem:
    seq: int
    message: str


def verify_chain(session: Session, campaign_id: int) -> list[ChainProblem]:
    """Recompute every event's hash; return the events that were rewritten, removed or moved."""
    problems: list[ChainProblem] = []
    prev = GENESIS
    expected_seq = 1
    rows = session.exec(
        select(Event).where(Event.campaign_id == campaign_id).order_by(Event.seq)  # type: ignore[arg-type]
    )
    for ev in rows:
        if ev.seq != expected_seq:
            problems.append(ChainProblem(ev.seq, f"event(s) {expected_seq}..{ev.seq - 1} are missing"))
        if ev.prev_hash != prev:
            problems.append(ChainProblem(ev.seq, f"event {ev.seq} ({ev.kind}) does not follow its predecessor"))
        assert ev.at is not None
        recomputed = _digest(ev.prev_hash, ev.seq, ev.at, ev.kind, ev.subject, ev.payload)
        if recomputed != ev.hash:
            problems.append(ChainProblem(ev.seq, f"event {ev.seq} ({ev.kind} {ev.subject}) was rewritten"))
        prev = ev.hash
        expected_seq = ev.seq + 1
    return problems


def event_count(session: Session, campaign_id: int) -> int:
    return session.exec(select(func.count()).select_from(Event).where(Event.campaign_id == campaign_id)).one()
