"""Simulated shoppers of the demo world work the assisted queue; brands answer by personality."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlmodel import select

from qualibench.demo import WAVE_START, write_campaign
from qualibench.models import Probe, Reply
from qualibench.planning import plan_campaign
from qualibench.workspace import Workspace
from qualibench.world.core import DemoWorld
from qualibench.world.shoppers import SimulatedShoppers


def test_shoppers_send_missions_and_record_the_answers(tmp_path, db_url):
    start = datetime.combine(WAVE_START, datetime.min.time(), tzinfo=UTC) + timedelta(hours=6)
    world = DemoWorld(brands=4, seed=3, start=start)  # no servers needed for Facebook
    try:
        write_campaign(world, tmp_path / "c", brands=4, seed=3, lang="fr",
                       channels=("email", "facebook"))
        # the demo's brands file has no Facebook column yet: give each brand a page
        brands = tmp_path / "c" / "brands.csv"
        lines = brands.read_text(encoding="utf-8").splitlines()
        lines = [lines[0] + ",facebook_page"] + [
            f"{line},https://facebook.example/{b.key}" for line, b in zip(lines[1:], world.brands, strict=True)]
        brands.write_text("\n".join(lines) + "\n", encoding="utf-8")
        ws = Workspace.open(tmp_path / "c", db_url, clock=world.clock)
        world.teach_scenarios(list(ws.spec().scenarios))
        plan_campaign(ws)
        shoppers = SimulatedShoppers(world, seed=3)
        end = start + timedelta(days=21)
        while world.clock.now() < end:
            shoppers.work(ws)
            world.deliver_due()
            world.clock.advance(timedelta(hours=1))
        with ws.session() as s:
            fb = list(s.exec(select(Probe).where(Probe.channel == "facebook")))
            replies = {r.probe_id: r for r in s.exec(select(Reply))}
    finally:
        world.stop()
    print(f"{len(fb)} facebook probes, {len(shoppers.recorded)} answers recorded")
    assert fb and sorted(shoppers.sent) == sorted(p.id for p in fb)
    assert all(p.sent_at is not None and p.sent_at >= p.planned_at for p in fb)
    # brands that answer on social media had their answers recorded by the shoppers
    assert shoppers.recorded
    assert set(replies) == set(shoppers.recorded)
    for pid in shoppers.recorded:
        probe = next(p for p in fb if p.id == pid)
        assert replies[pid].match_method == "assisted"
        assert replies[pid].received_at > probe.sent_at
        assert probe.state in ("answered", "sent")  # an acknowledgement-like text keeps it open
