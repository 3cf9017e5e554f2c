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

from ..codec import TimestampFormatter, encode
from . import load_report

from fixexchange.codec.tags import (
    ClOrdID,
    EncryptMethod,
    GapFillFlag,
    HeartBtInt,
    MarketDepth,
    MDEntryType,
    MDReqID,
    MDUpdateType,
    MsgSeqNum,
    NewSeqNo,
    NoMDEntryTypes,
    NoRelatedSym,
    OrderQty,
    OrdType,
    OrdTypes,
    OrigClOrdID,
    Password,
    PossDupFlag,
    Price,
    ResetSeqNumFlag,
    SenderCompID,
    SendingTime,
    Side,
    Sides,
    SubscriptionRequestType,
    Symbol,
    TargetCompID,
    TestReqID,
    TimeInForce,
    TimeInForces,
    TransactTime,
)

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
    """The p-th percentile of a short sorted list (the progress line's recent answers)."""
    if not sorted_vals:
        return float("nan")
    k = min(len(sorted_vals) - 1, max(0, int(round(p / 100 * (len(sorted_vals) - 1)))))
    return sorted_vals[k]


# ----------------------------------------------------------------------------- progress


class Progress:
    """The line fix-load keeps up to date on stderr while it runs.  On a terminal it
    rewrites one line and clears it at the end (the results go to stdout, as before);
    elsewhere (``--progress`` into a file or pipe) it prints one line per update."""

    def __init__(self, stream, rewrite: bool) -> None:
        self.stream = stream
        self.rewrite = rewrite
        self.shown = False

    def show(self, text: str) -> None:
        if self.rewrite:
            self.stream.write("\r" + text + "\x1b[K")
        else:
            self.stream.write(text + "\n")
        self.stream.flush()
        self.shown = True

    def close(self) -> None:
        if self.rewrite and self.shown:
            self.stream.write("\r\x1b[K")
            self.stream.flush()


def orders_progress_line(elapsed: float, sent: int, answered: int, total: int, rate: float,
                         recent_sorted: list[float]) -> str:
    """sent, answered, orders/s and p50/p99 of the answers since the last update."""
    if recent_sorted:
        lat = f"p50 {pct(recent_sorted, 50) * 1e6:,.0f} us  p99 {pct(recent_sorted, 99) * 1e6:,.0f} us"
    else:
        lat = "p50 -  p99 -"
    share = f" ({answered / total:.0%})" if total else ""
    return (f"fix-load {elapsed:5.1f} s  sent {sent:,}  answered {answered:,}/{total:,}{share}  "
            f"{rate:,.0f} orders/s  {lat}")


async def report_progress(progress: Progress, flows: list, t0: float, interval: float) -> None:
    """Every `interval` seconds until cancelled: the progress line of the order flows."""
    seen = [0] * len(flows)
    total = sum(f.n for f in flows)
    last_t, last_answered = t0, 0
    while True:
        await asyncio.sleep(interval)
        now = time.perf_counter()
        recent: list[float] = []
        for k, f in enumerate(flows):
            recent += f.rtt[seen[k]:]
            seen[k] = len(f.rtt)
        recent.sort()
        answered = sum(f.answered for f in flows)
        rate = (answered - last_answered) / (now - last_t) if now > last_t else 0.0
        progress.show(orders_progress_line(now - t0, sum(f.sent for f in flows), answered, total,
                                           rate, recent))
        last_t, last_answered = now, answered


# ----------------------------------------------------------------------------- daemon


class Daemon:
    def __init__(self, args: argparse.Namespace) -> None:
        self.tmp = Path(tempfile.mkdtemp(prefix="fix-load-"))
        bundled = Path(__file__).resolve().parents[2] / "config" / "exchange.toml"
        base = Path(args.config) if args.config else bundled
        text = base.read_text()
        # turn accept-any on, with a wide heartbeat range
        # (the one of [accept_any]: [admin] has an `enabled` too, and stays off)
        text = re.sub(r"(?ms)(^\[accept_any\]$.*?^)enabled = false", r"\1enabled = true", text, count=1)
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
        self.format_time = TimestampFormatter().format
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
        return encode(BEGIN, msg_type, [(SenderCompID, self.comp_id), (TargetCompID, self.target), (MsgSeqNum, seq),
                                        (SendingTime, self.format_time(time.time() if now is None else now)),
                                        *body])

    def connection_made(self, transport) -> None:
        self.transport = transport
        body = [(EncryptMethod, 0), (HeartBtInt, self.heartbeat), (ResetSeqNumFlag, b"Y")]
        if self.password:
            body.append((Password, self.password))
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
                self.transport.write(self.encode(b"0", [(TestReqID, tr.group(1))] if tr else []))
            elif t == b"5":
                if not self.logged_on.done():
                    self.logged_on.set_exception(ConnectionError(f"logon refused: {raw!r}"))
            elif t == b"W" or t == b"X":
                self.md_received += 1
            elif t in (b"0", b"2", b"4"):
                if t == b"2":  # we never resend: gap fill everything asked
                    b = re.search(rb"\x017=(\d+)\x01", raw)
                    if b:
                        self.transport.write(self.encode(b"4", [(PossDupFlag, b"Y"), (GapFillFlag, b"Y"),
                                                                (NewSeqNo, self.seq)], seq=int(b.group(1))))
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


# --tls: the client ssl context every connection uses (None: plain TCP)
TLS_CONTEXT = None


async def connect(host: str, port: int, comp_id: str, target: str, password: str | None,
                  heartbeat: int = 30) -> Session:
    loop = asyncio.get_running_loop()
    _, s = await loop.create_connection(lambda: Session(comp_id, target, password, heartbeat), host, port,
                                        ssl=TLS_CONTEXT, server_hostname=host if TLS_CONTEXT else None)
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


# The flow's constant values and fields, built once (a field tuple of two names would be
# built per message, and in Python 3.11 each class attribute read is a lookup)
_SIDES = (Sides.BUY, Sides.SELL)
_BUY = Sides.BUY
_LIMIT_FIELD, _MARKET_FIELD = (OrdType, OrdTypes.LIMIT), (OrdType, OrdTypes.MARKET)
_DAY_FIELD, _IOC_FIELD = (TimeInForce, TimeInForces.DAY), (TimeInForce, TimeInForces.IMMEDIATE_OR_CANCEL)


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
            side = rng.choice(_SIDES)
            # around the seeded spread (bids 101-105, asks 110-114): mostly passive, some cross
            if side == _BUY:
                cents = rng.randint(10000, 11100)
            else:
                cents = rng.randint(10400, 11500)
            price = b"%d.%02d" % divmod(cents, 100)
            qty = rng.randint(1, 20)
            msg = sess.encode(b"D", [(ClOrdID, clid), (Symbol, sym), (Side, side),
                                     (TransactTime, sess.format_time(now)), (OrderQty, qty),
                                     _LIMIT_FIELD, (Price, price), _DAY_FIELD],
                              seq=seq, now=now)
            live.append((clid, sym, side, price, qty))
            if len(live) > 2000:
                live.pop(0)
        elif kind == "cancel":
            orig, osym, oside, _, _ = live.pop(rng.randrange(len(live)))
            msg = sess.encode(b"F", [(OrigClOrdID, orig), (ClOrdID, clid), (Symbol, osym), (Side, oside),
                                     (TransactTime, sess.format_time(now))], seq=seq, now=now)
        elif kind == "replace":
            j = rng.randrange(len(live))
            orig, osym, oside, oprice, oqty = live[j]
            nqty = max(1, oqty - 1)
            msg = sess.encode(b"G", [(OrigClOrdID, orig), (ClOrdID, clid), (Symbol, osym), (Side, oside),
                                     (TransactTime, sess.format_time(now)), (OrderQty, nqty),
                                     _LIMIT_FIELD, (Price, oprice)], seq=seq, now=now)
            live[j] = (clid, osym, oside, oprice, nqty)
        else:  # market IOC
            side = rng.choice(_SIDES)
            msg = sess.encode(b"D", [(ClOrdID, clid), (Symbol, sym), (Side, side),
                                     (TransactTime, sess.format_time(now)), (OrderQty, rng.randint(1, 10)),
                                     _MARKET_FIELD, _IOC_FIELD],
                              seq=seq, now=now)
        out.append(msg)
        pos += len(msg)
        offsets.append(pos)
    return b"".join(out), offsets


class Flow:
    """Drives one session: keeps ``window`` requests unanswered until all ``n`` are."""

    def __init__(self, sess: Session, blob: bytes, offsets: list[int], first_seq: int, window: int,
                 tag: str, done: asyncio.Future, pause: float = 0.0) -> None:
        self.sess = sess
        self.pause = pause  # seconds between an answer and the request it frees (think time)
        self.released = 0  # answers whose pause is over
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
        self.done_at: list[float] = []  # perf_counter() when each rtt[k] was answered
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
                self.done_at.append(t)
        if newly:
            self.answered += newly
            if self.answered >= self.n:
                if not self.done.done():
                    self.done.set_result(True)
                return
            if self.pause:
                asyncio.get_running_loop().call_later(self.pause, self._release, newly)
            else:
                self._send_upto(min(self.n, self.sent + newly))

    def _release(self, answers: int) -> None:
        """``answers`` answers' pause is over: send the requests they free."""
        self.released += answers
        self._send_upto(min(self.n, self.window + self.released))


MIXES = {
    "default": {"limit": 60, "cancel": 25, "replace": 10, "market": 5},
    "limit": {"limit": 100},
    "passive": {"limit": 50, "cancel": 50},
}


async def run_orders(args: argparse.Namespace, host: str, port: int, pid: int | None,
                     comp_ids: list[str], passwords: list[str | None],
                     progress: Progress | None = None) -> tuple[dict, dict]:
    """The numbers fix-load prints, and the pieces of its report (histogram, timeline)."""
    loop = asyncio.get_running_loop()
    rng = random.Random(args.seed)
    symbols = args.symbols.split(",")
    sessions = []
    for cid, pw in zip(comp_ids, passwords):
        sessions.append(await connect(host, port, cid, args.target, pw))
    md_proc = await start_md_subscribers(args, host, port) if args.md_subscribers else None
    per = args.orders // len(sessions)
    flows = []
    for k, s in enumerate(sessions):
        tag = f"L{k}x{rng.randrange(1 << 30)}"
        first_seq = s.seq
        blob, offs = build_flow(s, per, symbols, rng, MIXES[args.mix], first_seq, tag)
        s.seq = first_seq + per
        flows.append(Flow(s, blob, offs, first_seq, args.window, tag, loop.create_future(),
                          args.pause_us / 1e6))
    cpu0 = time.process_time()
    dcpu0 = proc_cpu(pid) if pid else None
    t0 = time.perf_counter()
    for f in flows:
        f.start()
    ticker = None
    if progress is not None:
        ticker = asyncio.ensure_future(report_progress(progress, flows, t0, args.progress_interval))
    try:
        await asyncio.wait_for(asyncio.gather(*(f.done for f in flows)), args.timeout)
        complete = True
    except asyncio.TimeoutError:
        complete = False
    wall = time.perf_counter() - t0
    if ticker is not None:
        await _stop_progress(ticker, progress)
    cpu = time.process_time() - cpu0
    dcpu = (proc_cpu(pid) - dcpu0) if pid else None
    md_during, md_cpu = await stop_md_subscribers(md_proc) if md_proc is not None else (0, 0)
    answered = sum(f.answered for f in flows)
    execs = sum(f.execs for f in flows)
    rejects = sum(f.rejects for f in flows)
    rtt = [x for f in flows for x in f.rtt]
    done_at = [t - t0 for f in flows for t in f.done_at]
    await logout_all(sessions)
    hist = load_report.histogram(rtt)
    lat = load_report.latency_summary(hist)
    nan = float("nan")
    res = {
        "sessions": len(sessions), "window": args.window, "md_subscribers": args.md_subscribers,
        "orders": answered, "complete": complete, "wall_s": wall,
        "orders_per_s": answered / wall if wall else 0.0,
        "execs_per_s": execs / wall if wall else 0.0, "execs": execs, "rejects": rejects,
        "rtt_p50_us": lat.get("p50", nan), "rtt_p90_us": lat.get("p90", nan),
        "rtt_p99_us": lat.get("p99", nan), "rtt_p99_9_us": lat.get("p99.9", nan),
        "rtt_max_us": lat.get("max", nan),
        "client_cpu_us_per_order": cpu / answered * 1e6 if answered else float("nan"),
        "daemon_cpu_us_per_order": (dcpu / answered * 1e6) if (dcpu is not None and answered) else None,
        "md_messages": md_during,
        "md_client_cpu_us_per_order": md_cpu / answered * 1e6 if answered else 0.0,
    }
    if pid:
        res["daemon_rss_mb"] = proc_rss(pid) / 1e6
    return res, {"histogram": hist, "timeline": load_report.timeline(done_at, rtt, wall)}


async def start_md_subscribers(args: argparse.Namespace, host: str, port: int) -> subprocess.Popen:
    """The market-data subscribers, started (and ready: all subscribed) in their own
    process, as real ones would be: reading 100 market data streams must not stall this
    process's order loop."""
    md_proc = subprocess.Popen(
        [sys.executable, "-m", "fixexchange.cli.load", "md-subscribers", "--host", host, "--port", str(port),
         "--md-subscribers", str(args.md_subscribers), "--symbols", args.symbols, "--prefix", args.prefix,
         "--target", args.target] + (["--md-password", args.md_password] if args.md_password else [])
        + (["--tls"] if args.tls else []) + (["--tls-ca", args.tls_ca] if args.tls_ca else []),
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    line = await asyncio.get_running_loop().run_in_executor(None, md_proc.stdout.readline)
    if not line.startswith("ready"):
        raise ConnectionError(f"market-data subscribers did not start: {line.strip()!r}")
    return md_proc


async def stop_md_subscribers(md_proc: subprocess.Popen) -> tuple[int, float]:
    """Stop the subscribers' process: (market data messages it read during the run, its CPU
    seconds)."""
    md_proc.stdin.write("stop\n")
    md_proc.stdin.flush()
    out = await asyncio.get_running_loop().run_in_executor(None, md_proc.stdout.readline)
    md_proc.wait(10)
    parts = out.split()
    return int(parts[1]), float(parts[2])


async def _stop_progress(ticker: asyncio.Future, progress: Progress) -> None:
    ticker.cancel()
    try:
        await ticker
    except asyncio.CancelledError:
        pass
    progress.close()


async def run_idle(args: argparse.Namespace, host: str, port: int, pid: int | None,
                   progress: Progress | None = None) -> dict:
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
        if progress is not None:
            left = max(0.0, end - loop.time())
            progress.show(f"fix-load idle {args.duration - left:5.1f}/{args.duration:g} s  "
                          f"{len(sessions):,} sessions heartbeating"
                          + (f"  daemon RSS {proc_rss(pid) / 1e6:.1f} MB" if pid else ""))
    if progress is not None:
        progress.close()
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
        body = [(MDReqID, b"md%d" % j), (SubscriptionRequestType, b"1"), (MarketDepth, 0), (MDUpdateType, 1),
                (NoMDEntryTypes, 3), (MDEntryType, b"0"), (MDEntryType, b"1"), (MDEntryType, b"2"),
                (NoRelatedSym, len(symbols))]
        for sym in symbols:
            body.append((Symbol, sym))
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
        f"  round trip        p50 {r['rtt_p50_us']:.0f} us  p90 {r['rtt_p90_us']:.0f} us  "
        f"p99 {r['rtt_p99_us']:.0f} us  p99.9 {r['rtt_p99_9_us']:.0f} us  max {r['rtt_max_us']:.0f} us"
        "  (HdrHistogram, 3 digits)",
        f"  fix-load CPU      {r['client_cpu_us_per_order']:.1f} us/order",
        "  daemon CPU        " + (f"{d:.1f} us/order" if d is not None else "n/a (give --pid)"),
    ]
    if r["md_subscribers"]:
        lines.append(f"  market data       {r['md_messages']} messages to {r['md_subscribers']} subscribers "
                     f"(their process: {r['md_client_cpu_us_per_order']:.1f} us CPU/order)")
    if "daemon_rss_mb" in r:
        lines.append(f"  daemon RSS        {r['daemon_rss_mb']:.1f} MB")
    return "\n".join(lines)


EPILOG = """\
examples:
  fix-load                                   100,000 requests, 1 session, window 200, own daemon
  fix-load --orders 300000 -n 10 --report runs/today
  fix-load --window 1 --orders 20000         round trip with one request in flight
  fix-load --md-subscribers 100              ... while 100 sessions read the market data
  fix-load idle --idle-sessions 5000         memory and CPU of idle sessions
  fix-load --port 9878 --pid 1234 --comp-id CLIENT1 --password pass1   a running daemon
  fix-load --compare runs/before runs/today  ratios of two --report runs

While it runs, a progress line (sent, answered, orders/s, p50/p99 of the last interval)
goes to stderr when stderr is a terminal (--progress forces it, one line per update;
--no-progress silences it); the results go to stdout.  Round-trip percentiles come from an
HdrHistogram (1 us resolution, 3 significant digits).  --report DIR writes report.json
(the numbers, the run's parameters, the encoded histogram, throughput and p50/p99 per
time bin), latency.png (the percentile distribution) and timeline.png (throughput and
p50/p99 over the run).

exit codes: 0 done, 2 bad arguments or report, 3 cannot connect, 4 not every request was
  answered within --timeout.
"""


def build_parser() -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(prog="fix-load", description=__doc__.split("\n")[0],
                                 epilog=EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("mode", nargs="?", default="orders", choices=("orders", "idle", "md-subscribers"),
                    help="orders (default): the order mix; idle: logged-on sessions that only "
                         "heartbeat (md-subscribers is fix-load's own helper process)")
    work = ap.add_argument_group("what to send")
    work.add_argument("-n", "--sessions", type=int, default=1, metavar="N",
                      help="order sessions, LOAD1..LOADn (default 1)")
    work.add_argument("--orders", type=int, default=100_000, metavar="N",
                      help="total requests over all sessions (default 100,000)")
    work.add_argument("--window", type=int, default=200, metavar="N",
                      help="unanswered requests per session; 1 measures one round trip at a time "
                           "(default 200)")
    work.add_argument("--pause-us", type=int, default=0, metavar="US",
                      help="wait this long after each answer before sending the request it frees: "
                           "a paced client, e.g. --window 1 --pause-us 2000 for about 500 orders/s "
                           "(default 0)")
    work.add_argument("--mix", choices=sorted(MIXES), default="default",
                      help="default: 60%% limit, 25%% cancel, 10%% replace, 5%% market IOC; "
                           "limit: limit orders only; passive: 50%% limit, 50%% cancel")
    work.add_argument("--symbols", default="SYM1", metavar="SYM[,SYM...]",
                      help="symbols traded, comma-separated (default SYM1)")
    work.add_argument("--md-subscribers", type=int, default=0, metavar="M",
                      help="also M sessions subscribed to the traded symbols' full book, in a "
                           "process of their own (default 0)")
    work.add_argument("--seed", type=int, default=1, help="random seed of the order mix (default 1)")
    work.add_argument("--timeout", type=float, default=120.0, metavar="SECONDS",
                      help="give up waiting for answers after this long (exit 4; default 120)")
    idle = ap.add_argument_group("idle mode")
    idle.add_argument("--idle-sessions", type=int, default=1000, metavar="N",
                      help="sessions logged on (default 1000)")
    idle.add_argument("--heartbeat", type=int, default=5, metavar="SECONDS",
                      help="their HeartBtInt (default 5)")
    idle.add_argument("--duration", type=float, default=15.0, metavar="SECONDS",
                      help="how long they stay (default 15)")
    out = ap.add_argument_group("output")
    out.add_argument("--progress", action=argparse.BooleanOptionalAction, default=None,
                     help="the progress line on stderr (default: only when stderr is a terminal)")
    out.add_argument("--progress-interval", type=float, default=0.5, metavar="SECONDS",
                     help="time between progress updates (default 0.5)")
    out.add_argument("--report", metavar="DIR",
                     help="write report.json, latency.png and timeline.png into DIR (created)")
    out.add_argument("--compare", nargs=2, metavar=("A", "B"),
                     help="run nothing: print the numbers of two --report runs (their DIR or "
                          "report.json) side by side with the ratios B/A")
    conn = ap.add_argument_group("the daemon (one is started on a free port unless --port is given)")
    conn.add_argument("--host", default="127.0.0.1", help="host of a running daemon (default 127.0.0.1)")
    conn.add_argument("--port", type=int, default=None, help="port of a running daemon (else one is started)")
    conn.add_argument("--pid", type=int, default=None, help="pid of that daemon (for its CPU time / RSS)")
    conn.add_argument("--tls", action="store_true", help="connect with TLS (needs --port: a running daemon)")
    conn.add_argument("--tls-ca", default=None, metavar="FILE",
                      help="CA file the exchange's certificate is checked against (default: the system's)")
    conn.add_argument("--target", default="FIXEXCH", metavar="COMPID", help="the exchange's CompID (default FIXEXCH)")
    conn.add_argument("--comp-id", default=None, metavar="ID[,ID...]",
                      help="comma-separated client CompIDs (default LOAD1..LOADn via accept-any)")
    conn.add_argument("--password", default=None, metavar="PW[,PW...]",
                      help="comma-separated passwords for --comp-id, or one for all generated ones")
    conn.add_argument("--md-password", default=None, metavar="PW",
                      help="password of the market-data and idle sessions (default none)")
    conn.add_argument("--prefix", default="", help="prefix of the generated CompIDs (default none)")
    conn.add_argument("--no-uvloop", action="store_true",
                      help="fix-load's own loop: stdlib asyncio even if uvloop is installed (the daemon "
                           "it starts picks its loop itself)")
    started = ap.add_argument_group("a daemon fix-load starts")
    started.add_argument("--config", default=None, metavar="FILE",
                         help="its config (default the bundled config/exchange.toml; accept-any is "
                              "turned on)")
    started.add_argument("--memory-store", action="store_true", help="in-memory session stores")
    started.add_argument("--daemon-log-level", default="WARNING", metavar="LEVEL",
                         help="its --log-level (default WARNING)")
    started.add_argument("--daemon-no-uvloop", action="store_true", help="the stdlib asyncio loop")
    started.add_argument("--daemon-busy-poll-us", type=int, default=None, metavar="US",
                         help="server.busy_poll_us (latency mode)")
    return ap


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    ap = build_parser()
    args = ap.parse_args(argv)
    # each would leave fix-load waiting for answers that never come, or divide by zero
    for name, value, least in (("--orders", args.orders, 1), ("--window", args.window, 1),
                               ("--sessions", args.sessions, 1), ("--pause-us", args.pause_us, 0), ("--md-subscribers", args.md_subscribers, 0),
                               ("--idle-sessions", args.idle_sessions, 1), ("--heartbeat", args.heartbeat, 1)):
        if value < least:
            ap.error(f"{name} must be at least {least}, got {value}")
    for name, value in (("--duration", args.duration), ("--timeout", args.timeout),
                        ("--progress-interval", args.progress_interval)):
        if not value > 0:
            ap.error(f"{name} must be positive, got {value}")
    if args.report is not None:
        if args.mode != "orders":
            ap.error("--report applies to the orders mode")
        missing = load_report.available()
        if missing:
            ap.error(missing)
    if args.tls and args.port is None:
        ap.error("--tls needs --port (a daemon with a TLS listener; the one fix-load starts has none)")
    return args


def run_parameters(args: argparse.Namespace, started_daemon: bool, loop_name: str) -> dict:
    """What a report records about its run (so that two reports can be compared)."""
    keys = ("orders", "sessions", "window", "pause_us", "mix", "symbols", "md_subscribers", "seed", "memory_store",
            "daemon_no_uvloop", "daemon_busy_poll_us")
    run = {key: getattr(args, key) for key in keys}
    run.update(mode=args.mode, started_daemon=started_daemon, fix_load_loop=loop_name)
    return run


def compare_main(a: str, b: str) -> int:
    try:
        lines = load_report.compare(load_report.read(a), load_report.read(b), a, b)
    except load_report.ReportError as exc:
        print(f"fix-load: {exc}", file=sys.stderr)
        return 2
    print("\n".join(lines), flush=True)
    return 0


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args.compare:
        return compare_main(*args.compare)
    try:
        soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    except (ValueError, OSError):
        pass
    if args.tls:
        import ssl

        global TLS_CONTEXT
        try:
            TLS_CONTEXT = ssl.create_default_context(cafile=args.tls_ca)
        except (OSError, ssl.SSLError) as e:
            print(f"fix-load: --tls-ca: {e}", file=sys.stderr)
            return 2
    if args.mode == "md-subscribers":  # internal: the subscriber process of --md-subscribers
        asyncio.run(run_md_subscribers(args))
        return 0
    try:
        load_report.histogram([])
    except ImportError:
        print("fix-load: needs hdrhistogram (pip install 'fixexchange[tools]')", file=sys.stderr)
        return 2
    show = sys.stderr.isatty() if args.progress is None else args.progress
    progress = Progress(sys.stderr, rewrite=sys.stderr.isatty()) if show else None
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
    loop_name = "asyncio"
    if not args.no_uvloop:
        try:
            import uvloop  # type: ignore  # optional

            run = getattr(uvloop, "run", run)
            loop_name = "uvloop"
        except ImportError:
            pass
    res: dict = {}
    try:
        if args.mode == "idle":
            res = run(run_idle(args, args.host, port, pid, progress))
        else:
            if args.comp_id:
                comp_ids = args.comp_id.split(",")
                pws = (args.password or "").split(",") if args.password else [None] * len(comp_ids)
                pws += [None] * (len(comp_ids) - len(pws))
            else:
                comp_ids = [f"{args.prefix}LOAD{k + 1}" for k in range(args.sessions)]
                pws = [args.password] * len(comp_ids)
            res, pieces = run(run_orders(args, args.host, port, pid, comp_ids, pws, progress))
        print(fmt_result(res), flush=True)
        if args.report is not None:
            report = load_report.build(res, run_parameters(args, daemon is not None, loop_name),
                                       pieces["histogram"], pieces["timeline"])
            written = load_report.write(args.report, report)
            print(f"  report            {', '.join(str(p) for p in written)}", flush=True)
    except load_report.ReportError as e:
        print(f"fix-load: {e}", file=sys.stderr)
        return 2
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
