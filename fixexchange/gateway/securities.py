"""SecurityListRequest (x) and SecurityStatusRequest (e).
"""

from __future__ import annotations

from fixexchange.codec import FixMessage
from fixexchange.codec.tags import (
    LastFragment,
    MinPriceIncrement,
    MinTradeVol,
    MsgTypes,
    NoRelatedSym,
    RoundLot,
    SecurityListRequestType,
    SecurityListRequestTypes,
    SecurityReqID,
    SecurityRequestResult,
    SecurityRequestResults,
    SecurityResponseID,
    SecurityStatusReqID,
    SubscriptionRequestType,
    SubscriptionRequestTypes,
    Symbol,
    Text,
    TotNoRelatedSym,
)

from .common import BUSINESS_REJECT_OTHER, BUSINESS_REJECT_UNKNOWN_SECURITY
from .outbound import Outbound

class SecurityRequests:
    """Part of ``Gateway`` (a mixin: the methods use its state)."""

    __slots__ = ()  # (Gateway's instances have slots only: see Gateway.__slots__)

    # ---------------------------------------------------------------- x: SecurityListRequest

    def _security_list_request(self, session_id: str, message: FixMessage, now: float, out: list) -> None:
        req_id = self._require(message, SecurityReqID)
        request_type = self._require(message, SecurityListRequestType)
        if request_type == SecurityListRequestTypes.ALL_SECURITIES:
            infos = list(self._symbols.values())
        elif request_type == SecurityListRequestTypes.SYMBOL:
            symbol = self._require(message, Symbol, "Symbol is required for SecurityListRequestType=0")
            info = self._symbols_by_bytes.get(symbol)
            infos = [info] if info is not None else []
        else:
            infos = None
        body: list = [(SecurityReqID, req_id), (SecurityResponseID, self._next_exec_id())]
        # FIX 4.4 SecurityList has no Text outside its entries: SecurityRequestResult says it all
        if infos is None:
            # (SecurityListRequestType 0 and 4 only)
            body.append((SecurityRequestResult, SecurityRequestResults.INVALID_OR_UNSUPPORTED_REQUEST))
        elif not infos:
            body.append((SecurityRequestResult, SecurityRequestResults.NO_INSTRUMENTS_FOUND))
        else:
            body += ((SecurityRequestResult, SecurityRequestResults.VALID_REQUEST), (TotNoRelatedSym, len(infos)),
                     (LastFragment, b"Y"), (NoRelatedSym, len(infos)))
            min_price_increment = "min_price_increment" in self.extensions_of(session_id)
            for info in infos:
                spec = info.spec
                tick = info.fmt.format(spec.tick)
                body += (info.symbol_field, (RoundLot, b"%d" % spec.lot), (MinTradeVol, b"%d" % spec.min_qty))
                if min_price_increment:
                    body.append((MinPriceIncrement, tick))
                body.append((Text, b"MinPriceIncrement=%s TradingStatus=%s"
                              % (tick, b"halted" if info.name in self._halted else b"open")))
        out.append(Outbound(session_id, MsgTypes.SECURITY_LIST, body))


    # ---------------------------------------------------------------- e: SecurityStatusRequest

    def _security_status_request(self, session_id: str, message: FixMessage, now: float, out: list) -> None:
        req_id = self._require(message, SecurityStatusReqID)
        request_type = self._require(message, SubscriptionRequestType)
        status = self.trading_status
        if request_type == SubscriptionRequestTypes.UNSUBSCRIBE:
            if not status.unsubscribe(session_id, req_id):
                out.append(self._business_reject(session_id, message, BUSINESS_REJECT_OTHER,
                                                 "unknown SecurityStatusReqID"))
            return
        if request_type not in (SubscriptionRequestTypes.SNAPSHOT, SubscriptionRequestTypes.SNAPSHOT_PLUS_UPDATES):
            out.append(self._business_reject(session_id, message, BUSINESS_REJECT_OTHER,
                                             "SubscriptionRequestType must be 0, 1 or 2"))
            return
        symbol = self._require(message, Symbol)
        info = self._symbols_by_bytes.get(symbol)
        if info is None:
            out.append(self._business_reject(session_id, message, BUSINESS_REJECT_UNKNOWN_SECURITY,
                                             b"unknown symbol " + symbol))
            return
        if request_type == SubscriptionRequestTypes.SNAPSHOT_PLUS_UPDATES:
            if status.subscribed(session_id, req_id):
                out.append(self._business_reject(session_id, message, BUSINESS_REJECT_OTHER,
                                                 "duplicate SecurityStatusReqID"))
                return
            if not status.subscribe(session_id, req_id, info.name):
                out.append(self._business_reject(session_id, message, BUSINESS_REJECT_OTHER,
                                                 "too many SecurityStatus subscriptions"))
                return
        out.append(status.message(session_id, req_id, info.name, False, self._transact_time))
