"""`send --dry-run` tells what is left to send: per channel the first and last send slots, the
probes each day, the X API cost; and it sends nothing."""

from __future__ import annotations

import json
from collections import Counter
from datetime import date

from sqlmodel import select

from qualibench.models import Probe
from qualibench.workspace import Workspace
from tests.plugins.console import run_qb


def test_dry_run_shows_slots_days_and_x_cost(tmp_path, db_url):
    assert run_qb("init", "c", cwd=tmp_path).returncode == 0
    camp = tmp_path / "c"
    assert run_qb("--db", db_url, "plan", cwd=camp).returncode == 0
    run = run_qb("--db", db_url, "send", "--dry-run", "--json", cwd=camp)
    assert run.returncode == 0, run.stderr
    schedule = {c["channel"]: c for c in json.loads(run.stdout)["schedule"]}

    with Workspace.open(camp, db_url).session() as s:
        probes = list(s.exec(select(Probe)))
    assert {p.state for p in probes} == {"planned"}  # a dry run sends nothing
    for ch in {p.channel for p in probes}:
        mine = [p for p in probes if p.channel == ch]
        slots = sorted(p.planned_at for p in mine)
        got = schedule[ch]
        assert got["probes"] == len(mine)
        assert got["first_slot"] == slots[0].isoformat() and got["last_slot"] == slots[-1].isoformat()
        assert got["per_day"] == {d.isoformat(): n for d, n in sorted(Counter(t.date() for t in slots).items())}
    x = [p for p in probes if p.channel == "x"]
    assert schedule["x"]["cost"]["posts"] + schedule["x"]["cost"]["dms"] == len(x)
    assert schedule["x"]["cost"]["total"] == round(len(x) * 0.01, 4)
    assert schedule["email"]["cost"] is None

    text = run_qb("--db", db_url, "send", "--dry-run", cwd=camp).stdout
    first = schedule["email"]["first_slot"][:16].replace("T", " ")
    assert f"email: {schedule['email']['probes']} probe(s), first slot" in text and first in text
    day, n = next(iter(schedule["email"]["per_day"].items()))
    assert f"per day: {date.fromisoformat(day):%a %m-%d} {n}" in text
    assert f"X API cost: {len(x)} post(s) x 0.01 + 0 DM(s) x 0.01 = {len(x) * 0.01:.2f} USD" in text
