"""The operator's CLI: `python -m etcdgen status|members|alarms|defrag|hashkv|check|...`.

Also `snapshot save FILE` (a progress bar on a terminal) and `move-leader ID`.

Connection options follow etcdctl's names (`--endpoints`, `--cacert`, `--cert`,
`--key`, `--user name:password`, `--command-timeout`). Output is a table, or
JSON with `--json`. Errors print one line on stderr and exit 1 (2: bad usage).
A password given as `--user name` alone is read from `ETCDGEN_PASSWORD`, so
that it stays out of the process list.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Sequence
from typing import Any

from ._core.errors import EtcdError
from .client import Client


def add_commands(sub: Any) -> None:
    """Register the operator subcommands on `python -m etcdgen`'s subparsers."""
    for name, help_text in (
        ("status", "Status of every endpoint (unreachable ones reported)"),
        ("members", "the cluster's members"),
        ("alarms", "raised alarms"),
        ("check", "HashKV of every member at one revision, compared"),
    ):
        _connection_options(sub.add_parser(name, help=help_text))
    defrag = sub.add_parser("defrag", help="defragment members (default: every endpoint)")
    _connection_options(defrag)
    defrag.add_argument("--member", action="append", help="an endpoint to defragment")
    hashkv = sub.add_parser("hashkv", help="HashKV of every endpoint")
    _connection_options(hashkv)
    hashkv.add_argument("--revision", type=int, default=0)
    move = sub.add_parser("move-leader", help="hand leadership to a member (hex or decimal ID)")
    _connection_options(move)
    move.add_argument("target", help="the member ID in hex, as `members` prints it")
    snapshot = sub.add_parser("snapshot", help="snapshot save FILE")
    _connection_options(snapshot)
    snapshot.add_argument("action", choices=["save"])
    snapshot.add_argument("file")
    snapshot.add_argument("--member", default=None, help="the endpoint to take it from")


COMMANDS = ("status", "members", "alarms", "check", "defrag", "hashkv", "move-leader", "snapshot")


def _connection_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--endpoints", default="127.0.0.1:2379", help="comma-separated")
    parser.add_argument("--cacert", default=None)
    parser.add_argument("--cert", default=None)
    parser.add_argument("--key", default=None)
    parser.add_argument("--user", default=None, help="name:password (or name + ETCDGEN_PASSWORD)")
    parser.add_argument("--command-timeout", type=float, default=5.0)
    parser.add_argument("--json", action="store_true", help="JSON instead of a table")


def run(args: argparse.Namespace) -> int:
    try:
        with _client(args) as client:
            return _COMMANDS[args.command](client, args)
    except (EtcdError, OSError, ValueError) as error:
        print(f"etcdgen {args.command}: {error}", file=sys.stderr)
        return 1


def _client(args: argparse.Namespace) -> Client:
    username = password = None
    if args.user:
        username, _, password = args.user.partition(":")
        if not password:
            password = os.environ.get("ETCDGEN_PASSWORD")
            if password is None:
                raise ValueError("--user needs name:password, or the password in ETCDGEN_PASSWORD")
    endpoints = [e.strip() for e in args.endpoints.split(",") if e.strip()]
    return Client(
        endpoints,
        timeout=args.command_timeout,
        connect_timeout=args.command_timeout,
        ca=args.cacert,
        cert=args.cert,
        key=args.key,
        username=username,
        password=password,
    )


def _emit(args: argparse.Namespace, rows: list[dict[str, Any]], columns: Sequence[str]) -> None:
    if args.json:
        print(json.dumps(rows, indent=2))
        return
    table = [list(columns)] + [[str(row.get(c, "")) for c in columns] for row in rows]
    widths = [max(len(line[i]) for line in table) for i in range(len(columns))]
    for line in table:
        print(
            "  ".join(cell.ljust(width) for cell, width in zip(line, widths, strict=True)).rstrip()
        )


def _status(client: Client, args: argparse.Namespace) -> int:
    rows: list[dict[str, Any]] = []
    for entry in client.statuses(timeout=args.command_timeout):
        status = entry.status
        if status is None:
            rows.append({"endpoint": entry.endpoint, "error": entry.error})
            continue
        rows.append(
            {
                "endpoint": entry.endpoint,
                "id": f"{status.member_id:x}",
                "version": status.version,
                "db_size": status.db_size,
                "is_leader": status.is_leader,
                "is_learner": status.is_learner,
                "raft_term": status.raft_term,
                "raft_index": status.raft_index,
                "errors": ", ".join(status.errors),
                "error": "",
            }
        )
    columns = (
        "endpoint",
        "id",
        "version",
        "db_size",
        "is_leader",
        "is_learner",
        "raft_term",
        "raft_index",
        "errors",
        "error",
    )
    _emit(args, rows, columns)
    return 0 if all(not row.get("error") for row in rows) else 1


def _members(client: Client, args: argparse.Namespace) -> int:
    rows = [
        {
            "id": f"{m.id:x}",
            "name": m.name,
            "peer_urls": ",".join(m.peer_urls),
            "client_urls": ",".join(m.client_urls),
            "is_learner": m.is_learner,
        }
        for m in client.member_list()
    ]
    _emit(args, rows, ("id", "name", "peer_urls", "client_urls", "is_learner"))
    return 0


def _alarms(client: Client, args: argparse.Namespace) -> int:
    rows = [{"member_id": f"{a.member_id:x}", "alarm": a.alarm} for a in client.alarms()]
    _emit(args, rows, ("member_id", "alarm"))
    return 0


def _hashkv(client: Client, args: argparse.Namespace) -> int:
    rows: list[dict[str, Any]] = []
    for endpoint in client.endpoints:
        found = client.hash_kv(endpoint, revision=args.revision)
        rows.append(
            {
                "endpoint": endpoint,
                "id": f"{found.member_id:x}",
                "hash": found.hash,
                "revision": found.revision,
                "compact_revision": found.compact_revision,
            }
        )
    _emit(args, rows, ("endpoint", "id", "hash", "revision", "compact_revision"))
    return 0


def _check(client: Client, args: argparse.Namespace) -> int:
    report = client.consistency_check(timeout=args.command_timeout)
    if args.json:
        print(
            json.dumps(
                {
                    "revision": report.revision,
                    "consistent": report.consistent,
                    "hashes": {h.endpoint: h.hash for h in report.hashes},
                    "unreachable": dict(report.unreachable),
                },
                indent=2,
            )
        )
    else:
        verdict = "consistent" if report.consistent else "INCONSISTENT"
        print(f"revision {report.revision}: {verdict}")
        for found in report.hashes:
            print(f"  {found.endpoint}  {found.hash}")
        for endpoint, error in report.unreachable:
            print(f"  {endpoint}  unreachable: {error}")
    return 0 if report.consistent else 1


def _defrag(client: Client, args: argparse.Namespace) -> int:
    rows: list[dict[str, Any]] = []
    for endpoint in args.member or client.endpoints:
        client.defragment(endpoint)
        rows.append({"endpoint": endpoint, "result": "defragmented"})
    _emit(args, rows, ("endpoint", "result"))
    return 0


def _move_leader(client: Client, args: argparse.Namespace) -> int:
    try:
        target = int(args.target.removeprefix("0x"), 16)  # as `members` prints it
    except ValueError:
        raise ValueError(f"{args.target!r} is not a member ID in hex (see `members`)") from None
    client.move_leader(target)
    _emit(args, [{"leader": f"{target:x}"}], ("leader",))
    return 0


def _snapshot(client: Client, args: argparse.Namespace) -> int:
    show = sys.stderr.isatty() and not args.json

    def progress(size: int) -> None:
        if show:
            print(f"\rsnapshot: {size / 1e6:8.1f} MB", end="", file=sys.stderr, flush=True)

    size = client.snapshot(args.file, endpoint=args.member, progress=progress)
    if show:
        print(file=sys.stderr)
    _emit(args, [{"file": args.file, "bytes": size}], ("file", "bytes"))
    return 0


_COMMANDS = {
    "status": _status,
    "members": _members,
    "alarms": _alarms,
    "hashkv": _hashkv,
    "check": _check,
    "defrag": _defrag,
    "move-leader": _move_leader,
    "snapshot": _snapshot,
}
