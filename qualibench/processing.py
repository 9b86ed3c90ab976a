"""The second pass of `collect`: stored messages become replies, a batch at a time.

A batch is one transaction: its messages are loaded with one query, parsed (in worker
processes when the batch is big enough to pay for them), matched against the campaign's
correlation keys held in memory (matching.ProbeIndex), classified once and recorded, then
committed together. Killed mid-batch, nothing of that batch is kept and a rerun redoes it
from the raw bytes, which were made durable by the first pass.

One message must never block the others: what its parser raises sets it aside as
unparseable (raw kept); a value the database refuses rolls the batch back and replays it
one message at a time, so only the guilty one is set aside.
"""

from __future__ import annotations

import contextlib
import mmap
import multiprocessing
import os
from collections.abc import Callable, Iterator
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from sqlalchemy import insert, update
from sqlalchemy.exc import DataError, IntegrityError, SQLAlchemyError
from sqlmodel import Session, col, select

from .db import skip_locked
from .errors import QualibenchError
from .events import chain_in_memory
from .mail.bounds import MAX_PARSE_BYTES, storable
from .models import InboundMessage, InboundStatus, Probe, Reply
from .probes import LOCKED_PROBES
from .workspace import Workspace

if TYPE_CHECKING:
    from .collecting import CollectReport
    from .mail.parse import ParsedMessage
    from .matching import ProbeIndex

Progress = Callable[[str, int, int], None]
# Messages per transaction: large enough that commits and queries are amortised, small
# enough that a crash redoes little and memory stays flat (a batch holds its parsed texts).
BATCH_SIZE = 250


@contextlib.contextmanager
def _raw_for_parsing(ws: Workspace, inbound: InboundMessage) -> Iterator[bytes | mmap.mmap]:
    """Give the raw bytes of `inbound`, mapped rather than read when large (the parser reads
    only a bounded part of them, bounds.MAX_PARSE_BYTES)."""
    if inbound.size <= MAX_PARSE_BYTES or ws.evidence.kind != "folder":
        yield ws.evidence.get(inbound.sha256)  # (the database store gives bytes)
        return
    path = ws.evidence.path_for(inbound.sha256)
    try:
        fh = path.open("rb")
    except FileNotFoundError:
        ws.evidence.get(inbound.sha256)  # raises the one-line "missing evidence" error
        raise
    with fh, mmap.mmap(fh.fileno(), 0, access=mmap.ACCESS_READ) as mapped:
        yield mapped


def parse_inbound(ws: Workspace, inbound: InboundMessage,
                  raw: bytes | None = None) -> ParsedMessage | Exception:
    """Return the ParsedMessage of a stored e-mail (its bytes read from the store unless given
    in `raw`), or the exception its parsing raised."""
    from .mail.parse import parse_message

    try:
        if raw is not None:
            return parse_message(raw)
        with _raw_for_parsing(ws, inbound) as stored:
            return parse_message(stored)
    except QualibenchError as exc:
        if type(exc).__name__ == "UnparseableMessage":
            return exc
        raise  # missing evidence: not the message's fault
    except Exception as exc:  # a parser bug on one odd message must not block the others
        return exc


def process_inbound(ws: Workspace, session: Session, inbound: InboundMessage,
                    index: ProbeIndex | None = None,
                    parsed: ParsedMessage | Exception | None = None) -> Reply | None:
    """Parse, match and classify one stored message; return its Reply, or None if left aside.

    Unreadable bytes give status unparseable (raw kept); no key found gives unmatched.
    """
    from .mail.classify import classify, extract_ticket_ref
    from .mail.quotes import for_scoring
    from .matching import ProbeIndex
    from .probes import record_reply

    if inbound.channel == "x":  # API JSON, not e-mail: matched by conversation / DM thread
        from .social import process_api_inbound

        return process_api_inbound(ws, session, inbound)
    msg = parse_inbound(ws, inbound) if parsed is None else parsed
    if isinstance(msg, Exception):
        if type(msg).__name__ != "UnparseableMessage":
            raise msg
        inbound.status = InboundStatus.UNPARSEABLE.value
        inbound.parse_error = storable(msg.message)  # type: ignore[attr-defined]
        session.add(inbound)
        return None
    if msg.notes:  # what the size bounds cut: the analyst sees it beside the message
        inbound.parse_error = "; ".join(msg.notes)
    inbound.from_address = msg.from_address[:500]
    inbound.to_addresses = ", ".join([*msg.to, *msg.cc])[:2000]
    inbound.subject = msg.subject[:1000]
    inbound.message_id = msg.message_id[:500]
    if inbound.date_header is None and msg.date is not None:
        from .collecting import _disagrees

        inbound.date_header = msg.date
        inbound.date_disagreement = _disagrees(inbound.received_at, msg.date)
    received_at = inbound.received_at or msg.date or inbound.collected_at or ws.clock.now()

    index = index or ProbeIndex.load(session, inbound.campaign_id)
    found = index.match(msg, received_at,
                        ticket_ref=lambda: extract_ticket_ref(msg.subject, msg.text) or "",
                        returned_message_id=getattr(msg, "returned_message_id", ""))
    if found is None:
        inbound.status = InboundStatus.UNMATCHED.value
        session.add(inbound)
        return None
    probe_id, method, confidence, needs_review = found
    probe = session.get(Probe, probe_id)
    assert probe is not None
    # Knowing the probe, its send time lets "arrived within seconds" mark an auto-reply.
    # (A message older than the send -- clock skew, a stray -- gives no such hint.)
    in_order = probe.sent_at is not None and probe.sent_at <= received_at
    cls = classify(msg, sent_at=probe.sent_at if in_order else None, received_at=received_at)
    # The scorer rates the closing formula with the text; the stored signature is the name block.
    text, name_block = for_scoring(msg.reply_text, msg.signature)
    text = text or msg.text
    had_ticket = probe.ticket_ref
    reply = record_reply(
        session, probe, inbound, kind=cls.kind, text=text, received_at=received_at,
        method=method, confidence=confidence, clock=ws.clock,
        language=cls.language if text.strip() else "", signature=name_block,
        redirect_to=cls.redirect_to or "", ticket_ref=cls.ticket_ref or "",
        needs_review=needs_review, notice=cls.notice,
    )
    if probe.ticket_ref and probe.ticket_ref != had_ticket:
        index.learn_ticket(probe_id, probe.ticket_ref)
    return reply


def process_pending(ws: Workspace, campaign_id: int, report: CollectReport | None = None, *,
                    retry_unmatched: bool = True, progress: Progress | None = None) -> CollectReport:
    """Turn every pending message into a reply (oldest first, so an ack teaches its ticket first).

    Unmatched messages are tried again too: a ticket reference learnt since may now place them.
    """
    from .collecting import CollectReport

    report = report or CollectReport()
    matched_before = report.matched
    _process(ws, campaign_id, InboundStatus.PENDING, report, progress)
    # Only a newly recorded reply (an ack carrying a ticket...) can place an old stray.
    if retry_unmatched and report.matched > matched_before:
        _process(ws, campaign_id, InboundStatus.UNMATCHED, report, progress)
    return report


def _process(ws: Workspace, campaign_id: int, status: InboundStatus, report: CollectReport,
             progress: Progress | None) -> None:
    from .matching import ProbeIndex

    with ws.session() as session:
        rows = session.exec(
            select(InboundMessage.id, InboundMessage.sha256, InboundMessage.size,
                   InboundMessage.channel).where(
                InboundMessage.campaign_id == campaign_id, InboundMessage.status == status.value
            ).order_by(col(InboundMessage.received_at), col(InboundMessage.id))
        ).all()
    if not rows:
        return
    ids = [i for i, _, _, _ in rows if i is not None]
    mail = {i: (sha, size) for i, sha, size, channel in rows if channel != "x"}
    chunks = [ids[k : k + BATCH_SIZE] for k in range(0, len(ids), BATCH_SIZE)]
    index: ProbeIndex | None = None
    done = 0
    # A team on PostgreSQL claims each batch before parsing it, so two collectors split the
    # work instead of both parsing everything; worker processes read the folder store only.
    team = ws.engine.dialect.name == "postgresql"
    with _parsers(0 if team or ws.evidence.kind != "folder" else len(ids)) as parser:
        def start(chunk: list[int]) -> Callable[[], dict[int, object]]:
            wanted = [i for i in chunk if i in mail]
            return parser(ws, wanted, [mail[i] for i in wanted])

        upcoming = None if team else start(chunks[0])
        deferred: list[int] = []
        # Parsed messages whose probe another collector held: kept for their later round,
        # so a team parses each message once.
        kept: dict[int, object] = {}
        for k, chunk in _rounds(chunks, deferred):
            parsed: dict[int, object] = {}
            if upcoming is not None:
                parsed_of = upcoming
                if k + 1 < len(chunks):
                    upcoming = start(chunks[k + 1])  # workers parse the next batch meanwhile
                parsed = parsed_of()
            outcomes: list[_Outcome] = []
            warned = len(report.warnings)
            try:
                with ws.session() as session, chain_in_memory(session):
                    mine = chunk
                    if team:
                        mine = [i for i in session.exec(skip_locked(select(InboundMessage.id).where(
                            col(InboundMessage.id).in_(chunk), InboundMessage.status == status.value)))
                            if i is not None]
                        fresh = [i for i in mine if i not in kept]
                        parsed = {i: kept.pop(i) for i in mine if i in kept}
                        parsed.update(start(fresh)() if fresh else {})
                    if mine:
                        index = index or ProbeIndex.load(session, campaign_id)
                        outcomes = _process_batch(ws, session, mine, index, report, parsed,
                                                  status=status.value, deferred=deferred)
                        kept.update((i, parsed[i]) for i in deferred if i in parsed)
            except Exception as exc:
                if isinstance(exc, QualibenchError) or (isinstance(exc, SQLAlchemyError)
                                                        and not isinstance(exc, DataError | IntegrityError)
                                                        and not _deadlock(exc)):
                    raise  # the database's own failures are not the messages' fault
                # (IntegrityError, deadlock: another collector of the team met this batch.)
                # Rolled back: replay one message per transaction to set aside only the guilty
                # (and reload the keys: tickets learnt in the lost batch are gone with it).
                index = None
                del report.warnings[warned:]
                outcomes = [_process_one(ws, inbound_id, report, status.value) for inbound_id in chunk]
            for outcome in outcomes:
                _tally(report, outcome)
            done += len(chunk) if k >= 0 else 0
            if progress:
                progress("processing", min(done, len(ids)), len(ids))


def _rounds(chunks: list[list[int]], deferred: list[int]) -> Iterator[tuple[int, list[int]]]:
    """Yield (index, chunk) over `chunks`, then over what was deferred meanwhile (messages whose
    probe another collector held), a round at a time, pausing briefly, until none is left."""
    import time

    yield from enumerate(chunks)
    for _ in range(200):  # bounded: what is still held after that waits for the next pass
        if not deferred:
            return
        again = list(dict.fromkeys(deferred))
        deferred.clear()
        time.sleep(0.05)
        for lo in range(0, len(again), BATCH_SIZE):
            yield -1, again[lo:lo + BATCH_SIZE]


@dataclass(frozen=True)
class _Outcome:
    """What became of one message, read while its session was open."""

    was: str  # status before
    status: str  # status after
    kind: str = ""  # reply kind when recorded
    needs_review: bool = False

    @classmethod
    def of(cls, was: str, inbound: InboundMessage, reply: Reply | None) -> _Outcome:
        if reply is None:
            return cls(was, inbound.status)
        return cls(was, inbound.status, reply.kind, reply.needs_review)


def _deadlock(exc: BaseException) -> bool:
    return "deadlock detected" in str(getattr(exc, "orig", exc))


def _process_batch(ws: Workspace, session: Session, chunk: list[int], index: ProbeIndex,
                   report: CollectReport, parsed: dict[int, object], *,
                   status: str | None = None, deferred: list[int] | None = None) -> list[_Outcome]:
    """Process one batch in the caller's transaction; return what became of each message.

    Set-oriented: the messages are read as plain rows (no ORM object each), the probes they
    answer are loaded once, and the batch's replies and message updates are written with one
    multi-row INSERT and one executemany UPDATE each, instead of a flush per reply.

    Team-safe on PostgreSQL: the messages are claimed FOR UPDATE SKIP LOCKED and only while
    still in `status`, so a message another collector holds or has done is left out, and the
    probes they answer are locked in id order (no deadlock between two collectors).
    """
    from .mail.classify import classify, extract_ticket_ref
    from .mail.quotes import for_scoring
    from .probes import apply_reply, hold, reply_fields

    query = select(InboundMessage.id, InboundMessage.status, InboundMessage.channel,
                   InboundMessage.received_at, InboundMessage.collected_at,
                   InboundMessage.date_header, InboundMessage.date_disagreement,
                   InboundMessage.parse_error).where(col(InboundMessage.id).in_(chunk))
    if status is not None:
        query = query.where(InboundMessage.status == status)
    rows = {r.id: r for r in session.execute(skip_locked(query))}
    inbounds = [rows[i] for i in chunk if i in rows]
    # The probes these messages answer, loaded with one query and held: the session's
    # identity map keeps only weak references, so each session.get would query again.
    wanted = {found[0] for msg in parsed.values() if not isinstance(msg, Exception)
              if (found := index.match(msg, None)) is not None}
    team = session.get_bind().dialect.name == "postgresql"
    # A team: probes another collector holds now are skipped, not waited for; their messages
    # stay pending for a later round (`deferred`), so two collectors never queue on each other.
    held = list(session.exec(
        select(Probe).where(col(Probe.id).in_(wanted)).order_by(col(Probe.id))
        .with_for_update(skip_locked=team).execution_options(populate_existing=True))) if wanted else []
    probes = {p.id: p for p in held}
    session.info[LOCKED_PROBES] = set(probes)
    outcomes: list[_Outcome] = []
    replies: list[tuple[dict, object]] = []  # (Reply columns, its reply.recorded event)
    parsed_updates: list[dict] = []
    aside_updates: list[dict] = []
    for row in inbounds:
        result = parsed.get(row.id)
        if row.channel != "email" or result is None:  # API items: the one-message path
            inbound = session.get(InboundMessage, row.id)
            assert inbound is not None
            reply = process_inbound(ws, session, inbound, index, result)  # type: ignore[arg-type]
            outcomes.append(_Outcome.of(row.status, inbound, reply))
            continue
        if team and deferred is not None and not isinstance(result, Exception):
            found = index.match(result, None)
            if found is not None and found[0] not in probes:
                deferred.append(row.id)
                continue
        if isinstance(result, Exception):
            if type(result).__name__ == "UnparseableMessage":
                reason = storable(result.message)  # type: ignore[attr-defined]
            else:  # a parser bug on one odd message: said in the report too
                reason = storable(f"{type(result).__name__}: {result}")[:2000]
                report.warnings.append(f"message #{row.id} could not be processed: {reason}")
            aside_updates.append({"id": row.id, "status": InboundStatus.UNPARSEABLE.value,
                                  "parse_error": reason})
            outcomes.append(_Outcome(row.status, InboundStatus.UNPARSEABLE.value))
            continue
        msg: ParsedMessage = result  # type: ignore[assignment]
        date_header, disagreement = row.date_header, row.date_disagreement
        if date_header is None and msg.date is not None:
            from .collecting import _disagrees

            date_header, disagreement = msg.date, _disagrees(row.received_at, msg.date)
        change = {
            "id": row.id, "status": InboundStatus.UNMATCHED.value,
            # What the size bounds cut: the analyst sees it beside the message.
            "parse_error": "; ".join(msg.notes) if msg.notes else row.parse_error,
            "from_address": msg.from_address[:500],
            "to_addresses": ", ".join([*msg.to, *msg.cc])[:2000],
            "subject": msg.subject[:1000], "message_id": msg.message_id[:500],
            "date_header": date_header, "date_disagreement": disagreement,
        }
        parsed_updates.append(change)
        received_at = row.received_at or msg.date or row.collected_at or ws.clock.now()
        found = index.match(msg, received_at,
                            ticket_ref=lambda m=msg: extract_ticket_ref(m.subject, m.text) or "",
                            returned_message_id=msg.returned_message_id)
        if found is None:
            outcomes.append(_Outcome(row.status, InboundStatus.UNMATCHED.value))
            continue
        probe_id, method, confidence, needs_review = found
        probe = probes.get(probe_id)
        if probe is None:  # found by a key that needs the arrival time (subject window)
            probe = session.get(Probe, probe_id)
            assert probe is not None
            hold(session, probe)
            probes[probe_id] = probe
        # Knowing the probe, its send time lets "arrived within seconds" mark an auto-reply.
        # (A message older than the send -- clock skew, a stray -- gives no such hint.)
        in_order = probe.sent_at is not None and probe.sent_at <= received_at
        cls = classify(msg, sent_at=probe.sent_at if in_order else None, received_at=received_at)
        # The scorer rates the closing formula with the text; the stored signature is the name block.
        text, name_block = for_scoring(msg.reply_text, msg.signature)
        text = text or msg.text
        had_ticket = probe.ticket_ref
        fields = reply_fields(probe, row.id, kind=cls.kind, text=text, received_at=received_at,
                              method=method, confidence=confidence,
                              language=cls.language if text.strip() else "", signature=name_block,
                              redirect_to=cls.redirect_to or "", ticket_ref=cls.ticket_ref or "",
                              needs_review=needs_review, notice=cls.notice)
        replies.append((fields, apply_reply(session, probe, fields, ws.clock)))
        if probe.ticket_ref and probe.ticket_ref != had_ticket:
            index.learn_ticket(probe_id, probe.ticket_ref)
        change["status"] = InboundStatus.MATCHED.value
        outcomes.append(_Outcome(row.status, InboundStatus.MATCHED.value, fields["kind"],
                                 needs_review))
    if replies:
        # One multi-row INSERT; the ids come back to name each reply.recorded event.
        ids = dict(session.execute(insert(Reply).returning(Reply.inbound_id, Reply.id),
                                   [fields for fields, _ in replies]).all())
        for fields, event in replies:
            event.subject = f"reply:{ids[fields['inbound_id']]}"  # type: ignore[attr-defined]
    for updates in (parsed_updates, aside_updates):
        if updates:
            session.execute(update(InboundMessage), updates)
    del held
    return outcomes


def _process_one(ws: Workspace, inbound_id: int, report: CollectReport,
                 status: str | None = None) -> _Outcome:
    was = ""
    try:
        with ws.session() as session:
            query = select(InboundMessage).where(InboundMessage.id == inbound_id)
            if status is not None:
                query = query.where(InboundMessage.status == status)
            inbound = session.exec(skip_locked(query)).first()
            if inbound is None:  # done or held by another collector of the team
                return _Outcome("", "")
            was = inbound.status
            return _Outcome.of(was, inbound, process_inbound(ws, session, inbound))
    except DataError as exc:
        # The database refused a value taken from the message (text PostgreSQL cannot
        # store...): the message's fault, so it alone is set aside and the queue goes on.
        cause = str(exc.orig or exc).strip().splitlines()[0]
        _set_aside(ws, inbound_id, f"the database refused its content: {cause}", report)
    except (QualibenchError, SQLAlchemyError):
        raise
    except Exception as exc:  # a parser bug on one odd message must not block the others
        _set_aside(ws, inbound_id, f"{type(exc).__name__}: {exc}", report)
    return _Outcome(was, InboundStatus.UNPARSEABLE.value)


def _tally(report: CollectReport, outcome: _Outcome) -> None:
    if outcome.kind:
        report.matched += 1
        report.by_kind[outcome.kind] = report.by_kind.get(outcome.kind, 0) + 1
        report.needs_review += int(outcome.needs_review)
    elif outcome.status == InboundStatus.UNPARSEABLE.value:
        report.unparseable += 1
    elif outcome.was == InboundStatus.PENDING.value:
        report.unmatched += 1
    report.processed += 1


def _aside(inbound: InboundMessage, reason: str, report: CollectReport) -> None:
    inbound.status = InboundStatus.UNPARSEABLE.value
    inbound.parse_error = storable(reason)[:2000]
    report.warnings.append(f"message #{inbound.id} could not be processed: {inbound.parse_error}")


def _set_aside(ws: Workspace, inbound_id: int, reason: str, report: CollectReport) -> None:
    """Mark one message unparseable with `reason` in a transaction of its own (raw bytes stay)."""
    with ws.session() as session:
        inbound = session.get(InboundMessage, inbound_id)
        assert inbound is not None
        _aside(inbound, reason, report)
        session.add(inbound)


Parser = Callable[[Workspace, list[int], list[tuple[str, int]]], Callable[[], dict[int, object]]]


@dataclass(frozen=True)
class _Stored:
    """The two things parse_inbound reads of a stored message (an ORM object costs more)."""

    sha256: str
    size: int


# Raw bytes fetched from the database store per round trip when parsing in this process:
# one query per group of messages instead of one per message, bounded so that a batch of
# large messages is never held in memory at once.
PREFETCH_BYTES = 16 * 1024 * 1024


def _parse_in_process(ws: Workspace, ids: list[int],
                      items: list[tuple[str, int]]) -> Callable[[], dict[int, object]]:
    def results() -> dict[int, object]:
        out: dict[int, object] = {}
        pairs = list(zip(ids, items, strict=True))
        while pairs:
            group, size = [], 0
            while pairs and (not group or size + pairs[0][1][1] <= PREFETCH_BYTES):
                group.append(pairs.pop(0))
                size += group[-1][1][1]
            raws: dict[str, bytes] = {}
            if ws.evidence.kind == "database" and len(group) > 1:
                raws = ws.evidence.get_many([sha for _, (sha, _) in group])  # type: ignore[union-attr]
            for i, (sha, size_of) in group:
                out[i] = parse_inbound(ws, _Stored(sha, size_of),  # type: ignore[arg-type]
                                       raws.pop(sha, None))
        return out

    return results


# Below this many pending messages, starting worker processes costs more than it saves.
WORKERS_FROM = 2 * BATCH_SIZE


def _worker_count(pending: int) -> int:
    configured = os.environ.get("QUALIBENCH_PARSE_WORKERS", "")
    if configured.isdigit():
        return int(configured)
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else 1
    # Workers pay only with a core to spare: on a machine already busy they add overhead.
    if pending < WORKERS_FROM or cores < 2 or os.getloadavg()[0] > cores - 1:
        return 0
    return min(2, cores)


def _parse_stored(root: str, items: list[tuple[str, int]]) -> list:
    """Parse stored messages in a worker process; give plain results (exceptions as tuples)."""
    from .evidence import EvidenceStore
    from .mail.parse import UnparseableMessage

    store = EvidenceStore(Path(root))
    out: list = []
    for sha, size in items:
        try:
            got = parse_inbound(_StoreOnly(store), _Stored(sha, size))  # type: ignore[arg-type]
        except QualibenchError as exc:  # missing evidence: raised again in the parent
            out.append(("fatal", exc.message, exc.hint or ""))
            continue
        if isinstance(got, UnparseableMessage):
            out.append(("unparseable", got.message, got.hint or ""))
        elif isinstance(got, Exception):
            out.append(("error", f"{type(got).__name__}: {got}", ""))
        else:
            out.append(got)
    return out


@dataclass
class _StoreOnly:
    """The one part of a Workspace that parse_inbound reads."""

    evidence: object


def _results(raw: list) -> list:
    from .mail.parse import UnparseableMessage

    out: list = []
    for item in raw:
        if isinstance(item, tuple):
            kind, message, hint = item
            if kind == "fatal":
                raise QualibenchError(message, hint or None)
            out.append(UnparseableMessage(message, hint or None) if kind == "unparseable"
                       else RuntimeError(message))
        else:
            out.append(item)
    return out


@contextlib.contextmanager
def _parsers(pending: int) -> Iterator[Parser]:
    """Yield the function that starts parsing a batch: in worker processes when there are enough.

    Workers parse the next batch while this process matches and records the current one. They
    are started from a fresh server process (forkserver), never forked from one that holds
    database connections.
    """
    workers = _worker_count(pending)
    if workers <= 0:
        yield _parse_in_process
        return
    context = multiprocessing.get_context("forkserver")
    context.set_forkserver_preload(["qualibench.mail.parse", "qualibench.mail.classify"])
    with ProcessPoolExecutor(max_workers=workers, mp_context=context) as pool:

        def start(ws: Workspace, ids: list[int],
                  items: list[tuple[str, int]]) -> Callable[[], dict[int, object]]:
            step = max(1, -(-len(items) // (workers * 2)))
            parts = [pool.submit(_parse_stored, str(ws.evidence.root), items[i : i + step])
                     for i in range(0, len(items), step)]

            def results() -> dict[int, object]:
                got = [r for part in parts for r in _results(part.result())]
                return dict(zip(ids, got, strict=True))

            return results

        yield start
