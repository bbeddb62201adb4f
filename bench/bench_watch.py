"""Watch delivery rate and watcher memory of etcdgen, against the raw gRPC stream and aetcd.

    python bench/bench_watch.py            # full run (about 1-2 minutes)
    python bench/bench_watch.py --quick    # a smoke run

One etcd 3.5.1 on loopback with --unsafe-no-fsync (this measures the client, not
the disk). EVENTS keys are written first; each contender then watches the prefix
from the first of those revisions, so the server streams the history as fast as
it can and the rate is the consumer's: events/s until the last one arrived, and
client CPU per event (`time.process_time()`). "raw" is `channel.stream_stream`
on the generated messages, with no etcdgen runtime. Rounds are paired (raw,
ours, raw) and the median of ours / mean(raw around it) is reported. aetcd runs
beside them when installed (one pass, for scale).

Memory: RSS of this process after one bare client, then after WATCHERS watchers
on distinct keys of that client are created (all on one stream). Nothing here
asserts on time.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import statistics
import time
from collections.abc import Callable

import grpc

import etcdgen
from etcdgen.generated.etcdserverpb import rpc_pb2
from etcdgen.testing import EtcdServer

RATE_TARGET = 0.9  # ours / raw events per second, at least
MEMORY_TARGET_MB = 50.0  # above a bare client, for WATCHERS watchers


def rss_mb() -> float:
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return float("nan")


def fill(endpoint: str, count: int) -> int:
    """Write `count` keys under bench/ in transactions of 100; returns the first revision."""
    with etcdgen.Client(endpoint) as client:
        first = 0
        for start in range(0, count, 100):
            ops = [etcdgen.Op.put(f"bench/{i:07d}", b"v" * 32) for i in range(start, start + 100)]
            reply = client.txn(success=ops)
            first = first or reply.header.revision
        return first


def run_raw(endpoint: str, first: int, count: int) -> tuple[float, float]:
    channel = grpc.insecure_channel(endpoint, options=[("grpc.max_receive_message_length", -1)])
    call = channel.stream_stream(
        "/etcdserverpb.Watch/Watch",
        request_serializer=rpc_pb2.WatchRequest.SerializeToString,
        response_deserializer=rpc_pb2.WatchResponse.FromString,
    )
    create = rpc_pb2.WatchCreateRequest(key=b"bench/", range_end=b"bench0", start_revision=first)
    started, cpu = time.perf_counter(), time.process_time()
    stream = call(iter([rpc_pb2.WatchRequest(create_request=create)]))
    seen = 0
    for response in stream:
        seen += len(response.events)
        if seen >= count:
            break
    elapsed, used = time.perf_counter() - started, time.process_time() - cpu
    stream.cancel()
    channel.close()
    return count / elapsed, used / count


def run_ours(endpoint: str, first: int, count: int) -> tuple[float, float]:
    with etcdgen.Client(endpoint) as client:
        client.get("warm-up")
        started, cpu = time.perf_counter(), time.process_time()
        seen = 0
        with client.watch("bench/", prefix=True, start_revision=first) as watch:
            for response in watch:
                seen += len(response.events)
                if seen >= count:
                    break
        elapsed, used = time.perf_counter() - started, time.process_time() - cpu
    return count / elapsed, used / count


def run_aetcd(endpoint: str, first: int, count: int) -> tuple[float, float] | None:
    try:
        import aetcd
    except ImportError:
        return None
    host, port = endpoint.rsplit(":", 1)

    async def scenario() -> tuple[float, float]:
        async with aetcd.Client(host=host, port=int(port)) as client:
            started, cpu = time.perf_counter(), time.process_time()
            seen = 0
            watch = await client.watch_prefix(b"bench/", start_revision=first)
            async for _event in watch:
                seen += 1
                if seen >= count:
                    break
            await watch.cancel()
            return count / (time.perf_counter() - started), (time.process_time() - cpu) / count

    return asyncio.run(scenario())


def paired(
    rounds: int, raw: Callable[[], tuple[float, float]], ours: Callable[[], tuple[float, float]]
) -> None:
    ratios, cpu_ratios, raw_rates, our_rates, raw_cpu, our_cpu = [], [], [], [], [], []
    for _ in range(rounds):
        before, mine, after = raw(), ours(), raw()
        base_rate = (before[0] + after[0]) / 2
        base_cpu = (before[1] + after[1]) / 2
        ratios.append(mine[0] / base_rate)
        cpu_ratios.append(mine[1] / base_cpu)
        raw_rates.append(base_rate)
        our_rates.append(mine[0])
        raw_cpu.append(base_cpu)
        our_cpu.append(mine[1])
    ratio = statistics.median(ratios)
    print(
        f"  raw    {statistics.median(raw_rates):>10,.0f} events/s  "
        f"{statistics.median(raw_cpu) * 1e6:6.1f} us CPU/event"
    )
    print(
        f"  ours   {statistics.median(our_rates):>10,.0f} events/s  "
        f"{statistics.median(our_cpu) * 1e6:6.1f} us CPU/event"
    )
    verdict = "met" if ratio >= RATE_TARGET else "MISSED"
    print(
        f"  ours/raw rate: median {ratio:.3f} over {rounds} paired rounds "
        f"(target >= {RATE_TARGET}: {verdict}); CPU per event ratio "
        f"{statistics.median(cpu_ratios):.3f}"
    )


def memory(endpoint: str, watchers: int) -> None:
    gc.collect()
    with etcdgen.Client(endpoint) as client:
        client.get("warm-up")
        gc.collect()
        bare = rss_mb()
        handles = [client.watch(f"mem/{i:06d}") for i in range(watchers)]
        hub = client._connection.watches()
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and not all(h._watcher.creations for h in handles):
            time.sleep(0.05)
        created = sum(1 for h in handles if h._watcher.creations)
        gc.collect()
        held = rss_mb()
        above = held - bare
        verdict = "met" if above < MEMORY_TARGET_MB and hub.opens == 1 else "MISSED"
        print(
            f"  {created:,} of {watchers:,} watchers created on {hub.opens} stream(s): RSS "
            f"{bare:.1f} MB bare client -> {held:.1f} MB ({above:+.1f} MB; target under "
            f"{MEMORY_TARGET_MB:.0f} MB on one stream: {verdict})"
        )
        for handle in handles:
            handle.cancel()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args()
    events, rounds, watchers = (5_000, 3, 2_000) if args.quick else (50_000, 5, 10_000)
    print("etcd 3.5.1 on loopback with --unsafe-no-fsync (client cost, not disk)")
    with EtcdServer(version="3.5", unsafe_no_fsync=True) as server:
        first = fill(server.endpoint, events)
        print(f"watch delivery: {events:,} events replayed from history, one prefix watcher")
        paired(
            rounds,
            lambda: run_raw(server.endpoint, first, events),
            lambda: run_ours(server.endpoint, first, events),
        )
        peer = run_aetcd(server.endpoint, first, events)
        if peer is None:
            print("  aetcd: not installed (pip install aetcd to compare)")
        else:
            print(
                f"  aetcd  {peer[0]:>10,.0f} events/s  {peer[1] * 1e6:6.1f} us CPU/event (one pass)"
            )
        print(f"memory of {watchers:,} watchers on distinct keys")
        memory(server.endpoint, watchers)


if __name__ == "__main__":
    main()
