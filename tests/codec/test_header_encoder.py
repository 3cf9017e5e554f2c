"""header_encoder: a session's constant header pre-encoded, the same bytes as encode()."""

import pytest
from hypothesis import given, strategies as st

from fixexchange.codec import encode
from fixexchange.codec.encoder import PREENCODED, SharedBlockBody, header_encoder, shared_block

STAMP = b"20260101-00:00:00.000"


def outcome(function):
    try:
        return function()
    except Exception as error:  # the same exception type and text as encode's
        return type(error), str(error)


def both(begin, sender, target, msg_type, seq, stamp, fields):
    enc = header_encoder(begin, sender, target)
    expected = outcome(lambda: encode(begin, msg_type, [(49, sender), (56, target), (34, seq), (52, stamp),
                                                        *fields]))
    for _ in range(2):  # first (template built) and cached
        assert outcome(lambda: enc(msg_type, seq, stamp, list(fields))) == expected
    return expected


@pytest.mark.parametrize("msg_type,seq,fields", [
    (b"8", 5, [(37, b"1"), (11, "abc"), (38, 100), (44, b"1.5")]),
    (b"0", 7, []),
    (b"1", 10 ** 30, [(112, b"TEST1")]),
    (b"8", 5, [(37, True)]),
    (b"8", 5, [(37, b"a\x01b")]),
    (b"8", 5, [(95, 3), (96, b"a\x01b")]),
    (b"8", 5, [(37, 1.5)]),
    (b"W", 5, [(55, b"S"), (PREENCODED, b"279=0\x01269=1\x01")]),
    # a trailing block
    (b"X", 5, [(262, b"r1"), (268, 2), (PREENCODED, b"279=0\x01269=1\x01" * 40)]),
    (b"X", 5, [(PREENCODED, b"279=0\x01269=1\x01")]),
    (b"X", 5, [(262, b"r\x011"), (PREENCODED, b"279=0\x01")]),  # SOH in a leading value
    (b"X", 5, [(262, 1.5), (PREENCODED, b"279=0\x01")]),
    (b"X", 5, [(262, b"r1"), (PREENCODED, b"279=0")]),  # not whole fields
    (b"X", 5, [(262, b"r1"), (PREENCODED, "279=0\x01")]),
    (b"X", 5, [(262, b"r1"), (PREENCODED, b"279=0\x01"), (PREENCODED, b"269=1\x01")]),
    (b"X", 5, [(PREENCODED, b"279=0\x01"), (262, b"r1")]),
    (b"X", 5, [(262, b"r1"), (PREENCODED,)]),
    (b"8", 5, [(37, b"x" * 300)]),
    (b"8", 5, [("37", b"x")]),
    (b"8", 5, [(37,)]),
    ("8", 5, [(37, b"1")]),
    (b"8", True, [(37, b"1")]),
    (b"8\x01", 5, [(37, b"1")]),
    (b"9", 5, [(37, b"NONE"), (58, "too late")]),  # a str Text: latin-1, on the template
    (b"9", 5, [(37, b"NONE"), (58, "\u20ac")]),
    (b"9", 5, [(37, 1.5), (58, "\u20ac")]),  # the first bad field's error, as encode
])
def test_same_bytes_and_errors_as_encode(msg_type, seq, fields):
    both(b"FIX.4.4", b"EXCH", b"CLIENT1", msg_type, seq, STAMP, fields)


def test_odd_header_values_take_the_general_path():
    for sender in (b"EX\x01CH", b"", "EXCH", b"E=X"):
        both(b"FIX.4.4", sender, b"CLIENT1", b"8", 5, STAMP, [(37, b"1")])


values = st.one_of(st.binary(max_size=12), st.integers(min_value=-10 ** 6, max_value=10 ** 20),
                   st.text(max_size=5), st.booleans())


@given(st.lists(st.tuples(st.integers(min_value=1, max_value=999), values), max_size=12),
       st.sampled_from([b"8", b"0", b"AE"]), st.integers(min_value=1, max_value=10 ** 12))
def test_property_same_as_encode(fields, msg_type, seq):
    both(b"FIX.4.4", b"EXCH", b"CLIENT1", msg_type, seq, STAMP, fields)


@given(st.lists(st.tuples(st.integers(min_value=1, max_value=999), values), max_size=6),
       st.lists(st.tuples(st.integers(min_value=1, max_value=999), st.binary(min_size=1, max_size=8)),
                min_size=1, max_size=40))
def test_property_trailing_block_same_as_encode(fields, block_fields):
    block = b"".join(b"%d=%s\x01" % pair for pair in block_fields)
    for _ in range(2):
        both(b"FIX.4.4", b"EXCH", b"CLIENT1", b"X", 7, STAMP, fields + [(PREENCODED, block)])


# An encoded body (bytes): whole "tag=value<SOH>" fields put in as they are, the same bytes
# as the same fields given as pairs (and as one PREENCODED block through encode).
@pytest.mark.parametrize("sender", [b"EXCH", b"E=X", "EXCH"])  # fast and general paths
@pytest.mark.parametrize("pairs", [
    [(37, b"1"), (11, b"abc"), (150, b"0"), (39, b"0"), (55, b"SYM1"), (60, STAMP)],
    [(37, b"a=b"), (58, b"x" * 400)],  # '=' in a value; longer than the inlined checksum's 256
    [],
])
def test_encoded_body_gives_the_bytes_of_its_fields(sender, pairs):
    enc = header_encoder(b"FIX.4.4", sender, b"CLIENT1")
    body = b"".join(b"%d=%s\x01" % pair for pair in pairs)
    assert enc(b"8", 42, STAMP, body) == enc(b"8", 42, STAMP, pairs)
    expected = encode(b"FIX.4.4", b"8", [(49, sender), (56, b"CLIENT1"), (34, 42), (52, STAMP),
                                         *([(PREENCODED, body)] if body else [])])
    assert enc(b"8", 42, STAMP, body) == expected


def test_encoded_body_must_end_with_soh():
    enc = header_encoder(b"FIX.4.4", b"EXCH", b"CLIENT1")
    with pytest.raises(ValueError, match="end with SOH"):
        enc(b"8", 42, STAMP, b"37=1\x0111=abc")


# A shared block (market data's X): the subscriber's own fields then the block encoded once
# with its byte sum, the same bytes as all the fields given as pairs.
@pytest.mark.parametrize("sender", [b"EXCH", b"E=X", "EXCH"])  # fast and general paths
@pytest.mark.parametrize("own,entries", [
    ([(262, b"r1"), (268, 2)], [(279, b"0"), (269, b"1"), (270, b"101.5"), (271, b"3")] * 2),
    ([(262, b"r=1"), (268, 40)], [(279, b"1"), (269, b"0"), (58, b"x" * 30)] * 40),  # over 512 bytes
    ([(262, b"r" * 250), (268, 1)], [(279, b"2"), (269, b"0"), (270, b"9")]),  # a header over 256 bytes
])
def test_shared_block_body_gives_the_bytes_of_its_fields(sender, own, entries):
    enc = header_encoder(b"FIX.4.4", sender, b"CLIENT1")
    body = SharedBlockBody(b"".join(b"%d=%s\x01" % (tag, b"%d" % v if type(v) is int else v) for tag, v in own),
                           *shared_block(entries))
    expected = encode(b"FIX.4.4", b"X", [(49, sender), (56, b"CLIENT1"), (34, 42), (52, STAMP), *own, *entries])
    assert enc(b"X", 42, STAMP, body) == expected


def test_shared_block_body_must_end_with_soh():
    enc = header_encoder(b"FIX.4.4", b"EXCH", b"CLIENT1")
    block, total = shared_block([(279, b"0")])
    for body in (SharedBlockBody(b"262=r1", block, total), SharedBlockBody(b"262=r1\x01", block[:-1], total)):
        with pytest.raises(ValueError, match="end with SOH"):
            enc(b"X", 42, STAMP, body)
