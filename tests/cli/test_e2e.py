"""fix-send and fix-md as console commands against a real fixexchange daemon started on a
free loopback port with a temporary store/log directory. Each test trades its own symbol so
the tests stay independent while sharing one daemon."""

import os
import re
import select
import signal
import subprocess
import sys
import time

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
CONFIG = os.path.join(ROOT, "config", "exchange.toml")


@pytest.fixture(scope="module")
def daemon(tmp_path_factory):
    work = tmp_path_factory.mktemp("daemon")
    proc = subprocess.Popen(
        [sys.executable, "-m", "fixexchange.server.main", "--config", CONFIG, "--port", "0",
         "--host", "127.0.0.1", "--memory-store", "--store-dir", str(work / "store"),
         "--log-dir", str(work / "log")],
        cwd=work, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
    )
    port = None
    deadline = time.monotonic() + 15
    while port is None and time.monotonic() < deadline:
        ready, _, _ = select.select([proc.stdout], [], [], 0.5)
        if ready:
            line = proc.stdout.readline()
            if not line:
                break
            match = re.search(r"listening on 127\.0\.0\.1:(\d+)", line)
            if match:
                port = int(match.group(1))
    if port is None:
        proc.kill()
        proc.wait(5)
        pytest.fail("the daemon did not start listening within 15 s")
    yield port
    proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(10)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(5)


@pytest.fixture
def env(daemon, isolated_tool_env):
    environ = dict(os.environ)
    environ["FIXEXCH_PORT"] = str(daemon)
    environ["PYTHONPATH"] = ROOT + os.pathsep + environ.get("PYTHONPATH", "")
    return environ


def tool(env, name, *argv, stdin=None, timeout=20):
    return subprocess.run([sys.executable, "-m", f"fixexchange.cli.{name}", *argv], env=env,
                          input=stdin, capture_output=True, text=True, timeout=timeout)


def fix_send(env, *argv, **kw):
    return tool(env, "send", *argv, **kw)


def fix_md(env, *argv, **kw):
    return tool(env, "md", *argv, **kw)


def order_id(stdout):
    return re.search(r"order=(\S+)", stdout).group(1)


class Lines:
    """Lines of a child's stdout read without Python's buffering (select stays truthful)."""

    def __init__(self, stream):
        self.fd = stream.fileno()
        self.buffer = b""
        self.lines = []

    def until(self, pattern, timeout=10):
        deadline = time.monotonic() + timeout
        while True:
            while b"\n" in self.buffer:
                line, self.buffer = self.buffer.split(b"\n", 1)
                text = line.decode()
                self.lines.append(text)
                if re.search(pattern, text):
                    return text
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise AssertionError(f"no {pattern!r} in {self.lines!r}")
            ready, _, _ = select.select([self.fd], [], [], min(remaining, 0.2))
            if ready:
                data = os.read(self.fd, 65536)
                if not data:
                    raise AssertionError(f"EOF before {pattern!r} in {self.lines!r}")
                self.buffer += data

    def text_since(self, start):
        return "\n".join(self.lines[start:])


SEEDED = """\
SYM1  spread 5  (bid 105 / ask 110)
  BID SIZE       PRICE  ASK SIZE
                   114  100
                   113  100
                   112  100
                   111  100
                   110  100
       100         105
       100         104
       100         103
       100         102
       100         101
last trades: none
"""


def test_md_once_shows_the_seeded_book(env):
    result = fix_md(env, "--once", "SYM1")
    assert (result.returncode, result.stderr) == (0, "")
    assert result.stdout == SEEDED


def test_symbols(env):
    result = fix_send(env, "symbols")
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0].split() == ["SYMBOL", "TICK", "LOT", "MIN", "QTY"]
    assert lines[1].split() == ["SYM1", "0.01", "1", "1"]
    assert len(lines) == 11 and lines[10].split()[0] == "SYM10"


def test_limit_order_status_replace_cancel(env):
    placed = fix_send(env, "buy", "SYM2", "10", "@", "100.5")
    assert placed.returncode == 0, placed.stderr
    assert placed.stdout.startswith("NEW       SYM2 BUY 10 @ 100.5 order=")
    assert "status=new filled=0/10 leaves=10" in placed.stdout
    oid = order_id(placed.stdout)
    status = fix_send(env, "status", oid)
    assert status.returncode == 0 and status.stdout.startswith("STATUS    SYM2 BUY 10 @ 100.5")
    replaced = fix_send(env, "replace", oid, "--qty", "5", "--price", "100.75")
    assert replaced.returncode == 0, replaced.stdout + replaced.stderr
    assert replaced.stdout.startswith(f"REPLACED  SYM2 BUY 5 @ 100.75 order={oid}")
    # the ClOrdID printed first still names the order
    first_cl = re.search(r"cl=(\S+)", placed.stdout).group(1)
    status = fix_send(env, "status", first_cl)
    assert "STATUS    SYM2 BUY 5 @ 100.75" in status.stdout
    book = fix_send(env, "book", "SYM2", "--depth", "10")
    assert re.search(r"^\s+5\s+100.75$", book.stdout, re.M), book.stdout
    canceled = fix_send(env, "cancel", oid)
    assert canceled.returncode == 0
    assert canceled.stdout.startswith("CANCELED  SYM2 BUY 5 @ 100.75")
    assert "status=canceled" in canceled.stdout
    again = fix_send(env, "cancel", oid)
    assert again.returncode == 1
    assert again.stdout.startswith("CXLREJ    cancel of order=" + oid)


def test_market_order_fills_and_md_shows_trade(env):
    sold = fix_send(env, "sell", "SYM3", "5")
    assert sold.returncode == 0, sold.stderr
    lines = sold.stdout.splitlines()
    assert lines[-1].startswith("TRADE     SYM3 SELL 5 MKT")
    assert "status=filled filled=5/5 leaves=0 last=5@105 avg=105" in lines[-1]
    snap = fix_md(env, "--once", "SYM3", "--depth", "1")
    assert snap.returncode == 0
    assert snap.stdout.splitlines()[:4] == [
        "SYM3  spread 5  (bid 105 / ask 110)",
        "  BID SIZE       PRICE  ASK SIZE",
        "                   110  100",
        "        95         105"]
    assert re.search(r"^\s+\S+\s+\S+\s+5 @ 105$", snap.stdout, re.M)


def test_sweep_partial_fill_then_rest(env):
    bought = fix_send(env, "buy", "SYM4", "150", "@", "110.5")
    assert bought.returncode == 0
    assert ("status=partially-filled filled=100/150 leaves=50 last=100@110 avg=110"
            in bought.stdout)
    snap = fix_md(env, "--once", "SYM4", "--depth", "1")
    assert "SYM4  spread 0.5  (bid 110.5 / ask 111)" in snap.stdout


def test_order_instructions(env):
    ioc = fix_send(env, "buy", "SYM5", "10", "@", "100.5", "--tif", "ioc")
    assert ioc.returncode == 0
    assert ioc.stdout.splitlines()[-1].startswith("CANCELED  SYM5 BUY 10 @ 100.5 IOC")
    post = fix_send(env, "buy", "SYM5", "10", "@", "120", "--post-only")
    assert post.returncode == 1
    assert post.stdout.startswith("REJECTED  SYM5 BUY 10 @ 120 order=NONE")
    assert "reason: post-only" in post.stdout
    iceberg = fix_send(env, "buy", "SYM5", "100", "@", "104.5", "--display", "10")
    assert iceberg.returncode == 0
    snap = fix_md(env, "--once", "SYM5")
    assert re.search(r"^\s+10\s+104.5$", snap.stdout, re.M), snap.stdout
    stop = fix_send(env, "sell", "SYM5", "10", "--stop", "99")
    assert stop.returncode == 0
    assert stop.stdout.startswith("NEW       SYM5 SELL 10 STOP 99 order=")
    smaller = fix_send(env, "replace", order_id(stop.stdout), "--qty", "4")
    assert smaller.returncode == 0
    assert smaller.stdout.startswith("REPLACED  SYM5 SELL 4 STOP 99 order=")
    priced = fix_send(env, "replace", order_id(stop.stdout), "--price", "98")
    assert priced.returncode == 2
    assert priced.stderr.endswith("has no limit price to replace (STOP order)\n")
    gone = fix_send(env, "cancel-all", "SYM5")
    assert gone.returncode == 0
    assert gone.stdout.splitlines()[-1] == "MASSCXL   2 order(s) canceled for SYM5"
    assert gone.stdout.count("CANCELED") == 2


def test_rejects(env):
    unknown = fix_send(env, "buy", "SYMX", "1", "@", "1")
    assert unknown.returncode == 1
    assert "reason: unknown symbol SYMX" in unknown.stdout
    tick = fix_send(env, "buy", "SYM6", "1", "@", "100.001")
    assert tick.returncode == 1 and "reason: Price 100.001 is not a multiple of the tick size 0.01 of SYM6" in tick.stdout
    book = fix_send(env, "book", "SYMX")
    assert book.returncode == 1
    assert book.stdout.strip() == "MDREJECT  market data request rejected: unknown symbol SYMX"
    mass = fix_send(env, "cancel-all", "SYMX")
    assert mass.returncode == 1 and "MASSCXL   rejected: unknown symbol" in mass.stdout
    status = fix_send(env, "status", "O999", "--symbol", "SYM6", "--side", "buy")
    assert status.returncode == 1 and "reason: unknown order" in status.stdout
    md = fix_md(env, "--once", "SYM1", "SYMX")
    assert md.returncode == 1 and md.stdout == ""
    assert md.stderr == "fix-md: error: market data request rejected: unknown symbol SYMX\n"


def test_refused_logon(env):
    result = fix_send(env, "symbols", "--password", "wrong")
    assert result.returncode == 3
    assert result.stdout == ""
    assert len(result.stderr.splitlines()) == 1
    assert result.stderr.startswith("fix-send: error: logon as CLIENT1->FIXEXCH ")
    stranger = fix_md(env, "--once", "SYM1", "--sender", "NOBODY")
    assert stranger.returncode == 3 and len(stranger.stderr.splitlines()) == 1
    assert "logon as NOBODY->FIXEXCH" in stranger.stderr


def test_daemon_down(env):
    import socket

    probe = socket.socket()
    probe.bind(("127.0.0.1", 0))
    port = probe.getsockname()[1]
    probe.close()
    result = fix_send(env, "--port", str(port), "symbols")
    assert result.returncode == 3
    assert result.stderr == (f"fix-send: error: cannot connect to 127.0.0.1:{port}: "
                             "Connection refused (is the exchange running?)\n")


def test_verbose_and_environment(env):
    env = dict(env, FIXEXCH_SENDER="CLIENT2")
    result = fix_send(env, "-v", "buy", "SYM7", "1", "@", "100")
    assert result.returncode == 0
    assert re.search(r"^-> 8=FIX\.4\.4\|9=\d+\|35=A\|49=CLIENT2\|56=FIXEXCH\|34=1\|",
                     result.stdout, re.M)
    assert re.search(r"^<- 8=FIX\.4\.4\|9=\d+\|35=8\|", result.stdout, re.M)
    assert "|554=********|" in result.stdout and "pass2" not in result.stdout  # the password, masked
    assert re.search(r"^NEW       SYM7 BUY 1 @ 100 ", result.stdout, re.M)
    # a flag beats the environment
    flagged = fix_send(env, "--sender", "CLIENT3", "-v", "symbols")
    assert "|49=CLIENT3|" in flagged.stdout


def test_interactive_prints_fills_on_resting_orders(env):
    proc = subprocess.Popen(
        [sys.executable, "-m", "fixexchange.cli.send", "-i"], env=env,
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )
    out = Lines(proc.stdout)
    read_until = out.until

    try:
        read_until("^logged on as CLIENT1")
        proc.stdin.write("buy SYM8 10 @ 105.5\n")
        proc.stdin.flush()
        read_until("^NEW       SYM8 BUY 10 @ 105.5")
        proc.stdin.write("frob\nhelp\n")
        proc.stdin.flush()
        read_until("^error: unknown command 'frob'")
        read_until("quit \\| exit")
        # another session trades against the resting order while fix-send -i is idle
        other = fix_send(dict(env, FIXEXCH_SENDER="CLIENT2"), "sell", "SYM8", "4")
        assert other.returncode == 0, other.stderr
        fill = read_until("^TRADE     SYM8 BUY 10 @ 105.5")
        assert "filled=4/10 leaves=6 last=4@105.5" in fill
        proc.stdin.write("status " + order_id(fill) + "\nquit\n")
        proc.stdin.flush()
        read_until("^STATUS    SYM8 BUY 10 @ 105.5")
        read_until("^logged out$")
        assert proc.wait(10) == 0
        assert proc.stderr.read() == ""
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(5)


def test_md_live_plain_updates_and_interrupt(env):
    proc = subprocess.Popen(
        [sys.executable, "-m", "fixexchange.cli.md", "SYM9", "--plain", "--interval", "0",
         "--depth", "2"], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )
    try:
        out = Lines(proc.stdout)
        out.until("SYM9  spread 5  \\(bid 105 / ask 110\\)")
        assert fix_send(env, "buy", "SYM9", "30", "@", "110").returncode == 0
        assert fix_send(env, "buy", "SYM9", "1", "@", "107").returncode == 0
        out.until("SYM9  spread 3  \\(bid 107 / ask 110\\)")
        start = len(out.lines) - 1
        out.until("^last trades")
        out.until("BUY")
        tail = out.text_since(start)
        assert re.search(r"^\s+110\s+70$", tail, re.M), tail
        assert re.search(r"^\s+\d\d:\d\d:\d\d\.\d{3}\s+BUY\s+30 @ 110$", tail, re.M), tail
        proc.send_signal(signal.SIGINT)  # Ctrl-C: unsubscribe, log out, exit 0
        assert proc.wait(10) == 0
        assert proc.stderr.read() == ""
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(5)


class Pty:
    """A child process on a pseudo-terminal (the full-screen ladder and the prompt need one)."""

    def __init__(self, env, *argv):
        import pty

        self.master, slave = pty.openpty()
        env = dict(env, TERM="xterm", LINES="40", COLUMNS="100")
        self.proc = subprocess.Popen([sys.executable, "-m", *argv], stdin=slave, stdout=slave,
                                     stderr=slave, env=env, start_new_session=True)
        os.close(slave)
        self.output = b""
        self.seen = 0

    def expect(self, needle: bytes, timeout=10):
        """Wait for `needle` after what earlier expects consumed."""
        deadline = time.monotonic() + timeout
        while needle not in self.output[self.seen:]:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise AssertionError(f"no {needle!r} in {self.output[-2000:]!r}")
            ready, _, _ = select.select([self.master], [], [], min(remaining, 0.2))
            if ready:
                try:
                    self.output += os.read(self.master, 65536)
                except OSError:
                    raise AssertionError(f"EOF before {needle!r} in {self.output[-2000:]!r}")
        self.seen += self.output[self.seen:].index(needle) + len(needle)

    def write(self, data: bytes):
        os.write(self.master, data)

    def wait(self, timeout=10):
        deadline = time.monotonic() + timeout
        while self.proc.poll() is None and time.monotonic() < deadline:
            ready, _, _ = select.select([self.master], [], [], 0.1)
            if ready:
                try:
                    self.output += os.read(self.master, 65536)
                except OSError:
                    pass
        try:
            return self.proc.wait(max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            raise AssertionError(f"still running; output: {self.output[-3000:]!r}") from None

    def close(self):
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(5)
        os.close(self.master)


def test_md_ladder_on_a_terminal_quits_on_q_and_ctrl_c(env):
    term = Pty(env, "fixexchange.cli.md", "SYM10", "SYM1")
    try:
        term.expect(b"q quit")
        term.expect(b"SYM10")
        # the tick size came from the SecurityList: the spread is shown in ticks too
        term.expect(b"spread 5.00 = 500 ticks")
        term.write(b"q")
        assert term.wait() == 0
    finally:
        term.close()
    for stop in ("typed", "signal"):
        term = Pty(env, "fixexchange.cli.md", "SYM10")
        try:
            term.expect(b"spread 5.00")
            if stop == "typed":
                term.write(b"\x03")  # Ctrl-C as a key: the full screen reads the keyboard raw
            else:
                term.proc.send_signal(signal.SIGINT)
            assert term.wait() == 0
            assert b"Traceback" not in term.output
        finally:
            term.close()


def test_interactive_on_a_terminal(env):
    # nobody on this pty answers prompt_toolkit's cursor-position requests: do not ask
    term = Pty(dict(env, PROMPT_TOOLKIT_NO_CPR="1"), "fixexchange.cli.send", "-i")
    try:
        term.expect(b"fix-send>")
        term.write(b"symbols\r")
        term.expect(b"SYM10")
        term.expect(b"fix-send>")
        term.write(b"buy SYM10 1 @ 1")
        term.expect(b"@ 1")
        term.write(b"\x03")  # Ctrl-C: the line is cleared, nothing is sent
        term.expect(b"fix-send>")
        term.write(b"book SYM10 --depth 1\r")
        term.expect(b"SYM10  spread 5  (bid 105 / ask 110)")
        term.expect(b"fix-send>")
        term.write(b"\x04")  # Ctrl-D: log out and leave
        assert term.wait() == 0
        assert b"logged out" in term.output
        assert b"NEW " not in term.output and b"Traceback" not in term.output
    finally:
        term.close()


def test_output_closed_early_exits_quietly(env):
    """`fix-send symbols | head -1`: a closed stdout is no error (no traceback, exit 0)."""
    for module, args in (("fixexchange.cli.send", ["symbols"]), ("fixexchange.cli.md", ["--once", "SYM1"])):
        proc = subprocess.Popen(
            [sys.executable, "-m", module, *args],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env,
        )
        proc.stdout.readline()
        proc.stdout.close()
        _, err = proc.communicate(timeout=20)
        assert proc.returncode == 0, err
        assert b"Traceback" not in err
