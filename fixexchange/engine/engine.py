"""Engine and Book (implementation in progress; the API in __init__ is final)."""

from __future__ import annotations

from .types import RejectReason, Rejected, SymbolSpec


class Book:
    def __init__(self, spec: SymbolSpec) -> None:
        self.spec = spec
        self.last_trade_price = None

    def best_bid(self):
        return None

    def best_ask(self):
        return None

    def depth(self, side, n=None):
        return []


class Engine:
    def __init__(self, specs, now: int = 0, retain_final: int = 1_000_000) -> None:
        self._books = {spec.symbol: Book(spec) for spec in specs}
        self.now = now

    def apply(self, command):
        return [Rejected(None, RejectReason.INVALID_COMMAND, "engine not implemented yet")]

    def book(self, symbol):
        return self._books.get(symbol)

    def order(self, order_id):
        return None
