#!/usr/bin/env python3
"""Cost per order as the venue grows: CPU per order and RSS along four axes.

Each point runs in a fresh process: the daemon's in-process pipeline (session
receive_data -> gateway -> engine -> acceptor.send -> data_to_send, memory stores, no
sockets: bench_pipeline's path) set up at that size, then the fix-load order mix (60% limit,
25% cancel, 10% replace, 5% market IOC) sent by the active sessions in turns of
``--batch`` requests, one session per turn round robin, market data flushed after each turn
as the daemon flushes once per event-loop turn.  Prints a table; ``--out DIR`` also writes
DIR/scale.md and DIR/scale.png (matplotlib, the ``tools`` extra).

Axes (one varied at a time, the others at the base: 1 symbol, 1 session, 10 resting
orders seeded per side, 0 subscribers):
  symbols        the orders spread over N symbols (all configured, all traded)
  sessions       N logged-on sessions, each sending its share of the orders
  resting        N resting orders seeded in the traded book (half per side, outside the
                 flow's prices, over up to 2,000 levels per side)
  subscribers    N market-data sessions subscribed to the traded symbol (full depth,
                 incremental, trades included); the CPU of the market data (the gateway's
                 flush, encode, store, queue, drain), per X sent, is printed too; with
                 ``--conflation-ms MS[,MS...]`` (default 10; 0: none) the axis is run again
                 for each MS with server.market_data_conflation_ms = MS (market data flushed
                 after the first turn that starts MS or more after the last flush, as the
                 daemon's timer fires at the first loop pass after the interval)

    python3 tools/bench_scale.py [--orders 20000] [--quick] [--out docs]

The machine is shared and noisy (+-25%): compare the points of one run, not runs.
"""
from __future__ import annotations

import argparse
import json
import random
import subprocess
import sys
import tempfile
import time
from pathlib import Path

AXES = {
    "symbols": (1, 10, 100, 1000, 10000),
    "sessions": (1, 10, 100, 1000),
    "resting": (10, 1000, 100_000, 1_000_000),
    "subscribers": (0, 10, 100, 1000),
}
QUICK_AXES = {
    "symbols": (1, 100),
    "sessions": (1, 20),
    "resting": (10, 2000),
    "subscribers": (0, 5),
}
BASE = {"symbols": 1, "sessions": 1, "resting": 10, "subscribers": 0}
MIX = (("limit", 60), ("cancel", 25), ("replace", 10), ("market", 5))
EXCHANGE = b"FIXEXCH"


def config_text(symbols: int, conflation_ms: int = 0) -> str:
    names = "\n".join(f'[[symbol]]\nname = "S{i}"' for i in range(symbols))
    return f"""
[server]
comp_id = "FIXEXCH"
store = "memory"
market_data_conflation_ms = {conflation_ms}

[accept_any]
enabled = true

[symbol_defaults]
tick_size = "0.01"

{names}
"""


class Client:
    """One FIX client of the in-process pipeline: its connection and its request stream."""

    def __init__(self, comp_id: str) -> None:
        self.comp_id = comp_id.encode()
        self.seq = 1
        self.conn = None
        from fixexchange.codec import TimestampFormatter
        self.format_time = TimestampFormatter().format

    def encode(self, msg_type: bytes, body: list) -> bytes:
        from fixexchange.codec import encode
        header = [(49, self.comp_id), (56, EXCHANGE), (34, self.seq), (52, self.format_time(time.time()))]
        self.seq += 1
        return encode(b"FIX.4.4", msg_type, header + body)


def order_flow(client: Client, count: int, symbols: list[bytes], rng: random.Random) -> list[bytes]:
    """``count`` pre-encoded requests of the fix-load mix around the touch (bids 100-111,
    asks 104-115: mostly passive, some cross)."""
    from fixexchange.codec import format_utc_timestamp
    kinds = [kind for kind, _ in MIX]
    weights = [weight for _, weight in MIX]
    live: list[list] = []
    out = []
    stamp = format_utc_timestamp(time.time())
    for i in range(count):
        kind = rng.choices(kinds, weights)[0] if live else "limit"
        clid = b"%s-%d" % (client.comp_id, i)
        if kind == "limit":
            side = rng.choice((b"1", b"2"))
            cents = rng.randint(10000, 11100) if side == b"1" else rng.randint(10400, 11500)
            price = b"%d.%02d" % divmod(cents, 100)
            qty = rng.randint(1, 20)
            symbol = rng.choice(symbols)
            out.append(client.encode(b"D", [(11, clid), (55, symbol), (54, side), (60, stamp),
                                            (38, qty), (40, b"2"), (44, price), (59, b"0")]))
            live.append([clid, symbol, side, price, qty])
            if len(live) > 2000:
                live.pop(0)
        elif kind == "cancel":
            orig, symbol, side, _, _ = live.pop(rng.randrange(len(live)))
            out.append(client.encode(b"F", [(41, orig), (11, clid), (55, symbol), (54, side), (60, stamp)]))
        elif kind == "replace":
            entry = live[rng.randrange(len(live))]
            orig, symbol, side, price, qty = entry
            entry[0], entry[4] = clid, max(1, qty - 1)
            out.append(client.encode(b"G", [(41, orig), (11, clid), (55, symbol), (54, side), (60, stamp),
                                            (38, entry[4]), (40, b"2"), (44, price)]))
        else:
            out.append(client.encode(b"D", [(11, clid), (55, rng.choice(symbols)),
                                            (54, rng.choice((b"1", b"2"))), (60, stamp),
                                            (38, rng.randint(1, 10)), (40, b"1"), (59, b"3")]))
    return out


def seed_resting(engine, symbol: str, count: int) -> None:
    """``count`` resting orders straight into the engine, half per side, outside the flow's
    prices (bids 30.00-49.99, asks 170.00-189.99), over up to 2,000 levels per side."""
    from fixexchange.engine import NewOrder, OrdType, Side, TimeInForce
    execute = engine.execute
    levels = max(1, min(2000, count // 2))
    for i in range(count):
        level = (i // 2) % levels
        side = Side.BUY if i % 2 == 0 else Side.SELL
        price = 4999 - level if side is Side.BUY else 17000 + level
        execute(NewOrder(symbol, "HOUSE", side, 1 + i % 7, OrdType.LIMIT, price, tif=TimeInForce.GTC))


def rss_bytes() -> int:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    return 0


def run_point(symbols: int, sessions: int, resting: int, subscribers: int, orders: int, batch: int,
              conflation_ms: int = 0) -> dict:
    """One point, in this process: set up, send, measure."""
    from fixexchange.server.config import load_config
    from fixexchange.server.main import build, tune_gc
    from fixexchange.session.events import ApplicationMessage, LoggedOn

    with tempfile.TemporaryDirectory(prefix="bench-scale-") as tmp:
        path = Path(tmp) / "scale.toml"
        path.write_text(config_text(symbols, conflation_ms))
        cfg = load_config(path)
    acceptor, gateway = build(cfg)
    engine = gateway.engine
    tune_gc()
    gateway.defer_market_data = True  # (as the server sets them)
    gateway.conflate_market_data = conflation_ms > 0
    interval = conflation_ms / 1000
    send = acceptor.send
    on_message = gateway.on_message
    now = time.time()

    def deliver(conn, data: bytes, t: float) -> None:
        for event in conn.receive_data(data, t):
            kind = type(event)
            if kind is ApplicationMessage:
                for o in on_message(event.session_id, event.message, t):
                    send(o.session_id, o.msg_type, o.body, t, not o.market_data)
            elif kind is LoggedOn:
                for o in gateway.on_logon(event.session_id, t):
                    send(o.session_id, o.msg_type, o.body, t, not o.market_data)

    def log_on(client: Client) -> None:
        client.conn = acceptor.connection_made(now)
        deliver(client.conn, client.encode(b"A", [(98, 0), (108, 30), (141, b"Y")]), now)
        client.conn.data_to_send()

    names = [f"S{i}" for i in range(symbols)]
    seed_resting(engine, names[0], resting)
    traders = [Client(f"T{i}") for i in range(sessions)]
    watchers = [Client(f"M{i}") for i in range(subscribers)]
    for client in traders + watchers:
        log_on(client)
    for client in watchers:
        deliver(client.conn, client.encode(b"V", [(262, b"md"), (263, b"1"), (264, 0), (265, b"1"),
                                                  (267, 3), (269, b"0"), (269, b"1"), (269, b"2"),
                                                  (146, 1), (55, names[0].encode())]), now)
        client.conn.data_to_send()
    rng = random.Random(1)
    traded = [name.encode() for name in names]
    share = -(-orders // sessions)
    flows = [order_flow(client, share, traded, rng) for client in traders]
    turns = []  # (client, bytes of its next batch) round robin
    for start in range(0, share, batch):
        for client, flow in zip(traders, flows):
            if start < len(flow):
                turns.append((client.conn, b"".join(flow[start:start + batch])))
    sent = sum(len(flow) for flow in flows)
    watcher_conns = [client.conn for client in watchers]
    flush = gateway.flush_market_data
    setup_rss = rss_bytes()
    x_sent = 0
    md_cpu = 0.0
    replies = []
    clock = time.process_time
    flushed_at = 0.0
    t0 = clock()
    for index, (conn, data) in enumerate(turns):
        t = time.time()
        deliver(conn, data, t)
        replies.append(conn.data_to_send())
        if interval and t < flushed_at + interval and index < len(turns) - 1:
            continue  # conflation: the timer is not due yet
        flushed_at = t
        md_start = clock()
        updates = flush()
        if updates:
            for o in updates:
                send(o.session_id, o.msg_type, o.body, t, not o.market_data)
            x_sent += len(updates)
            for watcher in watcher_conns:
                watcher.data_to_send()
        md_cpu += clock() - md_start
    cpu = clock() - t0
    out = b"".join(replies)
    # a sanity check that the run traded rather than bounced: no session-level rejects
    # or logouts, and most requests answered by an ExecutionReport
    if out.count(b"\x0135=3\x01") or out.count(b"\x0135=5\x01") or out.count(b"\x0135=8\x01") < sent * 0.9:
        raise SystemExit(f"bench_scale: the flow did not trade as expected: {out[:2000]!r}")
    return {"symbols": symbols, "sessions": sessions, "resting": resting, "subscribers": subscribers,
            "conflation_ms": conflation_ms, "orders": sent, "cpu_us_per_order": cpu / sent * 1e6,
            "cpu_us_per_x": md_cpu / x_sent * 1e6 if x_sent else None, "x_sent": x_sent,
            "rejected": out.count(b"\x0139=8\x01"),
            "rss_mb": rss_bytes() / 1e6, "setup_rss_mb": setup_rss / 1e6}


def measure(axis: str, value: int, args, conflation_ms: int = 0) -> dict:
    point = dict(BASE, **{axis: value}, conflation_ms=conflation_ms)
    cmd = [sys.executable, __file__, "--point", json.dumps(point), "--orders", str(args.orders),
           "--batch", str(args.batch)]
    result = subprocess.run(cmd, capture_output=True, text=True, timeout=args.timeout)
    if result.returncode != 0:
        raise SystemExit(f"bench_scale: point {point} failed:\n{result.stderr[-3000:]}")
    return dict(json.loads(result.stdout.strip().splitlines()[-1]), axis=axis, series=series_name(axis, conflation_ms))


def series_name(axis: str, conflation_ms: int) -> str:
    return f"{axis}, conflated {conflation_ms} ms" if conflation_ms else axis


def table(rows: list[dict]) -> str:
    lines = ["| axis | value | µs CPU per order | vs first point | RSS MB | X sent per order | µs CPU per X sent |",
             "|---|---:|---:|---:|---:|---:|---:|"]
    first: dict[str, float] = {}
    for r in rows:
        base = first.setdefault(r["series"], r["cpu_us_per_order"])
        per_x = (f"{r['x_sent'] / r['orders']:.3f} | {r['cpu_us_per_x']:.1f}" if r["cpu_us_per_x"] and r["subscribers"]
                 else " | ")
        lines.append(f"| {r['series']} | {r[r['axis']]:,} | {r['cpu_us_per_order']:.1f} | "
                     f"{r['cpu_us_per_order'] / base:.2f} | {r['rss_mb']:.0f} | {per_x} |")
    return "\n".join(lines)


TABLE_START = "<!-- bench_scale.py: generated from here -->\n"
TABLE_END = "<!-- bench_scale.py: generated up to here -->\n"


def write_table(path: Path, generated: str) -> None:
    """The generated part of ``path`` replaced; what is written around it is kept."""
    before, after = "", ""
    if path.exists():
        text = path.read_text()
        start, end = text.find(TABLE_START), text.find(TABLE_END)
        if 0 <= start < end:
            before, after = text[:start], text[end + len(TABLE_END):]
    path.write_text(before + TABLE_START + generated + TABLE_END + after)


def plot(rows: list[dict], path: Path) -> None:
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    fig, panels = plt.subplots(1, len(AXES), figsize=(4 * len(AXES), 3.6), constrained_layout=True)
    for panel, axis in zip(panels, AXES):
        points = [r for r in rows if r["axis"] == axis]
        if not points:
            continue
        plain = [r for r in points if not r["conflation_ms"]]
        xs = [max(r[axis], 0.5) for r in plain]  # (0 subscribers drawn at 0.5 on the log axis)
        panel.plot(xs, [r["cpu_us_per_order"] for r in plain], "o-", color="tab:blue", label="µs CPU / order")
        if axis == "subscribers":
            panel.plot(xs, [r["cpu_us_per_x"] or float("nan") for r in plain], "s--", color="tab:green",
                       label="µs CPU / X sent")
            for ms, color in zip(sorted({r["conflation_ms"] for r in points} - {0}), ("tab:purple", "tab:orange",
                                                                                        "tab:brown", "tab:gray")):
                conflated = [r for r in points if r["conflation_ms"] == ms]
                panel.plot([max(r[axis], 0.5) for r in conflated], [r["cpu_us_per_order"] for r in conflated],
                           "o-", color=color, label=f"µs CPU / order, conflated {ms} ms")
        panel.set_xscale("log")
        panel.set_xlabel(axis)
        panel.set_ylim(bottom=0)
        panel.set_ylabel("µs CPU")
        memory = panel.twinx()
        memory.plot(xs, [r["rss_mb"] for r in plain], "^:", color="tab:red", label="RSS MB")
        memory.set_ylabel("RSS MB", color="tab:red")
        memory.set_ylim(bottom=0)
        lines = panel.get_legend_handles_labels()
        more = memory.get_legend_handles_labels()
        panel.legend(lines[0] + more[0], lines[1] + more[1], fontsize=7, loc="upper left")
    fig.suptitle("fixexchange: cost per order as the venue grows (tools/bench_scale.py)")
    fig.savefig(path, dpi=90)
    plt.close(fig)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--orders", type=int, default=20000, help="requests per point (over all sessions)")
    ap.add_argument("--batch", type=int, default=50, help="requests per session per turn")
    ap.add_argument("--axes", default="all", help="comma-separated, of " + ",".join(AXES))
    ap.add_argument("--quick", action="store_true", help="two small points per axis (a smoke test)")
    ap.add_argument("--out", default=None, help="directory for scale.md and scale.png")
    ap.add_argument("--timeout", type=float, default=900.0, help="seconds per point")
    ap.add_argument("--conflation-ms", default="10", metavar="MS[,MS...]",
                    help="the subscribers axis again with each market_data_conflation_ms (0: not)")
    ap.add_argument("--point", default=None, help=argparse.SUPPRESS)  # (one point, in this process)
    args = ap.parse_args(argv)
    if args.orders < 1 or args.batch < 1:
        ap.error("--orders and --batch must be at least 1")
    try:
        conflation = [int(ms) for ms in args.conflation_ms.split(",") if int(ms)]
    except ValueError:
        conflation = [-1]
    if not all(0 < ms <= 10_000 for ms in conflation):
        ap.error("--conflation-ms: milliseconds, 0 to 10000, comma-separated")
    if args.point is not None:
        point = json.loads(args.point)
        print(json.dumps(run_point(orders=args.orders, batch=args.batch, **point)))
        return 0
    axes = QUICK_AXES if args.quick else AXES
    chosen = list(axes) if args.axes == "all" else args.axes.split(",")
    if not set(chosen) <= set(AXES):
        ap.error(f"--axes: choose from {','.join(AXES)}")
    rows = []
    runs = [(axis, 0) for axis in chosen]
    if "subscribers" in chosen:
        at = runs.index(("subscribers", 0)) + 1
        runs[at:at] = [("subscribers", ms) for ms in conflation]
    for axis, conflation_ms in runs:
        for value in axes[axis]:
            row = measure(axis, value, args, conflation_ms)
            rows.append(row)
            print(f"{row['series']:12s} {value:>9,}  {row['cpu_us_per_order']:7.1f} µs/order  "
                  f"{row['rss_mb']:7.0f} MB" + (f"  {row['cpu_us_per_x']:.1f} µs/X"
                                                 if row["cpu_us_per_x"] and row["subscribers"] else ""),
                  flush=True)
    text = table(rows)
    print(text)
    if args.out:
        out = Path(args.out)
        out.mkdir(parents=True, exist_ok=True)
        write_table(out / "scale.md",
                    f"Generated by `python3 tools/bench_scale.py --orders {args.orders} --batch {args.batch}"
                    f" --conflation-ms {args.conflation_ms}{' --quick' if args.quick else ''}"
                    f"{'' if args.axes == 'all' else ' --axes ' + args.axes} --out {args.out}` on "
                    f"{time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}.\n\n{text}\n")
        plot(rows, out / "scale.png")
    return 0


if __name__ == "__main__":
    sys.exit(main())
