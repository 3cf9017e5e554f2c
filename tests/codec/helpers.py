"""Shared builders for codec tests."""

from fixexchange.codec import FixParser, checksum, encode

NOW_TEXT = b"20231114-22:13:20.123"
HEADER = [(49, b"CLIENT"), (56, b"EXCH"), (34, b"7"), (52, NOW_TEXT)]

NEW_ORDER_SINGLE_BODY = [
    (11, b"ord-1"), (55, b"AAPL"), (54, b"1"), (38, b"100"), (40, b"2"), (44, b"100.5"),
    (59, b"0"), (60, NOW_TEXT),
]

EXECUTION_REPORT_BODY = [
    (37, b"17"), (11, b"ord-1"), (17, b"e-42"), (150, b"F"), (39, b"1"), (55, b"AAPL"),
    (54, b"1"), (38, b"100"), (40, b"2"), (44, b"100.5"), (32, b"40"), (31, b"100.5"),
    (151, b"60"), (14, b"40"), (6, b"100.5"), (60, NOW_TEXT),
]


def frame(body: bytes, begin: bytes = b"FIX.4.4", body_length: int | None = None,
          check: int | None = None) -> bytes:
    """Wrap raw ``body`` (starting with b"35=", ending with SOH) in 8/9/10, optionally lying."""
    length = len(body) if body_length is None else body_length
    head = b"8=%s\x019=%d\x01" % (begin, length) + body
    total = checksum(head) if check is None else check
    return head + b"10=%03d\x01" % total


def raw_fields(fields) -> bytes:
    return b"".join(b"%s=%s\x01" % (str(tag).encode() if isinstance(tag, int) else tag, value)
                    for tag, value in fields)


def parse_one(data: bytes):
    out = FixParser().feed(data)
    assert len(out) == 1, out
    return out[0]


def message(msg_type: bytes, body, header=None):
    """Parse an encoded message with the default header (or ``header``) and ``body``."""
    return parse_one(encode(b"FIX.4.4", msg_type, list(HEADER if header is None else header) + list(body)))
