"""Order records: the plain limit order with the fewest slots, and the rest.

A live order sits in the engine's index (and, while resting, in one level's deque); a final
one in the retained generations.  ``leaves == 0`` means dead (a level's deque may still hold
it until it is popped or compacted).  See engine.py for why the classes are split this way.
"""

from __future__ import annotations

from ._names import LIMIT, MARKET, STOP, STP_NONE
from .types import OrderStatus, OrderView


class _Order:
    """A live or final order.  This base class is the plain limit order (the common case):
    it has slots only for the fields every order changes or needs, and the rarely used
    fields are class-level defaults.  Every other order is an ``_XOrder``, whose slots
    shadow those defaults.  (Fewer slots = less to set per order and ~64 bytes less per
    resting order.)"""

    __slots__ = (
        "order_id", "symbol", "owner", "side", "price", "qty", "cum_qty", "leaves",
        "cum_notional", "tif", "done", "visible",
    )
    # defaults of a plain limit order (slots in _XOrder)
    ord_type = LIMIT
    stop_price = None
    expire_time = None
    display_qty = None
    min_qty = None
    post_only = False
    stp = STP_NONE
    triggered = True
    # done: 0 while live, else the final OrderStatus; visible: displayed part while resting

    @property
    def cancelled(self):
        """Cancelled qty: not stored, as qty == cum_qty + leaves + cancelled always holds
        (every path that takes leaves away without a fill cancels them, and a replace sets
        qty and leaves together: cancelled 0)."""
        return self.qty - self.cum_qty - self.leaves

    def copy(self):
        n = type(self)()  # _Order or _StpOrder (_XOrder has its own copy)
        n.order_id = self.order_id
        n.symbol = self.symbol
        n.owner = self.owner
        n.side = self.side
        n.price = self.price
        n.qty = self.qty
        n.cum_qty = self.cum_qty
        n.leaves = self.leaves
        n.cum_notional = self.cum_notional
        n.tif = self.tif
        n.done = self.done
        n.visible = self.visible
        return n

    def view(self) -> OrderView:
        if self.done:
            status = OrderStatus(self.done)
        else:
            status = OrderStatus.PARTIALLY_FILLED if self.cum_qty else OrderStatus.NEW
        return OrderView(
            self.order_id, self.symbol, self.owner, self.side, self.ord_type, self.price,
            self.stop_price, self.qty, self.cum_qty, self.leaves, self.cancelled,
            self.cum_notional, self.tif, self.expire_time, self.display_qty, self.min_qty,
            self.post_only, self.stp, status, self.triggered,
        )


class _XOrder(_Order):
    """Any order that is not a plain limit order (market, stop, iceberg, GTD, STP, ...)."""

    __slots__ = ("ord_type", "stop_price", "expire_time", "display_qty", "min_qty",
                 "post_only", "stp", "triggered")

    def __init__(self, order_id, symbol, owner, side, ord_type, price, stop_price, qty, tif,
                 expire_time, display_qty, min_qty, post_only, stp):
        self.order_id = order_id
        self.symbol = symbol
        self.owner = owner
        self.side = side
        self.ord_type = ord_type
        self.price = price
        self.stop_price = stop_price
        self.qty = qty
        self.cum_qty = 0
        self.leaves = qty
        self.cum_notional = 0
        self.tif = tif
        self.expire_time = expire_time
        self.display_qty = display_qty
        self.min_qty = min_qty
        self.post_only = post_only
        self.stp = stp
        self.done = 0
        self.triggered = ord_type < STOP
        self.visible = 0

    def copy(self):
        n = _onew(_XOrder)
        for name in _ORDER_SLOTS:
            setattr(n, name, getattr(self, name))
        return n


class _MarketOrder(_Order):
    """A plain market order (apply's fast path); it never rests."""

    __slots__ = ()
    ord_type = MARKET


class _StpOrder(_Order):
    """A plain limit order (execute's fast path) with a self-trade prevention mode."""

    __slots__ = ("stp",)

    def copy(self):
        n = _Order.copy(self)
        n.stp = self.stp
        return n


class _StpMarketOrder(_StpOrder):
    """A plain market order with a self-trade prevention mode; it never rests."""

    __slots__ = ()
    ord_type = MARKET


_ORDER_SLOTS = _Order.__slots__ + _XOrder.__slots__
_onew = object.__new__


def _is_stop(o):
    """A live stop still waiting for its trigger."""
    return o is not None and not o.triggered
