"""MarketDataRequest (V): validation and subscriptions (the market-data model is
``marketdata.py``).
"""

from __future__ import annotations

from fixexchange.codec import FixMessage
from fixexchange.codec.tags import (
    AggregatedBook,
    MarketDepth,
    MDEntryType,
    MDReqID,
    MDReqRejReason,
    MDUpdateType,
    MDUpdateTypes,
    MsgTypes,
    SubscriptionRequestType,
    SubscriptionRequestTypes,
    Symbol,
    Text,
)

from .common import (
    _MissingField,
    MD_REJ_DUPLICATE_ID,
    MD_REJ_INSUFFICIENT_BANDWIDTH,
    MD_REJ_UNKNOWN_SYMBOL,
    MD_REJ_UNSUPPORTED_AGGREGATION,
    MD_REJ_UNSUPPORTED_DEPTH,
    MD_REJ_UNSUPPORTED_ENTRY_TYPE,
    MD_REJ_UNSUPPORTED_SUBSCRIPTION_TYPE,
    MD_REJ_UNSUPPORTED_UPDATE_TYPE,
)
from .marketdata import ALL_ENTRY_TYPES, ENTRY_TYPE_CODES, Subscription
from .outbound import Outbound
from .reject_text import unknown_symbol_text

class MarketDataRequests:
    """Part of ``Gateway`` (a mixin: the methods use its state)."""

    __slots__ = ()  # (Gateway's instances have slots only: see Gateway.__slots__)

    # ---------------------------------------------------------------- V: MarketDataRequest

    def _market_data_request(self, session_id: str, message: FixMessage, now: float, out: list) -> None:
        md_req_id = self._require(message, MDReqID)
        subscription_type = self._require(message, SubscriptionRequestType)

        def refuse(reason: bytes | None, text: str | bytes) -> None:
            body = [(MDReqID, md_req_id)]
            if reason is not None:
                body.append((MDReqRejReason, reason))
            body.append((Text, text))
            out.append(Outbound(session_id, MsgTypes.MARKET_DATA_REQUEST_REJECT, body, True))

        if subscription_type == SubscriptionRequestTypes.UNSUBSCRIBE:
            if not self.market_data.unsubscribe(session_id, md_req_id):
                # No MDReqRejReason fits "unknown MDReqID": the field is optional, Text says it.
                refuse(None, "unknown MDReqID")
            return
        if subscription_type not in (SubscriptionRequestTypes.SNAPSHOT, SubscriptionRequestTypes.SNAPSHOT_PLUS_UPDATES):
            return refuse(MD_REJ_UNSUPPORTED_SUBSCRIPTION_TYPE, "SubscriptionRequestType must be 0, 1 or 2")
        depth_text = self._require(message, MarketDepth)
        if not depth_text.isdigit() or len(depth_text) > 18:  # (int() refuses 4300+ digits)
            return refuse(MD_REJ_UNSUPPORTED_DEPTH, "MarketDepth must be 0 (full book) or N")
        depth = int(depth_text)
        # MDUpdateType is required for subscriptions; a missing one means incremental (lenient).
        update_type = message.get(MDUpdateType, MDUpdateTypes.INCREMENTAL_REFRESH)
        if update_type not in (MDUpdateTypes.FULL_REFRESH, MDUpdateTypes.INCREMENTAL_REFRESH):
            return refuse(MD_REJ_UNSUPPORTED_UPDATE_TYPE, "MDUpdateType must be 0 (full) or 1 (incremental)")
        if message.get(AggregatedBook, b"Y") != b"Y":
            return refuse(MD_REJ_UNSUPPORTED_AGGREGATION, "only aggregated books (AggregatedBook=Y)")
        entry_types = []
        symbols = []
        for tag, value in message.fields:
            if tag == MDEntryType:
                code = ENTRY_TYPE_CODES.get(value)
                if code is None:
                    return refuse(MD_REJ_UNSUPPORTED_ENTRY_TYPE,
                                  b"unsupported MDEntryType %s (0, 1, 2 only)" % value)
                entry_types.append(code)
            elif tag == Symbol:
                info = self._symbols_by_bytes.get(value)
                if info is None:
                    return refuse(MD_REJ_UNKNOWN_SYMBOL,
                                  unknown_symbol_text(value, list(self._symbols)).encode("latin-1"))
                if info.name not in symbols:
                    symbols.append(info.name)
        if not entry_types:
            raise _MissingField(MDEntryType, "NoMDEntryTypes group with at least one MDEntryType")
        if not symbols:
            raise _MissingField(Symbol, "NoRelatedSym group with at least one Symbol")
        wanted = frozenset(entry_types)
        if wanted == ALL_ENTRY_TYPES:
            wanted = ALL_ENTRY_TYPES
        if subscription_type == SubscriptionRequestTypes.SNAPSHOT:
            out.extend(self.market_data.snapshot(session_id, md_req_id, tuple(symbols), depth, wanted,
                                                 "aggressor_side" in self.extensions_of(session_id)))
            return
        if self.market_data.subscription(session_id, md_req_id) is not None:
            return refuse(MD_REJ_DUPLICATE_ID, "duplicate MDReqID")
        limit = self.market_data_subscription_limits.get(session_id, self.default_market_data_subscription_limit)
        if self.market_data.subscription_count(session_id) >= limit:
            return refuse(MD_REJ_INSUFFICIENT_BANDWIDTH,
                          f"more than {limit} market-data subscriptions on this session "
                          "(limit max_market_data_subscriptions): unsubscribe one first")
        out.extend(self.market_data.subscribe(
            Subscription(session_id, md_req_id, tuple(symbols), depth, wanted,
                         update_type == MDUpdateTypes.INCREMENTAL_REFRESH,
                         "aggressor_side" in self.extensions_of(session_id))))
