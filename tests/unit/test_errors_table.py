"""Checks on the hand-kept etcd error table used by the code generator."""

from pathlib import Path

import grpc
import pytest

import etcdgen._core.errors as runtime_errors
from codegen.errors_table import (
    CATEGORIES,
    CODE_FALLBACKS,
    ERRORS,
    RUNTIME_FALLBACKS,
    STATUS_BASE,
    STATUS_CODES,
    STATUS_ERRORS,
    STATUS_VERSION,
    VERSIONS,
    ErrorSpec,
    StatusErrorSpec,
    class_name,
    error_class_name,
    from_version,
    status_class_name,
)

ROOT = Path(__file__).resolve().parents[2]
STATUS_CODE_NAMES = frozenset(member.name for member in grpc.StatusCode)
CATEGORY_NAMES = [c.name for c in CATEGORIES]
ERROR_CLASS_NAMES = {error_class_name(spec.go_name) for spec in ERRORS}
STATUS_CLASS_NAMES = {s.class_name for s in STATUS_ERRORS}

# Codes the table listed under `other_codes` before it recorded codes by version:
# the per-version columns must still account for every one of them.
OLD_OTHER_CODES = {
    "ErrAuthOldRevision": {"UNKNOWN"},
    "ErrClusterVersionUnavailable": {"FAILED_PRECONDITION"},
    "ErrMemberNotEnoughStarted": {"UNKNOWN"},
    "ErrNotCapable": {"FAILED_PRECONDITION"},
    "ErrNotSupportedForLearner": {"FAILED_PRECONDITION"},
    "ErrTooManyRequests": {"UNKNOWN"},
}

TIMEOUTS = {
    "ErrDeadlineExceeded",
    "ErrTimeout",
    "ErrTimeoutDueToConnectionLost",
    "ErrTimeoutDueToLeaderFail",
    "ErrTimeoutWaitAppliedIndex",
}


def _spec(go_name: str) -> ErrorSpec:
    return next(spec for spec in ERRORS if spec.go_name == go_name)


def test_table_is_not_empty() -> None:
    assert len(ERRORS) >= 60
    assert all(isinstance(spec, ErrorSpec) for spec in ERRORS)


def test_go_names_are_unique() -> None:
    names = [spec.go_name for spec in ERRORS]
    assert len(names) == len(set(names))


def test_class_names_are_unique_and_apart_from_the_bases() -> None:
    names = [error_class_name(spec.go_name) for spec in ERRORS]
    assert len(names) == len(set(names))
    others = [*CATEGORY_NAMES, STATUS_BASE.name, *STATUS_CLASS_NAMES, *RUNTIME_FALLBACKS]
    assert len(others) == len(set(others))
    assert not set(names) & set(others)


def test_messages_and_aliases_are_unique() -> None:
    texts = [text for spec in ERRORS for text in (spec.message, *spec.aliases)]
    assert len(texts) == len(set(texts))


def test_status_codes_list_is_grpcs() -> None:
    assert list(STATUS_CODES) == [member.name for member in grpc.StatusCode]


def test_codes_are_status_code_names_of_known_versions() -> None:
    for spec in ERRORS:
        assert spec.codes, spec.go_name
        assert set(spec.codes) <= set(VERSIONS), spec.go_name
        assert set(spec.unknown_in) <= set(VERSIONS), spec.go_name
        for code in (spec.code, *spec.codes.values(), *spec.sent_codes.values()):
            assert code in STATUS_CODE_NAMES and code != "OK", spec.go_name


def test_old_other_codes_are_all_kept() -> None:
    for spec in ERRORS:
        received = set(spec.codes.values()) | set(spec.sent_codes.values())
        assert OLD_OTHER_CODES.get(spec.go_name, set()) <= received - {spec.code}, spec.go_name


def test_status_is_the_code_of_the_status_version_else_the_newest() -> None:
    assert _spec("ErrNotCapable").codes == {
        "3.4": "UNAVAILABLE",
        "3.5": "UNAVAILABLE",
        "3.6": "FAILED_PRECONDITION",
    }
    assert _spec("ErrNotCapable").code == "UNAVAILABLE"
    # 3.5.1 does not declare these: the newest version that does gives the code.
    assert _spec("ErrClusterIDMismatch").code == "FAILED_PRECONDITION"
    assert _spec("ErrAuthOldRevision").code == "INVALID_ARGUMENT"
    assert _spec("ErrAuthOldRevision").sent_codes == {
        "3.4": "INVALID_ARGUMENT",
        "3.5": "UNKNOWN",
        "3.6": "INVALID_ARGUMENT",
    }
    assert set(_spec("ErrTooManyRequests").sent_codes.values()) == {"UNKNOWN"}


def test_status_version_is_the_rendered_api() -> None:
    version = (ROOT / "protos" / "VERSION").read_text().strip()
    assert version.startswith(STATUS_VERSION + "."), (version, STATUS_VERSION)
    assert VERSIONS[STATUS_VERSION] == version


def test_since_is_the_earliest_declaring_version() -> None:
    order = list(VERSIONS)
    for spec in ERRORS:
        assert spec.since in VERSIONS, spec.go_name
        assert spec.since == min(spec.codes, key=order.index), spec.go_name
    assert _spec("ErrEmptyKey").since == "3.4"
    assert _spec("ErrCanceled").since == "3.5"
    assert _spec("ErrInvalidSortOption").since == "3.6"


def test_table_is_sorted_by_go_name() -> None:
    names = [spec.go_name for spec in ERRORS]
    assert names == sorted(names)


def test_entries_are_filled_in() -> None:
    for spec in ERRORS:
        assert spec.go_name.startswith("Err"), spec.go_name
        assert not spec.go_name.startswith(("ErrGRPC", "ErrGPRC")), spec.go_name
        assert spec.message, spec.go_name
        assert spec.summary.strip(), spec.go_name


def test_every_category_is_used_and_every_error_has_one() -> None:
    assert len(CATEGORY_NAMES) == len(set(CATEGORY_NAMES))
    used = {spec.category for spec in ERRORS}
    assert used == set(CATEGORY_NAMES)
    for status in STATUS_ERRORS:
        assert not status.category or status.category in CATEGORY_NAMES


def test_category_docstrings_start_with_one_line() -> None:
    for category in (*CATEGORIES, STATUS_BASE):
        # `    """` + summary + `"""` within the generated module's 100 columns.
        assert len(category.summary) <= 100 - 10, category.name
        assert "\n" not in category.summary, category.name
        assert category.name.endswith("Error"), category.name
    for status in STATUS_ERRORS:
        assert len(status.summary) <= 100 - 7, status.code


def test_timeouts_and_only_they_subclass_timeout_error() -> None:
    assert {spec.go_name for spec in ERRORS if spec.builtin_base == "TimeoutError"} == TIMEOUTS
    assert {spec.builtin_base for spec in ERRORS} == {"", "TimeoutError"}


def test_every_status_code_but_ok_has_a_fallback() -> None:
    assert list(CODE_FALLBACKS) == [m.name for m in grpc.StatusCode if m is not grpc.StatusCode.OK]


def test_fallbacks_name_classes_that_exist() -> None:
    known = ERROR_CLASS_NAMES | STATUS_CLASS_NAMES | RUNTIME_FALLBACKS
    for code, name in CODE_FALLBACKS.items():
        assert name in known, code
    for name in RUNTIME_FALLBACKS:
        assert issubclass(getattr(runtime_errors, name), runtime_errors.EtcdError)


def test_every_generic_status_class_is_its_own_codes_fallback() -> None:
    codes = [s.code for s in STATUS_ERRORS]
    assert len(codes) == len(set(codes))
    for status in STATUS_ERRORS:
        assert CODE_FALLBACKS[status.code] == status.class_name
    assert {name for name in CODE_FALLBACKS.values() if name.endswith("StatusError")} == (
        STATUS_CLASS_NAMES
    )


def test_fallbacks_to_etcd_classes_keep_their_code() -> None:
    by_name = {error_class_name(spec.go_name): spec for spec in ERRORS}
    for code, name in CODE_FALLBACKS.items():
        if name in by_name:
            assert by_name[name].code == code, name


@pytest.mark.parametrize(
    ("changes", "complaint"),
    [
        ({"category": "NoSuchError"}, "not in CATEGORIES"),
        ({"codes": {}}, "codes is empty"),
        ({"codes": {"3.3": "NOT_FOUND"}}, "not in VERSIONS"),
        ({"codes": {"3.5": "OK"}}, "not an error status code"),
        ({"unknown_in": ("2.3",)}, "not in VERSIONS"),
        ({"builtin_base": "Timeout"}, "not a builtin exception"),
    ],
)
def test_bad_rows_are_refused_when_the_table_is_read(
    changes: dict[str, object], complaint: str
) -> None:
    row: dict[str, object] = {
        "go_name": "ErrExample",
        "message": "etcdserver: example",
        "category": "KeyValueError",
        "codes": {"3.5": "NOT_FOUND"},
        "summary": "An example.",
    }
    row.update(changes)
    with pytest.raises(ValueError, match=complaint):
        ErrorSpec(**row)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="not an error status code"):
        StatusErrorSpec(code="FINE", summary="x")


def test_from_version() -> None:
    assert from_version("3.4", "NOT_FOUND") == {v: "NOT_FOUND" for v in VERSIONS}
    assert from_version("3.6", "CANCELLED") == {"3.6": "CANCELLED"}


@pytest.mark.parametrize(
    ("go_name", "expected"),
    [
        ("ErrEmptyKey", "EmptyKeyError"),
        ("ErrCompacted", "CompactedError"),
        ("ErrLeaseNotFound", "LeaseNotFoundError"),
        ("ErrInvalidAuthToken", "InvalidAuthTokenError"),
        ("ErrPermissionDenied", "PermissionDeniedError"),
        ("ErrNoLeader", "NoLeaderError"),
        ("ErrSomethingError", "SomethingError"),
    ],
)
def test_class_name_rule(go_name: str, expected: str) -> None:
    assert class_name(go_name) == expected
    assert error_class_name(go_name) == expected


def test_names_that_would_shadow_builtins_get_the_etcd_prefix() -> None:
    assert class_name("ErrTimeout") == "TimeoutError"
    assert error_class_name("ErrTimeout") == "EtcdTimeoutError"


@pytest.mark.parametrize("bad", ["", "Err", "EmptyKey", "errEmptyKey"])
def test_class_name_rejects_non_go_error_names(bad: str) -> None:
    with pytest.raises(ValueError):
        class_name(bad)


def test_status_class_name_rule() -> None:
    assert status_class_name("DATA_LOSS") == "DataLossStatusError"
    assert status_class_name("UNKNOWN") == "UnknownStatusError"
