"""The outbox of a send run in few transactions: claims by batch, outcomes carried by the next.

The protocol stays the one sending.py describes (claim and COMMIT, send, record the outcome and
COMMIT), applied to a batch of probes at once: one transaction claims up to `BATCH` probes that
may go out now (`SELECT ... FOR UPDATE SKIP LOCKED` and a state check, so each is won by exactly
one sender of a team) and writes the outcomes of the batch sent before; then the batch is sent,
probe after probe, and its outcomes wait for the next claim (or a flush before any pause and at
the end of the queue). A kill leaves the batch's unsent and unrecorded probes in `dispatching`,
which the next run settles one by one through the channel's `reconcile`, as before. So only
channels that can reconcile (e-mail through the Sent copy, X through the account's posts, the
assisted queue where nothing goes out, web forms through their start mark) are claimed by
batch; a probe of any other channel is claimed alone, its outcome still carried by the next
claim, so a kill costs it at most itself.

A web form cannot be asked afterwards whether it took a submission, so it marks the start of
each probe's submission (`mark_started`, one small commit of its own just before the first
POST, outside the batch's transaction): after a kill, a probe of the batch without the mark of
its own claim was never submitted and is requeued; one with it may have been, and is marked
failed for an analyst, as a probe claimed alone always was. Each claim names itself in the
probe's dispatch record (`claim_token`), so a mark left by an earlier attempt counts for nothing.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

from sqlalchemy import update
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from .channels.base import DispatchResult
from .db import skip_locked
from .evidence_group import GroupedEvidence
from .models import Probe, ProbeState
from .probes import transition

T = TypeVar("T")
BATCH = 25  # probes claimed in one transaction (a kill leaves at most this many to reconcile)


def batchable(plugin: Any) -> bool:
    """Return True when the channel can tell, after a kill, whether a claimed probe went out."""
    return callable(getattr(plugin, "reconcile", None))


def _snapshot(report: Any) -> dict[str, Any]:
    # The counters and the length of the items list: what a failed attempt may have changed.
    # (A deep copy of the whole report cost O(probes) per transaction.)
    return {k: (len(v) if isinstance(v, list) else dict(v) if isinstance(v, dict) else v)
            for k, v in report.__dict__.items()}


def _restore(report: Any, saved: dict[str, Any]) -> None:
    for key, value in saved.items():
        current = getattr(report, key)
        if isinstance(current, list):
            del current[value:]
        else:
            setattr(report, key, value)


def in_transaction(ws: Any, fn: Callable[[Session], T], report: Any = None,
                   attempts: int = 5) -> T:
    """Return fn(session), committed; retried when a concurrent writer (a `collect` running
    beside us) took the same event sequence number, which fails our commit cleanly."""
    for attempt in range(1, attempts + 1):
        saved = _snapshot(report) if report is not None else None
        try:
            with ws.session() as s:
                return fn(s)
        except IntegrityError:
            if report is not None and saved is not None:
                _restore(report, saved)
            if attempt == attempts:
                raise
            time.sleep(0.02 * attempt)  # a database race: real time, not campaign time
    raise AssertionError("unreachable")


@dataclass
class _Pending:
    probe_id: int
    result: DispatchResult
    then: Callable[[str], None]


class Outcomes:
    """Outcomes of probes sent, written in the transaction of the next claim (or `flush`)."""

    def __init__(self, ws: Any, report: Any,
                 apply: Callable[[Session, Any, Probe, DispatchResult, Any], str]) -> None:
        self.ws, self.report, self.apply = ws, report, apply
        self.pending: list[_Pending] = []
        self._written: list[tuple[Callable[[str], None], str]] = []

    def add(self, probe_id: int, result: DispatchResult, then: Callable[[str], None]) -> None:
        self.pending.append(_Pending(probe_id, result, then))

    def write(self, s: Session) -> None:
        """Apply the pending outcomes in `s` (the caller commits)."""
        self._written = []
        if isinstance(self.ws.evidence, GroupedEvidence):
            self.ws.evidence.write_index(s, self.ws.clock)  # the evidence the sends stored
        if not self.pending:
            return
        ids = [p.probe_id for p in self.pending]
        rows = {r.id: r for r in s.exec(select(Probe).where(col(Probe.id).in_(ids)))}
        for p in self.pending:
            state = self.apply(s, self.ws, rows[p.probe_id], p.result, self.report)
            self._written.append((p.then, state))

    def committed(self) -> None:
        """Forget the outcomes the last transaction wrote and tell their callers."""
        written, self._written, self.pending = self._written, [], []
        for then, state in written:
            then(state)

    def flush(self) -> None:
        if self.pending:
            in_transaction(self.ws, self.write, self.report)
            self.committed()


def claim(s: Session, ids: list[int], owner: str | None, clock: Any) -> dict[int, Probe]:
    """Claim the probes of `ids` still planned (`planned` -> `dispatching`) in `s`; return them.

    Only one transaction of the whole team gets a row, and only while it is still planned
    (another machine may have claimed and sent it since our queue read; an analyst may have
    moved it): those are left out.
    """
    rows = s.exec(skip_locked(select(Probe).where(
        col(Probe.id).in_(ids), Probe.state == ProbeState.PLANNED.value))).all()
    now = clock.now()
    for row in rows:
        row.claimed_by, row.claimed_at = owner, now
        transition(s, row, ProbeState.DISPATCHING, clock=clock,
                   payload={"claimed_by": owner} if owner else None)
        row.dispatch = {**(row.dispatch or {}), "claim": claim_token(row)}
    return {row.id: row for row in rows if row.id is not None}


def claim_token(probe: Probe) -> str:
    """Name one claim of a probe: who claimed it, and which attempt it is."""
    return f"{probe.claimed_by or ''}#{probe.attempts}"


def mark_started(ws: Any, probe: Probe) -> None:
    """Commit, before anything irreversible goes out, that this claim's send begins.

    A Core statement on a connection of its own: it carries no event and no evidence, so it
    does not flush the batch's pending files, and costs one small commit per probe.
    """
    if probe.id is None or probe.state != ProbeState.DISPATCHING.value:
        return  # not claimed by a send run (a direct call): nothing to reconcile later
    probe.dispatch = {**(probe.dispatch or {}), "started": claim_token(probe)}
    with ws.engine.begin() as conn:
        conn.execute(update(Probe).where(col(Probe.id) == probe.id)
                     .values(dispatch=probe.dispatch))


def never_started(probe: Probe) -> bool:
    """Return True when the probe's current claim (made by this version) has no start mark."""
    dispatch = probe.dispatch or {}
    token = claim_token(probe)
    return dispatch.get("claim") == token and dispatch.get("started") != token


def requeue(s: Session, ids: list[int], why: str, clock: Any) -> None:
    """Put claimed probes back to `planned` (their channel stopped before sending them)."""
    for row in s.exec(select(Probe).where(col(Probe.id).in_(ids))):
        if row.state == ProbeState.DISPATCHING.value:
            transition(s, row, ProbeState.PLANNED, clock=clock, reason=why)
