"""Operating the venue over real loopback sockets: cancel-on-disconnect, drop copy, halts and
SecurityStatus, the admin endpoint (every action, the token), metrics, logs and the summary."""
from __future__ import annotations

import asyncio
import json
import logging

import pytest
from prometheus_client.parser import text_string_to_metric_families

from fixexchange.server.logs import JsonFormatter

from .fixclient import FixClient, config_dict, start_server
from .loopback import until

TOKEN = "t0ken-for-the-tests-0123456789"
# C3's grace period: long enough that a reconnect on a loaded machine is back in time (the
# tests poll, so they wait for it only where the cancel itself is tested)
GRACE = 2.0


def operating_config(**server) -> dict:
    """fixclient's config plus: C1 cancel-on-disconnect, C3 with a GRACE s grace, DC a drop copy
    of C1, DCALL a drop copy of everyone, the admin endpoint on an ephemeral port."""
    cfg = config_dict(**server)
    sessions = cfg["session"]
    sessions[0]["cancel_on_disconnect"] = True
    sessions[2].update(cancel_on_disconnect=True, cancel_on_disconnect_grace=GRACE)
    sessions.append({"target_comp_id": "DC", "password": "pw", "role": "drop_copy", "drop_copy_of": ["C1"]})
    sessions.append({"target_comp_id": "DCALL", "password": "pw", "role": "drop_copy"})
    cfg["admin"] = {"enabled": True, "port": 0, "token": TOKEN}
    return cfg


@pytest.fixture
async def srv():
    s = await start_server(operating_config())
    yield s
    await s.stop()


async def http(port: int, method: str, path: str, token: str | None = TOKEN, body: bytes | None = None,
               raw: bytes | None = None) -> tuple[int, bytes, dict]:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    if raw is None:
        head = [f"{method} {path} HTTP/1.1", "Host: localhost", "Connection: close"]
        if token is not None:
            head.append(f"Authorization: Bearer {token}")
        if body is not None:
            head.append(f"Content-Length: {len(body)}")
        raw = ("\r\n".join(head) + "\r\n\r\n").encode() + (body or b"")
    writer.write(raw)
    data = await asyncio.wait_for(reader.read(), 5)
    writer.close()
    head, _, payload = data.partition(b"\r\n\r\n")
    lines = head.decode().split("\r\n")
    headers = dict(line.split(": ", 1) for line in lines[1:])
    return int(lines[0].split()[1]), payload, headers


async def admin(srv, method: str, path: str, **kw):
    status, payload, _ = await http(srv.admin.port, method, path, **kw)
    return status, (json.loads(payload) if payload.startswith((b"{", b"[")) else payload.decode())


async def logon(srv, comp_id: str, **kw) -> FixClient:
    c = FixClient(comp_id)
    await c.logon(srv.port, **kw)
    return c


async def resend_all(c: FixClient, last_seen: int, logon_reply) -> list:
    """After a Logon without reset: ask for everything after `last_seen` (the client noticed
    the gap from the Logon reply's MsgSeqNum) and return the application messages resent."""
    gap_end = int(logon_reply.get(34))
    assert gap_end > last_seen + 1, "no gap: nothing was stored for the client while it was away"
    c.send("2", [(7, last_seen + 1), (16, 0)])
    resent = []
    seq = last_seen + 1
    while seq < gap_end:
        m = await c.recv(admin=True)
        if m.get(35) == b"4":  # gap fill
            seq = int(m.get(36))
            continue
        assert m.get(43) == b"Y", m
        resent.append(m)
        seq = int(m.get(34)) + 1
    return resent


def gone(srv, comp_id: str):
    """A condition: the server has handled the end of ``comp_id``'s connection."""
    return lambda: f"FIX.4.4:EX->{comp_id}" not in srv.by_session


async def rest_order(c: FixClient, cl: str, side: str = "1", price: str = "100", qty: int = 5, symbol: str = "TEST"):
    c.order(cl, side, qty, price, symbol=symbol)
    return await c.expect("8", i150="0", i11=cl)


# ------------------------------------------------------------------------------ cancel on disconnect

async def test_cancel_on_disconnect_when_the_socket_drops_reports_come_by_resend(srv):
    c1 = await logon(srv, "C1")
    a = await rest_order(c1, "a")
    b = await rest_order(c1, "b", side="2", price="120")
    last = int(b.get(34))
    c1.close()  # TCP close, no Logout
    await until(lambda: srv.gateway.live_orders("FIX.4.4:EX->C1") == 0)
    again = FixClient("C1")
    again.seq = c1.seq
    reply = await again.logon(srv.port, reset=False)
    resent = await resend_all(again, last, reply)
    assert [(m.get(11), m.get(150), m.get(39)) for m in resent] == [(b"a", b"4", b"4"), (b"b", b"4", b"4")]
    assert all(m.get(58).startswith(b"cancel on disconnect: connection lost") for m in resent)
    assert resent[0].get(37) == a.get(37) and resent[0].get(151) == b"0"
    again.close()


async def test_cancel_on_disconnect_on_logout(srv):
    c1 = await logon(srv, "C1")
    o = await rest_order(c1, "x")
    last = int(o.get(34))
    await c1.logout()
    await until(gone(srv, "C1"))
    again = FixClient("C1")
    again.seq = c1.seq
    reply = await again.logon(srv.port, reset=False)
    (report,) = await resend_all(again, last, reply)
    assert report.get(150) == b"4" and report.get(11) == b"x"
    assert report.get(58) == b"cancel on disconnect: client logged out"
    again.close()


async def test_cancel_on_disconnect_on_heartbeat_timeout(srv):
    c1 = await logon(srv, "C1", heartbeat=1)
    o = await rest_order(c1, "hb")
    last = int(o.get(34))
    # stop answering: the exchange's TestRequest goes unanswered and it drops the connection
    assert await c1.closed(timeout=6)
    again = FixClient("C1")
    again.seq = c1.seq
    reply = await again.logon(srv.port, reset=False)
    resent = [m for m in await resend_all(again, last, reply) if m.get(35) == b"8"]
    assert [(m.get(11), m.get(150)) for m in resent] == [(b"hb", b"4")]
    assert resent[0].get(58).startswith(b"cancel on disconnect:")
    again.close()


async def test_cancel_on_disconnect_by_operator_logout(srv):
    c1 = await logon(srv, "C1")
    o = await rest_order(c1, "op")
    status, result = await admin(srv, "POST", "/sessions/C1/logout", body=b'{"reason": "maintenance"}')
    assert status == 200 and result["logout_sent"]
    logout = await c1.expect("5")
    assert logout.get(58) == b"maintenance"
    c1.send("5", [])
    assert await c1.closed()
    await until(gone(srv, "C1"))
    again = FixClient("C1")
    again.seq = c1.seq
    reply = await again.logon(srv.port, reset=False)
    resent = [m for m in await resend_all(again, int(o.get(34)) + 1, reply) if m.get(35) == b"8"]
    assert [(m.get(11), m.get(150)) for m in resent] == [(b"op", b"4")]
    again.close()


async def test_sessions_without_cancel_on_disconnect_keep_their_orders(srv):
    c2 = await logon(srv, "C2")
    await rest_order(c2, "stay")
    c2.close()
    await until(gone(srv, "C2"))
    assert srv.gateway.live_orders("FIX.4.4:EX->C2") == 1


async def test_logon_tag_9001_opts_in_and_out(srv):
    # C2 (off in the config) opts in with 9001=Y; C1 (on) opts out with 9001=N
    c2 = FixClient("C2")
    await c2.connect(srv.port)
    c2.send("A", [(98, 0), (108, 30), (141, "Y"), (554, "pw"), (9001, "Y")])
    await c2.expect("A")
    await rest_order(c2, "in")
    c1 = FixClient("C1")
    await c1.connect(srv.port)
    c1.send("A", [(98, 0), (108, 30), (141, "Y"), (554, "pw"), (9001, "N")])
    await c1.expect("A")
    await rest_order(c1, "out")
    c1.close()
    c2.close()
    await until(lambda: gone(srv, "C1")() and gone(srv, "C2")())
    assert srv.gateway.live_orders("FIX.4.4:EX->C2") == 0
    assert srv.gateway.live_orders("FIX.4.4:EX->C1") == 1


async def test_logon_with_a_bad_9001_value_is_refused(srv):
    c = FixClient("C1")
    await c.connect(srv.port)
    c.send("A", [(98, 0), (108, 30), (141, "Y"), (554, "pw"), (9001, "X")])
    logout = await c.expect("5")
    assert b"9001" in logout.get(58)


async def test_grace_period_reconnect_in_time_keeps_orders_late_cancels(srv):
    sid = "FIX.4.4:EX->C3"
    c3 = await logon(srv, "C3")
    await rest_order(c3, "g1")
    c3.close()
    await until(lambda: srv.gateway.cancel_on_disconnect_due(sid) is not None)
    again = await logon(srv, "C3")  # back within the grace period
    assert srv.gateway.cancel_on_disconnect_due(sid) is None
    await until(lambda: not srv.grace_timer_running(sid), GRACE + 5)  # the grace timer ran: it found C3 back
    assert srv.gateway.live_orders(sid) == 1
    again.close()
    await until(lambda: srv.gateway.cancel_on_disconnect_due(sid) is not None)
    assert srv.gateway.live_orders(sid) == 1  # grace running
    await until(lambda: srv.gateway.live_orders(sid) == 0, GRACE + 5)
    assert srv.gateway.cancel_on_disconnect_due(sid) is None


# ------------------------------------------------------------------------------ drop copy

async def test_drop_copy_gets_exactly_the_owners_reports_in_order_and_resends_after_reconnect(srv):
    dc = await logon(srv, "DC")
    dcall = await logon(srv, "DCALL")
    c1 = await logon(srv, "C1")
    c2 = await logon(srv, "C2")
    mine = []
    c1.order("b1", "1", 3, "108")  # trades against the seeded ask 108
    mine += [await c1.expect("8", i150="0"), await c1.expect("8", i150="F")]
    c2.order("s1", "2", 2, "107")
    c2_new = await c2.expect("8", i150="0")
    c1.order("b2", "1", 2, "107")  # takes C2's order
    mine += [await c1.expect("8", i150="0"), await c1.expect("8", i150="F")]
    c2_fill = await c2.expect("8", i150="F")
    c1.order("bad", "1", 1, "100", symbol="NOPE")
    mine.append(await c1.expect("8", i150="8"))
    copies = [await dc.expect("8") for _ in mine]
    assert [(m.get(17), m.get(11), m.get(150), m.get(37)) for m in copies] == \
        [(m.get(17), m.get(11), m.get(150), m.get(37)) for m in mine]
    assert all(m.get(115) == b"C1" for m in copies)
    for copy, original in zip(copies, mine):  # the order's fields are kept
        for tag in (55, 54, 38, 44, 14, 151, 6):
            assert copy.get(tag) == original.get(tag)
    with pytest.raises(asyncio.TimeoutError):
        await dc.recv(timeout=0.2)  # nothing of C2's
    everyone = [await dcall.expect("8") for _ in range(len(mine) + 2)]
    assert {m.get(17) for m in everyone} == {m.get(17) for m in mine} | {c2_new.get(17), c2_fill.get(17)}
    assert {m.get(115) for m in everyone} == {b"C1", b"C2"}
    # the drop copy goes away; what it misses is stored and resent
    last = int(copies[-1].get(34))
    dc.close()
    await until(gone(srv, "DC"))
    c1.order("b3", "1", 1, "100")
    missed = await c1.expect("8", i150="0", i11="b3")
    again = FixClient("DC")
    again.seq = dc.seq
    reply = await again.logon(srv.port, reset=False)
    (resent,) = await resend_all(again, last, reply)
    assert resent.get(17) == missed.get(17) and resent.get(115) == b"C1"
    for c in (dcall, c1, c2, again):
        c.close()


async def test_drop_copy_may_not_trade(srv):
    dc = await logon(srv, "DC")
    for msg_type, fields in (("D", [(11, "x"), (55, "TEST"), (54, "1"), (60, b"20240101-00:00:00"), (38, 1),
                                    (40, "2"), (44, "100")]),
                             ("F", [(41, "x"), (11, "y"), (55, "TEST"), (54, "1"), (60, b"20240101-00:00:00")]),
                             ("q", [(11, "m"), (530, "7"), (60, b"20240101-00:00:00")])):
        dc.send(msg_type, fields)
        j = await dc.expect("j", i372=msg_type, i380="6")
        assert b"drop copy" in j.get(58)
    # it may read: the security list
    dc.send("x", [(320, "r1"), (559, "4")])
    await dc.expect("y", i560="0")
    dc.close()


# ------------------------------------------------------------------------------ halts

async def test_halt_and_resume_with_security_status_and_rejects(srv):
    md = await logon(srv, "MD")
    c1 = await logon(srv, "C2")
    resting = await rest_order(c1, "r1", price="100")
    md.send("e", [(324, "st1"), (263, "1"), (55, "TEST")])
    first = await md.expect("f", i324="st1", i55="TEST", i326="17", i325="N")
    assert first.get(58) is None
    status, result = await admin(srv, "POST", "/symbols/TEST/halt", body=b'{"reason": "news pending"}')
    assert status == 200 and result == {"symbol": "TEST", "status": "halted", "reason": "news pending",
                                         "subscribers_notified": 1}
    await md.expect("f", i324="st1", i55="TEST", i326="2", i325="Y", i58="news pending")
    # a snapshot request sees it too, and so does the security list
    md.send("e", [(324, "snap"), (263, "0"), (55, "TEST")])
    await md.expect("f", i324="snap", i326="2", i325="N")
    md.send("x", [(320, "l1"), (559, "0"), (55, "TEST")])
    lst = await md.expect("y")
    assert lst.get(58) == b"MinPriceIncrement=0.01 TradingStatus=halted"
    # new orders and replaces are rejected, with text; cancels work; nothing matches
    c1.order("n1", "1", 5, "120")  # would cross the ask at 108
    rej = await c1.expect("8", i150="8", i39="8", i103="2", i11="n1")
    assert rej.get(58) == b"TEST is halted (news pending): new orders are refused until trading resumes"
    c1.send("G", [(37, resting.get(37)), (41, "r1"), (11, "r2"), (55, "TEST"), (54, "1"),
                  (60, b"20240101-00:00:00"), (38, 6), (40, "2"), (44, "101")])
    cxl_rej = await c1.expect("9", i11="r2", i434="2", i102="2")
    assert b"halted" in cxl_rej.get(58) and b"replaces" in cxl_rej.get(58)
    c1.send("F", [(41, "r1"), (11, "r3"), (55, "TEST"), (54, "1"), (60, b"20240101-00:00:00")])
    await c1.expect("8", i150="4", i11="r3")
    assert srv.gateway.trade_counts.get("TEST") is None
    # resume: subscribers learn it, orders trade again
    status, result = await admin(srv, "POST", "/symbols/TEST/resume")
    assert status == 200 and result["status"] == "open"
    await md.expect("f", i324="st1", i326="17", i325="Y")
    c1.order("n2", "1", 2, "108")
    await c1.expect("8", i150="0", i11="n2")
    await c1.expect("8", i150="F", i11="n2")
    # unsubscribe: no more status messages; halting again reaches nobody
    md.send("e", [(324, "st1"), (263, "2"), (55, "TEST")])
    assert await md.round_trip() == []  # the unsubscribe is handled (and answered by nothing)
    status, result = await admin(srv, "POST", "/symbols/TEST/halt")
    assert result["subscribers_notified"] == 0 and result["reason"] == "halted by the exchange operator"
    md.close()
    c1.close()


async def test_security_status_request_errors(srv):
    md = await logon(srv, "MD")
    md.send("e", [(324, "u1"), (263, "1"), (55, "NOPE")])
    await md.expect("j", i380="2", i379="u1")
    md.send("e", [(324, "d1"), (263, "1"), (55, "TEST")])
    await md.expect("f", i324="d1")
    md.send("e", [(324, "d1"), (263, "1"), (55, "TEST")])
    dup = await md.expect("j", i380="0")
    assert dup.get(58) == b"duplicate SecurityStatusReqID"
    md.send("e", [(324, "zz"), (263, "2"), (55, "TEST")])
    unknown = await md.expect("j", i380="0")
    assert unknown.get(58) == b"unknown SecurityStatusReqID"
    md.send("e", [(324, "bad"), (263, "5"), (55, "TEST")])
    await md.expect("3", i371="263", i373="5")  # SubscriptionRequestType 5 is not a FIX 4.4 value
    _, payload, _ = await http(srv.admin.port, "GET", "/metrics")
    m = samples(payload.decode())
    assert m[("fixexchange_rejects_total", (("kind", "session"), ("reason", "5")))] == 1
    assert m[("fixexchange_rejects_total", (("kind", "business"), ("reason", "0")))] == 2
    assert m[("fixexchange_rejects_total", (("kind", "business"), ("reason", "2")))] == 1
    md.close()


# ------------------------------------------------------------------------------ admin endpoint

async def test_admin_token_is_required(srv):
    port = srv.admin.port
    for token in (None, "wrong-token-wrong-token", TOKEN + "x", ""):
        status, payload, headers = await http(port, "GET", "/sessions", token=token)
        assert status == 401, token
        assert headers["WWW-Authenticate"].startswith("Bearer")
        assert b"token" in payload
    for path in ("/metrics", "/symbols/TEST/halt"):
        status, _, _ = await http(port, "POST" if "halt" in path else "GET", path, token=None)
        assert status == 401
    assert "TEST" not in srv.gateway.trading_status.halted


async def test_admin_errors(srv):
    assert (await admin(srv, "GET", "/nothing"))[0] == 404
    assert (await admin(srv, "POST", "/sessions"))[0] == 405
    assert (await admin(srv, "GET", "/symbols/TEST/halt"))[0] == 405
    assert (await admin(srv, "POST", "/symbols/NOPE/halt"))[0] == 404
    assert (await admin(srv, "POST", "/sessions/NOBODY/cancel-all"))[0] == 404
    status, result = await admin(srv, "POST", "/sessions/C2/logout")
    assert status == 409 and "not logged on" in result["error"]
    assert (await admin(srv, "POST", "/symbols/TEST/halt", body=b"{not json"))[0] == 400
    status, _, _ = await http(srv.admin.port, "GET", "/", raw=b"garbage\r\n\r\n")
    assert status == 400
    status, _, _ = await http(srv.admin.port, "POST", "/symbols/TEST/halt", body=b"x" * 70000)
    assert status == 413
    status, result = await admin(srv, "POST", "/reload-passwords")  # "<test>" is no file
    assert status == 409 and "not reloaded" in result["error"]


async def test_admin_lists_sessions_and_symbols(srv):
    c1 = await logon(srv, "C1")
    await rest_order(c1, "l1", price="106")
    status, result = await admin(srv, "GET", "/sessions")
    assert status == 200
    rows = {row["comp_id"]: row for row in result["sessions"]}
    assert set(rows) == {"C1", "C2", "C3", "MD", "DC", "DCALL"}
    me = rows["C1"]
    assert me["state"] == "logged_on" and me["address"].startswith("127.0.0.1:")
    assert me["next_target_seq"] == 3 and me["next_sender_seq"] == 3  # Logon + D in, Logon + ER out
    assert me["messages_in"] == 1 and me["messages_out"] == 1 and me["live_orders"] == 1
    assert isinstance(me["queue_bytes"], int)
    assert rows["C2"]["state"] == "disconnected" and rows["C2"]["address"] is None
    status, result = await admin(srv, "GET", "/symbols")
    test = next(row for row in result["symbols"] if row["symbol"] == "TEST")
    assert test["status"] == "open" and test["best_bid"] == "106" and test["best_bid_qty"] == 5
    assert test["best_ask"] == "108" and test["ask_levels"] == 2 and test["ask_qty"] == 20
    assert test["trades"] == 0 and test["volume"] == 0
    c1.close()


async def test_admin_cancel_all_of_a_session_and_of_a_symbol(srv):
    c1 = await logon(srv, "C2")
    c2 = await logon(srv, "C3")
    for i in range(3):
        await rest_order(c1, f"s{i}", price="100")
    await rest_order(c1, "other", price="100", symbol="SYM1")
    await rest_order(c2, "c3", price="99")
    status, result = await admin(srv, "POST", "/symbols/TEST/cancel-all")
    assert status == 200 and result["cancelled"] == 3 + 1 + 2  # C2's 3, C3's 1, the seeded asks
    got = [await c1.expect("8", i150="4") for _ in range(3)]
    assert all(m.get(58) == b"canceled by the exchange operator" for m in got)
    await c2.expect("8", i150="4", i11="c3")
    status, result = await admin(srv, "POST", "/sessions/C2/cancel-all")
    assert result["cancelled"] == 1
    await c1.expect("8", i150="4", i11="other")
    c1.close()
    c2.close()


async def test_admin_endpoint_not_reachable_when_off():
    cfg = operating_config()
    cfg["admin"] = {"enabled": False, "token": TOKEN}
    srv = await start_server(cfg)
    try:
        assert srv.admin is None
        with pytest.raises(OSError):
            await http(9879, "GET", "/sessions")  # the default port: nothing listens
    finally:
        await srv.stop()


async def test_admin_reload_passwords(tmp_path):
    from fixexchange.server.app import ExchangeServer
    from fixexchange.server.config import load_config
    from fixexchange.server.main import build

    path = tmp_path / "exchange.toml"
    text = f"""
[server]
port = 0
comp_id = "EX"
store = "memory"
[admin]
enabled = true
port = 0
token = "{TOKEN}"
[[session]]
target_comp_id = "C1"
password = "old"
[[symbol]]
name = "TEST"
"""
    path.write_text(text)
    cfg = load_config(path)
    acceptor, gateway = build(cfg)
    srv = ExchangeServer(cfg, acceptor, gateway)
    await srv.start()
    try:
        path.write_text(text.replace('"old"', '"new"') + '[[session]]\ntarget_comp_id = "LATE"\n')
        status, result = await admin(srv, "POST", "/reload-passwords")
        assert status == 200
        assert result == {"updated": ["FIX.4.4:EX->C1"], "not_configured_at_start": ["FIX.4.4:EX->LATE"]}
        old = FixClient("C1")
        refused = await old.logon(srv.port, password="old", expect_ok=False)
        assert refused.get(35) == b"5" and refused.get(58) == b"Logon refused: invalid credentials"
        await logon(srv, "C1", password="new")
    finally:
        await srv.stop()


# ------------------------------------------------------------------------------ metrics

def samples(text: str) -> dict:
    out = {}
    for family in text_string_to_metric_families(text):
        for s in family.samples:
            out[(s.name, tuple(sorted(s.labels.items())))] = s.value
    return out


async def test_metrics_parse_as_prometheus_text_and_count_what_was_sent(srv):
    c1 = await logon(srv, "C2")
    c1.order("m1", "1", 3, "108")  # limit, trades 3 @ 108
    await c1.expect("8", i150="0")
    await c1.expect("8", i150="F")
    c1.order("m2", "1", 2)  # market, trades 2 @ 108
    await c1.expect("8", i150="0")
    await c1.expect("8", i150="F")
    c1.order("m3", "1", 2, "100", symbol="NOPE")  # unknown symbol
    await c1.expect("8", i150="8", i103="1")
    c1.send("F", [(41, "gone"), (11, "m4"), (55, "TEST"), (54, "1"), (60, b"20240101-00:00:00")])
    await c1.expect("9", i102="1")
    c1.send("B", [(148, "news")])  # unsupported MsgType: BusinessMessageReject 3
    await c1.expect("j", i380="3")
    status, payload, headers = await http(srv.admin.port, "GET", "/metrics")
    assert status == 200 and headers["Content-Type"].startswith("text/plain; version=0.0.4")
    m = samples(payload.decode())
    assert m[("fixexchange_messages_received_total", (("msg_type", "D"),))] == 3
    assert m[("fixexchange_messages_received_total", (("msg_type", "F"),))] == 1
    assert m[("fixexchange_orders_received_total", (("name", "limit"), ("ord_type", "2")))] == 2
    assert m[("fixexchange_orders_received_total", (("name", "market"), ("ord_type", "1")))] == 1
    assert m[("fixexchange_execution_reports_sent_total", (("exec_type", "0"), ("name", "new")))] == 2
    assert m[("fixexchange_execution_reports_sent_total", (("exec_type", "F"), ("name", "trade")))] == 2
    assert m[("fixexchange_execution_reports_sent_total", (("exec_type", "8"), ("name", "rejected")))] == 1
    # messages sent: every report to C2 went twice (DCALL, a drop copy of every session)
    assert m[("fixexchange_messages_sent_total", (("msg_type", "8"),))] == 5 * 2
    assert m[("fixexchange_rejects_total", (("kind", "order"), ("reason", "1")))] == 1
    assert m[("fixexchange_rejects_total", (("kind", "cancel"), ("reason", "1")))] == 1
    assert m[("fixexchange_rejects_total", (("kind", "business"), ("reason", "3")))] == 1
    assert sum(v for (name, _), v in m.items() if name == "fixexchange_rejects_total") == 3
    assert m[("fixexchange_trades_total", (("symbol", "TEST"),))] == 2
    assert m[("fixexchange_traded_quantity_total", (("symbol", "TEST"),))] == 5
    assert m[("fixexchange_sessions_logged_on", ())] == 1
    assert m[("fixexchange_logons_total", ())] == 1
    assert ("fixexchange_outbound_queue_bytes", (("session", "FIX.4.4:EX->C2"),)) in m
    assert m[("fixexchange_event_loop_lag_seconds_count", ())] >= 0
    assert ("fixexchange_event_loop_lag_seconds_bucket", (("le", "+Inf"),)) in m
    assert m[("process_resident_memory_bytes", ())] > 1_000_000
    assert m[("process_cpu_seconds_total", ())] > 0
    c1.close()


async def test_metrics_count_refused_connections_and_loop_lag():
    srv = await start_server(operating_config(max_connections=1))
    try:
        first = await logon(srv, "C2")
        refused = FixClient("C3")
        await refused.connect(srv.port)
        assert await refused.closed()
        await until(lambda: srv.metrics.loop_lag.count >= 1)  # one lag probe at least
        status, payload, _ = await http(srv.admin.port, "GET", "/metrics")
        m = samples(payload.decode())
        assert m[("fixexchange_connections_refused_total", (("reason", "connection_limit"),))] == 1
        assert m[("fixexchange_event_loop_lag_seconds_count", ())] >= 1
        first.close()
    finally:
        await srv.stop()


# ------------------------------------------------------------------------------ logs

async def test_summary_line_and_json_logs(caplog):
    caplog.set_level(logging.INFO, logger="fixexchange")
    srv = await start_server(operating_config(summary_interval=0.2))
    try:
        c = await logon(srv, "C2")
        c.order("s1", "1", 3, "108")
        await c.expect("8", i150="0")
        await c.expect("8", i150="F")
        def summaries_after_the_trade():
            return [r for r in caplog.records if getattr(r, "event", None) == "summary"
                    and r.fields["trades_total"] == 1]

        await until(summaries_after_the_trade)
        summaries = summaries_after_the_trade()
        total = summaries[-1].fields
        assert total["orders_total"] == 1 and total["trades_total"] == 1 and total["sessions"] == 1
        assert "orders/s" in summaries[-1].getMessage()
        fmt = JsonFormatter()
        logon_line = json.loads(fmt.format(next(r for r in caplog.records if getattr(r, "event", None) == "logon")))
        assert logon_line["event"] == "logon" and logon_line["session"] == "FIX.4.4:EX->C2"
        assert logon_line["level"] == "INFO" and logon_line["time"].endswith("Z")
        assert logon_line["fields"]["peer"].startswith("127.0.0.1:")
        plain = json.loads(fmt.format(logging.LogRecord("fixexchange", logging.WARNING, "x", 1, "a %s", ("b",), None)))
        assert plain["event"] == "log" and plain["message"] == "a b" and "session" not in plain
        c.close()
    finally:
        await srv.stop()


async def test_admin_cancel_all_goes_a_slice_per_loop_turn(srv):
    """However many orders, other callbacks (other sessions' reads) run between slices."""
    import itertools

    srv.admin_cancel_slice = 100
    c = await logon(srv, "C2")
    for i in range(1000):
        c.order(f"o{i}", "1", 1, "100")
    for i in range(1000):
        await c.expect("8", i150="0")
    loop = asyncio.get_running_loop()
    seen = []  # the session's live orders, seen by a callback on every loop turn

    def tick():
        seen.append(srv.gateway.live_orders("FIX.4.4:EX->C2"))
        if ticking:
            loop.call_soon(tick)

    ticking = True
    loop.call_soon(tick)
    status, result = await admin(srv, "POST", "/sessions/C2/cancel-all")
    ticking = False
    assert status == 200 and result["cancelled"] == 1000
    # one slice of 100 a turn, the callback between every two
    assert [count for count, _ in itertools.groupby(seen)] == list(range(1000, -1, -100))
    cancels = [await c.expect("8", i150="4") for _ in range(1000)]
    assert {m.get(11) for m in cancels} == {f"o{i}".encode() for i in range(1000)}
    c.close()


def test_a_throttled_order_reject_is_copied_too():
    from fixexchange.codec import FixParser, encode
    from fixexchange.server.config import parse_config
    from fixexchange.server.main import build

    _, gateway = build(parse_config(operating_config(), "<test>"))
    raw = encode(b"FIX.4.4", b"D", [(49, "C1"), (56, "EX"), (34, 2), (52, "20260101-00:00:00"), (11, "t1"),
                                  (55, "TEST"), (54, "1"), (60, "20260101-00:00:00"), (38, 1), (40, "2"), (44, "100")])
    (message,) = FixParser().feed(raw)
    outs = gateway.reject_throttled("FIX.4.4:EX->C1", message, "order rate limit", 1.0e9)
    assert [(o.session_id, o.msg_type) for o in outs] == [
        ("FIX.4.4:EX->C1", b"8"), ("FIX.4.4:EX->DC", b"8"), ("FIX.4.4:EX->DCALL", b"8")]
    assert outs[1].body[0] == (115, "C1")


async def test_journal_write_latency_histogram(tmp_path):
    srv = await start_server(operating_config(store="file", store_dir=str(tmp_path / "store")))
    try:
        assert srv.durable is not None
        c = await logon(srv, "C2")
        for i in range(3):
            await rest_order(c, f"j{i}")
        _, payload, _ = await http(srv.admin.port, "GET", "/metrics")
        m = samples(payload.decode())
        count = m[("fixexchange_journal_write_seconds_count", ())]
        assert count >= 3  # one commit per read at least (logon, three orders)
        assert m[("fixexchange_journal_write_seconds_bucket", (("le", "+Inf"),))] == count
        assert 0 < m[("fixexchange_journal_write_seconds_sum", ())] < count  # seconds, each well under 1
        c.close()
    finally:
        await srv.stop()


def test_setup_logging_json_writes_one_object_per_line(tmp_path):
    from fixexchange.server.main import setup_logging

    root = logging.getLogger()
    before = list(root.handlers)
    level = root.level
    try:
        setup_logging(logging.INFO, str(tmp_path), "json")
        logging.getLogger("fixexchange").warning("halt %s: %s", "SYM1", "news",
                                                 extra={"event": "halt", "fields": {"symbol": "SYM1"}})
        for handler in root.handlers:
            handler.flush()
        lines = (tmp_path / "fixexchange.log").read_text().splitlines()
        entry = json.loads(lines[-1])
        assert entry["event"] == "halt" and entry["level"] == "WARNING" and entry["message"] == "halt SYM1: news"
        assert entry["fields"] == {"symbol": "SYM1"}
    finally:
        for handler in root.handlers[:]:
            if handler not in before:
                root.removeHandler(handler)
                handler.close()
        root.setLevel(level)


async def test_grace_periods_restored_with_the_gateway_start_again():
    """A grace period that ran when the daemon stopped (the journal restores the gateway
    with it) gets its timer again when the server starts."""
    from fixexchange.codec import FixParser, encode
    from fixexchange.server.app import ExchangeServer
    from fixexchange.server.config import parse_config
    from fixexchange.server.main import build

    import time as _time

    cfg = parse_config(operating_config(), "<test>")
    acceptor, gateway = build(cfg)
    sid = "FIX.4.4:EX->C3"
    now = _time.time()
    gateway.on_logon(sid, now)
    raw = encode(b"FIX.4.4", b"D", [(49, "C3"), (56, "EX"), (34, 2), (52, "20260101-00:00:00"), (11, "g"),
                                  (55, "TEST"), (54, "1"), (60, "20260101-00:00:00"), (38, 1), (40, "2"), (44, "100")])
    (message,) = FixParser().feed(raw)
    gateway.on_message(sid, message, now)
    assert gateway.on_disconnect(sid, now - GRACE + 0.2, "connection lost") == []
    assert gateway.cancel_on_disconnect_pending == {sid: pytest.approx(now + 0.2)}
    srv = ExchangeServer(cfg, acceptor, gateway)
    await srv.start()
    try:
        assert gateway.live_orders(sid) == 1
        await until(lambda: gateway.live_orders(sid) == 0)
        assert acceptor.sequence_numbers(sid)[0] > 1  # the report is stored for the next logon
    finally:
        await srv.stop()


async def test_halt_and_operator_cancels_survive_a_restart_with_the_journal(tmp_path):
    cfg = operating_config(store="file", store_dir=str(tmp_path / "store"))
    srv = await start_server(cfg)
    try:
        c = await logon(srv, "C2")
        await rest_order(c, "keep", price="99")
        await rest_order(c, "x", price="100", symbol="SYM1")
        assert (await admin(srv, "POST", "/symbols/TEST/halt", body=b'{"reason": "overnight"}'))[0] == 200
        assert (await admin(srv, "POST", "/symbols/SYM1/cancel-all"))[1]["cancelled"] == 1 + 10  # C2's and the seeded book
        c.close()
    finally:
        await srv.stop()
    again = await start_server(cfg)
    try:
        assert again.gateway.trading_status.halted == {"TEST": "overnight"}
        rows = {row["symbol"]: row for row in again.admin_symbols()}
        assert rows["SYM1"]["bid_levels"] == rows["SYM1"]["ask_levels"] == 0 and rows["TEST"]["best_bid"] == "99"
        c = await logon(again, "C2")
        c.order("late", "1", 1, "100")
        await c.expect("8", i150="8", i103="2")
        c.close()
    finally:
        await again.stop()


async def test_cancel_on_disconnect_while_the_journal_cannot_be_written_is_applied_when_it_can(
        tmp_path, monkeypatch, caplog):
    """The disconnect's journal record cannot be written: it is kept and retried (the
    session's orders must not stay live and fill), and applied once the journal recovers;
    a logon meanwhile is kept too, after it, and the session's orders wait for both."""
    import errno

    from fixexchange.storage import journal as journal_module

    cfg = operating_config(store="file", store_dir=str(tmp_path / "store"))
    cfg["journal"] = {"fsync": "off"}
    srv = await start_server(cfg)
    sid = "FIX.4.4:EX->C1"
    try:
        c1 = await logon(srv, "C1")
        await rest_order(c1, "a")
        real = journal_module.os.pwrite

        def broken(fd, data, offset):
            raise OSError(errno.EIO, "Input/output error")

        monkeypatch.setattr(journal_module.os, "pwrite", broken)
        c1.order("b", "1", 5, "100")  # journaled in memory, its commit fails: the reply is held
        await until(lambda: srv.gateway.unavailable is not None)
        c1.close()
        await until(gone(srv, "C1"))
        await until(lambda: any("disconnect of " + sid in r.message and "not applied yet" in r.message
                                for r in caplog.records))
        assert srv.gateway.live_orders(sid) == 2
        monkeypatch.setattr(journal_module.os, "pwrite", real)
        await until(lambda: srv.gateway.live_orders(sid) == 0)
        assert srv.journal_pending == []
    finally:
        await srv.stop()
    # journaled: a restart does not bring them back
    again = await start_server(cfg)
    try:
        assert again.gateway.live_orders(sid) == 0
    finally:
        await again.stop()


async def test_a_logon_kept_while_the_journal_cannot_be_written_holds_the_sessions_orders(tmp_path):
    cfg = operating_config(store="file", store_dir=str(tmp_path / "store"))
    cfg["journal"] = {"fsync": "off"}
    srv = await start_server(cfg)
    try:
        srv.gateway.unavailable = "Input/output error"  # (what a failed commit sets)
        c2 = await logon(srv, "C2")
        assert srv.journal_pending == ["logon of FIX.4.4:EX->C2"]
        c2.order("early", "1", 1, "100")
        reject = await c2.expect("j")
        assert reject.get(380) == b"4" and b"journal" in reject.get(58)
        srv.gateway.unavailable = None
        await until(lambda: not srv.journal_pending)
        await rest_order(c2, "late")
        c2.close()
    finally:
        await srv.stop()
