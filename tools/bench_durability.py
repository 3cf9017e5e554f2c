"""Durability benchmarks (issue 11): prints numbers, asserts nothing.

    python tools/bench_durability.py cpu [--orders N] [--rounds R]
        fix-load's daemon CPU per order with the journal disabled and with fsync "off",
        "batch", "always", in one run (interleaved rounds; medians and ratios to disabled)
    python tools/bench_durability.py recovery [--commands N]
        recovery time from a journal of N commands (default 1,000,000): replaying all of it,
        and from a snapshot taken at the end
    python tools/bench_durability.py snapshot [--resting N]
        the matching pause of a snapshot with N resting orders (default 100,000): the fork,
        and for comparison the in-process pickle a platform without fork would pause for
    python tools/bench_durability.py rss [--orders N]
        the daemon's RSS after N orders (default 1,000,000) that leave nothing resting
        (fix-load --mix passive), measured at half and at the end: bytes per finished order
"""
from __future__ import annotations

import argparse
import json
import os
import pickle
import re
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

BUNDLED = ROOT / "config" / "exchange.toml"


def config_with_journal(directory: Path, journal: str, extra_server: str = "") -> Path:
    """The bundled config with [journal] replaced: "disabled" or an fsync policy."""
    text = BUNDLED.read_text()
    block = "[journal]\n" + ("enabled = false\n" if journal == "disabled" else f'fsync = "{journal}"\n') + "\n"
    text = re.sub(r"(?ms)^\[journal\]$.*?(?=^\[)", block, text, count=1)
    if extra_server:
        text = text.replace("[server]\n", "[server]\n" + extra_server, 1)
    path = directory / f"{journal}.toml"
    path.write_text(text)
    return path


def fix_load(config: Path, orders: int, report: Path, extra: list[str] | None = None) -> dict:
    cmd = [sys.executable, "-m", "fixexchange.cli.load", "--orders", str(orders), "--config", str(config),
           "--no-progress", "--report", str(report), *(extra or [])]
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    subprocess.run(cmd, check=True, env=env, stdout=subprocess.DEVNULL)
    return json.loads((report / "report.json").read_text())


def bench_cpu(args) -> None:
    policies = ["disabled", "off", "batch", "always"]
    results: dict[str, list[float]] = {p: [] for p in policies}
    rates: dict[str, list[float]] = {p: [] for p in policies}
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        for round_ in range(args.rounds):
            for policy in policies:  # interleaved: the machine's drift hits every policy alike
                # ("always" waits for the disk once per command: a tenth of the orders)
                orders = args.orders // 10 if policy == "always" else args.orders
                r = fix_load(config_with_journal(tmp, policy), orders, tmp / f"{policy}-{round_}")
                data = r["result"]
                results[policy].append(data["daemon_cpu_us_per_order"])
                rates[policy].append(data["orders_per_s"])
    base = statistics.median(results["disabled"])
    print(f"fix-load --orders {args.orders} (always: {args.orders // 10}; default mix, 1 session, window 200), "
          f"file session stores, "
          f"{args.rounds} interleaved rounds, medians:")
    for policy in policies:
        cpu = statistics.median(results[policy])
        label = "journal disabled" if policy == "disabled" else f'journal fsync="{policy}"'
        print(f"  {label:24} daemon CPU {cpu:6.1f} us/order ({cpu / base:5.2f}x), "
              f"{statistics.median(rates[policy]):8,.0f} orders/s   "
              f"runs: {', '.join(f'{x:.1f}' for x in results[policy])}")


def _cfg(tmp: Path, every: int = 0) -> "object":
    from fixexchange.server.config import load_config

    text = (f'[server]\ncomp_id = "EX"\nstore_dir = "{tmp / "store"}"\nport = 0\n'
            '[[session]]\ntarget_comp_id = "C1"\n[[session]]\ntarget_comp_id = "C2"\n'
            '[[symbol]]\nname = "S1"\n[[symbol]]\nname = "S2"\n[seed]\nbids = []\nasks = []\n'
            f'[journal]\nfsync = "off"\nsnapshot_every_commands = {every}\nsnapshot_every_seconds = 0\n')
    path = tmp / "bench.toml"
    path.write_text(text)
    return load_config(path)


def _messages(count: int, resting: int = 0):
    """FIX requests: `resting` limit orders that stay, then pairs of (limit order, its
    cancel) so nothing else rests."""
    from fixexchange.codec import FixParser, encode

    parser = FixParser()
    stamp = b"20260101-00:00:00.000"
    seq = {"FIX.4.4:EX->C1": 1, "FIX.4.4:EX->C2": 1}

    def message(sid: str, msg_type: bytes, fields: list):
        seq[sid] += 1
        [m] = parser.feed(encode(b"FIX.4.4", msg_type, [(49, b"C"), (56, b"EX"), (34, seq[sid]), (52, stamp),
                                                       *fields]))
        return m

    for i in range(count):
        sid = "FIX.4.4:EX->C1" if i % 4 < 2 else "FIX.4.4:EX->C2"
        side = b"1" if sid.endswith("C1") else b"2"
        price = b"%d" % (90 + i % 7) if side == b"1" else b"%d" % (110 + i % 7)
        if i < resting or i % 2 == 0:
            yield sid, message(sid, b"D", [(11, b"o%d" % i), (55, b"S1"), (54, side), (60, stamp), (38, 10),
                                           (40, b"2"), (44, price), (59, b"1")])
        else:
            yield sid, message(sid, b"F", [(11, b"c%d" % i), (41, b"o%d" % (i - 1)), (55, b"S1"), (54, side),
                                           (60, stamp)])


def _fill(acceptor, sequencer, count: int, resting: int = 0, now: float = 1.767e9) -> None:
    """As the server does: journal + apply, reports stored in the session stores."""
    for i, (sid, m) in enumerate(_messages(count, resting)):
        at = now + i * 1e-5
        for out in sequencer.on_message(sid, m, at):
            if not out[3]:
                acceptor.send(out[0], out[1], out[2], at, True)
    sequencer.durable.commit()
    acceptor.flush_stores()


def bench_recovery(args) -> None:
    from fixexchange.server.main import build

    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        cfg = _cfg(tmp)
        acceptor, sequencer = build(cfg)
        t = time.perf_counter()
        _fill(acceptor, sequencer, args.commands)
        print(f"journal of {args.commands:,} commands (orders and cancels, 2 sessions) written in "
              f"{time.perf_counter() - t:.1f}s; "
              f"{sum(os.path.getsize(p) for p in (tmp / 'store' / 'journal').glob('*.seg')) / 1e6:.0f} MB")
        acceptor.close()
        sequencer.durable.close()
        t = time.perf_counter()
        acceptor, sequencer = build(cfg)
        print(f"  recovery without a snapshot: {time.perf_counter() - t:.2f}s "
              f"({sequencer.durable.recovery['replayed']:,} records replayed)")
        sequencer.durable.start_snapshot()
        sequencer.durable.poll_snapshot(block=True)
        acceptor.close()
        sequencer.durable.close()
        t = time.perf_counter()
        acceptor, sequencer = build(cfg)
        print(f"  recovery from a snapshot at the end: {time.perf_counter() - t:.2f}s "
              f"({sequencer.durable.recovery['replayed']:,} records replayed after it)")
        acceptor.close()
        sequencer.durable.close()


def bench_snapshot(args) -> None:
    from fixexchange.server.main import build

    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        acceptor, sequencer = build(_cfg(tmp))
        _fill(acceptor, sequencer, args.resting, resting=args.resting)
        live = sum(1 for o in sequencer.gateway._orders.values() if not o.final)
        durable = sequencer.durable
        pauses, totals = [], []
        for _ in range(3):
            t = time.perf_counter()
            durable.start_snapshot()
            pauses.append(durable.last_pause)
            durable.poll_snapshot(block=True)
            totals.append(time.perf_counter() - t)
        t = time.perf_counter()
        blob = pickle.dumps(sequencer.gateway, protocol=pickle.HIGHEST_PROTOCOL)
        inline = time.perf_counter() - t
        print(f"snapshot with {live:,} resting orders ({len(blob) / 1e6:.1f} MB):")
        print(f"  matching paused (journal rotate + store flush + fork): "
              f"{', '.join(f'{p * 1000:.1f}' for p in pauses)} ms")
        print(f"  written by the child in: {', '.join(f'{x:.2f}' for x in totals)} s")
        print(f"  (the same state pickled in-process, as without fork: {inline * 1000:.0f} ms)")
        acceptor.close()
        durable.close()


def _rss(pid: int) -> int:
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    return 0


def bench_rss(args) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        cfg = config_with_journal(tmp, "off")
        text = cfg.read_text()
        text = re.sub(r"(?ms)(^\[accept_any\]$.*?^)enabled = false", r"\1enabled = true", text, count=1)
        cfg.write_text(text)
        env = dict(os.environ, PYTHONPATH=str(ROOT))
        proc = subprocess.Popen([sys.executable, "-m", "fixexchange.server.main", "-c", str(cfg), "--port", "0",
                                 "--store-dir", str(tmp / "store"), "--log-dir", str(tmp / "log")],
                                stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, env=env)
        port = int(re.search(r"listening on [^:]+:(\d+)", proc.stdout.readline()).group(1))
        try:
            points = [(0, _rss(proc.pid))]
            step = 100_000  # per fix-load run (a run of 1M would outlast SendingTime's tolerance)
            for i in range(args.orders // step):
                subprocess.run([sys.executable, "-m", "fixexchange.cli.load", "--orders", str(step), "--mix",
                                "passive", "--port", str(port), "--pid", str(proc.pid), "--no-progress",
                                "--timeout", "600", "--comp-id", "RSS", "--seed", str(i + 1)],
                               check=True, env=env, stdout=subprocess.DEVNULL)
                points.append((step * (i + 1), _rss(proc.pid)))
                print(f"  after {points[-1][0]:>9,} requests: {points[-1][1] / 1e6:7.1f} MB", flush=True)
        finally:
            proc.terminate()
            proc.wait()
        half = len(points) // 2
        grow = (points[-1][1] - points[half][1]) / (points[-1][0] - points[half][0])
        print(f"daemon RSS, fix-load --mix passive (limit orders and their cancels), file stores + journal: "
              f"{points[0][1] / 1e6:.1f} MB at start, {points[half][1] / 1e6:.1f} MB after {points[half][0]:,}, "
              f"{points[-1][1] / 1e6:.1f} MB after {points[-1][0]:,}: {grow:.1f} bytes per request over the "
              f"second half")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ap.add_subparsers(dest="what", required=True)
    p = sub.add_parser("cpu")
    p.add_argument("--orders", type=int, default=50_000)
    p.add_argument("--rounds", type=int, default=3)
    p = sub.add_parser("recovery")
    p.add_argument("--commands", type=int, default=1_000_000)
    p = sub.add_parser("snapshot")
    p.add_argument("--resting", type=int, default=100_000)
    p = sub.add_parser("rss")
    p.add_argument("--orders", type=int, default=1_000_000)
    args = ap.parse_args()
    {"cpu": bench_cpu, "recovery": bench_recovery, "snapshot": bench_snapshot, "rss": bench_rss}[args.what](args)


if __name__ == "__main__":
    main()
