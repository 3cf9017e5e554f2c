"""UTCTimestamp formatting and parsing. Time is passed in; the clock is never read.

Calendar arithmetic is done here (proleptic Gregorian, days since 1970-01-01) so the
codec needs no time module at all.
"""

from __future__ import annotations

_DAYS_IN_MONTH = (31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31)


def _days_from_civil(year: int, month: int, day: int) -> int:
    """Days since 1970-01-01 of a Gregorian date (H. Hinnant's algorithm)."""
    year -= month <= 2
    era = year // 400
    year_of_era = year - era * 400
    day_of_year = (153 * (month + (-3 if month > 2 else 9)) + 2) // 5 + day - 1
    day_of_era = year_of_era * 365 + year_of_era // 4 - year_of_era // 100 + day_of_year
    return era * 146097 + day_of_era - 719468


def _civil_from_days(days: int) -> tuple[int, int, int]:
    """(year, month, day) of ``days`` since 1970-01-01."""
    days += 719468
    era = days // 146097
    day_of_era = days - era * 146097
    year_of_era = (day_of_era - day_of_era // 1460 + day_of_era // 36524
                   - day_of_era // 146096) // 365
    day_of_year = day_of_era - (365 * year_of_era + year_of_era // 4 - year_of_era // 100)
    month_index = (5 * day_of_year + 2) // 153
    day = day_of_year - (153 * month_index + 2) // 5 + 1
    month = month_index + (3 if month_index < 10 else -9)
    return year_of_era + era * 400 + (month <= 2), month, day


def _is_leap(year: int) -> bool:
    return year % 4 == 0 and (year % 100 != 0 or year % 400 == 0)


def _second_text(whole: int) -> bytes:
    """``YYYYMMDD-HH:MM:SS.`` of ``whole`` seconds since the epoch."""
    days, second_of_day = divmod(whole, 86400)
    year, month, day = _civil_from_days(days)
    hour, rest = divmod(second_of_day, 3600)
    return b"%04d%02d%02d-%02d:%02d:%02d." % (year, month, day, hour, *divmod(rest, 60))


def format_utc_timestamp(now: float) -> bytes:
    """``YYYYMMDD-HH:MM:SS.sss`` for ``now`` (seconds since the epoch, UTC)."""
    # Round to the nearest millisecond: 1700000000.123 is stored as ...0.12299999.
    whole, millis = divmod(round(now * 1000), 1000)
    return _second_text(whole) + b"%03d" % millis


class TimestampFormatter:
    """``format_utc_timestamp`` with the caches of one user (an acceptor, a gateway): the
    date-time part per second, and the whole text for the last ``now`` and the last
    millisecond (SendingTime and TransactTime of one message usually share it)."""

    __slots__ = ("_second", "_second_text", "_now", "_millis", "_text")

    def __init__(self) -> None:
        self._second: int | None = None
        self._second_text = b""
        self._now: float | None = None
        self._millis: int | None = None
        self._text = b""

    def format(self, now: float) -> bytes:
        if now == self._now:
            return self._text
        total_millis = round(now * 1000)
        if total_millis == self._millis:
            self._now = now
            return self._text
        whole, millis = divmod(total_millis, 1000)
        if whole != self._second:
            self._second_text = _second_text(whole)
            self._second = whole
        text = self._text = self._second_text + b"%03d" % millis
        self._millis = total_millis
        self._now = now
        return text


def _digits(value: bytes, start: int, count: int) -> int:
    part = value[start:start + count]
    if len(part) != count or not part.isdigit():
        raise ValueError(f"bad UTCTimestamp {value!r}")
    return int(part)


def parse_utc_timestamp(value: bytes) -> float:
    """Parse ``YYYYMMDD-HH:MM:SS[.sss]`` (also 6 or 9 fraction digits) to epoch seconds.

    Raises ``ValueError`` for anything else, including out-of-range fields.
    """
    if type(value) is not bytes:
        value = bytes(value)
    size = len(value)
    if size not in (17, 21, 24, 27) or value[8] != 0x2D or value[11] != 0x3A or value[14] != 0x3A:
        raise ValueError(f"bad UTCTimestamp {value!r}")
    year = _digits(value, 0, 4)
    month = _digits(value, 4, 2)
    day = _digits(value, 6, 2)
    hour = _digits(value, 9, 2)
    minute = _digits(value, 12, 2)
    second = _digits(value, 15, 2)
    fraction = 0.0
    if size > 17:
        if value[17] != 0x2E:
            raise ValueError(f"bad UTCTimestamp {value!r}")
        fraction_digits = size - 18
        fraction = _digits(value, 18, fraction_digits) / 10 ** fraction_digits
    if (year < 1 or not 1 <= month <= 12 or hour > 23 or minute > 59 or second > 60
            or not 1 <= day <= _DAYS_IN_MONTH[month - 1] + (month == 2 and _is_leap(year))):
        raise ValueError(f"UTCTimestamp out of range {value!r}")
    return (_days_from_civil(year, month, day) * 86400 + hour * 3600 + minute * 60 + second
            + fraction)
