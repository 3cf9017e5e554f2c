"""Secrets in FIX messages: Password(554) and NewPassword(925) values are masked in
everything written to a log (message logs, tool traces)."""

from __future__ import annotations

import re

from .message import SECRET_TAGS  # (554 Password, 925 NewPassword)
from .parser import parse_fields

__all__ = ["SECRET_TAGS", "mask_secrets"]

MASK = b"********"
# a secret field: after SOH (or the '|' a log shows for it) or at the start of the data
_SECRET_RE = re.compile(rb"(?:(?<=[\x01|])|^)(554|925)=[^\x01|]*")


def mask_secrets(data: bytes) -> bytes:
    """``data`` (raw FIX, SOH or '|' separated) with every 554/925 value replaced by a mask
    of fixed length (the length of a password is a secret too)."""
    if b"554=" not in data and b"925=" not in data:
        return data
    return _SECRET_RE.sub(lambda m: m[1] + b"=" + MASK, data)


def mask_message(raw: bytes) -> bytes:
    """One whole raw FIX message with its 554/925 values masked and BodyLength(9) and
    CheckSum(10) made right again, so that the copy still parses (a journal replays it).
    Fields are split as the parser splits them: a data field (XmlData 213, RawData 96...)
    holding ``SOH 554=`` is data, kept as it is."""
    if b"\x01554=" not in raw and b"\x01925=" not in raw:
        return raw
    begin_end = raw.index(b"\x01") + 1
    body_start = raw.index(b"\x01", begin_end) + 1  # after 8= and 9=
    fields = parse_fields(raw[body_start:len(raw) - 8])  # without SOH 10=nnn SOH
    if not any(tag in SECRET_TAGS for tag, _value in fields):
        return raw  # the bytes were inside a data field
    body_bytes = b"".join(b"%d=%s\x01" % (tag, MASK if tag in SECRET_TAGS else value) for tag, value in fields)
    message = raw[:begin_end] + b"9=%d\x01" % len(body_bytes) + body_bytes
    return message + b"10=%03d\x01" % (sum(message) % 256)
