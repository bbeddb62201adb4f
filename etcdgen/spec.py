"""How the generated clients describe RPCs: for code that drives an invoker itself.

`MethodSpec` (path, message types, call kind, policy), `MethodPolicy` (retry class,
effect, first etcd release), `CallKind`, `RetryClass` (the retry *class* of an RPC; the
setting users pass to a client is `etcdgen.RetrySettings`) and `Effect`. The
specs of every etcd RPC are in `etcdgen.generated.methods`.
"""

from __future__ import annotations

from ._core.spec import CallKind, Effect, MethodPolicy, MethodSpec, RetryClass

__all__ = ["CallKind", "Effect", "MethodPolicy", "MethodSpec", "RetryClass"]
