"""Adjudication: replies on which auditors disagree beyond a threshold, side by side, and the
adjudicator's decision, recorded as the adjudicator:NAME score that the report's effective
scores put above the auditors'."""

from __future__ import annotations

from dataclasses import dataclass

from sqlmodel import col, select
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from ..errors import NotFound, QualibenchError
from ..models import Brand, Probe, Reply, Score
from ..scorer.effective import AUDITOR_PREFIX, AUTO, effective_scores
from .coding import Coding, code_reply
from .people import ADJUDICATOR


@dataclass(frozen=True)
class Disagreement:
    reply_id: int
    scorers: tuple[str, ...]
    totals: tuple[float, ...]
    gap: float  # the largest gap in points, on the total or one criterion


def disagreements(coding: Coding, tolerance: float) -> list[Disagreement]:
    """Return the replies whose auditors are further apart than `tolerance` points, largest gap first."""
    with coding.ws.session() as session:
        cid, version = coding.campaign_id(session), coding.version(session)
        flagged = [e for e in effective_scores(session, cid, version, tolerance=tolerance).values()
                   if e.needs_adjudication]
        ids = [e.reply_id for e in flagged]
        rows = session.exec(select(Score).where(col(Score.reply_id).in_(ids), Score.rubric_version == version,
                                                col(Score.scorer).startswith(AUDITOR_PREFIX))
                            .order_by(col(Score.id))).all() if ids else []
    latest: dict[int, dict[str, Score]] = {}
    for s in rows:
        latest.setdefault(s.reply_id, {})[s.scorer] = s
    out = []
    for rid, by in latest.items():
        scores = list(by.values())
        keys = {k for s in scores for k in s.criteria}
        gaps = [max(s.total for s in scores) - min(s.total for s in scores)]
        gaps += [max(float(s.criteria.get(k, 0)) for s in scores) - min(float(s.criteria.get(k, 0)) for s in scores)
                 for k in keys]
        out.append(Disagreement(rid, tuple(by), tuple(s.total for s in scores), round(max(gaps), 2)))
    return sorted(out, key=lambda d: (-d.gap, d.reply_id))


def side_by_side(coding: Coding, reply_id: int) -> dict:
    """Return the reply, its request and brand, the automatic score and each auditor's latest code."""
    with coding.ws.session() as session:
        cid, version = coding.campaign_id(session), coding.version(session)
        reply = session.get(Reply, reply_id)
        if reply is None or reply.campaign_id != cid:
            raise NotFound(f"reply {reply_id} is not in this campaign", "go back to the list")
        probe = session.get(Probe, reply.probe_id)
        assert probe is not None
        brand = session.get(Brand, probe.brand_id)
        rows = session.exec(select(Score).where(Score.reply_id == reply_id, Score.rubric_version == version)
                            .order_by(col(Score.id))).all()
        rub = coding.rubric(session, version)
    latest: dict[str, Score] = {}
    for s in rows:
        latest[s.scorer] = s
    return {"reply_id": reply_id, "reply": reply.text, "request": probe.body, "subject": probe.subject,
            "brand": brand.name if brand else "", "channel": probe.channel,
            "auto": latest.get(AUTO), "codes": [s for n, s in latest.items() if n != AUTO],
            "criteria": [(c, rub.weight(c)) for c in rub.criteria if rub.weight(c) > 0]}


def adjudication_routes(review, default_tolerance: float) -> list[Route]:  # type: ignore[no-untyped-def]
    from .app import checked_form

    def tolerance(request: Request) -> float:
        try:
            return max(0.0, float(request.query_params.get("threshold", default_tolerance)))
        except ValueError:
            return default_tolerance

    async def listing(request: Request) -> Response:
        review.require(request, ADJUDICATOR)
        t = tolerance(request)
        return review.page(request, "adjudicate.html", items=disagreements(review.coding, t), threshold=t)

    async def one(request: Request) -> Response:
        person = review.require(request, ADJUDICATOR)
        reply_id = int(request.path_params["reply_id"])
        error, form = "", {}
        if request.method == "POST":
            form = await checked_form(request)
            try:
                code_reply(review.coding, person, reply_id, form, adjudicate=True)
                return RedirectResponse("/adjudicate", status_code=303)
            except QualibenchError as exc:
                error = f"{exc.message} ({exc.hint})"
        if reply_id <= 0:
            raise HTTPException(404, "no such reply")
        return review.page(request, "adjudicate_one.html", status=422 if error else 200,
                           s=side_by_side(review.coding, reply_id), error=error, form=form)

    return [Route("/adjudicate", listing),
            Route("/adjudicate/{reply_id:int}", one, methods=["GET", "POST"])]
