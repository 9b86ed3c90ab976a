"""The shopper's IMAP server: pymap's maildir backend, fed by writing files into new/.

pymap's dict backend costs ~45 ms per APPEND; its maildir backend instead picks up any file
dropped into the maildir's new/ folder on the next SELECT, and reports the file's mtime as
INTERNALDATE. Delivering is therefore one atomic rename, and setting the mtime to the virtual
clock's time gives the collector realistic receive timestamps.
"""

from __future__ import annotations

import asyncio
import itertools
import os
import socket
import threading
from argparse import Namespace
from contextlib import AsyncExitStack
from datetime import datetime
from pathlib import Path
from typing import Any

from ..clock import ensure_utc
from .loop import ServerLoop, loopback_socket

_CheapConfig: Any = None


def _cheap_config(base: Any) -> Any:
    """Return pymap's maildir Config with the SASL mechanisms looked up once, not per
    connection: pysasl scans every installed distribution's entry points to find PLAIN and
    LOGIN (~40 ms), and pymap asks for them twice at each connection's greeting."""
    from pysasl import SASLAuth

    auth = SASLAuth.defaults()

    class CheapConfig(base):  # type: ignore[misc,valid-type]
        @property
        def tls_auth(self) -> SASLAuth:
            return auth

    return CheapConfig


class ShopperMailbox:
    """An IMAP server on 127.0.0.1 holding one user's maildir (INBOX = the maildir root)."""

    def __init__(self, root: Path, loop: ServerLoop, *, user: str, password: str) -> None:
        self.root = Path(root)
        self.user = user
        self._password = password
        self._loop = loop
        self._stack: AsyncExitStack | None = None
        self._writers: set[asyncio.StreamWriter] = set()
        self._counter = itertools.count(1)
        self._lock = threading.Lock()
        self.port = 0
        self.delivered = 0
        self.maildir = self.root / user
        for sub in ("tmp", "new", "cur"):
            (self.maildir / sub).mkdir(parents=True, exist_ok=True)

    # -- server life -------------------------------------------------------------------
    def start(self, port: int = 0) -> int:
        """Start serving (on `port`, or a free one) and return the port."""
        self.port = self._loop.run(self._start(port))
        return self.port

    async def _start(self, port: int) -> int:
        # Imported here: pymap pulls in a large tree, only the demo world needs it.
        from proxyprotocol.reader import ProxyProtocolReader
        from pymap.backend.maildir import Config, Identity, Login
        from pymap.concurrent import Subsystem
        from pymap.imap import IMAPServer
        from pymap.user import UserMetadata
        from pysasl.hashing import Cleartext

        global _CheapConfig
        if _CheapConfig is None:
            _CheapConfig = _cheap_config(Config)

        args = Namespace(debug=False, passlib_cfg=None, proxy_protocol=None,
                         inherited_sockets=None)
        # Built directly rather than from_args: the defaults would start thread pools that
        # outlive the world; plain asyncio is enough for one shopper's mailbox. Loopback only,
        # no TLS, so plain LOGIN is allowed; the password sits in clear in the world's temporary
        # folder, deleted with the world.
        config = _CheapConfig(
            args, base_dir=str(self.root), layout="++", colon=None, host="127.0.0.1", port=port,
            subsystem=Subsystem.for_asyncio(), cpu_subsystem=Subsystem.for_asyncio(),
            hash_context=Cleartext(), tls_enabled=False, secure_auth=False, reject_dnsbl=False,
            invalid_user_sleep=0.0,
        )
        config.apply_context()
        login = Login(config)
        identity = Identity(config, login.tokens, self.user, None, frozenset({"admin"}))
        await identity.set(UserMetadata(config, self.user, password=self._password,
                                        params={"mailbox_path": self.user}))  # type: ignore[arg-type]
        server = IMAPServer(login, config)

        async def tracked(reader: asyncio.StreamReader, writer: asyncio.StreamWriter,
                          sock_info: object) -> None:
            self._writers.add(writer)
            sock = writer.get_extra_info("socket")
            if sock is not None:
                # pymap writes untagged lines and the tagged reply separately; without
                # TCP_NODELAY, Nagle holds the reply ~40 ms for the client's delayed ACK.
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            try:
                await server(reader, writer, sock_info)  # type: ignore[arg-type]
            finally:
                self._writers.discard(writer)

        callback = ProxyProtocolReader(config.proxy_protocol).get_callback(tracked)

        sock = loopback_socket(port)
        stack = AsyncExitStack()
        srv = await asyncio.start_server(callback, sock=sock)
        await stack.enter_async_context(srv)
        self._stack = stack
        self._server = srv
        return sock.getsockname()[1]

    def stop(self) -> None:
        """Stop listening and drop every open connection (the maildir stays)."""
        if self._stack is not None:
            self._loop.run(self._stop())
            self._stack = None

    async def _stop(self) -> None:
        self._server.close()
        # Closing each client's transport is what a crashed server looks like to a client;
        # asyncio (before 3.13) would otherwise keep serving connections already accepted.
        for writer in list(self._writers):
            writer.transport.abort()
        self._writers.clear()
        assert self._stack is not None
        await self._stack.aclose()

    # -- delivery ----------------------------------------------------------------------
    def deliver(self, raw: bytes, when: datetime, folder: str = "INBOX") -> Path:
        """Drop `raw` into the mailbox with INTERNALDATE `when`; return the file written."""
        when = ensure_utc(when)
        target = self.maildir if folder == "INBOX" else self.maildir / f".{folder}"
        if folder != "INBOX":
            for sub in ("tmp", "new", "cur"):
                (target / sub).mkdir(parents=True, exist_ok=True)
        with self._lock:
            n = next(self._counter)
        name = f"{int(when.timestamp())}.Q{n}P{os.getpid()}.qualibench-world"
        tmp = target / "tmp" / name
        tmp.write_bytes(raw)
        stamp = when.timestamp()
        os.utime(tmp, (stamp, stamp))
        final = target / "new" / name
        os.rename(tmp, final)  # atomic: pymap never sees a half-written file
        with self._lock:
            self.delivered += 1
        return final
