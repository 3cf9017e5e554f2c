"""The client-side book: rebuilt only from hand-built W and X messages."""


import simplefix

from fixexchange.cli import book as bookmod
from fixexchange.cli.client import groups
from fixexchange.cli.md import MarketView, MdRejected


def message(kind, fields):
    msg = simplefix.FixMessage()
    msg.append_pair(8, "FIX.4.4")
    msg.append_pair(35, kind)
    for tag, value in fields:
        msg.append_pair(tag, value)
    # round-trip through the wire format, as the tools receive it
    parser = simplefix.FixParser()
    parser.append_buffer(msg.encode())
    return parser.get_message()


def snapshot(req, symbol, bids, asks, trades=()):
    fields = [(262, req), (55, symbol), (268, len(bids) + len(asks) + len(trades))]
    for px, qty in bids:
        fields += [(269, "0"), (270, px), (271, qty)]
    for px, qty in asks:
        fields += [(269, "1"), (270, px), (271, qty)]
    for px, qty in trades:
        fields += [(269, "2"), (270, px), (271, qty)]
    return message("W", fields)


def incremental(req, entries):
    fields = [(262, req), (268, len(entries))]
    for action, kind, symbol, px, *qty in entries:
        fields += [(279, action), (269, kind), (55, symbol), (270, px)]
        if qty:
            fields.append((271, qty[0]))
    return message("X", fields)


SEED_BIDS = [("105", 100), ("104", 100), ("103", 100), ("102", 100), ("101", 100)]
SEED_ASKS = [("110", 100), ("111", 100), ("112", 100), ("113", 100), ("114", 100)]


def subscribed(symbols=("SYM1",)):
    view = MarketView(list(symbols), depth=5, trades=5)
    fields = view.next_request()
    assert (262, view.req_id) in fields and (263, "1") in fields and (265, 1) in fields
    for symbol in symbols:
        view.on_message(snapshot(view.req_id, symbol, SEED_BIDS, SEED_ASKS))
    return view


def test_groups_reads_entries():
    msg = snapshot("r", "SYM1", [("105", 1)], [("110", 2)], [("107", 3)])
    assert groups(msg, 268, 269) == [
        {269: "0", 270: "105", 271: "1"}, {269: "1", 270: "110", 271: "2"},
        {269: "2", 270: "107", 271: "3"}]


def test_snapshot_then_incrementals():
    view = subscribed()
    book = view.books["SYM1"]
    assert view.ready()
    assert book.top_bids(1)[0][0] == bookmod.Decimal("105")
    view.on_message(incremental(view.req_id, [
        ("1", "1", "SYM1", "110", 40),       # ask 110 partly taken
        ("0", "0", "SYM1", "106.5", 7),      # new bid level
        ("2", "0", "SYM1", "101"),           # bid level gone
        ("0", "2", "SYM1", "110", 60),       # the trade
    ]))
    bids, asks = book.levels()
    assert bids == [("106.5", "7"), ("105", "100"), ("104", "100"), ("103", "100"),
                    ("102", "100")]
    assert asks[0] == ("110", "40")
    trade = book.trades[-1]
    assert (trade.price, trade.size, trade.side) == (110, 60, "BUY")  # took an offer
    assert trade.time != "-"
    assert not view.need_resubscribe and not view.warnings


def test_trade_aggressor_from_tags_and_bid_side():
    view = subscribed()
    view.on_message(incremental(view.req_id, [("2", "0", "SYM1", "105"),
                                              ("0", "2", "SYM1", "105", 100)]))
    assert view.books["SYM1"].trades[-1].side == "SELL"
    msg = message("X", [(262, view.req_id), (268, 1), (279, "0"), (269, "2"), (55, "SYM1"),
                        (270, "108"), (271, "1"), (273, "20260101-12:00:01.250"),
                        (2446, "1")])
    view.on_message(msg)
    trade = view.books["SYM1"].trades[-1]
    assert (trade.side, trade.time) == ("BUY", "12:00:01.250")
    view.on_message(incremental(view.req_id, [("0", "2", "SYM1", "108", 1)]))
    assert view.books["SYM1"].trades[-1].side == "?"


def test_snapshot_trades_are_kept_in_order_and_bounded():
    view = MarketView(["SYM1"], trades=2)
    view.next_request()
    view.on_message(snapshot(view.req_id, "SYM1", [], [], [("1", 1), ("2", 2), ("3", 3)]))
    assert [t.price for t in view.books["SYM1"].trades] == [2, 3]
    assert view.books["SYM1"].trades[-1].time == "-"


def test_messages_of_another_request_are_ignored():
    view = subscribed()
    view.on_message(incremental("old-request", [("2", "0", "SYM1", "105")]))
    view.on_message(snapshot("old-request", "SYM1", [], []))
    assert view.books["SYM1"].levels()[0][0] == ("105", "100")
    assert not view.need_resubscribe


def test_inconsistent_updates_drop_the_book_and_resubscribe():
    for bad in (("0", "0", "SYM1", "105", 5),     # new level already there
                ("1", "1", "SYM1", "109", 5),     # change of a missing level
                ("2", "1", "SYM1", "109"),        # delete of a missing level
                ("7", "1", "SYM1", "110", 1),     # unknown action
                ("1", "1", "SYM1", "abc", 1)):    # garbage price
        view = subscribed()
        old = view.req_id
        view.on_message(incremental(view.req_id, [bad]))
        assert view.need_resubscribe, bad
        assert not view.ready()
        assert "WARNING inconsistent update" in view.warnings[-1]
        assert view.unreported == view.warnings
        lines = view.render()
        assert lines[0].endswith("book dropped, resubscribed")
        assert "SYM1  (waiting for a snapshot)" in lines
        # until resubscribed, further X are ignored; the new request gets a fresh id
        view.on_message(incremental(old, [("2", "0", "SYM1", "104")]))
        fields = view.next_request()
        assert view.req_id != old and (263, "1") in fields
        view.on_message(snapshot(view.req_id, "SYM1", SEED_BIDS, SEED_ASKS))
        assert view.ready()


def test_incremental_before_snapshot_is_inconsistent():
    view = MarketView(["SYM1"])
    view.next_request()
    view.on_message(incremental(view.req_id, [("2", "0", "SYM1", "105")]))
    assert view.need_resubscribe


def test_sequence_gap_warns_and_resubscribes():
    view = subscribed(("SYM1", "SYM2"))
    view.on_seq_gap(7, 9)
    assert view.need_resubscribe and not view.ready()
    assert "MsgSeqNum gap (expected 7, got 9)" in view.warnings[-1]
    for _ in range(5):
        view.on_seq_gap(1, 2)
    assert len(view.warnings) == 3  # only the last few stay on screen


def test_reject_raises_one_line():
    view = subscribed()
    try:
        view.on_message(message("Y", [(262, view.req_id), (281, "0"),
                                      (58, "unknown symbol SYMX")]))
    except MdRejected as exc:
        assert str(exc) == "market data request rejected: unknown symbol SYMX"
        assert exc.code == 1
    else:
        raise AssertionError("no MdRejected")


def test_render_ladder():
    view = subscribed()
    view.on_message(incremental(view.req_id, [("1", "1", "SYM1", "110", 40),
                                              ("0", "2", "SYM1", "110", 60)]))
    lines = bookmod.render(view.books["SYM1"], depth=3, trades=5)
    assert lines[0] == "SYM1  spread 5  (bid 105 / ask 110)"
    assert lines[1].split() == ["BID", "SIZE", "PRICE", "ASK", "SIZE"]
    assert [line.split() for line in lines[2:8]] == [
        ["112", "100"], ["111", "100"], ["110", "40"],
        ["100", "105"], ["100", "104"], ["100", "103"]]
    assert lines[8] == "last trades:"
    assert lines[9].split()[1:] == ["BUY", "60", "@", "110"]


def test_render_one_sided_and_empty():
    book = bookmod.Book("S")
    book.apply_snapshot([])
    assert "empty book" in bookmod.render(book)[0]
    assert "(empty)" in bookmod.render(book)[2]
    book.apply_snapshot([{269: "0", 270: "1.50", 271: "2"}])
    assert bookmod.render(book)[0] == "S  spread -  (bid 1.5 / no asks)"
    book.apply_snapshot([{269: "1", 270: "2", 271: "2"}])
    assert bookmod.render(book)[0] == "S  spread -  (no bids / ask 2)"
