"""Secrets in FIX messages: Password(554) and NewPassword(925) values are masked in
everything written to a log (message logs, tool traces)."""

from __future__ import annotations

import re

__all__ = ["SECRET_TAGS", "mask_secrets"]

SECRET_TAGS = (554, 925)
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
    CheckSum(10) made right again, so that the copy still parses (a journal replays it)."""
    if b"\x01554=" not in raw and b"\x01925=" not in raw:
        return raw
    fields = raw.split(b"\x01")[:-1]  # (the last is the empty text after the final SOH)
    head, body = fields[0], []
    for field in fields[2:]:  # after 8= and 9=
        tag = field.split(b"=", 1)[0]
        if tag == b"10":
            break
        body.append(tag + b"=" + MASK if tag in (b"554", b"925") else field)
    body_bytes = b"\x01".join(body) + b"\x01"
    message = head + b"\x019=%d\x01" % len(body_bytes) + body_bytes
    return message + b"10=%03d\x01" % (sum(message) % 256)
