"""Group commit of the raw evidence a send run writes: one sync per transaction, not per file.

A send writes evidence (the e-mail as sent, the pages of a web form, the X exchange) that the
probe's outcome names by digest. The bytes must be durable before any row naming them commits;
they need not be durable earlier. `grouped_evidence(ws)` puts a `GroupedEvidence` in front of the
workspace's store for the run: `put` writes the file under a temporary name and returns its
digest at once, and the pending files are made durable together (sync the bytes, rename them
into place, sync the names) just before the next database commit of this process, whichever
session makes it (a hook on every ORM session's `before_commit`). So the batch of outcomes that
commits in one transaction costs two syncs instead of one fsync per file, and crash safety is
unchanged: a kill before that commit leaves only temporary files, which no row names.

On PostgreSQL (evidence in the database) the pending blobs are inserted in one transaction of
their own, committed before the one that names them, as `put` did blob by blob.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

from sqlalchemy import event as sa_event
from sqlalchemy.orm import Session as OrmSession
from sqlmodel import Session

from .clock import Clock
from .evidence import AnyEvidenceStore, EvidenceStore, sha256_hex, sync_filesystem
from .models import Evidence

if TYPE_CHECKING:
    from .workspace import Workspace

_ACTIVE: set[GroupedEvidence] = set()
_ACTIVE_LOCK = threading.Lock()


class GroupedEvidence:
    """The run's evidence store: writes now, durable at the next commit (see the module doc)."""

    def __init__(self, inner: AnyEvidenceStore) -> None:
        self.inner = inner
        self.kind = inner.kind
        self._lock = threading.RLock()
        self._files: dict[str, tuple[Path, Path]] = {}  # digest -> (temporary file, its name)
        self._blobs: dict[str, bytes] = {}  # database store: digest -> bytes
        self._flushing = False
        self._index: dict[str, tuple[int, str]] = {}  # digest -> (size, media type) to index

    def index_later(self, data: bytes, media_type: str) -> str:
        """Put `data` and index it (table evidence) in the next transaction of the send loop
        (`write_index`), instead of a transaction of its own per item."""
        digest = self.put(data)
        with self._lock:
            self._index.setdefault(digest, (len(data), media_type))
        return digest

    def write_index(self, session: Session, clock: Clock) -> None:
        """Insert the index rows waiting (the caller commits, which makes the files durable
        first)."""
        from .db import insert_ignore

        with self._lock:
            rows, self._index = self._index, {}
        if rows:
            now = clock.now()
            insert_ignore(session, Evidence, [
                {"sha256": d, "size": size, "media_type": media, "stored_at": now}
                for d, (size, media) in rows.items()], keys=["sha256"])

    def where(self, digest: str) -> str:
        return self.inner.where(digest)

    def put(self, data: bytes) -> str:
        """Write `data` (idempotent) and return its SHA-256; durable before the next commit."""
        digest = sha256_hex(data)
        with self._lock:
            if digest in self._files or digest in self._blobs:
                return digest
            if not isinstance(self.inner, EvidenceStore):
                self._blobs[digest] = data
                return digest
            target = self.inner.path_for(digest)
            if target.exists() and target.stat().st_size == len(data):
                return digest
            try:
                target.parent.mkdir(parents=True, exist_ok=True)
                fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=".tmp-")
                with os.fdopen(fd, "wb") as fh:
                    fh.write(data)
            except OSError as exc:
                raise self.inner._write_error(exc) from None
            self._files[digest] = (Path(tmp), target)
        return digest

    def put_many(self, blobs: list[bytes]) -> list[str]:
        return [self.put(b) for b in blobs]

    def get(self, digest: str) -> bytes:
        with self._lock:
            if digest in self._blobs:
                return self._blobs[digest]
            if digest in self._files:
                return self._files[digest][0].read_bytes()
        return self.inner.get(digest)

    def exists(self, digest: str) -> bool:
        with self._lock:
            if digest in self._files or digest in self._blobs:
                return True
        return self.inner.exists(digest)

    def verify(self, digest: str) -> bool:
        self.flush()
        return self.inner.verify(digest)

    def flush(self) -> None:
        """Make every pending write durable (two syncs for the lot); a no-op when none is."""
        with self._lock:
            if self._flushing or not (self._files or self._blobs):
                return
            self._flushing = True  # the database store's own commit calls back here
            try:
                if self._blobs:
                    blobs, self._blobs = self._blobs, {}
                    self.inner.put_many(list(blobs.values()))
                if self._files:
                    self._sync_files()
            finally:
                self._flushing = False

    def _sync_files(self) -> None:
        files = self._files
        try:
            root = self.inner.root  # type: ignore[union-attr]
            sync_filesystem(root)  # the bytes, before any name points at them
            for tmp, target in files.values():
                os.replace(tmp, target)
            sync_filesystem(root)  # the names, before the database says they exist
        except OSError as exc:
            for tmp, _ in files.values():
                tmp.unlink(missing_ok=True)
            self._files = {}
            raise self.inner._write_error(exc) from None  # type: ignore[union-attr]
        self._files = {}


@sa_event.listens_for(OrmSession, "before_commit")
def _durable_before_commit(session: OrmSession) -> None:
    with _ACTIVE_LOCK:
        active = list(_ACTIVE)
    for group in active:
        group.flush()


@contextlib.contextmanager
def grouped_evidence(ws: Workspace) -> Iterator[GroupedEvidence]:
    """Put a `GroupedEvidence` in front of `ws.evidence` for the block; flush it at the end."""
    if isinstance(ws.evidence, GroupedEvidence):  # a nested run (reminders): one group
        yield ws.evidence
        return
    group = GroupedEvidence(ws.evidence)
    inner = ws.evidence
    with _ACTIVE_LOCK:
        _ACTIVE.add(group)
    ws.evidence = group  # type: ignore[assignment]
    try:
        yield group
        if group._index:  # items of a send whose outcome was never written
            with ws.session() as s:
                group.write_index(s, ws.clock)
        group.flush()
    except BaseException:
        # Interrupted: what was written is kept (the bytes of a message that may have gone
        # out are worth having); a disk error here must not hide the first one.
        with contextlib.suppress(Exception):
            group.flush()
        raise
    finally:
        ws.evidence = inner
        with _ACTIVE_LOCK:
            _ACTIVE.discard(group)


def keep_evidence(ws: Workspace, data: bytes, media_type: str) -> str:
    """Store and index a channel's raw evidence: grouped with the send loop's next transaction
    during a send run, in a transaction of its own otherwise (a channel called directly)."""
    store = ws.evidence
    if isinstance(store, GroupedEvidence):
        return store.index_later(data, media_type)
    from .evidence import record_evidence

    with ws.session() as s:
        return record_evidence(s, store, data, media_type, ws.clock)
