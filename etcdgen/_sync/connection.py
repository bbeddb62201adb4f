"""The sync client's connection layer: its parts, wired, and their lifecycle.

Owns the balancer (endpoint health), the channel pool, the token source, the
prober thread and the generated clients over one `GrpcInvoker`. Nothing
starts until the first call (a client closed before it is silent), and
`close()` only signals and closes channels, so it returns at once.

Lifecycle rules (see README "Processes, threads and event loops"):
- garbage collection without `close()`: the client's finalizer closes this
  connection and emits a `ResourceWarning`, as files and sockets do;
- `os.fork()`: the child drops the inherited channels without touching them
  (they belong to the parent's gRPC) and the prober thread that did not
  survive the fork; the next call in the child makes new channels.
"""

from __future__ import annotations

import os
import threading

import grpc

from .._cluster import endpoints_from_members, status_probe
from .._core import fork
from .._core.balancer import Balancer, EndpointHealth
from .._core.config import ClientConfig
from .._core.endpoints import Endpoint
from .._core.errors import ClientClosedError, ForkedProcessError
from .._core.events import Events
from .._core.flow import Decisions
from .._core.health import Prober
from .._core.invoker import GrpcInvoker
from .._core.namespace import Namespace, NamespacedInvoker
from .._core.pool import ChannelPool
from .._core.secret import sealed_authenticate, sealed_spec
from .._core.timeout import DEFAULT, Timeout
from .._core.tokens import TokenSource
from .._tokens import is_token_error
from ..generated import methods
from ..generated.errors import AuthNotEnabledError, RequestTooLargeError, error_from_rpc
from ..generated.sync import RpcClients
from .lease import LeaseKeeper
from .watch import WatchHub

AUTHENTICATE = sealed_spec(methods.AUTH_AUTHENTICATE)


class Connection:
    def __init__(self, config: ClientConfig) -> None:
        self.config = config
        self.closed = False
        #: The Gate flag: started and not closed (checked on every call).
        self.active = False
        self._lock = threading.Lock()
        self._pid = os.getpid()
        self.events = Events(config.event_hook)
        self.balancer = Balancer(config.endpoints, self.events)
        self.pool: ChannelPool[grpc.Channel] = ChannelPool(self._make_channel, _close)
        #: One shared Watch stream per namespace (b"": the client's own keys).
        self._watch_hubs: dict[bytes, WatchHub] = {}
        self._lease_keeper: LeaseKeeper | None = None
        self.tokens = TokenSource(self._authenticate if config.username is not None else None)
        settings = config.call_settings
        # Without credentials a refresh can do nothing: token errors are just errors.
        token_check = is_token_error if config.username is not None else None
        common = {"oversize_error": RequestTooLargeError, "require_leader": config.require_leader}
        # Authenticate itself carries no token: it has an invoker of its own.
        login = GrpcInvoker(
            self,
            self.pool,
            Decisions(self.balancer, settings, error_from_rpc, None),
            TokenSource(None),
            self.events,
            **common,  # type: ignore[arg-type]
        )
        self._login_invoker = login
        self.invoker = GrpcInvoker(
            self,
            self.pool,
            Decisions(self.balancer, settings, error_from_rpc, token_check),
            self.tokens,
            self.events,
            **common,  # type: ignore[arg-type]
        )
        self.rpc = RpcClients(self.invoker)
        self.prober = Prober(
            self.pool,
            self.balancer,
            self.events,
            status_probe(
                config.health_check_interval,
                config.health_check_timeout,
                config.reject_old_cluster,
            ),
            sync_endpoints=self.sync_endpoints if config.auto_sync_interval else None,
            sync_interval=config.auto_sync_interval,
        )
        fork.track(self)

    def _make_channel(self, endpoint: Endpoint) -> grpc.Channel:
        options = self.config.channel_options
        if self.config.tls is not None or endpoint.tls:
            tls = self.config.tls
            credentials = tls.credentials() if tls is not None else grpc.ssl_channel_credentials()
            return grpc.secure_channel(endpoint.target, credentials, options=options)
        return grpc.insecure_channel(endpoint.target, options=options)

    # -- the Gate ---------------------------------------------------------------------------

    def activate(self) -> None:
        """Start the prober on first use; refuse calls once closed."""
        with self._lock:
            if self.closed:
                raise ClientClosedError("the client is closed; create a new one")
            if os.getpid() != self._pid:
                self._after_fork_in_child()
            self.prober.start()
            self.active = True

    def _after_fork_in_child(self) -> None:
        """Runs in a forked child (fork.track): make the next call start afresh.

        The parent's channels are kept referenced but never used, closed or
        freed (fork.abandon: freeing one closes it, which could hang in the
        child); the prober thread did not survive the fork; locks a vanished
        thread may hold are replaced. The next call makes new channels.
        """
        parent_pid, self._pid = self._pid, os.getpid()
        self.active = False
        self._lock = threading.Lock()
        fork.abandon(*self.pool.abandon())
        self.prober.forget_thread()
        self.tokens.after_fork()
        # The reader thread did not follow: inherited watches end with ForkedProcessError
        # (rather than wait for ever); new watches get a new hub.
        ended = ForkedProcessError(
            fork.WATCH_INHERITED_MESSAGE.format(parent_pid=parent_pid, pid=self._pid)
        )
        for hub in self._watch_hubs.values():
            hub.inherited_by_fork(ended)
        self._watch_hubs = {}
        self._lease_keeper = None

    def watches(self, namespace: Namespace | None = None) -> WatchHub:
        """The shared Watch stream of the client (or of one of its namespaces)."""
        key = namespace.prefix if namespace is not None else b""
        with self._lock:
            if self.closed:
                raise ClientClosedError("the client is closed; create a new one")
            hub = self._watch_hubs.get(key)
            if hub is None:
                invoker = (
                    self.invoker
                    if namespace is None
                    else NamespacedInvoker(self.invoker, namespace)
                )
                hub = self._watch_hubs[key] = WatchHub(self, invoker)
            return hub

    def leases(self) -> LeaseKeeper:
        """The client's shared LeaseKeepAlive stream, made on first use."""
        with self._lock:
            if self.closed:
                raise ClientClosedError("the client is closed; create a new one")
            if self._lease_keeper is None:
                self._lease_keeper = LeaseKeeper(self)
            return self._lease_keeper

    # -- auth -------------------------------------------------------------------------------

    def _authenticate(self) -> str | None:
        """One Authenticate call (TokenSource makes it single flight); None: auth is off."""
        name, password = self.config.username, self.config.password
        assert name is not None and password is not None
        try:
            reply = self._login_invoker.unary_unary(
                AUTHENTICATE, sealed_authenticate(name, password), DEFAULT
            )
        except AuthNotEnabledError:
            self.events.emit("authenticate", "", "auth is disabled on the server: no token")
            return None
        self.events.emit("authenticate", "", name)
        return str(reply.token)

    def open(self) -> None:
        """Start now and fetch the auth token up front (bad credentials raise here)."""
        self.activate()
        self.tokens.ensure()

    # -- endpoints --------------------------------------------------------------------------

    @property
    def endpoints(self) -> tuple[str, ...]:
        return tuple(e.text for e in self.balancer.endpoints)

    def endpoint_health(self) -> dict[str, EndpointHealth]:
        return {s.endpoint.text: s.report() for s in self.balancer.states}

    def sync_endpoints(self, timeout: Timeout = DEFAULT) -> tuple[str, ...]:
        """Replace the endpoint list by the members' client URLs (MemberList)."""
        reply = self.rpc.cluster.member_list(timeout=timeout)
        tls = self.config.tls is not None
        found, learners = endpoints_from_members(reply.members, tls)
        if found:
            self._adopt(found, learners)
        return self.endpoints

    def _adopt(self, found: list[Endpoint], learners: set[str]) -> None:
        before = self.endpoints
        dropped = self.balancer.replace(found)
        self.balancer.mark_learners(learners)
        for state in dropped:
            self.pool.drop(state)
        if self.endpoints != before:
            self.events.emit("endpoints", "", ", ".join(self.endpoints))

    def close_abandoned(self) -> None:
        """Garbage-collected without close()."""
        self.close()

    # -- closing ----------------------------------------------------------------------------

    def close(self) -> None:
        with self._lock:
            if self.closed:
                return
            self.closed = True
            self.active = False
            hubs, self._watch_hubs = list(self._watch_hubs.values()), {}
            keeper, self._lease_keeper = self._lease_keeper, None
        if os.getpid() == self._pid:
            # Background streams end before their channels go.
            for hub in hubs:
                hub.stop()
            if keeper is not None:
                keeper.stop()
        self.prober.stop()
        if os.getpid() == self._pid:
            self.pool.close()
        else:
            self.pool.abandon()


def _close(channel: grpc.Channel) -> None:
    channel.close()
