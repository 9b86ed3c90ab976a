"""Content-addressed store of raw evidence: bytes first, parsing after (and redoable)."""

from __future__ import annotations

import hashlib
import os
import tempfile
from pathlib import Path

from sqlmodel import Session, select

from .clock import Clock, SystemClock
from .errors import QualibenchError
from .models import Evidence


def sha256_hex(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


class EvidenceStore:
    """Files under `root/ab/cdef...` named by the SHA-256 of their bytes; written atomically."""

    def __init__(self, root: Path) -> None:
        self.root = Path(root)

    def path_for(self, digest: str) -> Path:
        return self.root / digest[:2] / digest[2:]

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
            raise QualibenchError(
                f"cannot write raw evidence to {self.root}: {exc.strerror or exc}",
                "free disk space or fix the folder's permissions, then rerun; nothing was lost",
            ) from None
        return digest

    def get(self, digest: str) -> bytes:
        path = self.path_for(digest)
        try:
            return path.read_bytes()
        except FileNotFoundError:
            raise QualibenchError(
                f"raw evidence {digest[:12]}… is missing from {self.root}",
                "restore the evidence folder from backup; `qualibench verify` lists every gap",
            ) from None

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


def record_evidence(
    session: Session,
    store: EvidenceStore,
    data: bytes,
    media_type: str,
    clock: Clock | None = None,
) -> str:
    """Store `data` on disk and index it in the database; return the SHA-256."""
    digest = store.put(data)
    exists = session.exec(select(Evidence.id).where(Evidence.sha256 == digest)).first()
    if exists is None:
        session.add(
            Evidence(
                sha256=digest,
                size=len(data),
                media_type=media_type,
                stored_at=(clock or SystemClock()).now(),
            )
        )
        session.flush()
    return digest
