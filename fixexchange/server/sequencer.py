"""The journal entry point: every state-changing input passes here, is journaled, then applied.

The engine and the gateway are deterministic given their inputs, ``now`` included, so the
journal holds the *inputs* (a FIX application message as its wire bytes with the session id
and the time it was applied; timer ticks, logons, disconnects, seeding and admin calls as a
method name with JSON arguments) and recovery = latest snapshot + replay of the records
after it: the same events, OrderIDs, ExecIDs, ClOrdID sets, owners and reports.

The ``Sequencer`` has the gateway's interface, so the server talks to it as to the gateway.
To add a journaled input: give ``Gateway`` a method ``name(..., now, ...)`` (``now`` a
parameter of that name) that is deterministic given its arguments (JSON values: str, int,
float, bool, None, lists) and the gateway's state, add a method of the same signature here
that returns ``self.call("name", *args, now=now, **kwargs)``, and call that (never
``sequencer.gateway.name`` directly: an input that bypasses the journal is lost on restart
and breaks the replay of everything after it).  ``call`` raises ``OSError`` when the record cannot be written, before anything
is applied.

Record payload: ``kind:1 now:f64`` then, for ``M`` (a FIX message),
``len:u16 session_id raw``; for ``C`` (a call), the JSON ``[name, args, kwargs]``, replayed
as ``gateway.name(*args, now=now, **kwargs)``.
"""

from __future__ import annotations

import json
import logging
import struct
from typing import Any, Callable, Iterable

from ..codec import FixParser
from ..codec.secrets import mask_message  # (passwords never reach the journal)
from ..codec.tags import (BusinessRejectReason, BusinessRejectReasons, BusinessRejectRefID, ClOrdID, MDReqID,
                          MsgTypes, RefMsgType, RefSeqNum, SecurityReqID, Text)
from ..gateway.outbound import Outbound

log = logging.getLogger("fixexchange")

KIND_MESSAGE = b"M"
KIND_CALL = b"C"
KIND_THROTTLED = b"R"  # a FIX message refused for a rate limit: answered, ExecID used
_NOW = struct.Struct(">d")
_SID_LEN = struct.Struct(">H")
_pack_now = _NOW.pack
_APPLICATION_NOT_AVAILABLE = b"%d" % BusinessRejectReasons.APPLICATION_NOT_AVAILABLE


class Sequencer:
    """Journal, then apply.  ``journal`` None: apply only (``journal.enabled = false``)."""

    def __init__(self, gateway: Any, journal: Any = None) -> None:
        self.gateway = gateway
        self.journal: Any = None
        self._sid_prefix: dict[str, bytes] = {}
        # the record prefix (kind, time, session) of the last FIX message journaled
        self._prefix_now: float | None = None
        self._prefix_session = ""
        self._prefix = b""
        self._append: Callable[[bytes], int] | None = None
        # ``on_message(session_id, message, now)``: without a journal the gateway's own (one
        # call less per message: 1,200 fewer instructions per request)
        self.on_message: Callable[[str, Any, float], list[Outbound]] = gateway.on_message
        if journal is not None:
            self.use_journal(journal)
        # Set by the server while a commit fails (records buffered, replies held): every new
        # command is refused until the journal can be written again.
        self.unavailable: str | None = None
        self.refused = 0  # commands refused during the current failure burst
        self.in_burst = False  # a failure was logged (at ERROR, once per burst)
        self.durable: Any = None  # the server's server.durability.Durable, if journaling to files

    # -- the gateway's interface ----------------------------------------------------------
    @property
    def defer_market_data(self) -> bool:
        return self.gateway.defer_market_data

    @defer_market_data.setter
    def defer_market_data(self, value: bool) -> None:
        self.gateway.defer_market_data = value

    @property
    def conflate_market_data(self) -> bool:
        return self.gateway.conflate_market_data

    @conflate_market_data.setter
    def conflate_market_data(self, value: bool) -> None:
        self.gateway.conflate_market_data = value

    def use_journal(self, journal: Any) -> None:
        """Journal every input to ``journal`` from now on."""
        self.journal = journal
        self._append = journal.append
        self.on_message = self._journaled_message

    def _journaled_message(self, session_id: str, message: Any, now: float) -> list[Outbound]:
        # (the tag sequence says whether a password is in it: a scan of the bytes for
        # "554=" and "925=" cost 0.38 us per message)
        raw = mask_message(message.raw) if message.carries_secret else message.raw
        if now != self._prefix_now or session_id != self._prefix_session:  # (a read's messages share both)
            self._prefix_now, self._prefix_session = now, session_id
            self._prefix = KIND_MESSAGE + _pack_now(now) + self._sid(session_id)
        try:
            if self.unavailable is not None:
                raise OSError(self.unavailable)
            self._append(self._prefix + raw)
        except OSError as e:
            return [self._refuse(session_id, message, e)]
        if self.in_burst:
            self.burst_over()
        return self.gateway.on_message(session_id, message, now)

    def _sid(self, session_id: str) -> bytes:
        prefix = self._sid_prefix.get(session_id)
        if prefix is None:
            sid = session_id.encode()
            prefix = self._sid_prefix[session_id] = _SID_LEN.pack(len(sid)) + sid
        return prefix

    def reject_throttled(self, session_id: str, message: Any, text: str, now: float) -> list[Outbound]:
        """The answer to a message refused for a rate limit: nothing runs, but the answer uses
        an ExecID, so it is journaled (``R``: session, text, wire bytes)."""
        if self._append is not None:
            if self.unavailable is not None:
                raise OSError(self.unavailable)
            encoded = text.encode()
            self._append(KIND_THROTTLED + _pack_now(now) + self._sid(session_id) + _SID_LEN.pack(len(encoded))
                         + encoded + mask_message(message.raw))
        return self.gateway.reject_throttled(session_id, message, text, now)

    def call(self, name: str, *args: Any, now: float, **kwargs: Any) -> Any:
        """Journal ``gateway.name(*args, now=now, **kwargs)``, then apply it and return what
        it returns (``OSError``: the record cannot be written and nothing is applied)."""
        if self._append is not None:
            if self.unavailable is not None:
                raise OSError(self.unavailable)
            self._append(KIND_CALL + _pack_now(now) + json.dumps([name, args, kwargs], separators=(",", ":")).encode())
            if self.in_burst:
                self.burst_over()
        return getattr(self.gateway, name)(*args, now=now, **kwargs)

    # Inputs other than FIX messages: one journaled call each, with the gateway's signature.
    def on_logon(self, session_id: str, now: float, cancel_on_disconnect: bool | None = None) -> list[Outbound]:
        if cancel_on_disconnect is None:
            return self.call("on_logon", session_id, now=now)
        return self.call("on_logon", session_id, now=now, cancel_on_disconnect=cancel_on_disconnect)

    def on_disconnect(self, session_id: str, now: float, reason: str = "connection ended") -> list[Outbound]:
        return self.call("on_disconnect", session_id, now=now, reason=reason)

    def cancel_on_disconnect(self, session_id: str, now: float, reason: str = "connection ended") -> list[Outbound]:
        return self.call("cancel_on_disconnect", session_id, now=now, reason=reason)

    def advance_time(self, now: float) -> list[Outbound]:
        return self.call("advance_time", now=now)

    def end_of_day(self, now: float) -> list[Outbound]:
        return self.call("end_of_day", now=now)

    def seed(self, owner: str, symbol: str, side: Any, qty: int, price: int, now: float) -> list[Outbound]:
        side = side if isinstance(side, str) else ("buy" if int(side) == 1 else "sell")
        return self.call("seed", owner, symbol, side, qty, price, now=now)

    def configure(self, settings: dict, now: float) -> list[Outbound]:
        return self.call("configure", settings, now=now)

    def halt(self, symbol: str, now: float, reason: str = "halted by the exchange") -> list[Outbound]:
        return self.call("halt", symbol, now=now, reason=reason)

    def resume(self, symbol: str, now: float) -> list[Outbound]:
        return self.call("resume", symbol, now=now)

    def cancel_orders(self, now: float, text: str, session_id: str | None = None,
                      symbol: str | None = None) -> tuple[list[Outbound], int]:
        return self.call("cancel_orders", now=now, text=text, session_id=session_id, symbol=symbol)

    def cancel_order_ids(self, order_ids: Iterable[int], now: float, text: str) -> tuple[list[Outbound], int]:
        return self.call("cancel_order_ids", list(order_ids), now=now, text=text)

    # Read-only: straight to the gateway.
    def live_order_ids(self, session_id: str | None = None, symbol: str | None = None) -> list[int]:
        return self.gateway.live_order_ids(session_id, symbol)

    def cancel_on_disconnect_due(self, session_id: str) -> float | None:
        return self.gateway.cancel_on_disconnect_due(session_id)

    def live_orders(self, session_id: str) -> int:
        return self.gateway.live_orders(session_id)

    def symbol_overview(self) -> list[dict]:
        return self.gateway.symbol_overview()

    def __getattr__(self, name: str) -> Any:
        """Other gateway attributes that are data (counters the metrics read) are delegated;
        a gateway *method* not defined here is refused: it may change state, and then it
        must be journaled (see the module docstring)."""
        if name.startswith("__") or name == "gateway":
            raise AttributeError(name)
        value = getattr(self.gateway, name)
        if callable(value):
            raise AttributeError(f"Gateway.{name} is not available through the journal entry point: "
                                 f"add a Sequencer method (journaled if it changes state)")
        return value

    @property
    def engine(self) -> Any:
        """The engine, for reading (tools and tests); commands go through the journal."""
        return self.gateway.engine

    @property
    def trade_counts(self) -> dict:
        return self.gateway.trade_counts

    @property
    def trading_status(self) -> Any:
        return self.gateway.trading_status

    def snapshot_for(self, session_id: str, now: float) -> list[Outbound]:
        return self.gateway.snapshot_for(session_id, now)  # read-only

    # (the gateway's own methods: the server binds them once and calls them every read)
    @property
    def flush_market_data(self) -> Callable[[], list[Outbound]]:
        return self.gateway.flush_market_data

    @property
    def market_data_pending(self) -> Callable[[], bool]:
        return self.gateway.market_data_pending

    # -- refusals --------------------------------------------------------------------------
    def burst_over(self) -> None:
        log.warning("journal writable again (%d commands were refused)", self.refused)
        self.in_burst = False
        self.refused = 0

    def _refuse(self, session_id: str, message: Any, error: OSError) -> Outbound:
        """BusinessMessageReject (380=4, application not available): the request was not
        executed because its journal record could not be written."""
        self.refused += 1
        reason = error.strerror or str(error) or type(error).__name__
        if not self.in_burst:
            self.in_burst = True
            log.error("journal: cannot write a command's record (%s): commands are refused until "
                      "it can (logged once per burst)", reason)
        return self.reject_unavailable(
            session_id, message, f"not executed: the exchange cannot write its journal ({reason}); try again later")

    @staticmethod
    def reject_unavailable(session_id: str, message: Any, text: str) -> Outbound:
        """BusinessMessageReject 380=4 (application not available) for a request that was
        not executed (journal unwritable, exchange shutting down)."""
        body = [(RefSeqNum, message.seq_num or 0), (RefMsgType, message.msg_type)]
        ref_id = message.get(ClOrdID) or message.get(MDReqID) or message.get(SecurityReqID)
        if ref_id is not None:
            body.append((BusinessRejectRefID, ref_id))
        body += ((BusinessRejectReason, _APPLICATION_NOT_AVAILABLE), (Text, text))
        return Outbound(session_id, MsgTypes.BUSINESS_MESSAGE_REJECT, body)

    # -- recovery --------------------------------------------------------------------------
    def replay(self, records: Iterable[tuple[int, bytes]],
               on_outputs: Callable[[int, list], None] | None = None) -> int:
        """Apply journal records (not journaling them again); ``on_outputs(seq, outs)`` sees
        what each produced.  Returns the number applied.

        A gateway exception is handled as the live server handled it (the record was
        journaled, the exception logged, nothing answered): logged with the record's
        sequence number and replay goes on, so one bad record cannot stop every restart.
        A record that cannot be decoded raises ``ValueError``."""
        gateway = self.gateway
        parser = FixParser(max_message_size=1 << 24)
        count = 0
        for seq, payload in records:
            kind = payload[:1]
            now = _NOW.unpack_from(payload, 1)[0]
            if kind == KIND_MESSAGE:
                (length,) = _SID_LEN.unpack_from(payload, 9)
                session_id = payload[11:11 + length].decode()
                parsed = parser.feed(payload[11 + length:])
                if len(parsed) != 1 or not hasattr(parsed[0], "msg_type"):
                    raise ValueError(f"journal record {seq}: the FIX message does not parse")
                outs = _applied(seq, gateway.on_message, session_id, parsed[0], now)
            elif kind == KIND_THROTTLED:
                (length,) = _SID_LEN.unpack_from(payload, 9)
                session_id = payload[11:11 + length].decode()
                at = 11 + length
                (text_length,) = _SID_LEN.unpack_from(payload, at)
                text = payload[at + 2:at + 2 + text_length].decode()
                parsed = parser.feed(payload[at + 2 + text_length:])
                if len(parsed) != 1 or not hasattr(parsed[0], "msg_type"):
                    raise ValueError(f"journal record {seq}: the FIX message does not parse")
                outs = _applied(seq, gateway.reject_throttled, session_id, parsed[0], text, now)
            elif kind == KIND_CALL:
                name, args, kwargs = json.loads(payload[9:])
                method = getattr(gateway, name, None)
                if method is None:
                    raise ValueError(f"journal record {seq}: unknown call {name!r}")
                outs = _applied(seq, method, *args, now=now, **kwargs)
                if type(outs) is tuple:  # (cancel_orders: the messages and a count)
                    outs = outs[0]
            else:
                raise ValueError(f"journal record {seq}: unknown kind {kind!r}")
            if on_outputs is not None:
                on_outputs(seq, outs)
            count += 1
        return count


def _applied(seq: int, method: Callable, *args: Any, **kwargs: Any) -> Any:
    """``method(*args, **kwargs)``; an exception is logged with the record's sequence and
    nothing is output, as the live server does (``ExchangeServer.handle_events``)."""
    try:
        return method(*args, **kwargs)
    except Exception:
        log.exception("journal record %d: gateway.%s failed (as when it was first applied); replay goes on",
                      seq, getattr(method, "__name__", "?"))
        return []
