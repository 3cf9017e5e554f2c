"""What the gateway's parts share: FIX field values and reject codes, the order record,
parsing helpers."""

from __future__ import annotations

from collections import deque
from typing import NamedTuple

from fixexchange.codec import FixMessage
from fixexchange.engine import (
    CancelReason,
    OrderStatus,
    OrdType,
    RejectReason,
    Side,
    StpMode,
    SymbolSpec,
    TimeInForce,
)

from .units import parse_price, parse_qty, PriceFormatter

# Final orders (and their ClOrdIDs) remembered per session: duplicate-ClOrdID detection and
# status requests for recently finished orders.  Older ones are forgotten.
RECENT_FINAL_ORDERS_PER_SESSION = 10_000
# market-data subscriptions one session may hold at once (the config's default)
MAX_MARKET_DATA_SUBSCRIPTIONS = 100

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
MD_REJ_INSUFFICIENT_BANDWIDTH = b"2"  # (also: too many subscriptions on the session)
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
