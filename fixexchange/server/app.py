"""The asyncio transport: sockets, timers, back-pressure, signals, logs.

No FIX rules (``fixexchange.session``) and no matching rules (``fixexchange.engine`` behind
``fixexchange.gateway``) live here: this module moves bytes between sockets and the sans-IO
session ``Connection`` objects, hands application messages to the ``Gateway`` and routes the
``Outbound`` messages it returns back through the ``Acceptor``.

Per event-loop turn
-------------------
* ``buffer_updated`` feeds one read (at most ``server.read_chunk`` bytes: that bounds the work one
  connection can make the loop do before every other ready socket has had its turn; the
  selector serves ready sockets round-robin) to its Connection, dispatches the events, and
  then writes what that read queued on ITS OWN connection at once (``data_to_send`` journals
  the session's store, inbound number included, in one write before the socket write): a
  reply leaves in the same callback as the request, with no extra loop iteration in the
  round trip.  A timer callback writes its connection's bytes the same way.
* Bytes a read queues on OTHER connections (fills for the counterparty, anything dispatched
  outside a read) mark those protocols dirty; ONE ``loop.call_soon(flush)`` per turn writes
  each dirty transport once (measured: writing them at the read as well gained nothing
  with 10 sessions, and a counterparty filled by several reads of one turn gets one send
  instead of one per read).  The gateway's deferred market data is flushed at that point
  too (one X per subscription per turn, however many reads changed the book); that
  callback is scheduled after a read whose messages left market data pending in the gateway
  (``market_data_pending``; a read that changed no subscribed book schedules nothing, so
  with one order in flight there is no empty loop pass per order), and runs after the
  replies went out.
* Conflation (``server.market_data_conflation_ms``, opt-in): market data is flushed by a
  timer at most once per interval instead of once per turn, and the gateway nets each
  level's changes in between (trades are all kept), so the fan-out to N subscribers costs
  N messages per interval, not per turn.  A MarketDataRequest or a slow reader's resync
  still sends what is pending first (a new W and the others' books must agree).
* Timers: each connection has one ``call_later`` for ``conn.next_deadline()``, moved only
  when the deadline comes earlier (a timer that fires early just re-arms).
* Latency mode (``server.busy_poll_us``): after a read that carried
  1..``POLL_AFTER_MAX_REQUESTS`` application messages the loop keeps turning with
  zero-timeout polls instead of sleeping in ``epoll_wait`` (``keep_polling``), trading CPU
  for the wake-up cost in every round trip of a client with few orders in flight.  How long
  is adapted to the gaps between such reads (``latency.PollWindow``: grows while they are
  within ``busy_poll_us``, shrinks to nothing while they are beyond it).  Heartbeats and
  the large reads of a streaming client do not start it, so it costs nothing idle,
  pipelined, or for a client pacing its orders further apart than ``busy_poll_us``.

Back-pressure
-------------
* Above ``outbound_high_water`` queued bytes (transport ``pause_writing``): market data to
  that session is dropped (conflated, never sequenced), and reading from that socket stops
  (a client that does not read its reports cannot push more orders).  On ``resume_writing``
  the gateway's ``snapshot_for`` sends fresh snapshots of every subscription.
* Above ``outbound_hard_limit``: the connection is aborted.  Execution reports are never
  dropped: they are in the session's store and reach the client by resend after it logs on
  again.
"""
from __future__ import annotations

import asyncio
import collections
import logging
import os
import re
import socket
import time
from pathlib import Path
from typing import Any

from ..codec.secrets import mask_secrets
from ..codec.tags import BeginString, CheckSum, MsgTypes, OrdType
from ..session.events import (ApplicationMessage, Disconnected, GarbledMessage, LoggedOn, LoggedOut,
                              LogonRefused, SessionRejected, ThrottledMessage)
from .config import ExchangeConfig, end_of_day_minute, load_config
from .latency import PollWindow
from .metrics import Metrics
from .tls import client_cert_names

log = logging.getLogger("fixexchange")

_NEW_ORDER_SINGLE = MsgTypes.NEW_ORDER_SINGLE  # (bound once: counted per message)
_EXECUTION_REPORT = MsgTypes.EXECUTION_REPORT
_MSG_RE = re.compile(rb"%d=.*?\x01%d=\d{3}\x01" % (BeginString, CheckSum), re.S)
_MESSAGE_START = b"%d=" % BeginString
_MAX_TAIL = 65536  # the session parser's message size limit
# Latency mode polls only after a read of at most this many application messages: a client
# with few requests in flight sleeps-and-wakes us on every one, while a larger read means
# the client streams and its next bytes are (nearly) waiting already, so polling would only
# burn CPU (pipelined fix-load reads carry hundreds), as would polling after heartbeats.
POLL_AFTER_MAX_REQUESTS = 8
LAG_PROBE_INTERVAL = 0.25  # seconds between event-loop lag samples (metrics)
ADMIN_CANCEL_SLICE = 500  # orders an operator's cancel-all cancels per event-loop turn
# messages from two different connections this close together (seconds) mean that more
# than one is sending: each then gets contended_messages_per_turn messages per loop turn
CONTENTION_WINDOW = 0.01
# seconds between retries of a journal commit that failed (replies held meanwhile)
COMMIT_RETRY = 0.5
# fsync "batch": the longest a reply waits for the turns of a backlog to share its fdatasync
SYNC_GROUP_DELAY = 0.005
# seconds between checks for a due snapshot / a finished snapshot writer
HOUSEKEEPING_INTERVAL = 0.2


def seconds_until(minute_of_day: int, now: float) -> float:
    """Seconds from ``now`` (epoch seconds) to the next ``minute_of_day`` UTC (a minute after
    midnight), strictly later than ``now``."""
    at = now - now % 86400 + minute_of_day * 60
    if at <= now:
        at += 86400
    return at - now


def _stamp(now: float) -> str:
    t = time.gmtime(now)
    return "%04d%02d%02d-%02d:%02d:%02d.%06d" % (t.tm_year, t.tm_mon, t.tm_mday, t.tm_hour,
                                                 t.tm_min, t.tm_sec, int((now % 1) * 1e6))


class MessageLog:
    """QuickFIX-style per-session message log: ``<dir>/<session>.messages.log``, one message
    per line, ``|`` for SOH, prefixed with a UTC timestamp and the direction.

    ``write`` takes reads as they come: a message split across two reads is logged when
    its end arrives (the unfinished tail is kept per direction, at most a message long)."""

    def __init__(self, directory: Path, session_id: str) -> None:
        make_private_dir(directory)
        name = re.sub(r"[^A-Za-z0-9_.-]+", "-", session_id.replace("->", "-"))
        self.path = directory / f"{name}.messages.log"
        self._f = open_private(self.path, buffering=64 * 1024)
        self._tails: dict[bytes, bytes] = {}

    def new_connection(self) -> None:
        """Forget unfinished messages of the session's previous connection."""
        self._tails.clear()

    def write(self, direction: bytes, data: bytes, now: float) -> None:
        tail = self._tails.get(direction)
        if tail:
            data = tail + data
        stamp = _stamp(now).encode()
        end = 0
        for m in _MSG_RE.finditer(data):
            self._f.write(b"%s %s %s\n" % (stamp, direction, mask_secrets(m[0]).replace(b"\x01", b"|")))
            end = m.end()
        start = data.find(_MESSAGE_START, end)
        if start < 0 and data.endswith(_MESSAGE_START[:-1]):
            start = len(data) - 1
        self._tails[direction] = data[start:] if 0 <= start and len(data) - start <= _MAX_TAIL else b""

    def flush(self) -> None:
        self._f.flush()

    def close(self) -> None:
        try:
            self._f.close()
        except OSError:
            pass


def _always() -> bool:
    return True


def open_private(path: Path, binary: bool = True, buffering: int = -1):
    """Open ``path`` for appending, created owner-only (0600) and made so if it exists: logs
    and stores hold orders, and message logs hold CompIDs."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
    try:
        os.fchmod(fd, 0o600)
    except OSError:
        pass
    return os.fdopen(fd, "ab" if binary else "a", buffering=buffering)


def make_private_dir(directory: Path) -> None:
    """Create ``directory`` (and parents) owner-only (0700); an existing one is left as is."""
    directory.mkdir(mode=0o700, parents=True, exist_ok=True)


# Individual log lines per kind (failed logon, refused connection...) per
# server.refusal_log_interval; beyond that they are only counted in the summary line.
LOG_LINES_PER_INTERVAL = 10
# Disconnected(None, reason) of a connection that never logged on, counted as a refusal
# (a refused Logon is counted by its LogonRefused); keyed by the reason's start.
_UNLOGGED_DISCONNECTS = {"first message is not a Logon"[:20]: "not a logon",
                         "no Logon received in time"[:20]: "logon timeout"}


class FixProtocol(asyncio.BufferedProtocol):
    """One TCP connection <-> one session ``Connection``."""

    __slots__ = ("server", "transport", "conn", "session_id", "view", "dirty", "resend_scheduled",
                 "write_paused", "read_paused", "conflated", "timer", "timer_at",
                 "pre_logon_bytes", "pre_logon_data", "logon_handle", "peer", "msglog", "closing",
                 "messages_in", "messages_out", "connected_at",
                 "source", "tls", "backlogged", "held")

    def __init__(self, server: "ExchangeServer", tls: bool = False) -> None:
        self.server = server
        self.tls = tls
        self.resend_scheduled = False
        self.source: str | None = None  # the peer's address (budgets and logon throttle)
        self.backlogged = False  # messages left for the next loop turn (fair scheduling)
        self.held = False  # a refused Logon's answer held back (logon throttle)
        self.transport: asyncio.Transport | None = None
        self.conn: Any = None
        self.session_id: str | None = None
        self.view = server.read_view  # shared: recv_into + buffer_updated run back to back
        self.dirty = False
        self.write_paused = False
        self.read_paused = False
        self.conflated = False
        self.timer: asyncio.TimerHandle | None = None
        self.timer_at = 0.0
        self.pre_logon_bytes = 0
        self.pre_logon_data: list[bytes] | None = None
        self.logon_handle: asyncio.TimerHandle | None = None
        self.peer = "?"
        self.msglog: MessageLog | None = None
        self.closing = False
        self.messages_in = 0  # application messages on this connection (admin session list)
        self.messages_out = 0
        self.connected_at = 0.0

    # -- asyncio callbacks ----------------------------------------------------------------
    def connection_made(self, transport: asyncio.BaseTransport) -> None:  # type: ignore[override]
        self.transport = transport  # type: ignore[assignment]
        srv = self.server
        peer = transport.get_extra_info("peername")
        self.peer = f"{peer[0]}:{peer[1]}" if peer else "?"
        self.source = peer[0] if peer else None
        if not srv.admit(self):
            self.closing = True
            transport.abort()
            return
        cert_names = client_cert_names(transport) if self.tls else None
        sock = transport.get_extra_info("socket")
        if sock is not None:
            try:
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            except OSError:
                pass
        s = srv.cfg.server
        transport.set_write_buffer_limits(high=s.outbound_high_water, low=s.outbound_high_water // 4)  # type: ignore[attr-defined]
        srv.protocols.add(self)
        now = time.time()
        self.connected_at = now
        self.conn = srv.acceptor.connection_made(now, self.source, cert_names)
        if srv.msglog_dir is not None:
            self.pre_logon_data = []
        self.logon_handle = srv.loop.call_later(s.logon_timeout, self._logon_timeout)
        log.debug("connection from %s", self.peer)
        self._arm_timer(now)
        self._mark_dirty()

    def get_buffer(self, sizehint: int) -> memoryview:
        return self.view

    def buffer_updated(self, nbytes: int) -> None:
        if self.closing:
            return
        data = bytes(self.view[:nbytes])
        now = time.time()
        srv = self.server
        arrived = time.perf_counter() if srv.busy_poll else 0.0
        if self.session_id is None:
            self.pre_logon_bytes += nbytes
            if self.pre_logon_data is not None:
                self.pre_logon_data.append(data)
            if self.pre_logon_bytes > srv.cfg.server.max_bytes_before_logon:
                self._receive(data, now)  # the Logon may be in this very read
                if self.session_id is None and not self.held:
                    srv.refused("too much before a Logon", self.source, "disconnect %s: %d bytes without a "
                                "Logon (limit %d)", self.peer, self.pre_logon_bytes,
                                srv.cfg.server.max_bytes_before_logon)
                    self.abort(now)
                    self.flush(now)  # (aborted: journals the store, writes nothing)
                    return
                self.flush(now)
                return
        elif self.msglog is not None:
            self.msglog.write(b"IN ", data, now)
        requests = self._receive(data, now)
        if srv.group_commit and srv.durable.journal.pending:
            # fsync "batch": the replies of every read in this loop turn wait for one
            # commit (write + fdatasync) in the turn's flush
            srv.mark_dirty(self)
        else:
            self.flush(now)  # this read's replies: now, not a loop iteration later
        if srv.busy_poll and 0 < requests <= POLL_AFTER_MAX_REQUESTS:
            srv.keep_polling(arrived)

    def _continue_backlog(self) -> None:
        """The next ``max_messages_per_turn`` messages of a read that carried more, one loop
        turn later: every other ready connection has had its turn in between."""
        self.backlogged = False  # (this is the scheduled call; _receive may schedule the next)
        self.server.backlogged -= 1
        if self.conn is None or self.closing:
            return
        now = time.time()
        self._receive(b"", now)
        self.flush(now)
        if not self.backlogged:
            self._set_reading()

    def _schedule_backlog(self) -> None:
        """Reading stops while a backlog is left (the next read waits until it is done) and
        the rest is scheduled for the next loop turn."""
        if not self.backlogged and not self.closing:
            self.backlogged = True
            self.server.backlogged += 1
            self.server.loop.call_soon(self._continue_backlog)
            self._set_reading()

    def _set_reading(self) -> None:
        want_paused = self.write_paused or self.backlogged or self.held
        tr = self.transport
        if tr is None or want_paused == self.read_paused or (not want_paused and self.closing):
            return
        self.read_paused = want_paused
        if want_paused:
            tr.pause_reading()
        else:
            tr.resume_reading()

    def hold(self, delay: float) -> None:
        """Answer a refused Logon ``delay`` seconds later (logon throttle); nothing is read
        meanwhile."""
        self.held = True
        self._set_reading()
        if self.logon_handle is not None:
            self.logon_handle.cancel()
            self.logon_handle = None
        self.server.loop.call_later(delay, self._release)

    def _release(self) -> None:
        self.held = False
        self.flush(time.time())

    def _receive(self, data: bytes, now: float) -> int:
        """Feed one read to the session and dispatch its events; the caller then writes
        this connection's bytes with ``flush``.  Returns the number of application
        messages the read carried."""
        srv = self.server
        conn = self.conn
        # Marked dirty without joining the per-turn list: the caller flushes this
        # connection itself, so dispatch must not schedule it (nor the turn's flush).
        self.dirty = True
        if srv.last_reader is not self:  # (reads and backlog turns both count)
            if now - srv.last_read_at < CONTENTION_WINDOW:
                srv.contended_until = now + CONTENTION_WINDOW
            srv.last_reader = self
        srv.last_read_at = now
        try:
            events = conn.receive_data(
                data, now, srv.max_messages_per_turn if now >= srv.contended_until
                else srv.contended_messages_per_turn)
        except Exception:  # a bug below must not take the daemon down
            log.exception("session layer failed on data from %s; disconnecting", self.peer)
            self.abort(now)
            return 0
        requests = srv.handle_events(self, events, now) if events else 0
        if conn.closed and not self.closing:
            self.closing = True  # flush will close after writing what is queued
        if conn.backlog:
            self._schedule_backlog()
        d = conn.next_deadline()
        if d is not None and (self.timer is None or d < self.timer_at):
            self._arm_timer(now)
        return requests

    def eof_received(self) -> bool:
        return False  # close the transport; connection_lost follows

    def connection_lost(self, exc: Exception | None) -> None:
        srv = self.server
        srv.protocols.discard(self)
        srv.unpend(self)
        if self.timer is not None:
            self.timer.cancel()
            self.timer = None
        if self.logon_handle is not None:
            self.logon_handle.cancel()
            self.logon_handle = None
        if self.conn is None:
            return
        now = time.time()
        try:
            events = self.conn.connection_lost(now)
        except Exception:
            log.exception("session layer failed on connection_lost")
            events = []
        sid = self.session_id
        srv.handle_events(self, events, now)
        if sid is not None and srv.by_session.get(sid) is self:
            # the session layer may or may not report Disconnected for a logged-on session
            srv.session_gone(self, sid, "connection lost" if exc is None else f"connection lost: {exc}", now)
        if self.msglog is not None:
            self.msglog.flush()
            self.msglog = None
        self.conn = None
        srv.connection_closed()

    def pause_writing(self) -> None:
        self.write_paused = True
        self._set_reading()

    def resume_writing(self) -> None:
        self.write_paused = False
        self._set_reading()
        self._more_resend()
        if self.conflated:
            self.conflated = False
            sid = self.session_id
            if sid is not None:
                now = time.time()
                srv = self.server
                srv.stats["md_resyncs"] += 1
                srv.flush_market_data(now)  # updates already pending go before the fresh W
                srv.dispatch(srv.gateway.snapshot_for(sid, now), now)

    # -- helpers ---------------------------------------------------------------------------
    def _mark_dirty(self) -> None:
        if not self.dirty:
            self.dirty = True
            self.server.mark_dirty(self)

    def _arm_timer(self, now: float) -> None:
        if self.conn is None:
            return
        d = self.conn.next_deadline()
        if self.timer is not None:
            self.timer.cancel()
            self.timer = None
        if d is None:
            return
        self.timer_at = d
        self.timer = self.server.loop.call_later(max(0.0, d - now), self._on_timer)

    def _on_timer(self) -> None:
        self.timer = None
        if self.conn is None:
            return
        now = time.time()
        try:
            events = self.conn.on_timer(now)
        except Exception:
            log.exception("session layer failed on timer; disconnecting %s", self.peer)
            self.abort(now)
            return
        if events:
            self.server.handle_events(self, events, now)
        if self.conn.closed:
            self.closing = True
        self._arm_timer(now)
        self.flush(now)  # heartbeats, TestRequests, Logout: written now

    def _logon_timeout(self) -> None:
        self.logon_handle = None
        if self.session_id is None and self.transport is not None and not self.transport.is_closing():
            self.server.refused("logon timeout", self.source, "disconnect %s: no Logon within %.1fs", self.peer,
                                self.server.cfg.server.logon_timeout)
            self.abort(time.time())

    def logged_on(self, sid: str, now: float) -> None:
        self.session_id = sid
        self.server.unpend(self)
        if self.logon_handle is not None:
            self.logon_handle.cancel()
            self.logon_handle = None
        srv = self.server
        if srv.msglog_dir is not None:
            self.msglog = srv.message_log(sid)
            self.msglog.new_connection()
            for chunk in self.pre_logon_data or ():
                self.msglog.write(b"IN ", chunk, now)
        self.pre_logon_data = None

    def flush(self, now: float) -> None:
        """Write what the session queued, once; close if the session is done."""
        self.dirty = False
        if self.held:
            return  # (_release flushes)
        conn = self.conn
        tr = self.transport
        if conn is None or tr is None:
            self.dirty = False
            return
        srv = self.server
        durable = srv.durable
        if durable is not None:
            # replies leave only after the journal records behind them
            if srv.group_commit and durable.unsynced() and srv.sync_deferred():
                self._mark_dirty()  # the group's write and sync come at the end of the backlog
                return
            if not durable.commit() or (srv.group_commit and not durable.sync()):
                srv.hold_for_journal(self)
                return
        self.dirty = False
        data = conn.data_to_send()
        if data:
            if self.msglog is not None:
                self.msglog.write(b"OUT", data, now)
            if not tr.is_closing():
                tr.write(data)
                if getattr(conn, "resend_pending", False):
                    self._more_resend()
                # (above the hard limit is above the high-water mark: pause_writing came first)
                if self.write_paused and tr.get_write_buffer_size() > self.server.cfg.server.outbound_hard_limit:
                    log.warning("disconnect %s (%s): outbound buffer over %d bytes (slow reader)",
                                self.session_id or "-", self.peer, self.server.cfg.server.outbound_hard_limit)
                    self.abort(now)
                    return
        if (self.closing or conn.closed) and not tr.is_closing():
            tr.close()

    def _more_resend(self) -> None:
        """A resend is served a chunk per loop turn while the socket is below its high-water
        mark (back-pressure: a client that does not read gets no more; other sessions are
        served between chunks)."""
        conn = self.conn
        if (conn is not None and getattr(conn, "resend_pending", False) and not self.write_paused
                and not self.resend_scheduled and not self.closing):
            self.resend_scheduled = True
            self.server.loop.call_soon(self._resend_step)

    def _resend_step(self) -> None:
        self.resend_scheduled = False
        conn = self.conn
        if conn is None or self.closing or self.write_paused:
            return
        now = time.time()
        try:
            conn.continue_resend(now)
        except Exception:
            log.exception("resend failed for %s; disconnecting", self.session_id)
            self.abort(now)
            return
        self.flush(now)

    def abort(self, now: float) -> None:
        self.closing = True
        if self.transport is not None:
            self.transport.abort()


class ExchangeServer:
    """Wires the session ``Acceptor`` and the ``Gateway`` to asyncio sockets."""

    def __init__(self, cfg: ExchangeConfig, acceptor: Any, gateway: Any,
                 loop: asyncio.AbstractEventLoop | None = None) -> None:
        self.cfg = cfg
        self.acceptor = acceptor
        self.gateway = gateway
        self.loop = loop or asyncio.get_running_loop()
        self.protocols: set[FixProtocol] = set()
        self.by_session: dict[str, FixProtocol] = {}
        self._dirty: list[FixProtocol] = []
        self._flush_scheduled = False  # a call_soon(_flush) is pending for this turn
        self.stopping = False
        self.server: asyncio.base_events.Server | None = None
        self.port = 0
        self._gtd: asyncio.TimerHandle | None = None
        self._eod: asyncio.TimerHandle | None = None
        self._all_closed = asyncio.Event()
        self.msglog_dir = Path(cfg.server.log_dir) if cfg.server.message_log else None
        self._msglogs: dict[str, MessageLog] = {}
        self.stats = {"md_dropped": 0, "md_resyncs": 0, "unknown_session_dropped": 0,
                      "throttled": 0}
        # connections without a Logon yet, oldest first (their own budget), and per address
        self.pending: dict[FixProtocol, None] = {}
        self.pending_by_source: dict[str, dict[FixProtocol, None]] = {}  # (oldest first)
        # addresses by how many pending connections they hold: [count] -> {address: None}
        self._sources_by_count: list[dict[str, None]] = [{}]
        # refusals (connections, logons) by kind: totals, and since the last summary line
        self.refusals: collections.Counter[str] = collections.Counter()
        self._refusals_logged: collections.Counter[str] = collections.Counter()
        self._refusals_interval: collections.Counter[str] = collections.Counter()
        self._refusal_sources: collections.Counter[str] = collections.Counter()
        self._refusal_timer: asyncio.TimerHandle | None = None
        self.max_messages_per_turn = cfg.server.max_messages_per_turn
        self.contended_messages_per_turn = cfg.server.contended_messages_per_turn
        self.last_reader: FixProtocol | None = None
        self.last_read_at = 0.0
        self.contended_until = 0.0  # messages from two connections this recently: contended
        self.tls_server: asyncio.base_events.Server | None = None
        self.tls_port = 0
        self._unknown_warned: set[str] = set()  # unknown session ids already warned about
        # operating (README "Operating"): metrics, admin endpoint, cancel-on-disconnect timers
        self.metrics = Metrics()
        self.admin = None  # AdminEndpoint when [admin] enabled
        self._cod_timers: dict[str, asyncio.TimerHandle] = {}
        self._lag_probe: asyncio.TimerHandle | None = None
        self._lag_due = 0.0
        self._summary: asyncio.TimerHandle | None = None
        self._summary_last = (0.0, 0, 0, 0)  # time, orders, trades, rejects at the last summary
        self._setup_market_data(gateway, cfg.server.market_data_conflation_ms / 1000)
        self.read_view = memoryview(bytearray(cfg.server.read_chunk))
        # the command journal (server.durability.Durable), when journaling to files
        self.durable = getattr(gateway, "durable", None)
        if self.durable is not None:  # the journal's write latency, a /metrics histogram
            self.metrics.journal_enabled = True
            self.durable.on_commit = self.metrics.journal_write.observe
        if self.durable is not None:
            self.durable.acceptor = acceptor
        self.group_commit = self.durable is not None and self.durable.grouped
        self.backlogged = 0  # connections with messages left for the next loop turn
        self._journal_held: list[FixProtocol] = []  # replies waiting for a journal commit that failed
        self._retry: asyncio.TimerHandle | None = None
        # logons, disconnects and cancel-on-disconnect whose journal record could not be
        # written: (what, apply(now)), applied in order when it can (see _apply_or_keep)
        self._journal_pending: list[tuple[str, Any]] = []
        self._pending_retry: asyncio.TimerHandle | None = None
        self._housekeeping: asyncio.TimerHandle | None = None
        # latency mode (server.busy_poll_us): see keep_polling
        self.busy_poll = cfg.server.busy_poll_us / 1e6
        self.poll_window = PollWindow(self.busy_poll)
        self._poll_until = 0.0
        self._polling = False
        self.admin_cancel_slice = ADMIN_CANCEL_SLICE

    # -- what the loop has scheduled (read-only; for tests and diagnostics) -------------
    @property
    def flush_scheduled(self) -> bool:
        """A flush of dirty connections and market data is due at the end of this turn."""
        return self._flush_scheduled

    @property
    def polling(self) -> bool:
        """Latency mode is keeping the loop awake after a read (see keep_polling)."""
        return self._polling

    @property
    def end_of_day_due(self) -> float | None:
        """Loop time of the next end of day (None: no end of day, or stopped)."""
        timer = self._eod
        return None if timer is None or timer.cancelled() else timer.when()

    def grace_timer_running(self, session_id: str) -> bool:
        """A cancel-on-disconnect grace period of ``session_id`` is timing."""
        return session_id in self._cod_timers

    @property
    def journal_pending(self) -> list[str]:
        """Logons, disconnects and cancel-on-disconnects kept until the journal can be
        written (see _apply_or_keep), oldest first."""
        return [what for what, _ in self._journal_pending]

    def _setup_market_data(self, gateway: Any, interval: float) -> None:
        # market data once per loop turn (one X per subscription per turn, not per order)
        self._md_flush = getattr(gateway, "flush_market_data", None)
        # and whether it has something to send: the per-turn flush is scheduled only then
        # (with one order in flight, no empty loop pass after each reply)
        self._md_pending = getattr(gateway, "market_data_pending", None)
        # conflation (server.market_data_conflation_ms): market data at most once per interval,
        # from a timer, instead of once per turn
        self.md_interval = interval
        self._md_timer: asyncio.TimerHandle | None = None
        self._md_flushed_at = 0.0  # (loop time)
        if self._md_flush is not None:
            gateway.defer_market_data = True
            gateway.conflate_market_data = interval > 0
            if self._md_pending is None:
                self._md_pending = _always

    # -- lifecycle -------------------------------------------------------------------------
    async def start(self) -> None:
        s = self.cfg.server
        if s.tls:
            from .tls import server_context

            context = server_context(self.cfg)  # (a ConfigError naming the key if unusable)
            self.tls_server = await self.loop.create_server(
                lambda: FixProtocol(self, tls=True), s.host, s.tls_port, reuse_address=True, backlog=1024,
                ssl=context, ssl_handshake_timeout=s.logon_timeout)
            self.tls_port = self.tls_server.sockets[0].getsockname()[1]
            log.info("TLS listening on %s:%d", s.host, self.tls_port)
        if s.plain_listener:
            self.server = await self.loop.create_server(lambda: FixProtocol(self), s.host, s.port,
                                                        reuse_address=True, backlog=1024)
            self.port = self.server.sockets[0].getsockname()[1]
        self._refusal_timer = self.loop.call_later(s.refusal_log_interval, self._refusal_summary)
        self._gtd = self.loop.call_later(s.gtd_interval, self._gtd_tick)
        if s.end_of_day:
            self._eod = self.loop.call_later(seconds_until(end_of_day_minute(s.end_of_day), time.time()),
                                             self.end_of_day)
        if self.durable is not None:
            self._housekeeping = self.loop.call_later(HOUSEKEEPING_INTERVAL, self._housekeep)
        log.info("listening on %s:%d as %s", s.host, self.port, s.comp_id,
                 extra={"event": "listening", "fields": {"host": s.host, "port": self.port}})
        self._lag_due = self.loop.time() + LAG_PROBE_INTERVAL
        self._lag_probe = self.loop.call_at(self._lag_due, self._probe_lag)
        if s.summary_interval > 0:
            self._summary_last = (time.time(), 0, 0, 0)
            self._summary = self.loop.call_later(s.summary_interval, self._log_summary)
        # grace periods that ran when the previous process stopped (the journal restored
        # them): their timers start again
        for sid, when in (getattr(self.gateway, "cancel_on_disconnect_pending", None) or {}).items():
            self._cod_timers[sid] = self.loop.call_later(max(0.0, when - time.time()),
                                                         self._cancel_on_disconnect, sid, "exchange restarted")
        if self.cfg.admin.enabled:
            from .admin import AdminEndpoint

            a = self.cfg.admin
            self.admin = AdminEndpoint(self, a.host, a.port, a.token)
            await self.admin.start()

    async def stop(self, reason: str = "exchange shutting down") -> None:
        """Logout to every session, wait (bounded) for the Logout replies, close, flush."""
        if self.stopping:
            return
        # From here application messages are refused (handle_events), so nothing read
        # after the Logout below is executed; what was read before is done and journaled.
        self.stopping = True
        for timer in (self._gtd, self._eod, self._lag_probe, self._summary, self._refusal_timer,
                      self._housekeeping, self._pending_retry, self._md_timer):
            if timer is not None:
                timer.cancel()
        if self.admin is not None:
            await self.admin.stop()
        for listener in (self.server, self.tls_server):
            if listener is not None:
                listener.close()
        now = time.time()
        self._flush()  # in-flight replies (and their journal commit) before the Logout
        for p in list(self.protocols):
            if p.conn is not None and p.session_id is not None:
                try:
                    p.conn.logout(reason, now)
                except Exception:
                    log.exception("logout failed for %s", p.session_id)
                p._mark_dirty()
            elif p.transport is not None:
                p.closing = True
                p.transport.close()
        self._flush()
        if self.protocols:
            self._all_closed.clear()
            try:
                await asyncio.wait_for(self._all_closed.wait(), self.cfg.server.logout_timeout)
            except asyncio.TimeoutError:
                pass
        for p in list(self.protocols):
            p.flush(time.time())
            if p.transport is not None:
                p.transport.close()
        # let connection_lost callbacks run
        for _ in range(3):
            if not self.protocols:
                break
            await asyncio.sleep(0)
        if not self.protocols:
            for listener in (self.server, self.tls_server):
                if listener is not None:
                    await listener.wait_closed()
        # cancel-on-disconnect still in its grace period: the venue closes, the orders go now
        # (their reports are stored for the next logon)
        for sid in list(self._cod_timers):
            self._cod_timers.pop(sid).cancel()
            self._cancel_on_disconnect(sid, "exchange shutting down")
        for ml in self._msglogs.values():
            ml.close()
        close = getattr(self.acceptor, "close", None)
        if close is not None:
            close()
        if self.durable is not None:
            self.durable.close()
        log.info("stopped (market data dropped for slow readers: %d, conflation snapshots: %d)",
                 self.stats["md_dropped"], self.stats["md_resyncs"])

    def connection_closed(self) -> None:
        if not self.protocols:
            self._all_closed.set()

    # -- connection budget -----------------------------------------------------------------
    def admit(self, p: FixProtocol) -> bool:
        """A new connection: refused if shutting down or its address has
        ``max_pending_per_source`` connections without a Logon.  When the pending budget (or
        ``max_connections``) is full, a connection without a Logon is dropped to make room:
        the oldest one of the address holding the most (an idle flood from many addresses
        pays for itself, and a client's own connection, one of few from its address, is
        not the one dropped while its Logon is on the way)."""
        s = self.cfg.server
        source = p.source or "?"
        if self.stopping:
            self.refused("shutting down", source, "connection from %s refused: shutting down", p.peer)
            return False
        own = self.pending_by_source.get(source)
        if own is not None and len(own) >= s.max_pending_per_source:
            self.refused("per-source limit", source, "connection from %s refused: %d connections without a "
                         "Logon from this address (server.max_pending_per_source)", p.peer, s.max_pending_per_source)
            return False
        while len(self.pending) >= s.max_pending_connections or len(self.protocols) >= s.max_connections:
            victim = self._eviction_victim()
            if victim is None:
                self.refused("connection limit", source, "connection from %s refused: %d connections, all "
                             "logged on (server.max_connections)", p.peer, s.max_connections)
                return False
            self.unpend(victim)
            self.refused("evicted", victim.source, "disconnect %s: dropped without a Logon to make room "
                         "(server.max_pending_connections %d)", victim.peer, s.max_pending_connections)
            victim.abort(time.time())
        self.pending[p] = None
        own = self.pending_by_source.setdefault(source, {})
        self._move_source(source, len(own), len(own) + 1)
        own[p] = None
        return True

    def _eviction_victim(self) -> FixProtocol | None:
        """The oldest pending connection of the address with the most of them."""
        buckets = self._sources_by_count
        for count in range(len(buckets) - 1, 0, -1):
            if buckets[count]:
                return next(iter(self.pending_by_source[next(iter(buckets[count]))]))
        return None

    def _move_source(self, source: str, old: int, new: int) -> None:
        buckets = self._sources_by_count
        while new >= len(buckets):
            buckets.append({})
        if old:
            del buckets[old][source]
        if new:
            buckets[new][source] = None

    def unpend(self, p: FixProtocol) -> None:
        """``p`` logged on or went away: out of the pending budget."""
        if self.pending.pop(p, 0) is None:
            source = p.source or "?"
            own = self.pending_by_source[source]
            del own[p]
            self._move_source(source, len(own) + 1, len(own))
            if not own:
                del self.pending_by_source[source]

    def refused(self, kind: str, source: str | None, fmt: str, *args: Any) -> None:
        """Count a refusal; its WARNING line is written only for the first
        ``LOG_LINES_PER_INTERVAL`` of its kind per ``refusal_log_interval`` (the summary
        line counts the rest), so a flood cannot fill the disk with log."""
        self.refusals[kind] += 1
        self.metrics.refused(kind.replace(" ", "_").replace("-", "_"))
        self._refusals_interval[kind] += 1
        self._refusal_sources[source or "?"] += 1
        if self._refusals_logged[kind] < LOG_LINES_PER_INTERVAL:
            self._refusals_logged[kind] += 1
            log.warning(fmt, *args)

    def _refusal_summary(self) -> None:
        interval = self.cfg.server.refusal_log_interval
        counts = self._refusals_interval
        if counts:
            top = ", ".join(f"{a} {n}" for a, n in self._refusal_sources.most_common(3))
            log.warning("refused in the last %gs: %s (top sources: %s)", interval,
                        ", ".join(f"{n} {kind}" for kind, n in sorted(counts.items())), top)
        self._refusals_interval = collections.Counter()
        self._refusals_logged = collections.Counter()
        self._refusal_sources = collections.Counter()
        if not self.stopping:
            self._refusal_timer = self.loop.call_later(interval, self._refusal_summary)

    # -- latency mode ----------------------------------------------------------------------
    def keep_polling(self, arrived: float) -> None:
        """After a read that arrived at ``arrived`` (perf_counter), keep the loop turning (a
        ready callback makes asyncio poll with a zero timeout) for the adaptive window
        (``PollWindow``, at most ``busy_poll`` seconds), so the next order finds the process
        awake.  Other sockets and timers are served as usual on every turn."""
        now = time.perf_counter()
        window = self.poll_window.after_read(arrived, now)
        if not window:
            return
        self._poll_until = now + window
        if not self._polling:
            self._polling = True
            self.loop.call_soon(self._poll)

    def _poll(self) -> None:
        if time.perf_counter() < self._poll_until and not self.stopping:
            self.loop.call_soon(self._poll)
        else:
            self._polling = False

    # -- per-turn batching -----------------------------------------------------------------
    def mark_dirty(self, p: FixProtocol) -> None:
        if not self._flush_scheduled:
            self._flush_scheduled = True
            self.loop.call_soon(self._flush)
        self._dirty.append(p)

    def _schedule_flush(self) -> None:
        if not self._flush_scheduled:  # else a flush is already scheduled this turn
            self._flush_scheduled = True
            self.loop.call_soon(self._flush)

    def flush_market_data(self, now: float) -> None:
        """Route the market data the gateway deferred during this turn."""
        if self._md_flush is not None:
            try:
                outs = self._md_flush()
            except Exception:
                log.exception("gateway market data flush failed")
                outs = None
            if outs:
                self.dispatch(outs, now)

    def _schedule_market_data(self) -> None:
        """Conflation: flush market data when the interval since the last flush is over."""
        if self._md_timer is None and not self.stopping:
            delay = self._md_flushed_at + self.md_interval - self.loop.time()
            self._md_timer = self.loop.call_later(max(0.0, delay), self._conflated_flush)

    def _conflated_flush(self) -> None:
        self._md_timer = None
        self._md_flushed_at = self.loop.time()
        self.flush_market_data(time.time())  # (marks the subscribers dirty: written this turn)

    def _flush(self) -> None:
        now = time.time()
        if not self.md_interval:
            self.flush_market_data(now)  # (what it dispatches joins this very flush)
        elif self._md_pending is not None and self._md_pending():
            self._schedule_market_data()  # (whatever changed a book: reads, timers, admin)
        self._flush_scheduled = False
        dirty = self._dirty
        if not dirty:
            return
        self._dirty = []
        # one commit for the turn (fsync "batch": each connection's flush commits, or waits
        # for the end of a backlog with nothing written)
        if self.durable is not None and not self.group_commit and not self.durable.commit():
            for p in dirty:
                self.hold_for_journal(p)
            return
        for p in dirty:
            p.flush(now)

    # -- events ----------------------------------------------------------------------------
    def handle_events(self, p: FixProtocol, events: list, now: float) -> int:
        """Act on a Connection's events; returns how many were application messages."""
        on_message = self.gateway.on_message
        send = self.acceptor.send
        by_session = self.by_session
        metrics = self.metrics
        messages_in = metrics.messages_in
        messages_out = metrics.messages_out
        orders_in = metrics.orders_in
        # NewOrderSingles in and ExecutionReports out, the usual pair, are counted in locals
        # and added once per read (870 fewer instructions per request than a dict update each)
        requests = sent = new_orders = reports = 0
        if self._journal_pending:  # (inputs before these events: applied first, in order)
            self._retry_pending(now)
        refusing = self.stopping or self._journal_pending
        for ev in events:
            if type(ev) is not ApplicationMessage:  # the few: logon, logout, disconnect, ...
                self._on_session_event(p, ev, now)
                refusing = self.stopping or self._journal_pending  # (a logon not applied yet)
                continue
            requests += 1
            sid = ev.session_id
            message = ev.message
            msg_type = message.msg_type
            if msg_type == _NEW_ORDER_SINGLE:
                new_orders += 1
                ord_type = message.get(OrdType) or b"?"
                orders_in[ord_type] = orders_in.get(ord_type, 0) + 1
            else:
                messages_in[msg_type] = messages_in.get(msg_type, 0) + 1
            if refusing:
                self.dispatch([self._refuse_stopping(sid, message) if self.stopping
                               else self._refuse_pending(sid, message)], now)
                continue
            try:
                outs = on_message(sid, message, now)
            except Exception:
                log.exception("gateway failed on a message from %s", sid)
                continue
            if not outs:
                continue
            if p.dirty and by_session.get(sid) is p:
                # dispatch inlined for the usual answer, reports to the sender (whose
                # connection is dirty already: the read's caller flushes it)
                for out in outs:
                    to, out_type, body, market_data = out
                    if to == sid and not market_data:
                        send(sid, out_type, body, now, True)
                        sent += 1
                        if out_type == _EXECUTION_REPORT:
                            reports += 1
                        else:
                            messages_out[out_type] = messages_out.get(out_type, 0) + 1
                    else:
                        self.dispatch((out,), now)
            else:
                self.dispatch(outs, now)
        p.messages_in += requests
        p.messages_out += sent
        if new_orders:
            messages_in[_NEW_ORDER_SINGLE] = messages_in.get(_NEW_ORDER_SINGLE, 0) + new_orders
        if reports:
            messages_out[_EXECUTION_REPORT] = messages_out.get(_EXECUTION_REPORT, 0) + reports
        if requests and not self._flush_scheduled and self._md_pending is not None and self._md_pending():
            if self.md_interval:
                self._schedule_market_data()
            else:
                self._schedule_flush()  # the market data the gateway deferred, once per turn
        return requests

    def _on_session_event(self, p: FixProtocol, ev: Any, now: float) -> None:
        """An event other than an application message (the session's own: logon, logout, ...)."""
        handler = self._SESSION_EVENT_HANDLERS.get(type(ev))
        if handler is None:
            log.debug("event %r", ev)
        else:
            handler(self, p, ev, now)

    def _on_logged_on(self, p: FixProtocol, ev: LoggedOn, now: float) -> None:
        sid = ev.session_id
        old = self.by_session.get(sid)
        if old is not None and old is not p:
            old.abort(now)
        self.by_session[sid] = p
        p.logged_on(sid, now)
        self.metrics.logons += 1
        timer = self._cod_timers.pop(sid, None)
        if timer is not None:  # back within the grace period
            timer.cancel()
        cod = getattr(ev, "cancel_on_disconnect", None)
        log.info("logon %s from %s", sid, p.peer,
                 extra={"event": "logon", "session": sid, "fields": {
                     "peer": p.peer, **({} if cod is None else {"cancel_on_disconnect": cod})}})
        self._apply_or_keep(f"logon of {sid}", self._logon_input(sid, cod), now)

    def _on_logged_out(self, p: FixProtocol, ev: LoggedOut, now: float) -> None:
        log.info("logout %s: %s", ev.session_id, ev.reason,
                 extra={"event": "logout", "session": ev.session_id, "fields": {"reason": ev.reason}})

    def _on_disconnected(self, p: FixProtocol, ev: Disconnected, now: float) -> None:
        sid = ev.session_id
        if sid is not None and self.by_session.get(sid) is p:
            self.session_gone(p, sid, ev.reason, now)
        elif sid is not None:
            log.info("disconnect %s (%s): %s", sid, p.peer, ev.reason,
                     extra={"event": "disconnect", "session": sid,
                            "fields": {"peer": p.peer, "reason": ev.reason}})
        else:  # never logged on: a refusal, counted (and logged) as such
            log.debug("disconnect - (%s): %s", p.peer, ev.reason)
            kind = _UNLOGGED_DISCONNECTS.get(ev.reason[:20])
            if kind is not None and not p.closing:  # (not already counted by the server)
                self.refused(kind, p.source, "disconnect %s: %s", p.peer, ev.reason)
        p.closing = True
        p._mark_dirty()

    def _on_throttled(self, p: FixProtocol, ev: ThrottledMessage, now: float) -> None:
        self.stats["throttled"] += 1
        try:
            outs = self.gateway.reject_throttled(ev.session_id, ev.message, ev.text, now)
        except Exception:
            log.exception("gateway failed on a throttled message from %s", ev.session_id)
            outs = None
        if outs:
            self.dispatch(outs, now)

    def _on_logon_refused(self, p: FixProtocol, ev: LogonRefused, now: float) -> None:
        kind = "failed logon" if ev.failed else "refused logon"
        self.refused(kind, p.source, "%s from %s (CompID %r): %s", kind, p.peer, ev.comp_id, ev.reason)
        if ev.delay > 0:
            p.hold(ev.delay)

    def _on_session_rejected(self, p: FixProtocol, ev: SessionRejected, now: float) -> None:
        self.metrics.session_reject(ev.reason)
        log.warning("reject %s seq %s: %s (reason %s)", ev.session_id, ev.ref_seq_num, ev.text, ev.reason,
                    extra={"event": "session_reject", "session": ev.session_id,
                           "fields": {"ref_seq_num": ev.ref_seq_num, "reason": ev.reason, "text": ev.text}})

    def _on_garbled(self, p: FixProtocol, ev: GarbledMessage, now: float) -> None:
        log.debug("garbled message from %s: %s", p.peer, ev.reason)

    _SESSION_EVENT_HANDLERS = {LoggedOn: _on_logged_on, LoggedOut: _on_logged_out, Disconnected: _on_disconnected,
                               ThrottledMessage: _on_throttled, LogonRefused: _on_logon_refused,
                               SessionRejected: _on_session_rejected, GarbledMessage: _on_garbled}

    def _refuse_stopping(self, sid: str, message) -> Any:
        from .sequencer import Sequencer
        return Sequencer.reject_unavailable(sid, message, "not executed: the exchange is shutting down")

    def _refuse_pending(self, sid: str, message) -> Any:
        from .sequencer import Sequencer
        return Sequencer.reject_unavailable(
            sid, message, "not executed: the exchange cannot write its journal; try again later")

    # -- inputs that must not be lost (logon, disconnect, cancel on disconnect) ------------
    def _apply_or_keep(self, what: str, apply: Any, now: float) -> None:
        """Run ``apply(now)`` (a journaled gateway input and what follows from it).  If its
        journal record cannot be written (``OSError``), it is kept and retried every
        ``COMMIT_RETRY`` seconds, in order with the other kept inputs, and applied before
        anything else: a disconnect's cancel-on-disconnect must not be lost while the
        session's orders can still fill."""
        if self._journal_pending:
            self._journal_pending.append((what, apply))
            return
        try:
            apply(now)
        except OSError as e:
            log.error("%s not applied yet: the journal cannot be written (%s); retried every %.1fs",
                      what, e.strerror or e, COMMIT_RETRY)
            self._journal_pending.append((what, apply))
            if self._pending_retry is None:
                self._pending_retry = self.loop.call_later(COMMIT_RETRY, self._retry_pending)
        except Exception:
            log.exception("gateway failed on %s", what)

    def _retry_pending(self, now: float | None = None) -> None:
        if now is None:  # (the timer)
            self._pending_retry = None
            now = time.time()
        pending = self._journal_pending
        while pending:
            what, apply = pending[0]
            try:
                apply(now)
            except OSError:
                if self._pending_retry is None:
                    self._pending_retry = self.loop.call_later(COMMIT_RETRY, self._retry_pending)
                return
            except Exception:
                log.exception("gateway failed on %s", what)
            pending.pop(0)
            log.warning("%s applied (its journal record could be written now)", what)
        if self._pending_retry is not None:
            self._pending_retry.cancel()
            self._pending_retry = None

    def _logon_input(self, sid: str, cod: bool | None) -> Any:
        def apply(now: float) -> None:
            if cod is None:
                outs = self.gateway.on_logon(sid, now)
            else:
                outs = self.gateway.on_logon(sid, now, cancel_on_disconnect=cod)
            if outs:
                self.dispatch(outs, now)
                self._schedule_flush()
        return apply

    # -- journal ---------------------------------------------------------------------------
    def sync_deferred(self) -> bool:
        """fsync "batch": while a connection has messages left for the next loop turn, the
        replies written so far wait for the sync at the end of that backlog, so that one
        fdatasync covers every turn of it (at most ``SYNC_GROUP_DELAY`` seconds: other
        sessions' replies wait too)."""
        if self.backlogged <= 0 or self.stopping:
            return False
        durable = self.durable
        now = time.monotonic()
        if not durable.group_started:
            durable.group_started = now
        return now - durable.group_started < SYNC_GROUP_DELAY

    def hold_for_journal(self, p: FixProtocol) -> None:
        """Keep ``p``'s replies until the journal can be written (retried every
        ``COMMIT_RETRY`` seconds)."""
        p.dirty = True
        if p not in self._journal_held:
            self._journal_held.append(p)
        if self._retry is None:
            self._retry = self.loop.call_later(COMMIT_RETRY, self._retry_commit)

    def _retry_commit(self) -> None:
        self._retry = None
        if not self.durable.commit():
            self._retry = self.loop.call_later(COMMIT_RETRY, self._retry_commit)
            return
        held, self._journal_held = self._journal_held, []
        now = time.time()
        for p in held:
            p.flush(now)

    def _housekeep(self) -> None:
        """Reap a finished snapshot writer; start a snapshot when one is due."""
        durable = self.durable
        try:
            durable.poll_snapshot()
            if durable.snapshot_due() and durable.failed is None:
                durable.start_snapshot()
        except Exception:
            log.exception("snapshot housekeeping failed")
        if not self.stopping:
            self._housekeeping = self.loop.call_later(HOUSEKEEPING_INTERVAL, self._housekeep)

    def session_gone(self, p: FixProtocol, sid: str, reason: str, now: float) -> None:
        del self.by_session[sid]
        self.metrics.disconnects += 1
        log.info("disconnect %s (%s): %s", sid, p.peer, reason,
                 extra={"event": "disconnect", "session": sid, "fields": {"peer": p.peer, "reason": reason}})

        def apply(now: float) -> None:
            outs = self.gateway.on_disconnect(sid, now, reason)
            if outs:
                self._log_cancels(sid, outs, "cancel on disconnect")
                self.dispatch(outs, now)
                self._schedule_flush()
            due = getattr(self.gateway, "cancel_on_disconnect_due", None)
            when = due(sid) if due is not None else None
            if when is not None:  # a grace period: cancel then, unless the session is back
                old = self._cod_timers.pop(sid, None)
                if old is not None:
                    old.cancel()
                self._cod_timers[sid] = self.loop.call_later(
                    max(0.0, when - now), self._cancel_on_disconnect, sid, reason)

        self._apply_or_keep(f"disconnect of {sid}", apply, now)

    def _cancel_on_disconnect(self, sid: str, reason: str) -> None:
        self._cod_timers.pop(sid, None)

        def apply(now: float) -> None:
            outs = self.gateway.cancel_on_disconnect(sid, now, reason)
            if outs:
                self._log_cancels(sid, outs, "cancel on disconnect")
                self.dispatch(outs, now)
                self._schedule_flush()

        self._apply_or_keep(f"cancel on disconnect of {sid}", apply, time.time())

    def _log_cancels(self, sid: str, outs: list, why: str) -> None:
        count = sum(1 for out in outs if out[0] == sid and out[1] == MsgTypes.EXECUTION_REPORT)
        log.info("%s %s: %d orders cancelled", why, sid, count,
                 extra={"event": why.replace(" ", "_"), "session": sid, "fields": {"orders": count}})

    def dispatch(self, outs: list, now: float) -> None:
        """Route gateway Outbound messages through the acceptor (it sequences and stores).
        An Outbound for a session the acceptor does not know (no configured or accepted
        session has that id, e.g. a seed owner's) is dropped with a warning, not an exception."""
        send = self.acceptor.send
        by_session = self.by_session
        messages_out = self.metrics.messages_out
        for sid, msg_type, body, market_data in outs:  # (Outbound is a NamedTuple)
            p = by_session.get(sid)
            if market_data:
                if p is None:
                    continue
                if p.write_paused or p.closing:
                    p.conflated = True
                    self.stats["md_dropped"] += 1
                    continue
                send(sid, msg_type, body, now, False)
            else:
                try:
                    send(sid, msg_type, body, now, True)
                except KeyError:
                    if sid in self.acceptor.session_ids:
                        raise  # a known session: a real fault, not this case
                    self._drop_unknown_session(sid, msg_type)
                    continue
            messages_out[msg_type] = messages_out.get(msg_type, 0) + 1
            if p is not None:
                p.messages_out += 1
            if p is not None and not p.dirty:
                p.dirty = True
                self.mark_dirty(p)

    def _drop_unknown_session(self, sid: str, msg_type: bytes) -> None:
        self.stats["unknown_session_dropped"] += 1
        if sid not in self._unknown_warned:
            if len(self._unknown_warned) < 1000:  # bounded: the warning is once per id
                self._unknown_warned.add(sid)
            log.warning("dropped a %s for unknown session %r (no such session in the acceptor)",
                        msg_type.decode("ascii", "replace"), sid)

    def reset_sequence(self, session_id: str, new_seq_num: int, next_target_seq: int | None = None) -> bool:
        """Operator API for test case 9: SequenceReset-Reset to `new_seq_num` on the
        session (see `Acceptor.reset_sequence`), flushed this loop turn. Call it on the
        loop's thread (`loop.call_soon_threadsafe` from another one)."""
        now = time.time()
        sent = self.acceptor.reset_sequence(session_id, new_seq_num, now, next_target_seq)
        log.warning("sequence reset %s: next outbound %d%s", session_id, new_seq_num,
                    "" if next_target_seq is None else f", next inbound {next_target_seq}")
        p = self.by_session.get(session_id)
        if p is not None and not p.dirty:
            p.dirty = True
            self.mark_dirty(p)
        return sent

    def _run_gateway_timer(self, name: str, now: float) -> list:
        """Call the gateway's ``name(now)`` (expiries) and send what it returns; its market
        data goes out with this turn's flush."""
        try:
            outs = getattr(self.gateway, name)(now)
        except OSError as e:  # its journal record could not be written: not applied
            log.debug("%s not applied: journal: %s", name, e.strerror or e)
            return None
        except Exception:
            log.exception("gateway.%s failed", name)
            outs = []
        if outs:
            self.dispatch(outs, now)
        self._schedule_flush()
        return outs

    def _gtd_tick(self) -> None:
        self._run_gateway_timer("advance_time", time.time())
        self._gtd = self.loop.call_later(self.cfg.server.gtd_interval, self._gtd_tick)

    def end_of_day(self) -> None:
        """server.end_of_day: every live DAY order expires (ExecType C to its session); the
        timer's callback, which schedules the next one."""
        now = time.time()
        outs = self._run_gateway_timer("end_of_day", now)
        if outs is None:
            log.error("end of day not applied yet: the journal cannot be written; retrying")
            self._eod = self.loop.call_later(COMMIT_RETRY * 2, self.end_of_day)
            return
        log.info("end of day %s UTC: %d DAY orders expired", self.cfg.server.end_of_day,
                 sum(1 for out in outs if out.msg_type == MsgTypes.EXECUTION_REPORT))
        # the next one a day later: from a minute on, so a timer firing a little early
        # (the loop's clock is not the wall clock) cannot run the same end of day twice
        minute = end_of_day_minute(self.cfg.server.end_of_day)
        self._eod = self.loop.call_later(seconds_until(minute, now + 60) + 60, self.end_of_day)

    def message_log(self, sid: str) -> MessageLog:
        ml = self._msglogs.get(sid)
        if ml is None:
            ml = self._msglogs[sid] = MessageLog(self.msglog_dir, sid)  # type: ignore[arg-type]
        return ml

    # -- operating: metrics probes, summary, admin actions ----------------------------------
    # The admin endpoint calls these on the event loop; each is short and never waits, so an
    # operator's action cannot stall matching.  State changes go through the gateway's
    # deterministic inputs (halt, resume, cancel_orders), which take the time as an argument.

    def _probe_lag(self) -> None:
        now = self.loop.time()
        self.metrics.loop_lag.observe(max(0.0, now - self._lag_due))
        self._lag_due = now + LAG_PROBE_INTERVAL
        self._lag_probe = self.loop.call_at(self._lag_due, self._probe_lag)

    def _log_summary(self) -> None:
        now = time.time()
        m = self.metrics
        orders = m.total_orders()
        trades = sum(c[0] for c in getattr(self.gateway, "trade_counts", {}).values())
        rejects = m.total_rejects(self.gateway)
        then, orders_then, trades_then, rejects_then = self._summary_last
        elapsed = max(now - then, 1e-9)
        self._summary_last = (now, orders, trades, rejects)
        rate = (orders - orders_then) / elapsed
        log.info("summary: %.1f orders/s, %d trades, %d rejects in the last %.0fs; %d sessions logged on, "
                 "%d orders, %d trades in total", rate, trades - trades_then, rejects - rejects_then, elapsed,
                 len(self.by_session), orders, trades,
                 extra={"event": "summary", "fields": {
                     "orders_per_second": round(rate, 1), "trades": trades - trades_then,
                     "rejects": rejects - rejects_then, "interval": round(elapsed, 3),
                     "sessions": len(self.by_session), "orders_total": orders, "trades_total": trades}})
        self._summary = self.loop.call_later(self.cfg.server.summary_interval, self._log_summary)

    def _session_id_for(self, name: str) -> str:
        """A session id from a client CompID or a full session id (admin paths)."""
        ids = self.acceptor.session_ids
        if name in ids:
            return name
        matches = [sid for sid in ids if sid.rpartition("->")[2] == name]
        if len(matches) == 1:
            return matches[0]
        from .admin import AdminError

        raise AdminError(404, f"no session {name!r}")

    def admin_sessions(self) -> list[dict]:
        rows = []
        for sid in self.acceptor.session_ids:
            p = self.by_session.get(sid)
            numbers = self.acceptor.sequence_numbers(sid) or (1, 1)
            row: dict = {
                "session": sid, "comp_id": sid.rpartition("->")[2],
                "state": "logged_on" if p is not None else "disconnected",
                "address": p.peer if p is not None else None,
                "next_sender_seq": numbers[0],
                "next_target_seq": numbers[1],
                "queue_bytes": (p.transport.get_write_buffer_size()
                                if p is not None and p.transport is not None else 0),
                "messages_in": p.messages_in if p is not None else 0,
                "messages_out": p.messages_out if p is not None else 0,
                "connected_since": p.connected_at if p is not None else None,
            }
            live = getattr(self.gateway, "live_orders", None)
            if live is not None:
                row["live_orders"] = live(sid)
            if sid in self._cod_timers:
                row["cancel_on_disconnect_pending"] = True
            rows.append(row)
        return rows

    def admin_symbols(self) -> list[dict]:
        return self.gateway.symbol_overview()

    def _admin_dispatch(self, outs: list, now: float) -> None:
        if outs:
            self.dispatch(outs, now)
        self._schedule_flush()

    def _symbol(self, symbol: str) -> str:
        if symbol not in {s.name for s in self.cfg.symbols}:
            from .admin import AdminError

            raise AdminError(404, f"no symbol {symbol!r}")
        return symbol

    def admin_halt(self, symbol: str, reason: str) -> dict:
        now = time.time()
        outs = self.gateway.halt(self._symbol(symbol), now, reason)
        self._admin_dispatch(outs, now)
        log.warning("halt %s: %s", symbol, reason,
                    extra={"event": "halt", "fields": {"symbol": symbol, "reason": reason}})
        return {"symbol": symbol, "status": "halted", "reason": reason, "subscribers_notified": len(outs)}

    def admin_resume(self, symbol: str) -> dict:
        now = time.time()
        outs = self.gateway.resume(self._symbol(symbol), now)
        self._admin_dispatch(outs, now)
        log.warning("resume %s", symbol, extra={"event": "resume", "fields": {"symbol": symbol}})
        return {"symbol": symbol, "status": "open", "subscribers_notified": len(outs)}

    async def admin_cancel(self, session: str | None = None, symbol: str | None = None) -> dict:
        """Cancel every live order of a session or a symbol.  A slice of
        ``admin_cancel_slice`` orders per event-loop turn (about 10 us each), so other sessions
        are served in between however many orders there are; then one mass cancel for what is
        left (seeded orders, orders entered meanwhile)."""
        sid = None if session is None else self._session_id_for(session)
        sym = None if symbol is None else self._symbol(symbol)
        text = "canceled by the exchange operator"
        gateway = self.gateway
        ids = gateway.live_order_ids(sid, sym)
        count = 0
        slice_size = self.admin_cancel_slice
        for start in range(0, len(ids), slice_size):
            now = time.time()
            outs, n = gateway.cancel_order_ids(ids[start:start + slice_size], now, text)
            count += n
            self._admin_dispatch(outs, now)
            await asyncio.sleep(0)
        now = time.time()
        outs, n = gateway.cancel_orders(now, text, session_id=sid, symbol=sym)
        count += n
        self._admin_dispatch(outs, now)
        log.warning("operator cancel-all %s: %d orders cancelled", sid or sym, count,
                    extra={"event": "operator_cancel", "session": sid,
                           "fields": {"symbol": sym, "orders": count}})
        return {"session": sid, "symbol": sym, "cancelled": count}

    def admin_logout(self, session: str, reason: str) -> dict:
        from .admin import AdminError

        sid = self._session_id_for(session)
        p = self.by_session.get(sid)
        if p is None or p.conn is None:
            raise AdminError(409, f"{sid} is not logged on")
        now = time.time()
        p.conn.logout(reason, now)
        p._mark_dirty()
        log.warning("operator logout %s: %s", sid, reason,
                    extra={"event": "operator_logout", "session": sid, "fields": {"reason": reason}})
        return {"session": sid, "logout_sent": True, "reason": reason}

    def admin_reload_passwords(self) -> dict:
        """Re-read usernames and passwords from the config file: they apply from the next
        Logon (connections logged on stay).  Sessions added to the file are not created."""
        from .admin import AdminError
        from .config import ConfigError

        try:
            fresh = load_config(self.cfg.path)
        except ConfigError as e:
            raise AdminError(409, f"config not reloaded: {e}") from None
        updated, unknown = [], []
        comp_id = self.cfg.server.comp_id
        for d in fresh.sessions:
            sid = f"{d.begin_string}:{comp_id}->{d.target_comp_id}"
            if self.acceptor.set_credentials(sid, d.username, d.password):
                updated.append(sid)
            else:
                unknown.append(sid)
        if fresh.accept_any is not None:
            self.acceptor.set_template_credentials(fresh.accept_any.username, fresh.accept_any.password)
        log.warning("passwords reloaded from %s: %d sessions", self.cfg.path, len(updated),
                    extra={"event": "passwords_reloaded", "fields": {"updated": len(updated),
                                                                     "not_configured": unknown}})
        return {"updated": updated, "not_configured_at_start": unknown}
