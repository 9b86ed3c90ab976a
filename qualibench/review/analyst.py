"""The analyst's pages: the inbox (assign, dismiss), low-confidence matches, flagged replies,
and handing replies out to auditors. Each action calls the library function the CLI calls,
with the signed-in analyst's name, so it lands in the event log under that name."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from ..errors import QualibenchError
from ..inbox import assign, dismiss, list_inbox
from .coding import assign_replies
from .people import ADJUDICATOR, ANALYST, AUDITOR, reviewers
from .queues import (
    confirm_match,
    decide_flagged_delay,
    flagged_replies,
    low_confidence_matches,
    reject_match,
)

OVERSEERS = (ANALYST, ADJUDICATOR)


def analyst_routes(review) -> list[Route]:  # type: ignore[no-untyped-def]
    from .app import checked_form

    ws = review.ws

    def again(request: Request, name: str, error: str = "", **context) -> Response:  # type: ignore[no-untyped-def]
        return review.page(request, name, status=400 if error else 200, error=error, **context)

    async def inbox_page(request: Request, error: str = "") -> Response:
        review.require(request, *OVERSEERS)
        return again(request, "inbox.html", error, items=list_inbox(ws))

    async def inbox_action(request: Request) -> Response:
        person = review.require(request, *OVERSEERS)
        form = await checked_form(request)
        inbound_id = int(request.path_params["inbound_id"])
        action = request.path_params["action"]
        try:
            if action == "assign":
                assign(ws, inbound_id, form.get("probe", "").strip(), person.name)
            elif action != "dismiss":
                return await inbox_page(request, f"unknown action {action[:20]!r}")
            else:
                dismiss(ws, inbound_id, person.name, form.get("why", "").strip())
        except QualibenchError as exc:
            return await inbox_page(request, f"#{inbound_id}: {exc.message} ({exc.hint})")
        return RedirectResponse("/inbox", status_code=303)

    async def matches_page(request: Request, error: str = "") -> Response:
        review.require(request, *OVERSEERS)
        return again(request, "matches.html", error, low=low_confidence_matches(ws), flagged=flagged_replies(ws))

    async def match_action(request: Request) -> Response:
        person = review.require(request, *OVERSEERS)
        form = await checked_form(request)
        reply_id = int(request.path_params["reply_id"])
        action = form.get("action", "")
        try:
            if action == "confirm":
                confirm_match(ws, reply_id, person.name)
            elif action == "reject":
                reject_match(ws, reply_id, person.name, form.get("why", ""))
            elif action in ("keep", "exclude"):
                decide_flagged_delay(ws, reply_id, person.name, keep=action == "keep")
            else:
                return await matches_page(request, f"unknown action {action[:20]!r}")
        except QualibenchError as exc:
            return await matches_page(request, f"reply {reply_id}: {exc.message} ({exc.hint})")
        return RedirectResponse("/matches", status_code=303)

    async def assign_page(request: Request) -> Response:
        person = review.require(request, *OVERSEERS)
        auditors = reviewers(ws, AUDITOR)
        if request.method == "GET":
            return review.page(request, "assign.html", auditors=auditors)
        form = await checked_form(request)
        chosen = [a.name for a in auditors if form.get(f"auditor:{a.name}")]
        try:
            report = assign_replies(ws, chosen, share=float(form.get("share", "1") or 1), by=person.name)
        except (QualibenchError, ValueError) as exc:
            message = f"{exc.message} ({exc.hint})" if isinstance(exc, QualibenchError) else "the share is not a number"
            return again(request, "assign.html", message, auditors=auditors)
        return review.page(request, "assign.html", auditors=auditors, report=report)

    return [
        Route("/inbox", inbox_page),
        Route("/inbox/{inbound_id:int}/{action:str}", inbox_action, methods=["POST"]),
        Route("/matches", matches_page),
        Route("/matches/{reply_id:int}", match_action, methods=["POST"]),
        Route("/assign", assign_page, methods=["GET", "POST"]),
    ]
