"""Fork safety: what etcdgen does so that ``os.fork()`` without ``exec`` works.

Preforking servers (gunicorn, uWSGI) and ``multiprocessing``'s ``fork`` start method copy a
process that may hold gRPC channels, their sockets, and the state of threads that do not
exist in the child.  Measured with raw grpcio against a real etcd, 20 forks per case, on
grpcio 1.85.3 and on the 1.49.1 floor:

* Without gRPC's fork support, a channel with a connectivity subscription or an open
  stream (gRPC threads polling in the parent) wrecks the child: closing or freeing the
  inherited channel hung in 14-20 of 20 children and 5 of 20 segfaulted even when the
  child never touched it; on 1.49 new channels hung too, and a new channel in the child
  made the *parent* segfault (both share one epoll set in the kernel).  On 1.49 a new
  channel also reuses the inherited connection through gRPC's global subchannel pool.
* With ``GRPC_ENABLE_FORK_SUPPORT=1`` gRPC pauses its own threads before the fork and resets
  its state in the child: every sync case worked in every child on both versions (new
  channels; closing, dropping or keeping inherited ones; subscriptions; open watch
  streams).  Inherited channels are closed in the child on 1.49 (calls raise ``ValueError:
  Cannot invoke RPC on closed channel!``) and kept on 1.85 (where a call on them sometimes
  fails once with ``UNAVAILABLE``).  ``fork()`` gets slower while gRPC threads run: about
  0.2 s with a subscription, 1 s with an open stream (gRPC waits for them to pause).
* That support does not cover the application's own threads: when another thread was in
  the middle of a call at the fork, gRPC's child handler deadlocked on a lock that thread
  held (20 of 20 children with a thread calling in a loop).  :func:`guard` closes that gap
  for etcdgen's calls: the fork waits (bounded) until guarded calls are done.
* gRPC reads the variable once, when ``grpc`` is first imported; set later it has no
  effect.  ``GRPC_POLL_STRATEGY`` made no difference (default, ``poll`` and ``epoll1``
  behaved the same), so it is left alone.
* grpc.aio does not survive a fork: its completion queue and poller thread are
  process-wide, so while any ``grpc.aio`` channel object of the parent is alive, new aio
  channels in the child time out or crash and freeing the inherited one hangs (its
  shutdown waits for the poller thread, which stayed in the parent).  A child of a
  parent whose aio channels were all closed *and* freed starts clean.  So
  :func:`_before_fork` checks whether such an object is still alive, and if so the
  child's AsyncClients (an inherited one included) run over sync gRPC channels
  (``aio_threaded.py``), which gRPC's fork support resets.
* The poller thread is always inside gRPC, so gRPC skips its pre-fork step ("Other
  threads are currently calling into gRPC, skipping fork() handlers"), and its child
  handler then crashes some children (SIGSEGV before ``os.fork()`` returns there, where
  no Python code can help) while a grpc.aio *stream* is open in the parent: 2 to 6 of
  10 children with one idle watch open.  Open channels alone, or unary calls in flight,
  did not (0 of 3,800 children).  So an AsyncClient closes its stream-carrying channels
  synchronously just before the fork (``AsyncConnection._before_fork``): its watches
  and keep-alives resume on new channels in the parent, reads in flight are re-sent,
  writes are untouched.  Measured on grpcio 1.85.3 with 4 tasks reading, one writing
  and a watch open, forking from inside the loop: 0 of 600 children crashed or hung,
  the parent's watch saw every revision in order, and no call failed.  Forking from
  inside a running event loop is otherwise not supported by asyncio itself.

So this module offers:

* :func:`prepare_environment`: turn gRPC's fork support on, before ``grpc`` is imported;
* :func:`track`: call ``owner._after_fork_in_child()`` in each child (a hook registered at
  import), :func:`fork_generation` / :func:`current_pid` to detect inheritance cheaply;
* :func:`abandon`: keep inherited gRPC objects alive, so no destructor ever closes them;
* :func:`guard` (or :func:`enter_call` / :func:`leave_call` on the hot path): hold a fork
  back while a blocking unary call is in flight;
* :func:`mark_aio_unusable` / :func:`aio_usable`: remember that grpc.aio was inherited
  (new AsyncClients then use sync channels);
* :func:`grpc_fork_support_enabled`: whether gRPC's own fork handlers are on.

The child hook runs in the only thread the child has, before gRPC's child handler (gRPC
registers its handlers at its first channel, after this module's import).  So
``_after_fork_in_child`` must neither call gRPC nor block: it drops references (through
:func:`abandon`), replaces locks that a vanished thread may have held, and marks what to
rebuild on the next call.
"""

from __future__ import annotations

import gc
import logging
import os
import sys
import threading
import time
import weakref
from typing import Final, Protocol

__all__ = [
    "DRAIN_TIMEOUT",
    "FORK_SUPPORT_VARIABLE",
    "WATCH_INHERITED_MESSAGE",
    "abandon",
    "aio_usable",
    "current_pid",
    "enter_call",
    "fork_generation",
    "grpc_fork_support_enabled",
    "guard",
    "leave_call",
    "mark_aio_unusable",
    "note_aio_used",
    "prepare_environment",
    "track",
    "tracked_count",
]

FORK_SUPPORT_VARIABLE: Final = "GRPC_ENABLE_FORK_SUPPORT"
"""gRPC's switch for its fork handlers, read once when ``grpc`` is first imported."""

WATCH_INHERITED_MESSAGE: Final = (
    "this watch was opened in process {parent_pid} and cannot go on in process {pid}, a "
    "child made by os.fork() (its reader stayed in the parent); open a new watch in the child"
)
"""Text of the error that ends an inherited watch in the child (``str.format`` it)."""

DRAIN_TIMEOUT: Final = 2.0
"""Seconds a fork waits for guarded calls to finish before it goes ahead anyway."""

_LOG = logging.getLogger("etcdgen")
_TRUE: Final = frozenset({"1", "true", "yes"})  # what grpcio accepts, in any of its cases


class _ForkAware(Protocol):
    def _after_fork_in_child(self) -> None: ...


_owners: weakref.WeakSet[_ForkAware] = weakref.WeakSet()
_owners_lock = threading.Lock()
_generation = 0
_pid = os.getpid()
_graveyard: list[object] = []
_aio_usable = True
_aio_used = False
_aio_alive = False  # at the last fork: see _before_fork


# --- environment ------------------------------------------------------------------------------


def prepare_environment() -> None:
    """Turn on gRPC's fork support (``GRPC_ENABLE_FORK_SUPPORT=1``) unless it was set.

    Uses ``os.environ.setdefault``, so a value the user exported (``0`` included) wins.  It
    must run before ``grpc`` is imported for the first time: grpcio reads the variable once,
    when its extension module loads.  If ``grpc`` was already imported (the application or
    another gRPC library imported it before etcdgen), setting it changes nothing in this
    process (measured: the same outcomes as never setting it), gRPC keeps the value it saw
    at its import, and only processes that start a new interpreter see the new value.  With
    the handlers off, etcdgen relies on its own hooks only; :func:`grpc_fork_support_enabled`
    tells which case applies.  ``GRPC_POLL_STRATEGY`` is left alone (it made no difference).
    """
    os.environ.setdefault(FORK_SUPPORT_VARIABLE, "1")


def grpc_fork_support_enabled() -> bool:
    """Whether gRPC's fork handlers are on in this process.

    Once ``grpc`` is imported this asks grpcio (whose answer reflects the variable as it
    was at import); before that, it tells what the environment will make it.
    """
    cygrpc = sys.modules.get("grpc._cython.cygrpc")
    probe = getattr(cygrpc, "is_fork_support_enabled", None)
    if callable(probe):
        return bool(probe())
    return os.environ.get(FORK_SUPPORT_VARIABLE, "0").strip().lower() in _TRUE


# --- owners notified in the child -------------------------------------------------------------


def track(owner: object) -> None:
    """Call ``owner._after_fork_in_child()`` in every child forked while ``owner`` lives.

    ``owner`` is held weakly (it must support weak references); tracking it twice is the
    same as once.  The method runs in the child as ``os.fork()`` returns there, in the only
    thread the child has and before gRPC's own child handler: it must not call gRPC, block,
    or take a lock that another thread of the parent may have held.  An exception from it
    is logged and does not keep the other owners' methods from running.  An optional
    ``owner._before_fork()`` runs in the parent just before each fork (to warn, not to
    change state: the parent goes on as if nothing happened).
    """
    if not callable(getattr(owner, "_after_fork_in_child", None)):
        raise TypeError(f"{type(owner).__name__} has no _after_fork_in_child() method")
    with _owners_lock:
        _owners.add(owner)  # type: ignore[arg-type]  # has the method: checked above


def tracked_count() -> int:
    """How many tracked owners are alive (for tests and diagnostics)."""
    return len(_owners)


def fork_generation() -> int:
    """0 in the process that imported etcdgen, one more per ``os.fork()`` down to this one.

    Save it with a channel; a different value later means the channel was inherited.
    """
    return _generation


def current_pid() -> int:
    """``os.getpid()``, kept by the fork hook (cheap enough to compare on every call)."""
    return _pid


def abandon(*objects: object) -> None:
    """Keep inherited gRPC objects referenced until the process ends; never close them.

    In a forked child, closing or freeing a channel of the parent is what hung or crashed
    without gRPC's fork support (a channel's destructor closes it, so dropping the last
    reference is as bad as ``close()``), so an owner hands its inherited channels, calls
    and streams here instead.  The memory is small; grandchildren inherit the list too.
    ``os._exit`` (multiprocessing's way out) never frees them; a normal interpreter exit
    may, which gRPC's fork support makes safe.
    """
    _graveyard.extend(objects)


def mark_aio_unusable() -> None:
    """Record that this child inherited live grpc.aio channels (see :func:`aio_usable`).

    An async owner calls it from ``_after_fork_in_child`` when it abandons open channels.
    """
    global _aio_usable
    _aio_usable = False


def aio_usable() -> bool:
    """False in a process forked (maybe generations ago) while etcdgen had open aio channels.

    grpc.aio keeps one completion queue and poller thread per process, alive while any aio
    channel object is; in such a child new aio channels time out or crash, so an
    AsyncClient made there uses ``aio_threaded.ThreadedAioChannel`` (sync gRPC) instead.
    (Aio channels of other libraries cannot be seen here.)
    """
    return _aio_usable


# --- holding a fork back while calls are in flight --------------------------------------------


class _Gate:
    """Counts guarded calls; a fork waits for the count to drop to zero (bounded)."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.condition = threading.Condition(self.lock)
        self.active = 0
        self.forking = False
        self.local = threading.local()


_gate = _Gate()
_gate_hooks_registered = False
_gate_hooks_lock = threading.Lock()


def guard() -> _Guard:
    """Hold ``os.fork()`` back while the block runs (wrap each blocking unary call).

    gRPC's fork support pauses gRPC's own threads before a fork, but not the application's:
    a fork while another thread is inside a call can leave a gRPC lock held in the child,
    and the child then deadlocks in gRPC's own fork handler.  A fork waits up to
    :data:`DRAIN_TIMEOUT` seconds for guarded blocks to end, and new ones wait for the fork.
    Wrap calls that end by themselves (unary calls with a deadline), not the life of a
    stream (a fork would then always wait the full timeout).  Re-entrant within a thread; a
    thread that forks inside its own guarded block does not wait for itself.  The hooks are
    registered at the first use, after gRPC registered its own (at its first channel), so
    this wait runs before gRPC pauses its threads.
    """
    if not _gate_hooks_registered:
        _register_gate_hooks()
    return _GUARD


class _Guard:
    """The context manager :func:`guard` returns (one, stateless: state is per thread)."""

    __slots__ = ()

    def __enter__(self) -> None:
        gate = _gate
        local = gate.local
        depth: int = getattr(local, "depth", 0)
        if depth == 0:
            with gate.condition:
                while gate.forking:
                    gate.condition.wait()
                gate.active += 1
        local.depth = depth + 1

    def __exit__(self, *exc_info: object) -> None:
        gate = _gate  # a new one if this thread forked inside the block (then in the child)
        local = gate.local
        depth: int = local.depth - 1
        local.depth = depth
        if depth == 0:
            with gate.condition:
                gate.active -= 1
                if gate.active == 0 or gate.forking:
                    gate.condition.notify_all()


_GUARD = _Guard()


def enter_call() -> _Gate:
    """The cheap, inline form of :func:`guard` for the client's hot path (no generator).

    Call right after the call's channel exists (so the hooks are registered after
    gRPC's own) and pair with :func:`leave_call` in a ``finally``.  Costs two
    uncontended acquisitions of a plain lock (the condition's own lock, taken
    directly: `Condition.__enter__` is Python code); not re-entrant (a call never
    forks).
    """
    if not _gate_hooks_registered:
        _register_gate_hooks()
    gate = _gate
    lock = gate.lock
    lock.acquire()
    try:
        while gate.forking:
            gate.condition.wait()
        gate.active += 1
    finally:
        lock.release()
    return gate


def leave_call(gate: _Gate) -> None:
    """End what :func:`enter_call` began (`gate` is what it returned)."""
    if gate is not _gate:
        return  # forked inside the call: this is the child, with a fresh gate
    lock = gate.lock
    lock.acquire()
    gate.active -= 1
    if gate.forking:
        gate.condition.notify_all()
    lock.release()


def _register_gate_hooks() -> None:
    global _gate_hooks_registered
    with _gate_hooks_lock:
        if not _gate_hooks_registered:
            # The child side is _after_fork_in_child's first step (registered at import).
            os.register_at_fork(before=_drain_before_fork, after_in_parent=_release_after_fork)
            _gate_hooks_registered = True


def _drain_before_fork() -> None:
    gate = _gate
    own = 1 if getattr(gate.local, "depth", 0) else 0  # the forking thread's own block
    deadline = time.monotonic() + DRAIN_TIMEOUT
    with gate.condition:
        gate.forking = True
        while gate.active > own:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                _LOG.warning(
                    "etcdgen: os.fork() while %d call(s) are still in flight after %.1f s; "
                    "the child may hang in gRPC's fork handler",
                    gate.active - own,
                    DRAIN_TIMEOUT,
                )
                return
            gate.condition.wait(remaining)


def _release_after_fork() -> None:
    gate = _gate
    with gate.condition:
        gate.forking = False
        gate.condition.notify_all()


def _reset_gate_in_child() -> None:
    global _gate
    # The threads that were inside guarded blocks do not exist here; only this one does.
    depth = getattr(_gate.local, "depth", 0)
    _gate = _Gate()
    if depth:
        _gate.active = 1
        _gate.local.depth = depth


# --- the child hook ---------------------------------------------------------------------------


def note_aio_used() -> None:
    """Record that this process made grpc.aio channels (see :func:`_before_fork`)."""
    global _aio_used
    _aio_used = True


def _before_fork() -> None:
    """Let owners that define ``_before_fork()`` act (AsyncClients close their aio
    channels there; see track), then tell whether grpc.aio's state will be inherited.

    In a process that used grpc.aio, garbage is collected first: a closed channel object
    may sit in a reference cycle (an exception's traceback, a finished task), and
    grpc.aio's process-wide state lives on until every one is freed.  If one is still
    alive, the child cannot start grpc.aio (see the module docstring), and its
    AsyncClients use sync gRPC instead (:func:`aio_usable`).
    """
    global _aio_alive
    for owner in list(_owners):
        hook = getattr(owner, "_before_fork", None)
        if hook is None:
            continue
        try:
            hook()
        except Exception:
            _LOG.exception("etcdgen: the before-fork hook of %r failed", owner)
    if _aio_used and _aio_usable:
        gc.collect()
        _aio_alive = _aio_channels_alive()


def _aio_channels_alive() -> bool:
    """Whether any grpc.aio channel object (which keeps its process state up) is alive."""
    cygrpc = sys.modules.get("grpc._cython.cygrpc")
    kind = getattr(cygrpc, "AioChannel", None)
    if kind is None:
        return False
    return any(type(item) is kind for item in gc.get_objects())


def _after_fork_in_child() -> None:
    global _generation, _owners_lock, _pid
    _generation += 1
    _pid = os.getpid()
    if _aio_alive:
        mark_aio_unusable()
    _reset_gate_in_child()  # before the owners: their hooks may use guard()
    # A thread of the parent may have held it; that thread does not exist here.
    _owners_lock = threading.Lock()
    for owner in list(_owners):
        try:
            owner._after_fork_in_child()
        except Exception:
            _LOG.exception("etcdgen: the fork hook of %r failed in the child", owner)


if sys.platform != "win32":
    os.register_at_fork(before=_before_fork, after_in_child=_after_fork_in_child)
