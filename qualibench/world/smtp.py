"""The world's SMTP server (aiosmtpd): accepts the shopper's probes and hands them to a router.

It records every message it accepted (`Delivery`), which is what the resilience tests count
to prove each probe was received exactly once.
"""

from __future__ import annotations

import logging
import socket
import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from .loop import ServerLoop, loopback_socket


@dataclass(frozen=True)
class Delivery:
    """One message the SMTP server accepted (after DATA, for one recipient)."""

    mail_from: str
    rcpt: str
    data: bytes
    at: datetime
    message_id: str


class RcptVerdict:
    ACCEPT = "250 OK"
    RELAY_DENIED = "550 5.7.1 Relaying denied: this server only serves the demo world's domains"
    USER_UNKNOWN = "550 5.1.1 Recipient address rejected: User unknown in virtual mailbox table"


class WorldSMTP:
    """aiosmtpd on 127.0.0.1; `check_rcpt(addr) -> reply` and `on_message(Delivery)` decide."""

    def __init__(self, loop: ServerLoop, *, check_rcpt: Callable[[str], str],
                 on_message: Callable[[Delivery], None], now: Callable[[], datetime],
                 credentials: dict[str, str]) -> None:
        self._loop = loop
        self._check_rcpt = check_rcpt
        self._on_message = on_message
        self._now = now
        self._credentials = credentials
        self._lock = threading.Lock()
        self.deliveries: list[Delivery] = []
        self.port = 0
        self._server: Any = None

    def start(self, port: int = 0) -> int:
        """Start listening and return the port."""
        self.port = self._loop.run(self._start(port))
        return self.port

    async def _start(self, port: int) -> int:
        from aiosmtpd.smtp import SMTP, AuthResult, LoginPassword

        # aiosmtpd logs a warning about its own use of a deprecated attribute on each AUTH.
        mail_log = logging.getLogger("mail.log")
        if not any(isinstance(f, _NoLoginDataNoise) for f in mail_log.filters):
            mail_log.addFilter(_NoLoginDataNoise())

        world = self

        class Handler:
            async def handle_RCPT(self, server, session, envelope, address, rcpt_options):  # noqa: N802
                verdict = world._check_rcpt(address)
                if verdict.startswith("250"):
                    envelope.rcpt_tos.append(address)
                return verdict

            async def handle_DATA(self, server, session, envelope):  # noqa: N802
                data = envelope.original_content or envelope.content
                if isinstance(data, str):
                    data = data.encode("utf-8", "surrogateescape")
                mid = _header(data, b"message-id")
                at = world._now()
                for rcpt in envelope.rcpt_tos:
                    d = Delivery(envelope.mail_from, rcpt, data, at, mid)
                    with world._lock:
                        world.deliveries.append(d)
                    world._on_message(d)
                return "250 2.0.0 Ok: queued"

        def authenticator(server, session, envelope, mechanism, auth_data):  # noqa: ANN001
            if not isinstance(auth_data, LoginPassword):
                return AuthResult(success=False, handled=False)
            user = auth_data.login.decode("utf-8", "replace")
            password = auth_data.password.decode("utf-8", "replace")
            ok = self._credentials.get(user) == password
            return AuthResult(success=ok, handled=False)

        handler = Handler()
        sock = loopback_socket(port)

        class NoDelaySMTP(SMTP):
            def connection_made(self, transport):  # type: ignore[no-untyped-def]
                sock = transport.get_extra_info("socket")
                if sock is not None:
                    # Multi-line replies (EHLO) are written line by line: without TCP_NODELAY
                    # Nagle holds each later line for the client's delayed ACK.
                    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
                super().connection_made(transport)

        def factory() -> SMTP:
            # Loopback only: AUTH over plain text is allowed here, never on a real network.
            return NoDelaySMTP(handler, hostname="mx.demo.example", authenticator=authenticator,
                               auth_require_tls=False, auth_required=False)

        self._server = await self._loop.loop.create_server(factory, sock=sock)
        return sock.getsockname()[1]

    def stop(self) -> None:
        if self._server is not None:
            self._loop.run(self._stop())
            self._server = None

    async def _stop(self) -> None:
        self._server.close()
        await self._server.wait_closed()

    def received(self) -> list[Delivery]:
        """Return a copy of every message accepted so far."""
        with self._lock:
            return list(self.deliveries)


def _header(data: bytes, name: bytes) -> str:
    head = data.split(b"\r\n\r\n", 1)[0].split(b"\n\n", 1)[0]
    lines = head.replace(b"\r\n", b"\n").split(b"\n")
    for i, line in enumerate(lines):
        if line.lower().startswith(name + b":"):
            value = line.split(b":", 1)[1]
            for cont in lines[i + 1:]:
                if cont[:1] in (b" ", b"\t"):
                    value += cont
                else:
                    break
            return value.decode("utf-8", "replace").strip()
    return ""


class _NoLoginDataNoise(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        return "login_data is deprecated" not in record.getMessage()
