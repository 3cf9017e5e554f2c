"""Hand-worked cases for every order type, TIF, STP mode and replace rule.

One suite, two implementations: every rule test takes `impl` (tests/engine/conftest.py) and
runs against the engine and against the reference model (tests/engine/reference.py), so
a rule is pinned down by its events and views, not by one implementation's internals.
Tests of the engine's own guarantees (retention, fast paths, spec validation) use Engine.
"""

from __future__ import annotations

import random

import pytest

from fixexchange.engine import (
    Accepted, AdvanceTime, CancelOrder, Cancelled, CancelReason, EndOfDay, Engine, Expired,
    LevelChanged, MassCancel, MassCancelDone, NewOrder, OrderState, OrderStatus,
    OrderStatusQuery, OrdType, Rejected, RejectReason, Replaced, ReplaceOrder, Restated, Side,
    StpMode, SymbolSpec, TimeInForce, Trade, Triggered,
)

from fixexchange.engine.invariants import check_invariants

BUY, SELL = Side.BUY, Side.SELL
R, C = RejectReason, CancelReason


def make(impl, **spec):
    return impl([SymbolSpec("X", **spec), SymbolSpec("Y")])


def run(engine, command):
    events = engine.apply(command)
    if isinstance(engine, Engine):
        check_invariants(engine)
    return events


def of(events, cls):
    return [e for e in events if type(e) is cls]


def fills(events):
    """(order_id, price, qty, aggressor) for each side of every Trade (taker first)."""
    out = []
    for t in of(events, Trade):
        out += [(t.taker_order_id, t.price, t.qty, True), (t.maker_order_id, t.price, t.qty, False)]
    return out


def limit(side, qty, price, owner="o", symbol="X", **kw):
    return NewOrder(symbol, owner, side, qty, OrdType.LIMIT, price, **kw)


def seed_asks(engine):
    """The seed write-up's book: asks 108x8 and 110x12 (ids 1, 2)."""
    run(engine, limit(SELL, 8, 108, "s"))
    run(engine, limit(SELL, 12, 110, "s"))


# ------------------------------------------------------------- worked examples


def test_worked_example_market_buy_sweeps_two_levels(impl):
    e = make(impl)
    seed_asks(e)
    ev = run(e, NewOrder("X", "b", BUY, 20, OrdType.MARKET))
    assert [(t.price, t.qty) for t in of(ev, Trade)] == [(108, 8), (110, 12)]
    assert of(ev, Trade)[-1].taker_cum_qty == 20 and of(ev, Trade)[-1].taker_cum_notional == 8 * 108 + 12 * 110
    assert e.book("X").best_ask() is None
    assert e.order(3).status is OrderStatus.FILLED


def test_worked_example_buy_limit_109_fills_8_and_rests_7(impl):
    e = make(impl)
    seed_asks(e)
    ev = run(e, limit(BUY, 15, 109, "b"))
    assert fills(ev) == [(3, 108, 8, True), (1, 108, 8, False)]
    assert ev[-1] == LevelChanged("X", BUY, 109, 7, 1)
    assert e.book("X").best_bid() == (109, 7)
    assert e.book("X").best_ask() == (110, 12)
    assert e.book("X").last_trade_price == 108


def test_worked_example_buy_limit_106_does_not_cross(impl):
    e = make(impl)
    seed_asks(e)
    ev = run(e, limit(BUY, 15, 106, "b"))
    assert [type(x) for x in ev] == [Accepted, LevelChanged]
    assert e.book("X").best_bid() == (106, 15)
    assert e.book("X").depth(SELL) == [(108, 8), (110, 12)]


def test_trade_at_resting_price_and_event_fields(impl):
    e = make(impl)
    run(e, limit(BUY, 5, 100, "maker"))
    ev = run(e, limit(SELL, 3, 95, "taker"))
    trade = ev[1]
    assert (type(trade), trade) == (Trade, Trade("X", 1, 100, 3, SELL, 2, "taker", 3, 0, 300,
                                                 1, "maker", 3, 2, 300))
    assert ev[2] == LevelChanged("X", BUY, 100, 2, 1)


def test_price_time_priority_within_a_level(impl):
    e = make(impl)
    run(e, limit(SELL, 2, 100, "first"))
    run(e, limit(SELL, 2, 100, "second"))
    run(e, limit(SELL, 2, 99, "better"))
    ev = run(e, limit(BUY, 5, 100, "b"))
    assert [x.maker_order_id for x in of(ev, Trade)] == [3, 1, 2]
    assert e.book("X").best_ask() == (100, 1)


# ------------------------------------------------------------- validation


@pytest.mark.parametrize(
    "command, reason",
    [
        (limit(BUY, 1, 100, symbol="NOPE"), R.UNKNOWN_SYMBOL),
        (limit(BUY, 1, 100, owner=""), R.INVALID_OWNER),
        (limit(3, 1, 100), R.INVALID_SIDE),
        (limit(0, 1, 100), R.INVALID_SIDE),
        (limit(None, 1, 100), R.INVALID_SIDE),
        (NewOrder("X", "o", BUY, 1, 9, 100), R.INVALID_ORD_TYPE),
        (limit(BUY, 1, 100, tif=2), R.INVALID_TIF),
        (limit(BUY, 1, 100, stp=9), R.INVALID_STP),
        (limit(BUY, "5", 100), R.INVALID_COMMAND),
        (limit(BUY, 0, 100), R.QTY_NOT_POSITIVE),
        (limit(BUY, -10, 100), R.QTY_NOT_POSITIVE),
        (limit(BUY, 15, 100), R.OFF_LOT),
        (limit(BUY, 10, 100), R.QTY_TOO_SMALL),
        (limit(BUY, 1010, 100), R.QTY_TOO_LARGE),
        (limit(BUY, 20, None), R.PRICE_REQUIRED),
        (limit(BUY, 20, 100.0), R.INVALID_COMMAND),
        (limit(BUY, 20, 0), R.PRICE_NOT_POSITIVE),
        (limit(BUY, 20, 101), R.OFF_TICK),
        (limit(BUY, 20, 45), R.OUTSIDE_PRICE_BAND),
        (limit(BUY, 20, 205), R.OUTSIDE_PRICE_BAND),
        (NewOrder("X", "o", BUY, 20, OrdType.MARKET, 100), R.PRICE_NOT_ALLOWED),
        (NewOrder("X", "o", BUY, 20, OrdType.STOP), R.STOP_PRICE_REQUIRED),
        (NewOrder("X", "o", BUY, 20, OrdType.STOP, stop_price=103), R.OFF_TICK),
        (NewOrder("X", "o", BUY, 20, OrdType.STOP_LIMIT, 100, 300), R.OUTSIDE_PRICE_BAND),
        (limit(BUY, 20, 100, stop_price=100), R.STOP_PRICE_NOT_ALLOWED),
        (NewOrder("X", "o", BUY, 20, OrdType.MARKET, tif=TimeInForce.GTC), R.INVALID_TIF_FOR_ORD_TYPE),
        (limit(BUY, 20, 100, tif=TimeInForce.GTD), R.EXPIRE_TIME_REQUIRED),
        (limit(BUY, 20, 100, tif=TimeInForce.GTD, expire_time=5), R.EXPIRE_TIME_IN_PAST),
        (limit(BUY, 20, 100, tif=TimeInForce.GTD, expire_time="x"), R.INVALID_COMMAND),
        (limit(BUY, 20, 100, expire_time=50), R.EXPIRE_TIME_NOT_ALLOWED),
        (limit(BUY, 20, 100, display_qty=5), R.INVALID_DISPLAY_QTY),
        (limit(BUY, 20, 100, display_qty=40), R.INVALID_DISPLAY_QTY),
        (limit(BUY, 20, 100, display_qty=0), R.INVALID_DISPLAY_QTY),
        (limit(BUY, 20, 100, min_qty=30), R.INVALID_MIN_QTY),
        (limit(BUY, 20, 100, min_qty=3), R.INVALID_MIN_QTY),
        (limit(BUY, 20, 100, post_only="yes"), R.INVALID_COMMAND),
        (limit(BUY, 20, 100, post_only=True, tif=TimeInForce.IOC), R.POST_ONLY_NOT_ALLOWED),
        (NewOrder("X", "o", BUY, 20, OrdType.MARKET, post_only=True), R.POST_ONLY_NOT_ALLOWED),
        (limit(BUY, 20, 100, post_only=True, min_qty=10), R.POST_ONLY_NOT_ALLOWED),
        (limit(BUY, 20, 120, post_only=True), R.POST_ONLY_WOULD_CROSS),
    ],
)
def test_new_order_rejections_leave_the_book_untouched(impl, command, reason):
    e = impl([SymbolSpec("X", tick=5, lot=10, min_qty=20, max_qty=1000, band_low=50,
                           band_high=200)], now=10)
    run(e, NewOrder("X", "s", SELL, 20, OrdType.LIMIT, 120))
    before = (e.book("X").depth(BUY), e.book("X").depth(SELL), e.order(1))
    ev = run(e, command)
    assert len(ev) == 1 and type(ev[0]) is Rejected
    assert ev[0].order_id is None and ev[0].reason is reason and ev[0].text
    assert (e.book("X").depth(BUY), e.book("X").depth(SELL), e.order(1)) == before
    # no order id was consumed by the rejection
    assert run(e, NewOrder("X", "s", SELL, 20, OrdType.LIMIT, 125))[0].order_id == 2


def test_iceberg_rejected_on_pro_rata_symbol(impl):
    e = impl([SymbolSpec("P", algorithm="pro_rata")])
    assert run(e, NewOrder("P", "o", BUY, 10, price=5, display_qty=2))[0].reason is R.ICEBERG_NOT_SUPPORTED


@pytest.mark.parametrize("command", [
    "not a command", None, NewOrder(["unhashable"], "o", BUY, 1, price=1),
    CancelOrder(["x"]), ReplaceOrder([1], 5), OrderStatusQuery({}), MassCancel(symbol=[1]),
    MassCancel(owner=5), MassCancel(side=9), AdvanceTime("soon"), AdvanceTime(None),
    NewOrder("X", "o", BUY, 1, price=1, stp=[1]),
])
def test_garbage_never_raises(command):
    e = make(Engine)
    run(e, limit(SELL, 3, 100))
    ev = run(e, command)
    assert len(ev) == 1 and type(ev[0]) is Rejected
    assert not ev[0].text.startswith("internal error")
    assert e.book("X").depth(SELL) == [(100, 3)]


@pytest.mark.parametrize("specs", [
    [SymbolSpec("X"), SymbolSpec("X")],
    [SymbolSpec("")],
    [SymbolSpec("X", tick=0)],
    [SymbolSpec("X", lot=-1)],
    [SymbolSpec("X", min_qty=10, max_qty=5)],
    [SymbolSpec("X", band_low=10, band_high=5)],
    [SymbolSpec("X", band_low=0)],
    [SymbolSpec("X", algorithm="lifo")],
    [("X",)],
])
def test_bad_specs_raise_value_error(specs):
    with pytest.raises(ValueError):
        Engine(specs)


def test_bad_engine_arguments_raise_value_error():
    with pytest.raises(ValueError):
        Engine([], now=1.5)
    with pytest.raises(ValueError):
        Engine([], retain_final=-1)


# ------------------------------------------------------------- market / IOC / FOK / min qty


def test_market_with_empty_book_is_cancelled_no_liquidity(impl):
    e = make(impl)
    ev = run(e, NewOrder("X", "b", BUY, 5, OrdType.MARKET))
    assert [type(x) for x in ev] == [Accepted, Cancelled]
    assert ev[1].reason is C.NO_LIQUIDITY and ev[1].cancelled_qty == 5
    assert e.order(1).status is OrderStatus.CANCELLED and e.order(1).cancelled_qty == 5


def test_ioc_fills_what_it_can_and_cancels_the_rest(impl):
    e = make(impl)
    run(e, limit(SELL, 4, 100, "s"))
    ev = run(e, limit(BUY, 10, 101, "b", tif=TimeInForce.IOC))
    assert fills(ev)[0] == (2, 100, 4, True)
    assert ev[-1].reason is C.IOC_REMAINDER and ev[-1].cancelled_qty == 6
    assert e.book("X").best_bid() is None


def test_fok_fills_completely_across_levels(impl):
    e = make(impl)
    run(e, limit(SELL, 4, 100, "s"))
    run(e, limit(SELL, 4, 101, "s"))
    ev = run(e, limit(BUY, 8, 101, "b", tif=TimeInForce.FOK))
    assert sum(f.qty for f in of(ev, Trade)) == 8
    assert e.order(3).status is OrderStatus.FILLED


def test_fok_unfillable_leaves_the_book_alone(impl):
    e = make(impl)
    run(e, limit(SELL, 4, 100, "s"))
    run(e, limit(SELL, 4, 102, "s"))
    ev = run(e, limit(BUY, 8, 101, "b", tif=TimeInForce.FOK))
    assert [type(x) for x in ev] == [Accepted, Cancelled]
    assert ev[1].reason is C.FOK_UNFILLABLE
    assert e.book("X").depth(SELL) == [(100, 4), (102, 4)]


def test_fok_counts_iceberg_reserve(impl):
    e = make(impl)
    run(e, limit(SELL, 10, 100, "s", display_qty=2))
    ev = run(e, limit(BUY, 9, 100, "b", tif=TimeInForce.FOK))
    assert sum(f.qty for f in of(ev, Trade)) == 9


def test_fok_market_order(impl):
    e = make(impl)
    run(e, limit(SELL, 4, 100, "s"))
    ev = run(e, NewOrder("X", "b", BUY, 5, OrdType.MARKET, tif=TimeInForce.FOK))
    assert ev[-1].reason is C.FOK_UNFILLABLE
    ev = run(e, NewOrder("X", "b", BUY, 4, OrdType.MARKET, tif=TimeInForce.FOK))
    assert of(ev, Trade)[0].qty == 4


def test_min_qty_not_met_cancels_without_trading(impl):
    e = make(impl)
    run(e, limit(SELL, 3, 100, "s"))
    ev = run(e, limit(BUY, 10, 100, "b", min_qty=4))
    assert ev[-1].reason is C.MIN_QTY_NOT_MET and not of(ev, Trade)


def test_min_qty_met_trades_then_rests_the_remainder(impl):
    e = make(impl)
    run(e, limit(SELL, 5, 100, "s"))
    ev = run(e, limit(BUY, 10, 100, "b", min_qty=4))
    assert of(ev, Trade)[0].qty == 5
    assert e.book("X").best_bid() == (100, 5)


# ------------------------------------------------------------- time in force / expiry


def test_gtd_expires_on_advance_time_in_expiry_order(impl):
    e = make(impl)
    run(e, limit(BUY, 1, 100, tif=TimeInForce.GTD, expire_time=50))
    run(e, limit(BUY, 1, 99, tif=TimeInForce.GTD, expire_time=20))
    run(e, limit(BUY, 1, 98, tif=TimeInForce.GTC))
    assert run(e, AdvanceTime(19)) == []
    ev = run(e, AdvanceTime(50))
    assert [x.order_id for x in of(ev, Expired)] == [2, 1]
    assert ev[1] == LevelChanged("X", BUY, 99, 0, 0)
    assert e.order(1).status is OrderStatus.EXPIRED and e.order(1).cancelled_qty == 1
    assert e.book("X").depth(BUY) == [(98, 1)]
    assert e.now == 50


def test_time_cannot_go_backwards_and_gtd_must_be_in_future(impl):
    e = make(impl)
    run(e, AdvanceTime(100))
    assert run(e, AdvanceTime(99))[0].reason is R.TIME_WENT_BACKWARDS
    assert run(e, limit(BUY, 1, 1, tif=TimeInForce.GTD, expire_time=100))[0].reason is R.EXPIRE_TIME_IN_PAST
    assert type(run(e, limit(BUY, 1, 1, tif=TimeInForce.GTD, expire_time=101))[0]) is Accepted


def test_end_of_day_expires_day_orders_including_stops_not_gtc(impl):
    e = make(impl)
    run(e, limit(BUY, 1, 100))
    run(e, limit(BUY, 1, 99, tif=TimeInForce.GTC))
    run(e, NewOrder("X", "o", BUY, 1, OrdType.STOP, stop_price=150))
    ev = run(e, EndOfDay())
    assert [x.order_id for x in of(ev, Expired)] == [1, 3]
    assert e.book("X").depth(BUY) == [(99, 1)]
    assert run(e, CancelOrder(3))[0].reason is R.TOO_LATE_TO_CANCEL


def test_expired_partially_filled_order_keeps_its_fills(impl):
    e = make(impl)
    run(e, limit(BUY, 10, 100, "b"))
    run(e, limit(SELL, 4, 100, "s"))
    ev = run(e, EndOfDay())
    assert ev[0] == Expired(1, "b", "X", BUY, 6, 4, 400, 10)


# ------------------------------------------------------------- post-only


def test_post_only_rests_when_not_crossing(impl):
    e = make(impl)
    run(e, limit(SELL, 5, 101))
    ev = run(e, limit(BUY, 5, 100, post_only=True))
    assert type(ev[0]) is Accepted and e.book("X").best_bid() == (100, 5)


def test_post_only_replace_that_would_cross_is_rejected_and_order_unchanged(impl):
    e = make(impl)
    run(e, limit(SELL, 5, 102))
    run(e, limit(BUY, 5, 100, post_only=True))
    ev = run(e, ReplaceOrder(2, 5, 102))
    assert ev == [Rejected(2, R.POST_ONLY_WOULD_CROSS, ev[0].text)]
    assert e.order(2).price == 100 and e.book("X").best_bid() == (100, 5)


# ------------------------------------------------------------- iceberg


def test_iceberg_shows_only_its_slice_and_replenishes_to_the_back(impl):
    e = make(impl)
    run(e, limit(SELL, 10, 100, "ice", display_qty=3))
    run(e, limit(SELL, 2, 100, "plain"))
    assert e.book("X").best_ask() == (100, 5)
    ev = run(e, limit(BUY, 4, 100, "b"))
    # the 3-slice fills, its next slice goes behind "plain", which then fills 1
    assert [(t.maker_order_id, t.qty) for t in of(ev, Trade)] == [(1, 3), (2, 1)]
    assert ev[-1] == LevelChanged("X", SELL, 100, 4, 2)
    ev = run(e, limit(BUY, 2, 100, "b"))
    assert [(t.maker_order_id, t.qty) for t in of(ev, Trade)] == [(2, 1), (1, 1)]
    assert e.order(1).leaves_qty == 6 and e.book("X").best_ask() == (100, 2)


def test_large_taker_sweeps_whole_iceberg_through_slices(impl):
    e = make(impl)
    run(e, limit(SELL, 7, 100, "ice", display_qty=3))
    ev = run(e, limit(BUY, 7, 100, "b"))
    assert [t.qty for t in of(ev, Trade)] == [3, 3, 1]
    assert e.order(1).status is OrderStatus.FILLED


# ------------------------------------------------------------- stops


def test_buy_stop_triggers_on_trade_at_or_above_stop_and_trades_as_market(impl):
    e = make(impl)
    run(e, limit(SELL, 5, 105, "s"))
    run(e, limit(SELL, 5, 106, "s"))
    run(e, NewOrder("X", "st", BUY, 3, OrdType.STOP, stop_price=105))
    assert e.order(3).triggered is False and e.book("X").best_bid() is None
    ev = run(e, limit(BUY, 5, 105, "b"))
    kinds = [type(x) for x in ev]
    assert kinds.index(Triggered) > kinds.index(Trade)
    trig = ev[kinds.index(Triggered)]
    assert trig == Triggered(3, "st", "X", BUY, OrdType.STOP, None, 105)
    assert of(ev, Trade)[-1].price == 106 and of(ev, Trade)[-1].taker_order_id == 3
    assert e.order(3).status is OrderStatus.FILLED and e.order(3).triggered


def test_sell_stop_limit_rests_after_trigger(impl):
    e = make(impl)
    run(e, limit(BUY, 1, 100, "b"))
    run(e, NewOrder("X", "st", SELL, 4, OrdType.STOP_LIMIT, 99, 100))
    run(e, limit(SELL, 1, 100, "s"))  # trade at 100 elects the sell stop
    assert e.order(2).triggered and e.book("X").best_ask() == (99, 4)


def test_stop_already_satisfied_on_entry_triggers_at_once(impl):
    e = make(impl)
    run(e, limit(BUY, 1, 100, "b"))
    run(e, limit(SELL, 1, 100, "s"))
    run(e, limit(SELL, 5, 101, "s"))
    ev = run(e, NewOrder("X", "st", BUY, 2, OrdType.STOP, stop_price=99))
    assert [type(x) for x in ev][:2] == [Accepted, Triggered]
    assert of(ev, Trade)[0].price == 101


def test_cascading_stops_trigger_in_order_id_order(impl):
    e = make(impl)
    run(e, limit(SELL, 1, 100, "s"))
    run(e, limit(SELL, 1, 101, "s"))
    run(e, limit(SELL, 1, 102, "s"))
    run(e, NewOrder("X", "a", BUY, 1, OrdType.STOP, stop_price=101))  # 4: elected by the 101 trade
    run(e, NewOrder("X", "b", BUY, 1, OrdType.STOP, stop_price=100))  # 5: elected by the 100 trade
    run(e, NewOrder("X", "c", BUY, 1, OrdType.STOP, stop_price=102))  # 6: elected by 4's trade
    ev = run(e, limit(BUY, 1, 100, "t"))
    assert [x.order_id for x in of(ev, Triggered)] == [5, 4, 6]
    assert [(t.taker_order_id, t.price) for t in of(ev, Trade)] == [(7, 100), (5, 101), (4, 102)]
    assert e.order(6).status is OrderStatus.CANCELLED  # market stop found no liquidity


def test_cancel_and_replace_untriggered_stop(impl):
    e = make(impl)
    run(e, NewOrder("X", "st", BUY, 3, OrdType.STOP_LIMIT, 104, 105))
    ev = run(e, ReplaceOrder(1, 5, 103))
    assert ev == [Replaced(1, "st", "X", BUY, 103, 5, 0, 5, 0, True)]
    assert run(e, CancelOrder(1))[0].reason is C.REQUESTED
    run(e, limit(SELL, 1, 105, "s"))
    ev = run(e, limit(BUY, 1, 105, "b"))
    assert not of(ev, Triggered)


def test_replace_price_on_market_stop_is_rejected(impl):
    e = make(impl)
    run(e, NewOrder("X", "st", BUY, 3, OrdType.STOP, stop_price=105))
    assert run(e, ReplaceOrder(1, 3, 100))[0].reason is R.PRICE_NOT_ALLOWED


# ------------------------------------------------------------- self-trade prevention


def stp_book(impl):
    e = make(impl)
    run(e, limit(SELL, 5, 100, "me"))  # 1
    run(e, limit(SELL, 5, 100, "other"))  # 2
    return e


def test_stp_cancel_newest(impl):
    e = stp_book(impl)
    ev = run(e, limit(BUY, 8, 100, "me", stp=StpMode.CANCEL_NEWEST))
    assert not of(ev, Trade)
    assert of(ev, Cancelled)[0].order_id == 3 and of(ev, Cancelled)[0].reason is C.SELF_TRADE
    assert e.book("X").best_ask() == (100, 10)


def test_stp_cancel_oldest(impl):
    e = stp_book(impl)
    ev = run(e, limit(BUY, 8, 100, "me", stp=StpMode.CANCEL_OLDEST))
    assert of(ev, Cancelled)[0].order_id == 1
    assert [(t.maker_order_id, t.qty) for t in of(ev, Trade)] == [(2, 5)]
    assert e.book("X").best_bid() == (100, 3) and e.book("X").best_ask() is None


def test_stp_cancel_both(impl):
    e = stp_book(impl)
    ev = run(e, limit(BUY, 8, 100, "me", stp=StpMode.CANCEL_BOTH))
    assert [x.order_id for x in of(ev, Cancelled)] == [1, 3] and not of(ev, Trade)
    assert e.book("X").best_ask() == (100, 5)


def test_stp_decrement(impl):
    e = stp_book(impl)
    ev = run(e, limit(BUY, 8, 100, "me", stp=StpMode.DECREMENT))
    # resting 5 cancelled by decrement, taker restated 8 -> 3, then trades 3 with "other"
    assert of(ev, Cancelled)[0] == Cancelled(1, "me", "X", SELL, C.SELF_TRADE, 5, 0, 0, 5)
    assert of(ev, Restated)[0] == Restated(3, "me", "X", BUY, C.SELF_TRADE, 5, 8, 0, 3, 0)
    assert of(ev, Trade)[0].qty == 3
    view = e.order(3)
    assert (view.qty, view.cum_qty, view.leaves_qty, view.cancelled_qty) == (8, 3, 0, 5)


def test_stp_decrement_partially_restates_resting(impl):
    e = make(impl)
    run(e, limit(SELL, 10, 100, "me", display_qty=4))
    ev = run(e, limit(BUY, 7, 100, "me", stp=StpMode.DECREMENT))
    assert of(ev, Restated)[0] == Restated(1, "me", "X", SELL, C.SELF_TRADE, 7, 10, 0, 3, 0)
    assert of(ev, Cancelled)[0].order_id == 2
    assert e.book("X").best_ask() == (100, 3)


def test_stp_none_allows_self_trade(impl):
    e = stp_book(impl)
    ev = run(e, limit(BUY, 2, 100, "me"))
    assert of(ev, Trade)[0].maker_order_id == 1


# ------------------------------------------------------------- replace


def replace_book(impl):
    e = make(impl)
    run(e, limit(BUY, 10, 100, "a"))  # 1
    run(e, limit(BUY, 10, 100, "b"))  # 2
    return e


def test_replace_qty_down_keeps_priority(impl):
    e = replace_book(impl)
    ev = run(e, ReplaceOrder(1, 6))
    assert ev == [Replaced(1, "a", "X", BUY, 100, 6, 0, 6, 0, True), LevelChanged("X", BUY, 100, 16, 2)]
    ev = run(e, limit(SELL, 6, 100, "s"))
    assert of(ev, Trade)[0].maker_order_id == 1


def test_replace_qty_up_loses_priority(impl):
    e = replace_book(impl)
    ev = run(e, ReplaceOrder(1, 12, owner="a"))
    assert ev[0].priority_kept is False
    ev = run(e, limit(SELL, 6, 100, "s"))
    assert of(ev, Trade)[0].maker_order_id == 2


def test_replace_price_change_loses_priority_and_can_trade(impl):
    e = replace_book(impl)
    run(e, limit(SELL, 4, 102, "s"))
    ev = run(e, ReplaceOrder(2, 10, 102))
    assert ev[0] == Replaced(2, "b", "X", BUY, 102, 10, 0, 10, 0, False)
    assert ev[1] == LevelChanged("X", BUY, 100, 10, 1)
    assert of(ev, Trade)[0].qty == 4
    assert e.book("X").depth(BUY) == [(102, 6), (100, 10)]
    assert e.order(2).price == 102


def test_replace_below_filled_cancels_remainder(impl):
    e = replace_book(impl)
    run(e, limit(SELL, 4, 100, "s"))
    ev = run(e, ReplaceOrder(1, 3))
    assert ev[0] == Cancelled(1, "a", "X", BUY, C.REPLACED_BELOW_FILLED, 6, 4, 400, 10)
    view = e.order(1)
    assert (view.status, view.cum_qty, view.leaves_qty, view.cancelled_qty) == (OrderStatus.CANCELLED, 4, 0, 6)


def test_replace_of_partially_filled_order_counts_fills(impl):
    e = replace_book(impl)
    run(e, limit(SELL, 4, 100, "s"))
    ev = run(e, ReplaceOrder(1, 8))
    assert ev[0] == Replaced(1, "a", "X", BUY, 100, 8, 4, 4, 400, True)


@pytest.mark.parametrize("command, reason", [
    (ReplaceOrder(99, 5), R.UNKNOWN_ORDER),
    (ReplaceOrder(1, 5, owner="b"), R.UNKNOWN_ORDER),
    (ReplaceOrder(1, 0), R.QTY_NOT_POSITIVE),
    (ReplaceOrder(1, 2_000_000), R.QTY_TOO_LARGE),
    (ReplaceOrder(1, 5, -1), R.PRICE_NOT_POSITIVE),
    (ReplaceOrder(1, 5, "1"), R.INVALID_COMMAND),
    (CancelOrder(99), R.UNKNOWN_ORDER),
    (CancelOrder(1, owner="b"), R.UNKNOWN_ORDER),
    (OrderStatusQuery(1, owner="b"), R.UNKNOWN_ORDER),
    (OrderStatusQuery(0), R.UNKNOWN_ORDER),
])
def test_cancel_replace_status_rejections(impl, command, reason):
    e = replace_book(impl)
    ev = run(e, command)
    assert len(ev) == 1 and ev[0].reason is reason and ev[0].order_id == command.order_id
    assert e.book("X").depth(BUY) == [(100, 20)]


def test_final_orders_are_too_late_and_other_owners_unknown(impl):
    e = replace_book(impl)
    run(e, CancelOrder(1))
    assert run(e, CancelOrder(1))[0].reason is R.TOO_LATE_TO_CANCEL
    assert run(e, ReplaceOrder(1, 5, owner="a"))[0].reason is R.TOO_LATE_TO_CANCEL
    assert run(e, CancelOrder(1, owner="zzz"))[0].reason is R.UNKNOWN_ORDER
    assert run(e, OrderStatusQuery(1))[0].order.status is OrderStatus.CANCELLED


def test_evicted_final_orders_are_still_too_late():
    e = Engine([SymbolSpec("X")], retain_final=1)
    run(e, limit(BUY, 1, 100))
    run(e, limit(BUY, 1, 101))
    run(e, CancelOrder(1))
    run(e, CancelOrder(2))
    assert e.order(1) is None and e.order(2).status is OrderStatus.CANCELLED
    assert run(e, CancelOrder(1))[0].reason is R.TOO_LATE_TO_CANCEL
    assert run(e, CancelOrder(3))[0].reason is R.UNKNOWN_ORDER


def test_at_least_the_last_retain_final_orders_stay_queryable():
    # the documented guarantee: the last retain_final final orders answer status queries and
    # the owner check (older ones may be kept too, up to 2 * retain_final, then evicted)
    retain = 5
    e = Engine([SymbolSpec("X")], retain_final=retain)
    for i in range(40):
        run(e, limit(BUY, 1, 100 + i, owner="a"))
    for n in range(1, 41):
        run(e, CancelOrder(n))
        for oid in range(max(1, n - retain + 1), n + 1):
            assert e.order(oid).status is OrderStatus.CANCELLED
            assert run(e, CancelOrder(oid, owner="zzz"))[0].reason is R.UNKNOWN_ORDER
            assert run(e, CancelOrder(oid, owner="a"))[0].reason is R.TOO_LATE_TO_CANCEL
        kept = [oid for oid in range(1, n + 1) if e.order(oid) is not None]
        assert len(kept) < 2 * retain and kept == list(range(n - len(kept) + 1, n + 1))
    assert e.order(1) is None
    assert run(e, CancelOrder(1, owner="zzz"))[0].reason is R.TOO_LATE_TO_CANCEL
    no_retention = Engine([SymbolSpec("X")], retain_final=0)
    run(no_retention, limit(BUY, 1, 100))
    run(no_retention, CancelOrder(1))
    assert no_retention.order(1) is None
    assert run(no_retention, CancelOrder(1))[0].reason is R.TOO_LATE_TO_CANCEL


# ------------------------------------------------------------- status, mass cancel


def test_order_status_reports_the_view(impl):
    e = replace_book(impl)
    run(e, limit(SELL, 4, 100, "s"))
    (state,) = run(e, OrderStatusQuery(1, owner="a"))
    assert type(state) is OrderState
    o = state.order
    assert (o.status, o.cum_qty, o.leaves_qty, o.cum_notional, o.price) == (
        OrderStatus.PARTIALLY_FILLED, 4, 6, 400, 100)


def test_mass_cancel_filters(impl):
    e = make(impl)
    run(e, limit(BUY, 1, 100, "a"))
    run(e, limit(SELL, 1, 110, "a"))
    run(e, limit(BUY, 1, 100, "b"))
    run(e, limit(BUY, 1, 100, "a", symbol="Y"))
    run(e, NewOrder("X", "a", SELL, 1, OrdType.STOP, stop_price=50))
    ev = run(e, MassCancel(owner="a", symbol="X", side=SELL))
    assert [x.order_id for x in of(ev, Cancelled)] == [2, 5]
    assert ev[-1] == MassCancelDone(2, "a", "X", SELL)
    ev = run(e, MassCancel(owner="a"))
    assert [x.order_id for x in of(ev, Cancelled)] == [1, 4]
    ev = run(e, MassCancel())
    assert ev == [Cancelled(3, "b", "X", BUY, C.MASS_CANCEL, 1, 0, 0, 1),
                  LevelChanged("X", BUY, 100, 0, 0), MassCancelDone(1, None, None, None)]
    assert run(e, MassCancel(symbol="NOPE"))[0].reason is R.UNKNOWN_SYMBOL


# ------------------------------------------------------------- pro-rata


def test_pro_rata_allocation_rounds_down_to_lot_then_fifo_remainder(impl):
    e = impl([SymbolSpec("P", lot=10, min_qty=10, algorithm="pro_rata")])
    run(e, NewOrder("P", "a", SELL, 100, price=50))
    run(e, NewOrder("P", "b", SELL, 300, price=50))
    run(e, NewOrder("P", "c", SELL, 600, price=50))
    ev = run(e, NewOrder("P", "t", BUY, 150, price=50))
    # exact shares 15 / 45 / 90 -> floor to lots 10 / 40 / 90 = 140; leftover 10 FIFO -> a
    assert [(t.maker_order_id, t.qty) for t in of(ev, Trade)] == [(1, 20), (2, 40), (3, 90)]
    assert e.book("P").best_ask() == (50, 850)


def test_pro_rata_level_fully_taken_then_next_level(impl):
    e = impl([SymbolSpec("P", algorithm="pro_rata")])
    run(e, NewOrder("P", "a", SELL, 3, price=50))
    run(e, NewOrder("P", "b", SELL, 1, price=50))
    run(e, NewOrder("P", "c", SELL, 10, price=51))
    ev = run(e, NewOrder("P", "t", BUY, 6, price=51))
    assert [(t.maker_order_id, t.qty, t.price) for t in of(ev, Trade)] == [
        (1, 3, 50), (2, 1, 50), (3, 2, 51)]


def test_pro_rata_small_orders_can_get_nothing(impl):
    e = impl([SymbolSpec("P", algorithm="pro_rata")])
    run(e, NewOrder("P", "a", SELL, 1, price=50))
    run(e, NewOrder("P", "b", SELL, 99, price=50))
    ev = run(e, NewOrder("P", "t", BUY, 10, price=50))
    # shares 0.1 -> 0 and 9.9 -> 9; leftover 1 goes FIFO to a
    assert [(t.maker_order_id, t.qty) for t in of(ev, Trade)] == [(1, 1), (2, 9)]


def test_pro_rata_stp_resolves_self_orders_first(impl):
    e = impl([SymbolSpec("P", algorithm="pro_rata")])
    run(e, NewOrder("P", "a", SELL, 5, price=50))
    run(e, NewOrder("P", "me", SELL, 5, price=50))
    ev = run(e, NewOrder("P", "me", BUY, 4, price=50, stp=StpMode.CANCEL_OLDEST))
    assert of(ev, Cancelled)[0].order_id == 2
    assert [(t.maker_order_id, t.qty) for t in of(ev, Trade)] == [(1, 4)]


# ------------------------------------------------------------- book views, determinism


def test_depth_best_first_with_limits_and_lazy_removal():
    e = make(Engine)
    rng = random.Random(7)
    prices = rng.sample(range(1, 500), 200)
    for p in prices:
        run(e, limit(BUY, 1, p))
    for oid in range(1, 151):  # cancels in the middle of the heap: lazy removal + compaction
        e.apply(CancelOrder(oid))
    check_invariants(e)
    remaining = sorted(prices[150:], reverse=True)
    book = e.book("X")
    assert book.depth(BUY, 5) == [(p, 1) for p in remaining[:5]]
    assert book.depth(BUY) == book.depth(BUY, 0) == [(p, 1) for p in remaining]
    assert book.best_bid() == (remaining[0], 1)
    assert len(book.bids.heap) < 2 * len(remaining) + 70
    assert book.depth(SELL, 3) == [] and book.best_ask() is None
    with pytest.raises(ValueError):
        book.depth(5)
    with pytest.raises(ValueError):
        book.depth(BUY, -1)


def test_unknown_book_is_none_and_symbols_listed(impl):
    e = make(impl)
    assert e.book("nope") is None and e.symbols == ["X", "Y"] and e.order(1) is None
    assert e.order([1]) is None and e.book(["X"]) is None


def random_commands(seed, n=3000):
    rng = random.Random(seed)
    out = []
    for i in range(n):
        r = rng.random()
        if r < 0.6:
            out.append(limit(rng.choice([BUY, SELL]), rng.randint(1, 9), rng.randint(95, 105),
                             rng.choice("abc"), display_qty=rng.choice([None, None, 2]),
                             stp=rng.choice(list(StpMode))))
        elif r < 0.7:
            out.append(NewOrder("X", "s", rng.choice([BUY, SELL]), rng.randint(1, 5),
                                OrdType.STOP, stop_price=rng.randint(95, 105)))
        elif r < 0.85:
            out.append(CancelOrder(rng.randint(1, i + 1)))
        else:
            out.append(ReplaceOrder(rng.randint(1, i + 1), rng.randint(1, 12),
                                    rng.choice([None, rng.randint(95, 105)])))
    return out


def test_determinism_same_commands_same_events():
    commands = random_commands(42)
    one, two = Engine([SymbolSpec("X")]), Engine([SymbolSpec("X")])
    first = [repr(one.apply(c)) for c in commands]
    second = [repr(two.apply(c)) for c in commands]
    assert first == second
    assert any("Trade(" in x for x in first) and any("Triggered" in x for x in first)


def test_determinism_across_engines_in_one_run():
    commands = random_commands(43, 1000)
    a, b = Engine([SymbolSpec("X")]), Engine([SymbolSpec("X")])
    assert [a.apply(c) for c in commands] == [b.apply(c) for c in commands]
    check_invariants(a)


def test_plain_ints_equal_to_enum_values_are_normalised(impl):
    e = make(impl)
    ev = run(e, NewOrder("X", "o", 1, 5, 2, 100, None, 1, post_only=0, stp=0))  # fast path
    assert ev[0] == Accepted(1, "X", "o", BUY, OrdType.LIMIT, 100, None, 5, TimeInForce.GTC)
    assert type(ev[0].side) is Side and type(ev[0].tif) is TimeInForce
    ev = run(e, NewOrder("X", "o", 2, 5, 2, 101, None, 6, 50, post_only=1, stp=4))  # general path
    assert ev[0].side is SELL and ev[0].tif is TimeInForce.GTD
    view = e.order(2)
    assert view.post_only is True and view.stp is StpMode.DECREMENT


def test_fok_with_stp_counts_only_levels_before_own_orders(impl):
    e = make(impl)
    run(e, limit(SELL, 2, 100, "other"))
    run(e, limit(SELL, 2, 101, "me"))
    run(e, limit(SELL, 5, 101, "other"))
    ev = run(e, limit(BUY, 4, 101, "me", tif=TimeInForce.FOK, stp=StpMode.CANCEL_NEWEST))
    assert ev[-1].reason is C.FOK_UNFILLABLE and not of(ev, Trade)
    ev = run(e, limit(BUY, 4, 101, "me", tif=TimeInForce.FOK, stp=StpMode.CANCEL_OLDEST))
    assert of(ev, Cancelled)[0].order_id == 2
    assert sum(t.qty for t in of(ev, Trade)) == 4 and e.order(5).status is OrderStatus.FILLED


@pytest.mark.parametrize("stp", list(StpMode))
@pytest.mark.parametrize("kind", ["limit", "ioc", "market"])
def test_fast_path_with_stp_gives_the_general_paths_events(stp, kind):
    """Plain LIMIT/IOC/MARKET orders with an STP mode take execute's fast path (the daemon
    sets cancel_newest for every session); the same order given with plain ints takes the
    general path.  Both give the same events, views and books, including a taker that STP
    cancels in the middle of matching (it must leave the live index)."""
    engines = [make(Engine), make(Engine)]
    for e in engines:
        run(e, limit(SELL, 2, 100, "other"))
        run(e, limit(SELL, 3, 100, "me"))
        run(e, limit(SELL, 4, 101, "other"))
        run(e, limit(SELL, 2, 102, "me"))
    tif = TimeInForce.IOC if kind == "ioc" else TimeInForce.DAY
    if kind == "market":
        fast = NewOrder("X", "me", BUY, 9, OrdType.MARKET, tif=tif, stp=stp)
        general = NewOrder("X", "me", 1, 9, 1, tif=int(tif), stp=int(stp))
    else:
        fast = limit(BUY, 9, 102, "me", tif=tif, stp=stp)
        general = NewOrder("X", "me", 1, 9, 2, 102, tif=int(tif), stp=int(stp))
    got, want = run(engines[0], fast), run(engines[1], general)
    assert [(type(x), x) for x in got] == [(type(x), x) for x in want]
    assert engines[0].order(5) == engines[1].order(5)
    assert engines[0].order(5).stp is stp
    assert engines[0].book("X").depth(SELL) == engines[1].book("X").depth(SELL)
    if stp is not StpMode.NONE:
        assert of(got, Cancelled) or of(got, Restated)
    # and a resting STP order can be cancelled / replaced like any other
    for e in engines:
        e.apply(limit(BUY, 5, 90, "me", stp=stp))
    assert engines[0].apply(ReplaceOrder(6, 7, 91)) == engines[1].apply(ReplaceOrder(6, 7, 91))
    assert engines[0].order(6) == engines[1].order(6) and engines[0].order(6).stp is stp
    assert engines[0].apply(CancelOrder(6)) == engines[1].apply(CancelOrder(6))
    for e in engines:
        check_invariants(e)


def test_stp_orders_take_the_fast_path():
    """Guard for the benchmark-relevant dispatch: a plain limit with an STP mode is a
    _StpOrder (fast path), the same order with a plain int STP value an _XOrder (general)."""
    from fixexchange.engine.orders import _StpOrder, _XOrder

    e = make(Engine)
    run(e, limit(BUY, 5, 90, "me", stp=StpMode.CANCEL_NEWEST))
    run(e, NewOrder("X", "me", BUY, 5, OrdType.LIMIT, 90, stp=1))
    assert type(e._orders[1]) is _StpOrder and type(e._orders[2]) is _XOrder
    assert e.order(1)[1:] == e.order(2)[1:]


def test_unbanded_prices_beyond_one_cpython_digit_take_the_general_path():
    """Without a band the fast path takes prices up to 2**30 - 1 (its comparisons stay
    specialised); a higher price is just as valid and takes the general path: the same
    events as a fast-path order, and it trades, replaces and cancels like one."""
    from fixexchange.engine.orders import _Order, _XOrder

    big = (1 << 30) + 7
    e = make(Engine)
    run(e, limit(SELL, 5, big, "a"))
    run(e, limit(SELL, 5, (1 << 30) - 1, "a"))
    assert type(e._orders[1]) is _XOrder and type(e._orders[2]) is _Order
    assert e.book("X").best_ask() == ((1 << 30) - 1, 5)
    ev = run(e, limit(BUY, 8, big, "b"))
    assert [(t.price, t.qty) for t in of(ev, Trade)] == [((1 << 30) - 1, 5), (big, 3)]
    run(e, ReplaceOrder(1, 9, big + 1))
    assert e.book("X").best_ask() == (big + 1, 6)  # qty 9, 3 filled
    assert of(run(e, CancelOrder(1)), Cancelled)[0].cancelled_qty == 6
    assert e.book("X").best_ask() is None


def test_an_engine_bug_is_logged_with_its_traceback_and_answered_rejected(monkeypatch, engine_bug_log):
    def broken(self, command):
        raise KeyError("bug")

    monkeypatch.setattr(Engine, "_status", broken)
    e = make(Engine)
    ev = e.apply(OrderStatusQuery(7, "o"))
    assert ev == [Rejected(7, R.INVALID_COMMAND, "internal error: KeyError('bug')")]
    [record] = engine_bug_log
    assert record.levelname == "ERROR" and "OrderStatusQuery(order_id=7" in record.getMessage()
    assert record.exc_info[0] is KeyError
    engine_bug_log.clear()  # provoked on purpose: not a failure of this test


# ------------------------------------------------------------- execute_fields


def _twin_runs(commands):
    """The events of ``commands`` through execute (NamedTuples) and through execute_fields
    (their fields as plain tuples: the gateway's path), each on a fresh engine."""
    by_command, by_fields = make(Engine), make(Engine)
    out = []
    for command in commands:
        expected = by_command.execute(command)
        got = by_fields.execute_fields(type(command), tuple(command))
        check_invariants(by_fields)
        out.append((got, expected))
    return out


@pytest.mark.parametrize("command", [
    limit(BUY, 1, 100, symbol="NOPE"), limit(3, 1, 100), limit(BUY, "5", 100), limit(BUY, 20, 100.0),
    NewOrder("X", "o", BUY, 20, OrdType.STOP), limit(BUY, 20, 100, display_qty=40),
    CancelOrder(99), CancelOrder("x"), ReplaceOrder(1, 0), ReplaceOrder(1, 5, 99.5), ReplaceOrder(1, 5, owner="z"),
])
def test_execute_fields_rejects_as_execute_does(command):
    [(got, expected)] = _twin_runs([limit(SELL, 3, 100), command])[1:]
    assert got == expected and got[0][0] is Rejected


def test_execute_fields_gives_the_events_execute_gives():
    commands = [limit(SELL, 3, 100), limit(SELL, 2, 101, owner="s"), limit(BUY, 4, 101),  # crosses
                NewOrder("X", "o", SELL, 5, OrdType.MARKET, tif=TimeInForce.IOC),
                limit(BUY, 5, 99, stp=StpMode.CANCEL_NEWEST), limit(SELL, 1, 99, stp=StpMode.CANCEL_NEWEST),
                limit(BUY, 6, 98, display_qty=2), NewOrder("X", "o", SELL, 1, OrdType.STOP, stop_price=90),
                ReplaceOrder(5, 8), ReplaceOrder(5, 8, 97), CancelOrder(7, "o"), CancelOrder(1), CancelOrder(7)]
    for got, expected in _twin_runs(commands):
        assert got == expected


def test_execute_fields_takes_order_commands_only_and_logs_a_bug_with_the_command(engine_bug_log, monkeypatch):
    e = make(Engine)
    with pytest.raises(TypeError):
        e.execute_fields(MassCancel, (None, None, None))
    monkeypatch.setattr(e, "_cancel", lambda c: 1 / 0)
    [rejected] = e.execute_fields(CancelOrder, (5, "o"))
    assert rejected[0] is Rejected and rejected[2] is R.INVALID_COMMAND and rejected[3].startswith("internal error")
    [record] = engine_bug_log
    assert "CancelOrder(order_id=5, owner='o')" in record.getMessage()
    engine_bug_log.clear()
