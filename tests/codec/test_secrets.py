"""Password(554)/NewPassword(925) masking: log lines and whole messages that still parse."""
from __future__ import annotations

from hypothesis import given, strategies as st

from fixexchange.codec import FixParser, encode
from fixexchange.codec.secrets import MASK, mask_message, mask_secrets

values = st.text(st.characters(min_codepoint=33, max_codepoint=126, blacklist_characters="|="), min_size=1,
                 max_size=30).map(str.encode)


@given(values, values)
def test_masked_message_parses_with_every_other_field_kept(password, new_password):
    body = [(49, "C"), (56, "X"), (34, 2), (52, "20260101-00:00:00"), (923, "u"), (554, password),
            (925, new_password), (58, "1554=not a password")]
    raw = encode(b"FIX.4.4", b"BE", body)
    masked = mask_message(raw)
    [message] = FixParser().feed(masked)
    assert message.get(554) == MASK and message.get(925) == MASK
    assert message.get(58) == b"1554=not a password" and message.get(923) == b"u"


def test_log_text_masking_keeps_other_tags():
    line = b"8=FIX.4.4|35=A|554=pw|1554=x|925=new|58=ok|"
    assert mask_secrets(line) == b"8=FIX.4.4|35=A|554=********|1554=x|925=********|58=ok|"
    assert mask_message(b"8=FIX.4.4\x019=5\x0135=0\x0110=000\x01") == b"8=FIX.4.4\x019=5\x0135=0\x0110=000\x01"


def test_a_data_field_holding_a_password_tag_is_data_not_a_password():
    xml = b"<a>\x01554=inside-data\x01925=x</a>"
    body = [(49, "C"), (56, "X"), (34, 2), (52, "20260101-00:00:00"), (212, len(xml)), (213, xml), (554, "pw")]
    masked = mask_message(encode(b"FIX.4.4", b"BE", body))
    [message] = FixParser().feed(masked)
    assert message.get(213) == xml and message.get(554) == MASK
    # only the data field carries the tag: the message is kept byte for byte
    raw = encode(b"FIX.4.4", b"BE", body[:-1])
    assert mask_message(raw) == raw
