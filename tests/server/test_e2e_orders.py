"""End to end over loopback: simplefix clients -> fixexchange (in-process) -> ExecutionReports.
The worked examples of the engine issue, cancel/replace/status/mass cancel, rejects."""
from __future__ import annotations

from decimal import Decimal

import pytest

from .fixclient import FixClient, start_server


@pytest.fixture
async def srv():
    s = await start_server()
    yield s
    await s.stop()


@pytest.fixture
async def c1(srv):
    c = FixClient("C1")
    await c.logon(srv.port)
    yield c
    c.close()


def D(m, tag) -> Decimal:
    return Decimal(m.get(tag).decode())


async def test_buy_market_20_sweeps_two_levels(c1):
    c1.order("m1", "1", 20)
    new = await c1.expect("8", i150="0", i39="0", i11="m1")
    f1 = await c1.expect("8", i150="F", i11="m1")
    assert D(f1, 31) == 108 and D(f1, 32) == 8 and f1.get(39) == b"1"
    assert D(f1, 14) == 8 and D(f1, 151) == 12
    f2 = await c1.expect("8", i150="F", i11="m1", i39="2")
    assert D(f2, 31) == 110 and D(f2, 32) == 12 and D(f2, 151) == 0 and D(f2, 14) == 20
    assert D(f2, 6) == Decimal("109.2")
    assert new.get(37) == f1.get(37) == f2.get(37)
    assert len({new.get(17), f1.get(17), f2.get(17)}) == 3


async def test_buy_limit_109x15_fills_8_rests_7(c1):
    c1.order("l1", "1", 15, "109")
    await c1.expect("8", i150="0", i11="l1")
    f = await c1.expect("8", i150="F", i39="1")
    assert D(f, 31) == 108 and D(f, 32) == 8 and D(f, 151) == 7 and D(f, 44) == 109
    c1.send("H", [(37, f.get(37)), (11, "l1"), (55, "TEST"), (54, "1")])
    st = await c1.expect("8", i150="I", i39="1", i11="l1")
    assert D(st, 151) == 7 and D(st, 14) == 8


async def test_buy_limit_106_rests_without_trade(c1):
    c1.order("r1", "1", 5, "106")
    n = await c1.expect("8", i150="0", i39="0")
    assert D(n, 151) == 5 and D(n, 14) == 0
    c1.order("r2", "2", 1, "120")  # something after: no fill came for r1 in between
    await c1.expect("8", i150="0", i11="r2")


async def test_cancel_replace_status_mass_cancel(c1):
    c1.order("a", "1", 10, "100.5")
    a = await c1.expect("8", i150="0", i11="a")
    oid = a.get(37)
    # replace: quantity down, same price
    c1.send("G", [(37, oid), (41, "a"), (11, "a2"), (55, "TEST"), (54, "1"), (60, b"20240101-00:00:00"),
                  (38, 6), (40, "2"), (44, "100.5")])
    r = await c1.expect("8", i150="5", i11="a2", i41="a")
    assert D(r, 38) == 6 and D(r, 151) == 6 and r.get(37) == oid
    # status by ClOrdID
    c1.send("H", [(11, "a2"), (55, "TEST"), (54, "1")])
    await c1.expect("8", i150="I", i39="0", i11="a2")
    # cancel
    c1.send("F", [(41, "a2"), (11, "a3"), (55, "TEST"), (54, "1"), (60, b"20240101-00:00:00"), (38, 6)])
    x = await c1.expect("8", i150="4", i39="4", i11="a3", i41="a2")
    assert D(x, 151) == 0
    # cancel again: too late
    c1.send("F", [(41, "a2"), (11, "a4"), (55, "TEST"), (54, "1"), (60, b"20240101-00:00:00")])
    rej = await c1.expect("9", i11="a4", i434="1")
    assert rej.get(102) is not None
    # mass cancel of everything of this session
    c1.order("b1", "1", 1, "101")
    c1.order("b2", "2", 1, "120")
    await c1.expect("8", i11="b1")
    await c1.expect("8", i11="b2")
    c1.send("q", [(11, "mc"), (530, "7"), (60, b"20240101-00:00:00")])
    msgs = [await c1.recv() for _ in range(3)]
    types = sorted(m.get(35) for m in msgs)
    assert types == [b"8", b"8", b"r"]
    report = next(m for m in msgs if m.get(35) == b"r")
    assert report.get(531) == b"7" and report.get(533) == b"2"
    assert {m.get(11) for m in msgs if m.get(35) == b"8"} <= {b"mc", b"b1", b"b2"}


async def test_fills_reach_the_resting_side(srv, c1):
    c2 = FixClient("C2")
    await c2.logon(srv.port)
    c1.order("s1", "2", 5, "107")
    await c1.expect("8", i150="0")
    c2.order("t1", "1", 3, "107.5")
    await c2.expect("8", i150="0")
    taker = await c2.expect("8", i150="F")
    assert D(taker, 31) == 107
    maker = await c1.expect("8", i150="F", i11="s1", i39="1")
    assert D(maker, 32) == 3 and D(maker, 151) == 2
    c2.close()


@pytest.mark.parametrize("fields,reason_tag,check", [
    ([(11, "u"), (55, "NOPE"), (54, "1"), (38, 1), (40, "2"), (44, "100")], 103, b"1"),   # unknown symbol
    ([(11, "t"), (55, "TEST"), (54, "1"), (38, 1), (40, "2"), (44, "100.001")], 58, None),  # off tick
    ([(11, "q"), (55, "TEST"), (54, "1"), (38, 0), (40, "2"), (44, "100")], 58, None),       # zero qty
    ([(11, "b"), (55, "LOT"), (54, "1"), (38, 15), (40, "2"), (44, "100")], 58, None),      # off lot
    ([(11, "bd"), (55, "LOT"), (54, "1"), (38, 10), (40, "2"), (44, "200")], 58, None),     # outside band
    ([(11, "bq"), (55, "LOT"), (54, "1"), (38, 2000), (40, "2"), (44, "100")], 58, None),   # over max qty
])
async def test_order_rejects(c1, fields, reason_tag, check):
    c1.send("D", fields[:4] + [(60, b"20240101-00:00:00")] + fields[4:])
    r = await c1.expect("8", i150="8", i39="8")
    assert r.get(reason_tag) is not None
    if check is not None:
        assert r.get(reason_tag) == check
    assert r.get(58)


async def test_duplicate_clordid_rejected(c1):
    c1.order("dup", "1", 1, "100")
    await c1.expect("8", i150="0")
    c1.order("dup", "1", 1, "100")
    r = await c1.expect("8", i150="8", i11="dup")
    assert r.get(103) == b"6"


async def test_cancel_unknown_order(c1):
    c1.send("F", [(41, "nothing"), (11, "z"), (55, "TEST"), (54, "1"), (60, b"20240101-00:00:00")])
    r = await c1.expect("9", i11="z", i434="1")
    assert r.get(102) == b"1"


async def test_unsupported_message_type_business_reject(c1):
    c1.send("AE", [(571, "x")])  # TradeCaptureReport: not handled
    r = await c1.expect("j")
    assert r.get(372) == b"AE"


async def test_missing_required_field_rejected(c1):
    c1.send("D", [(11, "nosym"), (54, "1"), (60, b"20240101-00:00:00"), (38, 1), (40, "2"), (44, "100")])
    r = await c1.recv()
    assert r.get(35) in (b"3", b"j")
    assert r.get(371) == b"55" or b"55" in (r.get(58) or b"")
    # the session survives it
    c1.order("ok", "1", 1, "100")
    await c1.expect("8", i150="0", i11="ok")


async def test_security_list(c1):
    c1.send("x", [(320, "sl1"), (559, "4")])
    y = await c1.expect("y", i320="sl1")
    assert y.get(146) == b"3"
    assert y.get(55) == b"TEST"


async def test_logon_refused_bad_password(srv):
    c = FixClient("C1")
    await c.connect(srv.port)
    c.send("A", [(98, 0), (108, 30), (141, "Y"), (554, "wrong")])
    assert await c.closed()
    assert all(m.get(35) != b"A" for m in c.all)
    # the right password still works afterwards
    ok = FixClient("C1")
    await ok.logon(srv.port)
    ok.close()


async def test_logon_refused_unknown_compid(srv):
    c = FixClient("STRANGER")
    await c.connect(srv.port)
    c.send("A", [(98, 0), (108, 30), (141, "Y"), (554, "pw")])
    assert await c.closed()
    assert all(m.get(35) != b"A" for m in c.all)


async def test_accept_any_mode():
    from .fixclient import config_dict

    cfg = config_dict()
    cfg["accept_any"] = {"enabled": True, "password": "trial"}
    srv = await start_server(cfg)
    try:
        c = FixClient("ANYONE")
        await c.logon(srv.port, password="trial")
        c.order("a1", "1", 1, "100")
        await c.expect("8", i150="0")
        c.close()
        bad = FixClient("OTHER")
        await bad.connect(srv.port)
        bad.send("A", [(98, 0), (108, 30), (141, "Y"), (554, "nope")])
        assert await bad.closed()
        assert all(m.get(35) != b"A" for m in bad.all)
    finally:
        await srv.stop()


async def test_garbage_from_one_client_does_not_disturb_others(srv, c1):
    import asyncio
    import random

    rng = random.Random(3)
    bad = FixClient("C2")
    await bad.logon(srv.port)
    chunks = []
    for _ in range(200):
        kind = rng.random()
        if kind < 0.3:
            chunks.append(b"8=FIX.4.4\x019=" + str(rng.randint(0, 99999)).encode() + b"\x01")
        elif kind < 0.5:
            chunks.append(b"8=FIX.4.4\x019=5\x0135=D\x0110=000\x01")
        else:
            chunks.append(bytes(rng.getrandbits(8) for _ in range(rng.randint(1, 500))))
    bad.writer.write(b"".join(chunks))
    # c1 keeps trading normally meanwhile
    for i in range(5):
        c1.order(f"g{i}", "1", 1, "100")
        await c1.expect("8", i150="0", i11=f"g{i}")
    await asyncio.sleep(0.1)
    assert srv.protocols  # the daemon is alive
    bad.close()
    # a new connection works
    c3 = FixClient("C3")
    await c3.logon(srv.port)
    c3.order("after", "1", 1, "100")
    await c3.expect("8", i150="0")
    c3.close()


async def test_day_orders_expire_at_the_end_of_day():
    # server.end_of_day: every live DAY order gets ExecType C / OrdStatus C; GTC orders stay
    # (the timer itself: test_transport; here its callback runs once the orders rest)
    srv = await start_server(end_of_day="21:00")
    c = FixClient("C1")
    await c.logon(srv.port)
    try:
        assert srv.end_of_day_due is not None
        c.order("day1", "1", 5, "100", tif="0")
        c.order("gtc1", "1", 5, "100", tif="1")
        await c.expect("8", i150="0", i11="day1")
        await c.expect("8", i150="0", i11="gtc1")
        srv.end_of_day()
        expired = await c.expect("8", i150="C", i11="day1")
        assert expired.get(39) == b"C" and expired.get(151) == b"0" and expired.get(59) == b"0"
        c.send("H", [(11, "gtc1"), (55, "TEST"), (54, "1")])
        await c.expect("8", i150="I", i39="0", i11="gtc1")
    finally:
        c.close()
        await srv.stop()


async def test_reports_of_an_order_sent_on_behalf_of_a_firm_are_delivered_to_it():
    # through the session layer: OnBehalfOfCompID(115) allowed for C1 -> DeliverToCompID(128)
    # in the header of the ack and of the fill that comes later
    from .fixclient import config_dict
    cfg = config_dict()
    cfg["session"][0]["on_behalf_of_comp_ids"] = ["FIRM_A"]
    srv = await start_server(cfg)
    c1, c2 = FixClient("C1"), FixClient("C2")
    await c1.logon(srv.port)
    await c2.logon(srv.port)
    try:
        c1.header_fields = [(115, "FIRM_A")]
        c1.order("fa1", "1", 3, "107")
        ack = await c1.expect("8", i150="0", i11="fa1")
        assert ack.get(128) == b"FIRM_A"
        c2.order("c2s", "2", 3, "107")
        await c2.expect("8", i150="0", i11="c2s")
        fill = await c1.expect("8", i150="F", i11="fa1")
        assert fill.get(128) == b"FIRM_A" and fill.get(39) == b"2"
        c1.header_fields = []
        c1.order("own", "1", 1, "100")
        own = await c1.expect("8", i150="0", i11="own")
        assert own.get(128) is None
    finally:
        c1.close()
        c2.close()
        await srv.stop()


async def test_poss_resend_of_an_order_already_seen_gets_no_second_answer(c1):
    """19a against the daemon: a PossResend(97)=Y copy of a NewOrderSingle whose ClOrdID
    the FIX session already saw is ignored (no "duplicate ClOrdID" reject for a live
    order); one with a new ClOrdID is an order like any other."""
    c1.order("pr1", "1", 5, "106")
    await c1.expect("8", i150="0", i11="pr1")
    c1.header_fields = [(97, "Y")]
    c1.order("pr1", "1", 5, "106")
    c1.order("pr2", "1", 5, "106")
    c1.header_fields = []
    answer = await c1.expect("8", i11="pr2", i150="0")  # the first answer after the copy
    assert answer.get(97) is None
    c1.send("1", [(112, "after")])
    heartbeat = await c1.recv(admin=True)
    assert (heartbeat.get(35), heartbeat.get(112)) == (b"0", b"after")
