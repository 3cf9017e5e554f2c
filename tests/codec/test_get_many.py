"""FixMessage.get_many: the same answers as get, tag by tag."""

import pytest

from fixexchange.codec import FixMessage, FixParser, encode

TAGS = (11, 55, 54, 38, 40, 59, 44, 99, 111, 110, 18, 126, 432, 8, 35, 10)


def _messages():
    yield FixMessage([(8, b"FIX.4.4"), (9, b"5"), (35, b"D"), (11, b"a"), (11, b"b"), (55, b""), (10, b"000")], b"")
    data = encode(b"FIX.4.4", b"D", [(49, b"C"), (56, b"X"), (34, 2), (52, b"20260101-00:00:00.000"),
                                     (11, b"o1"), (55, b"SYM1"), (54, b"1"), (38, 100), (40, b"2"),
                                     (44, b"105.5"), (60, b"20260101-00:00:00.000")])
    yield from FixParser().feed(data * 2)


@pytest.mark.parametrize("message", list(_messages()))
def test_get_many_matches_get(message):
    assert message.get_many(TAGS) == tuple(message.get(tag) for tag in TAGS)
    assert message.get_many(TAGS) == tuple(message.get(tag) for tag in TAGS)  # cached plan
    assert message.get_many(()) == ()


def test_get_many_follows_a_fields_change():
    message = FixMessage([(8, b"FIX.4.4"), (35, b"D"), (11, b"a")], b"")
    assert message.get_many((11, 55)) == (b"a", None)
    message.fields = [(8, b"FIX.4.4"), (35, b"D"), (55, b"S"), (11, b"z")]
    assert message.get_many((11, 55)) == (b"z", b"S")


def test_get_many_takes_int_tags_only():
    message = FixMessage([(8, b"FIX.4.4"), (35, b"D")], b"")
    with pytest.raises(TypeError):
        message.get_many(("8) or __import__('os') and (8",))
    with pytest.raises(TypeError):
        message.get_many([8])
