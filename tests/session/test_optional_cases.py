"""The optional FIX session test cases and FIX 4.4 additions: 9 (synchronize sequence
numbers, `Acceptor.reset_sequence`), 17 (encryption: only EncryptMethod 0), 18 (third-party
addressing) and NextExpectedMsgSeqNum(789) on Logon."""

import pytest

from fixexchange.codec.dictionary import FIX44
from fixexchange.session.events import LogonRefused
from fixexchange.storage.filestore import FileStore
from fixexchange.session import (ApplicationMessage, Disconnected, LoggedOn, MemoryStore,
                                 SessionRejected)

from .helpers import SESSION_ID, T0, Client, acceptor, logged_on, logon, message

ORDER = [(11, "O1"), (55, "INTC"), (54, 1), (60, "20260101-00:00:00"), (38, 100), (40, 1)]
EXEC = [(37, 1), (17, "E1"), (150, "0"), (39, "0"), (55, "INTC"), (54, 1), (151, 100), (14, 0), (6, 0)]


# --- 9: synchronize sequence numbers -------------------------------------------------------

def test_reset_sequence_sends_a_sequence_reset_reset_and_jumps():
    client = logged_on()
    assert client.acceptor.reset_sequence(SESSION_ID, 100, T0) is True
    [reset] = client.received()
    assert (reset.msg_type, reset.seq_num, reset.get(123), reset.get(36)) == (b"4", 2, b"N", b"100")
    assert reset.get(43) is None
    client.acceptor.send(SESSION_ID, b"8", EXEC, T0)
    [report] = client.received()
    assert report.seq_num == 100
    # the inbound side is untouched
    client.send(message(b"1", 2, T0, [(112, "X")]))
    [heartbeat] = client.received()
    assert (heartbeat.seq_num, heartbeat.get(112)) == (101, b"X")


@pytest.mark.parametrize("new_seq", [1, 2])
def test_reset_sequence_must_move_up(new_seq):
    client = logged_on()
    with pytest.raises(ValueError, match="must be above"):
        client.acceptor.reset_sequence(SESSION_ID, new_seq, T0)
    with pytest.raises(ValueError, match="at least 1"):
        client.acceptor.reset_sequence(SESSION_ID, 10, T0, next_target_seq=0)
    assert client.received() == []


def test_reset_sequence_of_the_inbound_side_asks_for_everything_again():
    client = logged_on()
    client.send(message(b"D", 2, T0, ORDER))
    client.acceptor.reset_sequence(SESSION_ID, 10, T0, next_target_seq=1)
    client.received()
    events = client.send(message(b"D", 3, T0, [(11, "O2"), *ORDER[1:]]))
    assert events == []  # queued behind the gap
    [resend] = client.received()
    assert (resend.msg_type, resend.seq_num, resend.get(7), resend.get(16)) == (b"2", 10, b"1", b"0")
    events = client.send(message(b"4", 1, T0, [(43, "Y"), (122, "20260101-00:00:00"), (123, "Y"), (36, 3)]))
    assert [type(e) for e in events] == [ApplicationMessage]
    assert events[0].message.get(11) == b"O2"


def test_reset_sequence_while_logged_out_changes_only_the_store(tmp_path):
    exchange = acceptor(FileStore(tmp_path, SESSION_ID))
    assert exchange.reset_sequence(SESSION_ID, 40, T0) is False
    exchange.close()
    restarted_store = FileStore(tmp_path, SESSION_ID)
    assert restarted_store.next_sender_seq == 40 and restarted_store.next_target_seq == 1
    client = Client(acceptor(restarted_store))
    client.send(logon(1, T0))
    [reply] = client.received()
    assert reply.seq_num == 40


# --- 17: encryption --------------------------------------------------------------------------

@pytest.mark.parametrize("method", [b"1", b"6", b"9", b"x"])
def test_logon_asking_for_encryption_is_rejected_then_logged_out(method):
    store = MemoryStore()
    client = Client(acceptor(store))
    events = client.send(message(b"A", 1, T0, [(98, method), (108, 30)]))
    text = f"Unsupported EncryptMethod(98)={method.decode()}"
    assert events == [SessionRejected(SESSION_ID, 1, 7, text),
                      Disconnected(None, text + ": only 0 (None) is supported")]
    reject, logout = client.received()
    assert (reject.msg_type, reject.get(45), reject.get(371), reject.get(372), reject.get(373)) == \
        (b"3", b"1", b"98", b"A", b"7")
    assert (logout.msg_type, logout.seq_num) == (b"5", 2)
    assert store.next_target_seq == 2 and store.next_sender_seq == 3  # NextNumIn incremented
    assert client.connection.closed and not client.acceptor.is_logged_on(SESSION_ID)


def test_encryption_refusal_after_credentials_and_duplicate_checks():
    store = MemoryStore()
    client = Client(acceptor(store, password="p"))
    events = client.send(message(b"A", 1, T0, [(98, 1), (108, 30), (554, "wrong")]))
    assert [type(e) for e in events] == [LogonRefused, Disconnected]
    assert [m.msg_type for m in client.received()] == [b"5"]  # invalid credentials, unsequenced
    assert store.next_target_seq == 1 and store.next_sender_seq == 1


# --- 18: third-party addressing ---------------------------------------------------------------

def test_allowed_on_behalf_of_is_delivered():
    client = logged_on(on_behalf_of_comp_ids=("JCD",))
    [event] = client.send(message(b"D", 2, T0, [(115, "JCD"), (116, "DESK"), *ORDER]))
    assert isinstance(event, ApplicationMessage) and event.message.get(115) == b"JCD"
    assert client.received() == []


@pytest.mark.parametrize("header,ref_tag", [
    ([(115, "OTHER")], 115),
    ([(116, "DESK")], 116),
    ([(144, "NYC")], 144),
    ([(128, "BROKER")], 128),
    ([(115, "JCD"), (129, "DESK")], 129),
    ([(145, "LDN")], 145),
])
def test_third_party_problems_are_rejected_with_comp_id_problem(header, ref_tag):
    client = logged_on(on_behalf_of_comp_ids=("JCD",))
    events = client.send(message(b"D", 2, T0, [*header, *ORDER]))
    assert [type(e) for e in events] == [SessionRejected] and events[0].reason == 9
    [reject] = client.received()
    assert (reject.get(45), reject.get(371), reject.get(373)) == (b"2", str(ref_tag).encode(), b"9")
    assert reject.get(128) is None  # a bad address is not used to route the answer
    client.send(message(b"1", 3, T0, [(112, "NEXT")]))  # the number was consumed
    [heartbeat] = client.received()
    assert heartbeat.get(112) == b"NEXT"


def test_third_party_tags_keep_a_pipelined_message_off_the_fast_path():
    # one read, one SendingTime: the plain orders take the fast path, the ones whose tag
    # sequence has OnBehalfOfSubID(116) get the full checks, however often that sequence comes
    client = logged_on(on_behalf_of_comp_ids=("JCD",))
    plain = [message(b"D", seq, T0, [(11, f"O{seq}"), *ORDER[1:]]) for seq in (2, 5)]
    bad = [message(b"D", seq, T0, [(116, "DESK"), (11, f"O{seq}"), *ORDER[1:]]) for seq in (3, 4)]
    events = client.send(plain[0] + bad[0] + bad[1] + plain[1])
    assert [type(e) for e in events] == [ApplicationMessage, SessionRejected, SessionRejected,
                                         ApplicationMessage]
    assert [reject.get(371) for reject in client.received()] == [b"116", b"116"]


def test_default_profile_allows_no_on_behalf_of():
    client = logged_on()
    events = client.send(message(b"D", 2, T0, [(115, "JCD"), *ORDER]))
    assert [type(e) for e in events] == [SessionRejected]


def test_reject_of_an_on_behalf_of_message_is_reverse_routed():
    client = logged_on(on_behalf_of_comp_ids=("JCD",))
    client.send(message(b"D", 2, T0, [(115, "JCD"), (116, "CS"), (144, "CHI"), *ORDER[:-1], (40, "w")]))
    [reject] = client.received()
    assert (reject.get(128), reject.get(129), reject.get(145), reject.get(373)) == (b"JCD", b"CS", b"CHI", b"5")
    assert FIX44.validate(reject) is None  # routing fields in the header: a valid Reject


# --- NextExpectedMsgSeqNum(789) -----------------------------------------------------------------

def test_logon_reply_carries_next_expected_only_when_asked():
    client = Client(acceptor())
    client.send(logon(1, T0, extra=[(789, 1)]))
    [reply] = client.received()
    assert reply.get(789) == b"2"
    plain = Client(acceptor())
    plain.send(logon(1, T0))
    [reply] = plain.received()
    assert reply.get(789) is None


@pytest.mark.parametrize("value,text", [
    (b"0", "Invalid Logon: NextExpectedMsgSeqNum(789) must be a positive number"),
    (b"x", "Invalid Logon: Incorrect data format for value, field=789"),  # the dictionary's check
    (b"2", "NextExpectedMsgSeqNum(789) too high, expecting at most 1 but received 2"),
])
def test_unusable_next_expected_refuses_the_logon(value, text):
    store = MemoryStore()
    client = Client(acceptor(store))
    events = client.send(message(b"A", 1, T0, [(98, 0), (108, 30), (789, value)]))
    assert events == [Disconnected(None, text)]
    [logout] = client.received()
    assert logout.msg_type == b"5" and logout.get(58) == text.encode()
    assert store.next_target_seq == 1


def test_next_expected_below_ours_resends_unasked_and_gap_fills_the_logon():
    store = MemoryStore()
    exchange = acceptor(store)
    exchange.send(SESSION_ID, b"8", EXEC, T0)          # 1, stored while nobody is logged on
    exchange.reset_sequence(SESSION_ID, 3, T0)         # 2 skipped
    client = Client(exchange, T0 + 5)
    assert client.send(logon(1, T0 + 5, extra=[(789, 1)])) == [LoggedOn(SESSION_ID)]
    reply, report, fill = client.received()
    assert (reply.msg_type, reply.seq_num, reply.get(789)) == (b"A", 3, b"2")
    assert (report.msg_type, report.seq_num, report.get(43)) == (b"8", 1, b"Y")
    assert (fill.msg_type, fill.seq_num, fill.get(123), fill.get(36)) == (b"4", 2, b"Y", b"4")


def test_next_expected_logon_too_high_waits_for_the_peer_to_fill():
    store = MemoryStore()
    exchange = acceptor(store)
    client = Client(exchange)
    client.send(logon(3, T0, extra=[(789, 1)]))
    [reply] = client.received()  # no ResendRequest: a 789 peer recovers by itself
    assert reply.get(789) == b"1"
    client.send(message(b"D", 4, T0, ORDER))  # more early traffic: still no ResendRequest
    assert client.received() == []
    events = client.send(message(b"4", 1, T0, [(43, "Y"), (122, "20260101-00:00:00"), (123, "Y"), (36, 3)]))
    assert [type(e) for e in events] == [ApplicationMessage]
    assert store.next_target_seq == 5
