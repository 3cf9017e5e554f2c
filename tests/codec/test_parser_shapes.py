"""The parser's hot-shape path (one capturing regex per known tag sequence, the message then
known valid) must give exactly what the general path gives: the same messages and Garbled
drops for any split of the stream into reads, and the same validation verdicts."""

from hypothesis import given, settings, strategies as st

from fixexchange.codec import FIX44, FixParser
from fixexchange.codec import dictionary, parser

from .helpers import frame, raw_fields

TIME = b"20231114-22:13:20.123"
# (MsgType, body tags after the header 49, 56, 34, 52): the fix-load order mix's shapes.
SHAPES = [
    (b"D", (11, 55, 54, 60, 38, 40, 44, 59)),
    (b"D", (11, 55, 54, 60, 38, 40, 59)),
    (b"F", (41, 11, 55, 54, 60)),
    (b"G", (41, 11, 55, 54, 60, 38, 40, 44)),
]
GOOD = {49: b"CLIENT1", 56: b"FIXEXCH", 34: b"7", 52: TIME, 11: b"B-1", 41: b"B-0", 55: b"SYM1",
        54: b"1", 60: TIME, 38: b"4", 40: b"2", 44: b"105.22", 59: b"0"}
# Values that pass or fail the type checks in various ways (also '=' and empty values).
ODD = {
    34: [b"8", b"x", b"007", b"-1", b"123456789012345678901", b""],
    52: [b"20231114-22:13:20", b"20231114-22:13:20.123456", b"20231114-22:13:20.1234",
         b"20231314-22:13:20.123", b"20231114-24:13:20", b"20231114-22:13:60.000", b"2023"],
    11: [b"a=b", b"", b"x" * 40], 55: [b"AAPL", b"="],
    54: [b"2", b"Z", b"12", b""],
    38: [b"100", b"1.5", b"-5", b"a", b"", b"1e3", b".5", b"5.", b"4=4"],
    40: [b"1", b"Q", b"22"],
    44: [b"-1.5", b"1.", b".", b"abc", b"1..2", b"0", b"-"],
    59: [b"3", b"9", b""],
    60: [b"20231114-22:13:20.123456789", b"20231114-22:13:20.12345678", b"x"],
}


def body(msg_type, tags, values):
    return b"35=" + msg_type + b"\x01" + raw_fields([(tag, values.get(tag, GOOD[tag]))
                                                     for tag in (49, 56, 34, 52) + tags])




_registry = []


def registry():
    """A dictionary with the hot shapes it registers by itself for SHAPES: parse and
    validate enough messages of each to pass its compile threshold."""
    if not _registry:
        fix44 = dictionary.fix44_dictionary()
        for msg_type, tags in SHAPES:
            data = frame(body(msg_type, tags, {}))
            for _ in range(fix44.compile_after + 5):
                [msg] = FixParser(hot_shapes=fix44.hot_shapes).feed(data)
                assert fix44.validate(msg) is None
        assert len(fix44.hot_shapes) == len(SHAPES)
        _registry.append(fix44)
    return _registry[0]


def test_a_parser_takes_only_the_shapes_it_is_given():
    fix44 = registry()
    data = frame(body(*SHAPES[0], {}))
    [hot] = FixParser(hot_shapes=fix44.hot_shapes).feed(data)
    [split] = FixParser().feed(data)
    assert hot.prevalidated_by is fix44 and split.prevalidated_by is None
    assert fix44.validate(hot) is None and FIX44.validate(hot) is None  # (another dictionary: the exact pass)
    assert len(dictionary.fix44_dictionary().hot_shapes) == 0


def summary(items):
    out = []
    for item in items:
        if isinstance(item, parser.Garbled):
            out.append(("garbled", item.reason, item.raw))
        else:
            out.append(("message", item.raw, item.fields, item.msg_type, item.seq_num,
                        item.get(44), item.get(38, b"none"), item.get_many((11, 99, 52, 10)),
                        34 in item, item.get_all(60), registry().validate(item)))
    return out


def parse(data, cuts, fix44=None, **limits):
    p = FixParser(hot_shapes=fix44.hot_shapes if fix44 else None, **limits)
    out = []
    for start, end in zip([0] + cuts, cuts + [len(data)]):
        out += p.feed(data[start:end])
    return out


@st.composite
def messages(draw):
    msg_type, tags = draw(st.sampled_from(SHAPES))
    values = {}
    if draw(st.booleans()):  # one or two odd values
        for tag in draw(st.lists(st.sampled_from([tag for tag in (34, 52) + tags if tag in ODD]),
                                 max_size=2)):
            values[tag] = draw(st.sampled_from(ODD[tag]))
    text = body(msg_type, tags, values)
    kind = draw(st.sampled_from(["good"] * 6 + ["repeat", "drop", "length", "check", "begin",
                                                "flip", "zeros"]))
    if kind == "repeat":  # a repeated tag
        fields = text.split(b"\x01")[:-1]
        fields.insert(draw(st.integers(1, len(fields))), draw(st.sampled_from(fields[1:])))
        text = b"\x01".join(fields) + b"\x01"
    elif kind == "drop":  # a required field missing
        fields = text.split(b"\x01")[:-1]
        del fields[draw(st.integers(1, len(fields) - 1))]
        text = b"\x01".join(fields) + b"\x01"
    if kind == "length":
        data = frame(text, body_length=len(text) + draw(st.sampled_from([-2, -1, 1, 3])))
    elif kind == "check":
        data = frame(text, check=draw(st.integers(0, 999)))
    elif kind == "begin":
        data = frame(text, begin=draw(st.sampled_from([b"FIXT.1.1", b"FIX=4.4", b"FIX.4.4.00000000",
                                                       b"FIX.4.4.000000000", b"FIX"])))
    else:
        data = frame(text)
    if kind == "zeros":
        data = data.replace(b"\x019=", b"\x019=0", 1)
    elif kind == "flip":
        at = draw(st.integers(0, len(data) - 1))
        data = data[:at] + bytes([draw(st.integers(0, 255))]) + data[at + 1:]
    return data


@settings(max_examples=300, deadline=None)
@given(st.lists(messages(), min_size=1, max_size=12), st.data(),
       st.sampled_from([{}, {"max_fields": 15}, {"max_message_size": 140}]))
def test_hot_shapes_agree_with_the_general_path(items, data, limits):
    stream = b"".join(items)
    way = data.draw(st.sampled_from(["whole", "per message", "random"]))
    if way == "whole":
        cuts = []
    elif way == "per message":
        cuts = [sum(map(len, items[:n])) for n in range(1, len(items))]
    else:
        cuts = sorted(set(data.draw(st.lists(st.integers(1, len(stream) - 1), max_size=6))))
    fast = parse(stream, cuts, registry(), **limits)
    general = summary(parse(stream, cuts, **limits))
    assert summary(fast) == general
    for msg in fast:
        if not isinstance(msg, parser.Garbled):
            assert registry().validate(msg) == registry().validate_exactly(msg)


def test_hot_shapes_take_the_well_formed_messages():
    stream = b"".join(frame(body(msg_type, tags, {})) for msg_type, tags in SHAPES) * 3
    fix44 = registry()
    out = parse(stream, [], fix44)
    assert [msg.prevalidated_by for msg in out] == [fix44] * len(out)
    [one] = FixParser(hot_shapes=fix44.hot_shapes).feed(frame(body(*SHAPES[2], {})))
    assert one.prevalidated_by is fix44
    # A value failing its type check: the split path, and the exact verdict.
    [bad] = FixParser(hot_shapes=fix44.hot_shapes).feed(frame(body(*SHAPES[0], {38: b"1a"})))
    assert bad.prevalidated_by is None and fix44.validate(bad).reason == 6
    assert summary(parse(stream, [])) == summary(out)



def test_hot_shapes_check_the_checksum_of_short_and_long_messages():
    # up to 256 bytes the hot path sums the whole message (trailer included) in one call,
    # beyond that it takes checksum(): both must take the right CheckSum and only it
    fix44 = registry()
    for symbol, size in ((b"SYM1", 150), (b"S" * 110, 256), (b"S" * 111, 257), (b"S" * 300, 446)):
        text = body(*SHAPES[0], {55: symbol})
        good = frame(text)
        assert len(good) == size
        right = int(good[-4:-1])
        for check in (right, (right + 1) % 256, (right + 255) % 256, 256, 999):
            data = frame(text, check=check)
            out = parse(data * 2, [], fix44)
            if check == right:
                assert [msg.prevalidated_by for msg in out] == [fix44] * 2
                assert out[0].raw == data and out[0].get(55) == symbol
            else:
                assert [(type(item), item.reason) for item in out] == [(parser.Garbled, "CheckSum(10) is wrong")] * 2
            assert summary(out) == summary(parse(data * 2, []))
