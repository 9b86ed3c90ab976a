"""Move a campaign's database (rows, event log, raw evidence) to another database, then verify.

The usual move: a campaign started alone on SQLite goes to the team's PostgreSQL. Rows keep
their ids, so the event chain (whose events name rows by id) is carried byte for byte and
still verifies; the raw evidence goes to the target's store (the database on PostgreSQL).
Everything is copied in one transaction: a failed move leaves the target as it was.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from sqlalchemy import func, select, text
from sqlalchemy.exc import IntegrityError
from sqlmodel import SQLModel

from .db import get_engine, redact_url, resolve_url
from .errors import QualibenchError
from .events import log_event
from .evidence import open_store, sha256_hex
from .models import Campaign, Evidence, InboundMessage
from .workspace import Workspace, _evidence_choice

CHUNK = 1000


@dataclass
class TransferReport:
    target: str
    rows: dict[str, int] = field(default_factory=dict)
    evidence: int = 0
    problems: list[str] = field(default_factory=list)  # from verify, run on the target


def move_campaign(ws: Workspace, target_url: str) -> TransferReport:
    """Copy every row of `ws`'s database and its raw evidence to `target_url`; verify there."""
    from .verify import verify_campaign

    url = resolve_url(ws.root, target_url)
    if url == ws.db_url:
        raise QualibenchError("the target is the database the campaign already uses",
                              "give the URL of the other database (e.g. the team's PostgreSQL)")
    target = get_engine(url)
    report = TransferReport(redact_url(url))
    with ws.session() as s:
        slug = ws.campaign(s).slug
    with target.connect() as c:
        if c.execute(select(Campaign.id).where(Campaign.slug == slug)).first() is not None:
            raise QualibenchError(f"{report.target} already holds campaign {slug!r}",
                                  "nothing was copied; work there with --db, or move into another database")
    # The bytes first: a row that names a digest must find it in the target's store.
    store = open_store(ws.root, target, _evidence_choice(ws.root))
    with ws.session() as s:
        digests = set(s.exec(select(Evidence.sha256)).scalars()) | set(
            s.exec(select(InboundMessage.sha256)).scalars())
    for digest in sorted(digests):
        data = ws.evidence.get(digest)
        if sha256_hex(data) != digest:
            raise QualibenchError(f"raw evidence {digest[:12]}… no longer hashes to its name",
                                  "run `qualibench verify` and restore it before moving")
        store.put(data)
        report.evidence += 1
    tables = [t for t in SQLModel.metadata.sorted_tables if t.name != "evidenceblob"]
    with ws.engine.connect() as src, target.begin() as dst:
        try:
            for table in tables:
                n = 0
                rows = src.execution_options(yield_per=CHUNK).execute(select(table))
                for chunk in rows.mappings().partitions(CHUNK):
                    dst.execute(table.insert(), [dict(r) for r in chunk])
                    n += len(chunk)
                report.rows[table.name] = n
        except IntegrityError as exc:
            raise QualibenchError(
                f"{report.target} already holds rows with the same ids ({exc.orig}".splitlines()[0][:300] + ")",
                "nothing was copied: move into a database of its own (an empty one)") from None
        if target.dialect.name == "postgresql":
            for table in tables:
                if "id" in table.c and table.c.id.autoincrement is not False and \
                        table.c.id.primary_key:
                    top = dst.execute(select(func.max(table.c.id))).scalar()
                    if top:
                        dst.execute(text("SELECT setval(pg_get_serial_sequence(:t, 'id'), :v)"),
                                    {"t": table.name, "v": top})
    moved = Workspace.open(ws.root, url, clock=ws.clock, campaign_id=None)
    with moved.session() as s:
        camp = moved.campaign(s)
        assert camp.id is not None
        log_event(s, camp.id, "campaign.moved", f"campaign:{camp.id}",
                  {"from": redact_url(ws.db_url), "rows": report.rows, "evidence": report.evidence},
                  ws.clock)
    report.problems = verify_campaign(moved).problems
    return report
