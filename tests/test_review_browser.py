"""The review workspace in headless Chromium, served by the real `qualibench review` script."""

from __future__ import annotations

import json
import re
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from sqlmodel import select

from qualibench.models import Event, Score
from tests.plugins.review import (
    assign,
    login_link,
    make_review_world,
    qb,
    start_review_server,
    stop_review_server,
)

pytestmark = [pytest.mark.browser, pytest.mark.integration]
CODE = {"relevance": "30", "reformulation": "15", "empathy": "10", "personalisation": "5", "politeness": "8"}


class _Recorder(BaseHTTPRequestHandler):
    """A loopback HTTP server standing for the internet: it records every request it gets."""

    seen: list[str] = []

    def do_GET(self):  # noqa: N802
        _Recorder.seen.append(self.path)
        self.send_response(200)
        self.send_header("Content-Type", "text/plain")
        self.end_headers()
        self.wfile.write(b"recorded")

    do_POST = do_GET  # noqa: N815

    def log_message(self, *args):
        pass


@pytest.fixture(scope="module")
def trap():
    recorder = ThreadingHTTPServer(("127.0.0.1", 0), _Recorder)
    threading.Thread(target=recorder.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{recorder.server_address[1]}"
    recorder.shutdown()
    recorder.server_close()


def hostile_html(trap: str) -> dict[str, str]:
    return {
        "script": f"<p>hi</p><script>fetch('{trap}/script');window.parent.pwned=1</script><script src='{trap}/src.js'></script>",
        "handlers": f"<img src=x onerror=\"fetch('{trap}/onerror')\"><body onload=\"fetch('{trap}/onload')\"><p onclick=\"fetch('{trap}/click')\" id=p>click me</p>",
        "javascript": f"<a id=js href=\"javascript:fetch('{trap}/js')\">pay here</a>",
        "css": f"<style>body{{background:url({trap}/style)}}</style><div style=\"background:url({trap}/css)\">styled</div><link rel=stylesheet href=\"{trap}/link.css\">",
        "refresh": f"<meta http-equiv=\"refresh\" content=\"0;url={trap}/refresh\"><p>wait</p>",
        "base": f"<base href=\"{trap}/base/\"><a href=\"relative\">relative link</a><img src=\"logo.png\"><iframe src=\"{trap}/frame\"></iframe>",
    }


@pytest.fixture(scope="module")
def served(tmp_path_factory, module_db_url, trap):
    """One scored campaign (12 answers, 6 hostile replies) and one real server for the module;
    each test works with reviewers and replies of its own."""
    world = make_review_world(tmp_path_factory.mktemp("review"), module_db_url, brands=4,
                              hostile=hostile_html(trap))
    server = start_review_server(world)
    yield world, server
    stop_review_server(server)


def sign_in(browser, link: str):
    context = browser.new_context()
    context.set_default_timeout(90_000)  # a loaded CI machine is slow, never wrong
    page = context.new_page()
    errors: list[str] = []
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.goto(link)
    page.click("#signin")
    page.wait_for_url(re.compile(r"/(queue|adjudicate|inbox)$"))
    return page, errors


def type_code(page, values: dict[str, str]) -> None:
    """Type each criterion's points with the keyboard; Tab only where the cursor did not move on."""
    page.wait_for_selector(f"#panel input[name={next(iter(values))}]:focus")  # focused once settled
    for name, value in values.items():
        assert page.evaluate("document.activeElement.name") == name
        page.keyboard.type(value)
        if page.evaluate("document.activeElement.name") == name:
            page.keyboard.press("Tab")


def test_an_auditor_codes_ten_replies_blind_with_the_keyboard_only(served, browser):
    world, server = served
    link = login_link(world, "kim", "auditor", server.base, via_cli=True)
    qb(world, "review", "assign", "--auditors", "kim")
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
        rows = s.exec(select(Score).where(Score.scorer == "auditor:kim").order_by(Score.id)).all()
        events = [e for e in s.exec(select(Event).where(Event.kind == "audit.code")) if e.payload["by"] == "kim"]
    assert [r.reply_id for r in rows] == coded and len(set(coded)) == 10
    assert [r.criteria["relevance"] for r in rows] == [20 + n for n in range(10)]
    assert rows[3].criteria["politeness"] == 8 and rows[3].justification == "keyboard code 3"
    assert [int(e.subject.split(":")[1]) for e in events] == coded


def test_two_auditors_disagree_the_adjudicator_decides_and_the_report_uses_it(served, browser):
    from datetime import UTC, datetime

    from qualibench.analytics import analyse

    world, server = served
    links = {n: login_link(world, n, r, server.base) for n, r in
             (("ana", "auditor"), ("ben", "auditor"), ("ada", "adjudicator"))}
    target = world.answers[10]
    assign(world, "ana,ben", [target])
    for name, relevance in (("ana", "5"), ("ben", "35")):
        page, errors = sign_in(browser, links[name])
        page.goto(f"{server.base}/code/{target}")
        type_code(page, {**CODE, "relevance": relevance})
        page.keyboard.type(f"{name} thinks so")
        page.keyboard.press("Enter")
        page.wait_for_selector(f'#panel:not([data-reply="{target}"])')
        assert errors == []
    page, errors = sign_in(browser, links["ada"])
    assert page.url.endswith("/adjudicate")
    row = page.locator("#disagreements tr", has_text=f"reply {target}")
    assert "auditor:ana / auditor:ben" in row.inner_text() and "30" in row.inner_text()
    row.locator("a").click()
    side = page.inner_text("#side-by-side")
    assert "ana thinks so" in side and "ben thinks so" in side
    for crit, value in {**CODE, "relevance": "20"}.items():
        page.fill(f"#decision input[name={crit}]", value)
    page.fill("#decision input[name=comment]", "the answer covers half the points")
    page.click("#decision button[type=submit]")
    page.wait_for_url(re.compile(r"/adjudicate$"))
    assert f"reply {target}" not in page.inner_text("#disagreements")
    assert errors == []
    with world.ws.session() as s:
        cid = world.ws.campaign(s).id
        tests = analyse(s, cid, as_of=datetime(2026, 12, 31, tzinfo=UTC)).tests
        event = s.exec(select(Event).where(Event.kind == "audit.adjudicate")).one()
    decided = tests[tests["first_answer_reply_id"] == target].iloc[0]
    assert decided["score_source"] == "adjudicator:ada"
    assert decided["quality"] == 20 + 15 + 10 + 5 + 8 and decided["crit_relevance"] == 20
    assert event.payload["by"] == "ada" and event.subject == f"reply:{target}"


def test_the_agreement_page_shows_the_figures_of_the_cli(served, browser):
    world, server = served
    from qualibench.review.coding import Coding, code_reply
    from qualibench.review.people import add_reviewer

    people = [add_reviewer(world.ws, n, "auditor")[0] for n in ("cal", "dee")]
    link = login_link(world, "al", "analyst", server.base)
    assign(world, "cal,dee", world.answers[:9])
    coding = Coding(world.ws)
    for n, rid in enumerate(world.answers[:9]):
        for k, person in enumerate(people):
            code_reply(coding, person, rid, {**CODE, "relevance": str((4 * n + 7 * k * (n % 3)) % 41),
                                             "empathy": str((n * 3 + k * 5) % 21)})
    cli = json.loads(qb(world, "audit", "agreement", "--json", "--top", "20").stdout)
    page, errors = sign_in(browser, link)
    page.goto(server.base + "/agreement")
    assert page.inner_text("#rubric-version") == cli["rubric_version"]
    shown = {}
    for tr in page.locator("#pairs tr[data-criterion]").all():
        key = (tr.get_attribute("data-first"), tr.get_attribute("data-second"), tr.get_attribute("data-criterion"))
        shown[key] = (tr.locator(".kappa").inner_text(), tr.locator(".alpha").inner_text())
    assert len(shown) == len(cli["pairs"]) > 0
    for p in cli["pairs"]:
        fmt = [("n/a" if v is None else f"{v:.3f}") for v in (p["kappa"], p["alpha"])]
        assert shown[(p["first"], p["second"], p["criterion"])] == tuple(fmt)
    gap_ids = [int(t) for t in page.locator("#gaps tr td:first-child").all_inner_texts()]
    assert gap_ids == [g["reply_id"] for g in cli["gaps"]]
    assert errors == []


def test_hostile_replies_render_without_running_or_fetching_anything(served, browser):
    world, server = served
    _Recorder.seen = []
    page, errors = sign_in(browser, login_link(world, "hal", "adjudicator", server.base))
    dialogs = []
    page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
    for name, rid in world.hostile.items():
        page.goto(f"{server.base}/reply/{rid}")
        page.wait_for_load_state("networkidle")
        assert f"Hostile reply {name}" in page.inner_text("#highlighted")  # the text, escaped
        assert "invoice.exe" in page.inner_text("#attachments")
        raw = next(f for f in page.frames if f.url.endswith("/raw")).content()
        assert "<script" not in raw and "onerror" not in raw and "javascript:" not in raw and "url(" not in raw
        assert "<meta http-equiv" not in raw and "<base" not in raw
        frame = page.frame_locator("#raw")
        frame.locator("body").click()
        for link in frame.locator("a, p").all():
            link.click()
        page.wait_for_load_state("networkidle")
        assert page.evaluate("window.pwned === undefined")
    raw_response = page.request.get(f"{server.base}/reply/{world.hostile['script']}/raw")
    assert "default-src 'none'" in raw_response.headers["content-security-policy"]
    assert "sandbox" in page.get_attribute("#raw", "sandbox") or page.get_attribute("#raw", "sandbox") == ""
    assert _Recorder.seen == [] and dialogs == []


def test_a_forged_post_without_the_csrf_token_is_refused(served, browser):
    world, server = served
    link = login_link(world, "fay", "auditor", server.base)
    rid = world.answers[11]
    assign(world, "fay", [rid])
    page, _ = sign_in(browser, link)
    forged = page.request.post(f"{server.base}/code/{rid}", form=CODE, max_redirects=0)
    assert forged.status == 403 and "CSRF" in forged.text()
    wrong = page.request.post(f"{server.base}/code/{rid}", form={**CODE, "csrf": "guessed"}, max_redirects=0)
    assert wrong.status == 403
    with world.ws.session() as s:
        assert s.exec(select(Score).where(Score.scorer == "auditor:fay")).first() is None
    # The same post from the page itself, with its token, is accepted.
    page.goto(f"{server.base}/code/{rid}")
    type_code(page, CODE)
    page.keyboard.press("Enter")
    page.wait_for_selector(f'#panel:not([data-reply="{rid}"])')
    with world.ws.session() as s:
        assert s.exec(select(Score).where(Score.scorer == "auditor:fay")).one().reply_id == rid
    cookie = next(c for c in page.context.cookies() if c["name"] == "qb_review")
    assert cookie["httpOnly"] and cookie["sameSite"] == "Strict"
    headers = page.request.get(f"{server.base}/queue").headers
    assert headers["content-security-policy"].startswith("default-src 'none'; script-src 'self'")


def test_a_second_auditor_cannot_read_the_first_ones_blind_codes(served, browser):
    world, server = served
    links = {n: login_link(world, n, "auditor", server.base) for n in ("sue", "tom")}
    rid = world.answers[0]
    assign(world, "sue,tom", [rid])
    ana, _ = sign_in(browser, links["sue"])
    ana.goto(f"{server.base}/code/{rid}")
    type_code(ana, {**CODE, "relevance": "37"})
    ana.keyboard.type("SECRET-SUE-COMMENT")
    ana.keyboard.press("Enter")
    ana.wait_for_selector(f'#panel:not([data-reply="{rid}"])')
    ben, _ = sign_in(browser, links["tom"])
    seen = []
    for path in (f"/code/{rid}", f"/reply/{rid}", f"/reply/{rid}/raw", "/agreement", "/adjudicate",
                 f"/adjudicate/{rid}", "/queue"):
        response = ben.request.get(server.base + path)
        seen.append((path, response.status))
        assert "SECRET-SUE-COMMENT" not in response.text() and "auditor:sue" not in response.text()
    assert dict(seen)[f"/code/{rid}"] == 200  # ben codes it too, with empty fields
    assert dict(seen)[f"/reply/{rid}"] == 403  # evidence opens once his own code is saved
    assert all(status == 403 for path, status in seen if path in ("/agreement", "/adjudicate", f"/adjudicate/{rid}"))
    ben.goto(f"{server.base}/code/{rid}")
    assert ben.input_value("input[name=relevance]") == ""
    type_code(ben, CODE)
    ben.keyboard.press("Enter")
    ben.wait_for_selector(f'#panel:not([data-reply="{rid}"])')
    ben.goto(f"{server.base}/reply/{rid}")  # his code saved, the evidence opens to him
    evidence = ben.content()
    assert "SECRET-SUE-COMMENT" not in evidence and "auditor:sue" not in evidence
    assert ben.locator("#highlighted mark").count() > 0  # the spans behind the automatic points
    assert not any(b in ben.inner_text("main") for b in world.brands)  # still no brand for an auditor
