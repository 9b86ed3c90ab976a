"""Worker processes that prepare messages (mail.prepare) while the collector fetches and records.

Each worker has its own task queue and its own result pipe, and gives back one result per
message as it goes. So the pool knows at every moment which message each worker is on and
since when: a worker that gives nothing for `wall_seconds` (stuck in C code that the
processor-time budget cannot interrupt, or dead) is killed and replaced, the message it was on
is tried once more in a fresh worker, and set aside as unparseable if it stalls that one too.
The messages queued behind it go to the replacement: no innocent message is lost.

Workers are started from a fresh server process (forkserver), never forked from a process that
holds database connections. When the main process dies, their task queue's pipe closes and they
exit on their own.
"""

from __future__ import annotations

import contextlib
import importlib
import multiprocessing
import os
import pickle
import struct
import sys
import threading
import time
from collections import deque
from collections.abc import Callable, Hashable, Iterator
from dataclasses import dataclass, field
from multiprocessing.connection import Connection, wait
from pathlib import Path
from typing import Any

# Messages per task: small enough to spread a batch over the workers evenly.
TASK_MESSAGES = 16
# Wall time one message may keep its worker silent before the worker is killed. The
# processor-time budget (bounds.CPU_SECONDS) stops pure-Python loops in the worker itself; this
# is the last guard, for code that budget cannot interrupt, with room for a loaded machine.
WALL_SECONDS = 60.0
PREPARE = "qualibench.mail.prepare:prepare_payload"
# A worker that has not started after this long (a machine swapping...) is replaced.
STARTUP_SECONDS = 120.0
_READY = "ready"
# Seconds the result reader pauses after reading, so that it reads results in groups, and the
# most it reads from a worker's pipe at once.
READ_PAUSE = 0.01
READ_BYTES = 1 << 20
# Workers replaced without a single result between them before the pool gives up.
MAX_REPLACED_IN_A_ROW = 4


class PoolBroken(RuntimeError):
    """The workers keep dying before any result: the caller prepares in its own process."""


@contextlib.contextmanager
def _main_left_out() -> Iterator[None]:
    """Start processes without the main script: multiprocessing would run it again in each
    worker (as __mp_main__), importing all it imports -- a second of processor time and tens of
    megabytes each for a benchmark -- or running it all when it lacks the __main__ guard. The
    workers need nothing of it: their target is named by module."""
    main = sys.modules.get("__main__")
    spec, path = getattr(main, "__spec__", None), getattr(main, "__file__", None)
    if main is None:
        yield
        return
    main.__spec__ = None
    if path is not None:
        del main.__file__
    try:
        yield
    finally:
        main.__spec__ = spec
        if path is not None:
            main.__file__ = path


def _serve(tasks: Any, results: Connection, target: str) -> None:
    """A worker's loop: run `target` on each message of each task, sending each result back."""
    module, name = target.split(":")
    run: Callable[[Any], Any] = getattr(importlib.import_module(module), name)
    _fewer_collections()
    fd = results.fileno()
    _send(fd, _READY)  # the watch on this worker's silence starts now
    while True:
        try:
            task = tasks.get()
        except (EOFError, OSError):  # the main process is gone
            return
        if task is None:
            return
        for key, payload in task:
            try:
                _send(fd, (key, run(payload)))
            except (BrokenPipeError, OSError):
                return


# A result crosses as a frame: its pickle's length (8 bytes, network order), then the pickle.
# Written with one os.write and read by the pool in whatever amount the pipe holds, so that
# the many small results of a fast worker cost one read between them, where a Connection's
# recv took a poll and two reads for each.
_LENGTH = struct.Struct("!Q")


def _send(fd: int, obj: object) -> None:
    data = pickle.dumps(obj, protocol=pickle.HIGHEST_PROTOCOL)
    view = memoryview(_LENGTH.pack(len(data)) + data)
    while view:
        view = view[os.write(fd, view):]


def _frames(buffer: bytearray) -> list[object]:
    """Take the whole frames off the front of `buffer` and give back what they hold."""
    out, at, size = [], 0, _LENGTH.size
    while len(buffer) - at >= size:
        (length,) = _LENGTH.unpack_from(buffer, at)
        if len(buffer) - at - size < length:
            break
        # (Our own worker wrote it, on a pipe only it and this process hold.)
        out.append(pickle.loads(buffer[at + size:at + size + length]))  # noqa: S301
        at += size + length
    del buffer[:at]
    return out


def _fewer_collections() -> None:
    """Keep the cyclic garbage collector off what the worker holds for good, as the collector
    does in the main process (collecting._fewer_collections): the modules, patterns and
    words inherited from the fork server are frozen (never scanned again), and the threshold
    raised, since a message's objects are freed by reference counting as soon as it is sent."""
    import gc

    gc.freeze()
    before = gc.get_threshold()
    gc.set_threshold(max(before[0], 20_000), *before[1:])


@dataclass
class _Worker:
    process: Any
    tasks: Any
    results: Connection
    # (key, payload, tries) sent and not answered yet, in the order the worker takes them.
    outstanding: deque = field(default_factory=deque)
    since: float = 0.0  # when the worker began the first outstanding message
    started: float = field(default_factory=time.monotonic)
    ready: bool = False  # its start-up is over (not counted against any message)
    unread: bytearray = field(default_factory=bytearray)  # a frame's first part, the rest to come


class ParserPool:
    """`workers` processes running `target` (module:function) on payloads; see the module doc."""

    def __init__(self, workers: int, *, target: str = PREPARE, wall_seconds: float | None = None,
                 preload: tuple[str, ...] = ("qualibench.mail.worker_start",)) -> None:
        self.target = target
        self.wall_seconds = WALL_SECONDS if wall_seconds is None else wall_seconds
        self._context = multiprocessing.get_context("forkserver")
        self._context.set_forkserver_preload(list(preload))
        self._lock = threading.Condition()
        self._done: dict[Hashable, Any] = {}
        self._workers: list[_Worker] = [self._spawn() for _ in range(max(1, workers))]
        self.replaced = 0  # workers killed for silence or found dead, for reports and tests
        # Workers replaced since the last result: a pool whose workers cannot even start
        # (a script without the `if __name__ == "__main__"` guard...) gives up, see `broken`.
        self._in_a_row = 0
        self.broken = ""
        self._closing = False
        self._reader = threading.Thread(target=self._read, name="parser-pool results", daemon=True)
        self._reader.start()

    # -- the caller's side -------------------------------------------------------------------

    def submit(self, items: list[tuple[Hashable, Any]]) -> None:
        """Queue (key, payload) pairs; their results are fetched with `results`."""
        with self._lock:
            if self.broken or not self._workers:
                raise PoolBroken(self.broken or "the parser pool is closed")
            for lo in range(0, len(items), TASK_MESSAGES):
                part = [(key, payload, 0) for key, payload in items[lo:lo + TASK_MESSAGES]]
                self._send(min(self._workers, key=lambda w: len(w.outstanding)), part)

    def results(self, keys: list[Hashable]) -> dict[Hashable, Any]:
        """Wait for the results of `keys` (submitted before) and give them back, forgetting them."""
        with self._lock:
            while True:
                if self.broken or not self._reader.is_alive():
                    raise PoolBroken(self.broken or "the parser pool's result reader stopped")
                if all(k in self._done for k in keys):
                    return {k: self._done.pop(k) for k in keys}
                self._lock.wait(0.5)

    def pids(self) -> list[int]:
        """The process ids of the current workers."""
        with self._lock:
            return [w.process.pid for w in self._workers]

    def close(self) -> None:
        """Stop the workers (those still busy are killed) and the reader."""
        with self._lock:
            self._closing = True
            workers, self._workers = self._workers, []
        for w in workers:
            _account(w.process.pid)
        for w in workers:
            with contextlib.suppress(OSError, ValueError):
                w.tasks.put(None)
        deadline = time.monotonic() + 2
        for w in workers:
            w.process.join(max(0.0, deadline - time.monotonic()))
            if w.process.is_alive():
                w.process.kill()
                w.process.join(1)
            self._discard(w)
        self._reader.join(2)

    def __enter__(self) -> ParserPool:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- inside ------------------------------------------------------------------------------

    def _spawn(self) -> _Worker:
        tasks = self._context.Queue()
        receiver, sender = self._context.Pipe(duplex=False)
        process = self._context.Process(target=_serve, args=(tasks, sender, self.target),
                                        daemon=True, name="qualibench parser")
        with _main_left_out():
            process.start()
        sender.close()  # the worker holds the only writing end: its death is an EOF here
        return _Worker(process, tasks, receiver)

    def _send(self, worker: _Worker, part: list[tuple[Hashable, Any, int]]) -> None:
        if not worker.outstanding and worker.ready:
            worker.since = time.monotonic()
        worker.outstanding.extend(part)
        worker.tasks.put([(key, payload) for key, payload, _ in part])

    def _discard(self, worker: _Worker) -> None:
        worker.tasks.cancel_join_thread()  # a dead reader must not block this process's exit
        worker.tasks.close()
        worker.results.close()

    def _read(self) -> None:
        while True:
            with self._lock:
                if self._closing:
                    return
                by_conn = {w.results: w for w in self._workers}
            ready = wait(list(by_conn), timeout=0.2) if by_conn else []
            with self._lock:
                if self._closing:
                    return
                for conn in ready:
                    worker = by_conn[conn]
                    if worker not in self._workers:
                        continue
                    try:
                        data = os.read(conn.fileno(), READ_BYTES)
                        if not data:
                            raise EOFError
                        worker.unread += data
                        for got in _frames(worker.unread):
                            if got == _READY:
                                worker.ready = True
                                worker.since = time.monotonic()
                                continue
                            self._answered(worker, *got)
                    except (EOFError, OSError):
                        self._replace(worker, died=True)
                now = time.monotonic()
                for worker in list(self._workers):
                    if not worker.ready:
                        if now - worker.started > STARTUP_SECONDS:
                            self._replace(worker, died=False)
                    elif worker.outstanding and now - worker.since > self.wall_seconds:
                        self._replace(worker, died=False)
                self._lock.notify_all()
            if ready:
                # Results come a few hundred a second per worker: reading each as it lands
                # woke this thread (and took the interpreter lock from the recording thread)
                # once per message. After a short pause the pipe holds several, read at once;
                # the pause is far below any wait that matters and the pipe's buffer holds
                # more than a pause's worth.
                time.sleep(READ_PAUSE)

    def _answered(self, worker: _Worker, key: Hashable, result: Any) -> None:
        while worker.outstanding:
            done = worker.outstanding.popleft()
            if done[0] == key:
                break
        self._done[key] = result
        worker.since = time.monotonic()
        self._in_a_row = 0

    def _replace(self, worker: _Worker, *, died: bool) -> None:
        """Kill `worker`, start another, and give it what `worker` had not answered: the message
        it was on once more, unless this was its second stall."""
        self._workers.remove(worker)
        _account(worker.process.pid)
        if worker.process.is_alive():
            worker.process.kill()
        worker.process.join(1)
        self._discard(worker)
        self.replaced += 1
        self._in_a_row += 1
        if self._in_a_row > MAX_REPLACED_IN_A_ROW:
            self.broken = (f"{self._in_a_row} parser workers in a row stopped before giving "
                           "any result")
            return
        fresh = self._spawn()
        self._workers.append(fresh)
        left = list(worker.outstanding)
        if not left:
            return
        (key, payload, tries), rest = left[0], left[1:]
        if not worker.ready:  # it never began the message: the message is not to blame
            rest = left
        elif tries >= 1:
            how = "its worker process died" if died else (
                f"it kept its worker busy for more than {self.wall_seconds:g} s")
            self._done[key] = ("unparseable", f"parsing stopped twice: {how} (a message built "
                               "to stall the parser?)", "the raw bytes are kept as evidence; "
                               "look at them with `qualibench inbox`")
        else:
            rest = [(key, payload, tries + 1), *rest]
        if rest:
            self._send(fresh, rest)



def worker_count(pending: int, *, threshold: int) -> int:
    """Return how many worker processes to prepare `pending` messages with (0: in this process).

    QUALIBENCH_PARSE_WORKERS overrides (tests, or a machine to keep quiet); otherwise two on a
    machine with two cores or more, once there are enough messages to pay for starting them.
    """
    configured = os.environ.get("QUALIBENCH_PARSE_WORKERS", "")
    if configured.isdigit():
        return int(configured)
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    if pending < threshold or cores < 2:
        return 0
    return 2


# What the workers of this process used, for benchmarks (their processor time is not in this
# process's children's rusage: the forkserver is their parent). Read from /proc where there is one.
USAGE = {"cpu_seconds": 0.0, "peak_rss_mb": 0.0, "workers": 0}


def _account(pid: int | None) -> None:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        status = Path(f"/proc/{pid}/status").read_text()
    except (OSError, IndexError):
        return
    USAGE["cpu_seconds"] += (int(stat[11]) + int(stat[12])) / os.sysconf("SC_CLK_TCK")
    for line in status.splitlines():
        if line.startswith("VmHWM:"):
            USAGE["peak_rss_mb"] = max(USAGE["peak_rss_mb"], int(line.split()[1]) / 1024)
    USAGE["workers"] += 1
