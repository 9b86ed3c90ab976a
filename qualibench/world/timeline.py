"""Driving a campaign through the demo world's virtual time, as cron'd commands would.

`run_campaign_time` moves the world's clock from one event to the next (a send slot, a
brand's reply, a person's mission), running the real `send` and `collect` the way a scheduled
job does, so two weeks of campaign pass in seconds with realistic timestamps.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from sqlmodel import func, select

from ..models import Probe, ProbeState

if TYPE_CHECKING:
    from ..workspace import Workspace
    from .core import DemoWorld

Progress = Callable[[str, int, int], None]  # (stage, done, total)

STEP = timedelta(hours=1)  # the clock never jumps further than this while events are due
COLLECT_EVERY = timedelta(hours=4)  # like a cron'd `qualibench collect`
SEND_EVERY = timedelta(minutes=15)  # like a cron'd `qualibench send`: slots are met within it


def _ceil(when: datetime, step: timedelta) -> datetime:
    """Return `when` rounded up to the next multiple of `step` (UTC epoch based)."""
    seconds = step.total_seconds()
    ts = when.timestamp()
    return datetime.fromtimestamp(-(-ts // seconds) * seconds, tz=UTC)


class StageTimer:
    """Wall seconds, and CPU seconds of this process, spent per stage, summed over the run.
    (CPU is the steadier figure on a loaded machine; it leaves out child processes.)"""

    def __init__(self) -> None:
        self.stages: dict[str, float] = {}
        self.cpu: dict[str, float] = {}

    @contextmanager
    def stage(self, name: str) -> Iterator[None]:
        t, c = time.perf_counter(), time.process_time()
        try:
            yield
        finally:
            self.stages[name] = self.stages.get(name, 0.0) + time.perf_counter() - t
            self.cpu[name] = self.cpu.get(name, 0.0) + time.process_time() - c


def _next_planned(ws: Workspace) -> datetime | None:
    with ws.session() as s:
        cid = ws.resolved_campaign_id(s)
        return s.exec(select(func.min(Probe.planned_at)).where(
            Probe.campaign_id == cid, Probe.state == ProbeState.PLANNED.value)).one()


def _window_end(ws: Workspace) -> datetime:
    with ws.session() as s:
        cid = ws.resolved_campaign_id(s)
        end = s.exec(select(func.max(Probe.window_ends_at)).where(Probe.campaign_id == cid)).one()
    return end or (ws.clock.now() + timedelta(days=14))


def run_campaign_time(ws: Workspace, world: DemoWorld, timer: StageTimer | None = None, *,
                      progress: Progress | None = None,
                      collect_every: timedelta | None = COLLECT_EVERY,
                      until: datetime | None = None) -> None:
    """Drive the clock from the first send slot to the end of the last window.

    Each step sends what is due, lets the brands' replies arrive and, like a scheduled
    `qualibench collect`, collects at most every `collect_every` of virtual time. Delays do
    not depend on that period: they come from the servers' timestamps (INTERNALDATE,
    created_at). The clock jumps to the next event (a planned send, a reply due) but never by
    more than STEP while probes wait for their slot, so send slots are honoured.
    `collect_every=None` never collects (tests collect themselves); `until` stops earlier.
    """
    from ..collecting import collect
    from ..sending import send_due_probes

    shoppers = _shoppers(world)
    timer = timer or StageTimer()
    end = min(_window_end(ws), until) if until else _window_end(ws)
    start = world.clock.now()
    total = max(1, int((end - start).total_seconds()))
    last_collect = start
    last_send: datetime | None = None
    waiting = 0  # replies delivered since the last collect
    # Only a send run and the shoppers' sendings change which probes wait to be sent (a send
    # run also turns captcha forms into missions): both are read again after those alone.
    planned = _next_planned(ws)
    while True:
        now = world.clock.now()
        send_wait = None  # when the cron'd send may run again
        sent_run = False
        if planned is not None and planned <= now:
            # Like `qualibench send` run by cron every SEND_EVERY: what fell due in between
            # goes out in one run, not one run per brand reply that moved the clock.
            if last_send is None or now - last_send >= SEND_EVERY:
                with timer.stage("send"):
                    send_due_probes(ws)
                last_send, sent_run = now, True
                planned = _next_planned(ws)
            else:
                send_wait = last_send + SEND_EVERY
        mission_at = None
        if shoppers is not None:
            # People send what a robot cannot (captcha forms, assisted channels). Their queue
            # is read again only when a send run may have added to it or a mission fell due.
            idle = (not sent_run and shoppers.next_known
                    and (shoppers.next_at is None or shoppers.next_at > now))
            if idle:
                mission_at = shoppers.next_at
            else:
                with timer.stage("assisted"):
                    if shoppers.work(ws):
                        planned = _next_planned(ws)
                    # work() has just read the queue: ask again only if it stopped at its limit.
                    mission_at = shoppers.next_at if shoppers.next_known else _next_mission(ws)
        with timer.stage("brands"):
            waiting += world.deliver_due()
        if collect_every and waiting and world.clock.now() - last_collect >= collect_every:
            with timer.stage("collect"):
                collect(ws)
            last_collect, waiting = world.clock.now(), 0
        if progress:
            progress("campaign", min(total, int((world.clock.now() - start).total_seconds())),
                     total)
        if now >= end:
            break
        candidates = [end]
        if planned is not None:
            # A due probe outside its brand's send slot waits: look again an hour later.
            candidates.append(max(planned, now + STEP) if planned <= now
                              else _ceil(planned, SEND_EVERY))
        if send_wait is not None:
            candidates.append(send_wait)
        due = world.next_due()
        if due is not None:
            candidates.append(due)
        if mission_at is not None:
            candidates.append(max(mission_at, now + STEP) if mission_at <= now else mission_at)
        if waiting and collect_every:
            candidates.append(last_collect + collect_every)
        world.clock.set(max(min(candidates), world.clock.now()))
    world.deliver_due()
    if collect_every:
        with timer.stage("collect"):
            collect(ws)


def _shoppers(world: DemoWorld) -> Any:
    """Return the world's simulated shoppers, or None when the assisted module is absent."""
    try:
        from .shoppers import SimulatedShoppers
    except ImportError:
        return None
    return SimulatedShoppers(world, seed=world.seed)


def _next_mission(ws: Workspace) -> datetime | None:
    from ..assisted import next_missions

    missions = next_missions(ws, 1)
    return missions[0].when if missions else None
