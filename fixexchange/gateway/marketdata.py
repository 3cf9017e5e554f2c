"""Market data: aggregated price-level mirrors, subscriptions, W snapshots and X increments.

The engine reports every displayed level change as
``LevelChanged(symbol, side, price, qty, orders)``; W and X level entries carry the live
order count as NumberOfOrders(346) (a FIX 4.4 field of both groups).
For each symbol someone subscribes to, this module keeps a mirror of the aggregated levels
per side (price -> qty plus the prices sorted best first): built from the engine's book on
the first subscription, then updated from those events alone, and dropped with the last
subscription.  A symbol nobody watches costs nothing per level change (the gateway skips
its events; a one-off snapshot reads the engine's book): with no subscribers the mirror
took 9.3% of the daemon's CPU.  Each change is turned into MDUpdateAction new (0) / change (1) / delete (2) entries,
once per market depth some subscription uses:

- full depth (MarketDepth 0): the change itself;
- top N: a change at rank >= N is invisible; a new level inside the top N pushes the level at
  rank N out (delete); a deleted level inside the top N pulls the level now at rank N-1 in
  (new).

So a client that applies every X to its W (new/change: set the price's size, delete: remove
the price; trades: append, keep the last 200) always holds exactly what a fresh W shows.

Conflation (``MarketData.conflate``, the server's ``market_data_conflation_ms``): level
changes are not turned into entries as they come; each changed price keeps the state it
had at the last flush, and ``flush`` sends the net change since then (new/change/delete
per level that differs, top N as the difference of the old and the new top N), so an X
holds at most one entry per level however many orders touched it.  Trades are never
conflated: every one since the last flush comes in the next X.  A client applying the Xs
still holds exactly what a fresh W shows, after each X.

Trades: the last ``TRADE_HISTORY`` trades per symbol are served as trade entries (269=2) in
every W (oldest first); each new trade is an X entry with action new.  This replaces the
older design's "last 200 trades" endpoint without a TradeCaptureReport flow.
"""

from __future__ import annotations

from bisect import bisect_left
from collections import deque
from heapq import merge
from itertools import islice
from typing import Callable

from ..codec.encoder import SharedBlockBody, fields_format, shared_block
from fixexchange.codec.tags import (
    AggressorSide,
    MDEntryDate,
    MDEntryPx,
    MDEntrySize,
    MDEntryTime,
    MDEntryType,
    MDEntryTypes,
    MDReqID,
    MDUpdateAction,
    MDUpdateActions,
    MsgTypes,
    NoMDEntries,
    NumberOfOrders,
    Sides,
    Symbol,
)

from .outbound import Outbound
from .units import PriceFormatter

INCREMENTAL_REFRESH = MsgTypes.MARKET_DATA_INCREMENTAL_REFRESH
# what each subscriber's X has of its own, before the shared entries
_X_OWN_FIELDS = fields_format(MDReqID, (NoMDEntries, b"%d"))
TRADE_HISTORY = 200
# entries per X at most (more come as several X): 100 entries of at most 8 fields stay well
# inside the field and size limits of common FIX parsers (ours: 1,024 fields, 64 KiB), which
# a conflated update of a deep book or a busy interval would otherwise exceed
MAX_ENTRIES_PER_X = 100

BID = 0
OFFER = 1
TRADE = 2
ENTRY_TYPE_CODES = {MDEntryTypes.BID: BID, MDEntryTypes.OFFER: OFFER, MDEntryTypes.TRADE: TRADE}
ALL_ENTRY_TYPES = frozenset((BID, OFFER, TRADE))

_NEW = (MDUpdateAction, MDUpdateActions.NEW)
_CHANGE = (MDUpdateAction, MDUpdateActions.CHANGE)
_DELETE = (MDUpdateAction, MDUpdateActions.DELETE)
_ENTRY_TYPE_FIELD = ((MDEntryType, MDEntryTypes.BID), (MDEntryType, MDEntryTypes.OFFER),
                     (MDEntryType, MDEntryTypes.TRADE))
# AggressorSide(2446, FIX 5.0 SP2; FIX 4.4's entries have no field for it), by Side 1/2
_AGGRESSOR_FIELD = {1: ((AggressorSide, Sides.BUY),), 2: ((AggressorSide, Sides.SELL),)}

FULL_DEPTH = 0
_new_tuple = tuple.__new__  # builds a NamedTuple without its Python-level __new__


class _SideLevels:
    """One side of one symbol: displayed qty and live orders per price and the sort keys
    best first (ask: price, bid: -price, so ascending key order is best first for both)."""

    __slots__ = ("keys", "qty", "orders", "negate")

    def __init__(self, negate: bool) -> None:
        self.keys: list[int] = []
        self.qty: dict[int, int] = {}
        self.orders: dict[int, int] = {}  # NumberOfOrders(346) per price
        self.negate = negate

    def price_at(self, rank: int) -> int:
        key = self.keys[rank]
        return -key if self.negate else key

    def top(self, depth: int) -> list[tuple[int, int]]:
        keys = self.keys if depth == FULL_DEPTH else self.keys[:depth]
        qty = self.qty
        if self.negate:
            return [(-key, qty[-key]) for key in keys]
        return [(key, qty[key]) for key in keys]

    def top_counted(self, depth: int) -> list[tuple[int, int, int]]:
        """(price, qty, orders) best first."""
        orders = self.orders
        return [(price, qty, orders[price]) for price, qty in self.top(depth)]


class _SymbolData:
    __slots__ = ("symbol", "symbol_field", "fmt", "sides", "trades", "depth_users", "subscriptions")

    def __init__(self, symbol: str, scale: int) -> None:
        self.symbol = symbol
        self.symbol_field = (Symbol, symbol.encode("ascii"))
        self.fmt = PriceFormatter(scale)
        self.sides = (_SideLevels(negate=True), _SideLevels(negate=False))  # bid, offer
        # (the entry's fields, its AggressorSide field) per trade
        self.trades: deque[tuple[tuple, tuple]] = deque(maxlen=TRADE_HISTORY)
        # depth -> number of live subscriptions using it: the depths to compute X entries for
        self.depth_users: dict[int, int] = {}
        self.subscriptions: dict[tuple[str, bytes], Subscription] = {}


class Subscription:
    """``aggressor_side``: trade entries carry AggressorSide(2446), not a FIX 4.4 field (the
    session's ``aggressor_side`` extension)."""

    __slots__ = ("session_id", "md_req_id", "symbols", "depth", "entry_types", "incremental", "aggressor_side",
                 "kind", "single")

    def __init__(self, session_id: str, md_req_id: bytes, symbols: tuple[str, ...], depth: int,
                 entry_types: frozenset[int], incremental: bool, aggressor_side: bool = False) -> None:
        self.aggressor_side = aggressor_side
        self.session_id = session_id
        self.md_req_id = md_req_id
        self.symbols = symbols
        self.depth = depth
        self.entry_types = entry_types
        self.incremental = incremental
        # the subscriptions of one kind share each update's encoded entries
        self.kind = (depth, entry_types, aggressor_side)
        self.single = incremental and len(symbols) == 1  # its X: one symbol's update as it is


class MarketData:
    """Level mirrors and subscriptions for every symbol.  ``level_changed`` / ``trade_printed``
    collect entries for the command being processed; ``flush`` turns them into W/X messages."""

    def __init__(self, scales: dict[str, int],
                 book_depth: Callable[[str, int], list[tuple[int, int, int]]]) -> None:
        """``book_depth(symbol, side)``: the engine book's displayed levels of that side,
        best first, as (price, qty, live orders) (read when a symbol gets its first
        subscriber and for one-off snapshots)."""
        self._symbols = {symbol: _SymbolData(symbol, scale) for symbol, scale in scales.items()}
        self._book_depth = book_depth
        # symbols with at least one subscription: the only ones whose level changes matter
        self.watched: set[str] = set()
        self._by_session: dict[str, dict[bytes, Subscription]] = {}
        # entries collected since the last flush: symbol -> depth -> [(entry type, fields)]
        self._pending_levels: dict[str, dict[int, list]] = {}
        self._pending_trades: dict[str, list] = {}
        # conflation: net changes per flush instead of every change (see the module doc)
        self.conflate = False
        # changed prices since the last flush: symbol -> per side {price: (qty, orders) at
        # the last flush, or None if the level did not exist}
        self._changed: dict[str, tuple[dict, dict]] = {}

    def __setstate__(self, state: dict) -> None:
        # a snapshot written before conflation existed: not conflating, nothing changed.
        # Attribute by attribute, as Engine.__setstate__ does and for the same reason (a
        # __dict__ updated whole stays materialised: no specialised self.method() reads).
        for name, value in {"conflate": False, "_changed": {}, **state}.items():
            setattr(self, name, value)

    def set_symbol(self, symbol: str, scale: int) -> None:
        """A symbol added or its price scale changed (a restored snapshot, a new config)."""
        data = self._symbols.get(symbol)
        if data is None:
            self._symbols[symbol] = _SymbolData(symbol, scale)
        else:
            data.fmt = PriceFormatter(scale)

    # ---------------------------------------------------------------- engine events

    def level_changed(self, symbol: str, side: int, price: int, qty: int, orders: int = 1) -> None:
        """A displayed level of a watched symbol changed (others are ignored: their mirror
        is built from the book when they are first subscribed); `orders`: the live orders
        resting there now, sent as NumberOfOrders(346)."""
        data = self._symbols[symbol]
        if not data.subscriptions:
            return
        levels = data.sides[side - 1]
        old_qty = levels.qty.get(price)
        if self.conflate:
            changed = self._changed.get(symbol)
            if changed is None:
                changed = self._changed[symbol] = ({}, {})
            olds = changed[side - 1]
            if price not in olds:
                olds[price] = None if old_qty is None else (old_qty, levels.orders[price])
        key = -price if levels.negate else price
        if qty == 0:
            if old_qty is None:
                return
            rank = bisect_left(levels.keys, key)
            del levels.keys[rank]
            del levels.qty[price]
            levels.orders.pop(price, None)
            action = _DELETE
        elif old_qty is None:
            rank = bisect_left(levels.keys, key)
            levels.keys.insert(rank, key)
            levels.qty[price] = qty
            levels.orders[price] = orders
            action = _NEW
        else:
            if old_qty == qty and levels.orders.get(price) == orders:
                return
            levels.qty[price] = qty
            levels.orders[price] = orders
            action = _CHANGE
            rank = -1  # computed only if a top-N subscription needs it
        if not data.depth_users or self.conflate:
            return
        entry_type = side - 1
        type_field = _ENTRY_TYPE_FIELD[entry_type]
        fmt = data.fmt.format
        symbol_field = data.symbol_field
        pending = self._pending_levels.get(symbol)
        if pending is None:
            pending = self._pending_levels[symbol] = {}
        for depth in data.depth_users:
            entries = pending.get(depth)
            if entries is None:
                entries = pending[depth] = []
            if depth == FULL_DEPTH:
                entries.append((entry_type, _entry(action, type_field, symbol_field, fmt(price), qty, orders)))
                continue
            if rank < 0:
                rank = bisect_left(levels.keys, key)
            if rank >= depth:
                continue
            entries.append((entry_type, _entry(action, type_field, symbol_field, fmt(price), qty, orders)))
            if action is _NEW and len(levels.keys) > depth:
                pushed_out = levels.price_at(depth)
                entries.append((entry_type, _entry(_DELETE, type_field, symbol_field, fmt(pushed_out), 0)))
            elif action is _DELETE and len(levels.keys) >= depth:
                pulled_in = levels.price_at(depth - 1)
                entries.append((entry_type, _entry(_NEW, type_field, symbol_field, fmt(pulled_in),
                                                   levels.qty[pulled_in], levels.orders[pulled_in])))

    def trade_printed(self, symbol: str, price: int, qty: int, transact_time: bytes,
                      aggressor_side: int = 0) -> None:
        """``transact_time`` (YYYYMMDD-HH:MM:SS.sss) becomes MDEntryDate/MDEntryTime, so a
        trade in a later snapshot still says when it happened; ``aggressor_side`` (Side
        1/2, the taker's) AggressorSide(2446) for the subscriptions that want it."""
        data = self._symbols[symbol]
        fields = (_ENTRY_TYPE_FIELD[TRADE], (MDEntryPx, data.fmt.format(price)), (MDEntrySize, b"%d" % qty),
                  (MDEntryDate, transact_time[:8]), (MDEntryTime, transact_time[9:]))
        aggressor = _AGGRESSOR_FIELD.get(aggressor_side, ())
        data.trades.append((fields, aggressor))
        if data.subscriptions:
            pending = self._pending_trades.get(symbol)
            if pending is None:
                pending = self._pending_trades[symbol] = []
            pending.append((TRADE, (_NEW, fields[0], data.symbol_field, *fields[1:]), aggressor))

    def pending(self) -> bool:
        """Whether ``flush`` has anything to send (entries collected since the last flush)."""
        return bool(self._pending_levels or self._pending_trades or self._changed)

    def flush(self) -> list[Outbound]:
        """W/X messages for everything collected since the last flush (one X per
        subscription; full-refresh subscriptions get one W per symbol that changed).
        Subscriptions with the same depth and entry types share one encoded block of entries
        and its byte sum, so each subscriber costs its MDReqID and entry count, formatted
        once, and one Outbound (one per ``MAX_ENTRIES_PER_X`` entries)."""
        if self._changed:
            self._pending_levels = self._net_changes()
        if not self._pending_levels and not self._pending_trades:
            return []
        pending_levels, self._pending_levels = self._pending_levels, {}
        pending_trades, self._pending_trades = self._pending_trades, {}
        out: list[Outbound] = []
        several: dict[Subscription, list] = {}  # subscriptions of several symbols or to W
        # symbols in the order they changed (a set union would follow str hashes, which
        # differ from run to run: the entries of a multi-symbol X would come in either order)
        for symbol in {**pending_levels, **pending_trades}:
            data = self._symbols[symbol]
            by_depth = pending_levels.get(symbol)
            trades = pending_trades.get(symbol)
            shared: dict[tuple, list[tuple[int, bytes, int]]] = {}
            for subscription in data.subscriptions.values():
                update = shared.get(subscription.kind)
                if update is None:
                    update = shared[subscription.kind] = _preencode(_flatten(
                        by_depth.get(subscription.depth) if by_depth else None, trades,
                        subscription.entry_types, subscription.aggressor_side))
                if not update:
                    continue
                if subscription.single:
                    for count, block, block_sum in update:
                        own = _X_OWN_FIELDS % (subscription.md_req_id, count)
                        out.append(_new_tuple(Outbound, (subscription.session_id, INCREMENTAL_REFRESH, _new_tuple(
                            SharedBlockBody, (own, block, block_sum)), True)))
                elif subscription in several:
                    several[subscription].append((data, update))
                else:
                    several[subscription] = [(data, update)]
        for subscription, per_symbol in several.items():
            if subscription.incremental:
                for count, block, block_sum in _packed(block for _, update in per_symbol for block in update):
                    body = SharedBlockBody(_X_OWN_FIELDS % (subscription.md_req_id, count), block, block_sum)
                    out.append(Outbound(subscription.session_id, INCREMENTAL_REFRESH, body, True))
            else:
                for data, _ in per_symbol:
                    out.append(self._snapshot(subscription.session_id, subscription.md_req_id, data,
                                              subscription.depth, subscription.entry_types,
                                              subscription.aggressor_side))
        return out

    def _net_changes(self) -> dict[str, dict[int, list]]:
        """Conflation: the entries (symbol -> depth -> [(entry type, fields)]) that take a
        book from its state at the last flush to its state now."""
        changed, self._changed = self._changed, {}
        pending: dict[str, dict[int, list]] = {}
        for symbol, olds_by_side in changed.items():
            data = self._symbols[symbol]
            if not data.depth_users:
                continue
            by_depth = pending[symbol] = {}
            for depth in data.depth_users:
                entries = by_depth[depth] = []
                for entry_type, (levels, olds) in enumerate(zip(data.sides, olds_by_side)):
                    if not olds:
                        continue
                    if depth == FULL_DEPTH:
                        before = {price: old for price, old in olds.items() if old is not None}
                        after = {price: (levels.qty[price], levels.orders[price])
                                 for price in olds if price in levels.qty}
                    else:
                        before = _old_top(levels, olds, depth)
                        after = {price: (qty, orders) for price, qty, orders in levels.top_counted(depth)}
                    _difference(entries, entry_type, data, before, after)
        return pending

    # ---------------------------------------------------------------- requests

    def mirror_size(self, symbol: str) -> int:
        """Entries in the depth mirror of ``symbol`` (none while nobody watches it)."""
        return sum(len(levels.keys) + len(levels.qty) + len(levels.orders)
                   for levels in self._symbols[symbol].sides)

    def conflated_levels(self, symbol: str) -> int:
        """Prices of ``symbol`` whose state at the last flush is held for the next conflated
        one (bounded by the levels changed, whatever the orders)."""
        return sum(len(olds) for olds in self._changed.get(symbol, ()))

    def subscription_count(self, session_id: str) -> int:
        return len(self._by_session.get(session_id, ()))

    def subscription(self, session_id: str, md_req_id: bytes) -> Subscription | None:
        return self._by_session.get(session_id, {}).get(md_req_id)

    def subscribe(self, subscription: Subscription) -> list[Outbound]:
        """Register and answer with one W per symbol."""
        self._by_session.setdefault(subscription.session_id, {})[subscription.md_req_id] = subscription
        key = (subscription.session_id, subscription.md_req_id)
        for symbol in subscription.symbols:
            data = self._symbols[symbol]
            if not data.subscriptions:
                self._mirror_book(data)
                self.watched.add(symbol)
            data.subscriptions[key] = subscription
            data.depth_users[subscription.depth] = data.depth_users.get(subscription.depth, 0) + 1
        return self._snapshots(subscription)

    def unsubscribe(self, session_id: str, md_req_id: bytes) -> bool:
        subscriptions = self._by_session.get(session_id)
        subscription = subscriptions.pop(md_req_id, None) if subscriptions else None
        if subscription is None:
            return False
        if not subscriptions:
            del self._by_session[session_id]
        key = (session_id, md_req_id)
        for symbol in subscription.symbols:
            data = self._symbols[symbol]
            del data.subscriptions[key]
            users = data.depth_users[subscription.depth] - 1
            if users:
                data.depth_users[subscription.depth] = users
            else:
                del data.depth_users[subscription.depth]
            if not data.subscriptions:
                # entries are pending only for watched symbols (so with nothing watched
                # there is nothing to flush: Gateway.on_message skips the call)
                self.watched.discard(symbol)
                self._changed.pop(symbol, None)
                self._pending_levels.pop(symbol, None)
                self._pending_trades.pop(symbol, None)
                for levels in data.sides:
                    levels.keys.clear()
                    levels.qty.clear()
                    levels.orders.clear()
        return True

    def _mirror_book(self, data: _SymbolData) -> None:
        for side, levels in enumerate(data.sides, 1):
            book_levels = self._book_depth(data.symbol, side)
            levels.qty = {price: qty for price, qty, _ in book_levels}
            levels.orders = {price: orders for price, _, orders in book_levels}
            levels.keys = [-price if levels.negate else price for price, _, _ in book_levels]

    def drop_session(self, session_id: str) -> None:
        for md_req_id in list(self._by_session.get(session_id, ())):
            self.unsubscribe(session_id, md_req_id)

    def snapshot(self, session_id: str, md_req_id: bytes, symbols: tuple[str, ...], depth: int,
                 entry_types: frozenset[int], aggressor_side: bool = False) -> list[Outbound]:
        """One W per symbol without subscribing (SubscriptionRequestType 0)."""
        return [self._snapshot(session_id, md_req_id, self._symbols[symbol], depth, entry_types, aggressor_side)
                for symbol in symbols]

    def snapshots_for(self, session_id: str) -> list[Outbound]:
        out = []
        for subscription in self._by_session.get(session_id, {}).values():
            out.extend(self._snapshots(subscription))
        return out

    def levels(self, symbol: str, side: int, depth: int = FULL_DEPTH) -> list[tuple[int, int]]:
        """The aggregated levels subscribers see, best first: the mirror of a watched symbol,
        else the engine's book."""
        return [(price, qty) for price, qty, _ in self.levels_counted(symbol, side, depth)]

    def levels_counted(self, symbol: str, side: int, depth: int = FULL_DEPTH) -> list[tuple[int, int, int]]:
        """The same levels as (price, qty, live orders)."""
        data = self._symbols[symbol]
        if data.subscriptions:
            return data.sides[side - 1].top_counted(depth)
        book_levels = self._book_depth(symbol, side)
        return book_levels if depth == FULL_DEPTH else book_levels[:depth]

    def _snapshots(self, subscription: Subscription) -> list[Outbound]:
        return self.snapshot(subscription.session_id, subscription.md_req_id, subscription.symbols,
                             subscription.depth, subscription.entry_types, subscription.aggressor_side)

    def _snapshot(self, session_id: str, md_req_id: bytes, data: _SymbolData, depth: int,
                  entry_types: frozenset[int], aggressor_side: bool = False) -> Outbound:
        body: list = [(MDReqID, md_req_id), data.symbol_field, (NoMDEntries, 0)]
        fmt = data.fmt.format
        count = 0
        for entry_type in (BID, OFFER):
            if entry_type in entry_types:
                type_field = _ENTRY_TYPE_FIELD[entry_type]
                for price, qty, orders in self.levels_counted(data.symbol, entry_type + 1, depth):
                    body += (type_field, (MDEntryPx, fmt(price)), (MDEntrySize, b"%d" % qty),
                             (NumberOfOrders, b"%d" % orders))
                    count += 1
        if TRADE in entry_types:
            for fields, aggressor in data.trades:
                body += fields
                if aggressor_side:
                    body += aggressor
            count += len(data.trades)
        body[2] = (NoMDEntries, count)
        return Outbound(session_id, MsgTypes.MARKET_DATA_SNAPSHOT_FULL_REFRESH, body, True)


def _flatten(level_entries: list | None, trades: list | None, wanted: frozenset[int],
             aggressor_side: bool = False) -> list[tuple]:
    """The entries (each its fields) in order for subscribers wanting ``wanted`` types."""
    entries = [fields for entry_type, fields in level_entries if entry_type in wanted] if level_entries else []
    if trades and TRADE in wanted:
        entries += [(*fields, *aggressor) if aggressor_side else fields for _, fields, aggressor in trades]
    return entries


def _old_top(levels: _SideLevels, olds: dict, depth: int) -> dict[int, tuple[int, int]]:
    """The best ``depth`` levels of one side as they were at the last flush: the levels
    not changed since, merged with the old state of the changed ones."""
    negate = levels.negate
    unchanged = (key for key in levels.keys if (-key if negate else key) not in olds)
    old_keys = sorted(-price if negate else price for price, old in olds.items() if old is not None)
    top = {}
    for key in islice(merge(unchanged, old_keys), depth):
        price = -key if negate else key
        old = olds.get(price)
        top[price] = old if old is not None else (levels.qty[price], levels.orders[price])
    return top


def _difference(entries: list, entry_type: int, data: _SymbolData, before: dict, after: dict) -> None:
    """Entries taking one side's levels from ``before`` to ``after`` ({price: (qty, orders)})."""
    type_field = _ENTRY_TYPE_FIELD[entry_type]
    symbol_field = data.symbol_field
    fmt = data.fmt.format
    for price, old in before.items():
        new = after.get(price)
        if new is None:
            entries.append((entry_type, _entry(_DELETE, type_field, symbol_field, fmt(price), 0)))
        elif new != old:
            entries.append((entry_type, _entry(_CHANGE, type_field, symbol_field, fmt(price), *new)))
    for price, new in after.items():
        if price not in before:
            entries.append((entry_type, _entry(_NEW, type_field, symbol_field, fmt(price), *new)))


def _preencode(entries: list[tuple]) -> list[tuple[int, bytes, int]]:
    """The entries encoded once, in blocks of at most ``MAX_ENTRIES_PER_X``: (entry count,
    bytes, byte sum) each.  Every subscriber of the same depth and entry types gets the same
    bytes, so encoding an X costs per subscriber only its header, not its entries."""
    blocks = []
    for start in range(0, len(entries), MAX_ENTRIES_PER_X):
        chunk = entries[start:start + MAX_ENTRIES_PER_X]
        blocks.append((len(chunk), *shared_block([field for entry in chunk for field in entry])))
    return blocks


def _packed(blocks) -> list[tuple[int, bytes, int]]:
    """Consecutive blocks (of several symbols) joined while their entries fit in one X."""
    packed: list[tuple[int, list, int]] = []
    for count, block, block_sum in blocks:
        if packed and packed[-1][0] + count <= MAX_ENTRIES_PER_X:
            last = packed[-1]
            last[1].append(block)
            packed[-1] = (last[0] + count, last[1], last[2] + block_sum)
        else:
            packed.append((count, [block], block_sum))
    return [(count, b"".join(parts), block_sum & 0xFF) for count, parts, block_sum in packed]


def _entry(action, type_field, symbol_field, price_text: bytes, qty: int, orders: int = 0) -> tuple:
    if action is _DELETE:
        return (action, type_field, symbol_field, (MDEntryPx, price_text))
    return (action, type_field, symbol_field, (MDEntryPx, price_text), (MDEntrySize, b"%d" % qty),
            (NumberOfOrders, b"%d" % orders))
