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
