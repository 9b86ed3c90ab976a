"""Content-addressed stores of raw evidence: bytes first, parsing after (and redoable).

Two stores share one interface (`put`, `put_many`, `get`, `get_many`, `exists`, `verify`,
`where`):
- `EvidenceStore`: files under `evidence/ab/cdef...` in the campaign folder (SQLite default);
- `DatabaseEvidenceStore`: rows of the `evidenceblob` table (bytea on PostgreSQL), so every
  machine of a team reads what any of them collected. Chosen by default when the campaign's
  database is PostgreSQL; `[evidence] store = "folder"` in campaign.toml keeps the folder.
Both write the bytes durably (committed / fsynced) before `put` returns, so an index row that
names a digest never points at nothing.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
from pathlib import Path

from sqlalchemy import select as sa_select
from sqlalchemy.engine import Engine
from sqlmodel import Session, select

from .clock import Clock, SystemClock
from .errors import QualibenchError
from .models import Evidence, EvidenceBlob


def sha256_hex(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _missing(digest: str, where: str) -> QualibenchError:
    return QualibenchError(
        f"raw evidence {digest[:12]}… is missing from {where}",
        "restore the evidence from backup; `qualibench verify` lists every gap",
    )


class EvidenceStore:
    """Files under `root/ab/cdef...` named by the SHA-256 of their bytes; written atomically."""

    kind = "folder"

    def __init__(self, root: Path) -> None:
        self.root = Path(root)

    def path_for(self, digest: str) -> Path:
        return self.root / digest[:2] / digest[2:]

    def where(self, digest: str) -> str:
        """Say where `digest` lives, for messages."""
        return str(self.path_for(digest))

    def put(self, data: bytes) -> str:
        """Store `data` (idempotent) and return its SHA-256; durable once this returns."""
        digest = sha256_hex(data)
        target = self.path_for(digest)
        if target.exists() and target.stat().st_size == len(data):
            return digest
        try:
            target.parent.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=".tmp-")
            try:
                with os.fdopen(fd, "wb") as fh:
                    fh.write(data)
                    fh.flush()
                    os.fsync(fh.fileno())
                os.replace(tmp, target)
            except BaseException:
                Path(tmp).unlink(missing_ok=True)
                raise
        except OSError as exc:
            raise self._write_error(exc) from None
        return digest

    def _write_error(self, exc: OSError) -> QualibenchError:
        return QualibenchError(
            f"cannot write raw evidence to {self.root}: {exc.strerror or exc}",
            "free disk space or fix the folder's permissions, then rerun; nothing was lost",
        )

    def put_many(self, blobs: list[bytes]) -> list[str]:
        """Store a batch; return the SHA-256s in order. Durable with two syncs per batch
        instead of one fsync per file (6 ms each on a busy disk: most of a first collect)."""
        digests = [sha256_hex(b) for b in blobs]
        pending: list[tuple[Path, Path]] = []
        try:
            for data, digest in zip(blobs, digests, strict=True):
                target = self.path_for(digest)
                if target.exists() and target.stat().st_size == len(data):
                    continue
                target.parent.mkdir(parents=True, exist_ok=True)
                fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=".tmp-")
                with os.fdopen(fd, "wb") as fh:
                    fh.write(data)
                pending.append((Path(tmp), target))
            if pending:
                os.sync()  # the bytes, before any name points at them
                for tmp, target in pending:
                    os.replace(tmp, target)
                os.sync()  # the names, before the database says they exist
        except OSError as exc:
            for tmp, _ in pending:
                tmp.unlink(missing_ok=True)
            raise self._write_error(exc) from None
        return digests

    def get(self, digest: str) -> bytes:
        try:
            return self.path_for(digest).read_bytes()
        except FileNotFoundError:
            raise _missing(digest, str(self.root)) from None

    def get_many(self, digests: list[str]) -> dict[str, bytes]:
        """Return the bytes of each digest (one read each: files need no round trip)."""
        return {d: self.get(d) for d in dict.fromkeys(digests)}

    def exists(self, digest: str) -> bool:
        return self.path_for(digest).exists()

    def verify(self, digest: str) -> bool:
        """Return True when the stored bytes still hash to `digest`."""
        path = self.path_for(digest)
        if not path.exists():
            return False
        h = hashlib.sha256()
        with path.open("rb") as fh:
            for chunk in iter(lambda: fh.read(1 << 20), b""):
                h.update(chunk)
        return h.hexdigest() == digest


class DatabaseEvidenceStore:
    """Raw bytes in the `evidenceblob` table, each write committed on its own connection first."""

    kind = "database"

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def where(self, digest: str) -> str:
        return f"the database (evidenceblob {digest[:12]}…)"

    def put(self, data: bytes) -> str:
        return self.put_many([data])[0]

    def put_many(self, blobs: list[bytes]) -> list[str]:
        from .db import insert_ignore

        digests = [sha256_hex(b) for b in blobs]
        rows = list({d: {"sha256": d, "data": b} for d, b in zip(digests, blobs, strict=True)}.values())
        with Session(self.engine) as s:
            for lo in range(0, len(rows), 200):  # bounded statements for big batches
                insert_ignore(s, EvidenceBlob, rows[lo:lo + 200], keys=["sha256"])
            s.commit()
        return digests

    def get(self, digest: str) -> bytes:
        with self.engine.connect() as c:
            data = c.execute(sa_select(EvidenceBlob.data).where(EvidenceBlob.sha256 == digest)).scalar()
        if data is None:
            raise _missing(digest, "the database")
        return bytes(data)

    def get_many(self, digests: list[str]) -> dict[str, bytes]:
        """Return the bytes of each digest with one query per 200 (a batch of messages is read
        in a few round trips instead of one per message); a missing one raises as `get` does."""
        wanted = list(dict.fromkeys(digests))
        found: dict[str, bytes] = {}
        with self.engine.connect() as c:
            for lo in range(0, len(wanted), 200):
                part = wanted[lo:lo + 200]
                for digest, data in c.execute(sa_select(EvidenceBlob.sha256, EvidenceBlob.data)
                                              .where(EvidenceBlob.sha256.in_(part))):  # type: ignore[attr-defined]
                    found[digest] = bytes(data)
        for digest in wanted:
            if digest not in found:
                raise _missing(digest, "the database")
        return found

    def exists(self, digest: str) -> bool:
        with self.engine.connect() as c:
            return c.execute(sa_select(EvidenceBlob.sha256).where(EvidenceBlob.sha256 == digest)).first() is not None

    def verify(self, digest: str) -> bool:
        try:
            return sha256_hex(self.get(digest)) == digest
        except QualibenchError:
            return False


AnyEvidenceStore = EvidenceStore | DatabaseEvidenceStore


def open_store(folder: Path, engine: Engine, choice: str | None = None) -> AnyEvidenceStore:
    """Return the store of a campaign: `choice` ("folder"/"database"), else by database kind."""
    if choice is None:
        choice = "database" if engine.dialect.name == "postgresql" else "folder"
    if choice == "database":
        return DatabaseEvidenceStore(engine)
    if choice != "folder":
        raise QualibenchError(f"unknown evidence store {choice!r}",
                              'set [evidence] store = "folder" or "database" in campaign.toml')
    return EvidenceStore(folder / "evidence")


def record_evidence(
    session: Session,
    store: AnyEvidenceStore,
    data: bytes,
    media_type: str,
    clock: Clock | None = None,
) -> str:
    """Store `data` in the evidence store and index it in the database; return the SHA-256."""
    from .db import insert_ignore

    digest = store.put(data)
    exists = session.exec(select(Evidence.id).where(Evidence.sha256 == digest)).first()
    if exists is None:
        # Another machine may index the same bytes at the same moment: the second is a no-op.
        insert_ignore(session, Evidence, [{"sha256": digest, "size": len(data), "media_type": media_type,
                                           "stored_at": (clock or SystemClock()).now()}],
                      keys=["sha256"])
    return digest
