"""Gateway micro-benchmark: CPU time per NewOrderSingle through Gateway.on_message (engine
included; no session layer, no sockets).  Messages are parsed before timing starts.

    python3 tools/bench_gateway.py [--orders N] [--subscribers K] [--stp MODE]

``--stp cancel_newest`` is what the daemon's default config sets for every session.

Prints the best of several runs (process time), for orders that rest, orders that trade
(three ExecutionReports) and, with K market-data subscribers, orders that rest.
"""

from __future__ import annotations

import argparse
import time

from fixexchange.codec import FixParser, encode
from fixexchange.engine import Engine, SymbolSpec
from fixexchange.gateway import Gateway

NOW = 1_764_000_000.0
HEADER = [(49, b"CLIENT"), (56, b"EXCH"), (34, 1), (52, b"20251124-16:00:00.000")]


def parse(msg_type: bytes, fields: list) -> object:
    [message] = FixParser().feed(encode(b"FIX.4.4", msg_type, HEADER + fields))
    return message


def new_order(cl_ord_id: bytes, side: bytes, price: bytes):
    return parse(b"D", [(11, cl_ord_id), (55, b"SYM1"), (54, side), (38, b"10"), (40, b"2"), (44, price),
                        (59, b"0"), (60, b"20251124-16:00:00.000")])


def subscribe(req_id: bytes):
    return parse(b"V", [(262, req_id), (263, b"1"), (264, b"0"), (265, b"1"), (267, 3), (269, b"0"), (269, b"1"),
                        (269, b"2"), (146, 1), (55, b"SYM1")])


def best_per_order(messages_by_session: list[tuple[str, list]], subscribers: int, repeats: int,
                   stp: str = "none") -> list[float]:
    """Per phase: the best process time per message over ``repeats`` fresh gateways."""
    best = [float("inf")] * len(messages_by_session)
    for _ in range(repeats):
        specs = [SymbolSpec("SYM1")]
        gateway = Gateway(specs, Engine(specs), "B-", default_stp=stp)
        for index in range(subscribers):
            gateway.on_message(f"MD{index}", subscribe(b"R%d" % index), NOW)
        for phase, (session_id, messages) in enumerate(messages_by_session):
            start = time.process_time()
            for message in messages:
                gateway.on_message(session_id, message, NOW)
            best[phase] = min(best[phase], (time.process_time() - start) / len(messages))
    return best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--orders", type=int, default=10_000)
    parser.add_argument("--subscribers", type=int, default=100)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--stp", default="none", help="default STP mode (none, cancel_newest, ...)")
    args = parser.parse_args()
    if args.orders < 4 or args.repeats < 1 or args.subscribers < 0:
        parser.error("--orders must be at least 4 (a quarter of them cross), --repeats at least 1, "
                     "--subscribers at least 0")
    count = args.orders
    # alternate bids 93..100 and asks 101..108: nothing crosses, levels come and go
    resting = [new_order(b"O%d" % i, b"1" if i % 2 else b"2", b"%d" % (100 - i % 8 if i % 2 else 101 + i % 8))
               for i in range(count)]
    # each buy of 10 at 108 takes one resting ask: New, the taker's fill, the maker's fill
    crossing = [new_order(b"X%d" % i, b"1", b"108") for i in range(count // 4)]
    rest_us, cross_us = best_per_order([("S1", resting), ("S2", crossing)], 0, args.repeats, args.stp)
    print(f"resting order:                {rest_us * 1e6:6.2f} us")
    print(f"crossing order (3 ERs):       {cross_us * 1e6:6.2f} us")
    [with_md] = best_per_order([("S1", resting)], args.subscribers, args.repeats, args.stp)
    print(f"resting order, {args.subscribers} subscribers: {with_md * 1e6:6.2f} us")


if __name__ == "__main__":
    main()
