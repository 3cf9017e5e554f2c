#!/usr/bin/env python3
"""The floor for ``fix-load``: a bare asyncio acceptor with no session layer and no matching.

It answers a Logon with a Logon and every other message carrying a ClOrdID(11) with one
pre-built ExecutionReport naming that ClOrdID (one write per read), and nothing else:
no validation, no sequence numbers, no store.  Run it, then point fix-load at it:

    python tools/bare_acceptor.py --port 9990 &
    fix-load --port 9990 --pid $! --comp-id ANY --password x

Prints nothing but its pid and port; the numbers come from fix-load.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import re

_MESSAGE = re.compile(rb"8=FIX[^\x01]*\x01(?:[^\x01]*\x01)*?10=\d\d\d\x01")
_FIELDS = re.compile(rb"\x01(35|11|49|56)=([^\x01]*)")


def _frame(body: bytes) -> bytes:
    head = b"8=FIX.4.4\x019=%d\x01" % len(body)
    return head + body + b"10=%03d\x01" % (sum(head + body) % 256)


class Bare(asyncio.Protocol):
    def connection_made(self, transport):
        transport.get_extra_info("socket").setsockopt(6, 1, 1)  # TCP_NODELAY
        self.transport = transport
        self.buffer = b""

    def data_received(self, data):
        buf = self.buffer + data
        out = []
        end = 0
        for m in _MESSAGE.finditer(buf):
            end = m.end()
            fields = dict(_FIELDS.findall(m.group()))
            if fields.get(b"35") == b"A":
                out.append(_frame(b"35=A\x0149=%s\x0156=%s\x0134=1\x0198=0\x01108=30\x01"
                                  % (fields[b"56"], fields[b"49"])))
            elif b"11" in fields:
                out.append(_frame(b"35=8\x0134=2\x0137=1\x0111=%s\x0117=1\x01150=0\x0139=0\x01"
                                  b"55=SYM1\x0154=1\x0114=0\x01151=1\x016=0\x01" % fields[b"11"]))
        self.buffer = buf[end:]
        if out:
            self.transport.write(b"".join(out))


async def serve(port: int) -> None:
    server = await asyncio.get_running_loop().create_server(Bare, "127.0.0.1", port)
    print(f"bare acceptor pid {os.getpid()} port {port}", flush=True)
    async with server:
        await server.serve_forever()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--port", type=int, default=9990)
    asyncio.run(serve(ap.parse_args().port))


if __name__ == "__main__":
    main()
