"""The sans-IO FIX session state machine, acceptor side.

The server feeds bytes, timer ticks and connection loss into a `Connection` and writes
out whatever `data_to_send()` returns; time is always passed in as `now` (epoch
seconds). Connection states and the only transitions between them:

    AWAITING_LOGON --valid Logon--> LOGGED_ON --we send Logout--> LOGOUT_SENT
          |                             |                              |
          +-----------------------------+------------------------------+--> CLOSED

Behaviour follows the FIX 4.4 session-level test cases (Volume 2); the conformance
scripts under tests/conformance are named after them.
"""

from __future__ import annotations

import dataclasses
import enum
import hmac
from typing import Callable, Iterable

from ..codec import FixMessage, FixParser, Garbled, TimestampFormatter, encode, parse_utc_timestamp
from ..codec import tags
from ..codec.tags import (
    BeginSeqNo,
    BeginString,
    ClOrdID,
    CancelOnDisconnect,
    DeliverToCompID,
    DeliverToLocationID,
    DeliverToSubID,
    EncryptMethod,
    EndSeqNo,
    GapFillFlag,
    HeartBtInt,
    MsgSeqNum,
    NewSeqNo,
    NextExpectedMsgSeqNum,
    OnBehalfOfCompID,
    OnBehalfOfLocationID,
    OnBehalfOfSubID,
    OrigSendingTime,
    Password,
    PossDupFlag,
    PossResend,
    RefMsgType,
    RefSeqNum,
    RefTagID,
    ResetSeqNumFlag,
    SenderCompID,
    SendingTime,
    SessionRejectReason,
    TargetCompID,
    TestReqID,
    Text,
    Username,
)
from ..codec.encoder import header_encoder
from ..codec.message import Layout, PerLayout, values_getter
from .config import SessionConfig
from .events import (ApplicationMessage, Disconnected, Event, GarbledMessage, LoggedOn, LoggedOut,
                     LogonRefused, SessionRejected, ThrottledMessage)
from .limits import LogonThrottle, TokenBucket
from .store import MessageStore, StoreCorrupted

from ..codec.dictionary import FIX44

__all__ = ["Acceptor", "Connection", "State"]

# The FIX vocabulary is codec.tags (one home for tag numbers, message types and reject
# reasons): tag names are imported as they are, values bound to module names below.

HEARTBEAT = tags.MsgTypes.HEARTBEAT
TEST_REQUEST = tags.MsgTypes.TEST_REQUEST
RESEND_REQUEST = tags.MsgTypes.RESEND_REQUEST
REJECT = tags.MsgTypes.REJECT
SEQUENCE_RESET = tags.MsgTypes.SEQUENCE_RESET
LOGOUT = tags.MsgTypes.LOGOUT
LOGON = tags.MsgTypes.LOGON

# SessionRejectReason(373) values the session itself decides.
REQUIRED_TAG_MISSING = tags.RejectReasons.REQUIRED_TAG_MISSING
VALUE_INCORRECT = tags.RejectReasons.VALUE_INCORRECT
INCORRECT_DATA_FORMAT = tags.RejectReasons.INCORRECT_DATA_FORMAT
DECRYPTION_PROBLEM = tags.RejectReasons.DECRYPTION_PROBLEM
COMPID_PROBLEM = tags.RejectReasons.COMPID_PROBLEM
SENDING_TIME_ACCURACY = tags.RejectReasons.SENDING_TIME_ACCURACY_PROBLEM

# Spec test case 6: a TestRequest after HeartBtInt plus "some reasonable period" (20%).
TEST_REQUEST_FACTOR = 1.2
# Stored messages re-encoded per step of a resend: the server asks for the next step when
# the socket has drained (continue_resend), so a resend of 100k messages neither holds them
# all in memory nor stalls other sessions.
RESEND_CHUNK = 200
# 19a: ClOrdIDs of the messages delivered on a FIX session (until its sequence numbers are
# reset), so that a PossResend(97)=Y copy of one can be ignored: at least the last this many
# (two generations of this many, see _Session).
MAX_REMEMBERED_CL_ORD_IDS = 100_000
# receive_data(max_messages=N) feeds the parser this many bytes at a time until it has N
# messages (about 24 NewOrderSingles): the parse of one call stays small, too.
_PARSE_SLICE = 4096
# SessionRejectReason 99 (Other): a message refused by a session's rate limit.
OTHER = tags.RejectReasons.OTHER
# Order entry for SessionConfig.max_order_rate: NewOrderSingle, OrderCancelRequest,
# OrderCancelReplaceRequest, OrderMassCancelRequest, NewOrderCross, CrossOrderCancelRequest.
_ORDER_ENTRY_MSG_TYPES = frozenset((tags.MsgTypes.NEW_ORDER_SINGLE, tags.MsgTypes.ORDER_CANCEL_REQUEST,
                                    tags.MsgTypes.ORDER_CANCEL_REPLACE_REQUEST, tags.MsgTypes.ORDER_MASS_CANCEL_REQUEST,
                                    tags.MsgTypes.NEW_ORDER_CROSS, tags.MsgTypes.CROSS_ORDER_CANCEL_REQUEST))
# What an honest client is told about a refused Logon.  Unknown CompID and wrong
# Username/Password get the same text (it must not tell a guesser which CompIDs exist);
# what does not help a guesser is said plainly (see README "Security and limits").
INVALID_CREDENTIALS = "Logon refused: invalid credentials"
# Highest NewSeqNo(36) a peer may move our inbound number to: stores journal sequence
# numbers as u64, and the number after it must fit too.
MAX_SEQ_NUM = (1 << 64) - 2

# Third-party addressing (test case 18): any of these in an inbound message needs a look.
_THIRD_PARTY_TAGS = frozenset((OnBehalfOfCompID, OnBehalfOfSubID, OnBehalfOfLocationID,
                               DeliverToCompID, DeliverToSubID, DeliverToLocationID))
# Reverse routing, (inbound tag, tag of our reply) in the reply's header order:
# OnBehalfOf* of an accepted inbound message -> DeliverTo* and DeliverTo* -> OnBehalfOf*.
_REVERSE_ROUTE = ((DeliverToCompID, OnBehalfOfCompID), (OnBehalfOfCompID, DeliverToCompID),
                  (DeliverToSubID, OnBehalfOfSubID), (DeliverToLocationID, OnBehalfOfLocationID),
                  (OnBehalfOfSubID, DeliverToSubID), (OnBehalfOfLocationID, DeliverToLocationID))

# The session's own message types (a set: `in` on a bytes object is a slower search).
_ADMIN_MSG_TYPES = frozenset((HEARTBEAT, TEST_REQUEST, RESEND_REQUEST, REJECT, SEQUENCE_RESET, LOGOUT, LOGON))
# Messages whose ClOrdID(11) names the request itself (a status request's names an order).
_NEW_CL_ORD_ID_TYPES = frozenset((tags.MsgTypes.NEW_ORDER_SINGLE, tags.MsgTypes.ORDER_CANCEL_REQUEST,
                                  tags.MsgTypes.ORDER_CANCEL_REPLACE_REQUEST, tags.MsgTypes.ORDER_MASS_CANCEL_REQUEST))
# Never refused by a rate limit: ending, recovering or keeping the session alive.
_UNTHROTTLED_MSG_TYPES = frozenset((HEARTBEAT, SEQUENCE_RESET, LOGOUT, LOGON))

# Tags that keep an inbound message off _on_message's fast path (PossDupFlag, third party).
_FAST_PATH_EXCLUDED_TAGS = _THIRD_PARTY_TAGS | frozenset((PossDupFlag, PossResend))

# Header fields every message after Logon is checked against (read in one get_many call).
_CHECKED_HEADER_TAGS = (BeginString, SenderCompID, TargetCompID, SendingTime)
# ... and, on the fast path, the ClOrdID _deliver remembers: in the same call (a separate
# msg.get is a Python call per message)
_FAST_PATH_TAGS = (*_CHECKED_HEADER_TAGS, ClOrdID)

# Header fields rebuilt when a stored message is resent.
_RESEND_DROPPED_TAGS = frozenset((BeginString, 9, 35, MsgSeqNum, SenderCompID, TargetCompID,
                                  SendingTime, PossDupFlag, OrigSendingTime, PossResend, 10))


class State(enum.Enum):
    AWAITING_LOGON = "awaiting logon"
    LOGGED_ON = "logged on"
    LOGOUT_SENT = "logout sent"
    CLOSED = "closed"


# (an enum member read from its class is a descriptor call in CPython 3.11: the hot paths
# read these module globals instead)
_AWAITING_LOGON = State.AWAITING_LOGON
_LOGGED_ON = State.LOGGED_ON
_LOGOUT_SENT = State.LOGOUT_SENT

_TRANSITIONS = {
    State.AWAITING_LOGON: frozenset((State.LOGGED_ON, State.CLOSED)),
    State.LOGGED_ON: frozenset((State.LOGOUT_SENT, State.CLOSED)),
    State.LOGOUT_SENT: frozenset((State.CLOSED,)),
    State.CLOSED: frozenset(),
}


class _Session:
    """What outlives a connection: config, store, the connection currently logged on."""

    __slots__ = ("config", "session_id", "store", "connection", "begin_string",
                 "sender", "target", "on_behalf_of", "deliver_to", "encode", "tolerance", "cl_ord_ids", "old_cl_ord_ids",
                 "throttled", "message_bucket", "order_bucket", "strikes", "strikes_at")

    def __init__(self, config: SessionConfig) -> None:
        self.config = config
        self.session_id = config.session_id
        self.store: MessageStore | None = None
        self.connection: Connection | None = None
        self.begin_string = config.begin_string.encode()
        self.sender = config.sender_comp_id.encode()
        self.target = config.target_comp_id.encode()
        self.on_behalf_of = frozenset(name.encode() for name in config.on_behalf_of_comp_ids)
        self.deliver_to = frozenset(name.encode() for name in config.deliver_to_comp_ids)
        # encode(msg_type, seq, sending_time, body): 8, 49 and 56 encoded once per session
        self.encode = header_encoder(self.begin_string, self.sender, self.target)
        self.tolerance = config.sending_time_tolerance
        # 19a: ClOrdIDs seen, in two generations (a dict each: one store per message); when
        # the current one holds MAX_REMEMBERED_CL_ORD_IDS it becomes the old one.  (Deleting
        # a dict's oldest key instead leaves a run of dead entries at its front that every
        # next(iter(d)) walks: 8 us per message once 100,000 were remembered.)
        self.cl_ord_ids: dict[bytes, None] = {}
        self.old_cl_ord_ids: dict[bytes, None] = {}
        # rate limits (kept across reconnects: logging on again refills nothing)
        self.throttled = config.max_message_rate > 0 or config.max_order_rate > 0
        self.message_bucket = (TokenBucket(config.max_message_rate, max(1, config.message_burst))
                               if config.max_message_rate > 0 else None)
        self.order_bucket = (TokenBucket(config.max_order_rate, max(1, config.order_burst))
                             if config.max_order_rate > 0 else None)
        self.strikes = 0.0  # recent refusals, decaying (throttle_logout_rejects)
        self.strikes_at = 0.0

    def reset_store(self) -> None:
        """Both sequence numbers back to 1: a new FIX session, which has seen no ClOrdID."""
        self.store.reset()
        self.cl_ord_ids = {}
        self.old_cl_ord_ids = {}


def _fast_path_reader(layout: Layout):
    """The reader of _FAST_PATH_TAGS for messages of ``layout``, None when it has a tag of
    _FAST_PATH_EXCLUDED_TAGS or no SendingTime."""
    if not _FAST_PATH_EXCLUDED_TAGS.isdisjoint(layout.index) or SendingTime not in layout.index:
        return None
    return values_getter(layout, _FAST_PATH_TAGS)


class Acceptor:
    """All sessions of one exchange.

    `store_factory(session_id)` is called once per session, on its first successful
    Logon or first `send`. With `accept_any_template`, a Logon from an unconfigured
    client CompID (same BeginString, addressed to the template's SenderCompID) gets a
    session made from the template.
    """

    def __init__(self, configs: Iterable[SessionConfig],
                 store_factory: Callable[[str], MessageStore],
                 accept_any_template: SessionConfig | None = None,
                 logon_throttle: LogonThrottle | None = None) -> None:
        self._store_factory = store_factory
        self.logon_throttle = logon_throttle
        self._template = accept_any_template
        self._sessions: dict[str, _Session] = {}
        self._by_key: dict[tuple[bytes, bytes, bytes], _Session] = {}
        for config in configs:
            if config.session_id in self._sessions:
                raise ValueError(f"duplicate session {config.session_id}")
            self._add(_Session(config))
        # Before its Logon a connection has no session: give it the most patient timeout.
        timeouts = [session.config.logon_timeout for session in self._sessions.values()]
        if accept_any_template is not None:
            timeouts.append(accept_any_template.logon_timeout)
        self.logon_timeout = max(timeouts, default=10.0)
        self._sending_now: float | None = None
        self._sending_time = b""
        self.format_time = TimestampFormatter().format  # (its caches are this acceptor's)
        # Layout -> the fast path's reader of _FAST_PATH_TAGS, None for a tag sequence with a
        # tag that keeps a message off it (session checks: 13,100 -> 9,800 instructions
        # per request, from a get_many and a set test per message)
        self.fast_path_readers = PerLayout(_fast_path_reader)

    def _add(self, session: _Session) -> None:
        self._sessions[session.session_id] = session
        self._by_key[(session.begin_string, session.sender, session.target)] = session

    @property
    def session_ids(self) -> list[str]:
        return list(self._sessions)

    def is_logged_on(self, session_id: str) -> bool:
        session = self._sessions.get(session_id)
        return session is not None and session.connection is not None \
            and session.connection._state is State.LOGGED_ON

    def remembered_cl_ord_ids(self, session_id: str) -> list[bytes]:
        """The ClOrdIDs the session remembers to recognise a PossResend order, oldest first."""
        session = self._sessions[session_id]
        return [*session.old_cl_ord_ids, *session.cl_ord_ids]

    def store_for(self, session_id: str) -> MessageStore:
        return self._open_store(self._sessions[session_id])

    def _open_store(self, session: _Session) -> MessageStore:
        store = session.store
        if store is None:
            store = session.store = self._store_factory(session.session_id)
        return store

    def _find(self, begin_string: bytes | None, our_id: bytes | None, their_id: bytes | None) -> _Session | None:
        session = self._by_key.get((begin_string, our_id, their_id))
        if session is None and self._template is not None and their_id:
            template = self._template
            if begin_string == template.begin_string.encode() and our_id == template.sender_comp_id.encode():
                try:
                    name = their_id.decode("ascii")
                except UnicodeDecodeError:
                    return None
                # added by the Logon once its credentials pass: refused ones leave nothing
                session = _Session(dataclasses.replace(template, target_comp_id=name))
        return session

    def connection_made(self, now: float, source: str | None = None,
                        cert_names: frozenset[str] | None = None) -> Connection:
        """A new transport connection.  ``source``: the peer's address (the logon throttle
        counts failures by it); ``cert_names``: the names of a verified client certificate
        (TLS), one of which must then be the Logon's SenderCompID."""
        return Connection(self, now, source, cert_names)

    def send(self, session_id: str, msg_type: bytes, body: list[tuple[int, bytes | str | int]] | bytes,
             now: float, resendable: bool = True) -> bool:
        """Sequence, store and queue an application message; False if not logged on.
        ``body``: the fields after the standard header, as pairs or already encoded (bytes
        of whole "tag=value<SOH>" fields, put in as they are: see ``header_encoder``).

        A resendable message is stored (and its sequence number used) even when the
        session is not logged on, so the client gets it by ResendRequest later. A
        non-resendable one (market data) is dropped then, without using a number.
        """
        session = self._sessions[session_id]
        connection = session.connection
        logged_on = connection is not None and connection._state is _LOGGED_ON
        if not logged_on and not resendable:
            return False
        store = session.store
        if store is None:
            store = self._open_store(session)
        seq = store.next_sender_seq
        if now != self._sending_now:  # one SendingTime text per now (the server's per callback)
            self._sending_now = now
            self._sending_time = self.format_time(now)
        raw = session.encode(msg_type, seq, self._sending_time, body)
        store.save_sent(seq, raw if resendable else None)
        if not logged_on:
            store.flush()
            return False
        if connection._resend is None:
            connection._out.append(raw)
        else:
            connection._after_resend.append(raw)  # (numbered after the range being resent)
        connection._last_sent = now
        return True

    def reset_sequence(self, session_id: str, new_seq_num: int, now: float,
                       next_target_seq: int | None = None) -> bool:
        """Test case 9 (synchronize sequence numbers after a loss of session state): our
        outbound numbers jump to `new_seq_num`, announced by a SequenceReset-Reset
        (GapFillFlag=N, NewSeqNo=`new_seq_num`) carrying the next unused number.

        `new_seq_num` must be above that number (the peer rejects a NewSeqNo below what it
        expects). `next_target_seq` (the spec's "reset NextNumIn to 1") also moves the
        inbound number, so the peer's next message reveals a gap and gets a ResendRequest.
        True if the SequenceReset was queued on a logged-on connection; False if the
        session is not logged on: then only the store changes, and the client learns the
        new number from our next Logon (its ResendRequest for the jump is gap-filled).
        """
        session = self._sessions[session_id]
        store = self._open_store(session)
        seq = store.next_sender_seq
        if new_seq_num <= seq:
            raise ValueError(f"{session_id}: NewSeqNo {new_seq_num} must be above the next "
                             f"outbound number {seq}")
        if next_target_seq is not None and next_target_seq < 1:
            raise ValueError(f"{session_id}: next_target_seq {next_target_seq} must be at least 1")
        connection = session.connection
        logged_on = connection is not None and connection._state is _LOGGED_ON
        if logged_on:
            connection._send_admin(SEQUENCE_RESET, [(GapFillFlag, b"N"), (NewSeqNo, new_seq_num)],
                                   now)  # carries `seq`
        store.set_next_sender_seq(new_seq_num)
        if next_target_seq is not None:
            store.set_next_target_seq(next_target_seq)
            if connection is not None:
                connection._queued.clear()
                connection._queued_bytes = 0
                connection._resend_until = 0
        store.flush()
        return logged_on

    def sequence_numbers(self, session_id: str) -> tuple[int, int] | None:
        """(next outbound, next inbound) of a session whose store is open; None if it has not
        been opened yet (the operator's session list: looking must not create store files)."""
        session = self._sessions.get(session_id)
        if session is None or session.store is None:
            return None
        return session.store.next_sender_seq, session.store.next_target_seq

    def set_credentials(self, session_id: str, username: str | None, password: str | None) -> bool:
        """New Username/Password for a session's next Logons (the operator's password reload);
        False if there is no such session."""
        session = self._sessions.get(session_id)
        if session is None:
            return False
        session.config = dataclasses.replace(session.config, username=username, password=password)
        return True

    def set_template_credentials(self, username: str | None, password: str | None) -> None:
        """The same for sessions the accept-any template creates from now on."""
        if self._template is not None:
            self._template = dataclasses.replace(self._template, username=username, password=password)

    def flush_stores(self) -> None:
        """Flush every open store (before a snapshot of the application's state)."""
        for session in self._sessions.values():
            if session.store is not None:
                session.store.flush()

    def close(self) -> None:
        """Flush and close every open store (server shutdown)."""
        for session in self._sessions.values():
            if session.store is not None:
                session.store.close()


_MISSING = object()
# ApplicationMessage(session_id, message) built through its slots (once per inbound order).
_new_event = object.__new__
_set_event_session_id = ApplicationMessage.session_id.__set__
_set_event_message = ApplicationMessage.message.__set__


class Connection:
    """One transport connection; logs on to at most one session."""

    def __init__(self, acceptor: Acceptor, now: float, source: str | None = None,
                 cert_names: frozenset[str] | None = None) -> None:
        self._acceptor = acceptor
        self._parser = FixParser(hot_shapes=FIX44.hot_shapes)  # (the dictionary that validates it)
        self._sending_times = SendingTimes()
        self._source = source
        self._cert_names = cert_names
        # Parsed messages not processed yet: receive_data(max_messages=N) processes at most
        # N per call (the server's fair scheduling) and keeps the rest here.
        self._backlog: list = []
        self._unparsed = b""  # received bytes not fed to the parser yet (same reason)
        self._queued_bytes = 0  # raw bytes of the messages in _queued
        self._state = State.AWAITING_LOGON
        self._session: _Session | None = None
        self._out: list[bytes] = []
        self._connected_at = now
        self._last_sent = now
        self._last_received = now
        self._heartbeat_interval = 0
        self._test_request_id: bytes | None = None
        self._test_request_sent_at = 0.0
        self._test_request_count = 0
        self._logout_sent_at = 0.0
        # Early messages by sequence number; None = only consume the number (a ResendRequest
        # already served or the Logon that revealed the gap).
        self._queued: dict[int, FixMessage | None] = {}
        # Highest inbound seq the outstanding ResendRequest must bring; 0 = none outstanding.
        self._resend_until = 0
        # A resend in progress (served a chunk at a time): (stored messages iterator, last
        # seq, next seq not yet covered, SendingTime); messages sent meanwhile wait behind it.
        self._resend: list | None = None
        self._after_resend: list[bytes] = []
        self.session_id: str | None = None
        self.closed = False

    @property
    def state(self) -> State:
        return self._state

    def _set_state(self, new: State) -> None:
        if new not in _TRANSITIONS[self._state]:
            raise RuntimeError(f"session state {self._state.value} -> {new.value} is not allowed")
        self._state = new
        if new is State.CLOSED:
            self.closed = True

    # --- the server's entry points -------------------------------------------------
    @property
    def backlog(self) -> int:
        """Messages received but not processed yet (see ``receive_data``'s max_messages):
        parsed ones, plus one for bytes not parsed yet."""
        return len(self._backlog) + (1 if self._unparsed else 0)

    @property
    def unparsed_bytes(self) -> int:
        """Received bytes not parsed yet (a bounded receive_data parses as it goes)."""
        return len(self._unparsed)

    def receive_data(self, data: bytes, now: float, max_messages: int = 0) -> list[Event]:
        """Parse ``data`` and process the messages it completes.  With ``max_messages``,
        at most that many (after those left over from earlier calls); the rest wait in
        ``backlog`` for the next call (``data`` may be empty then)."""
        events: list[Event] = []
        if self.closed:
            self._backlog = []
            self._unparsed = b""
            return events
        append = events.append
        fast_path_readers = self._acceptor.fast_path_readers
        if not max_messages or (len(data) <= _PARSE_SLICE and not self._backlog and not self._unparsed):
            # (with max_messages, a read of one slice and nothing waiting: what the loop below
            # does in one round; a window-1 client's every read, 1,700 instructions less)
            items = self._parser.feed(data) if data else []
            if self._backlog:
                items = self._backlog + items
                self._backlog = []
        else:
            # Parsed only as far as this call's messages need (slices of _PARSE_SLICE bytes):
            # a 64 KB read of small orders is parsed over several calls, not all in the first.
            items = self._backlog
            self._backlog = []
            if self._unparsed:
                data = self._unparsed + data
            end = len(data)
            position = 0
            while position < end and len(items) < max_messages:
                items = items + self._parser.feed(data[position:position + _PARSE_SLICE])
                position += _PARSE_SLICE
            self._unparsed = data[position:] if position < end else b""
        if max_messages and len(items) > max_messages:
            self._backlog = items[max_messages:]
            items = items[:max_messages]
        for item in items:
            if self.closed:
                self._backlog = []
                self._unparsed = b""
                break  # bytes after a disconnect decision are not ours to act on
            if type(item) is Garbled:
                append(GarbledMessage(item.reason))
                continue
            self._last_received = now
            if self._state is _AWAITING_LOGON:
                self._on_logon(item, now, events)
                continue
            session = self._session
            if session.throttled and self._throttle(item, now, events):
                continue
            # Fast path, the common case: a precondition of _on_message's checks (the next
            # number, the header right, the SendingTime the one last parsed (a pipelining
            # client repeats it) or else a valid one, within the tolerance, no PossDupFlag or
            # third-party tags, nothing queued, an application message, valid) under which
            # they all pass; it ends in the same step, _deliver, so a new check of an
            # in-sequence message has one home.
            read_header = fast_path_readers[item.layout]  # None: a tag keeps it off the fast path
            if read_header is not None:
                store = session.store
                times = self._sending_times
                begin_string, sender_id, target_id, sending_time, cl_ord_id = read_header(item.values)
                seq = item.seq_num
                if (seq == store.next_target_seq and begin_string == session.begin_string
                        and sender_id == session.target and target_id == session.sender
                        and (sending_time == times.last_text or times.takes(sending_time))
                        and abs(now - times.last_value) <= session.tolerance
                        and item.msg_type not in _ADMIN_MSG_TYPES
                        and not self._queued and FIX44.validate(item) is None):
                    store.set_next_target_seq(seq + 1)
                    self._deliver(session, item, cl_ord_id, events)
                    continue
            self._on_message(item, now, events)
        # (The store is not flushed here: data_to_send, which the server calls after every
        # read, journals the inbound number together with the replies in one write.)
        return events

    def data_to_send(self) -> bytes:
        """What is queued for this connection, drained.  Also flushes the session's store
        (every record since the last flush, in one write, before the bytes are handed
        out): the server calls it after each ``receive_data`` and ``on_timer``, output or
        not, so an inbound sequence number never stays in memory past that callback."""
        session = self._session
        if session is not None:
            store = session.store
            if store is not None:
                store.flush()  # stored before it is handed out
        out = self._out
        if not out:
            return b""
        data = b"".join(out) if len(out) > 1 else out[0]
        out.clear()
        return data

    def next_deadline(self) -> float | None:
        state = self._state
        if state is _LOGGED_ON:
            interval = self._heartbeat_interval
            if interval <= 0:
                return None
            if self._test_request_id is not None:
                silence_deadline = self._test_request_sent_at + interval * TEST_REQUEST_FACTOR
            else:
                silence_deadline = self._last_received + interval * TEST_REQUEST_FACTOR
            return min(self._last_sent + interval, silence_deadline)
        if state is _AWAITING_LOGON:
            return self._connected_at + self._acceptor.logon_timeout
        if state is _LOGOUT_SENT:
            return self._logout_sent_at + self._session.config.logout_timeout
        return None

    def on_timer(self, now: float) -> list[Event]:
        events: list[Event] = []
        state = self._state
        if state is _LOGGED_ON:
            interval = self._heartbeat_interval
            if interval <= 0:
                return events
            if self._test_request_id is not None:
                if now >= self._test_request_sent_at + interval * TEST_REQUEST_FACTOR:
                    self._end_session("no Heartbeat answering TestRequest", events)
                    return events
            elif now >= self._last_received + interval * TEST_REQUEST_FACTOR:
                self._test_request_count += 1
                self._test_request_id = b"TEST%d" % self._test_request_count
                self._test_request_sent_at = now
                self._send_admin(TEST_REQUEST, [(TestReqID, self._test_request_id)], now)
            if now >= self._last_sent + interval:
                self._send_admin(HEARTBEAT, [], now)
        elif state is _AWAITING_LOGON:
            if now >= self._connected_at + self._acceptor.logon_timeout:
                self._close("no Logon received in time", events)
        elif state is _LOGOUT_SENT:
            if now >= self._logout_sent_at + self._session.config.logout_timeout:
                self._end_session("no Logout reply in time", events)
        return events

    def connection_lost(self, now: float) -> list[Event]:
        events: list[Event] = []
        if not self.closed:
            self._close("connection lost", events)
        return events

    def logout(self, text: str, now: float) -> list[Event]:
        """Start the Logout handshake (server shutdown); closes after the reply or timeout."""
        events: list[Event] = []
        if self._state is State.LOGGED_ON:
            self._send_admin(LOGOUT, [(Text, text)], now)
            self._logout_sent_at = now
            self._set_state(State.LOGOUT_SENT)
        elif self._state is State.AWAITING_LOGON:
            self._close(text, events)
        return events

    # --- outbound ------------------------------------------------------------------
    def _send_admin(self, msg_type: bytes, body: list, now: float) -> None:
        """Sequence and queue an admin message (never stored: resends gap-fill it)."""
        session = self._session
        store = session.store
        seq = store.next_sender_seq
        raw = session.encode(msg_type, seq, self._acceptor.format_time(now), body)
        store.save_sent(seq, None)
        if self._resend is None:
            self._out.append(raw)
        else:
            self._after_resend.append(raw)
        self._last_sent = now

    def _send_reject(self, msg: FixMessage, reason: int, ref_tag: int | None, text: str,
                     now: float, events: list[Event]) -> None:
        ref_seq = msg.seq_num if msg.seq_num is not None else 0
        body: list = []
        if not _THIRD_PARTY_TAGS.isdisjoint(msg._index) and self._third_party_problem(msg) is None:
            # 18: a Reject of a message sent on behalf of a firm is delivered to that firm
            # (and one for a firm it was to be delivered to comes on behalf of it); an
            # empty value is no address (and would make our Reject invalid)
            for inbound, outbound in _REVERSE_ROUTE:
                value = msg.get(inbound)
                if value:
                    body.append((outbound, value))
        body.append((RefSeqNum, ref_seq))
        if ref_tag is not None:
            body.append((RefTagID, ref_tag))
        if msg.msg_type:
            body.append((RefMsgType, msg.msg_type))
        body.append((SessionRejectReason, reason))
        body.append((Text, text))
        self._send_admin(REJECT, body, now)
        events.append(SessionRejected(self._session.session_id, ref_seq, reason, text))

    def _logout_and_close(self, text: str, now: float, events: list[Event]) -> None:
        """Error Logout: the spec makes waiting for the reply optional, we close at once."""
        self._send_admin(LOGOUT, [(Text, text)], now)
        self._end_session(text, events)

    def _end_session(self, reason: str, events: list[Event]) -> None:
        if self.session_id is not None:
            events.append(LoggedOut(self.session_id, reason))
        self._close(reason, events)

    def _close(self, reason: str, events: list[Event]) -> None:
        if self.closed:
            return
        self._set_state(State.CLOSED)
        session = self._session
        if session is not None and session.connection is self:
            session.connection = None
            if session.config.reset_on_disconnect:
                session.reset_store()
        events.append(Disconnected(self.session_id, reason))

    # --- Logon ---------------------------------------------------------------------
    def _on_logon(self, msg: FixMessage, now: float, events: list[Event]) -> None:
        """First message on the connection (test case 1S): who it is (_authenticate), the
        Logon's own checks (_logon_values), the sequence numbers, then the session starts
        (_start_session)."""
        if msg.msg_type != LOGON:
            self._close(f"first message is not a Logon (MsgType {msg.msg_type.decode('latin-1')})", events)
            return
        session = self._authenticate(msg, now, events)
        if session is None:
            return
        config = session.config
        self._session = session
        store = self._acceptor._open_store(session)
        encrypt_method = msg.get(EncryptMethod)
        if encrypt_method is not None and encrypt_method != b"0":
            self._refuse_encryption(msg, encrypt_method, store, now, events)
            return
        values = self._logon_values(msg, config, now)
        if type(values) is str:
            self._logout_and_close(values, now, events)
            return
        interval, seq, reset_requested, their_next = values
        if reset_requested or config.reset_on_logon:
            session.reset_store()
        expected = store.next_target_seq
        if seq < expected:
            self._logout_and_close(f"MsgSeqNum too low, expecting {expected} but received {seq}", now, events)
            return
        if their_next is not None and their_next > store.next_sender_seq:
            # They expect a number we never sent: the spec says abort the session.
            self._logout_and_close(f"NextExpectedMsgSeqNum(789) too high, expecting at most "
                                   f"{store.next_sender_seq} but received {their_next}", now, events)
            return
        self._start_session(msg, interval, seq, expected, reset_requested, their_next, now, events)

    def _authenticate(self, msg: FixMessage, now: float, events: list[Event]) -> _Session | None:
        """The session a Logon is for, when its identity, credentials and certificate check
        out and it is not logged on already; else None (the Logon refused)."""
        acceptor = self._acceptor
        their_id = msg.get(SenderCompID)
        comp_id = (their_id or b"").decode("latin-1")
        throttle = acceptor.logon_throttle
        if throttle is not None:
            locked = throttle.locked_for(self._source, comp_id, now)
            if locked:
                # not even looked at: a locked address or CompID learns nothing from a guess
                self._refuse_logon(msg, comp_id, f"Logon refused: {comp_id!r} or its address is locked out "
                                   f"for {locked:.0f} s after failed logons",
                                   f"Logon refused: too many failed logons, retry in {locked:.0f} s", False,
                                   now, events, throttle.config.max_delay)
                return None
        session = acceptor._find(msg.get(BeginString), msg.get(TargetCompID), their_id)
        if session is None:
            # 1S c: unknown identity.  The Logout uses none of a session's sequence numbers
            # and reads exactly like a wrong password's.
            self._refuse_logon(msg, comp_id, "Logon for an unknown session (BeginString/CompIDs)",
                               INVALID_CREDENTIALS, True, now, events)
            return None
        config = session.config
        # Credentials before anything stateful: a refused Logon must not touch the store.
        if not (_credential_ok(msg.get(Username), config.username)
                and _credential_ok(msg.get(Password), config.password)):
            self._refuse_logon(msg, comp_id, f"Logon refused for {session.session_id}: bad Username/Password",
                               INVALID_CREDENTIALS, True, now, events)
            return None
        if self._cert_names is not None and comp_id not in self._cert_names:
            self._refuse_logon(msg, comp_id, f"Logon refused for {session.session_id}: the client certificate "
                               f"names {', '.join(sorted(self._cert_names)) or 'nothing'}",
                               "Logon refused: the client certificate does not name this SenderCompID", True,
                               now, events)
            return None
        if throttle is not None:
            throttle.succeeded(self._source, comp_id)
        if session.session_id not in acceptor._sessions:
            acceptor._add(session)  # a new client of the accept-any template
        if session.connection is not None:
            # 1S b: duplicate identity -> drop only this new connection, the established one
            # untouched (the Logout, outside the session's numbering, says why).
            self._refuse_logon(msg, comp_id, f"Logon refused: {session.session_id} is already logged on",
                               "Logon refused: this session is already logged on", False, now, events)
            return None
        return session

    def _logon_values(self, msg: FixMessage, config: SessionConfig, now: float):
        """``(HeartBtInt, MsgSeqNum, ResetSeqNumFlag=Y, NextExpectedMsgSeqNum or None)`` of a
        valid Logon, else the reason to log out (a str)."""
        problem = FIX44.validate(msg)
        if problem is not None:
            return f"Invalid Logon: {problem.text}"
        if not self._sending_time_ok(msg, now, config):
            return "SendingTime accuracy problem"
        try:
            interval = int(msg.get(HeartBtInt, b""))
        except ValueError:
            interval = -1
        if not config.heartbeat_min <= interval <= config.heartbeat_max:
            return f"HeartBtInt must be between {config.heartbeat_min} and {config.heartbeat_max}"
        seq = msg.seq_num
        if seq is None:
            return "MsgSeqNum(34) missing"
        reset_requested = msg.get(ResetSeqNumFlag) == b"Y"
        if reset_requested and seq != 1:
            return "ResetSeqNumFlag=Y requires MsgSeqNum=1"
        next_expected = msg.get(NextExpectedMsgSeqNum)
        their_next = None
        if next_expected is not None:
            their_next = _int_or_none(next_expected)
            if their_next is None or their_next < 1:
                return "Invalid Logon: NextExpectedMsgSeqNum(789) must be a positive number"
        return interval, seq, reset_requested, their_next

    def _start_session(self, msg: FixMessage, interval: int, seq: int, expected: int,
                       reset_requested: bool, their_next: int | None, now: float,
                       events: list[Event]) -> None:
        """The Logon is accepted: the reply, LoggedOn, and the sequence gap either way."""
        session = self._session
        store = session.store
        next_expected = their_next
        session.connection = self
        self.session_id = session.session_id
        self._heartbeat_interval = interval
        self._set_state(State.LOGGED_ON)
        reply: list = [(EncryptMethod, 0), (HeartBtInt, interval)]
        if reset_requested:
            reply.append((ResetSeqNumFlag, b"Y"))
        if next_expected is not None:
            # 789 in the reply: the number we expect next, past this Logon if it was that one.
            reply.append((NextExpectedMsgSeqNum, seq + 1 if seq == expected else expected))
        logon_seq = store.next_sender_seq
        self._send_admin(LOGON, reply, now)
        cancel_on_disconnect = msg.get(CancelOnDisconnect)
        events.append(LoggedOn(session.session_id, None if cancel_on_disconnect is None
                               else cancel_on_disconnect == b"Y"))
        if seq == expected:
            store.set_next_target_seq(seq + 1)
        elif next_expected is not None:
            # A peer using 789 fills our gap by itself from the 789 of our reply: no
            # ResendRequest (FIX 4.4 Vol 2, NextExpectedMsgSeqNum processing).
            self._queued[seq] = None
            self._resend_until = seq
        else:
            # 1S a: too high -> Logon reply, then ResendRequest. The Logon's own number
            # is consumed once the gap before it is filled.
            self._queued[seq] = None
            self._request_resend(expected, seq, now)
        if next_expected is not None and their_next < logon_seq:
            # They missed some of ours: resend from 789 through our Logon (application
            # messages again, admin ones and the Logon's number as GapFill), unasked.
            self._resend_range(their_next, logon_seq, now)

    def _refuse_logon(self, msg: FixMessage, comp_id: str, reason: str, text: str, failed: bool,
                      now: float, events: list[Event], delay: float = 0.0) -> None:
        """Logout with ``text`` and close, before any session is chosen: the Logout carries
        MsgSeqNum 1 and is not stored (a refused connection must not use a session's
        numbers; a FIX engine reads a Logout's Text whatever its number).  A failed
        credential check counts in the logon throttle, which says how long the server
        holds the answer."""
        throttle = self._acceptor.logon_throttle
        if failed and throttle is not None:
            delay = throttle.failed(self._source, comp_id, now)
        ours, theirs = msg.get(TargetCompID), msg.get(SenderCompID)
        if ours and theirs:  # (without both there is no one to address it to)
            # (in the exchange's BeginString even to another version's Logon: a refusal of
            # "FIX.4.2" explains itself in a message the exchange speaks)
            self._out.append(encode(b"FIX.4.4", LOGOUT,
                                    [(SenderCompID, ours), (TargetCompID, theirs), (MsgSeqNum, 1),
                                     (SendingTime, self._acceptor.format_time(now)), (Text, text)]))
        events.append(LogonRefused(comp_id, self._source, reason, text, failed, delay))
        self._close(reason, events)

    def _refuse_encryption(self, msg: FixMessage, encrypt_method: bytes, store: MessageStore,
                           now: float, events: list[Event]) -> None:
        """Test case 17 b: only EncryptMethod(98)=0 (none) is supported. Reject 7
        (decryption problem), the Logon's number consumed, Logout naming the value."""
        shown = encrypt_method.decode("latin-1")
        self._send_reject(msg, DECRYPTION_PROBLEM, EncryptMethod,
                          f"Unsupported EncryptMethod(98)={shown}", now, events)
        if msg.seq_num is not None and msg.seq_num == store.next_target_seq:
            store.set_next_target_seq(msg.seq_num + 1)
        self._logout_and_close(f"Unsupported EncryptMethod(98)={shown}: only 0 (None) is supported",
                               now, events)

    def _sending_time_ok(self, msg: FixMessage, now: float, config: SessionConfig) -> bool:
        value = msg.get(SendingTime)
        if value is None:
            return False
        try:
            sent = self._sending_times.parse(value)
        except ValueError:
            return False
        return abs(now - sent) <= config.sending_time_tolerance

    # --- after Logon -----------------------------------------------------------------
    def _throttle(self, msg: FixMessage, now: float, events: list[Event]) -> bool:
        """The session's rate limits: True if ``msg`` was refused (its number consumed, a
        Reject, or a ThrottledMessage for the gateway to answer).  Only a message carrying
        the next number is refused (no gap is made); Logout, SequenceReset, Logon and
        Heartbeat never are."""
        msg_type = msg.msg_type
        session = self._session
        store = session.store
        seq = msg.seq_num
        if msg_type in _UNTHROTTLED_MSG_TYPES or seq != store.next_target_seq or self._queued:
            return False
        config = session.config
        bucket = session.message_bucket
        if bucket is not None and not bucket.take(now):
            limit = f"more than {config.max_message_rate:g} messages a second (max_message_rate)"
        else:
            bucket = session.order_bucket
            if bucket is None or msg_type not in _ORDER_ENTRY_MSG_TYPES or bucket.take(now):
                return False
            limit = f"more than {config.max_order_rate:g} orders a second (max_order_rate)"
        text = "Throttle: " + limit
        store.set_next_target_seq(seq + 1)
        if msg_type in _ADMIN_MSG_TYPES:
            self._send_reject(msg, OTHER, None, text, now, events)
        else:
            events.append(ThrottledMessage(session.session_id, msg, text))
        most = config.throttle_logout_rejects
        if most:
            # refusals decay by a tenth a second: a burst of `most`, or most/10 a second for
            # about ten seconds, is abuse
            session.strikes = session.strikes * 0.9 ** max(0.0, now - session.strikes_at) + 1
            session.strikes_at = now
            if session.strikes > most:
                session.strikes = 0.0
                self._logout_and_close(f"Throttle: sustained rate above the session's limit ({limit})", now,
                                       events)
        return True

    def _on_message(self, msg: FixMessage, now: float, events: list[Event]) -> None:
        session = self._session
        store = session.store
        begin_string, sender_id, target_id, sending_time = msg.get_many(_CHECKED_HEADER_TAGS)
        seq = msg.seq_num
        msg_type = msg.msg_type
        if begin_string != session.begin_string:
            self._logout_and_close("Incorrect BeginString", now, events)  # 2h
            return
        if seq is None:
            self._logout_and_close("MsgSeqNum(34) missing or not a number", now, events)
            return
        expected = store.next_target_seq
        # 14b/14d: a missing or empty CompID is the dictionary's Reject 1 / 4 (naming the
        # tag), not a CompID mismatch: compared only when both are there.
        if sender_id and target_id and (sender_id != session.target or target_id != session.sender):
            wrong = SenderCompID if sender_id != session.target else TargetCompID
            self._send_reject(msg, COMPID_PROBLEM, wrong, "CompID problem", now, events)  # 2i, naming the field
            if seq == expected:
                store.set_next_target_seq(seq + 1)
            self._logout_and_close("CompID problem", now, events)
            return
        try:
            sent_at = self._sending_times.parse(sending_time) if sending_time is not None else None
        except ValueError:
            sent_at = None
        if sent_at is None:
            if sending_time is None:
                self._send_reject(msg, REQUIRED_TAG_MISSING, SendingTime, "Required tag missing", now, events)
            else:
                self._send_reject(msg, INCORRECT_DATA_FORMAT, SendingTime,
                                  "Incorrect data format for value", now, events)
            if seq == expected:
                store.set_next_target_seq(seq + 1)
                self._drain_queue(now, events)
            return
        if abs(now - sent_at) > session.tolerance:
            self._send_reject(msg, SENDING_TIME_ACCURACY, SendingTime, "SendingTime accuracy problem",
                              now, events)  # 2k
            if seq == expected:
                store.set_next_target_seq(seq + 1)
            self._logout_and_close("SendingTime accuracy problem", now, events)
            return
        if msg_type == LOGON and msg.get(ResetSeqNumFlag) == b"Y" and seq == 1:
            self._reset_in_session(msg, now, events)
            return
        if msg_type == SEQUENCE_RESET and msg.get(GapFillFlag) != b"Y":
            self._on_sequence_reset(msg, now, events)  # 11: MsgSeqNum is ignored in Reset mode
            return
        if msg_type == LOGOUT:
            self._on_logout(msg, seq == expected, now, events)
            return
        if seq > expected:
            self._on_gap(msg, seq, expected, now, events)
            return
        if seq < expected:
            self._on_seq_too_low(msg, seq, expected, sent_at, now, events)
            return
        self._process_in_sequence(msg, sent_at, now, events)
        if self._queued:
            self._drain_queue(now, events)

    def _on_gap(self, msg: FixMessage, seq: int, expected: int, now: float, events: list[Event]) -> None:
        """A number above the expected one: queue the message and ask for the gap."""
        session = self._session
        msg_type = msg.msg_type
        if len(self._queued) >= session.config.max_queued_messages:
            self._logout_and_close("too many messages received ahead of a sequence gap", now, events)
            return
        if msg_type == RESEND_REQUEST:
            # 20: serve the peer's ResendRequest now, or both sides wait for each other.
            self._queued[seq] = None
            self._request_resend(expected, seq, now)
            self._serve_resend(msg, now, events)
        else:
            size = len(msg.raw)
            limit = session.config.max_queued_bytes
            if self._queued_bytes + size > limit:
                self._logout_and_close(f"more than {limit} bytes received ahead of a sequence gap "
                                       f"(limit max_queued_bytes)", now, events)
                return
            previous = self._queued.get(seq)
            if previous is not None:
                self._queued_bytes -= len(previous.raw)
            self._queued[seq] = msg
            self._queued_bytes += size
            self._request_resend(expected, seq, now)

    def _on_seq_too_low(self, msg: FixMessage, seq: int, expected: int, sent_at: float, now: float,
                        events: list[Event]) -> None:
        """A number below the expected one: a possible duplicate is checked and ignored,
        anything else ends the session (2c, 2e-2g)."""
        if msg.get(PossDupFlag) == b"Y":
            orig = msg.get(OrigSendingTime)
            if orig is None:
                self._send_reject(msg, REQUIRED_TAG_MISSING, OrigSendingTime,
                                  "Required tag missing", now, events)  # 2g
            elif not self._orig_sending_time_ok(orig, sent_at):
                self._send_reject(msg, SENDING_TIME_ACCURACY, OrigSendingTime,
                                  "SendingTime accuracy problem", now, events)  # 2f
                self._logout_and_close("SendingTime accuracy problem", now, events)
            # 2e: otherwise a duplicate of what we already processed: ignore.
            return
        self._logout_and_close(f"MsgSeqNum too low, expecting {expected} but received {seq}",
                               now, events)  # 2c

    @staticmethod
    def _orig_sending_time_ok(orig: bytes, sent_at: float) -> bool:
        try:
            return parse_utc_timestamp(orig) <= sent_at
        except ValueError:
            return False

    def _process_in_sequence(self, msg: FixMessage, sent_at: float | None, now: float,
                             events: list[Event]) -> None:
        """Handle the message carrying exactly the next expected number."""
        session = self._session
        store = session.store
        seq = msg.seq_num
        problem = FIX44.validate(msg)
        if problem is not None:  # 14a-j: Reject, and the number is still consumed
            self._send_reject(msg, problem.reason, problem.ref_tag, problem.text, now, events)
            store.set_next_target_seq(seq + 1)
            return
        if not _THIRD_PARTY_TAGS.isdisjoint(msg._index):  # (the codec's tag index: one C call)
            bad = self._third_party_problem(msg)
            if bad is not None:  # 18 b: Reject 9 naming the field, the number consumed
                self._send_reject(msg, COMPID_PROBLEM, bad[0], bad[1], now, events)
                store.set_next_target_seq(seq + 1)
                return
        if msg.get(PossDupFlag) == b"Y":
            orig = msg.get(OrigSendingTime)
            if orig is None:
                self._send_reject(msg, REQUIRED_TAG_MISSING, OrigSendingTime, "Required tag missing",
                                  now, events)
                store.set_next_target_seq(seq + 1)
                return
            if sent_at is not None and not self._orig_sending_time_ok(orig, sent_at):
                self._send_reject(msg, SENDING_TIME_ACCURACY, OrigSendingTime,
                                  "SendingTime accuracy problem", now, events)
                store.set_next_target_seq(seq + 1)
                self._logout_and_close("SendingTime accuracy problem", now, events)
                return
        store.set_next_target_seq(seq + 1)
        handler = _IN_SEQUENCE_ADMIN.get(msg.msg_type)
        if handler is not None:
            handler(self, msg, now, events)
            return
        self._deliver(session, msg, msg.get(ClOrdID), events)

    def _deliver(self, session: _Session, msg: FixMessage, cl_ord_id: bytes | None, events: list[Event]) -> None:
        """The last step of every in-sequence application message (the fast path's too):
        the checks that concern delivery, then the ApplicationMessage event.  ``cl_ord_id``:
        the message's ClOrdID(11) (None: none)."""
        if msg.msg_type in _NEW_CL_ORD_ID_TYPES:
            # (PossResend in the tag index first: a C-level test, where msg.get is a
            # Python call on every order of the fast path)
            if (PossResend in msg._index and msg.get(PossResend) == b"Y"
                    and (cl_ord_id in session.cl_ord_ids or cl_ord_id in session.old_cl_ord_ids)):
                # 19a: a PossResend copy of a request this FIX session already saw (answered,
                # accepted or not): ignored, the number consumed; answering again would
                # tell the client a live order was rejected as a duplicate.
                return
            if cl_ord_id is not None:
                seen = session.cl_ord_ids
                seen[cl_ord_id] = None
                if len(seen) >= MAX_REMEMBERED_CL_ORD_IDS:  # a new generation
                    session.old_cl_ord_ids = seen
                    session.cl_ord_ids = {}
        event = _new_event(ApplicationMessage)  # the frozen dataclass's __init__ is Python code
        _set_event_session_id(event, session.session_id)
        _set_event_message(event, msg)
        events.append(event)

    # --- in-sequence session messages (_IN_SEQUENCE_ADMIN); the number is consumed ---------
    def _on_heartbeat(self, msg: FixMessage, now: float, events: list[Event]) -> None:
        if self._test_request_id is not None and msg.get(TestReqID) == self._test_request_id:
            self._test_request_id = None

    def _on_test_request(self, msg: FixMessage, now: float, events: list[Event]) -> None:
        self._send_admin(HEARTBEAT, [(TestReqID, msg.get(TestReqID, b""))], now)  # 4b

    def _consume_only(self, msg: FixMessage, now: float, events: list[Event]) -> None:
        """Reject (7): nothing to do but consume the number.  (Logout never gets here:
        _on_message handles it whatever its number, as QuickFIX does.)"""

    def _on_second_logon(self, msg: FixMessage, now: float, events: list[Event]) -> None:
        self._logout_and_close("Logon received on a session already logged on", now, events)

    def _third_party_problem(self, msg: FixMessage) -> tuple[int, str] | None:
        """Test case 18: OnBehalfOfCompID(115) must be one the session allows
        (`on_behalf_of_comp_ids`), DeliverToCompID(128) one of its `deliver_to_comp_ids`;
        sub and location IDs only alongside their CompID."""
        session = self._session
        for comp_tag, sub_tags, allowed, name, key in (
                (OnBehalfOfCompID, (OnBehalfOfSubID, OnBehalfOfLocationID), session.on_behalf_of,
                 "OnBehalfOfCompID(115)", "on_behalf_of_comp_ids"),
                (DeliverToCompID, (DeliverToSubID, DeliverToLocationID), session.deliver_to,
                 "DeliverToCompID(128)", "deliver_to_comp_ids")):
            comp_id = msg.get(comp_tag)
            if comp_id is None:
                for tag in sub_tags:
                    if msg.get(tag) is not None:
                        return tag, f"CompID problem: tag {tag} without {name}"
            elif comp_id not in allowed:
                return (comp_tag, f"CompID problem: {name}={comp_id.decode('latin-1')} not allowed for "
                        f"this session ({key})")
        return None

    def _drain_queue(self, now: float, events: list[Event]) -> None:
        """Process early messages whose turn has come (after a gap was filled)."""
        queued = self._queued
        store = self._session.store
        while queued and not self.closed:
            expected = store.next_target_seq
            stale = [seq for seq in queued if seq < expected]  # skipped by a gap fill
            for seq in stale:
                dropped = queued.pop(seq)
                if dropped is not None:
                    self._queued_bytes -= len(dropped.raw)
            msg = queued.pop(expected, _MISSING)
            if msg is _MISSING:
                break
            if msg is not None:
                self._queued_bytes -= len(msg.raw)
            if msg is None:
                store.set_next_target_seq(expected + 1)
            else:
                self._process_in_sequence(msg, None, now, events)
        if self._resend_until and store.next_target_seq > self._resend_until:
            self._resend_until = 0  # our ResendRequest is satisfied

    def _request_resend(self, expected: int, seq: int, now: float) -> None:
        if self._resend_until and self._resend_until >= expected:
            # One ResendRequest to infinity is outstanding and covers this message too.
            self._resend_until = max(self._resend_until, seq)
            return
        self._resend_until = seq
        self._send_admin(RESEND_REQUEST, [(BeginSeqNo, expected), (EndSeqNo, 0)], now)

    # --- admin message handlers ------------------------------------------------------
    def _on_gap_fill(self, msg: FixMessage, now: float, events: list[Event]) -> None:
        """SequenceReset-GapFill carrying the expected number (already consumed)."""
        new_seq = _int_or_none(msg.get(NewSeqNo))
        if new_seq is None:
            self._send_reject(msg, REQUIRED_TAG_MISSING, NewSeqNo, "Required tag missing", now, events)
            return
        if new_seq <= msg.seq_num or new_seq > MAX_SEQ_NUM:
            self._send_reject(msg, VALUE_INCORRECT, NewSeqNo,
                              "Value is incorrect (out of range) for this tag", now, events)
            return
        self._session.store.set_next_target_seq(new_seq)

    def _on_sequence_reset(self, msg: FixMessage, now: float, events: list[Event]) -> None:
        """SequenceReset-Reset (test case 11): MsgSeqNum is ignored."""
        store = self._session.store
        new_seq = _int_or_none(msg.get(NewSeqNo))
        if new_seq is None:
            self._send_reject(msg, REQUIRED_TAG_MISSING if msg.get(NewSeqNo) is None else INCORRECT_DATA_FORMAT,
                              NewSeqNo, "NewSeqNo(36) missing or not a number", now, events)
            return
        if new_seq < store.next_target_seq or new_seq > MAX_SEQ_NUM:
            self._send_reject(msg, VALUE_INCORRECT, NewSeqNo,
                              "Value is incorrect (out of range) for this tag", now, events)  # 11c
            return
        store.set_next_target_seq(new_seq)  # 11a; 11b (equal) changes nothing
        if self._queued:
            self._drain_queue(now, events)
        elif self._resend_until and new_seq > self._resend_until:
            self._resend_until = 0

    def _reset_in_session(self, msg: FixMessage, now: float, events: list[Event]) -> None:
        """Logon with ResetSeqNumFlag=Y on a live session (e.g. a 24-hour session's daily
        reset): both sides restart at 1 and the Logon is answered with 141=Y."""
        store = self._session.store
        self._session.reset_store()
        store.set_next_target_seq(2)
        self._queued.clear()
        self._queued_bytes = 0
        self._resend_until = 0
        self._send_admin(LOGON, [(EncryptMethod, 0), (HeartBtInt, self._heartbeat_interval),
                                 (ResetSeqNumFlag, b"Y")], now)

    def _on_logout(self, msg: FixMessage, in_sequence: bool, now: float, events: list[Event]) -> None:
        session = self._session
        if in_sequence:
            session.store.set_next_target_seq(msg.seq_num + 1)
        text = msg.get(Text)
        if self._state is State.LOGOUT_SENT:
            reason = "Logout confirmed"  # 13a
        else:
            self._send_admin(LOGOUT, [], now)  # 13b: answer, then the peer or we disconnect
            reason = "client logged out" + (f": {text.decode('latin-1')}" if text else "")
        if session.config.reset_on_logout:
            session.reset_store()
        self._end_session(reason, events)

    def _serve_resend(self, msg: FixMessage, now: float, events: list[Event]) -> None:
        """Test case 8: stored app messages with PossDupFlag=Y, gaps as one GapFill each."""
        session = self._session
        store = session.store
        begin = _int_or_none(msg.get(BeginSeqNo))
        end = _int_or_none(msg.get(EndSeqNo))
        if begin is None or end is None:
            missing = BeginSeqNo if begin is None else EndSeqNo
            self._send_reject(msg, REQUIRED_TAG_MISSING if msg.get(missing) is None else INCORRECT_DATA_FORMAT,
                              missing, "BeginSeqNo/EndSeqNo missing or not a number", now, events)
            return
        if begin < 1 or (end != 0 and end < begin):
            self._send_reject(msg, VALUE_INCORRECT, BeginSeqNo,
                              "Value is incorrect (out of range) for this tag", now, events)
            return
        last_sent = store.next_sender_seq - 1
        if end == 0 or end > last_sent:
            end = last_sent
        if begin > end:
            return  # nothing was sent in that range
        self._resend_range(begin, end, now)

    def _resend_range(self, begin: int, end: int, now: float) -> None:
        """Messages `begin`..`end` (all sent) again: stored ones with PossDupFlag=Y, each
        run of the others as one SequenceReset-GapFill.  The first ``RESEND_CHUNK`` now,
        the rest by ``continue_resend`` (a new ResendRequest replaces one in progress)."""
        store = self._session.store
        iter_sent = getattr(store, "iter_sent", None)
        stored = iter_sent(begin, end) if iter_sent is not None else iter(store.get_sent(begin, end))
        self._resend = [stored, end, begin, self._acceptor.format_time(now)]
        self.continue_resend(now)

    @property
    def resend_pending(self) -> bool:
        """A resend is in progress: call ``continue_resend`` when the socket has drained."""
        return self._resend is not None

    def continue_resend(self, now: float) -> None:
        """The next ``RESEND_CHUNK`` messages of the resend in progress (then, at its end,
        the messages sent meanwhile)."""
        resend = self._resend
        if resend is None:
            return
        stored, end, fill_from, timestamp = resend
        out = self._out
        count = 0
        for seq, raw in stored:
            if seq > fill_from:
                out.append(self._gap_fill(fill_from, seq, timestamp))
            out.append(self._possdup_copy(seq, raw, timestamp))
            fill_from = seq + 1
            count += 1
            if count >= RESEND_CHUNK:
                resend[2] = fill_from
                self._last_sent = now
                return
        if fill_from <= end:
            out.append(self._gap_fill(fill_from, end + 1, timestamp))
        self._resend = None
        out.extend(self._after_resend)
        self._after_resend.clear()
        self._last_sent = now

    def _gap_fill(self, seq: int, new_seq: int, timestamp: bytes) -> bytes:
        session = self._session
        return encode(session.begin_string, SEQUENCE_RESET,
                      [(SenderCompID, session.sender), (TargetCompID, session.target),
                       (MsgSeqNum, seq), (PossDupFlag, b"Y"), (SendingTime, timestamp),
                       (OrigSendingTime, timestamp), (GapFillFlag, b"Y"), (NewSeqNo, new_seq)])

    def _possdup_copy(self, seq: int, raw: bytes, timestamp: bytes) -> bytes:
        parsed = FixParser().feed(raw)
        if len(parsed) != 1 or type(parsed[0]) is Garbled:
            raise StoreCorrupted(f"{self._session.session_id}: stored message {seq} does not parse")
        original = parsed[0]
        session = self._session
        body = [field for field in original.fields if field[0] not in _RESEND_DROPPED_TAGS]
        return encode(session.begin_string, original.msg_type,
                      [(SenderCompID, session.sender), (TargetCompID, session.target),
                       (MsgSeqNum, seq), (PossDupFlag, b"Y"), (SendingTime, timestamp),
                       (OrigSendingTime, original.get(SendingTime, timestamp)), *body])


# Session messages carrying the next expected number, by MsgType (Connection._process_in_sequence;
# application messages go to Connection._deliver).  Which messages reach it depends on the
# state: AWAITING_LOGON takes only a Logon (Connection._on_logon), LOGGED_ON and LOGOUT_SENT
# go through Connection._on_message (or its fast-path precondition).
_IN_SEQUENCE_ADMIN = {
    HEARTBEAT: Connection._on_heartbeat,
    TEST_REQUEST: Connection._on_test_request,
    RESEND_REQUEST: Connection._serve_resend,  # 8
    SEQUENCE_RESET: Connection._on_gap_fill,  # 10 (a Reset-mode one never gets here)
    LOGON: Connection._on_second_logon,
    REJECT: Connection._consume_only,
    LOGOUT: Connection._consume_only,
}
assert _IN_SEQUENCE_ADMIN.keys() == _ADMIN_MSG_TYPES


# length of a SendingTime with a fraction -> 10 ** its digits (".sss", ".ssssss", ".sssssssss")
_FRACTION_SCALES = {21: 1000, 24: 1_000_000, 27: 1_000_000_000}


class SendingTimes:
    """`parse_utc_timestamp` for one connection's SendingTimes, the whole-second part and
    the last whole value remembered: consecutive inbound messages almost always share the
    second (a pipelining client repeats the whole value), and the full parse costs more
    than the rest of the session's per-message work."""

    __slots__ = ("second_text", "second_value", "last_text", "last_value")

    def __init__(self) -> None:
        self.second_text = b""
        self.second_value = 0.0
        self.last_text: bytes | None = None
        self.last_value = 0.0

    def parse(self, value: bytes) -> float:
        """Seconds since the epoch; ValueError like the codec's."""
        if value == self.last_text:
            return self.last_value
        second_text = value[:17]
        if second_text == self.second_text:
            base = self.second_value
        else:
            base = parse_utc_timestamp(second_text)
            self.second_text, self.second_value = second_text, base
        size = len(value)
        if size != 17:
            scale = _FRACTION_SCALES.get(size)
            digits = value[18:]
            if scale is None or value[17] != 0x2E or not digits.isdigit():
                raise ValueError(f"bad UTCTimestamp {value!r}")
            base += int(digits) / scale
        self.last_text = value
        self.last_value = base
        return base

    def takes(self, value: bytes) -> bool:
        """True when ``value`` is a valid UTCTimestamp, then the last one parsed (``last_text``,
        ``last_value``); False, with those unchanged, otherwise."""
        try:
            self.parse(value)
        except ValueError:
            return False
        return True


def _credential_ok(given: bytes | None, expected: str | None) -> bool:
    if expected is None:
        return True
    # compare_digest: the time taken does not tell how much of a guess was right.
    return given is not None and hmac.compare_digest(given, expected.encode())


def _int_or_none(value: bytes | None) -> int | None:
    """The number `value` spells, None unless it is plain digits. One longer than 20 digits
    (beyond any sequence number, and maybe beyond int()'s 4300-digit limit) gives
    MAX_SEQ_NUM + 1, which every caller refuses or clamps as too high."""
    if value is None or not value.isdigit():
        return None
    if len(value) > 20:
        value = value.lstrip(b"0")
        if len(value) > 20:
            return MAX_SEQ_NUM + 1
    return int(value or b"0")
