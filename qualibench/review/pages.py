"""The pages of the review workspace: coding queue, evidence, adjudication, agreement, analyst queues.

Who may see what is decided here, on the server, whatever a page asks for: in blind mode an
auditor sees only the replies assigned to them, without brand, automatic score or anyone
else's code; the evidence of a reply opens to them once their own code of it is saved.
"""

from __future__ import annotations

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response
from starlette.routing import Route

from ..errors import QualibenchError
from ..scorer.agreement import agreement_report, rubric_versions
from ..scorer.effective import DEFAULT_TOLERANCE
from .app import RAW_CSP, checked_form
from .coding import code_reply, coding_item, has_coded, queue
from .dossier import raw_view, reply_dossier
from .people import ADJUDICATOR, ANALYST, AUDITOR

CODERS = (AUDITOR, ADJUDICATOR)
OVERSEERS = (ANALYST, ADJUDICATOR)


def _int(request: Request, name: str) -> int:
    try:
        return int(request.path_params[name])
    except (KeyError, ValueError):
        raise HTTPException(404, "no such item") from None


def routes(review) -> list[Route]:  # type: ignore[no-untyped-def]
    from .adjudication import adjudication_routes
    from .analyst import analyst_routes

    coding = review.coding

    async def queue_page(request: Request) -> Response:
        person = review.require(request, *CODERS)
        q = queue(coding, person)
        with review.ws.session() as session:
            coding.rubric(session, q.rubric_version)
        return review.page(request, "queue.html", queue=q, note=coding.scale_notes.get(q.rubric_version, ""))

    async def code_next(request: Request) -> Response:
        person = review.require(request, *CODERS)
        q = queue(coding, person, limit=1, exact=False)
        return RedirectResponse(f"/code/{q.next_ids[0]}" if q.next_ids else "/queue", status_code=303)

    def panel(request: Request, person, reply_id: int, *, error: str = "", form=None, status: int = 200,  # type: ignore[no-untyped-def]
              q=None) -> Response:
        item = coding_item(coding, person, reply_id, blind=review.blind)
        full = not request.headers.get("hx-request")
        q = q or queue(coding, person, limit=1, exact=False)
        return review.page(request, "code.html" if full else "_panel.html", status=status, item=item,
                           error=error, form=form or {}, queue=q,
                           evidence_open=not review.blind or item.mine is not None)

    async def code_page(request: Request) -> Response:
        person = review.require(request, *CODERS)
        return panel(request, person, _int(request, "reply_id"))

    async def code_save(request: Request) -> Response:
        person = review.require(request, *CODERS)
        reply_id = _int(request, "reply_id")
        form = await checked_form(request)
        try:
            code_reply(coding, person, reply_id, form)
        except QualibenchError as exc:
            # htmx swaps only 2xx answers: the error is shown in the panel, with what was typed.
            return panel(request, person, reply_id, error=f"{exc.message} ({exc.hint})", form=form,
                         status=200 if request.headers.get("hx-request") else 422)
        q = queue(coding, person, limit=1, exact=False)
        if not q.next_ids:
            if request.headers.get("hx-request"):
                return review.page(request, "_done.html", queue=q)
            return RedirectResponse("/queue", status_code=303)
        nxt = q.next_ids[0]
        if request.headers.get("hx-request"):
            response = panel(request, person, nxt, q=q)
            response.headers["HX-Push-Url"] = f"/code/{nxt}"
            return response
        return RedirectResponse(f"/code/{nxt}", status_code=303)

    def may_see_evidence(request: Request, reply_id: int):  # type: ignore[no-untyped-def]
        person = review.require(request)
        if person.role == AUDITOR:
            try:
                coding_item(coding, person, reply_id, blind=True)  # assigned to them, or 404
            except QualibenchError:
                raise HTTPException(404, "this reply is not in your coding queue") from None
            if review.blind and not has_coded(coding, person, reply_id):
                raise HTTPException(403, "in blind coding the evidence opens once your own code is saved")
        return person

    async def reply_page(request: Request) -> Response:
        reply_id = _int(request, "reply_id")
        person = may_see_evidence(request, reply_id)
        dossier = reply_dossier(coding, reply_id, show_brand=not (review.blind and person.role == AUDITOR),
                                show_codes=person.role == ADJUDICATOR)
        return review.page(request, "reply.html", d=dossier)

    async def raw_message(request: Request) -> Response:
        reply_id = _int(request, "reply_id")
        person = may_see_evidence(request, reply_id)
        document = raw_view(coding, reply_id, blind=review.blind and person.role == AUDITOR)
        return HTMLResponse(document, headers={"Content-Security-Policy": RAW_CSP, "X-Frame-Options": "SAMEORIGIN"})

    async def agreement_page(request: Request) -> Response:
        review.require(request, *OVERSEERS)
        versions = rubric_versions(review.ws)
        wanted = request.query_params.get("rubric") or None
        report = agreement_report(review.ws, rubric=wanted, top=20)
        return review.page(request, "agreement.html", report=report, versions=versions,
                           criteria=sorted({p.criterion for p in report.pairs}, key=lambda c: (c == "total", c)))

    return [
        Route("/queue", queue_page),
        Route("/code/next", code_next),
        Route("/code/{reply_id:int}", code_page, methods=["GET"]),
        Route("/code/{reply_id:int}", code_save, methods=["POST"]),
        Route("/reply/{reply_id:int}", reply_page),
        Route("/reply/{reply_id:int}/raw", raw_message),
        Route("/agreement", agreement_page),
        *adjudication_routes(review, DEFAULT_TOLERANCE),
        *analyst_routes(review),
    ]

