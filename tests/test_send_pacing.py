"""Send slots in the brand's timezone, the per-domain and per-account throttle, the backoff."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta

from qualibench.campaign.spec import SendSlots
from qualibench.pacing import RETRY_MAX_SECONDS, Throttle, in_send_slot, retry_delay

SLOTS = SendSlots(days=(0, 1, 2, 3, 4), spans=((time(9), time(12)), (time(14), time(17))))


def test_send_slot_is_read_in_the_brands_timezone():
    # 08:30 UTC is 09:30 in Paris (winter) but 03:30 in New York.
    at = datetime(2026, 12, 7, 8, 30, tzinfo=UTC)
    assert in_send_slot(at, "Europe/Paris", SLOTS)
    assert not in_send_slot(at, "America/New_York", SLOTS)
    assert not in_send_slot(datetime(2026, 12, 7, 11, 30, tzinfo=UTC), "Europe/Paris", SLOTS)
    assert not in_send_slot(datetime(2026, 12, 5, 9, 30, tzinfo=UTC), "Europe/Paris", SLOTS)
    all_day = SendSlots(days=tuple(range(7)), spans=((time(0), time.max),))
    assert in_send_slot(datetime(2026, 12, 6, 23, 10, tzinfo=UTC), "UTC", all_day)


def test_throttle_per_domain_and_per_account():
    t0 = datetime(2026, 12, 7, 8, 30, tzinfo=UTC)
    throttle = Throttle(per_domain_seconds=60, per_account_per_hour=3)
    assert throttle.ready_at("a.example", "shopper", t0) == t0
    throttle.record("a.example", "shopper", t0)
    assert throttle.ready_at("a.example", "shopper", t0) == t0 + timedelta(seconds=60)
    assert throttle.ready_at("b.example", "shopper", t0) == t0  # another domain: free
    throttle.record("b.example", "shopper", t0 + timedelta(seconds=1))
    throttle.record("c.example", "shopper", t0 + timedelta(seconds=2))
    # Three sends this hour from the account: the fourth waits for the first to age out.
    assert throttle.ready_at("d.example", "shopper", t0 + timedelta(seconds=3)) == \
        t0 + timedelta(hours=1)
    assert throttle.ready_at("d.example", "other", t0 + timedelta(seconds=3)) == \
        t0 + timedelta(seconds=3)


def test_throttle_seeded_from_an_earlier_run():
    t0 = datetime(2026, 12, 7, 8, 30, tzinfo=UTC)
    throttle = Throttle(per_domain_seconds=120, per_account_per_hour=60)
    throttle.seed("a.example", "shopper", t0 - timedelta(seconds=30))
    assert throttle.ready_at("a.example", "shopper", t0) == t0 + timedelta(seconds=90)


def test_backoff_doubles_and_is_capped():
    assert [retry_delay(n) for n in (1, 2, 3)] == [60.0, 120.0, 240.0]
    assert retry_delay(30) == RETRY_MAX_SECONDS
