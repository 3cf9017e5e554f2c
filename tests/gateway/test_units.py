"""Exact price/quantity conversions: string arithmetic both ways, never a float."""

from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from fixexchange.gateway.units import (
    NotOnScale,
    NumberFormatError,
    PriceFormatter,
    format_avg_px,
    format_price,
    parse_price,
    parse_qty,
)


@pytest.mark.parametrize(
    ("text", "scale", "units"),
    [
        (b"100.5", 2, 10050),
        (b"100.50", 2, 10050),
        (b"100.500000", 2, 10050),
        (b"100", 2, 10000),
        (b"100.", 2, 10000),
        (b".5", 2, 50),
        (b"0.01", 2, 1),
        (b"-0.05", 2, -5),
        (b"007.25", 2, 725),
        (b"12", 0, 12),
        (b"12.000", 0, 12),
        (b"1.2345", 4, 12345),
    ],
)
def test_parse_price(text, scale, units):
    assert parse_price(text, scale) == units


@pytest.mark.parametrize("text", [b"100.001", b"100.5001", b"0.009"])
def test_parse_price_beyond_scale_is_not_on_scale(text):
    with pytest.raises(NotOnScale):
        parse_price(text, 2)


@pytest.mark.parametrize("text", [b"", b"-", b".", b"1.2.3", b"1e5", b" 1", b"1_0", b"+1", b"abc", b"--1",
                                  "１".encode()])
def test_parse_price_rejects_malformed(text):
    with pytest.raises(NumberFormatError):
        parse_price(text, 2)


def test_parse_qty():
    assert parse_qty(b"20") == 20
    assert parse_qty(b"20.0") == 20
    with pytest.raises(NotOnScale):
        parse_qty(b"20.5")
    with pytest.raises(NumberFormatError):
        parse_qty(b"2O")


@pytest.mark.parametrize(
    ("units", "scale", "text"),
    [(10050, 2, b"100.5"), (10000, 2, b"100"), (1, 2, b"0.01"), (-5, 2, b"-0.05"), (0, 2, b"0"),
     (7, 0, b"7"), (10001, 4, b"1.0001"), (-10000, 2, b"-100")],
)
def test_format_price(units, scale, text):
    assert format_price(units, scale) == text


@given(st.integers(min_value=-10**15, max_value=10**15), st.integers(min_value=0, max_value=8))
def test_price_round_trip_and_matches_decimal(units, scale):
    text = format_price(units, scale)
    assert parse_price(text, scale) == units
    assert Decimal(text.decode()) == Decimal(units).scaleb(-scale)


def test_price_formatter_caches_and_stays_bounded():
    fmt = PriceFormatter(2)
    assert fmt.format(10050) == b"100.5"
    assert fmt.format(10050) is fmt.format(10050)
    for units in range(PriceFormatter.CACHE_LIMIT + 10):
        assert fmt.format(units) == format_price(units, 2)
    assert fmt.cached <= PriceFormatter.CACHE_LIMIT


def test_avg_px_exact_and_inexact():
    # worked example: 8@108 + 12@110
    assert format_avg_px(8 * 10800 + 12 * 11000, 20, 2) == b"109.2"
    assert format_avg_px(10800 + 2 * 11000, 3, 2) == b"109.33333333"
    assert format_avg_px(0, 0, 2) == b"0"
    # rounds to a whole number: no trailing '.'
    assert format_avg_px(3 * 10**12 - 1, 3 * 10**10, 2) == b"1"


@given(st.integers(min_value=1, max_value=10**9), st.integers(min_value=1, max_value=10**6),
       st.integers(min_value=0, max_value=6))
def test_avg_px_within_rounding(notional, qty, scale):
    text = format_avg_px(notional, qty, scale)
    exact = Decimal(notional) / Decimal(qty) / Decimal(10) ** scale
    assert abs(Decimal(text.decode()) - exact) <= Decimal(10) ** -(scale + 6)
