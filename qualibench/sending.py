"""Sending due probes through their channel plugins, exactly once, through a crash-safe outbox.

The protocol, per probe: claim it (`planned` -> `dispatching`, with who and when) and COMMIT;
hand it to its channel; record the outcome and COMMIT. A run killed in between leaves the probe
in `dispatching`; the next run asks the channel what became of it (`reconcile`) before anything
is sent, so nothing goes out twice. A channel without `reconcile` cannot tell, and its
interrupted probes are marked failed for an analyst to look at rather than risking a duplicate.

A team on one PostgreSQL sends from several machines at once. The claim locks the probe row
(`SELECT ... FOR UPDATE SKIP LOCKED` and a state check), so exactly one sender wins it. Each run
holds a PostgreSQL advisory lock named after its claim signature for as long as it lives; a
`dispatching` probe whose signer's lock is free belongs to a dead sender (killed, crashed, its
machine gone) and is reconciled through the Sent copy by whichever machine runs next, while a
live sender's claims are left alone. On SQLite the folder's file lock keeps one sender.
"""

from __future__ import annotations

import contextlib
import copy
import os
import random
import secrets
import socket
import time
import warnings
from collections import defaultdict, deque
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field
from datetime import datetime, timedelta
from typing import Any, TypeVar

from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, select

from .campaign.spec import ASSISTED_CHANNELS
from .channels.base import DispatchResult, load_channels
from .db import advisory_lock, is_postgres, lock_is_free, lock_key, skip_locked
from .errors import QualibenchError
from .events import log_event
from .models import Brand, Persona, Probe, ProbeState
from .pacing import Throttle, in_send_slot, retry_delay
from .probes import transition
from .reminders import send_reminders, send_reminders_with
from .workspace import Workspace

__all__ = ["SendReport", "send_due_probes", "send_reminders"]

T = TypeVar("T")
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


def _domain_of(probe: Probe, brand: Brand) -> str:
    contact = str(brand.contacts.get(probe.channel, ""))
    if probe.channel == "email" and "@" in contact:
        return contact.rpartition("@")[2].lower()
    return f"{probe.channel}:{brand.key}"


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
    with send_lock(ws), sender.alive():
        with ws.session() as s:
            campaign_id = ws.campaign(s).id
        assert campaign_id is not None
        channels = _Channels(insecure)
        channels.sender = sender
        try:
            if not dry_run:
                reconcile_interrupted(ws, campaign_id, channels, channel, report, sender)
            try:
                _send_queue(ws, campaign_id, channels, cfg, channel, limit, dry_run, progress,
                            report)
            finally:
                if not dry_run and report.items:
                    log_run(ws, campaign_id, report)
            if reminders and cfg.reminder.enabled and channel in (None, "email"):
                send_reminders_with(ws, campaign_id, channels, dry_run=dry_run, report=report)
        finally:
            channels.close()
    return report


def _send_queue(ws: Workspace, campaign_id: int, channels: _Channels, cfg: Any,
                channel: str | None, limit: int | None, dry_run: bool,
                progress: Progress | None, report: SendReport) -> None:
    now = ws.clock.now()
    throttle = Throttle(cfg.throttle.per_domain_seconds, cfg.throttle.per_account_per_hour)
    with ws.session() as s:
        brands = {b.id: b for b in s.exec(select(Brand).where(Brand.campaign_id == campaign_id))}
        personas = {p.id: p for p in
                    s.exec(select(Persona).where(Persona.campaign_id == campaign_id))}
        for p in s.exec(select(Probe).where(Probe.campaign_id == campaign_id,
                                            Probe.sent_at >= now - timedelta(hours=1))):  # type: ignore[operator]
            assert p.sent_at is not None
            throttle.seed(_domain_of(p, brands[p.brand_id]), personas[p.persona_id].account,
                          p.sent_at)
        due = _due_probes(s, campaign_id, now, channel)

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
        queues[_domain_of(probe, brand)].append(probe)

    total = sum(len(q) for q in queues.values())
    if limit is not None:
        total = min(total, limit)
    held = _HeldOutcome(ws, report)
    try:
        _drain(ws, channels, cfg, queues, throttle, brands, personas, total, dry_run, progress,
               report, held)
    finally:
        held.flush()


def _drain(ws: Workspace, channels: _Channels, cfg: Any, queues: dict[str, deque[Probe]],
           throttle: Throttle, brands: dict, personas: dict, total: int, dry_run: bool,
           progress: Progress | None, report: SendReport, held: _HeldOutcome) -> None:
    done = 0
    stopped: dict[str, QualibenchError] = {}
    # Several machines of a team read the same queue: each walks the domains in its own
    # order (drawn per run), so they rarely reach for the same probe at the same moment.
    spread = channels.sender is not None and channels.sender.team
    order = {d: random.random() for d in queues} if spread else {}
    while queues and done < total:
        now = ws.clock.now()
        # The domain whose head may go out soonest (ties: the earliest planned).
        def readiness(domain: str, now: datetime = now) -> tuple[datetime, float, datetime]:
            head = queues[domain][0]
            account = personas[head.persona_id].account
            return (throttle.ready_at(domain, account, now), order.get(domain, 0.0),
                    head.planned_at or now)

        domain = min(queues, key=readiness)
        ready = readiness(domain)[0]
        probe = queues[domain].popleft()
        if not queues[domain]:
            del queues[domain]
        brand, persona = brands[probe.brand_id], personas[probe.persona_id]
        if dry_run:
            report.would_send += 1
            report.items.append({"probe": probe.key, "outcome": "would_send",
                                 "detail": f"to {brand.contacts.get(probe.channel, '?')}"})
            done += 1
            if progress:
                progress(done, total, f"{probe.key}: would send")
            continue
        if ready > now:
            held.flush()  # nothing waits while an outcome is unwritten
            wait = (ready - now).total_seconds()
            report.throttled_seconds += wait
            ws.clock.sleep(wait)
        if not in_send_slot(ws.clock.now(), brand.timezone, cfg.send_slots):
            report.waiting_for_slot += 1  # throttling pushed it past the slot's end
            continue
        def then(state: str, key: str = probe.key, number: int = done + 1,
                 of: int = total) -> None:
            if progress:
                progress(number, of, f"{key}: {state}")

        try:
            state = dispatch_one(ws, channels, probe, brand, persona, report, held, then)
            if state is not None:  # not sent (skipped): nothing held
                then(state)
        except QualibenchError as exc:
            # This channel cannot send now (configuration, server down): its probes wait for
            # the next run, the other channels go on, and the error is raised at the end.
            stopped.setdefault(probe.channel, exc)
            for q in queues.values():
                for p in [p for p in q if p.channel == probe.channel]:
                    q.remove(p)
            for empty in [d for d, q in queues.items() if not q]:
                del queues[empty]
            total = min(total, done + sum(len(q) for q in queues.values()))
            continue
        throttle.record(domain, persona.account, ws.clock.now())
        done += 1
    held.flush()
    if stopped:
        report.channel_errors = {name: exc.message for name, exc in stopped.items()}
        raise next(iter(stopped.values()))


class _HeldOutcome:
    """The outcome of the probe just sent, written in the same transaction as the next claim.

    Two commits a probe (claim, outcome) become one: the outcome of probe i and the claim of
    probe i+1 commit together, at the instant the claim alone used to. The outcome is written
    alone instead (`flush`) before anything that waits (a throttle pause) and when the queue
    ends, so no outcome waits longer than the loop's own bookkeeping; a kill in that gap leaves
    the probe `dispatching`, settled by reconciliation as before.
    """

    def __init__(self, ws: Workspace, report: SendReport) -> None:
        self.ws, self.report = ws, report
        self.held: tuple[int, DispatchResult, Callable[[str], None]] | None = None
        self._written: list[tuple[Callable[[str], None], str]] = []

    def hold(self, probe_id: int, result: DispatchResult, then: Callable[[str], None]) -> None:
        assert self.held is None, "an outcome was held twice"
        self.held = (probe_id, result, then)

    def write(self, s: Session) -> None:
        """Apply the held outcome in `s` (the caller commits)."""
        if self.held is None:
            return
        probe_id, result, then = self.held
        row = s.get(Probe, probe_id)
        assert row is not None
        self._written = [(then, _apply_outcome(s, self.ws, row, result, self.report))]

    def committed(self) -> None:
        """Forget the outcome the last transaction wrote and tell its caller its state."""
        written, self._written, self.held = self._written, [], None
        for then, state in written:
            then(state)

    def flush(self) -> None:
        if self.held is not None:
            in_transaction(self.ws, self.write, self.report)
            self.committed()


def in_transaction(ws: Workspace, fn: Callable[[Session], T],
                   report: SendReport | None = None, attempts: int = 5) -> T:
    """Return fn(session), committed; retried when a concurrent writer (a `collect` running
    beside us) took the same event sequence number, which fails our commit cleanly."""
    for attempt in range(1, attempts + 1):
        saved = copy.deepcopy(report.__dict__) if report is not None else None
        try:
            with ws.session() as s:
                return fn(s)
        except IntegrityError:
            if report is not None and saved is not None:
                report.__dict__.update(saved)
            if attempt == attempts:
                raise
            time.sleep(0.02 * attempt)  # a database race: real time, not campaign time
    raise AssertionError("unreachable")


def dispatch_one(ws: Workspace, channels: _Channels, probe: Probe, brand: Brand,
                 persona: Persona, report: SendReport, held: _HeldOutcome | None = None,
                 then: Callable[[str], None] | None = None) -> str | None:
    """Send one probe through the outbox protocol; return the state it ends in.

    With `held`, the previous probe's held outcome commits with this claim, and this probe's
    outcome is held in turn (None is returned; `then(state)` is called once it is written).
    """

    owner = channels.sender.owner if channels.sender else None

    def mark(s: Session) -> Probe | None:
        # The claim: only one transaction of the whole team gets the row, and only while it
        # is still planned (another machine may have claimed and sent it since our queue read).
        row = s.exec(skip_locked(select(Probe).where(
            Probe.id == probe.id, Probe.state == ProbeState.PLANNED.value))).first()
        if row is None:
            return None  # another sender holds or sent it, or an analyst moved it: leave it
        row.claimed_by, row.claimed_at = owner, ws.clock.now()
        return transition(s, row, ProbeState.DISPATCHING, clock=ws.clock,
                          payload={"claimed_by": owner} if owner else None)

    def claim(s: Session) -> Probe | None:
        if held is not None:
            held.write(s)  # the previous probe's outcome, in the same commit
        return mark(s)

    row = in_transaction(ws, claim, report if held is not None and held.held else None)
    if held is not None:
        held.committed()
    if row is None:
        return "skipped"
    # Committed: from here a crash leaves it in `dispatching`, settled by the next run.
    plugin = channels.get(probe.channel)
    try:
        result = plugin.send(ws, row, brand, persona)
    except QualibenchError as exc:
        # The channel contract: a QualibenchError means nothing went out (configuration,
        # server unreachable, Sent copy impossible). Requeue; the caller stops this channel.
        # Any other exception (Ctrl-C included) may strike after the server accepted the
        # message, so the probe stays `dispatching` for reconciliation.
        why = f"send interrupted: {exc.message}"[:1000]

        def requeue(s: Session) -> None:
            back = s.get(Probe, probe.id)
            assert back is not None
            transition(s, back, ProbeState.PLANNED, clock=ws.clock, reason=why)

        in_transaction(ws, requeue)
        raise

    if held is not None:
        held.hold(probe.id, result, then or (lambda state: None))
        return None

    def record(s: Session) -> str:
        done = s.get(Probe, probe.id)
        assert done is not None
        return _apply_outcome(s, ws, done, result, report)

    return in_transaction(ws, record, report)


def log_run(ws: Workspace, campaign_id: int, report: SendReport) -> None:
    """Append a summary event of the run to the campaign's log."""
    with ws.session() as s:
        summary = {k: v for k, v in report.as_dict().items() if k != "items" and v}
        log_event(s, campaign_id, "send.run", "campaign", summary, ws.clock)

