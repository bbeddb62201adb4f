"""A loopback TCP proxy for tests that cut a client's connections on demand.

`cut()` closes every connection passing through (both sides see a reset);
`block()` also refuses new ones until `unblock()`. One thread moves the bytes
with `select`, so everything ends by itself when `close()` is called.
"""

from __future__ import annotations

import contextlib
import selectors
import socket
import struct
import threading


class Cutter:
    def __init__(self, target_port: int) -> None:
        self._target = ("127.0.0.1", target_port)
        self._listener = socket.create_server(("127.0.0.1", 0))
        self._listener.setblocking(False)
        self.port: int = self._listener.getsockname()[1]
        self._selector = selectors.DefaultSelector()
        self._selector.register(self._listener, selectors.EVENT_READ, None)
        self._pairs: dict[socket.socket, socket.socket] = {}
        self._lock = threading.Lock()
        self._cut = False
        self._blocked = False
        self._stop = False
        #: Connections accepted so far (each stream re-open makes one).
        self.accepted = 0
        self._thread = threading.Thread(target=self._run, name="cutter", daemon=True)
        self._thread.start()

    @property
    def endpoint(self) -> str:
        return f"127.0.0.1:{self.port}"

    def cut(self) -> None:
        with self._lock:
            self._cut = True

    def block(self) -> None:
        with self._lock:
            self._blocked = True
            self._cut = True

    def unblock(self) -> None:
        with self._lock:
            self._blocked = False

    def close(self) -> None:
        self._stop = True
        self._thread.join(timeout=5)
        for sock in list(self._pairs):
            sock.close()
        self._listener.close()
        self._selector.close()

    def _run(self) -> None:
        while not self._stop:
            with self._lock:
                cut, self._cut = self._cut, False
                blocked = self._blocked
            if cut:
                for sock in list(self._pairs):
                    self._drop(sock)
            for key, _ in self._selector.select(timeout=0.05):
                sock = key.fileobj
                assert isinstance(sock, socket.socket)
                if sock is self._listener:
                    self._accept(blocked)
                elif sock in self._pairs:
                    self._forward(sock)

    def _accept(self, blocked: bool) -> None:
        try:
            client, _ = self._listener.accept()
        except BlockingIOError:
            return
        if blocked:
            client.close()
            return
        try:
            upstream = socket.create_connection(self._target, timeout=2)
        except OSError:
            client.close()
            return
        self.accepted += 1
        for sock in (client, upstream):
            sock.setblocking(False)
            self._selector.register(sock, selectors.EVENT_READ, None)
        self._pairs[client], self._pairs[upstream] = upstream, client

    def _forward(self, sock: socket.socket) -> None:
        try:
            data = sock.recv(65536)
        except (BlockingIOError, InterruptedError):
            return
        except OSError:
            data = b""
        if not data:
            self._drop(sock)
            return
        other = self._pairs.get(sock)
        if other is None:
            return
        try:
            other.setblocking(True)
            other.sendall(data)
            other.setblocking(False)
        except OSError:
            self._drop(sock)

    def _drop(self, sock: socket.socket) -> None:
        other = self._pairs.pop(sock, None)
        for each in (sock, other):
            if each is None:
                continue
            self._pairs.pop(each, None)
            with contextlib.suppress(KeyError, ValueError):
                self._selector.unregister(each)
            with contextlib.suppress(OSError):  # linger 0: close with a reset, as a cut does
                each.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            each.close()
