import pytest

from fixexchange.codec import FixMessage, FixParser, Garbled, encode

from .helpers import HEADER, NEW_ORDER_SINGLE_BODY, frame, parse_one, raw_fields

ORDER = encode(b"FIX.4.4", b"D", HEADER + NEW_ORDER_SINGLE_BODY)
HEARTBEAT = encode(b"FIX.4.4", b"0", HEADER)


def kinds(results):
    return [(type(item).__name__, item.raw) for item in results]


def test_one_message_fields_and_accessors():
    msg = parse_one(ORDER)
    assert isinstance(msg, FixMessage)
    assert msg.raw == ORDER
    assert msg.msg_type == b"D"
    assert msg.seq_num == 7
    assert msg.fields[:3] == [(8, b"FIX.4.4"), (9, msg.fields[1][1]), (35, b"D")]
    assert msg.fields[-1][0] == 10
    assert msg.body_fields == HEADER + NEW_ORDER_SINGLE_BODY
    assert msg.get(55) == b"AAPL"
    assert msg.get(99) is None and msg.get(99, b"x") == b"x"
    assert 55 in msg and 99 not in msg


def test_first_occurrence_wins_and_get_all():
    msg = parse_one(encode(b"FIX.4.4", b"V", HEADER + [(146, 2), (55, b"A"), (55, b"B")]))
    assert msg.get(55) == b"A"
    assert msg.get_all(55) == [b"A", b"B"]


@pytest.mark.parametrize("seq, expected", [(None, None), (b"abc", None), (b"12", 12)])
def test_seq_num(seq, expected):
    header = [(49, b"C"), (56, b"E")] + ([] if seq is None else [(34, seq)])
    assert parse_one(encode(b"FIX.4.4", b"0", header)).seq_num == expected


def test_many_messages_in_one_read_and_byte_at_a_time():
    stream = ORDER + HEARTBEAT + ORDER
    whole = FixParser().feed(stream)
    assert [item.raw for item in whole] == [ORDER, HEARTBEAT, ORDER]
    parser = FixParser()
    pieces = []
    for index in range(len(stream)):
        pieces += parser.feed(stream[index:index + 1])
    assert kinds(pieces) == kinds(whole)
    assert parser.buffered == 0


def test_empty_feed():
    assert FixParser().feed(b"") == []


def test_junk_between_messages_is_skipped_silently():
    out = FixParser().feed(b"hello\x01" + ORDER + b"garbage 10=000\x01" + HEARTBEAT)
    assert [item.raw for item in out] == [ORDER, HEARTBEAT]


def test_text_containing_begin_string_is_not_a_start():
    # "58=FIX..." inside a garbled message must not be taken for a new message start.
    body = b"35=0\x0158=FIX.4.4\x01"
    out = FixParser().feed(frame(body, check=0) + HEARTBEAT)
    assert kinds(out) == [("Garbled", frame(body, check=0)), ("FixMessage", HEARTBEAT)]


def test_wrong_checksum_is_garbled_then_resync():
    bad = ORDER[:-4] + b"%03d\x01" % ((int(ORDER[-4:-1]) + 1) % 256)
    out = FixParser().feed(bad + HEARTBEAT)
    assert isinstance(out[0], Garbled) and out[0].reason == "CheckSum(10) is wrong"
    assert out[0].raw == bad
    assert out[1].raw == HEARTBEAT


@pytest.mark.parametrize("checksum_text", [b"10=1a3\x01", b"10=12\x01\x01"])
def test_checksum_not_three_digits(checksum_text):
    body = raw_fields(HEADER) 
    data = frame(b"35=0\x01" + body)[:-7] + checksum_text
    out = FixParser().feed(data + HEARTBEAT)
    assert isinstance(out[0], Garbled)
    assert out[-1].raw == HEARTBEAT


@pytest.mark.parametrize("delta", [-3, -1, 1, 5])
def test_wrong_body_length_is_garbled_then_resync(delta):
    body = b"35=0\x01" + raw_fields(HEADER)
    bad = frame(body, body_length=len(body) + delta)
    out = FixParser().feed(bad + HEARTBEAT + HEARTBEAT)
    assert isinstance(out[0], Garbled)
    assert out[0].reason == "BodyLength(9) does not end at CheckSum(10)"
    assert [item.raw for item in out[1:]] == [HEARTBEAT, HEARTBEAT]


def test_body_length_too_large_waits_then_drops():
    body = b"35=0\x01" + raw_fields(HEADER)
    bad = frame(body, body_length=len(body) + 300)
    parser = FixParser()
    # The lie swallows the next heartbeat until enough bytes arrive to prove it wrong.
    assert parser.feed(bad + HEARTBEAT) == []
    out = parser.feed(HEARTBEAT * 5)
    assert isinstance(out[0], Garbled)
    assert [item.raw for item in out[1:]] == [HEARTBEAT] * 6


def test_hostile_body_length_is_dropped_at_once_and_never_buffered():
    parser = FixParser(max_message_size=1024)
    out = parser.feed(b"8=FIX.4.4\x019=999999999\x0135=D\x01")
    assert len(out) == 1 and "exceeds" in out[0].reason
    assert parser.buffered < 8
    assert parser.feed(HEARTBEAT)[0].raw == HEARTBEAT


@pytest.mark.parametrize("data, reason", [
    (b"8=FIX.4.4\x0135=0\x019=5\x0110=000\x01", "BodyLength(9) is not the second field"),
    (b"8=FIX.4.4\x019=abc\x0135=0\x0110=000\x01", "BodyLength(9) is not a number"),
    (b"8=FIX.4.4\x019=-5\x0135=0\x0110=000\x01", "BodyLength(9) is not a number"),
    (b"8=FIX.4.4\x019=12345678901234\x01", "BodyLength(9) is not a number"),
    (b"8=FIX" + b"x" * 40, "BeginString(8) has no end"),
    (frame(b"49=C\x0135=0\x01"), "MsgType(35) is not the third field"),
])
def test_garbled_first_three_fields(data, reason):
    out = FixParser().feed(data + b"\x01" + HEARTBEAT)
    assert out[0] == Garbled(reason, out[0].raw)
    assert out[0].raw and data.startswith(out[0].raw)
    assert out[-1].raw == HEARTBEAT


def test_too_many_fields_is_garbled():
    many = encode(b"FIX.4.4", b"0", HEADER + [(58, b"x")] * 20)
    out = FixParser(max_fields=10).feed(many + HEARTBEAT)
    assert out[0].reason == "more than 10 fields"
    assert out[1].raw == HEARTBEAT


@pytest.mark.parametrize("size, fields", [(10, 100), (1000, 1)])
def test_limits_must_be_sane(size, fields):
    with pytest.raises(ValueError):
        FixParser(max_message_size=size, max_fields=fields)


@pytest.mark.parametrize("field, expected", [
    (b"abc=1", (0, b"1")), (b"55", (0, b"")), (b"=x", (0, b"x")), (b"055=x", (0, b"x")),
    (b"+55=x", (0, b"x")), (b"58=a=b", (58, b"a=b")), (b"99999=v", (99999, b"v")),
])
def test_odd_fields_are_kept_with_tag_zero(field, expected):
    msg = parse_one(frame(b"35=0\x01" + field + b"\x0149=C\x01"))
    assert msg.fields[3] == expected
    assert msg.fields[4] == (49, b"C")


def test_long_message_checksum():
    big = encode(b"FIX.4.4", b"0", HEADER + [(58, b"z" * 3000)])
    assert parse_one(big).get(58) == b"z" * 3000


def test_digit_before_begin_string_is_judged_the_same_across_a_split():
    # "58=FIX" is no start even when "5" arrived in an earlier read.
    stream = b"\x015" + HEARTBEAT
    whole = FixParser().feed(stream)
    parser = FixParser()
    # the first read ends inside "8=FI", so the '5' is no longer in the kept tail
    split = parser.feed(stream[:6]) + parser.feed(stream[6:])
    assert kinds(split) == kinds(whole) == []
    assert FixParser().feed(b"\x01x" + HEARTBEAT)[0].raw == HEARTBEAT


def test_data_field_may_hold_soh_and_equals():
    raw_data = b"a\x01b=c\x01"
    logon = encode(b"FIX.4.4", b"A", HEADER + [(98, 0), (108, 30), (95, len(raw_data)),
                                               (96, raw_data), (553, b"user")])
    msg = parse_one(logon)
    assert msg.get(96) == raw_data
    assert msg.body_fields[-3:] == [(95, b"6"), (96, raw_data), (553, b"user")]
    from fixexchange.codec import FIX44
    assert FIX44.validate(msg) is None


@pytest.mark.parametrize("body, expected", [
    # length larger than the value: fall back to the next SOH
    (b"35=A\x0195=50\x0196=ab\x01553=u", [(95, b"50"), (96, b"ab"), (553, b"u")]),
    # non-numeric length: ordinary split
    (b"35=A\x0195=x\x0196=ab\x01553=u", [(95, b"x"), (96, b"ab"), (553, b"u")]),
    # data value last in the body
    (b"35=A\x0195=3\x0196=a\x01b", [(95, b"3"), (96, b"a\x01b")]),
    # a field with no '=' next to a data field
    (b"35=A\x0195=2\x0196=ab\x01junk", [(95, b"2"), (96, b"ab"), (0, b"")]),
])
def test_data_field_framing_edge_cases(body, expected):
    msg = parse_one(frame(body + b"\x01"))
    assert msg.body_fields == expected


def test_soh_is_refused_outside_its_data_field():
    with pytest.raises(ValueError):
        encode(b"FIX.4.4", b"A", [(95, 3), (58, b"a\x01b")])


@pytest.mark.parametrize("field", [b"1" * 5000 + b"=x", b"34=" + b"7" * 5000,
                                   b"95=" + b"9" * 5000 + b"\x0196=ab"])
def test_huge_numbers_never_raise(field):
    msg = parse_one(frame(b"35=0\x01" + field + b"\x01"))
    assert msg.fields[3][0] in (0, 34, 95)
    assert msg.seq_num is None
    from fixexchange.codec import FIX44
    assert FIX44.validate(msg) is not None
