"""Events the session layer reports to the server (frozen, comparable, loggable).

Per connection: at most one `LoggedOn`; `LoggedOut` when a logged-on session ends with
a Logout (sent or received); `Disconnected` exactly once, always last. Its `session_id`
is None unless that connection had logged on, so refusing a duplicate Logon never looks
like the established session going away.
"""

from __future__ import annotations

from dataclasses import dataclass

from ..codec import FixMessage


@dataclass(frozen=True, slots=True)
class LoggedOn:
    """``cancel_on_disconnect``: the Logon's CancelOnDisconnect(9001), Y -> True, N ->
    False, absent -> None (the session's configuration decides)."""

    session_id: str
    cancel_on_disconnect: bool | None = None


@dataclass(frozen=True, slots=True)
class ApplicationMessage:
    session_id: str
    message: FixMessage


@dataclass(frozen=True, slots=True)
class LoggedOut:
    session_id: str
    reason: str


@dataclass(frozen=True, slots=True)
class Disconnected:
    session_id: str | None
    reason: str


@dataclass(frozen=True, slots=True)
class SessionRejected:
    """We sent a session-level Reject(3) for inbound message `ref_seq_num`."""

    session_id: str
    ref_seq_num: int
    reason: int
    text: str


@dataclass(frozen=True, slots=True)
class LogonRefused:
    """A Logon was refused (a ``Disconnected(None, ...)`` follows).  ``reason`` is for the
    log (it says whether the CompID exists); ``text`` is what the client's Logout says.
    ``failed`` is True for a failed credential check (counted by the logon throttle), and
    ``delay`` the seconds the server holds the answer (the throttle's back-off)."""

    comp_id: str
    source: str | None
    reason: str
    text: str
    failed: bool
    delay: float


@dataclass(frozen=True, slots=True)
class ThrottledMessage:
    """An application message over a session's rate limit: its number is consumed, it is not
    executed; the gateway answers it with a reject carrying ``text``."""

    session_id: str
    message: FixMessage
    text: str


@dataclass(frozen=True, slots=True)
class GarbledMessage:
    """Inbound bytes dropped for bad framing; no sequence number consumed."""

    reason: str


Event = (LoggedOn | ApplicationMessage | LoggedOut | Disconnected | SessionRejected | GarbledMessage
         | LogonRefused | ThrottledMessage)
