"""Double coding in the browser: who codes which reply, the auditor's queue, saving a code.

A code is stored as a Score row with scorer "auditor:NAME" (or "adjudicator:NAME"), exactly as
`qualibench audit import` and `audit set` store them, so `audit agreement`, the effective scores
and the report read browser codes and spreadsheet codes alike.
"""

from __future__ import annotations

import random
import time
from dataclasses import dataclass, field

from sqlalchemy import func
from sqlmodel import Session, col, select

from ..brandmask import mask_brand
from ..errors import NotFound, QualibenchError, StateError
from ..events import log_event
from ..models import Brand, CodingAssignment, Probe, Reply, Scenario, Score
from ..scorer.audit import mark_assignments_coded, rubric_for_version
from ..scorer.campaign import SCORED_KINDS, resolve_rubric
from ..scorer.effective import ADJUDICATOR_PREFIX, AUDITOR_PREFIX, AUTO, current_rubric_version
from ..scorer.rubric import Rubric
from ..workspace import Workspace
from .people import Person

MAX_COMMENT = 4000
VERSION_TTL = 2.0
# The coding panel says "1000+ left" beyond this: an exact count would read the whole queue.
PANEL_COUNT_CAP = 1000


@dataclass(frozen=True)
class AssignReport:
    """What one assignment round gave out."""

    rubric_version: str
    replies: int  # replies newly assigned
    double: int  # of which to two auditors
    per_auditor: dict[str, int] = field(default_factory=dict)


class Coding:
    """The campaign's coding context: rubric version and rubric, looked up once per server."""

    def __init__(self, ws: Workspace) -> None:
        self.ws = ws
        self._rubrics: dict[str, Rubric] = {}
        self._cid: int | None = None
        self._version: tuple[str, float] | None = None
        self.scale_notes: dict[str, str] = {}

    def campaign_id(self, session: Session) -> int:
        if self._cid is None:
            self._cid = self.ws.campaign(session).id
        assert self._cid is not None
        return self._cid

    def version(self, session: Session) -> str:
        """Return the rubric version of the latest automatic scoring run (looked up at most every
        VERSION_TTL seconds: a save-and-next asks several times, a rescore is rare)."""
        now = time.monotonic()
        if self._version is None or now - self._version[1] > VERSION_TTL:
            version = current_rubric_version(session, self.campaign_id(session))
            if version is None:
                raise StateError("no reply has an automatic score yet", "run `qualibench score` first")
            self._version = (version, now)
        return self._version[0]

    def rubric(self, session: Session, version: str) -> Rubric:
        """Return the rubric of `version`, whose criteria and weights give the coding scales.

        When its file is gone (a lexicon edit changes the version too), the campaign's current
        rubric gives the scales, and `scale_notes` says so on the queue page.
        """
        if version not in self._rubrics:
            campaign = self.ws.campaign(session)
            try:
                self._rubrics[version] = rubric_for_version(self.ws, campaign, version)
            except QualibenchError:
                current = resolve_rubric(self.ws, campaign, None)
                self._rubrics[version] = current
                self.scale_notes[version] = (
                    f"the rubric file of version {version} was not found (moved or edited): the scales "
                    f"are those of {current.source.name} (version {current.version}); codes are still "
                    f"recorded under {version}, the version of the automatic scores they audit")
        return self._rubrics[version]


def assign_replies(ws: Workspace, auditors: list[str], *, share: float = 1.0, seed: int = 0,
                   by: str = "cli", reply_ids: list[int] | None = None) -> AssignReport:
    """Give every scored reply not yet assigned (under the current rubric) to one auditor, and a
    `share` of them to a second one; auditors take turns so the load stays even.

    `reply_ids`: only these replies, given to these auditors even when others have them already
    (a second round, an auditor replaced); none goes twice to the same auditor.
    """
    names = sorted({a.strip() for a in auditors if a.strip()})
    if not names:
        raise QualibenchError("no auditor to assign replies to", "add auditors with `qualibench review add-user NAME --role auditor`")
    if not 0.0 <= share <= 1.0:
        raise QualibenchError(f"double-coding share {share:g} is not between 0 and 1", "pass e.g. --share 0.3")
    rng = random.Random(seed)
    coding = Coding(ws)
    with ws.session() as session:
        cid = coding.campaign_id(session)
        version = coding.version(session)
        given = select(CodingAssignment.reply_id).where(CodingAssignment.campaign_id == cid,
                                                         CodingAssignment.rubric_version == version)
        wanted = select(Reply.id).where(Reply.campaign_id == cid, col(Reply.kind).in_(SCORED_KINDS))
        if reply_ids is not None:
            given = given.where(col(CodingAssignment.reviewer).in_(names))
            wanted = wanted.where(col(Reply.id).in_(reply_ids))
        taken = set(session.exec(given))
        ids = [r for r in session.exec(wanted.order_by(col(Reply.id))) if r not in taken]
        now = ws.clock.now()
        load = dict.fromkeys(names, 0)
        double = 0
        rows = []
        for rid in ids:
            order = sorted(names, key=lambda n: (load[n], rng.random()))
            chosen = order[:2] if len(names) > 1 and rng.random() < share else order[:1]
            double += len(chosen) == 2
            for name in chosen:
                load[name] += 1
                rows.append({"campaign_id": cid, "reply_id": rid, "reviewer": name,
                             "rubric_version": version, "assigned_at": now})
        if rows:
            session.execute(CodingAssignment.__table__.insert(), rows)  # type: ignore[attr-defined]
        log_event(session, cid, "review.assigned", f"campaign:{cid}",
                  {"by": by, "replies": len(ids), "double": double, "share": share,
                   "rubric_version": version, "per_auditor": load}, ws.clock)
    return AssignReport(version, len(ids), double, load)


@dataclass(frozen=True)
class QueueView:
    """An auditor's queue: how many replies are left and the next few."""

    rubric_version: str
    remaining: int
    coded: int | None  # None when not counted (the coding panel)
    next_ids: list[int]
    capped: bool = False  # remaining is a floor: "1000+"


def queue(coding: Coding, person: Person, limit: int = 20, *, exact: bool = True) -> QueueView:
    """Return `person`'s uncoded assignments under the current rubric, lowest reply id first.

    `exact=False` counts what is left only up to PANEL_COUNT_CAP (cheap on any queue size).
    """
    with coding.ws.session() as session:
        cid, version = coding.campaign_id(session), coding.version(session)
        mine = (CodingAssignment.campaign_id == cid, CodingAssignment.reviewer == person.name,
                CodingAssignment.rubric_version == version)
        todo = col(CodingAssignment.coded_at).is_(None)
        coded: int | None = None
        if exact:
            total, coded = session.execute(select(func.count(), func.count(CodingAssignment.coded_at))
                                           .where(*mine)).one()
            remaining = total - coded
        else:
            left = select(CodingAssignment.id).where(*mine, todo).limit(PANEL_COUNT_CAP + 1).subquery()
            remaining = session.execute(select(func.count()).select_from(left)).scalar_one()
        ids = list(session.exec(select(CodingAssignment.reply_id).where(*mine, todo)
                                .order_by(col(CodingAssignment.reply_id)).limit(limit)))
    capped = not exact and remaining > PANEL_COUNT_CAP
    return QueueView(version, PANEL_COUNT_CAP if capped else remaining, coded, ids, capped=capped)


@dataclass
class CodingItem:
    """What the coding panel shows for one reply. In blind mode brand and automatic score are None."""

    reply_id: int
    channel: str
    scenario: str
    subject: str
    request: str
    reply: str
    criteria: list[tuple[str, float]]  # (criterion, maximum points)
    mine: dict[str, float] | None  # the person's own latest code, if any
    my_comment: str
    previous_id: int | None
    next_id: int | None
    brand: str | None = None
    auto: dict[str, float] | None = None
    auto_total: float | None = None


def _assigned(session: Session, cid: int, version: str, name: str, reply_id: int) -> bool:
    return session.exec(select(CodingAssignment.id).where(
        CodingAssignment.campaign_id == cid, CodingAssignment.rubric_version == version,
        CodingAssignment.reviewer == name, CodingAssignment.reply_id == reply_id)).first() is not None


def _neighbour(session: Session, cid: int, version: str, name: str, reply_id: int, after: bool) -> int | None:
    c = col(CodingAssignment.reply_id)
    return session.exec(select(CodingAssignment.reply_id).where(
        CodingAssignment.campaign_id == cid, CodingAssignment.rubric_version == version,
        CodingAssignment.reviewer == name, c > reply_id if after else c < reply_id)
        .order_by(c if after else c.desc()).limit(1)).first()


def coding_item(coding: Coding, person: Person, reply_id: int, *, blind: bool) -> CodingItem:
    """Return the panel of `reply_id` for `person`, who must have it in their assignments.

    Blind: the request and the reply only (the brand masked in both: qualibench.brandmask); never the
    automatic score nor anyone else's code. The server decides, whatever the page asks for.
    """
    with coding.ws.session() as session:
        cid, version = coding.campaign_id(session), coding.version(session)
        if not _assigned(session, cid, version, person.name, reply_id):
            raise NotFound(f"reply {reply_id} is not in your coding queue", "open your queue at /queue")
        reply = session.get(Reply, reply_id)
        assert reply is not None
        probe = session.get(Probe, reply.probe_id)
        assert probe is not None
        brand = session.get(Brand, probe.brand_id)
        scenario = session.get(Scenario, probe.scenario_id)
        rub = coding.rubric(session, version)
        mine = session.exec(select(Score).where(Score.reply_id == reply_id, Score.rubric_version == version,
                                                Score.scorer == AUDITOR_PREFIX + person.name)
                            .order_by(col(Score.id).desc()).limit(1)).first()
        brand_name = brand.name if brand else ""
        item = CodingItem(
            reply_id=reply_id, channel=probe.channel, scenario=scenario.title if scenario else "",
            subject=mask_brand(probe.subject, brand) if blind else probe.subject,
            request=mask_brand(probe.body, brand) if blind else probe.body,
            reply=mask_brand(reply.text, brand) if blind else reply.text,
            criteria=[(c, rub.weight(c)) for c in rub.criteria if rub.weight(c) > 0],
            mine=dict(mine.criteria) if mine else None, my_comment=mine.justification if mine else "",
            previous_id=_neighbour(session, cid, version, person.name, reply_id, after=False),
            next_id=_neighbour(session, cid, version, person.name, reply_id, after=True),
        )
        if not blind:
            auto = session.exec(select(Score).where(Score.reply_id == reply_id, Score.rubric_version == version,
                                                    Score.scorer == AUTO).order_by(col(Score.id).desc()).limit(1)).first()
            item.brand = brand_name
            item.auto = dict(auto.criteria) if auto else None
            item.auto_total = auto.total if auto else None
        return item


def parse_points(form: dict[str, str], rub: Rubric) -> tuple[dict[str, float], list[str]]:
    """Return the points typed for each weighted criterion, and the problems (one line each)."""
    points: dict[str, float] = {}
    problems = []
    for crit in rub.criteria:
        weight = rub.weight(crit)
        if weight <= 0:
            points[crit] = 0.0
            continue
        raw = (form.get(crit) or "").strip().replace(",", ".")
        if raw == "":
            problems.append(f"{crit}: missing (give 0 to {weight:g})")
            continue
        try:
            value = float(raw)
        except ValueError:
            problems.append(f"{crit}: {raw[:20]!r} is not a number (give 0 to {weight:g})")
            continue
        if not 0 <= value <= weight:
            problems.append(f"{crit}: {value:g} is out of range (give 0 to {weight:g})")
            continue
        points[crit] = value
    return points, problems


def code_reply(coding: Coding, person: Person, reply_id: int, form: dict[str, str], *,
               adjudicate: bool = False) -> Score:
    """Record `person`'s code of one reply (every criterion plus an optional comment).

    Auditors code replies of their queue; an adjudicator's code is the decision that wins over
    the auditors' (the report's effective score). Raises QualibenchError listing the problems.
    """
    comment = (form.get("comment") or "").strip()[:MAX_COMMENT]
    with coding.ws.session() as session:
        cid, version = coding.campaign_id(session), coding.version(session)
        if session.get(Reply, reply_id) is None:
            raise NotFound(f"reply {reply_id} does not exist", "open your queue at /queue")
        if not adjudicate and not _assigned(session, cid, version, person.name, reply_id):
            raise NotFound(f"reply {reply_id} is not in your coding queue", "open your queue at /queue")
        if adjudicate and not comment:
            raise QualibenchError("a decision needs a justification", "say why in the justification field")
        rub = coding.rubric(session, version)
        points, problems = parse_points(form, rub)
        if problems:
            raise QualibenchError("; ".join(problems), "correct the points and save again")
        scorer = (ADJUDICATOR_PREFIX if adjudicate else AUDITOR_PREFIX) + person.name
        now = coding.ws.clock.now()
        row = Score(campaign_id=cid, reply_id=reply_id, rubric_name=rub.name, rubric_version=version,
                    scorer=scorer, total=round(sum(points.values()), 2), criteria=points, evidence={},
                    justification=comment, created_at=now)
        session.add(row)
        session.flush()
        if not adjudicate:
            mark_assignments_coded(session, cid, [reply_id], person.name, version, now)
        log_event(session, cid, "audit.adjudicate" if adjudicate else "audit.code", f"reply:{reply_id}",
                  {"scorer": scorer, "by": person.name, "via": "review", "criteria": points,
                   "rubric_version": version}, coding.ws.clock)
        session.expunge(row)
        return row


def has_coded(coding: Coding, person: Person, reply_id: int) -> bool:
    """Return True when `person` saved a code of `reply_id` under the current rubric."""
    with coding.ws.session() as session:
        version = coding.version(session)
        return session.exec(select(Score.id).where(
            Score.reply_id == reply_id, Score.rubric_version == version,
            col(Score.scorer).in_([AUDITOR_PREFIX + person.name, ADJUDICATOR_PREFIX + person.name]))
            .limit(1)).first() is not None
