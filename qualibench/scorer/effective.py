"""Which score counts for each reply: auditors over the automatic scorer, with adjudication flags."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field

from sqlmodel import Session, select

from ..models import Score

AUTO = "auto"
AUDITOR_PREFIX = "auditor:"
ADJUDICATOR_PREFIX = "adjudicator:"
# Two auditors further apart than this on the total or on any criterion (in points) disagree.
DEFAULT_TOLERANCE = 10.0


@dataclass(frozen=True)
class EffectiveScore:
    """The score that counts for one reply, and where it comes from."""

    reply_id: int
    total: float
    criteria: dict[str, float]
    # "auto", "auditor:NAME", "auditor:A+B" (agreeing auditors, averaged), "adjudicator:NAME",
    # or "adjudicate" (auditors disagree: their mean is given until someone adjudicates).
    source: str
    score_id: int | None
    rubric_version: str
    needs_adjudication: bool = False
    scorers: tuple[str, ...] = field(default_factory=tuple)


def current_rubric_version(session: Session, campaign_id: int) -> str | None:
    """Return the rubric version of the campaign's most recent automatic score (None if none)."""
    row = session.exec(
        select(Score.rubric_version)
        .where(Score.campaign_id == campaign_id, Score.scorer == AUTO)
        .order_by(Score.id.desc())  # type: ignore[union-attr]
        .limit(1)
    ).first()
    return row


def effective_scores(
    session: Session,
    campaign_id: int,
    rubric_version: str | None = None,
    *,
    tolerance: float = DEFAULT_TOLERANCE,
    totals_only: bool = False,
) -> dict[int, EffectiveScore]:
    """Return reply_id -> the score that counts under `rubric_version`.

    Default version: the one of the campaign's latest automatic scoring run (`qualibench score` or
    `qualibench rescore`). Precedence: the latest adjudicator's score; else the auditors' latest
    scores (one each), averaged when they agree within `tolerance` points, flagged
    `needs_adjudication` (source "adjudicate") when they do not; else the latest automatic score.
    Replies without any score under that version are absent. `totals_only`: automatic scores
    come without their criteria (faster, for rankings over 100,000 replies).
    """
    version = rubric_version or current_rubric_version(session, campaign_id)
    if version is None:
        return {}
    # Only the columns that decide: loading the evidence of 100,000 scores would dominate.
    base = (Score.campaign_id == campaign_id, Score.rubric_version == version)
    if totals_only:
        # Auditors' criteria are still needed to tell whether two of them disagree.
        rows = [(*r, {}) for r in session.execute(
            select(Score.id, Score.reply_id, Score.scorer, Score.total)
            .where(*base, Score.scorer == AUTO))]
        rows += session.execute(
            select(Score.id, Score.reply_id, Score.scorer, Score.total, Score.criteria)
            .where(*base, Score.scorer != AUTO)).all()
        rows.sort(key=lambda r: r[0])
    else:
        rows = session.execute(
            select(Score.id, Score.reply_id, Score.scorer, Score.total, Score.criteria)
            .where(*base).order_by(Score.id)  # type: ignore[arg-type]
        ).all()
    by_reply: dict[int, list[_Row]] = defaultdict(list)
    for row in rows:
        by_reply[row[1]].append(_Row(*row))
    return {
        reply_id: _resolve(reply_id, scores, version, tolerance)
        for reply_id, scores in by_reply.items()
    }


@dataclass(frozen=True)
class _Row:
    id: int
    reply_id: int
    scorer: str
    total: float
    criteria: dict


def _resolve(reply_id: int, scores: list[_Row], version: str, tolerance: float) -> EffectiveScore:
    # `scores` is in insertion order, so later rows of one scorer replace earlier ones.
    auto: _Row | None = None
    auditors: dict[str, _Row] = {}
    adjudicator: _Row | None = None
    for s in scores:
        if s.scorer == AUTO:
            auto = s
        elif s.scorer.startswith(ADJUDICATOR_PREFIX):
            adjudicator = s
        else:
            auditors[s.scorer] = s
    if adjudicator is not None:
        return _single(reply_id, adjudicator, version)
    if not auditors:
        assert auto is not None  # a reply appears here only with at least one row
        return _single(reply_id, auto, version)
    if len(auditors) == 1:
        return _single(reply_id, next(iter(auditors.values())), version)
    names = tuple(sorted(auditors))
    rows = [auditors[n] for n in names]
    keys = sorted({k for r in rows for k in r.criteria})
    criteria = {k: round(sum(float(r.criteria.get(k, 0.0)) for r in rows) / len(rows), 2) for k in keys}
    total = round(sum(r.total for r in rows) / len(rows), 2)
    disagree = _spread([r.total for r in rows]) > tolerance or any(
        _spread([float(r.criteria.get(k, 0.0)) for r in rows]) > tolerance for k in keys
    )
    latest = max(rows, key=lambda r: r.id or 0)
    if disagree:
        source = "adjudicate"
    else:
        source = AUDITOR_PREFIX + "+".join(n.removeprefix(AUDITOR_PREFIX) for n in names)
    return EffectiveScore(
        reply_id=reply_id, total=total, criteria=criteria, source=source, score_id=latest.id,
        rubric_version=version, needs_adjudication=disagree, scorers=names,
    )


def _single(reply_id: int, s: _Row, version: str) -> EffectiveScore:
    return EffectiveScore(
        reply_id=reply_id, total=float(s.total),
        criteria={k: float(v) for k, v in s.criteria.items()}, source=s.scorer, score_id=s.id,
        rubric_version=version, scorers=(s.scorer,),
    )


def _spread(values: list[float]) -> float:
    return max(values) - min(values) if values else 0.0
