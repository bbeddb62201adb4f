"""Free loopback ports.

Ports come from the kernel (bind to port 0, read it, close), so servers run next to each
other and next to a developer's own etcd.  Only 127.0.0.1 is used.
"""

from __future__ import annotations

import socket
import threading
from collections import deque

LOOPBACK = "127.0.0.1"

_recent_ports: deque[int] = deque(maxlen=512)
_ports_lock = threading.Lock()


def _free_ports(count: int) -> list[int]:
    """``count`` distinct loopback ports that were free a moment ago."""
    with _ports_lock:
        sockets: list[socket.socket] = []
        ports: list[int] = []
        try:
            for _ in range(count + 64):
                if len(ports) == count:
                    break
                sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
                sockets.append(sock)  # keep bound so the kernel hands out distinct ports
                sock.bind((LOOPBACK, 0))
                port = int(sock.getsockname()[1])
                if port not in _recent_ports:
                    ports.append(port)
        finally:
            for sock in sockets:
                sock.close()
        if len(ports) < count:
            raise OSError("could not find enough free loopback ports")
        _recent_ports.extend(ports)
        return ports
