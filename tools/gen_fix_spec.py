"""Writes docs/FIX-SPEC.md, the venue's FIX specification ("rules of engagement").

Everything in it that the code decides comes from the code: the tags of each inbound message
and which are required (the codec's data dictionary), the values the exchange takes (the
gateway's tables), every reject code (the dictionary's and the gateway's constants), and the
outbound messages and worked sequences, which are the messages the session layer and the
gateway actually produce for a scripted flow (fixed clock, so the output is stable).
tests/test_fix_spec.py regenerates it and fails when the committed file differs.

Run: python3 tools/gen_fix_spec.py [--check]
"""
from __future__ import annotations

import sys
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from fixexchange.codec import FixParser, Garbled  # noqa: E402
from fixexchange.codec._fix44_enums import ENUMS  # noqa: E402
from fixexchange.codec._field_types import FIELD_TYPES  # noqa: E402
from fixexchange.codec.dictionary import FIX44, HEADER_REQUIRED, ID_TAGS, MAX_ID_LENGTH, REASON_TEXTS  # noqa: E402
from fixexchange.engine import Engine, SymbolSpec  # noqa: E402
from fixexchange.gateway import common as gw  # noqa: E402
from fixexchange.gateway import Gateway  # noqa: E402
from fixexchange.gateway.reject_text import UNSUPPORTED_RULES  # noqa: E402
from fixexchange.session import Acceptor, ApplicationMessage, MemoryStore, SessionConfig  # noqa: E402
from fixexchange.session import acceptor as session_acceptor  # noqa: E402

SPEC = ROOT / "docs" / "FIX-SPEC.md"
NOW = 1_767_261_600.0  # 2026-01-01 10:00:00 UTC
EXCHANGE, CLIENT, OTHER = "FIXEXCH", "CLIENT1", "CLIENT2"
EXTRA_NAMES = {2446: "AggressorSide", 969: "MinPriceIncrement", 9001: "CancelOnDisconnect"}

# What the exchange reads in each inbound application message, and what it means here.
# (Any other field FIX 4.4 defines for the message is accepted and ignored.)
USED_IN: dict[bytes, list[tuple[int, str]]] = {
    b"D": [(11, "your order id, unique per session among your live and recent orders"),
           (55, "the symbol (case-sensitive)"), (54, ""), (38, "whole number of lots"), (40, ""),
           (44, "limit price, a multiple of the tick; required for OrdType 2 and 4"),
           (99, "stop price; required for OrdType 3 and 4"), (59, "default 0 (DAY)"),
           (126, "required for TimeInForce 6 unless ExpireDate is given"), (432, "GTD: end of that UTC day"),
           (18, ""), (111, "iceberg: the displayed quantity"), (110, "minimum quantity on entry"),
           (60, "required by FIX; not used"), (115, "third-party addressing, see Session rules"),
           (128, "third-party addressing, see Session rules")],
    b"F": [(11, "this request's id"), (41, "the order's current ClOrdID"), (37, "the OrderID (optional)"),
           (55, "must be the order's"), (54, "must be the order's"), (60, "required by FIX; not used")],
    b"G": [(11, "this request's id: the order's ClOrdID from now on"), (41, "the order's current ClOrdID"),
           (37, "the OrderID (optional)"), (38, "the new total quantity"), (44, "the new limit price"),
           (40, "must be the order's"), (54, "must be the order's"), (55, "must be the order's"),
           (59, "if given, must be the order's"), (99, "if given, must be the order's"),
           (60, "required by FIX; not used")],
    b"H": [(11, "the order's ClOrdID"), (37, "the OrderID (optional)"), (54, "required by FIX"),
           (790, "echoed in the answer")],
    b"q": [(11, "this request's id"), (530, ""), (55, "for MassCancelRequestType 1"),
           (54, "optional: only this side"), (60, "required by FIX; not used")],
    b"V": [(262, "your subscription id"), (263, ""), (264, "0 = full book, N = top N levels"),
           (265, "for subscriptions"), (267, "count of MDEntryType entries"), (269, ""),
           (146, "count of symbols"), (55, "one entry per symbol")],
    b"x": [(320, "your request id"), (559, ""), (55, "for SecurityListRequestType 0")],
    b"e": [(324, "your request id; answers and later changes carry it"), (263, ""), (55, "the symbol")],
}
# fields FIX 4.4 leaves optional that the exchange needs (a BusinessMessageReject 5 without)
REQUIRED_HERE = {b"D": {55, 38}, b"G": {38}, b"e": {55}}
# accepted values of the enumerated fields above, from the gateway's own tables
ACCEPTED_VALUES: dict[int, list[bytes]] = {
    54: list(gw.SIDES), 40: list(gw.ORD_TYPES), 59: list(gw.TIFS), 18: [b"6"],
    263: [b"0", b"1", b"2"], 265: [b"0", b"1"], 269: [b"0", b"1", b"2"],
    530: [gw.MASS_CANCEL_BY_SYMBOL, gw.MASS_CANCEL_ALL], 559: [b"0", b"4"],
}

SESSION_OWN_REASONS = {
    session_acceptor.COMPID_PROBLEM: "CompID problem: a CompID that is not the session's (then Logout), "
                                     "or third-party addressing that is not allowed",
    session_acceptor.SENDING_TIME_ACCURACY: "SendingTime accuracy problem (then Logout), or OrigSendingTime "
                                            "after SendingTime",
    7: "Decryption problem: a Logon with EncryptMethod other than 0 (then Logout)",
}


def name(tag: int) -> str:
    if tag in FIELD_TYPES:
        return FIELD_TYPES[tag][0]
    return EXTRA_NAMES.get(tag, "?")


def value_name(tag: int, value: bytes | str) -> str:
    value = value.decode() if isinstance(value, bytes) else value
    for enum, description in ENUMS.get(tag, ("", False, ()))[2]:
        if enum == value:
            return description
    return ""


def values_text(tag: int, values) -> str:
    return ", ".join(f"`{v.decode() if isinstance(v, bytes) else v}` {value_name(tag, v).lower()}".strip()
                     for v in values)


# ---------------------------------------------------------------- the scripted flow

class Flow:
    """The session layer and the gateway, wired as the daemon wires them, on a fixed clock."""

    def __init__(self) -> None:
        configs = [SessionConfig(EXCHANGE, CLIENT, password="pass1"), SessionConfig(EXCHANGE, OTHER, password="pass2")]
        self.acceptor = Acceptor(configs, lambda session_id: MemoryStore())
        specs = [SymbolSpec("SYM1", price_scale=2, tick=1, lot=1, min_qty=1, max_qty=1_000_000)]
        self.gateway = Gateway(specs, Engine(specs), "EX-", default_stp="cancel_newest")
        self.gateway.seed("HOUSE", "SYM1", "buy", 100, 10500, NOW)
        self.gateway.seed("HOUSE", "SYM1", "sell", 100, 11000, NOW)
        self.connections = {}
        self.seq = defaultdict(lambda: 1)
        self.now = NOW
        self.transcript: list[tuple[str, str, bytes]] = []  # (client, "->" or "<-", raw)

    def _deliver(self, client: str, data: bytes) -> None:
        conn = self.connections[client]
        self.transcript.append((client, "->", data))
        events = conn.receive_data(data, self.now)
        for event in events:
            if isinstance(event, ApplicationMessage):
                for out in self.gateway.on_message(event.session_id, event.message, self.now):
                    self.acceptor.send(out.session_id, out.msg_type, out.body, self.now, not out.market_data)
        for out in self.gateway.flush_market_data() if hasattr(self.gateway, "flush_market_data") else []:
            self.acceptor.send(out.session_id, out.msg_type, out.body, self.now, not out.market_data)
        for name_, connection in self.connections.items():
            data_out = connection.data_to_send()
            for message in FixParser().feed(data_out):
                if not isinstance(message, Garbled):
                    self.transcript.append((name_, "<-", message.raw))

    def send(self, client: str, msg_type: str, *fields) -> None:
        from fixexchange.codec import encode, format_utc_timestamp
        seq = self.seq[client]
        self.seq[client] += 1
        data = encode(b"FIX.4.4", msg_type.encode(), [(49, client), (56, EXCHANGE), (34, seq),
                                                      (52, format_utc_timestamp(self.now)), *fields])
        self._deliver(client, data)

    def connect(self, client: str, password: str) -> None:
        self.connections[client] = self.acceptor.connection_made(self.now)
        self.send(client, "A", (98, 0), (108, 30), (141, "Y"), (554, password))

    def tick(self, seconds: float = 0.001) -> None:
        self.now += seconds


def run_flow() -> Flow:
    flow = Flow()
    t = "20260101-10:00:00"
    flow.connect(CLIENT, "pass1")
    flow.connect(OTHER, "pass2")
    flow.send(CLIENT, "V", (262, "md1"), (263, "1"), (264, 0), (265, "1"), (267, 3), (269, "0"), (269, "1"),
              (269, "2"), (146, 1), (55, "SYM1"))
    flow.tick()
    flow.send(CLIENT, "D", (11, "b1"), (55, "SYM1"), (54, "1"), (60, t), (38, 10), (40, "2"), (44, "107.5"))
    flow.tick()
    flow.send(OTHER, "D", (11, "s1"), (55, "SYM1"), (54, "2"), (60, t), (38, 4), (40, "1"))
    flow.tick()
    flow.send(CLIENT, "G", (11, "b2"), (41, "b1"), (55, "SYM1"), (54, "1"), (60, t), (38, 8), (40, "2"),
              (44, "107.25"))
    flow.tick()
    flow.send(CLIENT, "H", (11, "b2"), (55, "SYM1"), (54, "1"))
    flow.tick()
    flow.send(CLIENT, "F", (11, "b3"), (41, "b2"), (55, "SYM1"), (54, "1"), (60, t))
    flow.tick()
    flow.send(CLIENT, "F", (11, "b4"), (41, "b2"), (55, "SYM1"), (54, "1"), (60, t))
    flow.tick()
    flow.send(CLIENT, "D", (11, "r1"), (55, "sym1"), (54, "1"), (60, t), (38, 1), (40, "2"), (44, "100"))
    flow.send(CLIENT, "D", (11, "r2"), (55, "SYM1"), (54, "1"), (60, t), (38, 1), (40, "2"), (44, "100.001"))
    flow.send(CLIENT, "D", (11, "r3"), (55, "SYM1"), (54, "1"), (60, t), (38, 1), (40, "2"))
    flow.send(CLIENT, "D", (11, "p1"), (55, "SYM1"), (54, "1"), (60, t), (38, 1), (40, "2"), (44, "111"),
              (18, "6"))
    flow.send(OTHER, "D", (11, "st1"), (55, "SYM1"), (54, "1"), (60, t), (38, 2), (40, "3"), (99, "110"))
    flow.send(CLIENT, "D", (11, "t1"), (55, "SYM1"), (54, "1"), (60, t), (38, 1), (40, "2"), (44, "110"))
    flow.send(OTHER, "q", (11, "m1"), (530, "7"), (60, t))
    flow.send(CLIENT, "x", (320, "sl1"), (559, "4"))
    flow.send(CLIENT, "e", (324, "ss1"), (263, "1"), (55, "SYM1"))
    flow.send(CLIENT, "V", (262, "md2"), (263, "0"), (264, 1), (267, 1), (269, "0"), (146, 1), (55, "NOPE"))
    flow.send(CLIENT, "D", (11, "z1"), (55, "SYM1"), (54, "Z"), (60, t), (38, 1), (40, "2"), (44, "100"))
    flow.send(CLIENT, "1", (112, "ping"))
    flow.send(CLIENT, "5")
    return flow


# ---------------------------------------------------------------- the document

def fields_seen(flow: Flow) -> dict[bytes, dict[int, set[bytes]]]:
    seen: dict[bytes, dict[int, set[bytes]]] = defaultdict(lambda: defaultdict(set))
    for _, direction, raw in flow.transcript:
        if direction != "<-":
            continue
        [message] = FixParser().feed(raw)
        for tag, value in message.fields[3:-1]:
            seen[message.msg_type][tag].add(value)
    return seen


def wire(raw: bytes) -> str:
    return raw.decode("latin-1").replace("\x01", "|")


def render() -> str:
    flow = run_flow()
    out: list[str] = []
    add = out.append
    add("# fixexchange FIX 4.4 specification\n")
    add("Generated by `tools/gen_fix_spec.py` from the code's own tables and from messages the exchange\n"
        "actually produced (a test regenerates it and fails when this file differs). The session layer\n"
        "follows the FIX 4.4 session-level test cases; see docs/INTERNALS.md for how.\n")
    add("## 1. Session rules\n")
    defaults = SessionConfig(EXCHANGE, CLIENT)
    id_names = ", ".join(f"{FIELD_TYPES[tag][0]}({tag})" for tag in sorted(ID_TAGS))
    add(f"""- **Transport**: plain TCP, one FIX session per connection; BeginString `FIX.4.4`. The exchange's
  CompID is its `[server] comp_id` (`{EXCHANGE}` in the bundled config): your TargetCompID(56).
  Your SenderCompID(49) must be a configured session (or any, with `[accept_any]`).
- **Logon (A)**: the first message. EncryptMethod(98) `0`; HeartBtInt(108) within the session's
  `heartbeat_min`..`heartbeat_max` (default {defaults.heartbeat_min}..{defaults.heartbeat_max} seconds);
  Password(554) (and Username(553)) when the session has one. A wrong CompID or password, or a
  second connection for a logged-on session, is answered with a Logout naming the problem and a
  disconnect. No Logon within `logon_timeout` (default {defaults.logon_timeout:g} s): disconnect.
- **Sequence numbers** survive reconnects and restarts (file store). Logon with
  ResetSeqNumFlag(141)=Y and MsgSeqNum 1 starts both sides at 1. NextExpectedMsgSeqNum(789) on the
  Logon is honoured. A gap in your numbers gets one ResendRequest; numbers too low without
  PossDupFlag end the session. ResendRequest is served: application messages again with
  PossDupFlag=Y, everything else (admin messages, market data) as SequenceReset-GapFill.
- **Heartbeats**: a Heartbeat after HeartBtInt of silence from us; a TestRequest after HeartBtInt
  plus 20% of silence from you, and a disconnect if its Heartbeat does not follow.
- **SendingTime** must be within {defaults.sending_time_tolerance:g} s of the exchange's clock.
- **PossResend(97)=Y**: a NewOrderSingle, cancel, replace or mass cancel whose ClOrdID this FIX
  session has already seen is ignored (no second answer); the memory lasts until the sequence
  numbers are reset (at least the last {session_acceptor.MAX_REMEMBERED_CL_ORD_IDS:,} ClOrdIDs).
- **Identifiers you choose** are kept by the exchange and may be at most {MAX_ID_LENGTH} characters
  long; a longer one gets a session Reject, SessionRejectReason(373) 5 naming the field, Text
  "... (longer than {MAX_ID_LENGTH} characters)". They are:
  {id_names}.
- **Third-party addressing**: OnBehalfOfCompID(115) values listed in the session's
  `on_behalf_of_comp_ids` are accepted (answers carry DeliverToCompID(128)); DeliverToCompID(128)
  values listed in `deliver_to_comp_ids` are accepted (answers carry OnBehalfOfCompID(115)); the
  sub and location IDs travel the same way. Anything else: Reject 9.
- **Restart**: sequence numbers and sent messages are kept (resend works across restarts).
- **Cancel on disconnect** (README "Operating"): per session in the config, or per Logon with
  CancelOnDisconnect(9001) `Y`/`N` (Deribit's tag; any other value: Logout). When the connection
  ends, live orders are cancelled (ExecType 4, Text `cancel on disconnect: ...`), the reports
  stored for the next Logon.
- **Drop copy sessions** (`role = "drop_copy"`) receive a copy of the covered sessions'
  ExecutionReports with OnBehalfOfCompID(115) = the owner's CompID; their order messages get
  BusinessMessageReject 6.
- **Halts**: while a symbol is halted, NewOrderSingle gets OrdRejReason 2 and a replace
  CxlRejReason 2, both with Text naming the halt; cancels work. SecurityStatusRequest (e)
  tells the status (SecurityStatus f, SecurityTradingStatus(326) 2 halted, 17 ready to trade).
- **Wire extensions** (per session, `extensions`; none by default, then every message is FIX 4.4):
  `exec_type_triggered` (ExecType L on an elected stop), `aggressor_side` (AggressorSide(2446) on
  market-data trades), `min_price_increment` (MinPriceIncrement(969) in SecurityList).
  `fixexchange dictionary` writes the QuickFIX data dictionary that has them.
""")
    add("## 2. Messages you send\n")
    add("Any other field FIX 4.4 defines for the message is accepted and ignored; a field it does not\n"
        "define, a bad value or a missing required field gets a session Reject (section 4). `Y*`:\n"
        "optional in FIX 4.4, required here (a BusinessMessageReject 5 names it when it is missing).\n")
    for msg_type, used in USED_IN.items():
        message = FIX44.messages[msg_type]
        required = [tag for tag in message.required if tag not in HEADER_REQUIRED]
        add(f"### {message.name} ({msg_type.decode()})\n")
        add("| tag | field | required | values / meaning |")
        add("|---|---|---|---|")
        for tag, meaning in used:
            values = values_text(tag, ACCEPTED_VALUES[tag]) if tag in ACCEPTED_VALUES else ""
            text = "; ".join(part for part in (values, meaning) if part)
            needed = "Y" if tag in required else "Y*" if tag in REQUIRED_HERE.get(msg_type, ()) else ""
            add(f"| {tag} | {name(tag)} | {needed} | {text} |")
        missing = [tag for tag in required if tag not in dict(used)]
        if missing:
            add(f"\nAlso required by FIX 4.4: {', '.join(f'{name(t)}({t})' for t in missing)}.")
        add("")
    add("Values outside those listed for Side, OrdType, TimeInForce and ExecInst are valid FIX but not\n"
        "traded here: the order is rejected with OrdRejReason 11 and a Text saying what is taken:\n")
    for tag, (field_name, rule) in UNSUPPORTED_RULES.items():
        add(f"- {field_name}({tag}): {rule}")
    add("")
    add("## 3. Messages the exchange sends\n")
    add("Every field each message type carried in the generated flow (section 5), with the values seen\n"
        "for the enumerated ones. Header fields (8, 9, 35, 49, 56, 34, 52, 43, 122) are left out.\n")
    seen = fields_seen(flow)
    header = {8, 9, 35, 49, 56, 34, 52, 43, 122, 10}
    for msg_type in sorted(seen, key=lambda t: (len(t), t)):
        add(f"### {FIX44.messages[msg_type].name} ({msg_type.decode()})\n")
        add("| tag | field | values |")
        add("|---|---|---|")
        for tag in sorted(seen[msg_type]):
            if tag in header:
                continue
            values = sorted(seen[msg_type][tag])
            shown = values_text(tag, values) if tag in ENUMS else ""
            add(f"| {tag} | {name(tag)} | {shown} |")
        add("")
    add("""ExecutionReport notes: OrderQty = CumQty + LeavesQty on a live order; AvgPx is exact
(decimal, never a float); LastLiquidityInd(851) on each fill: 1 your resting order added
liquidity, 2 your order took it. An elected stop is reported as ExecType D (Restated) with
ExecRestatementReason(378) 8 and Text "stop triggered" (ExecType L with `exec_type_triggered`).
Self-trade prevention (`stp`, default cancel_newest) cancels the incoming order (ExecType 4).
""")
    add("## 4. Rejects\n")
    add("### Session Reject (3): SessionRejectReason(373)\n")
    add("The message's sequence number is used; RefSeqNum(45), RefMsgType(372) and RefTagID(371, where\n"
        "a field can be named) say what was refused.\n")
    add("| code | FIX name | Text |")
    add("|---|---|---|")
    reasons = {code: text for code, text in REASON_TEXTS.items()}
    reasons.update(SESSION_OWN_REASONS)
    for code in sorted(reasons):
        add(f"| {code} | {value_name(373, str(code))} | {reasons[code]} |")
    add("")
    tables = [
        ("ExecutionReport OrdStatus=8: OrdRejReason(103)", 103,
         [gw.ORD_REJ_UNKNOWN_SYMBOL, gw.ORD_REJ_EXCHANGE_CLOSED, gw.ORD_REJ_UNKNOWN_ORDER, gw.ORD_REJ_DUPLICATE,
          gw.ORD_REJ_UNSUPPORTED, gw.ORD_REJ_INCORRECT_QTY, gw.ORD_REJ_OTHER]),
        ("OrderCancelReject (9): CxlRejReason(102)", 102,
         [gw.CXL_REJ_TOO_LATE, gw.CXL_REJ_UNKNOWN_ORDER, gw.CXL_REJ_EXCHANGE_OPTION, gw.CXL_REJ_DUPLICATE_CL_ORD_ID,
          gw.CXL_REJ_OTHER]),
        ("BusinessMessageReject (j): BusinessRejectReason(380)", 380,
         [gw.BUSINESS_REJECT_OTHER, gw.BUSINESS_REJECT_UNKNOWN_SECURITY, gw.BUSINESS_REJECT_UNSUPPORTED_TYPE,
          gw.BUSINESS_REJECT_FIELD_MISSING, gw.BUSINESS_REJECT_NOT_AUTHORIZED]),
        ("MarketDataRequestReject (Y): MDReqRejReason(281)", 281,
         [gw.MD_REJ_UNKNOWN_SYMBOL, gw.MD_REJ_DUPLICATE_ID, gw.MD_REJ_INSUFFICIENT_BANDWIDTH,
          gw.MD_REJ_UNSUPPORTED_SUBSCRIPTION_TYPE,
          gw.MD_REJ_UNSUPPORTED_DEPTH, gw.MD_REJ_UNSUPPORTED_UPDATE_TYPE, gw.MD_REJ_UNSUPPORTED_AGGREGATION,
          gw.MD_REJ_UNSUPPORTED_ENTRY_TYPE]),
        ("OrderMassCancelReport (r) rejected: MassCancelRejectReason(532)", 532,
         [gw.MASS_CANCEL_REJECT_NOT_SUPPORTED, gw.MASS_CANCEL_REJECT_UNKNOWN_SECURITY, gw.MASS_CANCEL_REJECT_OTHER]),
    ]
    for title, tag, codes in tables:
        add(f"### {title}\n")
        add("| code | FIX name |")
        add("|---|---|")
        for code in codes:
            text = code.decode() if isinstance(code, bytes) else str(code)
            add(f"| {text} | {value_name(tag, text)} |")
        add("")
    add("Every reject carries a Text(58) that names the field, the value and the rule, e.g.\n")
    texts = []
    for _, direction, raw in flow.transcript:
        [message] = FixParser().feed(raw)
        if direction == "<-" and message.msg_type in (b"8", b"9", b"j", b"Y", b"3") and (
                message.get(39) == b"8" or message.msg_type != b"8") and message.get(58):
            texts.append(f"- `{message.msg_type.decode()}`: {message.get(58).decode('latin-1')}")
    out.extend(dict.fromkeys(texts))
    add("")
    add("""## 5. Market data

MarketDataRequest (V) with SubscriptionRequestType 0 gets one snapshot (W) per symbol; 1
subscribes: a W now, then with MDUpdateType 1 one incremental refresh (X) per change batch
(new/change/delete per aggregated price level, MDEntryPx + MDEntrySize) or with MDUpdateType 0
a fresh W per change; 2 unsubscribes (same MDReqID). MarketDepth 0 is the full book, N the top N
levels (levels entering or leaving the top N come as new/delete). Trades are MDEntryType 2
entries with MDEntryDate/MDEntryTime; every W repeats the last 200 trades. Applying every X to
the W gives exactly what a fresh W shows. A slow reader's market data is conflated (never its
ExecutionReports): it gets fresh W messages when it catches up. A venue may conflate all market
data (`market_data_conflation_ms`): then an X comes at most once per that interval with the net
change of each level since the last one (a level that came and went in between is not sent)
and every trade; applying it to the W still gives what a fresh W shows.
""")
    add("## 6. Worked sequences\n")
    add(f"Produced by the session layer and the gateway for this flow (clock fixed at "
        f"2026-01-01 10:00 UTC; `{CLIENT}` and `{OTHER}` logged on with ResetSeqNumFlag=Y; SYM1 seeded "
        "with 100 @ 105 bid and 100 @ 110 offered). `->` you send, `<-` the exchange sends.\n")
    add("```")
    for client, direction, raw in flow.transcript:
        add(f"{client} {direction} {wire(raw)}")
    add("```")
    return "\n".join(out) + "\n"


def main() -> int:
    text = render()
    if sys.argv[1:] == ["--check"]:
        if SPEC.read_text() != text:
            print("docs/FIX-SPEC.md is out of date: run python3 tools/gen_fix_spec.py", file=sys.stderr)
            return 1
        return 0
    SPEC.write_text(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
