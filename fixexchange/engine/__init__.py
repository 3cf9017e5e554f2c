"""fixexchange.engine: deterministic per-symbol matching engines (pure Python, no I/O).

Authoritative API of layer 3.  No floats, no clock, no randomness: the same command list
always yields the same event list.

Construction and queries
------------------------
``Engine(specs: Iterable[SymbolSpec], now: int = 0, retain_final: int = 100_000)``
(``ValueError`` on a bad spec or a duplicate symbol; ``Book.depth`` also raises
``ValueError`` for a bad side / n; ``execute`` and ``apply`` never raise: a bug inside the
engine is logged at ERROR on the ``fixexchange.engine`` logger with its traceback and
answered with ``Rejected(INVALID_COMMAND, "internal error: ...")``; the test suite fails on
any such log record).

``engine.execute(command) -> list[tuple]``: the hot-path API (the gateway uses it).  Every
event is a plain tuple ``(EventClass, *fields)``, the fields in the NamedTuple's order, e.g.
``(Accepted, order_id, symbol, owner, side, ord_type, price, stop_price, qty, tif)`` or
``(OrderState, view)``; dispatch on ``event[0] is Trade`` and unpack
(``_, symbol, trade_id, price, qty, *rest = event``).
``engine.execute_fields(kind, fields)``: ``execute(kind(*fields))`` for a NewOrder,
CancelOrder or ReplaceOrder given as the plain tuple of its fields (TypeError for another
kind): the gateway's per-request path, no NamedTuple built per command.
``engine.apply(command) -> list[event]``: the same events as NamedTuples (built from
``execute``'s output: ``EventClass._make(event[1:])``), the readable API for tests and tools.
Everything below holds for both.

Neither raises: any bad input gives one Rejected event (``[(Rejected, order_id, reason,
text)]`` from execute) and leaves every book untouched.  Order ids are assigned by the
engine: 1, 2, 3 ... one per *accepted* NewOrder (a rejected NewOrder consumes no id; its
``Rejected.order_id`` is None; for cancel / replace / status it is the command's order
id).  A replaced order keeps its id.  Trade ids are 1, 2, 3 ... across all symbols.  Enum
fields of commands accept plain ints equal to the enum values; events and views always
carry the enum members.  (Plain LIMIT DAY/GTC/IOC and MARKET orders given with enum
members and no optional field but ``stp`` take a fast path; anything else, plain ints
included, the general one: the events are the same.)

``engine.book(symbol)`` -> book (None for an unknown symbol): ``best_bid()`` / ``best_ask()``
-> ``(price, displayed_qty)`` or None in O(1) amortised; ``depth(side, n)`` -> list of
``(price, displayed_qty)`` best first, ``n`` 0/None = all levels; ``last_trade_price``
(None before the first trade); ``spec``.
``engine.order(order_id)`` -> ``OrderView`` snapshot (or None).  Final orders stay queryable
(status / too-late-to-cancel with the owner check) for at least the last ``retain_final``
(default 100,000; 0 = none) of them: they are kept in two generations, so between
``retain_final`` and ``2 * retain_final - 1`` of the most recent ones are retained.  Older
final ids answer TOO_LATE_TO_CANCEL without the owner check (and UNKNOWN_ORDER to a status
query).
``engine.now`` is the last AdvanceTime.

Units
-----
Prices: ints in units of ``10**-price_scale``, multiples of ``tick``, > 0, inside
``[band_low, band_high]`` when set (limit price and stop price).  Quantities: ints,
multiples of ``lot``, ``min_qty <= qty <= max_qty``.  ``expire_time`` / ``AdvanceTime.now``
are opaque ints chosen by the caller (e.g. integer milliseconds since the epoch).

Commands (NamedTuples, see ``types``)
-------------------------------------
- ``NewOrder(symbol, owner, side, qty, ord_type=LIMIT, price=None, stop_price=None,
  tif=DAY, expire_time=None, display_qty=None, min_qty=None, post_only=False, stp=NONE)``
- ``CancelOrder(order_id, owner=None)``; ``ReplaceOrder(order_id, qty, price=None,
  owner=None)``; ``OrderStatusQuery(order_id, owner=None)``: owner None = no check; another
  owner's order is UNKNOWN_ORDER.  Final orders: TOO_LATE_TO_CANCEL.
- ``MassCancel(owner=None, symbol=None, side=None)``: filters, None = any.
- ``AdvanceTime(now)``: expires GTD orders (resting and untriggered stops) with
  ``expire_time <= now``, in (expire_time, order_id) order.  A time before ``engine.now``
  is rejected (TIME_WENT_BACKWARDS).
- ``EndOfDay()``: expires every live DAY order in order-id order.

Events (NamedTuples) and their order
------------------------------------
``Accepted``, ``Rejected(order_id|None, reason, text)``, ``Trade`` (one per execution: the
fill of both sides and the trade print: ``Trade(symbol, trade_id, price, qty,
aggressor_side, taker_order_id, taker_owner, taker_cum_qty, taker_leaves_qty,
taker_cum_notional, maker_order_id, maker_owner, maker_cum_qty, maker_leaves_qty,
maker_cum_notional)``, each side's cum / leaves / notional after the trade),
``Cancelled(reason)``,
``Replaced``, ``Restated`` (STP decrement of a live order), ``Triggered``, ``Expired``,
``LevelChanged(symbol, side, price, qty, orders)`` (displayed qty and live orders after the
change, 0 = level gone;
matching emits one per level it visits, when it leaves that level; resting, cancel, expiry
and replace emit one per level they change),
``OrderState(OrderView)``, ``MassCancelDone(count, owner, symbol, side)``.
Cancelled/Replaced/Expired carry owner, symbol, side, cum_qty, leaves (or the cancelled
amount) and ``cum_notional`` = sum(price*qty), and Trade the same per side (``taker_*`` /
``maker_*``), so avg price = cum_notional / cum_qty.
Conservation: for every order ``qty == cum_qty + leaves_qty + cancelled_qty``.

A NewOrder yields: Accepted, then (stops: nothing until triggered) trades, then at most one
terminal Cancelled for an unfilled IOC/FOK/market/min-qty remainder, or LevelChanged for the
rested remainder, then any stops the trades elected.

Order rules
-----------
- Price-time priority; trades at the resting order's price.
- MARKET: never rests; tif must be IOC, FOK or DAY (DAY behaves like IOC); unfilled part
  -> Cancelled(NO_LIQUIDITY).  LIMIT: rests unless IOC/FOK.  IOC remainder ->
  Cancelled(IOC_REMAINDER).  FOK: fills completely against the book as it stands or is
  Cancelled(FOK_UNFILLABLE) after Accepted with no trade.  GTD needs expire_time >
  engine.now.
- min_qty: the order is accepted, then cancelled (MIN_QTY_NOT_MET) with no trade unless at
  least min_qty can fill immediately; after entry it behaves normally.
- Post-only: **rejected** (POST_ONLY_WOULD_CROSS, no id consumed) if it would take
  liquidity on entry; a ReplaceOrder of a post-only order that would cross is rejected and
  the order is left unchanged.  Only LIMIT DAY/GTC/GTD may be post-only.
- Iceberg: display_qty (a multiple of lot, 0 < display_qty <= qty) is the shown slice; LevelChanged/depth show only displayed qty.  When a slice is consumed and
  reserve remains, a new slice of min(display_qty, reserve) goes to the back of its level.
  FIFO symbols only.
- Stops: STOP becomes MARKET, STOP_LIMIT becomes LIMIT at its price, when elected: a buy
  stop when a trade prints at >= stop_price, a sell stop at <= stop_price.  An incoming
  stop whose condition already holds against ``last_trade_price`` is elected at once.
  **Trigger order**: after an aggressor finishes matching, every stop elected by any price
  it printed is queued in order-id order and executed one at a time (Triggered, then its
  trades); stops elected by those trades are appended to the queue (cascade, FIFO).
- Replace: qty = new total (FIX OrderQty).  qty <= cum_qty cancels the remainder
  (Cancelled REPLACED_BELOW_FILLED).  Same price and leaves not increased keeps time
  priority (priority_kept=True); a price change or a qty increase loses it and re-enters
  as an aggressor (it can trade at once).  Untriggered stops: qty/price updated in place.
  A replace resets cancelled_qty to 0 (the new qty restates the order).
- STP (taker's mode, same owner): CANCEL_NEWEST cancels the taker remainder;
  CANCEL_OLDEST cancels the resting order and keeps matching; CANCEL_BOTH cancels both;
  DECREMENT reduces both by the smaller leaves (Restated, or Cancelled(SELF_TRADE) when it
  reaches 0).  With an STP mode set, FOK / min_qty count only the price levels better
  than the first level holding one of the taker's own orders (conservative, so a FOK never
  fills partly); under CANCEL_OLDEST the own orders are simply left out of the count.
- Pro-rata (``SymbolSpec.algorithm="pro_rata"``), per price level: if the incoming
  remainder Q covers the level's total T, all fill.  Otherwise every order i with leaves
  q_i first gets ``floor(Q*q_i/T)`` rounded **down to a multiple of lot**; the leftover is
  then given FIFO (time order), each order taking up to its unfilled leaves.  Trades are
  emitted in time order.  STP self orders at a level are resolved (in time order) before
  the allocation.
"""

from .book import Book
from .engine import Engine
from .types import (
    Accepted,
    AdvanceTime,
    CancelOrder,
    Cancelled,
    CancelReason,
    Command,
    EndOfDay,
    Event,
    Expired,
    LevelChanged,
    MassCancel,
    MassCancelDone,
    NewOrder,
    OrderState,
    OrderStatus,
    OrderStatusQuery,
    OrderView,
    OrdType,
    Rejected,
    RejectReason,
    Replaced,
    ReplaceOrder,
    Restated,
    Side,
    StpMode,
    SymbolSpec,
    TimeInForce,
    Trade,
    Triggered,
)

__all__ = [
    "Accepted", "AdvanceTime", "Book", "CancelOrder", "Cancelled", "CancelReason", "Command",
    "EndOfDay", "Engine", "Event", "Expired", "LevelChanged", "MassCancel",
    "MassCancelDone", "NewOrder", "OrderState", "OrderStatus", "OrderStatusQuery", "OrderView",
    "OrdType", "Rejected", "RejectReason", "Replaced", "ReplaceOrder", "Restated", "Side",
    "StpMode", "SymbolSpec", "TimeInForce", "Trade", "Triggered",
]
