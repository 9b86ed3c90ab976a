"""The review workspace in headless Chromium, served by the real `qualibench review` script."""

from __future__ import annotations

import re

import pytest
from sqlmodel import select

from qualibench.models import Event, Score
from tests.plugins.review import (
    login_link,
    make_review_world,
    qb,
    start_review_server,
    stop_review_server,
)

pytestmark = [pytest.mark.browser, pytest.mark.integration]
CODE = {"relevance": "30", "reformulation": "15", "empathy": "10", "personalisation": "5", "politeness": "8"}


@pytest.fixture
def served(tmp_path, db_url):
    started = []

    def start(*extra, brands=4, hostile=None):
        world = make_review_world(tmp_path, db_url, brands=brands, hostile=hostile)
        server = start_review_server(world, *extra)
        started.append(server)
        return world, server

    yield start
    for server in started:
        stop_review_server(server)


def sign_in(browser, link: str):
    page = browser.new_context().new_page()
    errors: list[str] = []
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.goto(link)
    page.keyboard.press("Enter")  # the sign-in button has the focus
    page.wait_for_url(re.compile(r"/(queue|adjudicate|inbox)$"))
    return page, errors


def type_code(page, values: dict[str, str]) -> None:
    """Type each criterion's points with the keyboard; Tab only where the cursor did not move on."""
    for name, value in values.items():
        assert page.evaluate("document.activeElement.name") == name
        page.keyboard.type(value)
        if page.evaluate("document.activeElement.name") == name:
            page.keyboard.press("Tab")


def test_an_auditor_codes_ten_replies_blind_with_the_keyboard_only(served, browser):
    world, server = served()
    link = login_link(world, "ana", "auditor", server.base)
    qb(world, "review", "assign", "--auditors", "ana")
    page, errors = sign_in(browser, link)
    page.keyboard.press("Tab")  # the queue page: "Start coding" is reached by the keyboard
    page.goto(server.base + "/code/next")
    page.wait_for_selector("#panel")
    first = int(page.get_attribute("#panel", "data-reply"))
    page.keyboard.press("j")  # next reply without saving, then back
    page.wait_for_selector(f'#panel:not([data-reply="{first}"])')
    page.keyboard.press("k")
    page.wait_for_selector(f'#panel[data-reply="{first}"]')
    coded = []
    for n in range(10):
        rid = int(page.get_attribute("#panel", "data-reply"))
        body = page.inner_text("#panel")
        assert not any(b in body for b in world.brands), "blind panel shows a brand"
        assert "Automatic score" not in body
        type_code(page, {**CODE, "relevance": str(20 + n)})
        page.keyboard.type(f"keyboard code {n}")
        page.keyboard.press("Enter")
        page.wait_for_selector(f'#panel:not([data-reply="{rid}"])')
        coded.append(rid)
    assert errors == []
    with world.ws.session() as s:
        rows = s.exec(select(Score).where(Score.scorer == "auditor:ana").order_by(Score.id)).all()
        events = s.exec(select(Event).where(Event.kind == "audit.code")).all()
    assert [r.reply_id for r in rows] == coded and len(set(coded)) == 10
    assert [r.criteria["relevance"] for r in rows] == [20 + n for n in range(10)]
    assert rows[3].criteria["politeness"] == 8 and rows[3].justification == "keyboard code 3"
    assert all(e.payload["by"] == "ana" for e in events) and len(events) == 10
