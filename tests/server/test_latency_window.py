"""Latency mode's adaptive poll window (server/latency.py), driven with a fake clock."""
from hypothesis import given, strategies as st

from fixexchange.server.latency import GROW_FROM, PollWindow

US = 1e-6


class Client:
    """Requests arriving ``gap`` after each poll began, each answered 20 us later."""

    def __init__(self, limit_us):
        self.window = PollWindow(limit_us * US)
        self.now = 0.0

    def send(self, gaps_us):
        """The window chosen after each request."""
        chosen = []
        for gap in gaps_us:
            arrived = self.now + gap * US
            self.now = arrived + 20 * US
            chosen.append(self.window.after_read(arrived, self.now))
        return chosen


def test_grows_to_cover_a_steady_think_time_and_stays():
    chosen = Client(300).send([60] * 10)
    assert chosen[0] == 0  # (no gap known yet)
    assert chosen[1] == GROW_FROM and chosen[2] == 2 * GROW_FROM  # 25, 50: the gap of 60 missed
    assert chosen[3:] == [4 * GROW_FROM] * 7  # 100 us: catches every 60 us gap, no further growth


def test_never_beyond_the_limit():
    assert max(Client(300).send([290] * 20)) == 300 * US


def test_gaps_beyond_the_limit_shrink_it_to_nothing():
    c = Client(300)
    assert c.send([250] * 10)[-1] == 300 * US
    chosen = c.send([5_000] * 6)  # a bot pacing its orders 5 ms apart
    assert chosen == [150 * US, 75 * US, 37.5 * US, 18.75 * US, 0.0, 0.0]


def test_off_until_a_gap_within_the_limit():
    c = Client(300)
    assert c.send([1_000] * 5) == [0.0] * 5
    assert c.send([100]) == [GROW_FROM]


@given(st.lists(st.integers(0, 10_000), max_size=60), st.integers(1, 1000))
def test_window_is_within_zero_and_the_limit(gaps, limit_us):
    assert all(0 <= c <= limit_us * US for c in Client(limit_us).send(gaps))
