"""What the gateway hands to the server: one application message for one session."""

from __future__ import annotations

from typing import NamedTuple, Union

FieldValue = Union[bytes, str, int]


class Outbound(NamedTuple):
    """An application message to send on ``session_id``.  ``body`` is every field after the
    standard header, in order: ``(tag, value)`` pairs, or (an order's ExecutionReports, the
    hot path) ``bytes`` already encoded as whole "tag=value<SOH>" fields, which the session's
    encoder puts in as they are.  ``market_data`` marks W/X/Y: they may be conflated for a slow
    reader (the server then calls ``Gateway.snapshot_for``) and are never worth resending
    from the store; everything else (8, 9, r, j, y) must be delivered."""

    session_id: str
    msg_type: bytes
    body: list[tuple[int, FieldValue]] | bytes
    market_data: bool = False
