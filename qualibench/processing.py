"""The second pass of `collect`: stored messages become replies, a batch at a time.

A batch is one transaction: its messages are read as plain rows, matched against the
campaign's correlation keys held in memory (matching.ProbeIndex), and recorded, then committed
together. What needs no database -- parsing, classification, the text to score -- is prepared
beforehand (preparing.Preparer), in worker processes when there are enough messages, so that
the next batches are prepared while this one is recorded and while the collector fetches. A
`Pipeline` keeps that going: a first collect hands it each batch as soon as its raw bytes are
durable. Killed mid-batch, nothing of that batch is kept and a rerun redoes it from the raw
bytes, which were made durable by the first pass.

One message must never block the others: what its parser raises sets it aside as
unparseable (raw kept); a value the database refuses rolls the batch back and replays it
one message at a time, so only the guilty one is set aside.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from sqlalchemy import bindparam, insert, update
from sqlalchemy.exc import DataError, IntegrityError, SQLAlchemyError
from sqlalchemy.orm import load_only
from sqlmodel import Session, col, select

from .db import execute_many, skip_locked
from .errors import QualibenchError
from .events import chain_in_memory, note_rows
from .mail.bounds import storable
from .models import InboundMessage, InboundStatus, Probe, Reply
from .preparing import Preparer, Stored, prepare_stored
from .probes import LOCKED_PROBES
from .workspace import Workspace

if TYPE_CHECKING:
    from .collecting import CollectReport
    from .fresh_mail import FreshMail
    from .mail.classify import Classification
    from .mail.prepare import Prepared
    from .matching import ProbeIndex

Progress = Callable[[str, int, int], None]
# Messages per transaction: large enough that commits and queries are amortised, small
# enough that a crash redoes little and memory stays flat (a batch holds its parsed texts).
BATCH_SIZE = 250
# Batches handed to the workers ahead of the one being recorded.
AHEAD = 2
# What recording a reply reads of its probe (the rest is loaded only if touched).
_REPLY_COLUMNS = (Probe.id, Probe.campaign_id, Probe.key, Probe.state, Probe.sent_at,
                  Probe.first_ack_at, Probe.first_answer_at, Probe.ticket_ref)


def _with_request(cls: Classification, probe: Probe, got: Prepared) -> Classification:
    """The reply's reading once its request is known: an answer beside an acknowledgement that touches
    nothing of the request is the notice's template (classify.with_request). The probe's body is
    read (a deferred column) only for such a reply."""
    from .mail.classify import needs_request, with_request  # (loaded with the Prepared's module)

    if not needs_request(cls):
        return cls
    return with_request(cls, probe.body, got.text, subject=got.msg.subject, signature=got.name_block)


def process_inbound(ws: Workspace, session: Session, inbound: InboundMessage,
                    index: ProbeIndex | None = None,
                    prepared: Prepared | Exception | None = None) -> Reply | None:
    """Parse, match and classify one stored message; return its Reply, or None if left aside.

    Unreadable bytes give status unparseable (raw kept); no key found gives unmatched.
    """
    from .matching import ProbeIndex
    from .probes import record_reply

    if inbound.channel == "x":  # API JSON, not e-mail: matched by conversation / DM thread
        from .social import process_api_inbound

        return process_api_inbound(ws, session, inbound)
    got = prepare_stored(ws, Stored(inbound.sha256, inbound.size)) if prepared is None else prepared
    if isinstance(got, Exception):
        if type(got).__name__ != "UnparseableMessage":
            raise got
        inbound.status = InboundStatus.UNPARSEABLE.value
        inbound.parse_error = storable(got.message)  # type: ignore[attr-defined]
        session.add(inbound)
        return None
    msg = got.msg
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

    index = index or ProbeIndex.cached(session, inbound.campaign_id)
    found = index.match(msg, received_at, ticket_ref=got.ticket_ref,
                        returned_message_id=msg.returned_message_id)
    if found is None:
        inbound.status = InboundStatus.UNMATCHED.value
        session.add(inbound)
        return None
    probe_id, method, confidence, needs_review = found
    probe = session.get(Probe, probe_id)
    assert probe is not None
    # Knowing the probe, its send time lets "arrived within seconds" mark an auto-reply.
    cls = _with_request(got.classification(probe.sent_at, received_at), probe, got)
    had_ticket = probe.ticket_ref
    reply = record_reply(
        session, probe, inbound, kind=cls.kind, text=got.text, received_at=received_at,
        method=method, confidence=confidence, clock=ws.clock,
        language=cls.language if got.text.strip() else "", signature=got.name_block,
        redirect_to=cls.redirect_to or "", ticket_ref=cls.ticket_ref or "",
        needs_review=needs_review, notice=cls.notice,
    )
    if probe.ticket_ref and probe.ticket_ref != had_ticket:
        index.learn_ticket(probe_id, probe.ticket_ref)
    return reply


def process_pending(ws: Workspace, campaign_id: int, report: CollectReport | None = None, *,
                    retry_unmatched: bool = True, progress: Progress | None = None,
                    matched_before: int | None = None) -> CollectReport:
    """Turn every pending message into a reply (oldest first, so an ack teaches its ticket first).

    Unmatched messages are tried again too when a reply was recorded since `matched_before`
    (the report's matched count when this collect began; default: when this call began): a
    ticket reference learnt since may now place them.
    """
    from .collecting import CollectReport

    report = report or CollectReport()
    if matched_before is None:
        matched_before = report.matched
    _process(ws, campaign_id, InboundStatus.PENDING, report, progress)
    # Only a newly recorded reply (an ack carrying a ticket...) can place an old stray.
    if retry_unmatched and report.matched > matched_before:
        _process(ws, campaign_id, InboundStatus.UNMATCHED, report, progress)
    return report


class Pipeline:
    """Records batches of stored messages while the next ones are being prepared.

    `add` hands it stored messages (in the order to record them); each batch of BATCH_SIZE is
    given to the Preparer at once, and recorded when AHEAD more batches are being prepared, or
    at `flush`. A team on PostgreSQL (`claim_first`) claims each batch (SKIP LOCKED) before
    preparing it, so two collectors split the leftover work instead of both preparing all of it.
    """

    def __init__(self, ws: Workspace, campaign_id: int, status: InboundStatus,
                 report: CollectReport, preparer: Preparer, *, progress: Progress | None = None,
                 claim_first: bool = False, total: int = 0) -> None:
        self.ws, self.campaign_id, self.status = ws, campaign_id, status
        self.report, self.preparer, self.progress = report, preparer, progress
        self.claim_first = claim_first
        self.total = total
        self.index: ProbeIndex | None = None
        self.deferred: list[int] = []  # probe held by another collector: a later round
        self.kept: dict[int, object] = {}  # prepared messages deferred, kept for that round
        self._stored: dict[int, Stored] = {}
        self._open: list[int] = []  # added, not yet a whole batch
        self._queued: list[list[int]] = []  # batches being prepared, oldest first
        self.done = 0
        self.added = 0
        self.hand: FreshMail | None = None  # a first collect's fetched mail (negative keys)

    def add(self, items: dict[int, Stored | None], *, count: bool = True) -> None:
        """Take stored messages (inbound id -> Stored, None for an API item: nothing to
        prepare), to record in this order."""
        self._stored.update((i, s) for i, s in items.items() if s is not None)
        self._open.extend(items)
        self.added += len(items) if count else 0
        while len(self._open) >= BATCH_SIZE:
            self._queue(self._open[:BATCH_SIZE])
            self._open = self._open[BATCH_SIZE:]

    def flush(self) -> None:
        """Record everything added."""
        if self._open:
            self._queue(self._open)
            self._open = []
        while self._queued:
            self._record(self._queued.pop(0))
        if self.preparer.warning and self.preparer.warning not in self.report.warnings:
            self.report.warnings.append(self.preparer.warning)

    def _queue(self, chunk: list[int]) -> None:
        if not self.claim_first:
            self.preparer.submit({i: self._stored[i] for i in chunk
                                  if i not in self.kept and i in self._stored})
        self._queued.append(chunk)
        # In this process the preparing happens when recording: no point holding batches.
        ahead = AHEAD if self.preparer.pooled and not self.claim_first else 0
        while len(self._queued) > ahead:
            self._record(self._queued.pop(0))

    def _record(self, chunk: list[int]) -> None:
        from .matching import ProbeIndex

        ws, report, status = self.ws, self.report, self.status.value
        prepared: dict[int, object] = {}
        if not self.claim_first:
            prepared = dict(self.preparer.results([i for i in chunk if i in self._stored
                                                   and i not in self.kept]))
            prepared.update((i, self.kept.pop(i)) for i in chunk if i in self.kept)
        outcomes: list[_Outcome] = []
        warned = len(report.warnings)
        taken = self.hand is not None and bool(chunk) and chunk[0] < 0  # fetched, no row yet
        try:
            with ws.session() as session, chain_in_memory(session):
                mine = [] if taken else chunk
                if taken:
                    self.index = self.index or ProbeIndex.cached(session, self.campaign_id)
                    outcomes = self.hand.record(session, chunk, prepared, self.index, report)  # type: ignore[union-attr]
                if self.claim_first:
                    mine = [i for i in session.exec(skip_locked(select(InboundMessage.id).where(
                        col(InboundMessage.id).in_(chunk), InboundMessage.status == status)))
                        if i is not None]
                    fresh = {i: self._stored[i] for i in mine if i not in self.kept and i in self._stored}
                    prepared = {i: self.kept.pop(i) for i in mine if i in self.kept}
                    if fresh:
                        self.preparer.submit(fresh)
                        prepared.update(self.preparer.results(list(fresh)))
                if mine:
                    self.index = self.index or ProbeIndex.cached(session, self.campaign_id)
                    outcomes = _process_batch(ws, session, mine, self.index, report, prepared,
                                              status=status, deferred=self.deferred)
                    self.kept.update((i, prepared[i]) for i in self.deferred if i in prepared)
        except Exception as exc:
            if isinstance(exc, QualibenchError) or (isinstance(exc, SQLAlchemyError)
                                                    and not isinstance(exc, DataError | IntegrityError)
                                                    and not _deadlock(exc)):
                raise  # the database's own failures are not the messages' fault
            # (IntegrityError, deadlock: another collector of the team met this batch.)
            # Rolled back: replay one message per transaction to set aside only the guilty
            # (and reload the keys: tickets learnt in the lost batch are gone with it).
            if self.index is not None:
                self.index.learnt = True  # read again from the database when next used
            self.index = None
            del report.warnings[warned:]
            if taken:
                outcomes = self.hand.replay(chunk, report)  # type: ignore[union-attr]
            else:
                outcomes = [_process_one(ws, inbound_id, report, status) for inbound_id in chunk]
        else:
            if taken:
                self.hand.settle()  # type: ignore[union-attr]
        for outcome in outcomes:
            _tally(report, outcome)
        held = set(self.deferred)
        for i in chunk:
            if i not in held:
                self._stored.pop(i, None)
        self.done = min(self.done + len(chunk), max(self.added, self.total))
        if self.progress:
            self.progress("processing", self.done, max(self.added, self.total))


def _process(ws: Workspace, campaign_id: int, status: InboundStatus, report: CollectReport,
             progress: Progress | None) -> None:
    import time

    from .preparing import preparer

    with ws.session() as session:
        rows = session.exec(
            select(InboundMessage.id, InboundMessage.sha256, InboundMessage.size,
                   InboundMessage.channel).where(
                InboundMessage.campaign_id == campaign_id, InboundMessage.status == status.value
            ).order_by(col(InboundMessage.received_at), col(InboundMessage.id))
        ).all()
    if not rows:
        return
    # A team on PostgreSQL claims each batch before preparing it (see Pipeline).
    team = ws.engine.dialect.name == "postgresql"
    mail = sum(1 for r in rows if r.channel != "x")
    with preparer(ws, expected=0 if team else mail) as prep:
        pipe = Pipeline(ws, campaign_id, status, report, prep, progress=progress,
                        claim_first=team, total=len(rows))
        # API items (X) are recorded by their own path, with nothing to prepare.
        order: dict[int, Stored | None] = {
            inbound_id: Stored(sha, size) if channel != "x" else None
            for inbound_id, sha, size, channel in rows if inbound_id is not None}
        pipe.add(order)
        pipe.flush()
        for _ in range(200):  # bounded: what is still held after that waits for the next pass
            if not pipe.deferred:
                return
            again = list(dict.fromkeys(pipe.deferred))
            pipe.deferred.clear()
            time.sleep(0.05)
            pipe.done -= len(again)
            pipe.add({i: order[i] for i in again}, count=False)
            pipe.flush()


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
                   report: CollectReport, parsed: dict[int, Prepared | Exception], *,
                   status: str | None = None, deferred: list[int] | None = None) -> list[_Outcome]:
    """Process one batch in the caller's transaction; return what became of each message.

    Set-oriented: the messages are read as plain rows (no ORM object each), the probes they
    answer are loaded once, and the batch's replies and message updates are written with one
    multi-row INSERT and one executemany UPDATE each, instead of a flush per reply.

    Team-safe on PostgreSQL: the messages are claimed FOR UPDATE SKIP LOCKED and only while
    still in `status`, so a message another collector holds or has done is left out, and the
    probes they answer are locked in id order (no deadlock between two collectors).
    """
    query = select(InboundMessage.id, InboundMessage.status, InboundMessage.channel,
                   InboundMessage.received_at, InboundMessage.collected_at,
                   InboundMessage.date_header, InboundMessage.date_disagreement,
                   InboundMessage.parse_error).where(col(InboundMessage.id).in_(chunk))
    if status is not None:
        query = query.where(InboundMessage.status == status)
    rows = {r.id: r for r in session.execute(skip_locked(query))}
    return record_rows(ws, session, [rows[i] for i in chunk if i in rows], index, report, parsed,
                       deferred=deferred)


def record_rows(ws: Workspace, session: Session, inbounds: list, index: ProbeIndex,
                report: CollectReport, parsed: dict[int, Prepared | Exception], *,
                deferred: list[int] | None = None, fresh: dict[int, dict] | None = None,
                ) -> list[_Outcome]:
    """Record messages given as rows (id, status, channel, received_at, collected_at,
    date_header, date_disagreement, parse_error) with their prepared forms; see _process_batch.

    With `fresh` (inbound id -> its columns, ids chosen by the caller), the messages have no
    row yet: each is inserted once, in its final state (matched, unmatched, unparseable, or
    pending when another collector holds its probe), before the replies that name it.
    """
    from .probes import apply_reply, hold, reply_fields

    # The probes these messages answer, loaded with one query and held: the session's
    # identity map keeps only weak references, so each session.get would query again.
    wanted = {found[0] for got in parsed.values() if not isinstance(got, Exception)
              if (found := index.match(got.msg, None)) is not None}
    team = session.get_bind().dialect.name == "postgresql"
    # A team: probes another collector holds now are skipped, not waited for; their messages
    # stay pending for a later round (`deferred`), so two collectors never queue on each other.
    # Only the columns recording a reply reads or fingerprints (probes.apply_reply, events.
    # probe_fact): the body, fills and dispatch evidence cost more to load than the rest.
    held = list(session.exec(
        select(Probe).options(load_only(*_REPLY_COLUMNS))
        .where(col(Probe.id).in_(wanted)).order_by(col(Probe.id))
        .with_for_update(skip_locked=team).execution_options(populate_existing=True))) if wanted else []
    probes = {p.id: p for p in held}
    session.info[LOCKED_PROBES] = set(probes)
    outcomes: list[_Outcome] = []
    replies: list[tuple[dict, object]] = []  # (Reply columns, its reply.recorded event)
    parsed_updates: list[dict] = []
    aside_updates: list[dict] = []
    for row in inbounds:
        result = parsed.get(row.id)
        if fresh is not None and result is None:  # (never prepared: left for the next pass)
            continue
        if row.channel != "email" or result is None:  # API items: the one-message path
            inbound = session.get(InboundMessage, row.id)
            assert inbound is not None
            reply = process_inbound(ws, session, inbound, index, result)  # type: ignore[arg-type]
            outcomes.append(_Outcome.of(row.status, inbound, reply))
            continue
        if team and deferred is not None and not isinstance(result, Exception):
            found = index.match(result.msg, None)
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
        msg = result.msg
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
        found = index.match(msg, received_at, ticket_ref=result.ticket_ref,
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
        cls = _with_request(result.classification(probe.sent_at, received_at), probe, result)
        # The scorer rates the closing formula with the text; the stored signature is the name block.
        text, name_block = result.text, result.name_block
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
    if fresh is not None:
        # Each message once, in its final state: its parsed columns over what was fetched.
        changes = {c["id"]: c for c in (*parsed_updates, *aside_updates)}
        _insert_inbound(session, [{**columns, **changes.get(i, {})} for i, columns in fresh.items()])
        parsed_updates, aside_updates = [], []
    if replies:
        # One multi-row INSERT of the table (every column given: no ORM defaults to apply);
        # the ids come back to name each reply.recorded event. The facts hook sees it too.
        table = Reply.__table__  # type: ignore[attr-defined]
        rows = [fields for fields, _ in replies]
        if session.get_bind().dialect.name == "sqlite":
            # The driver's executemany (db.execute_many: a third of the processor time), which
            # returns no rows: the ids are read back by inbound message (unique per reply),
            # and the facts hook is told of the rows, as session.execute would have told it.
            execute_many(session, "reply.recorded", insert(table), rows)
            note_rows(session, Reply, rows)
            wanted = [fields["inbound_id"] for fields in rows]
            ids = dict(session.execute(select(table.c.inbound_id, table.c.id)
                                       .where(table.c.inbound_id.in_(wanted))).all())
        else:
            ids = dict(session.execute(insert(table).returning(table.c.inbound_id, table.c.id),
                                       rows).all())
        for fields, event in replies:
            event.subject = f"reply:{ids[fields['inbound_id']]}"  # type: ignore[attr-defined]
    for updates in (parsed_updates, aside_updates):
        if updates:
            _update_inbound(session, updates)
    del held
    return outcomes


def _insert_inbound(session: Session, rows: list[dict]) -> None:
    if rows:
        execute_many(session, "inbound.fresh", insert(InboundMessage.__table__), rows)  # type: ignore[attr-defined]


def _update_inbound(session: Session, rows: list[dict]) -> None:
    """UPDATE inbound messages by id, one executemany of the table (rows with the same keys):
    the ORM's bulk update by primary key spent more per row than the database did."""
    table = InboundMessage.__table__  # type: ignore[attr-defined]
    names = [k for k in rows[0] if k != "id"]
    stmt = update(table).where(table.c.id == bindparam("b_id")).values(
        {name: bindparam(f"b_{name}", type_=table.c[name].type) for name in names})
    execute_many(session, "inbound.processed", stmt, [{f"b_{k}": v for k, v in row.items()} for row in rows])


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
