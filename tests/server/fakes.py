"""Line-based stand-ins for the session Acceptor and the Gateway, to test the transport
(timers, batching, back-pressure, limits) without FIX: one command per line."""
from __future__ import annotations

from fixexchange.gateway.outbound import Outbound
from fixexchange.session.events import ApplicationMessage, Disconnected, LoggedOn, LoggedOut


class Line(bytes):
    """One command line, standing in for a FixMessage where the server reads one."""

    msg_type = b"L"

    def get(self, tag, default=None):
        return default


class FakeConn:
    def __init__(self, acc: "FakeAcceptor", now: float) -> None:
        self.acc = acc
        self.out = bytearray()
        self.session_id: str | None = None
        self.closed = False
        self.buf = b""
        self.heartbeat: float | None = None
        self.last_sent = now
        self.writes = 0
        self.drains = 0  # data_to_send calls, output or not (the real one flushes the store)
        self.backlog = 0  # lines left for the next call (max_messages)
        self.source: str | None = None
        self.calls: list[int] = []  # lines processed per receive_data call

    def receive_data(self, data: bytes, now: float, max_messages: int = 0):
        self.buf += data
        events = []
        done = 0
        while b"\n" in self.buf and not (max_messages and done >= max_messages):
            done += 1
            line, self.buf = self.buf.split(b"\n", 1)
            cmd, _, arg = line.partition(b" ")
            if cmd == b"LOGON":
                self.session_id = arg.decode()
                self.acc.conns[self.session_id] = self
                self.out += b"LOGGEDON\n"
                events.append(LoggedOn(self.session_id))
            elif cmd == b"HB":
                self.heartbeat = float(arg)
            elif cmd == b"BYE":
                self.out += b"BYE\n"
                self.closed = True
                events.append(LoggedOut(self.session_id, "client logout"))
            elif self.session_id is not None:
                events.append(ApplicationMessage(self.session_id, Line(line)))
        self.backlog = self.buf.count(b"\n")
        self.calls.append(done)
        return events

    def data_to_send(self) -> bytes:
        self.drains += 1
        if self.out:
            self.writes += 1
        d = bytes(self.out)
        self.out.clear()
        return d

    def next_deadline(self):
        return None if self.heartbeat is None else self.last_sent + self.heartbeat

    def on_timer(self, now: float):
        if self.heartbeat is not None and now >= self.last_sent + self.heartbeat:
            self.out += b"HEARTBEAT\n"
            self.last_sent = now
        return []

    def connection_lost(self, now: float):
        if self.session_id and self.acc.conns.get(self.session_id) is self:
            del self.acc.conns[self.session_id]
        return [Disconnected(self.session_id, "connection lost")] if self.session_id else []

    def logout(self, text: str, now: float) -> None:
        self.out += b"LOGOUT " + text.encode() + b"\n"


class FakeAcceptor:
    def __init__(self) -> None:
        self.conns: dict[str, FakeConn] = {}
        self.stored: dict[str, list[bytes]] = {}
        self.closed = False
        # None: every session id is known; else, like the real Acceptor, send() raises
        # KeyError for an id outside this set
        self.known: set[str] | None = None

    @property
    def session_ids(self) -> list[str]:
        return sorted(self.known if self.known is not None else self.conns)

    def connection_made(self, now: float, source: str | None = None, cert_names=None) -> FakeConn:
        return FakeConn(self, now)

    def send(self, sid, msg_type, body, now, resendable=True) -> bool:
        if self.known is not None and sid not in self.known:
            raise KeyError(sid)
        if resendable:
            self.stored.setdefault(sid, []).append(body)
        c = self.conns.get(sid)
        if c is None:
            return False
        c.out += msg_type + b" " + body + b"\n"
        return True

    def close(self) -> None:
        self.closed = True


class FakeGateway:
    """ORDER x -> one report to the sender; MD n size -> n market-data messages of `size`
    bytes to every subscriber; SUB -> subscribe; FILLALL n size -> n reports to every
    subscriber (not droppable)."""

    def __init__(self) -> None:
        self.subs: set[str] = set()
        self.logons: list[str] = []
        self.disconnects: list[str] = []
        self.snapshots: list[str] = []
        self.times: list[float] = []

    def on_logon(self, sid, now):
        self.logons.append(sid)
        return []

    def on_disconnect(self, sid, now, reason=""):
        self.disconnects.append(sid)
        self.subs.discard(sid)
        return []

    def on_message(self, sid, msg: bytes, now):
        cmd, _, arg = msg.partition(b" ")
        if cmd == b"ORDER":
            return [Outbound(sid, b"8", b"ACK " + arg)]
        if cmd == b"SUB":
            self.subs.add(sid)
            return [Outbound(sid, b"W", b"SNAP", True)]
        if cmd == b"MD":
            n, size = map(int, arg.split())
            return [Outbound(s, b"X", b"x" * size, True) for _ in range(n) for s in sorted(self.subs)]
        if cmd == b"FILLALL":
            n, size = map(int, arg.split())
            return [Outbound(s, b"8", b"f" * size) for _ in range(n) for s in sorted(self.subs)]
        if cmd == b"CRASH":
            raise RuntimeError("boom")
        return []

    def end_of_day(self, now):
        self.times.append(now)
        return [Outbound(sid, b"8", b"EOD") for sid in sorted(self.subs)]

    def snapshot_for(self, sid, now):
        self.snapshots.append(sid)
        return [Outbound(sid, b"W", b"SNAP", True)]

    def advance_time(self, now):
        self.times.append(now)
        return []
