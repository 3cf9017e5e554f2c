"""MarketDataRequest (V): W snapshots, X increments, Y rejects; SecurityList (x/y).

The central property: a client that applies every X to its W always holds exactly what a fresh
W shows, for full depth and top-N, and that equals the engine's own book."""

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from fixexchange.engine import Side
from fixexchange.gateway import TRADE_HISTORY
from fixexchange.gateway.units import format_price

from .support import NOW, SPECS, Harness, Reply, book_from_snapshot, of_type, x_entries

BUY, SELL = "1", "2"


def subscribe(h, session, req_id, symbols=("SYM1",), depth=0, update_type="1", entry_types=("0", "1", "2"),
              subscription_type="1", *extra):
    fields = [(262, req_id), (263, subscription_type), (264, depth), (265, update_type),
              (267, len(entry_types)), *[(269, t) for t in entry_types],
              (146, len(symbols)), *[(55, s) for s in symbols], *extra]
    return h.send(session, "V", *fields)


class BookClient:
    """A market-data client: W replaces its view of a symbol, X entries are applied in order."""

    def __init__(self) -> None:
        self.books: dict[str, tuple[dict, dict, list]] = {}
        # NumberOfOrders(346) per symbol: {(entry type, price text): count text}
        self.counts: dict[str, dict] = {}

    def apply(self, reply: Reply) -> None:
        if reply.type == "W":
            bids, offers, trades = book_from_snapshot(reply)
            self.books[reply[55]] = (bids, offers, trades)
            self.counts[reply[55]] = counts_from_snapshot(reply)
        elif reply.type == "X":
            for entry in x_entries(reply):
                bids, offers, trades = self.books[entry[55]]
                kind, action, price = entry[269], entry[279], entry[270]
                if kind != "2":
                    if action == "2":
                        self.counts[entry[55]].pop((kind, price), None)
                    else:
                        self.counts[entry[55]][(kind, price)] = entry[346]
                if kind == "2":
                    assert action == "0"
                    trades.append((price, entry[271]))
                    del trades[:-TRADE_HISTORY]
                    continue
                side = bids if kind == "0" else offers
                if action == "0":
                    assert price not in side, f"new for an existing level {entry}"
                    side[price] = entry[271]
                elif action == "1":
                    assert price in side, f"change for a missing level {entry}"
                    side[price] = entry[271]
                else:
                    assert action == "2" and price in side, f"delete for a missing level {entry}"
                    del side[price]


def fresh_snapshot(h, symbol, depth, entry_types, counts=False):
    [out] = h.gateway.market_data.snapshot("CHECK", b"CHK", (symbol,), depth,
                                                   frozenset(int(t) for t in entry_types))
    return counts_from_snapshot(Reply(out)) if counts else book_from_snapshot(Reply(out))


def counts_from_snapshot(reply) -> dict:
    """{(entry type, price text): NumberOfOrders text} of a W's level entries."""
    counts, kind, price = {}, None, None
    for tag, value in reply.fields:
        if tag == 269:
            kind = value.decode()
        elif tag == 270:
            price = value.decode()
        elif tag == 346:
            counts[(kind, price)] = value.decode()
    return counts


def engine_counts(h, symbol, depth, entry_types):
    book = h.engine.book(symbol)
    scale = book.spec.price_scale
    return {(kind, format_price(price, scale).decode()): str(orders)
            for kind, side in (("0", Side.BUY), ("1", Side.SELL)) if kind in entry_types
            for price, _, orders in book.depth(side, depth, orders=True)}


def engine_book(h, symbol, depth):
    book = h.engine.book(symbol)
    scale = book.spec.price_scale
    return tuple({format_price(price, scale).decode(): str(qty) for price, qty in book.depth(side, depth)}
                 for side in (Side.BUY, Side.SELL))


@pytest.fixture
def h():
    harness = Harness()
    harness.seed("SYM1", "sell", 8, 10800)
    harness.seed("SYM1", "sell", 12, 11000)
    harness.seed("SYM1", "buy", 10, 10500)
    return harness


# ---------------------------------------------------------------- snapshots and increments


def test_subscribe_answers_with_snapshot_then_increments(h):
    [snapshot] = subscribe(h, "MD", "R1")
    assert snapshot.type == "W" and snapshot.market_data
    assert (snapshot[262], snapshot[55], snapshot[268]) == ("R1", "SYM1", "3")
    assert book_from_snapshot(snapshot) == ({"105": "10"}, {"108": "8", "110": "12"}, [])
    replies = h.order("S1", "B", BUY, 10, "108")  # takes 8@108, rests 2@108
    [update] = of_type(replies, "X")
    assert update.session == "MD" and update.market_data and update[262] == "R1"
    # book levels first, then the trades of the same command
    assert [(e[279], e[269], e[270], e.get(271)) for e in x_entries(update)] == [
        ("2", "1", "108", None),  # the offer level is gone
        ("0", "0", "108", "2"),  # the remainder became the best bid
        ("0", "2", "108", "8"),  # the trade
    ]
    assert int(update[268]) == 3
    h.order("S1", "B2", BUY, 5, "105")
    [change] = of_type(h.order("S1", "B3", BUY, 1, "105"), "X")
    assert [(e[279], e[269], e[270], e[271]) for e in x_entries(change)] == [("1", "0", "105", "16")]


def test_levels_carry_their_number_of_orders(h):
    [snapshot] = subscribe(h, "MD", "R1")
    assert counts_from_snapshot(snapshot) == {("0", "105"): "1", ("1", "108"): "1", ("1", "110"): "1"}
    [joined] = of_type(h.order("S1", "B1", BUY, 5, "105"), "X")
    assert [(e[279], e[270], e[271], e[346]) for e in x_entries(joined)] == [("1", "105", "15", "2")]
    [new] = of_type(h.order("S1", "B2", BUY, 1, "106"), "X")
    assert [(e[279], e[270], e[271], e[346]) for e in x_entries(new)] == [("0", "106", "1", "1")]
    [left] = of_type(h.send("S1", "F", (41, "B1"), (11, "C1"), (55, "SYM1"), (54, BUY)), "X")
    assert [(e[279], e[270], e[271], e[346]) for e in x_entries(left)] == [("1", "105", "10", "1")]
    [gone] = of_type(h.send("S1", "F", (41, "B2"), (11, "C2"), (55, "SYM1"), (54, BUY)), "X")
    assert [(e[279], e[270], e.get(346)) for e in x_entries(gone)] == [("2", "106", None)]  # a delete has none
    # a one-off snapshot of a symbol nobody watches reads the counts from the engine's book
    h.order("S1", "B3", BUY, 10, "90", "SYM2")
    h.order("S1", "B4", BUY, 10, "90", "SYM2")
    assert fresh_snapshot(h, "SYM2", 0, ("0", "1"), counts=True) == {("0", "90"): "2"}


def test_top_n_levels_enter_and_leave(h):
    [snapshot] = subscribe(h, "MD", "TOP1", depth=1, entry_types=("1",))
    assert book_from_snapshot(snapshot) == ({}, {"108": "8"}, [])
    [better] = of_type(h.order("S1", "A", SELL, 1, "107"), "X")
    assert [(e[279], e[270]) for e in x_entries(better)] == [("0", "107"), ("2", "108")]
    assert of_type(h.order("S1", "W", SELL, 1, "112"), "X") == []  # outside the top 1
    [back] = of_type(h.send("S1", "F", (41, "A"), (11, "CA"), (55, "SYM1"), (54, "2")), "X")
    assert [(e[279], e[270], e.get(271)) for e in x_entries(back)] == [("2", "107", None), ("0", "108", "8")]
    assert x_entries(back)[1][346] == "1"  # the level pulled back in has its order count


def test_full_refresh_subscribers_get_a_fresh_snapshot_per_change(h):
    subscribe(h, "MD", "FULL", update_type="0")
    replies = h.order("S1", "B", BUY, 1, "106")
    [snapshot] = of_type(replies, "W")
    assert not of_type(replies, "X")
    assert book_from_snapshot(snapshot)[0] == {"106": "1", "105": "10"}


def test_entry_type_filter(h):
    subscribe(h, "MD", "TRADES", entry_types=("2",))
    assert of_type(h.order("S1", "B", BUY, 1, "106"), "X") == []  # bid only: nothing for trades
    [trades] = of_type(h.order("S1", "T", BUY, 3, "108"), "X")
    assert [(e[269], e[270], e[271]) for e in x_entries(trades)] == [("2", "108", "3")]


def test_trade_entries_say_when_the_trade_happened(h):
    """MDEntryDate/MDEntryTime on trades, in the X and in a later W, from the fill's TransactTime."""
    subscribe(h, "MD", "TRADES", entry_types=("2",))
    replies = h.order("S1", "T", BUY, 3, "108")
    [fill] = [r for r in replies if r.type == "8" and r.get(150) == "F" and r.session == "S1"]
    date, time_of_day = fill[60].split("-")
    [update] = of_type(replies, "X")
    assert [(e[272], e[273]) for e in x_entries(update)] == [(date, time_of_day)]
    [snapshot] = subscribe(h, "MD2", "LATER", entry_types=("2",))
    assert (snapshot.get(272), snapshot.get(273)) == (date, time_of_day)


def test_several_symbols_per_request(h):
    h.seed("SYM2", "buy", 20, 9000)
    snapshots = subscribe(h, "MD", "BOTH", symbols=("SYM1", "SYM2"))
    assert [(s.type, s[55]) for s in snapshots] == [("W", "SYM1"), ("W", "SYM2")]
    h.order("S1", "B2", BUY, 10, "90.05", "SYM2")
    replies = h.order("S1", "B1", BUY, 1, "106")
    [update] = of_type(replies, "X")
    assert [e[55] for e in x_entries(update)] == ["SYM1"]


def test_snapshot_only_request_does_not_subscribe(h):
    [snapshot] = subscribe(h, "MD", "SNAP", subscription_type="0")
    assert snapshot.type == "W"
    assert of_type(h.order("S1", "B", BUY, 1, "106"), "X") == []
    # the MDReqID of a snapshot is not remembered: it can be used to subscribe
    assert [r.type for r in subscribe(h, "MD", "SNAP")] == ["W"]


def test_unsubscribe_stops_updates(h):
    subscribe(h, "MD", "R1")
    assert h.send("MD", "V", (262, "R1"), (263, "2")) == []
    assert of_type(h.order("S1", "B", BUY, 1, "106"), "X") == []
    assert [r.type for r in subscribe(h, "MD", "R1")] == ["W"]  # the id is free again


def test_depth_is_mirrored_only_for_watched_symbols_and_built_on_subscribe(h):
    md = h.gateway.market_data
    assert md.watched == set()
    h.order("S1", "B1", BUY, 3, "105")  # SYM1 changes while nobody watches it
    assert md.mirror_size("SYM1") == 0
    # a one-off snapshot and levels() read the engine's book
    assert fresh_snapshot(h, "SYM1", 0, "01")[:2] == engine_book(h, "SYM1", 0)
    assert md.levels("SYM1", 1) == [(10500, 13)]
    client = BookClient()
    for reply in subscribe(h, "MD", "R1"):
        client.apply(reply)
    assert md.watched == {"SYM1"}
    assert client.books["SYM1"][:2] == engine_book(h, "SYM1", 0) == ({"105": "13"}, {"108": "8", "110": "12"})
    assert md.mirror_size("SYM1") == 3 * 3  # three levels: keys, quantities and order counts
    for reply in h.order("S1", "B2", BUY, 2, "106") + h.order("S1", "B3", SELL, 4, "105"):
        client.apply(reply)
    assert client.books["SYM1"][:2] == engine_book(h, "SYM1", 0)
    h.send("MD", "V", (262, "R1"), (263, "2"))
    assert md.watched == set() and md.mirror_size("SYM1") == 0
    h.order("S1", "B4", BUY, 1, "107")  # unwatched again: the next subscriber gets the book as it is
    client = BookClient()
    for reply in subscribe(h, "MD", "R2"):
        client.apply(reply)
    assert client.books["SYM1"][:2] == engine_book(h, "SYM1", 0)
    assert "107" in client.books["SYM1"][0]


def test_disconnect_drops_subscriptions_and_snapshot_for_refreshes(h):
    subscribe(h, "MD", "R1", symbols=("SYM1", "SYM2"))
    subscribe(h, "MD", "R2", depth=1, entry_types=("0",))
    refreshed = [Reply(out) for out in h.gateway.snapshot_for("MD", NOW)]
    assert [(r.type, r[262], r[55]) for r in refreshed] == [("W", "R1", "SYM1"), ("W", "R1", "SYM2"),
                                                           ("W", "R2", "SYM1")]
    assert book_from_snapshot(refreshed[2]) == ({"105": "10"}, {}, [])
    h.gateway.on_disconnect("MD", NOW)
    assert h.gateway.snapshot_for("MD", NOW) == []
    assert of_type(h.order("S1", "B", BUY, 1, "106"), "X") == []


def test_entries_pending_for_a_symbol_go_with_its_last_subscriber(h):
    """Entries are pending only for watched symbols (Gateway.on_message skips the flush when
    nothing is watched): a deferred update whose subscribers all left is dropped with them,
    not sent to the next subscriber after its W."""
    subscribe(h, "MD", "R1")
    h.gateway.defer_market_data = True
    h.order("S1", "B", BUY, 1, "106")
    h.order("S2", "S", SELL, 1, "106")  # a trade
    assert h.gateway.market_data_pending()
    h.gateway.on_disconnect("MD", NOW)
    assert not h.gateway.market_data_pending()
    assert h.gateway.flush_market_data() == []


def test_snapshot_carries_the_last_200_trades(h):
    h.seed("SYM1", "sell", 300, 11100)
    for index in range(250):
        h.order("S1", f"T{index}", BUY, 1, "111", "SYM1", "2", (59, "3"))
    [snapshot] = subscribe(h, "MD", "R1", entry_types=("2",))
    trades = book_from_snapshot(snapshot)[2]
    assert len(trades) == TRADE_HISTORY == 200
    # the first trades (8@108, 12@110) have scrolled out: only the last 200 remain
    assert set(trades) == {("111", "1")}


# ---------------------------------------------------------------- rejects


@pytest.mark.parametrize(
    "kwargs, reason",
    [
        ({"symbols": ("NOPE",)}, "0"),
        ({"entry_types": ("0", "4")}, "8"),
        ({"subscription_type": "5"}, "4"),
        ({"depth": "-1"}, "5"),
        ({"depth": "x"}, "5"),
        ({"update_type": "2"}, "6"),
    ],
)
def test_market_data_request_rejects(h, kwargs, reason):
    replies = subscribe(h, "MD", "R1", **kwargs)
    assert [(r.type, r[262], r[281]) for r in replies] == [("Y", "R1", reason)]
    assert replies[0].market_data and replies[0][58]


def test_non_aggregated_book_is_rejected(h):
    replies = subscribe(h, "MD", "R1", ("SYM1",), 0, "1", ("0",), "1", (266, "N"))
    assert [(r.type, r[281]) for r in replies] == [("Y", "7")]


def test_duplicate_md_req_id(h):
    subscribe(h, "MD", "R1")
    replies = subscribe(h, "MD", "R1", symbols=("SYM2",))
    assert [(r.type, r[281]) for r in replies] == [("Y", "1")]
    assert [r.type for r in subscribe(h, "MD2", "R1")] == ["W"]  # per session


def test_unsubscribe_unknown_md_req_id(h):
    replies = h.send("MD", "V", (262, "NOPE"), (263, "2"))
    assert [(r.type, r[262], r[58]) for r in replies] == [("Y", "NOPE", "unknown MDReqID")]
    assert 281 not in replies[0]


@pytest.mark.parametrize("drop", [269, 55, 264, 262])
def test_market_data_request_missing_fields(h, drop):
    fields = [(262, "R1"), (263, "1"), (264, "0"), (265, "1"), (267, 1), (269, "0"), (146, 1), (55, "SYM1")]
    replies = h.send("MD", "V", *[(tag, value) for tag, value in fields if tag != drop])
    assert [(r.type, r[380]) for r in replies] == [("j", "5")]


def test_missing_update_type_means_incremental(h):
    replies = h.send("MD", "V", (262, "R1"), (263, "1"), (264, "0"), (267, 1), (269, "0"), (146, 1), (55, "SYM1"))
    assert [r.type for r in replies] == ["W"]
    assert of_type(h.order("S1", "B", BUY, 1, "106"), "X")


# ---------------------------------------------------------------- security list


def test_security_list_all_symbols(h):
    [reply] = h.send("S1", "x", (320, "SL1"), (559, "4"))
    assert (reply.type, reply[320], reply[560], reply[393], reply[146]) == ("y", "SL1", "0", "2", "2")
    assert not reply.market_data and reply[322]
    groups = []
    for tag, value in reply.fields:
        if tag == 55:
            groups.append({})
        if groups:
            groups[-1][tag] = value.decode()
    assert groups == [{55: "SYM1", 561: "1", 562: "1", 58: "MinPriceIncrement=0.01 TradingStatus=open"},
                      {55: "SYM2", 561: "10", 562: "10", 58: "MinPriceIncrement=0.05 TradingStatus=open"}]


def test_security_list_with_min_price_increment_field():
    h = Harness(min_price_increment_field=True)
    [reply] = h.send("S1", "x", (320, "SL1"), (559, "4"), validate=False)
    assert [value for tag, value in reply.fields if tag == 969] == [b"0.01", b"0.05"]


def test_security_list_one_symbol_and_errors(h):
    [one] = h.send("S1", "x", (320, "SL1"), (559, "0"), (55, "SYM2"))
    assert (one[560], one[146], one[55], one[58]) == ("0", "1", "SYM2", "MinPriceIncrement=0.05 TradingStatus=open")
    [unknown] = h.send("S1", "x", (320, "SL2"), (559, "0"), (55, "NOPE"))
    assert (unknown.type, unknown[560]) == ("y", "2")
    [unsupported] = h.send("S1", "x", (320, "SL3"), (559, "2"))
    assert (unsupported.type, unsupported[560]) == ("y", "1")
    [missing] = h.send("S1", "x", (320, "SL4"), (559, "0"))
    assert (missing.type, missing[380]) == ("j", "5")


# ---------------------------------------------------------------- the property

SUBSCRIPTIONS = [  # (MDReqID, depth, entry types, incremental)
    ("FULL", 0, ("0", "1", "2"), True),
    ("TOP3", 3, ("0", "1", "2"), True),
    ("TOP1BID", 1, ("0",), True),
    ("REFRESH2", 2, ("0", "1"), False),
]

sessions = st.sampled_from(["S1", "S2", "S3"])
symbols = st.sampled_from(["SYM1", "SYM2"])
sides = st.sampled_from([BUY, SELL])
ticks = st.integers(min_value=-4, max_value=4)
actions = st.one_of(
    st.tuples(st.just("limit"), sessions, symbols, sides, st.integers(1, 6), ticks,
              st.sampled_from([None, None, "3", "1"]), st.sampled_from([None, None, 2])),
    st.tuples(st.just("market"), sessions, symbols, sides, st.integers(1, 8)),
    st.tuples(st.just("cancel"), sessions, st.integers(0, 40)),
    st.tuples(st.just("replace"), sessions, st.integers(0, 40), st.integers(1, 6), ticks),
    st.tuples(st.just("mass"), sessions, symbols),
)


def price_text(symbol, offset):
    spec = SPECS[0] if symbol == "SYM1" else SPECS[1]
    return format_price(10000 + offset * spec.tick * 5, spec.price_scale).decode()


market_data_actions = st.one_of(
    actions,
    st.tuples(st.just("resubscribe"), st.integers(0, len(SUBSCRIPTIONS) - 1)),
    st.tuples(st.just("flush")),
    st.tuples(st.just("refresh")),
)


def check_clients(h, clients, context):
    for req_id, depth, entry_types, _ in SUBSCRIPTIONS:
        for symbol in ("SYM1", "SYM2"):
            expected = fresh_snapshot(h, symbol, depth, entry_types)
            assert clients[req_id].books[symbol] == expected, (req_id, symbol, context)
            bids, offers = engine_book(h, symbol, depth)
            assert expected[:2] == (bids if "0" in entry_types else {}, offers if "1" in entry_types else {})
            # the live orders per level (NumberOfOrders) too: client == fresh W == engine
            counts = fresh_snapshot(h, symbol, depth, entry_types, counts=True)
            assert clients[req_id].counts[symbol] == counts, (req_id, symbol, context)
            assert counts == engine_counts(h, symbol, depth, entry_types), (req_id, symbol, context)


@settings(max_examples=150)
@given(st.lists(market_data_actions, min_size=1, max_size=40), st.booleans(), st.booleans())
def test_clients_applying_x_to_w_always_hold_a_fresh_snapshot(flow, deferred, conflated):
    """Random order flow; four subscriptions (full depth, top 3, top-1 bids only, full refresh
    top 2), unsubscribed and subscribed again at random, refreshed as after conflation.
    ``deferred``: market data flushed only at "flush" steps, as the server does once per
    event-loop turn; clients are compared whenever nothing is pending.  ``conflated`` (with
    ``deferred``): each flush sends the net change since the last one (the server's
    market_data_conflation_ms), and the clients' books and trades are still exact."""
    h = Harness()
    for spec in SPECS:  # resting depth on both sides so that top-N edges move from the start
        for offset in (2, 3, 5):
            h.seed(spec.symbol, "buy", 3 * spec.lot, 10000 - offset * spec.tick * 5)
            h.seed(spec.symbol, "sell", 3 * spec.lot, 10000 + offset * spec.tick * 5)
    h.gateway.defer_market_data = deferred
    h.gateway.conflate_market_data = deferred and conflated
    clients = {}

    def apply(replies):
        for reply in replies:
            if reply.session == "MD":
                clients[reply[262]].apply(reply)

    def start(index):
        req_id, depth, entry_types, incremental = SUBSCRIPTIONS[index]
        replies = subscribe(h, "MD", req_id, ("SYM1", "SYM2"), depth, "1" if incremental else "0", entry_types)
        apply([reply for reply in replies if reply.type == "X"])  # flushed for the others first
        clients[req_id] = BookClient()
        apply([reply for reply in replies if reply.type == "W"])

    for index in range(len(SUBSCRIPTIONS)):
        start(index)
    placed: list[tuple[str, str, str, str]] = []  # (session, ClOrdID, symbol, side)
    for step, action in enumerate(flow):
        kind = action[0]
        replies = []
        settled = not deferred
        if kind == "limit":
            _, session, symbol, side, lots, offset, tif, floor_lots = action
            lot = 1 if symbol == "SYM1" else 10
            extra = [(59, tif)] if tif else []
            if floor_lots and not tif:
                extra.append((111, floor_lots * lot))
            cl_ord_id = f"O{step}"
            replies = h.order(session, cl_ord_id, side, lots * lot, price_text(symbol, offset), symbol, "2", *extra)
            placed.append((session, cl_ord_id, symbol, side))
        elif kind == "market":
            _, session, symbol, side, lots = action
            lot = 1 if symbol == "SYM1" else 10
            replies = h.order(session, f"M{step}", side, lots * lot, None, symbol)
        elif kind == "cancel" and placed:
            session, cl_ord_id, symbol, side = placed[action[2] % len(placed)]
            replies = h.send(session, "F", (41, cl_ord_id), (11, f"C{step}"), (55, symbol), (54, side))
        elif kind == "replace" and placed:
            index = action[2] % len(placed)
            session, cl_ord_id, symbol, side = placed[index]
            lot = 1 if symbol == "SYM1" else 10
            replies = h.send(session, "G", (41, cl_ord_id), (11, f"R{step}"), (55, symbol), (54, side),
                             (38, action[3] * lot), (40, "2"), (44, price_text(symbol, action[4])))
            if any(r.type == "8" and r[150] == "5" for r in replies):
                placed[index] = (session, f"R{step}", symbol, side)
        elif kind == "mass":
            replies = h.send(action[1], "q", (11, f"Q{step}"), (530, "1"), (55, action[2]))
        elif kind == "resubscribe":
            req_id = SUBSCRIPTIONS[action[1]][0]
            apply(h.send("MD", "V", (262, req_id), (263, "2")))
            start(action[1])
            settled = True
        elif kind == "flush":
            pending = h.gateway.market_data_pending()
            replies = [Reply(out) for out in h.gateway.flush_market_data()]
            # the server skips the turn's flush when nothing is pending: nothing may be lost
            assert pending or not replies, (step, action)
            assert not h.gateway.market_data_pending()
            settled = True
        elif kind == "refresh":
            replies = [Reply(out) for out in h.gateway.snapshot_for("MD", NOW)]
            settled = True
        apply(replies)
        if settled:
            check_clients(h, clients, (step, action))
    apply([Reply(out) for out in h.gateway.flush_market_data()])
    check_clients(h, clients, "end")


def test_mass_cancel_across_symbols_is_one_x_per_subscription(h):
    h.order("S1", "A", BUY, 1, "106")
    h.order("S1", "B", BUY, 10, "90", "SYM2")
    subscribe(h, "MD", "BOTH", symbols=("SYM1", "SYM2"))
    replies = h.send("S1", "q", (11, "MC"), (530, "7"))
    [update] = of_type(replies, "X")
    assert [(e[55], e[279], e[270]) for e in x_entries(update)] == [("SYM1", "2", "106"), ("SYM2", "2", "90")]
    assert update[268] == "2"


def test_unsubscribing_one_of_two_same_depth_subscriptions(h):
    subscribe(h, "MD", "R1")
    subscribe(h, "MD2", "R2")
    h.send("MD", "V", (262, "R1"), (263, "2"))
    [update] = of_type(h.order("S1", "B", BUY, 1, "106"), "X")
    assert update.session == "MD2"


def test_multi_symbol_x_is_the_same_under_every_hash_seed():
    # the X's entries follow the order of the book changes, never the order of str hashes
    import os
    import subprocess
    import sys
    from pathlib import Path

    script = (
        "from tests.gateway.support import Harness, Reply, x_entries\n"
        "from tests.gateway.test_marketdata import subscribe\n"
        "h = Harness()\n"
        "subscribe(h, 'MD', 'BOTH', symbols=('SYM1', 'SYM2'))\n"
        "h.gateway.defer_market_data = True\n"
        "h.order('S1', 'A', '1', 10, '90', 'SYM2')\n"
        "h.order('S1', 'B', '1', 1, '106')\n"
        "[x] = [Reply(out) for out in h.gateway.flush_market_data()]\n"
        "print([(e[55], e[270]) for e in x_entries(x)])\n"
    )
    root = Path(__file__).resolve().parents[2]
    outputs = set()
    for seed in range(6):
        env = {**os.environ, "PYTHONHASHSEED": str(seed), "PYTHONPATH": str(root)}
        outputs.add(subprocess.run([sys.executable, "-c", script], cwd=root, env=env, capture_output=True,
                                   text=True, check=True).stdout)
    assert outputs == {"[('SYM2', '90'), ('SYM1', '106')]\n"}


@pytest.mark.parametrize("stp", ["none", "cancel_newest"])
def test_one_engine_trade_is_taker_er_maker_er_then_the_trade_print(stp):
    """The engine's Trade event (both fills and the print in one) gives, per trade, the
    taker's ER then the maker's ER (each only for a FIX order: the seeded HOUSE order gets
    none), and the trade entries in the X, in trade order.  The same with the daemon's
    default STP mode (the engine's fast path with an STP mode)."""
    h = Harness(default_stp=stp)
    h.seed("SYM1", "sell", 2, 10700)
    h.order("S2", "M1", SELL, 3, "107")
    h.order("S3", "M2", SELL, 4, "107.5")
    subscribe(h, "MD", "ALL")
    replies = h.order("S1", "T", BUY, 8, "108")
    ers = [(r.session, r[150], r[11], r.get(32), r.get(31), r[151], r[14], r[6]) for r in of_type(replies, "8")]
    assert ers == [
        ("S1", "0", "T", None, None, "8", "0", "0"),
        ("S1", "F", "T", "2", "107", "6", "2", "107"),  # HOUSE's maker fill: no ER
        ("S1", "F", "T", "3", "107", "3", "5", "107"),
        ("S2", "F", "M1", "3", "107", "0", "3", "107"),
        ("S1", "F", "T", "3", "107.5", "0", "8", "107.1875"),
        ("S3", "F", "M2", "3", "107.5", "1", "3", "107.5"),
    ]
    assert replies.index(of_type(replies, "X")[0]) == len(replies) - 1
    [update] = of_type(replies, "X")
    trades = [(e[270], e[271]) for e in x_entries(update) if e[269] == "2"]
    assert trades == [("107", "2"), ("107", "3"), ("107.5", "3")]


def test_security_list_min_price_increment_per_session():
    h = Harness(extensions={"S1": ["min_price_increment"]})
    [with_field] = h.send("S1", "x", (320, "SL1"), (559, "4"))
    [without] = h.send("S2", "x", (320, "SL1"), (559, "4"))
    assert [value for tag, value in with_field.fields if tag == 969] == [b"0.01", b"0.05"]
    assert 969 not in without.message


@pytest.mark.parametrize("update_type", ["1", "0"])
def test_aggressor_side_on_trade_entries_for_sessions_that_opted_in(update_type):
    """AggressorSide(2446) is no FIX 4.4 field: only sessions with the `aggressor_side`
    extension get it, on every trade entry (X, W and the trades a later W repeats)."""
    h = Harness(extensions={"MDX": ["aggressor_side"]})
    h.seed("SYM1", "sell", 8, 10800)
    h.seed("SYM1", "buy", 10, 10500)
    subscribe(h, "MDX", "a", update_type=update_type)
    subscribe(h, "MD", "b", update_type=update_type)
    replies = h.order("S1", "T1", BUY, 3, "108") + h.order("S2", "T2", SELL, 4, "105")
    md = {r.session: [] for r in replies if r.market_data}
    for r in replies:
        if r.market_data:
            md[r.session].append(r)
    sides = [v for r in md["MDX"] for tag, v in r.fields if tag == 2446]
    if update_type == "1":
        assert sides == [b"1", b"2"]  # a buy took the offer, then a sell hit the bid
    else:  # each W repeats the trades so far
        assert sides == [b"1", b"1", b"2"]
    assert not [v for r in md["MD"] for tag, v in r.fields if tag == 2446]
    [snapshot] = subscribe(h, "MDX", "c", subscription_type="0")
    assert [v for tag, v in snapshot.fields if tag == 2446] == [b"1", b"2"]
    [plain] = subscribe(h, "MD", "d", subscription_type="0")
    assert 2446 not in plain.message


def conflating(h):
    """Subscriptions (full depth, top 2 without trades) on an unseeded book, then
    conflation as the server sets it (market_data_conflation_ms)."""
    subscribe(h, "MD", "FULL")
    subscribe(h, "MD", "TOP2", ("SYM1",), 2, "1", ("0", "1"))
    h.gateway.defer_market_data = True
    h.gateway.conflate_market_data = True


def level_entries(update):
    return [(e[279], e[269], e[270], e[271] if e[279] != "2" else None) for e in x_entries(update) if e[269] != "2"]


def test_conflation_sends_the_net_change_of_each_level():
    h = Harness()
    h.order("S1", "KEEP", BUY, 4, "104")
    conflating(h)
    h.order("S1", "A", BUY, 1, "106")  # new, then grown by another order: new 106 x 3
    h.order("S2", "B", BUY, 2, "106")
    h.order("S1", "C", BUY, 5, "107")  # new and gone again: nothing
    h.send("S1", "F", (41, "C"), (11, "C2"), (55, "SYM1"), (54, BUY))
    h.send("S1", "F", (41, "KEEP"), (11, "K2"), (55, "SYM1"), (54, BUY))  # deleted
    h.order("S1", "K3", BUY, 4, "104")  # and back with the same size and count: nothing
    h.order("S1", "D", BUY, 2, "103")
    replies = [Reply(out) for out in h.gateway.flush_market_data()]
    full = [r for r in replies if r[262] == "FULL"]
    [update] = full
    assert level_entries(update) == [("0", "0", "106", "3"), ("0", "0", "103", "2")]
    assert [e[346] for e in x_entries(update)] == ["2", "1"]
    # top 2 was 104; now 106, 104: 106 comes in, 103 stays out
    [top2] = [r for r in replies if r[262] == "TOP2"]
    assert level_entries(top2) == [("0", "0", "106", "3")]
    assert not h.gateway.market_data_pending()
    assert h.gateway.flush_market_data() == []


def test_conflation_top_n_levels_pushed_out_and_pulled_in():
    h = Harness()
    for price in ("104", "103", "102"):
        h.order("S1", f"P{price}", BUY, 1, price)
    conflating(h)
    h.order("S1", "N", BUY, 1, "105")  # pushes 103 out of the top 2
    h.send("S1", "F", (41, "P104"), (11, "X104"), (55, "SYM1"), (54, BUY))  # pulls 103 back in
    h.send("S1", "F", (41, "N"), (11, "XN"), (55, "SYM1"), (54, BUY))  # and 102
    [top2] = [Reply(out) for out in h.gateway.flush_market_data() if Reply(out)[262] == "TOP2"]
    assert sorted(level_entries(top2)) == [("0", "0", "102", "1"), ("2", "0", "104", None)]


def test_conflation_reports_every_trade_and_holds_one_entry_per_level():
    """Memory and message size are bounded by the levels changed, not by the orders: 400
    orders on three prices give an X of at most three level entries (and every trade)."""
    h = Harness()
    conflating(h)
    trades = 0
    for i in range(100):
        h.order("S1", f"B{i}", BUY, 2, "105")
        h.order("S2", f"S{i}", SELL, 1, "105")  # a trade each; 105 bid changes
        trades += 1
        h.order("S1", f"Q{i}", BUY, 1, "104")
        h.send("S1", "F", (41, f"Q{i}"), (11, f"QC{i}"), (55, "SYM1"), (54, BUY))
        h.order("S2", f"O{i}", SELL, 1, "110")
    assert h.gateway.market_data.conflated_levels("SYM1") == 3
    first, second = [Reply(out) for out in h.gateway.flush_market_data() if Reply(out)[262] == "FULL"]
    assert level_entries(first) == [("0", "0", "105", "100"), ("0", "1", "110", "100")]
    # 102 entries: two X (at most MAX_ENTRIES_PER_X each), every trade once
    assert [update[268] for update in (first, second)] == ["100", "2"]
    assert sum(1 for update in (first, second) for e in x_entries(update) if e[269] == "2") == trades


def test_an_update_of_many_entries_comes_as_several_x():
    h = Harness()
    subscribe(h, "MD", "ONE")
    subscribe(h, "MD2", "BOTH", ("SYM1", "SYM2"))
    h.gateway.defer_market_data = True
    for i in range(130):  # 130 new levels of SYM1, 30 of SYM2 in one turn
        h.order("S1", f"A{i}", BUY, 1, price_text("SYM1", -i - 1))
    for i in range(30):
        h.order("S1", f"B{i}", BUY, 10, price_text("SYM2", -i - 1), "SYM2")
    replies = [Reply(out) for out in h.gateway.flush_market_data()]
    assert [(r.session, r[268]) for r in replies] == [("MD", "100"), ("MD", "30"), ("MD2", "100"), ("MD2", "60")]
    # (SYM1's last 30 and SYM2's 30 share the second X of the two-symbol subscription)
    assert [e[55] for e in x_entries(replies[3])] == ["SYM1"] * 30 + ["SYM2"] * 30
