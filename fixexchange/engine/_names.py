"""Short names for the enum members the engine's hot paths compare by identity.

(A module global is one specialised LOAD_GLOBAL in CPython 3.11; an enum member read from
its class is a descriptor call.)  Shared by the engine's modules.
"""

from __future__ import annotations

from operator import attrgetter

from .types import CancelReason, OrderStatus, OrdType, RejectReason, Side, StpMode, TimeInForce

BUY = Side.BUY
SELL = Side.SELL
MARKET = OrdType.MARKET
LIMIT = OrdType.LIMIT
STOP = OrdType.STOP
STOP_LIMIT = OrdType.STOP_LIMIT
DAY = TimeInForce.DAY
GTC = TimeInForce.GTC
IOC = TimeInForce.IOC
FOK = TimeInForce.FOK
GTD = TimeInForce.GTD
STP_NONE = StpMode.NONE
CANCEL_NEWEST = StpMode.CANCEL_NEWEST
CANCEL_OLDEST = StpMode.CANCEL_OLDEST
CANCEL_BOTH = StpMode.CANCEL_BOTH
DECREMENT = StpMode.DECREMENT
FILLED = OrderStatus.FILLED
CANCELLED = OrderStatus.CANCELLED
EXPIRED = OrderStatus.EXPIRED
R = RejectReason
C = CancelReason
REQUESTED = C.REQUESTED
IOC_REMAINDER = C.IOC_REMAINDER
NO_LIQUIDITY = C.NO_LIQUIDITY
SELF_TRADE = C.SELF_TRADE
TOO_LATE = R.TOO_LATE_TO_CANCEL
UNKNOWN_ORDER = R.UNKNOWN_ORDER
_leaves = attrgetter("leaves")  # truthy for a live order

_FINAL_TEXT = {
    FILLED: "order already filled", CANCELLED: "order already cancelled",
    EXPIRED: "order already expired",
}
_SIDES = {1: BUY, 2: SELL}
_ORD_TYPES = {1: MARKET, 2: LIMIT, 3: STOP, 4: STOP_LIMIT}
_TIFS = {0: DAY, 1: GTC, 3: IOC, 4: FOK, 6: GTD}
_STPS = {0: STP_NONE, 1: CANCEL_NEWEST, 2: CANCEL_OLDEST, 3: CANCEL_BOTH, 4: DECREMENT}


def _enum(table, value):
    """Canonical enum member for ``value`` (anything == a member's value) or None."""
    try:
        return table.get(value)
    except TypeError:  # unhashable
        return None

