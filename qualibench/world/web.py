"""Bridges from the world's web services (brand site, fake X API) to the simulated brands.

The site and the X API are built in their own modules (world/site.py, world/xapi.py); this
module starts them for a `DemoWorld` and turns what they receive into probes for the brands,
so a web form gets its answer by e-mail like a real one. Either may be missing: the demo then
runs on the channels it has.
"""

from __future__ import annotations

import re
from datetime import datetime
from typing import TYPE_CHECKING, Any

from .brands import SimBrand, stable_rng
from .replies import Incoming, short_answer

if TYPE_CHECKING:
    from .core import DemoWorld

# The form kinds the demo's brands serve, cycled; "captcha" ones become assisted probes.
DEMO_FORM_KINDS = ("standard", "standard", "multistep", "multipart", "standard", "captcha")


def start_web_services(world: DemoWorld) -> tuple[Any, Any, Any]:
    """Return the started (brand site, fake X API, X bridge); None for what is not installed."""
    site = xapi = bridge = None
    try:
        from .site import BrandSite
    except ImportError:
        BrandSite = None  # type: ignore[assignment,misc]  # noqa: N806
    if BrandSite is not None:
        site = BrandSite(on_submission=lambda sub: form_received(world, sub), clock=world.clock)
        for i, brand in enumerate(world.brands):
            site.add_brand(brand.key, kind=DEMO_FORM_KINDS[i % len(DEMO_FORM_KINDS)],
                           name=brand.name)
        site.start()
        site.url = site.base_url
    try:
        from .xapi import FakeXApi
    except ImportError:
        FakeXApi = None  # type: ignore[assignment,misc]  # noqa: N806
    if FakeXApi is not None:
        xapi = FakeXApi(clock=world.clock)
        xapi.start()
        xapi.url = xapi.base_url
        bridge = XBridge(world, xapi)
    return site, xapi, bridge


class XBridge:
    """Makes the world's brands notice mentions and DMs on the fake X API and answer them."""

    SHOPPER_ID = "1001"

    def __init__(self, world: DemoWorld, api: Any) -> None:
        self.world = world
        self.api = api
        self._seen_tweets: set[str] = set()
        self._seen_dms: set[str] = set()
        self.ids: dict[str, str] = {}  # brand key -> X user id
        api.add_user(self.SHOPPER_ID, "marie_durand_fr")
        api.me = self.SHOPPER_ID
        for i, brand in enumerate(world.brands):
            uid = str(2001 + i)
            self.ids[brand.key] = uid
            api.add_user(uid, brand.x_handle, accepts_dms=not brand.personality.bounce)
        self._by_handle = {b.x_handle.lower(): b for b in world.brands}
        self._by_id = {self.ids[b.key]: b for b in world.brands}

    def poll(self) -> None:
        """Schedule the brands' answers to the shopper's new posts and DMs."""
        with self.api._lock:
            tweets = [t for t in self.api.tweets if t["id"] not in self._seen_tweets]
            dms = [e for e in self.api.dm_events if e["id"] not in self._seen_dms]
        for t in tweets:
            self._seen_tweets.add(t["id"])
            if t["author_id"] != self.SHOPPER_ID:
                continue
            for handle in re.findall(r"@(\w{1,15})", t["text"]):
                brand = self._by_handle.get(handle.lower())
                if brand is not None:
                    self._answer(brand, t["text"], reply_tweet=t["id"])
                    break
        for e in dms:
            self._seen_dms.add(e["id"])
            if e["sender_id"] != self.SHOPPER_ID:
                continue
            other = next((p for p in e.get("participant_ids", []) if p != self.SHOPPER_ID), "")
            brand = self._by_id.get(other)
            if brand is not None:
                self._answer(brand, e["text"], reply_tweet=None)

    def _answer(self, brand: SimBrand, text: str, *, reply_tweet: str | None) -> None:
        world = self.world
        p = brand.personality
        rng = stable_rng(world.seed, brand.key, text)
        if p.bounce or rng.random() >= p.answer_rate * 0.8:  # brands answer X less than e-mail
            return
        scenario = world._recognise(text, text) or {}
        lang = scenario.get("language", "fr")
        lang = lang if lang in ("fr", "en") else "fr"
        inc = Incoming(brand=brand, mail_from="", reply_to="", from_name="", subject=text,
                       body=text, message_id="", references="", received_at=world.clock.now(),
                       channel="x")
        answer = short_answer(inc, lang, scenario.get("key_points", []), rng)
        # Social media teams answer faster than e-mail desks, within their opening hours.
        delay = rng.uniform(15 * 60, 6 * 3600) * (3 if p.speed == "slow" else 1)
        from .core import add_business_time

        due = add_business_time(world.clock.now(), delay, brand)
        uid = self.ids[brand.key]
        if reply_tweet is not None:
            def act(at: datetime, tid: str = reply_tweet) -> None:
                self.api.reply_to_tweet(tid, uid, answer, at)
        else:
            def act(at: datetime) -> None:
                self.api.send_dm(uid, self.SHOPPER_ID, answer, at)
        world.schedule_action(due, "answer", brand.key, act)


def form_received(world: DemoWorld, sub: Any) -> None:
    """A contact form reached a brand: it answers by e-mail to the address typed in the form."""
    try:
        brand = world.brand(sub.brand)
    except KeyError:
        return
    fields = sub.fields
    first = fields.get("prenom") or fields.get("first_name") or ""
    last = fields.get("nom") or fields.get("last_name") or ""
    subject = fields.get("objet") or fields.get("topic") or fields.get("motif") or ""
    message = sub.message or ""
    # A form has no subject line: the helpdesk titles its answer after the topic chosen.
    subject_line = f"Votre demande de contact ({subject})" if subject else "Votre demande de contact"
    at: datetime = sub.at
    inc = Incoming(
        brand=brand, mail_from=sub.email, reply_to=sub.email, from_name=f"{first} {last}".strip(),
        subject=subject_line, body=message, message_id="", references="", received_at=at,
        channel="webform",
    )
    world.receive_probe(inc)
