"""Latency mode's poll window, adapted to the gaps between a client's requests.

After a read of a few application messages the loop keeps turning with zero-timeout polls
instead of sleeping in ``epoll_wait``, so the next request finds the process awake (waking a
sleeping thread, a vCPU on a VM, costs tens of microseconds per round trip).  A poll is worth
its CPU only if the next request comes while it lasts, so the window adapts as KVM's halt
polling adapts ``halt_poll_ns``: it grows (doubling from ``GROW_FROM``) while the gaps
between requests are longer than the window but within the limit (a longer poll would have
caught them), and halves, down to zero, after each gap beyond the limit (a poll would only
have burnt CPU).  A client with one order in flight keeps a window just above its think
time; a bot sending an order every few milliseconds, or the daemon idle, costs no polling.

Pure: times are passed in (seconds of one monotonic clock).
"""
from __future__ import annotations

GROW_FROM = 25e-6  # seconds: the first window after a gap within the limit


class PollWindow:
    __slots__ = ("limit", "window", "_started")

    def __init__(self, limit: float) -> None:
        self.limit = limit  # seconds; the configured server.busy_poll_us
        self.window = 0.0
        self._started: float | None = None  # when the last poll began

    def after_read(self, arrived: float, now: float) -> float:
        """A read that arrived at ``arrived`` has been answered at ``now``: adapt to the gap
        since the last poll began, start the next one at ``now``; returns its length."""
        started = self._started
        if started is not None:
            gap = arrived - started
            window = self.window
            if gap > self.limit:
                self.window = window / 2 if window > GROW_FROM else 0.0
            elif gap > window:
                self.window = min(self.limit, max(window * 2, GROW_FROM))
        self._started = now
        return self.window
