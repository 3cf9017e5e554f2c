"""The dictionary's value patterns, written with possessive repeats for the regex engine's
speed, accept exactly the texts the plain patterns accepted."""

import re

from hypothesis import given, strategies as st

from fixexchange.codec import dictionary

# The value patterns as they were before being written with possessive repeats.
_BEFORE = {
    "UTCTIMESTAMP": rb"\d{4}(?:0[1-9]|1[0-2])(?:0[1-9]|[12]\d|3[01])-(?:[01]\d|2[0-3]):[0-5]\d:"
                    rb"(?:[0-5]\d|60)(?:\.\d{3}|\.\d{6}|\.\d{9})?",
    "UTCTIMEONLY": rb"(?:[01]\d|2[0-3]):[0-5]\d:(?:[0-5]\d|60)(?:\.\d{3}|\.\d{6}|\.\d{9})?",
    "INT": rb"[0-9]+",
    "FLOAT": rb"-?(?:\d+(?:\.\d*)?|\.\d+)",
}


@given(st.one_of(st.text("0123456789.-:", max_size=30),
                 st.builds(lambda base, at, char: base[:at] + char + base[at:],
                           st.sampled_from(["20231114-22:13:20", "22:13:20", "20231114-22:13:20.123",
                                            "20231114-22:13:20.123456", "22:13:60.123456789", "-1.5"]),
                           st.integers(0, 30), st.text("0123456789.-:x", max_size=3))))
def test_possessive_value_patterns_match_the_same_texts(text):
    value = text.encode()
    for kind, before in _BEFORE.items():
        now = dictionary.FAST_PATTERN[kind]
        assert (re.fullmatch(before, value) is None) == (re.fullmatch(now, value) is None), kind
        assert (re.fullmatch(before + rb"\x01", value + b"\x01") is None) == \
            (re.fullmatch(now + rb"\x01", value + b"\x01") is None), kind
