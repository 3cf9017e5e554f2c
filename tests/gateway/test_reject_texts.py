"""Client-facing reject texts speak FIX (prices, quantities, UTC times), STP-decrement
restatements keep OrderQty = CumQty + LeavesQty, and cancels naming another Symbol/Side are
refused."""

import re

import pytest

from fixexchange.codec import FixParser, encode
from fixexchange.engine import RejectReason, SymbolSpec
from fixexchange.gateway.reject_text import reject_text

from .support import NOW, SENDING_TIME, SPECS, Harness

BUY, SELL = "1", "2"
# tick 0.5, lots of 10 in [10, 1000], price band 50..150 (as the daemon's LOT test symbol)
LOT = SymbolSpec("LOT", price_scale=2, tick=50, lot=10, min_qty=10, max_qty=1000, band_low=5000, band_high=15000)


@pytest.fixture
def h():
    return Harness(SPECS + [LOT])


def only_reject(replies):
    [reply] = replies
    assert (reply.type, reply[150], reply[39]) == ("8", "8", "8"), reply
    return reply[58]


@pytest.mark.parametrize("price, text", [
    ("200", "Price 200 is outside the price band (50 to 150) of LOT"),
    ("49.5", "Price 49.5 is outside the price band (50 to 150) of LOT"),
    ("-1", "Price -1 must be greater than zero"),
    ("0", "Price 0 must be greater than zero"),
    ("100.25", "Price 100.25 is not a multiple of the tick size 0.5"),
])
def test_price_reject_texts_quote_fix_prices(h, price, text):
    assert only_reject(h.order("S1", "P", BUY, 10, price, "LOT")) == text


def test_stop_price_reject_names_stop_px(h):
    replies = h.order("S1", "SL", BUY, 10, "100", "LOT", "4", (99, "160"))
    assert only_reject(replies) == "StopPx 160 is outside the price band (50 to 150) of LOT"
    replies = h.order("S1", "ST", BUY, 10, None, "LOT", "3", (99, "-2.5"))
    assert only_reject(replies) == "StopPx -2.5 must be greater than zero"


@pytest.mark.parametrize("qty, text", [
    ("15", "OrderQty 15 is not a multiple of the lot size 10 of LOT"),
    ("2000", "OrderQty 2000 is above the maximum quantity 1000 of LOT"),
    ("0", "OrderQty 0 must be greater than zero"),
])
def test_quantity_reject_texts(h, qty, text):
    assert only_reject(h.order("S1", "Q", BUY, qty, "100", "LOT")) == text


def test_max_floor_and_min_qty_texts_use_fix_names(h):
    iceberg = h.order("S1", "ICE", BUY, 10, "100", "SYM1", "2", (111, "20"))
    assert only_reject(iceberg) == "MaxFloor 20 must be a positive multiple of the lot size 1 and at most OrderQty 10"
    min_qty = h.order("S1", "MQ", BUY, 10, "100", "SYM1", "2", (110, "11"))
    assert only_reject(min_qty) == "MinQty 11 must be a positive multiple of the lot size 1 and at most OrderQty 10"


def test_past_expiry_texts_are_utc_times(h):
    past_time = h.order("S1", "G1", BUY, 10, "100", "SYM1", "2", (59, "6"), (126, "20201231-00:00:00"))
    assert only_reject(past_time) == ("ExpireTime 20201231-00:00:00.000 is not in the future "
                                      "(now 20251124-16:00:00.000 UTC)")
    past_date = h.order("S1", "G2", BUY, 10, "100", "SYM1", "2", (59, "6"), (432, "20201231"))
    assert only_reject(past_date) == "ExpireDate 20201231 has passed (now 20251124-16:00:00.000 UTC)"


def test_other_order_rejects_name_fix_fields(h):
    market_gtc = h.order("S1", "M1", BUY, 10, None, "SYM1", "1", (59, "1"))
    assert only_reject(market_gtc) == "a market order (OrdType=1) cannot have TimeInForce=1 (GTC)"
    market_price = h.order("S1", "M2", BUY, 10, "100", "SYM1", "1")
    assert only_reject(market_price) == "OrdType=1 (market) takes no Price"
    day_expire = h.order("S1", "D1", BUY, 10, "100", "SYM1", "2", (126, "20251124-17:00:00"))
    assert only_reject(day_expire) == "ExpireTime/ExpireDate is only allowed with TimeInForce=6 (GTD), not 0 (DAY)"


def test_replace_reject_text_quotes_fix_price(h):
    h.order("S1", "R1", BUY, 10, "100", "LOT")
    replies = h.send("S1", "G", (41, "R1"), (11, "R2"), (55, "LOT"), (54, BUY), (60, SENDING_TIME),
                     (38, "10"), (40, "2"), (44, "151"))
    assert [(r.type, r[102], r[434], r[58]) for r in replies] == [
        ("9", "99", "2", "Price 151 is outside the price band (50 to 150) of LOT")]


@pytest.mark.parametrize("reason", list(RejectReason))
def test_every_reject_reason_has_a_text_without_engine_units(reason):
    raw = encode(b"FIX.4.4", b"D", [(49, b"C"), (56, b"E"), (34, 1), (52, SENDING_TIME), (11, b"X"),
                                    (55, b"LOT"), (54, b"1"), (38, b"15"), (40, b"4"), (44, b"200"), (99, b"160"),
                                    (59, b"6"), (126, b"20201231-00:00:00"), (111, b"20"), (110, b"30")])
    [message] = FixParser().feed(raw)
    text = reject_text(reason, "engine text 20000 1609372800000", LOT, message, b"20251124-16:00:00.000")
    if reason is RejectReason.TOO_LATE_TO_CANCEL:  # "order already filled": no units to translate
        assert text == "engine text 20000 1609372800000"
    else:
        assert text and not re.search(r"\b(20000|16000|5000|15000|1609372800000)\b", text), text


# ---------------------------------------------------------------- STP decrement: OrderQty


def consistent(reply):
    return int(reply[38]) == int(reply[14]) + int(reply[151])


def test_stp_decrement_restatement_reports_the_decremented_order_qty():
    h = Harness(default_stp="decrement")
    h.order("S1", "REST", SELL, 30, "106")
    replies = h.order("S1", "TAKE", BUY, 10, "106")
    [restated] = [r for r in replies if r[150] == "D"]
    assert (restated[11], restated[39], restated[38], restated[14], restated[151]) == ("REST", "0", "20", "0", "20")
    assert "decremented by 10" in restated[58]
    # later reports of the order keep OrderQty = CumQty + LeavesQty while it is live
    fills = [r for r in h.order("S2", "HIT", BUY, 5, "106") if r[11] == "REST"]
    assert [(r[150], r[39], r[38], r[14], r[151]) for r in fills] == [("F", "1", "20", "5", "15")]
    [status] = h.send("S1", "H", (11, "REST"), (55, "SYM1"), (54, SELL))
    assert (status[150], status[38], status[14], status[151]) == ("I", "20", "5", "15") and consistent(status)
    [canceled] = h.send("S1", "F", (41, "REST"), (11, "CXL"), (55, "SYM1"), (54, SELL), (60, SENDING_TIME))
    assert (canceled[150], canceled[38], canceled[14], canceled[151]) == ("4", "20", "5", "0")


def test_replace_after_stp_decrement_reports_the_new_order_qty():
    h = Harness(default_stp="decrement")
    h.order("S1", "REST", SELL, 30, "106")
    h.order("S1", "TAKE", BUY, 10, "106")
    [replaced] = h.send("S1", "G", (41, "REST"), (11, "REST2"), (55, "SYM1"), (54, SELL), (60, SENDING_TIME),
                        (38, "25"), (40, "2"), (44, "106"))
    assert (replaced[150], replaced[38], replaced[14], replaced[151]) == ("5", "25", "0", "25")


# ---------------------------------------------------------------- cancel naming another Symbol/Side


@pytest.mark.parametrize("symbol, side, text", [
    ("TEST", BUY, "Symbol TEST does not match the order's Symbol SYM1: order not canceled"),
    ("SYM2", BUY, "Symbol SYM2 does not match the order's Symbol SYM1: order not canceled"),
    ("SYM1", SELL, "Side 2 does not match the order's Side 1: order not canceled"),
])
def test_cancel_with_another_symbol_or_side_is_refused(h, symbol, side, text):
    h.order("S1", "LIVE", BUY, 10, "100")
    replies = h.send("S1", "F", (41, "LIVE"), (11, "CXL"), (55, symbol), (54, side), (60, SENDING_TIME))
    assert [(r.type, r[102], r[434], r[39], r[41], r[58]) for r in replies] == [("9", "99", "1", "0", "LIVE", text)]
    # the order is untouched and the refused ClOrdID is not taken
    [status] = h.send("S1", "H", (11, "LIVE"), (55, "SYM1"), (54, BUY))
    assert (status[39], status[151]) == ("0", "10")
    replies = h.send("S1", "F", (41, "LIVE"), (11, "CXL"), (55, "SYM1"), (54, BUY), (60, SENDING_TIME))
    assert [(r.type, r[150]) for r in replies] == [("8", "4")]


def test_status_request_naming_another_symbol_reports_the_order_as_it_is(h):
    """OrderStatusRequest is read-only: it is answered for the order its ClOrdID/OrderID names,
    with the order's own Symbol and Side, so a mismatch misleads no one."""
    h.order("S1", "LIVE", BUY, 10, "100")
    [status] = h.send("S1", "H", (11, "LIVE"), (55, "TEST"), (54, SELL))
    assert (status[150], status[39], status[55], status[54]) == ("I", "0", "SYM1", "1")


def test_reject_text_now_is_the_request_time(h):
    later = NOW + 3600
    replies = h.order("S1", "G1", BUY, 10, "100", "SYM1", "2", (59, "6"), (126, "20251124-16:30:00"), now=later)
    assert only_reject(replies).endswith("(now 20251124-17:00:00.000 UTC)")
