"""Property tests: round trips, split invariance, hostile input."""

from hypothesis import given, strategies as st

from fixexchange.codec import FIX44, FixMessage, FixParser, Garbled, encode
from fixexchange.codec.parser import DATA_FIELDS

from .helpers import HEADER, NEW_ORDER_SINGLE_BODY, frame

# Values: any bytes except SOH, non-empty (an empty value is legal on the wire too, but
# a round trip of printable-ish values is what encoders emit).
values = st.binary(min_size=1, max_size=20).filter(lambda value: b"\x01" not in value)
# Length fields (95, 93, ...) would announce data fields; those get their own test.
tags = st.integers(min_value=1, max_value=20000).filter(lambda tag: tag not in DATA_FIELDS)
field_lists = st.lists(st.tuples(tags, values), max_size=30)
msg_types = st.sampled_from([b"0", b"D", b"8", b"V", b"AE", b"ZZ"])


def summary(results):
    return [(type(item).__name__, item.raw, getattr(item, "fields", None),
             getattr(item, "reason", None)) for item in results]


def feed_in_pieces(data: bytes, cuts: list[int], **limits):
    parser = FixParser(**limits)
    out = []
    start = 0
    for cut in sorted(cuts) + [len(data)]:
        out += parser.feed(data[start:cut])
        start = cut
        assert parser.buffered <= parser.max_message_size
    return out, parser


@given(msg_types, field_lists)
def test_encode_parse_round_trip(msg_type, fields):
    data = encode(b"FIX.4.4", msg_type, fields)
    [msg] = FixParser().feed(data)
    assert isinstance(msg, FixMessage)
    assert msg.raw == data
    assert msg.msg_type == msg_type
    assert msg.body_fields == fields
    assert encode(b"FIX.4.4", msg.msg_type, msg.body_fields) == data


def _messages():
    good = st.builds(lambda body: encode(b"FIX.4.4", b"0", HEADER + body), field_lists)
    bad_checksum = good.map(lambda data: data[:-4] + b"%03d\x01" % ((int(data[-4:-1]) + 7) % 256))
    bad_length = st.builds(lambda body, delta: frame(b"35=0\x01" + body, body_length=len(body) + 5 + delta),
                           st.binary(max_size=40), st.integers(-10, 10))
    return st.one_of(good, bad_checksum, bad_length, st.binary(max_size=30), st.just(b"8=FIX"))


@given(st.lists(_messages(), max_size=6), st.data())
def test_any_split_gives_the_same_results(chunks, data):
    stream = b"".join(chunks)
    whole, _ = feed_in_pieces(stream, [])
    cuts = data.draw(st.lists(st.integers(0, len(stream)), max_size=12))
    pieces, _ = feed_in_pieces(stream, cuts)
    assert summary(pieces) == summary(whole)


@given(field_lists)
def test_one_byte_at_a_time(fields):
    data = encode(b"FIX.4.4", b"D", HEADER + fields) * 2
    pieces, parser = feed_in_pieces(data, list(range(len(data))))
    assert [item.raw for item in pieces] == [data[:len(data) // 2]] * 2
    assert parser.buffered == 0


@given(st.binary(max_size=600), st.data())
def test_arbitrary_bytes_never_raise_and_stay_bounded(junk, data):
    cuts = data.draw(st.lists(st.integers(0, len(junk)), max_size=8))
    out, _ = feed_in_pieces(junk, cuts, max_message_size=128, max_fields=8)
    for item in out:
        assert isinstance(item, (FixMessage, Garbled))
        if isinstance(item, FixMessage):
            FIX44.validate(item)  # never raises either
            FIX44.read_groups(item, 146)


@given(st.lists(st.sampled_from([b"8=FIX.4.4\x01", b"9=", b"9=99\x01", b"35=D\x01", b"10=",
                                 b"123", b"\x01", b"=", b"8=FIX", b"10=000\x01"]), max_size=40))
def test_framing_like_junk_never_raises_and_stays_bounded(parts):
    out, _ = feed_in_pieces(b"".join(parts), [], max_message_size=64)
    assert all(isinstance(item, (FixMessage, Garbled)) for item in out)


@given(st.binary(max_size=100).filter(lambda junk: b"8=" not in junk))
def test_message_after_junk_is_recovered(junk):
    good = encode(b"FIX.4.4", b"D", HEADER + NEW_ORDER_SINGLE_BODY)
    out = FixParser().feed(junk + b"\x01" + good)
    assert [item.raw for item in out if isinstance(item, FixMessage)] == [good]


# Random field lists around a valid order: fast path and exact pass must agree.
_pool = st.sampled_from([
    (11, b"x"), (55, b"AAPL"), (54, b"1"), (54, b"Z"), (38, b"10"), (38, b"1.5"), (38, b"a"),
    (40, b"2"), (44, b"-1.5"), (59, b"0"), (60, b"20231114-22:13:20"), (60, b"bad"),
    (43, b"Y"), (112, b"t"), (453, b"1"), (448, b"p"), (452, b"3"), (34, b"-1"), (957, b"x"),
    (5001, b"u"), (93, b"1"), (89, b"s"), (55, b""),
])


@given(st.lists(_pool, max_size=14), st.permutations(NEW_ORDER_SINGLE_BODY))
def test_fast_path_agrees_with_exact_validation(extra, body):
    [msg] = FixParser().feed(encode(b"FIX.4.4", b"D", HEADER + body + extra))
    assert FIX44.validate(msg) == FIX44.validate_exactly(msg)


@given(st.binary(min_size=1, max_size=40), st.sampled_from(sorted(DATA_FIELDS.items())), field_lists)
def test_data_field_round_trip(data, length_and_data_tag, fields):
    length_tag, data_tag = length_and_data_tag
    body = fields[:3] + [(length_tag, len(data)), (data_tag, data)] + fields[3:]
    encoded = encode(b"FIX.4.4", b"AE", body)
    [msg] = FixParser().feed(encoded)
    assert msg.body_fields == [(tag, value if isinstance(value, bytes) else b"%d" % value)
                               for tag, value in body]


# Well-framed but arbitrary content: validation and group reading must never raise.
_any_tag = st.one_of(st.sampled_from([8, 9, 10, 34, 35, 43, 49, 52, 55, 56, 95, 96, 146, 267,
                                      269, 268, 270, 279, 453, 448, 802, 523, 38, 44, 54, 93]),
                     st.integers(1, 99999))
_any_value = st.one_of(values, st.text("0123456789", min_size=1, max_size=5000).map(str.encode),
                       st.just(b""))


@given(st.sampled_from([b"0", b"A", b"D", b"V", b"W", b"X", b"8", b"AE"]),
       st.lists(st.tuples(_any_tag, _any_value), max_size=25))
def test_validation_of_arbitrary_content_never_raises(msg_type, fields):
    encoded = encode(b"FIX.4.4", msg_type, fields)
    for item in FixParser().feed(encoded):
        if isinstance(item, FixMessage):
            info = FIX44.validate(item)
            assert info is None or isinstance(info.reason, int)
            assert info == FIX44.validate_exactly(item)
            for count_tag in (146, 267, 268, 453):
                FIX44.read_groups(item, count_tag)
