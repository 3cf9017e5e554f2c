"""UTCTimestamp formatting and parsing. Time is passed in; the clock is never read."""

from __future__ import annotations

import calendar
import time

_cached_second: int | None = None
_cached_prefix = b""
_last_now: float | None = None
_last_text = b""


def format_utc_timestamp(now: float) -> bytes:
    """``YYYYMMDD-HH:MM:SS.sss`` for ``now`` (seconds since the epoch, UTC).

    The date-time part is cached per second, and the whole text for the last ``now``
    (SendingTime and TransactTime of one message usually share it).
    """
    global _cached_second, _cached_prefix, _last_now, _last_text
    if now == _last_now:
        return _last_text
    # Round to the nearest millisecond: 1700000000.123 is stored as ...0.12299999.
    whole, millis = divmod(round(now * 1000), 1000)
    if whole != _cached_second:
        _cached_prefix = time.strftime("%Y%m%d-%H:%M:%S.", time.gmtime(whole)).encode("ascii")
        _cached_second = whole
    _last_text = _cached_prefix + b"%03d" % millis
    _last_now = now
    return _last_text


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
            or not 1 <= day <= calendar.monthrange(year, month)[1]):
        raise ValueError(f"UTCTimestamp out of range {value!r}")
    return calendar.timegm((year, month, day, hour, minute, second, 0, 0, 0)) + fraction
