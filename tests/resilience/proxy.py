"""A loopback TCP proxy that can cut the connection after a number of bytes, like a dropped link."""

from __future__ import annotations

import contextlib
import socket
import threading


class CuttingProxy:
    """Forwards 127.0.0.1:<port> to a target; aborts every connection once `cut_after` bytes
    went from server to client (None: never)."""

    def __init__(self, target_port: int, cut_after: int | None = None) -> None:
        self.target_port = target_port
        self.cut_after = cut_after
        self.cuts = 0
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.port = self._listener.getsockname()[1]
        self._closing = False
        self._threads: list[threading.Thread] = []
        t = threading.Thread(target=self._accept, daemon=True)
        t.start()
        self._threads.append(t)

    def _accept(self) -> None:
        while not self._closing:
            try:
                client, _ = self._listener.accept()
            except OSError:
                return
            server = socket.create_connection(("127.0.0.1", self.target_port))
            for sock in (client, server):
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            counter = [0]
            up = threading.Thread(target=self._pipe, args=(client, server, None), daemon=True)
            down = threading.Thread(target=self._pipe, args=(server, client, counter), daemon=True)
            up.start()
            down.start()
            self._threads += [up, down]

    def _pipe(self, src: socket.socket, dst: socket.socket, counter: list[int] | None) -> None:
        try:
            while True:
                data = src.recv(4096)
                if not data:
                    break
                if counter is not None and self.cut_after is not None:
                    room = self.cut_after - counter[0]
                    if room <= len(data):
                        dst.sendall(data[:max(room, 0)])
                        self.cuts += 1
                        break
                    counter[0] += len(data)
                dst.sendall(data)
        except OSError:
            pass
        finally:
            for s in (src, dst):
                with contextlib.suppress(OSError):
                    s.shutdown(socket.SHUT_RDWR)
                s.close()

    def close(self) -> None:
        self._closing = True
        self._listener.close()
