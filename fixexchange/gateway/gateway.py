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

import calendar
from collections import deque
from typing import Callable, Iterable, NamedTuple

from fixexchange.codec import FixMessage, format_utc_timestamp, parse_utc_timestamp
from fixexchange.engine import (
    Accepted,
    AdvanceTime,
    Cancelled,
    CancelOrder,
    CancelReason,
    EndOfDay,
    Engine,
    Expired,
    LevelChanged,
    MassCancel,
    MassCancelDone,
    NewOrder,
    OrderState,
    OrderStatus,
    OrderStatusQuery,
    OrdType,
    Rejected,
    RejectReason,
    Replaced,
    ReplaceOrder,
    Restated,
    Side,
    StpMode,
    SymbolSpec,
    TimeInForce,
    Trade,
    Triggered,
)

from .marketdata import ALL_ENTRY_TYPES, ENTRY_TYPE_CODES, MarketData, Subscription
from .outbound import Outbound
from .reject_text import reject_text
from .status import TradingStatus
from .units import NotOnScale, NumberFormatError, PriceFormatter, format_avg_px, parse_price, parse_qty

# Final orders (and their ClOrdIDs) remembered per session: duplicate-ClOrdID detection and
# status requests for recently finished orders.  Older ones are forgotten.
RECENT_FINAL_ORDERS_PER_SESSION = 10_000

_SIDES = {b"1": Side.BUY, b"2": Side.SELL}
_ORD_TYPES = {b"1": OrdType.MARKET, b"2": OrdType.LIMIT, b"3": OrdType.STOP, b"4": OrdType.STOP_LIMIT}
_TIFS = {b"0": TimeInForce.DAY, b"1": TimeInForce.GTC, b"3": TimeInForce.IOC, b"4": TimeInForce.FOK,
         b"6": TimeInForce.GTD}
_PRICED = (OrdType.LIMIT, OrdType.STOP_LIMIT)
_GTD = TimeInForce.GTD  # (an enum member read from its class costs a descriptor call)
_STOPS = (OrdType.STOP, OrdType.STOP_LIMIT)

_SIDE_FIELD = {Side.BUY: (54, b"1"), Side.SELL: (54, b"2")}
_ORD_TYPE_FIELD = {t: (40, b"%d" % t) for t in OrdType}
_TIF_FIELD = {t: (59, b"%d" % t) for t in TimeInForce}

# ExecType (150)
_EXEC_NEW = (150, b"0")
_EXEC_CANCELED = (150, b"4")
_EXEC_REPLACED = (150, b"5")
_EXEC_REJECTED = (150, b"8")
_EXEC_EXPIRED = (150, b"C")
_EXEC_RESTATED = (150, b"D")
_EXEC_TRADE = (150, b"F")
_EXEC_STATUS = (150, b"I")
_EXEC_TRIGGERED = (150, b"L")
# The default report of an elected stop (FIX 4.4 has no ExecType L): Restated, by the market
_STOP_TRIGGERED_FIELDS = b"378=8\x0158=stop triggered\x01"
# LastLiquidityInd(851) of a fill
_ADDED_LIQUIDITY = b"851=1\x01"
_REMOVED_LIQUIDITY = b"851=2\x01"
# Wire extensions beyond FIX 4.4 a session may opt into (see Gateway)
EXTENSIONS = frozenset(("exec_type_triggered", "aggressor_side", "min_price_increment"))
# OrdStatus (39)
_STATUS_NEW = (39, b"0")
_STATUS_PARTIAL = (39, b"1")
_STATUS_FILLED = (39, b"2")
_STATUS_CANCELED = (39, b"4")
_STATUS_REJECTED = (39, b"8")
_STATUS_EXPIRED = (39, b"C")
_STATUS_FIELD = {OrderStatus.NEW: _STATUS_NEW, OrderStatus.PARTIALLY_FILLED: _STATUS_PARTIAL,
                 OrderStatus.FILLED: _STATUS_FILLED, OrderStatus.CANCELLED: _STATUS_CANCELED,
                 OrderStatus.EXPIRED: _STATUS_EXPIRED}

# OrdRejReason (103), FIX 4.4 values
ORD_REJ_UNKNOWN_SYMBOL = 1
ORD_REJ_UNKNOWN_ORDER = 5
ORD_REJ_DUPLICATE = 6
ORD_REJ_UNSUPPORTED = 11
ORD_REJ_INCORRECT_QTY = 13
ORD_REJ_OTHER = 99
_ORD_REJ_FOR_ENGINE = {
    RejectReason.UNKNOWN_SYMBOL: ORD_REJ_UNKNOWN_SYMBOL,
    RejectReason.UNKNOWN_ORDER: ORD_REJ_UNKNOWN_ORDER,
    RejectReason.OFF_LOT: ORD_REJ_INCORRECT_QTY,
    RejectReason.QTY_NOT_POSITIVE: ORD_REJ_INCORRECT_QTY,
    RejectReason.QTY_TOO_SMALL: ORD_REJ_INCORRECT_QTY,
    RejectReason.QTY_TOO_LARGE: ORD_REJ_INCORRECT_QTY,
    RejectReason.INVALID_DISPLAY_QTY: ORD_REJ_INCORRECT_QTY,
    RejectReason.INVALID_MIN_QTY: ORD_REJ_INCORRECT_QTY,
    RejectReason.INVALID_ORD_TYPE: ORD_REJ_UNSUPPORTED,
    RejectReason.INVALID_TIF: ORD_REJ_UNSUPPORTED,
    RejectReason.INVALID_TIF_FOR_ORD_TYPE: ORD_REJ_UNSUPPORTED,
    RejectReason.POST_ONLY_NOT_ALLOWED: ORD_REJ_UNSUPPORTED,
    RejectReason.ICEBERG_NOT_SUPPORTED: ORD_REJ_UNSUPPORTED,
    RejectReason.PRICE_NOT_ALLOWED: ORD_REJ_UNSUPPORTED,
    RejectReason.STOP_PRICE_NOT_ALLOWED: ORD_REJ_UNSUPPORTED,
    RejectReason.EXPIRE_TIME_NOT_ALLOWED: ORD_REJ_UNSUPPORTED,
}

# CxlRejReason (102)
CXL_REJ_TOO_LATE = 0
CXL_REJ_UNKNOWN_ORDER = 1
CXL_REJ_EXCHANGE_OPTION = 2
CXL_REJ_DUPLICATE_CL_ORD_ID = 6
CXL_REJ_OTHER = 99
_CXL_REJ_FOR_ENGINE = {RejectReason.UNKNOWN_ORDER: CXL_REJ_UNKNOWN_ORDER,
                       RejectReason.TOO_LATE_TO_CANCEL: CXL_REJ_TOO_LATE}
_RESPONSE_TO_CANCEL = (434, b"1")
_RESPONSE_TO_REPLACE = (434, b"2")
# ExecutionReports and OrderCancelRejects of orders are built as encoded bytes (see _report):
# these fields' text
_ENCODED = {field: b"%d=%s\x01" % field for field in (
    _EXEC_NEW, _EXEC_CANCELED, _EXEC_REPLACED, _EXEC_REJECTED, _EXEC_EXPIRED, _EXEC_RESTATED, _EXEC_TRADE,
    _EXEC_STATUS, _EXEC_TRIGGERED, _STATUS_NEW, _STATUS_PARTIAL, _STATUS_FILLED, _STATUS_CANCELED,
    _STATUS_REJECTED, _STATUS_EXPIRED, _RESPONSE_TO_CANCEL, _RESPONSE_TO_REPLACE)}

# BusinessRejectReason (380)
BUSINESS_REJECT_OTHER = 0
BUSINESS_REJECT_UNKNOWN_SECURITY = 2
BUSINESS_REJECT_UNSUPPORTED_TYPE = 3
BUSINESS_REJECT_FIELD_MISSING = 5
BUSINESS_REJECT_NOT_AUTHORIZED = 6
# OrdRejReason 2 "Exchange closed": the FIX 4.4 code for "this instrument does not trade now"
ORD_REJ_EXCHANGE_CLOSED = 2
# what a drop-copy session may not send (it observes, it does not trade)
_TRADING_MSG_TYPES = frozenset((b"D", b"F", b"G", b"H", b"q"))

# MDReqRejReason (281)
MD_REJ_UNKNOWN_SYMBOL = b"0"
MD_REJ_DUPLICATE_ID = b"1"
MD_REJ_UNSUPPORTED_SUBSCRIPTION_TYPE = b"4"
MD_REJ_UNSUPPORTED_DEPTH = b"5"
MD_REJ_UNSUPPORTED_UPDATE_TYPE = b"6"
MD_REJ_UNSUPPORTED_AGGREGATION = b"7"
MD_REJ_UNSUPPORTED_ENTRY_TYPE = b"8"

# MassCancelRequestType (530) / MassCancelResponse (531) / MassCancelRejectReason (532)
MASS_CANCEL_BY_SYMBOL = b"1"
MASS_CANCEL_ALL = b"7"
MASS_CANCEL_REJECT_NOT_SUPPORTED = b"0"
MASS_CANCEL_REJECT_UNKNOWN_SECURITY = b"1"
MASS_CANCEL_REJECT_OTHER = b"99"

_CANCEL_TEXT = {
    CancelReason.REQUESTED: b"canceled on request",
    CancelReason.MASS_CANCEL: b"mass cancel",
    CancelReason.IOC_REMAINDER: b"IOC remainder canceled",
    CancelReason.FOK_UNFILLABLE: b"FOK not fillable",
    CancelReason.MIN_QTY_NOT_MET: b"MinQty not available",
    CancelReason.NO_LIQUIDITY: b"market order remainder: no liquidity",
    CancelReason.SELF_TRADE: b"self-trade prevention",
    CancelReason.REPLACED_BELOW_FILLED: b"replaced at or below the filled quantity",
}

_CANCEL_TEXT_FIELD = {reason: b"58=%s\x01" % text for reason, text in _CANCEL_TEXT.items()}

# Third-party routing: a request sent on behalf of a firm (OnBehalfOfCompID 115, SubID 116,
# LocationID 144) is answered to that firm (DeliverToCompID 128, 129, 145), one addressed to
# a firm (DeliverTo*) is answered on behalf of it (OnBehalfOf*), and so is every later
# report of an order it entered.  These are header fields: they go first in the body, which
# the session encodes right after SendingTime, still inside the header.
# (inbound tag, tag of the answer), in the answer's header order
_REVERSE_ROUTE = ((128, 115), (115, 128), (129, 116), (145, 144), (116, 129), (144, 145))
_ROUTED_TAGS = frozenset((115, 128))

_ZERO = b"0"
# NewOrderSingle fields read in one get_many call
_NEW_ORDER_TAGS = (11, 55, 54, 38, 40, 59, 44, 99, 111, 110, 18, 126, 432)
# OrderCancelRequest: ClOrdID, OrderID, OrigClOrdID, Symbol, Side
_CANCEL_TAGS = (11, 37, 41, 55, 54)
_new_tuple = tuple.__new__


def _stp_mode(mode: StpMode | str) -> StpMode:
    return mode if isinstance(mode, StpMode) else StpMode[mode.upper()]


def _base36(number: int) -> str:
    digits = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ"
    text = ""
    while True:
        number, digit = divmod(number, 36)
        text = digits[digit] + text
        if not number:
            return text


def _is_decimal(value: bytes) -> bool:
    try:
        parse_price(value, len(value))
    except ValueError:
        return False
    return True


_ECHOED_ON_REJECT = ((38, _is_decimal), (40, _ORD_TYPES.__contains__), (44, _is_decimal), (99, _is_decimal),
                     (59, _TIFS.__contains__))


class _MissingField(Exception):
    def __init__(self, tag: int, why: str = "") -> None:
        super().__init__(tag)
        self.tag = tag
        self.why = why


class _SymbolInfo:
    __slots__ = ("spec", "name", "fmt", "symbol_field", "scale", "price_cache")

    _PARSE_CACHE_LIMIT = 4096

    def __init__(self, spec: SymbolSpec) -> None:
        self.spec = spec
        self.name = spec.symbol
        self.scale = spec.price_scale
        self.fmt = PriceFormatter(spec.price_scale)
        self.symbol_field = (55, spec.symbol.encode("ascii"))
        self.price_cache: dict[bytes, int] = {}  # FIX price text -> units (parse_price)

    def parse_price(self, text: bytes) -> int:
        """parse_price at this symbol's scale, cached: clients send the same prices over and over."""
        units = self.price_cache.get(text)
        if units is None:
            units = parse_price(text, self.scale)  # raises before anything is cached
            if len(self.price_cache) >= self._PARSE_CACHE_LIMIT:
                self.price_cache.clear()
            self.price_cache[text] = units
        return units


# Fields a replace cannot change (the engine's ReplaceOrder takes quantity and price only);
# OrdType, TimeInForce, StopPx, Side and Symbol are checked on their own in _replace.
_REPLACE_FIXED_TAGS = (110, 111, 18, 126, 432)
_NO_REPLACE_FIXED = (None,) * len(_REPLACE_FIXED_TAGS)


class _Fields(dict):
    """A dict of tag -> bytes (None = absent) standing in for a FixMessage's ``get``."""

    def get(self, tag, default=None):
        value = dict.get(self, tag)
        return default if value is None else value


def _qty(text: bytes) -> int:
    # fast path for the usual plain integer (parse_qty refuses a number too long for int())
    return int(text) if text.isdigit() and len(text) < 19 else parse_qty(text)


class _Order:
    """What the gateway remembers of an order to fill in ExecutionReports."""

    __slots__ = ("order_id", "order_id_text", "session_id", "deliver_to", "cl_ord_id", "earlier_cl_ord_ids", "info",
                 "side_field", "ord_type", "ord_type_field", "price", "stop_price", "tif", "tif_field",
                 "expire_field", "instruction_fields", "qty", "cum_qty", "cum_notional", "leaves", "avg_px", "final", "static",
                 "final_status", "stp_decremented")

    def __init__(self, session_id: str, cl_ord_id: bytes, info: _SymbolInfo, side: Side, ord_type: OrdType,
                 price: int | None, stop_price: int | None, tif: TimeInForce, expire_field, qty: int) -> None:
        self.order_id = 0
        self.order_id_text = b""  # OrderID(37), set when the engine accepts the order
        self.session_id = session_id
        self.deliver_to = b""  # DeliverTo* fields of its reports, encoded (see _REVERSE_ROUTE)
        self.cl_ord_id = cl_ord_id
        self.earlier_cl_ord_ids: tuple = ()  # before cancel/replace requests renamed it
        self.info = info
        self.side_field = _SIDE_FIELD[side]
        self.ord_type = ord_type
        self.ord_type_field = _ORD_TYPE_FIELD[ord_type]
        self.price = price
        self.stop_price = stop_price
        self.tif = tif
        self.tif_field = _TIF_FIELD[tif]
        self.expire_field = expire_field
        self.instruction_fields: tuple = ()  # ExecInst, MinQty, MaxFloor as entered, echoed in ERs
        self.qty = qty
        self.cum_qty = 0
        self.cum_notional = 0
        self.leaves = qty
        self.avg_px = _ZERO
        self.final = False
        self.final_status = _STATUS_NEW  # OrdStatus once final (for cancel rejects)
        self.static: bytes | None = None  # ER fields from Symbol on, encoded; None = rebuild
        # STP DECREMENT removed this much without a trade: the engine's qty still counts it, the
        # reported OrderQty does not (OrderQty = CumQty + LeavesQty on a live order).
        self.stp_decremented = 0

    def static_fields(self) -> bytes:
        """Symbol, Side, OrderQty, OrdType, Price, StopPx, TimeInForce, ExpireTime and the
        instructions, encoded: they change only on replace/restate, so every other ER reuses
        one prebuilt text."""
        info = self.info
        if self.stop_price is None and self.expire_field is None and not self.instruction_fields:
            # the usual limit or market order: one format
            if self.price is None:
                self.static = b"55=%s\x0154=%s\x0138=%d\x0140=%s\x0159=%s\x01" % (
                    info.symbol_field[1], self.side_field[1], self.qty, self.ord_type_field[1], self.tif_field[1])
            else:
                self.static = b"55=%s\x0154=%s\x0138=%d\x0140=%s\x0144=%s\x0159=%s\x01" % (
                    info.symbol_field[1], self.side_field[1], self.qty, self.ord_type_field[1],
                    info.fmt(self.price), self.tif_field[1])
            return self.static
        fmt = info.fmt
        fields = [info.symbol_field, self.side_field, (38, b"%d" % self.qty), self.ord_type_field]
        if self.price is not None:
            fields.append((44, fmt(self.price)))
        if self.stop_price is not None:
            fields.append((99, fmt(self.stop_price)))
        fields.append(self.tif_field)
        if self.expire_field is not None:
            fields.append(self.expire_field)
        fields += self.instruction_fields
        self.static = b"".join([b"%d=%s\x01" % field for field in fields])
        return self.static

    def live_status(self):
        return _STATUS_PARTIAL if self.cum_qty else _STATUS_NEW


class _SessionOrders:
    __slots__ = ("by_cl_ord_id", "finished")

    def __init__(self) -> None:
        # every ClOrdID an order of this session has carried (live orders and recent final ones)
        self.by_cl_ord_id: dict[bytes, _Order] = {}
        self.finished: deque[_Order] = deque()


class _Request(NamedTuple):
    """The request being processed: how engine events about its order are reported.
    (A tuple: built once per request, with ``_new_tuple`` on the hot paths.)"""

    kind: str  # "new", "cancel", "replace", "status", "mass", "time", "admin", "operator"
    session_id: str
    cl_ord_id: bytes | None
    order: _Order | None
    message: FixMessage | None


class Gateway:
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

    def __init__(self, symbols: Iterable[SymbolSpec], engine: Engine, exec_id_prefix: str | None = None,
                 stp_modes: dict[str, StpMode | str] | None = None,
                 default_stp: StpMode | str = StpMode.NONE, min_price_increment_field: bool = False,
                 cancel_on_disconnect: dict[str, tuple[bool, float]] | None = None,
                 default_cancel_on_disconnect: tuple[bool, float] = (False, 0.0),
                 drop_copies: dict[str, Iterable[str] | None] | None = None,
                 extensions: dict[str, Iterable[str]] | None = None, default_extensions: Iterable[str] = ()) -> None:
        self.engine = engine
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
        self._symbols: dict[str, _SymbolInfo] = {}
        for spec in symbols:
            self._symbols[spec.symbol] = _SymbolInfo(spec)
        self._symbols_by_bytes = {info.symbol_field[1]: info for info in self._symbols.values()}
        self._exec_id_prefix = b""
        self._order_id_prefix = b"O"
        self._prefix_pending = exec_id_prefix is None
        if exec_id_prefix is not None:
            self._set_prefix(exec_id_prefix)
        self._exec_seq = 0
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
        self._transact_time = b""
        self._transact_now: float | None = None
        self._deliver_to = b""  # DeliverTo* of the request being answered, encoded (_answer_to_firm)
        # (a bound method, not a lambda: the gateway is pickled for snapshots)
        self.market_data = MarketData({name: info.scale for name, info in self._symbols.items()},
                                      self._book_depth)
        # True (the server sets it): market data is not flushed per message but when the
        # server calls flush_market_data() (once per event-loop turn), so a pipelined burst
        # of orders becomes one X per subscription instead of one per order.
        self.defer_market_data = False
        self._handlers: dict[bytes, Callable[[str, FixMessage, float, list], None]] = {
            b"D": self._new_order,
            b"F": self._cancel,
            b"G": self._replace,
            b"H": self._status,
            b"q": self._mass_cancel,
            b"V": self._market_data_request,
            b"x": self._security_list_request,
            b"e": self._security_status_request,
        }

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
            if not _ROUTED_TAGS.isdisjoint(message._index):  # on behalf of / to a firm
                return self._answer_to_firm(session_id, message, now)
        handler = self._handlers.get(message.msg_type)
        if handler is None:
            return [self._business_reject(session_id, message, BUSINESS_REJECT_UNSUPPORTED_TYPE,
                                          b"unsupported MsgType " + message.msg_type)]
        if self._prefix_pending:
            self._set_prefix(_base36(int(now * 1000)) + "-")
        if now != self._transact_now:  # the server passes one now per event-loop callback
            self._transact_now = now
            self._transact_time = format_utc_timestamp(now)
        out: list[Outbound] = []
        if self.defer_market_data and message.msg_type == b"V":
            out.extend(self.market_data.flush())  # pending X before a new W, never after
        try:
            handler(session_id, message, now, out)
        except _MissingField as missing:
            text = f"required field {missing.tag} missing"
            if missing.why:
                text += f": {missing.why}"
            out.append(self._business_reject(session_id, message, BUSINESS_REJECT_FIELD_MISSING, text))
        if not self.defer_market_data:
            out.extend(self.market_data.flush())
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
            self._transact_time = format_utc_timestamp(now)
        msg_type = message.msg_type
        cl_ord_id = message.get(11) or b"NONE"
        if msg_type == b"D":
            out = [self._order_reject(session_id, message, cl_ord_id, ORD_REJ_OTHER, text)]
            return self._with_copies(out) if self._drop_copies else out
        if msg_type in (b"F", b"G"):
            cl_ord_id, order_id_text, orig, _symbol, _side = message.get_many(_CANCEL_TAGS)
            session = self._sessions.get(session_id)
            order = None if session is None else self._find_order(session_id, session, order_id_text, orig)
            return [self._cancel_reject(session_id, order, cl_ord_id or b"NONE", orig,
                                        _RESPONSE_TO_CANCEL if msg_type == b"F" else _RESPONSE_TO_REPLACE,
                                        CXL_REJ_OTHER, text)]
        return [self._business_reject(session_id, message, BUSINESS_REJECT_OTHER, text)]

    def _answer_to_firm(self, session_id: str, message: FixMessage, now: float) -> list[Outbound]:
        """on_message for a request with OnBehalfOfCompID: its answers, and the reports of an
        order it enters (``_Order.deliver_to``, now and later), carry DeliverTo* back to the
        firm.  (Market data, W/X/Y, is not routed: it goes to the session as such.)"""
        routing = [(outbound, value) for inbound, outbound in _REVERSE_ROUTE
                   if (value := message.get(inbound))]
        self._deliver_to = b"".join([b"%d=%s\x01" % field for field in routing])
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
        self._transact_time = format_utc_timestamp(now)
        out: list[Outbound] = []
        self._advance_engine_time(now, out)
        if not self.defer_market_data:
            out.extend(self.market_data.flush())
        return self._with_copies(out) if self._drop_copies else out

    def end_of_day(self, now: float) -> list[Outbound]:
        """Expire every live DAY order."""
        return self.apply(EndOfDay(), now)

    def apply(self, command, now: float) -> list[Outbound]:
        """Apply an engine command that did not come from a FIX message (seeding, admin) so
        that market data and reports stay consistent with the book."""
        self._transact_time = format_utc_timestamp(now)
        out: list[Outbound] = []
        self._route(self.engine.execute(command), _Request("admin", "", None, None, None), out)
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
        self._transact_time = format_utc_timestamp(now)
        return self.trading_status.set(symbol, True, reason or "halted", self._transact_time)

    def resume(self, symbol: str, now: float) -> list[Outbound]:
        """Resume trading in ``symbol``: SecurityStatus (326=17) for its subscribers."""
        if symbol not in self._symbols:
            raise KeyError(symbol)
        self._transact_time = format_utc_timestamp(now)
        return self.trading_status.set(symbol, False, "", self._transact_time)

    def cancel_orders(self, now: float, text: str, session_id: str | None = None,
                      symbol: str | None = None) -> tuple[list[Outbound], int]:
        """Cancel every live order of ``session_id`` and/or ``symbol`` (None = any) on the
        operator's behalf or on disconnect: ExecType 4 reports with ``text`` in Text(58) to
        their owners.  Returns the messages and how many orders were cancelled.  KeyError
        for an unknown symbol."""
        if symbol is not None and symbol not in self._symbols:
            raise KeyError(symbol)
        self._transact_time = format_utc_timestamp(now)
        self._cancel_text = b"58=%s\x01" % text.replace("\x01", " ").encode("ascii", "replace")
        out: list[Outbound] = []
        try:
            events = self.engine.execute(MassCancel(session_id, symbol, None))
            count = next((event[1] for event in events if event[0] is MassCancelDone), 0)
            self._route(events, _Request("operator", session_id or "", None, None, None), out)
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
        self._transact_time = format_utc_timestamp(now)
        self._cancel_text = b"58=%s\x01" % text.replace("\x01", " ").encode("ascii", "replace")
        out: list[Outbound] = []
        count = 0
        request = _Request("operator", "", None, None, None)
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
            fmt = info.fmt
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
        if not _ROUTED_TAGS.isdisjoint(message._index):  # on behalf of / to a firm
            return self._answer_to_firm(session_id, message, now)
        return self.on_message(session_id, message, now, _routed=True)

    def _with_copies(self, out: list[Outbound]) -> list[Outbound]:
        """Append, for every ExecutionReport in ``out``, a copy to each drop-copy session
        covering its owner.  The copy is the same report (same ExecID, ClOrdID, order fields)
        with the owner's CompID in OnBehalfOfCompID(115) of the header."""
        copies = []
        targets_of = self._copy_targets
        for message in out:
            if message.msg_type != b"8":
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
                body = b"115=%s\x01%s" % (comp_id.encode("ascii", "replace"), body)
            else:
                body = [(115, comp_id), *body]
            for dc in targets:
                copies.append(Outbound(dc, b"8", body, False))
        if copies:
            out.extend(copies)
        return out

    # ---------------------------------------------------------------- helpers

    def _set_prefix(self, prefix: str) -> None:
        self._exec_id_prefix = prefix.encode("ascii")
        self._order_id_prefix = self._exec_id_prefix + b"O"
        self._prefix_pending = False

    def _book_depth(self, symbol: str, side: Side) -> list[tuple[int, int]]:
        return self.engine.book(symbol).depth(side, 0)

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
            self._route(self.engine.execute(AdvanceTime(now_ms)), _Request("time", "", None, None, None), out)

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

    # ---------------------------------------------------------------- outbound builders

    def _report(self, order: _Order, exec_type, status, cl_ord_id: bytes, orig_cl_ord_id: bytes | None,
                last: bytes = b"", extra: bytes = b"") -> Outbound:
        """An order's ExecutionReport, its body encoded here in one format (the session puts
        it in as it is): [the order's DeliverTo*], 37, 11, [41], 17, 150, 39, its static fields, ``last``
        (LastQty/LastPx), 151, 14, 6, 60, ``extra``; ``last`` and ``extra`` are encoded
        fields too.  Every value is ours or a field the parser split at SOH: none holds one."""
        self._exec_seq = exec_seq = self._exec_seq + 1
        counts = self.report_counts
        counts[exec_type[1]] = counts.get(exec_type[1], 0) + 1
        body = b"%s37=%s\x0111=%s\x01%s17=%s%d\x01%s%s%s%s151=%d\x0114=%d\x016=%s\x0160=%s\x01%s" % (
            order.deliver_to, order.order_id_text, cl_ord_id, b"" if orig_cl_ord_id is None else b"41=%s\x01" % orig_cl_ord_id,
            self._exec_id_prefix, exec_seq, _ENCODED[exec_type], _ENCODED[status],
            order.static or order.static_fields(), last, order.leaves, order.cum_qty, order.avg_px,
            self._transact_time, extra)
        return _new_tuple(Outbound, (order.session_id, b"8", body, False))

    def _order_reject(self, session_id: str, message: FixMessage, cl_ord_id: bytes, reason: int,
                      text: str | bytes) -> Outbound:
        """ER ExecType=8 for an order that never reached the book."""
        self._count_reject("order", reason, b"8")
        body = [(37, b"NONE"), (11, cl_ord_id), (17, self._next_exec_id()), _EXEC_REJECTED, _STATUS_REJECTED,
                (55, message.get(55) or b"?"), (54, message.get(54) or b"?")]
        # echo the order's fields only when they are valid FIX values (a garbled echo would
        # get this reject rejected by the client's session layer)
        for tag, is_valid in _ECHOED_ON_REJECT:
            value = message.get(tag)
            if value is not None and is_valid(value):
                body.append((tag, value))
        body += ((151, _ZERO), (14, _ZERO), (6, _ZERO), (60, self._transact_time), (103, b"%d" % reason),
                 (58, text))
        return Outbound(session_id, b"8", body)

    def _cancel_reject(self, session_id: str, order: _Order | None, cl_ord_id: bytes, orig_cl_ord_id: bytes | None,
                       response_to, reason: int, text: str | bytes) -> Outbound:
        self._count_reject("cancel", reason)
        if order is None:
            order_id, status = b"NONE", _STATUS_REJECTED
        else:
            order_id = order.order_id_text
            if order.final:
                status = order.final_status
            else:
                status = order.live_status()
        if orig_cl_ord_id is None:
            orig_cl_ord_id = order.cl_ord_id if order is not None else b"NONE"
        # encoded here, as _report's bodies are (a "too late to cancel" is a common answer)
        body = b"%s37=%s\x0111=%s\x0141=%s\x01%s%s102=%d\x0160=%s\x0158=%s\x01" % (
            self._deliver_to, order_id, cl_ord_id, orig_cl_ord_id, _ENCODED[status], _ENCODED[response_to], reason,
            self._transact_time, text if type(text) is bytes else text.encode("latin-1"))
        return Outbound(session_id, b"9", body)

    def _business_reject(self, session_id: str, message: FixMessage, reason: int, text: str | bytes) -> Outbound:
        self._count_reject("business", reason)
        body = [(45, message.seq_num or 0), (372, message.msg_type)]
        ref_id = message.get(11) or message.get(262) or message.get(320) or message.get(324)
        if ref_id is not None:
            body.append((379, ref_id))
        body += ((380, b"%d" % reason), (58, text))
        return Outbound(session_id, b"j", body)

    # ---------------------------------------------------------------- D: NewOrderSingle

    def _new_order(self, session_id: str, message: FixMessage, now: float, out: list) -> None:
        (cl_ord_id, symbol, side_text, qty_text, ord_type_text, tif_text, price_text, stop_text, display_text,
         min_qty_text, exec_inst, expire_time_text, expire_date_text) = message.get_many(_NEW_ORDER_TAGS)
        if not (cl_ord_id and symbol and side_text and qty_text and ord_type_text):
            for tag in (11, 55, 54, 38, 40):
                self._require(message, tag)
        session = self._sessions.get(session_id) or self._session(session_id)
        if cl_ord_id in session.by_cl_ord_id:
            out.append(self._order_reject(session_id, message, cl_ord_id, ORD_REJ_DUPLICATE, "duplicate ClOrdID"))
            return
        info = self._symbols_by_bytes.get(symbol)
        if info is None:
            out.append(self._order_reject(session_id, message, cl_ord_id, ORD_REJ_UNKNOWN_SYMBOL,
                                          b"unknown symbol " + symbol))
            return
        if self._halted and info.name in self._halted:
            out.append(self._order_reject(session_id, message, cl_ord_id, ORD_REJ_EXCHANGE_CLOSED,
                                          self._halted_text(info.name, "new orders")))
            return
        reject = self._order_reject
        side = _SIDES.get(side_text)
        ord_type = _ORD_TYPES.get(ord_type_text)
        tif = _TIFS.get(b"0" if tif_text is None else tif_text)
        if side is None or ord_type is None or tif is None:
            which = "Side" if side is None else "OrdType" if ord_type is None else "TimeInForce"
            out.append(reject(session_id, message, cl_ord_id, ORD_REJ_UNSUPPORTED, f"unsupported {which}"))
            return
        try:
            # _qty inlined for the usual plain integer
            qty = int(qty_text) if qty_text.isdigit() and len(qty_text) < 19 else parse_qty(qty_text)
            display_qty = _qty(display_text) if display_text is not None else None
            min_qty = _qty(min_qty_text) if min_qty_text is not None else None
        except (NumberFormatError, NotOnScale):
            out.append(reject(session_id, message, cl_ord_id, ORD_REJ_INCORRECT_QTY, "invalid quantity"))
            return
        if price_text is None and ord_type in _PRICED:
            raise _MissingField(44, "Price is required for OrdType=2/4")
        if stop_text is None and ord_type in _STOPS:
            raise _MissingField(99, "StopPx is required for OrdType=3/4")
        try:
            # info.parse_price's cache, looked up inline (a FIX price seen before)
            price = None if price_text is None else (info.price_cache.get(price_text)
                                                     or info.parse_price(price_text))
            stop_price = info.parse_price(stop_text) if stop_text is not None else None
        except NotOnScale:
            out.append(reject(session_id, message, cl_ord_id, ORD_REJ_OTHER, "price not on tick"))
            return
        except NumberFormatError:
            out.append(reject(session_id, message, cl_ord_id, ORD_REJ_OTHER, "invalid price"))
            return
        expire_time = expire_field = None
        if tif is _GTD or expire_time_text is not None or expire_date_text is not None:
            try:
                expire_time, expire_field = self._expire_time(message)
            except ValueError:
                out.append(reject(session_id, message, cl_ord_id, ORD_REJ_OTHER, "invalid ExpireTime/ExpireDate"))
                return
            if expire_time is None and tif is _GTD:
                raise _MissingField(126, "ExpireTime or ExpireDate is required for TimeInForce=6")
        post_only = False
        if exec_inst is not None:
            instructions = exec_inst.split()
            if any(instruction != b"6" for instruction in instructions):
                out.append(reject(session_id, message, cl_ord_id, ORD_REJ_UNSUPPORTED,
                                  "unsupported ExecInst (only 6 = post-only)"))
                return
            post_only = bool(instructions)
        if tif is _GTD:
            # The engine checks ExpireTime against its own clock: bring it up to now first.
            self._advance_engine_time(now, out)
        order = _Order(session_id, cl_ord_id, info, side, ord_type, price, stop_price, tif, expire_field, qty)
        if self._deliver_to:
            order.deliver_to = self._deliver_to
        if post_only or min_qty is not None or display_qty is not None:
            order.instruction_fields = tuple(field for field in (
                (18, b"6") if post_only else None,
                (110, b"%d" % min_qty) if min_qty is not None else None,
                (111, b"%d" % display_qty) if display_qty is not None else None) if field is not None)
        # tuple.__new__ skips the NamedTuple's Python-level __new__ (every field is given)
        events = self.engine.execute(_new_tuple(NewOrder, (
            info.name, session_id, side, qty, ord_type, price, stop_price, tif, expire_time, display_qty,
            min_qty, post_only, self._stp_by_session.get(session_id, self._default_stp))))
        self._route(events, _new_tuple(_Request, ("new", session_id, cl_ord_id, order, message)), out)

    @staticmethod
    def _expire_time(message: FixMessage) -> tuple[int | None, tuple | None]:
        """ExpireTime(126) as engine milliseconds; else ExpireDate(432) = the end of that UTC day."""
        expire_text = message.get(126)
        if expire_text is not None:
            return int(round(parse_utc_timestamp(expire_text) * 1000)), (126, expire_text)
        date_text = message.get(432)
        if date_text is None:
            return None, None
        if len(date_text) != 8 or not date_text.isdigit():
            raise ValueError("ExpireDate must be YYYYMMDD")
        year, month, day = int(date_text[:4]), int(date_text[4:6]), int(date_text[6:])
        if not (1 <= month <= 12 and 1 <= day <= calendar.monthrange(year, month)[1]):
            raise ValueError("ExpireDate is not a date")
        end_of_day = calendar.timegm((year, month, day, 0, 0, 0)) + 86400
        return end_of_day * 1000, (432, date_text)

    # ---------------------------------------------------------------- F: OrderCancelRequest

    def _cancel(self, session_id: str, message: FixMessage, now: float, out: list) -> None:
        cl_ord_id, order_id_text, orig, symbol, side = message.get_many(_CANCEL_TAGS)
        if not cl_ord_id:
            self._require(message, 11)  # raises
        if orig is None and order_id_text is None:
            raise _MissingField(41)
        session = self._sessions.get(session_id) or self._session(session_id)
        order = self._find_order(session_id, session, order_id_text, orig)
        if cl_ord_id in session.by_cl_ord_id:
            out.append(self._cancel_reject(session_id, order, cl_ord_id, orig, _RESPONSE_TO_CANCEL,
                                           CXL_REJ_DUPLICATE_CL_ORD_ID, "duplicate ClOrdID"))
            return
        if order is None:
            out.append(self._cancel_reject(session_id, None, cl_ord_id, orig, _RESPONSE_TO_CANCEL,
                                           CXL_REJ_UNKNOWN_ORDER, "unknown order"))
            return
        # Symbol and Side identify the order along with OrigClOrdID/OrderID: a cancel naming
        # another instrument or side is refused, never applied to the order (as a replace
        # refuses to change them).
        if (symbol is not None and symbol != order.info.symbol_field[1]) or (
                side is not None and side != order.side_field[1]):
            mismatch = self._cancel_mismatch(order, message)
            out.append(self._cancel_reject(session_id, order, cl_ord_id, orig, _RESPONSE_TO_CANCEL,
                                           CXL_REJ_OTHER, mismatch))
            return
        events = self.engine.execute(_new_tuple(CancelOrder, (order.order_id, session_id)))
        self._route(events, _new_tuple(_Request, ("cancel", session_id, cl_ord_id, order, message)), out)

    @staticmethod
    def _cancel_mismatch(order: _Order, message: FixMessage) -> bytes | None:
        """Text refusing a cancel whose Symbol(55) or Side(54) is not the order's, else None."""
        symbol = message.get(55)
        if symbol is not None and symbol != order.info.symbol_field[1]:
            return (b"Symbol " + symbol + b" does not match the order's Symbol " + order.info.symbol_field[1]
                    + b": order not canceled")
        side = message.get(54)
        if side is not None and side != order.side_field[1]:
            return b"Side " + side + b" does not match the order's Side " + order.side_field[1] + b": order not canceled"
        return None

    # ---------------------------------------------------------------- G: OrderCancelReplaceRequest

    def _replace(self, session_id: str, message: FixMessage, now: float, out: list) -> None:
        require = self._require
        cl_ord_id = require(message, 11)
        order_id_text = message.get(37)
        orig = message.get(41)
        if orig is None and order_id_text is None:
            raise _MissingField(41)
        qty_text = require(message, 38)
        ord_type_text = require(message, 40)
        session = self._session(session_id)
        order = self._find_order(session_id, session, order_id_text, orig)

        def refuse(reason: int, text: str) -> None:
            out.append(self._cancel_reject(session_id, order, cl_ord_id, orig, _RESPONSE_TO_REPLACE, reason, text))

        if cl_ord_id in session.by_cl_ord_id:
            return refuse(CXL_REJ_DUPLICATE_CL_ORD_ID, "duplicate ClOrdID")
        if order is None:
            return refuse(CXL_REJ_UNKNOWN_ORDER, "unknown order")
        info = order.info
        if self._halted and info.name in self._halted:
            return refuse(CXL_REJ_EXCHANGE_OPTION, self._halted_text(info.name, "replaces"))
        if _ORD_TYPES.get(ord_type_text) is not order.ord_type:
            return refuse(CXL_REJ_EXCHANGE_OPTION, "OrdType cannot be changed")
        side_text = message.get(54)
        if side_text is not None and side_text != order.side_field[1]:
            return refuse(CXL_REJ_EXCHANGE_OPTION, "Side cannot be changed")
        symbol = message.get(55)
        if symbol is not None and symbol != info.symbol_field[1]:
            return refuse(CXL_REJ_EXCHANGE_OPTION, "Symbol cannot be changed")
        tif_text = message.get(59)
        if tif_text is not None and _TIFS.get(tif_text) is not order.tif:
            return refuse(CXL_REJ_EXCHANGE_OPTION, "TimeInForce cannot be changed")
        price_text = message.get(44)
        if price_text is None and order.ord_type in _PRICED:
            raise _MissingField(44, "Price is required for OrdType=2/4")
        try:
            qty = parse_qty(qty_text)
        except (NumberFormatError, NotOnScale):
            return refuse(CXL_REJ_OTHER, "invalid quantity")
        try:
            price = parse_price(price_text, info.scale) if price_text is not None else None
            stop_text = message.get(99)
            if stop_text is not None and parse_price(stop_text, info.scale) != order.stop_price:
                return refuse(CXL_REJ_EXCHANGE_OPTION, "StopPx cannot be changed")
        except NotOnScale:
            return refuse(CXL_REJ_OTHER, "price not on tick")
        except NumberFormatError:
            return refuse(CXL_REJ_OTHER, "invalid price")
        if order.ord_type not in _PRICED:
            price = None  # market/stop orders carry no limit price to change
        # The engine's replace changes quantity and price only: a G that would change
        # ExpireTime/ExpireDate, MinQty, MaxFloor or ExecInst is refused, not accepted with the
        # old values.  One lookup when the G carries none of them (the usual case).
        unchangeable = message.get_many(_REPLACE_FIXED_TAGS)
        if unchangeable != _NO_REPLACE_FIXED:
            changed = self._replace_changes(order, unchangeable)
            if changed is not None:
                if changed.startswith("invalid"):
                    return refuse(CXL_REJ_OTHER, changed)
                return refuse(CXL_REJ_EXCHANGE_OPTION,
                              changed + " cannot be changed by a replace; cancel and enter a new order")
        events = self.engine.execute(_new_tuple(ReplaceOrder, (order.order_id, qty, price, session_id)))
        self._route(events, _new_tuple(_Request, ("replace", session_id, cl_ord_id, order, message)), out)

    @classmethod
    def _replace_changes(cls, order: _Order, values: tuple) -> str | None:
        """The name of the first field among MinQty, MaxFloor, ExecInst, ExpireTime/ExpireDate
        that a G would change (``values`` in ``_REPLACE_FIXED_TAGS`` order), "invalid ..." for a
        value that does not parse, else None.  An absent field keeps the order's value."""
        min_qty_text, display_text, exec_inst, expire_time_text, expire_date_text = values
        entered = dict(order.instruction_fields)
        for tag, name, text in ((110, "MinQty", min_qty_text), (111, "MaxFloor", display_text)):
            if text is not None:
                try:
                    value = _qty(text)
                except (NumberFormatError, NotOnScale):
                    return "invalid " + name
                if b"%d" % value != entered.get(tag):
                    return name
        if exec_inst is not None:
            instructions = set(exec_inst.split())
            if instructions != ({b"6"} if 18 in entered else set()):
                return "ExecInst"
        if expire_time_text is not None or expire_date_text is not None:
            name = "ExpireTime" if expire_time_text is not None else "ExpireDate"
            try:
                wanted, _ = cls._expire_time(_Fields({126: expire_time_text, 432: expire_date_text}))
            except ValueError:
                return "invalid ExpireTime/ExpireDate"
            current = None
            if order.expire_field is not None:
                current, _ = cls._expire_time(_Fields(dict((order.expire_field,))))
            if wanted != current:
                return name
        return None

    # ---------------------------------------------------------------- H: OrderStatusRequest

    def _status(self, session_id: str, message: FixMessage, now: float, out: list) -> None:
        # Symbol/Side are not checked (unlike a cancel): the report carries the order's own.
        cl_ord_id = self._require(message, 11)
        session = self._session(session_id)
        order = self._find_order(session_id, session, message.get(37), cl_ord_id)
        request = _Request("status", session_id, cl_ord_id, order, message)
        if order is None:
            self._status_unknown(request, out)
            return
        self._route(self.engine.execute(OrderStatusQuery(order.order_id, session_id)), request, out)

    def _status_unknown(self, request: _Request, out: list) -> None:
        message = request.message
        body = [(37, message.get(37) or b"NONE"), (11, request.cl_ord_id)]
        status_req_id = message.get(790)
        if status_req_id is not None:
            body.append((790, status_req_id))
        body += ((17, self._next_exec_id()), _EXEC_STATUS, _STATUS_REJECTED, (55, message.get(55) or b"?"),
                 (54, message.get(54) or b"?"), (151, _ZERO), (14, _ZERO), (6, _ZERO),
                 (60, self._transact_time), (103, b"%d" % ORD_REJ_UNKNOWN_ORDER), (58, "unknown order"))
        out.append(Outbound(request.session_id, b"8", body))

    # ---------------------------------------------------------------- q: OrderMassCancelRequest

    def _mass_cancel(self, session_id: str, message: FixMessage, now: float, out: list) -> None:
        cl_ord_id = self._require(message, 11)
        request_type = self._require(message, 530)
        symbol_text = message.get(55)
        side_text = message.get(54)
        request = _Request("mass", session_id, cl_ord_id, None, message)
        if request_type == MASS_CANCEL_BY_SYMBOL:
            if symbol_text is None:
                raise _MissingField(55, "Symbol is required for MassCancelRequestType=1")
            info = self._symbols_by_bytes.get(symbol_text)
            if info is None:
                out.append(self._mass_cancel_report(request, 0, MASS_CANCEL_REJECT_UNKNOWN_SECURITY,
                                                    "unknown symbol"))
                return
            symbol = info.name
        elif request_type == MASS_CANCEL_ALL:
            symbol = None
        else:
            out.append(self._mass_cancel_report(request, 0, MASS_CANCEL_REJECT_NOT_SUPPORTED,
                                                "MassCancelRequestType must be 1 (symbol) or 7 (all)"))
            return
        side = None
        if side_text is not None:
            side = _SIDES.get(side_text)
            if side is None:
                out.append(self._mass_cancel_report(request, 0, MASS_CANCEL_REJECT_OTHER, "unsupported Side"))
                return
        self._route(self.engine.execute(MassCancel(session_id, symbol, side)), request, out)

    def _mass_cancel_report(self, request: _Request, count: int, reject_reason: bytes | None = None,
                            text: str | None = None) -> Outbound:
        message = request.message
        request_type = message.get(530)
        body = [(11, request.cl_ord_id), (37, self._next_exec_id()), (530, request_type),
                (531, b"0" if reject_reason is not None else request_type)]
        if reject_reason is not None:
            body.append((532, reject_reason))
        body.append((533, count))
        for tag in (55, 54):
            value = message.get(tag)
            if value is not None:
                body.append((tag, value))
        body.append((60, self._transact_time))
        if text is not None:
            body.append((58, text))
        return Outbound(request.session_id, b"r", body)

    # ---------------------------------------------------------------- V: MarketDataRequest

    def _market_data_request(self, session_id: str, message: FixMessage, now: float, out: list) -> None:
        md_req_id = self._require(message, 262)
        subscription_type = self._require(message, 263)

        def refuse(reason: bytes | None, text: str | bytes) -> None:
            body = [(262, md_req_id)]
            if reason is not None:
                body.append((281, reason))
            body.append((58, text))
            out.append(Outbound(session_id, b"Y", body, True))

        if subscription_type == b"2":
            if not self.market_data.unsubscribe(session_id, md_req_id):
                # No MDReqRejReason fits "unknown MDReqID": the field is optional, Text says it.
                refuse(None, "unknown MDReqID")
            return
        if subscription_type not in (b"0", b"1"):
            return refuse(MD_REJ_UNSUPPORTED_SUBSCRIPTION_TYPE, "SubscriptionRequestType must be 0, 1 or 2")
        depth_text = self._require(message, 264)
        if not depth_text.isdigit() or len(depth_text) > 18:  # (int() refuses 4300+ digits)
            return refuse(MD_REJ_UNSUPPORTED_DEPTH, "MarketDepth must be 0 (full book) or N")
        depth = int(depth_text)
        # MDUpdateType is required for subscriptions; a missing one means incremental (lenient).
        update_type = message.get(265, b"1")
        if update_type not in (b"0", b"1"):
            return refuse(MD_REJ_UNSUPPORTED_UPDATE_TYPE, "MDUpdateType must be 0 (full) or 1 (incremental)")
        if message.get(266, b"Y") != b"Y":
            return refuse(MD_REJ_UNSUPPORTED_AGGREGATION, "only aggregated books (AggregatedBook=Y)")
        entry_types = []
        symbols = []
        for tag, value in message.fields:
            if tag == 269:
                code = ENTRY_TYPE_CODES.get(value)
                if code is None:
                    return refuse(MD_REJ_UNSUPPORTED_ENTRY_TYPE,
                                  b"unsupported MDEntryType %s (0, 1, 2 only)" % value)
                entry_types.append(code)
            elif tag == 55:
                info = self._symbols_by_bytes.get(value)
                if info is None:
                    return refuse(MD_REJ_UNKNOWN_SYMBOL, b"unknown symbol " + value)
                if info.name not in symbols:
                    symbols.append(info.name)
        if not entry_types:
            raise _MissingField(269, "NoMDEntryTypes group with at least one MDEntryType")
        if not symbols:
            raise _MissingField(55, "NoRelatedSym group with at least one Symbol")
        wanted = frozenset(entry_types)
        if wanted == ALL_ENTRY_TYPES:
            wanted = ALL_ENTRY_TYPES
        if subscription_type == b"0":
            out.extend(self.market_data.snapshot(session_id, md_req_id, tuple(symbols), depth, wanted,
                                                 "aggressor_side" in self._extensions_of(session_id)))
            return
        if self.market_data.subscription(session_id, md_req_id) is not None:
            return refuse(MD_REJ_DUPLICATE_ID, "duplicate MDReqID")
        out.extend(self.market_data.subscribe(
            Subscription(session_id, md_req_id, tuple(symbols), depth, wanted, update_type == b"1",
                         "aggressor_side" in self._extensions_of(session_id))))

    # ---------------------------------------------------------------- x: SecurityListRequest

    def _security_list_request(self, session_id: str, message: FixMessage, now: float, out: list) -> None:
        req_id = self._require(message, 320)
        request_type = self._require(message, 559)
        if request_type == b"4":
            infos = list(self._symbols.values())
        elif request_type == b"0":
            symbol = self._require(message, 55, "Symbol is required for SecurityListRequestType=0")
            info = self._symbols_by_bytes.get(symbol)
            infos = [info] if info is not None else []
        else:
            infos = None
        body: list = [(320, req_id), (322, self._next_exec_id())]
        # FIX 4.4 SecurityList has no Text outside its entries: SecurityRequestResult says it all
        if infos is None:
            body.append((560, b"1"))  # invalid or unsupported request (types 0 and 4 only)
        elif not infos:
            body.append((560, b"2"))  # no instruments found
        else:
            body += ((560, b"0"), (393, len(infos)), (893, b"Y"), (146, len(infos)))
            min_price_increment = "min_price_increment" in self._extensions_of(session_id)
            for info in infos:
                spec = info.spec
                tick = info.fmt(spec.tick)
                body += (info.symbol_field, (561, b"%d" % spec.lot), (562, b"%d" % spec.min_qty))
                if min_price_increment:
                    body.append((969, tick))
                body.append((58, b"MinPriceIncrement=%s TradingStatus=%s"
                              % (tick, b"halted" if info.name in self._halted else b"open")))
        out.append(Outbound(session_id, b"y", body))

    # ---------------------------------------------------------------- e: SecurityStatusRequest

    def _security_status_request(self, session_id: str, message: FixMessage, now: float, out: list) -> None:
        req_id = self._require(message, 324)
        request_type = self._require(message, 263)
        status = self.trading_status
        if request_type == b"2":
            if not status.unsubscribe(session_id, req_id):
                out.append(self._business_reject(session_id, message, BUSINESS_REJECT_OTHER,
                                                 "unknown SecurityStatusReqID"))
            return
        if request_type not in (b"0", b"1"):
            out.append(self._business_reject(session_id, message, BUSINESS_REJECT_OTHER,
                                             "SubscriptionRequestType must be 0, 1 or 2"))
            return
        symbol = self._require(message, 55)
        info = self._symbols_by_bytes.get(symbol)
        if info is None:
            out.append(self._business_reject(session_id, message, BUSINESS_REJECT_UNKNOWN_SECURITY,
                                             b"unknown symbol " + symbol))
            return
        if request_type == b"1":
            if status.subscribed(session_id, req_id):
                out.append(self._business_reject(session_id, message, BUSINESS_REJECT_OTHER,
                                                 "duplicate SecurityStatusReqID"))
                return
            if not status.subscribe(session_id, req_id, info.name):
                out.append(self._business_reject(session_id, message, BUSINESS_REJECT_OTHER,
                                                 "too many SecurityStatus subscriptions"))
                return
        out.append(status.message(session_id, req_id, info.name, False, self._transact_time))

    # ---------------------------------------------------------------- engine events -> FIX

    def _route(self, events: list, request: _Request, out: list) -> None:
        """Engine events (``Engine.execute``'s flat tuples) -> ERs / market data."""
        orders = self._orders
        market_data = self.market_data
        watched = market_data.watched
        report = self._report
        request_kind, _, request_cl_ord_id, request_order, _ = request  # (NamedTuple attributes are slow reads)
        for event in events:
            kind = event[0]
            if kind is LevelChanged:
                if event[1] in watched:  # (no depth bookkeeping for a symbol nobody watches)
                    _, symbol, side, price, qty = event
                    market_data.level_changed(symbol, side, price, qty)
            elif kind is Trade:
                (_, symbol, _, price, qty, _, taker_id, _, taker_cum, taker_leaves, taker_notional,
                 maker_id, _, maker_cum, maker_leaves, maker_notional) = event
                # the taker's ER, the maker's ER (each only for an order entered through
                # FIX, not seeded liquidity), then the trade print
                order = orders.get(taker_id)
                if order is not None:
                    out.append(self._fill(order, price, qty, taker_cum, taker_leaves, taker_notional,
                                          _REMOVED_LIQUIDITY))
                order = orders.get(maker_id)
                if order is not None:
                    out.append(self._fill(order, price, qty, maker_cum, maker_leaves, maker_notional,
                                          _ADDED_LIQUIDITY))
                market_data.trade_printed(symbol, price, qty, self._transact_time, event[5])
                counts = self.trade_counts.get(symbol)
                if counts is None:
                    counts = self.trade_counts[symbol] = [0, 0]
                counts[0] += 1
                counts[1] += qty
            elif kind is Accepted:
                order = request_order
                if order is None or request_kind != "new":
                    continue
                order_id = event[1]
                order.order_id = order_id
                order.order_id_text = self._order_id_prefix + b"%d" % order_id
                orders[order_id] = order
                self._sessions[order.session_id].by_cl_ord_id[order.cl_ord_id] = order
                out.append(report(order, _EXEC_NEW, _STATUS_NEW, order.cl_ord_id, None))
            elif kind is Cancelled:
                _, order_id, _, _, _, reason, _, cum_qty, cum_notional, qty = event
                order = orders.get(order_id)
                if order is None:
                    continue
                if order.qty != qty - order.stp_decremented:
                    order.qty = qty - order.stp_decremented
                    order.static = None
                order.cum_qty = cum_qty
                order.cum_notional = cum_notional
                if order is request_order and (request_kind == "cancel" or request_kind == "replace"):
                    cl_ord_id, orig = self._new_cl_ord_id(order, request_cl_ord_id)
                else:
                    cl_ord_id, orig = order.cl_ord_id, None
                self._finish(order, _STATUS_CANCELED)
                out.append(report(order, _EXEC_CANCELED, _STATUS_CANCELED, cl_ord_id, orig,
                                  extra=self._cancel_text or _CANCEL_TEXT_FIELD.get(reason, b"58=canceled\x01")))
            elif kind is Replaced:
                _, order_id, _, _, _, price, qty, cum_qty, leaves_qty, _, _ = event
                order = orders.get(order_id)
                if order is None:
                    continue
                if price is not None:
                    order.price = price
                order.qty = qty
                order.stp_decremented = 0  # the engine's replace starts the order's qty afresh
                order.static = None
                order.cum_qty = cum_qty
                order.leaves = leaves_qty
                if order is request_order and (request_kind == "cancel" or request_kind == "replace"):
                    cl_ord_id, orig = self._new_cl_ord_id(order, request_cl_ord_id)
                else:
                    cl_ord_id, orig = order.cl_ord_id, None
                out.append(report(order, _EXEC_REPLACED, order.live_status(), cl_ord_id, orig))
            elif kind is Restated:
                _, order_id, _, _, _, _, decrement_qty, qty, cum_qty, leaves_qty, _ = event
                order = orders.get(order_id)
                if order is None:
                    continue
                # The engine's qty still counts what STP removed; FIX wants OrderQty = CumQty + LeavesQty.
                order.stp_decremented += decrement_qty
                order.qty = qty - order.stp_decremented
                order.static = None
                order.cum_qty = cum_qty
                order.leaves = leaves_qty
                out.append(report(order, _EXEC_RESTATED, order.live_status(), order.cl_ord_id, None,
                                  extra=b"378=99\x0158=self-trade prevention: OrderQty decremented by %d\x01"
                                  % decrement_qty))
            elif kind is Triggered:
                order = orders.get(event[1])
                if order is None:
                    continue
                if "exec_type_triggered" in self._extensions_of(order.session_id):
                    out.append(report(order, _EXEC_TRIGGERED, order.live_status(), order.cl_ord_id, None))
                else:  # FIX 4.4 has no ExecType for it: the order was restated by the market
                    out.append(report(order, _EXEC_RESTATED, order.live_status(), order.cl_ord_id, None,
                                      extra=_STOP_TRIGGERED_FIELDS))
            elif kind is Expired:
                _, order_id, _, _, _, _, cum_qty, _, qty = event
                order = orders.get(order_id)
                if order is None:
                    continue
                if order.qty != qty - order.stp_decremented:
                    order.qty = qty - order.stp_decremented
                    order.static = None
                order.cum_qty = cum_qty
                self._finish(order, _STATUS_EXPIRED)
                out.append(report(order, _EXEC_EXPIRED, _STATUS_EXPIRED, order.cl_ord_id, None))
            elif kind is OrderState:
                order = request_order
                view = event[1]
                if order is None or order.order_id != view.order_id:
                    continue
                order.qty = view.qty - order.stp_decremented
                order.cum_qty = view.cum_qty
                order.leaves = view.leaves_qty
                order.price = view.price
                order.static = None
                extra = b"790=%s\x01" % request.message.get(790) if 790 in request.message else b""
                out.append(report(order, _EXEC_STATUS, _STATUS_FIELD[view.status], order.cl_ord_id, None,
                                  extra=extra))
            elif kind is MassCancelDone:
                if request_kind == "mass":
                    out.append(self._mass_cancel_report(request, event[1]))
            elif kind is Rejected:
                _, _, reason, text = event
                self._rejected(reason, text, request, out)

    def _extensions_of(self, session_id: str) -> frozenset[str]:
        return self._extensions.get(session_id, self._default_extensions)

    def _fill(self, order: _Order, price: int, qty: int, cum_qty: int, leaves: int, cum_notional: int,
              liquidity: bytes) -> Outbound:
        """The ER (ExecType F) for one side of a trade; ``liquidity``: its LastLiquidityInd
        field, added (the resting order) or removed (the aggressor)."""
        order.cum_qty = cum_qty
        order.leaves = leaves
        order.cum_notional = cum_notional
        info = order.info
        fmt = info.fmt
        average, remainder = divmod(cum_notional, cum_qty)
        order.avg_px = format_avg_px(cum_notional, cum_qty, info.scale) if remainder else fmt(average)
        last = b"32=%d\x0131=%s\x01%s" % (qty, fmt(price), liquidity)
        if leaves:
            return self._report(order, _EXEC_TRADE, _STATUS_PARTIAL, order.cl_ord_id, None, last)
        self._finish(order, _STATUS_FILLED)
        return self._report(order, _EXEC_TRADE, _STATUS_FILLED, order.cl_ord_id, None, last)

    def _new_cl_ord_id(self, order: _Order, cl_ord_id: bytes) -> tuple[bytes, bytes]:
        """For the order a cancel/replace request targets (the caller checks that): the
        request's ClOrdID becomes the order's (reported with OrigClOrdID = the previous one)."""
        orig = order.cl_ord_id
        if cl_ord_id != orig:
            order.earlier_cl_ord_ids += (orig,)
            order.cl_ord_id = cl_ord_id
            self._session(order.session_id).by_cl_ord_id[cl_ord_id] = order
        return cl_ord_id, orig

    def _rejected(self, reason: RejectReason, text: str, request: _Request, out: list) -> None:
        kind = request.kind
        if kind in ("new", "cancel", "replace"):
            # Text in FIX terms (prices, quantities, UTC times), not the engine's units
            order = request.order
            text = reject_text(reason, text, order.info.spec if order is not None else None,
                               request.message, self._transact_time)
        if kind == "new":
            out.append(self._order_reject(request.session_id, request.message, request.cl_ord_id,
                                          _ORD_REJ_FOR_ENGINE.get(reason, ORD_REJ_OTHER), text))
        elif kind in ("cancel", "replace"):
            out.append(self._cancel_reject(
                request.session_id, request.order, request.cl_ord_id, request.message.get(41),
                _RESPONSE_TO_CANCEL if kind == "cancel" else _RESPONSE_TO_REPLACE,
                _CXL_REJ_FOR_ENGINE.get(reason, CXL_REJ_OTHER), text))
        elif kind == "status":
            order = request.order
            if order is not None and order.final:
                # a final order the engine no longer retains (it keeps the last retain_final
                # across all sessions): the gateway still knows how it ended
                message = request.message
                extra = b"790=%s\x01" % message.get(790) if 790 in message else b""
                out.append(self._report(order, _EXEC_STATUS, order.final_status, order.cl_ord_id, None,
                                        extra=extra))
            else:
                self._status_unknown(request, out)
        elif kind == "mass":
            out.append(self._mass_cancel_report(request, 0, MASS_CANCEL_REJECT_OTHER, text))
