"""Outbound builders (ExecutionReport, OrderCancelReject, BusinessMessageReject) and engine
events -> FIX (``_route``).
"""

from __future__ import annotations

from fixexchange.codec import FixMessage
from fixexchange.codec.encoder import encoded_field, fields_format
from fixexchange.codec.tags import (
    AvgPx,
    BusinessRejectReason,
    BusinessRejectRefID,
    ClOrdID,
    CumQty,
    CxlRejReason,
    ExecID,
    ExecRestatementReason,
    ExecRestatementReasons,
    LastPx,
    LastQty,
    LeavesQty,
    MDReqID,
    MsgTypes,
    OrderID,
    OrdRejReason,
    OrdStatusReqID,
    OrigClOrdID,
    RefMsgType,
    RefSeqNum,
    SecurityReqID,
    SecurityStatusReqID,
    Side,
    Symbol,
    Text,
    TransactTime,
)
from fixexchange.engine import (
    Accepted,
    Cancelled,
    Expired,
    LevelChanged,
    MassCancelDone,
    OrderState,
    Rejected,
    RejectReason,
    Replaced,
    Restated,
    Trade,
    Triggered,
)

from .common import (
    _ADDED_LIQUIDITY,
    _CANCEL_TEXT_FIELD,
    _CANCELED_TEXT_FIELD,
    _CXL_REJ_FOR_ENGINE,
    _ECHOED_ON_REJECT,
    _ENCODED,
    _EXEC_CANCELED,
    _EXEC_EXPIRED,
    _EXEC_NEW,
    _EXEC_REJECTED,
    _EXEC_REPLACED,
    _EXEC_RESTATED,
    _EXEC_STATUS,
    _EXEC_TRADE,
    _EXEC_TRIGGERED,
    _new_tuple,
    _ORD_REJ_FOR_ENGINE,
    _Order,
    _REMOVED_LIQUIDITY,
    _Request,
    _RESPONSE_TO_CANCEL,
    _RESPONSE_TO_REPLACE,
    _STATUS_CANCELED,
    _STATUS_EXPIRED,
    _STATUS_FIELD,
    _STATUS_FILLED,
    _STATUS_NEW,
    _STATUS_PARTIAL,
    _STATUS_REJECTED,
    _STOP_TRIGGERED_FIELDS,
    _ZERO,
    CXL_REJ_OTHER,
    MASS_CANCEL_REJECT_OTHER,
    ORD_REJ_OTHER,
)
from .outbound import Outbound
from .reject_text import reject_text
from .units import format_avg_px


# The encoded bodies of ExecutionReports and OrderCancelRejects (see Reports._report): the
# formats are made and checked against the dictionary here, at import.
_REPORT_FORMAT = fields_format(b"%s", OrderID, ClOrdID, b"%s", (ExecID, b"%s%d"), b"%s%s%s%s", (LeavesQty, b"%d"),
                               (CumQty, b"%d"), AvgPx, TransactTime, b"%s")
_ORIG_CL_ORD_ID_FORMAT = fields_format(OrigClOrdID)
_FILL_FORMAT = fields_format((LastQty, b"%d"), LastPx, b"%s")
_CANCEL_REJECT_FORMAT = fields_format(b"%s", OrderID, ClOrdID, OrigClOrdID, b"%s%s", (CxlRejReason, b"%d"),
                                      TransactTime, Text)
_STATUS_REQ_ID_FORMAT = fields_format(OrdStatusReqID)
EXECUTION_REPORT = MsgTypes.EXECUTION_REPORT
ORDER_CANCEL_REJECT = MsgTypes.ORDER_CANCEL_REJECT
_STP_RESTATED_FORMAT = (encoded_field(ExecRestatementReason, ExecRestatementReasons.OTHER)
                        + fields_format((Text, b"self-trade prevention: OrderQty decremented by %d")))


def _resync_quantities(order, qty: int, cum_qty: int) -> None:
    """An order's OrderQty/CumQty from a final engine event: the engine's ``qty`` still
    counts what self-trade prevention removed (FIX wants OrderQty = CumQty + LeavesQty)."""
    if order.qty != qty - order.stp_decremented:
        order.qty = qty - order.stp_decremented
        order.static = None  # the cached report fields carry OrderQty
    order.cum_qty = cum_qty


class Reports:
    """Part of ``Gateway`` (a mixin: the methods use its state)."""

    __slots__ = ()  # (Gateway's instances have slots only: see Gateway.__slots__)

    # ---------------------------------------------------------------- outbound builders

    def _report(self, order: _Order, exec_type, status, cl_ord_id: bytes, orig_cl_ord_id: bytes | None,
                last: bytes = b"", extra: bytes = b"") -> Outbound:
        """An order's ExecutionReport, its body encoded here in one format (the session puts
        it in as it is): [the order's DeliverTo*], 37, 11, [41], 17, 150, 39, its static fields, ``last``
        (LastQty/LastPx), 151, 14, 6, 60, ``extra``; ``last`` and ``extra`` are encoded
        fields too.  Every value is ours or a field the parser split at SOH: none holds one."""
        self._exec_seq = exec_seq = self._exec_seq + 1
        counts = self.report_counts
        counts[exec_type[1]] = counts.get(exec_type[1], 0) + 1
        body = _REPORT_FORMAT % (
            order.deliver_to, order.order_id_text, cl_ord_id,
            b"" if orig_cl_ord_id is None else _ORIG_CL_ORD_ID_FORMAT % orig_cl_ord_id,
            self._exec_id_prefix, exec_seq, _ENCODED[exec_type], _ENCODED[status],
            order.static or order.static_fields(), last, order.leaves, order.cum_qty, order.avg_px,
            self._transact_time, extra)
        return _new_tuple(Outbound, (order.session_id, EXECUTION_REPORT, body, False))

    def _order_reject(self, session_id: str, message: FixMessage, cl_ord_id: bytes, reason: int,
                      text: str | bytes) -> Outbound:
        """ER ExecType=8 for an order that never reached the book."""
        self._count_reject("order", reason, EXECUTION_REPORT)
        body = [(OrderID, b"NONE"), (ClOrdID, cl_ord_id), (ExecID, self._next_exec_id()), _EXEC_REJECTED,
                _STATUS_REJECTED,
                (Symbol, message.get(Symbol) or b"?"), (Side, message.get(Side) or b"?")]
        # echo the order's fields only when they are valid FIX values (a garbled echo would
        # get this reject rejected by the client's session layer)
        for tag, is_valid in _ECHOED_ON_REJECT:
            value = message.get(tag)
            if value is not None and is_valid(value):
                body.append((tag, value))
        body += ((LeavesQty, _ZERO), (CumQty, _ZERO), (AvgPx, _ZERO), (TransactTime, self._transact_time),
                 (OrdRejReason, b"%d" % reason), (Text, text))
        return Outbound(session_id, EXECUTION_REPORT, body)

    def _cancel_reject(self, session_id: str, order: _Order | None, cl_ord_id: bytes, orig_cl_ord_id: bytes | None,
                       response_to, reason: int, text: str | bytes) -> Outbound:
        self._count_reject("cancel", reason)
        if order is None:
            order_id, status = b"NONE", _STATUS_REJECTED
        else:
            order_id = order.order_id_text
            if order.final:
                status = order.final_status
            else:
                status = order.live_status()
        if orig_cl_ord_id is None:
            orig_cl_ord_id = order.cl_ord_id if order is not None else b"NONE"
        # encoded here, as _report's bodies are (a "too late to cancel" is a common answer)
        body = _CANCEL_REJECT_FORMAT % (
            self._deliver_to, order_id, cl_ord_id, orig_cl_ord_id, _ENCODED[status], _ENCODED[response_to], reason,
            self._transact_time, text if type(text) is bytes else text.encode("latin-1"))
        return _new_tuple(Outbound, (session_id, ORDER_CANCEL_REJECT, body, False))

    def _business_reject(self, session_id: str, message: FixMessage, reason: int, text: str | bytes) -> Outbound:
        self._count_reject("business", reason)
        body = [(RefSeqNum, message.seq_num or 0), (RefMsgType, message.msg_type)]
        ref_id = (message.get(ClOrdID) or message.get(MDReqID) or message.get(SecurityReqID)
                  or message.get(SecurityStatusReqID))
        if ref_id is not None:
            body.append((BusinessRejectRefID, ref_id))
        body += ((BusinessRejectReason, b"%d" % reason), (Text, text))
        return Outbound(session_id, MsgTypes.BUSINESS_MESSAGE_REJECT, body)


    # ---------------------------------------------------------------- engine events -> FIX

    def _route(self, events: list, request: _Request, out: list) -> None:
        """Engine events (``Engine.execute``'s flat tuples) -> ERs / market data.  A hot
        path: LevelChanged, Trade and Accepted (most events) are handled here, the rest by
        one method each (_EVENT_HANDLERS)."""
        orders = self._orders
        market_data = self.market_data
        watched = market_data.watched
        request_kind, _, request_cl_ord_id, request_order, _ = request
        for event in events:
            kind = event[0]
            if kind is LevelChanged:
                if event[1] in watched:  # (no depth bookkeeping for a symbol nobody watches)
                    _, symbol, side, price, qty, live_orders = event
                    market_data.level_changed(symbol, side, price, qty, live_orders)
            elif kind is Trade:
                (_, symbol, _, price, qty, _, taker_id, _, taker_cum, taker_leaves, taker_notional,
                 maker_id, _, maker_cum, maker_leaves, maker_notional) = event
                # the taker's ER, the maker's ER (each only for an order entered through
                # FIX, not seeded liquidity), then the trade print
                order = orders.get(taker_id)
                if order is not None:
                    out.append(self._fill(order, price, qty, taker_cum, taker_leaves, taker_notional,
                                          _REMOVED_LIQUIDITY))
                order = orders.get(maker_id)
                if order is not None:
                    out.append(self._fill(order, price, qty, maker_cum, maker_leaves, maker_notional,
                                          _ADDED_LIQUIDITY))
                market_data.trade_printed(symbol, price, qty, self._transact_time, event[5])
                counts = self.trade_counts.get(symbol)
                if counts is None:
                    counts = self.trade_counts[symbol] = [0, 0]
                counts[0] += 1
                counts[1] += qty
            elif kind is Accepted:
                order = request_order
                if order is None or request_kind != "new":
                    continue
                order_id = event[1]
                order.order_id = order_id
                order.order_id_text = self._order_id_prefix + b"%d" % order_id
                orders[order_id] = order
                self._sessions[order.session_id].by_cl_ord_id[order.cl_ord_id] = order
                out.append(self._report(order, _EXEC_NEW, _STATUS_NEW, order.cl_ord_id, None))
            else:  # the rarer events: one method each (_EVENT_HANDLERS)
                handler = _EVENT_HANDLERS.get(kind)
                if handler is not None:
                    handler(self, event, request, out)

    def _on_cancelled(self, event: tuple, request: _Request, out: list) -> None:
        orders = self._orders
        request_kind, _, request_cl_ord_id, request_order, _ = request
        _, order_id, _, _, _, reason, _, cum_qty, cum_notional, qty = event
        order = orders.get(order_id)
        if order is None:
            return
        _resync_quantities(order, qty, cum_qty)
        order.cum_notional = cum_notional
        if order is request_order and (request_kind == "cancel" or request_kind == "replace"):
            cl_ord_id, orig = self._new_cl_ord_id(order, request_cl_ord_id)
        else:
            cl_ord_id, orig = order.cl_ord_id, None
        self._finish(order, _STATUS_CANCELED)
        out.append(self._report(order, _EXEC_CANCELED, _STATUS_CANCELED, cl_ord_id, orig,
                          extra=self._cancel_text or _CANCEL_TEXT_FIELD.get(reason, _CANCELED_TEXT_FIELD)))

    def _on_replaced(self, event: tuple, request: _Request, out: list) -> None:
        orders = self._orders
        request_kind, _, request_cl_ord_id, request_order, _ = request
        _, order_id, _, _, _, price, qty, cum_qty, leaves_qty, _, _ = event
        order = orders.get(order_id)
        if order is None:
            return
        if price is not None:
            order.price = price
        order.qty = qty
        order.stp_decremented = 0  # the engine's replace starts the order's qty afresh
        order.static = None
        order.cum_qty = cum_qty
        order.leaves = leaves_qty
        if order is request_order and (request_kind == "cancel" or request_kind == "replace"):
            cl_ord_id, orig = self._new_cl_ord_id(order, request_cl_ord_id)
        else:
            cl_ord_id, orig = order.cl_ord_id, None
        out.append(self._report(order, _EXEC_REPLACED, order.live_status(), cl_ord_id, orig))

    def _on_restated(self, event: tuple, request: _Request, out: list) -> None:
        orders = self._orders
        _, order_id, _, _, _, _, decrement_qty, qty, cum_qty, leaves_qty, _ = event
        order = orders.get(order_id)
        if order is None:
            return
        # The engine's qty still counts what STP removed; FIX wants OrderQty = CumQty + LeavesQty.
        order.stp_decremented += decrement_qty
        order.qty = qty - order.stp_decremented
        order.static = None
        order.cum_qty = cum_qty
        order.leaves = leaves_qty
        out.append(self._report(order, _EXEC_RESTATED, order.live_status(), order.cl_ord_id, None,
                          extra=_STP_RESTATED_FORMAT % decrement_qty))

    def _on_triggered(self, event: tuple, request: _Request, out: list) -> None:
        orders = self._orders
        order = orders.get(event[1])
        if order is None:
            return
        if "exec_type_triggered" in self.extensions_of(order.session_id):
            out.append(self._report(order, _EXEC_TRIGGERED, order.live_status(), order.cl_ord_id, None))
        else:  # FIX 4.4 has no ExecType for it: the order was restated by the market
            out.append(self._report(order, _EXEC_RESTATED, order.live_status(), order.cl_ord_id, None,
                              extra=_STOP_TRIGGERED_FIELDS))

    def _on_expired(self, event: tuple, request: _Request, out: list) -> None:
        orders = self._orders
        _, order_id, _, _, _, _, cum_qty, _, qty = event
        order = orders.get(order_id)
        if order is None:
            return
        _resync_quantities(order, qty, cum_qty)
        self._finish(order, _STATUS_EXPIRED)
        out.append(self._report(order, _EXEC_EXPIRED, _STATUS_EXPIRED, order.cl_ord_id, None))

    def _on_order_state(self, event: tuple, request: _Request, out: list) -> None:
        order, message = request[3:]
        view = event[1]
        if order is None or order.order_id != view.order_id:
            return
        order.qty = view.qty - order.stp_decremented
        order.cum_qty = view.cum_qty
        order.leaves = view.leaves_qty
        order.price = view.price
        order.static = None
        extra = _STATUS_REQ_ID_FORMAT % message.get(OrdStatusReqID) if OrdStatusReqID in message else b""
        out.append(self._report(order, _EXEC_STATUS, _STATUS_FIELD[view.status], order.cl_ord_id, None,
                          extra=extra))

    def _on_mass_cancel_done(self, event: tuple, request: _Request, out: list) -> None:
        request_kind, _, request_cl_ord_id, request_order, _ = request
        if request_kind == "mass":
            out.append(self._mass_cancel_report(request, event[1]))

    def _on_rejected(self, event: tuple, request: _Request, out: list) -> None:
        _, _, reason, text = event
        self._rejected(reason, text, request, out)

    def extensions_of(self, session_id: str) -> frozenset[str]:
        """The wire extensions a session's messages carry (its own, else the default ones)."""
        return self._extensions.get(session_id, self._default_extensions)

    def _fill(self, order: _Order, price: int, qty: int, cum_qty: int, leaves: int, cum_notional: int,
              liquidity: bytes) -> Outbound:
        """The ER (ExecType F) for one side of a trade; ``liquidity``: its LastLiquidityInd
        field, added (the resting order) or removed (the aggressor)."""
        order.cum_qty = cum_qty
        order.leaves = leaves
        order.cum_notional = cum_notional
        info = order.info
        fmt = info.fmt.format
        average, remainder = divmod(cum_notional, cum_qty)
        order.avg_px = format_avg_px(cum_notional, cum_qty, info.scale) if remainder else fmt(average)
        last = _FILL_FORMAT % (qty, fmt(price), liquidity)
        if leaves:
            return self._report(order, _EXEC_TRADE, _STATUS_PARTIAL, order.cl_ord_id, None, last)
        self._finish(order, _STATUS_FILLED)
        return self._report(order, _EXEC_TRADE, _STATUS_FILLED, order.cl_ord_id, None, last)

    def _new_cl_ord_id(self, order: _Order, cl_ord_id: bytes) -> tuple[bytes, bytes]:
        """For the order a cancel/replace request targets (the caller checks that): the
        request's ClOrdID becomes the order's (reported with OrigClOrdID = the previous one)."""
        orig = order.cl_ord_id
        if cl_ord_id != orig:
            order.earlier_cl_ord_ids += (orig,)
            order.cl_ord_id = cl_ord_id
            self._session(order.session_id).by_cl_ord_id[cl_ord_id] = order
        return cl_ord_id, orig

    def _rejected(self, reason: RejectReason, text: str, request: _Request, out: list) -> None:
        kind, session_id, cl_ord_id, order, message = request
        if kind in ("new", "cancel", "replace"):
            # Text in FIX terms (prices, quantities, UTC times), not the engine's units
            text = reject_text(reason, text, order.info.spec if order is not None else None, message,
                               self._transact_time)
        if kind == "new":
            out.append(self._order_reject(session_id, message, cl_ord_id,
                                          _ORD_REJ_FOR_ENGINE.get(reason, ORD_REJ_OTHER), text))
        elif kind in ("cancel", "replace"):
            out.append(self._cancel_reject(
                session_id, order, cl_ord_id, message.get(OrigClOrdID),
                _RESPONSE_TO_CANCEL if kind == "cancel" else _RESPONSE_TO_REPLACE,
                _CXL_REJ_FOR_ENGINE.get(reason, CXL_REJ_OTHER), text))
        elif kind == "status":
            if order is not None and order.final:
                # a final order the engine no longer retains (it keeps the last retain_final
                # across all sessions): the gateway still knows how it ended
                extra = _STATUS_REQ_ID_FORMAT % message.get(OrdStatusReqID) if OrdStatusReqID in message else b""
                out.append(self._report(order, _EXEC_STATUS, order.final_status, order.cl_ord_id, None,
                                        extra=extra))
            else:
                self._status_unknown(request, out)
        elif kind == "mass":
            out.append(self._mass_cancel_report(request, 0, MASS_CANCEL_REJECT_OTHER, text))


# Engine events other than LevelChanged, Trade and Accepted (handled in _route itself: most
# events are those) -> their Reports method.
_EVENT_HANDLERS = {
    Cancelled: Reports._on_cancelled,
    Replaced: Reports._on_replaced,
    Restated: Reports._on_restated,
    Triggered: Reports._on_triggered,
    Expired: Reports._on_expired,
    OrderState: Reports._on_order_state,
    MassCancelDone: Reports._on_mass_cancel_done,
    Rejected: Reports._on_rejected,
}
