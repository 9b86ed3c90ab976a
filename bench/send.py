"""Benchmark of `send_due_probes` against plain loops on the same servers, in the same run.

    python bench/send.py [--brands 50] [--scenarios 4] [--channels email,webform,x] [--db URL]

For each channel, qualibench sends a planned campaign (virtual clock: pacing and throttles
cost no real time) and then a plain loop does the same work on the same server:

- e-mail: one smtplib connection sending the same messages, each followed by an IMAP APPEND
  of its Sent copy on one imaplib connection (what qualibench's outbox also does), with the
  copy on pymap and on Dovecot when it is installed;
- web form: one httpx.Client fetching the contact page, posting the form with its CSRF token
  and following the redirect to the thanks page, on the demo world's brand site;
- X: one httpx.Client posting each text to POST /2/tweets on the fake X API.

Printed: messages per second of each, the ratio, wall and CPU seconds and the load average.
Nothing is asserted: the targets (within 3x of the plain loop) are read from the output.
"""

from __future__ import annotations

import argparse
import imaplib
import os
import re
import shutil
import smtplib
import sys
import tempfile
import time
from datetime import UTC, date, datetime
from email import message_from_bytes
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import httpx  # noqa: E402
from sqlmodel import select  # noqa: E402

from qualibench.campaign.init import init_campaign  # noqa: E402
from qualibench.clock import VirtualClock  # noqa: E402
from qualibench.db import dispose_engines  # noqa: E402
from qualibench.models import Brand, Probe  # noqa: E402
from qualibench.planning import plan_campaign  # noqa: E402
from qualibench.sending import send_due_probes  # noqa: E402
from qualibench.workspace import Workspace  # noqa: E402
from tests.plugins import mailservers  # noqa: E402

START = datetime(2026, 12, 7, 8, 30, tzinfo=UTC)  # a Monday morning: every slot is open
WAVE_START = date(2026, 11, 30)  # a week before START: every probe is due
X_TOKEN_ENV = "QB_BENCH_X_TOKEN"  # noqa: S105 -- a variable name


class Timed:
    def __enter__(self) -> Timed:
        self.wall, self.cpu = time.perf_counter(), time.process_time()
        return self

    def __exit__(self, *exc: object) -> None:
        self.wall = time.perf_counter() - self.wall
        self.cpu = time.process_time() - self.cpu


def _line(label: str, n: int, t: Timed) -> tuple[float, float]:
    """Print one loop's figures; return (messages per wall second, CPU ms per message)."""
    rate = n / t.wall if t.wall else 0.0
    cpu_ms = 1000 * t.cpu / max(n, 1)
    print(f"  {label:<40} {n:5d} in {t.wall:6.2f} s wall, {t.cpu:6.2f} s CPU: {rate:7.1f} msg/s,"
          f" {cpu_ms:5.2f} ms CPU/msg")
    return rate, cpu_ms


def _compare(ours: tuple[float, float], plain: tuple[float, float]) -> None:
    ratio = plain[0] / ours[0] if ours[0] else float("inf")
    cpu_ratio = ours[1] / plain[1] if plain[1] else float("inf")
    print(f"  plain msg/s / qualibench msg/s = {ratio:.2f}x; qualibench CPU per message / "
          f"plain = {cpu_ratio:.2f}x (target: within 3x); load average "
          f"{os.getloadavg()[0]:.1f}")
    print("  (CPU is this process's, world servers included when they run in it; the wall "
          "figure carries every fsync and commit, which the plain loop does not make)")


def _campaign(tmp: Path, db: str | None, **init) -> Workspace:
    folder = tmp / "campaign"
    init_campaign(folder, start=WAVE_START, per_domain_seconds=0,
                  force=True, **init)
    toml = folder / "campaign.toml"
    toml.write_text(toml.read_text().replace("per_account_per_hour = 60",
                                             "per_account_per_hour = 1000000"))
    mailservers.open_send_slots(folder)
    ws = Workspace.open(folder, db or f"sqlite:///{tmp / 'bench.sqlite'}",
                        clock=VirtualClock(START))
    plan_campaign(ws)
    return ws


# -- e-mail ----------------------------------------------------------------------------------


def bench_email(kind: str, brands: int, scenarios: int, db: str | None) -> None:
    loop = mailservers._LoopThread()
    smtp, smtp_srv = mailservers._start_smtp(loop, auth=False, starttls=False,
                                             implicit_tls=False, tls=None)
    dovecot_proc = None
    tmp = Path(tempfile.mkdtemp(prefix="qb-bench-send-"))
    try:
        if kind == "pymap":
            imap, _ = mailservers._start_pymap(loop, mailservers.IMAP_USER,
                                               mailservers.IMAP_PASSWORD)
        else:
            from tests.plugins.dovecot import DOVECOT, start_dovecot

            if not os.path.exists(DOVECOT):
                print(f"e-mail, Sent copy on {kind}: skipped (dovecot not installed)")
                return
            root = Path(tempfile.mkdtemp(prefix="qb-bench-dovecot-"))
            os.chmod(root, 0o755)
            dov, dovecot_proc = start_dovecot(root)
            imap = mailservers.PymapServer(dov.host, dov.port, mailservers.IMAP_USER,
                                           dov.password)
        os.environ[mailservers.PASSWORD_ENV] = imap.password
        ws = _campaign(tmp, db, brands=brands, channels=("email",), scenarios=scenarios,
                       mail=mailservers.mail_account(smtp, imap))
        print(f"e-mail, Sent copy on {kind}:")
        with Timed() as ours:
            report = send_due_probes(ws)
        rate = _line("qualibench send_due_probes", report.sent, ours)
        with ws.session() as s:
            shas = [p.dispatch["evidence_sha256"] for p in s.exec(select(Probe))
                    if p.state == "sent"]
        raws = [ws.evidence.get(sha) for sha in shas]
        before = len(smtp.messages)
        with Timed() as plain:
            _plain_smtp(smtp.host, smtp.port, imap, raws)
        assert len(smtp.messages) - before == len(raws)
        _compare(rate, _line("plain smtplib + imaplib APPEND", len(raws), plain))
    finally:
        dispose_engines()
        if dovecot_proc is not None:
            from tests.plugins.dovecot import stop_dovecot

            stop_dovecot(dovecot_proc)
        loop.stop(smtp_srv)
        shutil.rmtree(tmp, ignore_errors=True)


def _plain_smtp(host: str, port: int, imap_server, raws: list[bytes]) -> None:  # type: ignore[no-untyped-def]
    imap = imaplib.IMAP4(imap_server.host, imap_server.port)
    imap.login(imap_server.user, imap_server.password)
    imap.create("PlainSent")
    with smtplib.SMTP(host, port) as smtp:
        for raw in raws:
            msg = message_from_bytes(raw)
            smtp.sendmail(msg["From"], [msg["To"]], raw)
            imap.append("PlainSent", "(\\Seen)", imaplib.Time2Internaldate(time.time()), raw)
    imap.logout()


# -- web form --------------------------------------------------------------------------------


def bench_webform(brands: int, scenarios: int, db: str | None) -> None:
    from qualibench.world.site import BrandSite

    tmp = Path(tempfile.mkdtemp(prefix="qb-bench-webform-"))
    site = BrandSite().start()
    try:
        ws = _campaign(tmp, db, brands=brands, channels=("webform",), scenarios=scenarios,
                       site_url=site.base_url, mail={"smtp_host": "", "imap_host": ""})
        print("web form (standard forms: CSRF token, cookie, 303 to a thanks page):")
        with Timed() as ours:
            report = send_due_probes(ws)
        rate = _line("qualibench send_due_probes", report.sent, ours)
        with ws.session() as s:
            urls = [b.contacts["webform"] for p, b in s.exec(
                select(Probe, Brand).join(Brand, Brand.id == Probe.brand_id)) if p.state == "sent"]
        with Timed() as plain:
            _plain_forms(urls)
        _compare(rate, _line("plain httpx: GET form, POST, GET thanks", len(urls), plain))
    finally:
        dispose_engines()
        site.stop()
        shutil.rmtree(tmp, ignore_errors=True)


def _plain_forms(urls: list[str]) -> None:
    fields = {"civilite": "mme", "prenom": "Claire", "nom": "Martin",
              "email": "claire@shopper.example", "telephone": "", "objet": "livraison",
              "num_commande": "", "message": "Bonjour, ma commande n'est pas arrivée.",
              "consentement": "1", "website": ""}
    with httpx.Client(follow_redirects=True) as client:
        for url in urls:
            page = client.get(url)
            token = re.search(r"name='csrf_token' value='([^']+)'", page.text)
            done = client.post(url, data={**fields, "csrf_token": token.group(1) if token else ""})
            assert "bien été envoyé" in done.text, done.text[:300]


# -- X ---------------------------------------------------------------------------------------


def bench_x(brands: int, scenarios: int, db: str | None) -> None:
    from qualibench.world.xapi import FakeXApi

    tmp = Path(tempfile.mkdtemp(prefix="qb-bench-x-"))
    api = FakeXApi().start()
    os.environ[X_TOKEN_ENV] = "bench-token"
    try:
        ws = _campaign(tmp, db, brands=brands, channels=("x",), scenarios=scenarios,
                       x_api={"token_env": X_TOKEN_ENV, "api_base": api.base_url},
                       mail={"smtp_host": "", "imap_host": ""})
        with ws.session() as s:
            for i, b in enumerate(s.exec(select(Brand))):
                api.add_user(str(5000 + i), b.contacts["x"].lstrip("@"))
        for endpoint in ("POST /2/tweets", "GET /2/users/by/username/:id",
                         "POST /2/dm_conversations/with/:id/messages"):
            api.set_limit(endpoint, 10**9)
        print("X (mentions and DMs on the fake X API):")
        with Timed() as ours:
            report = send_due_probes(ws)
        rate = _line("qualibench send_due_probes", report.sent, ours)
        texts = [t["text"] for t in api.tweets] + [e["text"] for e in api.dm_events]
        with Timed() as plain, httpx.Client(base_url=api.base_url,
                          headers={"Authorization": "Bearer bench-token"}) as client:
            for text in texts:
                client.post("/2/tweets", json={"text": text}).raise_for_status()
        _compare(rate, _line("plain httpx: POST /2/tweets", len(texts), plain))
    finally:
        dispose_engines()
        api.stop()
        shutil.rmtree(tmp, ignore_errors=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--brands", type=int, default=50)
    parser.add_argument("--scenarios", type=int, default=4)
    parser.add_argument("--channels", default="email,webform,x")
    parser.add_argument("--db", default=None, help="database URL (default: a temp SQLite file)")
    args = parser.parse_args()
    channels = args.channels.split(",")
    # Loaded before timing, as httpx and smtplib are for the plain loops: a `qualibench send`
    # pays this once per process, not per message (printed apart).
    from qualibench.channels.base import load_channels
    from qualibench.domains import registrable_domain

    with Timed() as setup:
        load_channels()
        registrable_domain("www.example.com")  # reads the Public Suffix List (~0.5 s)
    print(f"one-time set-up of a process (channel plugins, Public Suffix List): "
          f"{setup.wall:.2f} s wall, {setup.cpu:.2f} s CPU (not in the figures below)")
    print(f"{args.brands} brands x {args.scenarios} scenarios per channel; load average "
          f"{os.getloadavg()[0]:.1f} at the start")
    if "email" in channels:
        for kind in ("pymap", "dovecot"):
            bench_email(kind, args.brands, args.scenarios, args.db)
    if "webform" in channels:
        bench_webform(args.brands, args.scenarios, args.db)
    if "x" in channels:
        bench_x(args.brands, args.scenarios, args.db)


if __name__ == "__main__":
    main()
