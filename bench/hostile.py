"""Benchmark of the hostile-input bounds (issue #13): time and peak memory of each bomb and each
hostile-site behaviour, through the real console script, beside the figure the issue reported.

    python bench/hostile.py [--only files,sites,x,mail] [--db postgresql://...]

Each case runs `qualibench check`, `send` or `collect` in a subprocess reaped with wait4: wall
and CPU seconds and peak RSS are that child's own. The web-form cases run under the campaign
defaults (no [webform] table: 60 s a request, 5 MB a page, 5 redirects), one hostile brand and
one healthy brand per run, so the table also says whether the healthy brand was still sent.
Every child runs under a 3 GB address-space cap, so an unbounded case shows as a MemoryError
rather than swapping the machine. The reference column quotes the issue (before the fixes).
Under load the wall times inflate: read the CPU column and the load average printed first.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import re
import shutil
import sys
import tempfile
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from sqlmodel import select  # noqa: E402

from qualibench.db import dispose_engines  # noqa: E402
from qualibench.models import Brand, Probe  # noqa: E402
from qualibench.planning import plan_campaign  # noqa: E402
from qualibench.world.site import BrandSite  # noqa: E402
from qualibench.world.xapi import FakeXApi  # noqa: E402
from tests.factories import make_campaign  # noqa: E402
from tests.hostile.conftest import (  # noqa: E402
    MB,
    HostileSite,
    Measured,
    drip,
    huge,
    redirect,
    run_qualibench,
    send_bytes,
)

CAP_MB = 3000


@dataclass
class Row:
    group: str
    case: str
    run: Measured
    outcome: str
    reference: str


def _db(base: str | None, tmp: Path, name: str) -> str:
    if not base:
        return f"sqlite:///{tmp / name}.sqlite"
    from sqlalchemy import create_engine, text
    from sqlalchemy.engine import make_url

    admin = base.replace("postgresql://", "postgresql+psycopg://", 1)
    db = f"qbbench_{name.replace('-', '_')}_{os.getpid()}"
    with create_engine(admin, isolation_level="AUTOCOMMIT").connect() as c:
        c.execute(text(f'DROP DATABASE IF EXISTS "{db}"'))
        c.execute(text(f'CREATE DATABASE "{db}"'))
    return make_url(admin).set(database=db).render_as_string(hide_password=False)


# -- campaign files --------------------------------------------------------------------------


def bench_files(tmp: Path, _db_base: str | None) -> list[Row]:
    from tests.hostile.test_cli_hostile import BOMBS, _campaign

    before = {"billion-laughs-yaml": "ran to the 6 GB cap", "xlsx-zip-bomb": "ran to the 6 GB cap",
              "1gb-csv-line": "ran to the 6 GB cap", "deep-toml": "unexpected RecursionError"}
    rows = []
    for case, (name, write, _limit) in BOMBS.items():
        camp = _campaign(tmp / case)
        if name == "brands.xlsx":
            (camp / "brands.csv").unlink()
            toml = camp / "campaign.toml"
            toml.write_text(toml.read_text().replace('brands = "brands.csv"',
                                                     'brands = "brands.xlsx"'))
        write(camp / name)
        run = run_qualibench("check", cwd=camp, memory_cap_mb=CAP_MB, timeout=300)
        named = [ln for ln in run.err_lines if str(camp / name) in ln]
        outcome = (f"exit {run.returncode}: " + named[0].split(": ", 1)[-1][:70]) if named \
            else f"exit {run.returncode}: {run.err_lines[-1][:70] if run.err_lines else ''}"
        rows.append(Row("file", case, run, outcome, before.get(case, "-")))
        shutil.rmtree(tmp / case, ignore_errors=True)
    return rows


# -- hostile web sites -----------------------------------------------------------------------

PACING = "\n[webform]\nreading_seconds = 0\nchars_per_second = 1000000\nstep_seconds = 0\n"


def bench_sites(tmp: Path, db_base: str | None) -> list[Row]:
    from tests.hostile.test_webform_hostile import FORM, PortWatcher, _bomb
    from tests.plugins.mailservers import open_send_slots

    rows = []
    with BrandSite() as healthy, HostileSite() as site, HostileSite() as fourth:
        watcher = PortWatcher()
        leak_to = f"http://localhost:{fourth.port}/steal"
        fourth.route("/steal", send_bytes(200, b"<p>Merci</p>"))
        cases = {
            "slow-loris page": (drip(byte_every=1.0, prelude=b"<html><body>"), "held send past 420 s"),
            "400 MB page": (huge(400 * MB, declare_length=False), "4.7 GB"),
            "2 GB gzip bomb (2 MB)": (send_bytes(200, _bomb(2048 * MB),
                                                 headers={"Content-Encoding": "gzip"}), "past 4.3 GB"),
            "redirect loop": (redirect("/loop/contact?again=1"), "aborted the whole send"),
            "redirect to a 4th host": (send_bytes(200, FORM), "persona's data sent to it"),
            "redirect to an IMAP port": (send_bytes(200, FORM), "connected to the IMAP port"),
        }
        site.route("/redirect-to-a-4th-host/send", redirect(leak_to, status=307))
        site.route("/redirect-to-an-imap-port/send",
                   redirect(f"http://127.0.0.1:{watcher.port}/", status=307))
        try:
            for case, (behaviour, before) in cases.items():
                slug = case.split(" (")[0].replace(" ", "-").lower()
                url = site.route(f"/{slug}/contact", behaviour)
                if case == "redirect loop":
                    site.route("/loop/contact", behaviour)
                rows.append(_site_case(tmp / slug, db_base, healthy, url, case, before,
                                       open_send_slots))
                if "4th host" in case:
                    rows[-1].outcome = f"4th host hit {len(fourth.requests)}x; " + rows[-1].outcome
                if "IMAP" in case:
                    rows[-1].outcome = f"IMAP port hit {watcher.connections}x; " + rows[-1].outcome
        finally:
            watcher.close()
    return rows


def _site_case(folder: Path, db_base: str | None, healthy: BrandSite, url: str, case: str,
               before: str, open_send_slots) -> Row:  # type: ignore[no-untyped-def]
    folder.mkdir(parents=True)
    db_url = _db(db_base, folder, folder.name)
    ws = make_campaign(folder, db_url, brands=2, channels=("webform",), scenarios=1, plan=False,
                       site_url=healthy.base_url, per_domain_seconds=0,
                       start=datetime.now(UTC).date() - timedelta(days=8),
                       mail={"smtp_host": "", "imap_host": ""})
    open_send_slots(ws.root)
    toml = ws.root / "campaign.toml"
    toml.write_text(toml.read_text(encoding="utf-8") + PACING, encoding="utf-8")
    path = ws.root / "brands.csv"
    with path.open(encoding="utf-8", newline="") as fh:
        table = list(csv.DictReader(fh))
    table[0]["contact_form_url"] = url
    with path.open("w", encoding="utf-8", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=list(table[0]))
        writer.writeheader()
        writer.writerows(table)
    plan_campaign(ws)
    run = run_qualibench("-C", str(ws.root), "--db", db_url, "send", "--json", cwd=folder,
                         memory_cap_mb=CAP_MB, timeout=600)
    with ws.session() as s:
        states = {b.contacts.get("webform") == url: (p.state, str((p.dispatch or {}).get("detail", "")))
                  for p, b in s.exec(select(Probe, Brand).join(Brand, Brand.id == Probe.brand_id))}
    dispose_engines()
    bad_state, detail = states.get(True, ("?", ""))
    detail = re.sub(r"https?://\S+", "<url>", detail)
    outcome = f"healthy {states.get(False, ('?',))[0]}; hostile {bad_state}: {detail}"
    return Row("site", case, run, outcome, before)


# -- X API answers ---------------------------------------------------------------------------


def bench_x(tmp: Path, db_base: str | None) -> list[Row]:
    from tests.hostile.test_xapi_hostile import TOKEN_ENV, deep_json, sent_x_campaign

    os.environ[TOKEN_ENV] = "bench-token"
    filler = json.dumps({"id": "9", "text": "x" * 1000, "author_id": "77",
                         "created_at": "2026-12-01T00:00:00.000Z"}).encode()
    cases = {
        "JSON nested 1,000,000 deep": ("GET /2/dm_events", deep_json(1_000_000)),
        "100 MB JSON page": ("GET /2/users/:id/mentions",
                             b'{"data": [' + b",".join([filler] * (100 * MB // len(filler))) + b"]}"),
        "wrong types everywhere": ("GET /2/dm_events",
                                   json.dumps({"data": [1, "a", None, {"id": {}, "text": 5}],
                                               "meta": {"next_token": {"x": 1}}}).encode()),
    }
    rows = []
    for case, (endpoint, body) in cases.items():
        folder = tmp / f"x-{len(rows)}"
        folder.mkdir(parents=True)
        with FakeXApi() as api:
            api.add_user("1001", "shopper_claire")
            api.me = "1001"
            ws, sent = sent_x_campaign(folder, _db(db_base, folder, folder.name), api)
            now = datetime.now(UTC)
            for p in sent:
                brand = next(t for t in api.tweets if t["id"] == p.external_id)["text"].split()[0]
                uid = next(u for u, n in api.users.items() if f"@{n}".lower() == brand.lower())
                api.reply_to_tweet(p.external_id, uid, "@shopper Bonjour, c'est réglé.",
                                   now - timedelta(hours=1))
            api.raw_answers[endpoint] = body
            run = run_qualibench("--db", ws.db_url, "collect", "--json", cwd=ws.root,
                                 memory_cap_mb=CAP_MB, timeout=600)
        dispose_engines()
        try:
            report = json.loads(run.stdout)
            outcome = f"matched {report['matched']}/{len(sent)}, {len(report['warnings'])} warning(s)"
        except ValueError:
            outcome = f"exit {run.returncode}: {run.err_lines[-1][:70] if run.err_lines else ''}"
        rows.append(Row("x api", case, run, outcome, "unexpected error, collect stopped"))
    return rows


# -- huge mails (Dovecot) --------------------------------------------------------------------


def bench_mail(tmp: Path, db_base: str | None) -> list[Row]:
    from tests.hostile.test_collect_hostile import _html_mail
    from tests.plugins.collecting import PASSWORD_ENV, SHOPPER, mark_sent
    from tests.plugins.dovecot import DOVECOT, start_dovecot, stop_dovecot

    if not os.path.exists(DOVECOT):
        print("mail: skipped, Dovecot is not installed (apt-get install dovecot-imapd)")
        return []
    rows = []
    for mb, before in ((30, "52 s, 1.29 GB"), (60, "2.4 GB")):
        root = Path(tempfile.mkdtemp(prefix="qb-bench-dovecot-"))
        os.chmod(root, 0o755)
        server, proc = start_dovecot(root)
        try:
            os.environ[PASSWORD_ENV] = server.password
            folder = tmp / f"mail-{mb}"
            folder.mkdir(parents=True)
            ws = make_campaign(folder, _db(db_base, folder, folder.name), brands=1, mail={
                "imap_host": server.host, "imap_port": server.port, "imap_security": "plain",
                "username": SHOPPER, "password_env": PASSWORD_ENV})
            probe = mark_sent(ws)[0]
            server.deliver(SHOPPER, _html_mail(probe, mb))
            run = run_qualibench("--db", ws.db_url, "collect", "--json", cwd=ws.root,
                                 memory_cap_mb=CAP_MB, timeout=600)
            dispose_engines()
            try:
                outcome = f"matched {json.loads(run.stdout)['matched']}/1, text cut with a note"
            except ValueError:
                outcome = f"exit {run.returncode}: {run.err_lines[-1][:70] if run.err_lines else ''}"
            rows.append(Row("mail", f"{mb} MB HTML mail", run, outcome, before))
        finally:
            stop_dovecot(proc)
            shutil.rmtree(root, ignore_errors=True)
    return rows


GROUPS = {"files": bench_files, "sites": bench_sites, "x": bench_x, "mail": bench_mail}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--only", default=",".join(GROUPS), help="comma-separated: " + ", ".join(GROUPS))
    parser.add_argument("--db", default=None, help="a PostgreSQL server URL (default: SQLite files)")
    args = parser.parse_args()
    print(f"load average {os.getloadavg()[0]:.2f} {os.getloadavg()[1]:.2f} "
          f"{os.getloadavg()[2]:.2f} on {os.cpu_count()} cores; child cap {CAP_MB} MB")
    rows: list[Row] = []
    with tempfile.TemporaryDirectory(prefix="qb-bench-hostile-") as tmp:
        for name in args.only.split(","):
            rows += GROUPS[name.strip()](Path(tmp) / name, args.db)
    print(f"\n{'group':6} {'case':28} {'wall s':>7} {'CPU s':>6} {'peak MB':>8}  "
          f"{'outcome':90}  issue (before)")
    for r in rows:
        killed = " KILLED" if r.run.killed else ""
        print(f"{r.group:6} {r.case:28} {r.run.wall_seconds:7.1f} {r.run.cpu_seconds:6.1f} "
              f"{r.run.peak_mb:8.0f}  {(r.outcome + killed)[:90]:90}  {r.reference}")


if __name__ == "__main__":
    main()
