"""fix-send findings of the user audit, against a real daemon (own module-scoped daemon, so
the symbols here do not interfere with test_e2e's)."""

import re

from tests.cli.test_e2e import daemon, env, fix_send, order_id  # noqa: F401  (fixtures)


def _sent(stdout, msg_type):
    """The fields of the first message of `msg_type` fix-send -v printed as sent."""
    for line in stdout.splitlines():
        if line.startswith("-> ") and f"|35={msg_type}|" in line:
            return dict(pair.split("=", 1) for pair in line[3:].strip("|").split("|"))
    raise AssertionError(f"no 35={msg_type} sent in {stdout!r}")


def test_rejected_replace_leaves_the_order_record_as_it_was(env):
    new = fix_send(env, "buy", "SYM2", "5", "@", "100.1")
    assert new.returncode == 0, new.stderr
    oid = order_id(new.stdout)
    first_cl = re.search(r"cl=(\S+)", new.stdout).group(1)

    bad = fix_send(env, "replace", oid, "--price", "100.001")
    assert bad.returncode == 1 and "CXLREJ" in bad.stdout and "is not a multiple of the tick size" in bad.stdout

    # The next request names the order by its accepted ClOrdID and keeps its real price.
    good = fix_send(env, "-v", "replace", oid, "--qty", "4")
    assert good.returncode == 0, good.stdout + good.stderr
    sent = _sent(good.stdout, "G")
    assert sent["41"] == first_cl and sent["44"] == "100.1" and sent["38"] == "4"
    assert "REPLACED  SYM2 BUY 4 @ 100.1" in good.stdout
    replace_cl = sent["11"]

    cancel = fix_send(env, "-v", "cancel", oid)
    assert cancel.returncode == 0 and "CANCELED" in cancel.stdout
    assert _sent(cancel.stdout, "F")["41"] == replace_cl
    cancel_cl = _sent(cancel.stdout, "F")["11"]

    # After the cancel, the cancel's ClOrdID is the order's (FIX: OrigClOrdID = the last
    # accepted ClOrdID), and it names the order too.
    again = fix_send(env, "-v", "cancel", cancel_cl)
    assert again.returncode == 1 and "CXLREJ" in again.stdout
    assert _sent(again.stdout, "F")["41"] == cancel_cl


def test_stop_elected_by_the_ticket_is_printed_before_logout(env):
    stop = fix_send(env, "buy", "SYM3", "10", "@", "111", "--stop", "110.5")
    assert stop.returncode == 0 and "NEW" in stop.stdout
    stop_oid = order_id(stop.stdout)
    # Prints 110 and 111: the stop is elected right behind the IOC's last fill.
    ioc = fix_send(env, "buy", "SYM3", "200", "@", "111", "--tif", "ioc")
    assert ioc.returncode == 0, ioc.stderr
    assert "status=filled filled=200/200" in ioc.stdout
    assert re.search(rf"TRIGGERED SYM3 BUY 10 @ 111 STOP 110.5 order={stop_oid} ", ioc.stdout), \
        ioc.stdout


def _ticket(*words):
    from fixexchange.cli import send

    return send.parse_ticket(send.main_parser().parse_intermixed_args(list(words)))


def test_numbers_are_sent_as_plain_decimals():
    # Decimal() accepts these, the exchange's FIX validation does not (session Reject).
    c = _ticket("buy", "SYM1", "1e1", "@", "1E2", "--display", "5e0", "--min-qty", "1_0")
    assert (c.qty, c.price, c.display, c.min_qty) == ("10", "100", "5", "10")
    assert _ticket("sell", "SYM1", "3", "--stop", " 99.5").stop == "99.5"
    assert _ticket("replace", "X", "--qty", "2E1", "--price", "1_01.25").qty == "20"
    assert _ticket("book", "SYM1", "--depth", "3.0").depth == 3


def test_expire_time_format_is_checked_before_sending():
    import pytest

    from fixexchange.cli.client import UsageError

    good = _ticket("buy", "SYM1", "1", "@", "100", "--tif", "gtd", "--expire",
                   "20300101-12:30:00.250")
    assert good.expire == "20300101-12:30:00.250"
    for bad in ("2030-01-01", "20300101-25:00:00", "20300101-12:30:00.2", "20300101"):
        with pytest.raises(UsageError, match="--expire must be a UTC time"):
            _ticket("buy", "SYM1", "1", "@", "100", "--expire", bad)


def test_logon_closed_without_answer_names_the_likely_causes(capsys):
    from fixexchange.cli import send
    from tests.cli.fake_exchange import FakeExchange

    def script(conn):
        conn.recv_type("A")
        conn.close()

    with FakeExchange(script) as fake:
        assert send.main(["--port", str(fake.port), "--sender", "CLIENT2", "symbols"]) == 3
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1, err
    assert "refused: the exchange closed the connection" in err
    assert "CLIENT2 is already logged on elsewhere" in err
