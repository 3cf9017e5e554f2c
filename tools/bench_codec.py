"""Codec micro-benchmark: prints microseconds per operation (best and median of runs).

Timed with process CPU time, so other load on the machine inflates the numbers less.

    python3 tools/bench_codec.py [--number N] [--repeat R]

- parse+validate: FixParser.feed of one typical NewOrderSingle, then FIX44.validate
- parse only / validate only: the two halves
- encode: a typical ExecutionReport (header with a fresh SendingTime, 16 body fields)
- stream parse: 100 NewOrderSingles fed as one read, per message
- session inbound: Connection.receive_data of one NewOrderSingle per read on a logged-on
  session (MemoryStore): parse, validate, the session's checks, the ApplicationMessage
  event; what the daemon's inbound path costs before the gateway (layer 4) sees the order
- session outbound: Acceptor.send of a typical ExecutionReport body on a logged-on session
  (sequence number, header, SendingTime, encode, MemoryStore) and data_to_send, per message

Validation compiles a per-shape regular expression after 200 messages of one shape and
registers the shape with the parser, which then checks and splits such a message in one
match (validate is then a flag test); the first run includes that one-off cost, the best
run does not. "validate only" times a message parsed before that (the compiled regex).
"""

import argparse
import statistics
import time
import timeit

from fixexchange.codec import FIX44, FixParser, TimestampFormatter, encode

NOW = 1700000000.123
format_time = TimestampFormatter().format  # (as the session and the gateway keep one)
TIME = format_time(NOW)

NEW_ORDER_SINGLE = encode(b"FIX.4.4", b"D", [
    (49, b"CLIENT1"), (56, b"EXCH"), (34, 1234), (52, TIME),
    (11, b"ord-000123"), (1, b"ACC1"), (21, b"1"), (55, b"AAPL"), (54, b"1"), (60, TIME),
    (38, b"100"), (40, b"2"), (44, b"189.25"), (59, b"0"),
])


def encode_execution_report(now: float) -> bytes:
    return encode(b"FIX.4.4", b"8", [
        (49, b"EXCH"), (56, b"CLIENT1"), (34, 98765), (52, format_time(now)),
        (37, b"1042"), (11, b"ord-000123"), (17, b"E-1042-3"), (150, b"F"), (39, b"1"),
        (1, b"ACC1"), (55, b"AAPL"), (54, b"1"), (38, b"100"), (40, b"2"), (44, b"189.25"),
        (59, b"0"), (32, b"40"), (31, b"189.25"), (151, b"60"), (14, b"40"), (6, b"189.25"),
        (60, format_time(now)),
    ])


def new_order_single(seq: int) -> bytes:
    return encode(b"FIX.4.4", b"D", [
        (49, b"CLIENT1"), (56, b"EXCH"), (34, seq), (52, TIME),
        (11, b"ord-%06d" % seq), (1, b"ACC1"), (21, b"1"), (55, b"AAPL"), (54, b"1"), (60, TIME),
        (38, b"100"), (40, b"2"), (44, b"189.25"), (59, b"0"),
    ])


def logged_on():
    """An Acceptor (MemoryStore) and its Connection, logged on as CLIENT1."""
    from fixexchange.session import Acceptor, MemoryStore, SessionConfig

    acceptor = Acceptor([SessionConfig(sender_comp_id="EXCH", target_comp_id="CLIENT1")],
                        lambda session_id: MemoryStore())
    connection = acceptor.connection_made(NOW)
    connection.receive_data(encode(b"FIX.4.4", b"A", [(49, b"CLIENT1"), (56, b"EXCH"), (34, 1),
                                                      (52, TIME), (98, 0), (108, 30)]), NOW)
    connection.data_to_send()
    return acceptor, connection


def session_inbound(count: int):
    """A function feeding a logged-on Connection the next of ``count`` NewOrderSingles."""
    from fixexchange.session import ApplicationMessage

    acceptor, connection = logged_on()
    messages = iter([new_order_single(seq) for seq in range(2, count + 2)])
    [event] = connection.receive_data(next(messages), NOW)
    assert type(event) is ApplicationMessage, event
    receive = connection.receive_data

    def receive_one():
        receive(next(messages), NOW)
    return receive_one


def session_outbound():
    """A function sending one ExecutionReport on a logged-on session and draining it."""
    acceptor, connection = logged_on()
    body = [(37, b"1042"), (11, b"ord-000123"), (17, b"E-1042-3"), (150, b"F"), (39, b"1"),
            (1, b"ACC1"), (55, b"AAPL"), (54, b"1"), (38, b"100"), (40, b"2"), (44, b"189.25"),
            (59, b"0"), (32, b"40"), (31, b"189.25"), (151, b"60"), (14, b"40"), (6, b"189.25"),
            (60, TIME)]
    send = acceptor.send
    drain = connection.data_to_send
    session_id = connection.session_id
    clock = [NOW]

    def send_one():
        clock[0] += 0.0001
        send(session_id, b"8", body, clock[0])
        drain()
    return send_one


def measure(function, number: int, repeat: int) -> tuple[float, float]:
    runs = [run / number * 1e6 for run in timeit.repeat(function, number=number, repeat=repeat,
                                                      timer=time.process_time)]
    return min(runs), statistics.median(runs)


def main() -> None:
    arguments = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    arguments.add_argument("--number", type=int, default=10000)
    arguments.add_argument("--repeat", type=int, default=15)
    options = arguments.parse_args()
    if options.number < 1 or options.repeat < 1:
        arguments.error("--number and --repeat must be at least 1")

    parser = FixParser(hot_shapes=FIX44.hot_shapes)
    [message] = parser.feed(NEW_ORDER_SINGLE)
    assert FIX44.validate(message) is None
    for _ in range(250):  # past the compile threshold: the parser knows the shape
        [hot] = parser.feed(NEW_ORDER_SINGLE)
        assert FIX44.validate(hot) is None
    stream = NEW_ORDER_SINGLE * 100
    clock = [NOW]

    def parse_and_validate():
        for msg in parser.feed(NEW_ORDER_SINGLE):
            FIX44.validate(msg)

    def encode_one():
        clock[0] += 0.0001  # a new millisecond now and then, a new second rarely
        encode_execution_report(clock[0])

    cases = [
        ("parse+validate NewOrderSingle", parse_and_validate, options.number),
        ("parse only NewOrderSingle", lambda: parser.feed(NEW_ORDER_SINGLE), options.number),
        ("validate only NewOrderSingle", lambda: FIX44.validate(message), options.number),
        ("validate only, hot-shape NewOrderSingle", lambda: FIX44.validate(hot), options.number),
        ("encode ExecutionReport", encode_one, options.number),
        ("stream parse, per message (100/read)", lambda: parser.feed(stream), max(1, options.number // 100)),
        ("session inbound NewOrderSingle", session_inbound(options.number * options.repeat + 1),
         options.number),
        ("session outbound ExecutionReport", session_outbound(), options.number),
    ]
    print(f"NewOrderSingle {len(NEW_ORDER_SINGLE)} bytes, ExecutionReport "
          f"{len(encode_execution_report(NOW))} bytes")
    for name, function, number in cases:
        best, median = measure(function, number, options.repeat)
        if name.startswith("stream"):
            best, median = best / 100, median / 100
        print(f"{name:40s} {best:7.2f} us best   {median:7.2f} us median")


if __name__ == "__main__":
    main()
