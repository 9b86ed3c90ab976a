"""Two `qualibench collect` processes at once on one PostgreSQL database: no duplicate reply."""

from __future__ import annotations

import subprocess
import sys
from email import message_from_bytes

import pytest
from sqlmodel import select

from qualibench.models import InboundMessage, Reply
from qualibench.workspace import Workspace
from tests.plugins.demo_world import make_answered_campaign


@pytest.mark.slow
@pytest.mark.postgres
def test_two_collects_at_once_store_each_reply_once(tmp_path, db_url, on_postgres):
    if not on_postgres:
        pytest.skip("needs PostgreSQL (set QUALIBENCH_TEST_PG): SQLite serialises writers anyway")
    with make_answered_campaign(tmp_path, db_url, brands=10, seed=4) as c:
        expected = set()
        for sub in ("new", "cur"):
            for f in (c.world.mailbox.maildir / sub).iterdir():
                expected.add("".join(message_from_bytes(f.read_bytes())["Message-ID"].split()))
        cmd = [sys.executable, "-m", "qualibench", "-C", str(c.folder), "--db", db_url, "collect"]
        procs = [subprocess.Popen(cmd, env=c.env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE)
                 for _ in range(2)]
        results = [(p.wait(timeout=300), p.stderr.read().decode()) for p in procs]
        for p in procs:
            p.stdout.close()
            p.stderr.close()
        # Each run either collects or says clearly that another one is at work.
        for code, err in results:
            assert code == 0 or ("Error:" in err and "unexpected" not in err), err[-1500:]
        assert any(code == 0 for code, _ in results)
        ws = Workspace.open(c.folder, db_url, clock=c.world.clock)
        with ws.session() as s:
            stored = list(s.exec(select(InboundMessage)))
            replies = list(s.exec(select(Reply)))
    assert sorted(m.message_id for m in stored) == sorted(expected)
    assert len({r.inbound_id for r in replies}) == len(replies)
    assert 0 < len(replies) <= len(stored)
    assert {r.inbound_id for r in replies} <= {m.id for m in stored}
    by_id = {m.id: m for m in stored}
    assert all(by_id[r.inbound_id].status == "matched" for r in replies)
    assert {m.status for m in stored} <= {"matched", "unmatched"}
