"""The journal entry point: replay reproduces the same events, ids and reports."""
from __future__ import annotations

import errno
import logging
import pickle

from hypothesis import given, settings, strategies as st

from fixexchange.codec import FixParser, encode
from fixexchange.engine import Engine
from fixexchange.gateway import Gateway
from fixexchange.server.sequencer import Sequencer
from fixexchange.storage.journal import MemoryJournal

from tests.gateway.support import SENDING_TIME, SPECS

T0 = 1_764_000_000.0
SESSIONS = ("FIX.4.4:EX->A", "FIX.4.4:EX->B")


def fresh_gateway() -> Gateway:
    return Gateway(SPECS, Engine(SPECS))  # ids prefixed from the first now: replay must match it


class Driver:
    """Turns drawn actions into FIX messages and calls through a Sequencer."""

    def __init__(self, sequencer: Sequencer) -> None:
        self.seq = sequencer
        self.msg_seq = {s: 1 for s in SESSIONS}
        self.cl = 0
        self.sent: dict[str, list[str]] = {s: [] for s in SESSIONS}
        self.outputs: list[list] = []

    def message(self, session: str, msg_type: bytes, fields: list):
        self.msg_seq[session] += 1
        raw = encode(b"FIX.4.4", msg_type, [(49, b"C"), (56, b"EX"), (34, self.msg_seq[session]),
                                            (52, SENDING_TIME), *fields])
        [message] = FixParser().feed(raw)
        return message

    def run(self, action, now: float) -> None:
        kind, who, a, b, c = action
        session = SESSIONS[who]
        seq = self.seq
        if kind == "new":
            self.cl += 1
            cl = f"c{self.cl}"
            self.sent[session].append(cl)
            tif = (b"0", b"1", b"3", b"6")[c % 4]
            fields = [(11, cl), (55, b"SYM1"), (54, b"1" if a % 2 else b"2"), (60, SENDING_TIME),
                      (38, 1 + a % 9), (40, b"2"), (44, b"%d.%02d" % (100 + b % 5, c % 3)), (59, tif)]
            if tif == b"6":
                fields.append((126, b"20251124-16:00:%02d" % (5 + c % 40)))
            outs = seq.on_message(session, self.message(session, b"D", fields), now)
        elif kind in ("cancel", "replace", "status") and self.sent[session]:
            orig = self.sent[session][a % len(self.sent[session])]
            self.cl += 1
            cl = f"c{self.cl}"
            if kind == "cancel":
                fields = [(41, orig), (11, cl), (55, b"SYM1"), (54, b"1"), (60, SENDING_TIME)]
                outs = seq.on_message(session, self.message(session, b"F", fields), now)
            elif kind == "replace":
                fields = [(41, orig), (11, cl), (55, b"SYM1"), (54, b"1"), (60, SENDING_TIME),
                          (38, 1 + b % 9), (40, b"2"), (44, b"%d" % (100 + c % 5))]
                outs = seq.on_message(session, self.message(session, b"G", fields), now)
            else:
                outs = seq.on_message(session, self.message(session, b"H", [(11, orig), (55, b"SYM1"), (54, b"1")]), now)
            self.sent[session].append(cl)
        elif kind == "mass":
            fields = [(11, b"m%d" % a), (530, b"7"), (60, SENDING_TIME)]
            outs = seq.on_message(session, self.message(session, b"q", fields), now)
        elif kind == "subscribe":
            fields = [(262, b"md%d" % a), (263, b"1"), (264, 0), (267, 1), (269, b"0"), (146, 1), (55, b"SYM1")]
            outs = seq.on_message(session, self.message(session, b"V", fields), now)
        elif kind == "time":
            outs = seq.advance_time(now)
        elif kind == "eod":
            outs = seq.end_of_day(now)
        elif kind == "logon":
            outs = seq.on_logon(session, now)
        elif kind == "disconnect":
            outs = seq.on_disconnect(session, now)
        else:
            outs = []
        self.outputs.append(outs)


def state(gateway: Gateway) -> tuple:
    engine = gateway.engine
    books = tuple((s.symbol, tuple(engine.book(s.symbol).depth(side, 0)) ) for s in SPECS for side in (1, 2))
    orders = tuple(sorted((oid, o.cl_ord_id, o.cum_qty, o.leaves, o.final) for oid, o in gateway._orders.items()))
    clordids = tuple(sorted((sid, tuple(sorted(s.by_cl_ord_id))) for sid, s in gateway._sessions.items()))
    return books, orders, clordids, gateway._exec_seq, gateway._exec_id_prefix, engine._next_id, engine._next_trade


actions = st.lists(st.tuples(
    st.sampled_from(["new"] * 6 + ["cancel", "replace", "replace", "status", "mass", "subscribe", "time",
                                   "eod", "logon", "disconnect"]),
    st.integers(0, 1), st.integers(0, 50), st.integers(0, 50), st.integers(0, 50)), min_size=1, max_size=60)


@settings(max_examples=60, deadline=None)
@given(actions, st.integers(0, 60), st.lists(st.floats(0.0, 3.0), min_size=60, max_size=60))
def test_replay_and_snapshot_plus_tail_reproduce_every_output_and_the_state(actions, cut, gaps):
    journal = MemoryJournal()
    live = Driver(Sequencer(fresh_gateway(), journal))
    now = T0
    snapshot = None
    for i, action in enumerate(actions):
        if i == cut:
            snapshot = (journal.next_seq - 1, pickle.dumps(live.seq.gateway), len(live.outputs))
        now += gaps[i]
        live.run(action, now)

    # a replay of the whole journal into a fresh gateway
    replayed: list = []
    again = Sequencer(fresh_gateway())
    again.replay(journal.read_from(1), lambda seq, outs: replayed.append(outs))
    recorded = [outs for outs in live.outputs if outs is not None]
    assert len(replayed) == journal.next_seq - 1
    assert [o for outs in replayed for o in outs] == [o for outs in recorded for o in outs]
    assert state(again.gateway) == state(live.seq.gateway)

    if snapshot is not None:  # snapshot + tail
        seq, blob, done = snapshot
        tail: list = []
        restored = Sequencer(pickle.loads(blob))
        restored.replay(journal.read_from(seq + 1), lambda s, outs: tail.append(outs))
        assert [o for outs in tail for o in outs] == [o for outs in live.outputs[done:] for o in outs]
        assert state(restored.gateway) == state(live.seq.gateway)


def test_calls_are_journaled_with_their_arguments_and_time():
    journal = MemoryJournal()
    seq = Sequencer(fresh_gateway(), journal)
    seq.seed("HOUSE", "SYM1", "buy", 5, 10000, T0)
    seq.call("advance_time", now=T0 + 1)
    records = list(journal.read_from(1))
    assert len(records) == 2
    restored = Sequencer(fresh_gateway())
    restored.replay(records)
    assert restored.gateway.engine.book("SYM1").depth(1, 0) == [(10000, 5)]
    assert restored.gateway.engine.now == int((T0 + 1) * 1000)


class FullJournal(MemoryJournal):
    def append(self, payload: bytes) -> int:
        raise OSError(errno.ENOSPC, "No space left on device")


def test_a_command_whose_record_cannot_be_written_is_refused_not_executed(caplog):
    gateway = fresh_gateway()
    driver = Driver(Sequencer(gateway, FullJournal()))
    with caplog.at_level(logging.ERROR):
        for _ in range(3):
            driver.run(("new", 0, 1, 1, 1), T0)
    for [reject] in driver.outputs:
        assert reject.msg_type == b"j"
        fields = dict(reject.body)
        assert fields[380] == b"4" and fields[379] in (b"c1", b"c2", b"c3")
        assert "No space left on device" in fields[58] and "not executed" in fields[58]
    assert gateway.engine.book("SYM1").depth(1, 0) == [] and gateway.cl_ord_ids(live=False) == []
    assert sum("cannot write" in r.message for r in caplog.records if r.levelno == logging.ERROR) == 1


def test_a_throttled_message_answer_is_journaled_and_replays_with_the_same_exec_id():
    journal = MemoryJournal()
    live = Driver(Sequencer(fresh_gateway(), journal))
    live.run(("new", 0, 1, 1, 1), T0)
    message = live.message(SESSIONS[0], b"D", [(11, b"t1"), (55, b"SYM1"), (54, b"1"), (60, SENDING_TIME),
                                               (38, 1), (40, b"2"), (44, b"100")])
    [answer] = live.seq.reject_throttled(SESSIONS[0], message, "over 10 orders per second", T0 + 1)
    live.run(("new", 1, 2, 2, 2), T0 + 2)
    replayed: list = []
    Sequencer(fresh_gateway()).replay(journal.read_from(1), lambda seq, outs: replayed.append(outs))
    assert replayed[1] == [answer]
    assert replayed[2] == live.outputs[-1]


def test_passwords_never_reach_the_journal_and_the_record_still_parses():
    """A message carrying Password(554) or NewPassword(925) is journaled masked (known from
    its tag sequence); "554=" inside another field's value is not a password and stays."""
    journal = MemoryJournal()
    sequencer = Sequencer(fresh_gateway(), journal)
    fields = [(49, b"C"), (56, b"EX"), (34, 2), (52, SENDING_TIME), (923, b"u1"), (553, b"user"),
              (554, b"secret"), (925, b"newsecret"), (924, b"3")]
    [with_password] = FixParser().feed(encode(b"FIX.4.4", b"BE", fields))
    [text_only] = FixParser().feed(encode(b"FIX.4.4", b"D", [(49, b"C"), (56, b"EX"), (34, 3),
                                                              (52, SENDING_TIME), (58, b"1554=no 554=no")]))
    assert with_password.carries_secret and not text_only.carries_secret
    sequencer.on_message(SESSIONS[0], with_password, T0)
    sequencer.on_message(SESSIONS[0], text_only, T0)
    (_, first), (_, second) = journal.records
    assert b"secret" not in first and b"554=********" in first and b"925=********" in first
    assert second.endswith(text_only.raw)  # untouched
    replayed = []
    Sequencer(fresh_gateway()).replay(journal.read_from(1), lambda seq, outs: replayed.append(seq))
    assert replayed == [1, 2]  # both records parse again
