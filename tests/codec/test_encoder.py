import pytest
import simplefix

from fixexchange.codec import encode, encode_body

from .helpers import EXECUTION_REPORT_BODY, HEADER


def test_envelope_order_body_length_and_checksum():
    data = encode(b"FIX.4.4", b"8", HEADER + EXECUTION_REPORT_BODY)
    assert data.startswith(b"8=FIX.4.4\x019=")
    head, _, rest = data.partition(b"\x0135=")
    body_length = int(head.split(b"9=")[1])
    body_start = len(head) + 1
    body_end = data.rindex(b"10=")
    assert body_end - body_start == body_length
    assert data[body_end:] == b"10=%03d\x01" % (sum(data[:body_end]) % 256)
    assert rest.startswith(b"8\x0149=CLIENT\x0156=EXCH\x0134=7\x0152=")


def test_simplefix_reads_what_we_write():
    data = encode(b"FIX.4.4", b"8", HEADER + EXECUTION_REPORT_BODY)
    parser = simplefix.FixParser()
    parser.append_buffer(data)
    decoded = parser.get_message()
    assert decoded.get(35) == b"8"
    assert decoded.get(150) == b"F"
    assert decoded.get(6) == b"100.5"
    # simplefix re-encodes identically, so our length and checksum match its own.
    assert decoded.encode(raw=True) == data


def test_value_kinds():
    data = encode("FIX.4.4", "0", [(34, 5), (43, True), (97, False), (58, "héllo"), (112, b"x")])
    assert b"\x0134=5\x0143=Y\x0197=N\x0158=h\xe9llo\x01112=x\x01" in data


def test_float_values_are_refused():
    with pytest.raises(TypeError):
        encode(b"FIX.4.4", b"D", [(44, 100.5)])


@pytest.mark.parametrize("value", [b"a\x01b", "a\x01b", b"\x01"])
def test_soh_inside_a_value_is_refused(value):
    with pytest.raises(ValueError, match="SOH"):
        encode(b"FIX.4.4", b"D", [(58, value)])


@pytest.mark.parametrize("tag", [0, -5, "55", 1.5])
def test_invalid_tag_is_refused(tag):
    with pytest.raises(ValueError):
        encode(b"FIX.4.4", b"D", [(tag, b"x")])


def test_large_tags_get_prefixes():
    assert b"\x0112345=v\x01" in encode(b"FIX.4.4", b"D", [(12345, b"v")])


def test_encode_body_parts():
    assert b"".join(encode_body([(55, b"A"), (38, 5)])) == b"55=A\x0138=5\x01"


def test_empty_body():
    assert encode(b"FIX.4.4", b"0", []) == b"8=FIX.4.4\x019=5\x0135=0\x0110=%03d\x01" % (
        sum(b"8=FIX.4.4\x019=5\x0135=0\x01") % 256)


def test_other_value_types():
    from decimal import Decimal
    data = encode(b"FIX.4.4", b"D", [(11, bytearray(b"ba")), (58, memoryview(b"mv")),
                                     (44, Decimal("100.50"))])
    assert b"\x0111=ba\x0158=mv\x0144=100.50\x01" in data
