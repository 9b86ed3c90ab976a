"""The demo world's servers in a process of their own, driven from the campaign's process.

In one process, the world's SMTP, IMAP and HTTP servers and the pipeline under test share one
interpreter lock and one garbage collector: every collect's FETCH served by pymap, every form
page served by the brand site, ran on the core the pipeline needed. `WorldProcess` starts the
same `DemoWorld` in a child process and offers the campaign's process what `qualibench demo`
uses of a world (ports, clock, brands, `deliver_due`, `next_due`, `receive_probe`...).

The virtual clock is shared through a memory-mapped file (`clock.SharedClock`): the campaign's
process moves it, the world reads it when it timestamps what it receives, exactly as the
in-process world read the shared `VirtualClock`. Everything else the world does depends only on
what it receives and on the seed, so a run gives the same figures as with the in-process world.
What the simulated shoppers do stays in the campaign's process: they record answers in its
database (`schedule_action` keeps those actions here, and `deliver_due` runs them).

The child leaves with its parent: it stops when told, or when the parent's end of the socket
closes (the parent exited or was killed), and it ignores the terminal's Ctrl-C, which the
parent handles by stopping it.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
from datetime import datetime
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

from ..clock import SharedClock, ensure_utc
from ..errors import QualibenchError
from .core import DEFAULT_START, BrandLog, DemoWorld
from .replies import Incoming

START_SECONDS = 120.0  # a loaded machine may take long to import pymap and start the servers
CALL_SECONDS = 120.0


class _Service:
    """Stands for a server that runs in the world's process (what callers test and read)."""

    def __init__(self, url: str) -> None:
        self.url = url


class WorldProcess:
    """A `DemoWorld` running in a child process; the clock and the shoppers' actions stay here."""

    def __init__(self, *, brands: int = 12, seed: int = 0, start: datetime = DEFAULT_START,
                 shopper_domains: tuple[str, ...] = ()) -> None:
        self.seed = seed
        self._tmp = Path(tempfile.mkdtemp(prefix="qualibench-world-"))
        self.clock = SharedClock(self._tmp / "clock", ensure_utc(start))
        # Never started: it holds the brands, the scenarios and the shoppers' pending actions.
        self._local = DemoWorld(brands=brands, seed=seed, shopper_domains=shopper_domains,
                                root=self._tmp / "local", clock=self.clock)
        self.brands = self._local.brands
        self.shopper_user = self._local.shopper_user
        self.shopper_password = ""
        self.smtp_port = self.imap_port = 0
        self.site: _Service | None = None
        self.xapi: _Service | None = None
        self.x_bridge = None  # the X bridge polls in the world's process, within deliver_due
        self._config = {"brands": brands, "seed": seed, "shopper_domains": list(shopper_domains),
                        "clock": str(self._tmp / "clock"), "root": str(self._tmp / "world"),
                        "tmp": str(self._tmp)}
        self._proc: subprocess.Popen[bytes] | None = None
        self._conn: Connection | None = None

    # -- life ----------------------------------------------------------------------------
    def start(self) -> WorldProcess:
        """Start the world's process and return once its servers listen."""
        return self.launch().ready()

    def launch(self) -> WorldProcess:
        """Start the world's process without waiting for it (`ready` waits): the caller can do
        its own start-up meanwhile, on the other core."""
        ours, theirs = socket.socketpair()
        package_root = str(Path(__file__).resolve().parents[2])
        env = dict(os.environ)
        env["PYTHONPATH"] = os.pathsep.join(p for p in (package_root, env.get("PYTHONPATH")) if p)
        try:
            self._proc = subprocess.Popen(
                [sys.executable, "-m", "qualibench.world.process", str(theirs.fileno())],
                pass_fds=(theirs.fileno(),), stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                env=env, start_new_session=True)
        finally:
            theirs.close()
        self._conn = Connection(ours.detach())
        self._conn.send(self._config)
        return self

    def ready(self) -> WorldProcess:
        """Wait until the world's servers listen, and learn their ports."""
        info = self._answer(START_SECONDS, "starting")
        self.smtp_port, self.imap_port = info["smtp_port"], info["imap_port"]
        self.shopper_password = info["shopper_password"]
        self.site = _Service(info["site_url"]) if info["site_url"] else None
        self.xapi = _Service(info["x_api_url"]) if info["x_api_url"] else None
        return self

    def stop(self) -> None:
        if self._conn is not None:
            try:
                self._conn.send(("stop", ()))
                self._answer(30.0, "stopping")
            except (OSError, EOFError, QualibenchError):
                pass  # already gone: nothing left to stop but the process itself
            self._conn.close()
            self._conn = None
        if self._proc is not None:
            try:
                self._proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self._proc.kill()
                self._proc.wait()
            self._proc = None
        # The clock stays readable (the campaign reads its end time after the world stops):
        # its mapping outlives the file.
        shutil.rmtree(self._tmp, ignore_errors=True)

    def __enter__(self) -> WorldProcess:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def _answer(self, timeout: float, doing: str) -> Any:
        assert self._conn is not None
        try:
            ready = self._conn.poll(timeout)
            reply = self._conn.recv() if ready else None
        except (EOFError, OSError):
            reply = None
        if reply is None:
            raise QualibenchError(f"the demo world's process stopped answering while {doing}",
                                  "run the demo again; if it persists, run it with --brands 1 "
                                  "to see the world's own error")
        status, value = reply
        if status != "ok":
            raise QualibenchError(f"the demo world failed while {doing}: {value}",
                                  "run the demo again; report the message if it persists")
        return value

    def _call(self, op: str, *args: Any) -> Any:
        if self._conn is None:
            raise QualibenchError("the demo world is not running", "start it before using it")
        self._conn.send((op, args))
        return self._answer(CALL_SECONDS, op.replace("_", " "))

    # -- what the campaign's process asks of the world -------------------------------------
    @property
    def site_url(self) -> str:
        return self.site.url if self.site else ""

    @property
    def x_api_url(self) -> str:
        return self.xapi.url if self.xapi else ""

    @property
    def log(self) -> dict[str, BrandLog]:
        logs = {k: BrandLog(**v) for k, v in self._call("log").items()}
        for key, local in self._local.log.items():
            logs[key].answers += local.answers  # shoppers' recorded answers, counted here
        return logs

    def brand(self, key: str) -> Any:
        return self._local.brand(key)

    def teach_scenarios(self, scenarios: list[Any]) -> None:
        self._local.teach_scenarios(scenarios)
        self._call("teach_scenarios", self._local._scenarios)

    def _recognise(self, subject: str, body: str) -> dict[str, Any] | None:
        return self._local._recognise(subject, body)

    def receive_probe(self, inc: Incoming, raw: bytes = b"") -> None:
        fields = dict(inc.__dict__, brand=inc.brand.key)
        self._call("receive_probe", fields, raw)

    def schedule_action(self, due: datetime, kind: str, brand: str, action: Any) -> None:
        self._local.schedule_action(due, kind, brand, action)

    def pending(self) -> int:
        return int(self._call("pending")) + self._local.pending()

    def next_due(self) -> datetime | None:
        dues = [d for d in (self._call("next_due"), self._local.next_due()) if d is not None]
        return min(dues) if dues else None

    def deliver_due(self) -> int:
        """Deliver what is due in the world, then run the shoppers' due actions here."""
        return int(self._call("deliver_due")) + self._local.deliver_due()

    def advance_to(self, when: datetime) -> int:
        when = ensure_utc(when)
        if when > self.clock.now():
            self.clock.set(when)
        return self.deliver_due()


# -- the child's side ------------------------------------------------------------------------
def _receive_probe(world: DemoWorld, fields: dict[str, Any], raw: bytes) -> None:
    world.receive_probe(Incoming(**dict(fields, brand=world.brand(fields["brand"]))), raw=raw)


_OPS: dict[str, Any] = {
    "teach_scenarios": lambda w, scenarios: w.teach_scenarios(scenarios),
    "deliver_due": lambda w: w.deliver_due(),
    "next_due": lambda w: w.next_due(),
    "pending": lambda w: w.pending(),
    "receive_probe": _receive_probe,
    "log": lambda w: {k: dict(v.__dict__) for k, v in w.log.items()},
}


def _serve(conn: Connection) -> None:
    config = conn.recv()
    clock = SharedClock.attach(Path(config["clock"]))
    world = DemoWorld(brands=config["brands"], seed=config["seed"], root=Path(config["root"]),
                      shopper_domains=tuple(config["shopper_domains"]), clock=clock)
    try:
        try:
            world.start()
        except Exception as exc:  # noqa: BLE001 -- told to the parent, which says it in one line
            conn.send(("error", f"{type(exc).__name__}: {exc}"))
            return
        conn.send(("ok", {"smtp_port": world.smtp_port, "imap_port": world.imap_port,
                          "site_url": world.site_url, "x_api_url": world.x_api_url,
                          "shopper_password": world.shopper_password}))
        while True:
            try:
                op, args = conn.recv()
            except (EOFError, OSError):
                return  # the campaign's process is gone: stop with it
            if op == "stop":
                break
            try:
                conn.send(("ok", _OPS[op](world, *args)))
            except Exception as exc:  # noqa: BLE001 -- a failed call is the parent's to report
                conn.send(("error", f"{type(exc).__name__}: {exc}"))
    finally:
        world.stop()
        clock.close()
        shutil.rmtree(config["tmp"], ignore_errors=True)
    conn.send(("ok", None))


def main(argv: list[str]) -> None:
    # Ctrl-C is the campaign's process to handle: it stops this one through the socket.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    conn = Connection(int(argv[0]))
    try:
        _serve(conn)
    except (EOFError, OSError):
        pass
    finally:
        conn.close()


if __name__ == "__main__":
    main(sys.argv[1:])
