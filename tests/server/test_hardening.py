"""Hardening over real loopback sockets: the connection budget (idle floods from one and from
many source addresses), rate-limited refusal logs, logon throttling and lock-out, refusal
texts, message throttles, fair scheduling, the bytes bound of the out-of-sequence queue."""
from __future__ import annotations

import asyncio
import logging
import socket
import time


from .fixclient import FixClient, config_dict, start_server, utc_now
from .loopback import idle_sockets, until
from .loopback import loopback_sources as sources


def closed_count(socks: list[socket.socket]) -> int:
    """How many of ``socks`` the server closed (EOF or reset)."""
    n = 0
    for s in socks:
        try:
            if s.recv(1) == b"":
                n += 1
        except BlockingIOError:
            pass
        except OSError:
            n += 1
    return n


# --- connection budget ------------------------------------------------------------------------

async def test_idle_flood_from_many_addresses_cannot_keep_a_configured_session_out():
    srv = await start_server(max_pending_connections=1000, max_pending_per_source=100)
    socks = idle_sockets(srv.port, sources(200), 10)  # 2,000 idle sockets
    try:
        await until(lambda: srv.refusals["evicted"] >= 900, 10)
        assert len(srv.pending) == 1000  # the budget is full, and stays so
        start = time.monotonic()
        c1 = FixClient("C1")
        await c1.logon(srv.port)
        assert time.monotonic() - start < 2.0
        # an attacker that keeps refilling the slots: every configured session still gets in
        refill = []

        async def attacker():
            for i in range(20):
                refill.extend(idle_sockets(srv.port, sources(10, 300 + 10 * i), 10))
                await asyncio.sleep(0.005)

        task = asyncio.create_task(attacker())
        clients = [FixClient(name) for name in ("C2", "C3", "MD")]
        for c in clients:
            await c.logon(srv.port)
        await task
        c1.order("ok", "1", 1, "100")
        await c1.expect("8", i150="0")
        assert all(srv.acceptor.is_logged_on(f"FIX.4.4:EX->{n}") for n in ("C1", "C2", "C3", "MD"))
        for s in refill:
            s.close()
    finally:
        for s in socks:
            s.close()
        await srv.stop()


async def test_per_source_limit_refuses_at_once_and_logs_a_summary(caplog):
    caplog.set_level(logging.WARNING, logger="fixexchange")
    srv = await start_server(max_pending_per_source=20, refusal_log_interval=0.3)
    socks = idle_sockets(srv.port, ["127.0.0.9"], 150)
    try:
        await until(lambda: srv.refusals["per-source limit"] == 130)
        assert len(srv.pending) == 20
        await until(lambda: closed_count(socks) == 130)
        # another address is not affected
        c1 = FixClient("C1")
        c1.source = "127.0.0.10"
        await c1.logon(srv.port)
        await until(lambda: any("refused in the last" in r.getMessage() for r in caplog.records), 3)
        lines = [r.getMessage() for r in caplog.records]
        assert sum("refused:" in line and "127.0.0.9" in line for line in lines) <= 10  # rate-limited
        summary = next(line for line in lines if "refused in the last" in line)
        assert "130 per-source limit" in summary and "127.0.0.9 130" in summary
    finally:
        for s in socks:
            s.close()
        await srv.stop()


async def test_logon_timeouts_are_counted():
    srv = await start_server(logon_timeout=0.2)
    socks = idle_sockets(srv.port, ["127.0.0.11"], 5)
    try:
        await until(lambda: srv.refusals["logon timeout"] == 5, 3)
        await until(lambda: not srv.pending, 5)  # (out of the budget once the sockets are gone)
        assert srv.refusals["logon timeout"] == 5  # each counted once
    finally:
        for s in socks:
            s.close()
        await srv.stop()


# --- refusal texts and logon throttling -------------------------------------------------------

async def refused_text(comp_id: str, port: int, password: str | None = "pw", source: str | None = None) -> str:
    c = FixClient(comp_id)
    c.source = source
    m = await c.logon(port, password=password, expect_ok=False)
    assert m.get(35) == b"5", m
    assert await c.closed()
    return m.get(58).decode()


async def test_refusal_texts_help_without_telling_which_comp_ids_exist():
    srv = await start_server()
    try:
        unknown = await refused_text("NOBODY", srv.port)
        wrong = await refused_text("C1", srv.port, password="nope")
        assert unknown == wrong == "Logon refused: invalid credentials"
        c1 = FixClient("C1")
        await c1.logon(srv.port)
        assert await refused_text("C1", srv.port) == "Logon refused: this session is already logged on"
        c1.order("still", "1", 1, "100")  # the established session is untouched
        await c1.expect("8", i150="0")
    finally:
        await srv.stop()


async def test_brute_force_is_slowed_then_locked_out_and_the_right_password_works_after(caplog):
    caplog.set_level(logging.WARNING, logger="fixexchange")
    srv = await start_server(logon_free_failures=3, logon_failure_delay=0.1, logon_max_delay=0.2,
                             logon_lockout_after=6, logon_lockout_seconds=1.0)
    try:
        times = []
        for i in range(6):
            start = time.monotonic()
            assert await refused_text("C1", srv.port, password=f"guess{i}", source="127.0.0.20") == \
                "Logon refused: invalid credentials"
            times.append(time.monotonic() - start)
        assert max(times[:3]) < 0.1  # a person mistyping: answered at once
        assert times[3] >= 0.1 and times[4] >= 0.2 and times[5] >= 0.2  # then slowed down
        # locked out: even the right password is refused, without being looked at
        text = await refused_text("C1", srv.port, password="pw", source="127.0.0.20")
        assert text.startswith("Logon refused: too many failed logons, retry in")
        assert srv.acceptor.logon_throttle.failures == 6
        # counted, and logged at WARNING with the reason and the address
        assert srv.refusals["failed logon"] == 6 and srv.refusals["refused logon"] == 1
        assert any("failed logon from 127.0.0.20" in r.getMessage() and "bad Username/Password" in r.getMessage()
                   and r.levelno == logging.WARNING for r in caplog.records)
        await asyncio.sleep(1.05)
        c1 = FixClient("C1")
        c1.source = "127.0.0.20"
        await c1.logon(srv.port)  # after the lock-out: the right password works
    finally:
        await srv.stop()


async def test_guessing_one_comp_id_from_many_addresses_locks_the_comp_id():
    srv = await start_server(logon_free_failures=100, logon_lockout_after=100, logon_lockout_after_comp_id=5,
                             logon_lockout_seconds=30.0, logon_max_delay=0.1)
    try:
        for i, source in enumerate(sources(5, 40)):
            assert await refused_text("C2", srv.port, password=f"g{i}", source=source) == \
                "Logon refused: invalid credentials"
        text = await refused_text("C2", srv.port, password="pw", source="127.0.0.99")
        assert text.startswith("Logon refused: too many failed logons")
        c3 = FixClient("C3")  # other CompIDs are not affected
        c3.source = "127.0.0.99"
        await c3.logon(srv.port)
    finally:
        await srv.stop()


async def test_parallel_guessing_checks_at_most_lockout_after_passwords():
    srv = await start_server(logon_free_failures=3, logon_failure_delay=0.05, logon_max_delay=0.1,
                             logon_lockout_after=10, logon_lockout_seconds=60.0)
    try:
        texts = await asyncio.gather(*(refused_text("C1", srv.port, password=f"p{i}", source="127.0.0.30")
                                       for i in range(40)))
        assert srv.acceptor.logon_throttle.failures == 10
        assert texts.count("Logon refused: invalid credentials") == 10
    finally:
        await srv.stop()


# --- throttles --------------------------------------------------------------------------------

def throttled_config(**session) -> dict:
    cfg = config_dict()
    cfg["session_defaults"].update(session)
    return cfg


async def test_order_throttle_rejects_without_executing_then_logs_out_on_sustained_abuse():
    srv = await start_server(throttled_config(max_order_rate=5, order_burst=5, throttle_logout_rejects=20))
    try:
        c1 = FixClient("C1")
        await c1.logon(srv.port)
        for i in range(8):  # each would take liquidity at 108: only five may
            c1.order(f"o{i}", "1", 1, "108")
        reports = [await c1.expect("8") for _ in range(8 + 5)]  # five fills, eight acks/rejects
        rejected = [m for m in reports if m.get(39) == b"8"]
        assert [m.get(11) for m in rejected] == [b"o5", b"o6", b"o7"]
        assert all(m.get(58) == b"Throttle: more than 5 orders a second (max_order_rate)" for m in rejected)
        assert sum(m.get(150) == b"F" for m in reports) == 5  # the rejected three never traded
        c1.send("F", [(11, "c1"), (41, "o1"), (55, "TEST"), (54, "1"), (60, utc_now())])
        m = await c1.expect("9", i434="1")
        assert m.get(58).startswith(b"Throttle:")
        # sustained abuse: a Logout naming the limit
        for i in range(40):
            c1.order(f"x{i}", "1", 1, "90")
        while True:
            m = await c1.recv(3, admin=True)
            if m.get(35) == b"5":
                break
        assert m.get(58).startswith(b"Throttle: sustained rate above the session's limit")
        assert await c1.closed()
        assert srv.stats["throttled"] >= 20
    finally:
        await srv.stop()


async def test_message_throttle_counts_every_message_and_answers_other_requests_with_a_business_reject():
    srv = await start_server(throttled_config(max_message_rate=3, message_burst=3))
    try:
        c1 = FixClient("C1")
        await c1.logon(srv.port)
        for i in range(4):
            c1.send("x", [(320, f"r{i}"), (559, 4)])  # SecurityListRequest
        answers = [await c1.recv() for _ in range(4)]
        j = [m for m in answers if m.get(35) == b"j"]
        assert len(j) == 1 and j[0].get(58) == b"Throttle: more than 3 messages a second (max_message_rate)"
        assert j[0].get(372) == b"x" and j[0].get(380) == b"0"
        c1.send("1", [(112, "T")])  # an admin message over the limit: a session Reject
        m = await c1.recv(admin=True)
        assert m.get(35) == b"3" and m.get(58).startswith(b"Throttle:")
        await asyncio.sleep(1.1)
        c1.send("1", [(112, "T2")])  # refilled
        m = await c1.recv(admin=True)
        assert m.get(35) == b"0" and m.get(112) == b"T2"
    finally:
        await srv.stop()


# --- fair scheduling --------------------------------------------------------------------------

async def test_a_pipelined_flood_does_not_hold_back_another_sessions_order():
    srv = await start_server(max_messages_per_turn=32)
    processed: list[str] = []
    on_message = srv.gateway.on_message

    def recording(sid, message, now, *rest):
        processed.append(sid)
        return on_message(sid, message, now, *rest)

    srv.gateway.on_message = recording
    try:
        flooder, victim = FixClient("C1"), FixClient("C2")
        await flooder.logon(srv.port)
        await victim.logon(srv.port)
        flooder.writer.write(b"".join(flooder.build("D", [(11, f"f{i}"), (55, "SYM1"), (54, "1"), (60, utc_now()),
                                                          (38, 1), (40, "2"), (44, "90")])
                                      for i in range(3000)))
        await asyncio.sleep(0)  # (the flood is on the wire first)
        victim.order("v", "1", 1, "90", symbol="SYM1")
        await victim.expect("8", i11="v", timeout=10)
        before = processed.index("FIX.4.4:EX->C2")
        # the victim waited for a couple of the flooder's turns of 32 (64 orders measured), not
        # for a 64 KB read (about 380 orders) nor for all 3,000
        assert before <= 4 * 32, before
        await until(lambda: len(processed) == 3001, 20)
    finally:
        await srv.stop()


# --- bounded memory per session ---------------------------------------------------------------

async def test_big_messages_past_a_sequence_gap_are_bounded_in_bytes():
    cfg = config_dict()
    cfg["session_defaults"]["max_queued_bytes"] = 1_000_000
    srv = await start_server(cfg)
    try:
        c1 = FixClient("C1")
        await c1.logon(srv.port)
        filler = "x" * 60_000
        for i in range(40):  # 2.4 MB of Heartbeats numbered past a gap
            c1.writer.write(c1.build("0", [(58, filler)], seq=100 + i))
        while True:
            m = await c1.recv(5, admin=True)
            if m.get(35) == b"5":
                break
        assert m.get(58) == b"more than 1000000 bytes received ahead of a sequence gap (limit max_queued_bytes)"
        assert await c1.closed()
    finally:
        await srv.stop()


# --- secrets and file permissions -------------------------------------------------------------

async def test_passwords_are_masked_in_every_log_and_files_are_owner_only(tmp_path):
    import os
    import signal
    import stat
    import subprocess
    import sys
    from pathlib import Path

    root = Path(__file__).resolve().parents[2]
    cfg = tmp_path / "ex.toml"
    # a message rate limit, so that a UserRequest can be refused for it (journaled: masked too)
    toml = (root / "config" / "exchange.toml").read_text()
    assert "\nmax_message_rate = 0 " in toml
    cfg.write_text(toml.replace("\nmax_message_rate = 0 ", "\nmax_message_rate = 0.01\nmessage_burst = 2 #"))
    env = dict(os.environ, PYTHONPATH=str(root) + os.pathsep + os.environ.get("PYTHONPATH", ""))
    proc = subprocess.Popen([sys.executable, "-m", "fixexchange.server.main", "-c", str(cfg), "--port", "0",
                             "--message-log", "--log-level", "DEBUG"], cwd=tmp_path, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    loop = asyncio.get_running_loop()
    try:
        line = await loop.run_in_executor(None, proc.stdout.readline)
        port = int(line.split("listening on 127.0.0.1:")[1].split()[0])
        bad = FixClient("CLIENT2", target="FIXEXCH")
        await bad.logon(port, password="wrong-Secret-1", expect_ok=False)
        c = FixClient("CLIENT1", target="FIXEXCH")
        await c.connect(port)
        c.send("A", [(98, 0), (108, 30), (141, "Y"), (553, "u"), (554, "pass1")])
        answer = await c.recv(admin=True)
        assert answer.get(35) == b"A", answer.encode(raw=True)
        # a UserRequest changing the password (NewPassword 925): answered, and masked in the log
        c.send("BE", [(923, "u1"), (924, 3), (553, "u"), (554, "pass1"), (925, "new-Secret-2")])
        await c.recv()
        c.order("s", "1", 1, "100", symbol="SYM1")
        await c.expect("8", i150="0")
        # over the rate limit: refused (BusinessMessageReject), journaled with its secrets masked
        c.send("BE", [(923, "u2"), (924, 3), (553, "u"), (554, "throttled-Secret-3"), (925, "throttled-Secret-4")])
        reject = await c.expect("j")
        assert b"Throttle" in reject.get(58), reject.encode(raw=True)
        proc.send_signal(signal.SIGTERM)
        lo = await c.recv(5, admin=True)
        c.send("5", [])
        await c.closed()
        assert await loop.run_in_executor(None, proc.wait, 10) == 0
        stderr = proc.stderr.read()
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    files = [p for p in (tmp_path / "var").rglob("*") if p.is_file()]
    assert any(p.name.endswith(".messages.log") for p in files) and any(p.name == "fixexchange.log" for p in files)
    assert any(p.suffix == ".journal" or "journal" in p.name for p in files), files
    for secret in ("pass1", "wrong-Secret-1", "new-Secret-2", "throttled-Secret-3", "throttled-Secret-4"):
        assert secret not in stderr
        for p in files:
            assert secret.encode() not in p.read_bytes(), (secret, p)
    msglog = next(p for p in files if p.name.endswith("CLIENT1.messages.log")).read_text()
    assert "|554=********|" in msglog and "|554=********|925=********|" in msglog
    for p in (tmp_path / "var").rglob("*"):
        mode = stat.S_IMODE(p.stat().st_mode)
        assert mode & 0o077 == 0, (p, oct(mode))  # owner-only: stores, logs, their directories
    del lo


async def test_the_address_holding_the_most_pays_for_room_not_a_lone_client():
    srv = await start_server(max_pending_connections=30, max_pending_per_source=10)
    try:
        lone = socket.create_connection(("127.0.0.1", srv.port))  # a client, its Logon not sent yet
        await until(lambda: len(srv.pending) == 1)
        socks = idle_sockets(srv.port, sources(3, 60), 10)  # 30 more: 1 is dropped, never the lone one
        await until(lambda: srv.refusals["evicted"] == 1)
        socks += idle_sockets(srv.port, sources(1, 70), 5)
        await until(lambda: srv.refusals["evicted"] == 6)
        assert len(srv.pending) == 30 and lone.getsockname()[0] == "127.0.0.1"
        assert {p.source for p in srv.pending} >= {"127.0.0.1"}
        c = FixClient("C1")
        c.reader, c.writer = await asyncio.open_connection(sock=lone)
        c.send("A", [(98, 0), (108, 30), (141, "Y"), (554, "pw")])
        assert (await c.recv(admin=True)).get(35) == b"A"
        for s in socks:
            s.close()
    finally:
        await srv.stop()


# --- sizes of what a client makes the exchange keep -------------------------------------------

async def test_a_clordid_longer_than_64_characters_gets_a_session_reject_and_is_not_kept():
    srv = await start_server()
    try:
        c = FixClient("C1")
        await c.logon(srv.port)
        c.order("x" * 65, "1", 1, "100", extra=[(97, "Y")])
        reject = await c.expect("3", i372="D", i371="11", i373="5")
        assert reject.get(58) == b"Value is incorrect (out of range) for this tag, field=11 (longer than 64 characters)"
        assert srv.acceptor.remembered_cl_ord_ids("FIX.4.4:EX->C1") == []
        c.order("x" * 64, "1", 1, "100")
        await c.expect("8", i150="0", i11="x" * 64)
        c.send("V", [(262, "m" * 65), (263, "1"), (264, "1"), (267, 1), (269, "0"), (146, 1), (55, "TEST")])
        await c.expect("3", i372="V", i371="262", i373="5")
    finally:
        await srv.stop()
