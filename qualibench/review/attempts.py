"""The login rate limit of the review workspace: password guesses are counted per account and per
client address, and after MAX_FAILURES failures within WINDOW further password sign-ins are
refused, before any password is checked, until the oldest of them leaves the window.

Failures are rows in the database (ReviewAttempt), so the limit holds for every process and
every machine of a team sharing it. Only the name typed and the address are stored, never the
password. A one-time login link is not limited: its token cannot be guessed, and an attacker
who locks an account's password out does not lock its owner out of a new link.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlmodel import col, delete, select

from ..events import log_event
from ..models import ReviewAttempt
from ..workspace import Workspace

MAX_FAILURES = 5
WINDOW = timedelta(minutes=15)
KEEP = timedelta(days=1)  # older failures are deleted: they count for nothing
_NAME_CHARS = 200


@dataclass(frozen=True)
class Refusal:
    """Why password sign-in is refused now, and until when."""

    scope: str  # "account" or "address"
    until: datetime

    def message(self, now: datetime) -> str:
        who = "this account" if self.scope == "account" else "this address"
        minutes = max(1, -(-int((self.until - now).total_seconds()) // 60))
        return (f"Too many failed sign-ins for {who} ({MAX_FAILURES} within {int(WINDOW.total_seconds() // 60)} "
                f"minutes): password sign-in is refused until {self.until:%H:%M} UTC (in {minutes} min). "
                "A one-time link still works: ask for one with `qualibench review link NAME`.")

    def retry_after(self, now: datetime) -> int:
        return max(1, int((self.until - now).total_seconds()) + 1)


def account_key(name: str) -> str:
    """The account a typed name counts against (case and surrounding spaces do not make a new one)."""
    return (name or "").strip().casefold()[:_NAME_CHARS]


def login_refusal(ws: Workspace, name: str, client: str) -> Refusal | None:
    """Return why password sign-in is refused for `name` from `client` now, or None."""
    now = ws.clock.now()
    with ws.session() as session:
        for scope, column, value in (("account", ReviewAttempt.name, account_key(name)),
                                     ("address", ReviewAttempt.client, client)):
            recent = session.exec(select(ReviewAttempt.at).where(column == value, col(ReviewAttempt.at) > now - WINDOW)
                                  .order_by(col(ReviewAttempt.at).desc()).limit(MAX_FAILURES)).all()
            if len(recent) >= MAX_FAILURES:
                return Refusal(scope, recent[-1] + WINDOW)  # when the oldest counted leaves the window
    return None


def record_failure(ws: Workspace, name: str, client: str) -> Refusal | None:
    """Count a failed password sign-in; return the refusal it triggers, if it is the last allowed."""
    now = ws.clock.now()
    with ws.session() as session:
        session.exec(delete(ReviewAttempt).where(col(ReviewAttempt.at) < now - KEEP))  # type: ignore[call-overload]
        session.add(ReviewAttempt(name=account_key(name), client=client, at=now))
    refusal = login_refusal(ws, name, client)
    if refusal is not None:
        with ws.session() as session:
            campaign = ws.campaign(session)
            log_event(session, campaign.id or 0, "review.login_locked", f"reviewer:{account_key(name)[:64]}",
                      {"scope": refusal.scope, "client": client, "until": refusal.until.isoformat()}, ws.clock)
    return refusal
