"""The handle on one campaign: its folder, database, evidence store and clock."""

from __future__ import annotations

import fcntl
import json
import os
import tomllib
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from sqlalchemy.engine import Engine
from sqlmodel import Session, select

from .clock import Clock, SystemClock
from .db import get_engine, resolve_url, session_scope
from .errors import ExitStatus, NotFound, QualibenchError
from .events import HEADS
from .evidence import AnyEvidenceStore, open_store
from .models import Campaign

CAMPAIGN_FILE = "campaign.toml"
ANCHOR_FILE = ".qualibench-anchor.json"
CAMPAIGN_ID_ENV = "QUALIBENCH_CAMPAIGN_ID"


class CampaignChoice(QualibenchError):
    """Which campaign of a shared database to work on is ambiguous or contradictory."""

    exit_status = ExitStatus.USAGE


def _evidence_choice(folder: Path) -> str | None:
    """Return campaign.toml's [evidence] store, if it names one (read without the full loader)."""
    try:
        with (folder / CAMPAIGN_FILE).open("rb") as fh:
            section = tomllib.load(fh).get("evidence", {})
    except (OSError, tomllib.TOMLDecodeError, UnicodeDecodeError):
        return None  # the loader reports a broken file precisely when a command needs it
    choice = section.get("store") if isinstance(section, dict) else None
    return str(choice) if choice else None


@dataclass
class Workspace:
    """Everything a pipeline step needs. `Workspace.open(folder)` is the usual way in."""

    root: Path
    db_url: str
    engine: Engine
    evidence: AnyEvidenceStore
    clock: Clock = field(default_factory=SystemClock)
    _spec: object | None = None
    # --campaign-id: which campaign of a shared database this folder works on (default: the
    # one named by the folder's campaign.toml).
    campaign_id: int | None = None
    _slugs: dict[int, str] = field(default_factory=dict)
    _campaign_row_id: int | None = None

    @classmethod
    def open(
        cls, root: Path | str | None = None, db_url: str | None = None, clock: Clock | None = None,
        campaign_id: int | None = None,
    ) -> Workspace:
        """Open the campaign folder `root` (default: the current folder)."""
        folder = Path(root or Path.cwd()).resolve()
        url = resolve_url(folder, db_url)
        engine = get_engine(url)
        if campaign_id is None and os.environ.get(CAMPAIGN_ID_ENV, "").strip():
            raw = os.environ[CAMPAIGN_ID_ENV].strip()
            if not raw.isdigit():
                raise CampaignChoice(f"${CAMPAIGN_ID_ENV} is {raw!r}, not a campaign id",
                                   "set it to the number `qualibench status` prints, or unset it")
            campaign_id = int(raw)
        return cls(
            root=folder,
            db_url=url,
            engine=engine,
            evidence=open_store(folder, engine, _evidence_choice(folder)),
            clock=clock or SystemClock(),
            campaign_id=campaign_id,
        )

    @property
    def anchor_path(self) -> Path:
        return self.root / ANCHOR_FILE

    @contextmanager
    def session(self) -> Iterator[Session]:
        with session_scope(self.engine) as s:
            yield s
        heads = s.info.pop(HEADS, None)
        if heads:
            self._refresh_anchor(heads)

    def _slug(self, campaign_id: int) -> str | None:
        if campaign_id not in self._slugs:
            with Session(self.engine) as s:  # the caller's session is closed by now
                row = s.get(Campaign, campaign_id)
            if row is None:
                return None
            self._slugs[campaign_id] = row.slug
        return self._slugs[campaign_id]

    def _refresh_anchor(self, heads: dict[int, tuple[int, str]]) -> None:
        """Keep, in the folder, the newest chain head this machine wrote: a copy of the head
        outside the database, so deleting events and the head row together is still seen."""
        if not self.root.is_dir():
            return
        try:
            data = json.loads(self.anchor_path.read_text(encoding="utf-8"))
            campaigns = data.get("campaigns", {}) if isinstance(data, dict) else {}
        except (OSError, ValueError):
            campaigns = {}
        changed = False
        for campaign_id, (seq, digest) in heads.items():
            slug = self._slug(campaign_id)
            if slug is None:
                continue
            old = campaigns.get(slug) or {}
            if int(old.get("seq", 0)) < seq:
                campaigns[slug] = {"seq": seq, "hash": digest}
                changed = True
        if not changed:
            return
        tmp = self.anchor_path.with_name(f".{ANCHOR_FILE}.{os.getpid()}.tmp")
        try:
            tmp.write_text(json.dumps({"campaigns": campaigns}, indent=1, sort_keys=True), encoding="utf-8")
            os.replace(tmp, self.anchor_path)
        except OSError:
            tmp.unlink(missing_ok=True)  # a read-only folder keeps no anchor; verify says so

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

    def resolved_campaign_id(self, session: Session | None = None) -> int:
        """Return the id of `campaign()`'s row, resolved once for this workspace's life.

        A campaign row keeps its id and slug and is never deleted, so the answer cannot go
        stale; the demo's virtual-time loop asks thousands of times (one query each before).
        Before `qualibench plan` this raises NotFound every time, nothing being cached.
        """
        if self._campaign_row_id is None:
            if session is None:
                with self.session() as s:
                    row_id = self.campaign(s).id
            else:
                row_id = self.campaign(session).id
            assert row_id is not None
            self._campaign_row_id = row_id
        return self._campaign_row_id

    def campaign(self, session: Session) -> Campaign:
        """Return this folder's campaign row; it exists once `qualibench plan` has run.

        Every command resolves probe keys, missions, inbox items and audit rows within this
        campaign only, so two editions in one database never touch each other.
        """
        if self.campaign_id is not None:
            row = session.get(Campaign, self.campaign_id)
            if row is None:
                raise NotFound(f"the database holds no campaign #{self.campaign_id}",
                               "use an id that `qualibench status` printed, or drop --campaign-id")
            if (self.root / CAMPAIGN_FILE).exists() and self.spec().config.slug != row.slug:
                raise CampaignChoice(
                    f"--campaign-id {self.campaign_id} is campaign {row.slug!r}, but this folder's "
                    f"campaign.toml is {self.spec().config.slug!r}",
                    "run from that campaign's folder, or drop --campaign-id")
            return row
        if not (self.root / CAMPAIGN_FILE).exists():
            rows = list(session.exec(select(Campaign).order_by(Campaign.id).limit(2)))  # type: ignore[arg-type]
            if len(rows) == 1:
                return rows[0]
            if rows:
                raise CampaignChoice(
                    f"{self.root} has no {CAMPAIGN_FILE} and the database holds several campaigns",
                    "run from the campaign's folder, or pass --campaign-id N")
        slug = self.spec().config.slug
        row = session.exec(select(Campaign).where(Campaign.slug == slug)).first()
        if row is None:
            raise NotFound(
                f"campaign {slug!r} has no probes in the database yet",
                "run `qualibench plan` first",
            )
        return row
