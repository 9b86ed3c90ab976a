"""The shared tools of the hostile suite do what they claim: a test of a bound is only as good
as the server that attacks it and the figure that measures it."""

from __future__ import annotations

import sys
import zlib

import httpx

from tests.hostile.conftest import (
    MB,
    drip,
    gzip_bomb,
    huge,
    measured_run,
    redirect,
    send_json,
)


def test_measured_run_reads_the_childs_own_peak_memory_and_cpu():
    grow = "b = bytearray(300 * 1024 * 1024); b[::4096] = b'x' * len(b[::4096]); print('ok')"
    run = measured_run([sys.executable, "-c", grow], timeout=60)
    assert run.returncode == 0 and run.stdout.strip() == "ok"
    assert run.peak_mb >= 300
    assert run.cpu_seconds > 0


def test_memory_cap_stops_a_runaway_child_instead_of_the_machine():
    run = measured_run([sys.executable, "-c", "b = bytearray(900 * 1024 * 1024)"],
                       memory_cap_mb=400, timeout=60)
    assert run.returncode != 0 and "MemoryError" in run.stderr
    assert run.peak_mb < 400


def test_timeout_kills_and_says_so():
    run = measured_run([sys.executable, "-c", "import time; time.sleep(30)"], timeout=0.5)
    assert run.killed and run.wall_seconds < 10


def test_hostile_site_behaviours(hostile_site, hostile_sites):
    other = hostile_sites()
    hostile_site.route("/loop", redirect("/loop"))
    hostile_site.route("/away", redirect(other.url("/collect")))
    hostile_site.route("/bomb", gzip_bomb(20 * MB))
    hostile_site.route("/big", huge(3 * MB))
    hostile_site.route("/json", send_json(b'{"data": [[[[['))
    hostile_site.route("/drip", drip(byte_every=0.05, prelude=b"<html>"))
    with httpx.Client(timeout=5) as client:
        r = client.get(hostile_site.url("/loop"))
        assert r.status_code == 302 and r.headers["location"] == "/loop"
        assert client.get(hostile_site.url("/away")).headers["location"].startswith(other.base_url)
        with client.stream("GET", hostile_site.url("/bomb")) as r:
            raw = b"".join(r.iter_raw())
        assert len(raw) < MB // 10
        assert len(zlib.decompress(raw, 31)) == 20 * MB
        assert len(client.get(hostile_site.url("/big")).content) == 3 * MB
        assert client.get(hostile_site.url("/json")).content == b'{"data": [[[[['
        with client.stream("GET", hostile_site.url("/drip")) as r:
            got = b""
            for chunk in r.iter_raw():
                got += chunk
                if len(got) >= 10:
                    break
        assert got.startswith(b"<html>")
    assert [r.path for r in hostile_site.requests][:2] == ["/loop", "/away"]
    assert hostile_site.hits("/big")[0].method == "GET"
