"""Client-facing Text(58) for an engine reject, in FIX terms.

The engine's ``Rejected.text`` speaks engine units (integer price units, engine milliseconds,
``display_qty``): right for engine tests and logs, wrong for a FIX client, which sent
``Price=200`` and should not read ``price 2000 outside band [500, 1500]``.  The gateway
therefore builds the Text from the engine's RejectReason, the symbol's spec (formatted as FIX
prices) and the request's own FIX fields: prices as FIX decimals, quantities as OrderQty /
MaxFloor / MinQty, times as UTC timestamps.  Only reasons whose engine text carries no units
(an order already filled, ...) keep the engine's text.
"""

from __future__ import annotations

from fixexchange.codec import FixMessage, format_utc_timestamp, parse_utc_timestamp
from fixexchange.codec.tags import (
    ExpireDate,
    ExpireTime,
    MaxFloor,
    MinQty,
    OrderQty,
    OrdType,
    OrdTypes,
    Price,
    Side,
    StopPx,
    TimeInForce,
    TimeInForces,
)
from fixexchange.engine import RejectReason, SymbolSpec

from .units import NotOnScale, NumberFormatError, format_price, parse_price, parse_qty

R = RejectReason

_ORD_TYPE_NAMES = {OrdTypes.MARKET: "market", OrdTypes.LIMIT: "limit", OrdTypes.STOP: "stop",
                   OrdTypes.STOP_LIMIT: "stop-limit"}
_TIF_NAMES = {TimeInForces.DAY: "DAY", TimeInForces.GOOD_TILL_CANCEL: "GTC", TimeInForces.IMMEDIATE_OR_CANCEL: "IOC",
              TimeInForces.FILL_OR_KILL: "FOK", TimeInForces.GOOD_TILL_DATE: "GTD"}

# Reasons the gateway normally catches before the engine sees the order (or that only an
# internal caller can provoke): a fixed FIX wording, never the engine's text.
_FIXED = {
    R.INVALID_COMMAND: "invalid order",
    R.INVALID_SIDE: "unsupported Side",
    R.INVALID_ORD_TYPE: "unsupported OrdType",
    R.INVALID_TIF: "unsupported TimeInForce",
    R.INVALID_STP: "invalid self-trade prevention mode",
    R.INVALID_OWNER: "invalid session",
    R.EXPIRE_TIME_REQUIRED: "ExpireTime or ExpireDate is required for TimeInForce=6 (GTD)",
    R.POST_ONLY_NOT_ALLOWED: ("post-only (ExecInst=6) needs a limit order (OrdType=2) with TimeInForce "
                              "0, 1 or 6 and no MinQty"),
    R.POST_ONLY_WOULD_CROSS: "post-only order (ExecInst=6) would take liquidity",
    R.UNKNOWN_ORDER: "unknown order",
    R.UNKNOWN_SYMBOL: "unknown symbol",
    R.TIME_WENT_BACKWARDS: "time went backwards",
}

# Reasons about a field the order's OrdType wants or refuses: the Text names the OrdType
# (built only for these: the usual engine reject of a cancel is "too late")
_ORD_TYPE_TEXTS = {
    R.PRICE_REQUIRED: "Price is required for %s",
    R.PRICE_NOT_ALLOWED: "%s takes no Price",
    R.STOP_PRICE_REQUIRED: "StopPx is required for %s",
    R.STOP_PRICE_NOT_ALLOWED: "%s takes no StopPx",
}
_PRICE_REASONS = (R.PRICE_NOT_POSITIVE, R.OFF_TICK, R.OUTSIDE_PRICE_BAND)
# The usual engine reject (a cancel or replace that raced a fill): its Text is the engine's
# ("order already filled", ...), which has no units.  Checked first: each of the checks
# below reads an enum member from its class, a descriptor call (900 instructions) in
# CPython 3.11, about 5,500 per too-late cancel.
_TOO_LATE = R.TOO_LATE_TO_CANCEL
_QTY_REASONS = (R.QTY_NOT_POSITIVE, R.OFF_LOT, R.QTY_TOO_SMALL, R.QTY_TOO_LARGE)


def _text(message: FixMessage | None, tag: int) -> str:
    value = message.get(tag) if message is not None else None
    return "?" if value is None else value.decode("ascii", "replace")


def _qty_text(message: FixMessage | None, tag: int) -> str:
    """The quantity as a FIX Qty (normalised: ``10.0`` -> ``10``), else the field as sent."""
    value = message.get(tag) if message is not None else None
    if value is None:
        return "?"
    try:
        return "%d" % parse_qty(value)
    except (NumberFormatError, NotOnScale):
        return value.decode("ascii", "replace")


def _price_problem(reason: RejectReason, spec: SymbolSpec, units: int) -> bool:
    if reason is R.PRICE_NOT_POSITIVE:
        return units <= 0
    if reason is R.OFF_TICK:
        return bool(units % spec.tick)
    return (spec.band_low is not None and units < spec.band_low) or (
        spec.band_high is not None and units > spec.band_high)


def _price_text(reason: RejectReason, spec: SymbolSpec, message: FixMessage | None) -> str:
    scale = spec.price_scale

    def fmt(units: int) -> str:
        return format_price(units, scale).decode("ascii")

    # The engine checks Price before StopPx: name the first field that has this problem.
    name, units = "Price", None
    for tag, tag_name in ((Price, "Price"), (StopPx, "StopPx")):
        value = message.get(tag) if message is not None else None
        if value is None:
            continue
        try:
            candidate = parse_price(value, scale)
        except (NumberFormatError, NotOnScale):
            continue
        if _price_problem(reason, spec, candidate):
            name, units = tag_name, candidate
            break
    shown = fmt(units) if units is not None else "?"
    if reason is R.PRICE_NOT_POSITIVE:
        return f"{name} {shown} must be greater than zero"
    if reason is R.OFF_TICK:
        return f"{name} {shown} is not a multiple of the tick size {fmt(spec.tick)}"
    low, high = spec.band_low, spec.band_high
    if low is not None and high is not None:
        band = f"{fmt(low)} to {fmt(high)}"
    elif low is not None:
        band = f"at least {fmt(low)}"
    else:
        band = f"at most {fmt(high)}" if high is not None else "none"
    return f"{name} {shown} is outside the price band ({band}) of {spec.symbol}"


def _qty_reason_text(reason: RejectReason, spec: SymbolSpec, message: FixMessage | None) -> str:
    qty = _qty_text(message, OrderQty)
    if reason is R.QTY_NOT_POSITIVE:
        return f"OrderQty {qty} must be greater than zero"
    if reason is R.OFF_LOT:
        return f"OrderQty {qty} is not a multiple of the lot size {spec.lot} of {spec.symbol}"
    if reason is R.QTY_TOO_SMALL:
        return f"OrderQty {qty} is below the minimum quantity {spec.min_qty} of {spec.symbol}"
    return f"OrderQty {qty} is above the maximum quantity {spec.max_qty} of {spec.symbol}"


def _expire_text(message: FixMessage | None, now_text: bytes) -> str:
    now = now_text.decode("ascii")
    expire_time = message.get(ExpireTime) if message is not None else None
    if expire_time is not None:
        try:
            shown = format_utc_timestamp(parse_utc_timestamp(expire_time)).decode("ascii")
        except ValueError:
            shown = expire_time.decode("ascii", "replace")
        return f"ExpireTime {shown} is not in the future (now {now} UTC)"
    return f"ExpireDate {_text(message, ExpireDate)} has passed (now {now} UTC)"


def reject_text(reason: RejectReason, engine_text: str, spec: SymbolSpec | None, message: FixMessage | None,
                now_text: bytes) -> str:
    """Text(58) for an order (D) or replace (G/F) the engine rejected with ``reason``.

    ``spec``: the order's symbol (None: unknown); ``message``: the request whose fields are
    quoted; ``now_text``: the request's TransactTime (``YYYYMMDD-HH:MM:SS.sss``)."""
    if reason is _TOO_LATE:
        return engine_text
    fixed = _FIXED.get(reason)
    if fixed is not None:
        return fixed
    if spec is not None:
        if reason in _PRICE_REASONS:
            return _price_text(reason, spec, message)
        if reason in _QTY_REASONS:
            return _qty_reason_text(reason, spec, message)
        if reason is R.INVALID_DISPLAY_QTY:
            return (f"MaxFloor {_qty_text(message, MaxFloor)} must be a positive multiple of the lot size "
                    f"{spec.lot} and at most OrderQty {_qty_text(message, OrderQty)}")
        if reason is R.INVALID_MIN_QTY:
            return (f"MinQty {_qty_text(message, MinQty)} must be a positive multiple of the lot size "
                    f"{spec.lot} and at most OrderQty {_qty_text(message, OrderQty)}")
        if reason is R.ICEBERG_NOT_SUPPORTED:
            return f"MaxFloor (iceberg) is not supported on {spec.symbol} (pro-rata matching)"
    if reason is R.EXPIRE_TIME_IN_PAST:
        return _expire_text(message, now_text)
    if reason is R.EXPIRE_TIME_NOT_ALLOWED:
        tif = message.get(TimeInForce, b"0") if message is not None else b"0"
        return (f"ExpireTime/ExpireDate is only allowed with TimeInForce=6 (GTD), not "
                f"{tif.decode('ascii', 'replace')} ({_TIF_NAMES.get(tif, '?')})")
    if reason is R.INVALID_TIF_FOR_ORD_TYPE:
        tif = message.get(TimeInForce, b"0") if message is not None else b"0"
        return (f"a market order (OrdType=1) cannot have TimeInForce={tif.decode('ascii', 'replace')} "
                f"({_TIF_NAMES.get(tif, '?')})")
    template = _ORD_TYPE_TEXTS.get(reason)
    if template is not None:
        ord_type = message.get(OrdType) if message is not None else None
        return template % f"OrdType={_text(message, OrdType)} ({_ORD_TYPE_NAMES.get(ord_type, '?')})"
    return engine_text


# ---------------------------------------------------------------- the gateway's own checks
# (fields refused before an order reaches the engine: each text names the field, the value
# and the rule it breaks)

_SIDE_RULE = "1 buy, 2 sell"
_ORD_TYPE_RULE = "1 market, 2 limit, 3 stop, 4 stop-limit"
_TIF_RULE = "0 DAY, 1 GTC, 3 IOC, 4 FOK, 6 GTD"
UNSUPPORTED_RULES = {Side: ("Side", _SIDE_RULE), OrdType: ("OrdType", _ORD_TYPE_RULE),
                     TimeInForce: ("TimeInForce", _TIF_RULE)}
_QTY_FIELDS = ((OrderQty, "OrderQty"), (MaxFloor, "MaxFloor"), (MinQty, "MinQty"))
_PRICE_FIELDS = ((Price, "Price"), (StopPx, "StopPx"))


def _shown(value: bytes) -> str:
    return value.decode("latin-1")  # (the encoder writes str as latin-1: the client's bytes back)


def unknown_symbol_text(symbol: bytes, known: list[str]) -> str:
    """``unknown symbol sym1 (symbols are case-sensitive: SYM1)`` when only the case differs."""
    text = _shown(symbol)
    same = [name for name in known if name.casefold() == text.casefold()]
    if same:
        return f"unknown symbol {text} (symbols are case-sensitive: {same[0]})"
    return f"unknown symbol {text}"


def unsupported_text(tag: int, value: bytes | None) -> str:
    name, rule = UNSUPPORTED_RULES[tag]
    return f"unsupported {name} {_shown(value or b'')} (this exchange takes {rule})"


def bad_qty_text(message: FixMessage, spec: SymbolSpec) -> str:
    """For a quantity field that is not a whole number: which one, and why."""
    for tag, name in _QTY_FIELDS:
        value = message.get(tag)
        if value is None:
            continue
        try:
            parse_qty(value)
        except NotOnScale:
            return f"{name} {_shown(value)} is not a whole number of lots (lot size {spec.lot} of {spec.symbol})"
        except NumberFormatError:
            return f"{name} {_shown(value)} is not a number"
    return "invalid quantity"


def bad_price_text(message: FixMessage, spec: SymbolSpec) -> str:
    """For a price field with more decimals than the tick size has, or not a number."""
    tick = format_price(spec.tick, spec.price_scale).decode("ascii")
    for tag, name in _PRICE_FIELDS:
        value = message.get(tag)
        if value is None:
            continue
        try:
            parse_price(value, spec.price_scale)
        except NotOnScale:
            return f"{name} {_shown(value)} is not a multiple of the tick size {tick} of {spec.symbol}"
        except NumberFormatError:
            return f"{name} {_shown(value)} is not a number"
    return "invalid price"
