#!/usr/bin/env python3
"""A QuickFIX bot for fixexchange: logs on with its session settings (quickfix_bot.cfg) and
fixexchange's data dictionary (fixexchange.xml, written by `fixexchange dictionary`), asks
for the security list, buys at the best offer, rests a bid below the market, cancels it,
and logs out. QuickFIX validates every message the exchange sends against the dictionary;
any Reject it would send is reported and makes the exit status 1.

    pip install quickfix-tls           # QuickFIX's Python wheel (CPython 3.11)
    fixexchange &                      # the bundled config: CLIENT3/pass3, SYM1
    python3 examples/quickfix_bot.py   # [--port N --sender C --target T --password P]
"""
from __future__ import annotations

import argparse
import tempfile
import threading
import time
from pathlib import Path

import quickfix as fix

HERE = Path(__file__).resolve().parent


class Bot(fix.Application):
    def __init__(self, password: str) -> None:
        super().__init__()
        self.password = password
        self.session_id = None
        self.logged_on = threading.Event()
        self.logged_out = threading.Event()
        self.lock = threading.Lock()
        self.reports: list[dict[int, str]] = []  # (QuickFIX reuses its Message objects: copy)
        self.rejects: list[str] = []  # Rejects / BusinessMessageRejects QuickFIX sent back

    # -- QuickFIX callbacks -------------------------------------------------------------
    def onCreate(self, session_id):
        self.session_id = session_id

    def onLogon(self, session_id):
        print("logged on")
        self.logged_on.set()

    def onLogout(self, session_id):
        print("logged out")
        self.logged_out.set()

    def toAdmin(self, message, session_id):
        msg_type = message.getHeader().getField(35)
        if msg_type == "A":
            message.setField(fix.Password(self.password))
        elif msg_type == "3":
            with self.lock:
                self.rejects.append(message.toString().replace("\x01", "|"))

    def fromAdmin(self, message, session_id):
        pass

    def toApp(self, message, session_id):
        if message.getHeader().getField(35) == "j":
            with self.lock:
                self.rejects.append(message.toString().replace("\x01", "|"))

    def fromApp(self, message, session_id):
        msg_type = message.getHeader().getField(35)
        if msg_type == "8":
            print(f"ExecutionReport ExecType={message.getField(150)} OrdStatus={message.getField(39)} "
                  f"ClOrdID={message.getField(11)}")
            with self.lock:
                self.reports.append({tag: message.getField(tag) for tag in (11, 39, 150) if message.isSetField(tag)})
        elif msg_type == "y":
            print(f"SecurityList: {message.getField(146)} symbol(s)")

    # -- what the bot does --------------------------------------------------------------
    def send(self, message: fix.Message) -> None:
        fix.Session.sendToTarget(message, self.session_id)

    def order(self, cl_ord_id: str, side: str, qty: int, price: float) -> None:
        m = fix.Message()
        m.getHeader().setField(fix.MsgType("D"))
        for field in (fix.ClOrdID(cl_ord_id), fix.Symbol("SYM1"), fix.Side(side), fix.TransactTime(),
                      fix.OrderQty(qty), fix.OrdType(fix.OrdType_LIMIT), fix.Price(price),
                      fix.TimeInForce(fix.TimeInForce_DAY)):
            m.setField(field)
        self.send(m)

    def cancel(self, cl_ord_id: str, orig: str, side: str) -> None:
        m = fix.Message()
        m.getHeader().setField(fix.MsgType("F"))
        for field in (fix.ClOrdID(cl_ord_id), fix.OrigClOrdID(orig), fix.Symbol("SYM1"), fix.Side(side),
                      fix.TransactTime()):
            m.setField(field)
        self.send(m)

    def wait_for(self, what, timeout: float = 5.0):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self.lock:
                found = [r for r in self.reports if what(r)]
            if found:
                return found[0]
            time.sleep(0.01)
        raise SystemExit("no answer from the exchange")


def settings_file(args: argparse.Namespace, work: Path) -> Path:
    """quickfix_bot.cfg with paths made absolute and the command line's overrides."""
    text = (HERE / "quickfix_bot.cfg").read_text()
    replace = {"DataDictionary": str(HERE / "fixexchange.xml"), "FileStorePath": str(work / "store"),
               "FileLogPath": str(work / "log")}
    for key, value in (("SocketConnectPort", args.port), ("SenderCompID", args.sender),
                       ("TargetCompID", args.target), ("SocketConnectHost", args.host)):
        if value is not None:
            replace[key] = str(value)
    lines = []
    for line in text.splitlines():
        key = line.split("=", 1)[0]
        lines.append(f"{key}={replace[key]}" if key in replace else line)
    path = work / "quickfix_bot.cfg"
    path.write_text("\n".join(lines) + "\n")
    return path


def main() -> int:
    ap = argparse.ArgumentParser(description="A QuickFIX bot for fixexchange")
    ap.add_argument("--host")
    ap.add_argument("--port", type=int)
    ap.add_argument("--sender")
    ap.add_argument("--target")
    ap.add_argument("--password", default="pass3")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as work:
        settings = fix.SessionSettings(str(settings_file(args, Path(work))))
        bot = Bot(args.password)
        initiator = fix.SocketInitiator(bot, fix.FileStoreFactory(settings), settings, fix.FileLogFactory(settings))
        initiator.start()
        try:
            if not bot.logged_on.wait(10):
                raise SystemExit("could not log on")
            x = fix.Message()
            x.getHeader().setField(fix.MsgType("x"))
            x.setField(fix.SecurityReqID("symbols"))
            x.setField(fix.SecurityListRequestType(4))
            bot.send(x)
            bot.order("take-1", fix.Side_BUY, 5, 110.0)  # the bundled book offers 100 @ 110
            bot.wait_for(lambda r: r.get(11) == "take-1" and r.get(39) == "2")
            bot.order("rest-1", fix.Side_BUY, 5, 100.0)  # below the market: rests
            bot.wait_for(lambda r: r.get(11) == "rest-1" and r.get(150) == "0")
            bot.cancel("cancel-1", "rest-1", fix.Side_BUY)
            bot.wait_for(lambda r: r.get(11) == "cancel-1" and r.get(150) == "4")
            time.sleep(0.2)
        finally:
            initiator.stop()
    if bot.rejects:
        print("QuickFIX rejected messages from the exchange:", *bot.rejects, sep="\n  ")
        return 1
    print("done: no message from the exchange was rejected")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
