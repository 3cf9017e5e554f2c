"""Message stores: the two sequence numbers and every resendable message sent.

The session layer knows only the `MessageStore` interface.  `MemoryStore` is for tests and
throw-away sessions; the file store (`fixexchange.storage.filestore.FileStore`) lives with
the other file I/O outside the sans-IO layers.

A store whose file is damaged never locks its session out: see the file store.
"""

from __future__ import annotations

from typing import Protocol

__all__ = ["MessageStore", "MemoryStore", "StoreCorrupted"]


class StoreCorrupted(Exception):
    """A stored message cannot be used (it does not parse on resend)."""


class MessageStore(Protocol):
    """What the session needs from a store. Sequence numbers start at 1."""

    @property
    def next_sender_seq(self) -> int: ...

    @property
    def next_target_seq(self) -> int: ...

    def set_next_sender_seq(self, seq: int) -> None: ...

    def set_next_target_seq(self, seq: int) -> None: ...

    def save_sent(self, seq: int, raw: bytes | None) -> None:
        """Record that `seq` went out (next sender seq becomes seq + 1); keep `raw`
        for resends unless it is None (admin or non-resendable message)."""

    def get_sent(self, begin: int, end: int) -> list[tuple[int, bytes]]:
        """Stored messages with begin <= seq <= end, in sequence order."""

    def reset(self) -> None:
        """Both sequence numbers back to 1 and every stored message dropped."""

    def flush(self) -> None: ...

    def close(self) -> None: ...


class MemoryStore:
    """A store that lives as long as the process."""

    def __init__(self) -> None:
        self.next_sender_seq = 1
        self.next_target_seq = 1
        self._messages: dict[int, bytes] = {}

    def set_next_sender_seq(self, seq: int) -> None:
        self.next_sender_seq = seq

    def set_next_target_seq(self, seq: int) -> None:
        self.next_target_seq = seq

    def save_sent(self, seq: int, raw: bytes | None) -> None:
        if raw is not None:
            self._messages[seq] = raw
        self.next_sender_seq = seq + 1

    def get_sent(self, begin: int, end: int) -> list[tuple[int, bytes]]:
        messages = self._messages
        if end - begin > len(messages):
            return sorted((s, m) for s, m in messages.items() if begin <= s <= end)
        return [(s, messages[s]) for s in range(begin, end + 1) if s in messages]

    def iter_sent(self, begin: int, end: int):
        return iter(self.get_sent(begin, end))

    def reset(self) -> None:
        self.next_sender_seq = 1
        self.next_target_seq = 1
        self._messages.clear()

    def flush(self) -> None:
        pass

    def close(self) -> None:
        pass
