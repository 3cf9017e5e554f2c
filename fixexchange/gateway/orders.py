"""Order requests: NewOrderSingle (D), OrderCancelRequest (F), OrderCancelReplaceRequest (G),
OrderStatusRequest (H), OrderMassCancelRequest (q) -> engine commands.
"""

from __future__ import annotations

import calendar

from fixexchange.codec import FixMessage, parse_utc_timestamp
from fixexchange.codec.tags import (
    AvgPx,
    ClOrdID,
    CumQty,
    ExecID,
    ExecInst,
    ExecInsts,
    ExpireDate,
    ExpireTime,
    LeavesQty,
    MassCancelRejectReason,
    MassCancelRequestType,
    MassCancelResponse,
    MassCancelResponses,
    MaxFloor,
    MinQty,
    MsgTypes,
    OrderID,
    OrderQty,
    OrdRejReason,
    OrdStatusReqID,
    OrdType,
    OrigClOrdID,
    Price,
    Side,
    StopPx,
    Symbol,
    Text,
    TimeInForce,
    TimeInForces,
    TotalAffectedOrders,
    TransactTime,
)
from fixexchange.engine import CancelOrder, MassCancel, NewOrder, OrderStatusQuery, ReplaceOrder

from .common import (
    _CANCEL_TAGS,
    _EXEC_STATUS,
    _Fields,
    _GTD,
    _MissingField,
    _NEW_ORDER_REQUIRED_TAGS,
    _NEW_ORDER_TAGS,
    _NO_REPLACE_FIXED,
    ORD_TYPES,
    _Order,
    _PRICED,
    _qty,
    _REPLACE_FIXED_TAGS,
    _REPLACE_TAGS,
    _Request,
    _RESPONSE_TO_CANCEL,
    _RESPONSE_TO_REPLACE,
    SIDES,
    _STATUS_REJECTED,
    _STOPS,
    TIFS,
    _ZERO,
    CXL_REJ_DUPLICATE_CL_ORD_ID,
    CXL_REJ_EXCHANGE_OPTION,
    CXL_REJ_OTHER,
    CXL_REJ_UNKNOWN_ORDER,
    MASS_CANCEL_ALL,
    MASS_CANCEL_BY_SYMBOL,
    MASS_CANCEL_REJECT_NOT_SUPPORTED,
    MASS_CANCEL_REJECT_OTHER,
    MASS_CANCEL_REJECT_UNKNOWN_SECURITY,
    ORD_REJ_DUPLICATE,
    ORD_REJ_EXCHANGE_CLOSED,
    ORD_REJ_INCORRECT_QTY,
    ORD_REJ_OTHER,
    ORD_REJ_UNKNOWN_ORDER,
    ORD_REJ_UNKNOWN_SYMBOL,
    ORD_REJ_UNSUPPORTED,
)
from .outbound import Outbound
from .reject_text import bad_price_text, bad_qty_text, unknown_symbol_text, unsupported_text
from .units import NotOnScale, NumberFormatError, parse_qty

class OrderRequests:
    """Part of ``Gateway`` (a mixin: the methods use its state)."""

    __slots__ = ()  # (Gateway's instances have slots only: see Gateway.__slots__)

    # ---------------------------------------------------------------- D: NewOrderSingle

    def _new_order(self, session_id: str, message: FixMessage, now: float, out: list) -> None:
        (cl_ord_id, symbol, side_text, qty_text, ord_type_text, tif_text, price_text, stop_text, display_text,
         min_qty_text, exec_inst, expire_time_text, expire_date_text) = message.get_many(_NEW_ORDER_TAGS)
        if not (cl_ord_id and symbol and side_text and qty_text and ord_type_text):
            for tag in _NEW_ORDER_REQUIRED_TAGS:
                self._require(message, tag)
        session = self._sessions.get(session_id) or self._session(session_id)
        if cl_ord_id in session.by_cl_ord_id:
            out.append(self._order_reject(session_id, message, cl_ord_id, ORD_REJ_DUPLICATE, "duplicate ClOrdID"))
            return
        info = self._symbols_by_bytes.get(symbol)
        if info is None:
            out.append(self._order_reject(session_id, message, cl_ord_id, ORD_REJ_UNKNOWN_SYMBOL,
                                          unknown_symbol_text(symbol, list(self._symbols))))
            return
        if self._halted and info.name in self._halted:
            out.append(self._order_reject(session_id, message, cl_ord_id, ORD_REJ_EXCHANGE_CLOSED,
                                          self._halted_text(info.name, "new orders")))
            return
        side = SIDES.get(side_text)
        ord_type = ORD_TYPES.get(ord_type_text)
        tif = TIFS.get(TimeInForces.DAY if tif_text is None else tif_text)
        if side is None or ord_type is None or tif is None:
            tag = Side if side is None else OrdType if ord_type is None else TimeInForce
            out.append(self._order_reject(session_id, message, cl_ord_id, ORD_REJ_UNSUPPORTED,
                              unsupported_text(tag, message.get(tag))))
            return
        try:
            # _qty inlined for the usual plain integer
            qty = int(qty_text) if qty_text.isdigit() and len(qty_text) < 19 else parse_qty(qty_text)
            display_qty = _qty(display_text) if display_text is not None else None
            min_qty = _qty(min_qty_text) if min_qty_text is not None else None
        except (NumberFormatError, NotOnScale):
            out.append(self._order_reject(session_id, message, cl_ord_id, ORD_REJ_INCORRECT_QTY, bad_qty_text(message, info.spec)))
            return
        if price_text is None and ord_type in _PRICED:
            raise _MissingField(Price, "Price is required for OrdType=2/4")
        if stop_text is None and ord_type in _STOPS:
            raise _MissingField(StopPx, "StopPx is required for OrdType=3/4")
        try:
            # info.parse_price's cache, looked up inline (a FIX price seen before)
            price = None if price_text is None else (info.price_cache.get(price_text)
                                                     or info.parse_price(price_text))
            stop_price = info.parse_price(stop_text) if stop_text is not None else None
        except (NotOnScale, NumberFormatError):
            out.append(self._order_reject(session_id, message, cl_ord_id, ORD_REJ_OTHER, bad_price_text(message, info.spec)))
            return
        expire_time = expire_field = None
        if tif is _GTD or expire_time_text is not None or expire_date_text is not None:
            try:
                expire_time, expire_field = self._expire_time(message)
            except ValueError:
                out.append(self._order_reject(session_id, message, cl_ord_id, ORD_REJ_OTHER, "invalid ExpireTime/ExpireDate"))
                return
            if expire_time is None and tif is _GTD:
                raise _MissingField(ExpireTime, "ExpireTime or ExpireDate is required for TimeInForce=6")
        post_only = False if exec_inst is None else _post_only(exec_inst)
        if post_only is None:
            out.append(self._order_reject(session_id, message, cl_ord_id, ORD_REJ_UNSUPPORTED,
                              "unsupported ExecInst (only 6 = post-only)"))
            return
        if tif is _GTD:
            # The engine checks ExpireTime against its own clock: bring it up to now first.
            self._advance_engine_time(now, out)
        order = _Order(session_id, cl_ord_id, info, side, ord_type, price, stop_price, tif, expire_field, qty)
        if self._deliver_to:
            order.deliver_to = self._deliver_to
        if post_only or min_qty is not None or display_qty is not None:
            order.instruction_fields = _instruction_fields(post_only, min_qty, display_qty)
        events = self.engine.execute_fields(NewOrder, (
            info.name, session_id, side, qty, ord_type, price, stop_price, tif, expire_time, display_qty,
            min_qty, post_only, self._stp_by_session.get(session_id, self._default_stp)))
        self._route(events, ("new", session_id, cl_ord_id, order, message), out)

    @staticmethod
    def _expire_time(message: FixMessage) -> tuple[int | None, tuple | None]:
        """ExpireTime(126) as engine milliseconds; else ExpireDate(432) = the end of that UTC day."""
        expire_text = message.get(ExpireTime)
        if expire_text is not None:
            return int(round(parse_utc_timestamp(expire_text) * 1000)), (ExpireTime, expire_text)
        date_text = message.get(ExpireDate)
        if date_text is None:
            return None, None
        if len(date_text) != 8 or not date_text.isdigit():
            raise ValueError("ExpireDate must be YYYYMMDD")
        year, month, day = int(date_text[:4]), int(date_text[4:6]), int(date_text[6:])
        if not (1 <= month <= 12 and 1 <= day <= calendar.monthrange(year, month)[1]):
            raise ValueError("ExpireDate is not a date")
        end_of_day = calendar.timegm((year, month, day, 0, 0, 0)) + 86400
        return end_of_day * 1000, (ExpireDate, date_text)


    # ---------------------------------------------------------------- F: OrderCancelRequest

    def _cancel(self, session_id: str, message: FixMessage, now: float, out: list) -> None:
        cl_ord_id, order_id_text, orig, symbol, side = message.get_many(_CANCEL_TAGS)
        if not cl_ord_id:
            self._require(message, ClOrdID)  # raises
        if orig is None and order_id_text is None:
            raise _MissingField(OrigClOrdID)
        session = self._sessions.get(session_id) or self._session(session_id)
        order = self._find_order(session_id, session, order_id_text, orig)
        if cl_ord_id in session.by_cl_ord_id:
            out.append(self._cancel_reject(session_id, order, cl_ord_id, orig, _RESPONSE_TO_CANCEL,
                                           CXL_REJ_DUPLICATE_CL_ORD_ID, "duplicate ClOrdID"))
            return
        if order is None:
            out.append(self._cancel_reject(session_id, None, cl_ord_id, orig, _RESPONSE_TO_CANCEL,
                                           CXL_REJ_UNKNOWN_ORDER, "unknown order"))
            return
        # Symbol and Side identify the order along with OrigClOrdID/OrderID: a cancel naming
        # another instrument or side is refused, never applied to the order (as a replace
        # refuses to change them).
        if (symbol is not None and symbol != order.info.symbol_field[1]) or (
                side is not None and side != order.side_field[1]):
            mismatch = self._cancel_mismatch(order, message)
            out.append(self._cancel_reject(session_id, order, cl_ord_id, orig, _RESPONSE_TO_CANCEL,
                                           CXL_REJ_OTHER, mismatch))
            return
        events = self.engine.execute_fields(CancelOrder, (order.order_id, session_id))
        self._route(events, ("cancel", session_id, cl_ord_id, order, message), out)

    @staticmethod
    def _cancel_mismatch(order: _Order, message: FixMessage) -> bytes | None:
        """Text refusing a cancel whose Symbol(55) or Side(54) is not the order's, else None."""
        symbol = message.get(Symbol)
        if symbol is not None and symbol != order.info.symbol_field[1]:
            return (b"Symbol " + symbol + b" does not match the order's Symbol " + order.info.symbol_field[1]
                    + b": order not canceled")
        side = message.get(Side)
        if side is not None and side != order.side_field[1]:
            return b"Side " + side + b" does not match the order's Side " + order.side_field[1] + b": order not canceled"
        return None


    # ---------------------------------------------------------------- G: OrderCancelReplaceRequest

    def _replace(self, session_id: str, message: FixMessage, now: float, out: list) -> None:
        (cl_ord_id, order_id_text, orig, qty_text, ord_type_text, side_text, symbol, tif_text, price_text,
         stop_text) = message.get_many(_REPLACE_TAGS)  # (one call: a get is a Python call per field)
        if not cl_ord_id:
            self._require(message, ClOrdID)  # raises
        if orig is None and order_id_text is None:
            raise _MissingField(OrigClOrdID)
        if not qty_text:
            self._require(message, OrderQty)  # raises
        if not ord_type_text:
            self._require(message, OrdType)  # raises
        session = self._sessions.get(session_id) or self._session(session_id)
        order = self._find_order(session_id, session, order_id_text, orig)

        def refuse(reason: int, text: str) -> None:
            out.append(self._cancel_reject(session_id, order, cl_ord_id, orig, _RESPONSE_TO_REPLACE, reason, text))

        if cl_ord_id in session.by_cl_ord_id:
            return refuse(CXL_REJ_DUPLICATE_CL_ORD_ID, "duplicate ClOrdID")
        if order is None:
            return refuse(CXL_REJ_UNKNOWN_ORDER, "unknown order")
        info = order.info
        if self._halted and info.name in self._halted:
            return refuse(CXL_REJ_EXCHANGE_OPTION, self._halted_text(info.name, "replaces"))
        if ORD_TYPES.get(ord_type_text) is not order.ord_type:
            return refuse(CXL_REJ_EXCHANGE_OPTION, "OrdType cannot be changed")
        if side_text is not None and side_text != order.side_field[1]:
            return refuse(CXL_REJ_EXCHANGE_OPTION, "Side cannot be changed")
        if symbol is not None and symbol != info.symbol_field[1]:
            return refuse(CXL_REJ_EXCHANGE_OPTION, "Symbol cannot be changed")
        if tif_text is not None and TIFS.get(tif_text) is not order.tif:
            return refuse(CXL_REJ_EXCHANGE_OPTION, "TimeInForce cannot be changed")
        if price_text is None and order.ord_type in _PRICED:
            raise _MissingField(Price, "Price is required for OrdType=2/4")
        try:
            qty = _qty(qty_text)
        except (NumberFormatError, NotOnScale):
            return refuse(CXL_REJ_OTHER, bad_qty_text(message, info.spec))
        try:
            price = info.parse_price(price_text) if price_text is not None else None
            if stop_text is not None and info.parse_price(stop_text) != order.stop_price:
                return refuse(CXL_REJ_EXCHANGE_OPTION, "StopPx cannot be changed")
        except (NotOnScale, NumberFormatError):
            return refuse(CXL_REJ_OTHER, bad_price_text(message, info.spec))
        if order.ord_type not in _PRICED:
            price = None  # market/stop orders carry no limit price to change
        # The engine's replace changes quantity and price only: a G that would change
        # ExpireTime/ExpireDate, MinQty, MaxFloor or ExecInst is refused, not accepted with the
        # old values.  One lookup when the G carries none of them (the usual case).
        unchangeable = message.get_many(_REPLACE_FIXED_TAGS)
        if unchangeable != _NO_REPLACE_FIXED:
            changed = self._replace_changes(order, unchangeable)
            if changed is not None:
                if changed.startswith("invalid"):
                    return refuse(CXL_REJ_OTHER, changed)
                return refuse(CXL_REJ_EXCHANGE_OPTION,
                              changed + " cannot be changed by a replace; cancel and enter a new order")
        events = self.engine.execute_fields(ReplaceOrder, (order.order_id, qty, price, session_id))
        self._route(events, ("replace", session_id, cl_ord_id, order, message), out)

    @classmethod
    def _replace_changes(cls, order: _Order, values: tuple) -> str | None:
        """The name of the first field among MinQty, MaxFloor, ExecInst, ExpireTime/ExpireDate
        that a G would change (``values`` in ``_REPLACE_FIXED_TAGS`` order), "invalid ..." for a
        value that does not parse, else None.  An absent field keeps the order's value."""
        min_qty_text, display_text, exec_inst, expire_time_text, expire_date_text = values
        entered = dict(order.instruction_fields)
        for tag, name, text in ((MinQty, "MinQty", min_qty_text), (MaxFloor, "MaxFloor", display_text)):
            if text is not None:
                try:
                    value = _qty(text)
                except (NumberFormatError, NotOnScale):
                    return "invalid " + name
                if b"%d" % value != entered.get(tag):
                    return name
        if exec_inst is not None:
            instructions = set(exec_inst.split())
            if instructions != ({ExecInsts.PARTICIPATE_DO_NOT_INITIATE} if ExecInst in entered else set()):
                return "ExecInst"
        if expire_time_text is not None or expire_date_text is not None:
            name = "ExpireTime" if expire_time_text is not None else "ExpireDate"
            try:
                wanted, _ = cls._expire_time(_Fields({ExpireTime: expire_time_text, ExpireDate: expire_date_text}))
            except ValueError:
                return "invalid ExpireTime/ExpireDate"
            current = None
            if order.expire_field is not None:
                current, _ = cls._expire_time(_Fields(dict((order.expire_field,))))
            if wanted != current:
                return name
        return None


    # ---------------------------------------------------------------- H: OrderStatusRequest

    def _status(self, session_id: str, message: FixMessage, now: float, out: list) -> None:
        # Symbol/Side are not checked (unlike a cancel): the report carries the order's own.
        cl_ord_id = self._require(message, ClOrdID)
        session = self._session(session_id)
        order = self._find_order(session_id, session, message.get(OrderID), cl_ord_id)
        request = ("status", session_id, cl_ord_id, order, message)
        if order is None:
            self._status_unknown(request, out)
            return
        self._route(self.engine.execute(OrderStatusQuery(order.order_id, session_id)), request, out)

    def _status_unknown(self, request: _Request, out: list) -> None:
        _, session_id, cl_ord_id, _, message = request
        body = [(OrderID, message.get(OrderID) or b"NONE"), (ClOrdID, cl_ord_id)]
        status_req_id = message.get(OrdStatusReqID)
        if status_req_id is not None:
            body.append((OrdStatusReqID, status_req_id))
        body += ((ExecID, self._next_exec_id()), _EXEC_STATUS, _STATUS_REJECTED, (Symbol, message.get(Symbol) or b"?"),
                 (Side, message.get(Side) or b"?"), (LeavesQty, _ZERO), (CumQty, _ZERO), (AvgPx, _ZERO),
                 (TransactTime, self._transact_time), (OrdRejReason, b"%d" % ORD_REJ_UNKNOWN_ORDER),
                 (Text, "unknown order"))
        out.append(Outbound(session_id, MsgTypes.EXECUTION_REPORT, body))


    # ---------------------------------------------------------------- q: OrderMassCancelRequest

    def _mass_cancel(self, session_id: str, message: FixMessage, now: float, out: list) -> None:
        cl_ord_id = self._require(message, ClOrdID)
        request_type = self._require(message, MassCancelRequestType)
        symbol_text = message.get(Symbol)
        side_text = message.get(Side)
        request = ("mass", session_id, cl_ord_id, None, message)
        if request_type == MASS_CANCEL_BY_SYMBOL:
            if symbol_text is None:
                raise _MissingField(Symbol, "Symbol is required for MassCancelRequestType=1")
            info = self._symbols_by_bytes.get(symbol_text)
            if info is None:
                out.append(self._mass_cancel_report(request, 0, MASS_CANCEL_REJECT_UNKNOWN_SECURITY,
                                                    unknown_symbol_text(symbol_text, list(self._symbols))))
                return
            symbol = info.name
        elif request_type == MASS_CANCEL_ALL:
            symbol = None
        else:
            out.append(self._mass_cancel_report(request, 0, MASS_CANCEL_REJECT_NOT_SUPPORTED,
                                                "MassCancelRequestType must be 1 (symbol) or 7 (all)"))
            return
        side = None
        if side_text is not None:
            side = SIDES.get(side_text)
            if side is None:
                out.append(self._mass_cancel_report(request, 0, MASS_CANCEL_REJECT_OTHER, "unsupported Side"))
                return
        self._route(self.engine.execute(MassCancel(session_id, symbol, side)), request, out)

    def _mass_cancel_report(self, request: _Request, count: int, reject_reason: bytes | None = None,
                            text: str | None = None) -> Outbound:
        _, session_id, cl_ord_id, _, message = request
        request_type = message.get(MassCancelRequestType)
        body = [(ClOrdID, cl_ord_id), (OrderID, self._next_exec_id()), (MassCancelRequestType, request_type),
                (MassCancelResponse, MassCancelResponses.CANCEL_REQUEST_REJECTED if reject_reason is not None
                 else request_type)]
        if reject_reason is not None:
            body.append((MassCancelRejectReason, reject_reason))
        body.append((TotalAffectedOrders, count))
        for tag in (Symbol, Side):
            value = message.get(tag)
            if value is not None:
                body.append((tag, value))
        body.append((TransactTime, self._transact_time))
        if text is not None:
            body.append((Text, text))
        return Outbound(session_id, MsgTypes.ORDER_MASS_CANCEL_REPORT, body)


def _post_only(exec_inst: bytes) -> bool | None:
    """ExecInst(18): True for post-only (6), False for none given, None if unsupported."""
    instructions = exec_inst.split()
    if any(instruction != ExecInsts.PARTICIPATE_DO_NOT_INITIATE for instruction in instructions):
        return None
    return bool(instructions)


def _instruction_fields(post_only: bool, min_qty: int | None, display_qty: int | None) -> tuple:
    """The order's ExecInst, MinQty and MaxFloor, echoed in its reports."""
    return tuple(field for field in (
        (ExecInst, ExecInsts.PARTICIPATE_DO_NOT_INITIATE) if post_only else None,
        (MinQty, b"%d" % min_qty) if min_qty is not None else None,
        (MaxFloor, b"%d" % display_qty) if display_qty is not None else None) if field is not None)
