"""The engine's structural invariants: ``check_invariants(engine)`` raises AssertionError
when one is broken (the tests run it after every command; it walks every book and order,
so it is for tests and debugging, not for the order path). It reads the engine's private
state on purpose: it is the engine package's own check of it."""

from __future__ import annotations

from .engine import Engine
from .types import OrderStatus, Side


def check_invariants(engine: Engine) -> None:
    live = engine._orders
    seen_resting = set()
    for symbol, book in engine._books.items():
        for half, side in ((book.bids, Side.BUY), (book.asks, Side.SELL)):
            assert sorted(half.heap) == sorted(half.levels), "heap keys != level keys"
            for i in range(1, len(half.heap)):
                assert half.heap[(i - 1) // 2] <= half.heap[i], "heap property broken"
            nlive = 0
            for key, lvl in half.levels.items():
                assert key == half.sign * lvl.price
                orders = [m for m in lvl.orders if m.leaves]
                assert lvl.live == len(orders), (symbol, side, lvl.price, "live count")
                assert lvl.qty == sum(m.visible for m in orders), (symbol, side, lvl.price, "qty")
                if lvl.live:
                    nlive += 1
                for m in orders:
                    assert live.get(m.order_id) is m, f"resting order {m.order_id} not indexed"
                    assert m.order_id not in seen_resting, f"order {m.order_id} rests twice"
                    seen_resting.add(m.order_id)
                    assert m.side is side and m.price == lvl.price and m.symbol == symbol
                    assert 0 < m.visible <= m.leaves
                    if m.display_qty is not None:
                        assert m.visible <= m.display_qty
                    else:
                        assert m.visible == m.leaves
            assert half.nlive == nlive, "nlive"
        bid, ask = book.best_bid(), book.best_ask()
        if bid and ask:
            assert bid[0] < ask[0], f"{symbol} crossed: {bid} / {ask}"
        stop_ids = {oid for _, oid in book.buy_stops} | {oid for _, oid in book.sell_stops}
        waiting = [o for o in live.values() if o.symbol == symbol and not o.triggered]
        assert book.nstops == len(waiting)
        for o in waiting:
            assert o.order_id in stop_ids, f"stop {o.order_id} missing from the stop heaps"
    for oid, o in live.items():
        assert o.order_id == oid and not o.done and o.leaves > 0
        if o.triggered:
            assert oid in seen_resting, f"live order {oid} neither resting nor a stop"
    assert len(seen_resting) == sum(1 for o in live.values() if o.triggered)
    assert engine._ngtd == sum(1 for o in live.values() if o.tif == 6), "live GTD count"
    gtd_ids = {oid for _, oid in engine._gtd}
    assert all(oid in gtd_ids for oid, o in live.items() if o.tif == 6), "GTD order not in heap"
    finals = {**engine._old_final, **engine._final}  # two generations, see Engine.__init__
    assert len(finals) == len(engine._old_final) + len(engine._final), "final in both generations"
    assert not finals.keys() & live.keys(), "order both live and final"
    assert len(engine._final) < max(engine._retain, 1) and len(engine._old_final) <= engine._retain
    for o in list(live.values()) + list(finals.values()):
        assert o.qty == o.cum_qty + o.leaves + o.cancelled, f"order {o.order_id} not conserved"
        assert o.cum_qty >= 0 and o.leaves >= 0 and o.cancelled >= 0
    for oid, o in finals.items():
        assert o.order_id == oid and o.leaves == 0 and o.done in (OrderStatus.FILLED, OrderStatus.CANCELLED,
                                            OrderStatus.EXPIRED)


def expiry_heap_size(engine: Engine) -> tuple[int, int]:
    """(entries in the GTD expiry heap, live GTD orders): the heap is compacted when
    finished orders pile up in it, checked when a GTD order is added."""
    return len(engine._gtd), engine._ngtd
