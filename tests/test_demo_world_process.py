"""The demo world in its own process: it reads the campaign's clock and leaves with its parent."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from qualibench.clock import SharedClock

# Run in a child interpreter, so the test can kill it with SIGKILL as a crash would.
_PARENT = """
import json, sys, time
from datetime import UTC, datetime, timedelta
from qualibench.world.process import WorldProcess
from tests.plugins.demo_world import fetch_all, send_probe

world = WorldProcess(brands=12, seed=0, start=datetime(2026, 3, 2, 6, 0, tzinfo=UTC)).start()
at = datetime(2026, 3, 4, 9, 0, tzinfo=UTC)  # two days after the world's start, a Wednesday
world.clock.set(at)
send_probe(world, 0)  # brand 0 answers fast, within its opening hours
due = world.next_due()
delivered = world.advance_to(due)
[item] = fetch_all(world)
print(json.dumps({"at": at.isoformat(), "due": due.isoformat(), "delivered": delivered,
                  "internal": item["internal_date"].astimezone(UTC).isoformat(),
                  "child": world._proc.pid, "tmp": str(world._tmp)}), flush=True)
time.sleep(120)
"""


def test_shared_clock_is_read_through_another_mapping(tmp_path):
    start = datetime(2026, 3, 2, 6, 0, 0, 123457, tzinfo=UTC)
    mover = SharedClock(tmp_path / "clock", start)
    reader = SharedClock.attach(tmp_path / "clock")
    assert reader.now() == start and reader.now().tzinfo is not None
    mover.advance(timedelta(hours=3, microseconds=1))
    mover.sleep(1.5)
    assert reader.now() == start + timedelta(hours=3, seconds=1.5, microseconds=1) == mover.now()
    with pytest.raises(ValueError, match="timezone"):
        mover.set(datetime(2026, 3, 2, 6, 0))  # noqa: DTZ001 -- the naive datetime refused


def _gone(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] == "Z"  # a zombie has exited
    except FileNotFoundError:
        return True


def test_world_process_reads_the_campaigns_clock_and_dies_with_its_parent():
    root = Path(__file__).resolve().parents[1]
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(p for p in (str(root), os.environ.get("PYTHONPATH")) if p))
    parent = subprocess.Popen([sys.executable, "-c", _PARENT], stdout=subprocess.PIPE, text=True,
                              env=env, cwd=root)
    try:
        line = parent.stdout.readline()
        assert line, "the parent script printed nothing"
        seen = json.loads(line)
        at, due = datetime.fromisoformat(seen["at"]), datetime.fromisoformat(seen["due"])
        # The world dated the probe by the clock this process moved, two days after its start.
        assert at < due <= at + timedelta(hours=3)
        assert seen["delivered"] == 1
        assert datetime.fromisoformat(seen["internal"]) == due.replace(microsecond=0)
        assert not _gone(seen["child"])
    finally:
        parent.send_signal(signal.SIGKILL)
        parent.wait()
    # Its parent killed, the world's process notices the closed socket and stops, cleaning up.
    deadline = time.monotonic() + 30
    while not (_gone(seen["child"]) and not Path(seen["tmp"]).exists()) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert _gone(seen["child"]) and not Path(seen["tmp"]).exists()
