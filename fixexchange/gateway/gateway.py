"""The gateway: FIX 4.4 application messages in, engine commands, engine events out as FIX.

Sans-IO: no sockets, no clock (``now`` is passed in, float seconds since the epoch, UTC).
The engine ``owner`` of an order is the session id of the session that entered it.

Reject policy (FIX practice):
- A message that cannot become a command because a required or conditionally required field
  is missing (Price on a limit order, StopPx on a stop, ExpireTime/ExpireDate on GTD, ...):
  BusinessMessageReject (j) with BusinessRejectReason 5 and the missing tag in Text.  The
  session layer normally rejects missing *required* fields before they get here.
- An order whose fields are present but whose values are refused (unknown symbol, duplicate
  ClOrdID, bad or off-tick price, bad quantity, unsupported Side/OrdType/TimeInForce/
  ExecInst, anything the engine rejects): ExecutionReport ExecType=8 OrdStatus=8 with
  OrdRejReason and Text.
- Cancel/replace refused: OrderCancelReject (9) with CxlRejReason and CxlRejResponseTo.  A
  cancel (F) whose Symbol or Side is not the order's is refused (CxlRejReason 99), as a replace
  refuses to change them; a status request (H) is answered for the order its ClOrdID/OrderID
  names, with the order's own Symbol and Side (read-only: nothing is applied to the wrong order).
  A replace (G) changes OrderQty and Price only: one that would change OrdType, Side, Symbol,
  TimeInForce, StopPx, ExpireTime/ExpireDate, MinQty, MaxFloor or ExecInst is refused with
  CxlRejReason 2 and Text naming the field ("MaxFloor cannot be changed by a replace; cancel
  and enter a new order"); repeating the order's value, or leaving the field out, is fine.
- Text(58) of an engine reject is built from the RejectReason and the request's FIX fields
  (``reject_text.py``): FIX prices, OrderQty/MaxFloor/MinQty, UTC times, never engine units.
- Application MsgTypes fixexchange does not handle: j with BusinessRejectReason 3.
"""

from __future__ import annotations

from typing import Callable, Iterable

from fixexchange.codec import FixMessage, TimestampFormatter
from fixexchange.codec.encoder import encode_body, fields_format
from fixexchange.codec.tags import ClOrdID, DeliverToCompID, MsgTypes, OnBehalfOfCompID, Text
from fixexchange.engine import (
    AdvanceTime,
    CancelOrder,
    EndOfDay,
    Engine,
    MassCancel,
    MassCancelDone,
    NewOrder,
    OrdType,
    Rejected,
    Side,
    StpMode,
    SymbolSpec,
    TimeInForce,
)

from .common import (
    _base36,
    _CANCEL_TAGS,
    _MissingField,
    _Order,
    _Request,
    _RESPONSE_TO_CANCEL,
    _RESPONSE_TO_REPLACE,
    _REVERSE_ROUTE,
    _SessionOrders,
    _stp_mode,
    SymbolInfo,
    _TRADING_MSG_TYPES,
    BUSINESS_REJECT_FIELD_MISSING,
    BUSINESS_REJECT_NOT_AUTHORIZED,
    BUSINESS_REJECT_OTHER,
    BUSINESS_REJECT_UNSUPPORTED_TYPE,
    CXL_REJ_OTHER,
    EXTENSIONS,
    ORD_REJ_OTHER,
    MAX_MARKET_DATA_SUBSCRIPTIONS,
    RECENT_FINAL_ORDERS_PER_SESSION,
)
from .market_data_requests import MarketDataRequests
from .marketdata import MarketData
from .orders import OrderRequests
from .outbound import Outbound
from .reports import Reports
from .securities import SecurityRequests
from .status import TradingStatus

# (re-exported: the package's public names)
__all__ = ["EXTENSIONS", "Gateway"]


MARKET_DATA_REQUEST = MsgTypes.MARKET_DATA_REQUEST
EXECUTION_REPORT = MsgTypes.EXECUTION_REPORT
_TEXT_FORMAT = fields_format(Text)  # the operator's Text(58) on the reports of its cancels
_ON_BEHALF_OF_FORMAT = fields_format(OnBehalfOfCompID, b"%s")  # a drop copy's header field, then the report

class Gateway(OrderRequests, Reports, MarketDataRequests, SecurityRequests):
    """FIX application messages <-> engine.  One instance serves every session.

    ``symbols``: the engine's SymbolSpecs (their order is the SecurityList order).
    ``exec_id_prefix``: makes ExecIDs and OrderIDs unique across restarts (the server
    passes something like the boot time); ExecID = prefix + counter, OrderID = prefix + "O" +
    engine order id.  None: derived from the first ``now`` the gateway sees (milliseconds,
    base 36), which differs from one run to the next.
    ``stp_modes``: self-trade prevention mode per session id, as StpMode or its name
    (``"cancel_newest"``); ``default_stp`` for the others.
    ``extensions``: per session id, the wire extensions beyond FIX 4.4 it opted into
    (``EXTENSIONS``); ``default_extensions`` for the others.  By default every message is
    FIX 4.4: a stock FIX 4.4 client such as QuickFIX with the standard FIX44.xml accepts it.
    - ``exec_type_triggered``: an elected stop is reported with ExecType L (Triggered or
      Activated by System, FIX 5.0).  Without it: ExecType D (Restated) with
      ExecRestatementReason(378) 8 (Market option) and Text "stop triggered".
    - ``aggressor_side``: trade entries of market data carry AggressorSide(2446, FIX 5.0
      SP2); FIX 4.4's entries have no field for it.  (Every fill's ExecutionReport says
      which side its order was on: LastLiquidityInd(851) 1 added liquidity, 2 removed it.)
    - ``min_price_increment``: SecurityList entries carry the tick size as
      MinPriceIncrement(969) (FIX 4.4 extension packs / FIX 5.0).  Without it the tick size
      goes in each entry's Text(58) as ``MinPriceIncrement=<tick>`` (always sent), the lot
      size in RoundLot(561), MinQty in MinTradeVol(562).
    ``min_price_increment_field=True`` is ``min_price_increment`` for every session.
    ``cancel_on_disconnect``: session id -> (enabled, grace seconds); ``default_cancel_on_disconnect``
    for the others (accept-any sessions).  ``drop_copies``: drop-copy session id -> the session
    ids it covers (None = every other session); see "Operating" below.
    """

    # Slots, no __dict__: CPython 3.11 specialises the reads of an instance's attributes and
    # methods only while its __dict__ is not materialised, which happens beyond 29 attributes
    # (this class has 37) and when it is pickled; then every self.method() is a generic
    # lookup.  Measured (tools/count_instructions.py, gateway layer): 1,600 instructions per
    # request less (1.2%).
    __slots__ = (
        "engine", "trading_status", "_halted", "_cod_config", "_cod_default", "_cod_active", "_cod_pending",
        "_online", "_drop_copies", "_copy_targets", "_cancel_text", "trade_counts", "report_counts",
        "reject_counts", "_symbols", "_symbols_by_bytes", "_exec_id_prefix", "_order_id_prefix",
        "_prefix_pending", "_exec_seq", "_stp_by_session", "_default_stp", "_default_extensions",
        "_extensions", "_orders", "_sessions", "final_orders_per_session", "market_data_subscription_limits",
        "default_market_data_subscription_limit", "_transact_time", "_transact_now", "_format_time", "_deliver_to",
        "market_data", "defer_market_data", "_handlers", "last_end_of_day", "config_settings")

    def __init__(self, symbols: Iterable[SymbolSpec], engine: Engine, exec_id_prefix: str | None = None,
                 stp_modes: dict[str, StpMode | str] | None = None,
                 default_stp: StpMode | str = StpMode.NONE, min_price_increment_field: bool = False,
                 cancel_on_disconnect: dict[str, tuple[bool, float]] | None = None,
                 default_cancel_on_disconnect: tuple[bool, float] = (False, 0.0),
                 drop_copies: dict[str, Iterable[str] | None] | None = None,
                 extensions: dict[str, Iterable[str]] | None = None, default_extensions: Iterable[str] = ()) -> None:
        self.engine = engine
        # when the last end of day ran (epoch seconds): recovery catches up one missed while down
        self.last_end_of_day: float | None = None
        # -- operating: halts, cancel-on-disconnect, drop copies (see the section below)
        self.trading_status = TradingStatus()
        self._halted = self.trading_status.halted  # (read on every order: a dict, empty = none)
        self._cod_config = dict(cancel_on_disconnect or {})
        self._cod_default = default_cancel_on_disconnect
        self._cod_active: dict[str, bool] = {}  # per connection, from config or the Logon's 9001
        self._cod_pending: dict[str, float] = {}  # session id -> when its orders get cancelled
        self._online: set[str] = set()
        self._drop_copies = {dc: (None if covered is None else frozenset(covered))
                             for dc, covered in (drop_copies or {}).items()}
        self._copy_targets: dict[str, tuple[str, ...]] = {}  # owner session id -> drop copies
        self._cancel_text: bytes | None = None  # Text(58) of operator/disconnect cancels
        # counters the metrics read: trades and traded quantity per symbol, ExecutionReports
        # by ExecType (b"0", b"F", ...), rejects by (kind, reason code)
        self.trade_counts: dict[str, list[int]] = {}
        self.report_counts: dict[bytes, int] = {}
        self.reject_counts: dict[tuple[str, int], int] = {}
        self._symbols: dict[str, SymbolInfo] = {}
        for spec in symbols:
            self._symbols[spec.symbol] = SymbolInfo(spec)
        self._symbols_by_bytes = {info.symbol_field[1]: info for info in self._symbols.values()}
        self._exec_id_prefix = b""
        self._order_id_prefix = b"O"
        self._prefix_pending = exec_id_prefix is None
        if exec_id_prefix is not None:
            self._set_prefix(exec_id_prefix)
        self._exec_seq = 0
        self.config_settings: dict | None = None  # the last ``configure`` (journaled config)
        self._stp_by_session = {session_id: _stp_mode(mode) for session_id, mode in (stp_modes or {}).items()}
        self._default_stp = _stp_mode(default_stp)
        self._default_extensions = frozenset(default_extensions) | (
            {"min_price_increment"} if min_price_increment_field else frozenset())
        self._extensions = {session_id: frozenset(names) for session_id, names in (extensions or {}).items()}
        for names in (self._default_extensions, *self._extensions.values()):
            if not names <= EXTENSIONS:
                raise ValueError(f"unknown extension(s): {', '.join(sorted(names - EXTENSIONS))}")
        self._orders: dict[int, _Order] = {}
        self._sessions: dict[str, _SessionOrders] = {}
        self.final_orders_per_session = RECENT_FINAL_ORDERS_PER_SESSION
        # market-data subscriptions a session may hold at once (session id -> limit; others:
        # the default); each holds symbols, entry types and book state
        self.market_data_subscription_limits: dict[str, int] = {}
        self.default_market_data_subscription_limit = MAX_MARKET_DATA_SUBSCRIPTIONS
        self._transact_time = b""
        self._transact_now: float | None = None
        self._format_time = TimestampFormatter().format  # (its caches are this gateway's)
        self._deliver_to = b""  # DeliverTo* of the request being answered, encoded (_answer_to_firm)
        # (a bound method, not a lambda: the gateway is pickled for snapshots)
        self.market_data = MarketData({name: info.scale for name, info in self._symbols.items()},
                                      self._book_depth)
        # True (the server sets it): market data is not flushed per message but when the
        # server calls flush_market_data() (once per event-loop turn), so a pipelined burst
        # of orders becomes one X per subscription instead of one per order.
        self.defer_market_data = False
        self._handlers: dict[bytes, Callable[[str, FixMessage, float, list], None]] = {
            MsgTypes.NEW_ORDER_SINGLE: self._new_order,
            MsgTypes.ORDER_CANCEL_REQUEST: self._cancel,
            MsgTypes.ORDER_CANCEL_REPLACE_REQUEST: self._replace,
            MsgTypes.ORDER_STATUS_REQUEST: self._status,
            MsgTypes.ORDER_MASS_CANCEL_REQUEST: self._mass_cancel,
            MsgTypes.MARKET_DATA_REQUEST: self._market_data_request,
            MsgTypes.SECURITY_LIST_REQUEST: self._security_list_request,
            MsgTypes.SECURITY_STATUS_REQUEST: self._security_status_request,
        }

    def __setstate__(self, state) -> None:
        """Unpickling a snapshot: ``(None, slots)`` as pickled now, or the attribute dict of
        one written before the slots (which may lack ``last_end_of_day``) or before the
        gateway kept its own TimestampFormatter."""
        self.last_end_of_day = None
        self._format_time = TimestampFormatter().format
        for name, value in (state[1] if type(state) is tuple else state).items():
            setattr(self, name, value)

    def reconfigure(self, symbols: Iterable[SymbolSpec], stp_modes: dict[str, StpMode | str] | None = None,
                    default_stp: StpMode | str = StpMode.NONE,
                    cancel_on_disconnect: dict[str, tuple[bool, float]] | None = None,
                    default_cancel_on_disconnect: tuple[bool, float] = (False, 0.0),
                    drop_copies: dict[str, Iterable[str] | None] | None = None,
                    extensions: dict[str, Iterable[str]] | None = None,
                    default_extensions: Iterable[str] = ()) -> None:
        """A restored gateway (a snapshot) takes the current configuration: its symbols
        (added ones appear, removed ones are no longer traded, changed limits apply) and its
        per-session settings, as the constructor would have set them.  A symbol whose tick,
        lot or price scale changed must have no live orders (``ValueError``, nothing changed
        for it: the caller checks first)."""
        specs = {spec.symbol: spec for spec in symbols}
        for name in [name for name in self._symbols if name not in specs]:
            del self._symbols[name]  # (its book stays in the engine, with no way in)
        for spec in specs.values():
            info = self._symbols.get(spec.symbol)
            if info is None or info.spec != spec:
                self.engine.set_symbol(spec)
                self.market_data.set_symbol(spec.symbol, spec.price_scale)
                self._symbols[spec.symbol] = SymbolInfo(spec)
        self._symbols_by_bytes = {info.symbol_field[1]: info for info in self._symbols.values()}
        self._stp_by_session = {session_id: _stp_mode(mode) for session_id, mode in (stp_modes or {}).items()}
        self._default_stp = _stp_mode(default_stp)
        self._cod_config = dict(cancel_on_disconnect or {})
        self._cod_default = default_cancel_on_disconnect
        self._drop_copies = {dc: (None if covered is None else frozenset(covered))
                             for dc, covered in (drop_copies or {}).items()}
        self._copy_targets = {}
        self._default_extensions = frozenset(default_extensions)
        self._extensions = {session_id: frozenset(names) for session_id, names in (extensions or {}).items()}

    def configure(self, settings: dict, now: float) -> list[Outbound]:
        """Take a configuration (journaled at each start whose config differs from the
        state's, so that a replay applies every record under the configuration it first ran
        under).  ``settings``: JSON values, as ``server.main.journaled_settings`` makes them."""
        self.reconfigure(
            [SymbolSpec(*spec) for spec in settings["symbols"]], stp_modes=settings["stp_modes"],
            default_stp=settings["default_stp"],
            cancel_on_disconnect={sid: tuple(v) for sid, v in settings["cancel_on_disconnect"].items()},
            default_cancel_on_disconnect=tuple(settings["default_cancel_on_disconnect"]),
            drop_copies=settings["drop_copies"], extensions=settings["extensions"],
            default_extensions=settings["default_extensions"])
        self.market_data_subscription_limits = settings["market_data_subscription_limits"]
        self.default_market_data_subscription_limit = settings["default_market_data_subscription_limit"]
        self.final_orders_per_session = settings["final_orders_per_session"]
        self.engine.retain_final = settings["final_orders"]
        self.config_settings = settings
        return []

    # ---------------------------------------------------------------- public API

    def on_logon(self, session_id: str, now: float, cancel_on_disconnect: bool | None = None) -> list[Outbound]:
        """``cancel_on_disconnect``: the Logon's CancelOnDisconnect(9001), None = not sent
        (the session's configuration decides)."""
        if session_id not in self._sessions:
            self._sessions[session_id] = _SessionOrders()
        self._online.add(session_id)
        self._cod_pending.pop(session_id, None)  # back within the grace period: orders stay
        enabled = self._cod_config.get(session_id, self._cod_default)[0]
        self._cod_active[session_id] = enabled if cancel_on_disconnect is None else cancel_on_disconnect
        return []

    def on_disconnect(self, session_id: str, now: float, reason: str = "connection ended") -> list[Outbound]:
        """Market-data and status subscriptions end with the connection.  Orders stay on the
        book, unless cancel-on-disconnect is on for this connection: then they are cancelled
        now (no grace period) or by ``cancel_on_disconnect(session_id, now)`` once
        ``cancel_on_disconnect_due(session_id)`` has come, if the session has not logged on
        again by then."""
        self.market_data.drop_session(session_id)
        self.trading_status.drop_session(session_id)
        self._online.discard(session_id)
        if not self._cod_active.pop(session_id, False):
            return []
        grace = self._cod_config.get(session_id, self._cod_default)[1]
        self._cod_pending[session_id] = now + grace
        if grace > 0:
            return []
        return self.cancel_on_disconnect(session_id, now, reason)

    @property
    def cancel_on_disconnect_pending(self) -> dict[str, float]:
        """Every session whose grace period runs: when its orders are to be cancelled (the
        server schedules these after a restart)."""
        return dict(self._cod_pending)

    def cancel_on_disconnect_due(self, session_id: str) -> float | None:
        """When the disconnected session's orders are to be cancelled (None: they are not)."""
        return self._cod_pending.get(session_id)

    def cancel_on_disconnect(self, session_id: str, now: float, reason: str = "connection ended") -> list[Outbound]:
        """Cancel the live orders of a session whose connection ended (and that has not logged
        on again since): ExecType 4 reports, stored for it until it logs on again."""
        if self._cod_pending.pop(session_id, None) is None or session_id in self._online:
            return []
        return self.cancel_orders(now, f"cancel on disconnect: {reason}", session_id=session_id)[0]

    def on_message(self, session_id: str, message: FixMessage, now: float, _routed: bool = False) -> list[Outbound]:
        if not _routed:
            if self._drop_copies:
                return self._with_copies(self._drop_copy_guard(session_id, message, now))
            # on behalf of / to a firm (two lookups: frozenset.isdisjoint(dict) walks every
            # tag of the message, 2,800 instructions per request more, count_instructions)
            index = message._index
            if OnBehalfOfCompID in index or DeliverToCompID in index:
                return self._answer_to_firm(session_id, message, now)
        handler = self._handlers.get(message.msg_type)
        if handler is None:
            return [self._business_reject(session_id, message, BUSINESS_REJECT_UNSUPPORTED_TYPE,
                                          b"unsupported MsgType " + message.msg_type)]
        if self._prefix_pending:
            self._set_prefix(_base36(int(now * 1000)) + "-")
        if now != self._transact_now:  # the server passes one now per event-loop callback
            self._transact_now = now
            self._transact_time = self._format_time(now)
        out: list[Outbound] = []
        if self.defer_market_data and message.msg_type == MARKET_DATA_REQUEST:
            out.extend(self.market_data.flush())  # pending X before a new W, never after
        try:
            handler(session_id, message, now, out)
        except _MissingField as missing:
            text = f"required field {missing.tag} missing"
            if missing.why:
                text += f": {missing.why}"
            out.append(self._business_reject(session_id, message, BUSINESS_REJECT_FIELD_MISSING, text))
        if not self.defer_market_data:
            market_data = self.market_data
            if market_data.watched:  # (nothing watched, nothing pending: 1,000 instructions per request)
                out.extend(market_data.flush())
        return out

    def reject_throttled(self, session_id: str, message: FixMessage, text: str, now: float) -> list[Outbound]:
        """The answer to a message the session layer refused for its rate limit (nothing is
        executed, no engine work): NewOrderSingle -> ExecutionReport OrdStatus=Rejected,
        cancel / replace -> OrderCancelReject, anything else -> BusinessMessageReject; each
        with ``text`` naming the limit."""
        if self._prefix_pending:
            self._set_prefix(_base36(int(now * 1000)) + "-")
        if now != self._transact_now:
            self._transact_now = now
            self._transact_time = self._format_time(now)
        msg_type = message.msg_type
        cl_ord_id = message.get(ClOrdID) or b"NONE"
        if msg_type == MsgTypes.NEW_ORDER_SINGLE:
            out = [self._order_reject(session_id, message, cl_ord_id, ORD_REJ_OTHER, text)]
            return self._with_copies(out) if self._drop_copies else out
        if msg_type == MsgTypes.ORDER_CANCEL_REQUEST or msg_type == MsgTypes.ORDER_CANCEL_REPLACE_REQUEST:
            cl_ord_id, order_id_text, orig, _symbol, _side = message.get_many(_CANCEL_TAGS)
            session = self._sessions.get(session_id)
            order = None if session is None else self._find_order(session_id, session, order_id_text, orig)
            return [self._cancel_reject(session_id, order, cl_ord_id or b"NONE", orig,
                                        _RESPONSE_TO_CANCEL if msg_type == MsgTypes.ORDER_CANCEL_REQUEST
                                        else _RESPONSE_TO_REPLACE,
                                        CXL_REJ_OTHER, text)]
        return [self._business_reject(session_id, message, BUSINESS_REJECT_OTHER, text)]

    def _answer_to_firm(self, session_id: str, message: FixMessage, now: float) -> list[Outbound]:
        """on_message for a request with OnBehalfOfCompID: its answers, and the reports of an
        order it enters (``_Order.deliver_to``, now and later), carry DeliverTo* back to the
        firm.  (Market data, W/X/Y, is not routed: it goes to the session as such.)"""
        routing = [(outbound, value) for inbound, outbound in _REVERSE_ROUTE
                   if (value := message.get(inbound))]
        self._deliver_to = b"".join(encode_body(routing))
        try:
            out = self.on_message(session_id, message, now, _routed=True)
        finally:
            self._deliver_to = b""
        for position, answer in enumerate(out):
            # encoded bodies (reports of orders, cancel rejects) carry it already; every other
            # message to this session in `out`, market data aside, is an answer
            if answer.session_id == session_id and type(answer.body) is list and not answer.market_data:
                out[position] = Outbound(session_id, answer.msg_type, [*routing, *answer.body],
                                         answer.market_data)
        return out

    def snapshot_for(self, session_id: str, now: float) -> list[Outbound]:
        """A fresh W for every subscription of the session (after market data was conflated)."""
        if self.defer_market_data:
            return self.market_data.flush() + self.market_data.snapshots_for(session_id)
        return self.market_data.snapshots_for(session_id)

    @property
    def conflate_market_data(self) -> bool:
        """True (the server sets it for ``market_data_conflation_ms``): each flush sends the
        net change of every level since the last one (marketdata: Conflation)."""
        return self.market_data.conflate

    @conflate_market_data.setter
    def conflate_market_data(self, value: bool) -> None:
        self.market_data.conflate = value

    def flush_market_data(self) -> list[Outbound]:
        """W/X for the book changes since the last flush (with ``defer_market_data``)."""
        return self.market_data.flush()

    def market_data_pending(self) -> bool:
        """Whether ``flush_market_data`` has something to send (with ``defer_market_data``):
        the server schedules its per-turn flush only then."""
        return self.market_data.pending()

    def advance_time(self, now: float) -> list[Outbound]:
        """Expire GTD orders whose ExpireTime has passed; the server calls this on a timer."""
        if self._prefix_pending:
            self._set_prefix(_base36(int(now * 1000)) + "-")
        self._transact_now = now  # (also the time of the last input: recovery reads it)
        self._transact_time = self._format_time(now)
        out: list[Outbound] = []
        self._advance_engine_time(now, out)
        if not self.defer_market_data:
            out.extend(self.market_data.flush())
        return self._with_copies(out) if self._drop_copies else out

    def end_of_day(self, now: float) -> list[Outbound]:
        """Expire every live DAY order."""
        self.last_end_of_day = now
        return self.apply(EndOfDay(), now)

    def apply(self, command, now: float) -> list[Outbound]:
        """Apply an engine command that did not come from a FIX message (seeding, admin) so
        that market data and reports stay consistent with the book."""
        self._transact_now = now
        self._transact_time = self._format_time(now)
        out: list[Outbound] = []
        self._route(self.engine.execute(command), ("admin", "", None, None, None), out)
        if not self.defer_market_data:
            out.extend(self.market_data.flush())
        return self._with_copies(out) if self._drop_copies else out

    def seed(self, owner: str, symbol: str, side: Side | str, qty: int, price: int, now: float) -> list[Outbound]:
        """Rest a GTC limit order for ``owner`` (seeded liquidity; ``side`` may be "buy"/"sell",
        ``price`` in engine units).  Returns market data for current subscribers."""
        if isinstance(side, str):
            side = Side.BUY if side.lower() == "buy" else Side.SELL
        return self.apply(NewOrder(symbol, owner, side, qty, OrdType.LIMIT, price, tif=TimeInForce.GTC), now)

    # ---------------------------------------------------------------- operating
    # Inputs of the venue's operator and of connections ending: each takes its time and is
    # deterministic, so a command journal can record and replay it like a FIX message.

    def halt(self, symbol: str, now: float, reason: str = "halted by the exchange") -> list[Outbound]:
        """Halt ``symbol``: new orders and replaces are rejected, cancels work, nothing
        matches.  Returns the SecurityStatus (326=2) for its subscribers.  KeyError for an
        unknown symbol."""
        if symbol not in self._symbols:
            raise KeyError(symbol)
        self._transact_time = self._format_time(now)
        return self.trading_status.set(symbol, True, reason or "halted", self._transact_time)

    def resume(self, symbol: str, now: float) -> list[Outbound]:
        """Resume trading in ``symbol``: SecurityStatus (326=17) for its subscribers."""
        if symbol not in self._symbols:
            raise KeyError(symbol)
        self._transact_time = self._format_time(now)
        return self.trading_status.set(symbol, False, "", self._transact_time)

    def cancel_orders(self, now: float, text: str, session_id: str | None = None,
                      symbol: str | None = None) -> tuple[list[Outbound], int]:
        """Cancel every live order of ``session_id`` and/or ``symbol`` (None = any) on the
        operator's behalf or on disconnect: ExecType 4 reports with ``text`` in Text(58) to
        their owners.  Returns the messages and how many orders were cancelled.  KeyError
        for an unknown symbol."""
        if symbol is not None and symbol not in self._symbols:
            raise KeyError(symbol)
        self._transact_time = self._format_time(now)
        self._cancel_text = _TEXT_FORMAT % text.replace("\x01", " ").encode("ascii", "replace")
        out: list[Outbound] = []
        try:
            events = self.engine.execute(MassCancel(session_id, symbol, None))
            count = next((event[1] for event in events if event[0] is MassCancelDone), 0)
            self._route(events, ("operator", session_id or "", None, None, None), out)
        finally:
            self._cancel_text = None
        if not self.defer_market_data:
            out.extend(self.market_data.flush())
        return (self._with_copies(out) if self._drop_copies else out), count

    def live_order_ids(self, session_id: str | None = None, symbol: str | None = None) -> list[int]:
        """Engine ids of the live orders entered through FIX, of a session and/or symbol (None
        = any), oldest first: an operator's cancel-all goes through them a slice at a time."""
        return [order_id for order_id, order in self._orders.items()
                if not order.final and (session_id is None or order.session_id == session_id)
                and (symbol is None or order.info.name == symbol)]

    def cancel_order_ids(self, order_ids: Iterable[int], now: float, text: str) -> tuple[list[Outbound], int]:
        """Cancel these orders (those still live) on the operator's behalf, Text(58) = ``text``;
        the messages and how many were cancelled."""
        self._transact_time = self._format_time(now)
        self._cancel_text = _TEXT_FORMAT % text.replace("\x01", " ").encode("ascii", "replace")
        out: list[Outbound] = []
        count = 0
        request = ("operator", "", None, None, None)
        try:
            for order_id in order_ids:
                events = self.engine.execute(CancelOrder(order_id))
                count += events[0][0] is not Rejected
                self._route(events, request, out)
        finally:
            self._cancel_text = None
        if not self.defer_market_data:
            out.extend(self.market_data.flush())
        return (self._with_copies(out) if self._drop_copies else out), count

    def cl_ord_ids(self, session_id: str | None = None, *, live: bool = True) -> list[bytes]:
        """ClOrdIDs of the orders entered through FIX, of a session (None = any), oldest
        first: the live ones, or with ``live=False`` also the final ones still kept."""
        return [order.cl_ord_id for order in self._orders.values()
                if (not live or not order.final) and (session_id is None or order.session_id == session_id)]

    def live_orders(self, session_id: str) -> int:
        """How many of the session's orders are live (the admin endpoint's session list)."""
        session = self._sessions.get(session_id)
        if session is None:
            return 0
        return sum(1 for order in {id(o): o for o in session.by_cl_ord_id.values()}.values() if not order.final)

    def symbol_overview(self) -> list[dict]:
        """Per symbol: trading status, best bid/ask (FIX prices), displayed depth, trades and
        traded quantity (the admin endpoint's symbol list)."""
        rows = []
        for name, info in self._symbols.items():
            book = self.engine.book(name)
            fmt = info.fmt.format
            row: dict = {"symbol": name, "status": "halted" if name in self._halted else "open"}
            if name in self._halted:
                row["halt_reason"] = self._halted[name]
            for side, key in ((Side.BUY, "bid"), (Side.SELL, "ask")):
                levels = book.depth(side, 0) if book is not None else []
                best = levels[0] if levels else None
                row[f"best_{key}"] = None if best is None else fmt(best[0]).decode()
                row[f"best_{key}_qty"] = None if best is None else best[1]
                row[f"{key}_levels"] = len(levels)
                row[f"{key}_qty"] = sum(qty for _, qty in levels)
            trades, volume = self.trade_counts.get(name, (0, 0))
            row["trades"] = trades
            row["volume"] = volume
            last = book.last_trade_price if book is not None else None
            row["last_price"] = None if last is None else fmt(last).decode()
            rows.append(row)
        return rows

    def _count_reject(self, kind: str, reason: int, exec_type: bytes | None = None) -> None:
        key = (kind, reason)
        self.reject_counts[key] = self.reject_counts.get(key, 0) + 1
        if exec_type is not None:
            self.report_counts[exec_type] = self.report_counts.get(exec_type, 0) + 1

    def _halted_text(self, symbol: str, what: str) -> bytes:
        reason = self._halted[symbol]
        return f"{symbol} is halted ({reason}): {what} are refused until trading resumes".encode(
            "ascii", "replace")

    def _drop_copy_guard(self, session_id: str, message: FixMessage, now: float) -> list[Outbound]:
        """on_message when drop copies are configured: a drop-copy session may not trade."""
        if session_id in self._drop_copies and message.msg_type in _TRADING_MSG_TYPES:
            return [self._business_reject(session_id, message, BUSINESS_REJECT_NOT_AUTHORIZED,
                                          "drop copy session: order messages are not accepted")]
        index = message._index
        if OnBehalfOfCompID in index or DeliverToCompID in index:  # on behalf of / to a firm
            return self._answer_to_firm(session_id, message, now)
        return self.on_message(session_id, message, now, _routed=True)

    def _with_copies(self, out: list[Outbound]) -> list[Outbound]:
        """Append, for every ExecutionReport in ``out``, a copy to each drop-copy session
        covering its owner.  The copy is the same report (same ExecID, ClOrdID, order fields)
        with the owner's CompID in OnBehalfOfCompID(115) of the header."""
        copies = []
        targets_of = self._copy_targets
        for message in out:
            if message.msg_type != EXECUTION_REPORT:
                continue
            owner = message.session_id
            targets = targets_of.get(owner)
            if targets is None:
                targets = targets_of[owner] = tuple(
                    dc for dc, covered in self._drop_copies.items()
                    if owner not in self._drop_copies and (covered is None or owner in covered))
            if not targets:
                continue
            comp_id = owner.rpartition("->")[2]
            body = message.body
            if type(body) is bytes:
                body = _ON_BEHALF_OF_FORMAT % (comp_id.encode("ascii", "replace"), body)
            else:
                body = [(OnBehalfOfCompID, comp_id), *body]
            for dc in targets:
                copies.append(Outbound(dc, EXECUTION_REPORT, body, False))
        if copies:
            out.extend(copies)
        return out

    # ---------------------------------------------------------------- helpers

    def _set_prefix(self, prefix: str) -> None:
        self._exec_id_prefix = prefix.encode("ascii")
        self._order_id_prefix = self._exec_id_prefix + b"O"
        self._prefix_pending = False

    def _book_depth(self, symbol: str, side: Side) -> list[tuple[int, int, int]]:
        return self.engine.book(symbol).depth(side, 0, orders=True)

    def _session(self, session_id: str) -> _SessionOrders:
        session = self._sessions.get(session_id)
        if session is None:
            session = self._sessions[session_id] = _SessionOrders()
        return session

    def _next_exec_id(self) -> bytes:
        self._exec_seq += 1
        return self._exec_id_prefix + b"%d" % self._exec_seq

    def _advance_engine_time(self, now: float, out: list) -> None:
        now_ms = int(round(now * 1000))
        if now_ms > self.engine.now:
            self._route(self.engine.execute(AdvanceTime(now_ms)), ("time", "", None, None, None), out)

    def _find_order(self, session_id: str, session: _SessionOrders, order_id_text: bytes | None,
                    cl_ord_id: bytes | None) -> _Order | None:
        if order_id_text is not None:
            prefix = self._order_id_prefix
            digits = order_id_text[len(prefix):]
            if order_id_text.startswith(prefix) and digits.isdigit() and len(digits) < 19:
                order = self._orders.get(int(digits))
                if order is not None and order.session_id == session_id:
                    return order
        if cl_ord_id is None:
            return None
        return session.by_cl_ord_id.get(cl_ord_id)

    def _finish(self, order: _Order, status) -> None:
        order.final = True
        order.final_status = status
        order.leaves = 0
        session = self._sessions.get(order.session_id) or self._session(order.session_id)
        finished = session.finished
        finished.append(order)
        if len(finished) > self.final_orders_per_session:
            forgotten = finished.popleft()
            for cl_ord_id in (forgotten.cl_ord_id, *forgotten.earlier_cl_ord_ids):
                if session.by_cl_ord_id.get(cl_ord_id) is forgotten:
                    del session.by_cl_ord_id[cl_ord_id]
            self._orders.pop(forgotten.order_id, None)

    @staticmethod
    def _require(message: FixMessage, tag: int, why: str = "") -> bytes:
        value = message.get(tag)
        if value is None or value == b"":
            raise _MissingField(tag, why)
        return value
