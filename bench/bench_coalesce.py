"""Read coalescing (`coalesce_reads=True`) against the raw gRPC stub, on a real etcd.

    python bench/bench_coalesce.py            # full run (about 2 minutes)
    python bench/bench_coalesce.py --quick    # a smoke run

One etcd 3.5.1 on loopback, started with --unsafe-no-fsync (this measures the
client). Single-key gets of 1,000 keys, in four comparisons:

- asyncio, 64 gets in flight: raw `grpc.aio` Range vs `AsyncClient(coalesce_reads=True)`;
- sync, 64 threads: raw `grpc` Range vs `Client(coalesce_reads=True)`;
- 1 in flight (asyncio and sync): our client without vs with coalescing, which must
  be no slower (a lone get is a plain Range).

Rounds run (baseline, ours, baseline) back to back; the ratio is the median over
rounds of ours / mean(baseline before, after). Throughput ratio: higher is better;
CPU ratio: baseline CPU per get / ours (higher is better: "2x" = half the CPU).
Client CPU is this process's `time.process_time()`. Nothing here asserts on time.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import platform
import statistics
import sys
import threading
import time
from collections import Counter
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from itertools import cycle, islice

import grpc
from grpc import aio

import etcdgen
from etcdgen.generated.etcdserverpb import rpc_pb2
from etcdgen.testing import EtcdServer

RANGE = "/etcdserverpb.KV/Range"
KEY_COUNT = 1000
CONCURRENCY = 64
TARGET = 2.0  # throughput and CPU, ours vs raw, at 64 in flight
LONE_TARGET = 1.05  # time per get, coalesced / plain, at 1 in flight (at most)
RAW_OPTIONS = [("grpc.max_receive_message_length", -1)]


@dataclass(frozen=True)
class Settings:
    rounds: int
    calls_64: int
    calls_1: int


FULL = Settings(rounds=5, calls_64=12800, calls_1=1500)
QUICK = Settings(rounds=2, calls_64=3200, calls_1=400)


@dataclass(frozen=True)
class Sample:
    wall: float
    cpu: float
    calls: int

    @property
    def per_s(self) -> float:
        return self.calls / self.wall

    @property
    def us_per_call(self) -> float:
        return self.wall / self.calls * 1e6

    @property
    def cpu_us(self) -> float:
        return self.cpu / self.calls * 1e6


@dataclass
class Comparison:
    name: str
    baseline: str
    lone: bool = False
    ratios: list[float] = field(default_factory=list)
    cpu_ratios: list[float] = field(default_factory=list)
    base: list[Sample] = field(default_factory=list)
    ours: list[Sample] = field(default_factory=list)

    def add(self, before: Sample, ours: Sample, after: Sample) -> None:
        self.base += [before, after]
        self.ours.append(ours)
        if self.lone:  # time per get, lower is better
            self.ratios.append(ours.us_per_call / ((before.us_per_call + after.us_per_call) / 2))
        else:
            self.ratios.append(ours.per_s / ((before.per_s + after.per_s) / 2))
        self.cpu_ratios.append(((before.cpu_us + after.cpu_us) / 2) / ours.cpu_us)
        print(
            f"  round {len(self.ours)}  {self.name:<28} {self.baseline} {before.per_s:8.0f} "
            f"ours {ours.per_s:8.0f} {self.baseline} {after.per_s:8.0f} gets/s  "
            f"CPU {before.cpu_us:5.1f}/{ours.cpu_us:5.1f}/{after.cpu_us:5.1f} µs/get",
            flush=True,
        )

    def row(self) -> str:
        ratio = statistics.median(self.ratios)
        cpu = statistics.median(self.cpu_ratios)
        base_cpu = statistics.median(s.cpu_us for s in self.base)
        ours_cpu = statistics.median(s.cpu_us for s in self.ours)
        if self.lone:
            verdict = "MET" if ratio <= LONE_TARGET else "MISSED"
            shown = f"time/get {ratio:.3f}x (<= {LONE_TARGET})"
        else:
            verdict = "MET" if ratio >= TARGET and cpu >= TARGET else "MISSED"
            shown = f"throughput {ratio:.2f}x, CPU {cpu:.2f}x less (>= {TARGET}x)"
        return (
            f"{self.name:<28} vs {self.baseline:<6} {shown:<46} "
            f"CPU/get {base_cpu:6.1f} -> {ours_cpu:6.1f} µs  {verdict}"
        )


# -- asyncio -----------------------------------------------------------------------------------


async def timed_async(
    op: Callable[[bytes], Awaitable[object]], keys: Sequence[bytes], concurrency: int
) -> Sample:
    chunks = [keys[i::concurrency] for i in range(concurrency)]

    async def worker(chunk: Sequence[bytes]) -> None:
        for key in chunk:
            await op(key)

    wall, cpu = time.perf_counter(), time.process_time()
    await asyncio.gather(*(worker(chunk) for chunk in chunks))
    return Sample(time.perf_counter() - wall, time.process_time() - cpu, len(keys))


async def run_async(
    endpoint: str, settings: Settings, keys: Sequence[bytes]
) -> tuple[list[Comparison], etcdgen.ReadBatchStats | None]:
    channel = aio.insecure_channel(endpoint, options=RAW_OPTIONS)
    raw_range = channel.unary_unary(
        RANGE,
        request_serializer=rpc_pb2.RangeRequest.SerializeToString,
        response_deserializer=rpc_pb2.RangeResponse.FromString,
    )

    def raw(key: bytes) -> Awaitable[object]:
        return raw_range(rpc_pb2.RangeRequest(key=key))  # type: ignore[no-any-return]

    many = Comparison(f"asyncio, {CONCURRENCY} in flight", "raw")
    lone = Comparison("asyncio, 1 in flight", "plain", lone=True)
    async with (
        etcdgen.AsyncClient(endpoint) as plain,
        etcdgen.AsyncClient(endpoint, coalesce_reads=True) as client,
    ):
        many_keys, lone_keys = keys[: settings.calls_64], keys[: settings.calls_1]
        for op in (raw, client.get, plain.get):  # warm-up
            await timed_async(op, many_keys[:2000], CONCURRENCY)
        for _ in range(settings.rounds):
            before = await timed_async(raw, many_keys, CONCURRENCY)
            ours = await timed_async(client.get, many_keys, CONCURRENCY)
            after = await timed_async(raw, many_keys, CONCURRENCY)
            many.add(before, ours, after)
        at_64 = client.read_batch_stats()
        for _ in range(settings.rounds):
            before = await timed_async(plain.get, lone_keys, 1)
            ours = await timed_async(client.get, lone_keys, 1)
            after = await timed_async(plain.get, lone_keys, 1)
            lone.add(before, ours, after)
    await channel.close()
    return [many, lone], at_64


# -- threads -----------------------------------------------------------------------------------


def timed_threads(op: Callable[[bytes], object], keys: Sequence[bytes], threads: int) -> Sample:
    chunks = [keys[i::threads] for i in range(threads)]
    start = threading.Barrier(threads + 1)

    def worker(chunk: Sequence[bytes]) -> None:
        start.wait()
        for key in chunk:
            op(key)

    workers = [threading.Thread(target=worker, args=(chunk,)) for chunk in chunks]
    for thread in workers:
        thread.start()
    wall, cpu = time.perf_counter(), time.process_time()
    start.wait()
    for thread in workers:
        thread.join()
    return Sample(time.perf_counter() - wall, time.process_time() - cpu, len(keys))


def run_sync(
    endpoint: str, settings: Settings, keys: Sequence[bytes]
) -> tuple[list[Comparison], etcdgen.ReadBatchStats | None]:
    channel = grpc.insecure_channel(endpoint, options=RAW_OPTIONS)
    raw_range = channel.unary_unary(
        RANGE,
        request_serializer=rpc_pb2.RangeRequest.SerializeToString,
        response_deserializer=rpc_pb2.RangeResponse.FromString,
    )

    def raw(key: bytes) -> object:
        return raw_range(rpc_pb2.RangeRequest(key=key))

    many = Comparison(f"sync, {CONCURRENCY} threads", "raw")
    lone = Comparison("sync, 1 thread", "plain", lone=True)
    with (
        channel,
        etcdgen.Client(endpoint) as plain,
        etcdgen.Client(endpoint, coalesce_reads=True) as client,
    ):
        many_keys, lone_keys = keys[: settings.calls_64], keys[: settings.calls_1]
        for op in (raw, client.get, plain.get):  # warm-up
            timed_threads(op, many_keys[:2000], CONCURRENCY)
        for _ in range(settings.rounds):
            before = timed_threads(raw, many_keys, CONCURRENCY)
            ours = timed_threads(client.get, many_keys, CONCURRENCY)
            after = timed_threads(raw, many_keys, CONCURRENCY)
            many.add(before, ours, after)
        at_64 = client.read_batch_stats()
        for _ in range(settings.rounds):
            before = timed_threads(plain.get, lone_keys, 1)
            ours = timed_threads(client.get, lone_keys, 1)
            after = timed_threads(plain.get, lone_keys, 1)
            lone.add(before, ours, after)
    return [many, lone], at_64


def distribution(stats: etcdgen.ReadBatchStats | None) -> str:
    if stats is None or not stats.sizes:
        return "(none)"
    sizes: Counter[int] = stats.sizes
    gets = sum(size * count for size, count in sizes.items())
    calls = sum(sizes.values())
    buckets = Counter[str]()
    for size, count in sizes.items():
        low = 1 if size == 1 else 2 ** (size - 1).bit_length() // 2 + 1
        high = 1 if size == 1 else 2 ** (size - 1).bit_length()
        buckets[f"{low}-{high}" if low != high else str(low)] += count
    shown = ", ".join(
        f"{name}: {buckets[name]}" for name in sorted(buckets, key=lambda b: int(b.split("-")[0]))
    )
    return (
        f"{gets} gets in {calls} calls, mean batch {gets / calls:.1f}, "
        f"largest {max(sizes)}; calls by batch size: {shown}"
    )


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--quick", action="store_true", help="fewer rounds and calls")
    args = parser.parse_args(argv)
    settings = QUICK if args.quick else FULL
    distinct = [f"bench/key-{i:06d}".encode() for i in range(KEY_COUNT)]
    keys = list(islice(cycle(distinct), max(settings.calls_64, settings.calls_1)))
    started = time.perf_counter()
    with EtcdServer(unsafe_no_fsync=True) as server:
        with etcdgen.Client(server.endpoint) as loader:
            for key in distinct:
                loader.put(key, b"v" * 64)
        print(f"etcdgen {etcdgen.__version__} read-coalescing benchmark")
        print(
            f"  etcd {server.version} at {server.endpoint}, started with --unsafe-no-fsync:\n"
            "  fsync is OFF because this benchmark measures the client, not the disk."
        )
        print(
            f"  Python {platform.python_version()}, grpcio {grpc.__version__}, "
            f"{os.cpu_count()} CPUs shared by client and server; single-key gets of "
            f"{KEY_COUNT} keys (64 B values); {settings.rounds} rounds of (baseline, ours, "
            "baseline)"
        )
        print("\nasyncio", flush=True)
        comparisons, async_stats = asyncio.run(run_async(server.endpoint, settings, keys))
        print("\nsync (threads)", flush=True)
        sync_comparisons, sync_stats = run_sync(server.endpoint, settings, keys)
        comparisons += sync_comparisons
    print()
    for comparison in comparisons:
        print(comparison.row())
    print()
    print(f"batch sizes, asyncio at {CONCURRENCY} in flight: {distribution(async_stats)}")
    print(f"batch sizes, sync at {CONCURRENCY} threads:      {distribution(sync_stats)}")
    print(
        "\nthroughput: median over rounds of ours / mean(baseline before, after), higher is\n"
        "better; CPU: baseline CPU per get / ours (this process, grpc's threads included).\n"
        "1 in flight: ours / plain time per get (a lone get is a plain Range; lower is better)."
    )
    print(f"\ntotal run time {time.perf_counter() - started:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
