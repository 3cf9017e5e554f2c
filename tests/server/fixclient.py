"""A small asyncio FIX 4.4 test client built on simplefix, and an in-process daemon fixture."""
from __future__ import annotations

import asyncio
import datetime as dt
import time

import simplefix

from fixexchange.server.app import ExchangeServer
from fixexchange.server.config import parse_config
from fixexchange.server.main import build

try:  # tomllib-free: tests pass dicts, but allow TOML text too
    import tomllib
except ImportError:  # pragma: no cover
    tomllib = None


def utc_now() -> bytes:
    return dt.datetime.now(dt.timezone.utc).strftime("%Y%m%d-%H:%M:%S.%f")[:-3].encode()


def config_dict(**server) -> dict:
    """Exchange EX, sessions C1 C2 C3 (password pw) + MD, symbols TEST (asks 108x8, 110x12)
    and SYM1 (the default seed)."""
    base_server = {"host": "127.0.0.1", "port": 0, "comp_id": "EX", "store": "memory",
                   "logon_timeout": 5.0, "gtd_interval": 0.05}
    base_server.update(server)
    return {
        "server": base_server,
        "session_defaults": {"heartbeat_min": 1, "heartbeat_max": 120},
        "session": [{"target_comp_id": c, "password": "pw"} for c in ("C1", "C2", "C3", "MD")],
        "symbol": [{"name": "TEST", "tick_size": "0.01"}, {"name": "SYM1", "tick_size": "0.01"},
                   {"name": "LOT", "tick_size": "0.5", "lot_size": 10, "min_qty": 10, "max_qty": 1000,
                    "band_low": "50", "band_high": "150"}],
        "seed": {"bids": [["105", 100], ["104", 100], ["103", 100], ["102", 100], ["101", 100]],
                 "asks": [["110", 100], ["111", 100], ["112", 100], ["113", 100], ["114", 100]],
                 "symbols": {"TEST": {"asks": [["108", 8], ["110", 12]]}, "LOT": {}}},
    }


async def start_server(cfg_dict: dict | None = None, **server) -> ExchangeServer:
    cfg = parse_config(cfg_dict or config_dict(**server), "<test>")
    acceptor, gateway = build(cfg)
    srv = ExchangeServer(cfg, acceptor, gateway)
    await srv.start()
    return srv


class FixClient:
    def __init__(self, comp_id: str, target: str = "EX") -> None:
        self.comp_id = comp_id
        self.target = target
        self.seq = 1
        self.parser = simplefix.FixParser()
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None
        self.inbox: list[simplefix.FixMessage] = []
        self.header_fields: list = []  # extra header fields of every message sent
        self.all: list[simplefix.FixMessage] = []
        self.ssl = None
        self.source: str | None = None

    async def connect(self, port: int) -> None:
        # (self.ssl: a client ssl context for a TLS listener; self.source: a loopback address to
        # connect from, e.g. "127.0.0.7", for the per-address limits)
        self.reader, self.writer = await asyncio.open_connection(
            "127.0.0.1", port, ssl=self.ssl, server_hostname="127.0.0.1" if self.ssl else None,
            local_addr=(self.source, 0) if self.source else None)

    def build(self, msg_type: bytes | str, fields: list, seq: int | None = None, poss_dup: bool = False) -> bytes:
        m = simplefix.FixMessage()
        m.append_pair(8, "FIX.4.4", header=True)
        m.append_pair(35, msg_type, header=True)
        m.append_pair(49, self.comp_id, header=True)
        m.append_pair(56, self.target, header=True)
        m.append_pair(34, self.seq if seq is None else seq, header=True)
        m.append_pair(52, utc_now(), header=True)
        if poss_dup:
            m.append_pair(43, "Y", header=True)
            m.append_pair(122, utc_now(), header=True)
        for tag, value in self.header_fields:  # e.g. OnBehalfOfCompID(115)
            m.append_pair(tag, value, header=True)
        for tag, value in fields:
            m.append_pair(tag, value)
        if seq is None:
            self.seq += 1
        return m.encode()

    def send(self, msg_type, fields: list) -> int:
        seq = self.seq
        self.writer.write(self.build(msg_type, fields))
        return seq

    async def logon(self, port: int, password: str | None = "pw", reset: bool = True, heartbeat: int = 30,
                    expect_ok: bool = True) -> simplefix.FixMessage:
        await self.connect(port)
        fields = [(98, 0), (108, heartbeat)]
        if reset:
            fields.append((141, "Y"))
            self.seq = 1
        if password is not None:
            fields.append((554, password))
        self.send("A", fields)
        m = await self.recv(admin=True)
        if expect_ok:
            assert m.get(35) == b"A", m
        return m

    async def recv(self, timeout: float = 3.0, admin: bool = False) -> simplefix.FixMessage:
        """Next message; heartbeats (and, unless admin, TestRequests: answered) skipped."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while True:
            m = self.parser.get_message()
            if m is not None:
                self.all.append(m)
                t = m.get(35)
                if t == b"1":
                    self.send("0", [(112, m.get(112))])
                    if not admin:
                        continue
                if t == b"0" and not admin:
                    continue
                return m
            left = deadline - loop.time()
            if left <= 0:
                raise asyncio.TimeoutError(f"{self.comp_id}: no message")
            data = await asyncio.wait_for(self.reader.read(65536), left)
            if not data:
                raise ConnectionError(f"{self.comp_id}: connection closed")
            self.parser.append_buffer(data)

    async def round_trip(self, timeout: float = 3.0) -> list[simplefix.FixMessage]:
        """A TestRequest answered: everything sent before it has been handled (the exchange
        takes a session's messages in order).  Returns what came before the Heartbeat."""
        test_id = b"sync-%d" % self.seq  # (unique: the TestRequest's own number)
        before = []
        self.send("1", [(112, test_id)])
        while True:
            m = await self.recv(timeout, admin=True)
            if m.get(35) == b"0" and m.get(112) == test_id:
                return before
            before.append(m)

    async def expect(self, msg_type: bytes | str, timeout: float = 3.0, **match) -> simplefix.FixMessage:
        if isinstance(msg_type, str):
            msg_type = msg_type.encode()
        m = await self.recv(timeout)
        assert m.get(35) == msg_type, f"expected 35={msg_type!r}, got {m}"
        for k, v in match.items():
            tag = int(k[1:])
            want = v.encode() if isinstance(v, str) else v
            assert m.get(tag) == want, f"tag {tag}: expected {want!r}, got {m.get(tag)!r} in {m}"
        return m

    async def closed(self, timeout: float = 3.0) -> bool:
        try:
            while True:
                data = await asyncio.wait_for(self.reader.read(65536), timeout)
                if not data:
                    return True
                self.parser.append_buffer(data)
        except (ConnectionResetError, BrokenPipeError):
            return True

    async def logout(self) -> None:
        self.send("5", [])
        try:
            while True:
                m = await self.recv(2, admin=True)
                if m.get(35) == b"5":
                    break
        except (asyncio.TimeoutError, ConnectionError):
            pass
        self.close()

    def close(self) -> None:
        if self.writer is not None:
            self.writer.close()

    # -- application helpers ----------------------------------------------------------------
    def order(self, cl: str, side: str, qty, price=None, symbol: str = "TEST", ord_type: str | None = None,
              tif: str | None = None, extra: list | None = None) -> int:
        if ord_type is None:
            ord_type = "1" if price is None else "2"
        f = [(11, cl), (55, symbol), (54, side), (60, utc_now()), (38, qty), (40, ord_type)]
        if price is not None:
            f.append((44, price))
        if tif is not None:
            f.append((59, tif))
        f += extra or []
        return self.send("D", f)
