"""Sending due probes through their channel plugins, exactly once, through a crash-safe outbox.

The protocol, per probe: claim it (`planned` -> `dispatching`, with who and when) and COMMIT;
hand it to its channel; record the outcome and COMMIT. A run killed in between leaves the probe
in `dispatching`; the next run asks the channel what became of it (`reconcile`) before anything
is sent, so nothing goes out twice. A channel without `reconcile` cannot tell, and its
interrupted probes are marked failed for an analyst to look at rather than risking a duplicate.
The commits are shared by a batch of probes (send_batch.py): one transaction claims the next
batch and records the outcomes of the last, and the evidence files of a batch are synced once,
before that transaction commits (evidence_group.py).

A team on one PostgreSQL sends from several machines at once. The claim locks the probe row
(`SELECT ... FOR UPDATE SKIP LOCKED` and a state check), so exactly one sender wins it. Each run
holds a PostgreSQL advisory lock named after its claim signature for as long as it lives; a
`dispatching` probe whose signer's lock is free belongs to a dead sender (killed, crashed, its
machine gone) and is reconciled through the Sent copy by whichever machine runs next, while a
live sender's claims are left alone. On SQLite the folder's file lock keeps one sender.
"""

from __future__ import annotations

import contextlib
import os
import random
import secrets
import socket
import warnings
from collections import defaultdict, deque
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlmodel import Session, col, select

from .campaign.spec import ASSISTED_CHANNELS
from .channels.base import DispatchResult, load_channels
from .clock import VirtualClock
from .db import advisory_lock, is_postgres, lock_is_free, lock_key
from .errors import QualibenchError
from .events import log_event
from .evidence_group import grouped_evidence
from .models import Brand, Persona, Probe, ProbeState
from .pacing import Throttle, in_send_slot, retry_delay
from .probes import transition
from .reminders import send_reminders, send_reminders_with
from .send_batch import BATCH, Outcomes, batchable, claim, in_transaction, requeue
from .workspace import Workspace

__all__ = ["SendReport", "send_due_probes", "send_reminders"]

Progress = Callable[[int, int, str], None]  # (done, total, what just happened)

MAX_TEMPORARY_FAILURES = 5


@dataclass
class SendReport:
    """What one `send` run did, counted by outcome (reminders counted apart)."""

    sent: int = 0
    undeliverable: int = 0
    failed: int = 0
    assisted: int = 0
    deferred: int = 0  # temporary failure: back in the queue with a later retry time
    reconciled_sent: int = 0  # found delivered after an interruption
    reconciled_requeued: int = 0  # found never delivered after an interruption: sent again
    reconciled_failed: int = 0  # fate unknown (channel cannot tell): marked failed
    outcome_unknown: int = 0  # the server's answer was lost: left to the next run's reconcile
    waiting_for_slot: int = 0  # due but outside the brand's send slots now
    no_plugin: int = 0
    would_send: int = 0  # dry run
    reminders_sent: int = 0
    reminders_failed: int = 0
    throttled_seconds: float = 0.0
    channel_errors: dict[str, str] = field(default_factory=dict)  # channel -> why it stopped
    items: list[dict[str, Any]] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


@contextlib.contextmanager
def send_lock(ws: Workspace) -> Iterator[None]:
    """Hold the campaign's send lock: two concurrent runs could otherwise both send a probe."""
    with ws.lock("send", QualibenchError(
        "another `qualibench send` is running on this campaign",
        "wait for it to finish (or stop it); a rerun then resumes safely",
    )):
        yield


class Sender:
    """One send run's claim signature ("host:pid:token"), alive while its lock is held."""

    def __init__(self, ws: Workspace) -> None:
        self.ws = ws
        self.owner = f"{socket.gethostname()}:{os.getpid()}:{secrets.token_hex(4)}"
        self.team = is_postgres(ws.engine)

    @contextlib.contextmanager
    def alive(self) -> Iterator[None]:
        """Hold this run's liveness lock (PostgreSQL) for the duration of the run."""
        with advisory_lock(self.ws.engine, lock_key("sender", self.owner)) as got:
            if not got:  # 64-bit collision of two random signatures: practically never
                raise QualibenchError("could not take this sender's liveness lock",
                                      "rerun `qualibench send`")
            yield

    def is_gone(self, owner: str | None) -> bool:
        """Return True when the run that signed a claim no longer lives (safe to reconcile)."""
        if owner == self.owner:
            return False
        if not self.team or not owner:
            return True  # SQLite: the file lock says no other sender runs on this campaign
        return lock_is_free(self.ws.engine, lock_key("sender", owner))


def _domain_of(channel: str, brand: Brand) -> str:
    contact = str(brand.contacts.get(channel, ""))
    if channel == "email" and "@" in contact:
        return contact.rpartition("@")[2].lower()
    return f"{channel}:{brand.key}"


class _Channels:
    """Channel plugin instances, created on first use and closed at the end of the run."""

    def __init__(self, insecure: bool) -> None:
        self.classes = load_channels()
        self.insecure = insecure
        self.instances: dict[str, Any] = {}
        self.sender: Sender | None = None  # the run's claim signature

    def get(self, name: str) -> Any | None:
        if name not in self.instances:
            # Facebook, phone, chat...: one plugin ("assisted") serves every assisted channel.
            cls = self.classes.get(name) or (
                self.classes.get("assisted") if name in ASSISTED_CHANNELS else None)
            if cls is None:
                return None
            try:
                inst = cls()
            except Exception as exc:  # a third-party plugin may fail in any way
                warnings.warn(f"channel plugin {name!r} could not start: {exc}; its probes wait",
                              stacklevel=2)
                self.classes.pop(name, None)
                return None
            if hasattr(inst, "insecure"):
                inst.insecure = self.insecure
            self.instances[name] = inst
        return self.instances[name]

    def close(self) -> None:
        for inst in self.instances.values():
            close = getattr(inst, "close", None)
            if callable(close):
                close()


def _apply_outcome(session: Session, ws: Workspace, probe: Probe, result: DispatchResult,
                   report: SendReport) -> str:
    """Record `result` on `probe` (in `session`) and return the state it ends in."""
    now = ws.clock.now()
    dispatch = dict(probe.dispatch or {})
    dispatch.update(result.evidence)
    dispatch["outcome"] = result.outcome
    dispatch["detail"] = result.detail
    if result.evidence_sha256:
        dispatch["evidence_sha256"] = result.evidence_sha256
    payload = {"detail": result.detail[:500]}
    if result.outcome == "sent":
        probe.sent_at = result.sent_at or now
        if result.external_id:
            probe.external_id = result.external_id
        dispatch.pop("retry_at", None)
        state = ProbeState.SENT
        payload["sent_at"] = probe.sent_at.isoformat()
        report.sent += 1
    elif result.outcome == "retry":
        fails = int(dispatch.get("temporary_failures", 0)) + 1
        dispatch["temporary_failures"] = fails
        if fails >= MAX_TEMPORARY_FAILURES:
            state = ProbeState.FAILED
            report.failed += 1
        else:
            wait = result.retry_after if result.retry_after is not None else retry_delay(fails)
            dispatch["retry_at"] = (now + timedelta(seconds=wait)).isoformat()
            state = ProbeState.PLANNED
            report.deferred += 1
    elif result.outcome == "undeliverable":
        state = ProbeState.UNDELIVERABLE
        report.undeliverable += 1
    elif result.outcome == "assisted":
        state = ProbeState.ASSISTED
        report.assisted += 1
    elif result.outcome == "unknown":
        # The request may or may not have been acted on (an unreadable answer to a POST):
        # sending again could post twice, so the probe stays `dispatching` and the next run
        # asks the channel what became of it (reconcile), as after a kill.
        # A channel that will keep saying the same (an e-mail whose Sent copy is unread) logs
        # it once, not on every run; the report counts it every run until an analyst acts.
        again = (probe.dispatch or {}).get("outcome_unknown") == result.detail[:500]
        probe.dispatch = {**dispatch, "outcome_unknown": result.detail[:500]}
        session.add(probe)
        if not again:
            log_event(session, probe.campaign_id, "probe.outcome_unknown", f"probe:{probe.id}",
                      payload, ws.clock)
        report.outcome_unknown += 1
        report.items.append({"probe": probe.key, "outcome": "outcome_unknown",
                             "detail": result.detail})
        return "outcome unknown"
    else:
        state = ProbeState.FAILED
        report.failed += 1
    probe.dispatch = dispatch
    transition(session, probe, state, clock=ws.clock, reason=result.detail[:1000],
               payload=payload)
    report.items.append({"probe": probe.key, "outcome": state.value, "detail": result.detail})
    return state.value


def reconcile_interrupted(ws: Workspace, campaign_id: int, channels: _Channels,
                          channel: str | None, report: SendReport,
                          sender: Sender | None = None) -> None:
    """Settle every probe left in `dispatching` by a dead run (this machine's or another's),
    before anything is sent; the claims of senders still running are left to them."""
    sender = sender or Sender(ws)
    with ws.session() as s:
        q = select(Probe).where(Probe.campaign_id == campaign_id,
                                Probe.state == ProbeState.DISPATCHING.value)
        if channel:
            q = q.where(Probe.channel == channel)
        stuck = list(s.exec(q))
    alive: dict[str | None, bool] = {}
    for probe in stuck:
        if probe.claimed_by not in alive:
            alive[probe.claimed_by] = not sender.is_gone(probe.claimed_by)
        if alive[probe.claimed_by]:
            continue  # a live sender is on it: it records the outcome itself
        plugin = channels.get(probe.channel)
        reconcile = getattr(plugin, "reconcile", None)
        result = reconcile(ws, probe) if callable(reconcile) else None
        with ws.session() as s:
            # Locked and re-checked: two machines settling the same dead claim settle it once.
            row = s.exec(select(Probe).where(Probe.id == probe.id).with_for_update()).first()
            assert row is not None
            if row.state != ProbeState.DISPATCHING.value or row.claimed_by != probe.claimed_by:
                continue
            if result is None:
                result = DispatchResult("failed", detail="interrupted while being sent; the "
                                        "channel cannot tell whether it went out (check by hand,"
                                        " then requeue it)")
                _apply_outcome(s, ws, row, result, report)
                report.reconciled_failed += 1
            elif result.outcome == "retry":
                # Never delivered: back to the queue, due at once, without counting a failure.
                row.dispatch = {**(row.dispatch or {}), "reconciled": result.detail}
                transition(s, row, ProbeState.PLANNED, clock=ws.clock,
                           reason="reconciled: " + result.detail)
                report.reconciled_requeued += 1
            else:
                before = report.sent
                _apply_outcome(s, ws, row, result, report)
                if result.outcome == "sent":
                    report.sent = before
                    report.reconciled_sent += 1


def _due_probes(session: Session, campaign_id: int, now: datetime,
                channel: str | None) -> list[Probe]:
    q = select(Probe).where(Probe.campaign_id == campaign_id,
                            Probe.state == ProbeState.PLANNED.value,
                            Probe.planned_at <= now)  # type: ignore[operator]
    if channel:
        q = q.where(Probe.channel == channel)
    due = []
    for p in session.exec(q.order_by(Probe.planned_at, Probe.id)):  # type: ignore[arg-type]
        retry_at = (p.dispatch or {}).get("retry_at")
        if retry_at and datetime.fromisoformat(retry_at) > now:
            continue
        due.append(p)
    return due


def send_due_probes(
    ws: Workspace,
    *,
    channel: str | None = None,
    limit: int | None = None,
    dry_run: bool = False,
    insecure: bool = False,
    progress: Progress | None = None,
    reminders: bool = True,
) -> SendReport:
    """Send every due probe once and return what happened.

    Due: planned, planned_at passed, retry time passed, and now inside the brand's send slots
    (brand timezone). Throttled per brand domain and per account with `ws.clock.sleep`.
    When the campaign's [reminder] policy is on, due reminders follow (counted apart).
    """
    cfg = ws.spec().config
    report = SendReport()
    sender = Sender(ws)
    with send_lock(ws), sender.alive(), grouped_evidence(ws):
        campaign_id = ws.resolved_campaign_id()
        channels = _Channels(insecure)
        channels.sender = sender
        try:
            if not dry_run:
                reconcile_interrupted(ws, campaign_id, channels, channel, report, sender)
            logged = [False]

            def summary(s: Session) -> None:
                # In the transaction of the run's last outcomes: one commit fewer a run.
                if not dry_run and report.items:
                    _log_summary(s, ws, campaign_id, report)
                    logged[0] = True

            try:
                _send_queue(ws, campaign_id, channels, cfg, channel, limit, dry_run, progress,
                            report, summary)
            finally:
                if not dry_run and report.items and not logged[0]:
                    log_run(ws, campaign_id, report)
            if reminders and cfg.reminder.enabled and channel in (None, "email"):
                send_reminders_with(ws, campaign_id, channels, dry_run=dry_run, report=report)
        finally:
            channels.close()
    return report


def _send_queue(ws: Workspace, campaign_id: int, channels: _Channels, cfg: Any,
                channel: str | None, limit: int | None, dry_run: bool,
                progress: Progress | None, report: SendReport,
                summary: Callable[[Session], None] | None = None) -> None:
    now = ws.clock.now()
    throttle = Throttle(cfg.throttle.per_domain_seconds, cfg.throttle.per_account_per_hour)
    with ws.session() as s:
        recent = s.exec(select(Probe.brand_id, Probe.persona_id, Probe.channel, Probe.sent_at)
                        .where(Probe.campaign_id == campaign_id,
                               Probe.sent_at >= now - timedelta(hours=1))).all()  # type: ignore[operator]
        due = _due_probes(s, campaign_id, now, channel)
        # Only the brands and personas this run deals with: a cron'd run sends a few probes
        # of a campaign of hundreds of brands.
        brand_ids = {r[0] for r in recent} | {p.brand_id for p in due}
        persona_ids = {r[1] for r in recent} | {p.persona_id for p in due}
        brands = {b.id: b for b in s.exec(select(Brand).where(col(Brand.id).in_(brand_ids)))}
        personas = {p.id: p for p in s.exec(select(Persona).where(
            col(Persona.id).in_(persona_ids)))}
        for brand_id, persona_id, probe_channel, sent_at in recent:
            throttle.seed(_domain_of(probe_channel, brands[brand_id]),
                          personas[persona_id].account, sent_at)

    queues: dict[str, deque[Probe]] = defaultdict(deque)  # per brand domain, oldest first
    for probe in due:
        brand = brands[probe.brand_id]
        if channels.get(probe.channel) is None:
            report.no_plugin += 1
            report.items.append({"probe": probe.key, "outcome": "no_plugin",
                                 "detail": f"no channel plugin named {probe.channel!r}"})
            continue
        if not in_send_slot(now, brand.timezone, cfg.send_slots):
            report.waiting_for_slot += 1
            continue
        queues[_domain_of(probe.channel, brand)].append(probe)

    total = sum(len(q) for q in queues.values())
    if limit is not None:
        total = min(total, limit)
    outcomes = Outcomes(ws, report, _apply_outcome)
    try:
        _drain(ws, channels, cfg, queues, throttle, brands, personas, total, dry_run, progress,
               report, outcomes)
    finally:
        if outcomes.pending or (summary is not None and report.items and not dry_run):
            def last(s: Session) -> None:
                outcomes.write(s)
                if summary is not None:
                    summary(s)

            in_transaction(ws, last, report if outcomes.pending else None)
            outcomes.committed()


@dataclass
class _Run:
    """What the drain of one run works with (the queue, the throttle, the rows it needs)."""

    ws: Workspace
    channels: _Channels
    cfg: Any
    queues: dict[str, deque[Probe]]
    throttle: Throttle
    brands: dict
    personas: dict
    report: SendReport
    order: dict[str, float]

    def readiness(self, domain: str, now: datetime,
                  throttle: Throttle | None = None) -> tuple[datetime, float, datetime]:
        """When the head of `domain`'s queue may go out (ties: the run's order, then planned)."""
        head = self.queues[domain][0]
        account = self.personas[head.persona_id].account
        return ((throttle or self.throttle).ready_at(domain, account, now),
                self.order.get(domain, 0.0), head.planned_at or now)

    def pop(self, domain: str) -> Probe:
        probe = self.queues[domain].popleft()
        if not self.queues[domain]:
            del self.queues[domain]
        return probe

    def in_slot(self, probe: Probe, now: datetime) -> bool:
        return in_send_slot(now, self.brands[probe.brand_id].timezone, self.cfg.send_slots)

    def pick(self, first: str, now: datetime, room: int) -> list[tuple[str, Probe]]:
        """Return the probes to claim together: `first`'s head, then (for channels that can
        reconcile) every other head the throttle lets go out now, up to `room`."""
        probe = self.pop(first)
        if not self.in_slot(probe, now):
            self.report.waiting_for_slot += 1  # throttling pushed it past the slot's end
            return []
        picks = [(first, probe)]
        if not batchable(self.channels.get(probe.channel)):
            return picks
        plan = self.throttle.copy()
        plan.record(first, self.personas[probe.persona_id].account, now)
        while self.queues and len(picks) < min(BATCH, room):
            domain = min(self.queues, key=lambda d: self.readiness(d, now, plan))
            if self.readiness(domain, now, plan)[0] > now:
                break
            if not batchable(self.channels.get(self.queues[domain][0].channel)):
                break
            probe = self.pop(domain)
            if not self.in_slot(probe, now):
                self.report.waiting_for_slot += 1
                continue
            picks.append((domain, probe))
            plan.record(domain, self.personas[probe.persona_id].account, now)
        return picks

    def drop_channel(self, channel: str) -> None:
        for q in self.queues.values():
            for p in [p for p in q if p.channel == channel]:
                q.remove(p)
        for empty in [d for d, q in self.queues.items() if not q]:
            del self.queues[empty]


def _drain(ws: Workspace, channels: _Channels, cfg: Any, queues: dict[str, deque[Probe]],
           throttle: Throttle, brands: dict, personas: dict, total: int, dry_run: bool,
           progress: Progress | None, report: SendReport, outcomes: Outcomes) -> None:
    done = 0
    stopped: dict[str, QualibenchError] = {}
    # Several machines of a team read the same queue: each walks the domains in its own
    # order (drawn per run), so they rarely reach for the same probe at the same moment.
    spread = channels.sender is not None and channels.sender.team
    run = _Run(ws, channels, cfg, queues, throttle, brands, personas, report,
               {d: random.random() for d in queues} if spread else {})
    owner = channels.sender.owner if channels.sender else None
    real_time = not isinstance(ws.clock, VirtualClock)  # virtual pauses cost no time
    while queues and done < total:
        now = ws.clock.now()
        domain = min(queues, key=lambda d: run.readiness(d, now))
        ready = run.readiness(domain, now)[0]
        if dry_run:
            probe = run.pop(domain)
            report.would_send += 1
            report.items.append({"probe": probe.key, "outcome": "would_send",
                                 "detail": f"to {brands[probe.brand_id].contacts.get(probe.channel, '?')}"})
            done += 1
            if progress:
                progress(done, total, f"{probe.key}: would send")
            continue
        if ready > now:
            outcomes.flush()  # nothing waits while an outcome is unwritten
            wait = (ready - now).total_seconds()
            report.throttled_seconds += wait
            ws.clock.sleep(wait)
            now = ws.clock.now()
        picks = run.pick(domain, now, total - done)
        if not picks:
            continue

        ids = [p.id for _, p in picks]

        def claim_batch(s: Session, ids: list = ids) -> dict[int, Probe]:
            outcomes.write(s)  # the outcomes of the batch before, in the same commit
            return claim(s, ids, owner, ws.clock)

        claimed = in_transaction(ws, claim_batch, report if outcomes.pending else None)
        outcomes.committed()
        # Committed: from here a crash leaves the claimed probes in `dispatching`, settled by
        # the next run.
        for i, (domain, probe) in enumerate(picks):
            number = done + 1

            def then(state: str, key: str = probe.key, number: int = number,
                     of: int = total) -> None:
                if progress:
                    progress(number, of, f"{key}: {state}")

            row = claimed.get(probe.id)  # type: ignore[arg-type]
            persona = personas[probe.persona_id]
            if probe.channel in stopped:
                continue  # its channel stopped in this batch: put back in the queue, below
            if row is None:
                then("skipped")  # another sender holds or sent it, or an analyst moved it
                throttle.record(domain, persona.account, ws.clock.now())
                done += 1
                continue
            plugin = channels.get(probe.channel)
            if outcomes.pending and getattr(plugin, "pauses", False) and real_time:
                outcomes.flush()  # it will wait (a person typing a form): nothing waits unwritten
            try:
                result = plugin.send(ws, row, brands[probe.brand_id], persona)
            except QualibenchError as exc:
                # The channel contract: a QualibenchError means nothing went out (configuration,
                # server unreachable, Sent copy impossible). This channel's probes wait for the
                # next run (those claimed go back to the queue), the other channels go on, and
                # the error is raised at the end. Any other exception (Ctrl-C included) may
                # strike after the server accepted the message, so the probe stays
                # `dispatching` for reconciliation.
                stopped.setdefault(probe.channel, exc)
                back = [p.id for _, p in picks[i:] if p.channel == probe.channel
                        and p.id in claimed]
                why = f"send interrupted: {exc.message}"[:1000]

                def put_back(s: Session, back: list = back, why: str = why) -> None:
                    outcomes.write(s)
                    requeue(s, back, why, ws.clock)

                in_transaction(ws, put_back, report if outcomes.pending else None)
                outcomes.committed()
                run.drop_channel(probe.channel)
                left = sum(1 for _, p in picks[i + 1:] if p.channel not in stopped)
                total = min(total, done + left + sum(len(q) for q in queues.values()))
                continue
            outcomes.add(probe.id, result, then)  # type: ignore[arg-type]
            throttle.record(domain, persona.account, ws.clock.now())
            done += 1
    # The last outcomes are written by the caller, with the run's summary (_send_queue).
    if stopped:
        report.channel_errors = {name: exc.message for name, exc in stopped.items()}
        raise next(iter(stopped.values()))


def log_run(ws: Workspace, campaign_id: int, report: SendReport) -> None:
    """Append a summary event of the run to the campaign's log."""
    with ws.session() as s:
        _log_summary(s, ws, campaign_id, report)


def _log_summary(s: Session, ws: Workspace, campaign_id: int, report: SendReport) -> None:
    summary = {k: v for k, v in report.as_dict().items() if k != "items" and v}
    log_event(s, campaign_id, "send.run", "campaign", summary, ws.clock)

