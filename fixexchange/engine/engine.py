"""The matching engine: per-symbol books of heap-ordered price levels, FIFO deques per level.

Semantics are documented in ``fixexchange.engine`` (the package docstring).  Implementation
notes (why it looks the way it does):

- A book side (``_Half``) is a heap of integer keys (price for asks, -price for bids) plus a
  dict key -> ``_Level``.  A level that empties stays in both until it reaches the top of
  the heap (popped by ``best``) or until empty levels outnumber live ones (``compact``), so
  removing a level in the middle of the book is O(1).  A level keeps its displayed qty and
  live count but no leaves total: only FOK / min_qty (``_reachable``) and pro-rata need
  one, and they sum the level's orders (every resting, cancel and fill path saves the
  update).
- A level's deque may hold dead orders (cancelled, or the old object of a replace that lost
  priority): an order is dead when ``leaves == 0``.  Matching pops them; a cancel compacts the
  deque when dead entries dominate.  That makes cancel O(1) instead of O(level size).
- A replace that loses priority builds a new ``_Order`` object for the same id, so an order
  object sits in at most one deque position and liveness is a plain field check.
- Hot paths (``tools/bench_engine.py``): ``execute`` handles plain limit and market orders
  (enum members as given, no optional fields except an STP mode), resting-order cancels
  and retained-final rejects inline; everything else takes the general methods, which give
  the same events.  Plain orders are ``_Order`` objects with 12 slots (``_StpOrder`` adds
  an ``stp`` slot); the rarely used fields are class-level defaults that ``_XOrder`` (every
  other order) overrides with slots, and the cancelled qty is derived (qty - cum - leaves).  Events are plain tuples ``(EventClass, *fields)``
  (one BUILD_TUPLE, no NamedTuple ``__new__``; ``apply`` converts them), one ``Trade`` per
  execution; a fast-path taker is put in the live index only if it rests (``_finish``
  pops rather than deletes, so an STP cancel or an IOC remainder needs no index entry).
  CPython 3.11 charges per bytecode, so the fast paths are written out flat rather than
  factored into helpers, and in the forms its specialising interpreter handles (check with
  ``dis.dis(f, adaptive=True)`` after a warm-up: no ``*_ADAPTIVE`` op on a hot line): a
  comparison directly followed by a short jump (not chained, not stored as a bool, not
  before a jump across a long body), ``ev.append(...)`` rather than a bound method in a
  local, no class-attribute read of an order, no ``%`` when it can be skipped.
- Final orders (``retain_final``) are kept in two generation dicts: a final order costs one
  dict store, and when the current generation holds ``retain_final`` orders it replaces the
  old one, which is then freed one order per later final order (``_dying``).  (An exact sliding window needed a deque of ids and a
  delete of the evicted id from a 100,000-entry dict per final order: ~15% of the
  benchmark.)
"""

from __future__ import annotations

import logging
from collections import deque
from heapq import heapify, heappop, heappush
from operator import attrgetter

from .types import (
    Accepted,
    AdvanceTime,
    CancelOrder,
    Cancelled,
    CancelReason,
    EndOfDay,
    Expired,
    LevelChanged,
    MassCancel,
    MassCancelDone,
    NewOrder,
    OrderState,
    OrderStatus,
    OrderStatusQuery,
    OrderView,
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

log = logging.getLogger("fixexchange.engine")

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
TOO_LATE = R.TOO_LATE_TO_CANCEL
# NamedTuple construction without its Python-level __new__ (apply turns execute's flat
# events into NamedTuples with it)
_tnew = tuple.__new__
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


class _Level:
    __slots__ = ("price", "qty", "live", "orders")

    def __init__(self, price):
        self.price = price
        self.qty = 0  # displayed aggregate of live orders
        self.live = 0  # number of live orders
        self.orders = deque()


class _Half:
    """One side of a book: heap of level keys + dict of levels (see module docstring)."""

    __slots__ = ("side", "sign", "heap", "levels", "nlive")

    def __init__(self, side):
        self.side = side
        self.sign = -1 if side is BUY else 1
        self.heap = []
        self.levels = {}
        self.nlive = 0

    def best(self):
        heap = self.heap
        levels = self.levels
        while heap:
            lvl = levels[heap[0]]
            if lvl.live:
                return lvl
            del levels[heappop(heap)]
        return None

    def iter_levels(self):
        """Live levels best first, lazily: O(k log k) for the first k heap entries."""
        heap = self.heap
        levels = self.levels
        size = len(heap)
        if not size:
            return
        candidates = [(heap[0], 0)]
        while candidates:
            key, i = heappop(candidates)
            lvl = levels[key]
            if lvl.live:
                yield lvl
            j = 2 * i + 1
            if j < size:
                heappush(candidates, (heap[j], j))
                if j + 1 < size:
                    heappush(candidates, (heap[j + 1], j + 1))

    def top(self, n):
        if not n:
            return [(lvl.price, lvl.qty) for _, lvl in sorted(self.levels.items()) if lvl.live]
        out = []
        for lvl in self.iter_levels():
            out.append((lvl.price, lvl.qty))
            if len(out) >= n:
                break
        return out

    def compact(self):
        self.levels = {k: lvl for k, lvl in self.levels.items() if lvl.live}
        self.heap = list(self.levels)
        heapify(self.heap)


class Book:
    """One symbol's order book (read-only API for callers; the engine mutates it)."""

    __slots__ = ("spec", "symbol", "bids", "asks", "last_trade_price", "buy_stops",
                 "sell_stops", "nstops", "pro_rata", "lot", "tick", "min_qty", "max_qty",
                 "price_low", "price_high")

    def __init__(self, spec: SymbolSpec):
        self.spec = spec
        self.symbol = spec.symbol
        self.bids = _Half(BUY)
        self.asks = _Half(SELL)
        self.last_trade_price = None
        self.buy_stops = []  # heap of (stop_price, order_id)
        self.sell_stops = []  # heap of (-stop_price, order_id)
        self.nstops = 0  # live untriggered stops (to compact the stop heaps)
        self.pro_rata = spec.algorithm == "pro_rata"
        self.lot = spec.lot
        # flattened limits for the fast paths in Engine.execute and _replace
        self.tick = spec.tick
        self.min_qty = spec.min_qty
        self.max_qty = spec.max_qty
        self.price_low = max(1, spec.band_low or 1)
        # without a band, prices up to 2**30 - 1 (one CPython digit: the fast path's
        # comparisons stay specialised); higher ones are valid and take the general path
        self.price_high = spec.band_high if spec.band_high is not None else (1 << 30) - 1

    def best_bid(self):
        lvl = self.bids.best()
        return None if lvl is None else (lvl.price, lvl.qty)

    def best_ask(self):
        lvl = self.asks.best()
        return None if lvl is None else (lvl.price, lvl.qty)

    def depth(self, side, n=None):
        """Aggregated displayed levels best first; n 0/None = all levels."""
        side = _enum(_SIDES, side)
        if side is None:
            raise ValueError("side must be Side.BUY or Side.SELL")
        if n is not None and (type(n) is not int or n < 0):
            raise ValueError("n must be None or an int >= 0")
        return (self.bids if side is BUY else self.asks).top(n)


def _check_price(spec, price, what):
    """(reason, text) for a bad price, else None."""
    if type(price) is not int:
        return R.INVALID_COMMAND, f"{what} must be an int, got {type(price).__name__}"
    if price <= 0:
        return R.PRICE_NOT_POSITIVE, f"{what} {price} must be positive"
    if price % spec.tick:
        return R.OFF_TICK, f"{what} {price} is not a multiple of tick {spec.tick}"
    if (spec.band_low is not None and price < spec.band_low) or (
        spec.band_high is not None and price > spec.band_high
    ):
        return R.OUTSIDE_PRICE_BAND, f"{what} {price} outside band [{spec.band_low}, {spec.band_high}]"
    return None


def _check_qty(spec, qty):
    if type(qty) is not int:
        return R.INVALID_COMMAND, f"qty must be an int, got {type(qty).__name__}"
    if qty <= 0:
        return R.QTY_NOT_POSITIVE, f"qty {qty} must be positive"
    if qty % spec.lot:
        return R.OFF_LOT, f"qty {qty} is not a multiple of lot {spec.lot}"
    if qty < spec.min_qty:
        return R.QTY_TOO_SMALL, f"qty {qty} below minimum {spec.min_qty}"
    if qty > spec.max_qty:
        return R.QTY_TOO_LARGE, f"qty {qty} above maximum {spec.max_qty}"
    return None


def validate_new_order(book: Book, c: NewOrder, now: int):
    """Validate a NewOrder against its book: ``(side, ord_type, tif, stp)`` or a Rejected.

    Shared with the test reference book so both reject identically; the book state is only
    consulted for the post-only crossing check, done by the caller."""
    spec = book.spec
    if type(c.owner) is not str or not c.owner:
        return Rejected(None, R.INVALID_OWNER, "owner must be a non-empty string")
    side = _enum(_SIDES, c.side)
    if side is None:
        return Rejected(None, R.INVALID_SIDE, f"invalid side {c.side!r}")
    ord_type = _enum(_ORD_TYPES, c.ord_type)
    if ord_type is None:
        return Rejected(None, R.INVALID_ORD_TYPE, f"invalid ord_type {c.ord_type!r}")
    tif = _enum(_TIFS, c.tif)
    if tif is None:
        return Rejected(None, R.INVALID_TIF, f"invalid tif {c.tif!r}")
    stp = _enum(_STPS, c.stp)
    if stp is None:
        return Rejected(None, R.INVALID_STP, f"invalid stp {c.stp!r}")
    bad = _check_qty(spec, c.qty)
    if bad:
        return Rejected(None, *bad)
    if ord_type is LIMIT or ord_type is STOP_LIMIT:
        if c.price is None:
            return Rejected(None, R.PRICE_REQUIRED, f"{ord_type.name} order needs a price")
        bad = _check_price(spec, c.price, "price")
        if bad:
            return Rejected(None, *bad)
    elif c.price is not None:
        return Rejected(None, R.PRICE_NOT_ALLOWED, f"{ord_type.name} order takes no price")
    if ord_type is STOP or ord_type is STOP_LIMIT:
        if c.stop_price is None:
            return Rejected(None, R.STOP_PRICE_REQUIRED, f"{ord_type.name} order needs a stop_price")
        bad = _check_price(spec, c.stop_price, "stop_price")
        if bad:
            return Rejected(None, *bad)
    elif c.stop_price is not None:
        return Rejected(None, R.STOP_PRICE_NOT_ALLOWED, f"{ord_type.name} order takes no stop_price")
    if ord_type is MARKET and (tif is GTC or tif is GTD):
        return Rejected(None, R.INVALID_TIF_FOR_ORD_TYPE, f"a market order cannot be {tif.name}")
    if tif is GTD:
        if c.expire_time is None:
            return Rejected(None, R.EXPIRE_TIME_REQUIRED, "GTD order needs expire_time")
        if type(c.expire_time) is not int:
            return Rejected(None, R.INVALID_COMMAND, "expire_time must be an int")
        if c.expire_time <= now:
            return Rejected(None, R.EXPIRE_TIME_IN_PAST, f"expire_time {c.expire_time} <= now {now}")
    elif c.expire_time is not None:
        return Rejected(None, R.EXPIRE_TIME_NOT_ALLOWED, f"expire_time on a {tif.name} order")
    if c.display_qty is not None:
        d = c.display_qty
        if type(d) is not int or d <= 0 or d % spec.lot or d > c.qty:
            return Rejected(None, R.INVALID_DISPLAY_QTY,
                            f"display_qty {d!r} must be a positive multiple of lot {spec.lot} <= qty")
        if book.pro_rata:
            return Rejected(None, R.ICEBERG_NOT_SUPPORTED, "no iceberg orders on a pro-rata symbol")
    if c.min_qty is not None:
        m = c.min_qty
        if type(m) is not int or m <= 0 or m % spec.lot or m > c.qty:
            return Rejected(None, R.INVALID_MIN_QTY,
                            f"min_qty {m!r} must be a positive multiple of lot {spec.lot} <= qty")
    if c.post_only is not True and c.post_only is not False:
        if c.post_only not in (0, 1):  # 0/1 are taken as bools, as on the fast path
            return Rejected(None, R.INVALID_COMMAND, "post_only must be a bool")
    if c.post_only and (ord_type is not LIMIT or tif is IOC or tif is FOK or c.min_qty is not None):
        return Rejected(None, R.POST_ONLY_NOT_ALLOWED,
                        "post-only needs a LIMIT DAY/GTC/GTD order without min_qty")
    return side, ord_type, tif, stp


def _tidy(half, lvl):
    """After an order left ``lvl``: drop an emptied level's deque (and compact the side when
    empty levels outnumber live ones), or compact a deque that is mostly dead orders."""
    if not lvl.live:
        lvl.orders.clear()
        half.nlive -= 1
        if len(half.levels) > 2 * half.nlive + 64:
            half.compact()
    elif len(lvl.orders) > 2 * lvl.live + 16:
        lvl.orders = deque(filter(_leaves, lvl.orders))  # C-level loop


def _crosses(book, side, price):
    lvl = (book.asks if side is BUY else book.bids).best()
    if lvl is None:
        return False
    return lvl.price <= price if side is BUY else lvl.price >= price


class Engine:
    """All books; ``execute(command) -> list[tuple]`` (flat events) and
    ``apply(command) -> list[event]`` (NamedTuples).  See the package docstring."""

    def __init__(self, specs, now: int = 0, retain_final: int = 100_000):
        self._books: dict[str, Book] = {}
        for spec in specs:
            _validate_spec(spec)
            if spec.symbol in self._books:
                raise ValueError(f"duplicate symbol {spec.symbol!r}")
            self._books[spec.symbol] = Book(spec)
        if type(now) is not int:
            raise ValueError("now must be an int")
        if type(retain_final) is not int or retain_final < 0:
            raise ValueError("retain_final must be a non-negative int")
        self.now = now
        self._orders: dict[int, _Order] = {}  # live orders (resting or untriggered stops)
        # final orders, in two generations: _final fills up to retain_final entries, then
        # becomes _old_final (dropping the previous one), so the last retain_final (up to
        # twice as many) stay queryable at the cost of one dict store per final order
        self._final: dict[int, _Order] = {}
        self._old_final: dict[int, _Order] = {}
        self._dying: dict[int, _Order] = {}  # no longer queryable, freed one per final order
        self._retain = retain_final
        self._next_id = 1
        self._next_trade = 1
        self._gtd: list[tuple[int, int]] = []  # heap of (expire_time, order_id)
        self._ngtd = 0  # live GTD orders, to compact _gtd when finished orders pile up
        self._pending: deque[int] = deque()  # elected stops waiting to execute
        self._handlers = {
            NewOrder: self._new_order,
            CancelOrder: self._cancel,
            ReplaceOrder: self._replace,
            OrderStatusQuery: self._status,
            MassCancel: self._mass_cancel,
            AdvanceTime: self._advance_time,
            EndOfDay: self._end_of_day,
        }

    # ------------------------------------------------------------ public

    def apply(self, command) -> list:
        """``execute`` with every event as its NamedTuple (the readable API)."""
        return [_tnew(e[0], e[1:]) for e in self.execute(command)]

    def execute(self, command) -> list:
        """Events as plain tuples ``(EventClass, *fields)`` (see the package docstring)."""
        kind = type(command)
        try:
            if kind is NewOrder:
                # command + (): an exact tuple copy (tuple concatenation, a C-level copy
                # loop), whose unpacking is specialised; a NamedTuple (a tuple subclass) is
                # unpacked through an iterator, which costs more than the copy
                (symbol, owner, side, qty, ord_type, price, stop_price, tif, expire_time,
                 display_qty, min_qty, post_only, stp) = command + ()
                book = self._books.get(symbol) if type(symbol) is str else None
                # The fast paths' conditions are written "if not (...): return general"
                # with no chained a <= x <= b: CPython 3.11 specialises a comparison only
                # when a jump without EXTENDED_ARG (a short one) directly follows it.
                if ord_type is LIMIT:
                    if not (
                        # fast path: a plain, valid DAY/GTC/IOC limit order given with enum
                        # members (identity checks, nothing re-validated); anything else,
                        # including equal plain ints, takes the general _new_order
                        book is not None and stop_price is None
                        and (tif is DAY or tif is GTC or tif is IOC) and expire_time is None
                        and display_qty is None and min_qty is None and post_only is False
                        and (stp is STP_NONE or stp is CANCEL_NEWEST or stp is CANCEL_OLDEST
                             or stp is CANCEL_BOTH or stp is DECREMENT)
                        and (side is BUY or side is SELL)
                        and type(owner) is str and owner
                        and type(qty) is int and book.min_qty <= qty and qty <= book.max_qty
                        and type(price) is int and book.price_low <= price
                        and price <= book.price_high
                        # (% is never specialised: skipped for the usual lot / tick of 1)
                        and (book.lot == 1 or not qty % book.lot)
                        and (book.tick == 1 or not price % book.tick)
                    ):
                        return self._new_order(command)
                    oid = self._next_id
                    self._next_id = oid + 1
                    if stp is STP_NONE:
                        o = _Order()
                    else:
                        o = _StpOrder()
                        o.stp = stp
                    o.order_id = oid
                    o.symbol = symbol
                    o.owner = owner
                    o.side = side
                    o.price = price
                    o.qty = qty
                    o.cum_qty = 0
                    o.leaves = qty
                    o.cum_notional = 0
                    o.tif = tif
                    o.done = 0
                    # o.visible is set when (and only read once) the order rests.
                    # self._orders[oid] = o comes later: a taker is indexed only if it rests
                    # (nothing looks it up while it matches; _finish tolerates an unindexed
                    # order, for an STP cancel or an IOC remainder)
                    accepted = (Accepted, oid, symbol, owner, side, LIMIT, price, None, qty, tif)
                    if side is BUY:
                        opp = book.asks
                        half = book.bids
                        key = -price
                        heap = opp.heap
                        # heap[0] is a lower bound of the best live key: above the price
                        # nothing can cross and best() (which pops dead levels) is skipped
                        crosses = False
                        if heap and heap[0] <= price:
                            lvl = opp.levels[heap[0]]
                            if not lvl.live:  # an emptied level on top: best() pops it
                                lvl = opp.best()
                            if lvl is not None and lvl.price <= price:  # (a jump: specialised)
                                crosses = True
                    else:
                        opp = book.bids
                        half = book.asks
                        key = price
                        heap = opp.heap
                        crosses = False
                        if heap and heap[0] <= -price:
                            lvl = opp.levels[heap[0]]
                            if not lvl.live:
                                lvl = opp.best()
                            if lvl is not None and lvl.price >= price:
                                crosses = True
                    if crosses:
                        ev = [accepted]
                        self._match(book, o, opp, price, ev, lvl, stp is not STP_NONE, side,
                                    owner, oid)
                        if o.leaves:
                            if tif is IOC:
                                self._cancel_inflight(o, IOC_REMAINDER, ev)
                            else:
                                self._orders[oid] = o
                                self._rest(book, o, ev)
                        elif not o.done:  # (done: STP cancelled it)
                            # self._finish(o, FILLED) for an order that was never indexed
                            o.done = FILLED
                            if self._retain:
                                final = self._final
                                final[oid] = o
                                if len(final) >= self._retain:
                                    self._rotate_final()
                                elif self._dying:
                                    self._dying.popitem()
                        if self._pending:
                            self._drain(ev)
                        return ev
                    if tif is IOC:
                        ev = [accepted]
                        self._cancel_inflight(o, IOC_REMAINDER, ev)
                        return ev
                    self._orders[oid] = o
                    # rest (the body of _rest, inlined for the most common command)
                    lvl = half.levels.get(key)
                    if lvl is None:
                        lvl = half.levels[key] = _Level(price)
                        heappush(half.heap, key)
                        half.nlive += 1
                    elif not lvl.live:
                        half.nlive += 1
                    o.visible = qty
                    lvl.orders.append(o)
                    lvl.live += 1
                    lvl.qty = q = lvl.qty + qty
                    return [accepted, (LevelChanged, symbol, side, price, q)]
                if ord_type is MARKET:
                    if not (
                        # fast path: a plain market order, IOC or DAY (which behaves like IOC)
                        book is not None and price is None
                        and stop_price is None and (tif is IOC or tif is DAY)
                        and expire_time is None
                        and display_qty is None and min_qty is None and post_only is False
                        and (stp is STP_NONE or stp is CANCEL_NEWEST or stp is CANCEL_OLDEST
                             or stp is CANCEL_BOTH or stp is DECREMENT)
                        and (side is BUY or side is SELL)
                        and type(owner) is str and owner
                        and type(qty) is int and book.min_qty <= qty and qty <= book.max_qty
                        and (book.lot == 1 or not qty % book.lot)
                    ):
                        return self._new_order(command)
                    oid = self._next_id
                    self._next_id = oid + 1
                    if stp is STP_NONE:
                        o = _MarketOrder()
                    else:
                        o = _StpMarketOrder()
                        o.stp = stp
                    o.order_id = oid
                    o.symbol = symbol
                    o.owner = owner
                    o.side = side
                    o.price = None
                    o.qty = qty
                    o.cum_qty = 0
                    o.leaves = qty
                    o.cum_notional = 0
                    o.tif = tif
                    o.done = 0
                    # never rests: no o.visible; never indexed (see the limit path above)
                    ev = [(Accepted, oid, symbol, owner, side, MARKET, None, None, qty, tif)]
                    self._match(book, o, book.asks if side is BUY else book.bids, None, ev, None,
                                stp is not STP_NONE, side, owner, oid)
                    if o.leaves:
                        self._cancel_inflight(o, NO_LIQUIDITY, ev)
                    elif not o.done:  # (done: STP cancelled it)
                        self._retire_filled(o)
                    if self._pending:
                        self._drain(ev)
                    return ev
                return self._new_order(command)
            if kind is CancelOrder:
                oid = command[0]  # indexing a NamedTuple beats unpacking it (an iterator)
                owner = command[1]
                o = self._orders.get(oid) if type(oid) is int else None
                if o is not None:
                    if not ((type(o) is _Order or type(o) is _StpOrder or o.triggered)
                            and (owner is None or o.owner == owner)):
                        return self._cancel(command)  # (a short jump: see NewOrder)
                    # fast path: a resting order of the right owner (as _cancel_live)
                    side = o.side
                    price = o.price
                    book = self._books[o.symbol]
                    if side is BUY:
                        half = book.bids
                        lvl = half.levels[-price]
                    else:
                        half = book.asks
                        lvl = half.levels[price]
                    q = o.leaves
                    lvl.qty -= o.visible
                    lvl.live -= 1
                    o.leaves = 0  # (visible is read only while an order rests)
                    if not lvl.live or len(lvl.orders) > 2 * lvl.live + 16:
                        _tidy(half, lvl)
                    o.done = CANCELLED
                    if o.tif is GTD:
                        self._ngtd -= 1
                    del self._orders[oid]
                    if self._retain:
                        final = self._final
                        final[oid] = o
                        if len(final) >= self._retain:
                            self._rotate_final()
                        elif self._dying:
                            self._dying.popitem()
                    return [
                        (Cancelled, oid, o.owner, o.symbol, side, REQUESTED, q, o.cum_qty,
                         o.cum_notional, o.qty),
                        (LevelChanged, o.symbol, side, price, lvl.qty),
                    ]
                elif type(oid) is int:
                    f = self._final.get(oid) or self._old_final.get(oid)
                    if f is not None and (owner is None or f.owner == owner):
                        return [(Rejected, oid, TOO_LATE, _FINAL_TEXT[f.done])]
                return self._cancel(command)
            if kind is ReplaceOrder:
                return self._replace(command)
            handler = self._handlers.get(kind)
            if handler is None:
                return [(Rejected, None, R.INVALID_COMMAND, f"unknown command {kind.__name__}")]
            return handler(command)
        except Exception as exc:
            # A bug, never bad input (which gets its specific Rejected above): the daemon
            # keeps serving other orders, but the bug is logged with its traceback and the
            # command, as an ERROR the test suite fails on (tests/conftest.py), because the
            # book may be half updated.
            self._pending.clear()
            log.exception("engine bug executing %r; the book of %r may be inconsistent",
                          command, getattr(command, "symbol", None))
            return [(Rejected, getattr(command, "order_id", None), R.INVALID_COMMAND,
                     f"internal error: {exc!r}")]

    def book(self, symbol):
        return self._books.get(symbol) if type(symbol) is str else None

    @property
    def symbols(self):
        return list(self._books)

    def order(self, order_id):
        try:
            o = (self._orders.get(order_id) or self._final.get(order_id)
                 or self._old_final.get(order_id))
        except TypeError:
            return None
        return None if o is None else o.view()

    # ------------------------------------------------------------ bookkeeping

    def _finish(self, o, status):
        o.done = status
        if o.tif is GTD:
            self._ngtd -= 1
        oid = o.order_id
        # pop, not del: a fast-path taker is not indexed (execute), yet STP or an IOC
        # remainder finishes it here
        self._orders.pop(oid, None)
        if self._retain:
            final = self._final
            final[oid] = o
            if len(final) >= self._retain:
                self._rotate_final()
            elif self._dying:
                self._dying.popitem()

    def _retire_filled(self, o):
        """_finish(o, FILLED) for a taker that filled at once and was never indexed."""
        o.done = FILLED
        if self._retain:
            final = self._final
            final[o.order_id] = o
            if len(final) >= self._retain:
                self._rotate_final()
            elif self._dying:
                self._dying.popitem()

    def _rotate_final(self):
        """The current generation of final orders is full: it becomes the old one and a new
        one starts; returns the new dict.  The previous old generation is not dropped whole
        (freeing 100,000 cold orders at once stalled one command for 20-30 ms): each later
        final order frees one of its orders (``_dying.popitem()``), so it is empty by the
        next rotation."""
        self._dying = self._old_final
        self._old_final = self._final
        self._final = final = {}
        return final

    def _cancel_inflight(self, o, reason, ev):
        """Cancel what is left of an order that is not resting (taker / untriggered)."""
        q = o.leaves
        o.leaves = 0
        ev.append((Cancelled, o.order_id, o.owner, o.symbol, o.side, reason, q, o.cum_qty,
                                    o.cum_notional, o.qty))
        self._finish(o, CANCELLED)

    def _rest(self, book, o, ev):
        if o.side is BUY:
            half = book.bids
            key = -o.price
        else:
            half = book.asks
            key = o.price
        lvl = half.levels.get(key)
        if lvl is None:
            lvl = half.levels[key] = _Level(o.price)
            heappush(half.heap, key)
        if not lvl.live:
            half.nlive += 1
        leaves = o.leaves
        if type(o) is _Order or type(o) is _StpOrder:  # no iceberg (nor class-attribute read)
            v = leaves
        else:
            d = o.display_qty
            v = d if d is not None and d < leaves else leaves
        o.visible = v
        lvl.orders.append(o)
        lvl.live += 1
        lvl.qty = q = lvl.qty + v
        ev.append((LevelChanged, book.symbol, o.side, o.price, q))

    def _unrest(self, book, o):
        """Take a resting order off its level; returns (level, leaves it had)."""
        half = book.bids if o.side is BUY else book.asks
        lvl = half.levels[-o.price if o.side is BUY else o.price]
        q = o.leaves
        lvl.qty -= o.visible
        lvl.live -= 1
        o.visible = 0
        o.leaves = 0
        if not lvl.live or len(lvl.orders) > 2 * lvl.live + 16:
            _tidy(half, lvl)
        return lvl, q

    def _remove_live(self, o):
        """Detach a live order (resting or untriggered stop); returns (level|None, leaves)."""
        book = self._books[o.symbol]
        if o.triggered:
            return self._unrest(book, o)
        q = o.leaves
        o.leaves = 0
        book.nstops -= 1
        if len(book.buy_stops) + len(book.sell_stops) > 2 * book.nstops + 64:
            live = self._orders
            book.buy_stops = [e for e in book.buy_stops if _is_stop(live.get(e[1]))]
            book.sell_stops = [e for e in book.sell_stops if _is_stop(live.get(e[1]))]
            heapify(book.buy_stops)
            heapify(book.sell_stops)
        return None, q

    def _lookup(self, order_id, owner):
        """(live order, None) or (None, [Rejected])."""
        if type(order_id) is not int:
            return None, [(Rejected, None, R.UNKNOWN_ORDER, f"unknown order {order_id!r}")]
        o = self._orders.get(order_id)
        if o is not None:
            if owner is None or o.owner == owner:
                return o, None
            return None, [(Rejected, order_id, R.UNKNOWN_ORDER, f"unknown order {order_id!r}")]
        f = self._final.get(order_id) or self._old_final.get(order_id)
        if f is not None:
            if owner is None or f.owner == owner:
                return None, [(Rejected, order_id, R.TOO_LATE_TO_CANCEL, _FINAL_TEXT[f.done])]
        elif 0 < order_id < self._next_id:
            # accepted once (rejections consume no id), not live: final, no longer retained
            return None, [(Rejected, order_id, R.TOO_LATE_TO_CANCEL, "order is final")]
        return None, [(Rejected, order_id, R.UNKNOWN_ORDER, f"unknown order {order_id!r}")]

    # ------------------------------------------------------------ new orders

    def _new_order(self, c):
        (symbol, owner, side, qty, ord_type, price, stop_price, tif, expire_time, display_qty,
         min_qty, post_only, stp) = c
        book = self._books.get(symbol) if type(symbol) is str else None
        if book is None:
            return [(Rejected, None, R.UNKNOWN_SYMBOL, f"unknown symbol {symbol!r}")]
        v = validate_new_order(book, c, self.now)
        if type(v) is Rejected:
            return [(Rejected, *v)]
        side, ord_type, tif, stp = v
        if post_only and _crosses(book, side, price):
            return [(Rejected, None, R.POST_ONLY_WOULD_CROSS, "post-only order would take liquidity")]
        oid = self._next_id
        self._next_id = oid + 1
        o = _XOrder(oid, symbol, owner, side, ord_type, price, stop_price, qty, tif,
                    expire_time, display_qty, min_qty, bool(post_only), stp)
        self._orders[oid] = o
        ev = [(Accepted, oid, symbol, owner, side, ord_type, price, stop_price, qty, tif)]
        if tif is GTD:
            self._ngtd += 1
            if len(self._gtd) > 2 * self._ngtd + 1024:
                live = self._orders
                self._gtd = [e for e in self._gtd if e[1] in live]
                heapify(self._gtd)
            heappush(self._gtd, (expire_time, oid))
        if not o.triggered:
            last = book.last_trade_price
            sp = stop_price
            if last is not None and (last >= sp if side is BUY else last <= sp):
                book.nstops += 1  # counted as a stop until _drain triggers it
                self._pending.append(oid)
                self._drain(ev)
            else:
                book.nstops += 1
                if side is BUY:
                    heappush(book.buy_stops, (sp, oid))
                else:
                    heappush(book.sell_stops, (-sp, oid))
            return ev
        self._execute(book, o, ev, True)
        if self._pending:
            self._drain(ev)
        return ev

    def _execute(self, book, o, ev, entry):
        """Match an incoming (or re-entering) order, then rest or cancel the remainder."""
        limit = o.price
        side = o.side
        if entry and (o.tif is FOK or o.min_qty is not None):
            need = o.leaves if o.tif is FOK else o.min_qty
            if self._reachable(book, o, need) < need:
                self._cancel_inflight(o, C.FOK_UNFILLABLE if o.tif is FOK else C.MIN_QTY_NOT_MET, ev)
                return
        opp = book.asks if side is BUY else book.bids
        lvl = opp.best()
        if lvl is not None and (limit is None or (lvl.price <= limit if side is BUY else lvl.price >= limit)):
            self._match(book, o, opp, limit, ev, lvl, o.stp is not STP_NONE, side, o.owner,
                        o.order_id)
        if o.leaves:
            if limit is None:
                self._cancel_inflight(o, C.NO_LIQUIDITY, ev)
            elif o.tif is IOC or o.tif is FOK:
                self._cancel_inflight(o, C.IOC_REMAINDER, ev)
            else:
                self._rest(book, o, ev)
        elif not o.done:
            self._finish(o, FILLED)

    def _reachable(self, book, t, need):
        """Quantity an incoming order can surely trade now (FOK / min_qty), see docstring."""
        opp = book.asks if t.side is BUY else book.bids
        limit = t.price
        buy = t.side is BUY
        stp = t.stp
        owner = t.owner
        avail = 0
        for lvl in opp.iter_levels():
            if limit is not None and (lvl.price > limit if buy else lvl.price < limit):
                break
            if stp:
                own = sum(m.leaves for m in lvl.orders if m.leaves and m.owner == owner)
                if own and stp is not CANCEL_OLDEST:
                    return avail
                avail += sum(map(_leaves, lvl.orders)) - own
            else:
                avail += sum(map(_leaves, lvl.orders))
            if avail >= need:
                break
        return avail

    def _match(self, book, t, opp, limit, ev, lvl, stp, tside, owner, tid_):
        """Match taker ``t`` against side ``opp``; ``lvl``: its best level if known (else
        None); ``stp``: ``t.stp is not STP_NONE`` (a bool from the caller, which knows it
        without a class-attribute read: no IntEnum truth test per fill); ``tside``,
        ``owner``, ``tid_``: t's side, owner and order id (the callers hold them in locals;
        t's attribute reads are not specialised, as its type varies)."""
        buy = tside is BUY
        symbol = book.symbol
        oside = opp.side
        # (ev.append per event, not a bound method kept in a local: loading a method
        # attribute is not specialised in 3.11, calling ev.append is)
        trade_id = self._next_trade
        first = None  # first price printed (levels are visited in price order)
        stopped = False
        pro_rata = book.pro_rata
        live = self._orders
        retain = self._retain
        final = self._final
        dying = self._dying
        # the taker's running state lives in locals (t is synced around the STP and
        # pro-rata calls, which read it, and once after the loop): t's type varies (plain,
        # STP, market, other orders), so its attribute accesses are not specialised
        leaves = t.leaves
        cum = t.cum_qty
        notional_sum = t.cum_notional
        while leaves:
            if lvl is None:
                lvl = opp.best()
                if lvl is None:
                    break
            price = lvl.price
            if limit is not None and (price > limit if buy else price < limit):
                break
            start_trade = trade_id
            if pro_rata:
                t.leaves = leaves
                t.cum_qty = cum
                t.cum_notional = notional_sum
                trade_id, stopped = self._match_pro_rata(book, t, lvl, trade_id, ev)
                leaves = t.leaves
                cum = t.cum_qty
                notional_sum = t.cum_notional
            else:
                orders = lvl.orders
                # what the taker fills here is start - leaves, taken from lvl.qty after the
                # loop (only += / -= meanwhile); an STP reduction of the taker moves start
                start = leaves
                # each maker is popped first (one deque call, not a read of orders[0],
                # which is not specialised, and a popleft) and put back at the front when
                # the taker ends inside its displayed slice
                while leaves and lvl.live:
                    m = orders.popleft()
                    m_leaves = m.leaves
                    if not m_leaves:
                        continue
                    if stp and m.owner == owner:
                        t.leaves = leaves
                        t.cum_qty = cum
                        t.cum_notional = notional_sum
                        stopped = self._self_trade(t, m, lvl, ev, False)
                        if m.leaves:  # not cancelled: it keeps the front
                            orders.appendleft(m)
                        final = self._final  # _finish may have started a new generation
                        dying = self._dying
                        start -= leaves - t.leaves  # not a fill
                        leaves = t.leaves
                        cum = t.cum_qty
                        notional_sum = t.cum_notional
                        if stopped:
                            break
                        continue
                    visible = m.visible
                    if leaves < visible:  # the taker ends inside m's displayed slice
                        q = leaves
                        m.visible = visible - q
                        orders.appendleft(m)
                    else:  # m's displayed slice is consumed: see below the Trade
                        q = visible
                    notional = price * q
                    leaves -= q
                    cum += q
                    notional_sum += notional
                    m_leaves -= q
                    m.leaves = m_leaves
                    m.cum_qty = m_cum = m.cum_qty + q
                    m.cum_notional = m_notional = m.cum_notional + notional
                    mid = m.order_id
                    ev.append((Trade, symbol, trade_id, price, q, tside, tid_, owner, cum, leaves,
                               notional_sum, mid, m.owner, m_cum, m_leaves, m_notional))
                    trade_id += 1
                    if q == visible:  # (m.visible is left as it was: read only while resting)
                        if m_leaves:  # iceberg: next slice to the back of the level
                            d = m.display_qty
                            v = d if d < m_leaves else m_leaves
                            m.visible = v
                            lvl.qty += v
                            orders.append(m)
                        else:
                            lvl.live -= 1
                            # self._finish(m, FILLED), inlined
                            m.done = FILLED
                            if m.tif is GTD:
                                self._ngtd -= 1
                            del live[mid]
                            if retain:
                                final[mid] = m
                                if len(final) >= retain:
                                    final = self._rotate_final()
                                    dying = self._dying
                                elif dying:
                                    dying.popitem()
                lvl.qty -= start - leaves
            ev.append((LevelChanged, symbol, oside, price, lvl.qty))
            if trade_id != start_trade:
                book.last_trade_price = price
                if first is None:
                    first = price
            if not lvl.live:
                lvl.orders.clear()
                opp.nlive -= 1
            if stopped:
                break
            lvl = None
        t.leaves = leaves
        t.cum_qty = cum
        t.cum_notional = notional_sum
        self._next_trade = trade_id
        if first is not None and (book.buy_stops or book.sell_stops):
            # the prices printed span [first, last]: one end is the last trade's price
            last = book.last_trade_price
            if first < last:
                self._elect(book, first, last)
            else:
                self._elect(book, last, first)

    def _self_trade(self, t, m, lvl, ev, at_front):
        """Apply the taker's STP mode against resting ``m``; True = the taker is done."""
        stp = t.stp
        if stp is CANCEL_NEWEST:
            self._cancel_inflight(t, C.SELF_TRADE, ev)
            return True
        if stp is CANCEL_OLDEST or stp is CANCEL_BOTH:
            self._cancel_resting_in_match(m, lvl, at_front, m.leaves, ev)
            if stp is CANCEL_BOTH:
                self._cancel_inflight(t, C.SELF_TRADE, ev)
                return True
            return False
        # DECREMENT: both lose the smaller leaves, no trade
        d = t.leaves if t.leaves < m.leaves else m.leaves
        if d == m.leaves:
            self._cancel_resting_in_match(m, lvl, at_front, d, ev)
        else:
            m.leaves -= d
            if m.visible > m.leaves:
                lvl.qty -= m.visible - m.leaves
                m.visible = m.leaves
            ev.append((Restated, m.order_id, m.owner, m.symbol, m.side, C.SELF_TRADE, d, m.qty,
                               m.cum_qty, m.leaves, m.cum_notional))
        if d == t.leaves:
            self._cancel_inflight(t, C.SELF_TRADE, ev)
            return True
        t.leaves -= d
        ev.append((Restated, t.order_id, t.owner, t.symbol, t.side, C.SELF_TRADE, d, t.qty,
                           t.cum_qty, t.leaves, t.cum_notional))
        return False

    def _cancel_resting_in_match(self, m, lvl, at_front, q, ev):
        if at_front:
            lvl.orders.popleft()
        lvl.qty -= m.visible
        lvl.live -= 1
        m.visible = 0
        m.leaves = 0
        ev.append((Cancelled, m.order_id, m.owner, m.symbol, m.side, C.SELF_TRADE, q, m.cum_qty,
                            m.cum_notional, m.qty))
        self._finish(m, CANCELLED)

    def _match_pro_rata(self, book, t, lvl, trade_id, ev):
        """One pro-rata price level; returns (next trade id, taker stopped by STP)."""
        orders = [m for m in lvl.orders if m.leaves]
        stopped = False
        if t.stp:
            for m in orders:
                if m.owner == t.owner:
                    if self._self_trade(t, m, lvl, ev, False):
                        stopped = True
                        break
            orders = [m for m in orders if m.leaves]
            if stopped or not t.leaves:
                lvl.orders = deque(orders)
                return trade_id, True
        Q = t.leaves
        T = sum(m.leaves for m in orders)
        if Q >= T:
            allocs = [m.leaves for m in orders]
        else:
            lot = book.lot
            allocs = [Q * m.leaves // T // lot * lot for m in orders]
            rem = Q - sum(allocs)
            i = 0
            while rem:
                extra = orders[i].leaves - allocs[i]
                if extra > rem:
                    extra = rem
                allocs[i] += extra
                rem -= extra
                i += 1
        price = lvl.price
        symbol = book.symbol
        tside = t.side
        tid_ = t.order_id
        for m, q in zip(orders, allocs):
            if not q:
                continue
            notional = price * q
            t.cum_qty += q
            t.leaves -= q
            t.cum_notional += notional
            m.cum_qty += q
            m.leaves -= q
            m.cum_notional += notional
            m.visible -= q
            lvl.qty -= q
            ev.append((Trade, symbol, trade_id, price, q, tside, tid_, t.owner, t.cum_qty,
                       t.leaves, t.cum_notional, m.order_id, m.owner, m.cum_qty, m.leaves,
                       m.cum_notional))
            trade_id += 1
            if not m.leaves:
                lvl.live -= 1
                self._finish(m, FILLED)
        lvl.orders = deque(m for m in orders if m.leaves)
        return trade_id, False

    # ------------------------------------------------------------ stops

    def _elect(self, book, lo, hi):
        live = self._orders
        elected = []
        bs = book.buy_stops
        while bs and bs[0][0] <= hi:
            oid = heappop(bs)[1]
            if _is_stop(live.get(oid)):
                elected.append(oid)
        ss = book.sell_stops
        while ss and -ss[0][0] >= lo:
            oid = heappop(ss)[1]
            if _is_stop(live.get(oid)):
                elected.append(oid)
        if elected:
            elected.sort()
            self._pending.extend(elected)

    def _drain(self, ev):
        pending = self._pending
        live = self._orders
        while pending:
            o = live.get(pending.popleft())
            if not _is_stop(o):
                continue
            book = self._books[o.symbol]
            book.nstops -= 1
            o.triggered = True
            ev.append((Triggered, o.order_id, o.owner, o.symbol, o.side, o.ord_type, o.price,
                                o.stop_price))
            self._execute(book, o, ev, True)

    # ------------------------------------------------------------ other commands

    def _cancel(self, c):
        """CancelOrder (apply handles a resting order and a retained final one inline)."""
        o, rejected = self._lookup(c.order_id, c.owner)
        if rejected:
            return rejected
        ev = []
        self._cancel_live(o, REQUESTED, ev)
        return ev

    def _cancel_live(self, o, reason, ev):
        lvl, q = self._remove_live(o)
        ev.append((Cancelled, o.order_id, o.owner, o.symbol, o.side, reason, q, o.cum_qty,
                                    o.cum_notional, o.qty))
        self._finish(o, CANCELLED)
        if lvl is not None:
            ev.append((LevelChanged, o.symbol, o.side, lvl.price, lvl.qty))

    def _expire_live(self, o, ev):
        lvl, q = self._remove_live(o)
        ev.append((Expired, o.order_id, o.owner, o.symbol, o.side, q, o.cum_qty, o.cum_notional,
                          o.qty))
        self._finish(o, EXPIRED)
        if lvl is not None:
            ev.append((LevelChanged, o.symbol, o.side, lvl.price, lvl.qty))

    def _replace(self, c):
        oid, qty, price, owner = c + ()  # an exact tuple: see execute's NewOrder unpacking
        o = self._orders.get(oid) if type(oid) is int else None
        if o is None or (owner is not None and o.owner != owner):
            if o is None and type(oid) is int:  # the common reject, as in _lookup
                f = self._final.get(oid) or self._old_final.get(oid)
                if f is not None and (owner is None or f.owner == owner):
                    return [(Rejected, oid, TOO_LATE, _FINAL_TEXT[f.done])]
            o, rejected = self._lookup(oid, owner)
            if rejected:
                return rejected
        book = self._books[o.symbol]
        if not (type(qty) is int and book.min_qty <= qty and qty <= book.max_qty
                and (book.lot == 1 or not qty % book.lot)):
            bad = _check_qty(book.spec, qty)
            if bad:
                return [(Rejected, oid, *bad)]
        # a resting plain limit order (with or without STP): no class-attribute reads
        plain = type(o) is _Order or type(o) is _StpOrder
        if price is None:
            price = o.price
        elif not plain and (o.ord_type is MARKET or o.ord_type is STOP):
            return [(Rejected, oid, R.PRICE_NOT_ALLOWED, f"{o.ord_type.name} order takes no price")]
        elif not (type(price) is int and book.price_low <= price and price <= book.price_high
                  and (book.tick == 1 or not price % book.tick)):
            bad = _check_price(book.spec, price, "price")
            if bad:
                return [(Rejected, oid, *bad)]
        if qty <= o.cum_qty:
            ev = []
            self._cancel_live(o, C.REPLACED_BELOW_FILLED, ev)
            return ev
        new_leaves = qty - o.cum_qty
        if not plain and not o.triggered:
            o.qty = qty
            o.leaves = new_leaves
            o.price = price
            return [(Replaced, oid, o.owner, o.symbol, o.side, price, qty, o.cum_qty,
                     new_leaves, o.cum_notional, True)]
        if price == o.price and new_leaves <= o.leaves:
            o.leaves = new_leaves
            o.qty = qty
            ev = [(Replaced, oid, o.owner, o.symbol, o.side, price, qty, o.cum_qty,
                   new_leaves, o.cum_notional, True)]
            if o.visible > new_leaves:
                half = book.bids if o.side is BUY else book.asks
                lvl = half.levels[-price if o.side is BUY else price]
                lvl.qty -= o.visible - new_leaves
                o.visible = new_leaves
                ev.append((LevelChanged, o.symbol, o.side, price, lvl.qty))
            return ev
        if plain:
            # the most common replace: a resting plain limit order (DAY / GTC) loses priority
            # and re-enters as an aggressor; o.copy(), _unrest and _execute(entry=False)
            # inlined (price, qty and leaves are set below, visible by _rest)
            side = o.side
            old = o.price
            if type(o) is _Order:
                n = _Order()
            else:
                n = _StpOrder()
                n.stp = o.stp
            n.order_id = oid
            n.symbol = o.symbol
            n.owner = o.owner
            n.side = side
            n.cum_qty = o.cum_qty
            n.cum_notional = o.cum_notional
            n.tif = o.tif
            n.done = 0  # (o is live)
            if side is BUY:
                half = book.bids
                opp = book.asks
                lvl = half.levels[-old]
            else:
                half = book.asks
                opp = book.bids
                lvl = half.levels[old]
            lvl.qty -= o.visible
            lvl.live -= 1
            o.leaves = 0  # (visible is read only while an order rests)
            if not lvl.live or len(lvl.orders) > 2 * lvl.live + 16:
                _tidy(half, lvl)
            n.price = price
            n.qty = qty
            n.leaves = new_leaves
            # (n.visible: set by _rest)
            self._orders[oid] = n
            ev = [(Replaced, oid, n.owner, n.symbol, side, price, qty, n.cum_qty,
                   new_leaves, n.cum_notional, False),
                  (LevelChanged, n.symbol, side, old, lvl.qty)]
            # the crossing check as in execute (heap[0] bounds the best live key)
            heap = opp.heap
            if heap and heap[0] <= (price if side is BUY else -price):
                top = opp.levels[heap[0]]
                if not top.live:  # an emptied level on top: best() pops it
                    top = opp.best()
                if top is not None and (top.price <= price if side is BUY
                                        else top.price >= price):
                    self._match(book, n, opp, price, ev, top,
                                type(n) is _StpOrder and n.stp is not STP_NONE, side,
                                n.owner, oid)
                    if n.leaves:
                        self._rest(book, n, ev)
                    elif not n.done:  # (done: STP cancelled it)
                        self._finish(n, FILLED)
                    if self._pending:
                        self._drain(ev)
                    return ev
            # no cross: rest (the body of _rest, inlined as in execute)
            key = -price if side is BUY else price
            levels = half.levels  # (after _tidy, which may have compacted the side)
            lvl = levels.get(key)
            if lvl is None:
                lvl = levels[key] = _Level(price)
                heappush(half.heap, key)
                half.nlive += 1
            elif not lvl.live:
                half.nlive += 1
            n.visible = new_leaves
            lvl.orders.append(n)
            lvl.live += 1
            lvl.qty = q = lvl.qty + new_leaves
            ev.append((LevelChanged, n.symbol, side, price, q))
            return ev
        if o.post_only and _crosses(book, o.side, price):
            return [(Rejected, oid, R.POST_ONLY_WOULD_CROSS, "post-only replace would take liquidity")]
        n = o.copy()
        lvl, _ = self._unrest(book, o)
        n.price = price
        n.qty = qty
        n.leaves = new_leaves
        n.visible = 0
        self._orders[oid] = n
        ev = [(Replaced, oid, n.owner, n.symbol, n.side, price, qty, n.cum_qty,
               new_leaves, n.cum_notional, False),
              (LevelChanged, n.symbol, n.side, lvl.price, lvl.qty)]
        self._execute(book, n, ev, False)
        if self._pending:
            self._drain(ev)
        return ev

    def _status(self, c):
        o = None
        try:
            o = (self._orders.get(c.order_id) or self._final.get(c.order_id)
                 or self._old_final.get(c.order_id))
        except TypeError:
            pass
        if o is None or (c.owner is not None and o.owner != c.owner):
            return [(Rejected, c.order_id if type(c.order_id) is int else None, R.UNKNOWN_ORDER,
                             f"unknown order {c.order_id!r}")]
        return [(OrderState, o.view())]

    def _mass_cancel(self, c):
        owner, symbol, side = c.owner, c.symbol, c.side
        if owner is not None and type(owner) is not str:
            return [(Rejected, None, R.INVALID_OWNER, "owner must be a string or None")]
        if symbol is not None and (type(symbol) is not str or symbol not in self._books):
            return [(Rejected, None, R.UNKNOWN_SYMBOL, f"unknown symbol {symbol!r}")]
        if side is not None:
            side = _enum(_SIDES, side)
            if side is None:
                return [(Rejected, None, R.INVALID_SIDE, f"invalid side {c.side!r}")]
        targets = [
            o for o in self._orders.values()
            if (owner is None or o.owner == owner) and (symbol is None or o.symbol == symbol)
            and (side is None or o.side is side)
        ]
        ev = []
        for o in targets:
            self._cancel_live(o, C.MASS_CANCEL, ev)
        ev.append((MassCancelDone, len(targets), owner, symbol, side))
        return ev

    def _advance_time(self, c):
        now = c.now
        if type(now) is not int:
            return [(Rejected, None, R.INVALID_COMMAND, "now must be an int")]
        if now < self.now:
            return [(Rejected, None, R.TIME_WENT_BACKWARDS, f"time {now} is before {self.now}")]
        self.now = now
        ev = []
        gtd = self._gtd
        live = self._orders
        while gtd and gtd[0][0] <= now:
            o = live.get(heappop(gtd)[1])
            if o is not None:
                self._expire_live(o, ev)
        return ev

    def _end_of_day(self, c):
        ev = []
        for o in [o for o in self._orders.values() if o.tif is DAY]:
            self._expire_live(o, ev)
        return ev


def _is_stop(o):
    """A live stop still waiting for its trigger."""
    return o is not None and not o.triggered


def _validate_spec(spec):
    if not isinstance(spec, SymbolSpec):
        raise ValueError(f"expected a SymbolSpec, got {type(spec).__name__}")
    if type(spec.symbol) is not str or not spec.symbol:
        raise ValueError("symbol must be a non-empty string")
    for name in ("price_scale", "tick", "lot", "min_qty", "max_qty"):
        value = getattr(spec, name)
        if type(value) is not int or value < (0 if name == "price_scale" else 1):
            raise ValueError(f"{spec.symbol}: {name} must be a positive int, got {value!r}")
    if spec.min_qty > spec.max_qty:
        raise ValueError(f"{spec.symbol}: min_qty > max_qty")
    for name in ("band_low", "band_high"):
        value = getattr(spec, name)
        if value is not None and (type(value) is not int or value <= 0):
            raise ValueError(f"{spec.symbol}: {name} must be a positive int or None")
    if spec.band_low is not None and spec.band_high is not None and spec.band_low > spec.band_high:
        raise ValueError(f"{spec.symbol}: band_low > band_high")
    if spec.algorithm not in ("fifo", "pro_rata"):
        raise ValueError(f"{spec.symbol}: algorithm must be 'fifo' or 'pro_rata'")
