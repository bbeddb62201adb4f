"""Checks on the hand-kept etcd error table used by the code generator."""

import grpc
import pytest

from codegen.errors_table import ERRORS, ErrorSpec, class_name

STATUS_CODE_NAMES = frozenset(member.name for member in grpc.StatusCode)


def test_table_is_not_empty() -> None:
    assert len(ERRORS) >= 60
    assert all(isinstance(spec, ErrorSpec) for spec in ERRORS)


def test_go_names_are_unique() -> None:
    names = [spec.go_name for spec in ERRORS]
    assert len(names) == len(set(names))


def test_class_names_are_unique() -> None:
    names = [class_name(spec.go_name) for spec in ERRORS]
    assert len(names) == len(set(names))


def test_messages_and_aliases_are_unique() -> None:
    texts = [text for spec in ERRORS for text in (spec.message, *spec.aliases)]
    assert len(texts) == len(set(texts))


def test_codes_are_status_code_names() -> None:
    for spec in ERRORS:
        assert spec.code in STATUS_CODE_NAMES, spec.go_name
        for other in spec.other_codes:
            assert other in STATUS_CODE_NAMES, spec.go_name
            assert other != spec.code, spec.go_name


def test_table_is_sorted_by_go_name() -> None:
    names = [spec.go_name for spec in ERRORS]
    assert names == sorted(names)


def test_entries_are_filled_in() -> None:
    for spec in ERRORS:
        assert spec.go_name.startswith("Err"), spec.go_name
        assert not spec.go_name.startswith(("ErrGRPC", "ErrGPRC")), spec.go_name
        assert spec.message, spec.go_name
        assert spec.summary.strip(), spec.go_name
        assert spec.since in {"3.4", "3.5", "3.6"}, spec.go_name


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


@pytest.mark.parametrize("bad", ["", "Err", "EmptyKey", "errEmptyKey"])
def test_class_name_rejects_non_go_error_names(bad: str) -> None:
    with pytest.raises(ValueError):
        class_name(bad)
