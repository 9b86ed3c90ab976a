"""`verify`: recompute every evidence hash and the event log's hash chain."""

from __future__ import annotations

from dataclasses import dataclass, field

from sqlmodel import select

from .events import event_count, verify_chain
from .models import Evidence, InboundMessage
from .workspace import Workspace


@dataclass
class VerifyReport:
    evidence_checked: int = 0
    events_checked: int = 0
    problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems


def verify_campaign(ws: Workspace) -> VerifyReport:
    """Return every tampered or missing raw file and every rewritten or missing event."""
    report = VerifyReport()
    with ws.session() as session:
        camp = ws.campaign(session)
        assert camp.id is not None
        digests = set(session.exec(select(InboundMessage.sha256).where(InboundMessage.campaign_id == camp.id)))
        digests |= set(session.exec(select(Evidence.sha256)))
        for digest in sorted(digests):
            report.evidence_checked += 1
            if not ws.evidence.exists(digest):
                report.problems.append(f"raw evidence {digest} is missing ({ws.evidence.path_for(digest)})")
            elif not ws.evidence.verify(digest):
                report.problems.append(
                    f"raw evidence {digest} was altered: {ws.evidence.path_for(digest)} no longer hashes to its name")
        report.events_checked = event_count(session, camp.id)
        for problem in verify_chain(session, camp.id):
            report.problems.append(f"event log: {problem.message}")
    return report
