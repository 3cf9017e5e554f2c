"""The session state machine with a fake clock: timers, events, options, error paths."""

import subprocess
import sys

import pytest
from hypothesis import given, strategies as st

from fixexchange.codec import FixParser, encode, format_utc_timestamp, parse_utc_timestamp
from fixexchange.session import (Acceptor, ApplicationMessage, Disconnected, GarbledMessage,
                                 LoggedOn, LoggedOut, MemoryStore, SessionRejected, State, StoreCorrupted)
from fixexchange.session import acceptor as acceptor_module
from fixexchange.session.events import LogonRefused
from fixexchange.storage.filestore import SENDER_RESERVE, FileStore, store_file_name

from .helpers import SESSION_ID, T0, Client, acceptor, config, logged_on, logon, message

ORDER = [(11, "O1"), (55, "INTC"), (54, 1), (60, "20260101-00:00:00"), (38, 100), (40, 1)]
EXEC = [(37, 1), (17, "E1"), (150, "0"), (39, "0"), (55, "INTC"), (54, 1), (151, 100), (14, 0), (6, 0)]


# --- timers ---------------------------------------------------------------------------

def test_heartbeat_after_each_idle_interval():
    client = logged_on(heartbeat=30)
    assert client.connection.next_deadline() == T0 + 30
    assert client.timer(T0 + 29.9) == [] and client.received() == []
    client.timer(T0 + 30)
    [heartbeat] = client.received()
    assert heartbeat.msg_type == b"0" and heartbeat.seq_num == 2 and heartbeat.get(112) is None
    # still silent inbound: the TestRequest (interval + 20%) is next, then the heartbeat at 60
    assert client.connection.next_deadline() == T0 + 36


def test_outbound_traffic_postpones_the_heartbeat():
    client = logged_on(heartbeat=30)
    client.now = T0 + 20
    assert client.acceptor.send(SESSION_ID, b"8", EXEC, T0 + 20)
    client.received()
    client.send(message(b"0", 2, T0 + 20))  # keep the inbound side alive too
    assert client.connection.next_deadline() == T0 + 50
    client.timer(T0 + 49)
    assert client.received() == []


def test_test_request_after_silence_then_disconnect_when_unanswered():
    client = logged_on(heartbeat=10)
    client.timer(T0 + 10)
    assert [m.msg_type for m in client.received()] == [b"0"]
    client.timer(T0 + 12)
    [test_request] = client.received()
    assert test_request.msg_type == b"1" and test_request.get(112) == b"TEST1"
    assert client.connection.next_deadline() == pytest.approx(T0 + 22)  # heartbeat due then too
    events = client.timer(T0 + 24)
    assert events == [LoggedOut(SESSION_ID, "no Heartbeat answering TestRequest"),
                      Disconnected(SESSION_ID, "no Heartbeat answering TestRequest")]
    assert client.connection.closed and client.connection.next_deadline() is None


def test_answered_test_request_keeps_the_session():
    client = logged_on(heartbeat=10)
    client.timer(T0 + 12)
    [*_, test_request] = client.received()
    client.now = T0 + 13
    client.send(message(b"0", 2, T0 + 13, [(112, test_request.get(112))]))
    assert client.connection.next_deadline() == pytest.approx(T0 + 22)  # heartbeat, not disconnect
    assert client.timer(T0 + 24) == []
    assert not client.connection.closed


def test_any_inbound_message_postpones_the_test_request():
    client = logged_on(heartbeat=10)
    client.now = T0 + 11
    client.send(message(b"0", 2, T0 + 11))
    client.timer(T0 + 12)
    assert [m.msg_type for m in client.received()] == [b"0"]  # heartbeat only, no TestRequest
    assert client.connection.next_deadline() == pytest.approx(T0 + 22)


def test_logon_timeout_for_a_connection_that_never_logs_on():
    client = Client(acceptor(logon_timeout=5))
    assert client.connection.next_deadline() == T0 + 5
    assert client.timer(T0 + 4.9) == []
    assert client.timer(T0 + 5) == [Disconnected(None, "no Logon received in time")]
    assert client.connection.closed


def test_logout_handshake_times_out():
    client = logged_on(logout_timeout=2)
    assert client.connection.logout("maintenance", T0) == []
    [logout] = client.received()
    assert logout.msg_type == b"5" and logout.get(58) == b"maintenance"
    assert client.connection.state is State.LOGOUT_SENT
    assert client.connection.next_deadline() == T0 + 2
    assert client.timer(T0 + 1) == []
    assert client.timer(T0 + 2) == [LoggedOut(SESSION_ID, "no Logout reply in time"),
                                    Disconnected(SESSION_ID, "no Logout reply in time")]


def test_logout_reply_completes_the_handshake():
    client = logged_on()
    client.connection.logout("bye", T0)
    assert client.send(message(b"5", 2, T0)) == [LoggedOut(SESSION_ID, "Logout confirmed"),
                                                 Disconnected(SESSION_ID, "Logout confirmed")]
    assert client.connection.closed


def test_heartbeat_interval_zero_means_no_timers_when_allowed():
    client = logged_on(heartbeat=0, heartbeat_min=0)
    assert client.connection.next_deadline() is None
    assert client.timer(T0 + 10_000) == []


@pytest.mark.parametrize("interval", [0, 301])
def test_heartbeat_interval_outside_bounds_is_refused(interval):
    client = Client(acceptor())
    events = client.send(logon(1, T0, interval))
    [logout] = client.received()
    assert logout.get(58) == b"HeartBtInt must be between 1 and 300"
    assert events == [Disconnected(None, "HeartBtInt must be between 1 and 300")]


# --- logon -----------------------------------------------------------------------------

def test_logon_events_and_reply():
    client = Client(acceptor())
    assert client.send(logon(1, T0, 45)) == [LoggedOn(SESSION_ID)]
    [reply] = client.received()
    assert reply.get(108) == b"45" and reply.get(98) == b"0" and reply.get(141) is None
    assert reply.get(49) == b"EXCH" and reply.get(56) == b"CLIENT"
    assert parse_utc_timestamp(reply.get(52)) == T0
    assert client.connection.session_id == SESSION_ID
    assert client.acceptor.is_logged_on(SESSION_ID)


def test_failed_authentication_leaves_the_file_store_byte_for_byte(tmp_path):
    store = FileStore(tmp_path, SESSION_ID)
    store.save_sent(1, None)
    store.save_sent(2, message(b"8", 2, T0, EXEC, sender="EXCH", target="CLIENT"))
    store.set_next_target_seq(7)
    store.close()
    path = tmp_path / store_file_name(SESSION_ID)
    before = path.read_bytes()
    exchange = Acceptor([config(username="u", password="p")], lambda sid: FileStore(tmp_path, sid))
    for credentials in ([(553, "u"), (554, "wrong")], [(553, "x"), (554, "p")], [],
                        [(141, "Y"), (553, "u"), (554, "nope")]):
        client = Client(exchange)
        events = client.send(logon(1 if credentials and credentials[0][0] == 141 else 7, T0,
                                   extra=credentials))
        reason = "Logon refused for FIX.4.4:EXCH->CLIENT: bad Username/Password"
        assert events == [LogonRefused("CLIENT", None, reason, "Logon refused: invalid credentials", True, 0.0),
                          Disconnected(None, reason)]
        # 1S c: a Logout saying why, outside the session's numbering (no number used)
        [logout] = client.received()
        assert logout.msg_type == b"5" and logout.seq_num == 1
        assert logout.get(58) == b"Logon refused: invalid credentials"
        assert path.read_bytes() == before
    client = Client(exchange)
    assert client.send(logon(7, T0, extra=[(553, "u"), (554, "p")])) == [LoggedOn(SESSION_ID)]
    [reply] = client.received()
    assert reply.seq_num == 3


def test_failed_authentication_creates_no_store_file(tmp_path):
    exchange = Acceptor([config(password="p")], lambda sid: FileStore(tmp_path, sid))
    client = Client(exchange)
    client.send(logon(1, T0, extra=[(554, "q")]))
    assert list(tmp_path.iterdir()) == []


def test_duplicate_logon_drops_only_the_new_connection():
    first = logged_on()
    second = Client(first.acceptor)
    reason = "Logon refused: FIX.4.4:EXCH->CLIENT is already logged on"
    assert second.send(logon(1, T0)) == [
        LogonRefused("CLIENT", None, reason, "Logon refused: this session is already logged on", False, 0.0),
        Disconnected(None, reason)]
    [logout] = second.received()
    assert logout.get(58) == b"Logon refused: this session is already logged on" and logout.seq_num == 1
    assert second.connection.closed
    assert first.acceptor.is_logged_on(SESSION_ID) and not first.connection.closed
    # the refused connection going away does not touch the session
    assert second.connection.connection_lost(T0) == []
    assert first.acceptor.is_logged_on(SESSION_ID)


def test_first_message_not_logon_disconnects_silently():
    client = Client(acceptor())
    assert client.send(message(b"D", 1, T0, ORDER)) == [Disconnected(None, "first message is not a Logon (MsgType D)")]
    assert client.received() == []


def test_invalid_logon_gets_logout_with_text():
    client = Client(acceptor())
    client.send(message(b"A", 1, T0, [(98, 0)]))  # HeartBtInt missing
    [logout] = client.received()
    assert logout.msg_type == b"5" and logout.get(58).startswith(b"Invalid Logon: Required tag missing")
    assert client.connection.closed


def test_logon_seq_too_low_is_refused():
    store = MemoryStore()
    store.set_next_target_seq(5)
    client = Client(acceptor(store))
    client.send(logon(3, T0))
    [logout] = client.received()
    assert logout.get(58) == b"MsgSeqNum too low, expecting 5 but received 3"
    assert client.connection.closed


def test_reset_seq_num_flag_resets_both_sides_and_is_echoed():
    store = MemoryStore()
    store.set_next_target_seq(5)
    store.save_sent(9, b"old")
    client = Client(acceptor(store))
    assert client.send(logon(1, T0, extra=[(141, "Y")])) == [LoggedOn(SESSION_ID)]
    [reply] = client.received()
    assert reply.seq_num == 1 and reply.get(141) == b"Y"
    assert store.next_target_seq == 2 and store.get_sent(1, 100) == []


def test_reset_seq_num_flag_needs_seq_one():
    client = Client(acceptor())
    client.send(logon(4, T0, extra=[(141, "Y")]))
    [logout] = client.received()
    assert logout.get(58) == b"ResetSeqNumFlag=Y requires MsgSeqNum=1"


def test_reset_on_logon_option():
    store = MemoryStore()
    store.set_next_target_seq(5)
    store.set_next_sender_seq(8)
    client = Client(acceptor(store, reset_on_logon=True))
    assert client.send(logon(1, T0)) == [LoggedOn(SESSION_ID)]
    assert client.received()[0].seq_num == 1


def test_reset_on_logout_option():
    store = MemoryStore()
    client = logged_on(store, reset_on_logout=True)
    client.send(message(b"5", 2, T0))
    assert (store.next_sender_seq, store.next_target_seq) == (1, 1)


def test_reset_on_disconnect_option():
    store = MemoryStore()
    client = logged_on(store, reset_on_disconnect=True)
    assert client.connection.connection_lost(T0) == [Disconnected(SESSION_ID, "connection lost")]
    assert (store.next_sender_seq, store.next_target_seq) == (1, 1)


def test_without_reset_options_numbers_survive_a_reconnect():
    store = MemoryStore()
    client = logged_on(store)
    client.connection.connection_lost(T0)
    assert not client.acceptor.is_logged_on(SESSION_ID)
    again = Client(client.acceptor)
    assert again.send(logon(2, T0)) == [LoggedOn(SESSION_ID)]
    assert again.received()[0].seq_num == 2


def test_accept_any_template_makes_sessions_for_new_clients():
    exchange = Acceptor([], lambda sid: MemoryStore(), accept_any_template=config(target_comp_id="*"))
    client = Client(exchange)
    assert client.send(message(b"A", 1, T0, [(98, 0), (108, 30)], sender="NEWBIE")) == \
        [LoggedOn("FIX.4.4:EXCH->NEWBIE")]
    wrong_target = Client(exchange)
    wrong_target.send(message(b"A", 1, T0, [(98, 0), (108, 30)], sender="OTHER", target="NOTUS"))
    assert wrong_target.connection.closed and "FIX.4.4:EXCH->OTHER" not in exchange.session_ids



def test_accept_any_logon_with_bad_credentials_leaves_no_session():
    # every refused CompID used to stay in the acceptor for good (unbounded, unauthenticated)
    exchange = Acceptor([], lambda sid: MemoryStore(),
                        accept_any_template=config(target_comp_id="*", password="secret"))
    for name in ("X1", "X2"):
        client = Client(exchange)
        client.send(message(b"A", 1, T0, [(98, 0), (108, 30), (554, "wrong")], sender=name))
        assert client.connection.closed
    assert exchange.session_ids == []
    client = Client(exchange)
    assert client.send(message(b"A", 1, T0, [(98, 0), (108, 30), (554, "secret")], sender="X1")) == \
        [LoggedOn("FIX.4.4:EXCH->X1")]
    assert exchange.session_ids == ["FIX.4.4:EXCH->X1"]

def test_duplicate_session_configs_are_refused():
    with pytest.raises(ValueError, match="duplicate session"):
        Acceptor([config(), config()], lambda sid: MemoryStore())


@pytest.mark.parametrize("damage", ["garbage", "torn"])
@pytest.mark.parametrize("reset", [False, True])
def test_corrupt_store_never_locks_the_session_out(tmp_path, damage, reset):
    path = tmp_path / store_file_name(SESSION_ID)
    if damage == "garbage":
        path.write_bytes(b"garbage")
    else:  # a crash while the disk was full: the last record half written
        store = FileStore(tmp_path, SESSION_ID)
        store.set_next_target_seq(2)
        store.save_sent(1, b"x" * 50)
        store.close()
        path.write_bytes(path.read_bytes()[:-20])
    exchange = Acceptor([config()], lambda sid: FileStore(tmp_path, sid))
    client = Client(exchange)
    # (the torn store kept its inbound number: the client's next is 2)
    seq = 2 if damage == "torn" and not reset else 1
    client.send(logon(seq, T0, extra=[(141, "Y")] if reset else []))
    [reply] = client.received()
    assert reply.msg_type == b"A"
    assert client.events and type(client.events[-1]).__name__ == "LoggedOn"


# --- after logon ---------------------------------------------------------------------

def test_application_messages_are_delivered_in_order_with_events():
    client = logged_on()
    events = client.send(message(b"D", 2, T0, ORDER) + message(b"D", 3, T0, ORDER))
    assert [type(e) for e in events] == [ApplicationMessage, ApplicationMessage]
    assert [e.message.seq_num for e in events] == [2, 3]


def test_poss_resend_copies_of_remembered_cl_ord_ids_are_ignored_older_ones_delivered(monkeypatch):
    """19a: ClOrdIDs are remembered in two generations of MAX_REMEMBERED_CL_ORD_IDS, so at
    least the last that many: a PossResend(97)=Y copy of one of them is ignored (its number
    consumed), a copy of one forgotten since is delivered like any new order."""
    monkeypatch.setattr(acceptor_module, "MAX_REMEMBERED_CL_ORD_IDS", 3)
    client = logged_on()

    def order(seq: int, cl_ord_id: str, poss_resend: bool = False) -> bytes:
        header = [(97, "Y")] if poss_resend else []
        return message(b"D", seq, T0, [*header, (11, cl_ord_id), *ORDER[1:]])

    for seq, cl_ord_id in enumerate("abcdefg", start=2):  # a b c | d e f | g
        assert [e.message.get(11) for e in client.send(order(seq, cl_ord_id))] == [cl_ord_id.encode()]
    assert client.send(order(9, "g", poss_resend=True)) == []  # the current generation
    assert client.send(order(10, "d", poss_resend=True)) == []  # the previous one
    [event] = client.send(order(11, "c", poss_resend=True))  # forgotten
    assert isinstance(event, ApplicationMessage) and event.message.get(11) == b"c"
    [event] = client.send(order(12, "h"))  # numbers 9 and 10 were consumed
    assert event.message.seq_num == 12


def test_garbled_message_event_and_no_number_used():
    client = logged_on()
    events = client.send(b"8=FIX.4.4\x019=5\x0135=0\x0110=000\x01")
    assert len(events) == 1 and isinstance(events[0], GarbledMessage)
    assert client.send(message(b"D", 2, T0, ORDER))[0].message.seq_num == 2


def test_invalid_message_rejected_with_event_and_number_consumed():
    store = MemoryStore()
    client = logged_on(store)
    events = client.send(message(b"D", 2, T0, ORDER[1:]))
    assert events == [SessionRejected(SESSION_ID, 2, 1, "Required tag missing, field=11")]
    [reject] = client.received()
    assert reject.msg_type == b"3" and reject.get(373) == b"1" and reject.get(371) == b"11"
    assert store.next_target_seq == 3


def test_missing_sending_time_is_rejected_and_consumed():
    client = logged_on()
    raw = encode(b"FIX.4.4", b"0", [(49, "CLIENT"), (56, "EXCH"), (34, 2)])
    assert client.send(raw) == [SessionRejected(SESSION_ID, 2, 1, "Required tag missing")]
    assert client.received()[0].get(371) == b"52"
    assert client.acceptor.store_for(SESSION_ID).next_target_seq == 3


def test_malformed_sending_time_is_rejected():
    client = logged_on()
    raw = encode(b"FIX.4.4", b"0", [(49, "CLIENT"), (56, "EXCH"), (34, 2), (52, "yesterday")])
    assert client.send(raw) == [SessionRejected(SESSION_ID, 2, 6, "Incorrect data format for value")]


def test_missing_msg_seq_num_ends_the_session():
    client = logged_on()
    raw = encode(b"FIX.4.4", b"0", [(49, "CLIENT"), (56, "EXCH"), (52, "20260101-00:00:00")])
    events = client.send(raw)
    assert events[-1] == Disconnected(SESSION_ID, "MsgSeqNum(34) missing or not a number")
    assert client.received()[0].msg_type == b"5"


def test_in_sequence_possdup_with_later_orig_sending_time_is_rejected_and_logged_out():
    client = logged_on()
    client.send(message(b"D", 2, T0, [(43, "Y"), (122, "20260101-00:00:10"), *ORDER]))
    reject, logout = client.received()
    assert reject.get(373) == b"10" and reject.get(371) == b"122"
    assert logout.msg_type == b"5" and client.connection.closed


def test_in_sequence_possdup_is_delivered():
    client = logged_on()
    [event] = client.send(message(b"D", 2, T0, [(43, "Y"), (122, "20251231-23:59:59"), *ORDER]))
    assert isinstance(event, ApplicationMessage)


def test_logon_during_session_ends_it():
    client = logged_on()
    client.send(logon(2, T0))
    assert client.received()[0].get(58) == b"Logon received on a session already logged on"
    assert client.connection.closed


def test_client_logout_text_is_reported():
    client = logged_on()
    events = client.send(message(b"5", 2, T0, [(58, "end of day")]))
    assert events[0] == LoggedOut(SESSION_ID, "client logged out: end of day")


def test_too_many_early_messages_end_the_session():
    client = logged_on(max_queued_messages=3)
    client.send(b"".join(message(b"0", seq, T0) for seq in range(5, 8)))
    assert not client.connection.closed
    client.send(message(b"0", 8, T0))
    assert client.connection.closed
    assert client.received()[-1].get(58) == b"too many messages received ahead of a sequence gap"


def test_gap_filled_by_sequence_reset_reset_releases_queued_messages():
    client = logged_on()
    client.send(message(b"D", 5, T0, ORDER))
    events = client.send(message(b"4", 99, T0, [(36, 5)]))
    assert [e.message.seq_num for e in events] == [5]
    assert client.acceptor.store_for(SESSION_ID).next_target_seq == 6


def test_sequence_reset_without_usable_new_seq_no_is_rejected():
    client = logged_on()
    events = client.send(message(b"4", 2, T0, [(36, "x")]))
    assert events == [SessionRejected(SESSION_ID, 2, 6, "NewSeqNo(36) missing or not a number")]


@pytest.mark.parametrize("body", [[(36, 2 ** 64)], [(36, "1" * 5000)],
                                  [(123, "Y"), (36, 2 ** 64)], [(123, "Y"), (36, "1" * 5000)]])
def test_sequence_reset_to_a_number_no_store_can_hold_is_rejected(tmp_path, body):
    # NewSeqNo beyond u64 (the FileStore's journal) or beyond int()'s digit limit: a Reject
    # 5, the session and its store unharmed (the store used to fail on the next flush)
    store = FileStore(tmp_path, SESSION_ID)
    client = logged_on(store)
    events = client.send(message(b"4", 2, T0, body))
    assert events == [SessionRejected(SESSION_ID, 2, 5, "Value is incorrect (out of range) for this tag")]
    expected = 3 if body[0][0] == 123 else 2  # a GapFill's number is consumed, a Reset's is ignored
    assert store.next_target_seq == expected
    assert [type(e) for e in client.send(message(b"D", expected, T0, ORDER))] == [ApplicationMessage]
    client.received()  # data_to_send flushes the store (the server calls it after every read)
    assert FileStore(tmp_path, SESSION_ID).next_target_seq == expected + 1


def test_resend_request_with_a_number_beyond_int_digit_limit_is_served():
    client = logged_on()
    client.received()
    assert client.send(message(b"2", 2, T0, [(7, 1), (16, "9" * 5000)])) == []
    assert [m.msg_type for m in client.received()] == [b"4"]  # the Logon's number, gap-filled


@pytest.mark.parametrize("begin,end,reason", [(5, 3, 5), (0, 0, 5)])
def test_resend_request_with_impossible_range_is_rejected(begin, end, reason):
    client = logged_on()
    events = client.send(message(b"2", 2, T0, [(7, begin), (16, end)]))
    assert [type(e) for e in events] == [SessionRejected]
    assert events[0].reason == reason


def test_resend_request_beyond_last_sent_sends_nothing():
    client = logged_on()
    assert client.send(message(b"2", 2, T0, [(7, 10), (16, 0)])) == []
    assert client.received() == []


def test_data_after_close_is_ignored():
    client = logged_on()
    client.send(message(b"5", 2, T0))
    client.received()
    assert client.send(message(b"D", 3, T0, ORDER)) == []
    assert client.connection.on_timer(T0 + 1000) == []
    assert client.connection.connection_lost(T0) == []
    assert client.connection.logout("again", T0) == []


def test_logout_before_logon_just_closes():
    client = Client(acceptor())
    assert client.connection.logout("shutdown", T0) == [Disconnected(None, "shutdown")]
    assert client.received() == []


def test_illegal_state_transition_is_refused():
    client = Client(acceptor())
    with pytest.raises(RuntimeError, match="awaiting logon -> logout sent"):
        client.connection._set_state(State.LOGOUT_SENT)


# --- sending ----------------------------------------------------------------------------

def test_send_when_never_logged_on_stores_resendable_only():
    store = MemoryStore()
    exchange = acceptor(store)
    assert exchange.send(SESSION_ID, b"8", EXEC, T0) is False
    assert store.next_sender_seq == 2 and len(store.get_sent(1, 1)) == 1
    assert exchange.send(SESSION_ID, b"W", [(55, "INTC"), (268, 0)], T0, resendable=False) is False
    assert store.next_sender_seq == 2


def test_send_to_unknown_session_raises():
    with pytest.raises(KeyError):
        acceptor().send("FIX.4.4:EXCH->NOBODY", b"8", EXEC, T0)


def test_send_during_logout_is_stored_not_sent():
    store = MemoryStore()
    client = logged_on(store)
    client.connection.logout("bye", T0)
    client.received()
    assert client.acceptor.send(SESSION_ID, b"8", EXEC, T0) is False
    assert client.received() == [] and store.get_sent(3, 3)


def test_non_resendable_message_is_sequenced_but_gap_filled_on_resend():
    client = logged_on()
    assert client.acceptor.send(SESSION_ID, b"W", [(55, "INTC"), (268, 0)], T0, resendable=False)
    [market_data] = client.received()
    assert market_data.seq_num == 2
    client.send(message(b"2", 2, T0, [(7, 2), (16, 2)]))
    [fill] = client.received()
    assert fill.msg_type == b"4" and fill.get(123) == b"Y" and fill.get(36) == b"3"


def test_encoded_body_goes_out_and_is_resent_like_the_same_fields():
    # the gateway's ExecutionReports come as bytes already encoded: the same wire bytes as
    # the (tag, value) pairs, stored, and resent with PossDupFlag like any other message
    pairs = logged_on(), logged_on()
    encoded = b"".join(b"%d=%s\x01" % (tag, value if type(value) is bytes else str(value).encode())
                       for tag, value in EXEC)
    assert pairs[0].acceptor.send(SESSION_ID, b"8", EXEC, T0)
    assert pairs[1].acceptor.send(SESSION_ID, b"8", encoded, T0)
    [as_pairs], [as_bytes] = pairs[0].received(), pairs[1].received()
    assert as_bytes.raw == as_pairs.raw
    client = pairs[1]
    client.send(message(b"2", 2, T0, [(7, 2), (16, 0)]))
    [resent] = client.received()
    header = {49, 56, 34, 52, 43, 122}
    assert resent.get(43) == b"Y" and resent.seq_num == 2
    assert ([field for field in resent.body_fields if field[0] not in header]
            == [field for field in as_pairs.body_fields if field[0] not in header])


def test_sent_messages_are_on_disk_before_the_bytes_are_handed_out(tmp_path):
    stores = {}
    exchange = Acceptor([config()], lambda sid: stores.setdefault(sid, FileStore(tmp_path, sid)))
    client = Client(exchange)
    client.send(logon(1, T0))
    exchange.send(SESSION_ID, b"8", EXEC, T0)
    data = client.connection.data_to_send()
    assert b"35=8" in data
    on_disk = FileStore(tmp_path, SESSION_ID)  # what a crash right now would leave
    assert on_disk.next_target_seq == 2 and on_disk.get_sent(2, 2)[0][1] in data
    # (the Logon reply is unstored: its number is covered by a reservation ahead)
    assert on_disk.next_sender_seq == 1 + SENDER_RESERVE


def test_after_a_crash_the_numbers_jump_and_the_gap_is_filled(tmp_path):
    # market data is numbered, not stored: after a crash the session resumes at the
    # reservation, and the client's ResendRequest for the jump gets a gap fill
    first = Acceptor([config()], lambda sid: FileStore(tmp_path, sid))
    client = Client(first)
    client.send(logon(1, T0))
    for _ in range(3):
        first.send(SESSION_ID, b"W", [(55, "INTC"), (268, 0)], T0, resendable=False)
    assert [m.seq_num for m in client.received()] == [1, 2, 3, 4]
    # crash: no close; the next process opens the same journal
    restarted = Acceptor([config()], lambda sid: FileStore(tmp_path, sid))
    client = Client(restarted, T0 + 60)
    client.send(logon(2, T0 + 60))
    [reply] = client.received()
    assert reply.msg_type == b"A" and reply.seq_num == 1 + SENDER_RESERVE
    client.send(message(b"2", 3, T0 + 60, [(7, 5), (16, 0)]))
    [fill] = client.received()
    assert (fill.msg_type, fill.seq_num, fill.get(123), fill.get(36)) == (b"4", 5, b"Y", b"%d" % (2 + SENDER_RESERVE))


def test_restart_resumes_the_session_and_serves_resends(tmp_path):
    first = Acceptor([config()], lambda sid: FileStore(tmp_path, sid))
    client = Client(first)
    client.send(logon(1, T0))
    first.send(SESSION_ID, b"8", EXEC, T0)
    client.received()
    client.connection.connection_lost(T0)
    first.send(SESSION_ID, b"8", [(37, 2), *EXEC[1:]], T0 + 1)  # while the client is away
    first.close()

    restarted = Acceptor([config()], lambda sid: FileStore(tmp_path, sid))
    later = T0 + 60
    client = Client(restarted, later)
    assert client.send(logon(2, later)) == [LoggedOn(SESSION_ID)]
    [reply] = client.received()
    assert reply.seq_num == 4
    client.send(message(b"2", 3, later, [(7, 1), (16, 0)]))
    fill_1, report_2, report_3, fill_4 = client.received()
    assert (fill_1.msg_type, fill_1.seq_num, fill_1.get(36)) == (b"4", 1, b"2")
    assert (report_2.seq_num, report_2.get(43), report_2.get(122)) == (2, b"Y", b"20260101-00:00:00.000")
    assert (report_3.seq_num, report_3.get(37), report_3.get(122)) == (3, b"2", b"20260101-00:00:01.000")
    assert parse_utc_timestamp(report_3.get(52)) == later
    assert (fill_4.seq_num, fill_4.get(36)) == (4, b"5")


# --- stream splitting ---------------------------------------------------------------------

def _run(chunks):
    client = Client(acceptor())
    events = []
    for chunk in chunks:
        events.extend(client.send(chunk))
    return events, client.connection.data_to_send()


STREAM = (logon(1, T0) + message(b"D", 2, T0, ORDER) + message(b"1", 3, T0, [(112, "X")])
          + message(b"D", 5, T0, ORDER) + message(b"4", 4, T0, [(123, "Y"), (36, 5)])
          + b"8=FIX.4.4\x019=1\x01garbage" + message(b"D", 6, T0, ORDER[1:]) + message(b"5", 7, T0))


@given(st.lists(st.integers(min_value=0, max_value=len(STREAM)), max_size=12))
def test_any_split_of_the_stream_gives_the_same_behaviour(cuts):
    cuts = sorted(cuts)
    chunks = [STREAM[a:b] for a, b in zip([0, *cuts], [*cuts, len(STREAM)])]
    assert _run(chunks) == _run([STREAM])


def test_the_split_reference_run_does_everything():
    events, data = _run([STREAM])
    kinds = [type(e).__name__ for e in events]
    assert kinds == ["LoggedOn", "ApplicationMessage", "ApplicationMessage", "GarbledMessage",
                     "SessionRejected", "LoggedOut", "Disconnected"]
    sent = [m.msg_type for m in FixParser().feed(data)]
    assert sent == [b"A", b"0", b"2", b"3", b"5"]


# --- the cached SendingTime parse agrees with the codec's ------------------------------

_timestamps = st.builds(
    lambda base, fraction: base + fraction,
    st.sampled_from([b"20260101-00:00:00", b"20261127-23:59:59", b"20240229-12:30:45", b"20260101-00:00:01"]),
    st.sampled_from([b"", b".1", b".123", b".123456", b".123456789", b".12a", b"x123", b".1234"]))


def test_cached_sending_time_parse_refuses_an_empty_value_when_fresh():
    # the whole-value cache once started as b"" -> 0.0: an empty SendingTime before the first
    # fractional one parsed was taken for 1970 (accuracy Reject + Logout, not a format Reject)
    with pytest.raises(ValueError):
        acceptor_module.SendingTimes().parse(b"")


@given(st.lists(st.one_of(_timestamps, st.binary(max_size=30)), min_size=1, max_size=8))
def test_cached_sending_time_parse_matches_the_codec(values):
    times = acceptor_module.SendingTimes()  # one connection's cache, over a run of values
    for value in values + values[::-1]:
        try:
            expected = parse_utc_timestamp(value)
        except ValueError:
            with pytest.raises(ValueError):
                times.parse(value)
        else:
            assert times.parse(value) == expected


@given(st.lists(st.one_of(_timestamps, st.binary(max_size=30)), min_size=1, max_size=8))
def test_sending_times_take_what_parses_and_remember_it(values):
    times = acceptor_module.SendingTimes()
    for value in values + values[::-1]:
        before = (times.last_text, times.last_value)
        try:
            expected = parse_utc_timestamp(value)
        except ValueError:
            assert not times.takes(value) and (times.last_text, times.last_value) == before
        else:
            assert times.takes(value) and (times.last_text, times.last_value) == (value, expected)


def test_pipelined_orders_with_new_sending_times_each():
    # every message a new SendingTime (a client that stamps each one): each is checked
    # against the tolerance (120 s by default), a wrong one is a Reject and the Logout
    client = logged_on()
    stamps = [T0 + 0.001, T0 + 1.5, T0 + 1.5, T0 + 2, T0 - 119, T0 + 121, T0 + 3]
    data = b"".join(message(b"D", seq, T0, [(11, f"O{seq}"), *ORDER[1:]], sending_time=stamp)
                    for seq, stamp in enumerate(stamps, 2))
    events = client.send(data)
    assert [type(e).__name__ for e in events] == ["ApplicationMessage"] * 5 + ["SessionRejected",
                                                                               "LoggedOut", "Disconnected"]
    assert [e.message.get(52) for e in events[:5]] == [format_utc_timestamp(t) for t in stamps[:5]]
    reject, logout = client.received()
    assert (reject.get(45), reject.get(373), reject.get(371), logout.msg_type) == (b"7", b"10", b"52", b"5")


@pytest.mark.parametrize("max_messages", [1, 2, 5, 256])
@pytest.mark.parametrize("read_size", [60, 150, 4096, 5000, 20000])
@pytest.mark.parametrize("drain", [True, False])
def test_bounded_reads_give_what_unbounded_ones_do(max_messages, read_size, drain):
    # receive_data(max_messages=N): at most N events' messages per call, the rest kept
    # (parsed or not) for later calls, with or without new data; the same events in the
    # same order
    def run(bound):
        client = logged_on()
        data = b"".join(message(b"D", seq, T0, [(11, f"O{seq}"), *ORDER[1:]]) for seq in range(2, 200))
        reads = [data[start:start + read_size] for start in range(0, len(data), read_size)]
        seen = []
        for index, read in enumerate(reads):
            events = client.connection.receive_data(read, T0, bound)
            while True:
                assert not bound or len(events) <= bound
                seen += events
                if not client.connection.backlog or not drain and index < len(reads) - 1:
                    break
                events = client.connection.receive_data(b"", T0, bound)
        assert client.connection.unparsed_bytes == 0
        return [(type(e), e.message.raw) for e in seen]

    unbounded = run(0)
    assert len(unbounded) == 198 and run(max_messages) == unbounded


def test_reset_seq_num_flag_logon_on_a_live_session_resets_both_sides():
    store = MemoryStore()
    client = logged_on(store)
    client.send(message(b"D", 2, T0, ORDER))
    client.acceptor.send(SESSION_ID, b"8", EXEC, T0)
    client.received()
    assert client.send(logon(1, T0, extra=[(141, "Y")])) == []
    [reply] = client.received()
    assert (reply.msg_type, reply.seq_num, reply.get(141)) == (b"A", 1, b"Y")
    assert store.get_sent(1, 100) == []
    [event] = client.send(message(b"D", 2, T0, ORDER))
    assert isinstance(event, ApplicationMessage)


def test_store_file_is_never_left_empty(tmp_path, monkeypatch):
    # The header is renamed into place: no window where the journal exists but is empty.
    store = FileStore(tmp_path, SESSION_ID)
    store.save_sent(1, None)
    store.flush()
    path = tmp_path / store_file_name(SESSION_ID)
    assert path.read_bytes().startswith(b"FIXEXCHANGE-STORE-1\n")
    assert not (tmp_path / (store_file_name(SESSION_ID) + ".tmp")).exists()


def test_empty_store_file_is_set_aside(tmp_path):
    (tmp_path / store_file_name(SESSION_ID)).write_bytes(b"")
    assert FileStore(tmp_path, SESSION_ID).next_sender_seq == 1


def test_logon_without_msg_seq_num_is_refused():
    client = Client(acceptor())
    client.send(encode(b"FIX.4.4", b"A", [(49, "CLIENT"), (56, "EXCH"), (52, "20260101-00:00:00"),
                                          (98, 0), (108, 30)]))
    [logout] = client.received()
    assert logout.msg_type == b"5" and b"34" in logout.get(58)
    assert client.connection.closed and client.events[-1].session_id is None


def test_unparseable_stored_message_is_reported_on_resend():
    store = MemoryStore()
    client = logged_on(store)
    store.save_sent(2, b"not a FIX message")
    with pytest.raises(StoreCorrupted, match="stored message 2 does not parse"):
        client.send(message(b"2", 2, T0, [(7, 1), (16, 0)]))


def test_template_ignores_comp_ids_that_are_not_ascii():
    exchange = Acceptor([], lambda sid: MemoryStore(), accept_any_template=config(target_comp_id="*"))
    client = Client(exchange)
    client.send(message(b"A", 1, T0, [(98, 0), (108, 30)], sender=b"CL\xe9"))
    assert client.connection.closed and exchange.session_ids == []


class _CountingFileIO:
    """A raw file for the store's BufferedWriter that counts write system calls."""

    def __init__(self):
        self.writes = 0

    def open(self, path):
        import io
        counter = self
        raw = io.FileIO(path, "ab")

        class Raw(io.RawIOBase):
            def writable(self):
                return True

            def write(self, data):
                counter.writes += 1
                return raw.write(data)

            def close(self):
                raw.close()
                super().close()

        return io.BufferedWriter(Raw(), buffer_size=256 * 1024)


def test_inbound_number_and_replies_are_journaled_in_one_write(tmp_path):
    counting = _CountingFileIO()
    store = FileStore(tmp_path, SESSION_ID, open_for_append=counting.open)
    client = logged_on(store)
    counting.writes = 0  # (the logon's)
    client.send(message(b"0", 2, T0))  # a Heartbeat: no output, its number noted
    assert client.acceptor.send(SESSION_ID, b"8", [(11, b"A1")], T0)
    assert counting.writes == 0  # nothing reaches the OS before data_to_send
    [report] = client.received()
    assert report.get(11) == b"A1"
    assert counting.writes == 1  # the T record and the message, one write
    reopened = FileStore(tmp_path, SESSION_ID)
    assert reopened.next_target_seq == 3
    assert [seq for seq, _ in reopened.get_sent(1, 10)] == [report.seq_num]


def test_a_read_without_output_still_journals_its_number_at_data_to_send(tmp_path):
    store = FileStore(tmp_path, SESSION_ID)
    client = logged_on(store)
    client.send(message(b"0", 2, T0))
    assert client.connection.data_to_send() == b""
    assert FileStore(tmp_path, SESSION_ID).next_target_seq == 3


@pytest.mark.parametrize("kind", ["memory", "file"])
def test_a_large_resend_is_served_a_chunk_at_a_time_with_new_messages_after_it(tmp_path, kind):
    from fixexchange.session.acceptor import RESEND_CHUNK

    store = MemoryStore() if kind == "memory" else FileStore(tmp_path, SESSION_ID)
    client = logged_on(store)
    total = 2 * RESEND_CHUNK + 37
    for i in range(total):
        client.acceptor.send(SESSION_ID, b"8", [(11, f"r{i}")], T0, resendable=i % 10 != 3)
    client.received()
    client.send(message(b"2", 2, T0, [(7, 2), (16, 0)]))
    first = client.received()
    connection = client.connection
    assert connection.resend_pending
    assert sum(m.msg_type == b"8" for m in first) == RESEND_CHUNK  # not all at once
    # a report sent meanwhile waits behind the range being resent
    client.acceptor.send(SESSION_ID, b"8", [(11, "new")], T0)
    assert client.received() == []
    got = list(first)
    while connection.resend_pending:
        connection.continue_resend(T0)
        got += client.received()
    # every number 2..total+1 exactly once, in order (gap fills for the unstored ones), then the new one
    covered = []
    for m in got:
        if m.msg_type == b"4":
            covered += range(m.seq_num, int(m.get(36)))
        else:
            covered.append(m.seq_num)
            assert m.get(43) == b"Y" or m.get(11) == b"new"
    assert covered == list(range(2, total + 3))
    assert got[-1].get(11) == b"new" and got[-1].get(43) is None
