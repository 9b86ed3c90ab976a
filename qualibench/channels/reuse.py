"""Connections kept open across the send runs of one process, while a scope lasts.

A `qualibench send` from the command line is one run: its channels open their SMTP, IMAP and
HTTP connections once, reuse them for every probe and close them at the end. A process that
runs many sends in a row (the demo drives hundreds through its virtual fortnight, a scheduler
loop would too) can wrap them in `keep_connections()`: a channel's `close()` then parks each
live connection here, the next run's channel takes it back instead of connecting and logging
in again, and the scope's end closes whatever is parked. Connections are only transport: the
outbox's crash safety does not depend on them.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable, Hashable, Iterator
from contextvars import ContextVar
from typing import Any

_current: ContextVar[ConnectionPark | None] = ContextVar("qualibench_connection_park",
                                                          default=None)


class ConnectionPark:
    """Live connections by key (kind, host, port, user...), with when each was parked."""

    def __init__(self) -> None:
        self._parked: dict[Hashable, tuple[Any, float, Callable[[Any], None]]] = {}

    def park(self, key: Hashable, conn: Any, close: Callable[[Any], None]) -> None:
        """Keep `conn` for the next run; `close(conn)` ends it when the scope ends."""
        old = self._parked.pop(key, None)
        if old is not None:
            _quietly(old[2], old[0])
        self._parked[key] = (conn, time.monotonic(), close)

    def take(self, key: Hashable) -> tuple[Any, float] | None:
        """Return (connection, seconds since it was parked) and forget it; None if none."""
        found = self._parked.pop(key, None)
        if found is None:
            return None
        return found[0], time.monotonic() - found[1]

    def parked(self) -> dict[Hashable, Any]:
        """Return the connections parked now, by key (what a test or a status line shows)."""
        return {key: conn for key, (conn, _, _) in self._parked.items()}

    def close_all(self) -> None:
        while self._parked:
            _, (conn, _, close) = self._parked.popitem()
            _quietly(close, conn)


def _quietly(close: Callable[[Any], None], conn: Any) -> None:
    with contextlib.suppress(Exception):  # a dead connection cannot be closed more cleanly
        close(conn)


def current_park() -> ConnectionPark | None:
    """Return the active scope's park, or None (connections then close with their run)."""
    return _current.get()


@contextlib.contextmanager
def keep_connections() -> Iterator[ConnectionPark]:
    """Reuse channel connections across the send runs inside the block; close them after."""
    park = ConnectionPark()
    token = _current.set(park)
    try:
        yield park
    finally:
        _current.reset(token)
        park.close_all()
