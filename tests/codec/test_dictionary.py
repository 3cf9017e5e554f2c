import pytest

from fixexchange.codec import FIX44, FixMessage, FixParser, SessionRejectInfo, encode
from fixexchange.codec.tags import RejectReasons as R

from .helpers import (EXECUTION_REPORT_BODY, HEADER, NEW_ORDER_SINGLE_BODY, NOW_TEXT, frame,
                      message, parse_one, raw_fields)

MD_REQUEST_BODY = [(262, b"md-1"), (263, b"1"), (264, b"0"), (267, b"2"), (269, b"0"), (269, b"1"),
                   (146, b"2"), (55, b"AAPL"), (55, b"MSFT"), (48, b"US5949181045"), (22, b"4")]

VALID = {
    b"0": [], b"1": [(112, b"t1")], b"2": [(7, b"1"), (16, b"0")],
    b"3": [(45, b"3"), (371, b"55"), (372, b"D"), (373, b"1"), (58, b"Required tag missing")],
    b"4": [(123, b"Y"), (36, b"10")], b"5": [(58, b"bye")],
    b"A": [(98, b"0"), (108, b"30"), (141, b"Y"), (553, b"user"), (554, b"secret")],
    b"D": NEW_ORDER_SINGLE_BODY,
    b"F": [(41, b"ord-1"), (11, b"ord-2"), (55, b"AAPL"), (54, b"1"), (60, NOW_TEXT), (38, b"100")],
    b"G": [(41, b"ord-1"), (11, b"ord-3"), (55, b"AAPL"), (54, b"1"), (60, NOW_TEXT),
           (38, b"50"), (40, b"2"), (44, b"101")],
    b"H": [(37, b"17"), (11, b"ord-1"), (55, b"AAPL"), (54, b"1")],
    b"q": [(11, b"mc-1"), (530, b"7"), (60, NOW_TEXT)],
    b"r": [(11, b"mc-1"), (37, b"mc-1"), (530, b"7"), (531, b"7"), (533, b"2"),
           (534, b"2"), (41, b"a"), (535, b"1"), (41, b"b"), (535, b"2")],
    b"V": MD_REQUEST_BODY,
    b"W": [(262, b"md-1"), (55, b"AAPL"), (268, b"2"), (269, b"0"), (270, b"100.5"),
           (271, b"300"), (269, b"1"), (270, b"101"), (271, b"10")],
    b"X": [(262, b"md-1"), (268, b"1"), (279, b"0"), (269, b"2"), (55, b"AAPL"),
           (270, b"100.5"), (271, b"5")],
    b"Y": [(262, b"md-1"), (281, b"0"), (58, b"unknown symbol")],
    b"x": [(320, b"sl-1"), (559, b"4")],
    b"y": [(320, b"sl-1"), (322, b"r-1"), (560, b"0"), (146, b"2"), (55, b"AAPL"), (15, b"USD"),
           (561, b"1"), (55, b"MSFT"), (561, b"100")],
    b"8": EXECUTION_REPORT_BODY,
    b"9": [(37, b"NONE"), (11, b"ord-2"), (41, b"ord-1"), (39, b"8"), (434, b"1"), (102, b"1")],
    b"j": [(45, b"9"), (372, b"AE"), (380, b"3"), (58, b"unsupported")],
}


def reject(msg) -> tuple[int, int | None] | None:
    info = FIX44.validate(msg)
    # The fast path must agree with the exact pass.
    assert info == FIX44.validate_exactly(msg)
    return None if info is None else (info.reason, info.ref_tag)


@pytest.mark.parametrize("msg_type", sorted(VALID))
def test_valid_messages_of_every_supported_type(msg_type):
    assert FIX44.is_supported(msg_type)
    assert reject(message(msg_type, VALID[msg_type])) is None


def test_reject_info_carries_text():
    info = FIX44.validate(message(b"D", NEW_ORDER_SINGLE_BODY[1:]))
    assert info == SessionRejectInfo(R.REQUIRED_TAG_MISSING, 11, "Required tag missing, field=11")


def test_optional_header_and_trailer_fields():
    header = HEADER + [(43, b"Y"), (122, NOW_TEXT), (115, b"DESK"), (627, b"1"), (628, b"HUB"),
                       (629, NOW_TEXT)]
    assert reject(message(b"0", [(112, b"t")] + [(93, b"3"), (89, b"sig")], header=header)) is None


def test_known_but_unsupported_type_passes_with_body_unchecked():
    assert not FIX44.is_supported(b"AE") and FIX44.is_valid_msg_type(b"AE")
    assert reject(message(b"AE", [(571, b"t1"), (9999, b"x")])) is None
    # ... but its header is still checked
    assert reject(message(b"AE", [(571, b"t1")], header=HEADER[1:])) == (R.REQUIRED_TAG_MISSING, 49)


@pytest.mark.parametrize("msg_type, body, header, expected", [
    # 0 invalid tag number
    (b"D", NEW_ORDER_SINGLE_BODY + [(957, b"x")], None, (R.INVALID_TAG_NUMBER, 957)),
    # 1 required tag missing: body and header
    (b"D", NEW_ORDER_SINGLE_BODY[1:], None, (R.REQUIRED_TAG_MISSING, 11)),
    (b"D", NEW_ORDER_SINGLE_BODY, HEADER[:3], (R.REQUIRED_TAG_MISSING, 52)),
    (b"1", [], None, (R.REQUIRED_TAG_MISSING, 112)),
    (b"V", MD_REQUEST_BODY[:3] + MD_REQUEST_BODY[6:], None, (R.REQUIRED_TAG_MISSING, 267)),
    # ... a user-defined tag (5000 and up) we do not define is an invalid tag number (14a)
    (b"0", [(5001, b"x")], None, (R.INVALID_TAG_NUMBER, 5001)),
    (b"D", NEW_ORDER_SINGLE_BODY + [(5000, b"x")], None, (R.INVALID_TAG_NUMBER, 5000)),
    # 2 tag not defined for this message type
    (b"D", NEW_ORDER_SINGLE_BODY + [(112, b"x")], None, (R.TAG_NOT_DEFINED_FOR_MESSAGE_TYPE, 112)),
    # 4 tag without value
    (b"D", [(11, b"")] + NEW_ORDER_SINGLE_BODY[1:], None, (R.TAG_SPECIFIED_WITHOUT_VALUE, 11)),
    (b"V", MD_REQUEST_BODY[:8] + [(55, b"")] + MD_REQUEST_BODY[9:], None,
     (R.TAG_SPECIFIED_WITHOUT_VALUE, 55)),
    # 5 value out of range
    (b"D", NEW_ORDER_SINGLE_BODY[:2] + [(54, b"Z")] + NEW_ORDER_SINGLE_BODY[3:], None,
     (R.VALUE_INCORRECT, 54)),
    (b"A", [(98, b"9"), (108, b"30")], None, (R.VALUE_INCORRECT, 98)),
    (b"V", MD_REQUEST_BODY[:4] + [(269, b"Z")] + MD_REQUEST_BODY[5:], None, (R.VALUE_INCORRECT, 269)),
    # 6 incorrect data format: float, int, timestamp, boolean, char, NumInGroup
    (b"D", NEW_ORDER_SINGLE_BODY[:3] + [(38, b"1e5")] + NEW_ORDER_SINGLE_BODY[4:], None,
     (R.INCORRECT_DATA_FORMAT, 38)),
    (b"D", NEW_ORDER_SINGLE_BODY[:5] + [(44, b"1.2.3")] + NEW_ORDER_SINGLE_BODY[6:], None,
     (R.INCORRECT_DATA_FORMAT, 44)),
    (b"A", [(98, b"0"), (108, b"x30")], None, (R.INCORRECT_DATA_FORMAT, 108)),
    (b"D", NEW_ORDER_SINGLE_BODY[:-1] + [(60, b"20231114-25:00:00")], None,
     (R.INCORRECT_DATA_FORMAT, 60)),
    (b"0", [], HEADER + [(43, b"X")], (R.INCORRECT_DATA_FORMAT, 43)),
    (b"D", NEW_ORDER_SINGLE_BODY[:2] + [(54, b"12")] + NEW_ORDER_SINGLE_BODY[3:], None,
     (R.INCORRECT_DATA_FORMAT, 54)),
    (b"V", MD_REQUEST_BODY[:3] + [(267, b"two")] + MD_REQUEST_BODY[4:], None,
     (R.INCORRECT_DATA_FORMAT, 267)),
    # 11 invalid MsgType
    (b"ZZ", [], None, (R.INVALID_MSG_TYPE, 35)),
    # 13 tag appears more than once
    (b"D", NEW_ORDER_SINGLE_BODY + [(55, b"MSFT")], None, (R.TAG_APPEARS_MORE_THAN_ONCE, 55)),
    (b"0", [], HEADER + [(49, b"OTHER")], (R.TAG_APPEARS_MORE_THAN_ONCE, 49)),
    # 14 header field after the body; body field after the trailer
    (b"D", NEW_ORDER_SINGLE_BODY[:1] + [(43, b"Y")] + NEW_ORDER_SINGLE_BODY[1:], None,
     (R.TAG_SPECIFIED_OUT_OF_REQUIRED_ORDER, 43)),
    (b"0", [(93, b"1"), (112, b"x")], None, (R.TAG_SPECIFIED_OUT_OF_REQUIRED_ORDER, 112)),
    # 15 group fields out of order: not starting with the delimiter, member order, repeat
    (b"V", MD_REQUEST_BODY[:7] + [(48, b"X"), (55, b"AAPL"), (55, b"MSFT")], None,
     (R.REPEATING_GROUP_FIELDS_OUT_OF_ORDER, 48)),
    (b"V", MD_REQUEST_BODY[:8] + [(22, b"4"), (48, b"X"), (55, b"MSFT")], None,
     (R.REPEATING_GROUP_FIELDS_OUT_OF_ORDER, 48)),
    (b"V", MD_REQUEST_BODY[:8] + [(48, b"X"), (48, b"Y"), (55, b"MSFT")], None,
     (R.REPEATING_GROUP_FIELDS_OUT_OF_ORDER, 48)),
    # 16 NumInGroup count wrong, both ways, and in a nested group
    (b"V", MD_REQUEST_BODY[:3] + [(267, b"3")] + MD_REQUEST_BODY[4:], None,
     (R.INCORRECT_NUM_IN_GROUP_COUNT, 267)),
    (b"V", MD_REQUEST_BODY[:6] + [(146, b"1")] + MD_REQUEST_BODY[7:], None,
     (R.INCORRECT_NUM_IN_GROUP_COUNT, 146)),
    (b"D", NEW_ORDER_SINGLE_BODY + [(453, b"1"), (448, b"P"), (447, b"D"), (452, b"1"),
                                    (802, b"2"), (523, b"s"), (803, b"1")], None,
     (R.INCORRECT_NUM_IN_GROUP_COUNT, 802)),
])
def test_session_reject_reasons(msg_type, body, header, expected):
    assert reject(message(msg_type, body, header=header)) == expected


def test_nested_group_valid():
    parties = [(453, b"2"), (448, b"P"), (447, b"D"), (452, b"1"), (802, b"1"), (523, b"s"),
               (803, b"1"), (448, b"Q"), (452, b"3")]
    assert reject(message(b"D", NEW_ORDER_SINGLE_BODY + parties)) is None


def test_non_numeric_tag_is_invalid_tag_number():
    msg = parse_one(frame(b"35=0\x01" + raw_fields(HEADER) + b"abc=1\x01"))
    assert reject(msg) == (R.INVALID_TAG_NUMBER, None)


@pytest.mark.parametrize("text, ref_tag", [(b"0", 0), (b"-1", -1), (b"-0", None), (b"007", None),
                                           (b"12345678901", None), (b"7a", None)])
def test_tag_text_that_is_an_integer_is_named_in_ref_tag_id(text, ref_tag):
    """14a: RefTagID(371) names the invalid tag where it can (an integer text)."""
    msg = parse_one(frame(b"35=0\x01" + raw_fields(HEADER) + text + b"=1\x01"))
    assert reject(msg) == (R.INVALID_TAG_NUMBER, ref_tag)


@pytest.mark.parametrize("tag, value, expected", [
    (167, b"BOO", (R.VALUE_INCORRECT, 167)),   # 14e: SecurityType is enumerated in FIX 4.4
    (167, b"CS", None),
    (18, b"6", None),                          # ExecInst: a space-separated list of values
    (18, b"6 E", None),
    (18, b"6 T", (R.VALUE_INCORRECT, 18)),     # T is no ExecInst value
    (18, b"6  E", (R.VALUE_INCORRECT, 18)),    # an empty item
    (18, b"6 ", (R.VALUE_INCORRECT, 18)),
    (528, b"A", None),                         # OrderCapacity
    (528, b"Z", (R.VALUE_INCORRECT, 528)),
    (21, b"1", None),                          # HandlInst
    (21, b"7", (R.VALUE_INCORRECT, 21)),
    (77, b"O", None),                          # PositionEffect
    (77, b"X", (R.VALUE_INCORRECT, 77)),
])
def test_enumerations_come_from_the_fix44_tables(tag, value, expected):
    assert reject(message(b"D", NEW_ORDER_SINGLE_BODY + [(tag, value)])) == expected


def test_every_enumerated_fix44_field_is_checked():
    from fixexchange.codec.dictionary import ENUMS, FIX44_ENUMS as TABLE, MULTIPLE_VALUE_TAGS
    # and CancelOnDisconnect(9001) of a Logon, a venue convention (README, Operating)
    assert set(ENUMS) == set(TABLE) | {9001} and len(TABLE) >= 240
    assert {18, 276, 277, 286, 291, 292, 529, 546} == MULTIPLE_VALUE_TAGS


def test_first_three_fields_out_of_order_in_a_hand_made_message():
    fields = [(8, b"FIX.4.4"), (35, b"0"), (9, b"5")] + HEADER + [(10, b"000")]
    assert reject(FixMessage(fields, b"")) == (R.TAG_SPECIFIED_OUT_OF_REQUIRED_ORDER, 35)
    fields = [(8, b"FIX.4.4"), (9, b"5"), (35, b"0")] + HEADER
    assert reject(FixMessage(fields, b"")) == (R.TAG_SPECIFIED_OUT_OF_REQUIRED_ORDER, 10)


def test_read_groups():
    msg = message(b"V", MD_REQUEST_BODY)
    assert FIX44.read_groups(msg, 267) == [{269: b"0"}, {269: b"1"}]
    assert FIX44.read_groups(msg, 146) == [{55: b"AAPL"}, {55: b"MSFT", 48: b"US5949181045", 22: b"4"}]
    assert FIX44.read_groups(msg, 386) == []  # defined for V, absent
    assert FIX44.read_groups(msg, 268) == []  # not a group of V
    assert FIX44.read_groups(message(b"ZZ", []), 146) == []


def test_read_groups_skips_nested_members():
    parties = [(453, b"1"), (448, b"P"), (802, b"1"), (523, b"s"), (452, b"3")]
    msg = message(b"D", NEW_ORDER_SINGLE_BODY + parties)
    assert FIX44.read_groups(msg, 453) == [{448: b"P", 802: b"1", 452: b"3"}]


def test_group_fields_orders_members_and_round_trips():
    fields = FIX44.group_fields(b"W", 268, [{271: 300, 270: "100.5", 269: b"0"}, {269: b"1"}])
    assert fields == [(268, 2), (269, b"0"), (270, "100.5"), (271, 300), (269, b"1")]
    msg = parse_one(encode(b"FIX.4.4", b"W", HEADER + [(262, b"m")] + fields))
    assert FIX44.validate(msg) is None
    assert FIX44.read_groups(msg, 268) == [{269: b"0", 270: b"100.5", 271: b"300"}, {269: b"1"}]


@pytest.mark.parametrize("instance", [{270: "1"}, {269: b"0", 9999: b"x"}])
def test_group_fields_refuses_bad_instances(instance):
    with pytest.raises(KeyError):
        FIX44.group_fields(b"W", 268, [instance])


def test_nested_group_count_must_be_a_number():
    parties = [(453, b"1"), (448, b"P"), (802, b"x"), (523, b"s")]
    assert reject(message(b"D", NEW_ORDER_SINGLE_BODY + parties)) == (R.INCORRECT_DATA_FORMAT, 802)


def test_negative_int_and_signed_float_are_well_formed():
    body = [(45, b"3"), (371, b"-1")]
    assert reject(message(b"3", body)) is None
    assert reject(message(b"D", NEW_ORDER_SINGLE_BODY[:5] + [(44, b"-0.5")]
                          + NEW_ORDER_SINGLE_BODY[6:])) is None


def test_group_member_value_checked():
    parties = [(453, b"1"), (448, b"P"), (447, b"?")]
    assert reject(message(b"D", NEW_ORDER_SINGLE_BODY + parties)) == (R.VALUE_INCORRECT, 447)


def test_huge_num_in_group_is_a_format_error():
    body = MD_REQUEST_BODY[:6] + [(146, b"9" * 5000)] + MD_REQUEST_BODY[7:]
    assert reject(message(b"V", body)) == (R.INCORRECT_DATA_FORMAT, 146)


@pytest.mark.parametrize("msg_type, tag", [(b"D", 11), (b"F", 41), (b"V", 262), (b"q", 11)])
def test_client_ids_the_exchange_keeps_are_at_most_64_characters(msg_type, tag):
    from fixexchange.codec.dictionary import MAX_ID_LENGTH, fix44_dictionary

    def body(length):
        return [(t, b"x" * length if t == tag else v) for t, v in VALID[msg_type]]

    assert MAX_ID_LENGTH == 64
    assert FIX44.validate(message(msg_type, body(64))) is None
    assert FIX44.validate(message(msg_type, body(65))) == SessionRejectInfo(
        R.VALUE_INCORRECT, tag, f"Value is incorrect (out of range) for this tag, field={tag} (longer than 64 characters)")
    # the compiled plan and the parser's hot shape refuse it too
    fix44 = fix44_dictionary()
    fix44.compile_after = 1
    for _ in range(3):
        short = FixParser(hot_shapes=fix44.hot_shapes).feed(
            encode(b"FIX.4.4", msg_type, HEADER + body(64)))[0]
        assert fix44.validate(short) is None
    long = FixParser(hot_shapes=fix44.hot_shapes).feed(encode(b"FIX.4.4", msg_type, HEADER + body(65)))[0]
    assert fix44.validate(long).ref_tag == tag
