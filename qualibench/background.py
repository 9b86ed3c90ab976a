"""Work done on the machine's other core: a function computed in a forked process, or in line.

A large report spends seconds in numpy and matplotlib work that does not depend on what this
process computes meanwhile (the bootstrap of every brand x channel cell, the charts). A fork
shares the data already in memory without copying it; the result comes back pickled. Forking is
only safe when this process runs no other thread (a thread holding a lock at fork time leaves
it locked forever in the child: the demo's servers, a test database's helpers), and only pays
for large inputs: otherwise the function runs in line, with the same result.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any


def fork_is_safe() -> bool:
    """Return True when this process may fork a helper: the platform forks and no other thread runs."""
    import multiprocessing
    import threading

    return threading.active_count() == 1 and "fork" in multiprocessing.get_all_start_methods()


class Forked:
    """fn(*args), computed in a forked child when `fork` and it is safe, else in line at result()."""

    def __init__(self, fn: Callable[..., Any], *args: Any, fork: bool) -> None:
        self._call = (fn, args)
        self._proc = self._conn = None
        if fork and fork_is_safe():
            import multiprocessing

            ctx = multiprocessing.get_context("fork")
            self._conn, child = ctx.Pipe(duplex=False)
            self._proc = ctx.Process(target=_run, args=(child, self._conn, fn, args), daemon=True)
            self._proc.start()
            child.close()

    def result(self) -> Any:
        """Return fn(*args): the child's result, or computed here (in line, or if the child died)."""
        fn, args = self._call
        if self._proc is None:
            return fn(*args)
        proc, self._proc = self._proc, None
        try:
            value = self._conn.recv()
        except (EOFError, OSError):  # the child died (killed, out of memory): compute it here
            value = None
        self._conn.close()
        proc.join()
        return fn(*args) if value is None else value[0]


def _run(conn, parent_end, fn, args) -> None:
    parent_end.close()  # the parent's end, copied by the fork
    try:
        value = (fn(*args),)
    except BaseException:  # noqa: BLE001 - the parent computes it again and reports the error itself
        value = None
    conn.send(value)
    conn.close()
