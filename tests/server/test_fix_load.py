"""fix-load works end to end (tiny runs; its numbers are not asserted: it is a benchmark)."""
from __future__ import annotations

import re

from fixexchange.cli import load


def test_orders_mode_with_md_subscribers(capsys):
    rc = load.main(["--orders", "300", "-n", "2", "--window", "10", "--md-subscribers", "2",
                    "--memory-store"])
    out = capsys.readouterr().out
    assert rc == 0, out
    assert "orders answered   300 in" in out
    assert re.search(r"daemon CPU\s+[\d.]+ us/order", out)
    assert re.search(r"market data\s+\d+ messages to 2 subscribers", out)
    assert "rejects 0" in out


def test_window_one(capsys):
    rc = load.main(["--orders", "50", "--window", "1", "--memory-store", "--no-uvloop", "--daemon-no-uvloop"])
    out = capsys.readouterr().out
    assert rc == 0 and "orders answered   50 in" in out
    assert re.search(r"round trip\s+p50 \d+ us", out)


def test_window_one_with_daemon_busy_poll(capsys):
    # the started daemon gets server.busy_poll_us (an invalid value would stop it starting)
    rc = load.main(["--orders", "50", "--window", "1", "--memory-store", "--daemon-busy-poll-us", "300"])
    out = capsys.readouterr().out
    assert rc == 0 and "orders answered   50 in" in out


def test_pause_paces_the_requests(capsys):
    # 40 requests, one in flight, 20 ms think time after each answer: at least 0.78 s
    rc = load.main(["--orders", "40", "--window", "1", "--pause-us", "20000", "--memory-store"])
    out = capsys.readouterr().out
    assert rc == 0 and "orders answered   40 in" in out
    assert float(re.search(r"orders answered   40 in ([\d.]+) s", out).group(1)) >= 0.78
    rate = int(re.search(r"orders/s\s+([\d,]+)", out).group(1).replace(",", ""))
    assert rate <= 51


def test_pause_must_not_be_negative(capsys):
    import pytest

    with pytest.raises(SystemExit):
        load.main(["--orders", "10", "--pause-us", "-1"])
    assert "--pause-us must be at least 0, got -1" in capsys.readouterr().err


def test_daemon_busy_poll_value_reaches_the_config(capfd):
    import pytest

    with pytest.raises(SystemExit) as ei:
        load.main(["--orders", "10", "--daemon-busy-poll-us", "-5"])
    assert "daemon did not start" in str(ei.value)
    assert "server.busy_poll_us: must be >= 0, got -5" in capfd.readouterr().err  # the daemon's one line


def test_idle_mode(capsys):
    rc = load.main(["idle", "--idle-sessions", "20", "--heartbeat", "1", "--duration", "1.2", "--memory-store"])
    out = capsys.readouterr().out
    assert rc == 0
    assert re.search(r"idle: 20 sessions logged on .* daemon RSS [\d.]+ MB", out)


def test_unreachable_daemon_exit_3(capsys):
    import socket

    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    assert load.main(["--port", str(port), "--orders", "10"]) == 3
    assert "fix-load:" in capsys.readouterr().err


def test_proc_readers():
    import os

    assert load.proc_cpu(os.getpid()) > 0
    assert load.proc_rss(os.getpid()) > 1_000_000
    assert load.pct([1.0, 2.0, 3.0], 50) == 2.0


def test_daemon_that_does_not_start_is_reported(tmp_path):
    import pytest

    bad = tmp_path / "bad.toml"
    bad.write_text("[server]\nbogus = 1\n")
    with pytest.raises(SystemExit) as ei:
        load.main(["--config", str(bad), "--orders", "10"])
    assert "daemon did not start" in str(ei.value)


def test_bad_counts_are_usage_errors_not_a_hang(capsys):
    import pytest

    # --orders 0 used to wait forever for answers that never come
    for argv in (["--orders", "0"], ["--window", "0"], ["-n", "0"], ["--md-subscribers", "-1"],
                 ["idle", "--idle-sessions", "0"], ["--timeout", "0"], ["--duration", "nan"]):
        with pytest.raises(SystemExit) as ei:
            load.main(argv)
        assert ei.value.code == 2, argv
        assert "must be" in capsys.readouterr().err, argv


def _frames_fixture():
    from fixexchange.codec import encode
    header = [(49, b"FIXEXCH"), (56, b"LOAD1"), (52, b"20260101-00:00:00.000")]
    report = encode(b"FIX.4.4", b"8", [*header, (34, 2), (11, b"c1"), (58, b"10=123 inside a text")])
    update = encode(b"FIX.4.4", b"X", [*header, (34, 3), (262, b"md1"), (268, 1)])
    return report, update


def test_split_frames_any_split_gives_the_same_messages():
    report, update = _frames_fixture()
    stream = b"noise" + report + update
    for cut in range(len(stream) + 1):
        first, rest_at = load.split_frames(stream[:cut])
        second, _ = load.split_frames(stream[:cut][rest_at:] + stream[cut:])
        assert first + second == [(b"8", report), (b"X", update)], cut


def test_split_frames_skips_a_frame_whose_body_length_is_wrong():
    report, update = _frames_fixture()
    broken = report.replace(b"\x019=", b"\x019=1", 1)  # 100 too long: no CheckSum where it points
    assert len(broken) + 100 < len(broken + update + update)
    frames, _ = load.split_frames(broken + update + update)
    assert frames == [(b"X", update), (b"X", update)]
