"""Injected clocks: the system clock in real runs, a virtual clock in the demo and tests."""

from __future__ import annotations

import mmap
import struct
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Protocol


class Clock(Protocol):
    def now(self) -> datetime:
        """Return the current time, timezone-aware UTC."""
        ...

    def sleep(self, seconds: float) -> None:
        """Wait `seconds` of this clock's time."""
        ...


class SystemClock:
    def now(self) -> datetime:
        return datetime.now(UTC)

    def sleep(self, seconds: float) -> None:
        if seconds > 0:
            time.sleep(seconds)


class VirtualClock:
    """A clock that only moves when told to; sleeping advances it instantly.

    Thread-safe, so in-process servers (the demo's SMTP and IMAP) can read it while the
    pipeline advances it.
    """

    def __init__(self, start: datetime) -> None:
        if start.tzinfo is None:
            raise ValueError("VirtualClock needs a timezone-aware start")
        self._now = start.astimezone(UTC)
        self._lock = threading.Lock()

    def now(self) -> datetime:
        with self._lock:
            return self._now

    def sleep(self, seconds: float) -> None:
        self.advance(timedelta(seconds=max(0.0, seconds)))

    def advance(self, delta: timedelta) -> datetime:
        with self._lock:
            self._now += delta
            return self._now

    def set(self, when: datetime) -> None:
        if when.tzinfo is None:
            raise ValueError("VirtualClock.set needs a timezone-aware datetime")
        with self._lock:
            self._now = when.astimezone(UTC)


_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MICROS = struct.Struct("<q")  # one aligned 8-byte word: read and written whole on x86-64


class SharedClock(VirtualClock):
    """A virtual clock whose time lives in a memory-mapped file, so that another process (the
    demo world's servers) reads the time this one sets, at the cost of one memory read.

    The campaign's process creates the file and moves the clock; the world's process opens
    the same file with `SharedClock.attach` and only reads it. The time is kept in whole
    microseconds since the epoch, exactly what a datetime holds.
    """

    def __init__(self, path: Path, start: datetime | None = None) -> None:
        self._lock = threading.Lock()
        self.path = Path(path)
        if start is not None:
            self.path.write_bytes(bytes(_MICROS.size))
        with open(self.path, "r+b") as f:
            self._map = mmap.mmap(f.fileno(), _MICROS.size)
        if start is not None:
            self.set(start)

    @classmethod
    def attach(cls, path: Path) -> SharedClock:
        """Return the clock kept in `path` by another process."""
        return cls(path)

    @property
    def _now(self) -> datetime:  # type: ignore[override]
        return _EPOCH + timedelta(microseconds=_MICROS.unpack_from(self._map, 0)[0])

    @_now.setter
    def _now(self, when: datetime) -> None:
        delta = when - _EPOCH
        _MICROS.pack_into(self._map, 0, (delta.days * 86400 + delta.seconds) * 1_000_000
                          + delta.microseconds)

    def close(self) -> None:
        self._map.close()


def ensure_utc(value: datetime) -> datetime:
    """Return `value` as aware UTC; refuse naive datetimes, which are bugs here."""
    if value.tzinfo is None or value.tzinfo.utcoffset(value) is None:
        raise ValueError(f"naive datetime {value!r}: every timestamp must carry a timezone")
    return value.astimezone(UTC)
