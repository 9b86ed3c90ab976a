"""Append-only, hash-chained event log whose head is checkpointed, covering the report's facts.

`log_event` queues an event in the caller's transaction; the events are chained when that
transaction commits (a `before_commit` hook): the campaign's `eventhead` row is locked
(`SELECT ... FOR UPDATE` on PostgreSQL), the queued events take the next sequence numbers, and
the head moves in the same transaction. So concurrent writers from several machines queue
behind one short lock at commit instead of colliding on a sequence number, and deleting the
last events (or all of them) leaves a head the chain no longer reaches.

Every fact the report reads (a reply's probe, kind, times and text, each score's total and
criteria, a probe's state and send/answer times) is fingerprinted when qualibench writes it:
ORM flushes and bulk inserts are watched by session hooks, and the fingerprints ride in the
transaction's last event (`payload["facts"]`). `qualibench verify` recomputes them from the rows,
so an edit made in the database behind qualibench's back is named.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import event as sa_event
from sqlalchemy import func, insert, text
from sqlalchemy.orm import Session as OrmSession
from sqlmodel import Session, select

from .clock import Clock, SystemClock
from .errors import QualibenchError
from .models import Event, EventHead, Probe, Reply, Score

GENESIS = "0" * 64
_QUEUE = "qb_events"  # session.info: events waiting for the commit
_FACTS = "qb_facts"  # session.info: {campaign_id: {"reply"|"probe": {key: fields}, "score": {...}}}
HEADS = "qb_heads"  # session.info after commit: {campaign_id: (seq, hash)}


def _digest(prev_hash: str, seq: int, at: datetime, kind: str, subject: str, payload: dict) -> str:
    return _digest_of_text(prev_hash, seq, at, kind, subject, canonical_json(payload))


def canonical_json(value: Any) -> str:
    """The JSON an event's hash covers: sorted keys, no spaces, non-ASCII as is."""
    return json.dumps(value, sort_keys=True, ensure_ascii=False, default=str, separators=(",", ":"))


def _digest_of_text(prev_hash: str, seq: int, at: datetime, kind: str, subject: str,
                    payload_json: str) -> str:
    """The hash of an event whose payload is already in canonical JSON: the text json.dumps
    gives for the whole event with sorted keys (at, kind, payload, prev, seq, subject), put
    together around it, so a payload (a batch's facts: 250 replies) is encoded once, and the
    same text is what SQLite stores."""
    # (encode_basestring is what json.dumps quotes a str with when ensure_ascii is False.)
    body = (f'{{"at":{_quoted(at.isoformat())},"kind":{_quoted(kind)},"payload":{payload_json},'
            f'"prev":{_quoted(prev_hash)},"seq":{int(seq)},"subject":{_quoted(subject)}}}')
    return hashlib.sha256(body.encode()).hexdigest()


_quoted = json.encoder.encode_basestring  # type: ignore[attr-defined]


@dataclass(slots=True)
class QueuedEvent:
    """An event waiting for its transaction's commit, where it gets its seq and hash and is
    written with the others in one multi-row INSERT (a plain object: an ORM Event each cost
    more than the rest of recording a reply)."""

    campaign_id: int
    at: datetime
    kind: str
    subject: str
    payload: dict
    seq: int = 0
    prev_hash: str = ""
    hash: str = ""

    def row(self) -> dict[str, Any]:
        return {"campaign_id": self.campaign_id, "seq": self.seq, "at": self.at, "kind": self.kind,
                "subject": self.subject, "payload": self.payload, "prev_hash": self.prev_hash,
                "hash": self.hash}


_PLAIN = (str, int, float, bool, type(None))


def _as_stored(payload: dict[str, Any]) -> dict[str, Any]:
    """Return `payload` as the JSON column gives it back, so that the hash computed now is
    the one recomputed from the row. A flat dict of plain values (most events: a reply's
    ids, kind and times) already is; anything else takes the JSON round trip."""
    if all(type(k) is str and type(v) in _PLAIN for k, v in payload.items()):
        return dict(payload)
    return json.loads(json.dumps(payload, default=str))


def log_event(
    session: Session,
    campaign_id: int,
    kind: str,
    subject: str = "",
    payload: dict[str, Any] | None = None,
    clock: Clock | None = None,
) -> QueuedEvent:
    """Queue one event in the caller's transaction; it is chained (seq, hash) when it commits.

    The returned event gets its seq and hash at commit (its subject may still be set until
    then); a rolled-back transaction logs nothing.
    """
    payload = _as_stored(payload or {})
    at = (clock or SystemClock()).now().replace(microsecond=0)
    ev = QueuedEvent(campaign_id, at, kind, subject, payload)
    session.info.setdefault(_QUEUE, []).append(ev)
    return ev


# -- facts ----------------------------------------------------------------------------------


def _iso(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    if value.tzinfo is None:  # only SQLite rows read without the column type
        value = value.replace(tzinfo=UTC)
    return value.astimezone(UTC).isoformat()


def _short(data: str) -> str:
    return hashlib.sha256(data.encode("utf-8", "surrogatepass")).hexdigest()[:16]


def _number(value: Any) -> Any:
    try:
        return repr(float(value))
    except (TypeError, ValueError):
        return str(value)


def _get(row: Any, name: str, model: type) -> Any:
    if isinstance(row, dict):
        if name in row:
            return row[name]
        default = model.model_fields[name].default  # type: ignore[attr-defined]
        return None if default is ... else default
    return getattr(row, name)


def reply_fact(row: Any) -> tuple[str, dict]:
    """Return (key, fields) fingerprinting what the report reads of one reply."""
    g = lambda n: _get(row, n, Reply)  # noqa: E731
    return str(g("inbound_id")), {
        "probe": g("probe_id"), "kind": g("kind"), "received_at": _iso(g("received_at")),
        "text": _short(g("text") or ""), "delay_review": g("delay_review") or "",
    }


def score_fact(row: Any) -> tuple[str, str]:
    """Return (reply id, fingerprint) of one score row: scorer, rubric version, total, criteria."""
    g = lambda n: _get(row, n, Score)  # noqa: E731
    criteria = {str(k): _number(v) for k, v in sorted((g("criteria") or {}).items())}
    body = json.dumps([g("rubric_version"), g("scorer"), _number(g("total")), criteria],
                      sort_keys=True, separators=(",", ":"))
    return str(g("reply_id")), _short(body)


def probe_fact(row: Any) -> tuple[str, dict]:
    """Return (probe key, fields): the state and the times the delays are measured from."""
    g = lambda n: _get(row, n, Probe)  # noqa: E731
    return str(g("key")), {
        "state": g("state"), "sent_at": _iso(g("sent_at")), "first_ack_at": _iso(g("first_ack_at")),
        "first_answer_at": _iso(g("first_answer_at")),
    }


def _note(session: OrmSession, model: type, row: Any, deleted: bool = False) -> None:
    campaign_id = _get(row, "campaign_id", model)
    if campaign_id is None:
        return
    facts = session.info.setdefault(_FACTS, {}).setdefault(int(campaign_id), {})
    if model is Score:
        if not deleted:
            key, digest = score_fact(row)
            facts.setdefault("score", {}).setdefault(key, []).append(digest)
        return
    table, (key, fields) = ("reply", reply_fact(row)) if model is Reply else ("probe", probe_fact(row))
    facts.setdefault(table, {})[key] = None if deleted else fields


def note_facts(session: OrmSession, rows: list[Any]) -> None:
    """Fingerprint rows written without the ORM unit of work (Core UPDATEs of fact columns)."""
    for row in rows:
        for model in (Reply, Score, Probe):
            if isinstance(row, model):
                _note(session, model, row)


def note_rows(session: OrmSession, model: type, rows: list[dict]) -> None:
    """Fingerprint rows (column dicts) inserted past the session's hooks (db.execute_many)."""
    for row in rows:
        _note(session, model, row)


@sa_event.listens_for(OrmSession, "after_flush")
def _facts_from_flush(session: OrmSession, _ctx: Any) -> None:
    for obj in list(session.new) + list(session.dirty):
        if isinstance(obj, Score) and obj in session.dirty:
            continue  # append-only: a score is fingerprinted once, when it is inserted
        for model in (Reply, Score, Probe):
            if isinstance(obj, model):
                _note(session, model, obj)
    for obj in session.deleted:
        for model in (Reply, Probe):
            if isinstance(obj, model):
                _note(session, model, obj, deleted=True)


@sa_event.listens_for(OrmSession, "do_orm_execute")
def _facts_from_bulk_insert(state: Any) -> None:
    if not state.is_insert:
        return
    table = getattr(state.statement, "table", None)
    model = {"reply": Reply, "score": Score, "probe": Probe}.get(getattr(table, "name", ""))
    params = state.parameters
    if model is None or not params:
        return
    for row in params if isinstance(params, list) else [params]:
        if isinstance(row, dict):
            _note(state.session, model, row)


# -- chaining at commit -----------------------------------------------------------------------


def _lock_head(session: Session, campaign_id: int) -> tuple[int, str]:
    """Return the campaign's (seq, hash) head, locked until this transaction ends."""
    from .db import insert_ignore, is_postgres

    lock = " FOR UPDATE" if is_postgres(session) else ""
    sql = text(f"SELECT seq, hash FROM eventhead WHERE campaign_id = :c{lock}")
    row = session.execute(sql, {"c": campaign_id}).first()
    if row is None:
        existing = session.exec(select(func.max(Event.seq)).where(Event.campaign_id == campaign_id)).one()
        if existing:
            raise QualibenchError(
                f"the event log's head checkpoint of campaign #{campaign_id} is missing: the "
                f"database was edited outside qualibench",
                "run `qualibench verify` and restore the database from a backup")
        insert_ignore(session, EventHead, [{"campaign_id": campaign_id, "seq": 0, "hash": GENESIS,
                                            "updated_at": datetime.now(UTC)}])
        row = session.execute(sql, {"c": campaign_id}).first()
    assert row is not None
    return int(row[0]), str(row[1])


@sa_event.listens_for(OrmSession, "before_commit")
def _chain_queued_events(session: OrmSession) -> None:
    if session.new or session.dirty or session.deleted:
        session.flush()  # the last facts are fingerprinted by the flush hook
    queue: list[QueuedEvent] = session.info.pop(_QUEUE, [])
    facts: dict[int, dict] = session.info.pop(_FACTS, {})
    if not queue and not facts:
        return
    for campaign_id, tables in facts.items():
        mine = [ev for ev in queue if ev.campaign_id == campaign_id]
        if not mine:
            mine = [QueuedEvent(campaign_id, datetime.now(UTC).replace(microsecond=0),
                                "facts.recorded", "", {})]
            queue.append(mine[0])
        # Fingerprints are str keys over str / int / None values (reply_fact, probe_fact,
        # score_fact): JSON gives them back as they are, so no round trip is needed for the
        # hash recomputed from the row to be this one.
        mine[-1].payload = {**mine[-1].payload, "facts": tables}
    heads: dict[int, tuple[int, str]] = {}
    chained: list[dict[str, Any]] = []
    # SQLite stores the canonical text the hash covers (encoded once; a JSON column reads it
    # back as the same dict); PostgreSQL's driver is given the dict.
    as_text = session.get_bind().dialect.name == "sqlite"
    for campaign_id in sorted({ev.campaign_id for ev in queue}):  # one lock order: no deadlock
        seq, prev = _lock_head(session, campaign_id)  # type: ignore[arg-type]
        for ev in (e for e in queue if e.campaign_id == campaign_id):
            seq += 1
            assert ev.at is not None
            ev.seq, ev.prev_hash = seq, prev
            text_ = canonical_json(ev.payload)
            ev.hash = prev = _digest_of_text(prev, seq, ev.at, ev.kind, ev.subject, text_)
            row = ev.row()
            if as_text:
                row["payload"] = text_
            chained.append(row)
        session.execute(text("UPDATE eventhead SET seq = :s, hash = :h, updated_at = :u "
                             "WHERE campaign_id = :c"),
                        {"s": seq, "h": prev, "u": _db_now(session), "c": campaign_id})
        heads[campaign_id] = (seq, prev)  # type: ignore[index]
    # One multi-row INSERT for the whole transaction, in chain order (the same rows, seqs and
    # hashes as one ORM Event each would write).
    from .db import execute_many

    execute_many(session, "event.insert", insert(Event.__table__), chained,  # type: ignore[attr-defined]
                 as_text=("payload",) if as_text else ())
    session.info[HEADS] = heads


def _db_now(session: OrmSession) -> Any:
    now = datetime.now(UTC)
    return now.replace(tzinfo=None) if session.get_bind().dialect.name == "sqlite" else now


@sa_event.listens_for(OrmSession, "after_rollback")
def _forget_queued_events(session: OrmSession) -> None:
    session.info.pop(_QUEUE, None)
    session.info.pop(_FACTS, None)


# -- checking -------------------------------------------------------------------------------


@dataclass
class ChainProblem:
    seq: int
    message: str


@dataclass
class ChainReport:
    """What walking the chain found: problems, where it ends, and the facts it vouches for."""

    problems: list[ChainProblem] = field(default_factory=list)
    count: int = 0
    last_seq: int = 0
    last_hash: str = GENESIS
    hashes: dict[int, str] = field(default_factory=dict)
    replies: dict[str, tuple[int, dict | None]] = field(default_factory=dict)  # key -> (seq, fields)
    probes: dict[str, tuple[int, dict | None]] = field(default_factory=dict)
    scores: dict[str, list[tuple[int, str]]] = field(default_factory=dict)  # reply id -> [(seq, fp)]
    # Events logged before facts were fingerprinted (a campaign begun with an older version):
    # rows from that time have no fingerprint to compare, which accuses nobody.
    legacy: bool = False


# Events that always carry facts since fingerprints exist: seen without, they predate them.
_FACT_KINDS = frozenset({"plan.created", "reply.recorded", "score.auto", "audit.override",
                         "audit.import", "probe.sent", "probe.dispatching"})


def walk_chain(session: Session, campaign_id: int) -> ChainReport:
    """Recompute every event's hash and gather the facts the chain records, in order."""
    out = ChainReport()
    prev = GENESIS
    expected_seq = 1
    rows = session.exec(
        select(Event).where(Event.campaign_id == campaign_id).order_by(Event.seq)  # type: ignore[arg-type]
    )
    for ev in rows:
        out.count += 1
        if ev.seq != expected_seq:
            out.problems.append(ChainProblem(ev.seq, f"event(s) {expected_seq}..{ev.seq - 1} are missing"))
        if ev.prev_hash != prev:
            out.problems.append(ChainProblem(ev.seq, f"event {ev.seq} ({ev.kind}) does not follow its predecessor"))
        assert ev.at is not None
        recomputed = _digest(ev.prev_hash, ev.seq, ev.at, ev.kind, ev.subject, ev.payload)
        if recomputed != ev.hash:
            out.problems.append(ChainProblem(ev.seq, f"event {ev.seq} ({ev.kind} {ev.subject}) was rewritten"))
        if ev.kind == "match.rejected":  # the rejected reply's scores were deleted with it
            out.scores.pop(str((ev.payload or {}).get("reply_id")), None)
        facts = (ev.payload or {}).get("facts") or {}
        if not facts and not (out.replies or out.probes or out.scores) and ev.kind in _FACT_KINDS:
            out.legacy = True
        for key, fields in (facts.get("reply") or {}).items():
            out.replies[key] = (ev.seq, fields)
        for key, fields in (facts.get("probe") or {}).items():
            out.probes[key] = (ev.seq, fields)
        for key, digests in (facts.get("score") or {}).items():
            out.scores.setdefault(key, []).extend((ev.seq, d) for d in digests)
        out.hashes[ev.seq] = ev.hash
        prev = ev.hash
        expected_seq = ev.seq + 1
        out.last_seq, out.last_hash = ev.seq, ev.hash
    return out


def verify_chain(session: Session, campaign_id: int) -> list[ChainProblem]:
    """Return the events that were rewritten, removed or moved (the head checked too)."""
    report = walk_chain(session, campaign_id)
    return report.problems + head_problems(session, campaign_id, report)


def head_problems(session: Session, campaign_id: int, chain: ChainReport) -> list[ChainProblem]:
    """Compare where the chain ends with the head checkpoint moved by every append."""
    head = session.get(EventHead, campaign_id)
    if head is None:
        if chain.count:
            return [ChainProblem(chain.last_seq, "the head checkpoint (table eventhead) is missing")]
        return []
    if head.seq == chain.last_seq and head.hash == chain.last_hash:
        return []
    if head.seq > chain.last_seq:
        if chain.count == 0:
            return [ChainProblem(0, f"all {head.seq} events were deleted (the head checkpoint "
                                    f"says the log reached event {head.seq})")]
        return [ChainProblem(chain.last_seq, f"events {chain.last_seq + 1}..{head.seq} were "
                                             f"deleted: the log ends at event {chain.last_seq} but "
                                             f"its head checkpoint says {head.seq}")]
    if head.seq < chain.last_seq:
        return [ChainProblem(chain.last_seq, f"events {head.seq + 1}..{chain.last_seq} were added "
                                             f"outside qualibench (the head checkpoint says {head.seq})")]
    return [ChainProblem(head.seq, f"event {head.seq} is not the one the head checkpoint recorded")]


def event_count(session: Session, campaign_id: int) -> int:
    return session.exec(select(func.count()).select_from(Event).where(Event.campaign_id == campaign_id)).one()


@contextlib.contextmanager
def chain_in_memory(session: Session) -> Iterator[None]:
    """Kept for callers written before events were chained at commit: every event is now
    queued in memory and chained once, under the head lock, when the transaction commits."""
    yield
