"""Whatever application message arrives, the gateway never raises; when the message passed the
FIX 4.4 dictionary (as the session layer ensures in the daemon) every answer passes it too."""

from hypothesis import given, settings
from hypothesis import strategies as st

from fixexchange.codec.dictionary import FIX44

from .support import Harness

# Values that are valid, invalid, empty-ish or hostile for the tags the gateway reads.
values = st.one_of(
    st.sampled_from([b"0", b"1", b"2", b"3", b"4", b"6", b"7", b"8", b"C", b"Y", b"N", b"SYM1", b"SYM2", b"NOPE",
                     b"100", b"100.5", b"100.001", b"-1", b"1e3", b"99999999999999999999", b"O1", b"T-O1",
                     b"20251124-16:00:10.000", b"20251124", b"6 G", b" "]),
    st.binary(min_size=1, max_size=6).filter(lambda v: b"\x01" not in v and b"=" not in v),
)
tags = st.sampled_from([11, 37, 38, 40, 41, 44, 54, 55, 59, 99, 110, 111, 126, 18, 432, 262, 263, 264, 265, 266,
                        267, 269, 146, 320, 559, 530, 790])
msg_types = st.sampled_from(["D", "F", "G", "H", "q", "V", "x", "R"])
messages = st.tuples(st.sampled_from(["S1", "S2"]), msg_types, st.lists(st.tuples(tags, values), max_size=12))

BASE = {
    "D": [(11, b"O1"), (55, b"SYM1"), (54, b"1"), (38, b"5"), (40, b"2"), (44, b"100")],
    "F": [(41, b"O1"), (11, b"C1"), (55, b"SYM1"), (54, b"1")],
    "G": [(41, b"O1"), (11, b"R1"), (55, b"SYM1"), (54, b"1"), (38, b"5"), (40, b"2"), (44, b"101")],
    "H": [(11, b"O1"), (55, b"SYM1"), (54, b"1")],
    "q": [(11, b"M1"), (530, b"7")],
    "V": [(262, b"R1"), (263, b"1"), (264, b"0"), (265, b"1"), (267, b"1"), (269, b"0"), (146, b"1"), (55, b"SYM1")],
    "x": [(320, b"L1"), (559, b"4")],
    "R": [(131, b"Q1")],
}


@settings(max_examples=150)
@given(st.lists(messages, min_size=1, max_size=12))
def test_random_application_messages_never_raise_and_answers_are_valid_fix(flow):
    h = Harness()
    h.seed("SYM1", "sell", 8, 10800)
    for session, msg_type, overrides in flow:
        fields = dict(BASE[msg_type])
        fields.update(overrides)  # replaces or appends: the message stays one field per tag
        inbound_valid = FIX44.validate(h.message(session, msg_type, *fields.items())) is None
        # Reply() parses every answer and, for valid input, checks it against the dictionary
        replies = h.send(session, msg_type, *fields.items(), validate=inbound_valid)
        assert all(reply.type in ("8", "9", "j", "r", "W", "X", "Y", "y") for reply in replies)


HUGE = b"9" * 5000  # passes the FIX 4.4 dictionary; int() refuses more than 4300 digits


def test_numbers_too_long_for_int_get_a_reject_not_an_exception():
    h = Harness()
    h.seed("SYM1", "sell", 8, 10800)
    for tag in (38, 44, 99, 110, 111):
        fields = {11: b"N%d" % tag, **{t: v for t, v in BASE["D"] if t != 11}, tag: HUGE}
        if tag == 99:
            fields[40] = b"4"
        [reply] = h.send("S1", "D", *fields.items())
        assert (reply.type, reply[150], reply[39]) == ("8", "8", "8"), tag
    assert [r.type for r in h.send("S1", "D", *BASE["D"])] == ["8"]
    for tag in (38, 44):
        fields = {**dict(BASE["G"]), 11: b"R%d" % tag, tag: HUGE}
        [reply] = h.send("S1", "G", *fields.items())
        assert (reply.type, reply[102], reply[434]) == ("9", "99", "2"), tag
    # an OrderID beyond any engine id: found by OrigClOrdID, or unknown
    [reply] = h.send("S1", "F", *BASE["F"], (37, b"T-O" + HUGE))
    assert (reply.type, reply[150]) == ("8", "4")
    [reply] = h.send("S1", "H", (11, b"O1"), (37, b"T-O" + HUGE), (55, b"SYM1"), (54, b"1"))
    assert (reply.type, reply[150]) == ("8", "I")
    fields = {**dict(BASE["V"]), 264: HUGE}
    [reply] = h.send("S1", "V", *fields.items())
    assert (reply.type, reply[281]) == ("Y", "5")
