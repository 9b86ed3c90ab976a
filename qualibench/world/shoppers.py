"""Simulated mystery shoppers for the demo world: they work the assisted queue like people do.

Each call to `work` takes the missions whose slot has come, "sends" them (records the sending
with `assist sent`), and lets the brand answer according to its personality; when the answer
arrives the shopper records it with `assist reply`, so it is classified, timed and scored like
any other. A contact form blocked by a captcha is filled by hand: the brand then answers by
e-mail to the probe's reply address, through the world's mail servers.
"""

from __future__ import annotations

import random
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from ..assisted import Mission, next_missions, record_reply, record_sent
from .brands import stable_rng
from .replies import Incoming, answer_text, short_answer

if TYPE_CHECKING:
    from ..workspace import Workspace
    from .core import DemoWorld

# A person does not send at the exact slot: a little while after it, within working hours.
SHOPPER_LAG = (timedelta(minutes=5), timedelta(minutes=40))
MISSIONS_READ = 20


class SimulatedShoppers:
    """A team of shoppers sending assisted probes and recording the brands' answers."""

    def __init__(self, world: DemoWorld, seed: int = 0) -> None:
        self.world = world
        self.rng = random.Random(seed ^ 0xA55)
        self.sent: list[int] = []
        self.recorded: list[int] = []
        # When the earliest mission still waiting is due, as the last `work` read it (None:
        # none waits); `next_known` is False when `work` stopped at its limit without knowing.
        self.next_at: datetime | None = None
        self.next_known = False

    def work(self, ws: Workspace, limit: int = 1000) -> int:
        """Send every mission due by now and schedule the brands' answers; return how many were sent."""
        now = self.world.clock.now()
        done = 0
        self.next_known, self.next_at = False, None
        # A few missions at a time, earliest first: the timeline calls this at every step,
        # and most steps find none due (reading the whole queue each time was most of its cost).
        while done < limit:
            batch = next_missions(ws, min(MISSIONS_READ, limit - done))
            due = [m for m in batch if m.when is None or m.when <= now]
            for mission in due:
                lag = self.rng.uniform(SHOPPER_LAG[0].total_seconds(),
                                       SHOPPER_LAG[1].total_seconds())
                sent_at = min(now, (mission.when or now) + timedelta(seconds=lag))
                record_sent(ws, mission.probe_id, sent_at)
                self.sent.append(mission.probe_id)
                self._brand_answers(ws, mission, sent_at)
                done += 1
            if len(due) < len(batch) or len(batch) < MISSIONS_READ:
                # a mission not due yet (they come earliest first), or none left
                waiting = [m for m in batch if m.when is not None and m.when > now]
                self.next_known, self.next_at = True, waiting[0].when if waiting else None
                break
        return done

    def _brand_answers(self, ws: Workspace, mission: Mission, sent_at: datetime) -> None:
        try:
            brand = self.world.brand(mission.brand_key)
        except KeyError:
            return
        inc = Incoming(brand=brand, mail_from=mission.persona_email, reply_to=mission.persona_email,
                       from_name=mission.persona, subject=mission.subject or mission.text[:80],
                       body=mission.text, message_id="", references="", received_at=sent_at,
                       channel=mission.channel)
        if mission.channel == "webform":
            # Sent by hand through the form: the brand answers by e-mail, as to any form.
            self.world.receive_probe(inc)
            return
        p = brand.personality
        rng = stable_rng(self.world.seed, brand.key, mission.probe_id)
        if p.bounce or rng.random() >= p.answer_rate * 0.7:  # social desks answer less
            return
        scenario: dict[str, Any] = self.world._recognise(inc.subject, inc.body) or {}
        lang = scenario.get("language", "fr") if scenario.get("language") in ("fr", "en") else "fr"
        points = scenario.get("key_points", [])
        short = mission.channel in ("instagram", "linkedin")
        text = short_answer(inc, lang, points, rng) if short else answer_text(inc, lang, points, rng)
        delay = rng.uniform(20 * 60, 8 * 3600) * (3 if p.speed == "slow" else 1)
        from .core import add_business_time

        due = add_business_time(sent_at, delay, brand)
        probe_id = mission.probe_id

        def shopper_records(at: datetime) -> None:
            record_reply(ws, probe_id, at, text)
            self.recorded.append(probe_id)

        self.world.schedule_action(due, "answer", brand.key, shopper_records)
