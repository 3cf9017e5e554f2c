"""A client-side order book rebuilt only from MarketDataSnapshotFullRefresh (W) and
MarketDataIncrementalRefresh (X) entries, and its text rendering (fix-md, fix-send book)."""

from __future__ import annotations

import collections
from decimal import Decimal, InvalidOperation

from fixexchange.codec.tags import (
    AggressorSide,
    MDEntryPx,
    MDEntrySize,
    MDEntryTime,
    MDEntryType,
    MDEntryTypes,
    MDUpdateAction,
    MDUpdateActions,
    NumberOfOrders,
    Side,
    Sides,
)

BID, OFFER, TRADE = (MDEntryTypes.BID.decode(), MDEntryTypes.OFFER.decode(), MDEntryTypes.TRADE.decode())
NEW, CHANGE, DELETE = (MDUpdateActions.NEW.decode(), MDUpdateActions.CHANGE.decode(), MDUpdateActions.DELETE.decode())

# Aggressor side of a trade entry: FIX 5.0 AggressorSide(2446) if the exchange sends it,
# else Side(54) on the entry.
AGGRESSOR_TAGS = (AggressorSide, Side)
SIDE_NAMES = {Sides.BUY.decode(): "BUY", Sides.SELL.decode(): "SELL"}


class BookInconsistent(Exception):
    """An incremental update that does not apply to the book we hold."""


def _decimal(value: str | None, what: str) -> Decimal:
    if value is None:
        raise BookInconsistent(f"entry without {what}")
    try:
        result = Decimal(value)
    except InvalidOperation:
        raise BookInconsistent(f"bad {what} {value!r}") from None
    if not result.is_finite():
        raise BookInconsistent(f"bad {what} {value!r}")
    return result


def _fmt(value: Decimal) -> str:
    text = format(value, "f")
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    return text


class Trade:
    __slots__ = ("time", "price", "size", "side")

    def __init__(self, time: str, price: Decimal, size: Decimal, side: str) -> None:
        self.time, self.price, self.size, self.side = time, price, size, side


def _trade_from(entry: dict[int, str], received: str = "") -> Trade:
    price = _decimal(entry.get(MDEntryPx), "MDEntryPx(270)")
    size = _decimal(entry.get(MDEntrySize), "MDEntrySize(271)")
    side = "?"
    for tag in AGGRESSOR_TAGS:
        if entry.get(tag) in SIDE_NAMES:
            side = SIDE_NAMES[entry[tag]]
            break
    # MDEntryTime(273) if the exchange sends it, else the time the update arrived
    # (unknown, "-", for the trades of a snapshot).
    stamp = entry.get(MDEntryTime) or received or "-"
    if "-" in stamp and len(stamp) > 1:  # a UTCTimestamp: keep the time part
        stamp = stamp.split("-", 1)[1]
    return Trade(stamp, price, size, side)


class TradeStats:
    """Last trade, volume, high, low and VWAP of the trades the book has seen (a snapshot's
    recent trades, then every new one)."""

    __slots__ = ("count", "volume", "notional", "high", "low", "last")

    def __init__(self) -> None:
        self.count = 0
        self.volume = Decimal(0)
        self.notional = Decimal(0)
        self.high: Decimal | None = None
        self.low: Decimal | None = None
        self.last: Trade | None = None

    def add(self, trade: Trade) -> None:
        self.count += 1
        self.volume += trade.size
        self.notional += trade.size * trade.price
        self.high = trade.price if self.high is None else max(self.high, trade.price)
        self.low = trade.price if self.low is None else min(self.low, trade.price)
        self.last = trade

    @property
    def vwap(self) -> Decimal | None:
        return self.notional / self.volume if self.volume else None


class Book:
    def __init__(self, symbol: str, max_trades: int = 10) -> None:
        self.symbol = symbol
        self.bids: dict[Decimal, Decimal] = {}
        self.asks: dict[Decimal, Decimal] = {}
        # NumberOfOrders(346) per (entry type, price), when the exchange sends it
        self.orders: dict[tuple[str, Decimal], int] = {}
        self.trades: collections.deque[Trade] = collections.deque(maxlen=max_trades)
        self.stats = TradeStats()
        # when (the caller's clock: `now`) each level last changed, and the last trade
        # arrived: what a ladder highlights for a moment
        self.changed: dict[tuple[str, Decimal], float] = {}
        self.traded_at: float | None = None
        self.has_snapshot = False

    def _side(self, entry_type: str) -> dict[Decimal, Decimal]:
        return self.bids if entry_type == BID else self.asks

    def _orders(self, kind: str, price: Decimal, entry: dict[int, str]) -> None:
        count = entry.get(NumberOfOrders)
        if count is not None and count.isdigit():
            self.orders[(kind, price)] = int(count)
        else:
            self.orders.pop((kind, price), None)

    def apply_snapshot(self, entries: list[dict[int, str]]) -> None:
        """Replace the book with a W's entries (trades are recent trades: kept in order)."""
        bids: dict[Decimal, Decimal] = {}
        asks: dict[Decimal, Decimal] = {}
        trades: list[Trade] = []
        self.orders.clear()
        for entry in entries:
            kind = entry.get(MDEntryType)
            if kind in (BID, OFFER):
                price = _decimal(entry.get(MDEntryPx), "MDEntryPx(270)")
                size = _decimal(entry.get(MDEntrySize), "MDEntrySize(271)")
                side = bids if kind == BID else asks
                side[price] = side.get(price, Decimal(0)) + size
                self._orders(kind, price, entry)
            elif kind == TRADE:
                trades.append(_trade_from(entry))
        self.bids, self.asks = bids, asks
        self.trades.clear()
        self.trades.extend(trades)
        self.stats = TradeStats()
        for trade in trades:
            self.stats.add(trade)
        self.changed.clear()
        self.has_snapshot = True

    def apply_incremental(self, entry: dict[int, str], received: str = "",
                          now: float = 0.0) -> None:
        """One X entry. Raises BookInconsistent when it does not fit the book.
        `received`: the arrival time (HH:MM:SS.mmm) shown for trades without MDEntryTime;
        `now`: the caller's clock, recorded for the levels and trades that changed."""
        if not self.has_snapshot:
            raise BookInconsistent(f"{self.symbol}: incremental update before any snapshot")
        kind = entry.get(MDEntryType)
        action = entry.get(MDUpdateAction, NEW)
        if kind == TRADE:
            if action == NEW:
                trade = _trade_from(entry, received)
                self.trades.append(trade)
                self.stats.add(trade)
                self.traded_at = now
            return
        if kind not in (BID, OFFER):
            return
        side = self._side(kind)
        name = "bid" if kind == BID else "offer"
        price = _decimal(entry.get(MDEntryPx), "MDEntryPx(270)")
        if action == NEW:
            if price in side:
                raise BookInconsistent(
                    f"{self.symbol}: new {name} level {_fmt(price)} already in the book"
                )
            side[price] = _decimal(entry.get(MDEntrySize), "MDEntrySize(271)")
            self._orders(kind, price, entry)
        elif action == CHANGE:
            if price not in side:
                raise BookInconsistent(
                    f"{self.symbol}: change of {name} level {_fmt(price)} not in the book"
                )
            side[price] = _decimal(entry.get(MDEntrySize), "MDEntrySize(271)")
            self._orders(kind, price, entry)
        elif action == DELETE:
            if price not in side:
                raise BookInconsistent(
                    f"{self.symbol}: delete of {name} level {_fmt(price)} not in the book"
                )
            del side[price]
            self.orders.pop((kind, price), None)
        else:
            raise BookInconsistent(f"{self.symbol}: unknown MDUpdateAction(279) {action!r}")
        self.changed[(kind, price)] = now
        if len(self.changed) > 1000:  # deleted levels far from the touch: keep it bounded
            for key, _ in sorted(self.changed.items(), key=lambda kv: kv[1])[:500]:
                del self.changed[key]

    def top_bids(self, depth: int) -> list[tuple[Decimal, Decimal]]:
        return sorted(self.bids.items(), key=lambda kv: -kv[0])[:depth]

    def top_asks(self, depth: int) -> list[tuple[Decimal, Decimal]]:
        return sorted(self.asks.items(), key=lambda kv: kv[0])[:depth]

    def levels(self) -> tuple[list[tuple[str, str]], list[tuple[str, str]]]:
        """(bids best first, asks best first) as display strings, for comparisons."""
        return (
            [(_fmt(p), _fmt(q)) for p, q in self.top_bids(len(self.bids))],
            [(_fmt(p), _fmt(q)) for p, q in self.top_asks(len(self.asks))],
        )

    def spread_line(self) -> str:
        bids, asks = self.top_bids(1), self.top_asks(1)
        if bids and asks:
            return (f"spread {_fmt(asks[0][0] - bids[0][0])}  "
                    f"(bid {_fmt(bids[0][0])} / ask {_fmt(asks[0][0])})")
        if bids:
            return f"spread -  (bid {_fmt(bids[0][0])} / no asks)"
        if asks:
            return f"spread -  (no bids / ask {_fmt(asks[0][0])})"
        return "spread -  (empty book)"


def render(book: Book, depth: int = 5, trades: int = 5, pad: bool = False) -> list[str]:
    """The ladder: asks above (worst to best), bids below (best to worst). `pad`: blank
    rows for missing levels, so that ladders drawn side by side line up."""
    lines = [f"{book.symbol}  {book.spread_line()}"]
    lines.append(f"{'BID SIZE':>10}  {'PRICE':>10}  {'ASK SIZE':<10}")
    asks, bids = book.top_asks(depth), book.top_bids(depth)
    if pad:
        lines += [""] * (depth - len(asks))
    for price, size in reversed(asks):
        lines.append(f"{'':>10}  {_fmt(price):>10}  {_fmt(size):<10}")
    for price, size in bids:
        lines.append(f"{_fmt(size):>10}  {_fmt(price):>10}  {'':<10}")
    if pad:
        lines += [""] * (depth - len(bids))
    elif not bids and not asks:
        lines.append(f"{'':>10}  {'(empty)':>10}")
    lines.append("last trades:" if book.trades else "last trades: none")
    for trade in list(book.trades)[-trades:][::-1]:
        lines.append(
            f"  {trade.time:<12}  {trade.side:<4}  {_fmt(trade.size):>8} @ {_fmt(trade.price)}"
        )
    return [line.rstrip() for line in lines]
