"""The demo world: mail servers on loopback, simulated brands, and a virtual clock.

`DemoWorld` is a context manager used by `qualibench demo`, the integration tests and the
benchmarks. Brands never act on their own thread: their replies are scheduled when a probe
reaches them and delivered into the shopper's mailbox when the world's clock passes the due
time (`advance_to`), with INTERNALDATE set to that time. Runs are therefore reproducible.
"""

from __future__ import annotations

import contextlib
import heapq
import itertools
import random
import shutil
import tempfile
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from email import message_from_bytes, policy
from email.utils import getaddresses, parseaddr
from pathlib import Path
from typing import Any

from ..clock import VirtualClock, ensure_utc
from .brands import SimBrand, make_brands, stable_rng
from .loop import ServerLoop
from .mailstore import ShopperMailbox
from .replies import Incoming, answer_text, build_dsn, build_reply
from .smtp import Delivery, RcptVerdict, WorldSMTP

SHOPPER_USER = "marie.durand@shopper.example"
DEFAULT_START = datetime(2026, 3, 2, 8, 0, tzinfo=UTC)  # a Monday morning


@dataclass(order=True)
class _Pending:
    due: datetime
    seq: int
    raw: bytes = field(compare=False)
    kind: str = field(compare=False)
    brand: str = field(compare=False)
    action: Callable[[datetime], None] | None = field(default=None, compare=False)


@dataclass
class BrandLog:
    """What one brand received and sent, for tests and the demo summary."""

    received: int = 0
    answers: int = 0
    acks: int = 0
    bounces: int = 0


def add_business_time(start: datetime, seconds: float, brand: SimBrand) -> datetime:
    """Return when `seconds` of the brand's opening time have passed since `start`."""
    tz = brand.tz
    day = start.astimezone(tz).date()
    left = seconds
    for _ in range(60):  # a brand opens at least once a fortnight; bounded to stay safe
        for a, b in brand.hours.open_intervals(day, tz):
            lo = max(a, start)
            if b <= lo:
                continue
            span = (b - lo).total_seconds()
            if span >= left:
                return lo + timedelta(seconds=left)
            left -= span
        day += timedelta(days=1)
    return start + timedelta(seconds=seconds)


class DemoWorld:
    """SMTP + IMAP on 127.0.0.1, simulated brands and a virtual clock; stop() leaves nothing."""

    def __init__(self, *, brands: int | list[SimBrand] = 12, seed: int = 0,
                 start: datetime = DEFAULT_START, shopper_domains: tuple[str, ...] = (),
                 shopper_password: str = "", root: Path | None = None,
                 clock: VirtualClock | None = None) -> None:
        self.seed = seed
        self.rng = random.Random(seed)
        # `clock` given: the world reads a clock another process moves (world/process.py).
        self.clock = clock if clock is not None else VirtualClock(ensure_utc(start))
        self.brands: list[SimBrand] = brands if isinstance(brands, list) else make_brands(brands, seed)
        self._by_domain = {b.domain: b for b in self.brands}
        self.shopper_domains = {d.lower() for d in shopper_domains} or {"shopper.example",
                                                                         "alias.shopper.example"}
        self.shopper_user = SHOPPER_USER
        # A random password per world: the demo never needs anyone to type it.
        self.shopper_password = shopper_password or "w-" + "".join(
            random.Random(seed ^ 0x5EED).choices("abcdefghjkmnpqrstuvwxyz23456789", k=20))
        self._own_root = root is None
        self.root = Path(root) if root else Path(tempfile.mkdtemp(prefix="qualibench-world-"))
        self._scenarios: list[dict[str, Any]] = []
        self._pending: list[_Pending] = []
        self._seq = itertools.count()
        self._lock = threading.Lock()
        self.log: dict[str, BrandLog] = {b.key: BrandLog() for b in self.brands}
        self.lost: list[bytes] = []  # brand mail addressed outside the world (should stay empty)
        self._loop: ServerLoop | None = None
        self.mailbox: ShopperMailbox | None = None
        self.smtp: WorldSMTP | None = None
        self.site: Any = None
        self.xapi: Any = None
        self.x_bridge: Any = None

    # -- life ----------------------------------------------------------------------------
    def start(self) -> DemoWorld:
        self._loop = ServerLoop()
        self.mailbox = ShopperMailbox(self.root / "imap", self._loop, user=self.shopper_user,
                                      password=self.shopper_password)
        self.mailbox.start()
        self.smtp = WorldSMTP(self._loop, check_rcpt=self._check_rcpt, on_message=self._on_smtp,
                              now=self.clock.now,
                              credentials={self.shopper_user: self.shopper_password})
        self.smtp.start()
        self._start_web()
        return self

    def _start_web(self) -> None:
        """Start the brand web site and the fake X API when their modules are installed."""
        from .web import start_web_services

        self.site, self.xapi, self.x_bridge = start_web_services(self)

    def stop(self) -> None:
        for svc in (self.site, self.xapi):
            if svc is not None:
                # Stopping must go on with the other servers whatever this one does.
                with contextlib.suppress(Exception):
                    svc.stop()
        if self.smtp is not None:
            self.smtp.stop()
        if self.mailbox is not None:
            self.mailbox.stop()
        if self._loop is not None:
            self._loop.close()
            self._loop = None
        if self._own_root:
            shutil.rmtree(self.root, ignore_errors=True)

    def __enter__(self) -> DemoWorld:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- addresses -----------------------------------------------------------------------
    @property
    def smtp_port(self) -> int:
        return self.smtp.port if self.smtp else 0

    @property
    def imap_port(self) -> int:
        return self.mailbox.port if self.mailbox else 0

    @property
    def site_url(self) -> str:
        return getattr(self.site, "url", "") if self.site is not None else ""

    @property
    def x_api_url(self) -> str:
        return getattr(self.xapi, "url", "") if self.xapi is not None else ""

    @property
    def deliveries(self) -> list[Delivery]:
        """Every message the SMTP server accepted, in order."""
        return self.smtp.received() if self.smtp else []

    def brand(self, key: str) -> SimBrand:
        for b in self.brands:
            if b.key == key:
                return b
        raise KeyError(key)

    # -- scenarios the brands will be asked about -----------------------------------------
    def teach_scenarios(self, scenarios: list[Any]) -> None:
        """Give the brands' agents the scenarios (ScenarioSpec or dicts) to recognise requests."""
        out = []
        for s in scenarios:
            d = s if isinstance(s, dict) else {
                "id": s.id, "subject": s.subject, "body": s.body, "language": s.language,
                "key_points": [{"id": k.id, "label": k.label, "patterns": list(k.patterns)}
                               for k in s.key_points]}
            out.append(d)
        self._scenarios = out

    def _recognise(self, subject: str, body: str) -> dict[str, Any] | None:
        if not self._scenarios:
            return None
        from rapidfuzz import fuzz

        def score(s: dict[str, Any]) -> float:
            strip = lambda t: " ".join(w for w in t.split() if "{" not in w)  # noqa: E731
            return fuzz.token_set_ratio(strip(s["subject"]), subject) + fuzz.partial_ratio(
                strip(s["body"])[:200], body[:400])

        return max(self._scenarios, key=score)

    # -- SMTP routing --------------------------------------------------------------------
    def _domain(self, address: str) -> str:
        return parseaddr(address)[1].rpartition("@")[2].lower()

    def _check_rcpt(self, address: str) -> str:
        dom = self._domain(address)
        if dom in self.shopper_domains:
            return RcptVerdict.ACCEPT
        brand = self._by_domain.get(dom)
        if brand is None:
            return RcptVerdict.RELAY_DENIED
        # Half the bouncing brands refuse at RCPT time, the others accept and send a DSN later.
        if brand.personality.bounce and self.brands.index(brand) % 2 == 0:
            return RcptVerdict.USER_UNKNOWN
        return RcptVerdict.ACCEPT

    def _on_smtp(self, d: Delivery) -> None:
        dom = self._domain(d.rcpt)
        if dom in self.shopper_domains:
            self._deliver_now(d.data, d.at)
            return
        brand = self._by_domain.get(dom)
        if brand is not None:
            self.receive_email(brand, d.data, d.at, envelope_from=d.mail_from)

    def _deliver_now(self, raw: bytes, when: datetime) -> None:
        assert self.mailbox is not None
        self.mailbox.deliver(raw, when)

    # -- brands at work --------------------------------------------------------------------
    def receive_email(self, brand: SimBrand, raw: bytes, when: datetime,
                      envelope_from: str = "") -> None:
        """A probe reached `brand` by e-mail: schedule what its personality does about it."""
        msg = message_from_bytes(raw, policy=policy.default)
        body_part = msg.get_body(preferencelist=("plain", "html"))
        body = body_part.get_content() if body_part is not None else ""
        from_name, from_addr = parseaddr(str(msg.get("From", "")))
        from_addr = from_addr or parseaddr(envelope_from)[1]
        # Answer to Reply-To, else From, else the envelope sender, as a mail agent would.
        reply_to = next((a for _, a in getaddresses([str(msg.get("Reply-To", ""))]) if "@" in a),
                        from_addr)
        inc = Incoming(
            brand=brand, mail_from=envelope_from or from_addr, reply_to=reply_to,
            from_name=from_name, subject=str(msg.get("Subject", "")), body=body,
            message_id=str(msg.get("Message-ID", "")).strip(),
            references=str(msg.get("References", "")), received_at=when,
        )
        self.receive_probe(inc, raw=raw)

    def receive_probe(self, inc: Incoming, raw: bytes = b"") -> None:
        """Schedule the acknowledgement, answer, notice or bounce `inc` will get."""
        brand = inc.brand
        p = brand.personality
        rng = stable_rng(self.seed, inc.message_id, inc.subject, inc.reply_to)
        when = ensure_utc(inc.received_at)
        with self._lock:
            self.log[brand.key].received += 1
        scenario = self._recognise(inc.subject, inc.body)
        lang = (scenario or {}).get("language", "fr")
        lang = lang if lang in ("fr", "en") else "fr"
        if p.bounce:
            if inc.channel == "email":
                reporting = "mx.demo.example"
                self._schedule(when + timedelta(seconds=rng.randint(5, 90)),
                               build_dsn(inc, raw, when, reporting), "bounce", brand.key)
            return
        ticket = str(rng.randint(1000, 99999)) if p.helpdesk else ""
        if p.ack_first:
            at = when + timedelta(seconds=rng.randint(20, 180))
            self._schedule(at, build_reply(inc, kind="ack", lang=lang, when=at, ticket=ticket),
                           "ack", brand.key)
        if p.out_of_office:
            at = when + timedelta(seconds=rng.randint(10, 60))
            self._schedule(at, build_reply(inc, kind="ooo", lang=lang, when=at), "ooo", brand.key)
        if rng.random() >= p.answer_rate:
            return  # silent on this one: the probe will be censored at the end of its window
        delay = {"fast": rng.uniform(10 * 60, 90 * 60), "normal": rng.uniform(2 * 3600, 12 * 3600),
                 "slow": rng.uniform(9 * 3600, 40 * 3600)}[p.speed]
        at = add_business_time(when, delay, brand)
        key_points = (scenario or {}).get("key_points", [])
        text = answer_text(inc, lang, key_points, rng, ticket=ticket)
        raw_answer = build_reply(inc, kind="answer", lang=lang, when=at, text=text, ticket=ticket,
                                 domain=brand.reply_domain)
        self._schedule(at, raw_answer, "answer", brand.key)

    def _schedule(self, due: datetime, raw: bytes, kind: str, brand: str,
                  action: Callable[[datetime], None] | None = None) -> None:
        with self._lock:
            heapq.heappush(self._pending, _Pending(due, next(self._seq), raw, kind, brand, action))

    def schedule_action(self, due: datetime, kind: str, brand: str,
                        action: Callable[[datetime], None]) -> None:
        """Run `action(due)` when the clock passes `due` (a brand answering on X, say)."""
        self._schedule(ensure_utc(due), b"", kind, brand, action)

    def pending(self) -> int:
        """Return how many brand messages are still to come."""
        with self._lock:
            return len(self._pending)

    def next_due(self) -> datetime | None:
        with self._lock:
            return self._pending[0].due if self._pending else None

    def advance_to(self, when: datetime) -> int:
        """Move the clock to `when` and deliver every brand message due by then; return how many."""
        when = ensure_utc(when)
        if when > self.clock.now():
            self.clock.set(when)
        return self.deliver_due()

    def deliver_due(self) -> int:
        """Deliver the brand messages due at the clock's current time; return how many."""
        if self.x_bridge is not None:
            self.x_bridge.poll()
        now = self.clock.now()
        due: list[_Pending] = []
        with self._lock:
            while self._pending and self._pending[0].due <= now:
                due.append(heapq.heappop(self._pending))
        for item in due:
            self._route_reply(item)
        return len(due)

    def _route_reply(self, item: _Pending) -> None:
        if item.action is not None:
            item.action(item.due)
            with self._lock:
                self.log[item.brand].answers += 1
            return
        msg = message_from_bytes(item.raw, policy=policy.compat32)
        to = self._domain(str(msg.get("To", "")))
        if to not in self.shopper_domains:
            self.lost.append(item.raw)
            return
        self._deliver_now(item.raw, item.due)
        with self._lock:
            log = self.log[item.brand]
            if item.kind == "answer":
                log.answers += 1
            elif item.kind == "bounce":
                log.bounces += 1
            else:
                log.acks += 1
