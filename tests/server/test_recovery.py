"""Recovery in-process: a crash between the journal write and the session store write, a
snapshot plus tail, a journal whose records before the snapshot are missing."""
from __future__ import annotations

import os

import pytest

from fixexchange.codec import FixParser, encode
from fixexchange.server.config import ConfigError, load_config
from fixexchange.server.main import build

SID = "FIX.4.4:EX->C1"
STAMP = b"20260101-00:00:00.000"


def config(tmp_path):
    path = tmp_path / "x.toml"
    path.write_text(f'[server]\ncomp_id = "EX"\nstore_dir = "{tmp_path / "store"}"\n'
                    '[[session]]\ntarget_comp_id = "C1"\n[[symbol]]\nname = "S1"\n'
                    '[seed]\nbids = [["99", 10]]\nasks = [["101", 10]]\n[journal]\nfsync = "off"\n')
    return load_config(path)


def order(seq: int, cl: str, price: str = "98"):
    [m] = FixParser().feed(encode(b"FIX.4.4", b"D", [(49, b"C1"), (56, b"EX"), (34, seq), (52, STAMP), (11, cl),
                                                      (55, b"S1"), (54, b"1"), (60, STAMP), (38, 5), (40, b"2"),
                                                      (44, price), (59, b"1")]))
    return m


def run(acceptor, sequencer, message, now):
    store = acceptor.store_for(SID)
    store.set_next_target_seq(message.seq_num + 1)
    for out in sequencer.on_message(SID, message, now):
        acceptor.send(out[0], out[1], out[2], now, True)


def test_a_crash_after_the_journal_write_restores_the_reports_and_the_inbound_number(tmp_path, caplog):
    cfg = config(tmp_path)
    acceptor, sequencer = build(cfg, now=1.767e9)
    run(acceptor, sequencer, order(2, "a"), 1.767e9 + 1)
    acceptor.flush_stores()  # the first order's report is stored
    run(acceptor, sequencer, order(3, "b"), 1.767e9 + 2)
    sequencer.durable.commit()  # the second one's record is written, then the process dies:
    store = acceptor.store_for(SID)
    store._pending.clear()  # its report and inbound number never reached the store file
    store._target_pending = False
    sequencer.durable.journal._buffer.clear()
    os.close(sequencer.durable.journal._fd)
    os.close(sequencer.durable.journal._lock)
    sequencer.durable.journal._fd = -1

    acceptor2, sequencer2 = build(cfg, now=1.767e9 + 10)
    store2 = acceptor2.store_for(SID)
    assert store2.next_target_seq == 4  # moved past the journaled message
    reports = [raw for _, raw in store2.get_sent(1, 99)]
    assert [r.count(b"\x0111=b\x01") for r in reports] == [0, 1]  # b's report stored once, at recovery
    assert b"\x0111=a\x01" in reports[0]
    assert sorted(sequencer2.gateway.cl_ord_ids()) == [b"a", b"b"]


def test_the_snapshot_timings_read_zero_before_the_first_snapshot(tmp_path):
    acceptor, sequencer = build(config(tmp_path), now=1.767e9)
    durable = sequencer.durable
    assert durable.last_pause == 0.0 and durable.last_snapshot_seconds == 0.0
    acceptor.close()
    durable.close()


def test_snapshot_plus_tail_and_a_missing_journal(tmp_path):
    cfg = config(tmp_path)
    acceptor, sequencer = build(cfg, now=1.767e9)
    run(acceptor, sequencer, order(2, "a"), 1.767e9 + 1)
    durable = sequencer.durable
    assert durable.start_snapshot()
    assert durable.poll_snapshot(block=True) is True
    run(acceptor, sequencer, order(3, "b", "97"), 1.767e9 + 2)
    acceptor.close()
    durable.close()
    acceptor2, sequencer2 = build(cfg, now=1.767e9 + 5)
    assert sequencer2.durable.recovery["snapshot"] > 0 and sequencer2.durable.recovery["replayed"] >= 1
    assert sequencer2.gateway.engine.book("S1").depth(1, 0) == [(9900, 10), (9800, 5), (9700, 5)]
    acceptor2.close()
    sequencer2.durable.close()
    # the snapshots gone but the journal truncated behind them: refused, with the file and key
    journal_dir = tmp_path / "store" / "journal"
    for snap in journal_dir.glob("snapshot-*.snap"):
        snap.unlink()
    with pytest.raises(ConfigError) as info:
        build(cfg)
    assert info.value.key == "journal.directory" and "missing" in info.value.problem


def test_the_gateway_of_the_bundled_config_can_be_snapshotted():
    """A snapshot pickles the Gateway (engine, market data, sessions, trading status...): a
    lambda or an open file among its attributes would make every snapshot fail."""
    import dataclasses
    import pickle

    from fixexchange.server.config import DEFAULT_CONFIG_PATH

    cfg = load_config(DEFAULT_CONFIG_PATH)
    cfg = dataclasses.replace(cfg, server=dataclasses.replace(cfg.server, store="memory"))
    _, sequencer = build(cfg, now=1.767e9)
    restored = pickle.loads(pickle.dumps(sequencer.gateway, protocol=pickle.HIGHEST_PROTOCOL))
    assert restored.engine.book("SYM1").depth(1, 0) == sequencer.gateway.engine.book("SYM1").depth(1, 0)


def test_a_snapshot_pickled_before_the_gateway_had_slots_still_loads(monkeypatch):
    """Snapshots written while the Gateway kept its attributes in a __dict__ hold them as a
    dict (and no last_end_of_day, then a class default): they restore the same gateway."""
    import dataclasses
    import pickle

    from fixexchange.gateway import Gateway
    from fixexchange.server.config import DEFAULT_CONFIG_PATH

    cfg = load_config(DEFAULT_CONFIG_PATH)
    cfg = dataclasses.replace(cfg, server=dataclasses.replace(cfg.server, store="memory"))
    _, sequencer = build(cfg, now=1.767e9)
    gateway = sequencer.gateway

    def as_before(self, protocol):  # what pickle wrote for the Gateway before
        return object.__new__, (Gateway,), {name: getattr(self, name) for name in Gateway.__slots__
                                            if name != "last_end_of_day"}

    monkeypatch.setattr(Gateway, "__reduce_ex__", as_before)
    data = pickle.dumps(gateway, protocol=pickle.HIGHEST_PROTOCOL)
    monkeypatch.undo()
    restored = pickle.loads(data)
    assert type(restored) is Gateway and restored.last_end_of_day is None
    assert restored.engine.book("SYM1").depth(1, 0) == gateway.engine.book("SYM1").depth(1, 0)
    [message] = FixParser().feed(encode(b"FIX.4.4", b"D", [
        (49, b"CLIENT1"), (56, b"FIXEXCH"), (34, 2), (52, STAMP), (11, b"a"), (55, b"SYM1"), (54, b"1"),
        (60, STAMP), (38, 5), (40, b"2"), (44, b"111"), (59, b"1")]))  # (crosses the seeded asks)
    assert restored.on_message("FIX.4.4:FIXEXCH->CLIENT1", message, 1.767e9 + 1) == gateway.on_message(
        "FIX.4.4:FIXEXCH->CLIENT1", message, 1.767e9 + 1)


async def test_application_messages_read_after_shutdown_began_are_refused_not_executed():
    import asyncio

    from .fixclient import FixClient, start_server

    srv = await start_server(logout_timeout=0.5)
    c1 = FixClient("C1")
    await c1.logon(srv.port)
    c1.order("before", "1", 1, "100")
    await c1.expect("8", i150="0", i11="before")
    stopping = asyncio.ensure_future(srv.stop())
    await c1.recv(3, admin=True)  # the exchange's Logout
    c1.order("after", "1", 1, "100")
    await stopping
    assert b"after" not in srv.gateway.gateway.cl_ord_ids(live=False)
    # the refusal is stored: the client gets it by resend when it logs on again
    stored = [raw for _, raw in srv.acceptor.store_for("FIX.4.4:EX->C1").get_sent(1, 99)]
    [refusal] = [raw for raw in stored if b"\x0135=j\x01" in raw]
    assert b"\x01379=after\x01" in refusal and b"\x01380=4\x01" in refusal and b"shutting down" in refusal


def close(acceptor, sequencer):
    acceptor.close()
    sequencer.durable.close()


def test_a_record_the_gateway_failed_on_is_logged_and_skipped_at_every_recovery(tmp_path, monkeypatch, caplog):
    """Live, the server logs a gateway exception after the record was journaled and goes
    on; replay must do the same, or that record stops every restart."""
    from fixexchange.gateway import Gateway

    real = Gateway.on_message

    def failing(self, session_id, message, now):
        if message.get(11) == b"bad":
            raise RuntimeError("gateway bug")
        return real(self, session_id, message, now)

    monkeypatch.setattr(Gateway, "on_message", failing)
    cfg = config(tmp_path)
    acceptor, sequencer = build(cfg, now=1.767e9)
    run(acceptor, sequencer, order(2, "a"), 1.767e9 + 1)
    with pytest.raises(RuntimeError):  # (the server catches and logs this one)
        sequencer.on_message(SID, order(3, "bad"), 1.767e9 + 2)
    bad_seq = sequencer.durable.journal.next_seq - 1
    run(acceptor, sequencer, order(4, "c", "97"), 1.767e9 + 3)
    close(acceptor, sequencer)
    for attempt in range(2):  # every restart, not only the first
        caplog.clear()
        acceptor2, sequencer2 = build(cfg, now=1.767e9 + 10 + attempt)
        assert sequencer2.gateway.engine.book("S1").depth(1, 0) == [(9900, 10), (9800, 5), (9700, 5)]
        assert any(f"journal record {bad_seq}:" in r.message and "gateway bug" in (r.exc_text or "")
                   for r in caplog.records)
        close(acceptor2, sequencer2)


def _main_exit(tmp_path, cfg, capsys):
    import logging

    from fixexchange.server.main import main

    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    try:
        code = main(["-c", str(cfg.path), "--log-dir", str(tmp_path / "logs"), "--port", "0"])
    finally:  # (main installs its own handlers on the root logger)
        for handler in root.handlers[:]:
            if handler not in handlers:
                root.removeHandler(handler)
                handler.close()
        root.setLevel(level)
    err = capsys.readouterr().err.strip().splitlines()
    return code, err


def test_an_undecodable_record_is_a_one_line_error_naming_the_journal_directory(tmp_path, capsys):
    import struct

    cfg = config(tmp_path)
    acceptor, sequencer = build(cfg, now=1.767e9)
    sid = SID.encode()
    sequencer.durable.journal.append(b"M" + struct.pack(">d", 1.767e9) + struct.pack(">H", len(sid)) + sid
                                     + b"not a FIX message")
    close(acceptor, sequencer)
    code, err = _main_exit(tmp_path, cfg, capsys)
    assert code == 2
    assert [line for line in err if "Traceback" in line] == []
    [line] = [line for line in err if "journal.directory" in line]
    assert str(tmp_path / "store" / "journal") in line and "does not parse" in line


def test_a_damaged_earlier_segment_is_a_one_line_error_naming_the_journal_directory(tmp_path, capsys):
    cfg = config(tmp_path)
    acceptor, sequencer = build(cfg, now=1.767e9)
    run(acceptor, sequencer, order(2, "a"), 1.767e9 + 1)
    journal = sequencer.durable.journal
    journal.rotate()  # the seeds and order a in the first segment, order b in the second
    run(acceptor, sequencer, order(3, "b", "97"), 1.767e9 + 2)
    close(acceptor, sequencer)
    first = journal.segments()[0][1]
    data = bytearray(open(first, "rb").read())
    data[20] ^= 0xFF  # inside the first record: its CRC no longer matches
    open(first, "wb").write(bytes(data))
    code, err = _main_exit(tmp_path, cfg, capsys)
    assert code == 2
    assert [line for line in err if "Traceback" in line] == []
    [line] = [line for line in err if "journal.directory" in line]
    assert str(tmp_path / "store" / "journal") in line


def day_order(seq: int, cl: str, tif: bytes):
    [m] = FixParser().feed(encode(b"FIX.4.4", b"D", [(49, b"C1"), (56, b"EX"), (34, seq), (52, STAMP), (11, cl),
                                                      (55, b"S1"), (54, b"1"), (60, STAMP), (38, 5), (40, b"2"),
                                                      (44, b"98"), (59, tif)]))
    return m


def test_an_end_of_day_missed_while_down_runs_at_recovery_journaled_once(tmp_path, caplog):
    import dataclasses

    cfg = config(tmp_path)
    cfg = dataclasses.replace(cfg, server=dataclasses.replace(cfg.server, end_of_day="17:00"))
    day = 1_767_225_600.0  # 2026-01-01 00:00 UTC
    acceptor, sequencer = build(cfg, now=day + 16 * 3600)
    run(acceptor, sequencer, day_order(2, "day", b"0"), day + 16 * 3600 + 1)
    run(acceptor, sequencer, day_order(3, "gtc", b"1"), day + 16 * 3600 + 2)
    close(acceptor, sequencer)  # down from 16:00 to the next morning: 17:00 passed

    def live(seq):
        return sorted(seq.gateway.cl_ord_ids())

    acceptor2, sequencer2 = build(cfg, now=day + 86400 + 9 * 3600)
    assert live(sequencer2) == [b"gtc"]
    reports = [raw for _, raw in acceptor2.store_for(SID).get_sent(1, 99)]
    assert any(b"\x0111=day\x01" in r and b"\x01150=C\x01" in r for r in reports)  # stored: resent to C1
    assert any("end of day" in r.message and "while the exchange was down" in r.message for r in caplog.records)
    close(acceptor2, sequencer2)
    caplog.clear()
    # journaled: the next restart (same day, before 17:00) replays it and runs no other
    acceptor3, sequencer3 = build(cfg, now=day + 86400 + 10 * 3600)
    assert live(sequencer3) == [b"gtc"]
    assert not any("while the exchange was down" in r.message for r in caplog.records)
    close(acceptor3, sequencer3)


def test_no_end_of_day_at_recovery_when_none_was_missed(tmp_path, caplog):
    import dataclasses

    cfg = config(tmp_path)
    cfg = dataclasses.replace(cfg, server=dataclasses.replace(cfg.server, end_of_day="17:00"))
    day = 1_767_225_600.0
    acceptor, sequencer = build(cfg, now=day + 16 * 3600)
    run(acceptor, sequencer, day_order(2, "day", b"0"), day + 16 * 3600 + 1)
    close(acceptor, sequencer)
    acceptor2, sequencer2 = build(cfg, now=day + 16 * 3600 + 1800)  # restarted before 17:00
    assert sequencer2.gateway.cl_ord_ids() == [b"day"]
    assert sequencer2.gateway.last_end_of_day is None
    # the live end of day ran at 17:00 (a timer a little early), then down overnight
    sequencer2.end_of_day(day + 17 * 3600 - 0.5)
    run(acceptor2, sequencer2, day_order(3, "day2", b"0"), day + 18 * 3600)
    close(acceptor2, sequencer2)
    acceptor3, sequencer3 = build(cfg, now=day + 86400 + 9 * 3600)  # next morning: nothing missed
    assert sequencer3.gateway.cl_ord_ids() == [b"day2"]
    assert not any("while the exchange was down" in r.message for r in caplog.records)
    close(acceptor3, sequencer3)


def config_text(tmp_path, session_extra: str = "", symbols: str = '[[symbol]]\nname = "S1"\n'):
    path = tmp_path / "x.toml"
    path.write_text(f'[server]\ncomp_id = "EX"\nstore_dir = "{tmp_path / "store"}"\n'
                    f'[[session]]\ntarget_comp_id = "C1"\n{session_extra}{symbols}'
                    '[seed]\nbids = [["99", 10]]\nasks = [["101", 10]]\n[journal]\nfsync = "off"\n')
    return load_config(path)


def snapshot_with_an_order(tmp_path):
    acceptor, sequencer = build(config_text(tmp_path), now=1.767e9)
    run(acceptor, sequencer, order(2, "a"), 1.767e9 + 1)
    assert sequencer.durable.start_snapshot() and sequencer.durable.poll_snapshot(block=True)
    close(acceptor, sequencer)


def test_a_restart_from_a_snapshot_takes_the_configs_new_symbols_and_session_settings(tmp_path, caplog):
    snapshot_with_an_order(tmp_path)
    cfg = config_text(tmp_path, 'cancel_on_disconnect = true\nstp = "cancel_oldest"\n',
                      '[[symbol]]\nname = "S1"\nmax_qty = 50\n[[symbol]]\nname = "S2"\ntick_size = "0.5"\n')
    acceptor, sequencer = build(cfg, now=1.767e9 + 5)
    assert sequencer.durable.recovery["snapshot"] > 0
    gateway = sequencer.gateway
    assert gateway.engine.book("S1").max_qty == 50 and gateway.engine.book("S1").depth(1, 0)[1] == (9800, 5)
    [m] = FixParser().feed(encode(b"FIX.4.4", b"D", [(49, b"C1"), (56, b"EX"), (34, 3), (52, STAMP), (11, b"new"),
                                                      (55, b"S2"), (54, b"1"), (60, STAMP), (38, 5), (40, b"2"),
                                                      (44, b"7.5"), (59, b"1")]))
    [report] = [out for out in sequencer.on_message(SID, m, 1.767e9 + 6) if out[1] == b"8"]
    assert dict(report[2]).get(150) == b"0" if not isinstance(report[2], bytes) else b"\x01150=0\x01" in report[2]
    assert gateway.engine.book("S2").depth(1, 0) == [(75, 5)]  # (tick 0.5: one decimal)
    # the session settings are the config's: STP cancels its resting order rather than trade
    [m] = FixParser().feed(encode(b"FIX.4.4", b"D", [(49, b"C1"), (56, b"EX"), (34, 4), (52, STAMP), (11, b"self"),
                                                      (55, b"S2"), (54, b"2"), (60, STAMP), (38, 5), (40, b"2"),
                                                      (44, b"7.5"), (59, b"1")]))
    sequencer.on_message(SID, m, 1.767e9 + 7)
    assert gateway.engine.book("S2").depth(1, 0) == [] and gateway.engine.book("S2").depth(2, 0) == [(75, 5)]
    assert sorted(gateway.cl_ord_ids(SID)) == [b"a", b"self"]
    # and cancel-on-disconnect, no grace period: the session's orders go with its connection
    sequencer.on_logon(SID, 1.767e9 + 8)
    sequencer.on_disconnect(SID, 1.767e9 + 9)
    assert gateway.cl_ord_ids(SID) == []
    # the snapshot knows when its last input was: no end of day (00:00) missed 5 s later
    assert not any("while the exchange was down" in r.message for r in caplog.records)
    close(acceptor, sequencer)


@pytest.mark.parametrize("symbols, key", [
    ('[[symbol]]\nname = "S1"\ntick_size = "0.05"\n', "symbol[0].tick_size"),
    ('[[symbol]]\nname = "S1"\nlot_size = 5\n', "symbol[0].lot_size"),
    ('[[symbol]]\nname = "S9"\n', "symbol"),
])
def test_a_config_change_the_restored_orders_cannot_take_is_refused_naming_the_key(tmp_path, symbols, key):
    snapshot_with_an_order(tmp_path)
    with pytest.raises(ConfigError) as info:
        build(config_text(tmp_path, symbols=symbols), now=1.767e9 + 5)
    assert info.value.key == key and "live orders" in info.value.problem
    assert info.value.file == str(tmp_path / "x.toml") or str(info.value.file).endswith("x.toml")


def journal_with_an_order(tmp_path):
    """As snapshot_with_an_order, with no snapshot: a restart replays the whole journal."""
    acceptor, sequencer = build(config_text(tmp_path), now=1.767e9)
    run(acceptor, sequencer, order(2, "a"), 1.767e9 + 1)
    close(acceptor, sequencer)


@pytest.mark.parametrize("symbols, key", [
    ('[[symbol]]\nname = "S1"\ntick_size = "0.05"\n', "symbol[0].tick_size"),
    ('[[symbol]]\nname = "S9"\n', "symbol"),
])
def test_a_config_change_the_replayed_orders_cannot_take_is_refused_without_a_snapshot_too(tmp_path, symbols, key):
    journal_with_an_order(tmp_path)
    with pytest.raises(ConfigError) as info:
        build(config_text(tmp_path, symbols=symbols), now=1.767e9 + 5)
    assert info.value.key == key and "live orders" in info.value.problem


def request(seq: int, msg_type: bytes, fields: list):
    [m] = FixParser().feed(encode(b"FIX.4.4", msg_type, [(49, b"C1"), (56, b"EX"), (34, seq), (52, STAMP),
                                                          *fields]))
    return m


def reports(acceptor, sequencer, message, now) -> list[dict]:
    store = acceptor.store_for(SID)
    store.set_next_target_seq(message.seq_num + 1)
    found = []
    for out in sequencer.on_message(SID, message, now):
        acceptor.send(out[0], out[1], out[2], now, True)
        if out[1] == b"8":
            found.append(dict(FixParser().feed(acceptor.store_for(SID).get_sent(
                acceptor.store_for(SID).next_sender_seq - 1, acceptor.store_for(SID).next_sender_seq - 1)[0][1])[0]
                .fields))
    return found


def test_a_replay_runs_every_record_under_the_config_it_first_ran_under(tmp_path):
    """An order at 98.05 (tick 0.01) is cancelled; the tick becomes 0.1 (allowed: nothing
    live).  Every later restart replays the order under tick 0.01 and only then the change:
    the order is still the cancelled one (not a replay-time tick reject), new orders get the
    new tick."""
    day = 1.767e9

    def unseeded(tick: str):
        path = tmp_path / "x.toml"
        path.write_text(f'[server]\ncomp_id = "EX"\nstore_dir = "{tmp_path / "store"}"\n[[session]]\n'
                        f'target_comp_id = "C1"\n[[symbol]]\nname = "S1"\ntick_size = "{tick}"\n'
                        '[seed]\nbids = []\nasks = []\n[journal]\nfsync = "off"\n')
        return load_config(path)

    acceptor, sequencer = build(unseeded("0.01"), now=day)
    [ack] = reports(acceptor, sequencer, order(2, "a", "98.05"), day + 1)
    assert ack[150] == b"0"
    cancel = [(11, b"ca"), (41, b"a"), (55, b"S1"), (54, b"1"), (60, STAMP)]
    [cancelled] = reports(acceptor, sequencer, request(3, b"F", cancel), day + 2)
    assert cancelled[39] == b"4"
    close(acceptor, sequencer)
    for restart, seq in ((1, 4), (2, 6)):  # the first journals the change, the second replays it
        acceptor, sequencer = build(unseeded("0.1"), now=day + 10 * restart)
        assert sequencer.durable.recovery["snapshot"] == 0
        [status] = reports(acceptor, sequencer, request(seq, b"H", [(11, b"a"), (55, b"S1"), (54, b"1")]),
                           day + 10 * restart + 1)
        assert (status[150], status[39], status[37]) == (b"I", b"4", ack[37])
        [reject] = reports(acceptor, sequencer, order(seq + 1, f"n{restart}", "98.05"), day + 10 * restart + 2)
        assert reject[39] == b"8"  # 98.05 is off the 0.1 tick now
        close(acceptor, sequencer)
    acceptor, sequencer = build(unseeded("0.1"), now=day + 40)
    [accepted] = reports(acceptor, sequencer, order(8, "n3", "98.1"), day + 41)
    assert accepted[150] == b"0"
    close(acceptor, sequencer)
