"""Hostile brand web sites against the real `qualibench send` (issue #13): a slow-loris page, a
400 MB page, a 2 MB gzip bomb, a redirect loop, redirects of the persona's form data to a fourth
host and to an IMAP-like port. Each fails its own brand within the campaign's [webform] limits,
in bounded time and memory (the child's own rusage), and the healthy brands of the same run are
sent. Bounds are generous (several times what a quiet machine needs) so load cannot flake them.
"""

from __future__ import annotations

import csv
import json
import socket
import threading
from datetime import UTC, datetime, timedelta

import pytest
from sqlmodel import select

from qualibench.models import Brand, Probe
from qualibench.planning import plan_campaign
from tests.factories import make_campaign
from tests.hostile.conftest import (
    MB,
    drip,
    gzip_bomb_bytes,
    huge,
    redirect,
    run_qualibench,
    send_bytes,
)
from tests.plugins.mailservers import open_send_slots

FORM = (b"<!doctype html><html><body><h1>Nous contacter</h1><form method='post' action='send'>"
        b"<p><label for='n'>Nom</label><input id='n' name='nom' required></p>"
        b"<p><label for='e'>Adresse e-mail</label><input id='e' type='email' name='email' required>"
        b"</p><p><label for='m'>Votre message</label><textarea id='m' name='message' required>"
        b"</textarea></p><button type='submit'>Envoyer</button></form></body></html>")

# Tight enough for a test that runs in seconds; the defaults (60 s a request, 5 MB a page)
# are what a campaign gets without a [webform] table.
LIMITS = """
[webform]
connect_seconds = 2
read_seconds = 2
request_seconds = 3
visit_seconds = 20
max_page_bytes = 3000000
max_redirects = 5
reading_seconds = 0
chars_per_second = 1000000
step_seconds = 0
"""


class PortWatcher:
    """A listening socket that greets like an IMAP server and counts who connects."""

    def __init__(self) -> None:
        self.sock = socket.create_server(("127.0.0.1", 0))
        self.sock.settimeout(0.2)
        self.port = self.sock.getsockname()[1]
        self.connections = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    def _serve(self) -> None:
        while not self._stop.is_set():
            try:
                conn, _ = self.sock.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            self.connections += 1
            with conn:
                conn.sendall(b"* OK IMAP4rev1 Service Ready\r\n")

    def close(self) -> None:
        self._stop.set()
        self._thread.join(2)
        self.sock.close()


@pytest.fixture
def imap_like():
    watcher = PortWatcher()
    yield watcher
    watcher.close()


def _bomb(decompressed: int) -> bytes:
    # gzip members may follow one another (RFC 1952): 256 members of 8 MB of zeros make a
    # ~2 MB body that inflates to 2 GB, built in milliseconds instead of compressing 2 GB.
    member = gzip_bomb_bytes(8 * MB)
    return member * (decompressed // (8 * MB))


def test_hostile_sites_fail_their_brand_within_bounds_and_healthy_brands_are_sent(
        tmp_path, db_url, brand_site, hostile_site, hostile_sites, imap_like):
    fourth = hostile_sites()  # another port, reached as "localhost": not the brand's host
    leak_to = f"http://localhost:{fourth.port}/steal"
    bomb = _bomb(2048 * MB)
    assert len(bomb) < 3 * MB
    routes = {
        "slow": drip(byte_every=0.3, prelude=b"<html><body>"),
        "huge": huge(400 * MB, declare_length=False),
        "bomb": send_bytes(200, bomb, headers={"Content-Encoding": "gzip"}),
        "loop": redirect("/loop/contact?again=1"),
        "leak": send_bytes(200, FORM),
        "direct": send_bytes(200, FORM.replace(b"action='send'",
                                               f"action='{leak_to}'".encode())),
        "imap": send_bytes(200, FORM),
    }
    urls = {name: hostile_site.route(f"/{name}/contact", how) for name, how in routes.items()}
    hostile_site.route("/leak/send", redirect(leak_to, status=307))
    hostile_site.route("/imap/send", redirect(f"http://127.0.0.1:{imap_like.port}/", status=307))
    for path in ("/steal", "/"):
        fourth.route(path, send_bytes(200, b"<p>Merci, message bien re\xc3\xa7u.</p>"))

    hostile = list(routes)
    ws = make_campaign(tmp_path, db_url, brands=len(hostile) + 2, channels=("webform",),
                       scenarios=1, plan=False, site_url=brand_site.base_url,
                       start=datetime.now(UTC).date() - timedelta(days=8), per_domain_seconds=0,
                       mail={"smtp_host": "", "imap_host": ""})
    open_send_slots(ws.root)
    toml = ws.root / "campaign.toml"
    toml.write_text(toml.read_text(encoding="utf-8") + LIMITS, encoding="utf-8")
    brands_csv = ws.root / "brands.csv"
    with brands_csv.open(encoding="utf-8", newline="") as fh:
        table = list(csv.DictReader(fh))
    for row, name in zip(table, hostile, strict=False):  # the last two stay on the healthy site
        row["contact_form_url"] = urls[name]
    with brands_csv.open("w", encoding="utf-8", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=list(table[0]))
        writer.writeheader()
        writer.writerows(table)
    plan_campaign(ws)

    run = run_qualibench("-C", str(ws.root), "--db", db_url, "send", "--json", cwd=tmp_path,
                         timeout=240, memory_cap_mb=3000)

    assert not run.killed and run.returncode == 0, run.stderr[-2000:]
    report = json.loads(run.stdout)
    with ws.session() as s:
        rows = {b.contacts["webform"]: p for p, b in
                s.exec(select(Probe, Brand).join(Brand, Brand.id == Probe.brand_id))}
    healthy = [p for url, p in rows.items() if url.startswith(brand_site.base_url)]
    assert len(healthy) == 2 and {p.state for p in healthy} == {"sent"}, report["items"]
    assert report["sent"] == 2 and len(brand_site.submissions) == 2

    def fate(name: str) -> tuple[str, str]:
        probe = rows[urls[name]]
        return probe.state, str((probe.dispatch or {}).get("detail", ""))

    # a deadline is worth a retry later; the other breaches fail the brand at once
    state, detail = fate("slow")
    assert state == "planned" and "did not answer in time" in detail, detail
    assert fate("huge")[0] == "failed" and "more than 3000000 bytes" in fate("huge")[1]
    assert fate("bomb")[0] == "failed" and "once decompressed" in fate("bomb")[1]
    assert fate("loop")[0] == "failed" and "more than 5 redirects" in fate("loop")[1]
    for name in ("leak", "direct"):
        state, detail = fate(name)
        assert state == "failed" and "not one of the brand's domains" in detail, detail
    state, detail = fate("imap")
    assert state == "failed" and f"port {imap_like.port}" in detail, detail

    # the persona's data never reached the fourth host, nothing ever connected to the IMAP port
    assert fourth.requests == []
    assert imap_like.connections == 0
    assert len(hostile_site.hits("/loop/contact")) <= 6  # the first request and 5 redirects
    assert [r.method for r in hostile_site.hits("/leak/send")] == ["POST"]

    # bounds: the 400 MB page and the 2 GB bomb are cut at 3 MB; the slow-loris at 3 s
    assert run.peak_mb < 600, f"peak RSS {run.peak_mb:.0f} MB"
    assert run.cpu_seconds < 90, f"{run.cpu_seconds:.1f} s CPU"
    assert run.wall_seconds < 200, f"{run.wall_seconds:.1f} s"
    print(f"hostile webform run: {run.wall_seconds:.1f} s wall, {run.cpu_seconds:.1f} s CPU, "
          f"peak RSS {run.peak_mb:.0f} MB")
