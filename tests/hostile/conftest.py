"""Shared tools of the hostile-input suite (issue #13): a brand's web server that misbehaves on
purpose, on loopback, and a measured run of the installed console script.

`HostileSite` serves, per path, whatever a hostile brand might: a page dripped one byte at a
time, an endless or huge body, a gzip bomb, a redirect loop or a redirect to another host or
port, or any JSON/bytes. It records every request (path, headers, body) so a test can see
what reached it, and it stops its dripping handlers when the test ends.

`measured_run` runs a command, reaps it with os.wait4 (that child's own CPU time and peak RSS,
which a loaded machine does not inflate as it inflates wall time) and can cap its address space
so that a bound that does not hold fails one test instead of swapping the shared machine.
"""

from __future__ import annotations

import json
import os
import resource
import subprocess
import tempfile
import threading
import time
import zlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from tests.plugins.console import console_script

MB = 1024 * 1024


# -- a measured subprocess -----------------------------------------------------------------


@dataclass
class Measured:
    """What one child process did: exit status, output, wall and CPU seconds, peak RSS."""

    returncode: int
    stdout: str
    stderr: str
    wall_seconds: float
    cpu_seconds: float
    peak_mb: float
    killed: bool = False  # still running at the timeout

    @property
    def err_lines(self) -> list[str]:
        return self.stderr.strip().splitlines()


def measured_run(args: list[str], *, cwd: Path | None = None, env: dict[str, str] | None = None,
                 timeout: float = 120, memory_cap_mb: int | None = None,
                 stdin: bytes | None = None) -> Measured:
    """Run `args`; return its Measured usage. Past `timeout` it is killed (killed=True).

    `memory_cap_mb` sets RLIMIT_AS in the child: a runaway parse then dies with MemoryError
    instead of taking gigabytes from the other engineers' processes.
    """
    def cap() -> None:  # runs in the child, between fork and exec
        if memory_cap_mb:
            limit = memory_cap_mb * MB
            resource.setrlimit(resource.RLIMIT_AS, (limit, limit))

    full_env = {**os.environ, "COLUMNS": "160", **(env or {})}
    full_env["PATH"] = f"{Path(console_script()).parent}{os.pathsep}{full_env.get('PATH', '')}"
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err, \
            tempfile.TemporaryFile() as inp:
        if stdin:
            inp.write(stdin)
            inp.seek(0)
        started = time.monotonic()
        proc = subprocess.Popen(args, cwd=cwd, env=full_env, stdout=out, stderr=err, stdin=inp,
                                preexec_fn=cap if memory_cap_mb else None)  # noqa: PLW1509
        killed = False
        while True:
            pid, status, usage = os.wait4(proc.pid, os.WNOHANG)
            if pid:
                break
            if time.monotonic() - started > timeout:
                proc.kill()
                killed = True
                pid, status, usage = os.wait4(proc.pid, 0)
                break
            time.sleep(0.02)
        wall = time.monotonic() - started
        proc.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        err.seek(0)
        return Measured(proc.returncode, out.read().decode("utf-8", "replace"),
                        err.read().decode("utf-8", "replace"), wall,
                        usage.ru_utime + usage.ru_stime, usage.ru_maxrss / 1024, killed)


def run_qualibench(*args: str, cwd: Path, **kwargs: Any) -> Measured:
    """Run the installed `qualibench ARGS` in `cwd`, measured (see measured_run)."""
    return measured_run([console_script(), *args], cwd=cwd, **kwargs)


# -- a hostile web server on loopback --------------------------------------------------------


@dataclass
class SeenRequest:
    method: str
    path: str
    headers: dict[str, str]
    body: bytes


Behaviour = Callable[["_Handler", SeenRequest], None]


@dataclass
class HostileSite:
    """A ThreadingHTTPServer on 127.0.0.1:0 answering each path with a chosen Behaviour."""

    routes: dict[str, Behaviour] = field(default_factory=dict)
    requests: list[SeenRequest] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.stopping = threading.Event()
        site = self

        class Handler(_Handler):
            pass

        Handler.site = site
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self._server.block_on_close = False

    @property
    def port(self) -> int:
        return int(self._server.server_address[1])

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def url(self, path: str) -> str:
        return self.base_url + path

    def route(self, path: str, behaviour: Behaviour) -> str:
        """Serve `path` (without its query) with `behaviour`; return its full URL."""
        self.routes[path] = behaviour
        return self.url(path)

    def hits(self, path: str) -> list[SeenRequest]:
        return [r for r in self.requests if r.path.split("?")[0] == path]

    def start(self) -> HostileSite:
        threading.Thread(target=self._server.serve_forever, args=(0.05,), daemon=True,
                         name="hostile-site").start()
        return self

    def stop(self) -> None:
        self.stopping.set()  # ends the dripping handlers
        self._server.shutdown()
        self._server.server_close()

    def __enter__(self) -> HostileSite:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


class _Handler(BaseHTTPRequestHandler):
    site: HostileSite
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: object) -> None:
        return

    def end_headers(self) -> None:
        # One request per connection: a client never reuses a socket a behaviour left half-read.
        self.send_header("Connection", "close")
        super().end_headers()

    def _any(self) -> None:
        length = int(self.headers.get("Content-Length", "0") or 0)
        body = self.rfile.read(min(length, 10 * MB)) if length else b""
        seen = SeenRequest(self.command, self.path, dict(self.headers.items()), body)
        self.site.requests.append(seen)
        behaviour = self.site.routes.get(self.path.split("?")[0])
        try:
            if behaviour is None:
                send_bytes(404, b"no such page", "text/plain")(self, seen)
            else:
                behaviour(self, seen)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the client gave up on us: what a bounded client should do
        self.close_connection = True

    do_GET = do_POST = do_HEAD = do_PUT = _any


# Behaviours: each returns a function writing one response.


def send_bytes(status: int, body: bytes, content_type: str = "text/html; charset=utf-8",
               headers: dict[str, str] | None = None) -> Behaviour:
    """Answer `body` whole, with its Content-Length."""
    def answer(h: _Handler, _seen: SeenRequest) -> None:
        h.send_response(status)
        h.send_header("Content-Type", content_type)
        h.send_header("Content-Length", str(len(body)))
        for k, v in (headers or {}).items():
            h.send_header(k, v)
        h.end_headers()
        if h.command != "HEAD":
            h.wfile.write(body)
    return answer


def send_json(payload: Any, status: int = 200, headers: dict[str, str] | None = None) -> Behaviour:
    """Answer `payload` as JSON (bytes are sent as they are: malformed or huge JSON)."""
    body = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
    return send_bytes(status, body, "application/json; charset=utf-8", headers)


def drip(byte_every: float = 1.0, prelude: bytes = b"", for_seconds: float = 600) -> Behaviour:
    """Slow loris: headers, then one byte every `byte_every` s (chunked) until stopped."""
    def answer(h: _Handler, _seen: SeenRequest) -> None:
        h.send_response(200)
        h.send_header("Content-Type", "text/html; charset=utf-8")
        h.send_header("Transfer-Encoding", "chunked")
        h.end_headers()
        if prelude:
            h.wfile.write(b"%x\r\n%s\r\n" % (len(prelude), prelude))
        ends = time.monotonic() + for_seconds
        while time.monotonic() < ends and not h.site.stopping.wait(byte_every):
            h.wfile.write(b"1\r\n \r\n")
            h.wfile.flush()
    return answer


def silent(for_seconds: float = 600) -> Behaviour:
    """Accept the request and never answer (until stopped)."""
    def answer(h: _Handler, _seen: SeenRequest) -> None:
        h.site.stopping.wait(for_seconds)
    return answer


def huge(size: int, chunk: bytes = b"<p>" + b"x" * 65533 + b"\n",
         content_type: str = "text/html; charset=utf-8", declare_length: bool = True) -> Behaviour:
    """Stream `size` bytes of `chunk` repeated, never held in memory on our side."""
    def answer(h: _Handler, _seen: SeenRequest) -> None:
        h.send_response(200)
        h.send_header("Content-Type", content_type)
        if declare_length:
            h.send_header("Content-Length", str(size))
        h.end_headers()
        sent = 0
        while sent < size and not h.site.stopping.is_set():
            part = chunk[: size - sent]
            h.wfile.write(part)
            sent += len(part)
    return answer


def gzip_bomb_bytes(decompressed: int) -> bytes:
    """Return gzip bytes that inflate to `decompressed` bytes of zeros (~1/1000 of the size)."""
    comp = zlib.compressobj(9, zlib.DEFLATED, 31)  # wbits 31: a gzip container
    block = b"\0" * MB
    parts = [comp.compress(block) for _ in range(decompressed // MB)]
    parts.append(comp.compress(b"\0" * (decompressed % MB)))
    parts.append(comp.flush())
    return b"".join(parts)


def gzip_bomb(decompressed: int, content_type: str = "text/html; charset=utf-8") -> Behaviour:
    """Answer a small Content-Encoding: gzip body inflating to `decompressed` bytes."""
    body = gzip_bomb_bytes(decompressed)
    return send_bytes(200, body, content_type, {"Content-Encoding": "gzip"})


def redirect(location: str, status: int = 302) -> Behaviour:
    """Redirect to `location` (another path for a loop, another host or port for an escape)."""
    return send_bytes(status, b"", "text/plain", {"Location": location})


@pytest.fixture
def hostile_site() -> Iterator[HostileSite]:
    """A started HostileSite; add behaviours with `site.route(path, behaviour)`."""
    with HostileSite() as site:
        yield site


@pytest.fixture
def hostile_sites() -> Iterator[Callable[[], HostileSite]]:
    """A factory of further started HostileSites (another port: a "fourth host" to escape to)."""
    started: list[HostileSite] = []

    def make() -> HostileSite:
        started.append(HostileSite().start())
        return started[-1]

    yield make
    for site in started:
        site.stop()
