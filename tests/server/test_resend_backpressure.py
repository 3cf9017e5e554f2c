"""A ResendRequest over a large store is served incrementally: a chunk per loop turn while the
requester's socket drains, so other sessions keep their round trips and a requester that
reads gets every message."""
from __future__ import annotations

import asyncio
import re
import time

from .fixclient import FixClient, start_server

STORED = 30_000
_SEQ = re.compile(rb"\x0134=(\d+)\x01")
_NEW_SEQ = re.compile(rb"\x0136=(\d+)\x01")


async def test_a_large_resend_does_not_stall_other_sessions_and_delivers_everything():
    srv = await start_server(outbound_high_water=65536, outbound_hard_limit=1 << 20)
    try:
        c1 = FixClient("C1")
        await c1.logon(srv.port)
        c1.close()
        for _ in range(100):
            if "FIX.4.4:EX->C1" not in srv.by_session:
                break
            await asyncio.sleep(0.01)
        now = time.time()
        body = [(37, "O1"), (11, "x"), (17, "E"), (150, "0"), (39, "0"), (55, "TEST"), (54, "1"), (38, 1),
                (40, "2"), (44, "100"), (59, "0"), (151, 1), (14, 0), (6, 0), (60, "20260101-00:00:00")]
        for _ in range(STORED):  # reports while C1 is away: stored for its resend
            srv.acceptor.send("FIX.4.4:EX->C1", b"8", body, now, True)
        c2 = FixClient("C2")
        await c2.logon(srv.port)

        c1b = FixClient("C1")
        c1b.seq = c1.seq
        logon = await c1b.logon(srv.port, reset=False)
        last = int(logon.get(34))
        c1b.send("2", [(7, 2), (16, 0)])
        reader = c1b.reader

        async def read_everything() -> set[int]:
            seen: set[int] = set()
            buf = b""
            while not seen.issuperset(range(2, last)):
                data = await asyncio.wait_for(reader.read(1 << 16), 20)
                assert data, "requester disconnected"
                buf += data
                end = buf.rfind(b"\x0110=")
                end = buf.find(b"\x01", end + 1) + 1 if end >= 0 else 0
                for message in buf[:end].split(b"8=FIX.4.4\x01")[1:]:
                    seq = int(_SEQ.search(message).group(1))
                    if b"\x0135=4\x01" in message:
                        seen.update(range(seq, int(_NEW_SEQ.search(message).group(1))))
                    else:
                        seen.add(seq)
                buf = buf[end:]
            return seen

        async def round_trips() -> list[float]:
            times = []
            i = 0
            while not done.is_set():
                i += 1
                t = time.perf_counter()
                c2.order(f"p{i}", "1", 1, "100")
                await c2.expect("8", i11=f"p{i}")
                times.append(time.perf_counter() - t)
                await asyncio.sleep(0.005)
            return times

        done = asyncio.Event()
        rtt_task = asyncio.ensure_future(round_trips())
        seen = await read_everything()
        done.set()
        times = await rtt_task
        assert seen >= set(range(2, last))  # every message, none missing
        assert len(times) > 10
        print(f"worst round trip {max(times) * 1000:.1f} ms over {len(times)} orders during the resend")
        assert max(times) < 0.25, max(times)
        c1b.close()
        c2.close()
    finally:
        await srv.stop()
