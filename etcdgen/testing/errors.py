"""The harness's exceptions: no binary, a failed start, an error answer from etcd."""

from __future__ import annotations

from .process import LOG_TAIL_LINES

_BIND_ERROR = "address already in use"


class EtcdNotFoundError(RuntimeError):
    """No etcd binary of the requested version is installed."""


class EtcdStartError(RuntimeError):
    """An etcd server did not become healthy; the message ends with its last log lines."""

    def __init__(self, message: str, *, log_tail: str = "", returncode: int | None = None):
        full = (
            f"{message}\n--- last {LOG_TAIL_LINES} log lines ---\n{log_tail}"
            if log_tail
            else message
        )
        super().__init__(full)
        self.log_tail = log_tail
        self.returncode = returncode

    @property
    def address_in_use(self) -> bool:
        """Whether etcd failed because one of its ports was taken."""
        return _BIND_ERROR in self.log_tail


class EtcdRequestError(RuntimeError):
    """etcd answered a gRPC-gateway request (``POST /v3/...``) with an error.

    ``message`` is etcd's error text (e.g. ``"etcdserver: unhealthy cluster"``), ``code``
    the gRPC status code number and ``status`` the HTTP status.
    """

    def __init__(self, path: str, status: int, code: int | None, message: str):
        super().__init__(f"POST {path}: HTTP {status}, gRPC code {code}: {message}")
        self.path = path
        self.status = status
        self.code = code
        self.message = message
