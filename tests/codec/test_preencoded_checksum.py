"""encode sums a PREENCODED block's bytes once (kept with the block): the CheckSum must
still be that of the whole message, for one or several blocks, new or seen before."""

import random

from fixexchange.codec import FixMessage, FixParser, encode
from fixexchange.codec.encoder import PREENCODED
from fixexchange.codec.parser import checksum


def test_checksum_over_preencoded_blocks_is_the_whole_message_sum():
    rnd = random.Random(7)
    shared = b"279=0\x01269=1\x01270=110.5\x01271=100\x01" * 40  # kilobytes: many subscribers
    for i in range(300):
        blocks = [shared if rnd.random() < 0.5 else
                  b"".join(b"%d=%s\x01" % (rnd.randint(1, 999), bytes(rnd.randint(33, 255) for _ in range(rnd.randint(1, 20))))
                           for _ in range(rnd.randint(1, 60)))
                  for _ in range(rnd.randint(1, 3))]
        fields = [(49, b"EXCH"), (56, b"MD%d" % i), (34, i + 1), (52, b"20260101-00:00:00.000"), (262, b"r%d" % i)]
        for block in blocks:
            fields += [(268, 4), (PREENCODED, block)]
        data = encode(b"FIX.4.4", b"X", fields)
        assert data.endswith(b"10=%03d\x01" % checksum(data[:-7]))
        (message,) = FixParser().feed(data)
        assert isinstance(message, FixMessage)


def test_soh_in_a_value_beside_a_block_is_still_refused():
    import pytest
    block = b"279=0\x01269=1\x01270=110\x01" * 50
    encode(b"FIX.4.4", b"X", [(49, b"A"), (PREENCODED, block)])  # the block is now the known one
    with pytest.raises(ValueError, match="SOH"):
        encode(b"FIX.4.4", b"X", [(49, b"A\x01B"), (268, 1), (PREENCODED, block)])
