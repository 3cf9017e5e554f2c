"""Books: per side a heap of level keys plus a dict of price levels, and the checks of a
command's prices and quantities against a symbol's spec (shared with the test reference).
"""

from __future__ import annotations

from collections import deque
from heapq import heapify, heappop, heappush

from ._names import (
    _ORD_TYPES, _SIDES, _STPS, _TIFS, BUY, FOK, GTC, GTD, IOC, LIMIT, MARKET, SELL, STOP, STOP_LIMIT, R,
    _enum, _leaves,
)
from .matching import MATCHERS
from .types import NewOrder, Rejected, SymbolSpec


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

    def top(self, n, orders=False):
        if not n:
            levels = [lvl for _, lvl in sorted(self.levels.items()) if lvl.live]
        else:
            levels = []
            for lvl in self.iter_levels():
                levels.append(lvl)
                if len(levels) >= n:
                    break
        if orders:
            return [(lvl.price, lvl.qty, lvl.live) for lvl in levels]
        return [(lvl.price, lvl.qty) for lvl in levels]

    def compact(self):
        self.levels = {k: lvl for k, lvl in self.levels.items() if lvl.live}
        self.heap = list(self.levels)
        heapify(self.heap)


class Book:
    """One symbol's order book (read-only API for callers; the engine mutates it)."""

    __slots__ = ("spec", "symbol", "bids", "asks", "last_trade_price", "buy_stops",
                 "sell_stops", "nstops", "pro_rata", "match_level", "lot", "tick", "min_qty",
                 "max_qty", "price_low", "price_high")

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
        # how a taker trades against one price level of this book (matching.py)
        self.match_level = MATCHERS[spec.algorithm]
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

    def depth(self, side, n=None, orders=False):
        """Aggregated displayed levels best first, (price, qty), or (price, qty, live orders)
        with `orders`; n 0/None = all levels."""
        side = _enum(_SIDES, side)
        if side is None:
            raise ValueError("side must be Side.BUY or Side.SELL")
        if n is not None and (type(n) is not int or n < 0):
            raise ValueError("n must be None or an int >= 0")
        return (self.bids if side is BUY else self.asks).top(n, orders)


def check_price(spec, price, what):
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


def check_qty(spec, qty):
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
    bad = check_qty(spec, c.qty)
    if bad:
        return Rejected(None, *bad)
    if ord_type is LIMIT or ord_type is STOP_LIMIT:
        if c.price is None:
            return Rejected(None, R.PRICE_REQUIRED, f"{ord_type.name} order needs a price")
        bad = check_price(spec, c.price, "price")
        if bad:
            return Rejected(None, *bad)
    elif c.price is not None:
        return Rejected(None, R.PRICE_NOT_ALLOWED, f"{ord_type.name} order takes no price")
    if ord_type is STOP or ord_type is STOP_LIMIT:
        if c.stop_price is None:
            return Rejected(None, R.STOP_PRICE_REQUIRED, f"{ord_type.name} order needs a stop_price")
        bad = check_price(spec, c.stop_price, "stop_price")
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



def validate_spec(spec):
    """ValueError unless ``spec`` is a usable SymbolSpec."""
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
