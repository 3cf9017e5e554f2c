"""fix-md: a live market-data ladder for fixexchange symbols (full screen, see ladder.py),
printed as it changes (--plain, for pipes), or one snapshot (--once).

The book is rebuilt only from MarketDataSnapshotFullRefresh (W) and
MarketDataIncrementalRefresh (X). A MsgSeqNum gap on fix-md's own session or an update
that does not fit the book (a new level already there, a change or delete of a level that
is not) makes fix-md drop the book, show a warning and resubscribe.
"""

from __future__ import annotations

import argparse
import collections
import datetime as _dt
import itertools
import os
import sys
import time

from fixexchange.cli import book as bookmod
from fixexchange.cli.client import (
    OneLineArgumentParser,
    quiet_broken_pipe,
    EXIT_OK,
    EXIT_REJECTED,
    FixClient,
    Timeout,
    ToolError,
    UsageError,
    add_connection_arguments,
    fail,
    field,
    groups,
    msg_type,
    say,
    settings_from_args,
)

from fixexchange.codec.tags import (
    MarketDepth,
    MDEntryPx,
    MDEntryType,
    MDReqID,
    MDReqRejReason,
    MDUpdateAction,
    MDUpdateType,
    MinPriceIncrement,
    NoMDEntries,
    NoMDEntryTypes,
    NoRelatedSym,
    RefMsgType,
    SecurityListRequestType,
    SecurityReqID,
    SecurityRequestResult,
    SubscriptionRequestType,
    Symbol,
    Text,
)

TOOL = "fix-md"
DEFAULT_SENDER = "MDVIEW"

EXAMPLES = """\
examples:
  fix-md SYM1                    full-screen ladder, top 5 levels; q, Esc or Ctrl-C to leave
  fix-md SYM1 SYM2 SYM3 --depth 10   several symbols side by side, paged when they do
                                 not all fit (Tab/Right next page, Left previous, 1-9)
  fix-md --once SYM1             print one snapshot and exit (scriptable)
  fix-md --plain SYM1 --duration 30   print the ladder as it changes (default in a pipe)

The ladder shows, per symbol, the last trade (price, size, aggressor side), volume, high,
low and VWAP of the trades seen, the spread in price and ticks (tick sizes from the
SecurityList), then per level the orders (NumberOfOrders(346); blank when an exchange
does not send it), the cumulative size and the size, asks above bids; bids are green, asks red, a changed
level flashes, and so does a trade's price. A tape of the latest trades of all symbols
runs along the bottom (--trades rows). Trade times are MDEntryTime(273) when the exchange
sends it, otherwise the time the update arrived ('-' for trades already in the first
snapshot); the aggressor side is AggressorSide(2446) or Side(54) when sent, otherwise
inferred from the book side the trade took liquidity from in the same update ('?' when
unknown).

environment: FIXEXCH_HOST FIXEXCH_PORT FIXEXCH_SENDER FIXEXCH_TARGET FIXEXCH_PASSWORD
  FIXEXCH_USERNAME FIXEXCH_TIMEOUT FIXEXCH_CLIENT_CONFIG
config file: see fix-send --help; a [fix-md] table overrides the top-level keys.

exit codes: 0 done, 1 rejected by the exchange (e.g. unknown symbol), 2 bad arguments or
  config, 3 cannot connect / logon refused / disconnected, 4 no answer in time.
"""


class _Parser(OneLineArgumentParser):
    tool = TOOL


def main_parser() -> _Parser:
    parser = _Parser(
        prog=TOOL,
        description="Live market-data ladder of a fixexchange (FIX 4.4).",
        epilog=EXAMPLES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
        exit_on_error=False,
    )
    parser.add_argument("symbols", nargs="*", metavar="SYMBOL")
    parser.add_argument("--once", action="store_true", help="print one snapshot and exit")
    parser.add_argument("--plain", action="store_true",
                        help="no full screen: print the ladder when it changes (default when "
                        "stdout is not a terminal)")
    parser.add_argument("--depth", type=int, default=5, metavar="N",
                        help="price levels per side (default 5)")
    parser.add_argument("--trades", type=int, default=5, metavar="N",
                        help="last trades shown: the tape's rows (default 5)")
    parser.add_argument("--interval", type=float, default=0.1, metavar="SECONDS",
                        help="minimum time between redraws (default 0.1)")
    parser.add_argument("--duration", type=float, metavar="SECONDS",
                        help="leave after this long (default: until q or Ctrl-C)")
    add_connection_arguments(parser, DEFAULT_SENDER)
    return parser


_req_ids = itertools.count(1)


def _now_stamp() -> str:
    return _dt.datetime.now(_dt.timezone.utc).strftime("%H:%M:%S.%f")[:12]


class MdRejected(ToolError):
    def __init__(self, message: str) -> None:
        super().__init__(message, EXIT_REJECTED)


class MarketView:
    """The books of the subscribed symbols, fed with W/X messages (sans-IO)."""

    def __init__(self, symbols: list[str], depth: int = 5, trades: int = 5,
                 clock=time.monotonic) -> None:
        self.symbols = symbols
        self.depth = depth
        self.trades = trades
        self.clock = clock
        self.books = {s: bookmod.Book(s, max_trades=max(trades, 1)) for s in symbols}
        # the latest trades of all symbols, newest last: (symbol, Trade)
        self.tape: collections.deque = collections.deque(maxlen=max(trades, 1))
        # MinPriceIncrement per symbol, from the SecurityList (the spread in ticks)
        self.ticks: dict[str, bookmod.Decimal] = {}
        self.security_req_id = ""
        self.req_id = ""
        self.prefix = f"md-{os.getpid()}-{int(time.time())}"
        self.warnings: list[str] = []  # the last three, shown above the ladder
        self.unreported: list[str] = []  # not yet printed (plain mode)
        self.need_resubscribe = False
        self.resubscriptions = 0
        self.dirty = True

    # -- requests
    def next_request(self) -> list[tuple[int, object]]:
        self.req_id = f"{self.prefix}-{next(_req_ids)}"
        return self.request_fields(self.req_id, "1")

    def request_fields(self, req_id: str, kind: str) -> list[tuple[int, object]]:
        fields: list[tuple[int, object]] = [
            (MDReqID, req_id), (SubscriptionRequestType, kind), (MarketDepth, 0), (MDUpdateType, 1),
            (NoMDEntryTypes, 3), (MDEntryType, "0"), (MDEntryType, "1"), (MDEntryType, "2"),
            (NoRelatedSym, len(self.symbols)),
        ]
        fields += [(Symbol, s) for s in self.symbols]
        return fields

    def unsubscribe_fields(self) -> list[tuple[int, object]]:
        return self.request_fields(self.req_id, "2")

    def security_list_fields(self) -> list[tuple[int, object]]:
        """SecurityListRequest (x) for every symbol: their tick sizes."""
        self.security_req_id = f"{self.prefix}-sec"
        return [(SecurityReqID, self.security_req_id), (SecurityListRequestType, "4")]

    # -- problems
    def gap(self, reason: str) -> None:
        warning = f"{_now_stamp()} WARNING {reason}: book dropped, resubscribed"
        self.warnings.append(warning)
        self.unreported.append(warning)
        del self.warnings[:-3]
        self.need_resubscribe = True
        for book in self.books.values():
            book.has_snapshot = False
        self.dirty = True

    def on_seq_gap(self, expected: int, received: int) -> None:
        self.gap(f"MsgSeqNum gap (expected {expected}, got {received})")

    # -- messages
    def on_message(self, msg) -> None:
        kind = msg_type(msg)
        if kind == "W":
            if field(msg, MDReqID) != self.req_id:
                return
            symbol = field(msg, Symbol, "")
            book = self.books.get(symbol)
            if book is None:
                return
            try:
                book.apply_snapshot(groups(msg, NoMDEntries, MDEntryType))
            except bookmod.BookInconsistent as exc:
                self.gap(f"bad snapshot: {exc}")
                return
            self.dirty = True
        elif kind == "X":
            if field(msg, MDReqID) != self.req_id or self.need_resubscribe:
                return
            entries = groups(msg, NoMDEntries, MDUpdateAction)
            _infer_aggressors(entries)
            received = _now_stamp()
            now = self.clock()
            for entry in entries:
                symbol = entry.get(Symbol, "")
                book = self.books.get(symbol)
                if book is None:
                    continue
                try:
                    book.apply_incremental(entry, received, now)
                except bookmod.BookInconsistent as exc:
                    self.gap(f"inconsistent update: {exc}")
                    return
                if entry.get(MDEntryType) == bookmod.TRADE and entry.get(MDUpdateAction, "0") == "0":
                    self.tape.append((symbol, book.trades[-1]))
            self.dirty = True
        elif kind == "y":
            if field(msg, SecurityReqID) != self.security_req_id or field(msg, SecurityRequestResult, "0") != "0":
                return  # no tick sizes: the spread is shown in price only
            for entry in groups(msg, NoRelatedSym, Symbol):
                tick = entry.get(MinPriceIncrement)
                if tick is None and entry.get(Text, "").startswith("MinPriceIncrement="):
                    tick = entry[Text].split()[0].split("=", 1)[1]  # the exchange's FIX 4.4-clean form
                try:
                    value = bookmod.Decimal(tick) if tick is not None else None
                except bookmod.InvalidOperation:
                    value = None
                if value is not None and value.is_finite() and value > 0:
                    self.ticks[entry.get(Symbol, "")] = value
            self.dirty = True
        elif kind == "j" and field(msg, RefMsgType) == "x":
            return  # the security list is refused: no tick sizes, nothing else lost
        elif kind == "Y":
            if field(msg, MDReqID) != self.req_id:
                return  # e.g. the unsubscribe of a request the exchange already dropped
            text = field(msg, Text) or f"MDReqRejReason {field(msg, MDReqRejReason, '?')}"
            raise MdRejected(f"market data request rejected: {text}")
        elif kind in ("3", "j"):
            text = field(msg, Text) or "no reason given"
            raise MdRejected(f"market data request rejected: {text}")

    def ready(self) -> bool:
        return all(book.has_snapshot for book in self.books.values())

    def blocks(self, pad: bool = False) -> list[list[str]]:
        """One block of lines per symbol."""
        result = []
        for symbol in self.symbols:
            book = self.books[symbol]
            if not book.has_snapshot:
                result.append([f"{symbol}  (waiting for a snapshot)"])
            else:
                result.append(bookmod.render(book, self.depth, self.trades, pad=pad))
        return result

    def render(self) -> list[str]:
        lines = list(self.warnings)
        for block in self.blocks():
            lines += block
            lines.append("")
        return lines


def _infer_aggressors(entries: list[dict[int, str]]) -> None:
    """Trades without an aggressor tag: the side whose level at the trade price changed or
    went in the same update is the passive side."""
    touched: dict[tuple[str, str], str] = {}
    for entry in entries:
        if entry.get(MDEntryType) in ("0", "1") and entry.get(MDUpdateAction) in ("1", "2"):
            touched[(entry.get(Symbol, ""), entry.get(MDEntryPx, ""))] = entry[MDEntryType]
    for entry in entries:
        if entry.get(MDEntryType) != "2" or any(entry.get(t) in ("1", "2")
                                        for t in bookmod.AGGRESSOR_TAGS):
            continue
        try:
            price = str(bookmod.Decimal(entry.get(MDEntryPx, "")))
        except Exception:
            continue
        for (symbol, level), side in touched.items():
            if symbol != entry.get(Symbol, "") or not level:
                continue
            try:
                same = bookmod.Decimal(level) == bookmod.Decimal(price)
            except Exception:
                continue
            if same:
                entry[2446] = "1" if side == "1" else "2"  # took an offer: buyer aggressed
                break


# --------------------------------------------------------------------------- modes


def run_once(client: FixClient, view: MarketView, timeout: float) -> list[str]:
    view.req_id = f"{view.prefix}-snap"
    client.send("V", view.request_fields(view.req_id, "0"))
    deadline = time.monotonic() + timeout
    while not view.ready():
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            missing = [s for s, b in view.books.items() if not b.has_snapshot]
            raise Timeout(f"no snapshot for {', '.join(missing)} within {timeout:g}s")
        msg = client.poll(remaining)
        if msg is not None:
            view.on_message(msg)
    lines = view.render()
    while lines and lines[-1] == "":
        lines.pop()
    return lines


def _pump(client: FixClient, view: MarketView, wait: float) -> None:
    if view.need_resubscribe:
        view.need_resubscribe = False
        view.resubscriptions += 1
        if view.req_id:
            client.send("V", view.unsubscribe_fields())
        client.send("V", view.next_request())
    msg = client.poll(wait)
    while msg is not None:
        view.on_message(msg)
        if view.need_resubscribe:
            return
        msg = client.poll(0)


def run_plain(client: FixClient, view: MarketView, interval: float, duration: float | None,
              out=None) -> None:
    out = out if out is not None else sys.stdout
    client.send("V", view.next_request())
    end = time.monotonic() + duration if duration is not None else None
    last_draw = 0.0
    while end is None or time.monotonic() < end:
        wait = 0.05 if end is None else max(0.0, min(0.05, end - time.monotonic()))
        _pump(client, view, wait)
        while view.unreported:
            say(f"{TOOL}: {view.unreported.pop(0)}", sys.stderr)
        now = time.monotonic()
        if view.dirty and view.ready() and now - last_draw >= interval:
            view.dirty = False
            last_draw = now
            lines = [line for line in view.render() if "WARNING" not in line]
            say(f"--- {_now_stamp()}", out)
            for line in lines:
                say(line, out)


def run_tui(client: FixClient, view: MarketView, interval: float,
            duration: float | None) -> None:
    """The full-screen ladder (Textual) until q, Esc, Ctrl-C or --duration."""
    from fixexchange.cli.ladder import make_app

    client.send("x", view.security_list_fields())
    client.send("V", view.next_request())
    settings = client.settings
    app = make_app(view, lambda wait: _pump(client, view, wait),
                   header=f"{settings.sender_comp_id}@{settings.host}:{settings.port}",
                   interval=interval, clock=view.clock,
                   clock_text=lambda: f"{_now_stamp()} UTC", duration=duration)
    app.run()
    if app.error is not None:
        raise app.error


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    parser = main_parser()
    client: FixClient | None = None
    view: MarketView | None = None
    try:
        try:
            args = parser.parse_intermixed_args(argv)
        except argparse.ArgumentError as exc:
            raise UsageError(f"{exc} (see {TOOL} --help)") from None
        if not args.symbols:
            raise UsageError(f"no symbol given, e.g. '{TOOL} SYM1' (see {TOOL} --help)")
        if len(set(args.symbols)) != len(args.symbols):
            raise UsageError("a symbol is given twice")
        if args.depth < 1 or args.trades < 0:
            raise UsageError("--depth must be at least 1 and --trades at least 0")
        if args.interval < 0 or (args.duration is not None and args.duration <= 0):
            raise UsageError("--interval must be >= 0 and --duration > 0")
        settings = settings_from_args(args, TOOL, DEFAULT_SENDER)
        view = MarketView(args.symbols, args.depth, args.trades)
        client = FixClient(settings, verbose=args.verbose, resend_on_gap=False,
                           on_gap=view.on_seq_gap)
        client.start()
        if args.once:
            for line in run_once(client, view, settings.timeout):
                print(line)
            return EXIT_OK
        if args.plain or args.verbose or not sys.stdout.isatty():
            run_plain(client, view, args.interval, args.duration)
        else:
            run_tui(client, view, args.interval, args.duration)
        return EXIT_OK
    except ToolError as exc:
        return fail(TOOL, exc)
    except KeyboardInterrupt:
        return EXIT_OK
    except BrokenPipeError:
        return quiet_broken_pipe()
    finally:
        if client is not None and client.logged_on and not client.closed:
            try:
                if view is not None and view.req_id and not view.req_id.endswith("-snap"):
                    client.send("V", view.unsubscribe_fields())
            except ToolError:
                pass
            client.logout()


if __name__ == "__main__":
    sys.exit(main())
