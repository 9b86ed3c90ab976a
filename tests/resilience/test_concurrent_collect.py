"""Two `qualibench collect` at once from two machines (two folders, no shared file) on one
PostgreSQL: each reply is stored once, and the machine that collected nothing can still score,
report and verify all of it (the raw evidence is in the database, not in the other folder)."""

from __future__ import annotations

import shutil
from email import message_from_bytes

import pytest
from sqlmodel import select

from qualibench.models import InboundMessage, Reply
from qualibench.workspace import Workspace
from tests.plugins.demo_world import make_answered_campaign
from tests.resilience.team import Machine, finish, team_env


@pytest.mark.slow
@pytest.mark.postgres
def test_two_collects_from_two_folders_store_each_reply_once(tmp_path, db_url, on_postgres):
    if not on_postgres:
        pytest.skip("needs PostgreSQL (set QUALIBENCH_TEST_PG): a team shares one server")
    with make_answered_campaign(tmp_path, db_url, brands=10, seed=4) as c:
        expected = set()
        for sub in ("new", "cur"):
            for f in (c.world.mailbox.maildir / sub).iterdir():
                expected.add("".join(message_from_bytes(f.read_bytes())["Message-ID"].split()))
        other = tmp_path / "machine-b"
        other.mkdir()
        for name in ("campaign.toml", "brands.csv", "personas.csv", "scenarios"):
            src = c.folder / name
            if src.is_dir():
                shutil.copytree(src, other / name)
            elif src.exists():
                shutil.copy2(src, other / name)
        env = team_env(c.env())
        a, b = Machine(c.folder, db_url, env), Machine(other, db_url, env)
        procs = [a.start("collect"), b.start("collect")]
        results = [finish(p) for p in procs]
        for code, _, err in results:
            assert code == 0, err[-1500:]  # both machines at work: no error, no lock refusal
        ws = Workspace.open(c.folder, db_url, clock=c.world.clock)
        with ws.session() as s:
            stored = list(s.exec(select(InboundMessage)))
            replies = list(s.exec(select(Reply)))
        assert sorted(m.message_id for m in stored) == sorted(expected)
        assert len({r.inbound_id for r in replies}) == len(replies)
        assert 0 < len(replies) <= len(stored)
        by_id = {m.id: m for m in stored}
        assert all(by_id[r.inbound_id].status == "matched" for r in replies)
        assert {m.status for m in stored} <= {"matched", "unmatched"}
        assert not (other / "evidence").exists()  # nothing of A's raw mail was copied to B
        for args in (["score"], ["verify"], ["report", "--format", "html", "--out", str(tmp_path / "report-b")]):
            done = b.run(*args)
            assert done.returncode == 0, (args, done.stdout[-1500:], done.stderr[-1500:])
        assert (tmp_path / "report-b").exists()
