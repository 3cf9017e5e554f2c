"""The matching engine: commands in, events out (the contract: the package docstring).

The pieces, one home each:

- ``book.py``: a book side (``_Half``) is a heap of integer keys (price for asks, -price
  for bids) plus a dict key -> ``_Level``.  A level that empties stays in both until it
  reaches the top of the heap (popped by ``best``) or until empty levels outnumber live
  ones (``compact``), so removing a level in the middle of the book is O(1).  A level keeps
  its displayed qty and live count but no leaves total: only FOK / min_qty
  (``_reachable``) and pro-rata need one, and they sum the level's orders.  The checks of a
  command against a symbol's spec live there too.
- ``orders.py``: order records.  A level's deque may hold dead orders (cancelled, or the old
  object of a replace that lost priority): an order is dead when ``leaves == 0``.  Matching
  pops them; a cancel compacts the deque when dead entries dominate, so cancel is O(1).  A
  replace that loses priority builds a new object for the same id, so an object sits in
  at most one deque position.  Plain orders are ``_Order`` objects with 12 slots
  (``_StpOrder`` adds ``stp``); the rarely used fields are class-level defaults that
  ``_XOrder`` (every other order) overrides with slots; the cancelled qty is derived.
- ``matching.py``: one price level against a taker, FIFO or pro-rata behind one function
  signature (``book.match_level``), and self-trade prevention.
- this module: the ``Engine`` (the order index, order ids, retention of final orders, stop
  election, GTD expiry, the commands).

Events are plain tuples ``(EventClass, *fields)`` (one BUILD_TUPLE, no NamedTuple
``__new__``; ``apply`` converts them), one ``Trade`` per execution.  A fast-path taker is put
in the live index only if it rests (``_finish`` pops rather than deletes).

Hand-inlined copies, each kept because it pays (valgrind instructions per command of
tools/bench_engine.py's mix, engine calls only, issue 10's split: 16,300 with both): the
NewOrder fast path ``_new_plain`` (checks by identity and, when the order does not cross,
rested in place; through ``_rest`` instead: 17,150, +5%; the order itself is built in
place too: through ``_plain_order``, as a market order's is, 700 instructions per command
more, 18,740 vs 18,030 on the engine commands of tools/bench_pipeline.py's mix replayed
under valgrind) and the cancel of a resting plain order in ``_cancel`` (through
``_cancel_live``: 16,650, +2%).  Retiring a filled maker in the per-fill loop goes through
``_finish``: its inlined copy measured 16,480, no gain.  (Before the split, with every copy
inlined in one 230-line ``execute``: 14,900; in the whole daemon pipeline the difference
is about 0.5% of an order, tools/count_instructions.py.)
Everything else goes through one home: retiring a final order is ``_finish`` (also per
fill, in the matching loop), resting is ``_rest``, leaving a level is ``_unrest``, a
replace that loses priority re-enters through ``_execute``.  CPython 3.11 charges per
call and per bytecode, so these paths are written in the forms its specialising
interpreter handles (check with ``dis.dis(f, adaptive=True)`` after a warm-up: no
``*_ADAPTIVE`` op on a hot line): a comparison directly followed by a short jump (not
chained, not stored as a bool), ``ev.append(...)`` rather than a bound method in a local,
no ``%`` when it can be skipped.

Final orders (``retain_final``) are kept in two generation dicts: a final order costs one
dict store, and when the current generation holds ``retain_final`` orders it replaces the
old one, which is then freed one order per later final order (``_dying``).  (An exact
sliding window needed a deque of ids and a delete of the evicted id from a 100,000-entry
dict per final order: ~15% of the benchmark.)
"""


from __future__ import annotations

import logging
from collections import deque
from heapq import heapify, heappop, heappush

from ._names import (
    _FINAL_TEXT, _SIDES, BUY, CANCELLED, CANCEL_BOTH, CANCEL_NEWEST, CANCEL_OLDEST, DAY, DECREMENT,
    EXPIRED, FILLED, FOK, GTC, GTD, IOC, IOC_REMAINDER, LIMIT, MARKET, NO_LIQUIDITY, REQUESTED,
    SELL, STOP, STP_NONE, TOO_LATE, UNKNOWN_ORDER, C, R, _enum, _leaves,
)
from .book import Book, check_price, check_qty, _crosses, _Level, _tidy, validate_new_order, validate_spec
from .orders import _is_stop, _MarketOrder, _Order, _StpMarketOrder, _StpOrder, _XOrder
from .types import (
    Accepted,
    AdvanceTime,
    CancelOrder,
    Cancelled,
    EndOfDay,
    Expired,
    LevelChanged,
    MassCancel,
    MassCancelDone,
    NewOrder,
    OrderState,
    OrderStatusQuery,
    Rejected,
    Replaced,
    ReplaceOrder,
    SymbolSpec,
    Triggered,
)

log = logging.getLogger("fixexchange.engine")
# NamedTuple construction without its Python-level __new__ (apply turns execute's flat
# events into NamedTuples with it)
_tnew = tuple.__new__


class Engine:
    """All books; ``execute(command) -> list[tuple]`` (flat events) and
    ``apply(command) -> list[event]`` (NamedTuples).  See the package docstring."""

    def __init__(self, specs, now: int = 0, retain_final: int = 100_000):
        self._books: dict[str, Book] = {}
        for spec in specs:
            validate_spec(spec)
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

    def __setstate__(self, state: dict) -> None:
        # Unpickling (a snapshot) attribute by attribute: pickle's default updates the
        # instance __dict__ as a whole, which leaves it materialised, and CPython 3.11 then
        # specialises no self.method() read.  Measured (tools/count_instructions.py's gateway
        # layer on a gateway pickled and restored): 3,100 instructions per request more than
        # a fresh one; 300 with this and MarketData.__setstate__.
        for name, value in state.items():
            setattr(self, name, value)

    # ------------------------------------------------------------ public

    def apply(self, command) -> list:
        """``execute`` with every event as its NamedTuple (the readable API)."""
        return [_tnew(e[0], e[1:]) for e in self.execute(command)]

    def execute(self, command) -> list:
        """Events as plain tuples ``(EventClass, *fields)`` (see the package docstring)."""
        kind = type(command)
        try:
            if kind is NewOrder:
                return self._new_plain(command)
            if kind is CancelOrder:
                return self._cancel(command)
            if kind is ReplaceOrder:
                return self._replace(command)
            handler = self._handlers.get(kind)
            if handler is None:
                return [(Rejected, None, R.INVALID_COMMAND, f"unknown command {kind.__name__}")]
            return handler(command)
        except Exception as exc:
            return self._bug(command, exc)

    def execute_fields(self, kind, fields: tuple) -> list:
        """``execute(kind(*fields))`` for a NewOrder, CancelOrder or ReplaceOrder given as
        the plain tuple of its fields: the gateway's path, one command per request (a
        NamedTuple built through tuple.__new__ cost 1,800 instructions more per request)."""
        try:
            if kind is NewOrder:
                return self._new_plain(fields)
            if kind is CancelOrder:
                return self._cancel(fields)
            if kind is ReplaceOrder:
                return self._replace(fields)
        except Exception as exc:
            return self._bug(_tnew(kind, fields), exc)
        raise TypeError(f"execute_fields takes NewOrder, CancelOrder or ReplaceOrder, not {kind!r}")

    def _bug(self, command, exc: Exception) -> list:
        """A bug, never bad input (which gets its specific Rejected): the daemon keeps
        serving other orders, but the bug is logged with its traceback and the command, as
        an ERROR the test suite fails on (tests/conftest.py), because the book may be half
        updated."""
        self._pending.clear()
        log.exception("engine bug executing %r; the book of %r may be inconsistent",
                      command, getattr(command, "symbol", None))
        return [(Rejected, getattr(command, "order_id", None), R.INVALID_COMMAND,
                 f"internal error: {exc!r}")]


    @property
    def retain_final(self) -> int:
        """How many final orders stay queryable (at least; see ``__init__``)."""
        return self._retain

    @retain_final.setter
    def retain_final(self, count: int) -> None:
        if type(count) is not int or count < 0:
            raise ValueError("retain_final must be a non-negative int")
        self._retain = count

    def book(self, symbol):
        return self._books.get(symbol) if type(symbol) is str else None

    def live_orders_of(self, symbol: str) -> int:
        """Live orders (resting or untriggered stops) of ``symbol``."""
        return sum(1 for o in self._orders.values() if o.symbol == symbol)

    def set_symbol(self, spec: SymbolSpec) -> None:
        """Add a symbol or change one's spec (a restored snapshot, a changed configuration).
        With live orders only its limits may change (quantities, bands): a new tick, lot,
        price scale or algorithm would leave them invalid (``ValueError``)."""
        validate_spec(spec)
        book = self._books.get(spec.symbol)
        if book is None or not self.live_orders_of(spec.symbol):
            self._books[spec.symbol] = Book(spec)
            return
        old = book.spec
        if (old.price_scale, old.tick, old.lot, old.algorithm) != (spec.price_scale, spec.tick, spec.lot,
                                                                   spec.algorithm):
            raise ValueError(f"{spec.symbol}: tick, lot, price scale or algorithm changed with live orders")
        fresh = Book(spec)
        for name in ("spec", "min_qty", "max_qty", "price_low", "price_high"):
            setattr(book, name, getattr(fresh, name))

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
        ev.append((LevelChanged, book.symbol, o.side, o.price, q, lvl.live))

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
            return None, [(Rejected, None, UNKNOWN_ORDER, f"unknown order {order_id!r}")]
        o = self._orders.get(order_id)
        if o is not None:
            if owner is None or o.owner == owner:
                return o, None
            return None, [(Rejected, order_id, UNKNOWN_ORDER, f"unknown order {order_id!r}")]
        f = self._final.get(order_id) or self._old_final.get(order_id)
        if f is not None:
            if owner is None or f.owner == owner:
                return None, [(Rejected, order_id, TOO_LATE, _FINAL_TEXT[f.done])]
        elif 0 < order_id < self._next_id:
            # accepted once (rejections consume no id), not live: final, no longer retained
            return None, [(Rejected, order_id, TOO_LATE, "order is final")]
        return None, [(Rejected, order_id, UNKNOWN_ORDER, f"unknown order {order_id!r}")]

    # ------------------------------------------------------------ new orders

    # hot path: the order built in place (module docstring: 700 instructions per command less)
    def _new_plain(self, command):
        """NewOrder.  Fast path (about 60% of the commands of a trading session go through
        here; written flat, the order's construction aside, because CPython 3.11 charges
        per call and per bytecode; the figures: module docstring): a plain, valid
        LIMIT DAY/GTC/IOC order given with enum members (identity checks, nothing
        re-validated); a plain MARKET order goes to _new_market; anything else, including
        equal plain ints, to the general _new_order (the same events)."""
        # command + (): an exact tuple copy (a C-level copy loop) whose unpacking is
        # specialised; a NamedTuple (a tuple subclass) is unpacked through an iterator
        (symbol, owner, side, qty, ord_type, price, stop_price, tif, expire_time, display_qty,
         min_qty, post_only, stp) = command + ()
        book = self._books.get(symbol) if type(symbol) is str else None
        # The conditions are written "if not (...): return general" with no chained
        # a <= x <= b: CPython 3.11 specialises a comparison only when a short jump directly
        # follows it.
        if not (
            book is not None and stop_price is None and expire_time is None
            and display_qty is None and min_qty is None and post_only is False
            and (stp is STP_NONE or stp is CANCEL_NEWEST or stp is CANCEL_OLDEST
                 or stp is CANCEL_BOTH or stp is DECREMENT)
            and (side is BUY or side is SELL)
            and type(owner) is str and owner
            and type(qty) is int and book.min_qty <= qty and qty <= book.max_qty
            # (% is never specialised: skipped for the usual lot / tick of 1)
            and (book.lot == 1 or not qty % book.lot)
        ):
            return self._new_order(command)
        if ord_type is not LIMIT:
            if ord_type is MARKET and price is None and (tif is IOC or tif is DAY):
                return self._new_market(book, symbol, owner, side, qty, tif, stp)
            return self._new_order(command)
        if not ((tif is DAY or tif is GTC or tif is IOC)
                and type(price) is int and book.price_low <= price
                and price <= book.price_high
                and (book.tick == 1 or not price % book.tick)):
            return self._new_order(command)
        # the body of _plain_order (its call: 700 instructions per command more, module docstring)
        if stp is STP_NONE:
            o = _Order()
        else:
            o = _StpOrder()
            o.stp = stp
        o.order_id = oid = self._next_id
        self._next_id = oid + 1
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
        # o.visible is set when (and only read once) the order rests; the order goes into
        # self._orders only if it rests (nothing looks a taker up while it matches, and
        # _finish tolerates an unindexed order)
        accepted = (Accepted, oid, symbol, owner, side, LIMIT, price, None, qty, tif)
        if side is BUY:
            opp = book.asks
            half = book.bids
            key = -price
        else:
            opp = book.bids
            half = book.asks
            key = price
        heap = opp.heap
        # heap[0] is a lower bound of the opposite side's best live key (-key: the other
        # side's sign): beyond the price nothing can cross and best() (which pops dead
        # levels) is skipped
        if heap and heap[0] <= -key:
            lvl = opp.levels[heap[0]]
            if not lvl.live:  # an emptied level on top: best() pops it
                lvl = opp.best()
            if lvl is not None and (lvl.price <= price if side is BUY else lvl.price >= price):
                return self._new_limit_crossing(book, o, opp, lvl, accepted)
        if tif is IOC:
            ev = [accepted]
            self._cancel_inflight(o, IOC_REMAINDER, ev)
            return ev
        self._orders[oid] = o
        # rests without trading (half of the fix-load mix): the body of _rest
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
        return [accepted, (LevelChanged, symbol, side, price, q, lvl.live)]

    def _new_limit_crossing(self, book, o, opp, lvl, accepted):
        """A plain limit order that crosses ``lvl`` (opp's best): match, then rest or (IOC)
        cancel the remainder."""
        ev = [accepted]
        self._match(book, o, opp, o.price, ev, lvl, type(o) is _StpOrder and o.stp is not STP_NONE,
                    o.side, o.owner, o.order_id)
        if o.leaves:
            if o.tif is IOC:
                self._cancel_inflight(o, IOC_REMAINDER, ev)
            else:
                self._orders[o.order_id] = o
                self._rest(book, o, ev)
        elif not o.done:  # (done: STP cancelled it)
            self._finish(o, FILLED)
        if self._pending:
            self._drain(ev)
        return ev

    def _plain_order(self, cls, symbol, owner, side, price, qty, tif, stp):
        """A new order object of the plain classes (the next order id); a plain limit
        order's is built in _new_plain itself."""
        o = cls()
        if stp is not STP_NONE:
            o.stp = stp
        o.order_id = oid = self._next_id
        self._next_id = oid + 1
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
        return o

    def _new_market(self, book, symbol, owner, side, qty, tif, stp):
        """A plain market order (validated by _new_plain): never rests."""
        o = self._plain_order(_MarketOrder if stp is STP_NONE else _StpMarketOrder, symbol,
                              owner, side, None, qty, tif, stp)
        oid = o.order_id
        ev = [(Accepted, oid, symbol, owner, side, MARKET, None, None, qty, tif)]
        self._match(book, o, book.asks if side is BUY else book.bids, None, ev, None,
                    stp is not STP_NONE, side, owner, oid)
        if o.leaves:
            self._cancel_inflight(o, NO_LIQUIDITY, ev)
        elif not o.done:  # (done: STP cancelled it)
            self._finish(o, FILLED)
        if self._pending:
            self._drain(ev)
        return ev

    def _new_order(self, c):
        if type(c) is not NewOrder:  # (execute_fields': the checks read its fields by name)
            c = _tnew(NewOrder, c)
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
                self._cancel_inflight(o, NO_LIQUIDITY, ev)
            elif o.tif is IOC or o.tif is FOK:
                self._cancel_inflight(o, IOC_REMAINDER, ev)
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
        """Match taker ``t`` against side ``opp`` level by level (``book.match_level``: FIFO
        or pro-rata, see matching.py) up to ``limit`` (None: any price); ``lvl``: the best
        level if known (else None); ``stp``, ``tside``, ``owner``, ``tid_``: as for
        match_level.  Reports each level touched, then elects stops."""
        buy = tside is BUY
        symbol = book.symbol
        oside = opp.side
        match_level = book.match_level
        trade_id = self._next_trade
        first = None  # first price printed (levels are visited in price order)
        while t.leaves:
            if lvl is None:
                lvl = opp.best()
                if lvl is None:
                    break
            price = lvl.price
            if limit is not None and (price > limit if buy else price < limit):
                break
            start_trade = trade_id
            trade_id, stopped = match_level(self, book, t, lvl, trade_id, ev, stp, tside, owner, tid_)
            ev.append((LevelChanged, symbol, oside, price, lvl.qty, lvl.live))
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
        self._next_trade = trade_id
        if first is not None and (book.buy_stops or book.sell_stops):
            # the prices printed span [first, last]: one end is the last trade's price
            last = book.last_trade_price
            if first < last:
                self._elect(book, first, last)
            else:
                self._elect(book, last, first)

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
        """CancelOrder."""
        oid = c[0]  # (indexing a NamedTuple beats its attributes)
        owner = c[1]
        o = self._orders.get(oid) if type(oid) is int else None
        if o is None or not (owner is None or o.owner == owner):
            o, rejected = self._lookup(oid, owner)
            if rejected:
                return rejected
        if not (type(o) is _Order or type(o) is _StpOrder):
            ev = []
            self._cancel_live(o, REQUESTED, ev)
            return ev
        # A resting plain order (a quarter of the fix-load mix): _cancel_live, _unrest and
        # _finish inlined (what it saves: the module docstring).
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
        self._finish(o, CANCELLED)
        return [(Cancelled, oid, o.owner, o.symbol, side, REQUESTED, q, o.cum_qty,
                 o.cum_notional, o.qty),
                (LevelChanged, o.symbol, side, price, lvl.qty, lvl.live)]

    def _cancel_live(self, o, reason, ev):
        lvl, q = self._remove_live(o)
        ev.append((Cancelled, o.order_id, o.owner, o.symbol, o.side, reason, q, o.cum_qty,
                                    o.cum_notional, o.qty))
        self._finish(o, CANCELLED)
        if lvl is not None:
            ev.append((LevelChanged, o.symbol, o.side, lvl.price, lvl.qty, lvl.live))

    def _expire_live(self, o, ev):
        lvl, q = self._remove_live(o)
        ev.append((Expired, o.order_id, o.owner, o.symbol, o.side, q, o.cum_qty, o.cum_notional,
                          o.qty))
        self._finish(o, EXPIRED)
        if lvl is not None:
            ev.append((LevelChanged, o.symbol, o.side, lvl.price, lvl.qty, lvl.live))

    def _replace(self, c):
        """ReplaceOrder: the checks, then one of: cancel (qty <= filled), update an
        untriggered stop in place, keep priority (same price, leaves not up), or lose it
        and re-enter as an aggressor."""
        oid, qty, price, owner = c + ()  # an exact tuple: see _new_plain's unpacking
        o = self._orders.get(oid) if type(oid) is int else None
        if o is None or (owner is not None and o.owner != owner):
            o, rejected = self._lookup(oid, owner)
            if rejected:
                return rejected
        book = self._books[o.symbol]
        if not (type(qty) is int and book.min_qty <= qty and qty <= book.max_qty
                and (book.lot == 1 or not qty % book.lot)):
            bad = check_qty(book.spec, qty)
            if bad:
                return [(Rejected, oid, *bad)]
        if price is None:
            price = o.price
        elif o.ord_type is MARKET or o.ord_type is STOP:
            return [(Rejected, oid, R.PRICE_NOT_ALLOWED, f"{o.ord_type.name} order takes no price")]
        elif not (type(price) is int and book.price_low <= price and price <= book.price_high
                  and (book.tick == 1 or not price % book.tick)):
            bad = check_price(book.spec, price, "price")
            if bad:
                return [(Rejected, oid, *bad)]
        if qty <= o.cum_qty:
            ev = []
            self._cancel_live(o, C.REPLACED_BELOW_FILLED, ev)
            return ev
        new_leaves = qty - o.cum_qty
        if not o.triggered:  # an untriggered stop: updated in place
            o.qty = qty
            o.leaves = new_leaves
            o.price = price
            return [(Replaced, oid, o.owner, o.symbol, o.side, price, qty, o.cum_qty,
                     new_leaves, o.cum_notional, True)]
        if price == o.price and new_leaves <= o.leaves:
            return self._replace_keeping_priority(book, o, qty, new_leaves)
        if o.post_only and _crosses(book, o.side, price):
            return [(Rejected, oid, R.POST_ONLY_WOULD_CROSS, "post-only replace would take liquidity")]
        return self._replace_losing_priority(book, o, price, qty, new_leaves)

    def _replace_keeping_priority(self, book, o, qty, new_leaves):
        """Same price, leaves not increased: the order keeps its place in the queue."""
        price = o.price
        o.leaves = new_leaves
        o.qty = qty
        ev = [(Replaced, o.order_id, o.owner, o.symbol, o.side, price, qty, o.cum_qty,
               new_leaves, o.cum_notional, True)]
        if o.visible > new_leaves:
            half = book.bids if o.side is BUY else book.asks
            lvl = half.levels[-price if o.side is BUY else price]
            lvl.qty -= o.visible - new_leaves
            o.visible = new_leaves
            ev.append((LevelChanged, o.symbol, o.side, price, lvl.qty, lvl.live))
        return ev

    def _replace_losing_priority(self, book, o, price, qty, new_leaves):
        """A new order object for the same id (so an object sits in one deque position at
        most) leaves the old level and re-enters as an aggressor: it may trade at once."""
        n = o.copy()
        lvl, _ = self._unrest(book, o)
        n.price = price
        n.qty = qty
        n.leaves = new_leaves
        n.visible = 0
        self._orders[n.order_id] = n
        ev = [(Replaced, n.order_id, n.owner, n.symbol, n.side, price, qty, n.cum_qty,
               new_leaves, n.cum_notional, False),
              (LevelChanged, n.symbol, n.side, lvl.price, lvl.qty, lvl.live)]
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
