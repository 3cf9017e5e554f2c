"""Market data end to end: a client rebuilds the book from W + X during a random order flow
and compares it with a fresh snapshot; rejects; slow-reader conflation over real FIX."""
from __future__ import annotations

import asyncio
import random
import socket
from datetime import datetime

import pytest
import simplefix

from .fixclient import FixClient, start_server, utc_now


class Book:
    def __init__(self) -> None:
        self.sides: dict[bytes, dict[bytes, bytes]] = {b"0": {}, b"1": {}}
        self.trades: list[tuple[bytes, bytes]] = []

    def state(self, depth: int = 0):
        def top(side, reverse):
            lv = sorted(((float(p), p, q) for p, q in self.sides[side].items()), reverse=reverse)
            lv = [(p, q) for _, p, q in lv]
            return lv[:depth] if depth else lv
        return top(b"0", True), top(b"1", False), self.trades[-200:]


def entries(m: simplefix.FixMessage, start_tag: int):
    """Repeating-group entries after NoMDEntries(268), each starting at ``start_tag``."""
    out, cur, inside = [], None, False
    for tag, value in m.pairs:
        tag = int(tag)
        if tag == 268:
            inside = True
            continue
        if not inside or tag == 10:
            continue
        if tag == start_tag:
            cur = {}
            out.append(cur)
        if cur is not None:
            cur[tag] = value
    return out


def apply_w(book: Book, m) -> None:
    book.sides = {b"0": {}, b"1": {}}
    book.trades = []
    for e in entries(m, 269):
        if e[269] == b"2":
            book.trades.append((e[270], e[271]))
        else:
            book.sides[e[269]][e[270]] = e[271]


def apply_x(books: dict, m) -> None:
    for e in entries(m, 279):
        book = books[e[55]]
        if e[269] == b"2":
            book.trades.append((e[270], e[271]))
            continue
        if e[279] == b"2":
            del book.sides[e[269]][e[270]]
        else:
            if e[279] == b"0":
                assert e[270] not in book.sides[e[269]], f"new for an existing level {e}"
            else:
                assert e[270] in book.sides[e[269]], f"change for a missing level {e}"
            book.sides[e[269]][e[270]] = e[271]


def md_request(req_id: str, symbols: list[str], sub_type: str = "1", depth: int = 0, entry_types=("0", "1", "2")):
    f = [(262, req_id), (263, sub_type), (264, depth)]
    if sub_type == "1":
        f.append((265, "1"))
    f.append((267, len(entry_types)))
    f += [(269, t) for t in entry_types]
    f.append((146, len(symbols)))
    f += [(55, s) for s in symbols]
    return f


async def random_flow(clients: list[FixClient], symbols: list[str], n: int, seed: int, batch: int = 1) -> None:
    """batch 1: each request answered before the next (a reproducible interleaving); larger
    batches let the two sessions' requests interleave as the loop schedules them."""
    rng = random.Random(seed)
    live: dict[FixClient, list] = {c: [] for c in clients}
    pending = {c: 0 for c in clients}
    answered: dict[FixClient, set] = {c: set() for c in clients}  # ClOrdIDs answered so far
    sent = {c: 0 for c in clients}  # requests drained so far
    for i in range(n):
        c = rng.choice(clients)
        sym = rng.choice(symbols)
        r = rng.random()
        if r < 0.25 and live[c]:
            cl, s, side = live[c].pop(rng.randrange(len(live[c])))
            c.send("F", [(41, cl), (11, f"x{i}"), (55, s), (54, side), (60, utc_now())])
        elif r < 0.35:
            c.order(f"o{i}", rng.choice("12"), rng.randint(1, 150), symbol=sym, tif="3")
        else:
            side = rng.choice("12")
            cents = rng.randint(10000, 11300) if side == "1" else rng.randint(10200, 11500)
            price = f"{cents // 100}.{cents % 100:02d}"
            c.order(f"o{i}", side, rng.randint(1, 60), price, symbol=sym)
            live[c].append((f"o{i}", sym, side))
        pending[c] += 1
        if i % batch == batch - 1:
            await drain(pending, answered, sent)
    await drain(pending, answered, sent)


async def drain(pending: dict, answered_by: dict, sent_by: dict) -> None:
    """Read until every request sent so far was answered (one ER/9 per request with our
    ClOrdID; fills of resting orders also arrive)."""
    for c, n in pending.items():
        answered = answered_by[c]
        while len(answered) < sent_by[c] + n:
            m = await c.recv(5)
            if m.get(35) in (b"8", b"9") and m.get(150) != b"F" and m.get(11) not in answered:
                answered.add(m.get(11))
        sent_by[c] += n
        pending[c] = 0


@pytest.mark.parametrize("seed,batch", [(7, 1), (11, 1), (23, 1), (5, 20)])
async def test_rebuilt_book_equals_fresh_snapshot(seed, batch):
    srv = await start_server()
    try:
        md = FixClient("MD")
        await md.logon(srv.port)
        symbols = ["TEST", "SYM1"]
        md.send("V", md_request("full", symbols))
        md.send("V", md_request("top3", ["SYM1"], depth=3, entry_types=("0", "1")))
        books = {b"TEST": Book(), b"SYM1": Book()}
        top3 = Book()
        for _ in range(3):
            w = await md.expect("W")
            if w.get(262) == b"full":
                apply_w(books[w.get(55)], w)
            else:
                apply_w(top3, w)
        c1, c2 = FixClient("C1"), FixClient("C2")
        await c1.logon(srv.port)
        await c2.logon(srv.port)
        await random_flow([c1, c2], symbols, 400, seed=seed, batch=batch)
        # ask for fresh snapshots; everything before them on this session is X
        md.send("V", md_request("snap", symbols, sub_type="0"))
        md.send("V", md_request("snap3", ["SYM1"], sub_type="0", depth=3, entry_types=("0", "1")))
        fresh = {}
        n_x = 0
        while len(fresh) < 3:
            m = await md.recv(5)
            if m.get(35) == b"X":
                n_x += 1
                if m.get(262) == b"full":
                    apply_x(books, m)
                else:
                    apply_x({b"SYM1": top3}, m)
            else:
                assert m.get(35) == b"W", m
                fresh[(m.get(262), m.get(55))] = m
        assert n_x > (50 if batch == 1 else 5)  # a burst of orders in one read: one X
        for sym in (b"TEST", b"SYM1"):
            snap = Book()
            apply_w(snap, fresh[(b"snap", sym)])
            assert books[sym].state() == snap.state()
            assert snap.trades  # the flow traded
        snap3 = Book()
        apply_w(snap3, fresh[(b"snap3", b"SYM1")])
        assert top3.state(3) == snap3.state(3)
        assert len(snap3.sides[b"0"]) <= 3
        for c in (c1, c2, md):
            c.close()
    finally:
        await srv.stop()


async def test_market_data_rejects():
    srv = await start_server()
    try:
        md = FixClient("MD")
        await md.logon(srv.port)
        md.send("V", md_request("u1", ["NOPE"]))
        y = await md.expect("Y", i262="u1")
        assert y.get(281) is not None
        md.send("V", md_request("d1", ["TEST"]))
        await md.expect("W", i262="d1")
        md.send("V", md_request("d1", ["TEST"]))  # duplicate MDReqID
        await md.expect("Y", i262="d1")
        md.send("V", md_request("e1", ["TEST"], entry_types=("0", "B")))  # unsupported entry type
        await md.expect("Y", i262="e1")
        # unsubscribe: no more X for d1
        md.send("V", [(262, "d1"), (263, "2"), (264, 0), (267, 1), (269, "0"), (146, 1), (55, "TEST")])
        c1 = FixClient("C1")
        await c1.logon(srv.port)
        c1.order("p", "1", 1, "100")
        await c1.expect("8", i150="0")
        md.send("x", [(320, "after"), (559, "4")])
        m = await md.recv()
        assert m.get(35) == b"y", f"still got market data after unsubscribe: {m}"
        md.close()
        c1.close()
    finally:
        await srv.stop()


async def test_slow_market_data_reader_conflated_over_fix():
    srv = await start_server(outbound_high_water=8192, outbound_hard_limit=64 * 1024 * 1024)
    try:
        # the slow subscriber: a raw socket with a tiny receive buffer that stops reading
        slow = socket.socket()
        slow.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        slow.connect(("127.0.0.1", srv.port))
        fc = FixClient("MD")
        slow.sendall(fc.build("A", [(98, 0), (108, 30), (141, "Y"), (554, "pw")]))
        slow.sendall(fc.build("V", md_request("s", ["SYM1"])))
        c1 = FixClient("C1")
        await c1.logon(srv.port)
        sid = "FIX.4.4:EX->MD"
        for _ in range(100):
            if sid in srv.by_session:
                break
            await asyncio.sleep(0.01)
        # a small kernel send buffer on the daemon's side of this one connection (no
        # autotuning), so its user-space buffer fills quickly, as with a slow network
        srv.by_session[sid].transport.get_extra_info("socket").setsockopt(
            socket.SOL_SOCKET, socket.SO_SNDBUF, 4096)
        for r in range(100):
            if srv.stats["md_dropped"]:
                break
            # churn the book: add and cancel 100 levels per round
            for k in range(100):
                c1.order(f"a{r}-{k}", "1", 1, f"{100 + k % 5}.{k:02d}", symbol="SYM1")
            for k in range(100):
                c1.send("F", [(41, f"a{r}-{k}"), (11, f"c{r}-{k}"), (55, "SYM1"), (54, "1"), (60, utc_now())])
            n = 0
            while n < 200:
                m = await c1.recv(5)
                if m.get(35) in (b"8", b"9") and m.get(150) != b"F":
                    n += 1
        assert srv.stats["md_dropped"] > 0
        assert "FIX.4.4:EX->MD" in srv.by_session  # not disconnected for market data
        # now drain the slow socket: the last thing it gets is a fresh snapshot W
        slow.setblocking(False)
        parser = simplefix.FixParser()
        msgs = []
        loop = asyncio.get_running_loop()
        deadline = loop.time() + 10
        while loop.time() < deadline:
            try:
                d = slow.recv(1 << 20)
                if not d:
                    break
                parser.append_buffer(d)
                while (m := parser.get_message()) is not None:
                    msgs.append(m)
            except BlockingIOError:
                if msgs and msgs[-1].get(35) == b"W" and len(msgs) > 2:
                    break
                await asyncio.sleep(0.01)
        types = [m.get(35) for m in msgs]
        assert types[0] == b"A" and types[1] == b"W"
        assert types[-1] == b"W" and b"X" in types
        # sequence numbers have no gaps: dropped updates were never sequenced
        seqs = [int(m.get(34)) for m in msgs]
        assert seqs == list(range(1, len(seqs) + 1))
        slow.close()
        c1.close()
    finally:
        await srv.stop()


async def test_market_data_batched_per_loop_turn_and_new_subscriber_consistent():
    """50 orders in one write: the subscriber gets one (or a few) X for the burst, and a
    subscription made in the same burst gets its W after the pending X, never before."""
    # (C1's burst and C2's request come at once: the contended bound would serve the burst
    # 2 a turn, an X each; this test is about batching within a turn)
    srv = await start_server(contended_messages_per_turn=32)
    try:
        md = FixClient("MD")
        await md.logon(srv.port)
        md.send("V", md_request("a", ["SYM1"]))
        book = Book()
        apply_w(book, await md.expect("W", i262="a"))
        c1 = FixClient("C1")
        await c1.logon(srv.port)
        c2 = FixClient("C2")
        await c2.logon(srv.port)
        burst = b"".join(c1.build("D", [(11, f"b{i}"), (55, "SYM1"), (54, "1"), (60, utc_now()), (38, 1),
                                        (40, "2"), (44, f"106.{i:02d}")]) for i in range(50))
        # C2 subscribes in the middle of the same turn: its W must already show the burst
        c1.writer.write(burst)
        c2.send("V", md_request("b", ["SYM1"]))
        await c1.writer.drain()
        n = 0
        while n < 50:
            m = await c1.recv(5)
            if m.get(35) == b"8":
                n += 1
        md.send("V", md_request("s", ["SYM1"], sub_type="0"))
        xs = 0
        while True:
            m = await md.recv(5)
            if m.get(35) == b"W":
                break
            xs += 1
            apply_x({b"SYM1": book}, m)
        snap = Book()
        apply_w(snap, m)
        assert book.state() == snap.state()
        assert 1 <= xs <= 10, xs  # not one per order
        # C2: its W plus whatever X followed equals the same book
        b2 = Book()
        apply_w(b2, await c2.expect("W", i262="b"))
        c2.send("V", md_request("s2", ["SYM1"], sub_type="0"))
        while True:
            m = await c2.recv(5)
            if m.get(35) == b"W":
                break
            apply_x({b"SYM1": b2}, m)
        assert b2.state() == snap.state()
        for c in (md, c1, c2):
            c.close()
    finally:
        await srv.stop()


async def test_market_data_subscriptions_per_session_are_capped():
    from .fixclient import config_dict
    cfg = config_dict()
    cfg["session"][3]["max_market_data_subscriptions"] = 2
    srv = await start_server(cfg)
    try:
        md = FixClient("MD")
        await md.logon(srv.port)
        for req in ("s1", "s2"):
            md.send("V", md_request(req, ["TEST"]))
            await md.expect("W", i262=req)
        md.send("V", md_request("s3", ["SYM1"]))
        y = await md.expect("Y", i262="s3", i281="2")
        assert y.get(58) == (b"more than 2 market-data subscriptions on this session "
                             b"(limit max_market_data_subscriptions): unsubscribe one first")
        md.send("V", md_request("snap", ["TEST"], sub_type="0"))  # a snapshot holds nothing
        await md.expect("W", i262="snap")
        md.send("V", [(262, "s1"), (263, "2"), (264, 0), (267, 1), (269, "0"), (146, 1), (55, "TEST")])
        md.send("V", md_request("s3", ["SYM1"]))  # room again
        await md.expect("W", i262="s3")
        assert srv.gateway.market_data.subscription_count("FIX.4.4:EX->MD") == 2
        md.close()
    finally:
        await srv.stop()


async def test_conflated_market_data_at_most_once_per_interval():
    """market_data_conflation_ms = 40: X messages at least 40 ms apart (by SendingTime; an
    update of many entries comes as several X at once), fewer than the loop turns that
    changed the book, and the rebuilt books (levels and every trade) equal fresh snapshots."""
    srv = await start_server(market_data_conflation_ms=40)
    try:
        md = FixClient("MD")
        await md.logon(srv.port)
        md.send("V", md_request("full", ["SYM1"]))
        md.send("V", md_request("top3", ["SYM1"], depth=3, entry_types=("0", "1")))
        book, top3 = Book(), Book()
        for _ in range(2):
            w = await md.expect("W")
            apply_w(book if w.get(262) == b"full" else top3, w)
        c1, c2 = FixClient("C1"), FixClient("C2")
        await c1.logon(srv.port)
        await c2.logon(srv.port)
        await random_flow([c1, c2], ["SYM1"], 300, seed=3, batch=5)
        md.send("V", md_request("snap", ["SYM1"], sub_type="0"))
        md.send("V", md_request("snap3", ["SYM1"], sub_type="0", depth=3, entry_types=("0", "1")))
        fresh, sent_at, trades = {}, [], 0
        while len(fresh) < 2:
            m = await md.recv(5)
            if m.get(35) == b"X":
                if m.get(262) == b"full":
                    sent_at.append(m.get(52))
                    trades += sum(1 for e in entries(m, 279) if e[269] == b"2")
                apply_x({b"SYM1": book if m.get(262) == b"full" else top3}, m)
            else:
                fresh[m.get(262)] = m
        snap, snap3 = Book(), Book()
        apply_w(snap, fresh[b"snap"])
        apply_w(snap3, fresh[b"snap3"])
        assert book.state() == snap.state() and top3.state(3) == snap3.state(3)
        assert trades == srv.gateway.trade_counts["SYM1"][0] > 0  # every trade, none twice
        # the last X may come early: the snapshot request sends what is pending first
        times = [datetime.strptime(t.decode(), "%Y%m%d-%H:%M:%S.%f") for t in list(dict.fromkeys(sent_at))[:-1]]
        gaps = [(b - a).total_seconds() for a, b in zip(times, times[1:])]
        assert len(sent_at) >= 2 and min(gaps, default=1) >= 0.039, gaps
        assert len(sent_at) < 300 / 5, len(sent_at)
        for c in (c1, c2, md):
            c.close()
    finally:
        await srv.stop()


async def test_conflated_market_data_of_an_operator_cancel_is_sent_too():
    """A book changed outside a read (the operator's cancel-all) reaches conflated subscribers
    by the interval's timer, as net changes: the levels seen at subscribe time are deleted."""
    srv = await start_server(market_data_conflation_ms=20)
    try:
        c1, md = FixClient("C1"), FixClient("MD")
        await c1.logon(srv.port)
        await md.logon(srv.port)
        c1.order("r1", "1", 5, "99.50", symbol="SYM1")
        await c1.expect("8", i150="0")
        md.send("V", md_request("full", ["SYM1"], entry_types=("0", "1")))
        book = Book()
        apply_w(book, await md.expect("W", i262="full"))
        assert b"99.5" in book.sides[b"0"]
        await srv.admin_cancel(symbol="SYM1")
        x = await md.expect("X", i262="full")
        apply_x({b"SYM1": book}, x)
        # every level (ours and the config's seeded ones) deleted, each once
        assert {e[279] for e in entries(x, 279)} == {b"2"} and book.sides == {b"0": {}, b"1": {}}
        for c in (c1, md):
            c.close()
    finally:
        await srv.stop()
