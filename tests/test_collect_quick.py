"""`qualibench collect` with nothing new: answered from the server and one database read,
without the ORM (mail.unchanged, launch.py); anything that moved takes the full path."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import UTC, datetime, timedelta

import pytest
from sqlmodel import select

from qualibench.events import log_event
from qualibench.mail.unchanged import STATE_FILE
from qualibench.models import Probe
from tests.plugins.collecting import HUMAN, SHOPPER, reply_bytes

pytestmark = pytest.mark.integration

# Runs the quick check alone in a fresh interpreter and says whether it answered, and whether
# SQLAlchemy got imported on the way (it must not: that import is what the quick path saves).
PROBE = ("import json, sys; from qualibench.launch import quick_collect; "
         "done = quick_collect(sys.argv[1:]); "
         "print(json.dumps([done, 'sqlalchemy' in sys.modules]), file=sys.stderr)")


def _cli(ws, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "qualibench", "-C", str(ws.root), "--db", ws.db_url,
                           *args], capture_output=True, text=True, env=os.environ.copy())


def _quick(ws, *args: str) -> tuple[bool, bool, str]:
    proc = subprocess.run([sys.executable, "-c", PROBE, "-C", str(ws.root), "--db", ws.db_url,
                           "collect", "--json", *args], capture_output=True, text=True,
                          env=os.environ.copy())
    done, orm = json.loads(proc.stderr.strip().splitlines()[-1])
    return done, orm, proc.stdout


@pytest.fixture
def collected(dovecot_server, sent_campaign):
    """A campaign with one reply collected by a full `collect`, its windows open until 2100."""
    ws, probes = sent_campaign(dovecot_server.host, dovecot_server.port, dovecot_server.password)
    with ws.session() as s:
        for p in s.exec(select(Probe)).all():
            p.window_ends_at = datetime(2100, 1, 1, tzinfo=UTC)  # never closed by the real clock
            s.add(p)
    later = (probes[0].sent_at + timedelta(hours=3)).timestamp()
    dovecot_server.deliver(SHOPPER, reply_bytes(probes[0], HUMAN), mtime=later)
    full = _cli(ws, "collect", "--json")
    assert full.returncode == 0, full.stderr
    report = json.loads(full.stdout)
    assert report["new"] == 1 and report["matched"] == 1
    return ws, probes, report


def test_nothing_new_is_answered_without_the_orm(collected):
    ws, _probes, full = collected
    assert (ws.root / STATE_FILE).is_file()
    done, orm, out = _quick(ws)
    assert done and not orm
    quick = json.loads(out)
    assert quick["new"] == 0 and quick["matched"] == 0 and quick["censored"] == 0
    assert set(quick) == set(full)
    assert [(f["account"], f["folder"]) for f in quick["folders"]] == \
        [(f["account"], f["folder"]) for f in full["folders"]]
    table = _cli(ws, "collect")
    assert table.returncode == 0 and "0 new message(s)" in table.stdout and "shopper/INBOX" in table.stdout


def test_new_mail_takes_the_full_path(collected, dovecot_server):
    ws, probes, _ = collected
    later = (probes[1].sent_at + timedelta(hours=3)).timestamp()
    dovecot_server.deliver(SHOPPER, reply_bytes(probes[1], HUMAN), mtime=later)
    done, _orm, out = _quick(ws)
    assert not done and out == ""
    again = _cli(ws, "collect", "--json")
    assert again.returncode == 0 and json.loads(again.stdout)["new"] == 1
    assert _quick(ws)[0]  # and the next run is quick again


def test_a_logged_event_or_an_edited_campaign_file_takes_the_full_path(collected):
    ws, _probes, _ = collected
    with ws.session() as s:  # a send, an inbox decision, a review... all log an event
        log_event(s, ws.campaign(s).id, "test.elsewhere", "", {}, ws.clock)
    assert not _quick(ws)[0]
    assert _cli(ws, "collect", "--json").returncode == 0
    assert _quick(ws)[0]
    spec = ws.root / "campaign.toml"
    spec.write_text(spec.read_text(encoding="utf-8") + "\n# edited\n", encoding="utf-8")
    assert not _quick(ws)[0]


def test_a_window_closed_since_or_a_busy_collect_takes_the_full_path(collected):
    import fcntl

    ws, _probes, _ = collected
    path = ws.root / STATE_FILE
    state = json.loads(path.read_text(encoding="utf-8"))
    state["window_ends_at"] = (datetime.now(UTC) - timedelta(minutes=1)).isoformat()
    path.write_text(json.dumps(state), encoding="utf-8")
    assert not _quick(ws)[0]  # the full path censors the probe whose window ended
    assert _cli(ws, "collect", "--json").returncode == 0
    lock = os.open(ws.root / ".qualibench-collect.lock", os.O_CREAT | os.O_RDWR, 0o600)
    try:
        fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        assert not _quick(ws)[0]  # another collect runs: the full path says so
    finally:
        os.close(lock)
    assert _quick(ws)[0]
