"""Trading status of symbols: halts, SecurityStatusRequest (e) / SecurityStatus (f).

Sans-IO and deterministic like the rest of the gateway: ``halt``/``resume`` are inputs with
their time, the answers are ``Outbound`` messages.

SecurityTradingStatus(326) values used (FIX 4.4): 2 = Trading halt, 17 = Ready to trade.
A SecurityStatus carries SecurityStatusReqID(324) of the subscription it answers,
UnsolicitedIndicator(325) N for the answer to a request and Y for a later change, the
Symbol, 326, TransactTime and, while halted, the operator's reason in Text(58).
"""

from __future__ import annotations

from fixexchange.codec.tags import (
    MsgTypes,
    SecurityStatusReqID,
    SecurityTradingStatus,
    SecurityTradingStatuses,
    Symbol,
    Text,
    TransactTime,
    UnsolicitedIndicator,
)
from .outbound import Outbound

TRADING_HALT = SecurityTradingStatuses.TRADING_HALT
READY_TO_TRADE = SecurityTradingStatuses.READY_TO_TRADE
# subscriptions one session may hold (bounded memory: one per symbol is the sensible use)
MAX_STATUS_SUBSCRIPTIONS = 1000


class TradingStatus:
    """Which symbols are halted (and why), and who subscribed to their status."""

    __slots__ = ("halted", "_subscriptions")

    def __init__(self) -> None:
        self.halted: dict[str, str] = {}  # symbol -> reason text
        # session id -> SecurityStatusReqID -> symbol
        self._subscriptions: dict[str, dict[bytes, str]] = {}

    def status_field(self, symbol: str) -> bytes:
        return TRADING_HALT if symbol in self.halted else READY_TO_TRADE

    def message(self, session_id: str, req_id: bytes | None, symbol: str, unsolicited: bool,
                transact_time: bytes) -> Outbound:
        body: list = []
        if req_id is not None:
            body.append((SecurityStatusReqID, req_id))
        body += [(Symbol, symbol), (UnsolicitedIndicator, b"Y" if unsolicited else b"N"),
                 (SecurityTradingStatus, self.status_field(symbol)), (TransactTime, transact_time)]
        reason = self.halted.get(symbol)
        if reason:
            body.append((Text, reason))
        return Outbound(session_id, MsgTypes.SECURITY_STATUS, body)

    # -- subscriptions ------------------------------------------------------------------
    def subscribed(self, session_id: str, req_id: bytes) -> bool:
        return req_id in self._subscriptions.get(session_id, ())

    def subscribe(self, session_id: str, req_id: bytes, symbol: str) -> bool:
        """False when the session already holds MAX_STATUS_SUBSCRIPTIONS."""
        subs = self._subscriptions.setdefault(session_id, {})
        if len(subs) >= MAX_STATUS_SUBSCRIPTIONS:
            return False
        subs[req_id] = symbol
        return True

    def unsubscribe(self, session_id: str, req_id: bytes) -> bool:
        subs = self._subscriptions.get(session_id)
        if subs is None or req_id not in subs:
            return False
        del subs[req_id]
        if not subs:
            del self._subscriptions[session_id]
        return True

    def drop_session(self, session_id: str) -> None:
        """Subscriptions end with the connection (as market data's do)."""
        self._subscriptions.pop(session_id, None)

    # -- changes -----------------------------------------------------------------------
    def set(self, symbol: str, halted: bool, reason: str, transact_time: bytes) -> list[Outbound]:
        """Halt or resume ``symbol``; the SecurityStatus for every subscriber of it (none if
        nothing changed)."""
        if halted == (symbol in self.halted):
            return []
        if halted:
            self.halted[symbol] = reason
        else:
            del self.halted[symbol]
        return [self.message(session_id, req_id, symbol, True, transact_time)
                for session_id, subs in self._subscriptions.items()
                for req_id, subscribed_symbol in subs.items() if subscribed_symbol == symbol]
