"""`error_from_rpc`: message first, then code, unknown errors keep code and message.

These feed the generated mapper hand-made `grpc.RpcError` values: it is a pure
function of (code, details), and real servers cannot produce every case (the
3.5.1-only wording, codes that moved in 3.6).
"""

from __future__ import annotations

import grpc
import pytest

import etcdgen
from codegen.errors_table import CODE_FALLBACKS, ERRORS, ErrorSpec, error_class_name
from etcdgen.generated.errors import error_from_rpc


class FakeRpcError(grpc.RpcError):
    def __init__(self, code: grpc.StatusCode | None, details: str) -> None:
        self._code = code
        self._details = details

    def code(self) -> grpc.StatusCode | None:
        return self._code

    def details(self) -> str:
        return self._details


@pytest.mark.parametrize("spec", ERRORS, ids=lambda s: s.go_name)
def test_every_table_error_maps_to_its_class(spec: ErrorSpec) -> None:
    error = error_from_rpc(FakeRpcError(grpc.StatusCode[spec.code], spec.message))
    assert type(error).__name__ == error_class_name(spec.go_name)
    assert isinstance(error, etcdgen.EtcdError)
    assert error.details == spec.message and error.code is grpc.StatusCode[spec.code]
    assert getattr(etcdgen, type(error).__name__) is type(error)


@pytest.mark.parametrize("spec", ERRORS, ids=lambda s: s.go_name)
def test_every_message_maps_whatever_code_a_version_sends_it_with(spec: ErrorSpec) -> None:
    expected = getattr(etcdgen, error_class_name(spec.go_name))
    codes = {spec.code, *spec.codes.values(), *spec.sent_codes.values()}
    for text in (spec.message, *spec.aliases):
        for code in sorted(codes):
            error = error_from_rpc(FakeRpcError(grpc.StatusCode[code], text))
            assert type(error) is expected, (text, code)
            assert error.code is grpc.StatusCode[code]


def test_message_wins_over_code_across_versions() -> None:
    # etcd 3.5.1 sends this wording with UNKNOWN; 3.4 and 3.5.2+ use another message.
    old = error_from_rpc(FakeRpcError(grpc.StatusCode.UNKNOWN, "auth: revision in header is old"))
    new = error_from_rpc(
        FakeRpcError(grpc.StatusCode.INVALID_ARGUMENT, "etcdserver: revision of auth store is old")
    )
    assert type(old) is type(new) is etcdgen.AuthOldRevisionError
    assert old.code is grpc.StatusCode.UNKNOWN
    # NotCapable moved from UNAVAILABLE to FAILED_PRECONDITION in 3.6: same class.
    moved = error_from_rpc(
        FakeRpcError(grpc.StatusCode.FAILED_PRECONDITION, "etcdserver: not capable")
    )
    assert type(moved) is etcdgen.NotCapableError


@pytest.mark.parametrize(
    "code", [c for c in grpc.StatusCode if c is not grpc.StatusCode.OK], ids=lambda c: c.name
)
def test_unknown_messages_fall_back_to_their_codes_class(code: grpc.StatusCode) -> None:
    error = error_from_rpc(FakeRpcError(code, "something new"))
    assert type(error) is getattr(etcdgen, CODE_FALLBACKS[code.name])
    assert (error.code, error.details) == (code, "something new")
    assert str(error) == f"something new [{code.name}]"


def test_unknown_errors_fall_back_by_code_and_keep_both() -> None:
    refused = error_from_rpc(
        FakeRpcError(grpc.StatusCode.UNAVAILABLE, "failed to connect to all addresses")
    )
    assert type(refused) is etcdgen.UnavailableError
    slow = error_from_rpc(FakeRpcError(grpc.StatusCode.DEADLINE_EXCEEDED, "Deadline Exceeded"))
    assert isinstance(slow, TimeoutError) and isinstance(slow, etcdgen.DeadlineExceededError)
    odd = error_from_rpc(FakeRpcError(grpc.StatusCode.DATA_LOSS, "something new"))
    assert type(odd) is etcdgen.DataLossStatusError
    assert isinstance(odd, etcdgen.GrpcStatusError)
    assert (odd.code, odd.details) == (grpc.StatusCode.DATA_LOSS, "something new")
    assert str(odd) == "something new [DATA_LOSS]"
    missing = error_from_rpc(FakeRpcError(grpc.StatusCode.UNIMPLEMENTED, "unknown service"))
    assert type(missing) is etcdgen.UnimplementedStatusError


def test_an_error_without_a_status_code_stays_a_plain_etcd_error() -> None:
    error = error_from_rpc(FakeRpcError(None, "no status"))
    assert type(error) is etcdgen.EtcdError
    assert (error.code, error.details) == (None, "no status")


def test_timeout_family_subclasses_builtin_timeout_error() -> None:
    assert issubclass(etcdgen.EtcdTimeoutError, TimeoutError)
    assert not hasattr(etcdgen, "TimeoutError") or etcdgen.TimeoutError is TimeoutError
