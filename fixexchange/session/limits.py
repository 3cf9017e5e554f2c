"""Pure rate limits of the session layer (time is passed in): the logon throttle and the
token bucket behind the per-session message throttles.  See README "Security and limits"."""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["LogonThrottle", "LogonThrottleConfig", "TokenBucket"]


@dataclass(frozen=True, slots=True)
class LogonThrottleConfig:
    """Failed logons per source address and per CompID.

    The first ``free_failures`` failures are answered at once (a person mistyping a
    password); each further one waits ``base_delay`` doubled per failure, at most
    ``max_delay``, before its Logout.  ``lockout_after`` failures from one address (or
    ``lockout_after_comp_id`` for one CompID) lock it for ``lockout_seconds``: every Logon
    is refused without looking at its password.  Failures older than ``forget_after``
    seconds are forgotten."""

    free_failures: int = 3
    base_delay: float = 0.5
    max_delay: float = 4.0
    lockout_after: int = 10
    lockout_after_comp_id: int = 20
    lockout_seconds: float = 60.0
    forget_after: float = 600.0
    max_entries: int = 100_000  # addresses + CompIDs remembered (bounded memory)


class _Record:
    __slots__ = ("failures", "last_failure", "locked_until")

    def __init__(self) -> None:
        self.failures = 0
        self.last_failure = 0.0
        self.locked_until = 0.0


class LogonThrottle:
    """Counts failed logons by source address and by CompID (separate keys, so a guesser
    spreading over CompIDs is caught by its address, and one spreading over addresses by
    the CompID)."""

    def __init__(self, config: LogonThrottleConfig | None = None) -> None:
        self.config = config or LogonThrottleConfig()
        self._records: dict[tuple[str, str], _Record] = {}
        self.failures = 0  # counters for the log summary and metrics
        self.lockouts = 0

    @property
    def entries(self) -> int:
        """(address or CompID) entries remembered: at most config.max_entries."""
        return len(self._records)

    def locked_for(self, source: str | None, comp_id: str, now: float) -> float:
        """Seconds the address or the CompID stays locked (0.0: not locked)."""
        left = 0.0
        for key in self._keys(source, comp_id):
            record = self._records.get(key)
            if record is not None and record.locked_until > now:
                left = max(left, record.locked_until - now)
        return left

    def failed(self, source: str | None, comp_id: str, now: float) -> float:
        """Record a failed logon; returns the seconds to wait before answering it."""
        c = self.config
        self.failures += 1
        delay = 0.0
        for key in self._keys(source, comp_id):
            record = self._record(key, now)
            if now - record.last_failure > c.forget_after or 0.0 < record.locked_until <= now:
                record.failures = 0  # forgotten, or a lock-out served: a fresh start
                record.locked_until = 0.0
            record.failures += 1
            record.last_failure = now
            over = record.failures - c.free_failures
            if over > 0:
                delay = max(delay, min(c.max_delay, c.base_delay * 2 ** min(over - 1, 30)))
            limit = c.lockout_after if key[0] == "addr" else c.lockout_after_comp_id
            if record.failures >= limit and record.locked_until <= now:
                record.locked_until = now + c.lockout_seconds
                self.lockouts += 1
        return delay

    def succeeded(self, source: str | None, comp_id: str) -> None:
        """A correct logon clears its CompID's and its address's failures."""
        for key in self._keys(source, comp_id):
            self._records.pop(key, None)  # (never locked: a locked key is refused unchecked)

    @staticmethod
    def _keys(source: str | None, comp_id: str) -> tuple[tuple[str, str], ...]:
        if source is None:
            return (("comp", comp_id),)
        return (("addr", source), ("comp", comp_id))

    def _record(self, key: tuple[str, str], now: float) -> _Record:
        record = self._records.get(key)
        if record is None:
            if len(self._records) >= self.config.max_entries:
                self._prune(now)
            record = self._records[key] = _Record()
        return record

    def _prune(self, now: float) -> None:
        """Forget unlocked records with no recent failure; if that frees nothing, the oldest
        half (an attacker cycling addresses must not grow memory)."""
        c = self.config
        records = self._records
        stale = [k for k, r in records.items()
                 if r.locked_until <= now and now - r.last_failure > c.forget_after]
        if not stale:
            stale = sorted(records, key=lambda k: records[k].last_failure)[:len(records) // 2]
        for k in stale:
            del records[k]


class TokenBucket:
    """``rate`` tokens a second, at most ``burst`` saved up; ``take(now)`` spends one."""

    __slots__ = ("rate", "burst", "tokens", "last")

    def __init__(self, rate: float, burst: float, now: float = 0.0) -> None:
        self.rate = rate
        self.burst = burst
        self.tokens = burst
        self.last = now

    def take(self, now: float) -> bool:
        tokens = self.tokens + (now - self.last) * self.rate
        self.last = now
        if tokens > self.burst:
            tokens = self.burst
        if tokens >= 1.0:
            self.tokens = tokens - 1.0
            return True
        self.tokens = tokens
        return False
