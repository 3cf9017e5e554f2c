"""Helpers for tests (and tools/bench_hardening.py) that drive a daemon over loopback
sockets: waiting for a condition instead of sleeping, idle connections from many loopback
source addresses.  Stdlib only, no package-relative imports (the bench loads it by path)."""
from __future__ import annotations

import asyncio
import socket
import time


async def until(predicate, timeout: float = 5.0) -> None:
    """Poll ``predicate`` until it holds; fail the test after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "condition not reached in time"
        await asyncio.sleep(0.01)


def loopback_sources(n: int, first: int = 2) -> list[str]:
    """``n`` distinct loopback addresses (127.0.x.y), from the ``first``-th on."""
    return [f"127.0.{1 + (i + first) // 250}.{1 + (i + first) % 250}" for i in range(n)]


def idle_sockets(port: int, sources: list[str], per_source: int) -> list[socket.socket]:
    """Connections that never send a byte, ``per_source`` from each loopback address."""
    socks = []
    for source in sources:
        for _ in range(per_source):
            s = socket.socket()
            s.setblocking(False)
            s.bind((source, 0))
            s.connect_ex(("127.0.0.1", port))
            socks.append(s)
    return socks
