"""A deliberately simple reference engine: plain lists re-sorted on every look.

Same documented semantics and event order as ``fixexchange.engine.Engine``, none of its data
structures (no heaps, no lazy deletion, no level objects): resting orders of a side are a
list, priority is ``(price, arrival sequence)`` recomputed by sorting, level quantities are
sums over that list.  Only NewOrder field validation (a pure function) is shared.
"""

from __future__ import annotations

from fixexchange.engine import (
    Accepted, AdvanceTime, CancelOrder, Cancelled, CancelReason, EndOfDay, Expired,
    LevelChanged, MassCancel, MassCancelDone, NewOrder, OrderState, OrderStatus,
    OrderStatusQuery, OrderView, OrdType, Rejected, RejectReason, Replaced, ReplaceOrder,
    Restated, Side, StpMode, TimeInForce, Trade, Triggered,
)
from fixexchange.engine.book import Book, check_price, check_qty, validate_new_order

R = RejectReason
C = CancelReason


class RefOrder:
    def __init__(self, **kw):
        self.__dict__.update(kw)

    def view(self):
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


class RefEngine:
    def __init__(self, specs, now=0):
        self.specs = {s.symbol: s for s in specs}
        self.now = now
        self.orders = {}  # every accepted order, forever
        self.resting = {(s, side): [] for s in self.specs for side in (Side.BUY, Side.SELL)}
        self.stops = []  # untriggered stop orders
        self.last = {s: None for s in self.specs}
        self.next_id = 1
        self.next_trade = 1
        self.seq = 0
        self.pending = []

    # ---------------------------------------------------------------- book helpers

    def _sorted(self, symbol, side):
        orders = self.resting[(symbol, side)]
        sign = -1 if side is Side.BUY else 1
        return sorted(orders, key=lambda o: (sign * o.price, o.seq))

    def _displayed(self, symbol, side, price):
        return sum(o.visible for o in self.resting[(symbol, side)] if o.price == price)

    def depth(self, symbol, side):
        prices = []
        for o in self._sorted(symbol, side):
            if o.price not in prices:
                prices.append(o.price)
        return [(p, self._displayed(symbol, side, p)) for p in prices]

    def _crosses(self, symbol, side, price):
        opp = self._sorted(symbol, Side.SELL if side is Side.BUY else Side.BUY)
        if not opp:
            return False
        return opp[0].price <= price if side is Side.BUY else opp[0].price >= price

    def _remove(self, o):
        self.resting[(o.symbol, o.side)].remove(o)

    def _level_event(self, o_symbol, side, price):
        return LevelChanged(o_symbol, side, price, self._displayed(o_symbol, side, price),
                            sum(1 for o in self.resting[(o_symbol, side)] if o.price == price))

    # ---------------------------------------------------------------- commands

    def apply(self, c):
        ev = []
        t = type(c)
        if t is NewOrder:
            self._new(c, ev)
        elif t is CancelOrder:
            o = self._lookup(c.order_id, c.owner, ev)
            if o:
                self._cancel_live(o, C.REQUESTED, ev)
        elif t is ReplaceOrder:
            self._replace(c, ev)
        elif t is OrderStatusQuery:
            o = self.orders.get(c.order_id)
            if o is None or (c.owner is not None and o.owner != c.owner):
                ev.append(Rejected(c.order_id, R.UNKNOWN_ORDER, R.UNKNOWN_ORDER.name.lower()))
            else:
                ev.append(OrderState(o.view()))
        elif t is MassCancel:
            self._mass_cancel(c, ev)
        elif t is AdvanceTime:
            if c.now < self.now:
                ev.append(Rejected(None, R.TIME_WENT_BACKWARDS, R.TIME_WENT_BACKWARDS.name.lower()))
            else:
                self.now = c.now
                due = sorted((o.expire_time, o.order_id) for o in self._live()
                             if o.tif is TimeInForce.GTD and o.expire_time <= c.now)
                for _, oid in due:
                    self._expire(self.orders[oid], ev)
        elif t is EndOfDay:
            for o in sorted(self._live(), key=lambda o: o.order_id):
                if o.tif is TimeInForce.DAY:
                    self._expire(o, ev)
        else:
            raise AssertionError(c)
        return ev

    def _live(self):
        return [o for o in self.orders.values() if not o.done]

    def _lookup(self, oid, owner, ev):
        o = self.orders.get(oid)
        if o is None or (owner is not None and o.owner != owner):
            ev.append(Rejected(oid, R.UNKNOWN_ORDER, R.UNKNOWN_ORDER.name.lower()))
            return None
        if o.done:
            ev.append(Rejected(oid, R.TOO_LATE_TO_CANCEL, R.TOO_LATE_TO_CANCEL.name.lower()))
            return None
        return o

    def _new(self, c, ev):
        spec = self.specs.get(c.symbol)
        if spec is None:
            ev.append(Rejected(None, R.UNKNOWN_SYMBOL, R.UNKNOWN_SYMBOL.name.lower()))
            return
        v = validate_new_order(Book(spec), c, self.now)
        if isinstance(v, Rejected):
            ev.append(v)
            return
        side, ord_type, tif, stp = v
        if c.post_only and self._crosses(c.symbol, side, c.price):
            ev.append(Rejected(None, R.POST_ONLY_WOULD_CROSS, R.POST_ONLY_WOULD_CROSS.name.lower()))
            return
        o = RefOrder(
            order_id=self.next_id, symbol=c.symbol, owner=c.owner, side=side, ord_type=ord_type,
            price=c.price, stop_price=c.stop_price, qty=c.qty, cum_qty=0, leaves=c.qty,
            cancelled=0, cum_notional=0, tif=tif, expire_time=c.expire_time,
            display_qty=c.display_qty, min_qty=c.min_qty, post_only=bool(c.post_only), stp=stp,
            done=0, triggered=ord_type in (OrdType.MARKET, OrdType.LIMIT), visible=0, seq=None,
        )
        self.next_id += 1
        self.orders[o.order_id] = o
        ev.append(Accepted(o.order_id, o.symbol, o.owner, side, ord_type, o.price, o.stop_price,
                           o.qty, tif))
        if not o.triggered:
            last = self.last[o.symbol]
            if last is not None and (last >= o.stop_price if side is Side.BUY else last <= o.stop_price):
                self.pending.append(o)
            else:
                self.stops.append(o)
        else:
            self._execute(o, ev, True)
        self._drain(ev)

    def _finish(self, o, status):
        o.done = status

    def _cancel_inflight(self, o, reason, ev):
        q = o.leaves
        o.leaves = 0
        o.cancelled += q
        ev.append(Cancelled(o.order_id, o.owner, o.symbol, o.side, reason, q, o.cum_qty,
                            o.cum_notional, o.qty))
        o.done = OrderStatus.CANCELLED

    def _detach(self, o):
        """Take a live order out of the book / stop list; returns whether it was resting."""
        if o.triggered:
            self._remove(o)
            return True
        self.stops.remove(o)
        return False

    def _cancel_live(self, o, reason, ev):
        resting = self._detach(o)
        o.visible = 0
        self._cancel_inflight(o, reason, ev)
        if resting:
            ev.append(self._level_event(o.symbol, o.side, o.price))

    def _expire(self, o, ev):
        resting = self._detach(o)
        q = o.leaves
        o.leaves = 0
        o.visible = 0
        o.cancelled += q
        ev.append(Expired(o.order_id, o.owner, o.symbol, o.side, q, o.cum_qty, o.cum_notional,
                          o.qty))
        o.done = OrderStatus.EXPIRED
        if resting:
            ev.append(self._level_event(o.symbol, o.side, o.price))

    def _mass_cancel(self, c, ev):
        if c.owner is not None and not isinstance(c.owner, str):
            ev.append(Rejected(None, R.INVALID_OWNER, R.INVALID_OWNER.name.lower()))
            return
        if c.symbol is not None and c.symbol not in self.specs:
            ev.append(Rejected(None, R.UNKNOWN_SYMBOL, R.UNKNOWN_SYMBOL.name.lower()))
            return
        side = c.side
        if side is not None:
            if side not in (1, 2):
                ev.append(Rejected(None, R.INVALID_SIDE, R.INVALID_SIDE.name.lower()))
                return
            side = Side(side)
        targets = [o for o in sorted(self._live(), key=lambda o: o.order_id)
                   if (c.owner is None or o.owner == c.owner)
                   and (c.symbol is None or o.symbol == c.symbol)
                   and (side is None or o.side is side)]
        for o in targets:
            self._cancel_live(o, C.MASS_CANCEL, ev)
        ev.append(MassCancelDone(len(targets), c.owner, c.symbol, side))

    def _replace(self, c, ev):
        o = self._lookup(c.order_id, c.owner, ev)
        if o is None:
            return
        spec = self.specs[o.symbol]
        bad = check_qty(spec, c.qty)
        if bad:
            ev.append(Rejected(o.order_id, bad[0], ""))
            return
        price = c.price
        if price is None:
            price = o.price
        elif o.ord_type in (OrdType.MARKET, OrdType.STOP):
            ev.append(Rejected(o.order_id, R.PRICE_NOT_ALLOWED, R.PRICE_NOT_ALLOWED.name.lower()))
            return
        else:
            bad = check_price(spec, price, "price")
            if bad:
                ev.append(Rejected(o.order_id, bad[0], ""))
                return
        if c.qty <= o.cum_qty:
            self._cancel_live(o, C.REPLACED_BELOW_FILLED, ev)
            return
        new_leaves = c.qty - o.cum_qty
        replaced = lambda kept: Replaced(o.order_id, o.owner, o.symbol, o.side, price, c.qty,  # noqa: E731
                                         o.cum_qty, new_leaves, o.cum_notional, kept)
        if not o.triggered:
            o.qty, o.leaves, o.cancelled, o.price = c.qty, new_leaves, 0, price
            ev.append(replaced(True))
            return
        if price == o.price and new_leaves <= o.leaves:
            o.qty, o.leaves, o.cancelled = c.qty, new_leaves, 0
            ev.append(replaced(True))
            if o.visible > new_leaves:
                o.visible = new_leaves
                ev.append(self._level_event(o.symbol, o.side, price))
            return
        if o.post_only and self._crosses(o.symbol, o.side, price):
            ev.append(Rejected(o.order_id, R.POST_ONLY_WOULD_CROSS, R.POST_ONLY_WOULD_CROSS.name.lower()))
            return
        old_price = o.price
        self._remove(o)
        o.visible = 0
        o.qty, o.leaves, o.cancelled, o.price = c.qty, new_leaves, 0, price
        ev.append(replaced(False))
        ev.append(self._level_event(o.symbol, o.side, old_price))
        self._execute(o, ev, False)
        self._drain(ev)

    # ---------------------------------------------------------------- matching

    def _reachable(self, t):
        opp_side = Side.SELL if t.side is Side.BUY else Side.BUY
        avail = 0
        for price, _ in self.depth(t.symbol, opp_side):
            if t.price is not None and (price > t.price if t.side is Side.BUY else price < t.price):
                break
            at = [o for o in self.resting[(t.symbol, opp_side)] if o.price == price]
            own = sum(o.leaves for o in at if o.owner == t.owner)
            if t.stp is not StpMode.NONE and own:
                if t.stp is not StpMode.CANCEL_OLDEST:
                    return avail
                avail += sum(o.leaves for o in at) - own
            else:
                avail += sum(o.leaves for o in at)
        return avail

    def _execute(self, o, ev, entry):
        if entry and (o.tif is TimeInForce.FOK or o.min_qty is not None):
            need = o.leaves if o.tif is TimeInForce.FOK else o.min_qty
            if self._reachable(o) < need:
                self._cancel_inflight(
                    o, C.FOK_UNFILLABLE if o.tif is TimeInForce.FOK else C.MIN_QTY_NOT_MET, ev)
                return
        self._match(o, ev)
        if o.leaves:
            if o.price is None:
                self._cancel_inflight(o, C.NO_LIQUIDITY, ev)
            elif o.tif in (TimeInForce.IOC, TimeInForce.FOK):
                self._cancel_inflight(o, C.IOC_REMAINDER, ev)
            else:
                self.seq += 1
                o.seq = self.seq
                o.visible = min(o.display_qty, o.leaves) if o.display_qty else o.leaves
                self.resting[(o.symbol, o.side)].append(o)
                ev.append(self._level_event(o.symbol, o.side, o.price))
        elif not o.done:
            o.done = OrderStatus.FILLED

    def _trade(self, t, m, price, q, ev):
        t.cum_qty += q
        t.leaves -= q
        t.cum_notional += price * q
        m.cum_qty += q
        m.leaves -= q
        m.cum_notional += price * q
        m.visible -= q
        tid = self.next_trade
        self.next_trade += 1
        ev.append(Trade(t.symbol, tid, price, q, t.side, t.order_id, t.owner, t.cum_qty, t.leaves,
                        t.cum_notional, m.order_id, m.owner, m.cum_qty, m.leaves, m.cum_notional))
        if not m.leaves:
            self._remove(m)
            m.done = OrderStatus.FILLED

    def _self_trade(self, t, m, ev):
        """Same rules as the engine; returns True when the taker is done."""
        if t.stp is StpMode.CANCEL_NEWEST:
            self._cancel_inflight(t, C.SELF_TRADE, ev)
            return True
        if t.stp in (StpMode.CANCEL_OLDEST, StpMode.CANCEL_BOTH):
            self._remove(m)
            m.visible = 0
            self._cancel_inflight(m, C.SELF_TRADE, ev)
            if t.stp is StpMode.CANCEL_BOTH:
                self._cancel_inflight(t, C.SELF_TRADE, ev)
                return True
            return False
        d = min(t.leaves, m.leaves)
        if d == m.leaves:
            self._remove(m)
            m.visible = 0
            self._cancel_inflight(m, C.SELF_TRADE, ev)
        else:
            m.leaves -= d
            m.cancelled += d
            m.visible = min(m.visible, m.leaves)
            ev.append(Restated(m.order_id, m.owner, m.symbol, m.side, C.SELF_TRADE, d, m.qty,
                               m.cum_qty, m.leaves, m.cum_notional))
        if d == t.leaves:
            self._cancel_inflight(t, C.SELF_TRADE, ev)
            return True
        t.leaves -= d
        t.cancelled += d
        ev.append(Restated(t.order_id, t.owner, t.symbol, t.side, C.SELF_TRADE, d, t.qty,
                           t.cum_qty, t.leaves, t.cum_notional))
        return False

    def _match(self, t, ev):
        opp_side = Side.SELL if t.side is Side.BUY else Side.BUY
        pro_rata = self.specs[t.symbol].algorithm == "pro_rata"
        traded = []
        while t.leaves:
            opp = self._sorted(t.symbol, opp_side)
            if not opp:
                break
            price = opp[0].price
            if t.price is not None and (price > t.price if t.side is Side.BUY else price < t.price):
                break
            before = self.next_trade
            if pro_rata:
                stopped = self._level_pro_rata(t, opp_side, price, ev)
            else:
                stopped = self._level_fifo(t, opp_side, price, ev)
            ev.append(self._level_event(t.symbol, opp_side, price))
            if self.next_trade != before:
                traded.append(price)
                self.last[t.symbol] = price
            if stopped:
                break
        if traded:
            lo, hi = min(traded), max(traded)
            elected = [s for s in self.stops if s.symbol == t.symbol and (
                s.stop_price <= hi if s.side is Side.BUY else s.stop_price >= lo)]
            for s in elected:
                self.stops.remove(s)
            self.pending.extend(sorted(elected, key=lambda s: s.order_id))

    def _at(self, symbol, side, price):
        return [o for o in self._sorted(symbol, side) if o.price == price]

    def _level_fifo(self, t, side, price, ev):
        while t.leaves:
            at = self._at(t.symbol, side, price)
            if not at:
                return False
            m = at[0]
            if t.stp is not StpMode.NONE and m.owner == t.owner:
                if self._self_trade(t, m, ev):
                    return True
                continue
            self._trade(t, m, price, min(t.leaves, m.visible), ev)
            if m.leaves and not m.visible:
                m.visible = min(m.display_qty, m.leaves)
                self.seq += 1
                m.seq = self.seq
        return False

    def _level_pro_rata(self, t, side, price, ev):
        if t.stp is not StpMode.NONE:
            for m in self._at(t.symbol, side, price):
                if m.owner == t.owner and self._self_trade(t, m, ev):
                    return True
            if not t.leaves:
                return True
        at = self._at(t.symbol, side, price)
        total = sum(m.leaves for m in at)
        q = t.leaves
        lot = self.specs[t.symbol].lot
        if q >= total:
            alloc = [m.leaves for m in at]
        else:
            alloc = [(q * m.leaves // total) // lot * lot for m in at]
            rem = q - sum(alloc)
            for i, m in enumerate(at):
                extra = min(rem, m.leaves - alloc[i])
                alloc[i] += extra
                rem -= extra
        for m, a in zip(at, alloc):
            if a:
                self._trade(t, m, price, a, ev)
        return False

    def _drain(self, ev):
        while self.pending:
            o = self.pending.pop(0)
            o.triggered = True
            ev.append(Triggered(o.order_id, o.owner, o.symbol, o.side, o.ord_type, o.price,
                                o.stop_price))
            self._execute(o, ev, True)


class ReferenceBook:
    """The query side of ``Engine.book(symbol)`` over the reference's lists."""

    def __init__(self, engine: "ReferenceEngine", spec) -> None:
        self._engine = engine
        self.spec = spec

    @property
    def last_trade_price(self):
        return self._engine.last[self.spec.symbol]

    def depth(self, side, n=None):
        if side not in (Side.BUY, Side.SELL) or (n is not None and (type(n) is not int or n < 0)):
            raise ValueError("bad side or n")
        levels = [(p, q) for p, q in self._engine.depth(self.spec.symbol, Side(side)) if q]
        return levels[:n] if n else levels

    def best_bid(self):
        levels = self.depth(Side.BUY, 1)
        return levels[0] if levels else None

    def best_ask(self):
        levels = self.depth(Side.SELL, 1)
        return levels[0] if levels else None


class ReferenceEngine(RefEngine):
    """The reference model behind the engine's public API (``apply``, ``book``, ``order``,
    ``symbols``, ``now``), so the rule tests run unchanged against either."""

    def __init__(self, specs, now=0):
        super().__init__(specs, now)
        self._books = {symbol: ReferenceBook(self, spec) for symbol, spec in self.specs.items()}

    def book(self, symbol):
        return self._books.get(symbol) if type(symbol) is str else None

    @property
    def symbols(self):
        return list(self._books)

    def order(self, order_id):
        o = self.orders.get(order_id) if type(order_id) is int else None
        return None if o is None else o.view()
