"""When a send may go out: the brand's send slots, the throttle, and the retry backoff."""

from __future__ import annotations

from collections import defaultdict, deque
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from .campaign.spec import SendSlots

RETRY_BASE_SECONDS = 60.0
RETRY_MAX_SECONDS = 3600.0


def in_send_slot(when: datetime, timezone: str, slots: SendSlots) -> bool:
    """Return True when `when` falls in one of the send slots, read in the brand's timezone."""
    try:
        local = when.astimezone(ZoneInfo(timezone))
    except (KeyError, ValueError):
        local = when
    if local.weekday() not in slots.days:
        return False
    t = local.time().replace(tzinfo=None)
    return any(start <= t < end for start, end in slots.spans)


def retry_delay(temporary_failures: int) -> float:
    """Return the backoff before the next attempt after `temporary_failures` 4xx answers."""
    return min(RETRY_MAX_SECONDS, RETRY_BASE_SECONDS * 2 ** max(0, temporary_failures - 1))


class Throttle:
    """When the next send to a brand domain, and from an account, may go out."""

    def __init__(self, per_domain_seconds: float, per_account_per_hour: int) -> None:
        self.per_domain = timedelta(seconds=per_domain_seconds)
        self.per_hour = per_account_per_hour
        self.last_domain: dict[str, datetime] = {}
        self.account_sends: dict[str, deque[datetime]] = defaultdict(deque)

    def seed(self, domain: str, account: str, at: datetime) -> None:
        """Count a send made earlier (in a previous run) against the limits."""
        if domain not in self.last_domain or at > self.last_domain[domain]:
            self.last_domain[domain] = at
        self.account_sends[account].append(at)

    def ready_at(self, domain: str, account: str, now: datetime) -> datetime:
        ready = now
        if domain in self.last_domain:
            ready = max(ready, self.last_domain[domain] + self.per_domain)
        sends = self.account_sends[account]
        while sends and sends[0] <= now - timedelta(hours=1):
            sends.popleft()
        if self.per_hour and len(sends) >= self.per_hour:
            ready = max(ready, sends[-self.per_hour] + timedelta(hours=1))
        return ready

    def copy(self) -> Throttle:
        """Return an independent copy (to plan a batch of sends without recording them)."""
        twin = Throttle(0, self.per_hour)
        twin.per_domain = self.per_domain
        twin.last_domain = dict(self.last_domain)
        twin.account_sends = defaultdict(deque, {k: deque(v) for k, v in self.account_sends.items()})
        return twin

    def record(self, domain: str, account: str, at: datetime) -> None:
        self.last_domain[domain] = at
        sends = self.account_sends[account]
        sends.append(at)
        if len(sends) > 1 and sends[-2] > at:  # keep the window ordered
            self.account_sends[account] = deque(sorted(sends))
