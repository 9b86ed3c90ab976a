"""Opening hours ("mon-fri 09:00-18:00; sat 10:00-12:00") and business-time arithmetic.

The one implementation of business hours: `check` (the loader), timing, analytics and so the
report and exports all read `brand_calendar` here, so a blank cell means the same everywhere.
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
import os
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from functools import lru_cache
from pathlib import Path
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

# What a blank cell of brands.csv means, for the loader and for every delay computed later.
DEFAULT_OPENING_HOURS = "mon-fri 09:00-18:00"
DEFAULT_COUNTRY = "FR"
COUNTRY_TZ = {"FR": "Europe/Paris", "BE": "Europe/Brussels", "CH": "Europe/Zurich",
              "LU": "Europe/Luxembourg", "GB": "Europe/London", "UK": "Europe/London",
              "IE": "Europe/Dublin", "DE": "Europe/Berlin", "ES": "Europe/Madrid",
              "IT": "Europe/Rome", "NL": "Europe/Amsterdam", "CA": "America/Toronto",
              "US": "America/New_York", "MA": "Africa/Casablanca"}

DAY_NAMES = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
_FR_DAYS = {"lun": "mon", "mar": "tue", "mer": "wed", "jeu": "thu", "ven": "fri", "sam": "sat", "dim": "sun"}
_SPAN = re.compile(r"^([01]?\d|2[0-4]):([0-5]\d)\s*-\s*([01]?\d|2[0-4]):([0-5]\d)$")


class HoursSyntaxError(ValueError):
    pass


def _day(token: str) -> int:
    t = token.strip().lower()[:3]
    t = _FR_DAYS.get(t, t)
    if t not in DAY_NAMES:
        raise HoursSyntaxError(f"unknown day {token.strip()!r} (use mon, tue, ... sun)")
    return DAY_NAMES.index(t)


def parse_time_span(text: str) -> tuple[time, time]:
    """Parse "09:00-12:00" into two times; "24:00" means end of day."""
    m = _SPAN.match(text.strip())
    if not m:
        raise HoursSyntaxError(f"time span {text.strip()!r} is not HH:MM-HH:MM")
    h1, m1, h2, m2 = (int(g) for g in m.groups())
    start = time(h1 % 24, m1)
    end = time.max if (h2 == 24 and m2 == 0) else time(h2 % 24, m2)
    if h1 == 24 or end <= start:
        raise HoursSyntaxError(f"time span {text.strip()!r} ends before it starts")
    return start, end


def parse_days(text: str) -> list[int]:
    """Parse "mon-fri", "mon,wed,fri" or "sat" into weekday numbers (Monday = 0)."""
    days: list[int] = []
    for part in text.split(","):
        part = part.strip()
        if not part:
            continue
        if "-" in part:
            a, b = part.split("-", 1)
            da, db = _day(a), _day(b)
            if db < da:
                raise HoursSyntaxError(f"day range {part!r} runs backwards")
            days.extend(range(da, db + 1))
        else:
            days.append(_day(part))
    if not days:
        raise HoursSyntaxError("no day given")
    return sorted(set(days))


@dataclass(frozen=True)
class OpeningHours:
    """Weekly opening spans in local time: spans[weekday] = [(start, end), ...]."""

    spans: tuple[tuple[tuple[time, time], ...], ...] = field(default_factory=lambda: ((),) * 7)
    text: str = ""

    @classmethod
    def parse(cls, text: str, *, merge_overlaps: bool = False) -> OpeningHours:
        """Parse "mon-fri 09:00-12:00,14:00-18:00; sat 10:00-12:00" (also "24/7").

        Two spans of one day that overlap are refused (HoursSyntaxError), since the author
        surely meant something else; with merge_overlaps they are joined, never counted twice.
        """
        src = (text or "").strip()
        if src.lower() in {"24/7", "always"}:
            return cls(spans=(((time(0), time.max),),) * 7, text=src)
        week: list[list[tuple[time, time]]] = [[] for _ in range(7)]
        if not src:
            raise HoursSyntaxError("opening hours are empty")
        for clause in re.split(r"[;\n]", src):
            clause = clause.strip()
            if not clause:
                continue
            m = re.match(r"^([A-Za-zé,\-\s]+?)\s+(\d.*)$", clause)
            if not m:
                raise HoursSyntaxError(f"clause {clause!r} is not 'DAYS HH:MM-HH:MM'")
            days = parse_days(m.group(1))
            for span_text in m.group(2).split(","):
                span = parse_time_span(span_text)
                for d in days:
                    week[d].append(span)
        return cls(spans=tuple(_joined(d, spans, merge_overlaps) for d, spans in enumerate(week)),
                   text=src)

    def open_intervals(self, day: date, tz: ZoneInfo) -> list[tuple[datetime, datetime]]:
        """Return the day's opening intervals as aware UTC datetimes."""
        out = []
        for start, end in self.spans[day.weekday()]:
            a = datetime.combine(day, start, tzinfo=tz)
            b = (
                datetime.combine(day + timedelta(days=1), time(0), tzinfo=tz)
                if end == time.max
                else datetime.combine(day, end, tzinfo=tz)
            )
            out.append((a.astimezone(UTC), b.astimezone(UTC)))
        return out

    def is_open(self, when: datetime, tz: ZoneInfo) -> bool:
        local = when.astimezone(tz)
        t = local.time()
        return any(a <= t < b or (b == time.max and t >= a) for a, b in self.spans[local.weekday()])


def _joined(day: int, spans: list[tuple[time, time]], merge: bool) -> tuple[tuple[time, time], ...]:
    out: list[tuple[time, time]] = []
    for start, end in sorted(spans):
        if out and start < out[-1][1]:
            if not merge:
                a, b = out[-1]
                raise HoursSyntaxError(
                    f"on {DAY_NAMES[day]}, {_hhmm(start)}-{_hhmm(end)} overlaps {_hhmm(a)}-{_hhmm(b)}")
            out[-1] = (out[-1][0], max(out[-1][1], end))
        elif out and start == out[-1][1]:
            out[-1] = (out[-1][0], end)  # 09:00-12:00,12:00-14:00 is one span
        else:
            out.append((start, end))
    return tuple(out)


def _hhmm(t: time) -> str:
    return "24:00" if t == time.max else t.strftime("%H:%M")


def business_seconds(
    start: datetime,
    end: datetime,
    hours: OpeningHours,
    tz: ZoneInfo,
    closed_days: set[date] | frozenset[date] = frozenset(),
    intervals: Callable[[date], Sequence[tuple[datetime, datetime]]] | None = None,
) -> float:
    """Return the open time between `start` and `end` (aware datetimes), skipping closed days.

    `intervals(day)`, when given, returns hours.open_intervals(day, tz) (a calendar's memo of it).
    """
    if end <= start:
        return 0.0
    total = 0.0
    day = start.astimezone(tz).date() - timedelta(days=1)
    last = end.astimezone(tz).date()
    while day <= last:
        if day not in closed_days:
            for a, b in (intervals(day) if intervals else hours.open_intervals(day, tz)):
                lo, hi = max(a, start), min(b, end)
                if hi > lo:
                    total += (hi - lo).total_seconds()
        day += timedelta(days=1)
    return total


@dataclass(frozen=True)
class BrandCalendar:
    """When a brand is open: weekly hours in its timezone, minus its country's public holidays."""

    hours: OpeningHours
    tz: ZoneInfo
    country: str
    # day -> its opening intervals in UTC: thousands of delays fall on a few dozen days, and the
    # time-zone conversions cost more than the arithmetic (a memo, not part of the value)
    _days: dict = field(default_factory=dict, compare=False, hash=False, repr=False)

    def _intervals(self, day: date) -> tuple[tuple[datetime, datetime], ...]:
        got = self._days.get(day)
        if got is None:
            got = self._days[day] = tuple(self.hours.open_intervals(day, self.tz))
        return got

    def closed_days(self, start: datetime, end: datetime) -> frozenset[date]:
        """Return the public holidays between `start` and `end` (brand-local dates)."""
        first = start.astimezone(self.tz).year
        last = end.astimezone(self.tz).year
        return _holidays(self.country, tuple(range(first, last + 1)))

    def business_hours(self, start: datetime, end: datetime) -> float:
        """Return the open hours between two aware datetimes."""
        seconds = business_seconds(start, end, self.hours, self.tz, self.closed_days(start, end),
                                   self._intervals)
        return seconds / 3600.0


@lru_cache(maxsize=64)
def _holidays(country: str, years: tuple[int, ...]) -> frozenset[date]:
    stamp = _holidays_stamp()
    path = _holidays_cache_path(stamp, country, years) if stamp else None
    if path is not None:
        try:
            return frozenset(date.fromisoformat(d) for d in json.loads(path.read_text(encoding="utf-8")))
        except (OSError, ValueError, TypeError):
            pass
    import holidays

    try:
        days = frozenset(holidays.country_holidays(country.upper(), years=list(years)).keys())
    except (NotImplementedError, KeyError):  # a country the package does not know: no holidays
        days = frozenset()
    if path is not None:
        _write_quietly(path, json.dumps(sorted(d.isoformat() for d in days)))
    return days


def _holidays_stamp() -> str | None:
    # The installed holidays package, named without importing it: importing it loads every
    # country's module (a third of a second), for dates that only change with the package.
    spec = importlib.util.find_spec("holidays")
    if spec is None or not spec.origin:
        return None
    try:
        version = Path(spec.origin).with_name("version.py").stat()
    except OSError:
        return None
    return hashlib.sha256(f"{spec.origin}|{version.st_mtime_ns}|{version.st_size}".encode()).hexdigest()[:16]


def _holidays_cache_path(stamp: str, country: str, years: tuple[int, ...]) -> Path | None:
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    safe = re.sub(r"[^A-Z0-9]", "_", country.upper())[:8]
    return Path(base) / "qualibench" / "holidays" / f"{stamp}-{safe}-{years[0]}-{years[-1]}.json"


def _write_quietly(path: Path, text: str) -> None:
    # a memo: written whole (a reader never sees half a file) or not at all
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
        tmp.write_text(text, encoding="utf-8")
        os.replace(tmp, path)
    except OSError:
        pass


@lru_cache(maxsize=4096)
def brand_calendar(timezone: str | None, opening_hours: str | None,
                   country: str | None = None) -> BrandCalendar:
    """Return the calendar of a brand from its three cells, blank ones read as the loader reads them.

    Blank hours are DEFAULT_OPENING_HOURS; a blank timezone is the country's (Paris when the
    country is blank or unknown). Hours that do not parse, which `check` refuses, fall back to
    the default too; overlapping spans are joined.
    """
    country = (country or DEFAULT_COUNTRY).strip().upper() or DEFAULT_COUNTRY
    try:
        tz = ZoneInfo((timezone or "").strip() or COUNTRY_TZ.get(country, "Europe/Paris"))
    except (ZoneInfoNotFoundError, ValueError):
        tz = ZoneInfo(COUNTRY_TZ.get(country, "Europe/Paris"))
    try:
        hours = OpeningHours.parse((opening_hours or "").strip() or DEFAULT_OPENING_HOURS,
                                   merge_overlaps=True)
    except HoursSyntaxError:
        hours = OpeningHours.parse(DEFAULT_OPENING_HOURS)
    return BrandCalendar(hours=hours, tz=tz, country=country)
