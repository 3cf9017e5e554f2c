#!/usr/bin/env python3
"""sha256 of every byte the exchange sends for a seeded flow, with a fixed clock.

A guard for speed work: a change that should leave the wire output alone must leave this
digest alone (tests/test_wire_digest.py holds the expected value).  The flow: CLIENT1 (the
fix-load default mix) and CLIENT2 (limit orders only) trading SYM1 and SYM2, 6,000 requests
each, read 4,096 bytes at a time and interleaved, while MDVIEW holds a full-book
incremental subscription to both symbols: fills, cancels, replaces, cancel rejects, X.

    python3 tools/wire_digest.py     # prints: bytes digest
"""
from __future__ import annotations

import asyncio
import dataclasses
import hashlib
import random
import sys
import time
from pathlib import Path
from unittest import mock

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from fixexchange.cli.load import MIXES, Session, build_flow  # noqa: E402
from fixexchange.codec import tags  # noqa: E402
from fixexchange.server import main as server_main  # noqa: E402
from fixexchange.server.config import DEFAULT_CONFIG_PATH, load_config  # noqa: E402
from fixexchange.session.events import ApplicationMessage  # noqa: E402

T0 = 1765100000.0  # the fixed clock (the gateway's ExecID prefix reads it too)
REQUESTS_PER_SESSION = 6000


def _session(comp_id: str, password: str, acceptor, now: float):
    """A fix-load client session and its acceptor connection, logged on."""
    async def make():
        return Session(comp_id, "FIXEXCH", password, 30)
    client = asyncio.run(make())
    conn = acceptor.connection_made(now)
    conn.receive_data(client.encode(tags.MsgTypes.LOGON, [
        (tags.EncryptMethod, 0), (tags.HeartBtInt, 30), (tags.ResetSeqNumFlag, b"Y"),
        (tags.Password, password.encode())]), now)
    return client, conn


def wire_digest() -> tuple[int, str]:
    """(bytes sent, sha256 hex) of the seeded flow."""
    with mock.patch.object(time, "time", lambda: T0):
        cfg = load_config(DEFAULT_CONFIG_PATH)
        cfg = dataclasses.replace(cfg, server=dataclasses.replace(cfg.server, store="memory"))
        acceptor, gateway = server_main.build(cfg)

        def deliver(events, now):
            for ev in events:
                if type(ev) is ApplicationMessage:
                    for o in gateway.on_message(ev.session_id, ev.message, now):
                        acceptor.send(o.session_id, o.msg_type, o.body, now, not o.market_data)

        traders = [_session("CLIENT1", "pass1", acceptor, T0), _session("CLIENT2", "pass2", acceptor, T0)]
        md, md_conn = _session("MDVIEW", "mdview", acceptor, T0)
        deliver(md_conn.receive_data(md.encode(tags.MsgTypes.MARKET_DATA_REQUEST, [
            (tags.MDReqID, b"R1"), (tags.SubscriptionRequestType, b"1"), (tags.MarketDepth, 0),
            (tags.MDUpdateType, 1), (tags.NoMDEntryTypes, 3), (tags.MDEntryType, b"0"),
            (tags.MDEntryType, b"1"), (tags.MDEntryType, b"2"), (tags.NoRelatedSym, 2),
            (tags.Symbol, b"SYM1"), (tags.Symbol, b"SYM2")]), T0), T0)
        rng = random.Random(7)
        reads = []
        for (client, _), mix in zip(traders, ("default", "limit")):
            blob, _ = build_flow(client, REQUESTS_PER_SESSION, ["SYM1", "SYM2"], rng, MIXES[mix],
                                 client.seq, "B")
            reads.append([blob[i:i + 4096] for i in range(0, len(blob), 4096)])
        out, total, now = hashlib.sha256(), 0, T0
        conns = [conn for _, conn in traders] + [md_conn]
        for i in range(max(map(len, reads))):
            for (_, conn), chunks in zip(traders, reads):
                if i < len(chunks):
                    now += 0.0011
                    deliver(conn.receive_data(chunks[i], now), now)
            for conn in conns:
                data = conn.data_to_send()
                total += len(data)
                out.update(data)
        return total, out.hexdigest()


if __name__ == "__main__":
    total, digest = wire_digest()
    print(total, digest)
