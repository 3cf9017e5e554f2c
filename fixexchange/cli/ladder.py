"""fix-md's full-screen ladder: the screen as Rich text lines (a pure function of the books,
the terminal size, the page and the clock) and the Textual app that shows it, reads keys
and pumps the FIX session.

Each symbol is a panel: the symbol, a last-trade / volume / high / low / VWAP line, the
spread in price and ticks, then orders / cumulative size / size on both sides of the
price column, asks above bids.  Panels are laid out side by side as the width allows and
paged (Tab/Right, Left, 1-9) when they do not all fit; the footer names the symbols on the
other pages.  A level that changed flashes for FLASH_S seconds, a trade flashes its price
and the last-trade line.  A tape of the latest trades of all symbols runs along the bottom.
"""
from __future__ import annotations

import math
from decimal import Decimal
from typing import Callable

from rich.text import Text

from fixexchange.cli import book as bookmod

FLASH_S = 0.6
GAP = 3  # columns between two panels

BID_STYLE, ASK_STYLE = "green", "red"
BID_FLASH, ASK_FLASH = "bold white on dark_green", "bold white on red3"
TRADE_FLASH = "bold black on yellow"
SIDE_STYLES = {"BUY": "bold green", "SELL": "bold red", "?": "dim"}


class Columns:
    """Which columns a panel has and how wide it is (narrower terminals drop the order
    counts, then the cumulative sizes)."""

    def __init__(self, orders: bool, cum: bool, size: int = 8, price: int = 10) -> None:
        self.orders, self.cum, self.size, self.price = orders, cum, size, price

    @property
    def width(self) -> int:
        side = self.size + (self.cum and self.size + 1) + (self.orders and 5)
        return 2 * side + self.price + 2

    def header(self) -> str:
        left = (["ORDS"] if self.orders else []) + (["CUM"] if self.cum else []) + ["BID"]
        right = ["ASK"] + (["CUM"] if self.cum else []) + (["ORDS"] if self.orders else [])
        widths_left = ([4] if self.orders else []) + ([self.size] if self.cum else []) + [self.size]
        cells = [f"{name:>{w}}" for name, w in zip(left, widths_left)]
        cells.append(f"{'PRICE':^{self.price}}")
        cells += [f"{name:>{w}}" for name, w in zip(right, reversed(widths_left))]
        return " ".join(cells)


def choose_columns(width: int, with_orders: bool) -> Columns:
    """The widest panel that fits `width` (at least the compact one: the caller crops)."""
    for columns in (Columns(with_orders, True), Columns(False, True), Columns(False, False),
                    Columns(False, False, size=6, price=8)):
        if columns.width <= width:
            return columns
    return Columns(False, False, size=6, price=8)


def _decimals(book: bookmod.Book, tick: Decimal | None) -> int:
    exponents = [tick.as_tuple().exponent] if tick is not None else []
    exponents += [p.normalize().as_tuple().exponent for p in list(book.bids)[:50] + list(book.asks)[:50]]
    return max([0] + [-e for e in exponents if isinstance(e, int) and e < 0])


def _fit(text: str, width: int) -> str:
    return text if len(text) <= width else text[: max(0, width - 1)] + "…"


def _num(value: Decimal | None, places: int | None = None) -> str:
    if value is None:
        return "-"
    if places is not None:
        return f"{value:,.{places}f}"
    return bookmod._fmt(value)


def panel_height(depth: int, with_stats: bool = True) -> int:
    return (5 if with_stats else 3) + 2 * depth


def panel(book: bookmod.Book, depth: int, tick: Decimal | None, now: float,
          columns: Columns, with_stats: bool = True) -> list[Text]:
    """One symbol's lines, each exactly `columns.width` cells (depth rows per side, blank
    rows for missing levels so that panels side by side line up). `with_stats`: the
    last-trade / volume and high / low / VWAP lines (left out in a very low terminal)."""
    width = columns.width
    lines: list[Text] = [Text(_fit(book.symbol, width).ljust(width), style="bold cyan")]
    if not book.has_snapshot:
        lines.append(Text("(waiting for a snapshot)".ljust(width)[:width], style="dim"))
        return lines + [Text(" " * width)] * (panel_height(depth, with_stats) - 2)
    places = _decimals(book, tick)
    stats = book.stats
    last = stats.last
    if not with_stats:
        pass
    elif last is not None:
        flash = book.traded_at is not None and now - book.traded_at < FLASH_S
        text = Text()
        text.append(f"last {_num(last.price, places)} x{_num(last.size)} ",
                    style=TRADE_FLASH if flash else "bold")
        text.append(last.side, style=SIDE_STYLES.get(last.side, ""))
        text.append(f"  vol {_num(stats.volume)}")
        lines.append(_pad(text, width))
        vwap = stats.vwap
        lines.append(_pad(Text(f"H {_num(stats.high, places)}  L {_num(stats.low, places)}  "
                               f"VWAP {_num(vwap.quantize(Decimal(1).scaleb(-places - 2)) if vwap is not None else None)}"),
                          width))
    else:
        lines.append(_pad(Text("last -  vol 0", style="dim"), width))
        lines.append(_pad(Text("H -  L -  VWAP -", style="dim"), width))
    lines.append(_pad(Text(spread_text(book, tick, places), style="bold"), width))
    lines.append(Text(columns.header().ljust(width)[:width], style="underline"))

    asks = book.top_asks(depth)
    bids = book.top_bids(depth)
    cum_asks, total = [], Decimal(0)
    for _, size in asks:
        total += size
        cum_asks.append(total)
    traded = last.price if last is not None and book.traded_at is not None \
        and now - book.traded_at < FLASH_S else None
    for _ in range(depth - len(asks)):
        lines.append(Text(" " * width))
    for k in range(len(asks) - 1, -1, -1):
        price, size = asks[k]
        lines.append(_row(book, columns, bookmod.OFFER, price, size, cum_asks[k], places, now,
                          best=k == 0, traded=traded))
    total = Decimal(0)
    for k, (price, size) in enumerate(bids):
        total += size
        lines.append(_row(book, columns, bookmod.BID, price, size, total, places, now,
                          best=k == 0, traded=traded))
    for _ in range(depth - len(bids)):
        lines.append(Text(" " * width))
    return lines


def _pad(text: Text, width: int) -> Text:
    text.truncate(width, overflow="ellipsis")
    text.pad_right(width - text.cell_len)
    return text


def spread_text(book: bookmod.Book, tick: Decimal | None, places: int) -> str:
    bids, asks = book.top_bids(1), book.top_asks(1)
    if not bids or not asks:
        side = "no bids" if not bids and asks else "no asks" if bids else "empty book"
        return f"spread -  ({side})"
    spread = asks[0][0] - bids[0][0]
    ticks = ""
    if tick:
        count = spread / tick
        ticks = f" = {count:,.0f} ticks" if count == count.to_integral_value() else f" = {count:,.2f} ticks"
    return f"spread {_num(spread, places)}{ticks}"


def _row(book, columns: Columns, kind: str, price: Decimal, size: Decimal, cum: Decimal,
         places: int, now: float, best: bool, traded: Decimal | None) -> Text:
    changed = book.changed.get((kind, price))
    flash = changed is not None and now - changed < FLASH_S
    if kind == bookmod.BID:
        style, flash_style = BID_STYLE, BID_FLASH
    else:
        style, flash_style = ASK_STYLE, ASK_FLASH
    if best:
        style = "bold " + style
    cell_style = flash_style if flash else style
    orders = book.orders.get((kind, price))
    side_cells: list[tuple[str, str]] = []
    if columns.orders:
        side_cells.append((f"{orders if orders is not None else '':>4}", style))
    if columns.cum:
        side_cells.append((_cell(_num(cum), columns.size), "dim " + style))
    side_cells.append((_cell(_num(size), columns.size), cell_style))
    blank = [(" " * len(text), "") for text, _ in side_cells]
    price_text = _cell(_num(price, places), columns.price, centre=True)
    price_style = TRADE_FLASH if traded is not None and price == traded else (
        "bold" if best else "")
    if kind == bookmod.BID:
        cells = side_cells + [(price_text, price_style)] + blank
    else:
        cells = blank + [(price_text, price_style)] + list(reversed(side_cells))
    text = Text()
    for k, (cell, cell_style_) in enumerate(cells):
        if k:
            text.append(" ")
        text.append(cell, style=cell_style_)
    return _pad(text, columns.width)


def _cell(value: str, width: int, centre: bool = False) -> str:
    if len(value) > width:
        return "#" * width  # a number that does not fit: never a misleading cut
    return value.center(width) if centre else value.rjust(width)


# --------------------------------------------------------------------------- the screen


class Layout:
    """What the screen shows: the lines, and how the symbols were placed."""

    def __init__(self) -> None:
        self.lines: list[Text] = []
        self.page = 0
        self.pages = 1
        self.shown: list[str] = []
        self.hidden: list[str] = []
        self.depth_shown = 0
        self.per_page = 1


def layout(view, width: int, height: int, page: int, now: float, header: str = "",
           clock_text: str = "") -> Layout:
    """The whole screen for a terminal of `width` x `height` cells."""
    width = max(width, 10)
    height = max(height, 3)
    result = Layout()
    symbols = view.symbols
    books = [view.books[s] for s in symbols]
    with_orders = any(book.orders for book in books)
    columns = choose_columns(width, with_orders)
    pw = min(columns.width, width)
    per_row = max(1, (width + GAP) // (pw + GAP))
    title = f"fix-md  {header}  {clock_text}".rstrip()
    keys = "q quit"
    top = Text(_fit(title, max(0, width - len(keys) - 1)).ljust(width - len(keys)) + keys,
               style="reverse")
    result.lines.append(_pad(top, width))
    warnings = [_pad(Text(w, style="bold red"), width) for w in view.warnings[-3:]]
    result.lines += warnings
    avail = height - 1 - len(warnings) - 1  # header, warnings, footer
    depth = view.depth
    with_stats = True
    height_of_panel = panel_height(depth)
    # the ladders first (as many rows of them as needed and fit), the tape in what is left
    needed = math.ceil(len(symbols) / per_row)
    rows = max(1, min(needed, (avail + 1) // (height_of_panel + 1)))
    if avail < height_of_panel:  # fewer levels, then no statistics lines
        depth = max(1, (avail - 5) // 2)
        with_stats = avail >= panel_height(1)
        if not with_stats:
            depth = max(1, (avail - 3) // 2)
        height_of_panel = panel_height(depth, with_stats)
    used = rows * (height_of_panel + 1) - 1
    tape_rows = min(view.trades, max(0, avail - used - 2))  # a blank line and a title
    room = avail - (tape_rows + 2 if tape_rows else 0)
    result.depth_shown = depth
    per_page = per_row * rows
    result.per_page = per_page
    result.pages = max(1, math.ceil(len(symbols) / per_page))
    result.page = page % result.pages
    start = result.page * per_page
    result.shown = symbols[start:start + per_page]
    result.hidden = [s for s in symbols if s not in result.shown]
    panels = [panel(view.books[s], depth, view.ticks.get(s), now, columns, with_stats)
              for s in result.shown]
    result.lines += _panel_rows(panels, per_row, height_of_panel, columns.width, width)[:max(0, room)]
    if tape_rows:
        result.lines += _tape(view, tape_rows, width)
    # the footer says what is not on the screen, and how to get there: (long, short) notes
    notes = []
    if result.hidden:
        p, n = result.page + 1, result.pages
        notes.append((f"page {p}/{n}: not shown {', '.join(result.hidden)} "
                      f"(Tab/Right next page, Left previous, 1-9 a symbol)",
                      f"page {p}/{n}, not shown: {', '.join(result.hidden)} (Tab)",
                      f"{p}/{n} +{len(result.hidden)}: Tab"))
    if depth < view.depth:
        notes.append((f"{depth} of {view.depth} levels shown: the terminal is too small",
                      f"{depth} of {view.depth} levels shown", f"{depth}/{view.depth} lvl"))
    if height_of_panel > avail or pw < columns.width:
        notes.append(("ladder cut: enlarge the terminal", "ladder cut", "cut"))
    footer = _footer_text(notes, width) if notes else f"{len(symbols)} symbol(s)  Tab/Right, Left, 1-9: pages"
    # keep the footer on the last line, cutting the body if it must
    result.lines = result.lines[:height - 1]
    while len(result.lines) < height - 1:
        result.lines.append(Text(" " * width))
    result.lines.append(_pad(Text(footer, style="bold yellow" if notes else "dim"), width))
    return result


def _panel_rows(panels: list[list[Text]], per_row: int, height_of_panel: int, panel_width: int,
                width: int) -> list[Text]:
    """The symbols' panels side by side, ``per_row`` to a row, a blank line between rows."""
    body: list[Text] = []
    for r in range(0, len(panels), per_row):
        row = panels[r:r + per_row]
        for i in range(height_of_panel):
            line = Text()
            for k, lines in enumerate(row):
                if k:
                    line.append(" " * GAP)
                line.append_text(lines[i] if i < len(lines) else Text(" " * panel_width))
            body.append(_pad(line, width))
        body.append(Text(" " * width))
    return body[:-1] if body else body


def _tape(view, tape_rows: int, width: int) -> list[Text]:
    """A blank line, the title and the newest ``tape_rows`` trades of every symbol."""
    lines = [Text(" " * width), _pad(Text("trades (all symbols, newest first)", style="underline"), width)]
    tape = list(view.tape)[-tape_rows:][::-1]
    for symbol, trade in tape:
        line = Text(f"{trade.time:<12}  {symbol:<8} ")
        line.append(f"{trade.side:<4}", style=SIDE_STYLES.get(trade.side, ""))
        places = _decimals(view.books[symbol], view.ticks.get(symbol))
        line.append(f" {_num(trade.size):>8} @ {_num(trade.price, places)}")
        lines.append(_pad(line, width))
    if not tape:
        lines.append(_pad(Text("no trades yet", style="dim"), width))
    return lines


def _footer_text(notes: list[tuple[str, str, str]], width: int) -> str:
    """The notes joined in their longest form that fits ``width``, else the shortest."""
    candidates = ["; ".join(note[k] for note in notes) for k in range(3)]
    return next((c for c in candidates if len(c) <= width), candidates[-1])


# --------------------------------------------------------------------------- the app


def make_app(view, pump: Callable[[float], None], header: str, interval: float,
             clock: Callable[[], float], clock_text: Callable[[], str],
             duration: float | None = None):
    """The Textual app (imported here: textual is needed only for the full-screen mode).
    `pump(wait)` feeds the FIX messages that arrived into `view`; a ToolError it raises
    ends the app and is kept in `app.error`."""
    from textual.app import App, ComposeResult
    from textual.binding import Binding
    from textual.widgets import Static
    from rich.console import Group

    class LadderApp(App):
        CSS = "Screen { overflow: hidden; } #ladder { width: 100%; height: 100%; }"
        BINDINGS = [
            Binding("q", "quit", "quit"),
            Binding("escape", "quit", show=False),
            Binding("ctrl+c", "quit", show=False, priority=True),
            Binding("tab,right", "page(1)", "next page", priority=True),
            Binding("shift+tab,left", "page(-1)", "previous page", priority=True),
        ] + [Binding(str(n), f"symbol({n})", show=False) for n in range(1, 10)]

        def __init__(self) -> None:
            super().__init__()
            self.view = view
            self.page = 0
            self.error = None
            self.last_layout: Layout | None = None
            self._drawn_at = -1e9

        def compose(self) -> ComposeResult:
            yield Static(id="ladder")

        def on_mount(self) -> None:
            self.redraw()
            self.set_interval(0.05, self.tick)
            if duration is not None:
                self.set_timer(duration, self.exit)

        def tick(self) -> None:
            try:
                pump(0.0)
            except Exception as exc:  # a ToolError: shown by main after the screen is gone
                self.error = exc
                self.exit()
                return
            now = clock()
            flashing = any(now - at < FLASH_S + 0.1 for book in view.books.values()
                           for at in list(book.changed.values())[-20:]) or any(
                book.traded_at is not None and now - book.traded_at < FLASH_S + 0.1
                for book in view.books.values())
            if (view.dirty or flashing or now - self._drawn_at >= 1.0) and \
                    now - self._drawn_at >= interval:
                self.redraw()

        def redraw(self) -> None:
            view.dirty = False
            now = clock()
            self._drawn_at = now
            size = self.size
            self.last_layout = layout(view, size.width, size.height, self.page, now, header,
                                      clock_text())
            self.page = self.last_layout.page
            self.query_one("#ladder", Static).update(Group(*self.last_layout.lines))

        def on_resize(self, event) -> None:
            self.call_after_refresh(self.redraw)

        def action_page(self, step: int) -> None:
            self.page += step
            self.redraw()

        def action_symbol(self, number: int) -> None:
            if number <= len(view.symbols) and self.last_layout is not None:
                self.page = (number - 1) // self.last_layout.per_page
                self.redraw()

    return LadderApp()
