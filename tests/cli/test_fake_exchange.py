"""fix-send / fix-md against a scripted loopback peer: the session behaviours and error
paths the real daemon does not produce on demand."""

import time

import pytest

from fixexchange.cli import md, send

from .fake_exchange import FakeExchange


def run_send(port, *argv, timeout="3"):
    return send.main(["--port", str(port), "--timeout", timeout, *argv])


def one_error_line(err, text):
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert text in lines[0], err


def exec_report(order_msg, exec_type, status, cum="0", leaves=None, last=None, text=None):
    qty = order_msg.get(38).decode()
    fields = [(37, "42"), (11, order_msg.get(11).decode()), (17, f"E{time.monotonic_ns()}"),
              (150, exec_type), (39, status), (55, order_msg.get(55).decode()),
              (54, order_msg.get(54).decode()), (40, order_msg.get(40).decode()),
              (38, qty), (151, leaves if leaves is not None else qty), (14, cum),
              (6, last[1] if last else "0")]
    if order_msg.get(44) is not None:
        fields.append((44, order_msg.get(44).decode()))
    if last:
        fields += [(32, last[0]), (31, last[1])]
    if text:
        fields.append((58, text))
    return fields


def test_daemon_down(capsys):
    with FakeExchange(lambda conn: None) as fake:
        port = fake.port
    assert run_send(port, "buy", "SYM1", "1", "@", "100") == 3
    one_error_line(capsys.readouterr().err, f"cannot connect to 127.0.0.1:{port}")
    assert md.main(["--port", str(port), "SYM1", "--once"]) == 3
    one_error_line(capsys.readouterr().err, "is the exchange running?")


def test_logon_refused_with_logout(capsys):
    def script(conn):
        logon = conn.recv_type("A")
        assert logon.get(554) == b"pass1" and logon.get(141) == b"Y"
        conn.send("5", [(58, "bad password")])
        conn.close()

    with FakeExchange(script) as fake:
        assert run_send(fake.port, "symbols") == 3
    one_error_line(capsys.readouterr().err, "logon as CLIENT1->FIXEXCH refused: bad password")
    assert not fake.errors


def test_logon_refused_by_closing(capsys):
    def script(conn):
        conn.recv_type("A")
        conn.close()

    with FakeExchange(script) as fake:
        assert md.main(["--port", str(fake.port), "SYM1", "--once"]) == 3
    one_error_line(capsys.readouterr().err,
                   "logon as MDVIEW->FIXEXCH refused: the exchange closed the connection")


def test_logon_timeout(capsys):
    def script(conn):
        conn.recv_type("A")
        time.sleep(1.5)

    with FakeExchange(script) as fake:
        started = time.monotonic()
        assert run_send(fake.port, "symbols", timeout="0.5") == 4
        assert time.monotonic() - started < 1.5
    one_error_line(capsys.readouterr().err, "logon as CLIENT1->FIXEXCH timed out after 0.5s")


def test_answer_timeout(capsys):
    def script(conn):
        conn.accept_logon()
        conn.recv_type("D")
        conn.recv_type("5", timeout=2)

    with FakeExchange(script) as fake:
        assert run_send(fake.port, "buy", "SYM1", "1", "@", "1", timeout="0.5") == 4
    one_error_line(capsys.readouterr().err, "no answer from the exchange within 0.5s")


def test_order_filled_with_test_request_and_verbose(capsys):
    seen = {}

    def script(conn):
        conn.accept_logon()
        order = conn.recv_type("D")
        seen["order"] = order
        conn.send("1", [(112, "ping-7")])
        seen["heartbeat"] = conn.recv_type("0")
        conn.send("8", exec_report(order, "0", "0"))
        conn.send("8", exec_report(order, "F", "1", cum="4", leaves="6", last=("4", "100.5")))
        conn.send("8", exec_report(order, "F", "2", cum="10", leaves="0", last=("6", "100.5")))
        seen["logout"] = conn.recv_type("5")
        conn.send("5")

    with FakeExchange(script) as fake:
        assert run_send(fake.port, "-v", "buy", "SYM1", "10", "@", "100.5", "--tif", "gtc",
                        "--display", "2", "--min-qty", "1") == 0
    out = capsys.readouterr().out
    order = seen["order"]
    assert order.get(40) == b"2" and order.get(44) == b"100.5" and order.get(59) == b"1"
    assert order.get(111) == b"2" and order.get(110) == b"1" and order.get(54) == b"1"
    assert seen["heartbeat"].get(112) == b"ping-7"
    assert seen["logout"] is not None
    assert "-> 8=FIX.4.4|9=" in out and "|35=D|" in out and "<- 8=FIX.4.4|" in out
    lines = [line for line in out.splitlines() if not line.startswith(("->", "<-"))]
    assert lines[0].startswith("NEW       SYM1 BUY 10 @ 100.5 order=42 cl=")
    assert "status=new filled=0/10 leaves=10" in lines[0]
    assert "status=partially-filled filled=4/10 leaves=6 last=4@100.5 avg=100.5" in lines[1]
    assert lines[2].startswith("TRADE") and "status=filled filled=10/10 leaves=0" in lines[2]
    assert not fake.errors


def test_order_rejected(capsys):
    def script(conn):
        conn.accept_logon()
        order = conn.recv_type("D")
        conn.send("8", exec_report(order, "8", "8", leaves="0", text="unknown symbol SYMX"))
        conn.recv_type("5")

    with FakeExchange(script) as fake:
        assert run_send(fake.port, "sell", "SYMX", "5") == 1
    out = capsys.readouterr().out
    assert out.startswith("REJECTED  SYMX SELL 5 MKT order=42")
    assert "status=rejected" in out and "reason: unknown symbol SYMX" in out


def test_session_reject_of_the_request(capsys):
    def script(conn):
        conn.accept_logon()
        order = conn.recv_type("D")
        conn.send("3", [(45, order.get(34).decode()), (371, "44"), (373, "5"),
                        (58, "Value is incorrect (out of range) for this tag")])
        conn.recv_type("5")

    with FakeExchange(script) as fake:
        assert run_send(fake.port, "buy", "SYM1", "1", "@", "1") == 1
    assert "REJECT    message 2 rejected (tag 44): Value is incorrect" in capsys.readouterr().out


def test_business_reject_of_symbols(capsys):
    def script(conn):
        conn.accept_logon()
        request = conn.recv_type("x")
        conn.send("j", [(45, request.get(34).decode()), (372, "x"), (380, "3"),
                        (58, "unsupported")])
        conn.recv_type("5")

    with FakeExchange(script) as fake:
        assert run_send(fake.port, "symbols") == 1
    assert "BIZREJECT x rejected: unsupported" in capsys.readouterr().out


def test_exchange_logs_out_mid_command(capsys):
    def script(conn):
        conn.accept_logon()
        conn.recv_type("D")
        conn.send("5", [(58, "shutting down")])
        conn.recv_type("5")
        conn.close()

    with FakeExchange(script) as fake:
        assert run_send(fake.port, "buy", "SYM1", "1", "@", "1") == 3
    one_error_line(capsys.readouterr().err, "the exchange logged us out: shutting down")


def test_sequence_gap_and_resend_request(capsys):
    seen = {}

    def script(conn):
        conn.accept_logon()
        conn.send("2", [(7, 1), (16, 0)])          # the exchange asks us to resend
        order = conn.recv_type("D")                # (sent right after the logon)
        seen["gapfill"] = conn.recv_type("4")
        conn.send("8", exec_report(order, "0", "0"), seq=conn.seq + 3)  # we missed 3
        seen["resend"] = conn.recv_type("2")
        conn.send("4", [(123, "Y"), (43, "Y"), (36, conn.seq)], seq=2)
        conn.recv_type("5")

    with FakeExchange(script) as fake:
        assert run_send(fake.port, "buy", "SYM1", "1", "@", "1") == 0
    gapfill = seen["gapfill"]
    assert gapfill.get(123) == b"Y" and gapfill.get(43) == b"Y"
    assert gapfill.get(34) == b"1" and int(gapfill.get(36)) == 3
    assert seen["resend"].get(7) == b"3" and seen["resend"].get(16) == b"0"
    assert "NEW" in capsys.readouterr().out


def test_md_gap_warns_and_resubscribes(capsys):
    requests = []

    def script(conn):
        conn.accept_logon()
        first = conn.recv_type("V")
        requests.append(first)
        req = first.get(262).decode()
        conn.send("W", [(262, req), (55, "SYM1"), (268, 2), (269, "0"), (270, "105"),
                        (271, "100"), (269, "1"), (270, "110"), (271, "100")])
        conn.send("X", [(262, req), (268, 1), (279, "1"), (269, "0"), (55, "SYM1"),
                        (270, "105"), (271, "60")], seq=conn.seq + 2)  # a gap of two
        requests.append(conn.recv_type("V"))  # unsubscribe
        second = conn.recv_type("V")
        requests.append(second)
        conn.send("W", [(262, second.get(262).decode()), (55, "SYM1"), (268, 1),
                        (269, "1"), (270, "111"), (271, "5")])
        requests.append(conn.recv_type("V", timeout=3))  # unsubscribe when leaving
        conn.recv_type("5")

    with FakeExchange(script) as fake:
        assert md.main(["--port", str(fake.port), "--plain", "--duration", "1.0",
                        "--interval", "0", "SYM1"]) == 0
    out, err = capsys.readouterr()
    first, unsub, second, final = requests
    assert first.get(263) == b"1" and first.get(265) == b"1" and first.get(55) == b"SYM1"
    assert unsub.get(263) == b"2" and unsub.get(262) == first.get(262)
    assert second.get(263) == b"1" and second.get(262) != first.get(262)
    assert final.get(263) == b"2" and final.get(262) == second.get(262)
    one_error_line(err, "WARNING MsgSeqNum gap (expected 3, got 5): book dropped, resubscribed")
    assert "SYM1  spread -  (no bids / ask 111)" in out
    assert not fake.errors


def test_md_unknown_symbol(capsys):
    def script(conn):
        conn.accept_logon()
        request = conn.recv_type("V")
        conn.send("Y", [(262, request.get(262).decode()), (281, "0"),
                        (58, "unknown symbol: SYMX")])
        conn.recv_type("5")

    with FakeExchange(script) as fake:
        assert md.main(["--port", str(fake.port), "SYMX", "--once"]) == 1
    one_error_line(capsys.readouterr().err,
                   "fix-md: error: market data request rejected: unknown symbol: SYMX")


def test_md_snapshot_timeout(capsys):
    def script(conn):
        conn.accept_logon()
        conn.recv_type("V")
        conn.recv_type("5", timeout=3)

    with FakeExchange(script) as fake:
        assert md.main(["--port", str(fake.port), "--timeout", "0.5", "SYM1", "SYM2",
                        "--once"]) == 4
    one_error_line(capsys.readouterr().err, "no snapshot for SYM1, SYM2 within 0.5s")


@pytest.mark.parametrize("argv, text", [
    ([], "no symbol given"),
    (["SYM1", "SYM1"], "a symbol is given twice"),
    (["SYM1", "--depth", "0"], "--depth must be at least 1"),
    (["SYM1", "--depth", "x"], "invalid int value"),
    (["SYM1", "--duration", "0"], "--duration > 0"),
    (["SYM1", "--bogus"], "unrecognized arguments"),
    (["SYM1", "--port", "99999"], "expected a port number"),
])
def test_md_usage_errors(argv, text, capsys):
    assert md.main(argv) == 2
    out, err = capsys.readouterr()
    assert out == ""
    one_error_line(err, text)


def test_md_help(capsys):
    with pytest.raises(SystemExit) as info:
        md.main(["--help"])
    assert info.value.code == 0
    out = capsys.readouterr().out
    for text in ("fix-md SYM1", "--once", "FIXEXCH_PORT", "exit codes", "aggressor"):
        assert text in out


def test_symbols_in_fragments_with_min_price_increment(capsys):
    def script(conn):
        conn.accept_logon()
        request = conn.recv_type("x")
        req = request.get(320).decode()
        assert request.get(559) == b"4"
        conn.send("y", [(320, req), (322, "r1"), (560, "0"), (893, "N"), (146, 1),
                        (55, "AAA"), (561, "10"), (562, "1"), (969, "0.05")])
        conn.send("y", [(320, req), (322, "r2"), (560, "0"), (893, "Y"), (146, 1),
                        (55, "BBB"), (561, "1"), (562, "2"), (58, "MinPriceIncrement=0.25")])
        conn.recv_type("5")

    with FakeExchange(script) as fake:
        assert run_send(fake.port, "symbols") == 0
    lines = capsys.readouterr().out.splitlines()
    assert [line.split() for line in lines] == [
        ["SYMBOL", "TICK", "LOT", "MIN", "QTY"], ["AAA", "0.05", "10", "1"],
        ["BBB", "0.25", "1", "2"]]


def test_symbols_request_refused(capsys):
    def script(conn):
        conn.accept_logon()
        request = conn.recv_type("x")
        conn.send("y", [(320, request.get(320).decode()), (322, "r"), (560, "1")])
        conn.recv_type("5")

    with FakeExchange(script) as fake:
        assert run_send(fake.port, "symbols") == 1
    assert "security list request rejected: SecurityRequestResult 1" in capsys.readouterr().out


def test_interactive_notices_a_lost_connection_while_idle():
    import subprocess
    import sys

    def script(conn):
        conn.accept_logon()
        time.sleep(0.3)
        conn.send("5", [(58, "maintenance")])
        conn.recv_type("5", timeout=2)

    with FakeExchange(script) as fake:
        proc = subprocess.Popen(
            [sys.executable, "-m", "fixexchange.cli.send", "-i", "--port", str(fake.port)],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        try:
            assert proc.wait(10) == 3  # stdin stays open: fix-send leaves on its own
            out, err = proc.stdout.read(), proc.stderr.read()
        finally:
            if proc.poll() is None:
                proc.kill()
            proc.stdin.close()
    assert out.startswith("logged on as CLIENT1")
    assert err == "fix-send: error: the exchange logged us out: maintenance\n"


def test_malformed_numbers_in_an_execution_report_are_shown_raw(capsys):
    def script(conn):
        conn.accept_logon()
        order = conn.recv_type("D")
        conn.send("8", exec_report(order, "F", "1", cum="4", leaves="6", last=("4x", "1E+999999999")))
        conn.send("8", exec_report(order, "F", "2", cum="10", leaves="0", last=("6", "100.5")))
        conn.recv_type("5")
        conn.send("5")

    with FakeExchange(script) as fake:
        assert run_send(fake.port, "buy", "SYM1", "10", "@", "100.5") == 0
    captured = capsys.readouterr()
    assert "last=4x@1E+999999999" in captured.out
    assert "Traceback" not in captured.err and not fake.errors


@pytest.mark.parametrize("kind, fields, text", [
    ("4", [(36, "ten")], "malformed NewSeqNo(36) 'ten' from the exchange"),
    ("4", [(123, "Y"), (36, "1x")], "malformed NewSeqNo(36) '1x' from the exchange"),
    ("2", [(7, "one"), (16, "0")], "malformed BeginSeqNo(7) 'one' from the exchange"),
])
def test_malformed_sequence_number_from_the_exchange_is_one_error_line(capsys, kind, fields, text):
    def script(conn):
        conn.accept_logon()
        conn.recv_type("D")
        conn.send(kind, fields)
        conn.recv(timeout=2)

    with FakeExchange(script) as fake:
        assert run_send(fake.port, "buy", "SYM1", "1", "@", "1") == 3
    one_error_line(capsys.readouterr().err, text)
