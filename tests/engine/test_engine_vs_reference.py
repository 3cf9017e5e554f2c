"""Stateful property test: the fast engine and the reference book agree on every event."""

from __future__ import annotations

from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, rule

from fixexchange.engine import (
    AdvanceTime, CancelOrder, EndOfDay, Engine, MassCancel, NewOrder, OrderStatusQuery, OrdType,
    Rejected, ReplaceOrder, Side, StpMode, SymbolSpec, TimeInForce,
)

from fixexchange.engine.invariants import check_invariants
from .reference import RefEngine

SPECS = [
    SymbolSpec("F", tick=1, lot=1, min_qty=1, max_qty=40, band_low=90, band_high=110),
    SymbolSpec("P", tick=5, lot=2, min_qty=2, max_qty=60, algorithm="pro_rata"),
]
OWNERS = st.sampled_from(["a", "b", "c"])


def normalise(events):
    """Compare class and fields; Rejected texts are free-form, only the reason counts."""
    out = []
    for e in events:
        if type(e) is Rejected:
            out.append((Rejected, e.order_id, e.reason))
        else:
            out.append((type(e), tuple(e)))
    return out


@st.composite
def new_orders(draw):
    symbol = draw(st.sampled_from(["F"] * 5 + ["P"] * 4 + ["X"]))
    if symbol == "P":
        price = draw(st.integers(18, 22)) * 5 + draw(st.sampled_from([0] * 15 + [1]))
        qty = draw(st.integers(0, 16)) * 2 + draw(st.sampled_from([0] * 15 + [1]))
    else:
        price = draw(st.sampled_from([88, 111] + list(range(96, 105)) * 3))
        qty = draw(st.integers(0, 24))
    ord_type = draw(st.sampled_from([OrdType.LIMIT] * 6 + [OrdType.MARKET, OrdType.STOP,
                                                           OrdType.STOP_LIMIT]))
    stop_price = None
    if ord_type in (OrdType.STOP, OrdType.STOP_LIMIT):
        stop_price = price + draw(st.sampled_from([-10, -5, 0, 5, 10]))
    if ord_type in (OrdType.MARKET, OrdType.STOP):
        price = None
    tif = draw(st.sampled_from([TimeInForce.DAY] * 3 + [TimeInForce.GTC, TimeInForce.IOC,
                                                        TimeInForce.FOK, TimeInForce.GTD]))
    expire_time = draw(st.integers(1, 30)) if tif is TimeInForce.GTD else None
    display_qty = draw(st.sampled_from([None] * 4 + [1, 2, 4, 30]))
    min_qty = draw(st.sampled_from([None] * 6 + [2, 4, 6]))
    post_only = draw(st.sampled_from([False] * 6 + [True]))
    stp = draw(st.sampled_from([StpMode.NONE] * 3 + list(StpMode)))
    side = draw(st.sampled_from([Side.BUY, Side.SELL]))
    if draw(st.sampled_from([False] * 3 + [True])):
        # equal plain ints: accepted as the enum members, through the general path
        side, ord_type, tif, stp = int(side), int(ord_type), int(tif), int(stp)
    return NewOrder(symbol, draw(OWNERS), side, qty, ord_type, price, stop_price, tif,
                    expire_time, display_qty, min_qty, post_only, stp)


class EngineVsReference(RuleBasedStateMachine):
    def __init__(self):
        super().__init__()
        self.fast = Engine(SPECS)
        self.ref = RefEngine(SPECS)
        self.time = 0

    def run(self, command):
        got = self.fast.apply(command)
        want = self.ref.apply(command)
        for e in got:
            assert not (type(e) is Rejected and e.text.startswith("internal error")), e
        assert normalise(got) == normalise(want), f"{command}\nfast={got}\nref={want}"
        check_invariants(self.fast)

    def order_ids(self):
        return st.integers(0, self.ref.next_id + 1)  # (the engine's next id too)

    @rule(command=new_orders())
    def new_order(self, command):
        self.run(command)

    @rule(command=new_orders())
    def another_new_order(self, command):
        self.run(command)

    @rule(symbol=st.sampled_from(["F", "P"]), owner=OWNERS, side=st.sampled_from(list(Side)),
          ticks=st.integers(-3, 3), lots=st.integers(1, 8),
          tif=st.sampled_from([TimeInForce.DAY] * 3 + [TimeInForce.GTC, TimeInForce.IOC]),
          stp=st.sampled_from([StpMode.NONE] * 2 + list(StpMode)), ints=st.booleans())
    def plain_limit(self, symbol, owner, side, ticks, lots, tif, stp, ints):
        """The engine's fast path (enum members), with and without STP; ints: the general path."""
        spec = SPECS[symbol == "P"]
        if ints:
            side, tif, stp = int(side), int(tif), int(stp)
        self.run(NewOrder(symbol, owner, side, lots * spec.lot, price=100 + ticks * spec.tick,
                          tif=tif, stp=stp))

    @rule(symbol=st.sampled_from(["F", "P"]), owner=OWNERS, side=st.sampled_from(list(Side)),
          lots=st.integers(1, 12), tif=st.sampled_from([TimeInForce.DAY, TimeInForce.IOC]),
          stp=st.sampled_from([StpMode.NONE] * 2 + list(StpMode)), ints=st.booleans())
    def plain_market(self, symbol, owner, side, lots, tif, stp, ints):
        spec = SPECS[symbol == "P"]
        ord_type = OrdType.MARKET
        if ints:
            side, ord_type, tif, stp = int(side), int(ord_type), int(tif), int(stp)
        self.run(NewOrder(symbol, owner, side, lots * spec.lot, ord_type, tif=tif, stp=stp))

    @rule(symbol=st.sampled_from(["F", "P"]), owner=OWNERS, side=st.sampled_from(list(Side)),
          ticks=st.integers(-3, 3), lots=st.integers(1, 8))
    def plain_limit_again(self, symbol, owner, side, ticks, lots):
        spec = SPECS[symbol == "P"]
        self.run(NewOrder(symbol, owner, side, lots * spec.lot, price=100 + ticks * spec.tick))

    @rule(data=st.data(), owner=st.sampled_from([None, "a", "b", "c"]))
    def cancel(self, data, owner):
        self.run(CancelOrder(data.draw(self.order_ids()), owner))

    @rule(data=st.data(), owner=st.sampled_from([None, None, "a", "b"]),
          qty=st.integers(0, 30), price=st.sampled_from([None, None, 95, 98, 100, 101, 104, 105, 107]))
    def replace(self, data, owner, qty, price):
        self.run(ReplaceOrder(data.draw(self.order_ids()), qty, price, owner))

    @rule(data=st.data(), owner=st.sampled_from([None, "a"]))
    def status(self, data, owner):
        self.run(OrderStatusQuery(data.draw(self.order_ids()), owner))

    @rule(owner=st.sampled_from([None, "a", "b"]), symbol=st.sampled_from([None, "F", "P", "X"]),
          side=st.sampled_from([None, Side.BUY, Side.SELL, 7]))
    def mass_cancel(self, owner, symbol, side):
        self.run(MassCancel(owner, symbol, side))

    @rule(step=st.integers(-1, 6))
    def advance_time(self, step):
        self.time += step
        self.run(AdvanceTime(self.time))
        self.time = max(self.time, self.fast.now)

    @rule()
    def end_of_day(self):
        self.run(EndOfDay())

    @invariant()
    def same_books_and_orders(self):
        for symbol in ("F", "P"):
            book = self.fast.book(symbol)
            for side in (Side.BUY, Side.SELL):
                assert book.depth(side) == self.ref.depth(symbol, side)
                assert book.depth(side, 2) == self.ref.depth(symbol, side)[:2]
            assert book.last_trade_price == self.ref.last[symbol]
        for oid, o in self.ref.orders.items():
            assert self.fast.order(oid) == o.view()


EngineVsReference.TestCase.settings = settings(stateful_step_count=60)
TestEngineVsReference = EngineVsReference.TestCase
