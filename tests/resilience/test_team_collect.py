"""Two collectors from different folders on one PostgreSQL over 2,000 messages, one killed with
-9 and the IMAP server restarted under the other: after reruns nothing is lost or duplicated,
and the other folder scores, reports and verifies all of it. Then plan, send, collect, score
and assist at once from two folders: no unexpected error.

QB_TEAM_COLLECT_MESSAGES sets the mailbox size (default 2000).
"""

from __future__ import annotations

import os
import random
import time
from datetime import UTC, datetime, timedelta
from email import message_from_bytes

import pytest
from sqlmodel import Session, func, select

import tests.plugins.dovecot as dovecot_plugin
from qualibench.db import get_engine
from qualibench.models import InboundMessage, Probe, Reply
from qualibench.workspace import Workspace
from tests.plugins.collecting import mark_sent, reply_bytes
from tests.resilience.team import Machine, finish, kill9, make_team, team_env

MESSAGES = int(os.environ.get("QB_TEAM_COLLECT_MESSAGES", "2000"))
SHOPPER = "shopper@team.test"
HUMAN = ("Bonjour,\n\nNous sommes désolés pour ce retard. Votre commande sera livrée demain et "
         "nous vous remboursons les frais de port.\n\nCordialement,\nJulie, service client")


def _no_surprise(code: int, err: str) -> None:
    """A run ends well, or with one clear line (the IMAP server was down), never a traceback."""
    assert "Traceback" not in err and "unexpected" not in err, err[-2000:]
    assert code == 0 or "Error:" in err, err[-2000:]


@pytest.mark.slow
@pytest.mark.postgres
@pytest.mark.timeout(900)  # 2,000 messages processed twice over by two machines, then scored
def test_two_collectors_kill_and_imap_restart_lose_and_duplicate_nothing(
        tmp_path, db_url, on_postgres, monkeypatch):
    if not on_postgres:
        pytest.skip("a team shares one PostgreSQL (set QUALIBENCH_TEST_PG)")
    if not os.path.exists(dovecot_plugin.DOVECOT):
        pytest.skip("dovecot is not installed (apt-get install dovecot-imapd); .ci/run installs it")
    import shutil
    import tempfile
    from pathlib import Path

    root = Path(tempfile.mkdtemp(prefix="qb-dovecot-team-"))
    os.chmod(root, 0o755)
    server, proc = dovecot_plugin.start_dovecot(root)
    try:
        mail = {"username": SHOPPER, "smtp_host": "127.0.0.1", "smtp_port": 2525,
                "smtp_security": "plain", "imap_host": server.host, "imap_port": server.port,
                "imap_security": "plain", "password_env": "QB_TEAM_PASSWORD"}
        start = (datetime.now(UTC) - timedelta(days=8)).date()
        folders = make_team(tmp_path, 2, brands=50, scenarios=2, mail=mail, start=start, seed=21)
        env = team_env({"QB_TEAM_PASSWORD": server.password})
        a, b = (Machine(f, db_url, env) for f in folders)
        assert a.run("plan").returncode == 0
        probes = mark_sent(Workspace.open(folders[0], db_url))
        rng = random.Random(5)
        expected = set()
        for i in range(MESSAGES):
            p = probes[i % len(probes)]
            raw = reply_bytes(p, HUMAN, date=p.sent_at + timedelta(hours=1 + i % 40))
            expected.add(str(message_from_bytes(raw)["Message-ID"]))
            server.deliver(SHOPPER, raw, mtime=(p.sent_at + timedelta(hours=2)).timestamp())
        assert len(expected) == MESSAGES

        runs = [a.start("collect"), b.start("collect")]
        time.sleep(rng.uniform(2.0, 4.0))
        killed = kill9(runs[0])
        # The IMAP server goes down under B and comes back on the same port.
        dovecot_plugin.stop_dovecot(proc)
        monkeypatch.setattr(dovecot_plugin, "_free_port", lambda: server.port)
        server, proc = dovecot_plugin.start_dovecot(root)
        # (B fetches while it processes: the restart may end its run with one clear line.)
        code, _out, err = finish(runs[1])
        _no_surprise(code, err)
        for _ in range(4):
            results = [finish(p) for p in (a.start("collect"), b.start("collect"))]
            for code, _, err in results:
                _no_surprise(code, err)
            with Session(get_engine(db_url)) as s:
                pending = s.exec(select(func.count()).select_from(InboundMessage).where(
                    InboundMessage.status == "pending")).one()
                stored = s.exec(select(func.count()).select_from(InboundMessage)).one()
            if all(code == 0 for code, _, _ in results) and not pending and stored >= MESSAGES:
                break
        with Session(get_engine(db_url)) as s:
            rows = list(s.exec(select(InboundMessage.message_id, InboundMessage.status)))
            replies = list(s.exec(select(Reply.inbound_id)))
        ids = [m for m, _ in rows]
        lost = expected - set(ids)
        duplicated = len(ids) - len(set(ids))
        print(f"collectors=2 messages={MESSAGES} killed_in_flight={killed} lost={len(lost)} "
              f"duplicated={duplicated} replies={len(replies)}")
        assert not lost and duplicated == 0
        assert len(replies) == len(set(replies)) == MESSAGES
        assert {st for _, st in rows} == {"matched"}
        assert not (folders[1] / "evidence").exists()
        for args in (["score"], ["report", "--format", "html", "--out", str(tmp_path / "rep")], ["verify"]):
            done = b.run(*args)
            assert done.returncode == 0, (args, done.stdout[-1500:], done.stderr[-1500:])
        assert "OK" in done.stdout
    finally:
        dovecot_plugin.stop_dovecot(proc)
        shutil.rmtree(root, ignore_errors=True)


@pytest.mark.slow
@pytest.mark.postgres
def test_plan_send_collect_score_and_assist_at_once_from_two_folders(
        tmp_path, db_url, on_postgres, smtp_server, dovecot_server):
    if not on_postgres:
        pytest.skip("a team shares one PostgreSQL (set QUALIBENCH_TEST_PG)")
    mail = {"username": SHOPPER, "smtp_host": smtp_server.host, "smtp_port": smtp_server.port,
            "smtp_security": "plain", "imap_host": dovecot_server.host, "imap_port": dovecot_server.port,
            "imap_security": "plain", "password_env": "QB_TEAM_PASSWORD"}
    start = (datetime.now(UTC) - timedelta(days=8)).date()
    folders = make_team(tmp_path, 2, brands=20, scenarios=2, mail=mail, start=start, seed=8,
                        channels=("email", "facebook"))
    env = team_env({"QB_TEAM_PASSWORD": dovecot_server.password})
    a, b = (Machine(f, db_url, env) for f in folders)
    done = a.run("plan")
    assert done.returncode == 0, done.stderr
    p = mark_sent_some(db_url)
    for i in range(40):
        dovecot_server.deliver(SHOPPER, reply_bytes(p[i % len(p)], HUMAN))
    with Session(get_engine(db_url)) as s:
        fb = [x.key for x in s.exec(select(Probe).where(Probe.channel == "facebook"))][:3]
    at = (datetime.now(UTC) - timedelta(hours=1)).isoformat()
    runs = [a.start("send"), b.start("collect"), a.start("collect"), b.start("plan"),
            b.start("score"), a.start("assist", "sent", fb[0], "--at", at),
            b.start("assist", "sent", fb[1], "--at", at), b.start("send")]
    for proc in runs:
        code, out, err = finish(proc)
        assert "Traceback" not in err and "unexpected" not in err, (proc.args, err[-2000:])
        assert code == 0, (proc.args, out[-1000:], err[-1500:])
    for m in (a, b):
        done = m.run("verify")
        assert done.returncode == 0, done.stdout + done.stderr


def mark_sent_some(db_url: str):  # type: ignore[no-untyped-def]
    """Mark half the e-mail probes sent (through the state machine), return them for replies."""
    from qualibench.clock import SystemClock
    from qualibench.models import Brand, Persona, ProbeState
    from qualibench.probes import transition
    from tests.plugins.collecting import SentProbe

    out = []
    with Session(get_engine(db_url)) as s:
        rows = list(s.exec(select(Probe).where(Probe.channel == "email").order_by(Probe.id)))
        for p in rows[::2]:
            transition(s, p, ProbeState.SENT, clock=SystemClock())
            p.sent_at = p.planned_at
            s.add(p)
            brand, persona = s.get(Brand, p.brand_id), s.get(Persona, p.persona_id)
            out.append(SentProbe(p.id, p.key, p.reply_address, p.message_id, p.subject, p.sent_at,
                                 brand.contacts["email"], persona.email))
        s.commit()
    return out
