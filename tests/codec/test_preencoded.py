"""encode's PREENCODED pseudo-field: already encoded fields inserted verbatim (market data
entries encoded once for every subscriber)."""
import pytest

from fixexchange.codec import FixParser, encode
from fixexchange.codec.encoder import PREENCODED

HEAD = [(49, b"EX"), (56, b"C1"), (34, 7), (52, b"20240101-00:00:00.000"), (262, b"r"), (268, 2)]
ENTRIES = [(279, b"0"), (269, b"1"), (55, b"SYM1"), (270, b"110"), (271, 5), (279, b"2"), (269, b"0"),
           (55, b"SYM1"), (270, b"100.5")]


def test_same_bytes_as_field_by_field():
    raw = b"279=0\x01269=1\x0155=SYM1\x01270=110\x01271=5\x01279=2\x01269=0\x0155=SYM1\x01270=100.5\x01"
    assert encode(b"FIX.4.4", b"X", HEAD + [(PREENCODED, raw)]) == encode(b"FIX.4.4", b"X", HEAD + ENTRIES)
    # split in two blocks, and followed by more fields
    a, b = raw[:12], raw[12:]
    assert encode(b"FIX.4.4", b"X", HEAD + [(PREENCODED, a), (PREENCODED, b), (58, b"t")]) == \
        encode(b"FIX.4.4", b"X", HEAD + ENTRIES + [(58, b"t")])
    (msg,) = FixParser().feed(encode(b"FIX.4.4", b"X", HEAD + [(PREENCODED, raw)]))
    assert msg.get_all(270) == [b"110", b"100.5"]


@pytest.mark.parametrize("bad", [b"279=0", b"\x01279=0\x01", b"279=0\x01\x01", b"=1\x01", b"x=1\x01",
                                 b"279=\x01", b"", "279=0\x01"])
def test_malformed_preencoded_rejected(bad):
    with pytest.raises(ValueError):
        encode(b"FIX.4.4", b"X", HEAD + [(PREENCODED, bad)])
