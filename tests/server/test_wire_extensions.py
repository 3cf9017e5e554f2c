"""The wire extensions end to end: a session configured with `extensions` gets ExecType L
on elected stops, AggressorSide(2446) on market-data trades and MinPriceIncrement(969) on
SecurityList entries; a session without them gets FIX 4.4 only (a Restated report with
ExecRestatementReason 8 for the stop). Every fill says LastLiquidityInd(851).
(Client CompIDs of extension sessions start with XT: test_dialect.py validates what they
get against the dialect's dictionary only.)"""
from __future__ import annotations

import pytest

from .fixclient import FixClient, config_dict, start_server

ALL = ["exec_type_triggered", "aggressor_side", "min_price_increment"]


@pytest.fixture
async def srv():
    cfg = config_dict()
    cfg["session"].append({"target_comp_id": "XT1", "password": "pw", "extensions": ALL})
    s = await start_server(cfg)
    yield s
    await s.stop()


async def logged_on(srv, comp_id: str) -> FixClient:
    c = FixClient(comp_id)
    await c.logon(srv.port)
    return c


def subscribe_trades(c: FixClient, req_id: str, symbol: str = "SYM1", subscription_type: str = "1") -> None:
    c.send("V", [(262, req_id), (263, subscription_type), (264, 0), (265, 1), (267, 1), (269, "2"),
                 (146, 1), (55, symbol)])


async def test_stop_trigger_report_per_session(srv):
    xt, c1, c2 = [await logged_on(srv, name) for name in ("XT1", "C1", "C2")]
    try:
        xt.order("xs", "1", 5, None, symbol="SYM1", ord_type="3", extra=[(99, "110")])
        await xt.expect("8", i150="0", i11="xs")
        c1.order("cs", "1", 5, None, symbol="SYM1", ord_type="3", extra=[(99, "110")])
        await c1.expect("8", i150="0", i11="cs")
        c2.order("taker", "1", 1, "110", symbol="SYM1")  # trades at 110: both stops elected
        taker_fill = await c2.expect("8", i150="0")
        taker_fill = await c2.expect("8", i150="F")
        assert taker_fill.get(851) == b"2"  # the aggressor removed liquidity
        triggered = await xt.expect("8", i11="xs", i150="L")
        assert triggered.get(378) is None
        restated = await c1.expect("8", i11="cs", i150="D", i378="8")
        assert restated.get(58) == b"stop triggered"
    finally:
        for c in (xt, c1, c2):
            c.close()


async def test_aggressor_side_and_min_price_increment_for_the_session_that_opted_in(srv):
    xt, c1, c2 = [await logged_on(srv, name) for name in ("XT1", "C1", "C2")]
    try:
        subscribe_trades(xt, "x1")
        subscribe_trades(c1, "c1")
        await xt.expect("W")
        await c1.expect("W")
        c2.order("sell", "2", 2, "105", symbol="SYM1")  # hits the 105 bid: a sell aggressor
        increment = await xt.expect("X")
        assert increment.get(2446) == b"2" and increment.get(269) == b"2"
        plain = await c1.expect("X")
        assert plain.get(269) == b"2" and plain.get(2446) is None
        subscribe_trades(xt, "x2", subscription_type="0")
        snapshot = await xt.expect("W", i262="x2")
        assert snapshot.get(2446) == b"2"
        for c in (xt, c1):
            c.send("x", [(320, "sl"), (559, 4)])
        listed = await xt.expect("y")
        assert listed.get(969) == b"0.01"
        assert (await c1.expect("y")).get(969) is None
    finally:
        for c in (xt, c1, c2):
            c.close()
