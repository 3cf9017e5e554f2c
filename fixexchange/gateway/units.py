"""Exact conversions between FIX decimal strings and the engine's integer units.

Prices in the engine are ints in units of 10**-scale.  FIX carries them as decimal strings.
Both directions use string/integer arithmetic only: a float would turn 100.5 into
100.49999... somewhere.  Decimal is used for AvgPx alone, and only when the average does not
come out exact in price units.
"""

from __future__ import annotations

from decimal import ROUND_HALF_EVEN, Decimal, localcontext

# AvgPx that does not divide exactly in price units gets this many extra decimal places.
AVG_PX_EXTRA_PLACES = 6
# Integer digits a number may have (leading zeros aside): far beyond any real price or
# quantity, and far below the 4300 digits int() refuses to convert (a ValueError that is
# not a NumberFormatError would escape the gateway's rejects).
MAX_INTEGER_DIGITS = 100


class NumberFormatError(ValueError):
    """Not a FIX decimal number (sign, digits, at most one '.')."""


class NotOnScale(ValueError):
    """A well-formed number with non-zero digits beyond what the symbol's scale can carry."""


def _split_decimal(value: bytes) -> tuple[bool, bytes, bytes]:
    negative = value[:1] == b"-"
    body = value[1:] if negative else value
    whole, _, fraction = body.partition(b".")
    # bytes.isdigit() is ASCII-only, so int() below never meets '_', spaces or other digits.
    if (whole and not whole.isdigit()) or (fraction and not fraction.isdigit()) or not (whole or fraction):
        raise NumberFormatError(f"not a decimal number: {value!r}")
    if len(whole) > MAX_INTEGER_DIGITS and len(whole.lstrip(b"0")) > MAX_INTEGER_DIGITS:
        raise NumberFormatError(f"more than {MAX_INTEGER_DIGITS} integer digits")
    return negative, whole, fraction


def parse_price(value: bytes, scale: int) -> int:
    """``b"100.5"`` at scale 2 -> 10050.  Trailing zeros beyond the scale are fine
    (``b"100.500"``); any other digit there raises NotOnScale."""
    negative, whole, fraction = _split_decimal(value)
    if len(fraction) > scale:
        if fraction[scale:].strip(b"0"):
            raise NotOnScale(f"{value.decode('ascii', 'replace')} has more than {scale} decimal places")
        fraction = fraction[:scale]
    units = int(whole or b"0") * 10**scale
    if scale:
        units += int(fraction.ljust(scale, b"0"))
    return -units if negative else units


def parse_qty(value: bytes) -> int:
    """FIX Qty is a decimal type; the engine trades whole units, so ``b"10"`` and ``b"10.0"``
    are 10 while ``b"10.5"`` raises NotOnScale."""
    return parse_price(value, 0)


def format_price(units: int, scale: int) -> bytes:
    """10050 at scale 2 -> ``b"100.5"``; 10000 -> ``b"100"``; -5 -> ``b"-0.05"``."""
    if scale == 0:
        return b"%d" % units
    sign = b"-" if units < 0 else b""
    whole, fraction = divmod(-units if units < 0 else units, 10**scale)
    if not fraction:
        return b"%s%d" % (sign, whole)
    return b"%s%d.%s" % (sign, whole, (b"%0*d" % (scale, fraction)).rstrip(b"0"))


class PriceFormatter:
    """format_price for one scale with a bounded cache: prices repeat a lot on a busy book.
    (A method, not ``__call__``: CPython 3.11 specialises a call of a bound method, not of
    an instance, 600 instructions less per price.)"""

    __slots__ = ("scale", "_cache")

    CACHE_LIMIT = 4096

    def __init__(self, scale: int) -> None:
        self.scale = scale
        self._cache: dict[int, bytes] = {}

    def format(self, units: int) -> bytes:
        text = self._cache.get(units)
        if text is None:
            if len(self._cache) >= self.CACHE_LIMIT:
                self._cache.clear()
            text = self._cache[units] = format_price(units, self.scale)
        return text

    @property
    def cached(self) -> int:
        """Texts held in the cache (at most CACHE_LIMIT)."""
        return len(self._cache)


def format_avg_px(cum_notional: int, cum_qty: int, scale: int) -> bytes:
    """Average price of ``cum_qty`` units costing ``cum_notional`` (price units x qty).
    Exact when it divides; otherwise rounded half-even to scale + AVG_PX_EXTRA_PLACES places."""
    if cum_qty == 0:
        return b"0"
    quotient, remainder = divmod(cum_notional, cum_qty)
    if not remainder:
        return format_price(quotient, scale)
    places = scale + AVG_PX_EXTRA_PLACES
    with localcontext() as context:
        context.prec = len(str(abs(cum_notional))) + places + 2
        average = (Decimal(cum_notional) / Decimal(cum_qty)).scaleb(-scale)
        text = format(average.quantize(Decimal(1).scaleb(-places), rounding=ROUND_HALF_EVEN), "f")
    # Rounding can land on a whole number ("100.000000" -> "100").
    return text.rstrip("0").rstrip(".").encode("ascii")
