"""`verify`: recompute every evidence hash, the event chain and its head, and every fact the
report reads (replies, scores, probe times) against what the chain recorded."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

from sqlmodel import Session, select

from .events import ChainReport, head_problems, probe_fact, reply_fact, score_fact, walk_chain
from .models import Evidence, InboundMessage, Probe, Reply, Score
from .workspace import Workspace


@dataclass
class VerifyReport:
    evidence_checked: int = 0
    events_checked: int = 0
    facts_checked: int = 0
    anchor: str = ""  # the anchor file compared, if any
    problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems


def verify_campaign(ws: Workspace, anchor: Path | None = None) -> VerifyReport:
    """Return every tampered or missing raw item, event, head, anchor and fact."""
    report = VerifyReport()
    with ws.session() as session:
        camp = ws.campaign(session)
        assert camp.id is not None
        digests = set(session.exec(select(InboundMessage.sha256).where(InboundMessage.campaign_id == camp.id)))
        digests |= set(session.exec(select(Evidence.sha256)))
        for digest in sorted(digests):
            report.evidence_checked += 1
            if not ws.evidence.exists(digest):
                report.problems.append(f"raw evidence {digest} is missing ({ws.evidence.where(digest)})")
            elif not ws.evidence.verify(digest):
                report.problems.append(
                    f"raw evidence {digest} was altered: {ws.evidence.where(digest)} no longer hashes to its name")
        chain = walk_chain(session, camp.id)
        report.events_checked = chain.count
        for problem in chain.problems + head_problems(session, camp.id, chain):
            report.problems.append(f"event log: {problem.message}")
        path = anchor or ws.anchor_path
        if path.exists():
            report.anchor = str(path)
            report.problems += _anchor_problems(path, camp.slug, chain)
        elif anchor is not None:
            report.problems.append(f"anchor file {anchor} does not exist")
        if _covers_facts(chain):
            report.problems += _fact_problems(session, camp.id, chain, report)
    return report


def _anchor_problems(path: Path, slug: str, chain: ChainReport) -> list[str]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        entry = data["campaigns"].get(slug)
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        return [f"anchor file {path} cannot be read: delete it (the next command writes a fresh one)"]
    if not entry:
        return []
    seq, digest = int(entry.get("seq", 0)), str(entry.get("hash", ""))
    if seq > chain.last_seq:
        cut = "every event was deleted" if chain.count == 0 else f"the log ends at event {chain.last_seq}"
        return [f"event log: {cut}, but the anchor {path} recorded event {seq}: events were removed "
                f"(if a backup was restored on purpose, delete the anchor)"]
    if chain.hashes.get(seq) != digest:
        return [f"event log: event {seq} is not the one the anchor {path} recorded: the log was rewritten"]
    return []


def _covers_facts(chain: ChainReport) -> bool:
    # Campaigns logged before facts were fingerprinted have none to compare (nothing to accuse).
    return bool(chain.replies or chain.probes or chain.scores)


def _fact_problems(session: Session, campaign_id: int, chain: ChainReport,
                   report: VerifyReport) -> list[str]:
    problems: list[str] = []
    probes = list(session.exec(select(Probe).where(Probe.campaign_id == campaign_id)))
    key_of = {p.id: p.key for p in probes}
    for probe in probes:
        report.facts_checked += 1
        key, fields = probe_fact(probe)
        seq, logged = chain.probes.get(key, (0, None))
        if logged is None:
            if not chain.legacy:
                problems.append(f"probe {key} is not in the event log (inserted outside qualibench)")
        elif fields != logged:
            problems.append(f"probe {key}: {_differs(fields, logged)} differ(s) from event {seq}")
    seen_probes = {p.key for p in probes}
    for key, (seq, logged) in chain.probes.items():
        if logged is not None and key not in seen_probes:
            problems.append(f"probe {key} recorded in event {seq} was deleted from the database")

    replies = list(session.exec(select(Reply).where(Reply.campaign_id == campaign_id)))
    seen_inbound = set()
    for reply in replies:
        report.facts_checked += 1
        key, fields = reply_fact(reply)
        seen_inbound.add(key)
        what = f"reply #{reply.id} (probe {key_of.get(reply.probe_id, reply.probe_id)})"
        seq, logged = chain.replies.get(key, (0, None))
        if logged is None:
            if not chain.legacy:
                problems.append(f"{what} is not in the event log (inserted outside qualibench)")
        elif fields != logged:
            problems.append(f"{what}: {_differs(fields, logged)} differ(s) from event {seq}")
    for key, (seq, logged) in chain.replies.items():
        if logged is not None and key not in seen_inbound:
            problems.append(f"the reply to inbound message #{key} recorded in event {seq} was deleted")

    current: dict[str, list[Score]] = {}
    for score in session.exec(select(Score).where(Score.campaign_id == campaign_id)):
        current.setdefault(str(score.reply_id), []).append(score)
    for reply_id in sorted(set(current) | set(chain.scores), key=lambda k: int(k) if k.isdigit() else 0):
        logged_fps = [fp for _, fp in chain.scores.get(reply_id, [])]
        strangers = []
        for score in sorted(current.get(reply_id, []), key=lambda s: s.id or 0):
            report.facts_checked += 1
            _, fp = score_fact(score)
            if fp in logged_fps:
                logged_fps.remove(fp)
            else:
                strangers.append(score)
        # As many unknown rows as vanished fingerprints: rows edited in place.
        if chain.legacy and reply_id not in chain.scores:
            strangers = []  # scored before fingerprints existed: nothing to compare with
        for i, score in enumerate(strangers):
            how = ("was edited (its total or criteria are not what the event log recorded)"
                   if i < len(logged_fps) else "is not in the event log (inserted outside qualibench)")
            problems.append(f"score #{score.id} of reply #{reply_id} ({score.scorer}, total "
                            f"{score.total:g}) {how}")
        if len(logged_fps) > len(strangers):
            problems.append(f"{len(logged_fps) - len(strangers)} score(s) of reply #{reply_id} "
                            f"recorded in the event log are missing from the database")
    return problems


def _differs(fields: dict, logged: dict) -> str:
    return ", ".join(sorted(k for k in set(fields) | set(logged) if fields.get(k) != logged.get(k)))
