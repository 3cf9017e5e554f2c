"""The command journal's file format: records, segments, torn tails, a full disk."""
from __future__ import annotations

import errno
import os

import pytest

from fixexchange.storage import journal as journal_module
from fixexchange.storage.journal import FileJournal, JournalCorrupted, MemoryJournal, encode_record


def payloads(n: int, start: int = 0) -> list[bytes]:
    return [b"command %d " % i + b"x" * (i % 7) for i in range(start, start + n)]


def test_append_commit_reopen_read(tmp_path):
    j = FileJournal(tmp_path, "off")
    for p in payloads(10):
        j.append(p)
    assert j.commit() is True
    assert j.commit() is False  # nothing left to write
    j.close()
    again = FileJournal(tmp_path, "off")
    assert again.next_seq == 11
    assert list(again.read_from(1)) == list(enumerate(payloads(10), 1))
    assert [seq for seq, _ in again.read_from(8)] == [8, 9, 10]


def test_short_writes_are_completed(tmp_path, monkeypatch):
    """A pwrite the OS takes only part of is finished by more pwrites (5 bytes at a time)."""
    real_pwrite = os.pwrite
    monkeypatch.setattr(journal_module.os, "pwrite", lambda fd, data, at: real_pwrite(fd, bytes(data[:5]), at))
    j = FileJournal(tmp_path, "off")
    for p in payloads(3):
        j.append(p)
    assert j.commit() is True
    j.close()
    monkeypatch.undo()
    assert list(FileJournal(tmp_path, "off").read_from(1)) == list(enumerate(payloads(3), 1))


def test_uncommitted_records_are_not_on_disk(tmp_path):
    j = FileJournal(tmp_path, "off")
    j.append(b"a")
    j.commit()
    j.append(b"b")  # a crash now: never written
    assert FileJournal(tmp_path, "off").next_seq == 2


def test_preallocated_zeros_are_a_clean_end(tmp_path, caplog):
    j = FileJournal(tmp_path, "batch", preallocate=64 * 1024)
    for p in payloads(5):
        j.append(p)
    j.commit()  # not closed: the preallocated zeros stay, as after a kill -9
    [(_, path)] = j.segments()
    assert os.path.getsize(path) >= 64 * 1024
    again = FileJournal(tmp_path, "off")
    assert again.next_seq == 6 and "cut back" not in caplog.text


def _last_record_cases(tmp_path):
    j = FileJournal(tmp_path, "off", preallocate=4096)
    for p in payloads(4):
        j.append(p)
    j.commit()
    [(_, path)] = j.segments()
    j.close()
    data = open(path, "rb").read()
    last = len(data) - len(encode_record(4, payloads(4)[3]))
    cases = [data[:cut] for cut in range(last + 1, len(data))]  # torn inside the last record
    for position in range(last, len(data)):  # a flipped bit anywhere in it
        damaged = bytearray(data)
        damaged[position] ^= 0x10
        cases.append(bytes(damaged))
    # a torn record followed by the preallocated zeros
    cases += [data[:cut] + bytes(4096) for cut in range(last + 1, len(data), 3)]
    return path, last, cases


def test_torn_or_corrupt_last_record_at_every_offset_is_cut_back(tmp_path, caplog):
    path, last, cases = _last_record_cases(tmp_path)
    for damaged in cases:
        caplog.clear()
        with open(path, "wb") as f:
            f.write(damaged)
        j = FileJournal(tmp_path, "off")
        assert j.next_seq == 4, damaged[last:]
        if any(damaged[last:]):  # (a tear that wrote only zeros looks like preallocated space)
            assert f"at offset {last}" in caplog.text and "WARNING" in caplog.text
        assert [seq for seq, _ in j.read_from(1)] == [1, 2, 3]
        j.append(b"after the repair")  # and the journal goes on from there
        j.close()
        assert list(FileJournal(tmp_path, "off").read_from(4)) == [(4, b"after the repair")]


def test_damage_before_the_last_segment_is_an_error(tmp_path):
    j = FileJournal(tmp_path, "off")
    for p in payloads(3):
        j.append(p)
    j.rotate()
    j.append(b"in the second segment")
    j.commit()
    first = j.segments()[0][1]
    data = bytearray(open(first, "rb").read())
    data[12] ^= 1
    open(first, "wb").write(bytes(data))
    with pytest.raises(JournalCorrupted, match="checksum"):
        list(FileJournal(tmp_path, "off").read_from(1))


def test_rotate_and_truncate_before_drop_whole_segments(tmp_path):
    j = FileJournal(tmp_path, "off")
    for p in payloads(3):
        j.append(p)
    j.rotate()
    for p in payloads(3, 3):
        j.append(p)
    j.rotate()
    j.append(b"last")
    j.commit()
    assert [first for first, _ in j.segments()] == [1, 4, 7]
    j.truncate_before(5)  # records 4.. are still needed
    assert [first for first, _ in j.segments()] == [4, 7]
    assert j.first_seq == 4
    assert [seq for seq, _ in j.read_from(1)] == [4, 5, 6, 7]
    j.close()
    assert FileJournal(tmp_path, "off").next_seq == 8


def test_segments_roll_over_by_size(tmp_path):
    j = FileJournal(tmp_path, "off", segment_bytes=200)
    for p in payloads(30):
        j.append(p)
        j.commit()
    assert len(j.segments()) > 3
    j.close()
    assert list(FileJournal(tmp_path, "off").read_from(1)) == list(enumerate(payloads(30), 1))


def test_disk_full_refuses_the_append_before_anything_changes(tmp_path, monkeypatch):
    j = FileJournal(tmp_path, "batch", preallocate=1024)
    j.append(b"fits")

    def full(fd, offset, length):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(journal_module.os, "posix_fallocate", full)
    with pytest.raises(OSError) as info:
        j.append(b"y" * 2000)  # beyond what was preallocated
    assert info.value.errno == errno.ENOSPC
    assert j.next_seq == 2
    j.append(b"small")  # still fits in the preallocated space
    j.close()
    assert [p for _, p in FileJournal(tmp_path, "off").read_from(1)] == [b"fits", b"small"]


def test_write_error_keeps_the_records_for_the_next_commit(tmp_path, monkeypatch):
    j = FileJournal(tmp_path, "off")
    j.append(b"one")
    real = os.pwrite

    def broken(fd, data, offset):
        raise OSError(errno.EIO, "Input/output error")

    monkeypatch.setattr(journal_module.os, "pwrite", broken)
    with pytest.raises(OSError):
        j.commit()
    monkeypatch.setattr(journal_module.os, "pwrite", real)
    j.append(b"two")
    assert j.commit()
    j.close()
    assert [p for _, p in FileJournal(tmp_path, "off").read_from(1)] == [b"one", b"two"]


def test_fsync_always_writes_each_append_or_refuses_it(tmp_path, monkeypatch):
    j = FileJournal(tmp_path, "always")
    j.append(b"one")
    assert j.pending == 0
    assert [p for _, p in FileJournal(tmp_path, "off").read_from(1)] == [b"one"]

    def broken(fd, data, offset):
        raise OSError(errno.EIO, "Input/output error")

    monkeypatch.setattr(journal_module.os, "pwrite", broken)
    with pytest.raises(OSError):
        j.append(b"two")
    assert j.next_seq == 2 and j.pending == 0  # as if never appended


def test_bad_fsync_policy():
    with pytest.raises(ValueError, match="fsync"):
        FileJournal("/nonexistent", "sometimes")


def test_memory_journal_has_the_interface():
    j = MemoryJournal()
    assert [j.append(p) for p in payloads(3)] == [1, 2, 3]
    assert j.commit() and not j.commit()
    j.truncate_before(2)
    assert [seq for seq, _ in j.read_from(1)] == [2, 3]


def test_a_second_process_cannot_open_the_same_journal(tmp_path, monkeypatch):
    import subprocess
    import sys

    monkeypatch.setattr(journal_module, "LOCK_WAIT", 0.2)
    j = FileJournal(tmp_path, "off")
    code = ("import sys; from fixexchange.storage import journal as m; m.LOCK_WAIT = 0.2\n"
            "try:\n    m.FileJournal(sys.argv[1], 'off')\nexcept m.JournalLocked as e:\n"
            "    print(e); sys.exit(3)\n")
    other = subprocess.run([sys.executable, "-c", code, str(tmp_path)], capture_output=True, text=True,
                           env={**os.environ, "PYTHONPATH": os.getcwd()})
    assert other.returncode == 3 and "in use by another process" in other.stdout
    j.close()
    assert FileJournal(tmp_path, "off").next_seq == 1  # free again once closed


def test_write_then_sync_splits_commit_for_a_group_of_writes(tmp_path, monkeypatch):
    """fsync "batch" as the server uses it: several writes, then one fdatasync."""
    synced = []
    monkeypatch.setattr(journal_module, "_sync", lambda fd: synced.append(fd))
    j = FileJournal(tmp_path, "batch")
    for p in payloads(3):
        j.append(p)
        assert j.write() is True
    assert j.unsynced and synced == []
    assert j.sync() is True and not j.unsynced and len(synced) == 1
    assert j.sync() is False and len(synced) == 1  # nothing new to sync
    assert [p for _, p in FileJournal.read_from(j, 1)] == payloads(3)


def test_records_are_written_again_before_the_fdatasync_after_a_failed_one(tmp_path, monkeypatch):
    """Linux may mark the pages a failed fdatasync could not write as clean: the retry must
    not trust the page cache, so the unsynced records are rewritten before syncing again."""
    j = FileJournal(tmp_path, "batch", preallocate=4096)
    j.append(b"kept")
    j.commit()
    j.append(b"first")
    j.write()
    j.append(b"second")
    j.write()
    [(_, path)] = j.segments()
    start = len(encode_record(1, b"kept"))
    end = start + len(encode_record(2, b"first")) + len(encode_record(3, b"second"))

    def failing(fd):
        # what a lost write-back leaves on disk: the records' bytes are gone
        with open(path, "r+b") as f:
            f.seek(start)
            f.write(bytes(end - start))
        raise OSError(errno.EIO, "Input/output error")

    monkeypatch.setattr(journal_module, "_sync", failing)
    with pytest.raises(OSError):
        j.sync()
    assert j.unsynced
    monkeypatch.undo()
    assert j.sync() is True
    j.close()
    assert [p for _, p in FileJournal(tmp_path, "off").read_from(1)] == [b"kept", b"first", b"second"]


@pytest.mark.skipif(not hasattr(os, "SEEK_HOLE"), reason="needs SEEK_HOLE")
def test_a_syncing_policy_writes_the_preallocated_space_with_zeros(tmp_path):
    """Blocks only fallocated (ext4: unwritten extents, reported as a hole) make every
    fdatasync of records written into them commit filesystem metadata; zeros written ahead
    leave a plain overwrite to sync.  (On a filesystem that reports fallocated space as data
    this holds either way.)"""
    j = FileJournal(tmp_path / "batch", "batch", preallocate=64 * 1024)
    j.append(b"x" * 100)
    j.commit()
    [(_, path)] = j.segments()
    size = os.path.getsize(path)
    assert size >= 64 * 1024
    with open(path, "rb") as f:
        assert os.lseek(f.fileno(), 0, os.SEEK_HOLE) == size  # no hole: all of it written
        data = f.read()
    assert not any(data[len(encode_record(1, b"x" * 100)):])  # zeros: a clean end at a restart
    j.close()
