"""MemoryStore and FileStore: sequence numbers, stored messages, restart, corruption."""

import os
import struct
import zlib

import pytest

from fixexchange.session import MemoryStore
from fixexchange.storage.filestore import MAGIC, SENDER_RESERVE, FileStore, store_file_name

SESSION = "FIX.4.4:EXCH->CLIENT"


@pytest.fixture(params=["memory", "file"])
def store(request, tmp_path):
    if request.param == "memory":
        return MemoryStore()
    return FileStore(tmp_path, SESSION)


def test_new_store_starts_at_one(store):
    assert (store.next_sender_seq, store.next_target_seq) == (1, 1)
    assert store.get_sent(1, 100) == []


def test_save_sent_advances_sender_and_keeps_only_resendable(store):
    store.save_sent(1, None)
    store.save_sent(2, b"two")
    store.save_sent(3, None)
    store.save_sent(4, b"four")
    assert store.next_sender_seq == 5
    assert store.get_sent(1, 4) == [(2, b"two"), (4, b"four")]
    assert store.get_sent(3, 3) == []
    assert store.get_sent(4, 1000) == [(4, b"four")]


def test_target_and_sender_can_be_set(store):
    store.set_next_target_seq(17)
    store.set_next_sender_seq(9)
    assert (store.next_sender_seq, store.next_target_seq) == (9, 17)


def test_reset_drops_everything(store):
    store.save_sent(1, b"one")
    store.set_next_target_seq(5)
    store.reset()
    assert (store.next_sender_seq, store.next_target_seq) == (1, 1)
    assert store.get_sent(1, 10) == []


def test_file_store_survives_restart(tmp_path):
    store = FileStore(tmp_path, SESSION)
    store.save_sent(1, None)
    store.save_sent(2, b"8=FIX.4.4\x01two")
    store.set_next_target_seq(3)
    store.save_sent(3, b"three")
    store.close()
    reopened = FileStore(tmp_path, SESSION)
    assert (reopened.next_sender_seq, reopened.next_target_seq) == (4, 3)
    assert reopened.get_sent(1, 3) == [(2, b"8=FIX.4.4\x01two"), (3, b"three")]


def test_short_writes_are_completed(tmp_path):
    """A write the file takes only part of is finished by more writes (7 bytes at a time)."""
    class Short:
        def __init__(self, path):
            self.f = open(path, "ab", buffering=0)

        def write(self, data):
            return self.f.write(bytes(data[:7]))

        def flush(self):
            pass

        def close(self):
            self.f.close()

    store = FileStore(tmp_path, SESSION, open_for_append=Short)
    store.save_sent(1, b"8=FIX.4.4\x01one")
    store.flush()
    store.save_sent(2, b"two")
    store.close()
    assert FileStore(tmp_path, SESSION).get_sent(1, 2) == [(1, b"8=FIX.4.4\x01one"), (2, b"two")]


def test_crash_after_unstored_sends_resumes_at_the_reservation(tmp_path):
    # Unstored sends (market data) are covered by reserving numbers ahead: after a crash
    # (flushed, never closed) the session resumes at the reservation, never below a number
    # that may have gone out, and the stored messages are all there.
    store = FileStore(tmp_path, SESSION)
    store.save_sent(1, None)
    store.save_sent(2, b"two")
    for seq in range(3, 10):
        store.save_sent(seq, None)
    store.flush()
    reopened = FileStore(tmp_path, SESSION)
    assert reopened.next_sender_seq == 1 + SENDER_RESERVE
    assert reopened.get_sent(1, 10) == [(2, b"two")]
    # a stored message beyond the reservation is exact again
    store.save_sent(5000, b"far")
    store.flush()
    assert FileStore(tmp_path, SESSION).next_sender_seq == 5001


def test_one_record_per_reservation_not_per_unstored_send(tmp_path):
    store = FileStore(tmp_path, SESSION)
    path = tmp_path / store_file_name(SESSION)
    store.save_sent(1, None)
    store.flush()
    size = path.stat().st_size
    for seq in range(2, SENDER_RESERVE + 1):  # the rest of the first reservation
        store.save_sent(seq, None)
        store.flush()
    assert path.stat().st_size == size
    store.save_sent(SENDER_RESERVE + 1, None)  # beyond it: one more record
    store.flush()
    assert path.stat().st_size == size + 17
    assert FileStore(tmp_path, SESSION).next_sender_seq == 1 + 2 * SENDER_RESERVE


def test_a_reset_of_the_sender_number_voids_the_reservation(tmp_path):
    store = FileStore(tmp_path, SESSION)
    store.save_sent(1, None)
    store.set_next_sender_seq(50)  # e.g. the operator's reset_sequence
    store.flush()
    assert FileStore(tmp_path, SESSION).next_sender_seq == 50
    store.save_sent(50, None)
    store.flush()
    assert FileStore(tmp_path, SESSION).next_sender_seq == 50 + SENDER_RESERVE
    store.close()
    assert FileStore(tmp_path, SESSION).next_sender_seq == 51


def test_file_store_writes_reach_the_file_on_flush_not_before_close(tmp_path):
    store = FileStore(tmp_path, SESSION)
    store.save_sent(1, b"one")
    store.flush()
    # A second process (or a crash right now) sees the flushed record.
    assert FileStore(tmp_path, SESSION).get_sent(1, 1) == [(1, b"one")]


def test_file_store_reset_survives_restart(tmp_path):
    store = FileStore(tmp_path, SESSION)
    store.save_sent(1, b"one")
    store.set_next_target_seq(8)
    store.reset()
    store.save_sent(1, b"fresh")
    store.close()
    reopened = FileStore(tmp_path, SESSION)
    assert (reopened.next_sender_seq, reopened.next_target_seq) == (2, 1)
    assert reopened.get_sent(1, 5) == [(1, b"fresh")]


def test_opening_does_not_create_the_file(tmp_path):
    FileStore(tmp_path, SESSION)
    assert os.listdir(tmp_path) == []


def test_fsync_option_flushes_to_disk(tmp_path):
    synced = []
    store = FileStore(tmp_path, SESSION, fsync=True, sync_file=synced.append)
    store.save_sent(1, b"one")
    store.flush()
    assert synced
    synced.clear()  # (the first flush also creates the file, synced on its own)
    store.save_sent(2, b"two")
    store.flush()
    assert len(synced) == 1


def test_without_fsync_no_fsync_calls(tmp_path):
    synced = []
    store = FileStore(tmp_path, SESSION, sync_file=synced.append)
    store.save_sent(1, b"one")
    store.flush()
    store.close()
    assert synced == []


def test_file_name_is_safe():
    assert store_file_name("FIX.4.4:EXCH->CLIENT/x") == "FIX.4.4_EXCH-_CLIENT_x.store"


# --- corruption: always reported, never skipped ------------------------------------

def _written(tmp_path) -> bytes:
    store = FileStore(tmp_path, SESSION)
    store.save_sent(1, b"first message")
    store.set_next_target_seq(2)
    store.save_sent(2, b"second message")
    store.close()
    return (tmp_path / store_file_name(SESSION)).read_bytes()


def _corrupt(tmp_path, data: bytes) -> None:
    (tmp_path / store_file_name(SESSION)).write_bytes(data)


def test_bad_magic_sets_the_file_aside_and_starts_afresh(tmp_path, caplog):
    data = _written(tmp_path)
    _corrupt(tmp_path, b"X" + data[1:])
    store = FileStore(tmp_path, SESSION)
    assert (store.next_sender_seq, store.next_target_seq) == (1, 1)
    assert "bad magic" in caplog.text and "moved to" in caplog.text
    assert [p.name for p in tmp_path.iterdir() if ".corrupt-" in p.name]
    store.save_sent(1, b"fresh")  # and the session can go on
    store.close()
    assert FileStore(tmp_path, SESSION).get_sent(1, 1) == [(1, b"fresh")]


def test_torn_or_corrupt_last_record_at_every_offset_is_cut_back(tmp_path, caplog):
    """Every truncation inside the last record, and a flipped bit at every byte of it: the
    store opens with what came before, logs a WARNING naming the offset, and goes on."""
    data = _written(tmp_path)
    last = len(data) - (17 + len(b"second message"))
    # (close() wrote nothing after the last message: the reservation was exact)
    assert data[last:last + 1] == b"M"
    cases = [data[:cut] for cut in range(last, len(data))]
    for position in range(last, len(data)):
        flipped = bytearray(data)
        flipped[position] ^= 0x04
        cases.append(bytes(flipped))
    for damaged in cases:
        caplog.clear()
        _corrupt(tmp_path, damaged)
        store = FileStore(tmp_path, SESSION)
        assert store.get_sent(1, 2) == [(1, b"first message")]
        assert store.next_target_seq == 2
        if damaged != data[:last]:
            assert f"at offset {last}" in caplog.text, caplog.text
        assert (tmp_path / store_file_name(SESSION)).stat().st_size == last
        store.save_sent(store.next_sender_seq, b"after repair")
        store.close()
        assert FileStore(tmp_path, SESSION).get_sent(2, 9)[-1][1] == b"after repair"


def _record(kind: bytes, seq: int, payload: bytes = b"") -> bytes:
    head = kind + struct.pack(">QI", seq, len(payload))
    return head + zlib.crc32(payload, zlib.crc32(head)).to_bytes(4, "big") + payload


@pytest.mark.parametrize("tail, problem", [
    (_record(b"Z", 1), "unknown record kind"),
    (_record(b"M", 3, b"three"), "message 3"),
    (_record(b"T", 0), "sequence number 0"),
])
def test_bad_records_are_cut_back_with_the_reason(tmp_path, caplog, tail, problem):
    good = MAGIC + _record(b"M", 5, b"five")
    _corrupt(tmp_path, good + tail + _record(b"M", 6, b"six"))
    store = FileStore(tmp_path, SESSION)
    assert store.get_sent(1, 9) == [(5, b"five")]
    assert problem in caplog.text and f"offset {len(good)}" in caplog.text


def test_file_truncated_after_open_resends_what_is_left(tmp_path):
    store = FileStore(tmp_path, SESSION)
    store.save_sent(1, b"x" * 100)
    store.save_sent(2, b"y" * 100)
    store.close()
    reopened = FileStore(tmp_path, SESSION)
    path = tmp_path / store_file_name(SESSION)
    path.write_bytes(path.read_bytes()[:-50])
    assert reopened.get_sent(1, 2) == [(1, b"x" * 100)]  # the session gap-fills the rest


def test_sparse_index_finds_every_message(tmp_path):
    store = FileStore(tmp_path, SESSION)
    for seq in range(1, 1000):
        store.save_sent(seq, b"m%d" % seq if seq % 3 else None)
    store.close()
    reopened = FileStore(tmp_path, SESSION)
    assert 0 < reopened.indexed_messages < 20  # not one entry per message
    for begin, end in ((1, 1), (2, 2), (3, 3), (500, 700), (998, 2000), (64, 65)):
        expected = [(s, b"m%d" % s) for s in range(begin, min(end, 999) + 1) if s % 3]
        assert reopened.get_sent(begin, end) == expected


def test_mark_records_what_the_journal_produced(tmp_path):
    marks = iter([7, 7, 9])
    store = FileStore(tmp_path, SESSION, gate=lambda: next(marks))
    store.save_sent(1, b"one")
    store.flush()
    store.save_sent(2, b"two")
    store.flush()
    store.save_sent(3, b"three")
    store.save_sent(4, None)
    store.flush()
    store.save_sent(5, b"five")  # not flushed: lost in a crash
    reopened = FileStore(tmp_path, SESSION)
    assert reopened.mark == 9 and reopened.after_mark is None
    closed = iter([])
    gated = FileStore(tmp_path, SESSION, gate=lambda: next(closed, None))
    gated.save_sent(reopened.next_sender_seq, b"held")
    gated.flush()  # the journal cannot be written: nothing is
    assert FileStore(tmp_path, SESSION).get_sent(1, 99)[-1] == (3, b"three")
    # a reset keeps the mark
    reset = FileStore(tmp_path, SESSION, gate=lambda: 9)
    reset.reset()
    again = FileStore(tmp_path, SESSION)
    assert again.mark == 9 and again.next_sender_seq == 1


def test_handwritten_valid_journal_loads(tmp_path):
    # The format is the documented one, not just whatever the writer happens to do.
    _corrupt(tmp_path, MAGIC + _record(b"M", 1, b"one") + _record(b"S", 4) + _record(b"T", 9))
    store = FileStore(tmp_path, SESSION)
    assert (store.next_sender_seq, store.next_target_seq) == (4, 9)
    assert store.get_sent(1, 3) == [(1, b"one")]


def test_journal_is_compacted_on_open_when_numbers_pile_up(tmp_path):
    store = FileStore(tmp_path, SESSION, compact_after_records=50)
    store.save_sent(1, b"one")
    for seq in range(2, 200):
        store.set_next_target_seq(seq)
        store.save_sent(seq, None)
        store.flush()  # one T record per read, as the session journals them
    store.save_sent(200, b"two hundred")
    store.close()
    path = tmp_path / store_file_name(SESSION)
    size_before = path.stat().st_size
    reopened = FileStore(tmp_path, SESSION, compact_after_records=50)
    assert path.stat().st_size < size_before / 10
    assert (reopened.next_sender_seq, reopened.next_target_seq) == (201, 199)
    assert reopened.get_sent(1, 300) == [(1, b"one"), (200, b"two hundred")]
    reopened.save_sent(201, b"after compaction")
    reopened.close()
    again = FileStore(tmp_path, SESSION, compact_after_records=50)
    assert again.get_sent(199, 300) == [(200, b"two hundred"), (201, b"after compaction")]
    assert (again.next_sender_seq, again.next_target_seq) == (202, 199)


def test_small_journal_is_not_rewritten(tmp_path):
    store = FileStore(tmp_path, SESSION)
    for seq in range(1, 20):
        store.set_next_target_seq(seq)
    store.close()
    path = tmp_path / store_file_name(SESSION)
    before = path.read_bytes()
    FileStore(tmp_path, SESSION)
    assert path.read_bytes() == before
