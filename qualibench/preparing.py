"""Stored messages prepared (parsed, classified: mail.prepare) in worker processes or here.

A `Preparer` takes stored messages by inbound id and gives back their Prepared form (or the
exception that set each aside). With enough messages it hands them to a pool of worker
processes (mail.parser_pool), so they are prepared while this process fetches and records;
otherwise it prepares them here, when asked for them. Either way the same function runs.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING

from .errors import QualibenchError
from .mail.bounds import MAX_PARSE_BYTES

if TYPE_CHECKING:
    from .mail.parser_pool import ParserPool
    from .mail.prepare import Prepared
    from .workspace import Workspace

# Starting the workers costs about half a second of processor time, what preparing a batch
# here costs: below this many messages in one collect they are prepared in this process.
WORKERS_FROM = 250
# Raw bytes read from the database store per round trip: one query per group of messages
# instead of one per message, bounded so a batch of large messages is never held at once.
PREFETCH_BYTES = 16 * 1024 * 1024


@dataclass(frozen=True)
class Stored:
    """One stored message to prepare: its digest and size, and its bytes when at hand."""

    sha256: str
    size: int
    raw: bytes | None = None


def prepare_stored(ws: Workspace, item: Stored) -> Prepared | Exception:
    """Give back the Prepared form of one stored e-mail here, or the exception that sets it
    aside (unparseable, over budget, a parser bug); a missing raw message raises."""
    from .mail.prepare import prepare, prepare_file

    try:
        if item.raw is not None:
            return prepare(item.raw)
        if ws.evidence.kind == "folder":
            path = ws.evidence.file_of(item.sha256)  # type: ignore[union-attr]
            if path is None:  # in a pack (or missing: the one-line error)
                return prepare(ws.evidence.get(item.sha256))
            return prepare_file(path, item.size)
        if item.size > MAX_PARSE_BYTES:  # mapped from a spooled copy, never read whole
            with _spooled(ws, item.sha256) as path:
                return prepare_file(path, item.size)
        return prepare(ws.evidence.get(item.sha256))
    except QualibenchError as exc:
        if type(exc).__name__ == "UnparseableMessage":
            return exc
        raise  # missing evidence: not the message's fault
    except Exception as exc:  # a parser bug on one odd message must not block the others
        return exc


@contextlib.contextmanager
def _spooled(ws: Workspace, digest: str) -> Iterator[str]:
    """Copy a stored message of the database store to a temporary file a part at a time (see
    DatabaseEvidenceStore.put_stream), and give its name; the file goes when the block ends."""
    fd, name = tempfile.mkstemp(prefix="qualibench-mail-", suffix=".eml")
    try:
        with os.fdopen(fd, "wb") as fh:
            ws.evidence.copy_to(digest, fh)  # type: ignore[union-attr]
        yield name
    finally:
        with contextlib.suppress(OSError):
            os.unlink(name)


class Preparer:
    """Prepares stored messages by inbound id: `submit` them, then ask for their `results`."""

    def __init__(self, ws: Workspace, *, expected: int = 0) -> None:
        self.ws = ws
        self.expected = expected  # messages this run will submit, when known
        self._pool: ParserPool | None = None
        self._here: dict[int, Stored] = {}  # submitted, to prepare in this process when asked
        self._items: dict[int, Stored] = {}  # submitted to the pool, for a missing-file error
        self.submitted = 0
        self.in_process_only = False  # set when the workers could not work (PoolBroken)
        self._stack = contextlib.ExitStack()  # spooled copies of large mails, until answered
        self._spools: dict[int, str] = {}
        self.warning = ""
        self._starting: threading.Thread | None = None  # the workers being started (`warm`)
        self._started: ParserPool | BaseException | None = None

    @property
    def pooled(self) -> bool:
        return self._pool is not None

    def warm(self, coming: int) -> None:
        """Start the worker processes now, in the background, when `coming` more messages
        are to be submitted and that pays for them: starting them takes the best part of a
        second (their fork server imports the parser), which the caller spends fetching."""
        if self._pool is not None or self._starting is not None or self.in_process_only:
            return
        from .mail.parser_pool import worker_count

        workers = worker_count(self.submitted + coming, threshold=WORKERS_FROM)
        if workers == 0:
            return

        def start() -> None:
            from .mail.parser_pool import ParserPool

            try:
                self._started = ParserPool(workers)
            except BaseException as exc:  # given to the caller at its next submit
                self._started = exc

        self._starting = threading.Thread(target=start, name="parser pool start", daemon=True)
        self._starting.start()

    def _take_started(self) -> None:
        if self._starting is None:
            return
        self._starting.join()
        self._starting, started, self._started = None, self._started, None
        if isinstance(started, BaseException):
            raise started
        self._pool = started

    def submit(self, items: dict[int, Stored]) -> None:
        """Start preparing `items` (inbound id -> Stored): in the workers when they pay."""
        self.submitted += len(items)
        self._take_started()
        if self._pool is None and items and not self.in_process_only:
            from .mail.parser_pool import worker_count

            # Asked again at each submit: a first collect learns its size as it fetches.
            workers = worker_count(max(self.expected, self.submitted), threshold=WORKERS_FROM)
            if workers == 0 and any(i.size > MAX_PARSE_BYTES for i in items.values()) \
                    and os.environ.get("QUALIBENCH_PARSE_WORKERS") != "0":
                # A large mail is parsed in a worker however few there are: the pages it maps
                # stay out of the collector's memory, and a stall there can be killed.
                workers = 1
            if workers > 0:
                from .mail.parser_pool import ParserPool

                self._pool = ParserPool(workers)
        if self._pool is None:
            self._here.update(items)
            return
        payloads: list[tuple[int, object]] = []
        for inbound_id, item in items.items():
            self._items[inbound_id] = item
            payloads.append((inbound_id, item))
        from .mail.parser_pool import PoolBroken

        try:
            self._pool.submit(list(self._payloads(payloads)))
        except PoolBroken as exc:
            self._give_up(exc)

    def _payloads(self, pairs: list[tuple[int, Stored]]) -> Iterator[tuple[int, object]]:
        """Give each message to the workers as bytes, or as a file name for the folder store
        (the worker reads it); database-store bytes are read here, a group per round trip."""
        unread = [(i, s) for i, s in pairs if s.raw is None]
        raws: dict[str, bytes] = {}
        if unread and self.ws.evidence.kind != "folder":
            group: list[str] = []
            size = 0
            for _, s in (pair for pair in unread if pair[1].size <= MAX_PARSE_BYTES):
                if group and size + s.size > PREFETCH_BYTES:
                    raws.update(self.ws.evidence.get_many(group))
                    group, size = [], 0
                group.append(s.sha256)
                size += s.size
            if group:
                raws.update(self.ws.evidence.get_many(group))
        for inbound_id, s in pairs:
            if s.raw is not None:
                yield inbound_id, s.raw
            elif s.sha256 in raws:
                yield inbound_id, raws[s.sha256]
            elif self.ws.evidence.kind == "folder":
                # A file of its own is read (or mapped) by the worker; a pack's record here.
                path = self.ws.evidence.file_of(s.sha256)  # type: ignore[union-attr]
                yield inbound_id, (path, s.size) if path is not None else self.ws.evidence.get(s.sha256)
            else:  # a large mail of the database store: the worker maps a spooled copy
                spool = self._stack.enter_context(_spooled(self.ws, s.sha256))
                self._spools[inbound_id] = spool
                yield inbound_id, (spool, s.size)

    def results(self, ids: list[int]) -> dict[int, Prepared | Exception]:
        """Give back the Prepared form (or the exception) of each submitted id in `ids`."""
        from .mail.prepare import from_payload_result

        out: dict[int, Prepared | Exception] = {}
        for group in self._groups([i for i in ids if i in self._here]):
            for i in group:
                out[i] = prepare_stored(self.ws, self._here.pop(i))
        pooled = [i for i in ids if i in self._items]
        if pooled and self._pool is not None:
            from .mail.parser_pool import PoolBroken

            try:
                got_all = self._pool.results(pooled)
            except PoolBroken as exc:
                self._give_up(exc)
                return {**out, **self.results(pooled)}
            for i, got in got_all.items():
                item = self._items.pop(i)
                if i in self._spools:
                    with contextlib.suppress(OSError):
                        os.unlink(self._spools.pop(i))
                result = from_payload_result(got)
                if isinstance(result, FileNotFoundError):
                    self.ws.evidence.get(item.sha256)  # raises the one-line "missing evidence" error
                out[i] = result
        return out

    def _give_up(self, exc: Exception) -> None:
        """The workers could not work: prepare everything here from now on (slower, not wrong)."""
        self.warning = f"parsing went on in the main process: {exc}"
        self.close()
        self.in_process_only = True
        self._here.update(self._items)
        self._items.clear()

    def _groups(self, ids: list[int]) -> Iterator[list[int]]:
        """Give `ids` back in groups whose database-store bytes are read with one query each
        (at most PREFETCH_BYTES at once); folder-store files are read one by one."""
        if self.ws.evidence.kind == "folder":
            yield from ([i] for i in ids)
            return
        left = list(ids)
        while left:
            part, size = [], 0
            while left and (not part or size + self._here[left[0]].size <= PREFETCH_BYTES):
                part.append(left.pop(0))
                size += self._here[part[-1]].size
            unread = [i for i in part if self._here[i].raw is None
                      and self._here[i].size <= MAX_PARSE_BYTES]
            if len(unread) > 1:
                raws = self.ws.evidence.get_many([self._here[i].sha256 for i in unread])
                for i in unread:
                    s = self._here[i]
                    self._here[i] = Stored(s.sha256, s.size, raws[s.sha256])
            yield part

    def close(self) -> None:
        with contextlib.suppress(Exception):  # a start that failed has nothing to close
            self._take_started()
        if self._pool is not None:
            self._pool.close()
            self._pool = None
        self._stack.close()
        self._spools.clear()


@contextlib.contextmanager
def preparer(ws: Workspace, *, expected: int = 0) -> Iterator[Preparer]:
    """A Preparer whose worker processes (if any) stop when the block ends."""
    p = Preparer(ws, expected=expected)
    try:
        yield p
    finally:
        p.close()
