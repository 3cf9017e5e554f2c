"""Inbound message and garbled-drop value types."""

from __future__ import annotations

from dataclasses import dataclass

_MSG_SEQ_NUM = 34


class FixMessage:
    """One framed inbound message.

    ``fields`` is every field in wire order, including BeginString(8), BodyLength(9)
    and CheckSum(10), as ``(tag, value)`` with an int tag (0 when the tag text was not a
    positive decimal number) and the raw ``bytes`` value.
    """

    __slots__ = ("fields", "raw", "msg_type", "seq_num", "_first")

    def __init__(self, fields: list[tuple[int, bytes]], raw: bytes) -> None:
        self.fields = fields
        self.raw = raw
        first = dict(fields)
        if len(first) != len(fields):
            # A tag repeats (groups): rebuild so its FIRST occurrence wins.
            first = dict(reversed(fields))
        self._first = first
        self.msg_type: bytes = first.get(35, b"")
        seq = first.get(_MSG_SEQ_NUM)
        # (20 digits at most: beyond any real sequence number, and clear of int()'s limit)
        self.seq_num: int | None = (int(seq) if seq is not None and seq.isdigit() and len(seq) <= 20
                                    else None)

    def get(self, tag: int, default=None):
        """Value of the first occurrence of ``tag`` (O(1)), else ``default``."""
        return self._first.get(tag, default)

    def __contains__(self, tag: int) -> bool:
        return tag in self._first

    def get_all(self, tag: int) -> list[bytes]:
        """Every value of ``tag`` in wire order (repeating-group members)."""
        return [value for field_tag, value in self.fields if field_tag == tag]

    @property
    def body_fields(self) -> list[tuple[int, bytes]]:
        """Fields after MsgType(35) and before CheckSum(10): what ``encode`` takes back."""
        return self.fields[3:-1]

    def __repr__(self) -> str:
        shown = "|".join(f"{tag}={value.decode('latin-1')}" for tag, value in self.fields)
        return f"FixMessage({shown})"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, FixMessage) and self.raw == other.raw and self.fields == other.fields

    def __hash__(self) -> int:
        return hash(self.raw)


@dataclass(frozen=True, slots=True)
class Garbled:
    """Bytes dropped for bad framing (BodyLength, CheckSum, first three fields, limits).

    The parser has already resynchronised on the next ``8=``; a garbled message never
    consumes a sequence number.
    """

    reason: str
    raw: bytes
