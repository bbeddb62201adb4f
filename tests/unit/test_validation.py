"""Every keyword of the key-value surface rejects bad input at the call, by name.

No server: these build request messages (`etcdgen.kv`) and resolve per-call
timeouts (`etcdgen._core.timeout`). Wrong kinds of values raise `TypeError`,
values out of range `ValueError`; both name the argument and what it accepts,
instead of failing inside protobuf ("Value out of range") or grpc (a deadline
overflow that failed every call at once).
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from typing import Any

import pytest

from etcdgen._core import validate
from etcdgen._core.timeout import DEFAULT, resolve_timeout
from etcdgen.generated.errors import EmptyKeyError
from etcdgen.generated.etcdserverpb import rpc_pb2
from etcdgen.kv import (
    Compare,
    Op,
    check_page_size,
    compaction_request,
    delete_request,
    key_range,
    prefix_end,
    put_request,
    range_request,
    txn_request,
)

INT64_MAX = 2**63 - 1
INT64_MIN = -(2**63)
INT64_MAX_TEXT = "9,223,372,036,854,775,807"

Build = Callable[..., Any]


def raises(kind: type[Exception], message_start: str, build: Build, **kwargs: Any) -> str:
    """Run `build(**kwargs)`; it must raise `kind` whose message starts as given."""
    with pytest.raises(kind) as raised:
        build(**kwargs)
    assert type(raised.value) is kind, f"{type(raised.value).__name__}: {raised.value}"
    text = str(raised.value)
    assert text.startswith(message_start), text
    return text


# --- per-call timeout ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("timeout", "expected"),
    [
        (DEFAULT, 7.0),
        (None, None),
        (2.5, 2.5),
        (5, 5.0),
        (0.001, 0.001),
        (validate.FOREVER_SECONDS, validate.FOREVER_SECONDS),
        (math.inf, None),
        (1e10, None),
        (10**12, None),
    ],
)
def test_timeout_values_that_resolve(timeout: Any, expected: float | None) -> None:
    resolved = resolve_timeout(timeout, 7.0)
    assert resolved == expected
    if expected is not None:
        assert type(resolved) is float


def test_default_timeout_is_the_clients_even_none() -> None:
    assert resolve_timeout(DEFAULT, None) is None
    assert resolve_timeout(DEFAULT, 3.0) == 3.0


@pytest.mark.parametrize("timeout", [math.nan, 0, 0.0, -1, -0.5, -math.inf])
def test_timeout_out_of_range_is_a_value_error(timeout: Any) -> None:
    text = raises(
        ValueError,
        "timeout must be a positive number of seconds",
        resolve_timeout,
        timeout=timeout,
        default=1.0,
    )
    assert "None" in text  # the accepted "no deadline" is named too


@pytest.mark.parametrize("timeout", ["5", b"5", True, False, [1], object()])
def test_timeout_of_the_wrong_kind_is_a_type_error(timeout: Any) -> None:
    text = raises(
        TypeError,
        "timeout must be a positive number of seconds or None",
        resolve_timeout,
        timeout=timeout,
        default=1.0,
    )
    assert type(timeout).__name__ in text


# --- validate helpers ----------------------------------------------------------------------


def test_validate_helpers_keep_their_contract() -> None:
    assert validate.INT64_MAX == INT64_MAX
    assert validate.seconds("t", math.inf) == validate.FOREVER_SECONDS
    assert validate.seconds("t", math.inf, allow_none=True) is None
    raises(
        TypeError,
        "t must be a positive number of seconds, got None",
        validate.seconds,
        name="t",
        value=None,
    )
    assert validate.integer("n", 0) == 0
    assert validate.integer("n", -5, minimum=-10) == -5
    raises(
        ValueError,
        "n must be between 1 and 3, got 4",
        validate.integer,
        name="n",
        value=4,
        minimum=1,
        maximum=3,
    )
    assert validate.flag("f", False) is False
    raises(
        TypeError, "f must be True or False, got NoneType None", validate.flag, name="f", value=None
    )


def test_error_messages_cut_long_values_short() -> None:
    text = raises(
        TypeError, "value must be str or bytes", put_request, key="k", value=list(range(100_000))
    )
    assert len(text) < 200
    text = raises(
        TypeError, "compare[0] must be a Compare", txn_request, compare=[Op.put("k", "v" * 10_000)]
    )
    assert "\n" not in text
    assert len(text) < 300


# --- range_request / Op.get ----------------------------------------------------------------


@pytest.mark.parametrize("build", [range_request, Op.get], ids=["range_request", "Op.get"])
@pytest.mark.parametrize(
    "name",
    [
        "limit",
        "revision",
        "min_mod_revision",
        "max_mod_revision",
        "min_create_revision",
        "max_create_revision",
    ],
)
@pytest.mark.parametrize("bad", ["5", 5.0, True, b"5", [5]])
def test_range_integers_of_the_wrong_kind(build: Build, name: str, bad: Any) -> None:
    text = raises(
        TypeError,
        f"{name} must be an integer between 0 and {INT64_MAX_TEXT}",
        build,
        key="k",
        **{name: bad},
    )
    assert f"got {type(bad).__name__} {bad!r}" in text


@pytest.mark.parametrize("build", [range_request, Op.get], ids=["range_request", "Op.get"])
@pytest.mark.parametrize(
    "name",
    [
        "limit",
        "revision",
        "min_mod_revision",
        "max_mod_revision",
        "min_create_revision",
        "max_create_revision",
    ],
)
@pytest.mark.parametrize("bad", [-1, 2**63, 10**30])
def test_range_integers_out_of_range(build: Build, name: str, bad: int) -> None:
    text = raises(
        ValueError, f"{name} must be between 0 and {INT64_MAX_TEXT}", build, key="k", **{name: bad}
    )
    assert f"got {bad:,}" in text


def test_optional_revisions_say_none_is_accepted() -> None:
    text = raises(TypeError, "revision must be", range_request, key="k", revision="3")
    assert text.endswith("or None, got str '3'")
    text = raises(TypeError, "limit must be", range_request, key="k", limit="3")
    assert "None" not in text  # limit has no None: 0 is "no limit"


def test_limit_edges_build_a_message() -> None:
    assert range_request("k", limit=0).limit == 0
    assert range_request("k", limit=1).limit == 1
    assert range_request("k", limit=INT64_MAX).limit == INT64_MAX
    assert range_request("k", revision=0).revision == 0
    assert range_request("k", revision=INT64_MAX).revision == INT64_MAX
    assert range_request("k", max_create_revision=INT64_MAX).max_create_revision == INT64_MAX
    assert Op.get("k", limit=INT64_MAX).request_range.limit == INT64_MAX


@pytest.mark.parametrize("build", [range_request, Op.get], ids=["range_request", "Op.get"])
@pytest.mark.parametrize("name", ["prefix", "from_key", "serializable", "keys_only", "count_only"])
@pytest.mark.parametrize("bad", ["no", "yes", 0, 1, None, 1.0])
def test_range_flags_must_be_bools(build: Build, name: str, bad: Any) -> None:
    text = raises(TypeError, f"{name} must be True or False", build, key="k", **{name: bad})
    assert f"got {type(bad).__name__} {bad!r}" in text


@pytest.mark.parametrize(
    ("name", "bad", "kind"),
    [
        ("sort_order", "sideways", ValueError),
        ("sort_order", "ASCEND", ValueError),
        ("sort_order", 1, TypeError),
        ("sort_order", ["ascend"], TypeError),
        ("sort_order", None, TypeError),
        ("sort_target", "mod_revision", ValueError),
        ("sort_target", 2, TypeError),
        ("sort_target", {"key"}, TypeError),
    ],
)
def test_sort_choices(name: str, bad: Any, kind: type[Exception]) -> None:
    text = raises(
        kind,
        f"{name} must be one of 'none'" if name == "sort_order" else f"{name} must be one of 'key'",
        range_request,
        key="k",
        **{name: bad},
    )
    assert repr(bad) in text


def test_every_option_reaches_the_message() -> None:
    request = range_request(
        "a",
        range_end="b",
        limit=3,
        revision=9,
        sort_order="descend",
        sort_target="mod",
        serializable=True,
        keys_only=True,
        min_mod_revision=1,
        max_mod_revision=2,
        min_create_revision=3,
        max_create_revision=4,
    )
    assert request == rpc_pb2.RangeRequest(
        key=b"a",
        range_end=b"b",
        limit=3,
        revision=9,
        sort_order=rpc_pb2.RangeRequest.DESCEND,
        sort_target=rpc_pb2.RangeRequest.MOD,
        serializable=True,
        keys_only=True,
        min_mod_revision=1,
        max_mod_revision=2,
        min_create_revision=3,
        max_create_revision=4,
    )
    assert range_request("a", count_only=True).count_only
    assert range_request("k") == rpc_pb2.RangeRequest(key=b"k")


def test_range_option_conflicts_and_keys() -> None:
    raises(
        ValueError,
        "keys_only and count_only exclude each other",
        range_request,
        key="k",
        keys_only=True,
        count_only=True,
    )
    raises(
        ValueError,
        "use only one of prefix=, from_key= and range_end=; got prefix, range_end",
        range_request,
        key="k",
        prefix=True,
        range_end="z",
    )
    raises(
        ValueError,
        "use only one of prefix=, from_key= and range_end=; got prefix, from_key",
        range_request,
        key="k",
        prefix=True,
        from_key=True,
    )
    raises(EmptyKeyError, "key is empty", range_request, key="")
    raises(EmptyKeyError, "key is empty", range_request, key=b"", range_end="z")
    raises(TypeError, "key must be str or bytes, got int 5", range_request, key=5)
    raises(
        TypeError, "range_end must be str or bytes, got int 5", range_request, key="k", range_end=5
    )
    raises(ValueError, "key must be str (encodable as UTF-8) or bytes", range_request, key="\ud800")


def test_key_ranges() -> None:
    assert key_range("k") == (b"k", b"")
    assert key_range("a", range_end="c") == (b"a", b"c")
    assert key_range("a", prefix=True) == (b"a", b"b")
    assert key_range("", prefix=True) == (b"\0", b"\0")
    assert key_range("a", from_key=True) == (b"a", b"\0")
    assert key_range("", from_key=True) == (b"\0", b"\0")
    assert prefix_end(b"a\xff") == b"b"
    assert prefix_end(b"a\xfe") == b"a\xff"
    assert prefix_end(b"ab\xff\xff") == b"ac"
    assert prefix_end(b"\xff\xff") == b"\0"
    assert prefix_end(b"") == b"\0"


# --- put_request / Op.put ------------------------------------------------------------------


@pytest.mark.parametrize("build", [put_request, Op.put], ids=["put_request", "Op.put"])
@pytest.mark.parametrize("bad", ["1", 1.0, True, b"1"])
def test_lease_of_the_wrong_kind(build: Build, bad: Any) -> None:
    text = raises(
        TypeError,
        f"lease must be an integer between 0 and {INT64_MAX_TEXT} or None",
        build,
        key="k",
        value="v",
        lease=bad,
    )
    assert f"got {type(bad).__name__} {bad!r}" in text


@pytest.mark.parametrize("build", [put_request, Op.put], ids=["put_request", "Op.put"])
@pytest.mark.parametrize("bad", [-1, 2**63])
def test_lease_out_of_range(build: Build, bad: int) -> None:
    text = raises(
        ValueError,
        f"lease must be between 0 and {INT64_MAX_TEXT}",
        build,
        key="k",
        value="v",
        lease=bad,
    )
    assert f"got {bad:,}" in text


@pytest.mark.parametrize("build", [put_request, Op.put], ids=["put_request", "Op.put"])
@pytest.mark.parametrize("name", ["prev_kv", "ignore_value", "ignore_lease"])
@pytest.mark.parametrize("bad", ["no", 0, 1, None])
def test_put_flags_must_be_bools(build: Build, name: str, bad: Any) -> None:
    # ignore_value="no" with no value must name the flag, not complain about the value.
    kwargs: dict[str, Any] = {"key": "k", name: bad}
    if name != "ignore_value":
        kwargs["value"] = "v"
    text = raises(TypeError, f"{name} must be True or False", build, **kwargs)
    assert f"got {type(bad).__name__} {bad!r}" in text


def test_put_values_and_edges() -> None:
    assert put_request("k", "v") == rpc_pb2.PutRequest(key=b"k", value=b"v")
    assert put_request("k", b"") == rpc_pb2.PutRequest(key=b"k")
    assert put_request("k", "v", lease=0) == rpc_pb2.PutRequest(key=b"k", value=b"v")
    assert put_request("k", "v", lease=INT64_MAX).lease == INT64_MAX
    assert put_request("k", "v", lease=7, prev_kv=True) == rpc_pb2.PutRequest(
        key=b"k", value=b"v", lease=7, prev_kv=True
    )
    assert put_request("k", ignore_value=True, lease=3) == rpc_pb2.PutRequest(
        key=b"k", ignore_value=True, lease=3
    )
    assert put_request("k", "v", ignore_lease=True) == rpc_pb2.PutRequest(
        key=b"k", value=b"v", ignore_lease=True
    )
    assert Op.put("k", "v", prev_kv=True).request_put.prev_kv
    raises(TypeError, "value must be str or bytes, got int 5", put_request, key="k", value=5)
    raises(
        TypeError, "key must be str or bytes, got NoneType None", put_request, key=None, value="v"
    )
    raises(EmptyKeyError, "key is empty", put_request, key="", value="v")
    raises(ValueError, "put needs a value", put_request, key="k")
    raises(ValueError, "put needs a value", put_request, key="k", prev_kv=True)
    raises(
        ValueError,
        "ignore_value=True keeps the current value",
        put_request,
        key="k",
        value="v",
        ignore_value=True,
    )
    raises(
        ValueError,
        "ignore_lease=True keeps the current lease",
        put_request,
        key="k",
        value="v",
        lease=1,
        ignore_lease=True,
    )


# --- delete_request / Op.delete ------------------------------------------------------------


@pytest.mark.parametrize("build", [delete_request, Op.delete], ids=["delete_request", "Op.delete"])
@pytest.mark.parametrize("name", ["prefix", "from_key", "prev_kv"])
@pytest.mark.parametrize("bad", ["yes", 1, None])
def test_delete_flags_must_be_bools(build: Build, name: str, bad: Any) -> None:
    text = raises(TypeError, f"{name} must be True or False", build, key="k", **{name: bad})
    assert f"got {type(bad).__name__} {bad!r}" in text


def test_delete_builds() -> None:
    assert delete_request("k") == rpc_pb2.DeleteRangeRequest(key=b"k")
    assert delete_request("d/", prefix=True, prev_kv=True) == rpc_pb2.DeleteRangeRequest(
        key=b"d/", range_end=b"d0", prev_kv=True
    )
    raises(EmptyKeyError, "key is empty", delete_request, key="")
    raises(TypeError, "range_end must be str or bytes", Op.delete, key="a", range_end=3)


# --- compaction_request --------------------------------------------------------------------


def test_compaction() -> None:
    assert compaction_request(1) == rpc_pb2.CompactionRequest(revision=1)
    assert compaction_request(INT64_MAX, physical=True).physical
    text = raises(
        ValueError,
        f"revision must be between 1 and {INT64_MAX_TEXT}",
        compaction_request,
        revision=0,
    )
    assert text.endswith("got 0")
    raises(ValueError, "revision must be between 1", compaction_request, revision=2**63)
    raises(TypeError, "revision must be an integer between 1", compaction_request, revision="5")
    raises(TypeError, "revision must be an integer between 1", compaction_request, revision=None)
    raises(
        TypeError,
        "physical must be True or False, got str 'yes'",
        compaction_request,
        revision=5,
        physical="yes",
    )


# --- page_size (iter_prefix / iter_range) --------------------------------------------------


def test_page_size() -> None:
    assert check_page_size(1) == 1
    assert check_page_size(INT64_MAX) == INT64_MAX
    for bad in (0, -1, 2**63):
        raises(
            ValueError,
            f"page_size must be between 1 and {INT64_MAX_TEXT}",
            check_page_size,
            page_size=bad,
        )
    for wrong in ("10", 10.0, True, None):
        text = raises(
            TypeError, "page_size must be an integer between 1", check_page_size, page_size=wrong
        )
        assert repr(wrong) in text


# --- Compare operands ----------------------------------------------------------------------

INT_TARGETS = ["version", "create_revision", "mod_revision", "lease"]


@pytest.mark.parametrize("target", INT_TARGETS)
@pytest.mark.parametrize("bad", ["1", 1.0, True, None, b"1"])
def test_integer_compare_operands_of_the_wrong_kind(target: str, bad: Any) -> None:
    side = getattr(Compare, target)("k")
    text = raises(
        TypeError,
        f"the operand of Compare.{target}(...) must be an integer between "
        f"-9,223,372,036,854,775,808 and {INT64_MAX_TEXT}",
        side.__gt__,
        other=bad,
    )
    assert f"got {type(bad).__name__} {bad!r}" in text


@pytest.mark.parametrize("target", INT_TARGETS)
@pytest.mark.parametrize("bad", [2**63, INT64_MIN - 1])
def test_integer_compare_operands_out_of_range(target: str, bad: int) -> None:
    side = getattr(Compare, target)("k")
    raises(
        ValueError, f"the operand of Compare.{target}(...) must be between", side.__eq__, other=bad
    )


@pytest.mark.parametrize("target", INT_TARGETS)
def test_integer_compare_edges(target: str) -> None:
    side = getattr(Compare, target)("k")
    field = target
    assert getattr(side == INT64_MAX, field) == INT64_MAX
    assert getattr(side > INT64_MIN, field) == INT64_MIN
    assert getattr(side != 0, field) == 0


def test_value_compare_operands() -> None:
    assert (Compare.value("k") == "v").value == b"v"
    assert (Compare.value("k") < b"\xff").value == b"\xff"
    for bad in (1, None, ["v"]):
        text = raises(
            TypeError,
            "the operand of Compare.value(...) must be str or bytes",
            Compare.value("k").__ne__,
            other=bad,
        )
        assert repr(bad) in text


@pytest.mark.parametrize("target", ["value", *INT_TARGETS])
def test_compare_keys_and_flags(target: str) -> None:
    make = getattr(Compare, target)
    raises(TypeError, "prefix must be True or False, got str 'yes'", make, key="k", prefix="yes")
    raises(TypeError, "key must be str or bytes", make, key=1)
    raises(TypeError, "range_end must be str or bytes", make, key="a", range_end=2)
    raises(
        ValueError,
        "use only one of prefix=, from_key= and range_end=",
        make,
        key="a",
        prefix=True,
        range_end="b",
    )
    assert (make("d/", prefix=True) == (b"x" if target == "value" else 1)).range_end == b"d0"


# --- txn_request / Op.txn ------------------------------------------------------------------


@pytest.mark.parametrize("build", [txn_request, Op.txn], ids=["txn_request", "Op.txn"])
def test_txn_items_are_checked_by_position(build: Build) -> None:
    good_compare = Compare.version("k") > 0
    good_op = Op.put("k", "v")
    text = raises(TypeError, "compare[1] must be a Compare", build, compare=[good_compare, good_op])
    assert "etcdgen.Compare" in text and "RequestOp" in text
    text = raises(TypeError, "compare[0] must be a Compare", build, compare=[Compare.value("k")])
    assert "unfinished compare" in text and "==" in text
    text = raises(
        TypeError, "success[2] must be a RequestOp", build, success=[good_op, good_op, "put k v"]
    )
    assert "etcdgen.Op" in text and "str 'put k v'" in text
    text = raises(TypeError, "failure[0] must be a RequestOp", build, failure=[good_compare])
    assert "got Compare" in text
    # A request message is not an op: Op.put wraps it.
    raises(TypeError, "success[0] must be a RequestOp", build, success=[put_request("k", "v")])


@pytest.mark.parametrize("build", [txn_request, Op.txn], ids=["txn_request", "Op.txn"])
@pytest.mark.parametrize("name", ["compare", "success", "failure"])
def test_txn_lists_must_be_lists(build: Build, name: str) -> None:
    raises(TypeError, f"{name} must be a list of", build, **{name: None})
    raises(TypeError, f"{name} must be a list of", build, **{name: 5})
    raises(TypeError, f"{name} must be a list of", build, **{name: "abc"})
    single = Compare.value("k") == "v" if name == "compare" else Op.get("k")
    text = raises(TypeError, f"{name} must be a list of", build, **{name: single})
    assert "wrap a single one in [...]" in text


def test_txn_builds_from_any_iterable_and_nests() -> None:
    compares = (Compare.mod_revision("k") < 5 for _ in range(2))
    request = txn_request(compares, [Op.put("k", "v")], (Op.delete("k"),))
    assert len(request.compare) == 2
    assert request.success[0].request_put.key == b"k"
    assert request.failure[0].request_delete_range.key == b"k"
    nested = Op.txn([Compare.version("k") == 0], [Op.put("k", "v")])
    assert nested.request_txn.success[0].request_put.value == b"v"
    # No local cap on the number of ops: etcd's --max-txn-ops (128 by default) can be raised.
    assert len(txn_request(success=[Op.get("k")] * 500).success) == 500
    assert txn_request() == rpc_pb2.TxnRequest()


def test_messages_name_accepted_values() -> None:
    """A sample of full messages, so a reworded message is a deliberate change."""
    cases: list[tuple[Build, dict[str, Any], str]] = [
        (
            range_request,
            {"key": "k", "limit": "5"},
            f"limit must be an integer between 0 and {INT64_MAX_TEXT}, got str '5'",
        ),
        (
            range_request,
            {"key": "k", "limit": 2**63},
            f"limit must be between 0 and {INT64_MAX_TEXT}, got 9,223,372,036,854,775,808",
        ),
        (
            range_request,
            {"key": "k", "sort_order": "up"},
            "sort_order must be one of 'none', 'ascend', 'descend'; got 'up'",
        ),
        (
            resolve_timeout,
            {"timeout": "5", "default": None},
            "timeout must be a positive number of seconds or None, got str '5'",
        ),
        (
            resolve_timeout,
            {"timeout": math.nan, "default": None},
            "timeout must be a positive number of seconds (or None for no limit), got nan",
        ),
    ]
    for build, kwargs, expected in cases:
        with pytest.raises((TypeError, ValueError), match=f"^{re.escape(expected)}$"):
            build(**kwargs)
