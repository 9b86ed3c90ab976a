"""`collect`: bring every reply home, raw bytes first, then parse, match, classify and record.

Two passes keep a crash harmless. The first stores each message's raw bytes in the evidence
store and an InboundMessage row (status pending) in the same transaction that moves the IMAP
SyncState forward. The second turns pending rows into replies. Killed between the two, a rerun
simply finishes the second pass; killed inside the first, it re-fetches one batch, which the
(campaign, sha256) uniqueness recognises.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime

from sqlalchemy import func
from sqlalchemy.exc import OperationalError
from sqlmodel import Session, col, select

from .channels.base import load_channels
from .db import insert_ignore_count
from .errors import QualibenchError, RemoteFailure
from .events import log_event
from .evidence import record_evidence
from .mail.imap import (
    DATE_DISAGREEMENT,
    FolderReport,
    RawMail,
    stored_uid,
    sync_account,
    wait_for_any,
)
from .models import Evidence, InboundMessage, InboundStatus, SyncState
from .preparing import Stored
from .processing import process_inbound, process_pending
from .timing import close_windows
from .workspace import Workspace

__all__ = ["CollectReport", "collect", "ingest_raw", "process_inbound", "process_pending",
           "store_mail_batch", "watch"]

Progress = Callable[[str, int, int], None]


@dataclass
class CollectReport:
    """What one `collect` pass did: per folder, then what became of the new messages."""

    folders: list[FolderReport] = field(default_factory=list)
    api_items: int = 0
    new: int = 0
    processed: int = 0
    matched: int = 0
    unmatched: int = 0
    unparseable: int = 0
    needs_review: int = 0
    censored: int = 0  # probes whose window closed without an answer, now unanswered
    by_kind: dict[str, int] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)
    seconds: float = 0.0

    def as_dict(self) -> dict:
        return {
            "folders": [f.__dict__ for f in self.folders],
            "api_items": self.api_items, "new": self.new, "processed": self.processed,
            "matched": self.matched, "unmatched": self.unmatched, "unparseable": self.unparseable,
            "needs_review": self.needs_review, "censored": self.censored, "by_kind": self.by_kind,
            "warnings": self.warnings, "seconds": round(self.seconds, 3),
        }


def _disagrees(received_at: datetime | None, date_header: datetime | None) -> bool:
    return bool(received_at and date_header and abs(received_at - date_header) > DATE_DISAGREEMENT)


def ingest_raw(
    ws: Workspace,
    session: Session,
    campaign_id: int,
    raw: bytes,
    *,
    channel: str,
    source: str,
    source_ref: str,
    received_at: datetime | None,
    media_type: str = "message/rfc822",
    date_header: datetime | None = None,
) -> InboundMessage:
    """Return the InboundMessage of `raw`, storing the bytes first; the same bytes twice give one row."""
    digest = record_evidence(session, ws.evidence, raw, media_type, ws.clock)
    existing = session.exec(
        select(InboundMessage).where(
            InboundMessage.campaign_id == campaign_id, InboundMessage.sha256 == digest
        )
    ).first()
    if existing is not None:
        return existing
    row = InboundMessage(
        campaign_id=campaign_id, channel=channel, source=source, source_ref=source_ref,
        sha256=digest, size=len(raw), collected_at=ws.clock.now(), received_at=received_at,
        date_header=date_header, date_disagreement=_disagrees(received_at, date_header),
    )
    session.add(row)
    session.flush()
    return row


def _put_batch(ws: Workspace, raws: list[bytes]) -> list[str]:
    """Store a batch of raw messages in the evidence store (folder or database); return their
    SHA-256s. Nothing is indexed before this returns, so a crash leaves no dangling name."""
    return ws.evidence.put_many(raws)


def store_mail_batch(ws: Workspace, session: Session, campaign_id: int,
                     batch: list[RawMail], *, pending: dict[int, Stored | None] | None = None,
                     ) -> tuple[int, int]:
    """Store a batch of fetched mails (evidence, then rows); return (new, duplicates).

    The batch form of `ingest_raw`: one query for the hashes already known and one bulk
    insert, instead of a query and an ORM object per message. With `pending`, the batch's
    messages waiting to be processed are added to it (inbound id -> Stored, with the bytes
    at hand), oldest first, for the processing pipeline.
    """
    if not batch:
        return 0, 0
    # Large mails were streamed into the store as they were fetched (imap.fetch_pieces).
    put = iter(_put_batch(ws, [m.raw for m in batch if not m.sha256]))
    digests = [m.sha256 or next(put) for m in batch]
    unique = list(dict.fromkeys(digests))
    known_evidence = set(session.exec(select(Evidence.sha256).where(col(Evidence.sha256).in_(unique))))
    known_inbound = set(session.exec(select(InboundMessage.sha256).where(
        InboundMessage.campaign_id == campaign_id, col(InboundMessage.sha256).in_(unique))))
    now = ws.clock.now()
    evidence_rows: dict[str, dict] = {}
    inbound_rows: dict[str, dict] = {}
    for mail, digest in zip(batch, digests, strict=True):
        if digest not in known_evidence:
            evidence_rows.setdefault(digest, {"sha256": digest, "size": mail.length,
                                              "media_type": "message/rfc822", "stored_at": now})
        if digest not in known_inbound and digest not in inbound_rows:
            inbound_rows[digest] = {
                "campaign_id": campaign_id, "channel": "email", "source": mail.source,
                "source_ref": mail.source_ref, "sha256": digest, "size": mail.length,
                "collected_at": now, "received_at": mail.received_at,
                "date_header": mail.date_header,
                "date_disagreement": _disagrees(mail.received_at, mail.date_header),
                "status": InboundStatus.PENDING.value, "from_address": "", "to_addresses": "",
                "subject": "", "message_id": "", "note": "",
            }
    # A message another machine stored a moment ago is a no-op here, not an IntegrityError.
    insert_ignore_count(session, Evidence, list(evidence_rows.values()), keys=["sha256"],
                        name="evidence.store")
    new = insert_ignore_count(session, InboundMessage, list(inbound_rows.values()),
                              keys=["campaign_id", "sha256"], name="inbound.store")
    if pending is not None:
        raws = {d: m.raw for m, d in zip(batch, digests, strict=True) if not m.sha256}
        rows = session.exec(select(InboundMessage.id, InboundMessage.sha256, InboundMessage.size)
                            .where(InboundMessage.campaign_id == campaign_id,
                                   col(InboundMessage.sha256).in_(unique),
                                   InboundMessage.status == InboundStatus.PENDING.value)
                            .order_by(col(InboundMessage.received_at), col(InboundMessage.id))).all()
        pending.update((i, Stored(sha, size, raws.get(sha))) for i, sha, size in rows if i is not None)
    return new, len(batch) - new


def _api_collect(ws: Workspace, campaign_id: int, report: CollectReport) -> None:
    """Store the new items of every channel plugin that collects by API (X...)."""
    wanted = set(ws.spec().config.channels) - {"email"}
    if not wanted:
        return
    for name, cls in load_channels().items():
        if name not in wanted or name == "email":
            continue
        channel = None
        items: list = []
        try:
            channel = cls()
            items = list(channel.collect(ws) or [])
        except QualibenchError as exc:
            report.warnings.append(f"{name}: {exc.message}")
        except Exception as exc:  # a channel tripped on what a server sent: mail still goes on
            report.warnings.append(f"{name}: collect failed ({type(exc).__name__}: "
                                   f"{str(exc)[:300]}); the other channels went on")
        # What the channel left aside (a page it would not read...), one line each.
        report.warnings.extend(getattr(channel, "warnings", None) or [])
        if not items:
            continue
        with ws.session() as session:
            before = _inbound_count(session, campaign_id)
            for item in items:
                ingest_raw(ws, session, campaign_id, item.raw, channel=name, source=item.source,
                           source_ref=item.source_ref, received_at=item.received_at,
                           media_type=item.media_type)
            report.api_items += _inbound_count(session, campaign_id) - before


def _inbound_count(session: Session, campaign_id: int) -> int:
    return session.exec(select(func.count()).select_from(InboundMessage).where(
        InboundMessage.campaign_id == campaign_id)).one()


class CollectBusy(QualibenchError):
    """Another collect holds this campaign's lock."""


@contextlib.contextmanager
def collect_lock(ws: Workspace) -> Iterator[None]:
    """Hold the campaign's collect lock: two runs at once would race to record the same reply."""
    with ws.lock("collect", CollectBusy(
        "another `qualibench collect` is running on this campaign",
        "let it finish (or stop it); the next run picks up whatever it left",
    )):
        yield


@contextlib.contextmanager
def _database_failures() -> Iterator[None]:
    try:
        yield
    except OperationalError as exc:
        cause = str(exc.orig or exc).strip().splitlines()[0]
        raise QualibenchError(
            f"the database failed while collecting: {cause}",
            "if it is locked, close the program holding it; if the disk is full, free space; "
            "then rerun `qualibench collect`: mail already stored is kept and not fetched twice",
        ) from None


def collect(ws: Workspace, *, progress: Progress | None = None, api: bool = True) -> CollectReport:
    """Return the CollectReport of one pass over every IMAP account (and API channels)."""
    with collect_lock(ws), _database_failures(), _fewer_collections():
        return _collect(ws, progress=progress, api=api)


@contextlib.contextmanager
def _fewer_collections() -> Iterator[None]:
    """Run with the cyclic garbage collector mostly out of the way: a collect allocates
    millions of short-lived objects (rows, dicts, parsed headers) and the collector, run every
    700 allocations over every object the program holds, took about 7 % of the main process.
    What exists before the collect is frozen (never scanned), the threshold raised; both are
    put back after, and reference counting frees nearly everything anyway."""
    import gc

    before = gc.get_threshold()
    gc.freeze()
    gc.set_threshold(max(before[0], 20_000), *before[1:])
    try:
        yield
    finally:
        gc.set_threshold(*before)
        gc.unfreeze()


def _collect(ws: Workspace, *, progress: Progress | None, api: bool) -> CollectReport:
    from .mail import unchanged

    started = time.perf_counter()
    report = CollectReport()
    unchanged.forget(ws.root)  # what the last run ended on no longer holds from here
    campaign_id = ws.resolved_campaign_id()

    from .preparing import preparer
    from .processing import Pipeline

    matched_before = report.matched
    with preparer(ws) as prep:
        # Each batch is processed (in worker processes when there are enough) as soon as its
        # raw bytes are durable, while the next ones are fetched; its rows are written once,
        # in their final state, with the SyncState that passes them (fresh_mail).
        from .fresh_mail import FreshMail

        pipeline = Pipeline(ws, campaign_id, InboundStatus.PENDING, report, prep,
                            progress=progress)
        hand = FreshMail(ws, campaign_id, pipeline)

        def store(session: Session, batch: list[RawMail]) -> tuple[int, int]:
            return store_mail_batch(ws, session, campaign_id, batch)

        for account in ws.spec().config.accounts.values():
            if not account.imap_host:
                continue
            for folder in sync_account(ws, campaign_id, account, store, progress=progress,
                                       coming=prep.warm, hand=hand):
                report.folders.append(folder)
                report.new += folder.new
        pipeline.flush()
    if api:
        _api_collect(ws, campaign_id, report)
    # What is left: API items, and what an earlier run stored without processing.
    process_pending(ws, campaign_id, report, progress=progress, matched_before=matched_before)
    # Censor only now, once every reply that arrived in time has been recorded.
    report.censored = close_windows(ws)
    with ws.session() as session:
        if report.new or report.api_items or report.matched:
            log_event(session, campaign_id, "collect.done", "", {
                "new": report.new, "api_items": report.api_items, "matched": report.matched,
                "unmatched": report.unmatched, "unparseable": report.unparseable}, ws.clock)
    _remember(ws, campaign_id, report)
    report.seconds = time.perf_counter() - started
    return report


def _remember(ws: Workspace, campaign_id: int, report: CollectReport) -> None:
    """Leave what this run ended on for the next run's quick check (mail.unchanged), when
    that check can stand for a full run: IMAP accounts only, every folder read, nothing left
    pending, no warning."""
    from .mail import unchanged
    from .models import EventHead, Probe, ProbeState

    config = ws.spec().config
    if set(config.channels) - {"email"} or report.warnings or any(f.busy for f in report.folders):
        return
    with ws.session() as session:
        if session.exec(select(func.count()).select_from(InboundMessage).where(
                InboundMessage.campaign_id == campaign_id,
                InboundMessage.status == InboundStatus.PENDING.value)).one():
            return
        head = session.get(EventHead, campaign_id)
        window = session.exec(select(func.min(Probe.window_ends_at)).where(
            Probe.campaign_id == campaign_id, Probe.state == ProbeState.SENT.value,
            col(Probe.window_ends_at).is_not(None), col(Probe.first_answer_at).is_(None))).one()
        states = {(r.account, r.folder): r for r in session.exec(
            select(SyncState).where(SyncState.campaign_id == campaign_id))}
    if head is None:
        return
    accounts = []
    for account in config.accounts.values():
        if not account.imap_host:
            continue
        folders = []
        for f in report.folders:
            row = states.get((f.account, f.folder))
            if f.account != account.name:
                continue
            if row is None:
                return
            folders.append([f.folder, stored_uid(row.uidvalidity), stored_uid(row.last_uid)])
        accounts.append({"name": account.name, "host": account.imap_host, "port": account.imap_port,
                         "security": account.imap_security, "username": account.username,
                         "password_env": account.password_env, "configured": list(account.folders),
                         "folders": folders})
    if window is not None and window.tzinfo is None:
        window = window.replace(tzinfo=UTC)
    unchanged.record(ws.root, db_url=ws.db_url, campaign_option=ws.campaign_id,
                     campaign_id=campaign_id, head=head.seq, window_ends_at=window,
                     accounts=accounts)


# Longest wait between two attempts when the server keeps failing (a watch runs for days).
MAX_BACKOFF_SECONDS = 15 * 60


def retry_delay(failures: int, poll_seconds: float) -> float:
    """Return how long to wait after `failures` failed passes in a row: doubling, capped."""
    return min(poll_seconds * 2 ** max(failures - 1, 0), max(poll_seconds, MAX_BACKOFF_SECONDS))


def watch(ws: Workspace, *, on_report: Callable[[CollectReport], None] | None = None,
          stop: Callable[[], bool] = lambda: False, poll_seconds: float = 60.0,
          idle_timeout: float = 25 * 60) -> int:
    """Collect, then wait for new mail (IDLE on every folder collected, else polling); return passes run.

    A pass that fails (server down, password refused, campaign busy) is reported with its
    cause in the report's warnings and retried after a delay that doubles at each failure.
    """
    accounts = [a for a in ws.spec().config.accounts.values() if a.imap_host]
    passes = 0
    failures = 0
    while not stop():
        try:
            result = collect(ws)
            failures = 0
        except (RemoteFailure, CollectBusy) as exc:
            failures += 1
            delay = retry_delay(failures, poll_seconds)
            # A server down for a while must not end a watch meant to run for days.
            fix = f" -- {exc.hint}" if exc.hint else ""
            result = CollectReport(warnings=[
                f"{exc.message}; attempt {failures} failed, retrying in {delay:.0f} s{fix}"])
        passes += 1
        if on_report:
            on_report(result)
        if stop():
            break
        try:
            if accounts and not failures:
                wait_for_any(_watched_folders(ws, accounts), timeout=idle_timeout,
                             poll_seconds=poll_seconds, sleep=ws.clock.sleep)
            else:
                ws.clock.sleep(retry_delay(failures, poll_seconds) if failures else poll_seconds)
        except RemoteFailure:
            ws.clock.sleep(poll_seconds)
    return passes


def _watched_folders(ws: Workspace, accounts: list) -> list:
    """Return (account, folder, last UID collected) for every folder collect scans.

    The folders are those a pass synced (INBOX, Junk/Spam and the configured ones, see
    imap.folders_to_scan); before any pass, each account's INBOX.
    """
    with ws.session() as session:
        campaign_id = ws.resolved_campaign_id(session)
        rows = session.exec(select(SyncState).where(SyncState.campaign_id == campaign_id)).all()
    synced: dict[str, list[tuple[str, int]]] = {}
    for row in rows:
        synced.setdefault(row.account, []).append((row.folder, stored_uid(row.last_uid)))
    targets = []
    for account in accounts:
        folders = synced.get(account.name) or [("INBOX", None)]
        targets.extend((account, folder, last_uid) for folder, last_uid in sorted(folders))
    return targets


def unmatched_count(session: Session, campaign_id: int) -> int:
    """Return how many messages wait in the inbox."""
    return session.exec(select(func.count()).select_from(InboundMessage).where(
        InboundMessage.campaign_id == campaign_id,
        InboundMessage.status == InboundStatus.UNMATCHED.value)).one()
