"""fix-send -i at a prompt_toolkit prompt, driven headless: keys through a pipe input, the
screen written to a string, the exchange a scripted loopback peer."""
from __future__ import annotations

import io
import re
import threading
import time

import pytest

from fixexchange.cli import send
from fixexchange.cli.client import Settings

from .fake_exchange import FakeExchange
from .test_fake_exchange import exec_report

prompt_toolkit = pytest.importorskip("prompt_toolkit")
pyte = pytest.importorskip("pyte")
from prompt_toolkit.data_structures import Size  # noqa: E402
from prompt_toolkit.input import create_pipe_input  # noqa: E402
from prompt_toolkit.output.vt100 import Vt100_Output  # noqa: E402

SYMBOLS = ("SYM1", "ABC")


class Exchange:
    """Answers Logon, the SecurityList request, orders (New, OrderID O1, O2, ...) and
    status requests; `fill()` sends a partial fill of the first order at any moment."""

    def __init__(self) -> None:
        self.received: list = []
        self.orders: list = []
        self.conn = None
        self.ready = threading.Event()
        self.lock = threading.Lock()

    def __call__(self, conn) -> None:
        self.conn = conn
        conn.accept_logon()
        self.ready.set()
        while True:
            msg = conn.recv(timeout=10)
            if msg is None:
                return
            kind = msg.get(35).decode()
            self.received.append(msg)
            if kind == "x":
                fields = [(320, msg.get(320).decode()), (322, "R1"), (560, 0), (146, len(SYMBOLS))]
                for symbol in SYMBOLS:
                    fields += [(55, symbol), (969, "0.01")]
                conn.send("y", fields)
            elif kind == "D":
                self.orders.append(msg)
                fields = exec_report(msg, "0", "0")
                fields[0] = (37, f"O{len(self.orders)}")
                with self.lock:
                    conn.send("8", fields)
            elif kind == "H":
                order = self.orders[0]
                fields = exec_report(order, "I", "0")
                fields[0] = (37, "O1")
                fields.append((790, msg.get(790).decode()))
                with self.lock:
                    conn.send("8", fields)
            elif kind == "5":
                conn.send("5")
                return

    def fill(self) -> None:
        order = self.orders[0]
        fields = exec_report(order, "F", "1", cum="4", leaves="6", last=("4", "100"))
        fields[0] = (37, "O1")
        with self.lock:
            self.conn.send("8", fields)

    def of_kind(self, kind: str) -> list:
        return [m for m in self.received if m.get(35) == kind.encode()]


class Terminal:
    """fix-send -i in a thread, its keyboard a pipe, its screen a string (200x24 VT100: no report wraps)."""

    def __init__(self, port: int, orders_path: str) -> None:
        self.screen = io.StringIO()
        self.terminal = pyte.Screen(200, 24)
        self.terminal.set_mode(pyte.modes.LNM)  # LF as CR LF, as a tty's output does (onlcr)
        self.stream = pyte.Stream(self.terminal)
        self.fed = 0
        self.output = Vt100_Output(self.screen, lambda: Size(rows=24, columns=200), term="xterm",
                                   enable_cpr=False)
        self.input_cm = create_pipe_input()
        self.input = self.input_cm.__enter__()
        settings = Settings(port=port, password="pass1", timeout=5.0)
        self.result: list = []
        self.thread = threading.Thread(target=lambda: self.result.append(send.run_interactive(
            settings, send.OrderBookFile(orders_path), False, pt_input=self.input,
            pt_output=self.output)), daemon=True)
        self.thread.start()

    def type(self, text: str) -> None:
        self.input.send_text(text)

    def text(self) -> str:
        """Everything written so far, escape sequences removed (for messages)."""
        return re.sub(r"\x1b\[[0-9;?]*[A-Za-z]|\x1b[=>]|\r", "", self.screen.getvalue())

    def lines(self) -> list[str]:
        """The screen as a terminal shows it now (pyte, a VT100 emulator)."""
        data = self.screen.getvalue()
        self.stream.feed(data[self.fed:])
        self.fed = len(data)
        return [line.rstrip() for line in self.terminal.display]

    def wait_for(self, pattern: str, timeout: float = 5.0) -> list[str]:
        """The screen once a line of it matches `pattern` (a regular expression)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            lines = self.lines()
            if any(re.search(pattern, line) for line in lines):
                return lines
            time.sleep(0.02)
        raise AssertionError(f"no {pattern!r} on the screen:\n" + "\n".join(self.lines()))

    def finish(self, timeout: float = 10.0) -> int:
        self.thread.join(timeout)
        self.input_cm.__exit__(None, None, None)
        assert not self.thread.is_alive(), self.text()[-1500:]
        return self.result[0]


def wait_until(condition, timeout=5.0):
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError("timed out")
        time.sleep(0.02)


@pytest.fixture
def exchange():
    script = Exchange()
    with FakeExchange(script) as fake:
        yield fake, script


def test_a_report_arriving_while_a_line_is_half_typed_prints_above_the_prompt(exchange, tmp_path):
    fake, peer = exchange
    term = Terminal(fake.port, str(tmp_path / "orders.tsv"))
    term.wait_for("^fix-send>")
    term.type("buy ABC 10 @ 100\r")
    term.wait_for("^NEW       ABC BUY 10 @ 100 order=O1")
    term.type("status O")  # half a line: no Enter yet
    term.wait_for("^fix-send> status O$")
    peer.fill()
    screen = term.wait_for("^TRADE     ABC BUY 10 @ 100 order=O1")
    screen = [line for line in screen if line]
    # the report is printed above the prompt, which is redrawn with the line as typed
    trade = next(k for k, line in enumerate(screen) if line.startswith("TRADE"))
    assert screen[trade + 1:] == ["fix-send> status O"], screen
    assert "filled=4/10 leaves=6 last=4@100" in screen[trade]
    term.type("1\r")  # ... and the line goes on where it stopped
    wait_until(lambda: peer.of_kind("H"))
    assert peer.of_kind("H")[0].get(37) == b"O1"
    term.wait_for("^STATUS    ABC BUY 10 @ 100 order=O1")
    term.type("quit\r")
    assert term.finish() == 0


def test_tab_completes_commands_symbols_flags_and_live_orders(exchange, tmp_path):
    fake, peer = exchange
    term = Terminal(fake.port, str(tmp_path / "orders.tsv"))
    term.wait_for("^fix-send>")
    wait_until(lambda: peer.of_kind("x"))  # the symbols are asked for in the background
    time.sleep(0.2)
    for typed, shown in (("bu\t", "buy"), (" A\t", "buy ABC"), (" 10 @ 100 --t\t", "buy ABC 10 @ 100 --tif"),
                         (" i\t", "buy ABC 10 @ 100 --tif ioc")):
        term.type(typed)  # completion runs in the background: one Tab at a time
        term.wait_for(f"^fix-send> {re.escape(shown)}$")
    term.type("\r")
    wait_until(lambda: peer.of_kind("D"))
    order = peer.of_kind("D")[0]
    assert (order.get(55), order.get(54), order.get(38), order.get(44), order.get(59)) == (
        b"ABC", b"1", b"10", b"100", b"3")
    term.wait_for("^NEW       ABC BUY 10 @ 100 order=O1")
    term.type("sta\t")
    term.wait_for("^fix-send> status$")
    term.type(" \t")  # the session's one live order
    term.wait_for("^fix-send> status O1$")
    term.type("\r")
    wait_until(lambda: peer.of_kind("H"))
    assert peer.of_kind("H")[0].get(37) == b"O1"
    term.type("quit\r")
    assert term.finish() == 0


def test_ctrl_c_clears_the_line_and_ctrl_d_leaves(exchange, tmp_path):
    fake, peer = exchange
    term = Terminal(fake.port, str(tmp_path / "orders.tsv"))
    term.wait_for("^fix-send>")
    term.type("buy ABC 99 @ 1")
    term.wait_for("^fix-send> buy ABC 99 @ 1$")
    term.type("\x03")  # Ctrl-C: the line goes, the session stays
    term.type("buy ABC 5 @ 100\r")
    wait_until(lambda: peer.of_kind("D"))
    time.sleep(0.3)
    assert [m.get(38) for m in peer.of_kind("D")] == [b"5"]
    term.wait_for("^NEW       ABC BUY 5 @ 100")
    term.type("\x04")  # Ctrl-D on an empty line: log out and leave
    assert term.finish() == 0
    wait_until(lambda: peer.of_kind("5"))


def test_history_is_kept_across_runs(exchange, tmp_path):
    fake, peer = exchange
    orders = str(tmp_path / "state" / "orders.tsv")
    term = Terminal(fake.port, orders)
    term.wait_for("^fix-send>")
    term.type("buy ABC 7 @ 100\r")
    term.wait_for("^NEW       ABC BUY 7 @ 100")
    term.type("quit\r")
    assert term.finish() == 0
    assert (tmp_path / "state" / "fix-send_history").read_text().count("buy ABC 7 @ 100") == 1
    # a new run: Up, Up brings back the order line (quit was the last one)
    term = Terminal(fake.port, orders)
    term.wait_for("^fix-send>")
    term.type("\x1b[A\x1b[A\r")
    wait_until(lambda: len(peer.of_kind("D")) == 2)
    assert peer.of_kind("D")[1].get(38) == b"7"
    term.type("quit\r")
    assert term.finish() == 0


def test_a_lost_connection_ends_the_prompt(tmp_path):
    def script(conn):
        conn.accept_logon()
        time.sleep(0.5)
        conn.send("5", [(58, "maintenance")])
        conn.recv_type("5", timeout=2)

    with FakeExchange(script) as fake:
        term = Terminal(fake.port, str(tmp_path / "orders.tsv"))
        term.wait_for("^fix-send>")
        term.type("buy AB")  # half typed when the exchange leaves
        assert term.finish() == 3
        assert "fix-send: error: the exchange logged us out: maintenance" in term.text()


@pytest.mark.parametrize("text, expected", [
    ("", ["buy", "sell", "cancel", "replace", "status", "cancel-all", "book", "symbols", "help", "quit"]),
    ("ca", ["cancel", "cancel-all"]),
    ("buy ", ["SYM1", "ABC"]),
    ("sell S", ["SYM1"]),
    ("book A", ["ABC"]),
    ("buy SYM1 10 --", ["--tif", "--expire", "--stop", "--post-only", "--display", "--min-qty"]),
    ("buy SYM1 10 --tif ", ["day", "gtc", "ioc", "fok", "gtd"]),
    ("buy SYM1 10 --tif i", ["ioc"]),
    ("buy SYM1 10 ", []),
    ("cancel ", ["O1", "O2"]),
    ("replace O", ["O1", "O2"]),
    ("replace O1 --", ["--qty", "--price", "--symbol", "--side"]),
    ("replace O1 --qty 5 --", ["--price", "--symbol", "--side"]),
    ("status O9 --symbol ", ["SYM1", "ABC"]),
    ("status O9 --symbol SYM1 --side ", ["buy", "sell"]),
])
def test_completions(text, expected):
    live = {"O1": "SYM1 BUY 10 @ 100", "O2": "ABC SELL 5"}
    assert [word for word, _ in send.completions(text, list(SYMBOLS), live)] == expected
