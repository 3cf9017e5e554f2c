"""Test harness: FIX messages go through the real codec in both directions."""

from __future__ import annotations

from fixexchange.codec import FixParser, encode
from fixexchange.codec.encoder import PREENCODED, SharedBlockBody
from fixexchange.codec.parser import checksum
from fixexchange.codec.dictionary import FIX44
from fixexchange.engine import Engine, Side, SymbolSpec
from fixexchange.gateway import Gateway

# 2025-11-24 16:00:00 UTC
NOW = 1_764_000_000.0
SENDING_TIME = b"20251124-16:00:00.000"

SPECS = [
    SymbolSpec("SYM1", price_scale=2, tick=1, lot=1, min_qty=1, max_qty=1_000_000),
    # coarse grid: tick 0.05, lots of 10
    SymbolSpec("SYM2", price_scale=2, tick=5, lot=10, min_qty=10, max_qty=10_000),
]


class Reply:
    """One Outbound, encoded and parsed back like a client would see it."""

    def __init__(self, outbound, validate: bool = True, extensions: frozenset = frozenset()) -> None:
        self.session = outbound.session_id
        self.market_data = outbound.market_data
        body = outbound.body
        if type(body) is bytes:  # an encoded body (ExecutionReports): checked field by field here
            body = [(PREENCODED, body)] if body else []
        elif type(body) is SharedBlockBody:  # market data: the same, and the block's byte sum
            assert body.block_sum == checksum(body.block)
            body = [(PREENCODED, body.own + body.block)]
        raw = encode(b"FIX.4.4", outbound.msg_type,
                     [(49, b"EXCH"), (56, b"CLIENT"), (34, 1), (52, SENDING_TIME), *body])
        parsed = FixParser().feed(raw)
        assert len(parsed) == 1, parsed
        self.message = parsed[0]
        # everything the gateway sends must pass the FIX 4.4 dictionary a client validates with,
        # but for what a session's wire extensions add (see Gateway): checked without those
        # fields (the dialect's dictionary, `fixexchange dictionary`, has them)
        checked = self.message
        added = {tag for name, tag in (("aggressor_side", 2446), ("min_price_increment", 969))
                 if name in extensions and tag in checked}
        if added:
            [checked] = FixParser().feed(encode(b"FIX.4.4", outbound.msg_type, [
                field for field in checked.body_fields if field[0] not in added]))
        problem = FIX44.validate(checked) if validate else None
        if problem is not None and "exec_type_triggered" in extensions \
                and (problem.ref_tag, checked.get(150)) == (150, b"L"):
            problem = None
        assert problem is None, (problem, self.message)
        self.type = self.message.msg_type.decode()
        self.fields = self.message.body_fields[4:]  # after 49, 56, 34, 52

    def __getitem__(self, tag: int) -> str:
        value = self.message.get(tag)
        if value is None:
            raise KeyError(tag)
        return value.decode()

    def get(self, tag: int, default=None):
        value = self.message.get(tag)
        return default if value is None else value.decode()

    def __contains__(self, tag: int) -> bool:
        return tag in self.message

    def __repr__(self) -> str:
        return f"Reply({self.session}, {self.message!r})"


class Harness:
    def __init__(self, specs=SPECS, prefix: str | None = "T-", **options) -> None:
        self.engine = Engine(specs)
        self.gateway = Gateway(specs, self.engine, prefix, **options)
        self._seq: dict[str, int] = {}

    def message(self, session: str, msg_type: str, *fields):
        seq = self._seq[session] = self._seq.get(session, 0) + 1
        raw = encode(b"FIX.4.4", msg_type.encode(),
                     [(49, b"CLIENT"), (56, b"EXCH"), (34, seq), (52, SENDING_TIME), *fields])
        [message] = FixParser().feed(raw)
        return message

    def send(self, session: str, msg_type: str, *fields, now: float = NOW, validate: bool = True) -> list[Reply]:
        outs = self.gateway.on_message(session, self.message(session, msg_type, *fields), now)
        return [Reply(out, validate, self.gateway.extensions_of(out.session_id)) for out in outs]

    def order(self, session: str, cl_ord_id: str, side: str, qty, price=None, symbol: str = "SYM1",
              ord_type: str | None = None, *extra, now: float = NOW) -> list[Reply]:
        if ord_type is None:
            ord_type = "2" if price is not None else "1"
        fields = [(11, cl_ord_id), (55, symbol), (54, side), (38, qty), (40, ord_type)]
        if price is not None:
            fields.append((44, price))
        fields.append((60, SENDING_TIME))
        return self.send(session, "D", *fields, *extra, now=now)

    def seed(self, symbol: str, side: str, qty: int, price_units: int, owner: str = "HOUSE") -> list[Reply]:
        return [Reply(out) for out in self.gateway.seed(owner, symbol, side, qty, price_units, NOW)]


def of_type(replies: list[Reply], msg_type: str) -> list[Reply]:
    return [reply for reply in replies if reply.type == msg_type]


def book_from_snapshot(reply: Reply) -> tuple[dict, dict, list]:
    """(bids, offers, trades) from a W: {price text: size text}, trades in order."""
    bids, offers, trades = {}, {}, []
    entry = None
    for tag, value in reply.fields:
        if tag == 269:
            entry = [value.decode(), None, None]
            if entry[0] == "2":
                trades.append(entry)
        elif tag == 270 and entry is not None:
            entry[1] = value.decode()
        elif tag == 271 and entry is not None:
            entry[2] = value.decode()
            if entry[0] == "0":
                bids[entry[1]] = entry[2]
            elif entry[0] == "1":
                offers[entry[1]] = entry[2]
    return bids, offers, [(price, size) for _, price, size in trades]


def x_entries(reply: Reply) -> list[dict]:
    """The entries of an X, each {tag: text}."""
    entries = []
    for tag, value in reply.fields:
        if tag == 279:
            entries.append({})
        if entries:
            entries[-1][tag] = value.decode()
    return entries


__all__ = ["NOW", "SPECS", "SENDING_TIME", "Harness", "Reply", "Side", "book_from_snapshot", "of_type",
           "x_entries"]
