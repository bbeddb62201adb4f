"""Every exception etcdgen raises, in one namespace (`etcdgen.EmptyKeyError`, ...).

`EtcdError` is the root. One subclass per etcd server error is generated from
the error table; the runtime adds the few client-side ones.
"""

from ._core.errors import ClientClosedError, ConnectionFailedError, EtcdError, UnavailableError
from .generated import errors as _generated
from .generated.errors import *  # noqa: F403  (the generated module defines __all__)

__all__ = ["ClientClosedError", "ConnectionFailedError", "EtcdError", "UnavailableError"]
__all__ += _generated.__all__
