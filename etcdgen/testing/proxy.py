"""The TCP proxy in front of cluster members' peer listeners, for network partitions.

Used by ``EtcdCluster(peer_proxy=True)``: members advertise a port of this proxy and listen
on their own, so :meth:`~etcdgen.testing.EtcdCluster.isolate` can cut a member's peer
traffic in both directions while its client port stays open.  :class:`_PeerProxy` says how
the dialler of each connection is identified.
"""

from __future__ import annotations

import contextlib
import os
import re
import selectors
import socket
import struct
import threading
import time
from collections.abc import Callable, Mapping

from .ports import LOOPBACK

_HEAD_LIMIT = 64 * 1024
_HEAD_TIMEOUT = 10.0
_UPSTREAM_CONNECT_TIMEOUT = 2.0
_STREAM_PATH_RE = re.compile(r"^/raft/stream/[a-z0-9]+/([0-9a-fA-F]+)/?$")


class _Link:
    """One proxied connection: ``down`` was accepted from a dialler, ``up`` goes to etcd."""

    def __init__(self, down: socket.socket, target: str) -> None:
        self.down = down
        self.up: socket.socket | None = None
        self.target = target
        self.sender: str | None = None
        self.identified = False
        self.aborted = False

    def abort(self) -> None:
        """Cut both sides (closed with a reset); the threads serving this link then exit."""
        self.aborted = True
        self.finish()

    def finish(self) -> None:
        """End both sides; the threads serving this link then exit and close them."""
        for sock in (self.down, self.up):
            if sock is not None:
                with contextlib.suppress(OSError):
                    sock.shutdown(socket.SHUT_RDWR)


def _close(sock: socket.socket, reset: bool) -> None:
    if reset:  # RST instead of FIN: the dialler sees an error at once, no TIME_WAIT here
        with contextlib.suppress(OSError):
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    with contextlib.suppress(OSError):
        sock.close()


def _parse_head(data: bytes) -> tuple[str, dict[str, str]]:
    """The path and the (lower-cased) headers of the HTTP request head in ``data``."""
    head = data.split(b"\r\n\r\n", 1)[0].decode("latin-1")
    lines = head.split("\r\n")
    words = lines[0].split(" ")
    path = words[1].split("?", 1)[0] if len(words) >= 2 else ""
    headers: dict[str, str] = {}
    for line in lines[1:]:
        key, sep, value = line.partition(":")
        if sep:
            headers[key.strip().lower()] = value.strip()
    return path, headers


def _dialler_pid(sock: socket.socket, pids: Mapping[str, int]) -> str | None:
    """Which process in ``pids`` holds the other end of the accepted loopback ``sock``.

    Linux only (``/proc``); None elsewhere or when the dialler's socket is already gone.
    """
    try:
        src_port = int(sock.getpeername()[1])
        dst_port = int(sock.getsockname()[1])
        inode = None
        with open("/proc/net/tcp", encoding="ascii") as table:
            next(table, None)
            for line in table:
                fields = line.split()
                if len(fields) < 10:
                    continue
                local, remote = fields[1].rpartition(":")[2], fields[2].rpartition(":")[2]
                if int(local, 16) == src_port and int(remote, 16) == dst_port:
                    inode = fields[9]
                    break
        if inode is None:
            return None
        wanted = f"socket:[{inode}]"
        for name, pid in pids.items():
            fd_dir = f"/proc/{pid}/fd"
            for fd in os.listdir(fd_dir):
                with contextlib.suppress(OSError):
                    if os.readlink(f"{fd_dir}/{fd}") == wanted:
                        return name
    except (OSError, ValueError):
        return None
    return None


class _PeerProxy:
    """TCP forwarders in front of the peer listeners of a cluster's members.

    Each member advertises a peer URL served here (a listener bound by this process, so
    there is no port race) and every connection to it is forwarded to the member's real
    peer port.  :meth:`isolate` partitions a member from all its peers in both directions.

    etcd's rafthttp dials in both directions: a member's stream readers dial the *remote*
    peer's URL to receive its messages (``GET /raft/stream/{message,msgapp}/<own id>``),
    and pipeline and snapshot messages are POSTed by the *sender* to the receiver's URL.
    Blocking only the isolated member's own listener would leave the half where it dials
    out.  So the dialler of every connection is identified from its first request head:
    ``X-PeerURLs`` (the sender's advertised peer URLs, set on every rafthttp request),
    else ``X-Server-From`` (the sender's member ID in hex, learned from earlier requests
    that carried both) or the ID at the end of a stream path.  Requests that carry none of
    these (``/members``, ``/version``, ``/leases``, ``/raft/probing``, ...) are attributed on
    Linux by looking up which member process owns the dialling socket (``/proc``); on
    other systems they pass unless their target is isolated.

    A connection is refused (closed with a reset after its head was read) when its
    target or its dialler is isolated; isolating a member also resets the live
    connections that involve it (and unattributed ones, which then dial again).  One
    selector thread accepts; each connection is served by two daemon threads.
    """

    def __init__(self, pids: Callable[[], Mapping[str, int]]) -> None:
        self._pids = pids
        self._lock = threading.Lock()
        self._listeners: dict[str, tuple[socket.socket, int]] = {}
        self._by_url: dict[str, str] = {}
        self._by_id: dict[str, str] = {}
        self._isolated: set[str] = set()
        self._links: set[_Link] = set()
        self._threads: set[threading.Thread] = set()
        self._closed = False
        self._selector = selectors.DefaultSelector()
        self._pending: list[tuple[bool, str, socket.socket]] = []
        """(register?, name, listener) for the accept loop: it owns the selector."""
        self._wake_r, self._wake_w = socket.socketpair()
        self._wake_r.setblocking(False)
        self._selector.register(self._wake_r, selectors.EVENT_READ, None)
        self._acceptor = threading.Thread(
            target=self._accept_loop, name="etcdgen-peer-proxy", daemon=True
        )
        self._acceptor.start()

    # -- control (called from the test's thread) -----------------------------------------------

    def add(self, name: str, target_port: int, ready: Callable[[], bool] | None = None) -> int:
        """Forward a new loopback port to ``target_port``; returns the new port.

        With ``ready``, the port is bound at once (reserved) but only listens once
        ``ready()`` is true, polled by a daemon thread until then: connections before
        that are refused by the kernel, as they would be by an etcd that is not up yet.
        An etcd that has bound its peer port but is still bootstrapping accepts TCP
        connections without answering; a proxy that forwarded to it would turn etcd's
        quick "refused" at bootstrap (``GET /members`` of each peer) into 1 s timeouts.
        """
        listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        try:
            listener.bind((LOOPBACK, 0))
            listener.setblocking(False)
            port = int(listener.getsockname()[1])
            if ready is None:
                listener.listen(128)
        except OSError:
            listener.close()
            raise
        with self._lock:
            if self._closed:
                listener.close()
                raise RuntimeError("peer proxy is closed")
            if name in self._listeners:
                listener.close()
                raise ValueError(f"{name}: already proxied")
            self._listeners[name] = (listener, target_port)
            self._by_url[f"http://{LOOPBACK}:{port}"] = name
            if ready is None:
                self._pending.append((True, name, listener))
            else:
                waiter = threading.Thread(
                    target=self._listen_when_ready,
                    args=(name, listener, ready),
                    name=f"etcdgen-peer-proxy-ready-{name}",
                    daemon=True,
                )
                self._threads.add(waiter)
                waiter.start()
        self._wake()
        return port

    def remove(self, name: str) -> None:
        """Stop forwarding for ``name`` and cut its connections."""
        with self._lock:
            entry = self._listeners.pop(name, None)
            if entry is None:
                return
            self._by_url = {u: n for u, n in self._by_url.items() if n != name}
            self._by_id = {i: n for i, n in self._by_id.items() if n != name}
            self._isolated.discard(name)
            self._pending.append((False, name, entry[0]))
            doomed = [link for link in self._links if name in (link.target, link.sender)]
        for link in doomed:
            link.abort()
        self._wake()

    def isolate(self, name: str) -> None:
        with self._lock:
            if name not in self._listeners:
                raise ValueError(f"{name}: not proxied")
            self._isolated.add(name)
            doomed = [
                link
                for link in self._links
                if name in (link.target, link.sender) or (link.identified and link.sender is None)
            ]
        for link in doomed:
            link.abort()

    def heal(self, name: str | None = None) -> None:
        with self._lock:
            if name is None:
                self._isolated.clear()
            else:
                self._isolated.discard(name)

    def isolated(self) -> set[str]:
        with self._lock:
            return set(self._isolated)

    def close(self, timeout: float = 5.0) -> None:
        """Stop accepting, cut every connection and wait (bounded) for the threads."""
        with self._lock:
            if self._closed:
                return
            self._closed = True
            links = list(self._links)
        self._wake()
        for link in links:
            link.abort()
        deadline = time.monotonic() + timeout
        self._acceptor.join(max(0.0, deadline - time.monotonic()))
        with self._lock:
            threads = list(self._threads)
        for thread in threads:
            thread.join(max(0.0, deadline - time.monotonic()))

    # -- internals (proxy threads) ---------------------------------------------------------------

    def _wake(self) -> None:
        with contextlib.suppress(OSError):
            self._wake_w.send(b"x")

    def _listen_when_ready(
        self, name: str, listener: socket.socket, ready: Callable[[], bool]
    ) -> None:
        try:
            while True:
                with self._lock:
                    if self._closed or self._listeners.get(name, (None, 0))[0] is not listener:
                        return
                is_ready = False
                with contextlib.suppress(Exception):
                    is_ready = ready()
                if is_ready:
                    break
                time.sleep(0.02)  # poll interval; ready() itself bounds each probe
            with self._lock:
                if self._closed or self._listeners.get(name, (None, 0))[0] is not listener:
                    return
                listener.listen(128)
                self._pending.append((True, name, listener))
            self._wake()
        finally:
            with self._lock:
                self._threads.discard(threading.current_thread())

    def _accept_loop(self) -> None:
        registered: dict[str, socket.socket] = {}
        try:
            while True:
                with self._lock:
                    closed = self._closed
                    pending, self._pending = self._pending, []
                if closed:
                    with self._lock:
                        leftovers = [entry[0] for entry in self._listeners.values()]
                    for listener in leftovers:
                        listener.close()  # ones still waiting to listen
                    return
                for register, name, listener in pending:
                    if register:
                        registered[name] = listener
                        self._selector.register(listener, selectors.EVENT_READ, name)
                    else:
                        if registered.get(name) is listener:
                            del registered[name]
                            self._selector.unregister(listener)
                        listener.close()
                for key, _ in self._selector.select():
                    if key.data is None:
                        with contextlib.suppress(OSError):
                            while self._wake_r.recv(4096):
                                pass
                        continue
                    self._accept(key.data, registered[key.data])
        finally:
            for listener in registered.values():
                listener.close()
            self._selector.close()
            self._wake_r.close()
            self._wake_w.close()

    def _accept(self, name: str, listener: socket.socket) -> None:
        while True:
            try:
                down, _ = listener.accept()
            except (BlockingIOError, InterruptedError):
                return
            except OSError:
                return
            down.setblocking(True)
            link = _Link(down, name)
            with self._lock:
                target = self._listeners.get(name)
                if self._closed or target is None:
                    _close(down, reset=True)
                    continue
                self._links.add(link)
                thread = threading.Thread(
                    target=self._serve,
                    args=(link, target[1]),
                    name=f"etcdgen-peer-proxy-{name}",
                    daemon=True,
                )
                self._threads.add(thread)
                thread.start()  # under the lock, so close() never joins an unstarted thread

    def _identify(self, head: bytes, down: socket.socket) -> str | None:
        path, headers = _parse_head(head)
        sender_id = headers.get("x-server-from", "").lower()
        with self._lock:
            urls = [u.strip() for u in headers.get("x-peerurls", "").split(",")]
            sender = next((self._by_url[u] for u in urls if u in self._by_url), None)
            if sender is not None and sender_id:
                self._by_id[sender_id] = sender
            if sender is None and sender_id:
                sender = self._by_id.get(sender_id)
            if sender is None:
                match = _STREAM_PATH_RE.match(path)
                if match:
                    sender = self._by_id.get(match.group(1).lower())
        if sender is None and os.path.exists("/proc/net/tcp"):
            sender = _dialler_pid(down, self._pids())
        return sender

    def _read_head(self, down: socket.socket) -> bytes | None:
        down.settimeout(_HEAD_TIMEOUT)
        data = b""
        try:
            while b"\r\n\r\n" not in data and len(data) < _HEAD_LIMIT:
                chunk = down.recv(_HEAD_LIMIT)
                if not chunk:
                    return None
                data += chunk
        except OSError:
            return None
        down.settimeout(None)
        return data

    def _serve(self, link: _Link, target_port: int) -> None:
        pump: threading.Thread | None = None
        try:
            head = self._read_head(link.down)
            if head is None:
                return
            sender = self._identify(head, link.down)
            with self._lock:
                link.sender, link.identified = sender, True
                isolated = self._isolated
                if self._closed or link.target in isolated or sender in isolated:
                    link.aborted = True
                    return
            try:
                up = socket.create_connection(
                    (LOOPBACK, target_port), timeout=_UPSTREAM_CONNECT_TIMEOUT
                )
            except OSError:  # the member is down: the dialler sees a reset, as without us
                link.aborted = True
                return
            up.settimeout(None)
            with self._lock:
                if link.aborted:
                    _close(up, reset=True)
                    return
                link.up = up
            try:
                up.sendall(head)
            except OSError:
                link.abort()
                return
            pump = threading.Thread(
                target=self._pump, args=(link, up, link.down), name="etcdgen-peer-pump", daemon=True
            )
            pump.start()
            self._pump(link, link.down, up)
        finally:
            if pump is not None:
                pump.join()
            for sock in (link.down, link.up):
                if sock is not None:
                    _close(sock, reset=link.aborted)
            with self._lock:
                self._links.discard(link)
                self._threads.discard(threading.current_thread())

    @staticmethod
    def _pump(link: _Link, src: socket.socket, dst: socket.socket) -> None:
        try:
            while True:
                data = src.recv(65536)
                if not data:
                    break
                dst.sendall(data)
        except OSError:
            link.abort()
            return
        # One end closed: end both, as when a process exits (etcd's peers never half-close
        # on purpose).  A half-close would let the survivor keep writing into the proxy
        # and notice a dead peer only a few heartbeats later.
        link.finish()
