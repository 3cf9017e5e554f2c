"""How a taker trades against one price level: FIFO (price-time) or pro-rata, behind one
interface, and self-trade prevention.

``match_level(engine, book, t, lvl, trade_id, ev, stp, tside, owner, tid_) -> (trade_id,
stopped)``: trade taker ``t`` against level ``lvl`` (whose price the taker reaches),
appending Trade / Cancelled / Restated events to ``ev``; returns the next trade id and
whether STP ended the taker.  ``t.leaves``, ``t.cum_qty`` and ``t.cum_notional`` are
current on entry and on return; ``lvl.qty`` and ``lvl.live`` are kept right (the caller
reports the level).  ``stp`` is ``t.stp is not STP_NONE``, and ``tside``, ``owner``, ``tid_``
are the taker's side, owner and order id, which the caller holds in locals.  ``Book``
holds its algorithm's function as ``book.match_level``.
"""

from __future__ import annotations

from collections import deque

from ._names import CANCEL_BOTH, CANCEL_NEWEST, CANCEL_OLDEST, CANCELLED, FILLED, SELF_TRADE
from .types import Cancelled, Restated, Trade


def match_fifo_level(engine, book, t, lvl, trade_id, ev, stp, tside, owner, tid_):
    """Price-time priority: makers in arrival order, each up to its displayed slice (an
    iceberg's next slice goes to the back).  The per-fill loop: the taker's running state
    lives in locals (t's type varies, so its attribute reads are not specialised), each
    maker is popped first (one deque call) and put back at the front when the taker ends
    inside its displayed slice."""
    orders = lvl.orders
    price = lvl.price
    symbol = book.symbol
    leaves = t.leaves
    cum = t.cum_qty
    notional_sum = t.cum_notional
    # what the taker fills here is start - leaves, taken from lvl.qty after the loop (only
    # += / -= meanwhile); an STP reduction of the taker moves start
    start = leaves
    stopped = False
    while leaves and lvl.live:
        m = orders.popleft()
        m_leaves = m.leaves
        if not m_leaves:
            continue
        if stp and m.owner == owner:
            t.leaves = leaves
            t.cum_qty = cum
            t.cum_notional = notional_sum
            stopped = self_trade(engine, t, m, lvl, ev, False)
            if m.leaves:  # not cancelled: it keeps the front
                orders.appendleft(m)
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
        ev.append((Trade, symbol, trade_id, price, q, tside, tid_, owner, cum, leaves,
                   notional_sum, m.order_id, m.owner, m_cum, m_leaves, m_notional))
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
                engine._finish(m, FILLED)
    lvl.qty -= start - leaves
    t.leaves = leaves
    t.cum_qty = cum
    t.cum_notional = notional_sum
    return trade_id, stopped


def match_pro_rata_level(engine, book, t, lvl, trade_id, ev, stp, tside, owner, tid_):
    """Pro-rata: self orders resolved first (STP, in time order); then every order gets
    floor(Q * q_i / T) rounded down to the lot and the leftover goes FIFO; trades in time
    order."""
    orders = [m for m in lvl.orders if m.leaves]
    if stp:
        for m in orders:
            if m.owner == owner and self_trade(engine, t, m, lvl, ev, False):
                lvl.orders = deque(m for m in orders if m.leaves)
                return trade_id, True
        orders = [m for m in orders if m.leaves]
        if not t.leaves:
            lvl.orders = deque(orders)
            return trade_id, True
    price = lvl.price
    symbol = book.symbol
    for m, q in zip(orders, _allocate(t.leaves, [m.leaves for m in orders], book.lot)):
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
        ev.append((Trade, symbol, trade_id, price, q, tside, tid_, owner, t.cum_qty,
                   t.leaves, t.cum_notional, m.order_id, m.owner, m.cum_qty, m.leaves,
                   m.cum_notional))
        trade_id += 1
        if not m.leaves:
            lvl.live -= 1
            engine._finish(m, FILLED)
    lvl.orders = deque(m for m in orders if m.leaves)
    return trade_id, False


def _allocate(wanted, sizes, lot):
    """Pro-rata shares of ``wanted`` over resting ``sizes`` (all of them when it covers
    them): floor(wanted * size / total) down to the lot, the leftover FIFO."""
    total = sum(sizes)
    if wanted >= total:
        return sizes
    shares = [wanted * size // total // lot * lot for size in sizes]
    rest = wanted - sum(shares)
    i = 0
    while rest:
        extra = min(sizes[i] - shares[i], rest)
        shares[i] += extra
        rest -= extra
        i += 1
    return shares


MATCHERS = {"fifo": match_fifo_level, "pro_rata": match_pro_rata_level}


def self_trade(engine, t, m, lvl, ev, at_front):
    """Apply the taker's STP mode against resting ``m``; True = the taker is done."""
    stp = t.stp
    if stp is CANCEL_NEWEST:
        engine._cancel_inflight(t, SELF_TRADE, ev)
        return True
    if stp is CANCEL_OLDEST or stp is CANCEL_BOTH:
        _cancel_resting(engine, m, lvl, at_front, m.leaves, ev)
        if stp is CANCEL_BOTH:
            engine._cancel_inflight(t, SELF_TRADE, ev)
            return True
        return False
    # DECREMENT: both lose the smaller leaves, no trade
    d = t.leaves if t.leaves < m.leaves else m.leaves
    if d == m.leaves:
        _cancel_resting(engine, m, lvl, at_front, d, ev)
    else:
        m.leaves -= d
        if m.visible > m.leaves:
            lvl.qty -= m.visible - m.leaves
            m.visible = m.leaves
        ev.append((Restated, m.order_id, m.owner, m.symbol, m.side, SELF_TRADE, d, m.qty,
                   m.cum_qty, m.leaves, m.cum_notional))
    if d == t.leaves:
        engine._cancel_inflight(t, SELF_TRADE, ev)
        return True
    t.leaves -= d
    ev.append((Restated, t.order_id, t.owner, t.symbol, t.side, SELF_TRADE, d, t.qty,
               t.cum_qty, t.leaves, t.cum_notional))
    return False


def _cancel_resting(engine, m, lvl, at_front, q, ev):
    """STP cancels resting ``m`` in the middle of matching."""
    if at_front:
        lvl.orders.popleft()
    lvl.qty -= m.visible
    lvl.live -= 1
    m.visible = 0
    m.leaves = 0
    ev.append((Cancelled, m.order_id, m.owner, m.symbol, m.side, SELF_TRADE, q, m.cum_qty,
               m.cum_notional, m.qty))
    engine._finish(m, CANCELLED)
