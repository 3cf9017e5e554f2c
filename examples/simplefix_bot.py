#!/usr/bin/env python3
"""A minimal market-making bot for fixexchange, with simplefix and a plain socket.

It logs on, subscribes to one symbol's book, quotes one tick inside the spread on both
sides, re-quotes when a quote fills, and on exit (Ctrl-C, --duration or --max-fills)
cancels its live quotes and logs out.

    pip install simplefix
    fixexchange &                      # the bundled config: CLIENT2/pass2, SYM1
    python3 examples/simplefix_bot.py --sender CLIENT2 --password pass2 --symbol SYM1
"""
from __future__ import annotations

import argparse
import datetime as dt
import socket
import time
from decimal import Decimal

import simplefix


class Bot:
    def __init__(self, args: argparse.Namespace) -> None:
        self.args = args
        self.sock = socket.create_connection((args.host, args.port), timeout=5)
        self.sock.settimeout(0.2)
        self.parser = simplefix.FixParser()
        self.seq = 1
        self.next_id = 1
        self.tick = Decimal(args.tick)
        self.best = {b"0": None, b"1": None}  # best bid / offer from market data
        self.book = {b"0": {}, b"1": {}}
        self.quotes: dict[bytes, bytes] = {}  # side -> ClOrdID of our live quote
        self.fills = 0

    # -- plumbing ----------------------------------------------------------------------
    def send(self, msg_type: str, *fields) -> None:
        m = simplefix.FixMessage()
        m.append_pair(8, "FIX.4.4", header=True)
        m.append_pair(35, msg_type, header=True)
        m.append_pair(49, self.args.sender, header=True)
        m.append_pair(56, self.args.target, header=True)
        m.append_pair(34, self.seq, header=True)
        m.append_utc_timestamp(52, header=True)
        for tag, value in fields:
            m.append_pair(tag, value)
        self.seq += 1
        self.sock.sendall(m.encode())

    def messages(self):
        """Messages received so far (waits up to 0.2 s for more)."""
        try:
            data = self.sock.recv(65536)
            if not data:
                raise ConnectionError("the exchange closed the connection")
            self.parser.append_buffer(data)
        except socket.timeout:
            pass
        while (m := self.parser.get_message()) is not None:
            if m.get(35) == b"1":  # TestRequest: answer it
                self.send("0", (112, m.get(112).decode()))
            yield m

    def new_id(self, prefix: str) -> str:
        self.next_id += 1
        return f"{prefix}{int(time.time() * 1000)}-{self.next_id}"

    # -- the bot -------------------------------------------------------------------------
    def logon(self) -> None:
        self.send("A", (98, 0), (108, 30), (141, "Y"), (554, self.args.password))
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline:
            for m in self.messages():
                if m.get(35) == b"A":
                    print("logged on")
                    return
                if m.get(35) == b"5":
                    raise SystemExit(f"logon refused: {(m.get(58) or b'').decode()}")
        raise SystemExit("no Logon answer")

    def subscribe(self) -> None:
        self.send("V", (262, "book"), (263, "1"), (264, 1), (265, "1"), (267, 2), (269, "0"), (269, "1"),
                  (146, 1), (55, self.args.symbol))

    def on_market_data(self, m) -> None:
        if m.get(35) == b"W":
            self.book = {b"0": {}, b"1": {}}
        action, kind, price = None, None, None
        for tag, value in m.pairs:  # the entries of NoMDEntries, in order
            if tag == b"279":
                action = value
            elif tag == b"269":
                kind = value
            elif tag == b"270":
                price = Decimal(value.decode())
                if kind in self.book and action == b"2":
                    self.book[kind].pop(price, None)
            elif tag == b"271" and kind in self.book:
                self.book[kind][price] = value
        self.best[b"0"] = max(self.book[b"0"], default=None)
        self.best[b"1"] = min(self.book[b"1"], default=None)

    def quote(self) -> None:
        bid, ask = self.best[b"0"], self.best[b"1"]
        if bid is None or ask is None or ask - bid <= 2 * self.tick:
            return  # no room inside the spread
        for side, price in ((b"1", bid + self.tick), (b"2", ask - self.tick)):
            if side not in self.quotes:
                cl = self.new_id("q")
                self.quotes[side] = cl.encode()
                self.send("D", (11, cl), (55, self.args.symbol), (54, side.decode()),
                          (60, dt.datetime.now(dt.timezone.utc).strftime("%Y%m%d-%H:%M:%S.%f")[:-3]),
                          (38, self.args.qty), (40, "2"), (44, str(price)), (59, "0"))
                print(f"quote {'BUY' if side == b'1' else 'SELL'} {self.args.qty} @ {price}")

    def on_execution_report(self, m) -> None:
        exec_type, cl = m.get(150), m.get(11)
        side = next((s for s, c in self.quotes.items() if c == cl), None)
        if exec_type == b"F":
            self.fills += 1
            print(f"fill {m.get(32).decode()} @ {m.get(31).decode()} (order {cl.decode()})")
        if m.get(39) in (b"2", b"4", b"8", b"C") and side is not None:
            del self.quotes[side]  # filled, cancelled or rejected: quote again
            if m.get(39) == b"8":
                print(f"rejected: {(m.get(58) or b'').decode()}")

    def run(self) -> int:
        self.logon()
        self.subscribe()
        stop = time.monotonic() + self.args.duration
        try:
            while time.monotonic() < stop and self.fills < self.args.max_fills:
                for m in self.messages():
                    if m.get(35) in (b"W", b"X"):
                        self.on_market_data(m)
                    elif m.get(35) == b"8":
                        self.on_execution_report(m)
                self.quote()
        except KeyboardInterrupt:
            pass
        self.cancel_all_and_logout()
        return 0

    def cancel_all_and_logout(self) -> None:
        """Cancel every live quote (one OrderMassCancelRequest), wait for its report, log out."""
        self.send("q", (11, self.new_id("m")), (530, "1"), (55, self.args.symbol),
                  (60, dt.datetime.now(dt.timezone.utc).strftime("%Y%m%d-%H:%M:%S.%f")[:-3]))
        self.wait_for(b"r", lambda m: print(f"cancel on exit: {(m.get(533) or b'0').decode()} quote(s) cancelled"))
        self.send("5")
        self.wait_for(b"5", lambda m: print("logged out"))
        self.sock.close()

    def wait_for(self, msg_type: bytes, then, timeout: float = 5.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for m in self.messages():
                if m.get(35) == msg_type:
                    then(m)
                    return
        print(f"no {msg_type.decode()} from the exchange in {timeout:g} s")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--port", type=int, default=9878)
    ap.add_argument("--sender", default="CLIENT2")
    ap.add_argument("--target", default="FIXEXCH")
    ap.add_argument("--password", default="pass2")
    ap.add_argument("--symbol", default="SYM1")
    ap.add_argument("--tick", default="0.01", help="the symbol's tick size")
    ap.add_argument("--qty", type=int, default=10)
    ap.add_argument("--duration", type=float, default=60.0, help="seconds to run")
    ap.add_argument("--max-fills", type=int, default=1_000_000)
    return Bot(ap.parse_args()).run()


if __name__ == "__main__":
    raise SystemExit(main())
