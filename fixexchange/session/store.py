"""Message stores: the two sequence numbers and every resendable message sent.

`MemoryStore` is for tests and throw-away sessions. `FileStore` is one append-only
journal per session, replayed on open:

    file   = MAGIC record*
    record = kind:1 seq:u64 length:u32 crc32:u32 payload[length]      (big-endian)

    kind M: message `seq` was sent; payload = its exact wire bytes (resendable)
    kind S: the next sender sequence number is now `seq` (resets, a clean close)
    kind R: sender numbers below `seq` may be in use (non-resendable sends: see below)
    kind T: the next target (inbound) sequence number is now `seq`

The CRC covers kind, seq, length and payload, so a torn or flipped record is found on
open and reported as `StoreCorrupted` instead of being skipped. A reset rewrites the file;
so does opening a journal with many superseded number records (compaction).

Durability: records are buffered and written to the OS by `flush()`, which the session
calls in `data_to_send` before it hands outbound bytes to the server (the server calls it
after every read, so the inbound number of a read and its replies are one write). That survives a crash of the process
(the common case) but not of the machine; pass `fsync=True` to also `os.fsync` on each
flush, at the cost of a disk round trip per event-loop turn.

Non-resendable sends (market data, heartbeats) are not stored, only numbered, and a
market-data subscriber gets one per event-loop turn: journaling each number would cost a
write system call per subscriber per turn.  So a number is reserved ahead instead (an R
record covering the next `SENDER_RESERVE` numbers), and only a send beyond the reservation
writes a record.  A clean close writes the exact number; after a crash the session resumes
at the reservation, never below a number already used: the counterparty sees a gap and its
ResendRequest gets a gap fill, as for any unstored message.
"""

from __future__ import annotations

import os
import re
import struct
import zlib
from typing import Protocol

__all__ = ["MessageStore", "MemoryStore", "FileStore", "StoreCorrupted"]


_SPAN = 1 << 32  # FileStore index values: offset * _SPAN + length (a length is a u32)


class StoreCorrupted(Exception):
    """A store file is damaged or truncated; the session must not start on guesses."""


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

    def reset(self) -> None:
        self.next_sender_seq = 1
        self.next_target_seq = 1
        self._messages.clear()

    def flush(self) -> None:
        pass

    def close(self) -> None:
        pass


MAGIC = b"FIXEXCHANGE-STORE-1\n"
_HEADER = struct.Struct(">cQII")
_KIND_MESSAGE = b"M"
_KIND_SENDER = b"S"
_KIND_TARGET = b"T"
_KIND_RESERVE = b"R"
_KINDS = (_KIND_MESSAGE, _KIND_SENDER, _KIND_TARGET, _KIND_RESERVE)
# Sender numbers reserved by one R record (see the module docstring).
SENDER_RESERVE = 1000
# Number records (not messages) beyond which opening the journal rewrites it compactly.
COMPACT_AFTER_RECORDS = 100_000


def store_file_name(session_id: str) -> str:
    """`FIX.4.4:EXCH->CLIENT` -> `FIX.4.4_EXCH-_CLIENT.store` (safe on every filesystem)."""
    return re.sub(r"[^A-Za-z0-9._-]", "_", session_id) + ".store"


_pack_head = struct.Struct(">cQI").pack  # the 13 bytes the CRC covers besides the payload
_pack_crc = struct.Struct(">I").pack
_crc32 = zlib.crc32
_HEADER_SIZE = _HEADER.size  # 17
# Records are buffered until flush() (data_to_send: once per read, inbound numbers and
# outbound messages together): a buffer this size means no write system call in between,
# even for a large burst.
_WRITE_BUFFER = 256 * 1024


def _record(kind: bytes, seq: int, payload: bytes = b"") -> bytes:
    head = _pack_head(kind, seq, len(payload))
    return head + _pack_crc(_crc32(payload, _crc32(head))) + payload


class FileStore:
    """Append-only journal per session; see the module docstring for the format.

    Opening only reads: the file is created by the first write, so a session whose
    logon is refused leaves no trace on disk.
    """

    def __init__(self, directory: str | os.PathLike, session_id: str, *, fsync: bool = False) -> None:
        self.path = os.path.join(os.fspath(directory), store_file_name(session_id))
        self._fsync = fsync
        self.next_sender_seq = 1
        self.next_target_seq = 1
        # seq -> offset << 32 | length of its payload (one int, no tuple per stored message);
        # payloads are read back from the file on resend
        self._index: dict[int, int] = {}
        # sender numbers below this are covered on disk (by an M, S or R record)
        self._reserved = 1
        self._file = None
        self._end = 0  # file size including buffered-but-unflushed records
        # set_next_target_seq only notes the number; the next record or flush() journals
        # it, so the T records of a burst of inbound messages become one (same record order;
        # only the value at a flush can ever be observed)
        self._target_pending = False
        if os.path.exists(self.path):
            self._load()

    # --- reading -----------------------------------------------------------------
    def _load(self) -> None:
        with open(self.path, "rb") as f:
            data = f.read()
        if not data.startswith(MAGIC):
            raise StoreCorrupted(f"{self.path}: not a fixexchange store (bad magic)")
        pos = len(MAGIC)
        size = len(data)
        header_size = _HEADER.size
        records = 0
        reserved = 0  # the last R record's number, voided by an S record (a reset)
        while pos < size:
            if size - pos < header_size:
                raise StoreCorrupted(f"{self.path}: truncated record header at offset {pos}")
            kind, seq, length, crc = _HEADER.unpack_from(data, pos)
            start = pos + header_size
            if kind not in _KINDS:
                raise StoreCorrupted(f"{self.path}: unknown record kind {kind!r} at offset {pos}")
            if start + length > size:
                raise StoreCorrupted(f"{self.path}: truncated record at offset {pos}")
            payload = data[start:start + length]
            if zlib.crc32(payload, zlib.crc32(data[pos:pos + 13])) != crc:
                raise StoreCorrupted(f"{self.path}: checksum mismatch in record at offset {pos}")
            if seq < 1:
                raise StoreCorrupted(f"{self.path}: sequence number {seq} at offset {pos}")
            if kind == _KIND_MESSAGE:
                if seq < self.next_sender_seq:
                    raise StoreCorrupted(
                        f"{self.path}: message {seq} at offset {pos} follows sequence "
                        f"{self.next_sender_seq - 1}")
                self._index[seq] = start << 32 | length
                self.next_sender_seq = seq + 1
            elif kind == _KIND_SENDER:
                self.next_sender_seq = seq
                reserved = 0
            elif kind == _KIND_RESERVE:
                reserved = seq
            else:
                self.next_target_seq = seq
            pos = start + length
            records += 1
        self._end = size
        # not closed cleanly after an R record: numbers up to it may have gone out
        self.next_sender_seq = max(self.next_sender_seq, reserved)
        self._reserved = self.next_sender_seq
        if records - len(self._index) > COMPACT_AFTER_RECORDS:
            self._compact(data)

    def _compact(self, data: bytes) -> None:
        """Rewrite the journal as its stored messages plus the two numbers: the
        per-message number records otherwise make restarts slower day after day."""
        parts = [MAGIC]
        index = {}
        offset = len(MAGIC)
        for seq in sorted(self._index):
            start, length = divmod(self._index[seq], _SPAN)
            record = _record(_KIND_MESSAGE, seq, data[start:start + length])
            parts.append(record)
            index[seq] = (offset + _HEADER.size) << 32 | length
            offset += len(record)
        parts.append(_record(_KIND_SENDER, self.next_sender_seq))
        parts.append(_record(_KIND_TARGET, self.next_target_seq))
        temporary = self.path + ".tmp"
        with open(temporary, "wb") as f:
            f.write(b"".join(parts))
            f.flush()
            if self._fsync:
                os.fsync(f.fileno())
        os.replace(temporary, self.path)
        self._index = index
        self._end = offset + 2 * _HEADER.size

    def get_sent(self, begin: int, end: int) -> list[tuple[int, bytes]]:
        index = self._index
        wanted = sorted(s for s in index if begin <= s <= end) if end - begin > len(index) \
            else [s for s in range(begin, end + 1) if s in index]
        if not wanted:
            return []
        self.flush()
        result = []
        with open(self.path, "rb") as f:
            for seq in wanted:
                offset, length = divmod(index[seq], _SPAN)
                f.seek(offset)
                raw = f.read(length)
                if len(raw) != length:
                    raise StoreCorrupted(f"{self.path}: message {seq} truncated on disk")
                result.append((seq, raw))
        return result

    # --- writing -----------------------------------------------------------------
    def _append(self, record: bytes) -> int:
        if self._target_pending:
            self._journal_target()  # records stay in the order of the calls
        f = self._file
        if f is None:
            f = self._open_for_append()
        offset = self._end
        f.write(record)
        self._end = offset + len(record)
        return offset

    def _open_for_append(self):
        if not os.path.exists(self.path):
            self._write_fresh_file()
        self._file = open(self.path, "ab", buffering=_WRITE_BUFFER)
        return self._file

    def _write_fresh_file(self) -> None:
        # Written beside the journal and renamed over it, so a crash leaves the old state
        # or a complete header, never an empty or half-written file (which would be
        # reported as corruption).
        temporary = self.path + ".tmp"
        with open(temporary, "wb") as f:
            f.write(MAGIC)
            f.flush()
            if self._fsync:
                os.fsync(f.fileno())
        os.replace(temporary, self.path)
        self._end = len(MAGIC)

    def set_next_sender_seq(self, seq: int) -> None:
        self._append(_record(_KIND_SENDER, seq))
        self.next_sender_seq = seq
        self._reserved = seq

    def set_next_target_seq(self, seq: int) -> None:
        self.next_target_seq = seq
        self._target_pending = True

    def _journal_target(self) -> None:
        self._target_pending = False
        self._append(_record(_KIND_TARGET, self.next_target_seq))

    def save_sent(self, seq: int, raw: bytes | None) -> None:
        if raw is None:
            if seq >= self._reserved:  # beyond the reservation: reserve the next numbers
                self._reserved = seq + SENDER_RESERVE
                self._append(_record(_KIND_RESERVE, self._reserved))
        else:  # _record and _append inlined: once per ExecutionReport
            if self._target_pending:
                self._journal_target()
            f = self._file
            if f is None:
                f = self._open_for_append()
            length = len(raw)
            head = _pack_head(_KIND_MESSAGE, seq, length)
            offset = self._end
            f.write(head + _pack_crc(_crc32(raw, _crc32(head))) + raw)
            self._end = offset + _HEADER_SIZE + length
            self._index[seq] = (offset + _HEADER_SIZE) << 32 | length
        self.next_sender_seq = seq + 1

    def reset(self) -> None:
        if self._file is not None:
            self._file.close()
            self._file = None
        self._write_fresh_file()
        self._index.clear()
        self.next_sender_seq = 1
        self.next_target_seq = 1
        self._reserved = 1
        self._target_pending = False

    def flush(self) -> None:
        f = self._file
        if self._target_pending:
            if f is None:
                self._journal_target()
                f = self._file
            else:  # _journal_target, _record and _append inlined: once per read
                self._target_pending = False
                head = _pack_head(_KIND_TARGET, self.next_target_seq, 0)
                record = head + _pack_crc(_crc32(head))
                f.write(record)
                self._end += _HEADER_SIZE
        if f is not None:
            f.flush()
            if self._fsync:
                os.fsync(f.fileno())

    def close(self) -> None:
        if self._reserved > self.next_sender_seq:  # a clean close resumes exactly
            self.set_next_sender_seq(self.next_sender_seq)
        self.flush()
        if self._file is not None:
            self._file.close()
            self._file = None
