"""The daemon as a whole: restart with file stores (sequence numbers resume, a resend serves
the ExecutionReports missed while away), message logs, the fixexchange process (SIGTERM clean
exit, bad config exit line, port in use)."""
from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from .fixclient import FixClient, config_dict, start_server

ROOT = Path(__file__).resolve().parents[2]


def last_seq(c: FixClient) -> int:
    return max(int(m.get(34)) for m in c.all)


async def test_restart_resumes_sequence_numbers_and_resend_serves_missed_reports(tmp_path):
    cfg = config_dict(store="file", store_dir=str(tmp_path / "store"))
    srv = await start_server(cfg)
    c1 = FixClient("C1")
    await c1.logon(srv.port)
    c1.order("rest", "1", 5, "107")
    await c1.expect("8", i150="0", i11="rest")
    c1.close()  # gone without a Logout
    c2 = FixClient("C2")
    await c2.logon(srv.port)
    c2.order("hit", "2", 5, "107")
    await c2.expect("8", i150="0")
    await c2.expect("8", i150="F", i39="2")
    for _ in range(100):
        if "FIX.4.4:EX->C1" not in srv.by_session:
            break
        await asyncio.sleep(0.01)
    await asyncio.sleep(0.05)
    await c2.logout()
    seen_by_c1 = last_seq(c1)
    await srv.stop()

    # a new daemon process-equivalent on the same stores
    srv2 = await start_server(cfg)
    try:
        c1b = FixClient("C1")
        c1b.seq = c1.seq  # continue our own numbering: no reset
        logon = await c1b.logon(srv2.port, reset=False)
        assert int(logon.get(34)) > seen_by_c1 + 1  # the fill (and more) happened meanwhile
        c1b.send("2", [(7, seen_by_c1 + 1), (16, 0)])
        fill = None
        for _ in range(20):
            m = await c1b.recv(3, admin=True)
            if m.get(35) == b"8":
                fill = m
                break
        assert fill is not None, c1b.all
        assert fill.get(43) == b"Y" and fill.get(150) == b"F" and fill.get(11) == b"rest"
        assert fill.get(32) == b"5"
        # numbering continues after the restart: the next application message follows on
        c1b.order("after", "1", 1, "100")
        while True:
            m = await c1b.recv(3)
            if m.get(35) == b"8" and m.get(11) == b"after":
                break
            assert m.get(43) == b"Y", m  # only the rest of the resend before it
        assert int(m.get(34)) == int(logon.get(34)) + 1
        c1b.close()
    finally:
        await srv2.stop()


async def test_message_log_written_per_session(tmp_path):
    srv = await start_server(config_dict(message_log=True, log_dir=str(tmp_path / "log")))
    try:
        c1 = FixClient("C1")
        await c1.logon(srv.port)
        c1.order("ml", "1", 1, "100")
        await c1.expect("8", i150="0")
        await c1.logout()
    finally:
        await srv.stop()
    files = list((tmp_path / "log").iterdir())
    assert [f.name for f in files] == ["FIX.4.4-EX-C1.messages.log"]
    lines = files[0].read_text().splitlines()
    assert any(" IN  8=FIX.4.4|" in ln and "|35=A|" in ln for ln in lines)
    assert any(" OUT 8=FIX.4.4|" in ln and "|35=A|" in ln for ln in lines)
    assert any("|35=D|" in ln for ln in lines) and any("|35=8|" in ln for ln in lines)
    assert all("\x01" not in ln for ln in lines)


def write_cfg(tmp_path: Path, **server) -> Path:
    text = (ROOT / "config" / "exchange.toml").read_text()
    p = tmp_path / "ex.toml"
    p.write_text(text)
    return p


def spawn(args: list[str], cwd: Path) -> subprocess.Popen:
    env = dict(os.environ, PYTHONPATH=str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", ""))
    return subprocess.Popen([sys.executable, "-m", "fixexchange.server.main", *args], cwd=cwd,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)


@pytest.mark.parametrize("loop_flags", [[], ["--no-uvloop"]], ids=["default-loop", "stdlib-loop"])
async def test_sigterm_logs_out_and_exits_zero(tmp_path, loop_flags):
    cfg = write_cfg(tmp_path)
    proc = spawn(["-c", str(cfg), "--port", "0", *loop_flags], tmp_path)
    try:
        line = await asyncio.get_running_loop().run_in_executor(None, proc.stdout.readline)
        assert "listening on 127.0.0.1:" in line, line
        port = int(line.split("listening on 127.0.0.1:")[1].split()[0])
        c = FixClient("CLIENT1", target="FIXEXCH")
        m = await c.logon(port, password="pass1")
        assert m.get(35) == b"A"
        c.order("s", "1", 1, "100", symbol="SYM1")
        await c.expect("8", i150="0")
        proc.send_signal(signal.SIGTERM)
        lo = await c.recv(5, admin=True)
        assert lo.get(35) == b"5"
        c.send("5", [])
        assert await c.closed()
        rc = await asyncio.get_running_loop().run_in_executor(None, proc.wait, 10)
        err = proc.stderr.read()
        assert rc == 0, err
        assert "logon FIX.4.4:FIXEXCH->CLIENT1" in err
        assert "stopped" in err
        # the same event lines in var/log/fixexchange.log
        logfile = (tmp_path / "var" / "log" / "fixexchange.log").read_text()
        assert "logon FIX.4.4:FIXEXCH->CLIENT1" in logfile and "stopped" in logfile
        # the file store was flushed under var/store (relative to the working directory)
        stores = list((tmp_path / "var" / "store").iterdir())
        assert stores and any(f.stat().st_size > 0 for f in stores)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def test_sigint_with_no_sessions_exits_zero(tmp_path):
    cfg = write_cfg(tmp_path)
    proc = spawn(["-c", str(cfg), "--port", "0", "--memory-store"], tmp_path)
    try:
        assert "listening" in proc.stdout.readline()
        proc.send_signal(signal.SIGINT)
        assert proc.wait(10) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


@pytest.mark.parametrize("content,key", [
    ('[server]\nport = "x"\n', "server.port"),
    ('[server]\nbogus = 1\n', "server.bogus"),
    ('[server\n', "(syntax)"),
    ('[[session]]\ntarget_comp_id = "A"\n[[session]]\ntarget_comp_id = "A"\n', "session[1].target_comp_id"),
    ('[[symbol]]\nname = "S"\ntick_size = "0.25"\n[seed]\nbids = [["100.1", 1]]\n', "seed.bids"),
])
def test_bad_config_exits_with_one_line(tmp_path, content, key):
    p = tmp_path / "bad.toml"
    p.write_text(content)
    proc = spawn(["-c", str(p)], tmp_path)
    out, err = proc.communicate(timeout=20)
    assert proc.returncode == 2
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith(f"{p}: {key}: ")
    assert out == ""


def test_missing_config_file_exits_with_one_line(tmp_path):
    proc = spawn(["-c", str(tmp_path / "nope.toml")], tmp_path)
    out, err = proc.communicate(timeout=20)
    assert proc.returncode == 2
    assert err.strip() == f"{tmp_path / 'nope.toml'}: (file): no such file"


def test_store_dir_that_cannot_be_made_exits_with_one_line(tmp_path):
    # it used to say "cannot listen on 127.0.0.1:9878: Not a directory", exit 1
    cfg = write_cfg(tmp_path)
    (tmp_path / "plain").write_text("")
    proc = spawn(["-c", str(cfg), "--store-dir", str(tmp_path / "plain" / "store")], tmp_path)
    out, err = proc.communicate(timeout=20)
    assert proc.returncode == 2, err
    assert len(err.strip().splitlines()) == 1, err
    assert err.startswith(f"{cfg}: server.store_dir: cannot create ")

def test_port_in_use_exits_nonzero(tmp_path):
    import socket

    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    s.listen()
    port = s.getsockname()[1]
    try:
        proc = spawn(["-c", str(write_cfg(tmp_path)), "--port", str(port), "--memory-store"], tmp_path)
        out, err = proc.communicate(timeout=20)
        assert proc.returncode == 1
        assert f"cannot listen on 127.0.0.1:{port}" in err
    finally:
        s.close()


def test_bad_arguments_exit_two(tmp_path):
    proc = spawn(["--port", "99999", "-c", str(write_cfg(tmp_path))], tmp_path)
    out, err = proc.communicate(timeout=20)
    assert proc.returncode == 2
    assert "server.port" in err and len(err.strip().splitlines()) == 1
    proc = spawn(["--log-level", "LOUD", "-c", str(write_cfg(tmp_path))], tmp_path)
    out, err = proc.communicate(timeout=20)
    assert proc.returncode == 2


def test_raise_fd_limit_lifts_soft_limit():
    import resource

    from fixexchange.server.main import raise_fd_limit

    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    try:
        low = min(256, hard)
        resource.setrlimit(resource.RLIMIT_NOFILE, (low, hard))
        raise_fd_limit(1000)
        new_soft, _ = resource.getrlimit(resource.RLIMIT_NOFILE)
        assert new_soft == min(1064, hard)
    finally:
        resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))


async def test_report_overflow_disconnects_then_resend_delivers_every_fill():
    """A client that stops reading while it is being filled: its outbound buffer passes the
    hard limit, it is disconnected, and after logging on again a ResendRequest brings every
    ExecutionReport (none was dropped)."""
    import socket as socketmod

    import simplefix

    srv = await start_server(outbound_high_water=8192, outbound_hard_limit=32768)
    try:
        slow = socketmod.socket()
        slow.setsockopt(socketmod.SOL_SOCKET, socketmod.SO_RCVBUF, 4096)
        slow.connect(("127.0.0.1", srv.port))
        fc = FixClient("C1")
        slow.sendall(fc.build("A", [(98, 0), (108, 30), (141, "Y"), (554, "pw")]))
        slow.sendall(fc.build("D", [(11, "big"), (55, "SYM1"), (54, "2"), (60, b"20240101-00:00:00"),
                                    (38, 1500), (40, "2"), (44, "107")]))
        parser = simplefix.FixParser()
        got = []
        slow.setblocking(False)
        loop = asyncio.get_running_loop()
        deadline = loop.time() + 3
        while len(got) < 2 and loop.time() < deadline:  # Logon + ER New
            try:
                parser.append_buffer(slow.recv(4096))
            except BlockingIOError:
                await asyncio.sleep(0.005)
            while (m := parser.get_message()) is not None:
                got.append(m)
        assert got[1].get(150) == b"0"
        last_seen = int(got[1].get(34))
        sid = "FIX.4.4:EX->C1"
        srv.by_session[sid].transport.get_extra_info("socket").setsockopt(
            socketmod.SOL_SOCKET, socketmod.SO_SNDBUF, 4096)
        c2 = FixClient("C2")
        await c2.logon(srv.port)
        burst = b"".join(c2.build("D", [(11, f"h{i}"), (55, "SYM1"), (54, "1"), (60, b"20240101-00:00:00"),
                                        (38, 1), (40, "2"), (44, "107")]) for i in range(1500))
        c2.writer.write(burst)
        fills = 0
        while fills < 1500:
            m = await c2.recv(10)
            if m.get(35) == b"8" and m.get(150) == b"F":
                fills += 1
        for _ in range(200):
            if sid not in srv.by_session:
                break
            await asyncio.sleep(0.01)
        assert sid not in srv.by_session  # dropped for its buffer, not for market data
        slow.close()
        # back again, no reset: ask for everything after the last message we read
        back = FixClient("C1")
        back.seq = fc.seq
        logon = await back.logon(srv.port, reset=False)
        assert int(logon.get(34)) > last_seen + 1500
        back.send("2", [(7, last_seen + 1), (16, 0)])
        resent = []
        while True:
            m = await back.recv(5, admin=True)
            if m.get(35) == b"8":
                resent.append(m)
            if m.get(35) == b"8" and m.get(39) == b"2":
                break
        assert len(resent) == 1500
        assert all(m.get(43) == b"Y" and m.get(150) == b"F" and m.get(11) == b"big" for m in resent)
        assert [int(m.get(14)) for m in resent] == list(range(1, 1501))
        back.close()
        c2.close()
    finally:
        await srv.stop()


def test_log_dir_that_cannot_be_created_is_a_warning_not_a_failure(tmp_path, caplog):
    import logging

    from fixexchange.server.main import setup_logging

    blocker = tmp_path / "file"
    blocker.write_text("x")
    root = logging.getLogger()
    before = list(root.handlers)
    try:
        setup_logging(logging.INFO, str(blocker / "log"))
        assert "no log file" in caplog.text
    finally:
        for h in list(root.handlers):
            if h not in before:
                root.removeHandler(h)


async def test_real_session_timers_heartbeat_and_test_request():
    srv = await start_server()
    try:
        c = FixClient("C1")
        await c.logon(srv.port, heartbeat=1)
        loop = asyncio.get_running_loop()
        t0 = loop.time()
        hb = await c.recv(3, admin=True)
        assert hb.get(35) == b"0" and 0.5 < loop.time() - t0 < 2.5
        # we never heartbeat: the exchange sends a TestRequest (HeartBtInt + 20%); FixClient
        # answers that one, closed() below answers nothing: the next one goes unanswered
        while True:
            m = await c.recv(4, admin=True)
            if m.get(35) == b"1":
                break
        assert m.get(112)
        assert await c.closed(8)  # an unanswered TestRequest: disconnected
    finally:
        await srv.stop()


async def test_real_session_logon_timeout():
    srv = await start_server(logon_timeout=0.3)
    try:
        c = FixClient("C1")
        await c.connect(srv.port)
        loop = asyncio.get_running_loop()
        t0 = loop.time()
        assert await c.closed(3)
        assert loop.time() - t0 < 2.0
    finally:
        await srv.stop()
