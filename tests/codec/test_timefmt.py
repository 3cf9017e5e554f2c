import calendar

import pytest
from hypothesis import given, strategies as st

from fixexchange.codec import TimestampFormatter, format_utc_timestamp, parse_utc_timestamp


def test_format_known_instants():
    assert format_utc_timestamp(0.0) == b"19700101-00:00:00.000"
    assert format_utc_timestamp(1700000000.123) == b"20231114-22:13:20.123"
    # rounding to the nearest millisecond may carry into the next second
    assert format_utc_timestamp(1700000000.9996) == b"20231114-22:13:21.000"


def test_cache_follows_the_second():
    fmt = TimestampFormatter().format
    assert fmt(1700000000.5) == b"20231114-22:13:20.500"
    assert fmt(1700000001.25) == b"20231114-22:13:21.250"
    assert fmt(1700000000.75) == b"20231114-22:13:20.750"


@given(st.floats(0.0, 4102444800.0), st.lists(st.sampled_from([0.0, 0.0001, 0.0004, 0.0006, 0.001, 0.3, 1.0]),
                                              max_size=20))
def test_a_formatter_gives_what_the_function_gives(start, steps):
    fmt = TimestampFormatter().format  # its caches: per second, per millisecond, per now
    nows = [start]
    for step in steps:  # times close together, as a server's are
        nows.append(nows[-1] + step)
    for now in nows + nows[::-1]:
        assert fmt(now) == format_utc_timestamp(now), now


@pytest.mark.parametrize("text, expected", [
    (b"20231114-22:13:20", 1700000000.0),
    (b"20231114-22:13:20.123", 1700000000.123),
    (b"20231114-22:13:20.123456", 1700000000.123456),
    (b"20231114-22:13:20.123456789", 1700000000.123456789),
    (b"20240229-00:00:00", float(calendar.timegm((2024, 2, 29, 0, 0, 0)))),
])
def test_parse_valid(text, expected):
    assert parse_utc_timestamp(text) == pytest.approx(expected, abs=1e-6)


@pytest.mark.parametrize("text", [
    b"", b"20231114", b"20231114 22:13:20", b"20231114-22-13-20", b"2023111x-22:13:20",
    b"20231314-22:13:20", b"20230230-22:13:20", b"20230229-00:00:00", b"20231114-24:00:00",
    b"20231114-23:60:00", b"20231114-23:59:61", b"20231114-22:13:20.12",
    b"20231114-22:13:20,123", b"00001114-22:13:20", b"20231100-22:13:20",
    b"20231114-22:13:20.12a",
])
def test_parse_invalid_raises_value_error(text):
    with pytest.raises(ValueError):
        parse_utc_timestamp(text)


@given(st.integers(min_value=0, max_value=4102444800000))
def test_round_trip(millis):
    now = millis / 1000
    assert parse_utc_timestamp(format_utc_timestamp(now)) == pytest.approx(now, abs=0.0006)


def test_repeated_instant_and_integer_input():
    assert format_utc_timestamp(1700000000.5) == format_utc_timestamp(1700000000.5)
    assert format_utc_timestamp(1700000000) == b"20231114-22:13:20.000"
    assert format_utc_timestamp(1700000000.001) == b"20231114-22:13:20.001"


@given(st.integers(min_value=-62135596800, max_value=253402300799))
def test_calendar_arithmetic_matches_the_standard_library(second):
    import datetime
    expected = datetime.datetime(1970, 1, 1) + datetime.timedelta(seconds=second)
    text = format_utc_timestamp(float(second))
    assert text == expected.strftime("%Y%m%d-%H:%M:%S.000").encode().rjust(21, b"0")
    assert parse_utc_timestamp(text) == second


def test_century_leap_years():
    assert parse_utc_timestamp(b"20000229-00:00:00") == 951782400.0
    with pytest.raises(ValueError):
        parse_utc_timestamp(b"19000229-00:00:00")
