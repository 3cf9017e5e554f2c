"""The asyncio transport against line-based fakes of the session and gateway layers:
batching, timers, limits, back-pressure, conflation, shutdown.  Real loopback sockets."""
from __future__ import annotations

import asyncio
import socket

import pytest

from fixexchange.gateway.outbound import Outbound
from fixexchange.server.app import ExchangeServer, MessageLog
from fixexchange.server.config import parse_config

from .fakes import FakeAcceptor, FakeGateway
from .loopback import until


def make_cfg(**server):
    base = {"host": "127.0.0.1", "port": 0, "logon_timeout": 5.0, "gtd_interval": 60.0, "store": "memory"}
    base.update(server)
    return parse_config({"server": base})


async def start(**server):
    acc, gw = FakeAcceptor(), FakeGateway()
    srv = ExchangeServer(make_cfg(**server), acc, gw)
    await srv.start()
    return srv, acc, gw


async def client(srv, name=None):
    r, w = await asyncio.open_connection("127.0.0.1", srv.port)
    if name:
        w.write(f"LOGON {name}\n".encode())
        assert await asyncio.wait_for(r.readline(), 2) == b"LOGGEDON\n"
    return r, w


def read_into(p, data: bytes) -> None:
    """What the transport does on a read: the bytes in the protocol's buffer, then buffer_updated."""
    p.view[:len(data)] = data
    p.buffer_updated(len(data))


async def closed_by_server(r, timeout=2.0) -> bool:
    try:
        while True:
            d = await asyncio.wait_for(r.read(65536), timeout)
            if not d:
                return True
    except (ConnectionResetError, BrokenPipeError):
        return True


async def test_orders_answered_and_written_once_per_turn():
    srv, acc, gw = await start(max_messages_per_turn=32)
    r, w = await client(srv, "A")
    w.write(b"".join(b"ORDER %d\n" % i for i in range(200)))
    lines = [await asyncio.wait_for(r.readline(), 2) for _ in range(200)]
    assert lines == [b"8 ACK %d\n" % i for i in range(200)]
    conn = acc.conns["A"]
    # 200 orders arrived in a handful of reads, processed max_messages_per_turn (32) per loop
    # turn, each turn's answers in a single write
    assert max(conn.calls) <= 32
    assert conn.writes <= 1 + -(-200 // 32)
    assert gw.logons == ["A"]
    w.close()
    await srv.stop()


async def test_tcp_nodelay_set():
    srv, acc, gw = await start()
    r, w = await client(srv, "A")
    (p,) = srv.protocols
    sock = p.transport.get_extra_info("socket")
    assert sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY)
    w.close()
    await srv.stop()


async def test_logon_timeout_disconnects():
    srv, acc, gw = await start(logon_timeout=0.2)
    r, w = await client(srv)
    loop = asyncio.get_running_loop()
    t0 = loop.time()
    assert await closed_by_server(r)
    assert 0.15 <= loop.time() - t0 < 1.5
    await srv.stop()


async def test_bytes_before_logon_bounded():
    srv, acc, gw = await start(max_bytes_before_logon=1000)
    r, w = await client(srv)
    w.write(b"x" * 5000)
    assert await closed_by_server(r)
    assert not srv.protocols or all(p.closing for p in srv.protocols)
    await srv.stop()


async def test_connection_cap():
    srv, acc, gw = await start(max_connections=2)
    c1 = await client(srv, "A")
    c2 = await client(srv, "B")
    r3, w3 = await client(srv)
    assert await closed_by_server(r3)
    # the first two still work
    c1[1].write(b"ORDER 1\n")
    assert await asyncio.wait_for(c1[0].readline(), 2) == b"8 ACK 1\n"
    for _, w in (c1, c2):
        w.close()
    await srv.stop()


async def test_session_timer_drives_heartbeats():
    srv, acc, gw = await start()
    r, w = await client(srv, "A")
    w.write(b"HB 0.05\n")
    for _ in range(3):
        assert await asyncio.wait_for(r.readline(), 1) == b"HEARTBEAT\n"
    w.close()
    await srv.stop()


async def test_gateway_exception_does_not_kill_connection():
    srv, acc, gw = await start()
    r, w = await client(srv, "A")
    w.write(b"CRASH\nORDER 7\n")
    assert await asyncio.wait_for(r.readline(), 2) == b"8 ACK 7\n"
    w.close()
    await srv.stop()


async def test_gtd_timer_advances_gateway_time():
    srv, acc, gw = await start(gtd_interval=0.02)
    await asyncio.sleep(0.15)
    assert len(gw.times) >= 2 and gw.times == sorted(gw.times)
    await srv.stop()


async def test_session_logout_closes_socket_after_flush():
    srv, acc, gw = await start()
    r, w = await client(srv, "A")
    w.write(b"BYE\n")
    assert await asyncio.wait_for(r.readline(), 2) == b"BYE\n"
    assert await closed_by_server(r)
    await asyncio.sleep(0.01)
    assert gw.disconnects == ["A"]
    await srv.stop()


def raw_client(port: int, rcvbuf: int = 4096) -> socket.socket:
    s = socket.socket()
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
    s.connect(("127.0.0.1", port))
    return s


def recv_line(s: socket.socket) -> bytes:
    buf = b""
    while not buf.endswith(b"\n"):
        d = s.recv(1)
        if not d:
            break
        buf += d
    return buf


async def test_slow_reader_market_data_conflated_then_snapshot():
    srv, acc, gw = await start(outbound_high_water=16384, outbound_hard_limit=4 * 1024 * 1024)
    loop = asyncio.get_running_loop()
    slow = raw_client(srv.port)
    slow.sendall(b"LOGON SLOW\nSUB\n")
    await asyncio.sleep(0.05)
    fr, fw = await client(srv, "FAST")
    fw.write(b"SUB\n")
    assert await asyncio.wait_for(fr.readline(), 2) == b"W SNAP\n"
    # 4 MB of market data per subscriber; SLOW never reads meanwhile
    for _ in range(8):
        fw.write(b"MD 500 1000\n")
        got = 0
        while got < 500:
            line = await asyncio.wait_for(fr.readline(), 5)
            assert line.startswith(b"X ")
            got += 1
    assert srv.stats["md_dropped"] > 0
    slow_p = srv.by_session["SLOW"]
    assert slow_p.conflated and slow_p.write_paused
    # the flooding of SLOW did not delay the other session's order
    fw.write(b"ORDER 9\n")
    assert await asyncio.wait_for(fr.readline(), 2) == b"8 ACK 9\n"
    # now SLOW drains its socket: it gets what was queued, then a fresh snapshot
    slow.setblocking(False)
    data = b""
    deadline = loop.time() + 5
    while not data.endswith(b"W SNAP\n") and loop.time() < deadline:
        try:
            d = slow.recv(1 << 20)
            if not d:
                break
            data += d
        except BlockingIOError:
            await asyncio.sleep(0.005)
    lines = data.split(b"\n")
    assert lines[0] == b"LOGGEDON" and lines[1] == b"W SNAP"
    assert data.endswith(b"W SNAP\n")
    n_x = sum(1 for ln in lines if ln.startswith(b"X "))
    assert 0 < n_x < 4000  # some delivered, the rest dropped
    assert gw.snapshots == ["SLOW"]
    assert "SLOW" in srv.by_session  # not disconnected: market data never overflows
    slow.close()
    fw.close()
    await srv.stop()


async def test_overflow_of_reports_disconnects_and_keeps_them_stored():
    srv, acc, gw = await start(outbound_high_water=16384, outbound_hard_limit=256 * 1024)
    slow = raw_client(srv.port)
    slow.sendall(b"LOGON SLOW\nSUB\n")
    await asyncio.sleep(0.05)
    fr, fw = await client(srv, "FAST")
    fw.write(b"SUB\n")
    assert await asyncio.wait_for(fr.readline(), 2) == b"W SNAP\n"
    # 8000 x 1 KB reports to SLOW (and FAST: it reads them), in bursts of 100: more than
    # the kernel's socket buffers (tcp_wmem max 4 MB) plus the hard limit
    for _ in range(80):
        fw.write(b"FILLALL 100 1000\n")
        got = 0
        while got < 100:
            line = await asyncio.wait_for(fr.readline(), 5)
            if line.startswith(b"8 "):
                got += 1
    for _ in range(100):
        if "SLOW" not in srv.by_session:
            break
        await asyncio.sleep(0.01)
    assert "SLOW" not in srv.by_session
    assert "SLOW" in gw.disconnects
    # every report routed to SLOW went through the acceptor as resendable (stored for the
    # resend after it logs on again), including those that could not be written
    assert len(acc.stored["SLOW"]) > 300
    assert "FAST" in srv.by_session
    slow.close()
    fw.close()
    await srv.stop()


async def flood_and_probe(quiet_orders: int, **server) -> list[bytes]:
    """FLOOD pipelines 20,000 orders while QUIET sends ``quiet_orders``, one at a time
    (each answered before the next): every message, in the order the gateway got them."""
    srv, acc, gw = await start(**server)
    handled: list[bytes] = []
    on_message = gw.on_message

    def recording(sid, msg, now):
        handled.append(msg)
        return on_message(sid, msg, now)

    gw.on_message = recording
    fr, fw = await client(srv, "FLOOD")
    qr, qw = await client(srv, "QUIET")

    async def drain():
        for _ in range(20000):
            await fr.readline()

    fw.write(b"".join(b"ORDER %d\n" % i for i in range(20000)))
    drainer = asyncio.ensure_future(drain())
    await until(lambda: handled, 5)  # the flood has started
    for i in range(quiet_orders):
        qw.write(b"ORDER q%d\n" % i)
        assert await asyncio.wait_for(qr.readline(), 10) == b"8 ACK q%d\n" % i
    await asyncio.wait_for(drainer, 30)
    fw.close()
    qw.close()
    await srv.stop()
    return handled


async def test_flooding_session_does_not_starve_another():
    """Judged by work, not the wall clock: QUIET's one order is handled after at most a
    few turns' worth of FLOOD's 20,000 (max_messages_per_turn each), not after the flood."""
    handled = await flood_and_probe(1)
    flood_before_quiet = handled.index(b"ORDER q0")
    # about 1,900 here; with no bound per turn (max_messages_per_turn huge) about 19,000
    assert flood_before_quiet < 5000, flood_before_quiet


def flood_between_quiet_orders(handled: list[bytes]) -> list[int]:
    quiet = [i for i, m in enumerate(handled) if m.startswith(b"ORDER q")]
    return [b - a - 1 for a, b in zip(quiet, quiet[1:])]


async def test_a_flood_beside_another_sender_gets_contended_messages_per_turn():
    """Once QUIET is sending too, FLOOD is served contended_messages_per_turn messages a
    turn: QUIET's next order waits for a handful of FLOOD's, not for whole turns of 32."""
    contended = flood_between_quiet_orders(
        await flood_and_probe(20, max_messages_per_turn=32, contended_messages_per_turn=2))
    uncontended = flood_between_quiet_orders(
        await flood_and_probe(20, max_messages_per_turn=32, contended_messages_per_turn=32))
    assert max(contended) <= 16, contended  # 2 a turn, for the turns of its round trip
    assert sum(contended) * 3 < sum(uncontended), (contended, uncontended)


async def test_stop_logs_out_every_session_and_closes_store():
    srv, acc, gw = await start(logout_timeout=0.3)
    ra, wa = await client(srv, "A")
    rb, wb = await client(srv, "B")
    r0, w0 = await client(srv)  # not logged on: just closed
    await srv.stop()
    assert await asyncio.wait_for(ra.readline(), 2) == b"LOGOUT exchange shutting down\n"
    assert await asyncio.wait_for(rb.readline(), 2) == b"LOGOUT exchange shutting down\n"
    assert await closed_by_server(ra)
    assert await closed_by_server(r0)
    assert acc.closed
    assert not srv.protocols
    # a new connection is refused once stopped
    with pytest.raises(OSError):
        await asyncio.open_connection("127.0.0.1", srv.port)


def test_message_log_quickfix_style(tmp_path):
    ml = MessageLog(tmp_path, "FIX.4.4:EXCH->C1")
    m1 = b"8=FIX.4.4\x019=5\x0135=0\x0110=123\x01"
    ml.write(b"IN ", m1 + m1[:10], 0.5)
    ml.close()
    text = (tmp_path / "FIX.4.4-EXCH-C1.messages.log").read_text()
    assert text == "19700101-00:00:00.500000 IN  8=FIX.4.4|9=5|35=0|10=123|\n"



def test_message_log_keeps_a_message_split_across_reads(tmp_path):
    ml = MessageLog(tmp_path, "FIX.4.4:EXCH->C1")
    m1 = b"8=FIX.4.4\x019=5\x0135=0\x0110=123\x01"
    m2 = m1.replace(b"123", b"124")
    ml.write(b"IN ", m1 + m2[:1], 0.5)
    ml.write(b"IN ", m2[1:10], 0.5)
    ml.write(b"OUT", m1, 0.5)
    ml.write(b"IN ", m2[10:] + m1[:3], 0.75)
    ml.new_connection()  # the half message of a connection that went away is not glued on
    ml.write(b"IN ", m1[3:], 1.0)
    ml.close()
    text = (tmp_path / "FIX.4.4-EXCH-C1.messages.log").read_text()
    assert text == ("19700101-00:00:00.500000 IN  8=FIX.4.4|9=5|35=0|10=123|\n"
                    "19700101-00:00:00.500000 OUT 8=FIX.4.4|9=5|35=0|10=123|\n"
                    "19700101-00:00:00.750000 IN  8=FIX.4.4|9=5|35=0|10=124|\n")

async def test_session_layer_exception_disconnects_only_that_connection(caplog):
    srv, acc, gw = await start()
    ra, wa = await client(srv, "A")
    rb, wb = await client(srv, "B")
    conn = acc.conns["A"]

    def boom(data, now):
        raise RuntimeError("session bug")
    conn.receive_data = boom
    wa.write(b"ORDER 1\n")
    assert await closed_by_server(ra)
    assert "session layer failed" in caplog.text
    wb.write(b"ORDER 2\n")
    assert await asyncio.wait_for(rb.readline(), 2) == b"8 ACK 2\n"
    wb.close()
    await srv.stop()


async def test_timer_exception_disconnects(caplog):
    srv, acc, gw = await start()
    r, w = await client(srv, "A")
    conn = acc.conns["A"]

    def boom(now):
        raise RuntimeError("timer bug")
    conn.on_timer = boom
    w.write(b"HB 0.02\n")
    assert await closed_by_server(r)
    assert "failed on timer" in caplog.text
    await srv.stop()


async def test_gateway_hook_exceptions_are_logged_not_fatal(caplog):
    srv, acc, gw = await start(gtd_interval=0.02)

    def boom(*a):
        raise RuntimeError("hook bug")
    gw.on_logon = boom
    gw.on_disconnect = boom
    gw.advance_time = boom
    r, w = await client(srv, "A")
    w.write(b"ORDER 1\n")
    assert await asyncio.wait_for(r.readline(), 2) == b"8 ACK 1\n"
    await asyncio.sleep(0.06)
    w.close()
    await asyncio.sleep(0.05)
    assert "gateway failed on logon" in caplog.text
    assert "advance_time failed" in caplog.text
    assert "gateway failed on disconnect" in caplog.text
    r2, w2 = await client(srv, "B")  # still serving
    w2.write(b"ORDER 2\n")
    assert await asyncio.wait_for(r2.readline(), 2) == b"8 ACK 2\n"
    w2.close()
    await srv.stop()


async def test_second_logon_of_same_session_replaces_mapping():
    """If the session layer lets a session log on again on a new connection (after the old
    one was lost), the server routes to the new one."""
    srv, acc, gw = await start()
    r1, w1 = await client(srv, "A")
    w1.close()
    await asyncio.sleep(0.05)
    r2, w2 = await client(srv, "A")
    w2.write(b"ORDER 3\n")
    assert await asyncio.wait_for(r2.readline(), 2) == b"8 ACK 3\n"
    assert gw.disconnects == ["A"]
    w2.close()
    await srv.stop()


async def test_outbound_for_unknown_session_is_dropped_with_a_warning(caplog):
    srv, acc, gw = await start()
    r, w = await client(srv, "A")
    acc.known = {"A", "B"}  # B is configured but not connected: its reports are stored
    with caplog.at_level("WARNING", logger="fixexchange"):
        srv.dispatch([Outbound("GHOST", b"8", b"lost"), Outbound("B", b"8", b"kept"),
                      Outbound("GHOST", b"8", b"lost again"), Outbound("A", b"8", b"ACK 1")], 0.0)
    assert acc.stored == {"B": [b"kept"], "A": [b"ACK 1"]}
    assert await asyncio.wait_for(r.readline(), 2) == b"8 ACK 1\n"
    assert srv.stats["unknown_session_dropped"] == 2
    warnings = [rec.getMessage() for rec in caplog.records if "GHOST" in rec.getMessage()]
    assert len(warnings) == 1 and "unknown session" in warnings[0]
    w.close()
    await srv.stop()


async def test_reply_is_written_by_the_read_callback_itself():
    # no call_soon between a read and the write of its replies: the round trip does not
    # wait for another event-loop iteration
    srv, acc, gw = await start()
    r, w = await client(srv, "A")
    p = srv.by_session["A"]
    conn = acc.conns["A"]
    writes = conn.writes
    data = b"ORDER 1\n"
    read_into(p, data)
    assert conn.writes == writes + 1 and not conn.out
    assert not srv.flush_scheduled  # nothing left for the turn's flush
    assert await asyncio.wait_for(r.readline(), 2) == b"8 ACK 1\n"
    w.close()
    await srv.stop()


async def test_counterparty_bytes_go_out_at_the_turn_flush():
    srv, acc, gw = await start()
    ar, aw = await client(srv, "A")
    br, bw = await client(srv, "B")
    for writer, reader in ((aw, ar), (bw, br)):
        writer.write(b"SUB\n")
        assert await asyncio.wait_for(reader.readline(), 2) == b"W SNAP\n"
    p = srv.by_session["A"]
    data = b"FILLALL 1 3\n"
    read_into(p, data)
    assert not acc.conns["A"].out  # A's report: written at once
    assert acc.conns["B"].out == b"8 fff\n" and srv.flush_scheduled  # B's: this turn's flush
    assert await asyncio.wait_for(br.readline(), 2) == b"8 fff\n"
    assert await asyncio.wait_for(ar.readline(), 2) == b"8 fff\n"
    aw.close()
    bw.close()
    await srv.stop()


async def test_a_read_without_output_still_drains_its_connection():
    # data_to_send is what journals the session's store (the inbound number of the read):
    # it runs after every read, even one that queues nothing
    srv, acc, gw = await start()
    r, w = await client(srv, "A")
    p = srv.by_session["A"]
    conn = acc.conns["A"]
    drains, writes = conn.drains, conn.writes
    data = b"HB 30\n"
    read_into(p, data)
    assert conn.drains == drains + 1 and conn.writes == writes
    w.close()
    await srv.stop()


class DeferringGateway(FakeGateway):
    """FakeGateway whose "TICK" leaves one X per subscriber pending until the server's
    per-turn flush_market_data (like the real gateway with defer_market_data)."""

    def __init__(self) -> None:
        super().__init__()
        self.defer_market_data = False
        self.pending = 0
        self.md_flushes = 0

    def on_message(self, sid, msg: bytes, now):
        if msg == b"TICK":
            self.pending += 1
            return [Outbound(sid, b"8", b"ACK TICK")]
        return super().on_message(sid, msg, now)

    def flush_market_data(self):
        self.md_flushes += 1
        n, self.pending = self.pending, 0
        return [Outbound(s, b"X", b"TICKS %d" % n, True) for s in sorted(self.subs)] if n else []

    def market_data_pending(self):
        return self.pending > 0


async def start_deferring(gw):
    acc = FakeAcceptor()
    srv = ExchangeServer(make_cfg(), acc, gw)
    await srv.start()
    return srv, acc


async def test_turn_flush_scheduled_only_when_market_data_is_pending():
    gw = DeferringGateway()
    srv, acc = await start_deferring(gw)
    assert gw.defer_market_data is True
    r, w = await client(srv, "A")
    w.write(b"SUB\n")
    assert await asyncio.wait_for(r.readline(), 2) == b"W SNAP\n"
    p = srv.by_session["A"]
    await asyncio.sleep(0.01)
    flushes = gw.md_flushes
    data = b"ORDER 1\n"  # answered, no market data: no per-turn flush (no empty loop pass)
    read_into(p, data)
    assert not srv.flush_scheduled
    assert await asyncio.wait_for(r.readline(), 2) == b"8 ACK 1\n"
    assert gw.md_flushes == flushes
    data = b"TICK\nTICK\n"  # market data pending: one flush this turn, one X for both
    read_into(p, data)
    assert srv.flush_scheduled
    data = b"TICK\n"  # a second read of the same turn joins the same flush
    read_into(p, data)
    for expected in (b"8 ACK TICK\n",) * 3 + (b"X TICKS 3\n",):
        assert await asyncio.wait_for(r.readline(), 2) == expected
    assert gw.md_flushes == flushes + 1
    w.close()
    await srv.stop()


async def test_gateway_without_pending_signal_flushes_every_turn_it_saw():
    class NoSignal(DeferringGateway):
        market_data_pending = None

    gw = NoSignal()
    srv, acc = await start_deferring(gw)
    r, w = await client(srv, "A")
    p = srv.by_session["A"]
    await asyncio.sleep(0.01)
    data = b"ORDER 1\n"
    read_into(p, data)
    assert srv.flush_scheduled  # cannot tell: flushes anyway
    assert await asyncio.wait_for(r.readline(), 2) == b"8 ACK 1\n"
    w.close()
    await srv.stop()


async def test_busy_poll_answers_orders_then_stops_polling():
    # latency mode: orders arriving closer together than busy_poll_us grow the poll window
    # (PollWindow), the loop keeps polling after each read, then sleeps again
    srv, acc, gw = await start(busy_poll_us=100_000)
    r, w = await client(srv, "A")
    p = srv.by_session["A"]
    for i in range(12):  # window 25 us, doubling up to the gaps between these reads
        read_into(p, b"ORDER %d\n" % i)
        assert await asyncio.wait_for(r.readline(), 2) == b"8 ACK %d\n" % i
    read_into(p, b"ORDER 12\n")
    assert srv.polling and 0 < srv.poll_window.window <= 0.1
    loop = asyncio.get_running_loop()
    deadline = loop.time() + 2
    while srv.polling and loop.time() < deadline:
        await asyncio.sleep(0.005)
    assert not srv.polling  # stopped once the window after the last read was over
    w.close()
    await srv.stop()


async def test_busy_poll_not_for_orders_further_apart_than_its_limit():
    # a client pausing longer than busy_poll_us between orders gets no polling: it would
    # only burn CPU until the loop slept anyway
    srv, acc, gw = await start(busy_poll_us=1_000)
    r, w = await client(srv, "A")
    p = srv.by_session["A"]
    for i in range(5):
        read_into(p, b"ORDER %d\n" % i)
        assert not srv.polling and srv.poll_window.window == 0
        assert await asyncio.wait_for(r.readline(), 2) == b"8 ACK %d\n" % i
        await asyncio.sleep(0.01)
    w.close()
    await srv.stop()


async def test_busy_poll_off_when_zero():
    srv, acc, gw = await start(busy_poll_us=0)
    r, w = await client(srv, "A")
    w.write(b"ORDER 1\n")
    assert await asyncio.wait_for(r.readline(), 2) == b"8 ACK 1\n"
    assert srv.busy_poll == 0 and not srv.polling
    w.close()
    await srv.stop()


async def test_busy_poll_on_by_default_and_adaptive():
    srv, acc, gw = await start()
    assert srv.busy_poll == 300e-6
    r, w = await client(srv, "A")
    w.write(b"ORDER 1\n")
    assert await asyncio.wait_for(r.readline(), 2) == b"8 ACK 1\n"
    assert not srv.polling and srv.poll_window.window == 0  # (no gap known yet)
    w.close()
    await srv.stop()


async def test_busy_poll_not_after_admin_only_or_large_reads():
    # polling is for clients with few requests in flight: a read without application
    # messages (a heartbeat) or one carrying more than POLL_AFTER_MAX_REQUESTS (a client
    # streaming orders, whose next bytes are waiting anyway) lets the loop sleep
    from fixexchange.server.app import POLL_AFTER_MAX_REQUESTS
    srv, acc, gw = await start(busy_poll_us=50_000)
    r, w = await client(srv, "A")
    loop = asyncio.get_running_loop()

    async def idle():
        deadline = loop.time() + 2
        while srv.polling and loop.time() < deadline:
            await asyncio.sleep(0.005)
        assert not srv.polling

    await idle()  # (the LOGON read carried no application message: no polling after it)
    w.write(b"HB 30\n")
    await asyncio.sleep(0.02)
    assert not srv.polling
    n = POLL_AFTER_MAX_REQUESTS + 1
    w.write(b"".join(b"ORDER %d\n" % i for i in range(n)))
    got = b""
    while got.count(b"\n") < n:
        got += await asyncio.wait_for(r.read(65536), 2)
    assert got.count(b"8 ACK") == n and not srv.polling
    p = srv.by_session["A"]
    for _ in range(2):  # (the first small read starts the poll window; the second polls)
        read_into(p, b"".join(b"ORDER %d\n" % i for i in range(POLL_AFTER_MAX_REQUESTS)))
    assert srv.polling  # a small read of orders: polling
    got = b""
    while got.count(b"\n") < 2 * POLL_AFTER_MAX_REQUESTS:
        got += await asyncio.wait_for(r.read(65536), 2)
    w.close()
    await srv.stop()


def test_seconds_until_the_next_end_of_day():
    from fixexchange.server.app import seconds_until
    midnight = 1_800_000_000 - 1_800_000_000 % 86400
    assert seconds_until(21 * 60, midnight) == 21 * 3600
    assert seconds_until(21 * 60, midnight + 21 * 3600 - 0.5) == 0.5
    assert seconds_until(21 * 60, midnight + 21 * 3600) == 86400  # strictly later
    assert seconds_until(0, midnight + 86399) == 1


async def test_end_of_day_runs_on_its_timer_then_a_day_later(monkeypatch):
    from fixexchange.server import app
    delays = []

    def soon(minute, now):
        delays.append((minute, now))
        return 0.05
    monkeypatch.setattr(app, "seconds_until", soon)
    srv, acc, gw = await start(end_of_day="21:30")
    r, w = await client(srv, "A")
    w.write(b"SUB\n")
    assert await asyncio.wait_for(r.readline(), 2) == b"W SNAP\n"
    assert await asyncio.wait_for(r.readline(), 2) == b"8 EOD\n"  # written by the turn's flush
    assert len(gw.times) == 1
    # rescheduled from a minute after it ran, plus that minute
    assert delays[0][0] == delays[1][0] == 21 * 60 + 30 and delays[1][1] == gw.times[0] + 60
    assert srv.end_of_day_due - asyncio.get_running_loop().time() > 59
    w.close()
    await srv.stop()
    assert srv.end_of_day_due is None  # (its timer cancelled)


async def test_end_of_day_off():
    srv, acc, gw = await start(end_of_day="")
    assert srv.end_of_day_due is None
    await srv.stop()


async def test_a_failing_gateway_timer_is_logged_and_runs_again(monkeypatch, caplog):
    from fixexchange.server import app
    monkeypatch.setattr(app, "seconds_until", lambda minute, now: 0.05)
    srv, acc, gw = await start(end_of_day="21:30")

    def broken(now):
        raise RuntimeError("boom")
    gw.end_of_day = broken
    loop = asyncio.get_running_loop()
    deadline = loop.time() + 2
    while "gateway.end_of_day failed" not in caplog.text and loop.time() < deadline:
        await asyncio.sleep(0.01)
    assert "gateway.end_of_day failed" in caplog.text
    assert srv.end_of_day_due - loop.time() > 59  # the next day's
    await srv.stop()
