"""Interop: QuickFIX (PyPI quickfix-tls, a real FIX engine) as the initiator, validating every
message fixexchange sends against QuickFIX's own FIX44.xml (fixexchange/server/fix44, from
the quickfix 1.16.0 source distribution; licence in fix44/QUICKFIX_LICENSE).  It trades and must
send zero Rejects (35=3) and zero BusinessMessageRejects (35=j)."""
from __future__ import annotations

import asyncio
import threading
from pathlib import Path

import pytest

from .fixclient import start_server

fix = pytest.importorskip("quickfix")

from fixexchange.server.dialect import FIX44_XML


class App(fix.Application):
    def __init__(self) -> None:
        super().__init__()
        self.lock = threading.Lock()
        self.session_id = None
        self.logged_on = threading.Event()
        self.logged_out = threading.Event()
        self.received: list[str] = []  # raw application messages from fixexchange
        self.rejects_sent: list[str] = []  # our (QuickFIX's) Rejects / BusinessMessageRejects
        self.admin_received: list[str] = []

    def onCreate(self, sessionID):
        self.session_id = sessionID

    def onLogon(self, sessionID):
        self.logged_on.set()

    def onLogout(self, sessionID):
        self.logged_out.set()

    def toAdmin(self, message, sessionID):
        mt = message.getHeader().getField(35)
        if mt == "A":
            message.setField(fix.Password("pw"))
        if mt == "3":
            with self.lock:
                self.rejects_sent.append(message.toString())

    def fromAdmin(self, message, sessionID):
        with self.lock:
            self.admin_received.append(message.toString())

    def toApp(self, message, sessionID):
        if message.getHeader().getField(35) == "j":
            with self.lock:
                self.rejects_sent.append(message.toString())

    def fromApp(self, message, sessionID):
        with self.lock:
            self.received.append(message.toString())

    def of_type(self, mt: str) -> list[str]:
        with self.lock:
            return [m for m in self.received if f"\x0135={mt}\x01" in m]


# QuickFIX's standard FIX44.xml (the wire is FIX 4.4) and the dictionary fixexchange ships
# for its dialect (examples/fixexchange.xml, `fixexchange dictionary`)
SHIPPED_XML = Path(__file__).resolve().parents[2] / "examples" / "fixexchange.xml"


def settings(port: int, tmp: Path, dictionary: Path = FIX44_XML) -> "fix.SessionSettings":
    text = f"""[DEFAULT]
ConnectionType=initiator
ReconnectInterval=1
FileStorePath={tmp / 'qf-store'}
FileLogPath={tmp / 'qf-log'}
StartTime=00:00:00
EndTime=00:00:00
UseDataDictionary=Y
DataDictionary={dictionary}
ValidateUserDefinedFields=Y
ValidateFieldsOutOfOrder=Y
ValidateFieldsHaveValues=Y
AllowUnknownMsgFields=N
ResetOnLogon=Y
HeartBtInt=1
[SESSION]
BeginString=FIX.4.4
SenderCompID=C3
TargetCompID=EX
SocketConnectHost=127.0.0.1
SocketConnectPort={port}
"""
    p = tmp / "qf.cfg"
    p.write_text(text)
    return fix.SessionSettings(str(p))


def nos(cl: str, side: str, qty: int, price: str | None, symbol: str = "TEST", tif: str = "0"):
    m = fix.Message()
    m.getHeader().setField(fix.MsgType("D"))
    m.setField(fix.ClOrdID(cl))
    m.setField(fix.Symbol(symbol))
    m.setField(fix.Side(side))
    m.setField(fix.TransactTime())
    m.setField(fix.OrderQty(qty))
    if price is None:
        m.setField(fix.OrdType("1"))
    else:
        m.setField(fix.OrdType("2"))
        m.setField(fix.Price(float(price)))
    m.setField(fix.TimeInForce(tif))
    return m


async def wait_for(cond, timeout: float = 5.0) -> None:
    loop = asyncio.get_running_loop()
    end = loop.time() + timeout
    while not cond():
        if loop.time() > end:
            raise AssertionError("timed out")
        await asyncio.sleep(0.01)


@pytest.mark.parametrize("dictionary", [FIX44_XML, SHIPPED_XML], ids=["FIX44.xml", "shipped"])
async def test_quickfix_initiator_trades_with_zero_rejects(tmp_path, dictionary):
    srv = await start_server()
    app = App()
    s = settings(srv.port, tmp_path, dictionary)
    init = fix.SocketInitiator(app, fix.FileStoreFactory(s), s, fix.FileLogFactory(s))
    init.start()
    try:
        await wait_for(app.logged_on.is_set)
        sid = app.session_id
        send = lambda m: fix.Session.sendToTarget(m, sid)  # noqa: E731
        # the worked examples
        send(nos("q1", "1", 20, None))                    # market 20: 8@108 + 12@110
        await wait_for(lambda: len(app.of_type("8")) >= 3)
        send(nos("q2", "2", 30, "108"))                   # sell 30 @108: rests (book was swept)
        send(nos("q3", "1", 15, "108"))                   # buy 15 @108: self-trade -> STP cancel
        send(nos("q4", "1", 5, "106"))                    # rests
        await wait_for(lambda: len(app.of_type("8")) >= 7)
        # replace, status, cancel, a cancel reject, mass cancel
        g = fix.Message()
        g.getHeader().setField(fix.MsgType("G"))
        for f in (fix.OrigClOrdID("q4"), fix.ClOrdID("q5"), fix.Symbol("TEST"), fix.Side("1"),
                  fix.TransactTime(), fix.OrderQty(4), fix.OrdType("2"), fix.Price(106.5)):
            g.setField(f)
        send(g)
        h = fix.Message()
        h.getHeader().setField(fix.MsgType("H"))
        for f in (fix.ClOrdID("q5"), fix.Symbol("TEST"), fix.Side("1")):
            h.setField(f)
        send(h)
        for cl, orig in (("q6", "q5"), ("q7", "q5")):
            c = fix.Message()
            c.getHeader().setField(fix.MsgType("F"))
            for f in (fix.OrigClOrdID(orig), fix.ClOrdID(cl), fix.Symbol("TEST"), fix.Side("1"),
                      fix.TransactTime()):
                c.setField(f)
            send(c)
        send(nos("q8", "2", 1, "120"))
        q = fix.Message()
        q.getHeader().setField(fix.MsgType("q"))
        for f in (fix.ClOrdID("q9"), fix.MassCancelRequestType("7"), fix.TransactTime()):
            q.setField(f)
        send(q)
        # rejected order: unknown symbol
        send(nos("q10", "1", 1, "100", symbol="NOPE"))
        # market data: subscribe (full book, incremental), then trade to cause an X
        v = fix.Message()
        v.getHeader().setField(fix.MsgType("V"))
        v.setField(fix.MDReqID("md1"))
        v.setField(fix.SubscriptionRequestType("1"))
        v.setField(fix.MarketDepth(0))
        v.setField(fix.MDUpdateType(1))
        for t in ("0", "1", "2"):
            grp = fix.Group(267, 269)
            grp.setField(fix.MDEntryType(t))
            v.addGroup(grp)
        sym = fix.Group(146, 55)
        sym.setField(fix.Symbol("SYM1"))
        v.addGroup(sym)
        send(v)
        await wait_for(lambda: len(app.of_type("W")) >= 1)
        send(nos("q11", "1", 3, "110", symbol="SYM1"))
        await wait_for(lambda: len(app.of_type("X")) >= 1)
        # market data reject and security list
        v2 = fix.Message()
        v2.getHeader().setField(fix.MsgType("V"))
        v2.setField(fix.MDReqID("md2"))
        v2.setField(fix.SubscriptionRequestType("0"))
        v2.setField(fix.MarketDepth(0))
        grp = fix.Group(267, 269)
        grp.setField(fix.MDEntryType("0"))
        v2.addGroup(grp)
        sym = fix.Group(146, 55)
        sym.setField(fix.Symbol("NOPE"))
        v2.addGroup(sym)
        send(v2)
        await wait_for(lambda: app.of_type("Y") and app.of_type("r")
                       and len(app.of_type("9")) >= 1, 5)
        await asyncio.sleep(1.5)  # a heartbeat interval passes: heartbeats validated too
        ers = app.of_type("8")
        exec_types = {m.split("\x01150=")[1][0] for m in ers}
        assert {"0", "F", "5", "I", "4", "8"} <= exec_types, exec_types
        assert any("\x0111=q1\x01" in m and "\x0131=110\x01" in m and "\x0132=12\x01" in m for m in ers)
        assert app.rejects_sent == [], app.rejects_sent
        assert not [m for m in app.admin_received if "\x0135=3\x01" in m]
    finally:
        # stop() waits for the Logout answer: the daemon runs on this thread's loop
        await asyncio.get_running_loop().run_in_executor(None, init.stop)
        await srv.stop()
    # QuickFIX's own event log has no validation complaints either
    events = "".join(p.read_text() for p in (tmp_path / "qf-log").glob("*event*"))
    assert "Reject" not in events and "invalid" not in events.lower(), events


async def test_quickfix_security_list_validates(tmp_path):
    srv = await start_server()
    app = App()
    s = settings(srv.port, tmp_path)
    init = fix.SocketInitiator(app, fix.FileStoreFactory(s), s, fix.FileLogFactory(s))
    init.start()
    try:
        await wait_for(app.logged_on.is_set)
        x = fix.Message()
        x.getHeader().setField(fix.MsgType("x"))
        x.setField(fix.SecurityReqID("sl"))
        x.setField(fix.SecurityListRequestType(4))
        fix.Session.sendToTarget(x, app.session_id)
        await wait_for(lambda: app.of_type("y") or app.rejects_sent, 5)
        assert app.rejects_sent == [], app.rejects_sent
        assert app.of_type("y")
    finally:
        await asyncio.get_running_loop().run_in_executor(None, init.stop)
        await srv.stop()


async def test_quickfix_drop_copy_and_security_status_validate(tmp_path):
    """QuickFIX as a drop-copy session (C3 covering C1) subscribed to SecurityStatus: the
    copies (OnBehalfOfCompID in the header) and the SecurityStatus of a halt and a resume
    pass its FIX44.xml validation."""
    from .fixclient import FixClient, config_dict

    cfg = config_dict()
    cfg["session"][2].update(role="drop_copy", drop_copy_of=["C1"])
    srv = await start_server(cfg)
    app = App()
    s = settings(srv.port, tmp_path)
    init = fix.SocketInitiator(app, fix.FileStoreFactory(s), s, fix.FileLogFactory(s))
    init.start()
    c1 = FixClient("C1")
    try:
        await wait_for(app.logged_on.is_set)
        e = fix.Message()
        e.getHeader().setField(fix.MsgType("e"))
        e.setField(fix.SecurityStatusReqID("st"))
        e.setField(fix.SubscriptionRequestType("1"))
        e.setField(fix.Symbol("TEST"))
        fix.Session.sendToTarget(e, app.session_id)
        await wait_for(lambda: app.of_type("f"), 5)
        await c1.logon(srv.port)
        c1.order("d1", "1", 3, "108")
        await c1.expect("8", i150="0")
        await c1.expect("8", i150="F")
        srv.admin_halt("TEST", "news pending")
        c1.order("d2", "1", 1, "100")
        await c1.expect("8", i150="8")
        srv.admin_resume("TEST")
        await wait_for(lambda: len(app.of_type("8")) >= 3 and len(app.of_type("f")) >= 3, 5)
        copies = app.of_type("8")
        assert all("\x01115=C1\x01" in m for m in copies)
        assert [m.split("\x01326=")[1].split("\x01")[0] for m in app.of_type("f")] == ["17", "2", "17"]
        await asyncio.sleep(1.2)
        assert app.rejects_sent == [], app.rejects_sent
        assert not [m for m in app.admin_received if "\x0135=3\x01" in m]
    finally:
        c1.close()
        await asyncio.get_running_loop().run_in_executor(None, init.stop)
        await srv.stop()
    events = "".join(p.read_text() for p in (tmp_path / "qf-log").glob("*event*"))
    assert "Reject" not in events and "invalid" not in events.lower(), events
