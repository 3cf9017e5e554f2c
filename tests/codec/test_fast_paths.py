"""The codec's cached fast paths must give exactly what the careful paths give."""

import pytest
from hypothesis import given, strategies as st

from fixexchange.codec import FixMessage, FixParser, TimestampFormatter, encode
from fixexchange.codec.parser import checksum

from .helpers import HEADER, NEW_ORDER_SINGLE_BODY


def prefix(tag) -> bytes:
    if type(tag) is not int or tag <= 0:
        raise ValueError(f"invalid tag {tag!r}")
    return b"%d=" % tag


def value_bytes(value) -> bytes:
    if isinstance(value, bool):
        return b"Y" if value else b"N"
    if isinstance(value, int):
        return b"%d" % value
    if isinstance(value, (bytes, bytearray, memoryview)):
        return bytes(value)
    if isinstance(value, float):
        raise TypeError("float field values are not accepted")
    return str(value).encode("latin-1")


def reference_encode(begin_string, msg_type, fields) -> bytes:
    """Field by field, the plain way (no data fields here)."""
    body = b"35=" + value_bytes(msg_type) + b"\x01" + b"".join(
        prefix(tag) + value_bytes(value) + b"\x01" for tag, value in fields)
    if body.count(b"\x01") != len(fields) + 1:
        raise ValueError("field value contains SOH (\\x01)")
    message = b"8=%s\x019=%d\x01" % (value_bytes(begin_string), len(body)) + body
    return message + b"10=%03d\x01" % checksum(message)


def outcome(function, *args):
    try:
        return function(*args)
    except Exception as error:  # noqa: BLE001 - the error type is the outcome
        return type(error)


_value = st.one_of(st.binary(max_size=6), st.integers(-5, 10**12), st.text("ab1.", max_size=4),
                   st.booleans(), st.just(1.5), st.just(b"a\x01b"), st.just(bytearray(b"ba")))


@given(st.lists(st.tuples(st.sampled_from([11, 34, 38, 44, 58, 1000, 5001]), _value), max_size=8),
       st.lists(st.tuples(st.sampled_from([11, 34, 38, 44, 58, 1000, 5001]), _value), max_size=8))
def test_template_encoding_equals_field_by_field(first, second):
    # Same tag sequence with other value types: the cached template must not be misused.
    for fields in (first, [(tag, value) for (tag, _), (_, value) in zip(first, second)], second):
        assert outcome(encode, b"FIX.4.4", b"8", fields) == outcome(reference_encode, b"FIX.4.4", b"8", fields)


@pytest.mark.parametrize("fields", [
    [], [(0, b"x")], [(-3, b"x")], [(49, b"A"), (56, 7.0)], [(49, b"A"), (56, None)],
    [(1, b"x", b"y")], [(1,)], [(49, True), (56, False)],
])
def test_template_encoding_edge_cases(fields):
    assert outcome(encode, b"FIX.4.4", b"0", fields) == outcome(reference_encode, b"FIX.4.4", b"0", fields)
    assert outcome(encode, b"FIX.4.4", b"0", iter(fields)) == outcome(reference_encode, b"FIX.4.4", b"0", fields)


def test_long_messages_and_str_begin_string():
    fields = [(55, b"SYM%d" % n) for n in range(100)]
    assert encode("FIX.4.4", "W", fields) == reference_encode(b"FIX.4.4", b"W", fields)


def summary(items):
    return [(type(item).__name__, item.raw, getattr(item, "fields", None), getattr(item, "reason", None),
             getattr(item, "seq_num", None), getattr(item, "msg_type", None)) for item in items]


def careful(data: bytes, **limits):
    """Parse ``data`` with the whole-read hot path out of the way (a junk byte first)."""
    return FixParser(**limits).feed(b"\x01" + data)


@given(st.lists(st.tuples(st.integers(1, 12000), st.binary(max_size=5).filter(lambda v: b"\x01" not in v)),
                max_size=12),
       st.sampled_from([b"D", b"0", b"ZZ"]), st.integers(16, 2000), st.integers(64, 400))
def test_whole_read_hot_path_equals_general_path(fields, msg_type, max_fields, max_size):
    data = encode(b"FIX.4.4", msg_type, HEADER + fields)
    limits = {"max_fields": max_fields, "max_message_size": max_size}
    assert summary(FixParser(**limits).feed(data)) == summary(careful(data, **limits))


@pytest.mark.parametrize("data", [
    encode(b"FIX.4.4", b"D", HEADER + NEW_ORDER_SINGLE_BODY),
    encode(b"FIX.4.4", b"D", HEADER + [(58, b"a=b")] + NEW_ORDER_SINGLE_BODY),
    encode(b"FIX.4.4", b"D", HEADER + [(95, 2), (96, b"\x01=")] + NEW_ORDER_SINGLE_BODY),
    encode(b"FIX.4.4", b"D", HEADER + [(34, b"x")] + NEW_ORDER_SINGLE_BODY),
    encode(b"FIXT.1.1", b"D", HEADER),
    encode(b"FIX.4.4", b"D", HEADER).replace(b"9=", b"9=0"),
    encode(b"FIX.4.4", b"D", HEADER)[:-4] + b"999\x01",
    encode(b"FIX.4.4", b"D", HEADER).replace(b"\x0149=", b"\x01049="),
    encode(b"FIX.4.4", b"D", HEADER) * 2,
])
def test_whole_read_hot_path_cases(data):
    assert summary(FixParser().feed(data)) == summary(careful(data))
    assert summary(FixParser().feed(data)) == summary(FixParser().feed(bytearray(data)))


def test_message_after_a_digit_is_no_start():
    parser = FixParser()
    assert parser.feed(b"58") == []
    data = encode(b"FIX.4.4", b"0", HEADER)
    assert parser.feed(data) == []  # "58=FIX..." is inside a Text, not a message start
    assert [item.raw for item in parser.feed(data)] == [data]


def test_hand_made_message_and_lazy_fields():
    fields = [(8, b"FIX.4.4"), (9, b"5"), (35, b"0"), (34, b"12"), (34, b"13"), (10, b"000")]
    msg = FixMessage(fields, b"")
    assert msg.fields is fields and msg.seq_num == 12 and msg.msg_type == b"0"
    assert msg.get(34) == b"12" and msg.get_all(34) == [b"12", b"13"] and 35 in msg
    [parsed] = FixParser().feed(encode(b"FIX.4.4", b"0", HEADER))
    assert parsed.fields == list(zip([8, 9, 35, 49, 56, 34, 52, 10], parsed.fields and
                                     [value for _, value in parsed.fields]))
    assert parsed == FixMessage(parsed.fields, parsed.raw)


def test_timestamp_cache_per_millisecond():
    fmt = TimestampFormatter().format
    assert fmt(1700000000.1231) == b"20231114-22:13:20.123"
    assert fmt(1700000000.1232) == b"20231114-22:13:20.123"
    assert fmt(1700000000.1239) == b"20231114-22:13:20.124"
    assert fmt(1700000001.0) == b"20231114-22:13:21.000"


_pool = st.sampled_from([
    (11, b"x"), (11, b"x" * 64), (11, b"x" * 65), (41, b"y" * 65), (55, b"AAPL"), (54, b"1"), (54, b"Z"), (38, b"10"), (38, b"1.5"), (38, b"a"), (38, b"-.5"),
    (40, b"2"), (44, b"-1.5"), (44, b"1."), (44, b"."), (59, b"0"), (60, b"20231114-22:13:20"),
    (60, b"20231114-22:13:20.1234"), (60, b"bad"), (43, b"Y"), (43, b"y"), (112, b"t"), (34, b"-1"),
    (957, b"x"), (5001, b"u"), (55, b""), (102, b"10"), (103, b"1"), (103, b"99"), (103, b"100"),
    (21, b"-"), (432, b"20231131"), (168, b"20231114-22:13:20.123456"),
])


@given(st.lists(_pool, max_size=10), st.permutations(NEW_ORDER_SINGLE_BODY))
def test_compiled_plan_agrees_with_exact_validation(extra, body):
    from fixexchange.codec.dictionary import fix44_dictionary
    fix44 = fix44_dictionary()  # its own plans and shapes
    fix44.compile_after = 1
    data = encode(b"FIX.4.4", b"D", HEADER + body + extra)
    for _ in range(3):  # predicates, then (when valid) the compiled regex, then a hot shape
        [msg] = FixParser(hot_shapes=fix44.hot_shapes).feed(data)
        assert fix44.validate(msg) == fix44.validate_exactly(msg)
    # a valid message took all three: the third was matched against the hot shape
    assert msg.prevalidated_by is (fix44 if fix44.validate_exactly(msg) is None else None)
