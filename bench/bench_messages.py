"""Message cost and import time of etcdgen's private-pool classes against protoc's gencode.

    python bench/bench_messages.py           # full run (about 3 minutes)
    python bench/bench_messages.py --quick   # fewer runs and shorter blocks, a smoke run

etcdgen's `*_pb2` modules do not use protoc's gencode: they embed the serialized
FileDescriptorProto and build their classes at import time in a private
DescriptorPool (`etcdgen/_core/protobuf.py`). The reference here is protoc's own
gencode for the same `protos/`, generated at bench time with `grpc_tools.protoc`
into a temporary directory; it registers in protobuf's default pool, so both sets
of classes live side by side in this process.

1. Import time, each import in a fresh interpreter, timed inside it
   (`perf_counter_ns` / `process_time_ns` around the import statement), median of
   N runs; the process wall time minus `python -c pass` is printed beside it.
   Bytecode comes from a private PYTHONPYCACHEPREFIX, as for an installed package
   (even where PYTHONDONTWRITEBYTECODE is set); 'no .pyc' rows compile from source.
2. Build (from Python values), SerializeToString and FromString per message, in
   paired rounds (protoc, ours, protoc): the result is the median over rounds of
   ours / mean(protoc before, protoc after). CPU (`time.process_time`) is printed
   beside wall time. Nothing here asserts on time.

From a test, run it as a subprocess (`python bench/bench_messages.py --quick`): it
imports protoc's classes into the default descriptor pool of the process it runs in.
"""

from __future__ import annotations

import argparse
import functools
import gc
import importlib
import importlib.metadata
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType

import grpc
from google.protobuf import __version__ as protobuf_version
from google.protobuf import descriptor_pool
from google.protobuf.internal import api_implementation
from grpc_tools import protoc

import etcdgen
from etcdgen.generated.etcdserverpb import rpc_pb2 as our_rpc
from etcdgen.generated.mvccpb import kv_pb2 as our_kv

REPO = Path(__file__).resolve().parent.parent
PROTOS = REPO / "protos"
PROTO_FILES = [
    "mvccpb/kv.proto",
    "authpb/auth.proto",
    "etcdserverpb/rpc.proto",
    "v3lockpb/v3lock.proto",
    "v3electionpb/v3election.proto",
]
NOISE = 0.05  # |ratio - 1| below this is "within noise"


@dataclass(frozen=True)
class Settings:
    import_runs: int
    rounds: int
    block_seconds: float  # wall time of one timed block (one op, one flavour)


FULL = Settings(import_runs=15, rounds=7, block_seconds=0.5)
QUICK = Settings(import_runs=3, rounds=3, block_seconds=0.02)


# -- protoc's gencode ---------------------------------------------------------------------------


def generate_gencode(out: Path) -> str:
    """Run protoc's Python generator on `protos/` into `out`; return its gencode version."""
    args = ["grpc_tools.protoc", f"--proto_path={PROTOS}", f"--python_out={out}", *PROTO_FILES]
    if protoc.main(args) != 0:
        raise RuntimeError(f"protoc failed: {' '.join(args)}")
    for line in (out / "etcdserverpb" / "rpc_pb2.py").read_text().splitlines():
        if line.startswith("# Protobuf Python Version:"):
            return line.split(":", 1)[1].strip()
    return "?"


# -- import time --------------------------------------------------------------------------------

# Runs in a fresh interpreter: {preload} is not timed, {statement} is.
IMPORT_SNIPPET = """\
import sys, time
{preload}
wall, cpu = time.perf_counter_ns(), time.process_time_ns()
{statement}
cpu, wall = time.process_time_ns() - cpu, time.perf_counter_ns() - wall
print(wall, cpu, getattr(sys.modules.get({module!r}), "__file__", ""))
"""

# What both kinds of pb2 module import from protobuf (ours: pool, message, reflection,
# enum wrapper; protoc's: descriptor, pool, runtime_version, symbol_database, builder).
PROTOBUF_RUNTIME = (
    "import google.protobuf.descriptor, google.protobuf.descriptor_pool, "
    "google.protobuf.message, google.protobuf.reflection, google.protobuf.symbol_database, "
    "google.protobuf.runtime_version, google.protobuf.internal.builder, "
    "google.protobuf.internal.enum_type_wrapper"
)
# Registers the `etcdgen` package without running its __init__ (client, grpc, ...), so
# that `import etcdgen.generated.etcdserverpb.rpc_pb2` loads only the message modules.
SKIP_ETCDGEN_INIT = (
    "import importlib.util; _spec = importlib.util.find_spec('etcdgen'); "
    "sys.modules['etcdgen'] = importlib.util.module_from_spec(_spec)"
)
OUR_RPC = "etcdgen.generated.etcdserverpb.rpc_pb2"
PROTOC_RPC = "etcdserverpb.rpc_pb2"


@dataclass
class ImportCase:
    name: str
    module: str  # imported (timed) and checked to come from the expected place
    preload: str = ""  # run first, not timed
    gencode: bool = False  # PYTHONPATH=<protoc gencode dir>; the module must come from there
    statement: str = ""  # timed; default `import {module}`
    no_pyc: bool = False  # compile what {statement} imports from source (runtime still cached)
    wall_ns: list[int] = field(default_factory=list)  # inside the interpreter
    cpu_ns: list[int] = field(default_factory=list)
    process_ns: list[int] = field(default_factory=list)  # whole `python -c` process

    def run(self, gencode_dir: Path) -> None:
        # Bytecode is read from (and written to) a private cache, as an installed package
        # reads its .pyc: PYTHONDONTWRITEBYTECODE would otherwise make every run compile
        # etcdgen and the gencode from source. Nothing is written next to the sources.
        env = dict(os.environ, PYTHONPYCACHEPREFIX=str(gencode_dir / "pycache"))
        env.pop("PYTHONDONTWRITEBYTECODE", None)
        preload = self.preload
        if self.no_pyc:
            empty = gencode_dir / "no-pycache"
            preload += f"\nsys.pycache_prefix = {str(empty)!r}; sys.dont_write_bytecode = True"
        if self.gencode:
            env["PYTHONPATH"] = os.pathsep.join(
                filter(None, [str(gencode_dir), env.get("PYTHONPATH")])
            )
        statement = self.statement or (f"import {self.module}" if self.module else "pass")
        code = IMPORT_SNIPPET.format(preload=preload, statement=statement, module=self.module)
        started = time.perf_counter_ns()
        done = subprocess.run(
            [sys.executable, "-c", code], cwd=REPO, env=env, capture_output=True, text=True
        )
        elapsed = time.perf_counter_ns() - started
        if done.returncode != 0:
            raise RuntimeError(f"{self.name}: {done.stderr.strip()}")
        wall, cpu, *rest = done.stdout.split(maxsplit=2)
        file = rest[0].strip() if rest else ""
        expected = {"etcdgen": REPO / "etcdgen", PROTOC_RPC: gencode_dir}.get(
            PROTOC_RPC if self.gencode else self.module.partition(".")[0]
        )
        if expected is not None and not file.startswith(str(expected)):
            raise RuntimeError(f"{self.name}: imported {file!r}, not from {expected}")
        self.wall_ns.append(int(wall))
        self.cpu_ns.append(int(cpu))
        self.process_ns.append(elapsed)

    def clear(self) -> None:
        self.wall_ns.clear()
        self.cpu_ns.clear()
        self.process_ns.clear()


def import_cases() -> list[ImportCase]:
    skip_and_runtime = f"{SKIP_ETCDGEN_INIT}\n{PROTOBUF_RUNTIME}"
    return [
        ImportCase("python -c pass (baseline)", ""),
        ImportCase("google.protobuf", "google.protobuf"),
        ImportCase(
            "protobuf runtime (modules the pb2 files use)",
            "google.protobuf.internal.builder",
            statement=PROTOBUF_RUNTIME,
        ),
        ImportCase("grpc", "grpc"),
        ImportCase("etcdgen (whole package)", "etcdgen"),
        ImportCase(f"{OUR_RPC} (runs etcdgen/__init__)", OUR_RPC),
        ImportCase("etcdgen rpc_pb2 alone", OUR_RPC, SKIP_ETCDGEN_INIT),
        ImportCase("protoc  rpc_pb2 alone", PROTOC_RPC, gencode=True),
        ImportCase("etcdgen rpc_pb2, protobuf preloaded", OUR_RPC, skip_and_runtime),
        ImportCase("protoc  rpc_pb2, protobuf preloaded", PROTOC_RPC, PROTOBUF_RUNTIME, True),
        ImportCase(
            "etcdgen rpc_pb2, protobuf preloaded, no .pyc", OUR_RPC, skip_and_runtime, no_pyc=True
        ),
        ImportCase(
            "protoc  rpc_pb2, protobuf preloaded, no .pyc",
            PROTOC_RPC,
            PROTOBUF_RUNTIME,
            gencode=True,
            no_pyc=True,
        ),
    ]


def run_imports(settings: Settings, gencode_dir: Path) -> list[ImportCase]:
    cases = import_cases()
    for case in cases:  # warm the OS file cache and .pyc files; not recorded
        case.run(gencode_dir)
        case.clear()
    for _ in range(settings.import_runs):  # round-robin, so drift hits every row alike
        for case in cases:
            case.run(gencode_dir)
    return cases


def print_imports(cases: Sequence[ImportCase], runs: int) -> None:
    baseline = statistics.median(cases[0].process_ns)
    header = f"{'import':<62} {'import ms':>9} {'CPU ms':>7} {'process - baseline ms':>22}"
    print(header)
    print("-" * len(header))
    for case in cases:
        process = statistics.median(case.process_ns)
        extra = (
            f"{process / 1e6:.1f} (absolute)"
            if not case.module
            else f"{(process - baseline) / 1e6:.1f}"
        )
        print(
            f"{case.name:<62} {statistics.median(case.wall_ns) / 1e6:>9.2f} "
            f"{statistics.median(case.cpu_ns) / 1e6:>7.2f} {extra:>22}"
        )
    by_name = {case.name: case for case in cases}
    print()
    for name, ours in by_name.items():
        reference = by_name.get(name.replace("etcdgen rpc_pb2", "protoc  rpc_pb2"))
        if not name.startswith("etcdgen rpc_pb2") or reference is None:
            continue
        wall = statistics.median(ours.wall_ns) / statistics.median(reference.wall_ns)
        cpu = statistics.median(ours.cpu_ns) / statistics.median(reference.cpu_ns)
        label = name.removeprefix("etcdgen rpc_pb2").lstrip(", ") or "alone"
        print(f"  rpc_pb2 etcdgen / protoc, {label + ':':<30} wall {wall:.2f}  CPU {cpu:.2f}")
    print(
        f"\n  import ms / CPU ms: the import statement alone, timed inside a fresh interpreter, "
        f"median of {runs} runs.\n"
        "  process - baseline: wall time of the whole `python -c` (untimed preload included)\n"
        "  minus that of `python -c pass`; noisier, shown as a cross-check.\n"
        "  'rpc_pb2 alone' registers the etcdgen package without running etcdgen/__init__;\n"
        "  'protobuf preloaded' imports the protobuf modules both pb2 flavours use first, so\n"
        "  the row is only descriptor loading and class creation (the part that differs).\n"
        "  .pyc files are read from a private PYTHONPYCACHEPREFIX (filled by a warm-up run),\n"
        "  as in an installed package; 'no .pyc' rows compile the pb2 modules from source."
    )


# -- message cost -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Flavor:
    """One set of message classes: `rpc` is etcdserverpb.rpc_pb2, `kv` is mvccpb.kv_pb2."""

    name: str
    rpc: ModuleType
    kv: ModuleType


KEYS = [f"/registry/pods/{i:05d}".encode() for i in range(100)]  # 20 bytes each
VALUES = [bytes([65 + i % 26]) * 100 for i in range(100)]  # 100 bytes each
HEADER_VALUES = {
    "cluster_id": 14841639068965178418,
    "member_id": 10276657743932975437,
    "revision": 1_234_567,
    "raft_term": 9,
}


def put_request(f: Flavor) -> Callable[[], object]:
    rpc = f.rpc
    key, value = KEYS[0], VALUES[0]
    return lambda: rpc.PutRequest(key=key, value=value, lease=7_587_861_234_567_890)


def range_response(f: Flavor) -> Callable[[], object]:
    rpc, kv = f.rpc, f.kv
    items = list(zip(KEYS, VALUES, range(1000, 1100), strict=True))

    def build() -> object:
        return rpc.RangeResponse(
            header=rpc.ResponseHeader(**HEADER_VALUES),
            kvs=[
                kv.KeyValue(
                    key=key,
                    create_revision=revision,
                    mod_revision=revision + 7,
                    version=3,
                    value=value,
                )
                for key, value, revision in items
            ],
            count=len(items),
        )

    return build


def txn_request(f: Flavor) -> Callable[[], object]:
    rpc = f.rpc
    compare, (k0, k1, k2) = rpc.Compare, KEYS[:3]

    def build() -> object:
        return rpc.TxnRequest(
            compare=[
                compare(result=compare.EQUAL, target=compare.VALUE, key=k0, value=VALUES[0]),
                compare(result=compare.LESS, target=compare.MOD, key=k1, mod_revision=1_234_567),
            ],
            success=[
                rpc.RequestOp(request_put=rpc.PutRequest(key=k0, value=VALUES[1], lease=42)),
                rpc.RequestOp(request_delete_range=rpc.DeleteRangeRequest(key=k1, prev_kv=True)),
            ],
            failure=[rpc.RequestOp(request_range=rpc.RangeRequest(key=k2, range_end=b"\0"))],
        )

    return build


def watch_response(f: Flavor) -> Callable[[], object]:
    rpc, kv = f.rpc, f.kv
    event = kv.Event
    items = list(zip(KEYS[:50], VALUES[:50], range(2000, 2050), strict=True))

    def build() -> object:
        return rpc.WatchResponse(
            header=rpc.ResponseHeader(**HEADER_VALUES),
            watch_id=3,
            events=[
                # every fifth event is a DELETE carrying the previous value
                event(
                    type=event.DELETE,
                    kv=kv.KeyValue(key=key, mod_revision=revision),
                    prev_kv=kv.KeyValue(key=key, value=value, mod_revision=revision - 1),
                )
                if revision % 5 == 0
                else event(
                    type=event.PUT,
                    kv=kv.KeyValue(
                        key=key,
                        create_revision=revision,
                        mod_revision=revision,
                        version=1,
                        value=value,
                    ),
                )
                for key, value, revision in items
            ],
        )

    return build


CASES: list[tuple[str, Callable[[Flavor], Callable[[], object]]]] = [
    ("PutRequest", put_request),
    ("RangeResponse (100 kvs)", range_response),
    ("TxnRequest (2 cmp, 3 ops)", txn_request),
    ("WatchResponse (50 events)", watch_response),
]
OPS = ["build", "serialize", "parse"]


def operations(
    flavor: Flavor, make: Callable[[Flavor], Callable[[], object]]
) -> dict[str, Callable[[], object]]:
    build = make(flavor)
    message = build()
    serialize: Callable[[], bytes] = message.SerializeToString  # type: ignore[attr-defined]
    parse = functools.partial(type(message).FromString, serialize())  # type: ignore[attr-defined]
    return {"build": build, "serialize": serialize, "parse": parse}


@dataclass(frozen=True)
class Sample:
    """One timed block of `calls` operations."""

    wall_ns: int
    cpu_ns: int
    calls: int

    @property
    def ns(self) -> float:
        return self.wall_ns / self.calls

    @property
    def cpu(self) -> float:
        return self.cpu_ns / self.calls


def timed(op: Callable[[], object], calls: int) -> Sample:
    loop = range(calls)
    gc.collect()
    wall, cpu = time.perf_counter_ns(), time.process_time_ns()
    for _ in loop:
        op()
    cpu, wall = time.process_time_ns() - cpu, time.perf_counter_ns() - wall
    return Sample(wall, cpu, calls)


def calibrate(op: Callable[[], object], seconds: float) -> int:
    """Calls per block so that one block of `op` takes about `seconds`."""
    calls = 1
    while (sample := timed(op, calls)).wall_ns < seconds * 1e9 / 10:
        calls *= 4
    return max(1, int(seconds * 1e9 / sample.ns))


@dataclass
class Comparison:
    """Paired rounds of protoc, ours, protoc for one (case, op)."""

    case: str
    op: str
    calls: int
    protoc: list[Sample] = field(default_factory=list)
    ours: list[Sample] = field(default_factory=list)
    ratios: list[float] = field(default_factory=list)
    cpu_ratios: list[float] = field(default_factory=list)
    paired_protoc_ns: list[float] = field(default_factory=list)  # mean(before, after)

    def add_round(self, before: Sample, ours: Sample, after: Sample) -> None:
        self.protoc += [before, after]
        self.ours.append(ours)
        self.paired_protoc_ns.append((before.ns + after.ns) / 2)
        self.ratios.append(ours.ns / self.paired_protoc_ns[-1])
        self.cpu_ratios.append(ours.cpu / ((before.cpu + after.cpu) / 2))

    @property
    def best_ratio(self) -> float:
        """Fastest etcdgen block / fastest protoc pair: the estimate least hit by contention."""
        return min(s.ns for s in self.ours) / min(self.paired_protoc_ns)

    def verdict(self) -> str:
        ratio = statistics.median(self.ratios)
        if abs(ratio - 1) < NOISE:
            return "within noise (met)"
        return "faster (met)" if ratio < 1 else "SLOWER (missed)"


def run_messages(settings: Settings, protoc_flavor: Flavor, our_flavor: Flavor) -> list[Comparison]:
    pairs: list[tuple[Comparison, Callable[[], object], Callable[[], object]]] = []
    for case, make in CASES:
        reference, ours = operations(protoc_flavor, make), operations(our_flavor, make)
        if reference["serialize"]() != ours["serialize"]():
            raise AssertionError(f"{case}: etcdgen and protoc serialize differently")
        for op in OPS:
            calls = calibrate(reference[op], settings.block_seconds)  # also the warm-up
            calibrate(ours[op], settings.block_seconds)
            pairs.append((Comparison(case, op, calls), reference[op], ours[op]))
    for index in range(settings.rounds):
        for comparison, reference_op, our_op in pairs:
            before = timed(reference_op, comparison.calls)
            ours_sample = timed(our_op, comparison.calls)
            after = timed(reference_op, comparison.calls)
            comparison.add_round(before, ours_sample, after)
        for case, _ in CASES:
            ratios = "  ".join(f"{c.op} {c.ratios[-1]:.3f}" for c, _, _ in pairs if c.case == case)
            print(f"  round {index + 1}/{settings.rounds}  {case:<26} {ratios}", flush=True)
    return [comparison for comparison, _, _ in pairs]


def print_messages(comparisons: Sequence[Comparison]) -> None:
    header = (
        f"{'case':<26} {'op':<9} {'protoc ns/op':>12} {'etcdgen ns/op':>13} "
        f"{'ratio (median)':>22} {'best':>6}  {'CPU ns/op protoc -> ours':>25} {'CPU ratio':>9}  "
        "verdict"
    )
    print(header)
    print("-" * len(header))
    for c in comparisons:
        protoc_ns = statistics.median(s.ns for s in c.protoc)
        our_ns = statistics.median(s.ns for s in c.ours)
        spread = f"[{min(c.ratios):.2f}-{max(c.ratios):.2f}]"
        cpu = (
            f"{statistics.median(s.cpu for s in c.protoc):.0f} -> "
            f"{statistics.median(s.cpu for s in c.ours):.0f}"
        )
        print(
            f"{c.case:<26} {c.op:<9} {protoc_ns:>12.0f} {our_ns:>13.0f} "
            f"{statistics.median(c.ratios):>7.3f} {spread:>14} {c.best_ratio:>6.3f}  {cpu:>25} "
            f"{statistics.median(c.cpu_ratios):>9.3f}  {c.verdict()}"
        )
    print(
        "\nratio: per round etcdgen / mean(protoc before, protoc after) of wall ns/op, median "
        "over rounds [min-max];\n"
        "       best: fastest etcdgen block / fastest protoc pair (least affected by other load).\n"
        f"       target: no slower; |ratio - 1| < {NOISE} counts as within noise.\n"
        "CPU:   time.process_time per op, median over blocks; CPU ratio is the median paired "
        "ratio.\n"
        "Every figure includes the Python loop and one call (see 'loop overhead' above)."
    )


# -- main ---------------------------------------------------------------------------------------


def load_gencode(gencode_dir: Path) -> Flavor:
    """Import protoc's modules from `gencode_dir`, then take them out of sys.path/sys.modules.

    Their classes stay registered in protobuf's default pool: when calling `main()` from a
    test, prefer a subprocess so that the test process's default pool stays untouched.
    """
    packages = {path.split("/")[0] for path in PROTO_FILES}
    sys.path.insert(0, str(gencode_dir))
    try:
        rpc = importlib.import_module(PROTOC_RPC)
        kv = importlib.import_module("mvccpb.kv_pb2")
    finally:
        sys.path.remove(str(gencode_dir))
        for name in [name for name in sys.modules if name.partition(".")[0] in packages]:
            del sys.modules[name]
    for module in (rpc, kv):
        if not str(module.__file__).startswith(str(gencode_dir)):
            raise RuntimeError(f"{module.__name__} imported from {module.__file__}")
    return Flavor("protoc", rpc, kv)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--quick", action="store_true", help="fewer runs and shorter blocks")
    args = parser.parse_args(argv)
    settings = QUICK if args.quick else FULL
    started = time.perf_counter()

    with tempfile.TemporaryDirectory(prefix="etcdgen-bench-gencode-") as temp:
        gencode_dir = Path(temp)
        gencode_version = generate_gencode(gencode_dir)
        reference = load_gencode(gencode_dir)
        ours = Flavor("etcdgen", our_rpc, our_kv)
        default_pool = descriptor_pool.Default()
        our_pool = ours.rpc.DESCRIPTOR.pool
        if reference.rpc.DESCRIPTOR.pool is not default_pool or our_pool is default_pool:
            raise AssertionError("expected protoc in the default pool and etcdgen in its own")
        if reference.rpc.PutRequest is ours.rpc.PutRequest:
            raise AssertionError("both flavours resolved to the same class")

        print(
            f"etcdgen {etcdgen.__version__} message benchmark{' (--quick)' if args.quick else ''}"
        )
        print(
            f"  Python {platform.python_version()} ({platform.python_implementation()}), "
            f"protobuf {protobuf_version} (backend: {api_implementation.Type()}), "
            f"grpcio {grpc.__version__}, grpcio-tools {importlib.metadata.version('grpcio-tools')} "
            f"(gencode {gencode_version})"
        )
        load = ", ".join(f"{value:.2f}" for value in os.getloadavg())
        print(f"  {os.cpu_count()} CPUs, load average {load} at start (other work adds noise)")
        env_impl = os.environ.get("PROTOCOL_BUFFERS_PYTHON_IMPLEMENTATION")
        if env_impl:
            print(f"  PROTOCOL_BUFFERS_PYTHON_IMPLEMENTATION={env_impl}")
        print(
            f"  protoc = `grpc_tools.protoc --python_out` of protos/ into {gencode_dir}\n"
            "           (default descriptor pool); etcdgen = etcdgen.generated.*_pb2 "
            "(private pool); pools checked distinct"
        )
        print()
        print(
            f"import time (fresh interpreter per import, {settings.import_runs} runs)", flush=True
        )
        imports = run_imports(settings, gencode_dir)
        print_imports(imports, settings.import_runs)
        print()

        overhead = timed(lambda: None, 1_000_000 if not args.quick else 50_000).ns
        print(
            f"message cost ({settings.rounds} rounds of (protoc, etcdgen, protoc), "
            f"blocks of ~{settings.block_seconds} s; loop overhead {overhead:.0f} ns/op)",
            flush=True,
        )
        comparisons = run_messages(settings, reference, ours)
    print()
    print_messages(comparisons)
    print(f"\ntotal run time {time.perf_counter() - started:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
