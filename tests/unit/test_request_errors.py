"""Generated methods name the field a bad keyword went to (no server needed)."""

from __future__ import annotations

import pytest

from etcdgen._core.requests import build_request
from etcdgen.generated.etcdserverpb import rpc_pb2


@pytest.mark.parametrize(
    ("fields", "error", "says"),
    [
        ({"limit": "5"}, TypeError, "limit must be an integer (int64), got str '5'"),
        ({"limit": 2**63}, ValueError, "limit must be an integer (int64)"),
        ({"serializable": "yes"}, TypeError, "serializable must be True or False"),
        ({"revision": 1.5}, TypeError, "revision must be an integer (int64), got float"),
        ({"key": 5}, TypeError, "key must be bytes or str, got int"),
    ],
)
def test_bad_keyword_names_its_field(fields: dict[str, object], error: type, says: str) -> None:
    with pytest.raises(error) as raised:
        build_request(rpc_pb2.RangeRequest, None, {"key": b"k", **fields})
    assert says in str(raised.value)


def test_repeated_field_says_list() -> None:
    with pytest.raises(TypeError, match="peerURLs must be a list of str"):
        build_request(rpc_pb2.MemberAddRequest, None, {"peerURLs": 5})


def test_good_keywords_build_the_message() -> None:
    built = build_request(rpc_pb2.RangeRequest, None, {"key": "k", "limit": 2**63 - 1})
    assert built.key == b"k" and built.limit == 2**63 - 1
