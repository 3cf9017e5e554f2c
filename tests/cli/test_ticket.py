"""The fix-send ticket grammar (no exchange needed)."""

import pytest

from fixexchange.cli import send
from fixexchange.cli.client import UsageError


def ticket(*words):
    return send.parse_ticket(send.main_parser().parse_intermixed_args(list(words)))


def test_limit_buy():
    c = ticket("buy", "SYM1", "10", "@", "100.5")
    assert (c.action, c.side, c.symbol, c.qty, c.price, c.ord_type) == (
        "order", "1", "SYM1", "10", "100.5", "2")
    assert c.tif is None and c.stop is None and not c.post_only


def test_price_glued_to_at_sign_and_word_at():
    assert ticket("sell", "SYM2", "3", "@101").price == "101"
    assert ticket("sell", "SYM2", "3", "at", "101").price == "101"


def test_market_sell():
    c = ticket("sell", "SYM1", "5")
    assert (c.side, c.price, c.ord_type) == ("2", None, "1")


def test_options():
    c = ticket("buy", "SYM1", "10", "@", "100.5", "--tif", "ioc")
    assert c.tif == "3"
    assert ticket("buy", "SYM1", "10", "--stop", "99").ord_type == "3"
    c = ticket("buy", "SYM1", "10", "@", "100", "--stop", "99")
    assert (c.ord_type, c.stop) == ("4", "99")
    assert ticket("buy", "SYM1", "10", "@", "100", "--post-only").post_only
    assert ticket("buy", "SYM1", "10", "@", "100", "--display", "2").display == "2"
    assert ticket("buy", "SYM1", "10", "@", "100", "--min-qty", "4").min_qty == "4"
    c = ticket("buy", "SYM1", "10", "@", "100", "--tif", "gtd", "--expire", "20300101-00:00:00")
    assert (c.tif, c.expire) == ("6", "20300101-00:00:00")
    # options may come first
    assert ticket("--tif", "fok", "buy", "SYM1", "1", "@", "1").tif == "4"


def test_other_commands():
    assert ticket("cancel", "17").order == "17"
    c = ticket("replace", "17", "--qty", "5", "--price", "101")
    assert (c.action, c.order, c.qty, c.price) == ("replace", "17", "5", "101")
    assert ticket("status", "abc-1").action == "status"
    assert ticket("cancel-all", "SYM1").symbol == "SYM1"
    assert ticket("cancel-all").symbol is None
    c = ticket("book", "SYM1", "--depth", "3")
    assert (c.action, c.symbol, c.depth) == ("book", "SYM1", 3)
    assert ticket("symbols").action == "symbols"
    c = ticket("cancel", "9", "--symbol", "SYM1", "--side", "sell")
    assert (c.symbol, c.side) == ("SYM1", "2")


@pytest.mark.parametrize("words, message", [
    ((), "no ticket given"),
    (("frob",), "unknown command 'frob'"),
    (("buy",), "needs SYMBOL QTY"),
    (("buy", "SYM1"), "needs SYMBOL QTY"),
    (("buy", "SYM1", "x"), "quantity must be a number"),
    (("buy", "SYM1", "0"), "quantity must be positive"),
    (("buy", "SYM1", "10", "@"), "a price is written"),
    (("buy", "SYM1", "10", "100"), "a price is written"),
    (("buy", "SYM1", "10", "@", "-1"), "price must be positive"),
    (("buy", "SYM1", "10", "@", "nan"), "price must be positive"),
    (("buy", "SYM1", "1e40"), "quantity has too many digits"),
    (("buy", "SYM1", "10", "@", "1e-40"), "price has too many digits"),
    (("book", "SYM1", "--depth", "1e40"), "--depth has too many digits"),
    (("buy", "SYM!", "10"), "bad symbol"),
    (("buy", "SYM1", "10", "--post-only"), "--post-only needs a limit price"),
    (("buy", "SYM1", "10", "@", "1", "--display", "11"), "--display must not exceed"),
    (("buy", "SYM1", "10", "@", "1", "--tif", "gtd"), "--tif gtd needs --expire"),
    (("buy", "SYM1", "10", "@", "1", "--tif", "ioc", "--expire", "x"), "--expire goes with"),
    (("buy", "SYM1", "10", "@", "1", "--tif", "ioc", "--post-only"), "cannot be combined"),
    (("buy", "SYM1", "10", "--qty", "3"), "--qty does not apply to 'buy'"),
    (("cancel",), "needs exactly one ORDER"),
    (("cancel", "1", "2"), "needs exactly one ORDER"),
    (("cancel", "1", "--tif", "ioc"), "--tif does not apply"),
    (("cancel", "1", "--symbol", "SYM1"), "--symbol and --side go together"),
    (("replace", "1"), "needs --qty and/or --price"),
    (("replace", "1", "--qty", "-2"), "--qty must be positive"),
    (("cancel-all", "SYM1", "SYM2"), "at most one SYMBOL"),
    (("book",), "needs exactly one SYMBOL"),
    (("book", "SYM1", "--depth", "1.5"), "--depth must be a whole number"),
    (("symbols", "x"), "takes no arguments"),
])
def test_bad_tickets(words, message):
    with pytest.raises(UsageError) as info:
        ticket(*words)
    assert message in str(info.value)
    assert "\n" not in str(info.value)
    assert info.value.code == 2


def test_bad_option_is_one_usage_error():
    with pytest.raises(UsageError, match="invalid choice"):
        ticket("buy", "SYM1", "1", "--tif", "never")
    with pytest.raises(UsageError, match="unrecognized arguments"):
        send.main_parser().parse_intermixed_args(["buy", "SYM1", "1", "--frob"])


def test_interactive_lines():
    assert send.parse_line("   ") is None
    assert send.parse_line("buy SYM1 10 @ 100.5 --tif ioc").tif == "3"
    assert send.parse_line("help").action == "help"
    assert send.parse_line("quit").action == "quit"
    assert send.parse_line("exit").action == "quit"
    with pytest.raises(UsageError, match="cannot parse"):
        send.parse_line('buy "SYM1')
    with pytest.raises(UsageError, match="unknown command"):
        send.parse_line("sel SYM1 1")
    with pytest.raises(UsageError):
        send.parse_line("buy SYM1 1 --port 5")  # connection flags only on the command line


@pytest.mark.parametrize("argv, message", [
    ([], "no ticket given"),
    (["frob"], "unknown command"),
    (["buy", "SYM1", "1", "--port", "0"], "--port: port: expected a port number"),
    (["buy", "SYM1", "1", "--timeout", "-1"], "expected a positive number"),
    (["-i", "buy"], "-i takes no ticket"),
    (["cancel", "nope"], "unknown order 'nope'"),
    (["buy", "SYM1", "1", "--config", "/nonexistent/client.toml"], "config file not found"),
])
def test_main_usage_errors_print_one_line(argv, message, capsys):
    assert send.main(argv) == 2
    out, err = capsys.readouterr()
    assert out == ""
    assert err.count("\n") == 1 and err.startswith("fix-send: error: ")
    assert message in err


def test_help_documents_examples_env_and_exit_codes(capsys):
    with pytest.raises(SystemExit) as info:
        send.main(["--help"])
    assert info.value.code == 0
    out = capsys.readouterr().out
    for text in ("fix-send buy SYM1 10 @ 100.5", "FIXEXCH_HOST", "client.toml",
                 "exit codes", "--post-only", "cancel-all", "-i"):
        assert text in out


def test_order_file_lookup(tmp_path):
    orders = send.OrderBookFile(str(tmp_path / "o.tsv"))
    assert orders.lookup("1") is None
    orders.record(send.OrderRecord("a-1", "", "SYM1", "1", "2", "10", "100"))
    orders.record(send.OrderRecord("a-1", "7", "SYM1", "1", "2", "10", "100"))
    orders.record(send.OrderRecord("a-2", "7", "SYM1", "1", "2", "5", "101"))  # replaced
    assert orders.lookup("7").clordid == "a-2"
    assert orders.lookup("a-1").clordid == "a-2"  # the order's current ClOrdID
    assert orders.lookup("a-2").qty == "5"
    assert orders.lookup("8") is None


def test_order_file_is_bounded(tmp_path):
    orders = send.OrderBookFile(str(tmp_path / "o.tsv"), max_lines=10)
    for i in range(25):
        orders.record(send.OrderRecord(f"c{i}", str(i), "SYM1", "1", "2", "1", "1"))
    assert len(open(orders.path).read().splitlines()) <= 10
    assert orders.lookup("24").clordid == "c24"


def test_order_file_unwritable_warns(tmp_path, capsys):
    blocker = tmp_path / "file"
    blocker.write_text("")
    orders = send.OrderBookFile(str(blocker / "sub" / "o.tsv"))
    orders.record(send.OrderRecord("c", "1", "SYM1", "1", "2", "1", "1"))
    assert "warning: cannot record the order" in capsys.readouterr().err


def test_tif_choices_are_exactly_what_the_exchange_takes():
    from fixexchange.cli.send import TIFS
    from fixexchange.gateway.common import TIFS as ACCEPTED
    assert {value.encode() for value in TIFS.values()} == set(ACCEPTED)
