"""``fix-load``: a FIX 4.4 load generator for fixexchange; prints numbers, asserts nothing.

Modes
-----
``orders`` (default)  N sessions send a pre-encoded order mix (limit / cancel / replace /
                      market IOC) with a window of unanswered requests per session; prints
                      orders/s, ExecutionReports/s, round trip p50/p99/max, fix-load's CPU
                      and the daemon's CPU time per order (``/proc/<pid>/stat``).
                      ``--window 1`` measures the round trip with one order in flight.
``--md-subscribers M``  the same, with M extra sessions subscribed (full book, incremental)
                      to the traded symbol(s), reading every update.
``idle``              ``--idle-sessions`` logged-on sessions heartbeating for ``--duration``
                      seconds; prints the daemon's RSS and CPU.

The daemon: ``--start-daemon`` (default when no ``--port`` is given) runs ``fixexchange`` on a
free port with a temporary config (accept-any CompIDs, the bundled symbols and seeded books,
file stores in a temporary directory unless ``--memory-store``); otherwise give ``--host``,
``--port``, ``--pid`` (for the CPU figure) and ``--comp-id``/``--password`` of configured
sessions (``--comp-id CLIENT1,CLIENT2``) or a daemon with accept-any on.

A request is "answered" by the first message carrying its ClOrdID (ExecutionReport New /
Rejected / Canceled / Replaced, or OrderCancelReject) or a Reject / BusinessMessageReject
naming its MsgSeqNum.  Messages are pre-encoded before the clock starts (SendingTime is the
pre-encoding time: runs are far shorter than the 120 s tolerance).
"""
from __future__ import annotations

import argparse
import asyncio
import os
import random
import re
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from ..codec import encode, format_utc_timestamp

BEGIN = b"FIX.4.4"
CLK_TCK = os.sysconf("SC_CLK_TCK")

# one message: its MsgType, and (if present, before the trailer) ClOrdID and RefSeqNum
_FRAME_HEAD = re.compile(rb"8=FIX[^\x01]{0,16}\x019=(\d{1,8})\x0135=([^\x01]*)\x01")
_CLORD = re.compile(rb"\x0111=([^\x01]*)\x01")
_REFSEQ = re.compile(rb"\x0145=(\d+)\x01")
_TESTREQ = re.compile(rb"\x01112=([^\x01]*)\x01")


def split_frames(buf: bytes) -> tuple[list[tuple[bytes, bytes]], int]:
    """``(MsgType, message)`` for each whole message in ``buf``, and the offset where the
    unconsumed rest begins.  Framed by BodyLength, not by scanning every field: a market-data
    subscriber reads kilobytes per X, and this process shares the CPUs with the daemon it
    measures.  A frame without its CheckSum where BodyLength puts it is skipped."""
    frames = []
    pos = 0
    size = len(buf)
    search = _FRAME_HEAD.search
    while True:
        head = search(buf, pos)
        if head is None:
            return frames, max(pos, size - 64)  # (a header may be arriving)
        start = head.start()
        end = head.end(1) + 1 + int(head.group(1)) + 7  # body from after 9=...<SOH>; 10=nnn<SOH>
        if end > size:
            return frames, start
        if buf.startswith(b"10=", end - 7):
            frames.append((head.group(2), buf[start:end]))
            pos = end
        else:
            pos = start + 1


def proc_cpu(pid: int) -> float:
    """utime + stime of ``pid`` in seconds."""
    with open(f"/proc/{pid}/stat", "rb") as f:
        data = f.read()
    fields = data[data.rindex(b")") + 2:].split()
    return (int(fields[11]) + int(fields[12])) / CLK_TCK


def proc_rss(pid: int) -> int:
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    return 0


def pct(sorted_vals: list[float], p: float) -> float:
    if not sorted_vals:
        return float("nan")
    k = min(len(sorted_vals) - 1, max(0, int(round(p / 100 * (len(sorted_vals) - 1)))))
    return sorted_vals[k]


# ----------------------------------------------------------------------------- daemon


class Daemon:
    def __init__(self, args: argparse.Namespace) -> None:
        self.tmp = Path(tempfile.mkdtemp(prefix="fix-load-"))
        bundled = Path(__file__).resolve().parents[2] / "config" / "exchange.toml"
        base = Path(args.config) if args.config else bundled
        text = base.read_text()
        # turn accept-any on, with a wide heartbeat range
        text = re.sub(r"(?m)^enabled = false", "enabled = true", text)
        if args.daemon_busy_poll_us is not None:
            text = re.sub(r"(?m)^busy_poll_us = .*$", "", text)
            text, found = re.subn(r"(?m)^\[server\]$", f"[server]\nbusy_poll_us = {args.daemon_busy_poll_us}",
                                  text, count=1)
            if not found:  # a base config without a [server] table
                text = f"[server]\nbusy_poll_us = {args.daemon_busy_poll_us}\n" + text
        cfg = self.tmp / "load.toml"
        cfg.write_text(text)
        cmd = [sys.executable, "-m", "fixexchange.server.main", "-c", str(cfg), "--port", "0",
               "--store-dir", str(self.tmp / "store"), "--log-dir", str(self.tmp / "log"),
               "--log-level", args.daemon_log_level]
        if args.memory_store:
            cmd.append("--memory-store")
        if args.daemon_no_uvloop:
            cmd.append("--no-uvloop")
        self.proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=None, text=True)
        line = self.proc.stdout.readline()  # type: ignore[union-attr]
        m = re.search(r"listening on [^:]+:(\d+)", line)
        if not m:
            self.proc.kill()
            self.proc.wait()
            shutil.rmtree(self.tmp, ignore_errors=True)
            raise SystemExit(f"fix-load: daemon did not start: {line.strip()!r}")
        self.port = int(m.group(1))
        self.pid = self.proc.pid

    def stop(self) -> int:
        self.proc.terminate()
        try:
            rc = self.proc.wait(10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            rc = self.proc.wait()
        shutil.rmtree(self.tmp, ignore_errors=True)
        return rc


# ----------------------------------------------------------------------------- sessions


class Session(asyncio.Protocol):
    """A minimal initiator: Logon (ResetSeqNumFlag=Y), answers TestRequest, heartbeats on
    demand, and hands application messages to ``on_app`` (raw chunk + parsed spans)."""

    def __init__(self, comp_id: str, target: str, password: str | None, heartbeat: int) -> None:
        self.comp_id = comp_id.encode()
        self.target = target.encode()
        self.password = password
        self.heartbeat = heartbeat
        self.seq = 1
        self.transport: asyncio.Transport | None = None
        self.logged_on = asyncio.get_running_loop().create_future()
        self.closed = asyncio.get_running_loop().create_future()
        self.buf = b""
        self.on_app = None  # callable(list of (MsgType, message)) or None
        self.received = 0
        self.md_received = 0
        self.rejects = 0

    def encode(self, msg_type: bytes, body: list, seq: int | None = None, now: float | None = None) -> bytes:
        if seq is None:
            seq = self.seq
            self.seq += 1
        return encode(BEGIN, msg_type, [(49, self.comp_id), (56, self.target), (34, seq),
                                        (52, format_utc_timestamp(time.time() if now is None else now)), *body])

    def connection_made(self, transport) -> None:
        self.transport = transport
        body = [(98, 0), (108, self.heartbeat), (141, b"Y")]
        if self.password:
            body.append((554, self.password))
        transport.write(self.encode(b"A", body))

    def data_received(self, data: bytes) -> None:
        buf = self.buf + data if self.buf else data
        msgs, end = split_frames(buf)
        self.buf = buf[end:]
        if not msgs:
            return
        self.received += len(msgs)
        app = None
        for m in msgs:
            t, raw = m
            if t == b"A":
                if not self.logged_on.done():
                    self.logged_on.set_result(True)
            elif t == b"1":
                tr = _TESTREQ.search(raw)
                self.transport.write(self.encode(b"0", [(112, tr.group(1))] if tr else []))
            elif t == b"5":
                if not self.logged_on.done():
                    self.logged_on.set_exception(ConnectionError(f"logon refused: {raw!r}"))
            elif t == b"W" or t == b"X":
                self.md_received += 1
            elif t in (b"0", b"2", b"4"):
                if t == b"2":  # we never resend: gap fill everything asked
                    b = re.search(rb"\x017=(\d+)\x01", raw)
                    if b:
                        self.transport.write(self.encode(b"4", [(43, b"Y"), (123, b"Y"), (36, self.seq)], seq=int(b.group(1))))
            else:
                if app is None:
                    app = []
                app.append(m)
        if app and self.on_app is not None:
            self.on_app(app)

    def connection_lost(self, exc) -> None:
        if not self.logged_on.done():
            self.logged_on.set_exception(ConnectionError("connection closed before Logon"))
        if not self.closed.done():
            self.closed.set_result(True)


async def connect(host: str, port: int, comp_id: str, target: str, password: str | None,
                  heartbeat: int = 30) -> Session:
    loop = asyncio.get_running_loop()
    _, s = await loop.create_connection(lambda: Session(comp_id, target, password, heartbeat), host, port)
    await asyncio.wait_for(s.logged_on, 30)
    return s


async def logout_all(sessions: list[Session]) -> None:
    for s in sessions:
        if s.transport is not None and not s.transport.is_closing():
            s.transport.write(s.encode(b"5", []))
    try:
        await asyncio.wait_for(asyncio.gather(*(s.closed for s in sessions)), 5)
    except asyncio.TimeoutError:
        pass
    for s in sessions:
        if s.transport is not None:
            s.transport.close()


# ----------------------------------------------------------------------------- order flow


def build_flow(sess: Session, n: int, symbols: list[str], rng: random.Random, mix: dict,
               first_seq: int, tag: str) -> tuple[bytes, list[int]]:
    """Pre-encode ``n`` requests; returns the concatenated bytes and message end offsets."""
    now = time.time()
    out = []
    offsets = []
    pos = 0
    live: list[tuple[bytes, bytes, bytes, bytes, int]] = []  # (clordid, symbol, side, price, qty)
    kinds = list(mix)
    weights = [mix[k] for k in kinds]
    for i in range(n):
        clid = b"%s-%d" % (tag.encode(), i)
        kind = rng.choices(kinds, weights)[0] if live else "limit"
        seq = first_seq + i
        sym = rng.choice(symbols).encode()
        if kind == "limit":
            side = rng.choice((b"1", b"2"))
            # around the seeded spread (bids 101-105, asks 110-114): mostly passive, some cross
            if side == b"1":
                cents = rng.randint(10000, 11100)
            else:
                cents = rng.randint(10400, 11500)
            price = b"%d.%02d" % divmod(cents, 100)
            qty = rng.randint(1, 20)
            msg = sess.encode(b"D", [(11, clid), (55, sym), (54, side), (60, format_utc_timestamp(now)),
                                     (38, qty), (40, b"2"), (44, price), (59, b"0")], seq=seq, now=now)
            live.append((clid, sym, side, price, qty))
            if len(live) > 2000:
                live.pop(0)
        elif kind == "cancel":
            orig, osym, oside, _, _ = live.pop(rng.randrange(len(live)))
            msg = sess.encode(b"F", [(41, orig), (11, clid), (55, osym), (54, oside),
                                     (60, format_utc_timestamp(now))], seq=seq, now=now)
        elif kind == "replace":
            j = rng.randrange(len(live))
            orig, osym, oside, oprice, oqty = live[j]
            nqty = max(1, oqty - 1)
            msg = sess.encode(b"G", [(41, orig), (11, clid), (55, osym), (54, oside),
                                     (60, format_utc_timestamp(now)), (38, nqty), (40, b"2"),
                                     (44, oprice)], seq=seq, now=now)
            live[j] = (clid, osym, oside, oprice, nqty)
        else:  # market IOC
            side = rng.choice((b"1", b"2"))
            msg = sess.encode(b"D", [(11, clid), (55, sym), (54, side), (60, format_utc_timestamp(now)),
                                     (38, rng.randint(1, 10)), (40, b"1"), (59, b"3")], seq=seq, now=now)
        out.append(msg)
        pos += len(msg)
        offsets.append(pos)
    return b"".join(out), offsets


class Flow:
    """Drives one session: keeps ``window`` requests unanswered until all ``n`` are."""

    def __init__(self, sess: Session, blob: bytes, offsets: list[int], first_seq: int, window: int,
                 tag: str, done: asyncio.Future) -> None:
        self.sess = sess
        self.blob = blob
        self.offsets = offsets
        self.n = len(offsets)
        self.first_seq = first_seq
        self.window = window
        self.prefix = tag.encode() + b"-"
        self.sent = 0
        self.answered = 0
        self.flags = bytearray(self.n)
        self.sent_at = [0.0] * self.n
        self.rtt: list[float] = []
        self.execs = 0
        self.rejects = 0
        self.done = done
        sess.on_app = self.on_app

    def start(self) -> None:
        self._send_upto(min(self.n, self.window))

    def _send_upto(self, upto: int) -> None:
        i = self.sent
        if upto <= i:
            return
        start = self.offsets[i - 1] if i else 0
        self.sess.transport.write(self.blob[start:self.offsets[upto - 1]])
        t = time.perf_counter()
        sent_at = self.sent_at
        for k in range(i, upto):
            sent_at[k] = t
        self.sent = upto

    def on_app(self, msgs: list) -> None:
        t = time.perf_counter()
        flags = self.flags
        prefix = self.prefix
        newly = 0
        for typ, raw in msgs:
            idx = -1
            if typ == b"8" or typ == b"9":
                if typ == b"8":
                    self.execs += 1
                c = _CLORD.search(raw)
                if c is not None and c.group(1).startswith(prefix):
                    try:
                        idx = int(c.group(1)[len(prefix):])
                    except ValueError:
                        idx = -1
            elif typ == b"3" or typ == b"j":
                self.rejects += 1
                r = _REFSEQ.search(raw)
                if r is not None:
                    idx = int(r.group(1)) - self.first_seq
            if 0 <= idx < self.n and not flags[idx]:
                flags[idx] = 1
                newly += 1
                self.rtt.append(t - self.sent_at[idx])
        if newly:
            self.answered += newly
            if self.answered >= self.n:
                if not self.done.done():
                    self.done.set_result(True)
                return
            self._send_upto(min(self.n, self.sent + newly))


MIXES = {
    "default": {"limit": 60, "cancel": 25, "replace": 10, "market": 5},
    "limit": {"limit": 100},
    "passive": {"limit": 50, "cancel": 50},
}


async def run_orders(args: argparse.Namespace, host: str, port: int, pid: int | None,
                     comp_ids: list[str], passwords: list[str | None]) -> dict:
    loop = asyncio.get_running_loop()
    rng = random.Random(args.seed)
    symbols = args.symbols.split(",")
    sessions = []
    for cid, pw in zip(comp_ids, passwords):
        sessions.append(await connect(host, port, cid, args.target, pw))
    md_proc = None
    if args.md_subscribers:
        # the subscribers live in their own process, as real ones would: reading 100 market
        # data streams must not stall this process's order loop
        md_proc = subprocess.Popen(
            [sys.executable, "-m", "fixexchange.cli.load", "md-subscribers", "--host", host, "--port", str(port),
             "--md-subscribers", str(args.md_subscribers), "--symbols", args.symbols, "--prefix", args.prefix,
             "--target", args.target] + (["--md-password", args.md_password] if args.md_password else []),
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        line = await loop.run_in_executor(None, md_proc.stdout.readline)
        if not line.startswith("ready"):
            raise ConnectionError(f"market-data subscribers did not start: {line.strip()!r}")
    per = args.orders // len(sessions)
    flows = []
    for k, s in enumerate(sessions):
        tag = f"L{k}x{rng.randrange(1 << 30)}"
        first_seq = s.seq
        blob, offs = build_flow(s, per, symbols, rng, MIXES[args.mix], first_seq, tag)
        s.seq = first_seq + per
        flows.append(Flow(s, blob, offs, first_seq, args.window, tag, loop.create_future()))
    cpu0 = time.process_time()
    dcpu0 = proc_cpu(pid) if pid else None
    t0 = time.perf_counter()
    for f in flows:
        f.start()
    try:
        await asyncio.wait_for(asyncio.gather(*(f.done for f in flows)), args.timeout)
        complete = True
    except asyncio.TimeoutError:
        complete = False
    wall = time.perf_counter() - t0
    cpu = time.process_time() - cpu0
    dcpu = (proc_cpu(pid) - dcpu0) if pid else None
    md_during = md_cpu = 0
    if md_proc is not None:
        md_proc.stdin.write("stop\n")
        md_proc.stdin.flush()
        out = await loop.run_in_executor(None, md_proc.stdout.readline)
        md_proc.wait(10)
        parts = out.split()
        md_during, md_cpu = int(parts[1]), float(parts[2])
    answered = sum(f.answered for f in flows)
    execs = sum(f.execs for f in flows)
    rejects = sum(f.rejects for f in flows)
    rtt = sorted(x for f in flows for x in f.rtt)
    await logout_all(sessions)
    res = {
        "sessions": len(sessions), "window": args.window, "md_subscribers": args.md_subscribers,
        "orders": answered, "complete": complete, "wall_s": wall,
        "orders_per_s": answered / wall if wall else 0.0,
        "execs_per_s": execs / wall if wall else 0.0, "execs": execs, "rejects": rejects,
        "rtt_p50_us": pct(rtt, 50) * 1e6, "rtt_p99_us": pct(rtt, 99) * 1e6,
        "rtt_max_us": (rtt[-1] * 1e6) if rtt else float("nan"),
        "client_cpu_us_per_order": cpu / answered * 1e6 if answered else float("nan"),
        "daemon_cpu_us_per_order": (dcpu / answered * 1e6) if (dcpu is not None and answered) else None,
        "md_messages": md_during,
        "md_client_cpu_us_per_order": md_cpu / answered * 1e6 if answered else 0.0,
    }
    if pid:
        res["daemon_rss_mb"] = proc_rss(pid) / 1e6
    return res


async def run_idle(args: argparse.Namespace, host: str, port: int, pid: int | None) -> dict:
    loop = asyncio.get_running_loop()
    rss0 = proc_rss(pid) if pid else 0
    sessions: list[Session] = []
    sem = asyncio.Semaphore(100)

    async def one(i: int) -> None:
        async with sem:
            sessions.append(await connect(host, port, f"{args.prefix}IDLE{i + 1}", args.target,
                                          args.md_password, heartbeat=args.heartbeat))

    t0 = time.perf_counter()
    await asyncio.gather(*(one(i) for i in range(args.idle_sessions)))
    logon_s = time.perf_counter() - t0
    dcpu0 = proc_cpu(pid) if pid else None
    end = loop.time() + args.duration
    while loop.time() < end:
        now = time.time()
        for s in sessions:
            s.transport.write(s.encode(b"0", [], now=now))
        await asyncio.sleep(min(args.heartbeat, max(0.0, end - loop.time())))
    dcpu = (proc_cpu(pid) - dcpu0) if pid else None
    rss = proc_rss(pid) if pid else 0
    received = sum(s.received for s in sessions)
    await logout_all(sessions)
    return {"idle_sessions": len(sessions), "logon_s": logon_s, "duration_s": args.duration,
            "heartbeat_s": args.heartbeat, "messages_received": received,
            "daemon_rss_mb": rss / 1e6, "daemon_rss_before_mb": rss0 / 1e6,
            "daemon_cpu_s": dcpu}


async def run_md_subscribers(args: argparse.Namespace) -> None:
    """Hidden mode: log on and subscribe; print "ready" once every snapshot arrived; on a
    line on stdin print "done <messages received since ready> <cpu seconds>" and exit."""
    loop = asyncio.get_running_loop()
    symbols = args.symbols.split(",")
    subs = []
    for j in range(args.md_subscribers):
        s = await connect(args.host, args.port, f"{args.prefix}MD{j + 1}", args.target, args.md_password)
        body = [(262, b"md%d" % j), (263, b"1"), (264, 0), (265, 1), (267, 3), (269, b"0"), (269, b"1"),
                (269, b"2"), (146, len(symbols))]
        for sym in symbols:
            body.append((55, sym))
        s.transport.write(s.encode(b"V", body))
        subs.append(s)
    t_wait = loop.time() + 30
    while loop.time() < t_wait and any(s.md_received < len(symbols) for s in subs):
        await asyncio.sleep(0.01)
    before = sum(s.md_received for s in subs)
    cpu0 = time.process_time()
    print("ready", flush=True)
    await loop.run_in_executor(None, sys.stdin.readline)
    print(f"done {sum(s.md_received for s in subs) - before} {time.process_time() - cpu0:.6f}", flush=True)
    await logout_all(subs)


def fmt_result(r: dict) -> str:
    if "idle_sessions" in r:
        return (f"idle: {r['idle_sessions']} sessions logged on in {r['logon_s']:.2f} s, heartbeating every "
                f"{r['heartbeat_s']} s for {r['duration_s']} s: daemon RSS {r['daemon_rss_mb']:.1f} MB "
                f"(before logons {r['daemon_rss_before_mb']:.1f} MB), daemon CPU {r['daemon_cpu_s'] or 0:.2f} s, "
                f"{r['messages_received']} messages received")
    d = r["daemon_cpu_us_per_order"]
    lines = [
        f"sessions={r['sessions']} window={r['window']} md_subscribers={r['md_subscribers']}"
        + ("" if r["complete"] else "  ** INCOMPLETE (timeout) **"),
        f"  orders answered   {r['orders']} in {r['wall_s']:.3f} s",
        f"  orders/s          {r['orders_per_s']:,.0f}",
        f"  ExecutionReports  {r['execs']} ({r['execs_per_s']:,.0f}/s), rejects {r['rejects']}",
        f"  round trip        p50 {r['rtt_p50_us']:.0f} us  p99 {r['rtt_p99_us']:.0f} us  max {r['rtt_max_us']:.0f} us",
        f"  fix-load CPU      {r['client_cpu_us_per_order']:.1f} us/order",
        f"  daemon CPU        " + (f"{d:.1f} us/order" if d is not None else "n/a (give --pid)"),
    ]
    if r["md_subscribers"]:
        lines.append(f"  market data       {r['md_messages']} messages to {r['md_subscribers']} subscribers "
                     f"(their process: {r['md_client_cpu_us_per_order']:.1f} us CPU/order)")
    if "daemon_rss_mb" in r:
        lines.append(f"  daemon RSS        {r['daemon_rss_mb']:.1f} MB")
    return "\n".join(lines)


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    ap = argparse.ArgumentParser(prog="fix-load", description=__doc__.split("\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("mode", nargs="?", default="orders", choices=("orders", "idle", "md-subscribers"))
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--port", type=int, default=None, help="an already running daemon (else one is started)")
    ap.add_argument("--pid", type=int, default=None, help="pid of that daemon (for its CPU time / RSS)")
    ap.add_argument("--config", default=None, help="config the started daemon is based on (accept-any is turned on)")
    ap.add_argument("--memory-store", action="store_true", help="started daemon: in-memory session stores")
    ap.add_argument("--daemon-log-level", default="WARNING")
    ap.add_argument("--daemon-no-uvloop", action="store_true", help="started daemon: stdlib asyncio loop")
    ap.add_argument("--daemon-busy-poll-us", type=int, default=None,
                    help="started daemon: server.busy_poll_us (latency mode)")
    ap.add_argument("--target", default="FIXEXCH", help="the exchange CompID")
    ap.add_argument("--comp-id", default=None, help="comma-separated client CompIDs (default LOAD1..LOADn via accept-any)")
    ap.add_argument("--password", default=None, help="comma-separated passwords for --comp-id")
    ap.add_argument("--md-password", default=None)
    ap.add_argument("--prefix", default="", help="prefix of generated CompIDs")
    ap.add_argument("-n", "--sessions", type=int, default=1)
    ap.add_argument("--orders", type=int, default=100_000, help="total requests over all sessions")
    ap.add_argument("--window", type=int, default=200, help="unanswered requests per session")
    ap.add_argument("--mix", choices=sorted(MIXES), default="default")
    ap.add_argument("--symbols", default="SYM1", help="comma-separated symbols traded")
    ap.add_argument("--md-subscribers", type=int, default=0)
    ap.add_argument("--idle-sessions", type=int, default=1000)
    ap.add_argument("--heartbeat", type=int, default=5, help="idle mode HeartBtInt (s)")
    ap.add_argument("--duration", type=float, default=15.0, help="idle mode duration (s)")
    ap.add_argument("--timeout", type=float, default=120.0)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--no-uvloop", action="store_true",
                    help="fix-load's own loop: stdlib asyncio even if uvloop is installed (the daemon "
                         "it starts picks its loop itself)")
    args = ap.parse_args(argv)
    # each would leave fix-load waiting for answers that never come, or divide by zero
    for name, value, least in (("--orders", args.orders, 1), ("--window", args.window, 1),
                               ("--sessions", args.sessions, 1), ("--md-subscribers", args.md_subscribers, 0),
                               ("--idle-sessions", args.idle_sessions, 1), ("--heartbeat", args.heartbeat, 1)):
        if value < least:
            ap.error(f"{name} must be at least {least}, got {value}")
    for name, value in (("--duration", args.duration), ("--timeout", args.timeout)):
        if not value > 0:
            ap.error(f"{name} must be positive, got {value}")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    try:
        soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    except (ValueError, OSError):
        pass
    if args.mode == "md-subscribers":  # internal: the subscriber process of --md-subscribers
        asyncio.run(run_md_subscribers(args))
        return 0
    daemon = None
    pid = args.pid
    port = args.port
    if port is None:
        daemon = Daemon(args)
        port = daemon.port
        pid = daemon.pid
        print(f"fix-load: started fixexchange pid {pid} on port {port}"
              f" ({'memory' if args.memory_store else 'file'} stores)", flush=True)
    run = asyncio.run
    if not args.no_uvloop:
        try:
            import uvloop  # type: ignore  # optional

            run = getattr(uvloop, "run", run)
        except ImportError:
            pass
    try:
        if args.mode == "idle":
            res = run(run_idle(args, args.host, port, pid))
        else:
            if args.comp_id:
                comp_ids = args.comp_id.split(",")
                pws = (args.password or "").split(",") if args.password else [None] * len(comp_ids)
                pws += [None] * (len(comp_ids) - len(pws))
            else:
                comp_ids = [f"{args.prefix}LOAD{k + 1}" for k in range(args.sessions)]
                pws = [args.password] * len(comp_ids)
            res = run(run_orders(args, args.host, port, pid, comp_ids, pws))
        print(fmt_result(res), flush=True)
    except (ConnectionError, OSError, asyncio.TimeoutError) as e:
        print(f"fix-load: {type(e).__name__}: {e}", file=sys.stderr)
        return 3
    finally:
        if daemon is not None:
            rc = daemon.stop()
            if rc != 0:
                print(f"fix-load: daemon exited with {rc}", file=sys.stderr)
    return 0 if res.get("complete", True) else 4


if __name__ == "__main__":
    sys.exit(main())
