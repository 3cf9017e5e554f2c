"""fix-md's full-screen ladder: the screen layout (a pure function of the books, the size
and the clock) and the Textual app driven headless by its own pilot."""
from __future__ import annotations

import asyncio
import re
from decimal import Decimal

import pytest

from fixexchange.cli import ladder
from fixexchange.cli.client import SessionClosed
from fixexchange.cli.md import MarketView

from .test_book import SEED_ASKS, SEED_BIDS, incremental, message, snapshot


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def make_view(symbols=("SYM1",), depth=5, trades=5, clock=None):
    view = MarketView(list(symbols), depth=depth, trades=trades, clock=clock or Clock())
    view.next_request()
    for symbol in symbols:
        view.on_message(snapshot(view.req_id, symbol, SEED_BIDS, SEED_ASKS))
    return view


def text_of(result):
    return [line.plain for line in result.lines]


def style_at(line, column):
    """The style names of the cell at `column` of a Rich Text line."""
    return " ".join(str(span.style) for span in line.spans if span.start <= column < span.end)


def test_wide_terminal_ladder_columns_line_up():
    view = make_view()
    view.ticks["SYM1"] = Decimal("0.01")
    result = ladder.layout(view, 100, 30, 0, view.clock())
    lines = text_of(result)
    assert all(len(line) == 100 for line in lines) and len(lines) == 30
    assert lines[0].startswith("fix-md") and lines[0].endswith("q quit")
    assert lines[1].startswith("SYM1")
    assert lines[2].startswith("last -  vol 0")
    assert lines[4].startswith("spread 5.00 = 500 ticks")
    header = lines[5]
    assert header.split() == ["CUM", "BID", "PRICE", "ASK", "CUM"]
    rows = lines[6:16]
    # asks (worst first) above bids; sizes right-aligned under their headers, prices with
    # the tick's decimals, cumulative sizes growing away from the touch
    assert [r.split() for r in rows[:5]] == [["114.00", "100", "500"], ["113.00", "100", "400"],
                                             ["112.00", "100", "300"], ["111.00", "100", "200"],
                                             ["110.00", "100", "100"]]
    assert [r.split() for r in rows[5:]] == [["100", "100", "105.00"], ["200", "100", "104.00"],
                                             ["300", "100", "103.00"], ["400", "100", "102.00"],
                                             ["500", "100", "101.00"]]
    ask_end = header.index("ASK") + 3
    bid_end = header.index("BID") + 3
    assert all(r[ask_end - 3:ask_end] == "100" for r in rows[:5])
    assert all(r[bid_end - 3:bid_end] == "100" for r in rows[5:])
    assert all(r.index(".00") == rows[0].index(".00") for r in rows)  # one price column


def test_colours_and_flashes_of_changed_levels_and_trades():
    clock = Clock()
    view = make_view(clock=clock)
    row_of = {}

    def screen():
        """The ladder's rows by the price in their price column."""
        result = ladder.layout(view, 100, 30, 0, clock())
        header = result.lines[5].plain
        start = header.index("BID") + 4
        row_of.clear()
        for line in result.lines[6:16]:
            price = line.plain[start:start + 10].strip()
            if price:
                row_of[price] = line
        return result

    screen()
    assert "green" in style_at(row_of["105"], row_of["105"].plain.index("100", 6))
    assert "red" in style_at(row_of["110"], row_of["110"].plain.rindex("100") - 10)
    assert "on" not in " ".join(str(s.style) for s in row_of["111"].spans)  # no flash yet
    # a trade at 110 takes 60 of the ask and a new bid arrives at 106
    view.on_message(incremental(view.req_id, [("1", "1", "SYM1", "110", 40), ("0", "2", "SYM1", "110", 60),
                                              ("0", "0", "SYM1", "106", 5)]))
    clock.now += 0.2
    result = screen()
    lines = text_of(result)
    assert lines[2].startswith("last 110 x60 BUY  vol 60")
    assert lines[3].startswith("H 110  L 110  VWAP 110")
    ask = row_of["110"]
    size_at = ask.plain.index("40")
    assert ladder.ASK_FLASH in style_at(ask, size_at)
    assert ladder.TRADE_FLASH in style_at(ask, ask.plain.index("110"))  # the traded price
    assert ladder.TRADE_FLASH in style_at(result.lines[2], 0)  # and the last-trade line
    bid = row_of["106"]
    assert ladder.BID_FLASH in style_at(bid, bid.plain.index("5", 9))  # the size, not the CUM
    assert ladder.BID_FLASH not in style_at(bid, bid.plain.index("5"))
    assert ladder.BID_FLASH not in " ".join(str(s.style) for s in row_of["105"].spans)
    # the flash is over after FLASH_S
    clock.now += ladder.FLASH_S
    result = screen()
    assert ladder.ASK_FLASH not in " ".join(str(s.style) for s in row_of["110"].spans)
    assert ladder.TRADE_FLASH not in " ".join(str(s.style) for line in result.lines for s in line.spans)
    # the tape shows the trade with its aggressor side
    tape = [line for line in text_of(result) if "SYM1     BUY" in line]
    assert len(tape) == 1 and tape[0].rstrip().endswith("60 @ 110")


def test_order_counts_shown_when_the_exchange_sends_them():
    view = MarketView(["SYM1"], clock=Clock())
    view.next_request()
    view.on_message(message("W", [(262, view.req_id), (55, "SYM1"), (268, 2),
                                  (269, "0"), (270, "105"), (271, 30), (346, 3),
                                  (269, "1"), (270, "110"), (271, 7), (346, 1)]))
    lines = text_of(ladder.layout(view, 100, 30, 0, 0.0))
    assert lines[5].split() == ["ORDS", "CUM", "BID", "PRICE", "ASK", "CUM", "ORDS"]
    assert [line.split() for line in lines if "110" in line or "105" in line][-2:] == [
        ["110", "7", "7", "1"], ["3", "30", "30", "105"]]
    view.on_message(incremental(view.req_id, [("1", "0", "SYM1", "105", 40)]))  # no 346: unknown
    assert "(346" not in str(view.books["SYM1"].orders) and ("0", Decimal(105)) not in view.books["SYM1"].orders


def test_spread_in_ticks_from_the_security_list():
    view = make_view(("SYM1", "SYM2"))
    view.security_list_fields()
    view.on_message(message("y", [(320, view.security_req_id), (560, 0), (146, 2),
                                  (55, "SYM1"), (969, "0.5"),
                                  (55, "SYM2"), (58, "MinPriceIncrement=0.25")]))
    assert view.ticks == {"SYM1": Decimal("0.5"), "SYM2": Decimal("0.25")}
    lines = text_of(ladder.layout(view, 120, 30, 0, 0.0))
    assert "spread 5.0 = 10 ticks" in lines[4] and "spread 5.00 = 20 ticks" in lines[4]
    # a refused security list costs only the ticks
    other = make_view()
    other.security_list_fields()
    other.on_message(message("j", [(45, 2), (372, "x"), (380, 3), (58, "unsupported")]))
    assert other.ticks == {}
    assert "spread 5  " in text_of(ladder.layout(other, 80, 24, 0, 0.0))[4] + "  "


def test_narrow_terminal_pages_the_symbols_and_names_the_hidden_ones():
    view = make_view(("SYM1", "SYM2", "SYM3"))
    wide = ladder.layout(view, 160, 40, 0, 0.0)
    assert wide.shown == ["SYM1", "SYM2", "SYM3"] and wide.hidden == []
    assert re.match(r"SYM1\s+SYM2\s+SYM3\s*$", text_of(wide)[1])
    narrow = ladder.layout(view, 80, 24, 0, 0.0)
    assert narrow.shown == ["SYM1"] and narrow.pages == 3
    assert text_of(narrow)[-1].rstrip() == "page 1/3, not shown: SYM2, SYM3 (Tab)"
    two = ladder.layout(make_view(("SYM1", "SYM2", "SYM3", "SYM4")), 100, 24, 0, 0.0)
    assert two.shown == ["SYM1", "SYM2"]
    assert text_of(two)[-1].rstrip() == ("page 1/2: not shown SYM3, SYM4 (Tab/Right next page, "
                                         "Left previous, 1-9 a symbol)")
    second = ladder.layout(view, 80, 24, 1, 0.0)
    assert second.shown == ["SYM2"] and "not shown: SYM1, SYM3" in text_of(second)[-1]
    assert ladder.layout(view, 80, 24, 3, 0.0).shown == ["SYM1"]  # pages wrap around
    # 40 columns: the cumulative column goes, the footer gets shorter, nothing is dropped silently
    tiny = ladder.layout(view, 40, 20, 0, 0.0)
    lines = text_of(tiny)
    assert all(len(line) == 40 for line in lines)
    assert lines[5].split() == ["BID", "PRICE", "ASK"]
    assert lines[-1].strip() == "page 1/3, not shown: SYM2, SYM3 (Tab)"


def test_low_terminal_shows_fewer_levels_and_says_so():
    view = make_view(depth=10)
    result = ladder.layout(view, 80, 14, 0, 0.0)
    lines = text_of(result)
    assert len(lines) == 14 and result.depth_shown == 3
    assert lines[-1].strip() == "3 of 10 levels shown: the terminal is too small"
    assert sum(1 for line in lines if re.search(r"\b11[0-4]\b", line)) == 3  # best 3 asks
    lowest = ladder.layout(view, 30, 6, 0, 0.0)
    assert len(text_of(lowest)) == 6 and "lvl" in text_of(lowest)[-1]


def test_a_symbol_too_long_for_the_panel_is_cut_with_an_ellipsis():
    long_name = "VERY-LONG-INSTRUMENT-NAME-" * 4
    view = make_view((long_name, "SYM2"))
    lines = text_of(ladder.layout(view, 120, 30, 0, 0.0))
    assert "…" in lines[1] and long_name not in lines[1]
    assert "SYM2" in lines[1]  # the next panel stays where it belongs
    assert all(len(line) == 120 for line in lines)
    # a size too wide for its column is shown as ### rather than cut
    view.on_message(incremental(view.req_id, [("1", "0", long_name, "105", 123456789012)]))
    row = next(line for line in text_of(ladder.layout(view, 120, 30, 0, 0.0)) if "105" in line)
    assert "########" in row


def test_waiting_for_a_snapshot_and_warnings():
    view = MarketView(["SYM1"], clock=Clock())
    view.next_request()
    lines = text_of(ladder.layout(view, 80, 24, 0, 0.0))
    assert lines[2].startswith("(waiting for a snapshot)")
    view.on_seq_gap(5, 9)
    lines = text_of(ladder.layout(view, 120, 24, 0, 0.0))
    assert "WARNING MsgSeqNum gap (expected 5, got 9): book dropped, resubscribed" in lines[1]


# --------------------------------------------------------------------------- the app


def screen_text(app) -> list[str]:
    return [strip.text for strip in app.screen._compositor.render_strips()]


def run_app(view, script, size=(80, 24), pump=None, duration=None):
    async def main():
        app = ladder.make_app(view, pump or (lambda wait: None), header="MDVIEW@test",
                              interval=0.0, clock=view.clock, clock_text=lambda: "12:00:00.000 UTC",
                              duration=duration)
        async with app.run_test(size=size) as pilot:
            await pilot.pause()
            await script(app, pilot)
        return app

    return asyncio.run(main())


def test_app_draws_pages_with_keys_and_follows_resizes():
    view = make_view(("SYM1", "SYM2", "SYM3"))

    async def script(app, pilot):
        screen = screen_text(app)
        assert screen[0].startswith("fix-md  MDVIEW@test  12:00:00.000 UTC")
        assert screen[1].startswith("SYM1") and "page 1/3" in screen[-1]
        await pilot.press("tab")
        assert screen_text(app)[1].startswith("SYM2")
        await pilot.press("right")
        assert screen_text(app)[1].startswith("SYM3")
        await pilot.press("left")
        assert screen_text(app)[1].startswith("SYM2")
        await pilot.press("1")
        assert screen_text(app)[1].startswith("SYM1")
        await pilot.resize_terminal(160, 40)
        await pilot.pause(0.1)
        screen = screen_text(app)
        assert re.match(r"SYM1\s+SYM2\s+SYM3", screen[1]), screen[1]
        assert "3 symbol(s)" in screen[-1]
        await pilot.resize_terminal(40, 12)
        await pilot.pause(0.1)
        screen = screen_text(app)
        assert len(screen) == 12 and all(len(line) == 40 for line in screen)
        assert "levels" in screen[-1] or "lvl" in screen[-1] or "Tab" in screen[-1]
        await pilot.press("q")

    app = run_app(view, script)
    assert app.return_code in (None, 0) and app.error is None


def test_app_shows_updates_the_pump_delivers():
    view = make_view()
    feed = [incremental(view.req_id, [("1", "1", "SYM1", "110", 75), ("0", "2", "SYM1", "110", 25)])]

    def pump(wait):
        while feed:
            view.on_message(feed.pop(0))

    async def script(app, pilot):
        for _ in range(40):
            if any(line.startswith("last 110 x25 BUY") for line in screen_text(app)):
                break
            await pilot.pause(0.05)
        screen = screen_text(app)
        assert any(line.startswith("last 110 x25 BUY  vol 25") for line in screen), screen
        assert any(re.search(r"110\s+75\s+75", line) for line in screen), screen
        await pilot.press("ctrl+c")

    assert run_app(view, script, pump=pump).error is None


def test_app_ends_with_the_error_the_session_raised():
    view = make_view()

    def pump(wait):
        raise SessionClosed("the exchange logged us out: bye")

    async def script(app, pilot):
        for _ in range(40):
            if app.error is not None:
                break
            await pilot.pause(0.05)

    app = run_app(view, script, pump=pump)
    assert isinstance(app.error, SessionClosed) and "bye" in str(app.error)


def test_app_leaves_after_duration():
    view = make_view()

    async def script(app, pilot):
        for _ in range(60):
            if not app.is_running:
                break
            await pilot.pause(0.05)
        assert not app.is_running

    run_app(view, script, duration=0.2)
