"""Agreement between auditors, and between each auditor and the automatic scorer, per criterion."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from itertools import combinations
from pathlib import Path

from sqlalchemy import func
from sqlmodel import select

from ..errors import NotFound, QualibenchError
from ..models import Score
from ..workspace import Workspace
from .effective import AUTO, current_rubric_version

TOTAL = "total"


def quadratic_kappa(x: list[float], y: list[float]) -> float | None:
    """Return Cohen's kappa with quadratic weights for two raters' paired scores (None if undefined).

    With quadratic weights the expected disagreement under independence is the mean squared gap
    over every pairing of the two raters' marginals, so no binning of the points is needed.
    """
    n = len(x)
    if n < 2 or n != len(y):
        return None
    observed = sum((a - b) ** 2 for a, b in zip(x, y, strict=True)) / n
    sx, sy = sum(x), sum(y)
    expected = (n * sum(a * a for a in x) + n * sum(b * b for b in y) - 2 * sx * sy) / (n * n)
    if expected == 0:
        return 1.0 if observed == 0 else None
    return 1.0 - observed / expected


def krippendorff_alpha_interval(units: list[list[float]]) -> float | None:
    """Return Krippendorff's alpha (interval metric) over units each holding the coders' values.

    Units with fewer than two values are not pairable and are left out, as the method says.
    """
    pairable = [u for u in units if len(u) >= 2]
    n = sum(len(u) for u in pairable)
    if n < 2 or not pairable:
        return None
    # Within-unit disagreement: sum over ordered pairs (v_i - v_j)^2 = 2 (m sum v^2 - (sum v)^2).
    d_o = sum(2 * (len(u) * sum(v * v for v in u) - sum(u) ** 2) / (len(u) - 1) for u in pairable) / n
    values = [v for u in pairable for v in u]
    d_e = 2 * (n * sum(v * v for v in values) - sum(values) ** 2) / (n * (n - 1))
    if d_e == 0:
        return 1.0 if d_o == 0 else None
    return 1.0 - d_o / d_e


@dataclass(frozen=True)
class PairAgreement:
    """Agreement of two scorers on one criterion (or the total) over the replies both scored."""

    first: str
    second: str
    criterion: str
    replies: int
    kappa: float | None
    alpha: float | None


@dataclass(frozen=True)
class Gap:
    """A reply on which two scorers are far apart."""

    reply_id: int
    first: str
    second: str
    criterion: str
    first_points: float
    second_points: float

    @property
    def size(self) -> float:
        """Return the absolute gap in points."""
        return abs(self.first_points - self.second_points)


@dataclass
class AgreementReport:
    """Per-pair, per-criterion agreement and the largest gaps, for one rubric version."""

    rubric_version: str | None
    scorers: list[str]
    pairs: list[PairAgreement] = field(default_factory=list)
    auditors_alpha: dict[str, float | None] = field(default_factory=dict)  # all auditors together
    gaps: list[Gap] = field(default_factory=list)


@dataclass(frozen=True)
class RubricVersion:
    """A rubric version that has scores in the campaign, and who scored under it."""

    version: str
    name: str
    scores: int
    scorers: tuple[str, ...]


def rubric_versions(ws: Workspace) -> list[RubricVersion]:
    """Return every rubric version with scores in the campaign, the most recently used first."""
    with ws.session() as session:
        cid = ws.campaign(session).id
        rows = session.execute(
            select(Score.rubric_version, Score.rubric_name, Score.scorer, func.count(), func.max(Score.id))
            .where(Score.campaign_id == cid)
            .group_by(Score.rubric_version, Score.rubric_name, Score.scorer)).all()
    by_version: dict[str, list] = defaultdict(list)
    for version, name, scorer, n, last in rows:
        by_version[version].append((name, scorer, n, last))
    out = [RubricVersion(v, next((r[0] for r in rs if r[1] == AUTO), rs[0][0]), sum(r[2] for r in rs),
                         tuple(sorted((r[1] for r in rs), key=lambda n: (n != AUTO, n))))
           for v, rs in by_version.items()]
    last_use = {v: max(r[3] for r in rs) for v, rs in by_version.items()}
    return sorted(out, key=lambda rv: -last_use[rv.version])


def resolve_rubric_version(ws: Workspace, rubric: str | Path | None) -> str | None:
    """Return the rubric version meant by `rubric`: a version hash (or its prefix) with scores in
    the campaign, or a rubric name/file whose content hash is taken; None: the latest scoring run's."""
    if rubric is None or str(rubric).strip() == "":
        return None
    text = str(rubric).strip()
    known = [rv.version for rv in rubric_versions(ws)]
    matches = [v for v in known if v.startswith(text)] if len(text) >= 4 else []
    if len(matches) == 1:
        return matches[0]
    from .campaign import resolve_rubric

    try:
        with ws.session() as session:
            campaign = ws.campaign(session)
        return resolve_rubric(ws, campaign, rubric).version
    except QualibenchError:
        raise NotFound(f"no rubric version or rubric file {text!r} (versions with scores: "
                       f"{', '.join(known) or 'none'})",
                       "pass a version listed above, or the rubric file used for that scoring run") from None


def agreement_report(ws: Workspace, *, rubric_version: str | None = None, top: int = 10,
                     rubric: str | Path | None = None) -> AgreementReport:
    """Return agreement between every two scorers (auditors and auto) and the largest gaps.

    The rubric version: `rubric_version`, else the one `rubric` names (version or file), else
    the latest automatic scoring run's (after a rescore, auditors' older codes need `rubric`).
    """
    rubric_version = rubric_version or resolve_rubric_version(ws, rubric)
    with ws.session() as session:
        cid = ws.campaign(session).id
        assert cid is not None
        version = rubric_version or current_rubric_version(session, cid)
        rows = session.exec(select(Score).where(Score.campaign_id == cid, Score.rubric_version == version)
                            .order_by(Score.id)).all()  # type: ignore[arg-type]
    latest: dict[str, dict[int, Score]] = defaultdict(dict)
    for s in rows:  # one score per scorer and reply: the latest
        latest[s.scorer][s.reply_id] = s
    scorers = sorted(latest, key=lambda n: (n != AUTO, n))
    criteria = sorted({c for s in rows for c in s.criteria}) + [TOTAL]
    report = AgreementReport(version, scorers)
    gaps: list[Gap] = []
    for a, b in combinations(scorers, 2):
        common = sorted(set(latest[a]) & set(latest[b]))
        for crit in criteria:
            xs = [_points(latest[a][r], crit) for r in common]
            ys = [_points(latest[b][r], crit) for r in common]
            report.pairs.append(PairAgreement(a, b, crit, len(common), _round(quadratic_kappa(xs, ys)),
                                              _round(krippendorff_alpha_interval([[x, y] for x, y in zip(xs, ys, strict=True)]))))
            if crit != TOTAL:
                gaps.extend(Gap(r, a, b, crit, x, y) for r, x, y in zip(common, xs, ys, strict=True) if x != y)
    auditors = [s for s in scorers if s != AUTO]
    if len(auditors) >= 2:
        replies = sorted({r for s in auditors for r in latest[s]})
        for crit in criteria:
            units = [[_points(latest[s][r], crit) for s in auditors if r in latest[s]] for r in replies]
            report.auditors_alpha[crit] = _round(krippendorff_alpha_interval(units))
    report.gaps = sorted(gaps, key=lambda g: (-g.size, g.reply_id, g.criterion, g.first, g.second))[:top]
    return report


def _points(score: Score, criterion: str) -> float:
    return float(score.total) if criterion == TOTAL else float(score.criteria.get(criterion, 0.0))


def _round(value: float | None) -> float | None:
    return None if value is None else round(value, 4)
