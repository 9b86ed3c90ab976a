"""What the collector needs of one raw e-mail, made in one place: here or in a worker process.

Preparing is everything about a message that does not depend on the database: parsing, the
text the scorer rates, the ticket reference and the classification. It is most of a first
collect's processor time, so it runs in worker processes (mail.parser_pool) while the main
process fetches, stores and records; the same function runs in-process for small collects.

Classification depends on the database in one place only: a message that says nothing and
"arrived within seconds" of its request is an auto-reply (classify.INSTANT_REPLY), and the
request's send time is known once the message is matched. So a message is classified as if it
had arrived at once; when that reading is the instant-reply one (and only then) the reading
without timing is kept too, and `classification()` picks the one the real delay gives. Both
come from one reading of the text (classify.classify_at_once).
"""

from __future__ import annotations

import mmap
from dataclasses import dataclass, fields
from datetime import UTC, datetime
from pathlib import Path

from ..kinds import ReplyKind
from .bounds import MAX_PARSE_BYTES, BudgetExceeded, cpu_deadline
from .classify import INSTANT_REPLY, Classification, classify_at_once
from .parse import ParsedMessage, UnparseableMessage, parse_message
from .quotes import for_scoring


@dataclass
class Prepared:
    """One message ready to match and record: its parsed headers, scoring text and kind."""

    msg: ParsedMessage  # headers and addresses; the long texts are dropped (see `prepare`)
    text: str  # what the scorer rates: the reply with its closing formula
    name_block: str  # the signature's name block
    ticket_ref: str  # the brand's ticket reference found in subject or text ("" if none)
    at_once: Classification  # the kind if it arrived within INSTANT_REPLY of its request
    later: Classification | None = None  # the kind otherwise, when it differs

    def classification(self, sent_at: datetime | None, received_at: datetime) -> Classification:
        """Give back the message's Classification knowing its request's send time (None: unknown
        or after the message, which gives no timing hint), as classify() would."""
        if self.later is None:
            return self.at_once
        if sent_at is not None and sent_at <= received_at and received_at - sent_at < INSTANT_REPLY:
            return self.at_once
        return self.later

    def __reduce__(self) -> tuple[object, tuple[object, ...]]:
        # What crosses back from a worker process, as plain tuples: a dataclass pickles every
        # field's name and its class's path (1.4 kB a reply instead of 0.8). The date crosses as
        # its numbers: a datetime pickles three classes by name (datetime, timezone,
        # timedelta), each looked up through the import system on both sides, which took more
        # processor time than all the rest of the message's pickle.
        fields = list(map(vars(self.msg).__getitem__, _MSG_FIELDS))
        date = fields[_DATE]
        if isinstance(date, datetime) and date.tzinfo is UTC:
            fields[_DATE] = (date.year, date.month, date.day, date.hour, date.minute, date.second,
                             date.microsecond, date.fold)
        return _rebuild, (tuple(fields), self.text, self.name_block, self.ticket_ref,
                          _plain(self.at_once), None if self.later is None else _plain(self.later))


_MSG_FIELDS = tuple(f.name for f in fields(ParsedMessage))
_DATE = _MSG_FIELDS.index("date")
_KIND_FIELDS = tuple(f.name for f in fields(Classification))


def _plain(kind: Classification) -> tuple[object, ...]:
    values = list(map(vars(kind).__getitem__, _KIND_FIELDS))
    values[0] = values[0].value  # (the kind by its value: an enum member pickles its class's path)
    return tuple(values)


def _filled(cls: type, names: tuple[str, ...], values: tuple[object, ...]) -> object:
    # The dataclass's fields set as its __init__ sets them (it has no __post_init__).
    obj = object.__new__(cls)
    vars(obj).update(zip(names, values, strict=True))
    return obj


def _kind(values: tuple[object, ...]) -> Classification:
    kind = _filled(Classification, _KIND_FIELDS, values)
    kind.kind = ReplyKind(kind.kind)  # type: ignore[attr-defined]
    return kind  # type: ignore[return-value]


def _rebuild(msg: tuple[object, ...], text: str, name_block: str, ticket_ref: str,
             at_once: tuple[object, ...], later: tuple[object, ...] | None) -> Prepared:
    date = msg[_DATE]
    if isinstance(date, tuple):  # (a UTC date by its numbers: see Prepared.__reduce__)
        *numbers, fold = date
        msg = (*msg[:_DATE], datetime(*numbers, tzinfo=UTC, fold=fold), *msg[_DATE + 1:])  # type: ignore[misc]
    return Prepared(_filled(ParsedMessage, _MSG_FIELDS, msg), text, name_block,  # type: ignore[arg-type]
                    ticket_ref, _kind(at_once), None if later is None else _kind(later))


def prepare(raw: bytes | mmap.mmap) -> Prepared:
    """Give back the Prepared message of raw bytes; raise UnparseableMessage when unusable or
    over the processor-time budget (bounds.CPU_SECONDS for parsing and classifying together)."""
    try:
        with cpu_deadline():
            msg = parse_message(raw)
            # The instant-reply reading is the only one timing can give (see the module doc).
            at_once, later = classify_at_once(msg)
            text, name_block = for_scoring(msg.reply_text, msg.signature)
    except BudgetExceeded as exc:
        raise UnparseableMessage(
            f"{exc} (a message built to stall the parser?)",
            "the raw bytes are kept as evidence; look at them with `qualibench inbox`",
        ) from None
    text = text or msg.text
    # Matching and recording read headers and addresses only: the long texts stay here instead
    # of crossing back from a worker process (blanked in place: the parsed message is ours).
    msg.text = msg.reply_text = msg.signature = msg.quoted = ""
    msg.headers = {}
    return Prepared(msg=msg, text=text, name_block=name_block,
                    ticket_ref=at_once.ticket_ref, at_once=at_once, later=later)


def prepare_file(path: str, size: int) -> Prepared:
    """Give back the Prepared message of a file of the folder evidence store, mapped rather
    than read when large (the parser reads a bounded part of it, bounds.MAX_PARSE_BYTES)."""
    with open(path, "rb") as fh:
        if size <= MAX_PARSE_BYTES:
            return prepare(fh.read())
        with mmap.mmap(fh.fileno(), 0, access=mmap.ACCESS_READ) as mapped:
            return prepare(mapped)


def prepare_payload(payload: bytes | tuple[str, int]) -> object:
    """What a worker process gives back for one message: a Prepared, or a tuple naming the
    failure (exceptions with their hint do not all cross a process boundary intact)."""
    try:
        if isinstance(payload, tuple):
            path, size = payload
            if not Path(path).exists():
                return ("missing", path, "")
            return prepare_file(path, size)
        return prepare(payload)
    except UnparseableMessage as exc:
        return ("unparseable", exc.message, exc.hint or "")
    except RecursionError:
        return ("unparseable", "the message nests deeper than the parser follows", "")
    except Exception as exc:  # a parser bug on one odd message must not block the others
        return ("error", f"{type(exc).__name__}: {exc}", "")


def from_payload_result(result: object) -> Prepared | Exception:
    """Give back the Prepared or the exception a worker's `prepare_payload` result stands for."""
    if isinstance(result, tuple):
        kind, message, hint = result
        if kind == "unparseable":
            return UnparseableMessage(message, hint or None)
        if kind == "missing":
            return FileNotFoundError(message)
        return RuntimeError(message)
    return result  # type: ignore[return-value]
