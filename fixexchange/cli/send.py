"""fix-send: send orders to the exchange from a terminal, one ticket at a time or
interactively (-i)."""

from __future__ import annotations

import argparse
import contextlib
import contextvars
import dataclasses
import itertools
import os
import shlex
import sys
import threading
import time
from decimal import Decimal, InvalidOperation

from fixexchange.codec.tags import (
    AvgPx,
    BusinessRejectReason,
    BusinessRejectRefID,
    ClOrdID,
    CumQty,
    CxlRejReason,
    CxlRejResponseTo,
    ExecInst,
    ExecRestatementReason,
    ExecType,
    ExpireTime,
    LastFragment,
    LastPx,
    LastQty,
    LeavesQty,
    MarketDepth,
    MassCancelRejectReason,
    MassCancelRequestType,
    MassCancelResponse,
    MaxFloor,
    MDEntryType,
    MDReqID,
    MDReqRejReason,
    MinPriceIncrement,
    MinQty,
    MinTradeVol,
    NoMDEntries,
    NoMDEntryTypes,
    NoRelatedSym,
    OrderID,
    OrderQty,
    OrdRejReason,
    OrdStatus,
    OrdStatusReqID,
    OrdType,
    OrdTypes,
    OrigClOrdID,
    Price,
    RefMsgType,
    RefSeqNum,
    RefTagID,
    RoundLot,
    SecurityListRequestType,
    SecurityReqID,
    SecurityRequestResult,
    SessionRejectReason,
    Side,
    Sides,
    StopPx,
    SubscriptionRequestType,
    Symbol,
    Text,
    TimeInForce,
    TimeInForces,
    TotalAffectedOrders,
    TransactTime,
)
from fixexchange.cli import book as bookmod
from fixexchange.cli.client import (
    OneLineArgumentParser,
    quiet_broken_pipe,
    EXIT_CONNECTION,
    EXIT_OK,
    EXIT_REJECTED,
    EXIT_TIMEOUT,
    EXIT_USAGE,
    FixClient,
    SessionClosed,
    Timeout,
    ToolError,
    UsageError,
    add_connection_arguments,
    fail,
    field,
    groups,
    msg_type,
    pairs,
    say,
    settings_from_args,
    utc_timestamp,
)

TOOL = "fix-send"
DEFAULT_SENDER = "CLIENT1"
SETTLE = 0.25  # seconds of quiet after an order rests before fix-send logs out

# the TimeInForce values the exchange takes (no at-the-opening 2 or good-till-crossing 5:
# it rejects them, so the tool does not offer them)
# (the tool's words for FIX values; the values come from codec.tags, as str)
TIFS = {"day": TimeInForces.DAY, "gtc": TimeInForces.GOOD_TILL_CANCEL, "ioc": TimeInForces.IMMEDIATE_OR_CANCEL,
        "fok": TimeInForces.FILL_OR_KILL, "gtd": TimeInForces.GOOD_TILL_DATE}
TIFS = {name: value.decode() for name, value in TIFS.items()}
SIDES = {"buy": Sides.BUY.decode(), "sell": Sides.SELL.decode()}
SIDE_NAMES = {value: name.upper() for name, value in SIDES.items()}
ORD_TYPE_NAMES = {OrdTypes.MARKET.decode(): "MKT", OrdTypes.LIMIT.decode(): "LMT", OrdTypes.STOP.decode(): "STOP",
                  OrdTypes.STOP_LIMIT.decode(): "STOPLMT"}
TIF_NAMES = {v: k.upper() for k, v in TIFS.items()}
EXEC_TYPES = {
    "0": "NEW", "3": "DONE", "4": "CANCELED", "5": "REPLACED", "6": "PENDCXL",
    "8": "REJECTED", "9": "SUSPENDED", "A": "PENDNEW", "C": "EXPIRED", "D": "RESTATED",
    "E": "PENDREPL", "F": "TRADE", "I": "STATUS", "L": "TRIGGERED",
}
ORD_STATUS = {
    "0": "new", "1": "partially-filled", "2": "filled", "3": "done-for-day",
    "4": "canceled", "5": "replaced", "6": "pending-cancel", "8": "rejected",
    "9": "suspended", "A": "pending-new", "C": "expired", "E": "pending-replace",
}
TERMINAL = {"2", "3", "4", "8", "C"}
CXL_REJ_REASONS = {
    "0": "too late to cancel", "1": "unknown order", "2": "broker option",
    "3": "already pending cancel or replace", "6": "duplicate ClOrdID", "99": "other",
}

EXAMPLES = """\
tickets:
  buy|sell SYMBOL QTY [@ PRICE]   limit order with a price, market order without
      --tif day|gtc|ioc|fok|gtd   TimeInForce (default day); gtd needs --expire
      --stop PX                   stop (market) order, or stop-limit with @ PRICE
      --post-only                 ExecInst=6: rejected instead of taking liquidity
      --display N                 iceberg: show N at a time (MaxFloor)
      --min-qty N                 MinQty
  cancel ORDER                    cancel (F)
  replace ORDER [--qty N] [--price PX]   cancel/replace (G)
  status ORDER                    order status (H)
  cancel-all [SYMBOL]             mass cancel (q), every symbol without SYMBOL
  book SYMBOL [--depth N]         one market-data snapshot
  symbols                         the security list: tick and lot size

ORDER is the OrderID(37) the exchange printed as order=..., or the ClOrdID printed as
cl=...: fix-send records the orders it sends (ClOrdID, OrderID, symbol, side) in
~/.local/state/fixexchange/orders-SENDER.tsv ($FIXEXCH_STATE_DIR overrides the directory,
--orders-file the file) and sends the current ClOrdID as OrigClOrdID(41). For an order it
did not send, add --symbol and --side.

examples:
  fix-send buy SYM1 10 @ 100.5
  fix-send sell SYM1 5                       # market order
  fix-send buy SYM1 10 @ 100.5 --tif ioc
  fix-send sell SYM1 10 --stop 99            # stop order
  fix-send buy SYM1 100 @ 104 --display 10   # iceberg
  fix-send buy SYM1 10 @ 106 --post-only
  fix-send replace MWYIGT7V-O101 --qty 5 --price 101    # ORDER as printed: order=...
  fix-send status MWYIGT7V-O101 ; fix-send cancel MWYIGT7V-O101
  fix-send cancel-all SYM1 ; fix-send cancel-all
  fix-send book SYM1 ; fix-send symbols
  fix-send -i                                # interactive: same commands at a prompt
  FIXEXCH_SENDER=CLIENT2 fix-send -v buy SYM2 1 @ 101

environment: FIXEXCH_HOST FIXEXCH_PORT FIXEXCH_SENDER FIXEXCH_TARGET FIXEXCH_PASSWORD
  FIXEXCH_USERNAME FIXEXCH_TIMEOUT FIXEXCH_CLIENT_CONFIG FIXEXCH_STATE_DIR
config file (TOML), e.g. ~/.config/fixexchange/client.toml:
  host = "127.0.0.1"
  port = 9878
  [fix-send]
  sender_comp_id = "CLIENT2"
  password = "pass2"

exit codes: 0 done (order accepted: resting, filled or expired), 1 rejected by the
  exchange, 2 bad arguments or config, 3 cannot connect / logon refused / disconnected,
  4 no answer in time.
"""


class _Parser(OneLineArgumentParser):
    tool = TOOL


def _add_ticket_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("words", nargs="*", metavar="TICKET",
                        help="buy|sell SYMBOL QTY [@ PRICE], cancel ORDER, ... (below)")
    ticket = parser.add_argument_group("ticket options")
    ticket.add_argument("--tif", choices=sorted(TIFS, key=lambda k: TIFS[k]),
                        help="TimeInForce (default day)")
    ticket.add_argument("--expire", metavar="YYYYMMDD-HH:MM:SS",
                        help="ExpireTime(126) for --tif gtd")
    ticket.add_argument("--stop", metavar="PX", help="StopPx(99): stop or stop-limit order")
    ticket.add_argument("--post-only", action="store_true", help="ExecInst(18)=6")
    ticket.add_argument("--display", metavar="N", help="MaxFloor(111): iceberg display size")
    ticket.add_argument("--min-qty", metavar="N", help="MinQty(110)")
    ticket.add_argument("--qty", metavar="N", help="replace: new OrderQty")
    ticket.add_argument("--price", metavar="PX", help="replace: new Price")
    ticket.add_argument("--depth", metavar="N", help="book: levels per side (default 5)")
    ticket.add_argument("--symbol", help="cancel/replace/status of an order fix-send "
                        "has no record of: its Symbol")
    ticket.add_argument("--side", choices=sorted(SIDES), help="... and its Side")


def ticket_parser() -> _Parser:
    parser = _Parser(prog="", add_help=False, exit_on_error=False)
    _add_ticket_arguments(parser)
    return parser


def main_parser() -> _Parser:
    parser = _Parser(
        prog=TOOL,
        description="Send orders to a fixexchange (FIX 4.4) and print its execution reports.",
        epilog=EXAMPLES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
        exit_on_error=False,
    )
    _add_ticket_arguments(parser)
    parser.add_argument("-i", "--interactive", action="store_true",
                        help="keep one session open and read commands at a prompt")
    parser.add_argument("--orders-file", metavar="FILE",
                        help="where fix-send records its orders (see below)")
    add_connection_arguments(parser, DEFAULT_SENDER)
    return parser


# --------------------------------------------------------------------------- tickets


@dataclasses.dataclass
class Command:
    action: str  # order cancel replace status cancel-all book symbols help quit
    side: str | None = None
    symbol: str | None = None
    qty: str | None = None
    price: str | None = None
    stop: str | None = None
    tif: str | None = None
    expire: str | None = None
    post_only: bool = False
    display: str | None = None
    min_qty: str | None = None
    order: str | None = None
    depth: int = 5

    @property
    def ord_type(self) -> str:
        if self.stop is not None:
            return "4" if self.price is not None else "3"
        return "2" if self.price is not None else "1"


def _positive_number(value: str, what: str, integer: bool = False) -> str:
    try:
        number = Decimal(value)
    except InvalidOperation:
        raise UsageError(f"{what} must be a number, got {value!r}") from None
    if not number.is_finite() or number <= 0:
        raise UsageError(f"{what} must be positive, got {value!r}")
    # "1e99999999" would be written out as 100 million digits (memory, then a message the
    # exchange cannot take): no real price or quantity needs more than 30 digits either side
    if number.adjusted() >= 30 or number.as_tuple().exponent < -30:
        raise UsageError(f"{what} has too many digits, got {value!r}")
    if integer and number != number.to_integral_value():
        raise UsageError(f"{what} must be a whole number, got {value!r}")
    # Plain decimal text, as FIX wants it: "1e2", "1_000" or " 99" would be session-rejected.
    return format(number, "f")


def _expire_time(value: str) -> str:
    """ExpireTime(126) as FIX wants it (UTC): YYYYMMDD-HH:MM:SS[.sss]."""
    try:
        time.strptime(value.split(".")[0], "%Y%m%d-%H:%M:%S")
        ok = "." not in value or (len(value.split(".", 1)[1]) == 3
                                  and value.split(".", 1)[1].isdigit())
    except ValueError:
        ok = False
    if not ok or len(value.split(".")[0]) != 17:
        raise UsageError(f"--expire must be a UTC time YYYYMMDD-HH:MM:SS[.sss], got {value!r}")
    return value


def _symbol(value: str) -> str:
    if not value or not all(c.isalnum() or c in "._-/" for c in value):
        raise UsageError(f"bad symbol {value!r}")
    return value


_TICKET_OPTIONS = ("tif", "expire", "stop", "post_only", "display", "min_qty", "qty", "price",
                   "depth", "symbol", "side")


def parse_ticket(args: argparse.Namespace) -> Command:
    """Turn parsed words and options into a Command; raises UsageError with one line."""
    words = list(args.words)
    if not words:
        raise UsageError(f"no ticket given: e.g. '{TOOL} buy SYM1 10 @ 100.5' "
                         f"(see {TOOL} --help)")
    verb = words[0].lower()
    rest = words[1:]
    if verb in SIDES:
        _only_options(args, verb, "tif", "expire", "stop", "post_only", "display", "min_qty")
        return _order_ticket(verb, rest, args)
    if verb in ("cancel", "replace", "status"):
        return _order_reference_ticket(verb, rest, args)
    if verb == "cancel-all":
        _only_options(args, verb)
        if len(rest) > 1:
            raise UsageError("'cancel-all' takes at most one SYMBOL")
        return Command(action="cancel-all", symbol=_symbol(rest[0]) if rest else None)
    if verb == "book":
        _only_options(args, verb, "depth")
        if len(rest) != 1:
            raise UsageError("'book' needs exactly one SYMBOL")
        depth = 5
        if args.depth is not None:
            depth = int(Decimal(_positive_number(args.depth, "--depth", integer=True)))
        return Command(action="book", symbol=_symbol(rest[0]), depth=depth)
    if verb == "symbols":
        _only_options(args, verb)
        if rest:
            raise UsageError("'symbols' takes no arguments")
        return Command(action="symbols")
    if verb in ("help", "?"):
        return Command(action="help")
    if verb in ("quit", "exit"):
        return Command(action="quit")
    raise UsageError(
        f"unknown command {words[0]!r}: expected buy, sell, cancel, replace, status, "
        f"cancel-all, book or symbols"
    )


def _only_options(args: argparse.Namespace, verb: str, *allowed: str) -> None:
    """UsageError for a ticket option given that does not apply to ``verb``."""
    for name in sorted(set(_TICKET_OPTIONS) - set(allowed)):
        value = getattr(args, name, None)
        if value not in (None, False):
            option = "--" + name.replace("_", "-")
            raise UsageError(f"{option} does not apply to '{verb}'")


def _order_ticket(verb: str, rest: list[str], args: argparse.Namespace) -> Command:
    """buy/sell SYMBOL QTY [@ PRICE] and the order options."""
    # Accept "SYM 10 @ 100.5", "SYM 10 @100.5", "SYM 10 at 100.5".
    tokens: list[str] = []
    for word in rest:
        if word.startswith("@") and len(word) > 1:
            tokens += ["@", word[1:]]
        else:
            tokens.append(word)
    if len(tokens) < 2:
        raise UsageError(f"'{verb}' needs SYMBOL QTY [@ PRICE], e.g. '{verb} SYM1 10 @ 100.5'")
    symbol, qty, extra = tokens[0], tokens[1], tokens[2:]
    price = None
    if extra:
        if len(extra) != 2 or extra[0].lower() not in ("@", "at"):
            raise UsageError(
                f"unexpected {' '.join(extra)!r}: a price is written '@ PRICE'"
            )
        price = _positive_number(extra[1], "price")
    command = Command(
        action="order", side=SIDES[verb], symbol=_symbol(symbol),
        qty=_positive_number(qty, "quantity"), price=price,
    )
    _order_options(command, args)
    return command


def _order_options(command: Command, args: argparse.Namespace) -> None:
    """--stop, --tif, --expire, --post-only, --display, --min-qty onto an order ``command``."""
    if args.stop is not None:
        command.stop = _positive_number(args.stop, "--stop")
    command.tif = TIFS[args.tif] if args.tif else None
    if args.tif == "gtd" and not args.expire:
        raise UsageError("--tif gtd needs --expire YYYYMMDD-HH:MM:SS")
    if args.expire:
        if args.tif not in (None, "gtd"):
            raise UsageError("--expire goes with --tif gtd")
        command.tif = TIFS["gtd"]
        command.expire = _expire_time(args.expire)
    if args.post_only:
        if command.price is None:
            raise UsageError("--post-only needs a limit price (@ PRICE)")
        command.post_only = True
    if args.display is not None:
        command.display = _positive_number(args.display, "--display")
        if Decimal(command.display) > Decimal(command.qty):
            raise UsageError("--display must not exceed the order quantity")
    if args.min_qty is not None:
        command.min_qty = _positive_number(args.min_qty, "--min-qty")
    if command.tif == TIFS["ioc"] or command.tif == TIFS["fok"]:
        if command.post_only:
            raise UsageError("--post-only cannot be combined with --tif ioc/fok")


def _order_reference_ticket(verb: str, rest: list[str], args: argparse.Namespace) -> Command:
    """cancel/replace/status ORDER [--symbol S --side SIDE]; replace with --qty/--price."""
    if len(rest) != 1:
        raise UsageError(f"'{verb}' needs exactly one ORDER (an OrderID or ClOrdID)")
    if verb == "replace":
        _only_options(args, verb, "qty", "price", "symbol", "side")
        if args.qty is None and args.price is None:
            raise UsageError("'replace' needs --qty and/or --price")
    else:
        _only_options(args, verb, "symbol", "side")
    command = Command(action=verb, order=rest[0])
    if verb == "replace":
        if args.qty is not None:
            command.qty = _positive_number(args.qty, "--qty")
        if args.price is not None:
            command.price = _positive_number(args.price, "--price")
    if (args.symbol is None) != (args.side is None):
        raise UsageError("--symbol and --side go together")
    if args.symbol is not None:
        command.symbol = _symbol(args.symbol)
        command.side = SIDES[args.side]
    return command


def parse_line(line: str) -> Command | None:
    """An interactive line; None for a blank one."""
    try:
        words = shlex.split(line)
    except ValueError as exc:
        raise UsageError(f"cannot parse the line: {exc}") from None
    if not words:
        return None
    try:
        args = ticket_parser().parse_intermixed_args(words)
    except argparse.ArgumentError as exc:
        raise UsageError(str(exc)) from None
    return parse_ticket(args)


# --------------------------------------------------------------------------- order records


@dataclasses.dataclass
class OrderRecord:
    clordid: str
    orderid: str
    symbol: str
    side: str
    ord_type: str
    qty: str
    price: str


class OrderBookFile:
    """Orders sent by fix-send for one SenderCompID: ClOrdID <-> OrderID, symbol, side,
    type, quantity and price, appended as tab-separated lines; the last line wins."""

    MAX_LINES = 2000

    def __init__(self, path: str, max_lines: int = MAX_LINES) -> None:
        self.path = path
        self.max_lines = max_lines

    @staticmethod
    def default_path(sender: str, environ=None) -> str:
        environ = os.environ if environ is None else environ
        base = environ.get("FIXEXCH_STATE_DIR")
        if not base:
            state = environ.get("XDG_STATE_HOME") or os.path.join(
                environ.get("HOME") or os.path.expanduser("~"), ".local", "state"
            )
            base = os.path.join(state, "fixexchange")
        return os.path.join(base, f"orders-{sender}.tsv")

    def _read(self) -> list[OrderRecord]:
        try:
            with open(self.path, encoding="utf-8") as handle:
                lines = handle.read().splitlines()
        except FileNotFoundError:
            return []
        except OSError:
            return []
        records = []
        for line in lines:
            parts = line.split("\t")
            if len(parts) == 7:
                records.append(OrderRecord(*parts))
        return records

    def record(self, rec: OrderRecord) -> None:
        try:
            os.makedirs(os.path.dirname(self.path) or ".", exist_ok=True)
            records = self._read()
            if len(records) >= self.max_lines:
                keep = records[-self.max_lines // 2:]
                with open(self.path + ".tmp", "w", encoding="utf-8") as handle:
                    for old in keep:
                        handle.write("\t".join(dataclasses.astuple(old)) + "\n")
                os.replace(self.path + ".tmp", self.path)
            with open(self.path, "a", encoding="utf-8") as handle:
                handle.write("\t".join(dataclasses.astuple(rec)) + "\n")
        except OSError as exc:
            say(f"warning: cannot record the order in {self.path}: {exc.strerror}",
                sys.stderr)

    def lookup(self, ref: str) -> OrderRecord | None:
        """The current record of the order `ref` names (an OrderID or any of its ClOrdIDs)."""
        records = self._read()
        found = None
        for rec in reversed(records):
            if rec.orderid == ref or rec.clordid == ref:
                found = rec
                break
        if found is None:
            return None
        if found.orderid:
            for rec in reversed(records):
                if rec.orderid == found.orderid:
                    return rec
        return found


# --------------------------------------------------------------------------- reports


def _num(value: str | None) -> str:
    if value is None:
        return "-"
    try:
        number = Decimal(value)
    except InvalidOperation:
        return value
    # NaN/Infinity, or an exponent that would print a huge string (1E+999999999 is a GB of
    # zeros): shown as received
    if not number.is_finite() or abs(number.adjusted()) > 40:
        return value
    return bookmod._fmt(number)


def _nonzero(value: str) -> bool:
    """A LastQty worth showing: non-zero, or not a number (shown raw, never a traceback)."""
    try:
        return Decimal(value or 0) != 0
    except InvalidOperation:
        return True


def format_exec_report(msg) -> str:
    exec_type = field(msg, ExecType, "?")
    if exec_type == "D" and field(msg, ExecRestatementReason) == "8" and field(msg, StopPx) is not None:
        exec_type = "L"  # FIX 4.4's report of an elected stop: Restated by the market
    status = field(msg, OrdStatus, "?")
    side = SIDE_NAMES.get(field(msg, Side, ""), field(msg, Side, "?"))
    symbol = field(msg, Symbol, "?")
    qty = field(msg, OrderQty)
    price = field(msg, Price)
    stop = field(msg, StopPx)
    ord_type = field(msg, OrdType)
    parts = [f"{EXEC_TYPES.get(exec_type, exec_type):<9}", symbol, side, _num(qty)]
    if price is not None and ord_type not in ("1", "3"):
        parts += ["@", _num(price)]
    if ord_type == "1":
        parts.append("MKT")
    if stop is not None:
        parts.append(f"STOP {_num(stop)}")
    tif = field(msg, TimeInForce)
    if tif and tif != "0":
        parts.append(TIF_NAMES.get(tif, tif))
    parts.append(f"order={field(msg, OrderID, '-')}")
    parts.append(f"cl={field(msg, ClOrdID, '-')}")
    tail = [f"status={ORD_STATUS.get(status, status)}",
            f"filled={_num(field(msg, CumQty, '0'))}/{_num(qty)}",
            f"leaves={_num(field(msg, LeavesQty, '0'))}"]
    last_qty = field(msg, LastQty)
    if last_qty is not None and exec_type == "F" and _nonzero(last_qty):
        tail.append(f"last={_num(last_qty)}@{_num(field(msg, LastPx))}")
    cum = field(msg, CumQty)
    if cum is not None and cum not in ("", "0") and field(msg, AvgPx) is not None:
        tail.append(f"avg={_num(field(msg, AvgPx))}")
    text = field(msg, Text)
    if exec_type == "8" or status == "8":
        reason = text or f"OrdRejReason {field(msg, OrdRejReason, '?')}"
        tail.append(f"reason: {reason}")
    elif text:
        tail.append(f"text: {text}")
    return " ".join(parts) + "  " + " ".join(tail)


def format_cancel_reject(msg) -> str:
    reason = field(msg, CxlRejReason)
    text = field(msg, Text)
    what = "cancel" if field(msg, CxlRejResponseTo) == "1" else "replace"
    why = text or CXL_REJ_REASONS.get(reason or "", f"CxlRejReason {reason}")
    return (f"{'CXLREJ':<9} {what} of order={field(msg, OrderID, '-')} "
            f"cl={field(msg, OrigClOrdID, '-')} rejected: {why}")


def format_reject(msg) -> str:
    kind = msg_type(msg)
    text = field(msg, Text, "")
    if kind == "3":
        tag = field(msg, RefTagID)
        where = f" (tag {tag})" if tag else ""
        reason = text or field(msg, SessionRejectReason, "?")
        return f"{'REJECT':<9} message {field(msg, RefSeqNum, '?')} rejected{where}: {reason}"
    if kind == "j":
        return (f"{'BIZREJECT':<9} {field(msg, RefMsgType, '?')} rejected: "
                f"{text or 'BusinessRejectReason ' + field(msg, BusinessRejectReason, '?')}")
    if kind == "Y":
        return f"{'MDREJECT':<9} market data request rejected: {text or field(msg, MDReqRejReason, '?')}"
    return f"{kind}: {text}"


def format_mass_cancel(msg) -> str:
    response = field(msg, MassCancelResponse, "?")
    affected = field(msg, TotalAffectedOrders, "0")
    if response == "0":
        return (f"{'MASSCXL':<9} rejected: "
                f"{field(msg, Text) or 'MassCancelRejectReason ' + field(msg, MassCancelRejectReason, '?')}")
    symbol = field(msg, Symbol)
    scope = f"for {symbol}" if symbol else "for all symbols"
    return f"{'MASSCXL':<9} {affected} order(s) canceled {scope}"


# --------------------------------------------------------------------------- dispatcher


_ids = itertools.count(1)
_id_prefix = format(int(time.time() * 1000), "x")[-8:] + format(os.getpid() % 4096, "x")


def new_id() -> str:
    return f"{_id_prefix}-{next(_ids)}"


class Pending:
    """The command fix-send waits for: which answers belong to it and when it is done."""

    def __init__(self, kind: str, seq: int, ids: set[str], depth: int = 5) -> None:
        self.kind = kind
        self.seq = seq
        self.ids = ids
        self.depth = depth
        self.done = False
        self.exit_code = EXIT_OK
        self.settle_since: float | None = None
        self.fragments: list = []
        self.lines: list[str] = []

    def finish(self, code: int = EXIT_OK) -> None:
        self.done = True
        if code != EXIT_OK:
            self.exit_code = code

    def rest(self) -> None:
        self.settle_since = time.monotonic()

    def finished(self) -> bool:
        if self.done:
            return True
        if self.settle_since is not None and time.monotonic() - self.settle_since >= SETTLE:
            self.done = True
        return self.done


class Trader:
    def __init__(self, client: FixClient, orders: OrderBookFile, out=None) -> None:
        self.client = client
        self.orders = orders
        self.out = out if out is not None else sys.stdout
        self.pending: Pending | None = None
        self._lock = threading.RLock()
        self._sent: dict[str, OrderRecord] = {}
        self._unrecorded: set[str] = set()  # cancel/replace ClOrdIDs not yet accepted
        # for the interactive prompt's completion: the exchange's symbols (asked for in the
        # background by `request_symbols`) and this session's live orders, OrderID -> text
        self.symbols: list[str] = []
        self._symbols_req: str | None = None
        self._symbols_seq: int | None = None
        self.live: dict[str, str] = {}

    def request_symbols(self) -> None:
        """A SecurityListRequest whose answer only feeds `symbols` (nothing printed)."""
        with self._lock:
            self._symbols_req = new_id()
            self._symbols_seq = self.client.send("x", [(SecurityReqID, self._symbols_req),
                                                       (SecurityListRequestType, "4")])

    # -- sending
    def start(self, command: Command) -> Pending:
        now = utc_timestamp()
        if command.action == "order":
            return self._start_order(command, now)
        if command.action in ("cancel", "replace", "status"):
            return self._start_on_order(command, now)
        if command.action == "cancel-all":
            cl = new_id()
            fields = [(ClOrdID, cl)]
            if command.symbol:
                fields += [(MassCancelRequestType, "1"), (Symbol, command.symbol)]
            else:
                fields += [(MassCancelRequestType, "7")]
            fields.append((TransactTime, now))
            return self._send("q", fields, Pending("cancel-all", 0, {cl}))
        if command.action == "book":
            req = new_id()
            fields = [(MDReqID, req), (SubscriptionRequestType, "0"), (MarketDepth, 0), (NoMDEntryTypes, 3),
                      (MDEntryType, "0"), (MDEntryType, "1"), (MDEntryType, "2"), (NoRelatedSym, 1),
                      (Symbol, command.symbol)]
            return self._send("V", fields, Pending("book", 0, {req}, depth=command.depth))
        if command.action == "symbols":
            req = new_id()
            return self._send("x", [(SecurityReqID, req), (SecurityListRequestType, "4")], Pending("symbols", 0, {req}))
        raise UsageError(f"nothing to send for {command.action!r}")

    def _start_order(self, command: Command, now: str) -> Pending:
        """A NewOrderSingle, recorded at once."""
        cl = new_id()
        fields: list[tuple[int, object]] = [
            (ClOrdID, cl), (Symbol, command.symbol), (Side, command.side), (TransactTime, now),
            (OrderQty, command.qty), (OrdType, command.ord_type),
        ]
        if command.price is not None:
            fields.append((Price, command.price))
        if command.stop is not None:
            fields.append((StopPx, command.stop))
        if command.tif is not None:
            fields.append((TimeInForce, command.tif))
        if command.expire is not None:
            fields.append((ExpireTime, command.expire))
        if command.post_only:
            fields.append((ExecInst, "6"))
        if command.display is not None:
            fields.append((MaxFloor, command.display))
        if command.min_qty is not None:
            fields.append((MinQty, command.min_qty))
        rec = OrderRecord(cl, "", command.symbol, command.side, command.ord_type,
                          command.qty, command.price or "")
        return self._send("D", fields, Pending("order", 0, {cl}), rec)

    def _start_on_order(self, command: Command, now: str) -> Pending:
        """A cancel, replace or status request of a recorded order (or one named with
        --symbol and --side)."""
        rec = self.orders.lookup(command.order)
        if rec is None:
            if command.symbol is None:
                raise UsageError(
                    f"unknown order {command.order!r}: {TOOL} has no record of it in "
                    f"{self.orders.path}; add --symbol and --side to ask the exchange anyway"
                )
            rec = OrderRecord(command.order, command.order, command.symbol,
                              command.side, "2", "", "")
        cl = new_id()
        if command.action == "status":
            fields = [(ClOrdID, rec.clordid), (Symbol, rec.symbol), (Side, rec.side), (OrdStatusReqID, cl)]
            if rec.orderid:
                fields.insert(0, (OrderID, rec.orderid))
            return self._send("H", fields, Pending("status", 0, {cl, rec.clordid}))
        fields = [(OrigClOrdID, rec.clordid), (ClOrdID, cl), (Symbol, rec.symbol), (Side, rec.side),
                  (TransactTime, now)]
        if rec.orderid:
            fields.insert(0, (OrderID, rec.orderid))
        if command.action == "cancel":
            if rec.qty:
                fields.append((OrderQty, rec.qty))
            # The cancel's ClOrdID becomes the order's once the exchange accepts it.
            new = dataclasses.replace(rec, clordid=cl)
            return self._send("F", fields, Pending("cancel", 0, {cl}), new,
                              record=False)
        qty = command.qty or rec.qty
        if not qty:
            raise UsageError("'replace' of an order fix-send has no record of needs --qty")
        ord_type = rec.ord_type or "2"
        if command.price is not None and ord_type in ("1", "3"):
            raise UsageError(f"order {command.order} has no limit price to replace "
                             f"({ORD_TYPE_NAMES[ord_type]} order)")
        price = (command.price or rec.price) if ord_type in ("2", "4") else None
        fields += [(OrderQty, qty), (OrdType, ord_type)]
        if price:
            fields.append((Price, price))
        new = OrderRecord(cl, rec.orderid, rec.symbol, rec.side, rec.ord_type, qty,
                          price or "")
        # Recorded when the exchange accepts it: a rejected replace leaves the order
        # (and the ClOrdID to name it by) as it was.
        return self._send("G", fields, Pending("replace", 0, {cl}), new, record=False)

    def _send(self, kind: str, fields, pending: Pending, rec: OrderRecord | None = None,
              record: bool = True):
        """Send; `rec` is the order's record under the new ClOrdID, written now (a new
        order) or when an ExecutionReport for that ClOrdID arrives (`record=False`:
        cancel/replace, which the exchange may reject)."""
        with self._lock:
            self.pending = pending
            if rec is not None:
                self._sent[rec.clordid] = rec
                if not record:
                    self._unrecorded.add(rec.clordid)
            pending.seq = self.client.send(kind, fields)
            if rec is not None and record:
                self.orders.record(rec)
        return pending

    # -- receiving (called from the thread that polls the client)
    def handle(self, msg) -> None:
        with self._lock:
            self._handle(msg)

    def _mine(self, *values: str | None) -> bool:
        p = self.pending
        return p is not None and not p.done and any(v in p.ids for v in values if v)

    def _handle(self, msg) -> None:
        kind = msg_type(msg)
        p = self.pending
        if kind == "8":
            say(format_exec_report(msg), self.out)
            self._learn(msg)
            self._track_live(msg)
            cl = field(msg, ClOrdID)
            if not self._mine(cl, field(msg, OrdStatusReqID), field(msg, OrigClOrdID)):
                return
            exec_type, status = field(msg, ExecType), field(msg, OrdStatus)
            if p.kind == "status":
                if exec_type == "I":
                    p.finish(EXIT_REJECTED if status == "8" else EXIT_OK)
                return
            if exec_type == "8" or status == "8":
                p.finish(EXIT_REJECTED)
            elif status in TERMINAL:
                p.finish()
            elif status in ("0", "1", "5") or exec_type in ("0", "5", "F", "L"):
                p.rest()
            return
        if kind == "9":
            say(format_cancel_reject(msg), self.out)
            if self._mine(field(msg, ClOrdID), field(msg, OrigClOrdID)):
                p.finish(EXIT_REJECTED)
            return
        if kind == "r":
            say(format_mass_cancel(msg), self.out)
            if self._mine(field(msg, ClOrdID)):
                p.finish(EXIT_REJECTED if field(msg, MassCancelResponse) == "0" else EXIT_OK)
            return
        if kind == "W":
            if self._mine(field(msg, MDReqID)):
                book = bookmod.Book(field(msg, Symbol, "?"))
                book.apply_snapshot(groups(msg, NoMDEntries, MDEntryType))
                for line in bookmod.render(book, p.depth):
                    say(line, self.out)
                p.finish()
            return
        if kind == "y":
            if self._symbols_req is not None and field(msg, SecurityReqID) == self._symbols_req:
                if field(msg, SecurityRequestResult, "0") == "0":
                    self.symbols += [e[Symbol] for e in groups(msg, NoRelatedSym, Symbol) if e.get(Symbol)]
                return
            if not self._mine(field(msg, SecurityReqID)):
                return
            if field(msg, SecurityRequestResult, "0") != "0":
                say(f"{'REJECT':<9} security list request rejected: "
                    f"{field(msg, Text) or 'SecurityRequestResult ' + field(msg, SecurityRequestResult, '?')}",
                    self.out)
                p.finish(EXIT_REJECTED)
                return
            if not p.fragments:
                say(f"{'SYMBOL':<12} {'TICK':>10} {'LOT':>8} {'MIN QTY':>8}", self.out)
            for entry in groups(msg, NoRelatedSym, Symbol):
                p.fragments.append(entry)
                tick = entry.get(MinPriceIncrement)
                if tick is None and entry.get(Text, "").startswith("MinPriceIncrement="):
                    tick = entry[Text].split()[0].split("=", 1)[1]  # the exchange's FIX 4.4-clean form
                say(f"{entry.get(Symbol, '?'):<12} {_num(tick):>10} "
                    f"{_num(entry.get(RoundLot)):>8} {_num(entry.get(MinTradeVol)):>8}", self.out)
            if field(msg, LastFragment, "Y") == "Y":
                p.finish()
            return
        if kind in ("3", "j", "Y"):
            if self._symbols_seq is not None and field(msg, RefSeqNum) == str(self._symbols_seq):
                return  # the background symbol list was refused: no symbol completion
            say(format_reject(msg), self.out)
            ref_seq = field(msg, RefSeqNum)
            ref_id = field(msg, BusinessRejectRefID) if kind == "j" else field(msg, MDReqID)
            if p is not None and not p.done and (
                (ref_seq is not None and ref_seq == str(p.seq)) or (ref_id in p.ids)
            ):
                p.finish(EXIT_REJECTED)
            return
        raw = "|".join(f"{t}={v}" for t, v in pairs(msg))
        say(f"{'MESSAGE':<9} unexpected {kind}: {raw}", self.out)

    def _track_live(self, msg) -> None:
        oid = field(msg, OrderID)
        if not oid or oid == "NONE":
            return
        if field(msg, OrdStatus) in TERMINAL or field(msg, ExecType) == "8":
            self.live.pop(oid, None)
            return
        side = SIDE_NAMES.get(field(msg, Side, ""), "?")
        price = field(msg, Price)
        self.live[oid] = (f"{field(msg, Symbol, '?')} {side} {_num(field(msg, LeavesQty))}"
                          + (f" @ {_num(price)}" if price and field(msg, OrdType) not in ("1", "3") else ""))

    def _learn(self, msg) -> None:
        cl, oid = field(msg, ClOrdID), field(msg, OrderID)
        rec = self._sent.get(cl or "")
        if rec is None or not oid or oid == "NONE":
            return
        if rec.orderid == oid and cl not in self._unrecorded:
            return
        if field(msg, ExecType) == "8" or field(msg, OrdStatus) == "8":
            return
        self._unrecorded.discard(cl)
        rec.orderid = oid
        self.orders.record(rec)


# --------------------------------------------------------------------------- modes


def wait_one_shot(client: FixClient, trader: Trader, pending: Pending, timeout: float) -> int:
    deadline = time.monotonic() + timeout
    while not pending.finished():
        if time.monotonic() >= deadline:
            raise Timeout(f"no answer from the exchange within {timeout:g}s")
        wait = 0.05 if pending.settle_since is not None else min(
            0.5, max(0.0, deadline - time.monotonic()))
        msg = client.poll(wait)
        if msg is not None:
            trader.handle(msg)
    return pending.exit_code


def run_one_shot(settings, command: Command, orders: OrderBookFile, verbose: bool) -> int:
    client = FixClient(settings, verbose=verbose)
    client.start()
    trader = Trader(client, orders)
    try:
        pending = trader.start(command)
        return wait_one_shot(client, trader, pending, settings.timeout)
    finally:
        # Reports that came in behind the answer (a stop this order triggered, a fill on
        # another resting order) are printed too, not dropped at logout.
        client.logout(on_message=trader.handle)


HELP = EXAMPLES.split("\nORDER is")[0] + """
  help                            this text
  quit | exit | Ctrl-D            log out and leave
Execution reports for resting orders are printed as they arrive."""


class _PipedLines:
    """Lines of piped stdin read straight from the descriptor, so that waiting for the
    next line can also notice a lost connection (Python's own buffering would hide input
    already read from select())."""

    def __init__(self, stream) -> None:
        self.stream = stream
        self.buffer = b""
        self.eof = False
        try:
            self.fd: int | None = stream.fileno()
        except (AttributeError, OSError, ValueError):
            self.fd = None

    def readline(self, lost: list) -> str | None:
        """The next line, None at end of input or when `lost` becomes non-empty."""
        if self.fd is None:
            line = self.stream.readline()
            return line if line and not lost else None
        import select

        while b"\n" not in self.buffer and not self.eof:
            if lost:
                return None
            try:
                ready, _, _ = select.select([self.fd], [], [], 0.2)
            except (OSError, ValueError):
                return None
            if ready:
                data = os.read(self.fd, 65536)
                if data:
                    self.buffer += data
                else:
                    self.eof = True
        if lost or not self.buffer:
            return None
        line, _, self.buffer = self.buffer.partition(b"\n")
        return line.decode("utf-8", "replace") + "\n"


COMMANDS = ("buy", "sell", "cancel", "replace", "status", "cancel-all", "book", "symbols",
            "help", "quit")
ORDER_FLAGS = ("--tif", "--expire", "--stop", "--post-only", "--display", "--min-qty")
FLAGS = {"buy": ORDER_FLAGS, "sell": ORDER_FLAGS,
         "cancel": ("--symbol", "--side"), "status": ("--symbol", "--side"),
         "replace": ("--qty", "--price", "--symbol", "--side"), "book": ("--depth",)}
FLAG_VALUES = {"--tif": tuple(TIFS), "--side": tuple(SIDES)}
VALUE_FLAGS = {"--tif", "--expire", "--stop", "--display", "--min-qty", "--qty", "--price",
               "--depth", "--symbol", "--side"}


def completions(text: str, symbols: list[str], live: dict[str, str]) -> list[tuple[str, str]]:
    """What may come next on an interactive line typed up to the cursor: (word, what it
    is) for commands, their flags and flag values, symbols (from the SecurityList) and this
    session's live orders (OrderIDs)."""
    words = text.split()
    if not text or text[-1].isspace():
        words.append("")
    current, before = words[-1], words[:-1]
    if not before:
        candidates = [(c, "") for c in COMMANDS]
    else:
        verb = before[0].lower()
        previous = before[-1]
        positional = [w for k, w in enumerate(before[1:], 1)
                      if not w.startswith("--") and before[k - 1] not in VALUE_FLAGS]
        if previous in FLAG_VALUES:
            candidates = [(v, "") for v in FLAG_VALUES[previous]]
        elif previous == "--symbol":
            candidates = [(sym, "symbol") for sym in symbols]
        elif current.startswith("-"):
            candidates = [(f, "") for f in FLAGS.get(verb, ()) if f not in before]
        elif verb in ("buy", "sell", "book", "cancel-all") and not positional:
            candidates = [(sym, "symbol") for sym in symbols]
        elif verb in ("cancel", "replace", "status") and not positional:
            candidates = sorted(live.items())
        else:
            candidates = []
    return [(word, meta) for word, meta in candidates if word.startswith(current) and word != current]


def _completer(trader: "Trader"):
    from prompt_toolkit.completion import Completer, Completion

    class FixSendCompleter(Completer):
        def get_completions(self, document, complete_event):
            text = document.text_before_cursor
            current = "" if not text or text[-1].isspace() else text.split()[-1]
            for word, meta in completions(text, trader.symbols, dict(trader.live)):
                yield Completion(word, start_position=-len(current), display_meta=meta)

    return FixSendCompleter()


@contextlib.contextmanager
def _reports_above_the_prompt():
    """prompt_toolkit's patch_stdout, with its writer thread in this thread's context: it
    must see the app session the prompt runs in to erase and redraw the prompt around
    what it prints (a new thread starts with an empty context, which names no app)."""
    from prompt_toolkit.patch_stdout import StdoutProxy

    class Proxy(StdoutProxy):
        def _start_write_thread(self) -> threading.Thread:
            context = contextvars.copy_context()
            thread = threading.Thread(target=context.run, args=(self._write_thread,),
                                      name="fix-send-prompt-writer", daemon=True)
            thread.start()
            return thread

    with Proxy() as proxy:
        saved = sys.stdout, sys.stderr
        sys.stdout = sys.stderr = proxy  # type: ignore[assignment]
        try:
            yield
        finally:
            sys.stdout, sys.stderr = saved


def run_interactive(settings, orders: OrderBookFile, verbose: bool, stdin=None,
                    pt_input=None, pt_output=None) -> int:
    """One session, commands read at a prompt (a terminal: prompt_toolkit, with completion,
    history across runs, reports printed above the prompt; `pt_input`/`pt_output` for
    tests) or from piped stdin, one per line."""
    stdin = stdin if stdin is not None else sys.stdin
    tty = pt_input is not None or stdin.isatty()
    client = FixClient(settings, verbose=verbose)
    client.start()
    trader = Trader(client, orders)
    lost: list[str] = []  # the connection's error, once it is gone
    stop = threading.Event()
    on_lost: list = []
    session = None
    screen = contextlib.ExitStack()
    if tty:
        session = _prompt_session(screen, client, trader, orders, pt_input, pt_output)
        on_lost.append(_prompt_waker(session))
        trader.request_symbols()
    thread = threading.Thread(target=_read_reports, args=(client, trader, stop, lost, on_lost),
                              name="fix-send-reader", daemon=True)
    thread.start()
    say(f"logged on as {settings.sender_comp_id} to {settings.target_comp_id} at "
        f"{settings.host}:{settings.port}; 'help' for commands, 'quit' to leave")
    piped = _PipedLines(stdin)

    def next_line() -> str | None:
        if session is None:
            return piped.readline(lost)
        while not lost:
            try:
                return session.prompt("fix-send> ")
            except KeyboardInterrupt:
                continue  # Ctrl-C: the line is cleared, the session stays
            except EOFError:
                return None  # Ctrl-D, or the connection is gone
        return None

    try:
        with screen:
            _run_commands(next_line, trader, settings.timeout, lost)
            if session is None and not lost:
                # Piped input: give resting orders' reports a moment before leaving.
                time.sleep(SETTLE)
    except KeyboardInterrupt:
        say("")
    finally:
        stop.set()
        thread.join(timeout=2.0)
        screen.close()
        trader.out = client.out = sys.stdout
        client.logout(on_message=trader.handle)
    if lost:
        return EXIT_CONNECTION
    say("logged out")
    return EXIT_OK


def _read_reports(client: FixClient, trader: Trader, stop: threading.Event, lost: list[str],
                  on_lost: list) -> None:
    """The reader thread: the exchange's messages to the trader until ``stop``; a lost
    connection is said, put in ``lost`` and wakes the prompt (``on_lost``)."""
    while not stop.is_set():
        try:
            msg = client.poll(0.2)
        except ToolError as exc:
            if not stop.is_set():
                lost.append(str(exc))
                say(f"{TOOL}: error: {exc}", sys.stderr)
                for wake in on_lost:
                    wake()
            return
        if msg is not None:
            trader.handle(msg)


def _prompt_session(screen: contextlib.ExitStack, client: FixClient, trader: Trader, orders: OrderBookFile,
                    pt_input, pt_output):
    """The terminal's prompt (or the tests' pipe input and output), entered on ``screen``:
    reports from the reader thread are printed above it, redrawn with the line typed so far."""
    from prompt_toolkit import PromptSession
    from prompt_toolkit.application import create_app_session
    from prompt_toolkit.history import FileHistory

    screen.enter_context(create_app_session(input=pt_input, output=pt_output))
    screen.enter_context(_reports_above_the_prompt())
    trader.out = client.out = sys.stdout

    history = os.path.join(os.path.dirname(os.path.abspath(orders.path)), "fix-send_history")
    try:
        os.makedirs(os.path.dirname(history), exist_ok=True)
        history_store = FileHistory(history)
    except OSError:
        history_store = None
    return PromptSession(history=history_store, completer=_completer(trader),
                         complete_while_typing=False)


def _prompt_waker(session):
    """Ends a prompt waiting for a line (from the reader thread: the connection is gone)."""
    def wake_prompt() -> None:
        app = session.app
        if app.is_running and app.loop is not None:
            app.loop.call_soon_threadsafe(lambda: app.exit(exception=EOFError()))
    return wake_prompt


def _run_commands(next_line, trader: Trader, timeout: float, lost: list[str]) -> None:
    """Read, parse and send commands, each waited for (up to ``timeout`` seconds), until
    'quit', the end of input or a lost connection."""
    while not lost:
        line = next_line()
        if line is None or lost:
            break
        try:
            command = parse_line(line)
        except UsageError as exc:
            say(f"error: {exc}".replace(f" (see {TOOL} --help)", " (try 'help')"), trader.out)
            continue
        if command is None:
            continue
        if command.action == "help":
            say(HELP, trader.out)
            continue
        if command.action == "quit":
            break
        try:
            pending = trader.start(command)
        except UsageError as exc:
            say(f"error: {exc}", trader.out)
            continue
        deadline = time.monotonic() + timeout
        while not pending.finished() and not lost:
            if time.monotonic() >= deadline:
                say(f"error: no answer from the exchange within {timeout:g}s", trader.out)
                pending.finish(EXIT_TIMEOUT)
                break
            time.sleep(0.02)


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    parser = main_parser()
    if not argv:
        print(f"{TOOL}: error: no ticket given, e.g. '{TOOL} buy SYM1 10 @ 100.5' "
              f"(see {TOOL} --help)", file=sys.stderr)
        return EXIT_USAGE
    try:
        try:
            args = parser.parse_intermixed_args(argv)
        except argparse.ArgumentError as exc:
            raise UsageError(f"{exc} (see {TOOL} --help)") from None
        settings = settings_from_args(args, TOOL, DEFAULT_SENDER)
        orders = OrderBookFile(args.orders_file or OrderBookFile.default_path(
            settings.sender_comp_id))
        if args.interactive:
            if args.words:
                raise UsageError("-i takes no ticket: type the commands at the prompt")
            return run_interactive(settings, orders, args.verbose)
        command = parse_ticket(args)
        if command.action == "help":
            parser.print_help()
            return EXIT_OK
        if command.action == "quit":
            return EXIT_OK
        if command.action in ("cancel", "replace", "status") and command.symbol is None:
            if orders.lookup(command.order) is None:
                raise UsageError(
                    f"unknown order {command.order!r}: {TOOL} has no record of it in "
                    f"{orders.path}; add --symbol and --side to ask the exchange anyway"
                )
        return run_one_shot(settings, command, orders, args.verbose)
    except ToolError as exc:
        return fail(TOOL, exc)
    except SessionClosed as exc:  # pragma: no cover - SessionClosed is a ToolError
        return fail(TOOL, exc)
    except KeyboardInterrupt:
        print(f"{TOOL}: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        return quiet_broken_pipe()


if __name__ == "__main__":
    sys.exit(main())
