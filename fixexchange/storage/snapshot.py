"""Snapshot files: the state after journal record ``seq``, checksummed.

``<dir>/snapshot-<seq, 20 digits>.snap`` = MAGIC seq:u64 length:u64 crc32:u32 data.  Written
beside its final name, fdatasynced, renamed (and the directory synced), so a crash leaves
either the whole file or none.  ``latest()`` returns the newest snapshot that checks out (a
damaged one is skipped with a WARNING: the previous one and a longer journal tail still
recover the state)."""

from __future__ import annotations

import logging
import os
import re
import struct
import zlib

__all__ = ["SnapshotStore"]

log = logging.getLogger("fixexchange")

MAGIC = b"FIXEXCHANGE-SNAPSHOT-1\n"
_HEAD = struct.Struct(">QQI")
_NAME_RE = re.compile(r"snapshot-(\d{20})\.snap$")


class SnapshotStore:
    def __init__(self, directory: str | os.PathLike, keep: int = 2) -> None:
        self.directory = os.fspath(directory)
        os.makedirs(self.directory, exist_ok=True)
        self.keep = max(1, keep)

    def list(self) -> list[tuple[int, str]]:
        found = []
        for name in os.listdir(self.directory):
            m = _NAME_RE.match(name)
            if m:
                found.append((int(m.group(1)), os.path.join(self.directory, name)))
        return sorted(found)

    def write(self, seq: int, data: bytes) -> str:
        path = os.path.join(self.directory, "snapshot-%020d.snap" % seq)
        temporary = path + ".tmp"
        with open(temporary, "wb") as f:
            f.write(MAGIC + _HEAD.pack(seq, len(data), zlib.crc32(data)))
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(temporary, path)
        dfd = os.open(self.directory, os.O_RDONLY)
        try:
            os.fsync(dfd)
        finally:
            os.close(dfd)
        return path

    def read(self, path: str) -> tuple[int, bytes] | None:
        try:
            with open(path, "rb") as f:
                blob = f.read()
        except OSError as e:
            log.warning("snapshot %s unreadable: %s", path, e.strerror or e)
            return None
        head = len(MAGIC) + _HEAD.size
        if not blob.startswith(MAGIC) or len(blob) < head:
            log.warning("snapshot %s: not a snapshot file (skipped)", path)
            return None
        seq, length, crc = _HEAD.unpack_from(blob, len(MAGIC))
        data = blob[head:]
        if len(data) != length or zlib.crc32(data) != crc:
            log.warning("snapshot %s: truncated or checksum mismatch (skipped)", path)
            return None
        return seq, data

    def latest(self):
        """Yield (seq, data) of the snapshots that check out, newest first."""
        for seq, path in reversed(self.list()):
            got = self.read(path)
            if got is not None:
                yield got

    def prune(self) -> int | None:
        """Delete all but the newest ``keep`` snapshots (and stray temporary files); returns
        the oldest kept snapshot's seq (the journal is needed from just after it)."""
        for name in os.listdir(self.directory):
            if name.endswith(".snap.tmp"):
                try:
                    os.unlink(os.path.join(self.directory, name))
                except OSError:
                    pass
        snapshots = self.list()
        for _, path in snapshots[:-self.keep]:
            os.unlink(path)
        kept = snapshots[-self.keep:]
        return kept[0][0] if kept else None
