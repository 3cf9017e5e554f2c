"""Durability wiring: open the journal, recover (snapshot + replay), commit, snapshot.

See docs/DESIGN.md, "Durability".  ``Durable`` owns the journal and the snapshot store
for the server: ``commit()`` before replies leave (group commit), ``gate()`` for the
session stores (nothing they write may precede the journal records that produced it),
``maybe_snapshot()`` after commits.
"""

from __future__ import annotations

import logging
import os
import pickle
import re
import struct
import time
from typing import Any

from ..codec.tags import ExecID, MsgSeqNum, MsgTypes
from ..storage.journal import FileJournal, JournalCorrupted
from ..storage.snapshot import SnapshotStore
from .sequencer import KIND_MESSAGE, Sequencer

log = logging.getLogger("fixexchange")

_EXEC_ID = re.compile(rb"(?:^|\x01)%d=([^\x01]*)\x01" % ExecID)
_SEQ_NUM = re.compile(rb"\x01%d=(\d+)\x01" % MsgSeqNum)
_EXECUTION_REPORT = MsgTypes.EXECUTION_REPORT


class RecoveryError(Exception):
    """The journal and snapshots cannot be put together (files missing or damaged)."""


def _exec_id(body: Any) -> bytes | None:
    if type(body) is bytes:
        m = _EXEC_ID.search(body)
        return m.group(1) if m else None
    for tag, value in body:
        if tag == ExecID:
            return value if type(value) is bytes else str(value).encode()
    return None


class Durable:
    """The journal, snapshots and their policies for one running exchange."""

    def __init__(self, sequencer: Sequencer, journal: FileJournal, snapshots: SnapshotStore,
                 every_commands: int = 0, every_seconds: float = 0.0) -> None:
        self.sequencer = sequencer
        self.journal = journal
        self.snapshots = snapshots
        self.every_commands = every_commands
        self.every_seconds = every_seconds
        self.acceptor: Any = None
        self.snapshot_seq = 0  # the journal sequence of the latest snapshot
        self.snapshot_at = time.monotonic()
        self.failed: OSError | None = None  # the commit error of the current failure burst
        self._child: int | None = None  # the forked snapshot writer
        self._child_seq = 0
        self._child_started = 0.0
        self.last_pause = 0.0  # seconds matching stopped for the last snapshot
        self.last_snapshot_seconds = 0.0  # how long the last snapshot took to write
        # called with the seconds of each commit that wrote records (the journal write
        # latency histogram of /metrics)
        self.on_commit: Any = None
        # fsync "batch": commits write, and the server syncs once per group of replies
        self.grouped = journal.fsync == "batch"
        self.group_started = 0.0  # (monotonic) when replies first waited for this group's sync

    def unsynced(self) -> bool:
        """Records appended or written but not yet synced."""
        return bool(self.journal.pending) or self.journal.unsynced

    # -- commits ---------------------------------------------------------------------------
    def commit(self) -> bool:
        """Write (and fsync per policy) what is buffered.  False: it failed, the records stay
        buffered, new commands are refused and replies must wait (logged once per burst).
        Under fsync "batch" this only writes: the server calls ``sync`` once per group of
        replies (and a failure burst ends only when a sync succeeds)."""
        return self._attempt(self._write)

    def sync(self) -> bool:
        """fsync "batch": fdatasync what ``commit`` wrote (no-op if nothing).  False: it
        failed, as for ``commit``."""
        self.group_started = 0.0
        return self._attempt(self.journal.sync)

    def _write(self) -> bool:
        journal = self.journal
        if not self.grouped:
            return journal.commit()
        wrote = journal.write()
        if self.failed is not None:
            journal.sync()
        return wrote

    def _attempt(self, step) -> bool:
        """``step()`` (True: it wrote), timed for /metrics; an ``OSError`` starts or
        continues a failure burst, a success ends one."""
        try:
            started = time.perf_counter()
            if step() and self.on_commit is not None:
                self.on_commit(time.perf_counter() - started)
        except OSError as e:
            self._failing(e)
            return False
        if self.failed is not None:
            self._recovered()
        return True

    def _failing(self, e: OSError) -> None:
        if self.failed is None:
            self.failed = e
            if not self.sequencer.in_burst:
                log.error("journal %s: cannot write: %s; replies are held and new commands "
                          "refused until it can (logged once per burst)", self.journal.directory,
                          e.strerror or e)
            self.sequencer.in_burst = True
        self.sequencer.unavailable = e.strerror or str(e)

    def _recovered(self) -> None:
        self.failed = None
        self.sequencer.unavailable = None
        self.sequencer.burst_over()

    def gate(self) -> int | None:
        """For the session stores: the last journal sequence on disk, None if the journal
        cannot be written (then neither may what it produced)."""
        # (the reply's flush has committed already: nothing to write, nothing to time)
        if (self.journal.pending or self.failed is not None) and not self.commit():
            return None
        return self.journal.next_seq - 1

    # -- snapshots -------------------------------------------------------------------------
    def snapshot_due(self) -> bool:
        if self._child is not None:
            return False
        pending = self.journal.next_seq - 1 - self.snapshot_seq
        if pending <= 0:
            return False
        if self.every_commands and pending >= self.every_commands:
            return True
        return bool(self.every_seconds) and time.monotonic() - self.snapshot_at >= self.every_seconds

    def start_snapshot(self) -> bool:
        """Write a snapshot of the gateway (books included) as of the last journal record.
        With ``os.fork`` the child writes it while matching goes on (the pause is the fork);
        else it is written here.  Returns False if one is running or it could not start."""
        if self._child is not None:
            return False
        started = time.perf_counter()
        try:
            self.journal.rotate()  # commit; later segments hold only records after the snapshot
        except OSError as e:
            log.error("snapshot skipped: journal commit failed: %s", e.strerror or e)
            return False
        if self.acceptor is not None:
            self.acceptor.flush_stores()  # the outputs of every record up to seq are on disk
        seq = self.journal.next_seq - 1
        self.snapshot_at = time.monotonic()
        fork = getattr(os, "fork", None)
        if fork is None:
            self._write_snapshot(seq)
            self.last_pause = time.perf_counter() - started
            self._snapshot_done(seq, self.last_pause)
            return True
        pid = fork()
        if pid == 0:  # the child: write and leave without running anything of the parent's
            code = 1
            try:
                self._write_snapshot(seq)
                code = 0
            finally:
                os._exit(code)
        self._child, self._child_seq = pid, seq
        self._child_started = time.perf_counter()
        self.last_pause = self._child_started - started
        return True

    def _write_snapshot(self, seq: int) -> None:
        self.snapshots.write(seq, pickle.dumps(self.sequencer.gateway, protocol=pickle.HIGHEST_PROTOCOL))

    def poll_snapshot(self, block: bool = False) -> bool | None:
        """Reap the snapshot child: None while it runs, True/False when it ended."""
        if self._child is None:
            return None
        pid, status = os.waitpid(self._child, 0 if block else os.WNOHANG)
        if pid == 0:
            return None
        self._child = None
        code = os.waitstatus_to_exitcode(status)
        if code != 0:
            log.error("snapshot %d failed (writer exit code %d); the journal is kept", self._child_seq, code)
            return False
        self._snapshot_done(self._child_seq, time.perf_counter() - self._child_started)
        return True

    def _snapshot_done(self, seq: int, seconds: float) -> None:
        self.snapshot_seq = seq
        self.last_snapshot_seconds = seconds
        oldest = self.snapshots.prune()
        if oldest is not None:
            self.journal.truncate_before(oldest + 1)
        log.info("snapshot at journal sequence %d written in %.3fs (matching paused %.1f ms)",
                 seq, seconds, self.last_pause * 1000)

    def close(self) -> None:
        self.poll_snapshot(block=True)
        try:
            self.journal.close()
        except OSError as e:
            log.error("journal %s: final write failed: %s", self.journal.directory, e.strerror or e)


def missed_end_of_day(gateway: Any, minute_of_day: int | None, last_at: float, now: float) -> float | None:
    """The end-of-day boundary (epoch seconds) that passed while the exchange was down and
    whose end of day never ran, or None.  ``last_at``: the time of the last journaled input."""
    if minute_of_day is None:
        return None
    boundary = now - now % 86400 + minute_of_day * 60
    if boundary > now:
        boundary -= 86400
    ran = getattr(gateway, "last_end_of_day", None)
    if ran is not None:
        # the live timer may fire a little early (the loop's clock is not the wall clock)
        return boundary if ran < boundary - 60 and last_at < boundary else None
    return boundary if last_at < boundary else None


def recover(sequencer: Sequencer, journal: FileJournal, snapshots: SnapshotStore, acceptor: Any,
            seed: Any, now: float, check: Any = None, end_of_day_minute: int | None = None,
            settings: dict | None = None) -> dict:
    """Make ``sequencer.gateway`` the state after the journal's last record: the newest
    snapshot that checks out, then the records after it.  Then the configuration: ``check``
    (the recovered gateway) raises if the config's ``settings`` cannot apply to it, else
    they are journaled and applied if they differ from the state's (``Gateway.configure``:
    a later replay applies every record under the configuration it first ran under).  A
    fresh journal is configured and seeded (``seed(sequencer, now)``, journaled).  Outputs
    that records produced but a crash kept from the session stores are sent again (stored;
    the client gets them by resend), and inbound numbers the stores missed are moved on.
    Returns figures for the log."""
    started = time.perf_counter()
    snapshot_seq = _load_snapshot(sequencer, snapshots)
    if journal.first_seq > snapshot_seq + 1:
        raise RecoveryError(f"journal {journal.directory} starts at record {journal.first_seq} but the newest "
                            f"usable snapshot is at {snapshot_seq}: records in between are missing")
    if snapshot_seq == 0 and journal.next_seq == 1:
        if settings is not None:
            sequencer.configure(settings, now)
        seed(sequencer, now)
        journal.commit()
        return {"snapshot": 0, "replayed": 0, "seconds": time.perf_counter() - started, "resent": 0}
    stores = _StoreCheck(acceptor, snapshot_seq)
    count, last_at, inbound = _replay(sequencer, journal, snapshot_seq, stores)
    gateway = sequencer.gateway
    if check is not None:
        check(gateway)
    if settings is not None and getattr(gateway, "config_settings", None) != settings:
        sequencer.configure(settings, now)
    gateway.flush_market_data()
    # every connection ended with the old process: journaled like any disconnect (market
    # data subscriptions end, cancel-on-disconnect applies)
    online = set(getattr(gateway, "_online", ())) | set(gateway.market_data._by_session)
    for sid in sorted(online):
        stores.owe(sequencer.on_disconnect(sid, now, "exchange restarted"))
    gateway.flush_market_data()
    _run_missed_end_of_day(sequencer, stores, end_of_day_minute, last_at, now)
    stores.move_inbound_numbers_on(inbound)
    journal.commit()
    resent = stores.store_owed(now)
    acceptor.flush_stores()
    seconds = time.perf_counter() - started
    log.info("recovered from snapshot %d + %d journal records in %.2fs", snapshot_seq, count, seconds)
    return {"snapshot": snapshot_seq, "replayed": count, "seconds": seconds, "resent": resent}


def _load_snapshot(sequencer: Sequencer, snapshots: SnapshotStore) -> int:
    """Put the newest snapshot that loads in ``sequencer.gateway``; its journal sequence,
    0 if none does (the gateway stays as built)."""
    for seq, data in snapshots.latest():
        try:
            gateway = pickle.loads(data)
        except Exception as e:  # a snapshot of another version: try the previous one
            log.warning("snapshot %d cannot be loaded (%s); trying an older one", seq, e)
            continue
        sequencer.gateway = gateway
        return seq
    return 0


class _StoreCheck:
    """The session stores against what the replayed records produced: outputs a crash kept
    from a store are owed (stored again at the end of recovery), and inbound numbers a store
    missed are moved on."""

    def __init__(self, acceptor: Any, snapshot_seq: int) -> None:
        self.acceptor = acceptor
        self.snapshot_seq = snapshot_seq
        self.owed: list[tuple[str, bytes, Any]] = []
        # per session: None (no store that marks), or (the last journal sequence the store
        # holds the outputs of, the ExecIDs it stored after that mark, the store)
        self._stores: dict[str, Any] = {}

    def _store_info(self, sid: str):
        info = self._stores.get(sid, False)
        if info is False:
            info = None
            try:
                store = self.acceptor.store_for(sid)
            except KeyError:  # (an accept-any session that has not logged on in this run)
                store = None
            if store is not None and hasattr(store, "mark"):
                have = set()
                if store.after_mark is not None:
                    for _, raw in store.iter_sent(*store.after_mark):
                        exec_id = _exec_id(raw)
                        if exec_id is not None:
                            have.add(exec_id)
                info = (max(store.mark, self.snapshot_seq), have, store)
            self._stores[sid] = info
        return info

    def note_replayed(self, seq: int, outs: list) -> None:
        """The outputs of replayed record ``seq``: owed unless its store already has them."""
        for out in outs:
            if out[3]:
                continue  # market data: not stored, never owed
            info = self._store_info(out[0])
            if info is None or seq <= info[0]:
                continue
            if out[1] == _EXECUTION_REPORT:
                exec_id = _exec_id(out[2])
                if exec_id is not None and exec_id in info[1]:
                    continue  # stored before the crash (after the store's last mark)
            self.owed.append(out)

    def owe(self, outs: list) -> None:
        """Outputs of recovery itself (no store has them); market data is never owed."""
        self.owed.extend(out for out in outs if not out[3])

    def move_inbound_numbers_on(self, inbound: dict[str, int]) -> None:
        """``inbound``: the last MsgSeqNum journaled per session."""
        for sid, last in inbound.items():
            info = self._store_info(sid)
            if info is not None and info[2].next_target_seq <= last:
                log.warning("session %s: inbound message %d was journaled but its number not stored: "
                            "next expected inbound number moved to %d", sid, last, last + 1)
                info[2].set_next_target_seq(last + 1)

    def store_owed(self, now: float) -> int:
        """Store the owed outputs (the clients get them by resend); how many there were."""
        for out in self.owed:
            try:
                self.acceptor.send(out[0], out[1], out[2], now, True)
            except KeyError:
                log.warning("recovery: a %s for unknown session %s could not be stored", out[1], out[0])
        if self.owed:
            log.warning("recovery: %d reports produced before the crash but not stored were stored now "
                        "(the clients get them by resend)", len(self.owed))
        return len(self.owed)


def _replay(sequencer: Sequencer, journal: FileJournal, snapshot_seq: int,
            stores: _StoreCheck) -> tuple[int, float, dict[str, int]]:
    """Apply the records after the snapshot.  Returns how many, the time of the last input
    (of the last record, else the snapshot's) and the last inbound MsgSeqNum per session."""
    gateway = sequencer.gateway
    inbound: dict[str, int] = {}
    last_at = [max(getattr(gateway.engine, "now", 0) / 1000, getattr(gateway, "_transact_now", None) or 0.0)]

    def on_outputs(seq: int, outs: list) -> None:
        stores.note_replayed(seq, outs)
        if gateway.market_data_pending():
            gateway.flush_market_data()

    def records():
        for seq, payload in journal.read_from(snapshot_seq + 1):
            if len(payload) >= 9:
                last_at[0] = max(last_at[0], struct.unpack_from(">d", payload, 1)[0])
            if payload[:1] == KIND_MESSAGE:
                m = _SEQ_NUM.search(payload)
                if m:
                    length = int.from_bytes(payload[9:11], "big")
                    sid = payload[11:11 + length].decode()
                    inbound[sid] = int(m.group(1))
            yield seq, payload

    try:
        count = sequencer.replay(records(), on_outputs)
    except (JournalCorrupted, ValueError, struct.error) as e:
        raise RecoveryError(f"journal {journal.directory} cannot be replayed: {e}") from None
    return count, last_at[0], inbound


def _run_missed_end_of_day(sequencer: Sequencer, stores: _StoreCheck, end_of_day_minute: int | None,
                           last_at: float, now: float) -> None:
    """Down at the end of day: yesterday's DAY orders expire now (their reports owed)."""
    boundary = missed_end_of_day(sequencer.gateway, end_of_day_minute, last_at, now)
    if boundary is None:
        return
    outs = sequencer.end_of_day(now)
    stores.owe(outs)
    sequencer.gateway.flush_market_data()
    log.warning("recovery: the end of day of %s UTC passed while the exchange was down: run now "
                "(%d DAY orders expired)", time.strftime("%Y-%m-%d %H:%M", time.gmtime(boundary)),
                sum(1 for out in outs if out[1] == _EXECUTION_REPORT and not out[3]))
