"""Fixtures of the review workspace tests: a scored campaign whose replies carry raw e-mails in
the evidence store, reviewers, and the real `qualibench review` server in a subprocess."""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import sys
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from pathlib import Path

import pytest
from sqlmodel import select

from qualibench.evidence import record_evidence
from qualibench.models import Brand, InboundMessage, Probe, Reply, Scenario

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run"]


def raw_mail(sender: str, to: str, subject: str, text: str, html: str | None = None,
             attachments: tuple[tuple[str, bytes], ...] = ()) -> bytes:
    msg = EmailMessage()
    msg["From"], msg["To"], msg["Subject"] = sender, to, subject
    msg["Date"] = "Tue, 01 Dec 2026 10:00:00 +0000"
    msg.set_content(text)
    if html is not None:
        msg.add_alternative(html, subtype="html")
    for name, data in attachments:
        msg.add_attachment(data, maintype="application", subtype="octet-stream", filename=name)
    return msg.as_bytes()


def add_mail_reply(ws, session, probe: Probe, text: str, n: int, *, html: str | None = None,
                   attachments: tuple[tuple[str, bytes], ...] = (), kind: str = "answer",
                   confidence: float = 1.0, needs_review: bool = False) -> Reply:
    """Store a raw e-mail as evidence and record it as a reply of `probe`; return the reply."""
    brand = session.get(Brand, probe.brand_id)
    sender = (brand.contacts or {}).get("email") or "service@brand.example"
    raw = raw_mail(sender, probe.reply_address or "shopper@example.org", f"Re: {probe.subject}", text, html,
                   attachments)
    digest = record_evidence(session, ws.evidence, raw, "message/rfc822", ws.clock)
    at = datetime(2026, 12, 1, 9, tzinfo=UTC) + timedelta(hours=n)
    inbound = InboundMessage(campaign_id=probe.campaign_id, sha256=digest, size=len(raw), received_at=at,
                             collected_at=at, status="matched", subject=f"Re: {probe.subject}",
                             from_address=sender, source="imap:shopper/INBOX")
    session.add(inbound)
    session.flush()
    reply = Reply(campaign_id=probe.campaign_id, inbound_id=inbound.id, probe_id=probe.id, kind=kind,
                  match_method="reply_address" if confidence >= 1 else "subject_window",
                  match_confidence=confidence, needs_review=needs_review, received_at=at, text=text)
    session.add(reply)
    if probe.sent_at is None:  # the probe went out five hours before its answer came back
        probe.sent_at, probe.state, probe.first_answer_at = at - timedelta(hours=5), "answered", at
        probe.window_ends_at = probe.sent_at + timedelta(days=14)
        session.add(probe)
    session.flush()
    return reply


@dataclass
class ReviewWorld:
    ws: object
    answers: list[int]
    brands: list[str]
    folder: Path
    db_url: str
    hostile: dict[str, int] = field(default_factory=dict)


def make_review_world(tmp_path: Path, db_url: str, *, brands: int = 3, hostile: dict[str, str] | None = None) -> ReviewWorld:
    """A planned campaign with one mailed answer per probe (plus `hostile` HTML replies), scored."""
    from qualibench.scorer.campaign import score_campaign
    from tests.factories import make_campaign
    from tests.plugins.scoring import STYLE_BY_BRAND_INDEX, reply_text

    ws = make_campaign(tmp_path, db_url, brands=brands)
    answers, found = [], {}
    with ws.session() as s:
        all_brands = s.exec(select(Brand).order_by(Brand.id)).all()
        style = {b.id: STYLE_BY_BRAND_INDEX[i % 3] for i, b in enumerate(all_brands)}
        scenarios = {sc.id: sc.spec for sc in s.exec(select(Scenario))}
        probes = s.exec(select(Probe).order_by(Probe.id)).all()
        for n, probe in enumerate(probes, start=1):
            text = reply_text(style[probe.brand_id], scenarios[probe.scenario_id], "Marie")
            answers.append(add_mail_reply(ws, s, probe, text, n, html=f"<p>{text}</p>").id)
        for i, (name, html) in enumerate((hostile or {}).items()):
            probe = probes[i % len(probes)]
            found[name] = add_mail_reply(ws, s, probe, f"Hostile reply {name}: {html}", 1000 + i, html=html,
                                         attachments=(("invoice.exe", b"MZ\x90\x00 not run"),)).id
        names = [b.name for b in all_brands]
    score_campaign(ws)
    return ReviewWorld(ws, answers, names, ws.root, db_url, found)


def qb_env() -> dict[str, str]:
    env = dict(os.environ)
    env["PATH"] = str(Path(sys.executable).parent) + os.pathsep + env.get("PATH", "")
    env.pop("QUALIBENCH_DB_URL", None)
    env["NO_COLOR"] = "1"
    env["COLUMNS"] = "200"
    return env


def qb(world: ReviewWorld, *args: str, check: bool = True) -> subprocess.CompletedProcess:
    exe = shutil.which("qualibench", path=qb_env()["PATH"])
    assert exe, "the qualibench console script is not installed"
    done = subprocess.run([exe, "--db", world.db_url, *args], cwd=world.folder, env=qb_env(),
                          capture_output=True, text=True, timeout=120)
    if check:
        assert done.returncode == 0, done.stderr + done.stdout
    return done


def login_link(world: ReviewWorld, name: str, role: str, base: str, *, via_cli: bool = False) -> str:
    """Add a reviewer and return their one-time link: printed by the CLI, or made in-process
    (the same library function) where the test is about something else and time counts."""
    if via_cli:
        out = qb(world, "review", "add-user", name, "--role", role, "--url", base).stdout
        return re.search(r"http://\S+/login/\S+", out).group(0)
    from qualibench.review.people import add_reviewer

    return f"{base}/login/{add_reviewer(world.ws, name, role)[1]}"


def assign(world: ReviewWorld, auditors: str, reply_ids: list[int] | None = None) -> None:
    """Give `reply_ids` (default: every reply not yet assigned) to each of `auditors`."""
    from qualibench.review.coding import assign_replies

    assign_replies(world.ws, auditors.split(","), share=1.0, reply_ids=reply_ids)


@dataclass
class ReviewServer:
    base: str
    process: subprocess.Popen


def start_review_server(world: ReviewWorld, *extra: str) -> ReviewServer:
    """Start `qualibench review --port 0` and return once it printed its address."""
    exe = shutil.which("qualibench", path=qb_env()["PATH"])
    proc = subprocess.Popen([exe, "--db", world.db_url, "review", "--port", "0", *extra], cwd=world.folder,
                            env=qb_env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    line = proc.stdout.readline()
    match = re.search(r"http://127\.0\.0\.1:(\d+)/", line)
    if not match:
        proc.kill()
        raise AssertionError(f"server did not start: {line!r} {proc.stderr.read()}")
    return ReviewServer(f"http://127.0.0.1:{match.group(1)}", proc)


def stop_review_server(server: ReviewServer) -> None:
    server.process.send_signal(signal.SIGINT)
    try:
        server.process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        server.process.kill()
        server.process.wait()


@pytest.fixture
def review_world(tmp_path, db_url) -> ReviewWorld:
    return make_review_world(tmp_path, db_url)


@pytest.fixture(scope="module")
def module_db_url(tmp_path_factory, _migrated_template):
    """Like `db_url`, for a whole test module (one world and one server shared by its tests)."""
    from tests.plugins.databases import migrated_database

    with migrated_database(_migrated_template, tmp_path_factory.mktemp("review-db")) as url:
        yield url


@pytest.fixture(scope="module")
def browser():
    """Headless system Chromium through Playwright (skipped when either is missing)."""
    if not Path(CHROMIUM).exists():
        pytest.skip("Chromium is not installed at /usr/bin/chromium (.ci/run installs it)")
    sync_api = pytest.importorskip("playwright.sync_api")
    with sync_api.sync_playwright() as pw:
        b = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        try:
            yield b
        finally:
            b.close()
