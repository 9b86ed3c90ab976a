"""The login rate limit of the review workspace over real HTTP, with two `qualibench review`
servers on one database: failures count per account and per client address (clients connect
from different loopback addresses), the refusal holds in the other process, names the time it
ends, checks no password meanwhile, and lifts once the window has passed; no password is stored
or printed anywhere."""

from __future__ import annotations

import re
from datetime import timedelta

import httpx
import pytest
from sqlmodel import select

from qualibench.models import Event, ReviewAttempt
from qualibench.review.attempts import MAX_FAILURES, WINDOW
from qualibench.review.people import add_reviewer, set_password
from tests.plugins.review import start_review_server, stop_review_server

GOOD = "correct horse battery"
WRONG = [f"guess-number-{n}-xyz" for n in range(12)]


@pytest.fixture
def two_servers(review_world):
    ws = review_world.ws
    for name in ("ana", "bo"):
        person, _ = add_reviewer(ws, name, "auditor")
        set_password(ws, person, GOOD)
    first = start_review_server(review_world)
    second = start_review_server(review_world)
    yield review_world, first, second
    for server in (first, second):
        stop_review_server(server)


def sign_in(base: str, source: str, name: str, password: str) -> httpx.Response:
    """Post the login form from the loopback address `source` (a client of its own)."""
    with httpx.Client(base_url=base, timeout=60, transport=httpx.HTTPTransport(local_address=source)) as client:
        page = client.get("/login")
        csrf = re.search(r'name="csrf" value="([^"]+)"', page.text).group(1)
        return client.post("/login", data={"csrf": csrf, "name": name, "password": password})


def test_failed_sign_ins_lock_the_account_and_the_address_in_every_process_until_the_window_passes(two_servers):
    world, first, second = two_servers
    ws = world.ws
    for n in range(MAX_FAILURES - 1):
        assert sign_in(first.base, "127.0.0.2", "ana" if n % 2 else " Ana", WRONG[n]).status_code == 401
    locking = sign_in(first.base, "127.0.0.2", "ana", WRONG[4])
    assert locking.status_code == 429 and "Too many failed sign-ins for this account" in locking.text
    # The other process, another address, the right password: still refused, password unchecked.
    refused = sign_in(second.base, "127.0.0.1", "ana", GOOD)
    assert refused.status_code == 429, refused.text
    assert "for this account (5 within 15 minutes)" in refused.text and "UTC (in " in refused.text
    assert "qualibench review link NAME" in refused.text
    assert 0 < int(refused.headers["Retry-After"]) <= WINDOW.total_seconds() + 1

    # Per address: five different names from one address lock that address, for everyone.
    for n in range(MAX_FAILURES):
        sign_in(second.base, "127.0.0.3", f"nobody{n}", WRONG[5 + n])
    by_address = sign_in(first.base, "127.0.0.3", "bo", GOOD)
    assert by_address.status_code == 429 and "for this address" in by_address.text
    assert sign_in(first.base, "127.0.0.4", "bo", GOOD).status_code == 303  # bo from elsewhere

    # The window passes (the stored failures are made older than it): the limit lifts.
    with ws.session() as s:
        for row in s.exec(select(ReviewAttempt)).all():
            row.at -= WINDOW + timedelta(minutes=1)
            s.add(row)
    assert sign_in(second.base, "127.0.0.1", "ana", GOOD).status_code == 303
    assert sign_in(first.base, "127.0.0.3", "bo", GOOD).status_code == 303

    with ws.session() as s:
        attempts = s.exec(select(ReviewAttempt)).all()
        events = s.exec(select(Event).where(Event.kind.startswith("review."))).all()
    assert {a.name for a in attempts} == {"ana", *(f"nobody{n}" for n in range(MAX_FAILURES))}
    assert {a.client for a in attempts} == {"127.0.0.2", "127.0.0.3"}
    locks = [e for e in events if e.kind == "review.login_locked"]
    assert [(e.payload["scope"], e.payload["client"]) for e in locks] == [("account", "127.0.0.2"), ("address", "127.0.0.3")]
    outputs = []
    for server in (first, second):
        stop_review_server(server)
        outputs += [server.process.stdout.read(), server.process.stderr.read()]
    stored = " ".join([repr([a.model_dump() for a in attempts]), *(repr(e.payload) for e in events), *outputs])
    for password in (GOOD, *WRONG):
        assert password not in stored
