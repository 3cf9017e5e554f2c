"""What the gateway's parts share: FIX field values and reject codes, the order record,
parsing helpers."""

from __future__ import annotations

from collections import deque

from fixexchange.codec import tags
from fixexchange.codec.encoder import encode_body, encoded_field, fields_format
from fixexchange.codec.tags import (
    BusinessRejectReasons,
    CxlRejReasons,
    CxlRejResponseTos,
    ExecRestatementReasons,
    ExecTypes,
    LastLiquidityInds,
    MassCancelRejectReasons,
    MassCancelRequestTypes,
    MDReqRejReasons,
    MsgTypes,
    OrdRejReasons,
    OrdStatuses,
    OrdTypes,
    Sides,
    TimeInForces,
)
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

# (tags.Side, tags.OrdType and tags.TimeInForce are the tag numbers; Side, OrdType and
# TimeInForce here the engine's enums)
SIDES = {Sides.BUY: Side.BUY, Sides.SELL: Side.SELL}
ORD_TYPES = {OrdTypes.MARKET: OrdType.MARKET, OrdTypes.LIMIT: OrdType.LIMIT, OrdTypes.STOP: OrdType.STOP,
             OrdTypes.STOP_LIMIT: OrdType.STOP_LIMIT}
TIFS = {TimeInForces.DAY: TimeInForce.DAY, TimeInForces.GOOD_TILL_CANCEL: TimeInForce.GTC,
        TimeInForces.IMMEDIATE_OR_CANCEL: TimeInForce.IOC, TimeInForces.FILL_OR_KILL: TimeInForce.FOK,
        TimeInForces.GOOD_TILL_DATE: TimeInForce.GTD}
_PRICED = (OrdType.LIMIT, OrdType.STOP_LIMIT)
_GTD = TimeInForce.GTD  # (an enum member read from its class costs a descriptor call)
_STOPS = (OrdType.STOP, OrdType.STOP_LIMIT)

_SIDE_FIELD = {side: (tags.Side, value) for value, side in SIDES.items()}
_ORD_TYPE_FIELD = {ord_type: (tags.OrdType, value) for value, ord_type in ORD_TYPES.items()}
_TIF_FIELD = {tif: (tags.TimeInForce, value) for value, tif in TIFS.items()}

_EXEC_NEW = (tags.ExecType, ExecTypes.NEW)
_EXEC_CANCELED = (tags.ExecType, ExecTypes.CANCELED)
_EXEC_REPLACED = (tags.ExecType, ExecTypes.REPLACED)
_EXEC_REJECTED = (tags.ExecType, ExecTypes.REJECTED)
_EXEC_EXPIRED = (tags.ExecType, ExecTypes.EXPIRED)
_EXEC_RESTATED = (tags.ExecType, ExecTypes.RESTATED)
_EXEC_TRADE = (tags.ExecType, ExecTypes.TRADE)
_EXEC_STATUS = (tags.ExecType, ExecTypes.ORDER_STATUS)
_EXEC_TRIGGERED = (tags.ExecType, ExecTypes.TRIGGERED)  # beyond FIX 4.4: an opt-in extension
# The default report of an elected stop (FIX 4.4 has no ExecType L): Restated, by the market
_STOP_TRIGGERED_FIELDS = (encoded_field(tags.ExecRestatementReason, ExecRestatementReasons.MARKET_OPTION)
                          + encoded_field(tags.Text, b"stop triggered"))
# LastLiquidityInd(851) of a fill
_ADDED_LIQUIDITY = encoded_field(tags.LastLiquidityInd, LastLiquidityInds.ADDED_LIQUIDITY)
_REMOVED_LIQUIDITY = encoded_field(tags.LastLiquidityInd, LastLiquidityInds.REMOVED_LIQUIDITY)
# Wire extensions beyond FIX 4.4 a session may opt into (see Gateway)
EXTENSIONS = frozenset(("exec_type_triggered", "aggressor_side", "min_price_increment"))
# OrdStatus (39)
_STATUS_NEW = (tags.OrdStatus, OrdStatuses.NEW)
_STATUS_PARTIAL = (tags.OrdStatus, OrdStatuses.PARTIALLY_FILLED)
_STATUS_FILLED = (tags.OrdStatus, OrdStatuses.FILLED)
_STATUS_CANCELED = (tags.OrdStatus, OrdStatuses.CANCELED)
_STATUS_REJECTED = (tags.OrdStatus, OrdStatuses.REJECTED)
_STATUS_EXPIRED = (tags.OrdStatus, OrdStatuses.EXPIRED)
_STATUS_FIELD = {OrderStatus.NEW: _STATUS_NEW, OrderStatus.PARTIALLY_FILLED: _STATUS_PARTIAL,
                 OrderStatus.FILLED: _STATUS_FILLED, OrderStatus.CANCELLED: _STATUS_CANCELED,
                 OrderStatus.EXPIRED: _STATUS_EXPIRED}

# The reason codes the gateway answers with (docs/FIX_SPEC.md lists them by these names)
ORD_REJ_UNKNOWN_SYMBOL = OrdRejReasons.UNKNOWN_SYMBOL
ORD_REJ_UNKNOWN_ORDER = OrdRejReasons.UNKNOWN_ORDER
ORD_REJ_DUPLICATE = OrdRejReasons.DUPLICATE_ORDER
ORD_REJ_UNSUPPORTED = OrdRejReasons.UNSUPPORTED_ORDER_CHARACTERISTIC
ORD_REJ_INCORRECT_QTY = OrdRejReasons.INCORRECT_QUANTITY
ORD_REJ_OTHER = OrdRejReasons.OTHER
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

CXL_REJ_TOO_LATE = CxlRejReasons.TOO_LATE_TO_CANCEL
CXL_REJ_UNKNOWN_ORDER = CxlRejReasons.UNKNOWN_ORDER
CXL_REJ_EXCHANGE_OPTION = CxlRejReasons.BROKER_OPTION
CXL_REJ_DUPLICATE_CL_ORD_ID = CxlRejReasons.DUPLICATE_CL_ORD_ID
CXL_REJ_OTHER = CxlRejReasons.OTHER
_CXL_REJ_FOR_ENGINE = {RejectReason.UNKNOWN_ORDER: CXL_REJ_UNKNOWN_ORDER,
                       RejectReason.TOO_LATE_TO_CANCEL: CXL_REJ_TOO_LATE}
_RESPONSE_TO_CANCEL = (tags.CxlRejResponseTo, CxlRejResponseTos.ORDER_CANCEL_REQUEST)
_RESPONSE_TO_REPLACE = (tags.CxlRejResponseTo, CxlRejResponseTos.ORDER_CANCEL_REPLACE_REQUEST)
# ExecutionReports and OrderCancelRejects of orders are built as encoded bytes (see _report):
# these fields' text, checked against the dictionary here
_ENCODED = {field: encoded_field(*field, extension=field is _EXEC_TRIGGERED) for field in (
    _EXEC_NEW, _EXEC_CANCELED, _EXEC_REPLACED, _EXEC_REJECTED, _EXEC_EXPIRED, _EXEC_RESTATED, _EXEC_TRADE,
    _EXEC_STATUS, _EXEC_TRIGGERED, _STATUS_NEW, _STATUS_PARTIAL, _STATUS_FILLED, _STATUS_CANCELED,
    _STATUS_REJECTED, _STATUS_EXPIRED, _RESPONSE_TO_CANCEL, _RESPONSE_TO_REPLACE)}

BUSINESS_REJECT_OTHER = BusinessRejectReasons.OTHER
BUSINESS_REJECT_UNKNOWN_SECURITY = BusinessRejectReasons.UNKNOWN_SECURITY
BUSINESS_REJECT_UNSUPPORTED_TYPE = BusinessRejectReasons.UNSUPPORTED_MESSAGE_TYPE
BUSINESS_REJECT_FIELD_MISSING = BusinessRejectReasons.CONDITIONALLY_REQUIRED_FIELD_MISSING
BUSINESS_REJECT_NOT_AUTHORIZED = BusinessRejectReasons.NOT_AUTHORIZED
# OrdRejReason 2 "Exchange closed": the FIX 4.4 code for "this instrument does not trade now"
ORD_REJ_EXCHANGE_CLOSED = OrdRejReasons.EXCHANGE_CLOSED
# what a drop-copy session may not send (it observes, it does not trade)
_TRADING_MSG_TYPES = frozenset((MsgTypes.NEW_ORDER_SINGLE, MsgTypes.ORDER_CANCEL_REQUEST,
                                MsgTypes.ORDER_CANCEL_REPLACE_REQUEST, MsgTypes.ORDER_STATUS_REQUEST,
                                MsgTypes.ORDER_MASS_CANCEL_REQUEST))

MD_REJ_UNKNOWN_SYMBOL = MDReqRejReasons.UNKNOWN_SYMBOL
MD_REJ_DUPLICATE_ID = MDReqRejReasons.DUPLICATE_MD_REQ_ID
MD_REJ_INSUFFICIENT_BANDWIDTH = MDReqRejReasons.INSUFFICIENT_BANDWIDTH  # (also: too many subscriptions)
MD_REJ_UNSUPPORTED_SUBSCRIPTION_TYPE = MDReqRejReasons.UNSUPPORTED_SUBSCRIPTION_REQUEST_TYPE
MD_REJ_UNSUPPORTED_DEPTH = MDReqRejReasons.UNSUPPORTED_MARKET_DEPTH
MD_REJ_UNSUPPORTED_UPDATE_TYPE = MDReqRejReasons.UNSUPPORTED_MD_UPDATE_TYPE
MD_REJ_UNSUPPORTED_AGGREGATION = MDReqRejReasons.UNSUPPORTED_AGGREGATED_BOOK
MD_REJ_UNSUPPORTED_ENTRY_TYPE = MDReqRejReasons.UNSUPPORTED_MD_ENTRY_TYPE

MASS_CANCEL_BY_SYMBOL = MassCancelRequestTypes.CANCEL_ORDERS_FOR_A_SECURITY
MASS_CANCEL_ALL = MassCancelRequestTypes.CANCEL_ALL_ORDERS
MASS_CANCEL_REJECT_NOT_SUPPORTED = MassCancelRejectReasons.MASS_CANCEL_NOT_SUPPORTED
MASS_CANCEL_REJECT_UNKNOWN_SECURITY = MassCancelRejectReasons.INVALID_OR_UNKNOWN_SECURITY
MASS_CANCEL_REJECT_OTHER = MassCancelRejectReasons.OTHER

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

_CANCEL_TEXT_FIELD = {reason: encoded_field(tags.Text, text) for reason, text in _CANCEL_TEXT.items()}
_CANCELED_TEXT_FIELD = encoded_field(tags.Text, b"canceled")

# Third-party routing: a request sent on behalf of a firm (OnBehalfOfCompID 115, SubID 116,
# LocationID 144) is answered to that firm (DeliverToCompID 128, 129, 145), one addressed to
# a firm (DeliverTo*) is answered on behalf of it (OnBehalfOf*), and so is every later
# report of an order it entered.  These are header fields: they go first in the body, which
# the session encodes right after SendingTime, still inside the header.
# (inbound tag, tag of the answer), in the answer's header order
_REVERSE_ROUTE = ((tags.DeliverToCompID, tags.OnBehalfOfCompID), (tags.OnBehalfOfCompID, tags.DeliverToCompID),
                  (tags.DeliverToSubID, tags.OnBehalfOfSubID), (tags.DeliverToLocationID, tags.OnBehalfOfLocationID),
                  (tags.OnBehalfOfSubID, tags.DeliverToSubID), (tags.OnBehalfOfLocationID, tags.DeliverToLocationID))

_ZERO = b"0"
# NewOrderSingle fields read in one get_many call
_NEW_ORDER_TAGS = (tags.ClOrdID, tags.Symbol, tags.Side, tags.OrderQty, tags.OrdType, tags.TimeInForce, tags.Price,
                   tags.StopPx, tags.MaxFloor, tags.MinQty, tags.ExecInst, tags.ExpireTime, tags.ExpireDate)
_NEW_ORDER_REQUIRED_TAGS = (tags.ClOrdID, tags.Symbol, tags.Side, tags.OrderQty, tags.OrdType)
_CANCEL_TAGS = (tags.ClOrdID, tags.OrderID, tags.OrigClOrdID, tags.Symbol, tags.Side)
# OrderCancelReplaceRequest fields read in one get_many call (those it may not change aside)
_REPLACE_TAGS = (tags.ClOrdID, tags.OrderID, tags.OrigClOrdID, tags.OrderQty, tags.OrdType, tags.Side, tags.Symbol,
                 tags.TimeInForce, tags.Price, tags.StopPx)
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


_ECHOED_ON_REJECT = ((tags.OrderQty, _is_decimal), (tags.OrdType, ORD_TYPES.__contains__), (tags.Price, _is_decimal),
                     (tags.StopPx, _is_decimal), (tags.TimeInForce, TIFS.__contains__))


class _MissingField(Exception):
    def __init__(self, tag: int, why: str = "") -> None:
        super().__init__(tag)
        self.tag = tag
        self.why = why


class SymbolInfo:
    __slots__ = ("spec", "name", "fmt", "symbol_field", "scale", "price_cache")

    PARSE_CACHE_LIMIT = 4096

    def __init__(self, spec: SymbolSpec) -> None:
        self.spec = spec
        self.name = spec.symbol
        self.scale = spec.price_scale
        self.fmt = PriceFormatter(spec.price_scale)
        self.symbol_field = (tags.Symbol, spec.symbol.encode("ascii"))
        self.price_cache: dict[bytes, int] = {}  # FIX price text -> units (parse_price)

    def parse_price(self, text: bytes) -> int:
        """parse_price at this symbol's scale, cached: clients send the same prices over and over."""
        units = self.price_cache.get(text)
        if units is None:
            units = parse_price(text, self.scale)  # raises before anything is cached
            if len(self.price_cache) >= self.PARSE_CACHE_LIMIT:
                self.price_cache.clear()
            self.price_cache[text] = units
        return units


# Fields a replace cannot change (the engine's ReplaceOrder takes quantity and price only);
# OrdType, TimeInForce, StopPx, Side and Symbol are checked on their own in _replace.
_REPLACE_FIXED_TAGS = (tags.MinQty, tags.MaxFloor, tags.ExecInst, tags.ExpireTime, tags.ExpireDate)
_NO_REPLACE_FIXED = (None,) * len(_REPLACE_FIXED_TAGS)


class _Fields(dict):
    """A dict of tag -> bytes (None = absent) standing in for a FixMessage's ``get``."""

    def get(self, tag, default=None):
        value = dict.get(self, tag)
        return default if value is None else value


def _qty(text: bytes) -> int:
    # fast path for the usual plain integer (parse_qty refuses a number too long for int())
    return int(text) if text.isdigit() and len(text) < 19 else parse_qty(text)


# An order's report fields from Symbol on (see _Order.static_fields), for the usual order
_UNPRICED_STATIC_FORMAT = fields_format(tags.Symbol, tags.Side, (tags.OrderQty, b"%d"), tags.OrdType, tags.TimeInForce)
_PRICED_STATIC_FORMAT = fields_format(tags.Symbol, tags.Side, (tags.OrderQty, b"%d"), tags.OrdType, tags.Price,
                                      tags.TimeInForce)


class _Order:
    """What the gateway remembers of an order to fill in ExecutionReports."""

    __slots__ = ("order_id", "order_id_text", "session_id", "deliver_to", "cl_ord_id", "earlier_cl_ord_ids", "info",
                 "side_field", "ord_type", "ord_type_field", "price", "stop_price", "tif", "tif_field",
                 "expire_field", "instruction_fields", "qty", "cum_qty", "cum_notional", "leaves", "avg_px", "final", "static",
                 "final_status", "stp_decremented")

    def __init__(self, session_id: str, cl_ord_id: bytes, info: SymbolInfo, side: Side, ord_type: OrdType,
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
                self.static = _UNPRICED_STATIC_FORMAT % (
                    info.symbol_field[1], self.side_field[1], self.qty, self.ord_type_field[1], self.tif_field[1])
            else:
                self.static = _PRICED_STATIC_FORMAT % (
                    info.symbol_field[1], self.side_field[1], self.qty, self.ord_type_field[1],
                    info.fmt.format(self.price), self.tif_field[1])
            return self.static
        fmt = info.fmt.format
        fields = [info.symbol_field, self.side_field, (tags.OrderQty, b"%d" % self.qty), self.ord_type_field]
        if self.price is not None:
            fields.append((tags.Price, fmt(self.price)))
        if self.stop_price is not None:
            fields.append((tags.StopPx, fmt(self.stop_price)))
        fields.append(self.tif_field)
        if self.expire_field is not None:
            fields.append(self.expire_field)
        fields += self.instruction_fields
        self.static = b"".join(encode_body(fields))
        return self.static

    def live_status(self):
        return _STATUS_PARTIAL if self.cum_qty else _STATUS_NEW


class _SessionOrders:
    __slots__ = ("by_cl_ord_id", "finished")

    def __init__(self) -> None:
        # every ClOrdID an order of this session has carried (live orders and recent final ones)
        self.by_cl_ord_id: dict[bytes, _Order] = {}
        self.finished: deque[_Order] = deque()


# The request being processed (how engine events about its order are reported): a plain
# tuple (kind, session_id, cl_ord_id, order, message), read by unpacking; kind: "new",
# "cancel", "replace", "status", "mass", "time", "admin" or "operator".  (As a NamedTuple,
# built with tuple.__new__ and unpacked as a tuple subclass, which CPython 3.11 does not
# specialise: 3,300 instructions more per request.)
_Request = tuple
