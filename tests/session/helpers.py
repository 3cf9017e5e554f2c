"""A scripted FIX client for driving `Connection`s with a fake clock."""

from __future__ import annotations

from fixexchange.codec import FixMessage, FixParser, encode, format_utc_timestamp
from fixexchange.session import Acceptor, MemoryStore, SessionConfig

T0 = 1_767_225_600.0  # 2026-01-01T00:00:00Z
SESSION_ID = "FIX.4.4:EXCH->CLIENT"


def config(**overrides) -> SessionConfig:
    values = {"sender_comp_id": "EXCH", "target_comp_id": "CLIENT", **overrides}
    return SessionConfig(**values)


def message(msg_type: bytes, seq: int, now: float, body=(), sender="CLIENT", target="EXCH",
            begin=b"FIX.4.4", sending_time: float | None = None) -> bytes:
    stamp = format_utc_timestamp(now if sending_time is None else sending_time)
    return encode(begin, msg_type, [(49, sender), (56, target), (34, seq), (52, stamp), *body])


def logon(seq: int, now: float, heartbeat: int = 30, extra=()) -> bytes:
    return message(b"A", seq, now, [(98, 0), (108, heartbeat), *extra])


class Client:
    """One connection plus what it received, parsed."""

    def __init__(self, acceptor: Acceptor, now: float = T0) -> None:
        self.acceptor = acceptor
        self.now = now
        self.connection = acceptor.connection_made(now)
        self.parser = FixParser()
        self.events: list = []

    def send(self, data: bytes) -> list:
        events = self.connection.receive_data(data, self.now)
        self.events.extend(events)
        return events

    def received(self) -> list[FixMessage]:
        return self.parser.feed(self.connection.data_to_send())

    def timer(self, now: float) -> list:
        self.now = now
        events = self.connection.on_timer(now)
        self.events.extend(events)
        return events


def acceptor(store=None, **overrides) -> Acceptor:
    store = store if store is not None else MemoryStore()
    return Acceptor([config(**overrides)], lambda session_id: store)


def logged_on(store=None, heartbeat: int = 30, **overrides) -> Client:
    client = Client(acceptor(store, **overrides))
    client.send(logon(1, client.now, heartbeat))
    [reply] = client.received()
    assert reply.msg_type == b"A"
    return client
