"""The IMAP connection dropped in the middle of a sync, the server restarted, then a rerun."""

from __future__ import annotations

import re
from email import message_from_bytes

import pytest
from sqlmodel import func, select

from qualibench.collecting import collect
from qualibench.errors import QualibenchError
from qualibench.models import InboundMessage, Reply
from qualibench.workspace import Workspace
from tests.plugins.demo_world import make_answered_campaign
from tests.resilience.proxy import CuttingProxy


def _point_imap_at(folder, port: int) -> None:
    toml = folder / "campaign.toml"
    toml.write_text(re.sub(r"(?m)^imap_port = \d+$", f"imap_port = {port}",
                           toml.read_text(encoding="utf-8")), encoding="utf-8")


def _mailbox_ids(world) -> set[str]:
    ids = set()
    for sub in ("new", "cur"):
        for f in (world.mailbox.maildir / sub).iterdir():
            ids.add("".join(message_from_bytes(f.read_bytes())["Message-ID"].split()))
    return ids


@pytest.mark.slow
def test_sync_cut_midway_then_server_restart_then_rerun_stores_each_reply_once(tmp_path, db_url):
    with make_answered_campaign(tmp_path, db_url, brands=8, seed=2) as c:
        world = c.world
        expected = _mailbox_ids(world)
        assert len(expected) >= 10
        total = sum(f.stat().st_size for sub in ("new", "cur")
                    for f in (world.mailbox.maildir / sub).iterdir())
        proxy = CuttingProxy(world.imap_port, cut_after=total // 2)
        try:
            _point_imap_at(c.folder, proxy.port)
            ws = Workspace.open(c.folder, db_url, clock=world.clock)
            with pytest.raises(QualibenchError) as exc:
                collect(ws)
            assert proxy.cuts >= 1
            assert exc.value.hint  # a clear error: cause and what to do
        finally:
            proxy.close()
        with ws.session() as s:
            partial = s.exec(select(func.count()).select_from(InboundMessage)).one()
        assert partial < len(expected)  # the cut really came in the middle

        # The server goes down and comes back on the same port (as after a crash).
        port = world.imap_port
        world.mailbox.stop()
        world.mailbox.start(port)
        _point_imap_at(c.folder, port)
        ws = Workspace.open(c.folder, db_url, clock=world.clock)
        collect(ws)
        collect(ws)  # and once more: nothing new, nothing doubled
        with ws.session() as s:
            stored = list(s.exec(select(InboundMessage)))
            replies = list(s.exec(select(Reply)))
        assert sorted(m.message_id for m in stored) == sorted(expected)  # none lost, none twice
        assert len({m.sha256 for m in stored}) == len(stored)
        assert len({r.inbound_id for r in replies}) == len(replies)
        assert 0 < len(replies) <= len(stored)
        assert {r.inbound_id for r in replies} <= {m.id for m in stored}
