"""The client-side version check's rules (no server): what a request uses, who refuses it."""

from __future__ import annotations

import pytest
from google.protobuf import descriptor_pb2 as d

import etcdgen
from codegen import versions
from etcdgen._core.server_version import NEWEST, newer_elements, refuse_if_newer, release_key
from etcdgen.generated.etcdserverpb import rpc_pb2


def test_release_key_compares_releases_as_numbers() -> None:
    assert release_key("3.4.23") == (3, 4) < release_key("3.10.0") == (3, 10)
    assert release_key("") == () < NEWEST
    assert release_key("garbage") == ()


def test_only_set_newer_fields_are_reported() -> None:
    path = "/etcdserverpb.Cluster/MemberList"
    assert newer_elements(path, rpc_pb2.MemberListRequest()) == []
    used = newer_elements(path, rpc_pb2.MemberListRequest(linearizable=True))
    assert used == [("MemberListRequest.linearizable", "3.5")]
    assert newer_elements("/etcdserverpb.KV/Range", rpc_pb2.RangeRequest(key=b"k")) == []
    assert newer_elements("/etcdserverpb.Auth/AuthStatus", rpc_pb2.AuthStatusRequest()) == [
        ("the AuthStatus RPC", "3.5")
    ]


def test_refusal_names_the_element_the_release_and_the_member() -> None:
    used = [("MemberListRequest.linearizable", "3.5")]
    refuse_if_newer(used, "10.0.0.1:2379", "3.5.1")  # new enough: nothing raised
    with pytest.raises(etcdgen.UnsupportedByServerError) as raised:
        refuse_if_newer(used, "10.0.0.1:2379", "3.4.23")
    assert str(raised.value).startswith(
        "MemberListRequest.linearizable needs etcd >= 3.5, but 10.0.0.1:2379 runs etcd 3.4.23"
    )


def test_custom_string_options_are_read_from_their_wire_bytes() -> None:
    options = d.FieldOptions(deprecated=True)
    # Field 50001, wire type 2 (length-delimited), "3.5": as protoc stores an extension.
    key = versions.FIELD_OPTION << 3 | 2
    varint = bytearray()
    while key > 0x7F:
        varint.append(key & 0x7F | 0x80)
        key >>= 7
    varint.append(key)
    options.MergeFromString(bytes(varint) + bytes([3]) + b"3.5")
    assert versions.string_option(options, versions.FIELD_OPTION) == "3.5"
    assert versions.string_option(options, versions.MESSAGE_OPTION) is None


def test_merge_keeps_known_facts_and_drops_gone_elements() -> None:
    known = {"a.B": "3.1", "a.Gone": "3.2", "a.C.f": "3.3"}
    merged = versions.merge(known, {"a.C.f": "3.4", "a.D": "3.6"}, {"a.B", "a.C.f", "a.D"})
    assert merged == {"a.B": "3.1", "a.C.f": "3.4", "a.D": "3.6"}
