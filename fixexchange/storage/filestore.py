"""The file message store: one append-only file per session, replayed on open.

    file   = MAGIC record*
    record = kind:1 seq:u64 length:u32 crc32:u32 payload[length]      (big-endian)

    kind M: message `seq` was sent; payload = its exact wire bytes (resendable)
    kind S: the next sender sequence number is now `seq` (resets, a clean close)
    kind R: sender numbers below `seq` may be in use (non-resendable sends: see below)
    kind T: the next target (inbound) sequence number is now `seq`
    kind J: every output of command-journal records up to `seq` is stored above (see
            docs/DESIGN.md, "Durability": recovery re-sends what a crash kept from here)

The CRC covers kind, seq, length and payload.  A torn or damaged record (a crash mid-write,
a full disk, a flipped bit) is found on open: the file is cut back to the last whole
record and a WARNING names the offset.  A file that is not a store at all is renamed aside
(``.corrupt``) with a WARNING and the session starts afresh: a damaged store never locks its
session out.  A reset rewrites the file; so does opening a file with many superseded number
records (compaction).

Durability: records are kept in memory and written by `flush()` in one write, which the
session calls in `data_to_send` before it hands outbound bytes to the server.  With a
``gate`` (the command journal's commit), nothing is written before the journal records
that produced it: ``gate()`` commits the journal and returns the last journal sequence on
disk (written as a J record after the messages), or None while the journal cannot be
written (the records then wait in memory).  `fsync=True` also fsyncs each flush.

Memory: the index of stored messages is sparse (every `INDEX_EVERY`-th message's file
offset); a resend reads the file forward from the nearest indexed offset.

Non-resendable sends (market data, heartbeats) are not stored, only numbered, and a
market-data subscriber gets one per event-loop turn: journaling each number would cost a
write per subscriber per turn.  So a number is reserved ahead instead (an R record covering
the next `SENDER_RESERVE` numbers), and only a send beyond the reservation writes a record.
A clean close writes the exact number; after a crash the session resumes at the
reservation, never below a number already used: the counterparty sees a gap and its
ResendRequest gets a gap fill, as for any unstored message.
"""

from __future__ import annotations

import logging
import os
import re
import struct
import time
import zlib
from array import array
from bisect import bisect_right
from typing import BinaryIO, Callable, Iterator

__all__ = ["FileStore", "store_file_name", "MAGIC", "SENDER_RESERVE"]

log = logging.getLogger("fixexchange")

MAGIC = b"FIXEXCHANGE-STORE-1\n"
_HEADER = struct.Struct(">cQII")
_KIND_MESSAGE = b"M"
_KIND_SENDER = b"S"
_KIND_TARGET = b"T"
_KIND_RESERVE = b"R"
_KIND_MARK = b"J"
_KINDS = (_KIND_MESSAGE, _KIND_SENDER, _KIND_TARGET, _KIND_RESERVE, _KIND_MARK)
# Sender numbers reserved by one R record (see the module docstring).
SENDER_RESERVE = 1000
# Number records (not messages) beyond which opening the file rewrites it compactly.
COMPACT_AFTER_RECORDS = 100_000
# One index entry (16 bytes) per this many stored messages.
INDEX_EVERY = 64
_READ_CHUNK = 1 << 20
MAX_PAYLOAD = 1 << 24


def _open_unbuffered(path: str) -> BinaryIO:
    return open(path, "ab", buffering=0)


def store_file_name(session_id: str) -> str:
    """`FIX.4.4:EXCH->CLIENT` -> `FIX.4.4_EXCH-_CLIENT.store` (safe on every filesystem)."""
    return re.sub(r"[^A-Za-z0-9._-]", "_", session_id) + ".store"


_pack_head = struct.Struct(">cQI").pack  # the 13 bytes the CRC covers besides the payload
_pack_crc = struct.Struct(">I").pack
_crc32 = zlib.crc32
_HEADER_SIZE = _HEADER.size  # 17


def _record(kind: bytes, seq: int, payload: bytes = b"") -> bytes:
    head = _pack_head(kind, seq, len(payload))
    return head + _pack_crc(_crc32(payload, _crc32(head))) + payload


def _scan(f, offset: int) -> Iterator[tuple[int, bytes, int, bytes | None, str | None]]:
    """Records from ``offset``: (offset, kind, seq, payload, None), read in chunks; a
    damaged record ends the scan with (offset, b"", 0, None, problem)."""
    f.seek(offset)
    buf = b""
    pos = 0
    while True:
        if len(buf) - pos < _HEADER_SIZE:
            more = f.read(_READ_CHUNK)
            buf = buf[pos:] + more
            offset += pos
            pos = 0
            if len(buf) < _HEADER_SIZE:
                if buf:
                    yield offset, b"", 0, None, "truncated record header"
                return
        kind, seq, length, crc = _HEADER.unpack_from(buf, pos)
        if kind not in _KINDS or length > MAX_PAYLOAD:
            yield offset + pos, b"", 0, None, f"unknown record kind {kind!r}" if kind not in _KINDS \
                else f"bad length {length}"
            return
        end = pos + _HEADER_SIZE + length
        while end > len(buf):
            more = f.read(max(_READ_CHUNK, end - len(buf)))
            if not more:
                yield offset + pos, b"", 0, None, "truncated record"
                return
            buf += more
        payload = buf[pos + _HEADER_SIZE:end]
        if _crc32(payload, _crc32(buf[pos:pos + 13])) != crc:
            yield offset + pos, b"", 0, None, "checksum mismatch"
            return
        if seq < 1:
            yield offset + pos, b"", 0, None, f"sequence number {seq}"
            return
        yield offset + pos, kind, seq, payload, None
        pos = end


class FileStore:
    """Append-only store per session; see the module docstring for the format.

    Opening only reads (or repairs): the file is created by the first write, so a session
    whose logon is refused leaves no trace on disk.
    """

    def __init__(self, directory: str | os.PathLike, session_id: str, *, fsync: bool = False,
                 gate: Callable[[], int | None] | None = None,
                 compact_after_records: int = COMPACT_AFTER_RECORDS,
                 sync_file: Callable[[int], None] = os.fsync,
                 open_for_append: Callable[[str], BinaryIO] = _open_unbuffered) -> None:
        """``fsync``: make every flush durable with ``sync_file`` (tests count its calls);
        ``gate``: see flush; ``open_for_append``: the file flushes write to (tests count
        the writes); ``compact_after_records``: number records beyond the messages that make
        opening compact the file."""
        self.path = os.path.join(os.fspath(directory), store_file_name(session_id))
        self._fsync = fsync
        self._gate = gate
        self._compact_after = compact_after_records
        self._sync_file = sync_file
        self._open_file = open_for_append
        self.next_sender_seq = 1
        self.next_target_seq = 1
        # sparse index: every INDEX_EVERY-th stored message's seq and record offset
        self._index_seqs = array("Q")
        self._index_offsets = array("Q")
        self._stored = 0  # messages stored (for the sparse index)
        self._last_stored = 0  # highest stored message seq
        # sender numbers below this are covered on disk (by an M, S or R record)
        self._reserved = 1
        self._file = None
        self._pending: list[bytes] = []
        self._end = 0  # file size including pending records
        self._written_end = 0
        self._target_pending = False
        # the last J record (journal sequence whose outputs are all stored) and the messages
        # stored after it (recovery: what of the journal's tail this store already has)
        self.mark = 0
        self._mark_written = 0
        self.after_mark: tuple[int, int] | None = None  # (first, last) message seq after it
        if os.path.exists(self.path):
            self._load()
        if not os.path.exists(self.path):  # (new, or set aside): created by the first write
            self._end = self._written_end = len(MAGIC)

    # --- reading -----------------------------------------------------------------
    def _load(self) -> None:
        with open(self.path, "rb") as f:
            head = f.read(len(MAGIC))
            if head != MAGIC:
                self._set_aside(f"not a fixexchange store (bad magic {head[:20]!r})")
                return
            records = 0
            messages = 0
            reserved = 0  # the last R record's number, voided by an S record (a reset)
            end = len(MAGIC)
            problem = None
            for offset, kind, seq, payload, problem in _scan(f, end):
                if problem is not None:
                    end = offset
                    break
                if kind == _KIND_MESSAGE:
                    if seq < self.next_sender_seq:
                        problem = f"message {seq} follows sequence {self.next_sender_seq - 1}"
                        end = offset
                        break
                    self._note_stored(seq, offset)
                    self.after_mark = (seq, seq) if self.after_mark is None else (self.after_mark[0], seq)
                    self.next_sender_seq = seq + 1
                    messages += 1
                elif kind == _KIND_SENDER:
                    self.next_sender_seq = seq
                    reserved = 0
                elif kind == _KIND_RESERVE:
                    reserved = seq
                elif kind == _KIND_MARK:
                    self.mark = self._mark_written = seq
                    self.after_mark = None
                else:
                    self.next_target_seq = seq
                end = offset + _HEADER_SIZE + len(payload)
                records += 1
            size = f.seek(0, 2)
        if problem is not None:
            log.warning("session store %s: %s at offset %d: cut back to the last whole record "
                        "(%d bytes dropped)", self.path, problem, end, size - end)
            os.truncate(self.path, end)
        self._end = self._written_end = end
        # not closed cleanly after an R record: numbers up to it may have gone out
        self.next_sender_seq = max(self.next_sender_seq, reserved)
        self._reserved = self.next_sender_seq
        if records - messages > self._compact_after:
            self._compact()

    def _set_aside(self, why: str) -> None:
        aside = f"{self.path}.corrupt-{int(time.time())}"
        log.warning("session store %s: %s: moved to %s, the session starts at sequence 1 "
                    "(the client must reset or gap-fill)", self.path, why, aside)
        os.replace(self.path, aside)

    def _note_stored(self, seq: int, offset: int) -> None:
        if self._stored % INDEX_EVERY == 0:
            self._index_seqs.append(seq)
            self._index_offsets.append(offset)
        self._stored += 1
        self._last_stored = seq

    def _compact(self) -> None:
        """Rewrite the file as its stored messages plus the numbers: the per-message
        number records otherwise make restarts slower day after day."""
        temporary = self.path + ".tmp"
        kept = []  # (seq, offset) of the messages in the new file
        offset = len(MAGIC)
        with open(temporary, "wb") as out:
            out.write(MAGIC)
            for seq, raw in self.iter_sent(1, self._last_stored):
                record = _record(_KIND_MESSAGE, seq, raw)
                out.write(record)
                kept.append((seq, offset))
                offset += len(record)
            tail = [_record(_KIND_SENDER, self.next_sender_seq), _record(_KIND_TARGET, self.next_target_seq)]
            if self.mark:
                tail.append(_record(_KIND_MARK, self.mark))
            for record in tail:
                out.write(record)
                offset += len(record)
            out.flush()
            if self._fsync:
                self._sync_file(out.fileno())
        os.replace(temporary, self.path)
        self._index_seqs = array("Q")
        self._index_offsets = array("Q")
        self._stored = 0
        for seq, at in kept:
            self._note_stored(seq, at)
        self.after_mark = None
        self._end = self._written_end = offset

    def iter_sent(self, begin: int, end: int) -> Iterator[tuple[int, bytes]]:
        """Stored messages with begin <= seq <= end, in order, read from the file lazily
        (a resend of 100k messages never holds them all)."""
        if begin > self._last_stored or end < begin or not self._stored:
            return
        self.flush()
        i = bisect_right(self._index_seqs, begin) - 1
        start = self._index_offsets[i] if i >= 0 else len(MAGIC)
        with open(self.path, "rb") as f:
            for _, kind, seq, payload, problem in _scan(f, start):
                if problem is not None:
                    return
                if kind == _KIND_MESSAGE:
                    if seq > end:
                        return
                    if seq >= begin:
                        yield seq, payload

    @property
    def indexed_messages(self) -> int:
        """Entries of the sparse index (one per INDEX_EVERY stored messages)."""
        return len(self._index_seqs)

    def get_sent(self, begin: int, end: int) -> list[tuple[int, bytes]]:
        return list(self.iter_sent(begin, end))

    # --- writing -----------------------------------------------------------------
    def _append(self, record: bytes) -> int:
        if self._target_pending:
            self._journal_target()  # records stay in the order of the calls
        offset = self._end
        self._pending.append(record)
        self._end = offset + len(record)
        return offset

    def _open_for_append(self):
        if not os.path.exists(self.path):
            self._write_fresh_file(MAGIC)
        self._file = self._open_file(self.path)
        return self._file

    def _write_fresh_file(self, head: bytes) -> None:
        # Written beside the file and renamed over it, so a crash leaves the old state or a
        # complete header, never an empty or half-written file.  The mark survives a reset:
        # the journal's outputs before it are not owed to the new sequence.
        temporary = self.path + ".tmp"
        with open(temporary, "wb") as f:
            f.write(head)
            f.flush()
            if self._fsync:
                self._sync_file(f.fileno())
        os.replace(temporary, self.path)

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
        else:  # _record, _append and _note_stored inlined: once per ExecutionReport
            if self._target_pending:
                self._journal_target()
            length = len(raw)
            head = _pack_head(_KIND_MESSAGE, seq, length)
            offset = self._end
            self._pending += (head, _pack_crc(_crc32(raw, _crc32(head))), raw)
            self._end = offset + _HEADER_SIZE + length
            stored = self._stored
            if not stored % INDEX_EVERY:
                self._index_seqs.append(seq)
                self._index_offsets.append(offset)
            self._stored = stored + 1
            self._last_stored = seq
        self.next_sender_seq = seq + 1

    def reset(self) -> None:
        if self._file is not None:
            self._file.close()
            self._file = None
        self._pending.clear()
        head = MAGIC + (_record(_KIND_MARK, self._mark_written) if self._mark_written else b"")
        self._write_fresh_file(head)
        self._end = self._written_end = len(head)
        self._index_seqs = array("Q")
        self._index_offsets = array("Q")
        self._stored = 0
        self._last_stored = 0
        self.after_mark = None
        self.next_sender_seq = 1
        self.next_target_seq = 1
        self._reserved = 1
        self._target_pending = False

    def flush(self) -> None:
        if self._target_pending:
            self._journal_target()
        pending = self._pending
        if not pending:
            return
        gate = self._gate
        if gate is not None:
            mark = gate()
            if mark is None:
                return  # the journal cannot be written: neither can what it produced
            if mark != self._mark_written:
                record = _record(_KIND_MARK, mark)
                pending.append(record)
                self._end += len(record)
                self._mark_written = mark
        f = self._file
        if f is None:
            f = self._open_for_append()
        data = b"".join(pending)
        done = f.write(data)
        if done < len(data):  # (a short write: the rest)
            view = memoryview(data)
            while done < len(data):
                done += f.write(view[done:])
        f.flush()  # (a no-op on the raw file; tests may hand in a buffered one)
        pending.clear()
        self._written_end = self._end
        if self._fsync:
            self._sync_file(f.fileno())

    def close(self) -> None:
        if self._reserved > self.next_sender_seq:  # a clean close resumes exactly
            self.set_next_sender_seq(self.next_sender_seq)
        self.flush()
        if self._file is not None:
            self._file.close()
            self._file = None
