"""The generated error hierarchy: category bases, builtin bases, fallbacks, old names.

Pure imports of `etcdgen`: no server. The table side of these rules is checked in
`test_errors_table.py`; here the rendered module is checked against it.
"""

from __future__ import annotations

import builtins
import inspect

import grpc
import pytest

import etcdgen
import etcdgen.errors
from codegen.errors_table import (
    CATEGORIES,
    ERRORS,
    STATUS_BASE,
    STATUS_ERRORS,
    ErrorSpec,
    error_class_name,
)
from etcdgen._core.watch_state import WatchCompactedError
from etcdgen.generated import errors as generated
from etcdgen.generated.errors import error_from_rpc

# Every public name of generated/errors.py before it had category bases: each must
# stay importable, from the module and from the top level, under the same name.
OLD_NAMES = (
    "AuthFailedError",
    "AuthNotEnabledError",
    "AuthOldRevisionError",
    "BadLeaderTransfereeError",
    "CanceledError",
    "ClusterIDMismatchError",
    "ClusterVersionUnavailableError",
    "CompactedError",
    "CorruptError",
    "DeadlineExceededError",
    "DowngradeInProcessError",
    "DuplicateKeyError",
    "EmptyKeyError",
    "EtcdTimeoutError",
    "FutureRevError",
    "InvalidAuthMgmtError",
    "InvalidAuthTokenError",
    "InvalidClientAPIVersionError",
    "InvalidDowngradeTargetVersionError",
    "InvalidSortOptionError",
    "KeyNotFoundError",
    "LeaderChangedError",
    "LeaseExistError",
    "LeaseNotFoundError",
    "LeaseProvidedError",
    "LeaseTTLTooLargeError",
    "MemberBadURLsError",
    "MemberExistError",
    "MemberLearnerNotReadyError",
    "MemberNotEnoughStartedError",
    "MemberNotFoundError",
    "MemberNotLearnerError",
    "NoInflightDowngradeError",
    "NoLeaderError",
    "NoSpaceError",
    "NotCapableError",
    "NotLeaderError",
    "NotSupportedForLearnerError",
    "PeerURLExistError",
    "PermissionDeniedError",
    "PermissionNotGivenError",
    "PermissionNotGrantedError",
    "RequestTooLargeError",
    "RoleAlreadyExistError",
    "RoleEmptyError",
    "RoleNotFoundError",
    "RoleNotGrantedError",
    "RootRoleNotExistError",
    "RootUserNotExistError",
    "StoppedError",
    "TimeoutDueToConnectionLostError",
    "TimeoutDueToLeaderFailError",
    "TimeoutWaitAppliedIndexError",
    "TooManyLearnersError",
    "TooManyOpsError",
    "TooManyRequestsError",
    "UnhealthyError",
    "UserAlreadyExistError",
    "UserEmptyError",
    "UserNotFoundError",
    "ValueProvidedError",
    "WatchCanceledError",
    "WrongDowngradeVersionFormatError",
    "error_from_rpc",
)

# The old classes that had a base besides EtcdError: they must keep it.
OLD_TIMEOUT_ERRORS = (
    "DeadlineExceededError",
    "EtcdTimeoutError",
    "TimeoutDueToConnectionLostError",
    "TimeoutDueToLeaderFailError",
    "TimeoutWaitAppliedIndexError",
)


class FakeRpcError(grpc.RpcError):
    def __init__(self, code: grpc.StatusCode, details: str) -> None:
        self._code = code
        self._details = details

    def code(self) -> grpc.StatusCode:
        return self._code

    def details(self) -> str:
        return self._details


def _class(spec: ErrorSpec) -> type[etcdgen.EtcdError]:
    cls = getattr(generated, error_class_name(spec.go_name))
    assert isinstance(cls, type) and issubclass(cls, etcdgen.EtcdError)
    return cls


def test_old_names_are_all_still_there() -> None:
    assert set(OLD_NAMES) <= set(generated.__all__)
    for name in OLD_NAMES:
        assert getattr(etcdgen, name) is getattr(generated, name), name
        assert getattr(etcdgen.errors, name) is getattr(generated, name), name


def test_old_classes_keep_their_old_bases() -> None:
    for name in OLD_NAMES:
        value = getattr(generated, name)
        if isinstance(value, type):
            assert issubclass(value, etcdgen.EtcdError), name
    for name in OLD_TIMEOUT_ERRORS:
        assert issubclass(getattr(generated, name), TimeoutError), name


def test_all_lists_every_public_name_once_sorted() -> None:
    public = {
        name
        for name, value in vars(generated).items()
        if not name.startswith("_")
        and (inspect.isclass(value) or inspect.isfunction(value))
        and value.__module__ == generated.__name__
    }
    assert set(generated.__all__) == public
    assert generated.__all__ == sorted(generated.__all__)


def test_new_names_clash_with_nothing() -> None:
    own = set(etcdgen.__all__) - set(generated.__all__)
    for name in generated.__all__:
        assert getattr(etcdgen, name) is getattr(generated, name), name
        assert not hasattr(builtins, name), name
    # The top level's own names (runtime errors, clients, ...) are not redefined.
    assert not own & set(generated.__all__)
    assert len(etcdgen.__all__) == len(set(etcdgen.__all__))
    assert len(etcdgen.errors.__all__) == len(set(etcdgen.errors.__all__))


@pytest.mark.parametrize("category", CATEGORIES, ids=lambda c: c.name)
def test_category_bases_are_etcd_errors_with_docstrings(category: object) -> None:
    cls = getattr(etcdgen, category.name)  # type: ignore[attr-defined]
    assert cls.__bases__ == (etcdgen.EtcdError,)
    assert inspect.getdoc(cls).startswith(category.summary)  # type: ignore[attr-defined]
    assert not issubclass(cls, TimeoutError)


@pytest.mark.parametrize("spec", ERRORS, ids=lambda s: s.go_name)
def test_every_error_subclasses_its_category_and_carries_the_table(spec: ErrorSpec) -> None:
    cls = _class(spec)
    category = getattr(generated, spec.category)
    assert cls.__bases__[0] is category
    others = {c.name for c in CATEGORIES} - {spec.category}
    assert not any(issubclass(cls, getattr(generated, name)) for name in others)
    if spec.builtin_base:
        assert issubclass(cls, getattr(builtins, spec.builtin_base))
    assert cls.server_message == spec.message
    assert cls.status is grpc.StatusCode[spec.code]
    assert cls.since == spec.since
    assert f"rpctypes.{spec.go_name}" in inspect.getdoc(cls)  # type: ignore[operator]


def test_auth_errors_are_caught_as_one() -> None:
    for name in ("AuthFailedError", "PermissionDeniedError", "InvalidAuthTokenError"):
        with pytest.raises(etcdgen.AuthError):
            raise getattr(etcdgen, name)("x")
    for spec in ERRORS:
        if spec.category == "AuthError":
            try:
                raise error_from_rpc(FakeRpcError(grpc.StatusCode[spec.code], spec.message))
            except etcdgen.AuthError as caught:
                assert type(caught) is _class(spec)
    # A status only auth produces is an auth error even with a message the table lacks.
    unknown = error_from_rpc(FakeRpcError(grpc.StatusCode.UNAUTHENTICATED, "token expired"))
    assert isinstance(unknown, etcdgen.AuthError)
    assert isinstance(unknown, etcdgen.GrpcStatusError)
    denied = error_from_rpc(FakeRpcError(grpc.StatusCode.PERMISSION_DENIED, "no"))
    assert isinstance(denied, etcdgen.AuthError)


def test_some_categories_by_example() -> None:
    assert issubclass(etcdgen.LeaseNotFoundError, etcdgen.LeaseError)
    assert issubclass(etcdgen.CompactedError, etcdgen.KeyValueError)
    assert issubclass(WatchCompactedError, etcdgen.KeyValueError)  # runtime subclass
    assert issubclass(etcdgen.WatchCanceledError, etcdgen.WatchError)
    assert issubclass(etcdgen.MemberNotFoundError, etcdgen.ClusterError)
    assert issubclass(etcdgen.NoSpaceError, etcdgen.AlarmError)
    assert issubclass(etcdgen.NoLeaderError, etcdgen.AvailabilityError)
    assert issubclass(etcdgen.RequestTooLargeError, etcdgen.RequestRejectedError)
    assert not issubclass(etcdgen.NoLeaderError, etcdgen.UnavailableError)


def test_timeouts_are_timeout_errors_and_unfinished_requests() -> None:
    for name in OLD_TIMEOUT_ERRORS:
        cls = getattr(etcdgen, name)
        assert issubclass(cls, TimeoutError) and issubclass(cls, etcdgen.UnfinishedRequestError)
        error = cls("slow")  # the builtin base does not get in the way of EtcdError's fields
        assert (error.details, error.code) == ("slow", cls.status)
        assert str(error) == f"slow [{cls.status.name}]"
    assert not issubclass(etcdgen.CanceledError, TimeoutError)
    slow = error_from_rpc(FakeRpcError(grpc.StatusCode.DEADLINE_EXCEEDED, "Deadline Exceeded"))
    with pytest.raises(TimeoutError):
        raise slow


@pytest.mark.parametrize("status", STATUS_ERRORS, ids=lambda s: s.code)
def test_generic_status_classes(status: object) -> None:
    cls = getattr(etcdgen, status.class_name)  # type: ignore[attr-defined]
    assert issubclass(cls, getattr(etcdgen, STATUS_BASE.name))
    assert cls.status is grpc.StatusCode[status.code]  # type: ignore[attr-defined]
    if status.category:  # type: ignore[attr-defined]
        assert issubclass(cls, getattr(etcdgen, status.category))  # type: ignore[attr-defined]
    assert cls("x").code is cls.status


def test_since_defaults_to_empty_outside_the_table() -> None:
    assert etcdgen.EtcdError.since == ""
    assert etcdgen.UnavailableError.since == ""
    assert etcdgen.UnknownStatusError.since == ""
