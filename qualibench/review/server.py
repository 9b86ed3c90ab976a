"""Serving the review workspace under uvicorn, on a socket we bind ourselves (so port 0 works
and the printed address is the real one)."""

from __future__ import annotations

import ipaddress
import socket
import sys

from ..errors import QualibenchError
from ..workspace import Workspace
from .app import LOOPBACK_HOSTS, create_app


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def bind(host: str, port: int) -> socket.socket:
    """Return a listening socket on host:port; a clear error when the port is taken."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host.strip("[]"), port))
    except OSError as exc:
        sock.close()
        raise QualibenchError(f"cannot listen on {host}:{port}: {exc.strerror}",
                              "pass another --port (0 picks a free one)") from None
    sock.listen(128)
    sock.set_inheritable(True)
    return sock


def serve(ws: Workspace, *, host: str = "127.0.0.1", port: int = 8765, blind: bool = True,
          announce=print, dry_run: bool = False) -> None:  # type: ignore[no-untyped-def]
    """Serve until interrupted; `announce` gets the address line. Off loopback a warning comes
    first, before anything listens. `dry_run` says what would be served and listens on nothing."""
    import uvicorn

    loopback = is_loopback(host)
    shown = f"[{host}]" if ":" in host else host
    mode = "blind" if blind else "open"
    if not loopback:
        print(f"Warning: serving on {host}, reachable from other machines over plain HTTP; "
              "everyone must sign in (put it behind HTTPS for anything but a trusted network)",
              file=sys.stderr, flush=True)
    if dry_run:
        announce(f"Would serve the review workspace on http://{shown}:{port}/ ({mode} coding, "
                 f"sign-in required); dry run: nothing is listening")
        sys.stdout.flush()
        return
    app = create_app(ws, blind=blind, allowed_hosts=LOOPBACK_HOSTS if loopback else ["*"])
    sock = bind(host, port)
    real_port = sock.getsockname()[1]
    announce(f"Review workspace on http://{shown}:{real_port}/ ({mode} coding); Ctrl-C stops it")
    sys.stdout.flush()
    config = uvicorn.Config(app, log_level="warning", access_log=False, lifespan="off",
                            server_header=False, date_header=False)
    uvicorn.Server(config).run(sockets=[sock])
