"""The asyncio client's connection layer: the same parts as the sync one.

Differences that matter (see `etcdgen/_sync/connection.py` for the rest):
- grpc.aio channels belong to the event loop they were made in, so nothing
  is made before the first use: an `AsyncClient` may be created at module
  level, outside any loop. It binds to the loop of its first call (or of
  `async with`). Used from another loop while that one still runs, it raises
  `WrongEventLoopError`; once its loop has closed (a second `asyncio.run`),
  it drops the dead loop's channels and binds to the new loop.
- The prober is a task on that loop; closing a channel is a coroutine, so
  closes the pool starts from plain functions are tracked as tasks and
  awaited by `close()`.
"""

from __future__ import annotations

import asyncio
import logging
import os

import grpc
from grpc import aio

from .._cluster import endpoints_from_members, status_probe
from .._core import fork
from .._core.aio_health import AsyncProber
from .._core.aio_invoker import AsyncGrpcInvoker
from .._core.aio_loop_end import LoopEndGrace
from .._core.aio_threaded import ThreadedAioChannel, close_aio_channel_now
from .._core.balancer import Balancer, EndpointHealth
from .._core.config import ClientConfig
from .._core.endpoints import Endpoint
from .._core.errors import ClientClosedError, ForkedProcessError, WrongEventLoopError
from .._core.events import Events
from .._core.flow import Decisions
from .._core.namespace import Namespace, NamespacedInvoker
from .._core.pool import ChannelPool
from .._core.secret import sealed_authenticate, sealed_spec
from .._core.timeout import DEFAULT, Timeout
from .._core.tokens import AsyncTokenSource
from .._tokens import is_token_error
from ..generated import methods
from ..generated.aio import AsyncRpcClients
from ..generated.errors import AuthNotEnabledError, RequestTooLargeError, error_from_rpc
from .lease import AsyncLeaseKeeper
from .watch import AsyncWatchHub

_LOG = logging.getLogger("etcdgen")
AUTHENTICATE = sealed_spec(methods.AUTH_AUTHENTICATE)


class AsyncConnection:
    def __init__(self, config: ClientConfig) -> None:
        self.config = config
        self.closed = False
        #: The gate: the loop this client is bound to while started.
        self.loop: asyncio.AbstractEventLoop | None = None
        self._bound: asyncio.AbstractEventLoop | None = None
        self._pid = self._parent_pid = os.getpid()
        self._closing: set[asyncio.Task[None]] = set()
        self.events = Events(config.event_hook)
        #: Lets the bound loop's shutdown wait for background calls it cut short.
        self.loop_end = LoopEndGrace()
        self.balancer = Balancer(config.endpoints, self.events)
        self.pool: ChannelPool[aio.Channel] = ChannelPool(self._make_channel, self._close_channel)
        #: One shared Watch stream per namespace (b"": the client's own keys).
        self._watch_hubs: dict[bytes, AsyncWatchHub] = {}
        self._lease_keeper: AsyncLeaseKeeper | None = None
        self.tokens = AsyncTokenSource(self._authenticate if config.username is not None else None)
        settings = config.call_settings
        # Without credentials a refresh can do nothing: token errors are just errors.
        token_check = is_token_error if config.username is not None else None
        common = {"oversize_error": RequestTooLargeError, "require_leader": config.require_leader}
        login = AsyncGrpcInvoker(
            self,
            self.pool,
            Decisions(self.balancer, settings, error_from_rpc, None),
            AsyncTokenSource(None),
            self.events,
            **common,  # type: ignore[arg-type]
        )
        self._login_invoker = login
        self.invoker = AsyncGrpcInvoker(
            self,
            self.pool,
            Decisions(self.balancer, settings, error_from_rpc, token_check),
            self.tokens,
            self.events,
            **common,  # type: ignore[arg-type]
        )
        self.rpc = AsyncRpcClients(self.invoker)
        self.prober = AsyncProber(
            self.pool,
            self.balancer,
            self.events,
            status_probe(
                config.health_check_interval,
                config.health_check_timeout,
                config.reject_old_cluster,
            ),
            sync_endpoints=self._sync_for_prober if config.auto_sync_interval else None,
            sync_interval=config.auto_sync_interval,
            loop_end=self.loop_end,
        )
        fork.track(self)

    def _make_channel(self, endpoint: Endpoint) -> aio.Channel:
        options = self.config.channel_options
        credentials = None
        if self.config.tls is not None or endpoint.tls:
            tls = self.config.tls
            credentials = tls.credentials() if tls is not None else grpc.ssl_channel_credentials()
        if not fork.aio_usable():
            # A child forked while grpc.aio was in use: aio cannot start here, sync
            # gRPC can (see aio_threaded.py).
            if credentials is not None:
                sync = grpc.secure_channel(endpoint.target, credentials, options=options)
            else:
                sync = grpc.insecure_channel(endpoint.target, options=options)
            return ThreadedAioChannel(sync)  # type: ignore[return-value]  # aio's surface
        fork.note_aio_used()
        if credentials is not None:
            return aio.secure_channel(endpoint.target, credentials, options=options)
        return aio.insecure_channel(endpoint.target, options=options)

    def _close_channel(self, channel: aio.Channel) -> None:
        loop = self._bound
        if loop is None or loop.is_closed():
            return  # its loop is gone: nothing left to close it with
        try:
            running = asyncio.get_running_loop()
        except RuntimeError:
            running = None
        if running is loop:
            task = loop.create_task(channel.close())
            self._closing.add(task)
            task.add_done_callback(self._closing.discard)
        else:  # from a finalizer or another thread
            loop.call_soon_threadsafe(lambda: self._close_channel(channel))

    # -- the gate ---------------------------------------------------------------------------

    def activate(self) -> None:
        if self.closed:
            raise ClientClosedError("the client is closed; create a new one")
        if os.getpid() != self._pid:
            self._after_fork_in_child()
        loop = asyncio.get_running_loop()
        if self._bound is not None and self._bound is not loop:
            if not self._bound.is_closed():
                raise WrongEventLoopError(
                    "this AsyncClient is bound to the event loop it was first used in, which "
                    "is still running; create one AsyncClient per event loop (or per thread)"
                )
            # The old loop ended (e.g. a second asyncio.run): its channels died with it.
            self.pool.abandon()
            self.tokens.forget()
            self.prober.forget_task()
            self._watch_hubs = {}  # its task died with the loop; its watches are over
            self._lease_keeper = None
        if self._bound is not loop:
            self.loop_end.arm(loop)
        self._bound = loop
        self.prober.start(loop)
        self.loop = loop

    def _before_fork(self) -> None:
        """Runs in the parent just before os.fork() (fork.track): close the stream lane.

        gRPC's own fork handler crashes the child now and then while a grpc.aio stream
        is open in the parent (an idle open watch: 2 to 6 children of 10 died of
        SIGSEGV; unary calls in flight at the fork: 0 of 600). So the SAFE lane's
        channels, which carry the streams and the reads, are closed here,
        synchronously, as if each member had been evicted: reads in flight are re-sent
        and watches and lease keep-alives re-open on new channels when the loop runs
        again. Writes (the other lane) are left alone, so a fork never makes one's
        outcome unknown. See etcdgen/_core/fork.py for the measurements.
        """
        if self.closed or os.getpid() != self._pid or not self.pool.has_channels():
            return
        if not fork.aio_usable():
            return  # its channels are ThreadedAioChannels: as fork-safe as a Client's
        _LOG.warning(
            "etcdgen: os.fork() while an AsyncClient has open channels: grpc.aio cannot "
            "follow a fork, so its streams are closed now (they resume, and reads in "
            "flight are re-sent) and AsyncClients in the child run over sync gRPC. Await "
            "client.close() before forking, or create clients in the child (gunicorn's "
            "post_fork), or use the 'spawn' start method"
        )
        for state in self.balancer.states:
            self.balancer.evicted(state)  # the cancellations that follow are ours
        for channel in self.pool.take_safe():
            close_aio_channel_now(channel)

    def _after_fork_in_child(self) -> None:
        """Runs in a forked child (fork.track): make the next use start afresh.

        grpc.aio does not survive a fork: its completion queue and poller are
        process-wide, so with channels of the parent alive, new aio channels time out
        or crash. So the parent's channels are abandoned (kept, never closed: see
        fork.abandon) and grpc.aio is marked unusable in this process: the client's
        next channels are ThreadedAioChannels (sync gRPC, which the fork support
        resets), and it goes on like a sync Client does. Its watches and lease
        keep-alives ran on the parent's loop: watches end with ForkedProcessError.
        """
        self._parent_pid, self._pid = self._pid, os.getpid()
        self.loop = self._bound = None
        inherited = self.pool.abandon()
        if inherited:
            fork.abandon(*inherited)
            fork.mark_aio_unusable()
        self.prober.forget_task()
        self.tokens.forget()
        ended = ForkedProcessError(
            fork.WATCH_INHERITED_MESSAGE.format(parent_pid=self._parent_pid, pid=self._pid)
        )
        for hub in self._watch_hubs.values():
            hub.inherited_by_fork(ended)
        self._watch_hubs = {}
        self._lease_keeper = None

    def watches(self, namespace: Namespace | None = None) -> AsyncWatchHub:
        """The shared Watch stream of the client (or of one of its namespaces)."""
        if self.closed:
            raise ClientClosedError("the client is closed; create a new one")
        key = namespace.prefix if namespace is not None else b""
        hub = self._watch_hubs.get(key)
        if hub is None:
            invoker = (
                self.invoker if namespace is None else NamespacedInvoker(self.invoker, namespace)
            )
            hub = self._watch_hubs[key] = AsyncWatchHub(self, invoker)
        return hub

    def leases(self) -> AsyncLeaseKeeper:
        """The client's shared LeaseKeepAlive stream, made on first use."""
        if self.closed:
            raise ClientClosedError("the client is closed; create a new one")
        if self._lease_keeper is None:
            self._lease_keeper = AsyncLeaseKeeper(self)
        return self._lease_keeper

    # -- auth -------------------------------------------------------------------------------

    async def _authenticate(self) -> str | None:
        """One Authenticate call (AsyncTokenSource makes it single flight); None: auth is off."""
        name, password = self.config.username, self.config.password
        assert name is not None and password is not None
        try:
            reply = await self._login_invoker.unary_unary(
                AUTHENTICATE, sealed_authenticate(name, password), DEFAULT
            )
        except AuthNotEnabledError:
            self.events.emit("authenticate", "", "auth is disabled on the server: no token")
            return None
        self.events.emit("authenticate", "", name)
        return str(reply.token)

    async def open(self) -> None:
        """Bind to the running loop and fetch the auth token up front."""
        self.activate()
        await self.tokens.ensure()

    # -- endpoints --------------------------------------------------------------------------

    @property
    def endpoints(self) -> tuple[str, ...]:
        return tuple(e.text for e in self.balancer.endpoints)

    def endpoint_health(self) -> dict[str, EndpointHealth]:
        return {s.endpoint.text: s.report() for s in self.balancer.states}

    async def sync_endpoints(self, timeout: Timeout = DEFAULT) -> tuple[str, ...]:
        reply = await self.rpc.cluster.member_list(timeout=timeout)
        tls = self.config.tls is not None
        found, learners = endpoints_from_members(reply.members, tls)
        if found:
            self._adopt(found, learners)
        return self.endpoints

    async def _sync_for_prober(self) -> object:
        return await self.sync_endpoints()

    def _adopt(self, found: list[Endpoint], learners: set[str]) -> None:
        before = self.endpoints
        dropped = self.balancer.replace(found)
        self.balancer.mark_learners(learners)
        for state in dropped:
            self.pool.drop(state)
        if self.endpoints != before:
            self.events.emit("endpoints", "", ", ".join(self.endpoints))

    # -- closing ----------------------------------------------------------------------------

    async def close(self) -> None:
        if self.closed:
            return
        self.closed = True
        hubs, self._watch_hubs = list(self._watch_hubs.values()), {}
        keeper, self._lease_keeper = self._lease_keeper, None
        if os.getpid() == self._pid:
            # Background streams end before their channels go.
            for hub in hubs:
                await hub.stop()
            if keeper is not None:
                await keeper.stop()
        self.loop = None
        prober = self.prober.stop()
        if os.getpid() != self._pid:
            self.pool.abandon()
            return
        self.pool.close()
        waits = list(self._closing)
        if prober is not None and prober.get_loop() is asyncio.get_running_loop():
            waits.append(prober)
        if waits:
            await asyncio.gather(*waits, return_exceptions=True)
        if hubs or keeper is not None:
            self.loop_end.cut_short()  # their streams were just cancelled
        # The grace now, on the running loop, rather than at its end (aio_loop_end.py):
        # a closed client leaves nothing behind for the loop's shutdown.
        await self.loop_end.settle()

    def close_abandoned(self) -> None:
        """Garbage-collected without close(): close without awaiting (best effort)."""
        if self.closed:
            return
        self.closed = True
        self.loop = None
        loop = self._bound
        if loop is not None and not loop.is_closed() and os.getpid() == self._pid:
            loop.call_soon_threadsafe(lambda: self.prober.stop() and None)
            self.pool.close()
        else:
            self.pool.abandon()
