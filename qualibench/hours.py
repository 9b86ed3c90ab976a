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
from collections.abc import Sequence
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


_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MICROSECOND = timedelta(microseconds=1)


def _microseconds(when: datetime) -> int:
    # an aware datetime as integer microseconds since the epoch (exact, unlike .timestamp())
    return (when - _EPOCH) // _MICROSECOND


@dataclass(frozen=True)
class BrandCalendar:
    """When a brand is open: weekly hours in its timezone, minus its country's public holidays."""

    hours: OpeningHours
    tz: ZoneInfo
    country: str
    # day -> its opening intervals in UTC microseconds: thousands of delays fall on a few dozen
    # days, and the time-zone conversions cost more than the arithmetic (a memo, not part of the value)
    _days: dict = field(default_factory=dict, compare=False, hash=False, repr=False)

    def _intervals(self, day: date) -> tuple[tuple[int, int], ...]:
        got = self._days.get(day)
        if got is None:
            got = self._days[day] = tuple((_microseconds(a), _microseconds(b))
                                          for a, b in self.hours.open_intervals(day, self.tz))
        return got

    def closed_days(self, start: datetime, end: datetime) -> frozenset[date]:
        """Return the public holidays between `start` and `end` (brand-local dates)."""
        first = start.astimezone(self.tz).year
        last = end.astimezone(self.tz).year
        return _holidays(self.country, tuple(range(first, last + 1)))

    def business_hours(self, start: datetime, end: datetime) -> float:
        """Return the open hours between two aware datetimes."""
        return float(self.business_hours_many([start], [end])[0])

    def business_hours_many(self, starts: Sequence[datetime], ends: Sequence[datetime]):
        """Return a numpy array: the open hours between each start and its end (aware datetimes).

        business_hours_us of their microseconds (business_hours is this for one pair).
        """
        import numpy as np

        return self.business_hours_us(np.array([_microseconds(s) for s in starts], dtype=np.int64),
                                      np.array([_microseconds(e) for e in ends], dtype=np.int64))

    def business_hours_us(self, starts, ends):
        """Return a numpy array: the open hours between each start and its end (UTC microseconds).

        The one business-hours rule: for each day from the day before the start to the day of
        the end (brand-local dates), unless a public holiday of the years the pair spans, the
        overlap of each of its opening intervals with [start, end], in seconds, added in time
        order; 0 when the end is not after the start. Pairs are computed together, so a
        report's thousands of delays cost one array operation per calendar rather than a loop
        over days for each.
        """
        import numpy as np

        starts, ends = np.asarray(starts, dtype=np.int64), np.asarray(ends, dtype=np.int64)
        out = np.zeros(len(starts))
        todo = np.flatnonzero(ends > starts)
        if not len(todo):
            return out
        s_us, e_us = starts[todo], ends[todo]
        s_day, e_day = self._local_days(s_us), self._local_days(e_us)  # proleptic ordinals
        s_year, e_year = _years(s_day), _years(e_day)
        for first_year, last_year in sorted(set(zip(s_year.tolist(), e_year.tolist(), strict=True))):
            sel = (s_year == first_year) & (e_year == last_year)
            closed = _holidays(self.country, tuple(range(first_year, last_year + 1)))
            lo_day, hi_day = s_day[sel] - 1, e_day[sel]
            first = int(lo_day.min())
            spans: list[tuple[int, int]] = []
            offsets = [0]  # offsets[d]: the position of day `first + d`'s first interval in `spans`
            for ordinal in range(first, int(hi_day.max()) + 1):
                day = date.fromordinal(ordinal)
                if day not in closed:
                    spans.extend(self._intervals(day))
                offsets.append(len(spans))
            offsets_a = np.array(offsets, dtype=np.int64)
            lo_i, hi_i = offsets_a[lo_day - first], offsets_a[hi_day - first + 1]
            width = int((hi_i - lo_i).max())
            if width == 0:
                continue
            a, b = np.array(spans, dtype=np.int64).T
            at = lo_i[:, None] + np.arange(width)
            inside = at < hi_i[:, None]
            at = np.minimum(at, len(spans) - 1)
            lo, hi = np.maximum(a[at], s_us[sel][:, None]), np.minimum(b[at], e_us[sel][:, None])
            # seconds of each overlap as timedelta.total_seconds() gives them (microseconds / 10**6,
            # exact below 2**53), summed one after the other (accumulate) as a loop over days adds
            overlap = np.where(inside & (hi > lo), hi - lo, 0) / 1e6
            out[todo[sel]] = np.add.accumulate(overlap, axis=1)[:, -1] / 3600.0
        return out

    def _local_days(self, us):
        """Return the brand-local date (proleptic ordinal) of each UTC microsecond time.

        A time's local date is the day whose local midnight is the last one at or before it:
        exact while the clock never skips nor repeats a midnight in the range (each midnight
        then has one UTC instant); else each time is converted, as astimezone() dates it.
        """
        import numpy as np

        utc_day = us // _DAY_US + _EPOCH_ORDINAL
        lo, hi = int(utc_day.min()) - 1, int(utc_day.max()) + 2  # an offset is under a day
        midnights = [_midnight(self.tz, o) for o in range(lo, hi + 1)]
        if None in midnights:
            return np.array([(_EPOCH + timedelta(microseconds=int(u))).astimezone(self.tz).toordinal()
                             for u in us.tolist()], dtype=np.int64)
        return lo + np.searchsorted(np.array(midnights, dtype=np.int64), us, side="right") - 1


_DAY_US = 86_400_000_000
_EPOCH_ORDINAL = date(1970, 1, 1).toordinal()


@lru_cache(maxsize=65536)
def _midnight(tz: ZoneInfo, ordinal: int) -> int | None:
    # the UTC microseconds of a local midnight; None when the clock skips or repeats it
    first = datetime.combine(date.fromordinal(ordinal), time(0), tzinfo=tz)
    at = _microseconds(first)
    return at if _microseconds(first.replace(fold=1)) == at else None


def _years(ordinals):
    import numpy as np

    days, at = np.unique(ordinals, return_inverse=True)
    return np.array([date.fromordinal(o).year for o in days.tolist()], dtype=np.int64)[at]


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
