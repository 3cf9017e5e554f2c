"""FixMessage.get_many: the same answers as get, tag by tag; what messages of one tag sequence
share (their Layout, per-layout verdicts)."""

import pytest

from fixexchange.codec import FixMessage, FixParser, encode
from fixexchange.codec.message import MAX_LAYOUTS, PerLayout, layout_for, values_getter

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


@pytest.mark.parametrize("message", list(_messages()))
def test_values_getter_reads_what_get_many_reads(message):
    getter = values_getter(message.layout, TAGS)
    assert getter(message.values) == message.get_many(TAGS)
    assert values_getter(message.layout, TAGS) is getter  # one per (layout, tags)
    with pytest.raises(TypeError):
        values_getter(message.layout, (b"11",))


def test_messages_of_one_tag_sequence_share_a_layout():
    one, two = FixParser().feed(encode(b"FIX.4.4", b"0", [(49, b"C"), (56, b"X"), (34, 2)])
                                + encode(b"FIX.4.4", b"0", [(49, b"D"), (56, b"Y"), (34, 3)]))
    other = FixMessage([(8, b"FIX.4.4"), (35, b"0"), (49, b"C")], b"")
    assert one.layout is two.layout and one.layout is not other.layout
    assert one.layout.tags == (8, 9, 35, 49, 56, 34, 10) and tuple(one.values[3:5]) == (b"C", b"X")


def test_per_layout_works_a_verdict_out_once_per_layout():
    seen = []
    verdicts = PerLayout(lambda layout: seen.append(layout) or 44 in layout.index)
    messages = list(_messages())
    assert [verdicts[message.layout] for message in messages * 2] == [False, True, True] * 2
    assert seen == [messages[0].layout, messages[1].layout]
    for tags in range(MAX_LAYOUTS + 1):  # bounded: it starts over when full
        verdicts[layout_for((8, 9, 35, 10000 + tags, 10))]
    assert len(verdicts) <= MAX_LAYOUTS
