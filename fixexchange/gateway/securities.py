"""SecurityListRequest (x) and SecurityStatusRequest (e).
"""

from __future__ import annotations

from fixexchange.codec import FixMessage

from .common import BUSINESS_REJECT_OTHER, BUSINESS_REJECT_UNKNOWN_SECURITY
from .outbound import Outbound

class SecurityRequests:
    """Part of ``Gateway`` (a mixin: the methods use its state)."""

    # ---------------------------------------------------------------- x: SecurityListRequest

    def _security_list_request(self, session_id: str, message: FixMessage, now: float, out: list) -> None:
        req_id = self._require(message, 320)
        request_type = self._require(message, 559)
        if request_type == b"4":
            infos = list(self._symbols.values())
        elif request_type == b"0":
            symbol = self._require(message, 55, "Symbol is required for SecurityListRequestType=0")
            info = self._symbols_by_bytes.get(symbol)
            infos = [info] if info is not None else []
        else:
            infos = None
        body: list = [(320, req_id), (322, self._next_exec_id())]
        # FIX 4.4 SecurityList has no Text outside its entries: SecurityRequestResult says it all
        if infos is None:
            body.append((560, b"1"))  # invalid or unsupported request (types 0 and 4 only)
        elif not infos:
            body.append((560, b"2"))  # no instruments found
        else:
            body += ((560, b"0"), (393, len(infos)), (893, b"Y"), (146, len(infos)))
            min_price_increment = "min_price_increment" in self._extensions_of(session_id)
            for info in infos:
                spec = info.spec
                tick = info.fmt(spec.tick)
                body += (info.symbol_field, (561, b"%d" % spec.lot), (562, b"%d" % spec.min_qty))
                if min_price_increment:
                    body.append((969, tick))
                body.append((58, b"MinPriceIncrement=%s TradingStatus=%s"
                              % (tick, b"halted" if info.name in self._halted else b"open")))
        out.append(Outbound(session_id, b"y", body))


    # ---------------------------------------------------------------- e: SecurityStatusRequest

    def _security_status_request(self, session_id: str, message: FixMessage, now: float, out: list) -> None:
        req_id = self._require(message, 324)
        request_type = self._require(message, 263)
        status = self.trading_status
        if request_type == b"2":
            if not status.unsubscribe(session_id, req_id):
                out.append(self._business_reject(session_id, message, BUSINESS_REJECT_OTHER,
                                                 "unknown SecurityStatusReqID"))
            return
        if request_type not in (b"0", b"1"):
            out.append(self._business_reject(session_id, message, BUSINESS_REJECT_OTHER,
                                             "SubscriptionRequestType must be 0, 1 or 2"))
            return
        symbol = self._require(message, 55)
        info = self._symbols_by_bytes.get(symbol)
        if info is None:
            out.append(self._business_reject(session_id, message, BUSINESS_REJECT_UNKNOWN_SECURITY,
                                             b"unknown symbol " + symbol))
            return
        if request_type == b"1":
            if status.subscribed(session_id, req_id):
                out.append(self._business_reject(session_id, message, BUSINESS_REJECT_OTHER,
                                                 "duplicate SecurityStatusReqID"))
                return
            if not status.subscribe(session_id, req_id, info.name):
                out.append(self._business_reject(session_id, message, BUSINESS_REJECT_OTHER,
                                                 "too many SecurityStatus subscriptions"))
                return
        out.append(status.message(session_id, req_id, info.name, False, self._transact_time))
