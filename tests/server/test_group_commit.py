"""fsync "batch" over real sockets: one fdatasync per group of replies, the turns of a
pipelined backlog sharing it, and no reply before the records behind it are synced."""
from __future__ import annotations

import asyncio
import errno

import pytest

from fixexchange.server import app as app_module
from fixexchange.storage import journal as journal_module

from .fixclient import FixClient, config_dict, start_server
from .loopback import until

BURST = 40
TURN = 4  # messages per connection per loop turn: the burst takes BURST / TURN turns


def batch_config(tmp_path) -> dict:
    cfg = config_dict(store="file", store_dir=str(tmp_path / "store"),
                      max_messages_per_turn=TURN, contended_messages_per_turn=TURN)
    cfg["journal"] = {"fsync": "batch"}
    return cfg


def burst(c: FixClient, tag: str) -> None:
    """BURST resting orders in one write: one read, a backlog of BURST / TURN turns."""
    data = b""
    for i in range(BURST):
        data += c.build("D", [(11, f"{tag}{i}"), (55, "TEST"), (54, "1"), (60, "20260101-00:00:00"),
                              (38, 1), (40, "2"), (44, "90")])
    c.writer.write(data)


async def acks(c: FixClient, count: int) -> list:
    return [await c.expect("8", i150="0") for _ in range(count)]


@pytest.fixture
def syncs(monkeypatch):
    """Every fdatasync of the journal (the journal's own, not the session stores')."""
    done: list[int] = []
    real = journal_module._sync
    monkeypatch.setattr(journal_module, "_sync", lambda fd: (done.append(fd), real(fd)))
    return done


async def burst_syncs(tmp_path, syncs) -> int:
    """The journal's fdatasyncs while one burst is answered (in order, every order)."""
    srv = await start_server(batch_config(tmp_path))
    try:
        c = FixClient("C1")
        await c.logon(srv.port)
        before = len(syncs)
        burst(c, "a")
        got = await acks(c, BURST)
        assert [m.get(11) for m in got] == [f"a{i}".encode() for i in range(BURST)]
        return len(syncs) - before
    finally:
        await srv.stop()


async def test_the_turns_of_a_pipelined_backlog_share_one_fdatasync(tmp_path, syncs):
    # without grouping every turn of the backlog syncs: BURST / TURN = 10 of them
    assert 1 <= await burst_syncs(tmp_path, syncs) <= 3


async def test_a_group_is_bounded_in_time_every_turn_syncs_past_the_bound(tmp_path, syncs, monkeypatch):
    monkeypatch.setattr(app_module, "SYNC_GROUP_DELAY", 0.0)
    # about one per turn (reads may merge turns)
    assert await burst_syncs(tmp_path, syncs) > BURST // TURN // 2


async def test_no_reply_leaves_before_its_records_are_synced_a_failed_sync_holds_them(
        tmp_path, monkeypatch, caplog):
    """The burst's records are written, their fdatasync fails: not one reply goes out (nor a
    second session's) until a sync succeeds; new orders meanwhile are refused, and after the
    recovery every held reply arrives and trading goes on."""
    srv = await start_server(batch_config(tmp_path))
    try:
        c1, c2 = FixClient("C1"), FixClient("C2")
        await c1.logon(srv.port)
        await c2.logon(srv.port)
        real = journal_module._sync

        def failing(fd):
            raise OSError(errno.EIO, "Input/output error")

        monkeypatch.setattr(journal_module, "_sync", failing)
        burst(c1, "a")
        await until(lambda: srv.gateway.unavailable is not None)
        with pytest.raises(asyncio.TimeoutError):
            await c1.recv(timeout=0.3)
        c2.order("late", "1", 1, "90")
        with pytest.raises(asyncio.TimeoutError):  # (its refusal waits behind the held replies)
            await c2.recv(timeout=0.2)
        assert sum("cannot write" in r.message for r in caplog.records) == 1
        monkeypatch.setattr(journal_module, "_sync", real)
        got = await acks(c1, BURST)
        assert [m.get(11) for m in got] == [f"a{i}".encode() for i in range(BURST)]
        refused = await c2.expect("j", i379="late")
        assert refused.get(380) == b"4" and b"cannot write its journal" in refused.get(58)
        c2.order("after", "1", 1, "90")
        await c2.expect("8", i150="0", i11="after")
    finally:
        await srv.stop()
    # the burst survived: a restart has the 40 orders
    again = await start_server(batch_config(tmp_path))
    try:
        assert again.gateway.live_orders("FIX.4.4:EX->C1") == BURST
    finally:
        await again.stop()
