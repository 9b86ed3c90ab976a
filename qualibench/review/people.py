"""The people of the review workspace: roles, one-time login links, optional passwords.

A login token is 32 random bytes printed once; only its SHA-256 is stored, so a copy of the
database opens no session. Passwords, when someone sets one, are hashed with argon2id.
"""

from __future__ import annotations

import hashlib
import re
import secrets
from dataclasses import dataclass
from datetime import timedelta

from sqlmodel import Session, select

from ..errors import NotFound, QualibenchError
from ..events import log_event
from ..models import Reviewer, ReviewLogin
from ..workspace import Workspace

ANALYST, AUDITOR, ADJUDICATOR = "analyst", "auditor", "adjudicator"
ROLES = (ANALYST, AUDITOR, ADJUDICATOR)
LINK_LIFETIME = timedelta(hours=24)
MIN_PASSWORD = 10
# The same alphabet as audit --auditor, since a reviewer's scores are recorded as auditor:NAME.
_NAME = re.compile(r"^[\w.@-]{1,64}$")


@dataclass(frozen=True)
class Person:
    """Who is signed in: enough to decide what a page may show."""

    id: int
    name: str
    role: str

    @property
    def may_code(self) -> bool:
        return self.role in (AUDITOR, ADJUDICATOR)


def _person(r: Reviewer) -> Person:
    assert r.id is not None
    return Person(r.id, r.name, r.role)


def token_digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def _check_role(role: str) -> str:
    if role not in ROLES:
        raise QualibenchError(f"role {role!r} is not known", f"use one of: {', '.join(ROLES)}")
    return role


def _new_link(session: Session, ws: Workspace, reviewer: Reviewer) -> str:
    token = secrets.token_urlsafe(32)
    now = ws.clock.now()
    assert reviewer.id is not None
    session.add(ReviewLogin(reviewer_id=reviewer.id, token_sha256=token_digest(token),
                            created_at=now, expires_at=now + LINK_LIFETIME))
    return token


def add_reviewer(ws: Workspace, name: str, role: str) -> tuple[Person, str]:
    """Create a reviewer; return them and a one-time login token (printed, never stored)."""
    name = (name or "").strip()
    if not _NAME.match(name):
        raise QualibenchError(f"reviewer name {name!r} is not valid",
                              "use letters, digits, '.', '_', '@' or '-' (at most 64)")
    _check_role(role)
    with ws.session() as session:
        campaign = ws.campaign(session)
        assert campaign.id is not None
        if session.exec(select(Reviewer).where(Reviewer.name == name)).first() is not None:
            raise QualibenchError(f"reviewer {name!r} already exists",
                                  f"print a new link with `qualibench review link {name}`")
        row = Reviewer(name=name, role=role, created_at=ws.clock.now())
        session.add(row)
        session.flush()
        token = _new_link(session, ws, row)
        log_event(session, campaign.id, "review.user_added", f"reviewer:{name}",
                  {"role": role, "by": "cli"}, ws.clock)
        return _person(row), token


def new_login_link(ws: Workspace, name: str) -> str:
    """Return a fresh one-time login token for an existing reviewer."""
    with ws.session() as session:
        campaign = ws.campaign(session)
        row = session.exec(select(Reviewer).where(Reviewer.name == name)).first()
        if row is None:
            raise NotFound(f"no reviewer {name!r}", f"add one with `qualibench review add-user {name} --role auditor`")
        token = _new_link(session, ws, row)
        log_event(session, campaign.id or 0, "review.link_issued", f"reviewer:{name}", {}, ws.clock)
        return token


def disable_reviewer(ws: Workspace, name: str) -> None:
    """Disable a reviewer: their sessions, links and password stop working at once (codes stay)."""
    with ws.session() as session:
        campaign = ws.campaign(session)
        row = session.exec(select(Reviewer).where(Reviewer.name == name)).first()
        if row is None:
            raise NotFound(f"no reviewer {name!r}", "list them in the event log (review.user_added)")
        row.disabled = True
        session.add(row)
        log_event(session, campaign.id or 0, "review.user_disabled", f"reviewer:{name}", {"by": "cli"}, ws.clock)


def redeem_login(ws: Workspace, token: str) -> Person | None:
    """Return the reviewer a valid unused token belongs to, marking it used; None otherwise."""
    with ws.session() as session:
        campaign = ws.campaign(session)
        link = session.exec(select(ReviewLogin).where(ReviewLogin.token_sha256 == token_digest(token))).first()
        now = ws.clock.now()
        if link is None or link.used_at is not None or (link.expires_at and link.expires_at < now):
            return None
        reviewer = session.get(Reviewer, link.reviewer_id)
        if reviewer is None or reviewer.disabled:
            return None
        link.used_at = now
        session.add(link)
        log_event(session, campaign.id or 0, "review.login", f"reviewer:{reviewer.name}",
                  {"with": "link"}, ws.clock)
        return _person(reviewer)


def set_password(ws: Workspace, person: Person, password: str) -> None:
    """Store an argon2id hash of `password` for `person` (logged, the password never is)."""
    from argon2 import PasswordHasher

    if len(password or "") < MIN_PASSWORD:
        raise QualibenchError("the password is too short", f"use at least {MIN_PASSWORD} characters")
    with ws.session() as session:
        campaign = ws.campaign(session)
        row = session.get(Reviewer, person.id)
        assert row is not None
        row.password_hash = PasswordHasher().hash(password)
        session.add(row)
        log_event(session, campaign.id or 0, "review.password_set", f"reviewer:{row.name}", {}, ws.clock)


def check_password(ws: Workspace, name: str, password: str) -> Person | None:
    """Return the reviewer when `password` is theirs; None otherwise (same answer for unknown names)."""
    from argon2 import PasswordHasher
    from argon2.exceptions import InvalidHashError, VerificationError

    with ws.session() as session:
        row = session.exec(select(Reviewer).where(Reviewer.name == name)).first()
        if row is None or row.disabled or not row.password_hash:
            return None
        try:
            PasswordHasher().verify(row.password_hash, password)
        except (VerificationError, InvalidHashError):
            return None
        campaign = ws.campaign(session)
        log_event(session, campaign.id or 0, "review.login", f"reviewer:{row.name}",
                  {"with": "password"}, ws.clock)
        return _person(row)


def get_person(ws: Workspace, reviewer_id: int) -> Person | None:
    """Return the reviewer behind a session, or None when removed or disabled."""
    with ws.session() as session:
        row = session.get(Reviewer, reviewer_id)
        return None if row is None or row.disabled else _person(row)


def reviewers(ws: Workspace, role: str | None = None) -> list[Person]:
    """Return the reviewers (of one role), by name."""
    with ws.session() as session:
        q = select(Reviewer).where(Reviewer.disabled == False)  # noqa: E712
        if role:
            q = q.where(Reviewer.role == role)
        return [_person(r) for r in session.exec(q.order_by(Reviewer.name))]
