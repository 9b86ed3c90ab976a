"""The review workspace as an ASGI application: security, sessions, sign-in, then the pages.

Every page is sent with a strict Content-Security-Policy (scripts and styles only from
/static, nothing inline, no framing), sessions are signed cookies (HttpOnly, SameSite=Strict),
and every POST must carry the session's CSRF token (and, when the browser says where it comes
from, our own origin). The raw-message route has its own, stricter policy (see dossier.py).
"""

from __future__ import annotations

import hmac
import os
import secrets
from pathlib import Path

from starlette.applications import Starlette
from starlette.datastructures import MutableHeaders
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.middleware.sessions import SessionMiddleware
from starlette.middleware.trustedhost import TrustedHostMiddleware
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles
from starlette.templating import Jinja2Templates

from ..errors import NotFound, QualibenchError
from ..workspace import Workspace
from .attempts import login_refusal, record_failure
from .coding import Coding
from .people import (
    ADJUDICATOR,
    ANALYST,
    AUDITOR,
    Person,
    check_password,
    get_person,
    redeem_login,
    set_password,
)

HERE = Path(__file__).resolve().parent
PAGE_CSP = ("default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; connect-src 'self'; "
            "form-action 'self'; frame-src 'self'; frame-ancestors 'none'; base-uri 'none'")
RAW_CSP = "default-src 'none'; form-action 'none'; base-uri 'none'; frame-ancestors 'self'; sandbox"
SESSION_HOURS = 12
KEY_FILE = ".qualibench-review.key"
LOOPBACK_HOSTS = ["127.0.0.1", "localhost", "[::1]", "::1"]


class SecurityHeaders:
    """Adds the security headers to every response that did not set its own policy."""

    def __init__(self, app) -> None:  # type: ignore[no-untyped-def]
        self.app = app

    async def __call__(self, scope, receive, send) -> None:  # type: ignore[no-untyped-def]
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def with_headers(message) -> None:  # type: ignore[no-untyped-def]
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                if "content-security-policy" not in headers:
                    headers["Content-Security-Policy"] = PAGE_CSP
                    headers["X-Frame-Options"] = "DENY"
                headers["X-Content-Type-Options"] = "nosniff"
                headers["Referrer-Policy"] = "no-referrer"
                headers["Cross-Origin-Opener-Policy"] = "same-origin"
                headers.setdefault("Cache-Control", "no-store")
            await send(message)

        await self.app(scope, receive, with_headers)


class LoginNeeded(Exception):
    """Raised by a page that needs a signed-in reviewer."""


def session_secret(root: Path) -> str:
    """Return the key that signs session cookies, kept in the campaign folder (mode 0600)."""
    path = root / KEY_FILE
    try:
        return path.read_text().strip()
    except FileNotFoundError:
        key = secrets.token_hex(32)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as fh:
            fh.write(key)
        return key


def when(value) -> str:  # type: ignore[no-untyped-def]
    """Jinja filter: an aware datetime as "2026-12-01 09:30 UTC", or a dash."""
    return "—" if value is None else value.strftime("%Y-%m-%d %H:%M:%S UTC")


class Review:
    """State shared by the pages: the workspace, the coding context, the options."""

    def __init__(self, ws: Workspace, *, blind: bool) -> None:
        self.ws = ws
        self.blind = blind
        self.coding = Coding(ws)
        self.templates = Jinja2Templates(directory=str(HERE / "templates"))
        self.templates.env.globals["blind"] = blind
        self.templates.env.filters["when"] = when

    def person(self, request: Request) -> Person | None:
        if not hasattr(request.state, "person"):  # one look-up per request
            rid = request.session.get("rid")
            request.state.person = get_person(self.ws, int(rid)) if isinstance(rid, int) else None
        return request.state.person

    def require(self, request: Request, *roles: str) -> Person:
        """Return the signed-in reviewer, who must hold one of `roles` (any role if none)."""
        person = self.person(request)
        if person is None:
            raise LoginNeeded
        if roles and person.role not in roles:
            raise HTTPException(403, f"this page is for the {' or '.join(roles)} role; you are {person.role}")
        return person

    def page(self, request: Request, name: str, status: int = 200, **context) -> Response:  # type: ignore[no-untyped-def]
        context.update(person=self.person(request) if "person" not in context else context["person"],
                       csrf=csrf_token(request))
        return self.templates.TemplateResponse(request, name, context, status_code=status)


def csrf_token(request: Request) -> str:
    token = request.session.get("csrf")
    if not isinstance(token, str):
        token = secrets.token_urlsafe(32)
        request.session["csrf"] = token
    return token


async def checked_form(request: Request) -> dict[str, str]:
    """Return the posted form once its CSRF token (and Origin, if sent) are ours; else 403."""
    origin = request.headers.get("origin")
    if origin and origin != "null" and origin != f"{request.url.scheme}://{request.url.netloc}":
        raise HTTPException(403, "cross-origin form refused")
    form = await request.form()
    given = form.get("csrf")
    expected = request.session.get("csrf")
    if not isinstance(given, str) or not isinstance(expected, str) or not hmac.compare_digest(given, expected):
        raise HTTPException(403, "form refused: the CSRF token is missing or wrong (reload the page)")
    return {k: v for k, v in form.items() if isinstance(v, str)}


def sign_in(request: Request, person: Person) -> RedirectResponse:
    request.session.clear()  # a new session id for a new identity: no fixation
    request.session["rid"] = person.id
    request.session["csrf"] = secrets.token_urlsafe(32)
    return RedirectResponse("/", status_code=303)


def _routes(review: Review) -> list:
    from . import pages

    async def home(request: Request) -> Response:
        person = review.require(request)
        target = {AUDITOR: "/queue", ADJUDICATOR: "/adjudicate", ANALYST: "/inbox"}[person.role]
        return RedirectResponse(target, status_code=303)

    async def login_form(request: Request) -> Response:
        return review.page(request, "login.html", person=None)

    async def login_password(request: Request) -> Response:
        form = await checked_form(request)
        name, client = form.get("name", "").strip(), request.client.host if request.client else ""
        now = review.ws.clock.now()
        refusal = login_refusal(review.ws, name, client)  # before the password is even looked at
        if refusal is None:
            person = check_password(review.ws, name, form.get("password", ""))
            if person is not None:
                return sign_in(request, person)
            refusal = record_failure(review.ws, name, client)
            if refusal is None:
                return review.page(request, "login.html", status=401, person=None, error="wrong name or password")
        page = review.page(request, "login.html", status=429, person=None, error=refusal.message(now))
        page.headers["Retry-After"] = str(refusal.retry_after(now))
        return page

    async def link_form(request: Request) -> Response:
        # A GET never spends the token: mail scanners and link previews open links too.
        return review.page(request, "link.html", person=None, token=request.path_params["token"])

    async def link_redeem(request: Request) -> Response:
        await checked_form(request)
        person = redeem_login(review.ws, request.path_params["token"])
        if person is None:
            return review.page(request, "message.html", status=401, person=None, title="Link not valid",
                               message="This login link was already used or has expired. Ask for a new one: "
                                       "qualibench review link NAME")
        return sign_in(request, person)

    async def logout(request: Request) -> Response:
        await checked_form(request)
        request.session.clear()
        return RedirectResponse("/login", status_code=303)

    async def account(request: Request) -> Response:
        person = review.require(request)
        if request.method == "POST":
            form = await checked_form(request)
            try:
                set_password(review.ws, person, form.get("password", ""))
            except QualibenchError as exc:
                return review.page(request, "account.html", status=400, error=f"{exc.message} ({exc.hint})")
            return review.page(request, "account.html", done=True)
        return review.page(request, "account.html")

    async def favicon(request: Request) -> Response:
        return Response(status_code=204)  # browsers ask for it; an empty answer keeps logs clean

    return [
        Route("/", home),
        Route("/favicon.ico", favicon),
        Route("/login", login_form, methods=["GET"]),
        Route("/login", login_password, methods=["POST"]),
        Route("/login/{token}", link_form, methods=["GET"]),
        Route("/login/{token}", link_redeem, methods=["POST"]),
        Route("/logout", logout, methods=["POST"]),
        Route("/account", account, methods=["GET", "POST"]),
        *pages.routes(review),
        Mount("/static", StaticFiles(directory=str(HERE / "static")), name="static"),
    ]


def create_app(ws: Workspace, *, blind: bool = True, allowed_hosts: list[str] | None = None) -> Starlette:
    """Return the review application over `ws` (blind coding unless `blind` is False)."""
    review = Review(ws, blind=blind)

    async def login_needed(request: Request, exc: Exception) -> Response:
        if request.headers.get("hx-request"):
            return Response(status_code=401, headers={"HX-Redirect": "/login"})
        return RedirectResponse("/login", status_code=303)

    async def refused(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, HTTPException)
        return review.page(request, "message.html", status=exc.status_code,
                           title=f"{exc.status_code}", message=exc.detail)

    async def failed(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, QualibenchError)
        status = 404 if isinstance(exc, NotFound) else 400
        return review.page(request, "message.html", status=status, title="Not possible",
                           message=f"{exc.message}. {exc.hint or ''}")

    middleware = [
        Middleware(SecurityHeaders),
        Middleware(TrustedHostMiddleware, allowed_hosts=allowed_hosts or LOOPBACK_HOSTS),
        Middleware(SessionMiddleware, secret_key=session_secret(ws.root), session_cookie="qb_review",
                   max_age=SESSION_HOURS * 3600, same_site="strict", https_only=False),
    ]
    app = Starlette(routes=_routes(review), middleware=middleware, max_body_size=2_000_000,
                    exception_handlers={LoginNeeded: login_needed, HTTPException: refused,
                                        QualibenchError: failed})
    app.state.review = review
    return app
