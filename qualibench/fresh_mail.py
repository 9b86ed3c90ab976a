"""A first collect's mail, recorded with one row each, written once in its final state.

The collector used to commit each fetched batch as `pending` rows (with the folder's SyncState)
and then, once parsed, update every row to what became of it: each message written twice,
with two commits a batch. Here a fetched batch is made durable in the evidence store at once
(raw bytes first, before any parsing: unchanged), handed to the parser workers, and its rows
are inserted when its messages are recorded -- matched, unmatched or unparseable, beside their
replies and events -- in the same transaction that moves the folder's SyncState past it.

Crash safety: the SyncState never passes a message whose row is not committed. Killed before a
chunk commits, a rerun fetches its messages again (the evidence store already has their bytes,
which costs nothing but space) and records them; messages of that batch recorded by an earlier
chunk are known by their SHA-256 and not recorded twice. A chunk the database refuses (a
value it cannot store, another collector of the team met the same mail) is stored the old
way, as pending rows, and replayed one message per transaction.
"""

from __future__ import annotations

from collections import namedtuple
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from sqlalchemy import text
from sqlmodel import Session, col, select

from .db import insert_ignore_count
from .mail.imap import Hand, RawMail, SyncMark, advance
from .models import Evidence, InboundMessage, InboundStatus
from .preparing import Stored

if TYPE_CHECKING:
    from .collecting import CollectReport
    from .matching import ProbeIndex
    from .processing import Pipeline, _Outcome
    from .workspace import Workspace

# What processing.record_rows reads of a message, as a row of the table would give it.
_Row = namedtuple("_Row", "id status channel received_at collected_at date_header "
                          "date_disagreement parse_error")
_EARLIEST = datetime.min.replace(tzinfo=UTC)


class FreshMail(Hand):
    """Takes a first collect's batches (imap.sync_folder) into a Pipeline, keyed by negative
    tokens (no row, so no id, until recorded), and records them (`record`, `replay`)."""

    def __init__(self, ws: Workspace, campaign_id: int, pipeline: Pipeline) -> None:
        self.ws, self.campaign_id, self.pipeline = ws, campaign_id, pipeline
        self._mail: dict[int, RawMail] = {}  # token -> the mail, until recorded
        self._marks: list[tuple[int, SyncMark]] = []  # (tokens handed out by then, its batch's mark)
        self._count = 0
        self._settling: tuple[list[int], int, int] = ([], 0, 0)  # the chunk being committed
        self.new = self.duplicates = 0
        pipeline.hand = self

    def take(self, batch: list[RawMail], mark: SyncMark) -> None:
        small = [m for m in batch if not m.sha256]  # (large mails were streamed in already)
        for mail, digest in zip(small, self.ws.evidence.put_many([m.raw for m in small]), strict=True):
            mail.sha256, mail.size = digest, len(mail.raw)  # durable now, before any parsing
        items: dict[int, Stored | None] = {}
        # Oldest first, so that an acknowledgement teaches its ticket before the answer needs it.
        for mail in sorted(batch, key=lambda m: (m.received_at is not None, m.received_at or _EARLIEST, m.uid)):
            self._count += 1
            self._mail[-self._count] = mail
            items[-self._count] = Stored(mail.sha256, mail.size, mail.raw or None)
        self._marks.append((self._count, mark))
        self.pipeline.add(items)

    def finish(self) -> tuple[int, int]:
        """Record everything taken; return (new, duplicates) since the last finish."""
        self.pipeline.flush()
        if self._marks:  # batches with nothing left to record (expunged meanwhile)
            with self.ws.session() as session:
                for _, mark in self._marks:
                    advance(session, mark, self.ws.clock.now())
            self._marks = []
        counts = (self.new, self.duplicates)
        self.new = self.duplicates = 0
        return counts

    def _marks_of(self, chunk: list[int]) -> list[SyncMark]:
        """The marks the chunk completes: batches all of whose tokens are in it or before."""
        last = -min(chunk)
        return [mark for count, mark in self._marks if count <= last]

    def record(self, session: Session, chunk: list[int], prepared: dict[int, object],
               index: ProbeIndex, report: CollectReport) -> list[_Outcome]:
        """Record the chunk in the caller's transaction (see the module doc); `settle` once it
        has committed."""
        from .processing import record_rows

        now = self.ws.clock.now()
        for mark in self._marks_of(chunk):
            advance(session, mark, now)
        session.flush()  # (SQLite: this transaction is the writer from here, the ids below stay free)
        mails = [(t, self._mail[t]) for t in chunk]
        digests = list(dict.fromkeys(m.sha256 for _, m in mails))
        seen = set(session.exec(select(InboundMessage.sha256).where(
            InboundMessage.campaign_id == self.campaign_id, col(InboundMessage.sha256).in_(digests))))
        known_evidence = set(session.exec(select(Evidence.sha256).where(col(Evidence.sha256).in_(digests))))
        fresh: list[tuple[int, RawMail]] = []
        for token, mail in mails:
            if mail.sha256 not in seen:  # (the same bytes twice: one row)
                seen.add(mail.sha256)
                fresh.append((token, mail))
        insert_ignore_count(session, Evidence, [
            {"sha256": m.sha256, "size": m.length, "media_type": "message/rfc822", "stored_at": now}
            for _, m in fresh if m.sha256 not in known_evidence], keys=["sha256"], name="evidence.store")
        columns: dict[int, dict] = {}
        rows: list[_Row] = []
        parsed: dict[int, object] = {}
        for (token, mail), inbound_id in zip(fresh, _new_ids(session, len(fresh)), strict=True):
            columns[inbound_id] = _columns(self.campaign_id, inbound_id, mail, now)
            c = columns[inbound_id]
            rows.append(_Row(inbound_id, c["status"], "email", mail.received_at, now, mail.date_header,
                             c["date_disagreement"], None))
            if token in prepared:
                parsed[inbound_id] = prepared[token]
        outcomes = record_rows(self.ws, session, rows, index, report, parsed,  # type: ignore[arg-type]
                               deferred=self.pipeline.deferred, fresh=columns)
        self._settling = (chunk, len(fresh), len(mails) - len(fresh))
        return outcomes

    def settle(self) -> None:
        """The chunk `record` wrote has committed."""
        chunk, new, duplicates = self._settling
        self._forget(chunk, new, duplicates)

    def replay(self, chunk: list[int], report: CollectReport) -> list[_Outcome]:
        """The database refused the chunk: store it as pending rows (with its marks), then
        record one message per transaction, so only a guilty one is set aside."""
        from .collecting import store_mail_batch
        from .processing import _process_one

        stored: dict[int, Stored | None] = {}
        with self.ws.session() as session:
            for mark in self._marks_of(chunk):
                advance(session, mark, self.ws.clock.now())
            new, duplicates = store_mail_batch(self.ws, session, self.campaign_id,
                                               [self._mail[t] for t in chunk], pending=stored)
        self._forget(chunk, new, duplicates)
        return [_process_one(self.ws, inbound_id, report, InboundStatus.PENDING.value)
                for inbound_id in stored]

    def _forget(self, chunk: list[int], new: int, duplicates: int) -> None:
        last = -min(chunk)
        self._marks = [(count, mark) for count, mark in self._marks if count > last]
        for token in chunk:
            self._mail.pop(token, None)
        self.new += new
        self.duplicates += duplicates


def _columns(campaign_id: int, inbound_id: int, mail: RawMail, now: datetime) -> dict:
    """A fetched message's row before parsing says more (processing.record_rows adds that)."""
    from .collecting import _disagrees

    return {"id": inbound_id, "campaign_id": campaign_id, "channel": "email", "source": mail.source,
            "source_ref": mail.source_ref, "sha256": mail.sha256, "size": mail.length,
            "collected_at": now, "received_at": mail.received_at, "date_header": mail.date_header,
            "date_disagreement": _disagrees(mail.received_at, mail.date_header),
            "status": InboundStatus.PENDING.value, "parse_error": None, "from_address": "",
            "to_addresses": "", "subject": "", "message_id": "", "note": ""}


def _new_ids(session: Session, count: int) -> list[int]:
    """Ids for `count` new inbound rows, known before they are inserted (their replies and
    events name them): the table's own sequence on PostgreSQL; on SQLite, after the largest,
    this transaction being the database's one writer (a clash is refused and replayed)."""
    if not count:
        return []
    if session.get_bind().dialect.name == "postgresql":
        return list(session.execute(text(
            "SELECT nextval(pg_get_serial_sequence('inboundmessage', 'id')) FROM generate_series(1, :n)"),
            {"n": count}).scalars())
    top = session.execute(text("SELECT COALESCE(MAX(id), 0) FROM inboundmessage")).scalar() or 0
    return list(range(top + 1, top + 1 + count))
