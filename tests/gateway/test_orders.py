"""NewOrderSingle, cancel, replace, status and mass cancel through real FIX messages."""

from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from fixexchange.engine import (
    Engine,
    MassCancel,
    NewOrder,
    OrderStatusQuery,
    Rejected,
    RejectReason,
    Side,
    StpMode,
)
from fixexchange.gateway import Gateway
from fixexchange.gateway.common import SymbolInfo

from .support import NOW, SPECS, Harness, Reply, of_type

BUY, SELL = "1", "2"


@pytest.fixture
def h():
    return seeded(Harness())


def seeded(harness: Harness) -> Harness:
    harness.seed("SYM1", "sell", 8, 10800)
    harness.seed("SYM1", "sell", 12, 11000)
    harness.seed("SYM1", "buy", 10, 10500)
    return harness


def er_summary(replies):
    return [(r[150], r[39], r.get(32), r.get(31), r[151], r[14], r[6]) for r in replies]


# ---------------------------------------------------------------- worked examples


def test_buy_market_20_fills_8_at_108_then_12_at_110(h):
    replies = h.order("S1", "A", BUY, 20)
    assert [r.type for r in replies] == ["8", "8", "8"]
    assert er_summary(replies) == [
        ("0", "0", None, None, "20", "0", "0"),
        ("F", "1", "8", "108", "12", "8", "108"),
        ("F", "2", "12", "110", "0", "20", "109.2"),
    ]
    first = replies[0]
    assert first[11] == "A" and first[55] == "SYM1" and first[54] == "1" and first[40] == "1"
    assert first[38] == "20" and first[59] == "0" and first[60] == "20251124-16:00:00.000"
    assert 44 not in first
    assert len({r[17] for r in replies}) == 3
    assert {r[37] for r in replies} == {first[37]}


def test_buy_limit_109_for_15_fills_8_and_rests_7(h):
    replies = h.order("S1", "B", BUY, 15, "109")
    assert er_summary(replies) == [
        ("0", "0", None, None, "15", "0", "0"),
        ("F", "1", "8", "108", "7", "8", "108"),
    ]
    assert replies[0][44] == "109"
    assert h.engine.book("SYM1").depth(1, 0)[0] == (10900, 7)


def test_buy_limit_106_does_not_cross_and_rests(h):
    replies = h.order("S1", "C", BUY, 15, "106")
    assert er_summary(replies) == [("0", "0", None, None, "15", "0", "0")]
    assert h.engine.book("SYM1").depth(1, 0)[0] == (10600, 15)


def test_counterparty_gets_its_fill_and_seeded_house_orders_get_none(h):
    h.order("S2", "ASK", SELL, 5, "107")
    replies = h.order("S1", "BID", BUY, 3, "107.00")
    makers = [r for r in replies if r.session == "S2"]
    assert [(r[150], r[39], r[32], r[31], r[151], r[14]) for r in makers] == [("F", "1", "3", "107", "2", "3")]
    assert makers[0][11] == "ASK"
    assert all(r.session in ("S1", "S2") for r in replies)


def test_avg_px_inexact_is_rounded_decimal():
    h = Harness()
    for price in (10000, 10001, 10001):
        h.seed("SYM1", "sell", 1, price)
    replies = h.order("S1", "A", BUY, 3, "100.01")
    assert replies[-1][6] == "100.00666667"
    assert replies[-1][39] == "2"


# ---------------------------------------------------------------- order types and instructions


def test_stop_order_triggers_with_a_fix44_restated_report():
    """FIX 4.4 has no ExecType for an elected stop: by default ExecType D (Restated),
    ExecRestatementReason 8 (market option), Text "stop triggered" (valid FIX 4.4)."""
    h = seeded(Harness())
    accepted = h.order("S1", "STOP", BUY, 5, None, "SYM1", "3", (99, "110"))
    assert er_summary(accepted) == [("0", "0", None, None, "5", "0", "0")]
    assert accepted[0][99] == "110" and accepted[0][40] == "3"
    replies = h.order("S2", "TAKER", BUY, 9, "110")  # 8@108, 1@110 -> last trade 110 elects the stop
    stop_reports = [r for r in replies if r[11] == "STOP"]
    assert [(r[150], r[39]) for r in stop_reports] == [("D", "0"), ("F", "2")]
    assert (stop_reports[0][378], stop_reports[0][58]) == ("8", "stop triggered")
    assert stop_reports[-1][31] == "110" and stop_reports[-1][32] == "5"


def test_stop_order_triggers_with_exec_type_L_for_a_session_that_opted_in():
    h = seeded(Harness(extensions={"S1": ["exec_type_triggered"]}))
    h.order("S1", "STOP", BUY, 5, None, "SYM1", "3", (99, "110"))
    h.order("S3", "STOP3", BUY, 5, None, "SYM1", "3", (99, "110"))
    replies = h.order("S2", "TAKER", BUY, 9, "110")
    triggered = {r[11]: r for r in replies if r[150] in ("L", "D")}
    assert triggered["STOP"][150] == "L" and 378 not in triggered["STOP"].message
    assert triggered["STOP3"][150] == "D"  # other sessions: FIX 4.4


def test_unknown_extension_is_refused():
    with pytest.raises(ValueError, match="bogus"):
        Harness(extensions={"S1": ["bogus"]})


def test_fills_say_which_side_took_liquidity(h):
    h.order("S1", "MAKER", SELL, 5, "107")
    replies = h.order("S2", "TAKER", BUY, 5, "107")
    fills = {r[11]: r for r in replies if r.type == "8" and r[150] == "F"}
    assert (fills["MAKER"][851], fills["TAKER"][851]) == ("1", "2")  # added, removed


def test_stop_limit_needs_both_prices(h):
    replies = h.order("S1", "SL", SELL, 5, "104", "SYM1", "4", (99, "104.5"))
    assert replies[0][150] == "0" and replies[0][44] == "104" and replies[0][99] == "104.5"
    missing_stop = h.order("S1", "SL2", SELL, 5, "104", "SYM1", "4")
    assert [(r.type, r[380], r[372], r[379]) for r in missing_stop] == [("j", "5", "D", "SL2")]
    assert "99" in missing_stop[0][58]
    missing_price = h.order("S1", "SL3", SELL, 5, None, "SYM1", "4", (99, "104.5"))
    assert [(r.type, r[380]) for r in missing_price] == [("j", "5")]
    assert "44" in missing_price[0][58]


def test_limit_without_price_is_business_reject(h):
    replies = h.order("S1", "NOPX", BUY, 5, None, "SYM1", "2")
    assert [(r.type, r[380], r[45], r[379]) for r in replies] == [("j", "5", "1", "NOPX")]


def test_ioc_remainder_is_canceled(h):
    replies = h.order("S1", "IOC", BUY, 10, "108", "SYM1", "2", (59, "3"))
    assert er_summary(replies) == [
        ("0", "0", None, None, "10", "0", "0"),
        ("F", "1", "8", "108", "2", "8", "108"),
        ("4", "4", None, None, "0", "8", "108"),
    ]
    assert replies[0][59] == "3"


def test_fok_unfillable_is_canceled_without_trade(h):
    replies = h.order("S1", "FOK", BUY, 30, "111", "SYM1", "2", (59, "4"))
    assert [(r[150], r[39], r[14]) for r in replies] == [("0", "0", "0"), ("4", "4", "0")]


def test_market_remainder_without_liquidity_is_canceled(h):
    replies = h.order("S1", "MKT", BUY, 25)
    assert [(r[150], r[39]) for r in replies] == [("0", "0"), ("F", "1"), ("F", "1"), ("4", "4")]
    assert replies[-1][14] == "20" and replies[-1][151] == "0" and "liquidity" in replies[-1][58]


def test_gtd_with_expire_time_expires_on_advance_time(h):
    replies = h.order("S1", "GTD", BUY, 5, "100", "SYM1", "2", (59, "6"), (126, "20251124-16:00:10.000"))
    assert replies[0][150] == "0" and replies[0][126] == "20251124-16:00:10.000"
    assert h.gateway.advance_time(NOW + 9.999) == []
    expired = [Reply(out) for out in h.gateway.advance_time(NOW + 10)]
    assert [(r[150], r[39], r[11], r[151]) for r in expired] == [("C", "C", "GTD", "0")]


def test_gtd_with_expire_date_lives_until_end_of_that_day(h):
    replies = h.order("S1", "GTDD", BUY, 5, "100", "SYM1", "2", (59, "6"), (432, "20251124"))
    assert replies[0][150] == "0" and replies[0][432] == "20251124"
    end_of_day = 1_764_028_800.0  # 2025-11-25 00:00:00 UTC
    assert h.gateway.advance_time(end_of_day - 1) == []
    assert [Reply(out)[150] for out in h.gateway.advance_time(end_of_day)] == ["C"]


def test_gtd_in_the_past_is_rejected(h):
    replies = h.order("S1", "OLD", BUY, 5, "100", "SYM1", "2", (59, "6"), (126, "20251124-15:59:59.000"))
    assert [(r[150], r[39], r[103]) for r in replies] == [("8", "8", "99")]


def test_gtd_without_expiry_is_business_reject(h):
    replies = h.order("S1", "G1", BUY, 5, "100", "SYM1", "2", (59, "6"))
    assert [(r.type, r[380]) for r in replies] == [("j", "5")]
    assert "126" in replies[0][58]


@pytest.mark.parametrize("field", [(126, "yesterday"), (126, ""), (432, "20251340"), (432, "2025112")])
def test_bad_expiry_values_are_rejected(h, field):
    replies = h.order("S1", "G1", BUY, 5, "100", "SYM1", "2", (59, "6"), field)
    assert [(r[150], r[103]) for r in replies] == [("8", "99")]


def test_expire_time_on_day_order_is_refused_by_engine(h):
    replies = h.order("S1", "D1", BUY, 5, "100", "SYM1", "2", (126, "20251124-17:00:00.000"))
    assert [(r[150], r[103]) for r in replies] == [("8", "11")]


def test_day_orders_expire_at_end_of_day(h):
    h.order("S1", "DAY", BUY, 5, "100")
    h.order("S1", "GTC", BUY, 5, "100", "SYM1", "2", (59, "1"))
    expired = h.gateway.end_of_day(NOW)
    assert [(reply.session, reply[11], reply[150]) for reply in map(Reply, expired)
            if reply.type == "8"] == [("S1", "DAY", "C")]


def test_iceberg_max_floor_shows_only_display_qty(h):
    replies = h.order("S1", "ICE", BUY, 50, "106", "SYM1", "2", (111, "10"))
    assert replies[0][150] == "0" and replies[0][111] == "10"
    assert h.engine.book("SYM1").depth(1, 0)[0] == (10600, 10)
    assert h.gateway.market_data.levels("SYM1", 1, 1) == [(10600, 10)]


def test_min_qty_not_available_cancels(h):
    replies = h.order("S1", "MINQ", BUY, 20, "108", "SYM1", "2", (110, "10"))
    assert [(r[150], r[39], r[14], r[110]) for r in replies] == [("0", "0", "0", "10"), ("4", "4", "0", "10")]
    assert "MinQty" in replies[-1][58]


def test_post_only_rests_or_is_rejected(h):
    rests = h.order("S1", "PO1", BUY, 5, "107", "SYM1", "2", (18, "6"))
    assert [(r[150], r[18]) for r in rests] == [("0", "6")]
    crosses = h.order("S1", "PO2", BUY, 5, "108", "SYM1", "2", (18, "6"))
    assert [(r[150], r[39], r[103]) for r in crosses] == [("8", "8", "99")]


def test_unsupported_exec_inst_is_rejected(h):
    replies = h.order("S1", "AON", BUY, 5, "107", "SYM1", "2", (18, "G"))
    assert [(r[150], r[103]) for r in replies] == [("8", "11")]


def test_self_trade_prevention_per_session():
    h = Harness(stp_modes={"S1": "cancel_newest"}, default_stp=StpMode.NONE)
    h.order("S1", "ASK", SELL, 5, "100")
    replies = h.order("S1", "BID", BUY, 5, "100")
    assert [(r[11], r[150]) for r in replies] == [("BID", "0"), ("BID", "4")]
    assert "self-trade" in replies[-1][58]
    h.order("S2", "ASK2", SELL, 10, "101", "SYM2")
    crossing = h.order("S2", "BID2", BUY, 10, "101", "SYM2")  # S2 has no STP: trades with itself
    assert [(r[11], r[150]) for r in crossing] == [("BID2", "0"), ("BID2", "F"), ("ASK2", "F")]


def test_stp_decrement_reports_restatement():
    h = Harness(default_stp="decrement")
    h.order("S1", "ASK", SELL, 10, "100")
    replies = h.order("S1", "BID", BUY, 4, "100")
    restated = [r for r in replies if r[150] == "D"]
    assert [(r[11], r[378], r[151]) for r in restated] == [("ASK", "99", "6")]


# ---------------------------------------------------------------- NewOrderSingle rejects


def test_duplicate_cl_ord_id_among_live_orders(h):
    h.order("S1", "DUP", BUY, 5, "100")
    replies = h.order("S1", "DUP", BUY, 5, "100")
    assert [(r[150], r[39], r[103], r[37]) for r in replies] == [("8", "8", "6", "NONE")]
    # per session: another session may use the same ClOrdID
    assert h.order("S2", "DUP", BUY, 5, "100")[0][150] == "0"


def test_duplicate_cl_ord_id_of_a_recently_filled_order(h):
    h.order("S1", "DONE", BUY, 8, "108")
    replies = h.order("S1", "DONE", BUY, 1, "100")
    assert [(r[150], r[103]) for r in replies] == [("8", "6")]


def test_rejected_cl_ord_id_is_not_remembered(h):
    h.order("S1", "R1", BUY, 5, "100", "NOPE")
    assert h.order("S1", "R1", BUY, 5, "100")[0][150] == "0"


def test_forgotten_final_orders_free_their_cl_ord_id(h, monkeypatch):
    h.gateway.final_orders_per_session = 2  # (journal.final_orders_per_session)
    for index in range(3):
        h.order("S1", f"IOC{index}", BUY, 1, "100", "SYM1", "2", (59, "3"))
    assert h.order("S1", "IOC0", BUY, 1, "100")[0][150] == "0"  # forgotten: reusable
    assert h.order("S1", "IOC2", BUY, 1, "100")[0][103] == "6"  # still remembered


def test_unknown_symbol(h):
    replies = h.order("S1", "U", BUY, 5, "100", "NOPE")
    assert [(r[150], r[39], r[103], r[55], r[54]) for r in replies] == [("8", "8", "1", "NOPE", "1")]
    assert replies[0][151] == "0" and replies[0][14] == "0" and replies[0][6] == "0"
    assert "NOPE" in replies[0][58]


@pytest.mark.parametrize(
    "side, ord_type, extra, reason",
    [("5", "2", (), "11"), ("1", "P", (), "11"), ("1", "2", ((59, "2"),), "11")],
)
def test_unsupported_side_ord_type_tif(h, side, ord_type, extra, reason):
    replies = h.order("S1", "X", side, 5, "100", "SYM1", ord_type, *extra)
    assert [(r[150], r[103]) for r in replies] == [("8", reason)]


@pytest.mark.parametrize("qty", ["abc", "5.5", "-"])
def test_malformed_quantity(h, qty):
    replies = h.order("S1", "Q", BUY, qty, "100")
    assert [(r[150], r[103]) for r in replies] == [("8", "13")]


@pytest.mark.parametrize("field", [(111, "x"), (110, "1.5")])
def test_malformed_display_or_min_qty(h, field):
    replies = h.order("S1", "Q", BUY, 5, "100", "SYM1", "2", field)
    assert [(r[150], r[103]) for r in replies] == [("8", "13")]


@pytest.mark.parametrize("qty, reason", [("0", "13"), ("2000000", "13")])
def test_quantity_limits_from_engine(h, qty, reason):
    replies = h.order("S1", "Q", BUY, qty, "100")
    assert [(r[150], r[103]) for r in replies] == [("8", reason)]


def test_lot_size(h):
    replies = h.order("S1", "L", BUY, 15, "100", "SYM2")
    assert [(r[150], r[103]) for r in replies] == [("8", "13")]
    assert h.order("S1", "L2", BUY, 20, "100.05", "SYM2")[0][150] == "0"


@pytest.mark.parametrize("price", ["100.001", "100.123"])
def test_more_decimals_than_scale_is_off_tick(h, price):
    replies = h.order("S1", "P", BUY, 5, price)
    assert [(r[150], r[103], r[58]) for r in replies] == [
        ("8", "99", f"Price {price} is not a multiple of the tick size 0.01 of SYM1")]


def test_trailing_zero_decimals_are_on_tick(h):
    replies = h.order("S1", "P", BUY, 5, "100.5000")
    assert replies[0][150] == "0" and replies[0][44] == "100.5"


def test_off_engine_tick_is_rejected(h):
    replies = h.order("S1", "P", BUY, 20, "100.03", "SYM2")
    assert [(r[150], r[103]) for r in replies] == [("8", "99")]


@pytest.mark.parametrize("price", ["1e2", "abc", "10,5"])
def test_malformed_price(h, price):
    replies = h.order("S1", "P", BUY, 5, price)
    assert [(r[150], r[103], r[58]) for r in replies] == [("8", "99", f"Price {price} is not a number")]


def test_reject_texts_name_the_field_the_value_and_the_rule(h):
    """What the gateway refuses before the engine sees an order says which field, which
    value and which rule: a bot author can fix the request from the Text alone."""
    def text(*args, **kwargs):
        [reply] = h.order(*args, **kwargs)
        assert reply[150] == "8"
        return reply[58]
    assert text("S1", "a", BUY, 5, "100", "sym1") == "unknown symbol sym1 (symbols are case-sensitive: SYM1)"
    assert text("S1", "b", BUY, 5, "100", "NOPE") == "unknown symbol NOPE"
    assert text("S1", "c", BUY, "10.5", "100") == "OrderQty 10.5 is not a whole number of lots (lot size 1 of SYM1)"
    assert text("S1", "d", BUY, "ten", "100") == "OrderQty ten is not a number"
    assert text("S1", "e", BUY, 5, "100", "SYM1", "2", (111, "2.5")) == (
        "MaxFloor 2.5 is not a whole number of lots (lot size 1 of SYM1)")
    assert text("S1", "f", BUY, 5, None, "SYM1", "3", (99, "100.001")) == (
        "StopPx 100.001 is not a multiple of the tick size 0.01 of SYM1")
    assert text("S1", "g", BUY, 5, "100", "SYM1", "P") == (
        "unsupported OrdType P (this exchange takes 1 market, 2 limit, 3 stop, 4 stop-limit)")
    assert text("S1", "h", BUY, 5, "100", "SYM1", "2", (59, "2")) == (
        "unsupported TimeInForce 2 (this exchange takes 0 DAY, 1 GTC, 3 IOC, 4 FOK, 6 GTD)")
    assert text("S1", "i", "5", 5, "100") == "unsupported Side 5 (this exchange takes 1 buy, 2 sell)"
    [cancel_reject] = h.send("S1", "G", (41, "x"), (11, "y"), (55, "SYM1"), (54, BUY), (60, "20251124-16:00:00"),
                             (38, 5), (40, "2"), (44, "100"))
    assert cancel_reject[58] == "unknown order"


def test_price_on_market_order_is_refused(h):
    replies = h.order("S1", "M", BUY, 5, "100", "SYM1", "1")
    assert [(r[150], r[103]) for r in replies] == [("8", "11")]


@pytest.mark.parametrize("missing", [11, 55, 54, 38, 40])
def test_missing_required_field_is_business_reject(h, missing):
    fields = [(tag, value) for tag, value in
              [(11, "M1"), (55, "SYM1"), (54, "1"), (38, "5"), (40, "2"), (44, "100")] if tag != missing]
    replies = h.send("S1", "D", *fields)
    assert [(r.type, r[380], r[372]) for r in replies] == [("j", "5", "D")]
    assert str(missing) in replies[0][58]


# ---------------------------------------------------------------- F: cancel


def test_cancel_by_orig_cl_ord_id(h):
    order_id = h.order("S1", "O1", BUY, 5, "100")[0][37]
    replies = h.send("S1", "F", (41, "O1"), (11, "C1"), (55, "SYM1"), (54, "1"), (60, "20251124-16:00:00"))
    assert [(r[150], r[39], r[11], r[41], r[37], r[151]) for r in replies] == [
        ("4", "4", "C1", "O1", order_id, "0")]
    assert h.engine.book("SYM1").depth(1, 0) == [(10500, 10)]


def test_cancel_by_order_id(h):
    order_id = h.order("S1", "O1", BUY, 5, "100")[0][37]
    replies = h.send("S1", "F", (37, order_id), (11, "C1"), (55, "SYM1"), (54, "1"))
    assert [(r[150], r[41]) for r in replies] == [("4", "O1")]


def test_cancel_unknown_order(h):
    replies = h.send("S1", "F", (41, "NOPE"), (11, "C1"), (55, "SYM1"), (54, "1"))
    assert [(r.type, r[102], r[434], r[39], r[37], r[41]) for r in replies] == [("9", "1", "1", "8", "NONE", "NOPE")]


def test_cancel_other_sessions_order_is_unknown(h):
    order_id = h.order("S2", "O1", BUY, 5, "100")[0][37]
    replies = h.send("S1", "F", (37, order_id), (41, "O1"), (11, "C1"), (55, "SYM1"), (54, "1"))
    assert [(r.type, r[102]) for r in replies] == [("9", "1")]
    garbled_id = h.send("S1", "F", (37, "T-Oxyz"), (11, "C2"), (55, "SYM1"), (54, "1"))
    assert [(r.type, r[102]) for r in garbled_id] == [("9", "1")]


def test_cancel_filled_order_is_too_late(h):
    h.order("S1", "F1", BUY, 8, "108")
    replies = h.send("S1", "F", (41, "F1"), (11, "C1"), (55, "SYM1"), (54, "1"))
    assert [(r.type, r[102], r[39], r[434]) for r in replies] == [("9", "0", "2", "1")]


def test_cancel_twice_is_too_late_with_status_canceled(h):
    h.order("S1", "O1", BUY, 5, "100")
    h.send("S1", "F", (41, "O1"), (11, "C1"), (55, "SYM1"), (54, "1"))
    replies = h.send("S1", "F", (41, "C1"), (11, "C2"), (55, "SYM1"), (54, "1"))
    assert [(r.type, r[102], r[39]) for r in replies] == [("9", "0", "4")]


def test_cancel_with_duplicate_cl_ord_id(h):
    h.order("S1", "O1", BUY, 5, "100")
    replies = h.send("S1", "F", (41, "O1"), (11, "O1"), (55, "SYM1"), (54, "1"))
    assert [(r.type, r[102], r[39]) for r in replies] == [("9", "6", "0")]


def test_cancel_without_order_reference_is_business_reject(h):
    replies = h.send("S1", "F", (11, "C1"), (55, "SYM1"), (54, "1"))
    assert [(r.type, r[380]) for r in replies] == [("j", "5")]


# ---------------------------------------------------------------- G: replace


def replace(h, session, orig, new, qty, price=None, ord_type="2", *extra):
    fields = [(41, orig), (11, new), (55, "SYM1"), (54, "1"), (38, qty), (40, ord_type)]
    if price is not None:
        fields.append((44, price))
    return h.send(session, "G", *fields, *extra)


def test_replace_quantity_down(h):
    h.order("S1", "O1", BUY, 10, "100")
    replies = replace(h, "S1", "O1", "R1", 6, "100")
    assert [(r[150], r[39], r[11], r[41], r[38], r[151], r[44]) for r in replies] == [
        ("5", "0", "R1", "O1", "6", "6", "100")]
    # the new ClOrdID names the order now
    cancel = h.send("S1", "F", (41, "R1"), (11, "C1"), (55, "SYM1"), (54, "1"))
    assert [(r[150], r[41]) for r in cancel] == [("4", "R1")]


def test_replace_price_that_crosses_trades(h):
    h.order("S1", "O1", BUY, 10, "100")
    replies = replace(h, "S1", "O1", "R1", 10, "108")
    assert [(r[150], r[39]) for r in replies if r.session == "S1"] == [("5", "0"), ("F", "1")]
    assert replies[-1][11] == "R1" and replies[-1][44] == "108"


def test_replace_below_filled_cancels_remainder(h):
    h.order("S1", "O1", BUY, 20, "108")  # 8 filled, 12 resting
    replies = replace(h, "S1", "O1", "R1", 8, "108")
    assert [(r[150], r[39], r[11], r[41], r[14]) for r in replies] == [("4", "4", "R1", "O1", "8")]


def test_replace_unknown_order(h):
    replies = replace(h, "S1", "NOPE", "R1", 8, "108")
    assert [(r.type, r[102], r[434], r[39]) for r in replies] == [("9", "1", "2", "8")]


@pytest.mark.parametrize(
    "changes",
    [{40: "1"}, {54: "2"}, {55: "SYM2"}, {59: "1"}, {99: "90"}],
)
def test_replace_cannot_change_order_identity(h, changes):
    h.order("S1", "O1", BUY, 10, "100")
    fields = {41: "O1", 11: "R1", 55: "SYM1", 54: "1", 38: "10", 40: "2", 44: "100"}
    fields.update(changes)
    replies = h.send("S1", "G", *fields.items())
    assert [(r.type, r[102], r[434], r[39]) for r in replies] == [("9", "2", "2", "0")]


@pytest.mark.parametrize("qty, price, reason", [("x", "100", "99"), ("10", "100.001", "99"), ("10", "abc", "99"),
                                                ("0", "100", "99")])
def test_replace_bad_values(h, qty, price, reason):
    h.order("S1", "O1", BUY, 10, "100")
    replies = replace(h, "S1", "O1", "R1", qty, price)
    assert [(r.type, r[102]) for r in replies] == [("9", reason)]


def test_replace_filled_order_is_too_late(h):
    h.order("S1", "O1", BUY, 8, "108")
    replies = replace(h, "S1", "O1", "R1", 10, "100")
    assert [(r.type, r[102], r[39]) for r in replies] == [("9", "0", "2")]


def test_replace_duplicate_cl_ord_id(h):
    h.order("S1", "O1", BUY, 10, "100")
    h.order("S1", "O2", BUY, 10, "100")
    replies = replace(h, "S1", "O1", "O2", 5, "100")
    assert [(r.type, r[102]) for r in replies] == [("9", "6")]


@pytest.mark.parametrize("fields, missing", [
    (((11, ""), (41, "O1"), (38, 5), (40, "2"), (44, "100")), "11"),  # (an empty value is missing)
    (((11, "R1"), (38, 5), (40, "2"), (44, "100")), "41"),  # neither OrigClOrdID nor OrderID
    (((11, "R1"), (41, "O1"), (40, "2"), (44, "100")), "38"),
    (((11, "R1"), (41, "O1"), (38, 5), (44, "100")), "40"),
    (((41, "O1"), (37, "nonsense")), "11"),  # the first missing one is named
])
def test_replace_without_a_required_field_is_a_business_reject_naming_it(h, fields, missing):
    h.order("S1", "O1", BUY, 10, "100")
    replies = h.send("S1", "G", *fields, (55, "SYM1"), (54, "1"))
    assert [(r.type, r[380], r[58].split(" ")[2]) for r in replies] == [("j", "5", missing)]


def test_replace_limit_without_price_is_business_reject(h):
    h.order("S1", "O1", BUY, 10, "100")
    replies = replace(h, "S1", "O1", "R1", 5)
    assert [(r.type, r[380]) for r in replies] == [("j", "5")]


def test_replace_untriggered_stop_quantity(h):
    h.order("S1", "ST", BUY, 5, None, "SYM1", "3", (99, "120"))
    replies = replace(h, "S1", "ST", "R1", 7, None, "3", (99, "120"))
    assert [(r[150], r[38], r[99]) for r in replies] == [("5", "7", "120")]


# ---------------------------------------------------------------- H: status


def test_status_of_live_partially_filled_order(h):
    h.order("S1", "O1", BUY, 15, "109")
    replies = h.send("S1", "H", (11, "O1"), (55, "SYM1"), (54, "1"), (790, "Q1"))
    assert [(r[150], r[39], r[14], r[151], r[6], r[790], r[44]) for r in replies] == [
        ("I", "1", "8", "7", "108", "Q1", "109")]


def test_status_by_order_id_of_filled_and_canceled_orders(h):
    filled_id = h.order("S1", "O1", BUY, 8, "108")[0][37]
    replies = h.send("S1", "H", (37, filled_id), (11, "O1"), (55, "SYM1"), (54, "1"))
    assert [(r[150], r[39], r[14], r[151]) for r in replies] == [("I", "2", "8", "0")]
    h.order("S1", "O2", BUY, 5, "100")
    h.send("S1", "F", (41, "O2"), (11, "C2"), (55, "SYM1"), (54, "1"))
    canceled = h.send("S1", "H", (11, "C2"), (55, "SYM1"), (54, "1"))
    assert [(r[150], r[39], r[11]) for r in canceled] == [("I", "4", "C2")]


def test_status_of_final_order_the_engine_no_longer_retains():
    h = Harness()
    h.engine = h.gateway.engine = Engine(SPECS, retain_final=1)
    h.seed("SYM1", "sell", 8, 10800)
    h.order("S1", "O1", BUY, 8, "108")  # filled
    for n in range(3):  # later final orders push O1 out of the engine's retention
        h.order("S1", f"I{n}", BUY, 1, "100", "SYM1", None, (59, "3"))
    assert h.engine.order(1) is None
    replies = h.send("S1", "H", (11, "O1"), (55, "SYM1"), (54, "1"), (790, "Q1"))
    assert [(r[150], r[39], r[14], r[151], r[6], r[790]) for r in replies] == [("I", "2", "8", "0", "108", "Q1")]


def test_status_of_unknown_order(h):
    replies = h.send("S1", "H", (11, "NOPE"), (55, "SYM1"), (54, "1"), (790, "Q9"))
    assert [(r[150], r[39], r[103], r[37], r[790]) for r in replies] == [("I", "8", "5", "NONE", "Q9")]


def test_status_of_other_sessions_order_is_unknown(h):
    h.order("S2", "O1", BUY, 5, "100")
    replies = h.send("S1", "H", (11, "O1"), (55, "SYM1"), (54, "1"))
    assert [(r[150], r[39]) for r in replies] == [("I", "8")]


# ---------------------------------------------------------------- q: mass cancel


def test_mass_cancel_by_symbol_cancels_only_own_orders_there(h):
    h.order("S1", "A1", BUY, 5, "100")
    h.order("S1", "A2", SELL, 5, "120")
    h.order("S1", "B1", BUY, 20, "100", "SYM2")
    h.order("S2", "OTHER", BUY, 5, "100")
    replies = h.send("S1", "q", (11, "MC1"), (530, "1"), (55, "SYM1"), (60, "20251124-16:00:00"))
    canceled = of_type(replies, "8")
    assert sorted((r[11], r[150], r[39]) for r in canceled) == [("A1", "4", "4"), ("A2", "4", "4")]
    [report] = of_type(replies, "r")
    assert (report[11], report[530], report[531], report[533], report[55]) == ("MC1", "1", "1", "2", "SYM1")
    assert 532 not in report


def test_mass_cancel_all_with_side_filter(h):
    h.order("S1", "A1", BUY, 5, "100")
    h.order("S1", "A2", SELL, 5, "120")
    h.order("S1", "B1", BUY, 20, "100", "SYM2")
    replies = h.send("S1", "q", (11, "MC1"), (530, "7"), (54, "1"))
    assert sorted(r[11] for r in of_type(replies, "8")) == ["A1", "B1"]
    [report] = of_type(replies, "r")
    assert (report[531], report[533], report[54]) == ("7", "2", "1")


def test_mass_cancel_with_nothing_to_cancel(h):
    replies = h.send("S1", "q", (11, "MC1"), (530, "7"))
    assert [(r.type, r[531], r[533]) for r in replies] == [("r", "7", "0")]


@pytest.mark.parametrize(
    "fields, reject_reason",
    [([(530, "1"), (55, "NOPE")], "1"), ([(530, "3")], "0"), ([(530, "7"), (54, "9")], "99")],
)
def test_mass_cancel_rejects(h, fields, reject_reason):
    replies = h.send("S1", "q", (11, "MC1"), *fields)
    assert [(r.type, r[531], r[532]) for r in replies] == [("r", "0", reject_reason)]
    assert replies[0][58]


def test_mass_cancel_by_symbol_without_symbol_is_business_reject(h):
    replies = h.send("S1", "q", (11, "MC1"), (530, "1"))
    assert [(r.type, r[380]) for r in replies] == [("j", "5")]


# ---------------------------------------------------------------- ids, sessions, unsupported


def test_exec_ids_are_unique_and_prefixed(h):
    replies = h.order("S1", "A", BUY, 20) + h.order("S2", "B", BUY, 5, "100")
    exec_ids = [r[17] for r in replies]
    assert len(set(exec_ids)) == len(exec_ids) and all(e.startswith("T-") for e in exec_ids)
    assert all(r[37].startswith("T-O") for r in replies)


def test_default_prefix_derives_from_first_now_so_restarts_differ():
    first = Harness(prefix=None)
    second = Harness(prefix=None)
    a = first.order("S1", "A", BUY, 5, "100", now=NOW)[0][17]
    b = second.order("S1", "A", BUY, 5, "100", now=NOW + 1)[0][17]
    assert a != b and a.endswith("-1") and b.endswith("-1")


@pytest.mark.parametrize("msg_type", ["R", "8", "AE", "E"])
def test_unsupported_message_type_is_business_reject(h, msg_type):
    replies = h.send("S1", msg_type, (11, "X1"))
    assert [(r.type, r[380], r[372], r[45]) for r in replies] == [("j", "3", msg_type, "1")]


def test_orders_survive_disconnect_and_logon(h):
    assert h.gateway.on_logon("S1", NOW) == []
    h.order("S1", "O1", BUY, 5, "100")
    assert h.gateway.on_disconnect("S1", NOW) == []
    assert h.gateway.on_logon("S1", NOW) == []
    replies = h.send("S1", "F", (41, "O1"), (11, "C1"), (55, "SYM1"), (54, "1"))
    assert [r[150] for r in replies] == ["4"]


def test_gateway_mirrors_books_seeded_before_it_existed():
    engine = Engine(SPECS)
    engine.apply(NewOrder("SYM1", "HOUSE", Side.BUY, 10, price=10000))
    gateway = Gateway(SPECS, engine, "P-")
    assert gateway.market_data.levels("SYM1", Side.BUY) == [(10000, 10)]


def test_cancel_of_expired_order_reports_status_expired(h):
    h.order("S1", "GTD", BUY, 5, "100", "SYM1", "2", (59, "6"), (126, "20251124-16:00:10.000"))
    h.gateway.advance_time(NOW + 10)
    replies = h.send("S1", "F", (41, "GTD"), (11, "C1"), (55, "SYM1"), (54, "1"))
    assert [(r.type, r[102], r[39]) for r in replies] == [("9", "0", "C")]


# ---------------------------------------------------------------- property: reports match the engine

_STATUS_OF_VIEW = {0: "0", 1: "1", 2: "2", 4: "4", 12: "C"}

flow_actions = st.one_of(
    st.tuples(st.just("limit"), st.sampled_from(["S1", "S2", "S3"]), st.sampled_from([BUY, SELL]),
              st.integers(1, 8), st.integers(98, 102), st.sampled_from(["0", "1", "3", "4"]),
              st.sampled_from([None, None, 2])),
    st.tuples(st.just("market"), st.sampled_from(["S1", "S2", "S3"]), st.sampled_from([BUY, SELL]),
              st.integers(1, 10)),
    st.tuples(st.just("stop"), st.sampled_from(["S1", "S2"]), st.sampled_from([BUY, SELL]), st.integers(1, 5),
              st.integers(98, 102)),
    st.tuples(st.just("cancel"), st.integers(0, 50)),
    st.tuples(st.just("replace"), st.integers(0, 50), st.integers(1, 8), st.integers(98, 102)),
    st.tuples(st.just("status"), st.integers(0, 50)),
)


@settings(max_examples=60)
@given(st.lists(flow_actions, min_size=1, max_size=40))
def test_execution_reports_always_agree_with_the_engine(flow):
    """Random order flow from several sessions: each order's latest ExecutionReport carries the
    engine's CumQty/LeavesQty/OrdStatus and an exact AvgPx; ExecIDs never repeat."""
    h = Harness(stp_modes={"S1": "cancel_oldest", "S2": "decrement"})
    placed = []  # (session, current ClOrdID, side)
    latest = {}  # OrderID -> the last ER about it
    exec_ids = set()
    notional = {}  # OrderID -> sum of LastQty*LastPx
    decremented = {}  # OrderID -> what STP DECREMENT removed (150=D) since entry or the last replace
    for step, action in enumerate(flow):
        kind = action[0]
        replies = []
        if kind == "limit":
            _, session, side, qty, price, tif, floor = action
            extra = [(59, tif)] + ([(111, floor)] if floor and tif in "01" else [])
            replies = h.order(session, f"L{step}", side, qty, str(price), "SYM1", "2", *extra)
            placed.append([session, f"L{step}", side])
        elif kind == "market":
            _, session, side, qty = action
            replies = h.order(session, f"M{step}", side, qty)
        elif kind == "stop":
            _, session, side, qty, stop = action
            replies = h.order(session, f"S{step}", side, qty, None, "SYM1", "3", (99, str(stop)))
            placed.append([session, f"S{step}", side])
        elif placed:
            target = placed[action[1] % len(placed)]
            session, cl_ord_id, side = target
            if kind == "cancel":
                replies = h.send(session, "F", (41, cl_ord_id), (11, f"C{step}"), (55, "SYM1"), (54, side))
            elif kind == "replace":
                ord_type = "3" if cl_ord_id.startswith("S") else "2"
                price = [] if ord_type == "3" else [(44, str(action[3]))]
                replies = h.send(session, "G", (41, cl_ord_id), (11, f"R{step}"), (55, "SYM1"), (54, side),
                                 (38, action[2]), (40, ord_type), *price)
            else:
                replies = h.send(session, "H", (11, cl_ord_id), (55, "SYM1"), (54, side))
            for reply in replies:
                if reply.type == "8" and reply[11] != cl_ord_id and reply.get(41) == cl_ord_id:
                    target[1] = reply[11]
        for reply in replies:
            assert reply.type in ("8", "9"), reply
            if reply.type != "8" or reply[37] == "NONE":
                continue
            assert reply[17] not in exec_ids
            exec_ids.add(reply[17])
            if reply[150] == "F":
                notional[reply[37]] = notional.get(reply[37], 0) + Decimal(reply[32]) * Decimal(reply[31])
            elif reply[150] == "D":
                previous_leaves = int(latest[reply[37]][151])
                decremented[reply[37]] = decremented.get(reply[37], 0) + previous_leaves - int(reply[151])
            elif reply[150] == "5":
                decremented[reply[37]] = 0
            latest[reply[37]] = reply
    for order_id, reply in latest.items():
        view = h.engine.order(int(order_id.removeprefix("T-O")))
        assert (int(reply[14]), int(reply[151])) == (view.cum_qty, view.leaves_qty), (reply, view)
        assert reply[39] == _STATUS_OF_VIEW[view.status], (reply, view)
        # OrderQty leaves out what STP took without a trade: OrderQty = CumQty + LeavesQty while live
        assert int(reply[38]) == view.qty - decremented.get(order_id, 0), (reply, view)
        if reply[39] in ("0", "1"):
            assert int(reply[38]) == int(reply[14]) + int(reply[151]), reply
        if view.cum_qty:
            assert abs(Decimal(reply[6]) * view.cum_qty - notional[order_id]) <= Decimal("0.0001") * view.cum_qty


# ---------------------------------------------------------------- less travelled paths


def test_price_parse_cache_stays_bounded_and_correct(h):
    info = SymbolInfo(SPECS[0])
    for cents in range(info.PARSE_CACHE_LIMIT + 5):
        assert info.parse_price(b"%d.%02d" % divmod(cents, 100)) == cents
    assert len(info.price_cache) <= info.PARSE_CACHE_LIMIT


def test_replace_without_order_reference_is_business_reject(h):
    replies = h.send("S1", "G", (11, "R1"), (55, "SYM1"), (54, "1"), (38, 5), (40, "2"), (44, "100"))
    assert [(r.type, r[380]) for r in replies] == [("j", "5")]
    assert "41" in replies[0][58]


def test_seeded_orders_get_no_reports_but_move_market_data(h):
    outs = h.gateway.apply(MassCancel("HOUSE", "SYM1", None), NOW)
    assert outs == []  # nobody subscribed, and HOUSE is not a FIX session
    assert h.gateway.market_data.levels("SYM1", 2) == []
    assert h.gateway.market_data.levels("SYM1", 1) == []


class _RejectingEngine:
    """Wraps an engine; answers chosen command types with Rejected (states the engine only
    reaches in corner cases, e.g. an order forgotten after retain_final)."""

    def __init__(self, engine, rejected_types):
        self._engine = engine
        self._rejected_types = rejected_types

    def __getattr__(self, name):
        return getattr(self._engine, name)

    def execute(self, command):
        if isinstance(command, self._rejected_types):
            return [(Rejected, None, RejectReason.UNKNOWN_ORDER, "forgotten")]
        return self._engine.execute(command)


def test_engine_rejecting_status_and_mass_cancel():
    h = Harness()
    h.gateway.engine = _RejectingEngine(h.engine, (OrderStatusQuery, MassCancel))
    h.order("S1", "O1", BUY, 5, "100")
    status = h.send("S1", "H", (11, "O1"), (55, "SYM1"), (54, "1"))
    assert [(r[150], r[39], r[103]) for r in status] == [("I", "8", "5")]
    mass = h.send("S1", "q", (11, "MC"), (530, "7"))
    assert [(r.type, r[531], r[532], r[58]) for r in mass] == [("r", "0", "99", "forgotten")]


def test_advance_time_alone_sets_the_default_prefix():
    h = Harness(prefix=None)
    assert h.gateway.advance_time(NOW) == []
    exec_id = h.order("S1", "A", BUY, 5, "100", now=NOW + 5)[0][17]
    assert exec_id == "MIDC1Z40-1"  # base-36 milliseconds of the first now, not of the order's
    assert int("MIDC1Z40", 36) == NOW * 1000


# ---------------------------------------------------------------- G: fields a replace cannot change


@pytest.mark.parametrize(
    "entered, changes, field",
    [
        ([(111, "5")], [(111, "8")], "MaxFloor"),
        ([], [(111, "5")], "MaxFloor"),
        ([(110, "4")], [(110, "2")], "MinQty"),  # (MinQty must fill on entry: 8 of 20 at 108)
        ([], [(18, "6")], "ExecInst"),
        ([(18, "6")], [(18, "6 6 A")], "ExecInst"),
        ([(59, "6"), (126, "20251125-16:00:00")], [(59, "6"), (126, "20251126-16:00:00")], "ExpireTime"),
        ([(59, "6"), (432, "20251125")], [(59, "6"), (432, "20251126")], "ExpireDate"),
        ([], [(126, "20251126-16:00:00")], "ExpireTime"),
    ],
)
def test_replace_refuses_fields_the_engine_cannot_change(h, entered, changes, field):
    qty, price, status = (20, "108", "1") if (110, "4") in entered else (10, "100", "0")
    h.order("S1", "O1", BUY, qty, price, "SYM1", "2", *entered)
    replies = replace(h, "S1", "O1", "R1", 15, "101", "2", *changes)
    assert [(r.type, r[102], r[434], r[39], r[41], r[58]) for r in replies] == [
        ("9", "2", "2", status, "O1", f"{field} cannot be changed by a replace; cancel and enter a new order")]
    # nothing was applied: the order still answers to O1 with its old quantity and price
    replies = h.send("S1", "H", (11, "O1"), (55, "SYM1"), (54, "1"))
    assert [(r[38], r[44]) for r in replies] == [(str(qty), price)]


@pytest.mark.parametrize(
    "entered, repeated",
    [
        ([(111, "5")], [(111, "5")]),
        ([(110, "4")], [(110, "4")]),
        ([(18, "6")], [(18, "6")]),
        ([(59, "6"), (126, "20251125-16:00:00")], [(59, "6"), (126, "20251125-16:00:00.000")]),
        ([(59, "6"), (432, "20251125")], [(59, "6"), (432, "20251125")]),
        ([(59, "6"), (432, "20251125")], [(59, "6"), (126, "20251126-00:00:00")]),
        ([(111, "5"), (18, "6")], []),
    ],
)
def test_replace_repeating_unchangeable_fields_is_accepted(h, entered, repeated):
    qty, price = (20, "108") if (110, "4") in entered else (10, "100")
    h.order("S1", "O1", BUY, qty, price, "SYM1", "2", *entered)
    replies = replace(h, "S1", "O1", "R1", 15, "101", "2", *repeated)
    assert [(r[150], r[11], r[38], r[44]) for r in replies] == [("5", "R1", "15", "101")]


@pytest.mark.parametrize("changes", [[(111, "x")], [(110, "1.5")], [(432, "20251332")]])
def test_replace_with_unparseable_unchangeable_field_is_refused(h, changes):
    h.order("S1", "O1", BUY, 20, "108", "SYM1", "2", (111, "5"), (110, "4"))
    replies = replace(h, "S1", "O1", "R1", 15, "101", "2", *changes)
    assert [(r.type, r[102], r[434]) for r in replies] == [("9", "99", "2")]
    assert replies[0][58].startswith("invalid")


def test_answers_and_reports_to_a_request_addressed_to_a_firm_come_on_behalf_of_it():
    # DeliverTo* (128/129/145) of a request -> OnBehalfOf* (115/116/144) on its answers and
    # on every later report of the order it entered
    h = Harness()
    to_firm = ((128, b"BROKER2"), (129, b"DESK"), (145, b"NY"))
    [ack] = h.order("S1", "d1", "1", 5, "100", "SYM1", None, *to_firm)
    assert (ack[150], ack[115], ack[116], ack[144]) == ("0", "BROKER2", "DESK", "NY")
    assert 128 not in ack and 129 not in ack and 145 not in ack
    replies = h.order("S2", "s1", "2", 5, "100")
    [maker_fill] = [r for r in replies if r.session == "S1" and r.type == "8"]
    assert (maker_fill[150], maker_fill[115], maker_fill[116]) == ("F", "BROKER2", "DESK")
    [business] = h.send("S1", "R", (128, b"BROKER2"), (131, b"Q1"))
    assert (business.type, business[115]) == ("j", "BROKER2") and 128 not in business


def test_answers_and_reports_go_back_to_the_firm_an_order_was_sent_for():
    # OnBehalfOf* (115/116) of a request -> DeliverTo* (128/129) on its answers and on every
    # report of the order it entered, also the later ones; one session may trade for several
    # firms, so a fill goes to the firm of ITS order (Reply checks the fields are in the header)
    h = Harness()
    firm_a = ((115, b"FIRM_A"), (116, b"DESK1"))
    [ack_a] = h.order("S1", "a1", "1", 5, "100", "SYM1", None, *firm_a)
    assert (ack_a[150], ack_a[128], ack_a[129]) == ("0", "FIRM_A", "DESK1")
    [own] = h.order("S1", "own", "1", 1, "99")  # the session's own order: no routing
    assert own[150] == "0" and 128 not in own and 129 not in own
    replies = h.order("S2", "b1", "2", 5, "100", "SYM1", None, (115, b"FIRM_B"))
    reports = {(reply.session, reply[11], reply[150]): reply for reply in replies if reply.type == "8"}
    assert reports[("S2", "b1", "0")][128] == reports[("S2", "b1", "F")][128] == "FIRM_B"
    assert 129 not in reports[("S2", "b1", "F")]
    maker_fill = reports[("S1", "a1", "F")]  # unsolicited, during S2's request
    assert (maker_fill[128], maker_fill[129]) == ("FIRM_A", "DESK1")
    # answers that are not reports of an order: each carries the routing of its request
    [unknown_symbol] = h.order("S1", "a2", "1", 5, "100", "NOPE", None, *firm_a)
    assert (unknown_symbol[150], unknown_symbol[128]) == ("8", "FIRM_A")
    [too_late] = h.send("S1", "F", (115, b"FIRM_A"), (41, b"a1"), (11, b"a3"), (55, b"SYM1"), (54, b"1"))
    assert (too_late.type, too_late[128]) == ("9", "FIRM_A") and 129 not in too_late
    [status] = h.send("S1", "H", (115, b"FIRM_C"), (11, b"nope"), (55, b"SYM1"), (54, b"1"))
    assert (status[150], status[39], status[128]) == ("I", "8", "FIRM_C")
    [business] = h.send("S1", "R", (115, b"FIRM_C"), (131, b"Q1"))
    assert (business.type, business[128]) == ("j", "FIRM_C")
    # a mass cancel for firm A: its report goes to A, the cancel of the session's own order
    # (it cancels every order of the session) to the session as such
    replies = h.send("S1", "q", (115, b"FIRM_A"), (11, b"m1"), (530, b"7"))
    [mass] = of_type(replies, "r")
    [cancelled] = of_type(replies, "8")
    assert mass[128] == "FIRM_A" and (cancelled[11], cancelled[150]) == ("own", "4") and 128 not in cancelled
