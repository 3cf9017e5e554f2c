"""Long seeded runs and the lazy-removal / compaction paths the short stateful runs rarely reach."""

from __future__ import annotations

import random

import pytest

from fixexchange.engine import (
    Accepted, AdvanceTime, CancelOrder, Cancelled, EndOfDay, Engine, Expired, MassCancel, NewOrder,
    OrderStatus, OrderStatusQuery, OrdType, ReplaceOrder, Side, StpMode, SymbolSpec, TimeInForce,
    Trade, Triggered,
)
from fixexchange.engine.invariants import check_invariants, expiry_heap_size

from .reference import RefEngine
from .test_engine_vs_reference import normalise

BUY, SELL = Side.BUY, Side.SELL
SPECS = [SymbolSpec("F"), SymbolSpec("P", lot=5, min_qty=5, algorithm="pro_rata")]


def random_flow(seed, n):
    rng = random.Random(seed)
    out = []
    now = 0
    for i in range(n):
        r = rng.random()
        symbol = "F" if rng.random() < 0.7 else "P"
        lot = 5 if symbol == "P" else 1
        side = rng.choice([BUY, SELL])
        owner = rng.choice("abcd")
        if r < 0.55:
            price = 100 + rng.randint(-6, 6)
            kw = {}
            if symbol == "F" and rng.random() < 0.15:
                kw["display_qty"] = rng.randint(1, 3)
            if rng.random() < 0.2:
                kw["stp"] = rng.choice(list(StpMode))
            if rng.random() < 0.1:
                kw["tif"] = TimeInForce.GTD
                kw["expire_time"] = now + rng.randint(1, 40)
            out.append(NewOrder(symbol, owner, side, rng.randint(1, 8) * lot, price=price, **kw))
        elif r < 0.62:
            kind = rng.choice([OrdType.STOP, OrdType.STOP_LIMIT])
            stop = 100 + rng.randint(-5, 5)
            out.append(NewOrder(symbol, owner, side, rng.randint(1, 4) * lot, kind,
                                stop + rng.randint(-2, 2) if kind is OrdType.STOP_LIMIT else None,
                                stop))
        elif r < 0.67:
            tif = rng.choice([TimeInForce.IOC, TimeInForce.FOK])
            out.append(NewOrder(symbol, owner, side, rng.randint(1, 12) * lot, OrdType.MARKET,
                                tif=tif, min_qty=rng.choice([None, lot * 2])))
        elif r < 0.85:
            out.append(CancelOrder(rng.randint(1, i + 1), rng.choice([None, owner])))
        elif r < 0.95:
            out.append(ReplaceOrder(rng.randint(1, i + 1), rng.randint(1, 10) * lot,
                                    rng.choice([None, 100 + rng.randint(-6, 6)])))
        elif r < 0.97:
            now += rng.randint(0, 10)
            out.append(AdvanceTime(now))
        elif r < 0.98:
            out.append(OrderStatusQuery(rng.randint(1, i + 1)))
        elif r < 0.99:
            out.append(MassCancel(owner=owner, side=rng.choice([None, side])))
        else:
            out.append(EndOfDay())
    return out


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_long_random_run_matches_reference(seed):
    fast, ref = Engine(SPECS), RefEngine(SPECS)
    triggered = 0
    for i, command in enumerate(random_flow(seed, 4000)):
        got = fast.apply(command)
        assert normalise(got) == normalise(ref.apply(command)), (i, command)
        triggered += sum(type(e) is Triggered for e in got)
        if i % 50 == 0:
            check_invariants(fast)
    check_invariants(fast)
    assert triggered > 10
    for oid, o in ref.orders.items():
        assert fast.order(oid) == o.view()


@pytest.mark.parametrize("seed", [5, 6])
def test_execute_and_apply_agree_event_for_event(seed):
    """execute() (flat tuples, the daemon's API) and apply() (NamedTuples) on two fresh
    engines give the same events: same class, same fields, in the same order."""
    flat, named = Engine(SPECS), Engine(SPECS)
    count = trades = last_id = 0
    for i, command in enumerate(random_flow(seed, 3000)):
        raw, events = flat.execute(command), named.apply(command)
        assert len(raw) == len(events), (i, command)
        for r, e in zip(raw, events):
            assert type(r) is tuple and r[0] is type(e) and r[1:] == tuple(e), (i, command, r, e)
            trades += r[0] is Trade
            if r[0] is Accepted:
                last_id = max(last_id, r[1])
        count += len(raw)
    assert count > 5000 and trades > 300
    for oid in range(1, last_id + 1):
        assert flat.order(oid) == named.order(oid)


FINAL = (OrderStatus.FILLED, OrderStatus.CANCELLED, OrderStatus.EXPIRED)


def live_ids(engine, command_count):
    """Ids of the engine's live orders (an order id per command at most)."""
    return {oid for oid in range(1, command_count + 1)
            if (order := engine.order(oid)) is not None and order.status not in FINAL}


@pytest.mark.parametrize("retain", [1, 7])
def test_small_final_retention_keeps_at_least_the_last_finals(retain):
    """Generation rotation (and freeing the dropped generation one order at a time) in the
    middle of matching, STP and replaces: books and live orders stay identical to an engine
    that keeps every final order, only answers about evicted final orders may differ, and
    the last ``retain`` finished orders always stay queryable."""
    small, full = Engine(SPECS, retain_final=retain), Engine(SPECS)
    finished = []  # final order ids, one list per command that finished any
    for i, command in enumerate(random_flow(4, 4000)):
        got, want = small.apply(command), full.apply(command)
        if got != want:
            assert len(got) == len(want) == 1 and type(command) in (
                CancelOrder, ReplaceOrder, OrderStatusQuery), (i, command, got, want)
            assert full.order(command.order_id).status in (
                OrderStatus.FILLED, OrderStatus.CANCELLED, OrderStatus.EXPIRED)
            assert small.order(command.order_id) is None
        now = []
        for e in want:
            if type(e) is Trade:
                now += [oid for oid, leaves in ((e.taker_order_id, e.taker_leaves_qty),
                                                (e.maker_order_id, e.maker_leaves_qty)) if not leaves]
            elif type(e) in (Cancelled, Expired):
                now.append(e.order_id)
        if now:
            finished.append(now)
        # the last `retain` finished orders are queryable; the events do not show the order
        # in which one command finished several, so per command: all of a group that lies
        # wholly inside the last `retain`, and enough of the group that straddles the edge
        need = retain
        for group in reversed(finished):
            kept = sum(small.order(oid) == full.order(oid) for oid in group)
            assert kept >= min(need, len(group)), (i, group)
            need -= len(group)
            if need <= 0:
                break
        if i % 50 == 0:
            check_invariants(small)
            assert live_ids(small, command_count=i + 1) == live_ids(full, command_count=i + 1)
    check_invariants(small)
    assert sum(map(len, finished)) > 10 * retain


def test_level_deque_compacts_dead_orders():
    e = Engine([SymbolSpec("X")])
    for _ in range(200):
        e.apply(NewOrder("X", "o", SELL, 1, price=100))
    for oid in range(2, 200):  # cancel everything but the first and last
        e.apply(CancelOrder(oid))
        lvl = e.book("X").asks.levels[100]
        assert len(lvl.orders) <= 2 * lvl.live + 17
    check_invariants(e)
    assert e.book("X").best_ask() == (100, 2)
    events = e.apply(NewOrder("X", "t", BUY, 2, price=100))
    assert [x.maker_order_id for x in events if hasattr(x, "maker_order_id")] == [1, 200]


def test_side_compacts_when_empty_levels_pile_up():
    e = Engine([SymbolSpec("X")])
    for price in range(1, 301):
        e.apply(NewOrder("X", "o", BUY, 1, price=price))
    for oid in range(1, 281):  # the lowest 280 bids: never at the top of the heap
        e.apply(CancelOrder(oid))
    check_invariants(e)
    half = e.book("X").bids  # (uncompacted: 300 heap entries)
    assert len(half.heap) <= 2 * half.nlive + 65
    assert e.book("X").depth(BUY) == [(p, 1) for p in range(300, 280, -1)]


def test_stop_heaps_compact_and_survivors_still_trigger():
    e = Engine([SymbolSpec("X")])
    for i in range(200):
        e.apply(NewOrder("X", "o", BUY, 1, OrdType.STOP, stop_price=101 + i % 7))
    for oid in range(1, 196):
        e.apply(CancelOrder(oid))
    book = e.book("X")
    assert len(book.buy_stops) <= 2 * book.nstops + 65
    check_invariants(e)
    e.apply(NewOrder("X", "s", SELL, 10, price=110))
    e.apply(NewOrder("X", "s", SELL, 1, price=107))
    events = e.apply(NewOrder("X", "b", BUY, 1, price=107))
    assert [x.order_id for x in events if type(x) is Triggered] == [196, 197, 198, 199, 200]
    check_invariants(e)


def test_gtd_heap_compacts_when_gtd_orders_finish_early():
    e = Engine([SymbolSpec("X")])
    for i in range(3000):
        e.apply(NewOrder("X", "o", BUY, 1, price=100, tif=TimeInForce.GTD, expire_time=10**9 + i))
        e.apply(CancelOrder(i + 1))
    e.apply(NewOrder("X", "o", BUY, 1, price=100, tif=TimeInForce.GTD, expire_time=10))
    heap, live_gtd = expiry_heap_size(e)  # (uncompacted: 3001 entries)
    assert heap <= 2 * live_gtd + 1025 and live_gtd == 1
    events = e.apply(AdvanceTime(10))
    assert [type(x).__name__ for x in events] == ["Expired", "LevelChanged"]
    check_invariants(e)


def test_an_engine_restored_from_a_pickle_goes_on_exactly_as_the_original():
    """A snapshot pickles the engine (Engine.__setstate__ restores it attribute by
    attribute): after half a random run, the restored engine and the original give the same
    events for the other half, and the restored one holds its invariants."""
    import pickle

    flow = random_flow(11, 2000)
    engine = Engine(SPECS)
    for command in flow[:1000]:
        engine.execute(command)
    restored = pickle.loads(pickle.dumps(engine, protocol=pickle.HIGHEST_PROTOCOL))
    assert type(restored) is Engine and restored is not engine
    for command in flow[1000:]:
        assert restored.execute(command) == engine.execute(command)
    check_invariants(restored)
