"""The FIX vocabulary (codec.tags) and the checked fragments encoders build from it."""

import re
from pathlib import Path

import pytest
from hypothesis import given, strategies as st

from fixexchange.codec import tags
from fixexchange.codec.dictionary import ENUMS, FIELD_TYPES, check_field
from fixexchange.codec.encoder import encoded_field, fields_format

PACKAGE = Path(__file__).resolve().parents[2] / "fixexchange"

# value class -> the tag whose values it names
VALUE_CLASSES = {
    tags.MsgTypes: tags.MsgType, tags.RejectReasons: tags.SessionRejectReason, tags.Sides: tags.Side,
    tags.OrdTypes: tags.OrdType, tags.TimeInForces: tags.TimeInForce, tags.ExecInsts: tags.ExecInst,
    tags.ExecTypes: tags.ExecType, tags.OrdStatuses: tags.OrdStatus,
    tags.ExecRestatementReasons: tags.ExecRestatementReason, tags.LastLiquidityInds: tags.LastLiquidityInd,
    tags.OrdRejReasons: tags.OrdRejReason, tags.CxlRejReasons: tags.CxlRejReason,
    tags.CxlRejResponseTos: tags.CxlRejResponseTo, tags.BusinessRejectReasons: tags.BusinessRejectReason,
    tags.MDEntryTypes: tags.MDEntryType, tags.SubscriptionRequestTypes: tags.SubscriptionRequestType,
    tags.MDUpdateTypes: tags.MDUpdateType, tags.MDUpdateActions: tags.MDUpdateAction,
    tags.MDReqRejReasons: tags.MDReqRejReason, tags.MassCancelRequestTypes: tags.MassCancelRequestType,
    tags.MassCancelResponses: tags.MassCancelResponse, tags.MassCancelRejectReasons: tags.MassCancelRejectReason,
    tags.SecurityListRequestTypes: tags.SecurityListRequestType,
    tags.SecurityRequestResults: tags.SecurityRequestResult,
    tags.SecurityTradingStatuses: tags.SecurityTradingStatus,
}
# values beyond FIX 4.4 that a session opts into
EXTENSION_VALUES = {(tags.ExecType, b"L")}


def test_every_fix44_field_is_a_tag_constant_named_as_in_the_spec():
    for number, (name, _) in FIELD_TYPES.items():
        assert getattr(tags, name) == number
    assert (tags.OrderID, tags.ClOrdID, tags.MsgSeqNum) == (37, 11, 34)
    assert (tags.MinPriceIncrement, tags.AggressorSide, tags.CancelOnDisconnect) == (969, 2446, 9001)


def test_each_tag_number_has_one_name():
    numbers = [value for name, value in vars(tags).items() if type(value) is int and not name.startswith("_")]
    assert len(numbers) == len(set(numbers)) == len(FIELD_TYPES) + 3


def test_every_named_value_is_a_value_the_dictionary_allows_for_its_tag():
    value_classes = {value for value in vars(tags).values() if isinstance(value, type)}
    assert value_classes == set(VALUE_CLASSES)
    for value_class, tag in VALUE_CLASSES.items():
        values = [value for name, value in vars(value_class).items() if not name.startswith("_")]
        assert len(values) == len(set(values)), value_class  # no value named twice
        for value in values:
            text = b"%d" % value if type(value) is int else value
            if (tag, text) not in EXTENSION_VALUES:
                assert text in ENUMS[tag], (value_class.__name__, value)


def test_encoded_field_encodes_a_checked_field():
    assert encoded_field(tags.ExecType, tags.ExecTypes.NEW) == b"150=0\x01"
    assert encoded_field(tags.LastLiquidityInd, tags.LastLiquidityInds.ADDED_LIQUIDITY) == b"851=1\x01"
    assert encoded_field(tags.Text, "stop triggered") == b"58=stop triggered\x01"
    assert encoded_field(tags.ExecType, b"L", extension=True) == b"150=L\x01"
    assert encoded_field(tags.AggressorSide, b"1", extension=True) == b"2446=1\x01"


@pytest.mark.parametrize("tag, value, extension", [
    (tags.ExecType, b"L", False),  # not a FIX 4.4 ExecType
    (tags.OrdStatus, b"Z", False),  # not in the enumeration
    (tags.LastQty, b"ten", False),  # not a number
    (tags.Text, b"a\x01b", False),  # SOH inside a value
    (tags.ClOrdID, b"", False),  # empty
    (99_999, b"1", False),  # no such field
    (tags.AggressorSide, b"1", False),  # beyond FIX 4.4 without saying so
    (99_999, b"1", True),  # an extension is one of the known extension tags
    (tags.AggressorSide, b"", True),
    (tags.AggressorSide, b"1\x01", True),
])
def test_encoded_field_refuses_what_the_dictionary_refuses(tag, value, extension):
    with pytest.raises(ValueError):
        encoded_field(tag, value, extension=extension)


def test_fields_format_builds_the_format_of_a_run_of_fields():
    template = fields_format(b"%s", tags.OrderID, (tags.ExecID, b"%s%d"), (tags.LeavesQty, b"%d"), b"%s")
    assert template == b"%s37=%s\x0117=%s%d\x01151=%d\x01%s"
    assert template % (b"", b"O1", b"E", 7, 3, b"58=x\x01") == b"37=O1\x0117=E7\x01151=3\x0158=x\x01"


@pytest.mark.parametrize("item", [
    99_999,  # no such field
    "37",  # a tag is an int
    (tags.Text, b"no conversion"),
    (tags.Text, b"%s\x01"),
    (tags.Text, "%s"),
    b"37=%s",  # a slot holds conversions only: fields are built from tags
    b"%x",
    b"",
])
def test_fields_format_refuses_a_wrong_item(item):
    with pytest.raises(ValueError):
        fields_format(item)


def test_check_field_names_the_field():
    with pytest.raises(ValueError, match=r"OrdStatus\(39\)"):
        check_field(tags.OrdStatus, b"Z")
    with pytest.raises(ValueError, match="not a FIX 4.4 field"):
        check_field(0, b"1")


@given(st.sampled_from(sorted(tag for tag in ENUMS if tag in FIELD_TYPES)), st.data())
def test_encoded_field_accepts_exactly_the_enumerated_values(tag, data):
    allowed = sorted(ENUMS[tag])
    value = data.draw(st.sampled_from(allowed))
    assert encoded_field(tag, value) == b"%d=%s\x01" % (tag, value)
    other = data.draw(st.binary(min_size=1, max_size=3).filter(lambda text: text not in ENUMS[tag]
                                                               and b" " not in text))
    with pytest.raises(ValueError):
        encoded_field(tag, other)


# ---------------------------------------------------------------- one vocabulary
# The gateway and the session name tags (codec.tags) instead of writing numbers, and leave
# encoding to the codec: no "(37, ...)" field pairs, no hand-written b"37=...\x01" bytes.
_FIELD_PAIR = re.compile(r"(?<![A-Za-z])\((?:[1-9][0-9]{0,3}), (?![\d-])")  # "(37, value": not "(0, 0)", "(4, 7, 10)"
_FIELD_PAIR_OF_INT = re.compile(r"(?<![A-Za-z])\([1-9][0-9]{1,3}, [0-9]+\)")  # "(267, 3)"
_TAG_READ = re.compile(r"(?:\.get|_require|_MissingField)\((?:message, )?[1-9]")  # message.get(37)
_ENCODED_BYTES = re.compile(r'b"(?:%s)?[0-9]{1,4}=')
_NOT_TAGS = re.compile(r"\((?:0|1|2|4|7|10|100), ")  # small numbers of other meanings in code


@pytest.mark.parametrize("package, encodes", [("gateway", True), ("session", True), ("cli", False)])
def test_no_raw_tag_numbers_in(package, encodes):
    """(The CLI encodes through codec.encode and simplefix; its load generator splits frames
    by their b"8=", b"9=", b"10=" bytes, a client-side parse, not an encoding.)"""
    found = []
    for path in sorted((PACKAGE / package).glob("*.py")):
        for number, line in enumerate(path.read_text().splitlines(), 1):
            code = line.split("#")[0]
            if code.lstrip().startswith(('"', "'")):
                continue
            pairs = [match for match in _FIELD_PAIR.finditer(code) if not _NOT_TAGS.match(code, match.start())]
            if (pairs or _FIELD_PAIR_OF_INT.search(code) or _TAG_READ.search(code)
                    or (encodes and _ENCODED_BYTES.search(code))):
                found.append(f"{path.name}:{number}: {line.strip()}")
    assert found == []
