#!/usr/bin/env python3
"""Matching-engine benchmark: prints numbers, asserts nothing.

Flow (seeded): ~60% new limit orders near the touch (about 1 in 8 crossing), 25% cancels,
10% replaces, 5% market/IOC orders, over one symbol.  Prints commands/s through
``Engine.execute`` (the daemon's API) and, on a second line, ``Engine.apply``: the best and
the median of ``--passes`` passes, each on a fresh engine (this VM's speed swings by
+-15% from one minute to the next; the best pass is the one least disturbed, as timeit's
documentation argues); per-command p50/p99 latency (separate timed pass, execute), peak
RSS, and bytes per resting order measured with tracemalloc while 1,000,000 non-crossing
orders rest.

    python tools/bench_engine.py [--commands N] [--passes N] [--resting N] [--seed S] [--profile]
"""

from __future__ import annotations

import argparse
import gc
import random
import resource
import sys
import time
import tracemalloc

from fixexchange.engine import (
    CancelOrder, Engine, NewOrder, OrdType, ReplaceOrder, Side, SymbolSpec, TimeInForce,
)

BUY, SELL = Side.BUY, Side.SELL
SPEC = SymbolSpec("BENCH", price_scale=2, tick=1, lot=1, min_qty=1, max_qty=1_000_000)


def make_flow(n: int, seed: int) -> list:
    rng = random.Random(seed)
    rand = rng.random
    randint = rng.randint
    owners = [f"trader{i}" for i in range(20)]
    commands = []
    mid = 10_000
    next_id = 1  # every generated NewOrder is valid, so ids are predictable
    for _ in range(n):
        r = rand()
        if r < 0.60:
            if rand() < 0.02:
                mid += randint(-1, 1)
            side = BUY if rand() < 0.5 else SELL
            if rand() < 0.125:  # crossing
                price = mid + randint(0, 3) if side is BUY else mid - randint(0, 3)
            else:
                price = mid - 1 - randint(0, 20) if side is BUY else mid + 1 + randint(0, 20)
            commands.append(NewOrder("BENCH", owners[randint(0, 19)], side, randint(1, 20),
                                     OrdType.LIMIT, price))
            next_id += 1
        elif r < 0.85:
            commands.append(CancelOrder(max(1, next_id - 1 - randint(0, 2000))))
        elif r < 0.95:
            target = max(1, next_id - 1 - randint(0, 2000))
            if rand() < 0.5:
                commands.append(ReplaceOrder(target, randint(1, 20)))
            else:
                commands.append(ReplaceOrder(target, randint(1, 20),
                                             mid + randint(-20, 20)))
        else:
            side = BUY if rand() < 0.5 else SELL
            if rand() < 0.5:
                commands.append(NewOrder("BENCH", owners[randint(0, 19)], side, randint(1, 30),
                                         OrdType.MARKET, tif=TimeInForce.IOC))
            else:
                price = mid + 2 if side is BUY else mid - 2
                commands.append(NewOrder("BENCH", owners[randint(0, 19)], side, randint(1, 30),
                                         OrdType.LIMIT, price, tif=TimeInForce.IOC))
            next_id += 1
    return commands


def throughput(commands, api: str = "execute") -> tuple[float, float, int]:
    """(wall seconds, CPU seconds, orders left resting) of one pass on a fresh engine through
    ``Engine.execute`` (flat tuples, what the daemon uses) or ``Engine.apply`` (NamedTuples).
    The timed loop does nothing but call the engine (the events are counted in the latency
    pass).  CPU time is reported too because a shared machine's wall clock includes time
    spent waiting for a core."""
    engine = Engine([SPEC])
    apply = getattr(engine, api)
    gc.collect()
    gc.disable()
    cpu = time.process_time()
    start = time.perf_counter()
    for c in commands:
        apply(c)
    elapsed = time.perf_counter() - start
    cpu = time.process_time() - cpu
    gc.enable()
    return elapsed, cpu, len(engine._orders)


def latencies(commands) -> tuple[list[int], int]:
    """Sorted per-command times (ns) and the number of events."""
    engine = Engine([SPEC])
    apply = engine.execute
    clock = time.perf_counter_ns
    out = []
    events = 0
    gc.disable()
    for c in commands:
        t0 = clock()
        ev = apply(c)
        out.append(clock() - t0)
        events += len(ev)
    gc.enable()
    out.sort()
    return out, events


def bytes_per_resting_order(n: int) -> tuple[float, int]:
    """tracemalloc growth per order while n non-crossing orders rest (commands and events
    are built and dropped inside the loop, so only what the engine keeps is counted)."""
    rng = random.Random(1)
    randint = rng.randint
    owners = [f"trader{i}" for i in range(20)]
    engine = Engine([SPEC])
    gc.collect()
    tracemalloc.start()
    before = tracemalloc.get_traced_memory()[0]
    for i in range(n):
        if i & 1:
            engine.execute(NewOrder("BENCH", owners[i % 20], BUY, randint(1, 20), OrdType.LIMIT,
                                  9_999 - randint(0, 500)))
        else:
            engine.execute(NewOrder("BENCH", owners[i % 20], SELL, randint(1, 20), OrdType.LIMIT,
                                  10_001 + randint(0, 500)))
    after = tracemalloc.get_traced_memory()[0]
    tracemalloc.stop()
    resting = len(engine._orders)
    return (after - before) / resting, resting


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--commands", type=int, default=1_000_000)
    ap.add_argument("--resting", type=int, default=1_000_000)
    ap.add_argument("--seed", type=int, default=20261127)
    ap.add_argument("--passes", type=int, default=3, help="throughput passes per API (best and median)")
    ap.add_argument("--profile", action="store_true", help="cProfile the throughput pass")
    args = ap.parse_args(argv)
    if args.commands < 1 or args.passes < 1:
        ap.error("--commands and --passes must be at least 1")

    commands = make_flow(args.commands, args.seed)
    print(f"python {sys.version.split()[0]}, {len(commands):,} commands, seed {args.seed}")
    if args.profile:
        import cProfile
        import pstats
        cProfile.runctx("throughput(commands)", globals(), {"commands": commands}, "/tmp/bench_engine.prof")
        pstats.Stats("/tmp/bench_engine.prof").sort_stats("tottime").print_stats(15)
        return 0
    n = len(commands)
    for api, note in (("execute", "flat-tuple events, the daemon's API"), ("apply", "NamedTuple events")):
        runs = sorted((throughput(commands, api) for _ in range(args.passes)), key=lambda r: r[1])
        best_wall, best_cpu, resting = runs[0]
        median_cpu = runs[len(runs) // 2][1]
        print(f"throughput ({api}): best {n / best_cpu:,.0f}, median {n / median_cpu:,.0f} "
              f"commands/s CPU of {len(runs)} passes on fresh engines "
              f"(best pass {n / best_wall:,.0f}/s wall; {note}; {resting:,} orders left resting)")
    lat, events = latencies(commands)
    p = lambda q: lat[min(len(lat) - 1, int(q * len(lat)))] / 1000  # noqa: E731
    print(f"latency per command: p50 {p(0.50):.2f} us, p99 {p(0.99):.2f} us, "
          f"p99.9 {p(0.999):.2f} us, max {lat[-1] / 1000:.0f} us ({events:,} events)")
    del commands, lat
    if args.resting:
        per_order, resting = bytes_per_resting_order(args.resting)
        print(f"memory: {per_order:,.0f} bytes per resting order ({resting:,} resting, tracemalloc)")
    peak_kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    print(f"peak RSS: {peak_kib / 1024:,.0f} MiB")
    return 0


if __name__ == "__main__":
    sys.exit(main())
