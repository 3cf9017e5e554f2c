"""Crash test over real sockets: a daemon process on a file journal, two sessions pipelining
random orders, cancels and replaces on several symbols, killed with SIGKILL at random points
(snapshots every few hundred commands, so some kills land while one is being written) and
stopped with SIGTERM; after each restart the clients log on WITHOUT reset, recover what they
missed by ResendRequest, and check the exchange against what it acknowledged:

- every order acknowledged and live answers OrderStatusRequest with the same leaves/cum;
- a market-data snapshot (W) equals the acknowledged live orders, level by level;
- no ExecID stands for two different reports, no OrderID for two orders;
- every request the exchange read was answered (the rest it asked for and we gap-filled);
- cancels of orders from before the restart work, and trading goes on.
"""
from __future__ import annotations

import asyncio
import os
import random
import signal
import subprocess
import sys
from collections import defaultdict
from decimal import Decimal
from pathlib import Path

import pytest
import simplefix

from .fixclient import utc_now

ROOT = Path(__file__).resolve().parents[2]
SYMBOLS = ("S1", "S2", "S3")

CONFIG = """
[server]
host = "127.0.0.1"
port = 0
comp_id = "EX"
gtd_interval = 0.3
logout_timeout = 1.0
busy_poll_us = 0
[session_defaults]
heartbeat_min = 1
stp = "none"
[[session]]
target_comp_id = "C1"
password = "pw"
[[session]]
target_comp_id = "C2"
password = "pw"
[[symbol]]
name = "S1"
[[symbol]]
name = "S2"
[[symbol]]
name = "S3"
[seed]
bids = []
asks = []
[journal]
fsync = "off"
snapshot_every_commands = 250
snapshot_every_seconds = 0
"""


class Order:
    __slots__ = ("order_id", "cl", "symbol", "side", "price", "leaves", "cum", "status")

    def __init__(self, order_id, cl, symbol, side):
        self.order_id, self.cl, self.symbol, self.side = order_id, cl, symbol, side
        self.price = None
        self.leaves = self.cum = 0
        self.status = b"0"

    @property
    def live(self) -> bool:
        return self.status in (b"0", b"1", b"5", b"A", b"E")


class Client:
    """A FIX initiator that keeps its state across daemon restarts: sequence numbers both
    ways (in-order processing, gap detection, ResendRequest, gap fill of what the exchange
    asks us to resend), every report by ExecID and every order by OrderID."""

    def __init__(self, comp_id: str, exec_ids: dict, order_ids: dict) -> None:
        self.comp_id = comp_id
        self.out_seq = 1
        self.in_seq = 1
        self.pending: dict[int, simplefix.FixMessage] = {}
        self.resend_asked = False
        self.exec_ids = exec_ids  # shared by both clients: ExecIDs are exchange-wide
        self.order_ids = order_ids
        self.orders: dict[bytes, Order] = {}  # by OrderID
        self.by_cl: dict[bytes, Order] = {}  # every ClOrdID an order carried
        self.requests: dict[bytes, int] = {}  # ClOrdID of a request -> its MsgSeqNum, until answered
        self.gap_filled: set[int] = set()  # our numbers the exchange never read
        self.cl_counter = 0
        self.sync_seen: set[bytes] = set()
        self.status_answers: dict[bytes, simplefix.FixMessage] = {}
        self.md: dict[bytes, simplefix.FixMessage] = {}
        self.reader = self.writer = None
        self.parser = simplefix.FixParser()
        self.task: asyncio.Task | None = None
        self.closed = asyncio.Event()
        self.last: list = []

    # -- wire --------------------------------------------------------------------------------
    def build(self, msg_type, fields, seq=None, poss_dup=False) -> bytes:
        m = simplefix.FixMessage()
        m.append_pair(8, "FIX.4.4", header=True)
        m.append_pair(35, msg_type, header=True)
        m.append_pair(49, self.comp_id, header=True)
        m.append_pair(56, "EX", header=True)
        m.append_pair(34, self.out_seq if seq is None else seq, header=True)
        now = utc_now()
        m.append_pair(52, now, header=True)
        if poss_dup:
            m.append_pair(43, "Y", header=True)
            m.append_pair(122, now, header=True)
        for tag, value in fields:
            m.append_pair(tag, value)
        if seq is None:
            self.out_seq += 1
        return m.encode()

    def send(self, msg_type, fields) -> int:
        seq = self.out_seq
        self.writer.write(self.build(msg_type, fields))
        return seq

    async def connect(self, port: int) -> None:
        self.reader, self.writer = await asyncio.open_connection("127.0.0.1", port)
        self.parser = simplefix.FixParser()
        self.pending.clear()
        self.resend_asked = False
        self.closed.clear()
        self.send("A", [(98, 0), (108, 30), (554, "pw")])
        self.task = asyncio.ensure_future(self.read_loop())

    async def read_loop(self) -> None:
        try:
            while True:
                data = await self.reader.read(65536)
                if not data:
                    break
                self.parser.append_buffer(data)
                while (m := self.parser.get_message()) is not None:
                    self.receive(m)
        except (ConnectionError, OSError):
            pass
        finally:
            self.closed.set()

    def receive(self, m) -> None:
        self.last = (self.last + [m])[-10:]
        seq = int(m.get(34))
        msg_type = m.get(35)
        if msg_type == b"5" and seq > self.in_seq:
            return  # a Logout (e.g. shutdown) while a resend is outstanding: the connection ends
        if msg_type == b"4" and m.get(123) != b"Y":  # SequenceReset-Reset
            self.in_seq = int(m.get(36))
            return
        if seq < self.in_seq:
            assert m.get(43) == b"Y", f"{self.comp_id}: sequence {seq} below {self.in_seq} without PossDupFlag: {m}"
            if msg_type == b"8":
                self.check_exec_id(m)
            return
        if seq > self.in_seq:
            self.pending[seq] = m
            if msg_type == b"A":
                self.handle(m)  # a Logon is acted upon at once; its number comes with the resend
            if not self.resend_asked:
                self.resend_asked = True
                self.writer.write(self.build("2", [(7, self.in_seq), (16, 0)]))
            return
        self.take(m, seq)
        while self.in_seq in self.pending:
            nxt = self.pending.pop(self.in_seq)
            if nxt.get(35) == b"A":
                self.in_seq += 1
            else:
                self.take(nxt, self.in_seq)
        for stale in sorted(s for s in self.pending if s < self.in_seq):
            # admin messages a gap fill covered (they are never resent): act on them still
            # (our TestRequest's Heartbeat, the exchange's own ResendRequest)
            m = self.pending.pop(stale)
            if m.get(35) in (b"0", b"1", b"2"):
                self.handle(m)
        if not self.pending:
            self.resend_asked = False

    def take(self, m, seq: int) -> None:
        self.handle(m)
        if m.get(35) == b"4":  # gap fill
            self.in_seq = max(seq + 1, int(m.get(36)))
        else:
            self.in_seq = seq + 1

    def handle(self, m) -> None:
        msg_type = m.get(35)
        if msg_type == b"1":
            self.writer.write(self.build("0", [(112, m.get(112))]))
        elif msg_type == b"0" and m.get(112) is not None:
            self.sync_seen.add(m.get(112))
        elif msg_type == b"2":  # the exchange never read these: they were not executed
            begin, end = int(m.get(7)), int(m.get(16))
            end = self.out_seq - 1 if end == 0 else end
            self.gap_filled.update(range(begin, end + 1))
            self.writer.write(self.build("4", [(123, "Y"), (36, end + 1)], seq=begin, poss_dup=True))
        elif msg_type == b"8":
            self.report(m)
        elif msg_type == b"9":
            self.requests.pop(m.get(11), None)
        elif msg_type == b"j":
            if m.get(379) is not None:
                self.requests.pop(m.get(379), None)
        elif msg_type == b"W":
            self.md[m.get(262)] = m

    def check_exec_id(self, m) -> tuple:
        key = (m.get(37), m.get(11), m.get(150), m.get(39), m.get(14), m.get(151), m.get(32), m.get(31))
        seen = self.exec_ids.setdefault(m.get(17), key)
        assert seen == key, f"ExecID {m.get(17)!r} stands for two reports: {seen} and {key}"
        return key

    def report(self, m) -> None:
        self.check_exec_id(m)
        cl = m.get(11)
        self.requests.pop(cl, None)
        exec_type = m.get(150)
        if exec_type == b"I":
            self.status_answers[cl] = m
            return
        order_id = m.get(37)
        if order_id == b"NONE":
            return
        origin = (m.get(55), m.get(54), self.comp_id)
        assert self.order_ids.setdefault(order_id, origin) == origin, f"OrderID {order_id!r} reused"
        order = self.orders.get(order_id)
        if order is None:
            order = self.orders[order_id] = Order(order_id, cl, m.get(55), m.get(54))
        order.cl = cl
        self.by_cl[cl] = order
        order.price = m.get(44)
        order.leaves = int(m.get(151))
        order.cum = int(m.get(14))
        order.status = m.get(39)

    # -- requests ----------------------------------------------------------------------------
    def next_cl(self, kind: str) -> bytes:
        self.cl_counter += 1
        return f"{self.comp_id}-{kind}{self.cl_counter}".encode()

    def random_request(self, rng: random.Random) -> None:
        live = [o for o in self.orders.values() if o.live]
        roll = rng.random()
        if live and roll < 0.2:
            order = rng.choice(live)
            cl = self.next_cl("c")
            self.requests[cl] = self.send("F", [(11, cl), (41, order.cl), (55, order.symbol), (54, order.side),
                                                (60, utc_now())])
        elif live and roll < 0.35:
            order = rng.choice(live)
            cl = self.next_cl("r")
            self.requests[cl] = self.send("G", [(11, cl), (41, order.cl), (55, order.symbol), (54, order.side),
                                                (60, utc_now()), (38, rng.randint(1, 20)), (40, 2),
                                                (44, 100 + rng.randint(-5, 5))])
        else:
            cl = self.next_cl("n")
            self.requests[cl] = self.send("D", [(11, cl), (55, rng.choice(SYMBOLS)), (54, rng.choice("12")),
                                                (60, utc_now()), (38, rng.randint(1, 20)), (40, 2),
                                                (44, 100 + rng.randint(-5, 5)), (59, 1)])

    async def sync(self, name: str, timeout: float = 15.0) -> None:
        """Until every message the exchange sent before our TestRequest is processed, in order.
        (Asked again now and then: a TestRequest sent while the exchange was asking us for a
        resend is covered by our gap fill and never read.)"""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        attempt = 0
        while True:
            attempt += 1
            token = f"{name}.{attempt}".encode()
            self.send("1", [(112, token)])
            again = loop.time() + 1.0
            while token not in self.sync_seen:
                assert loop.time() < deadline, (
                    f"{self.comp_id}: no answer to {name}: expecting {self.in_seq}, holding "
                    f"{sorted(self.pending)[:5]}..., resend asked {self.resend_asked}, last received "
                    f"{[str(m) for m in self.last[-4:]]}")
                if loop.time() > again:
                    break
                await asyncio.sleep(0.01)
            else:
                return


def spawn(directory: Path) -> tuple[subprocess.Popen, int]:
    env = dict(os.environ, PYTHONPATH=str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", ""))
    proc = subprocess.Popen([sys.executable, "-m", "fixexchange.server.main", "-c", "ex.toml", "--no-uvloop"],
                            cwd=directory, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    line = proc.stdout.readline()
    assert "listening on 127.0.0.1:" in line, (line, proc.stderr.read() if proc.poll() is not None else "")
    return proc, int(line.split("listening on 127.0.0.1:")[1].split()[0])


async def verify(clients: list[Client], cycle: int) -> None:
    for c in clients:
        await c.sync(f"sync{cycle}")
        # every request the exchange read was answered; the others it asked for, and we
        # gap-filled them: they never ran
        unanswered = {cl: seq for cl, seq in c.requests.items() if seq not in c.gap_filled}
        assert not unanswered, f"{c.comp_id}: requests read but never answered: {unanswered}"
        c.requests.clear()
    # every acknowledged live order, and a sample of final ones, answers a status request as we know it
    for c in clients:
        checked = [o for o in c.orders.values() if o.live]
        checked += [o for o in c.orders.values() if not o.live][:20]
        for o in checked:
            c.send("H", [(11, o.cl), (37, o.order_id), (55, o.symbol), (54, o.side)])
        await c.sync(f"status{cycle}")
        for o in checked:
            answer = c.status_answers.pop(o.cl)
            assert (answer.get(37), int(answer.get(151)), int(answer.get(14)), answer.get(39)) == \
                (o.order_id, o.leaves, o.cum, o.status), (c.comp_id, o.cl, str(answer))
    # market data equals the acknowledged live orders
    md = clients[0]
    for symbol in SYMBOLS:
        md.send("V", [(262, f"{symbol}-{cycle}"), (263, 0), (264, 0), (267, 2), (269, 0), (269, 1),
                      (146, 1), (55, symbol)])
    await md.sync(f"md{cycle}")
    for symbol in SYMBOLS:
        w = md.md.pop(f"{symbol}-{cycle}".encode())
        book = defaultdict(int)
        entries = [(tag, value) for tag, value in w.pairs if tag in (b"269", b"270", b"271")]
        for i in range(0, len(entries), 3):
            (_, entry_type), (_, price), (_, size) = entries[i:i + 3]
            book[(entry_type, Decimal(price.decode()))] += int(size)
        expected = defaultdict(int)
        for c in clients:
            for o in c.orders.values():
                if o.live and o.symbol == symbol.encode() and o.leaves:
                    expected[(b"0" if o.side == b"1" else b"1", Decimal(o.price.decode()))] += o.leaves
        assert dict(book) == dict(expected), (symbol, dict(book), dict(expected))


@pytest.mark.parametrize("fsync", ["off", "batch"])
async def test_kill_9_at_random_points_and_sigterm_lose_nothing_acknowledged(tmp_path, fsync):
    (tmp_path / "ex.toml").write_text(CONFIG.replace('fsync = "off"', f'fsync = "{fsync}"'))
    rng = random.Random(int(os.environ.get("CRASH_SEED", "11")))
    exec_ids: dict = {}
    order_ids: dict = {}
    clients = [Client("C1", exec_ids, order_ids), Client("C2", exec_ids, order_ids)]
    cycles = ["kill"] * 5 + ["term", "kill", "term"]
    snapshots_seen = 0
    proc = None
    try:
        for cycle, how in enumerate(cycles):
            proc, port = spawn(tmp_path)
            for c in clients:
                await c.connect(port)
            if cycle:
                await verify(clients, cycle)
                # cancels of orders from before the restart work
                for c in clients:
                    old = [o for o in c.orders.values() if o.live][:2]
                    for o in old:
                        cl = c.next_cl("x")
                        c.requests[cl] = c.send("F", [(11, cl), (41, o.cl), (55, o.symbol), (54, o.side),
                                                      (60, utc_now())])
                    await c.sync(f"cancel{cycle}")
                    for o in old:
                        assert o.status == b"4", (c.comp_id, o.cl, o.status)
            # trading goes on: pipelined random requests, then a kill at a random point
            burst_until = asyncio.get_running_loop().time() + rng.uniform(0.2, 0.6)
            while asyncio.get_running_loop().time() < burst_until:
                for c in clients:
                    for _ in range(rng.randint(1, 30)):
                        c.random_request(rng)
                await asyncio.sleep(rng.uniform(0, 0.01))
            snapshots_seen = len(list((tmp_path / "var" / "store" / "journal").glob("snapshot-*.snap")))
            if how == "kill":
                proc.send_signal(signal.SIGKILL)
            else:
                proc.send_signal(signal.SIGTERM)
            code = await asyncio.get_running_loop().run_in_executor(None, proc.wait, 15)
            err = proc.stderr.read()
            assert code == (0 if how == "term" else -signal.SIGKILL), err
            assert "Traceback" not in err, err
            for c in clients:
                await asyncio.wait_for(c.closed.wait(), 5)
                c.writer.close()
        # a last start: everything checked once more
        proc, port = spawn(tmp_path)
        for c in clients:
            await c.connect(port)
        await verify(clients, len(cycles))
        assert snapshots_seen, "no snapshot was taken: the test did not cover recovery from one"
        assert sum(len(c.orders) for c in clients) > 500  # enough traffic to mean something
        assert any(o.cum for c in clients for o in c.orders.values())  # and trades among it
    finally:
        if proc is not None and proc.poll() is None:
            proc.kill()
            proc.wait()
