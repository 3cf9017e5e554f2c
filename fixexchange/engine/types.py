"""Value types of the matching engine: enums, symbol specs, commands, events, order views.

Commands and events are ``NamedTuple`` classes: immutable, comparable and printable.
``Engine.execute`` gives each event as a plain tuple ``(EventClass, *fields)`` (fields in
the class's order); ``Engine.apply`` gives the NamedTuples.  Because two NamedTuples with
equal fields compare equal even across classes, compare ``(type(e), e)`` when the class
matters (tests do).
"""

from __future__ import annotations

from enum import IntEnum
from typing import NamedTuple


class Side(IntEnum):
    """Same values as FIX Side(54)."""

    BUY = 1
    SELL = 2


class OrdType(IntEnum):
    """Same values as FIX OrdType(40)."""

    MARKET = 1
    LIMIT = 2
    STOP = 3
    STOP_LIMIT = 4


class TimeInForce(IntEnum):
    """Same values as FIX TimeInForce(59)."""

    DAY = 0
    GTC = 1
    IOC = 3
    FOK = 4
    GTD = 6


class StpMode(IntEnum):
    """Self-trade prevention, chosen by the incoming (taker) order; same owner = self trade."""

    NONE = 0  # self trades are allowed
    CANCEL_NEWEST = 1  # cancel the taker's remainder, the resting order stays
    CANCEL_OLDEST = 2  # cancel the resting order, the taker keeps matching
    CANCEL_BOTH = 3  # cancel both
    DECREMENT = 4  # reduce both by the smaller quantity without a trade


class OrderStatus(IntEnum):
    """Order status; values follow FIX OrdStatus(39) ('C' = 12 for expired)."""

    NEW = 0
    PARTIALLY_FILLED = 1
    FILLED = 2
    CANCELLED = 4
    EXPIRED = 12


class RejectReason(IntEnum):
    UNKNOWN_SYMBOL = 1
    INVALID_COMMAND = 2  # wrong type or shape of a field / unknown command
    INVALID_SIDE = 3
    INVALID_ORD_TYPE = 4
    INVALID_TIF = 5
    INVALID_STP = 6
    INVALID_OWNER = 7  # owner must be a non-empty str
    PRICE_REQUIRED = 8  # limit / stop-limit without price
    PRICE_NOT_ALLOWED = 9  # market / stop with a price
    STOP_PRICE_REQUIRED = 10
    STOP_PRICE_NOT_ALLOWED = 11
    PRICE_NOT_POSITIVE = 12
    OFF_TICK = 13
    OFF_LOT = 14
    QTY_NOT_POSITIVE = 15
    QTY_TOO_SMALL = 16
    QTY_TOO_LARGE = 17
    OUTSIDE_PRICE_BAND = 18
    INVALID_DISPLAY_QTY = 19
    INVALID_MIN_QTY = 20
    EXPIRE_TIME_REQUIRED = 21  # GTD without expire_time
    EXPIRE_TIME_NOT_ALLOWED = 22  # expire_time on a non-GTD order
    EXPIRE_TIME_IN_PAST = 23  # expire_time <= the engine's current time
    INVALID_TIF_FOR_ORD_TYPE = 24  # market orders cannot be DAY/GTC/GTD resting orders
    POST_ONLY_NOT_ALLOWED = 25  # post-only on market/stop/IOC/FOK
    POST_ONLY_WOULD_CROSS = 26
    ICEBERG_NOT_SUPPORTED = 27  # display_qty on a pro-rata symbol
    UNKNOWN_ORDER = 28  # never existed, or belongs to another owner
    TOO_LATE_TO_CANCEL = 29  # already final (filled, cancelled, expired)
    TIME_WENT_BACKWARDS = 30  # AdvanceTime to a time before the current one


class CancelReason(IntEnum):
    REQUESTED = 1  # CancelOrder
    MASS_CANCEL = 2
    IOC_REMAINDER = 3
    FOK_UNFILLABLE = 4
    MIN_QTY_NOT_MET = 5
    NO_LIQUIDITY = 6  # the unfilled part of a market order (market orders never rest)
    SELF_TRADE = 7
    REPLACED_BELOW_FILLED = 8  # ReplaceOrder qty <= cum_qty cancels the remainder


class SymbolSpec(NamedTuple):
    """A tradable symbol.  Prices are ints in units of 10**-price_scale; a price must be a
    multiple of ``tick`` and a quantity a multiple of ``lot`` within [min_qty, max_qty].
    ``band_low``/``band_high`` (inclusive, None = open) bound limit and stop prices."""

    symbol: str
    price_scale: int = 2
    tick: int = 1
    lot: int = 1
    min_qty: int = 1
    max_qty: int = 1_000_000
    band_low: int | None = None
    band_high: int | None = None
    algorithm: str = "fifo"  # "fifo" or "pro_rata"


# ---------------------------------------------------------------- commands


class NewOrder(NamedTuple):
    symbol: str
    owner: str
    side: Side
    qty: int
    ord_type: OrdType = OrdType.LIMIT
    price: int | None = None
    stop_price: int | None = None
    tif: TimeInForce = TimeInForce.DAY
    expire_time: int | None = None
    display_qty: int | None = None  # iceberg: shown slice; None = show everything
    min_qty: int | None = None  # minimum immediate fill on entry, else cancelled
    post_only: bool = False
    stp: StpMode = StpMode.NONE


class CancelOrder(NamedTuple):
    order_id: int
    owner: str | None = None  # None = no ownership check (admin)


class ReplaceOrder(NamedTuple):
    order_id: int
    qty: int  # new total order quantity (FIX OrderQty), including what is already filled
    price: int | None = None  # None = keep the price
    owner: str | None = None


class OrderStatusQuery(NamedTuple):
    order_id: int
    owner: str | None = None


class MassCancel(NamedTuple):
    owner: str | None = None
    symbol: str | None = None
    side: Side | None = None


class AdvanceTime(NamedTuple):
    now: int  # expires GTD orders with expire_time <= now


class EndOfDay(NamedTuple):
    pass


# ---------------------------------------------------------------- order view


class OrderView(NamedTuple):
    """Snapshot of one order.  ``qty == cum_qty + leaves_qty + cancelled_qty`` always;
    average price = cum_notional / cum_qty (exact ints, price units)."""

    order_id: int
    symbol: str
    owner: str
    side: Side
    ord_type: OrdType  # as entered (a triggered stop keeps STOP / STOP_LIMIT)
    price: int | None
    stop_price: int | None
    qty: int
    cum_qty: int
    leaves_qty: int
    cancelled_qty: int
    cum_notional: int
    tif: TimeInForce
    expire_time: int | None
    display_qty: int | None
    min_qty: int | None
    post_only: bool
    stp: StpMode
    status: OrderStatus
    triggered: bool  # stops: elected; always True for non-stop orders


# ---------------------------------------------------------------- events


class Accepted(NamedTuple):
    order_id: int
    symbol: str
    owner: str
    side: Side
    ord_type: OrdType
    price: int | None
    stop_price: int | None
    qty: int
    tif: TimeInForce


class Rejected(NamedTuple):
    order_id: int | None  # None for a rejected NewOrder (no id is consumed) / MassCancel / time
    reason: RejectReason
    text: str


class Trade(NamedTuple):
    """One execution: the fill of both sides (taker = the aggressor, maker = the resting
    order) and the trade print.  Per side: cum_qty / leaves_qty / cum_notional after it."""

    symbol: str
    trade_id: int
    price: int
    qty: int
    aggressor_side: Side  # the taker's side
    taker_order_id: int
    taker_owner: str
    taker_cum_qty: int
    taker_leaves_qty: int
    taker_cum_notional: int
    maker_order_id: int
    maker_owner: str
    maker_cum_qty: int
    maker_leaves_qty: int
    maker_cum_notional: int


class Cancelled(NamedTuple):
    order_id: int
    owner: str
    symbol: str
    side: Side
    reason: CancelReason
    cancelled_qty: int  # what this event removed
    cum_qty: int
    cum_notional: int
    qty: int


class Replaced(NamedTuple):
    order_id: int
    owner: str
    symbol: str
    side: Side
    price: int | None
    qty: int
    cum_qty: int
    leaves_qty: int
    cum_notional: int
    priority_kept: bool


class Restated(NamedTuple):
    """Leaves reduced without a trade (STP DECREMENT) while the order stays live."""

    order_id: int
    owner: str
    symbol: str
    side: Side
    reason: CancelReason
    decrement_qty: int
    qty: int
    cum_qty: int
    leaves_qty: int
    cum_notional: int


class Triggered(NamedTuple):
    order_id: int
    owner: str
    symbol: str
    side: Side
    ord_type: OrdType  # STOP or STOP_LIMIT (it now trades as MARKET or LIMIT)
    price: int | None
    stop_price: int


class Expired(NamedTuple):
    order_id: int
    owner: str
    symbol: str
    side: Side
    expired_qty: int
    cum_qty: int
    cum_notional: int
    qty: int


class LevelChanged(NamedTuple):
    """Displayed aggregate at a price level after the command; qty 0 = level removed.
    ``orders``: how many live orders rest there (market data's NumberOfOrders)."""

    symbol: str
    side: Side
    price: int
    qty: int
    orders: int


class OrderState(NamedTuple):
    order: OrderView


class MassCancelDone(NamedTuple):
    count: int
    owner: str | None
    symbol: str | None
    side: Side | None


Command = NewOrder | CancelOrder | ReplaceOrder | OrderStatusQuery | MassCancel | AdvanceTime | EndOfDay
Event = (
    Accepted | Rejected | Trade | Cancelled | Replaced | Restated | Triggered | Expired
    | LevelChanged | OrderState | MassCancelDone
)
