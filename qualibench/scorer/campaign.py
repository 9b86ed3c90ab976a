"""Score a campaign's replies, and rescore it with another rubric (new rows, the old ones stay)."""

from __future__ import annotations

import time
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path

from sqlmodel import Session, select

from ..events import log_event
from ..models import Brand, Campaign, Persona, Probe, Reply, ReplyKind, Scenario, Score
from ..workspace import Workspace
from .batch import batch_scorer, default_workers
from .effective import AUTO, current_rubric_version, effective_scores
from .rubric import Rubric, load_rubric

# Acknowledgements, out-of-office replies and bounces are classified, never scored as answers.
SCORED_KINDS = (ReplyKind.ANSWER.value, ReplyKind.REDIRECT.value)
BATCH = 2000

Progress = Callable[[int, int], None]  # (done, total)


@dataclass
class ScoreReport:
    """What `score_campaign` did."""

    rubric_name: str
    rubric_version: str
    scored: int
    already_scored: int
    not_scored_kinds: dict[str, int] = field(default_factory=dict)  # kind -> replies left out
    seconds: float = 0.0


@dataclass(frozen=True)
class BrandMove:
    """A brand whose rank changes between two rubrics (rank 1 = best mean score)."""

    brand: str
    old_rank: int | None
    new_rank: int
    old_mean: float | None
    new_mean: float
    # Why it moves: mean points per criterion, new minus old (automatic scores of its replies).
    criteria_change: dict[str, float] = field(default_factory=dict)


@dataclass
class RescoreReport:
    """What `rescore_campaign` did and which brands move in the ranking."""

    old_version: str | None
    new_version: str
    score: ScoreReport
    moves: list[BrandMove] = field(default_factory=list)
    ranking: list[BrandMove] = field(default_factory=list)  # every brand, new order


def resolve_rubric(ws: Workspace, campaign: Campaign | None, rubric: str | Path | None) -> Rubric:
    """Return the rubric asked for, else the campaign's configured one, else the default."""
    name: str | Path | None = rubric
    if name is None and campaign is not None:
        config = campaign.config or {}
        # campaign.toml's [scoring] rubric = "..." (the config is stored as the TOML was read)
        name = (config.get("scoring") or {}).get("rubric") or config.get("rubric") or None
    if isinstance(name, str) and (name.endswith((".yaml", ".yml")) or "/" in name):
        candidate = Path(name)
        if not candidate.is_absolute() and (ws.root / candidate).exists():
            name = ws.root / candidate
    return load_rubric(name)


def score_campaign(ws: Workspace, *, rubric: str | Path | None = None,
                   progress: Progress | None = None, workers: int | None = None) -> ScoreReport:
    """Score every answer/redirect with no automatic score under the rubric; return the counts.

    `workers`: processes to score with (default: one per core for large runs, else one).
    """
    started = time.perf_counter()
    with ws.session() as session:
        campaign = ws.campaign(session)
        rub = resolve_rubric(ws, campaign, rubric)
        report = _score_missing(ws, session, campaign, rub, progress, workers)
    report.seconds = time.perf_counter() - started
    return report


def _score_missing(ws: Workspace, session: Session, campaign: Campaign, rub: Rubric,
                   progress: Progress | None, workers: int | None = None) -> ScoreReport:
    cid = campaign.id
    assert cid is not None
    kinds: dict[str, int] = defaultdict(int)
    for kind in session.exec(select(Reply.kind).where(Reply.campaign_id == cid)):
        if kind not in SCORED_KINDS:
            kinds[kind] += 1
    done = set(session.exec(
        select(Score.reply_id).where(Score.campaign_id == cid, Score.scorer == AUTO,
                                     Score.rubric_version == rub.version)
    ))
    answers = session.exec(
        select(Reply.id).where(Reply.campaign_id == cid, Reply.kind.in_(SCORED_KINDS))  # type: ignore[attr-defined]
        .order_by(Reply.id)  # type: ignore[arg-type]
    ).all()
    todo = [rid for rid in answers if rid not in done]
    scenarios = {s.id: s.spec for s in session.exec(select(Scenario).where(Scenario.campaign_id == cid))}
    personas = {p.id: f"{p.first_name} {p.last_name}"
                for p in session.exec(select(Persona).where(Persona.campaign_id == cid))}
    now = ws.clock.now()
    scored = 0
    count = workers if workers is not None else default_workers(len(todo))

    def write(scored_rows: list) -> int:
        batch = [
            {"campaign_id": cid, "reply_id": rid, "rubric_name": rub.name,
             "rubric_version": rub.version, "scorer": AUTO, "total": total,
             "criteria": criteria, "evidence": evidence, "justification": why, "created_at": now}
            for rid, total, criteria, evidence, why in scored_rows
        ]
        if batch:
            session.execute(Score.__table__.insert(), batch)  # type: ignore[attr-defined]
        return len(batch)

    with batch_scorer(rub, scenarios, personas, count) as submit:
        pending = None
        # Plain column tuples, a chunk at a time: loading 100,000 ORM objects would cost more
        # than scoring them. While workers score a chunk, the previous one is written.
        for lo in range(0, len(todo), BATCH):
            rows = session.execute(
                select(Reply.id, Reply.text, Reply.language, Reply.signature, Probe.scenario_id,
                       Probe.persona_id, Probe.fills, Probe.body, Probe.channel)
                .join(Probe, Probe.id == Reply.probe_id)  # type: ignore[arg-type]
                .where(Reply.id.in_(todo[lo:lo + BATCH]))  # type: ignore[union-attr]
                .order_by(Reply.id)  # type: ignore[arg-type]
            ).all()
            started = submit([tuple(r) for r in rows])
            if pending is not None:
                scored += write(pending())
                if progress is not None:
                    progress(scored, len(todo))
            pending = started
        if pending is not None:
            scored += write(pending())
            if progress is not None:
                progress(scored, len(todo))
    if todo:
        log_event(session, cid, "score.auto", f"rubric:{rub.version}",
                  {"rubric": rub.name, "version": rub.version, "source": str(rub.source),
                   "scored": len(todo)}, ws.clock)
    return ScoreReport(rub.name, rub.version, len(todo), len(answers) - len(todo), dict(kinds))


def brand_ranking(session: Session, campaign_id: int, rubric_version: str | None) -> dict[str, float]:
    """Return brand name -> mean effective score of its scored replies under `rubric_version`."""
    eff = effective_scores(session, campaign_id, rubric_version, totals_only=True)
    if not eff:
        return {}
    brand_of = dict(session.exec(
        select(Reply.id, Brand.name).join(Probe, Probe.id == Reply.probe_id)  # type: ignore[arg-type]
        .join(Brand, Brand.id == Probe.brand_id)  # type: ignore[arg-type]
        .where(Reply.campaign_id == campaign_id)
    ).all())
    sums: dict[str, list[float]] = defaultdict(list)
    for reply_id, e in eff.items():
        if reply_id in brand_of:
            sums[brand_of[reply_id]].append(e.total)
    return {b: round(sum(v) / len(v), 2) for b, v in sums.items()}


def _ranks(means: dict[str, float]) -> dict[str, int]:
    # Competition ranking (1, 2, 2, 4): tied brands share a rank, names only break display order.
    ordered = sorted(means.items(), key=lambda kv: (-kv[1], kv[0]))
    ranks: dict[str, int] = {}
    for i, (brand, mean) in enumerate(ordered, 1):
        prev = ordered[i - 2] if i > 1 else None
        ranks[brand] = ranks[prev[0]] if prev and prev[1] == mean else i
    return ranks


def rescore_campaign(ws: Workspace, rubric_path: str | Path, *, diff: bool = True,
                     progress: Progress | None = None, workers: int | None = None) -> RescoreReport:
    """Score the campaign with another rubric (new rows) and return the brands that move."""
    with ws.session() as session:
        campaign = ws.campaign(session)
        cid = campaign.id
        assert cid is not None
        rub = resolve_rubric(ws, campaign, rubric_path)
        old_version = current_rubric_version(session, cid)
        before = brand_ranking(session, cid, old_version) if diff and old_version else {}
        started = time.perf_counter()
        score = _score_missing(ws, session, campaign, rub, progress, workers)
        score.seconds = time.perf_counter() - started
        session.flush()
        after = brand_ranking(session, cid, rub.version) if diff else {}
        log_event(session, cid, "score.rescore", f"rubric:{rub.version}",
                  {"from": old_version, "to": rub.version, "rubric": str(rub.source.name)}, ws.clock)
    old_ranks, new_ranks = _ranks(before), _ranks(after)
    ranking = [
        BrandMove(b, old_ranks.get(b), new_ranks[b], before.get(b), after[b])
        for b in sorted(new_ranks, key=lambda b: (new_ranks[b], b))
    ]
    moves = [m for m in ranking if m.old_rank != m.new_rank]
    if moves and old_version:
        with ws.session() as session:
            change = _criteria_change(session, cid, old_version, rub.version, {m.brand for m in moves})
        moves = [replace(m, criteria_change=change.get(m.brand, {})) for m in moves]
        ranking = [replace(m, criteria_change=change.get(m.brand, {})) for m in ranking]
    return RescoreReport(old_version, rub.version, score, moves, ranking)


def _criteria_change(session: Session, campaign_id: int, old: str, new: str,
                     brands: set[str]) -> dict[str, dict[str, float]]:
    """Return brand -> criterion -> mean automatic points under `new` minus under `old`."""
    rows = session.execute(
        select(Brand.name, Score.rubric_version, Score.criteria)
        .join(Reply, Reply.id == Score.reply_id)  # type: ignore[arg-type]
        .join(Probe, Probe.id == Reply.probe_id)  # type: ignore[arg-type]
        .join(Brand, Brand.id == Probe.brand_id)  # type: ignore[arg-type]
        .where(Score.campaign_id == campaign_id, Score.scorer == AUTO,
               Score.rubric_version.in_([old, new]), Brand.name.in_(sorted(brands)))  # type: ignore[attr-defined]
    ).all()
    sums: dict[tuple[str, str], dict[str, list[float]]] = defaultdict(lambda: defaultdict(list))
    for brand, version, criteria in rows:
        for crit, pts in (criteria or {}).items():
            sums[(brand, version)][crit].append(float(pts))
    out: dict[str, dict[str, float]] = {}
    for brand in brands:
        before, after = sums.get((brand, old), {}), sums.get((brand, new), {})
        out[brand] = {c: round(sum(after[c]) / len(after[c]) - sum(before[c]) / len(before[c]), 2)
                      for c in after if before.get(c)}
    return out
