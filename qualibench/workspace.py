"""The handle on one campaign: its folder, database, evidence store and clock."""

from __future__ import annotations

import fcntl
import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from sqlalchemy.engine import Engine
from sqlmodel import Session, select

from .clock import Clock, SystemClock
from .db import get_engine, resolve_url, session_scope
from .errors import NotFound, QualibenchError
from .evidence import EvidenceStore
from .models import Campaign

CAMPAIGN_FILE = "campaign.toml"


@dataclass
class Workspace:
    """Everything a pipeline step needs. `Workspace.open(folder)` is the usual way in."""

    root: Path
    db_url: str
    engine: Engine
    evidence: EvidenceStore
    clock: Clock = field(default_factory=SystemClock)
    _spec: object | None = None

    @classmethod
    def open(
        cls, root: Path | str | None = None, db_url: str | None = None, clock: Clock | None = None
    ) -> Workspace:
        """Open the campaign folder `root` (default: the current folder)."""
        folder = Path(root or Path.cwd()).resolve()
        url = resolve_url(folder, db_url)
        return cls(
            root=folder,
            db_url=url,
            engine=get_engine(url),
            evidence=EvidenceStore(folder / "evidence"),
            clock=clock or SystemClock(),
        )

    @contextmanager
    def session(self) -> Iterator[Session]:
        with session_scope(self.engine) as s:
            yield s

    def spec(self):  # type: ignore[no-untyped-def]
        """Return the loaded campaign files (CampaignSpec); raises InvalidInput on problems."""
        if self._spec is None:
            from .campaign.loader import load_campaign

            self._spec = load_campaign(self.root)
        return self._spec

    @contextmanager
    def lock(self, name: str, busy: QualibenchError) -> Iterator[None]:
        """Hold the campaign's exclusive `name` lock, or raise `busy` if another run holds it.

        An flock dies with its process, so a run killed with -9 leaves no stale lock.
        """
        fd = os.open(self.root / f".qualibench-{name}.lock", os.O_CREAT | os.O_RDWR, 0o600)
        try:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                raise busy from None
            yield
        finally:
            os.close(fd)

    def campaign(self, session: Session) -> Campaign:
        """Return this folder's campaign row; it exists once `qualibench plan` has run."""
        slug = self.spec().config.slug
        row = session.exec(select(Campaign).where(Campaign.slug == slug)).first()
        if row is None:
            raise NotFound(
                f"campaign {slug!r} has no probes in the database yet",
                "run `qualibench plan` first",
            )
        return row
