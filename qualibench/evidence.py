"""Content-addressed stores of raw evidence: bytes first, parsing after (and redoable).

Two stores share one interface (`put`, `put_many`, `get`, `get_many`, `exists`, `verify`,
`where`):
- `EvidenceStore`: the campaign folder's `evidence/` (SQLite default): a batch of messages
  appended to a pack file (`evidence/packs/`, see evidence_pack), a single item or a large
  mail a file of its own under `evidence/ab/cdef...` (as every item was before packs: such
  stores read as they are);
- `DatabaseEvidenceStore`: rows of the `evidenceblob` table (bytea on PostgreSQL), so every
  machine of a team reads what any of them collected. Chosen by default when the campaign's
  database is PostgreSQL; `[evidence] store = "folder"` in campaign.toml keeps the folder.
Both write the bytes durably (committed / fsynced) before `put` returns, so an index row that
names a digest never points at nothing.
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import os
import tempfile
import uuid
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import BinaryIO

from sqlalchemy import delete as sa_delete
from sqlalchemy import select as sa_select
from sqlalchemy import update as sa_update
from sqlalchemy.engine import Engine
from sqlmodel import Session, select

from .clock import Clock, SystemClock
from .errors import QualibenchError
from .evidence_pack import Packs, sync_dir
from .models import Evidence, EvidenceBlob


def sha256_hex(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def sync_filesystem(folder: Path) -> None:
    """Flush the file system that holds `folder` to disk: the bytes and names of a batch of
    evidence files in one call. Linux's syncfs flushes that one file system; os.sync (the
    fallback where libc has no syncfs) would wait for every disk of the machine, which on a
    shared machine means other people's writes too."""
    syncfs = _libc_syncfs()
    if syncfs is None:
        os.sync()
        return
    fd = os.open(folder, os.O_RDONLY)
    try:
        if syncfs(fd) != 0:
            import ctypes

            err = ctypes.get_errno()
            raise OSError(err, os.strerror(err))
    finally:
        os.close(fd)


@functools.cache
def _libc_syncfs():  # noqa: ANN202 - libc's syncfs as a ctypes function, or None
    import ctypes

    try:
        return getattr(ctypes.CDLL(None, use_errno=True), "syncfs", None)
    except OSError:
        return None


_CREATE = os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_CLOEXEC


def _missing(digest: str, where: str) -> QualibenchError:
    return QualibenchError(
        f"raw evidence {digest[:12]}… is missing from {where}",
        "restore the evidence from backup; `qualibench verify` lists every gap",
    )


# A blob of a batch larger than this gets a file of its own (the parser maps such files).
LOOSE_BYTES = 1024 * 1024


class EvidenceStore:
    """Raw bytes by SHA-256 under `root`: batches in pack files, single items and large mails
    as files `root/ab/cdef...` named by the digest (written atomically)."""

    kind = "folder"

    def __init__(self, root: Path) -> None:
        self.root = Path(root)
        # The two-letter folders known to exist: a first collect would otherwise ask for each
        # of the 256 once per batch. (Folders are never removed while a store is open.)
        self._made: set[str] = set()
        self.packs = Packs(os.path.join(os.fspath(self.root), "packs"))

    def path_for(self, digest: str) -> Path:
        """The file `digest` has (or would have) of its own."""
        return self.root / digest[:2] / digest[2:]

    def file_of(self, digest: str) -> str | None:
        """Return the name of the file holding `digest` alone, or None (in a pack, or missing)."""
        path = f"{self.root}/{digest[:2]}/{digest[2:]}"
        return path if os.path.exists(path) else None

    def where(self, digest: str) -> str:
        """Say where `digest` lives, for messages."""
        if self.file_of(digest) is None:
            in_pack = self.packs.where(digest)
            if in_pack is not None:
                return in_pack
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
        """Store a batch; return the SHA-256s in order. Durable once this returns: the batch
        is appended to a pack file with one fdatasync (one file and one rename a message
        were most of a first collect's processing time); a blob over LOOSE_BYTES gets a file
        of its own. The same bytes twice in a batch are stored once; bytes stored by an earlier
        batch may be appended again (the caller skips what the database already indexes)."""
        digests = [sha256_hex(b) for b in blobs]
        seen: set[str] = set()
        packed: list[tuple[str, bytes]] = []
        loose: list[tuple[str, bytes]] = []
        for data, digest in zip(blobs, digests, strict=True):
            if digest in seen:
                continue
            seen.add(digest)
            (loose if len(data) > LOOSE_BYTES else packed).append((digest, data))
        try:
            self.packs.append(packed)
        except OSError as exc:
            raise self._write_error(exc) from None
        if loose:
            self._put_files(loose)
        return digests

    def _put_files(self, items: list[tuple[str, bytes]]) -> None:
        """Write each blob to a file of its own, durably with two syncs for the lot.

        Plain string paths and one temporary name per digest (this process's, so a file
        left by a killed run is simply overwritten)."""
        root = os.fspath(self.root)
        pending: list[tuple[str, str]] = []
        made = self._made
        suffix = f".{os.getpid()}"
        try:
            for digest, data in items:
                folder = f"{root}/{digest[:2]}"
                target = f"{folder}/{digest[2:]}"
                try:
                    if os.stat(target).st_size == len(data):
                        continue
                except FileNotFoundError:
                    pass
                if folder not in made:
                    os.makedirs(folder, exist_ok=True)
                    made.add(folder)
                tmp = f"{folder}/.tmp-{digest[2:]}{suffix}"
                try:
                    fd = os.open(tmp, _CREATE, 0o600)
                except FileNotFoundError:  # the folder went since (removed by hand)
                    made.discard(folder)
                    os.makedirs(folder, exist_ok=True)
                    made.add(folder)
                    fd = os.open(tmp, _CREATE, 0o600)
                pending.append((tmp, target))
                try:
                    view = memoryview(data)
                    while view:
                        view = view[os.write(fd, view):]
                finally:
                    os.close(fd)
            if pending:
                sync_filesystem(self.root)  # the bytes, before any name points at them
                for tmp, target in pending:
                    os.replace(tmp, target)
                sync_filesystem(self.root)  # the names, before the database says they exist
        except OSError as exc:
            for tmp, _ in pending:
                with contextlib.suppress(OSError):
                    os.unlink(tmp)
            raise self._write_error(exc) from None

    def put_stream(self, chunks: Iterable[bytes]) -> tuple[str, int]:
        """Store bytes given piece by piece (a large mail as it is fetched) without holding
        them; return (SHA-256, size). Durable once this returns, like `put`."""
        incoming = self.root / ".incoming"
        h = hashlib.sha256()
        size = 0
        try:
            incoming.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(dir=incoming, prefix=".tmp-")
            try:
                with os.fdopen(fd, "wb") as fh:
                    for chunk in chunks:
                        h.update(chunk)
                        size += len(chunk)
                        fh.write(chunk)
                    fh.flush()
                    os.fsync(fh.fileno())
                digest = h.hexdigest()
                target = self.path_for(digest)
                if target.exists() and target.stat().st_size == size:
                    Path(tmp).unlink()
                    return digest, size
                target.parent.mkdir(parents=True, exist_ok=True)
                os.replace(tmp, target)
            except BaseException:
                Path(tmp).unlink(missing_ok=True)
                raise
            sync_dir(target.parent)  # the name, before the database says it exists
        except OSError as exc:
            raise self._write_error(exc) from None
        return digest, size

    def get(self, digest: str) -> bytes:
        try:
            return self.path_for(digest).read_bytes()
        except FileNotFoundError:
            pass
        data = self.packs.read(digest)
        if data is None:
            raise _missing(digest, str(self.root))
        return data

    def get_many(self, digests: list[str]) -> dict[str, bytes]:
        """Return the bytes of each digest (one read each: files need no round trip)."""
        return {d: self.get(d) for d in dict.fromkeys(digests)}

    def exists(self, digest: str) -> bool:
        return self.file_of(digest) is not None or self.packs.locate(digest) is not None

    def verify(self, digest: str) -> bool:
        """Return True when the stored bytes still hash to `digest`."""
        path = self.file_of(digest)
        h = hashlib.sha256()
        if path is None:
            data = self.packs.read(digest)
            if data is None:
                return False
            h.update(data)
            return h.hexdigest() == digest
        with open(path, "rb") as fh:
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

    def put_stream(self, chunks: Iterable[bytes]) -> tuple[str, int]:
        """Store bytes given piece by piece (a large mail as it is fetched) without holding
        them; return (SHA-256, size). Durable once this returns, like `put`.

        They are kept as parts of at most PART_BYTES, rows of their own (`<digest>.partNNNNN`)
        under a small manifest row named by the digest (see `_parts_of`): each part is written
        under a temporary name while the digest is not yet known, then all are renamed at once.
        """
        from .db import insert_ignore

        h = hashlib.sha256()
        size = 0
        stamp = f"incoming.{uuid.uuid4().hex}"
        names: list[str] = []
        pending = bytearray()

        def write(part: bytes) -> None:
            name = f"{stamp}.part{len(names):05d}"
            with Session(self.engine) as s:
                s.add(EvidenceBlob(sha256=name, data=part))
                s.commit()
            names.append(name)

        try:
            for chunk in chunks:
                h.update(chunk)
                size += len(chunk)
                pending += chunk
                while len(pending) >= PART_BYTES:
                    write(bytes(pending[:PART_BYTES]))
                    del pending[:PART_BYTES]
            if pending or not names:
                write(bytes(pending))
            pending = bytearray()
            digest = h.hexdigest()
            with Session(self.engine) as s:
                if s.get(EvidenceBlob, digest) is None:
                    for k, name in enumerate(names):
                        s.execute(sa_update(EvidenceBlob).where(EvidenceBlob.sha256 == name)
                                  .values(sha256=f"{digest}.part{k:05d}"))
                    insert_ignore(s, EvidenceBlob, [{"sha256": digest, "data": _manifest(len(names), size)}],
                                  keys=["sha256"])
                    s.commit()
                    names = []
        finally:
            if names:  # already stored (by this machine or another): the copy goes
                with Session(self.engine) as s:
                    s.execute(sa_delete(EvidenceBlob).where(EvidenceBlob.sha256.in_(names)))  # type: ignore[attr-defined]
                    s.commit()
        return digest, size

    def _parts_of(self, digest: str, data: bytes) -> list[str] | None:
        """Return the names of the parts when `data` is the manifest row of `digest`, else None."""
        if not data.startswith(_PARTS) or len(data) > 200 or sha256_hex(data) == digest:
            return None
        count = int(data[len(_PARTS):].split(b":")[0])
        return [f"{digest}.part{k:05d}" for k in range(count)]

    def _chunks(self, digest: str) -> Iterator[bytes]:
        with self.engine.connect() as c:
            data = c.execute(sa_select(EvidenceBlob.data).where(EvidenceBlob.sha256 == digest)).scalar()
        if data is None:
            raise _missing(digest, "the database")
        parts = self._parts_of(digest, bytes(data))
        if parts is None:
            yield bytes(data)
            return
        for name in parts:
            with self.engine.connect() as c:
                part = c.execute(sa_select(EvidenceBlob.data).where(EvidenceBlob.sha256 == name)).scalar()
            if part is None:
                raise _missing(digest, "the database")
            yield bytes(part)

    def copy_to(self, digest: str, fh: BinaryIO) -> int:
        """Write the bytes of `digest` to an open file a part at a time; return their size."""
        size = 0
        for chunk in self._chunks(digest):
            fh.write(chunk)
            size += len(chunk)
        return size

    def get(self, digest: str) -> bytes:
        return b"".join(self._chunks(digest))

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
        for digest, data in list(found.items()):
            if self._parts_of(digest, data) is not None:  # a large mail kept in parts
                found[digest] = self.get(digest)
        for digest in wanted:
            if digest not in found:
                raise _missing(digest, "the database")
        return found

    def exists(self, digest: str) -> bool:
        with self.engine.connect() as c:
            return c.execute(sa_select(EvidenceBlob.sha256).where(EvidenceBlob.sha256 == digest)).first() is not None

    def verify(self, digest: str) -> bool:
        h = hashlib.sha256()
        try:
            for chunk in self._chunks(digest):
                h.update(chunk)
        except QualibenchError:
            return False
        return h.hexdigest() == digest


# A large mail in the database store is kept in parts of this size (rows of their own).
PART_BYTES = 4 * 1024 * 1024
_PARTS = b"\x00qualibench-parts:"


def _manifest(count: int, size: int) -> bytes:
    return _PARTS + f"{count}:{size}".encode()


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
