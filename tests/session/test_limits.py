"""The session layer's limits, sans-IO with a fake clock: receive_data's message bound (fair
scheduling), the logon throttle, the token bucket."""
from __future__ import annotations

from fixexchange.session.events import ApplicationMessage
from fixexchange.session.limits import LogonThrottle, LogonThrottleConfig, TokenBucket

from .helpers import T0, logged_on, message

ORDER = [(11, "o"), (55, "SYM"), (54, "1"), (60, "20260101-00:00:00"), (38, "1"), (40, "1")]


def test_max_messages_processes_a_big_read_over_several_calls_parsing_as_it_goes():
    client = logged_on()
    conn = client.connection
    data = b"".join(message(b"D", seq, T0, ORDER) for seq in range(2, 1002))  # ~150 KB
    events = conn.receive_data(data, T0, 32)
    assert len(events) == 32 and conn.backlog
    assert conn.unparsed_bytes > len(data) - 64 * 1024  # most of it not even parsed yet
    seen = [e.message.seq_num for e in events]
    while conn.backlog:
        events = conn.receive_data(b"", T0, 32)
        assert len(events) <= 32
        seen += [e.message.seq_num for e in events if isinstance(e, ApplicationMessage)]
    assert seen == list(range(2, 1002))  # all, in order, nothing lost
    # new bytes after a backlog come after it
    conn.receive_data(message(b"D", 1002, T0, ORDER)[:50], T0, 32)
    [event] = conn.receive_data(message(b"D", 1002, T0, ORDER)[50:], T0, 32)
    assert event.message.seq_num == 1002


def test_logon_throttle_backs_off_then_locks_and_forgets():
    throttle = LogonThrottle(LogonThrottleConfig(free_failures=3, base_delay=0.5, max_delay=4.0,
                                                 lockout_after=10, lockout_seconds=60.0))
    delays = [throttle.failed("10.0.0.1", "C1", T0 + i) for i in range(9)]
    assert delays == [0, 0, 0, 0.5, 1.0, 2.0, 4.0, 4.0, 4.0]
    assert throttle.locked_for("10.0.0.1", "C1", T0 + 9) == 0
    throttle.failed("10.0.0.1", "C1", T0 + 9)  # the tenth: locked
    assert throttle.locked_for("10.0.0.1", "OTHER", T0 + 10) == 59  # the address, whatever the CompID
    assert throttle.locked_for("10.0.0.2", "C2", T0 + 10) == 0
    assert throttle.locked_for("10.0.0.1", "C1", T0 + 70) == 0  # served
    # a fresh start for the address after its lock-out (C1's own count goes on: 4 s)
    assert throttle.failed("10.0.0.1", "C9", T0 + 70) == 0
    assert throttle.failed("10.0.0.3", "C1", T0 + 71) == 4.0
    throttle.succeeded("10.0.0.3", "C1")  # a correct logon clears C1's count
    assert throttle.failed("10.0.0.3", "C1", T0 + 72) == 0
    assert throttle.lockouts == 1 and throttle.failures == 13


def test_logon_throttle_memory_is_bounded():
    throttle = LogonThrottle(LogonThrottleConfig(max_entries=100))
    for i in range(1000):
        throttle.failed(f"10.0.{i // 250}.{i % 250}", f"C{i}", T0 + i)
    assert throttle.entries <= 100


def test_token_bucket_refills_at_its_rate_up_to_its_burst():
    bucket = TokenBucket(rate=10, burst=5, now=T0)
    assert [bucket.take(T0) for _ in range(6)] == [True] * 5 + [False]
    assert bucket.take(T0 + 0.11) and not bucket.take(T0 + 0.11)
    assert sum(bucket.take(T0 + 100) for _ in range(10)) == 5
