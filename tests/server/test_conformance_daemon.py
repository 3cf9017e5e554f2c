"""Every session conformance script a socket transport can run, against the real daemon's
transport and session layer (ExchangeServer + Acceptor on an asyncio loop in a thread) over
loopback TCP; the application behind it stays silent, as in the sans-IO runs. The exchange's
own actions (`+` application sends, `* logout`, `* reset-seq`) are done on the daemon's loop
the way its gateway, its shutdown and its operator API do them; expected `<TIME>` values
match within the socket transport's `time_slack`. Only scripts that move the clock (`~`)
stay with the sans-IO runner."""
from __future__ import annotations

import asyncio
import threading
import time

import pytest

from fixexchange.gateway import Outbound
from fixexchange.server.app import ExchangeServer
from fixexchange.server.config import parse_config
from fixexchange.server.main import build

from conformance.runner import (CLIENT_COMP_ID, EXCHANGE_COMP_ID, SocketTransport, Unsupported,
                                  all_scripts, load_script, run_script)

# bytes in/out, per-script session settings (`= session ...`, from the daemon's config) and
# the exchange's own actions; the daemon's clock cannot be moved
DAEMON_CAN = {"session_config", "app_send", "exchange_logout", "sequence_reset"}
SCRIPTS = [p for p in all_scripts() if load_script(p).requirements <= DAEMON_CAN]
_SERVER_KEYS = {"logon_timeout", "logout_timeout"}


class DaemonThread:
    def __init__(self, overrides: dict | None = None) -> None:
        server = {"host": "127.0.0.1", "port": 0, "comp_id": EXCHANGE_COMP_ID, "store": "memory",
                  "gtd_interval": 1.0}
        session = {"target_comp_id": CLIENT_COMP_ID}
        for key, value in (overrides or {}).items():
            (server if key in _SERVER_KEYS else session)[key] = value
        cfg = parse_config({
            "server": server,
            "session_defaults": {"heartbeat_min": 1, "heartbeat_max": 300},
            "session": [session],
            "symbol": [{"name": "SYM1"}],
        }, "<conformance>")
        self.cfg = cfg
        self.loop = asyncio.new_event_loop()
        self.ready = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.server: ExchangeServer | None = None
        self.stop_event: asyncio.Event | None = None

    def _run(self) -> None:
        asyncio.set_event_loop(self.loop)
        self.loop.run_until_complete(self._main())
        self.loop.close()

    async def _main(self) -> None:
        acceptor, _ = build(self.cfg)
        self.app = SilentApplication()
        self.server = ExchangeServer(self.cfg, acceptor, self.app)
        await self.server.start()
        self.stop_event = asyncio.Event()
        self.ready.set()
        await self.stop_event.wait()
        await self.server.stop()

    def __enter__(self) -> "DaemonThread":
        self.thread.start()
        assert self.ready.wait(10)
        return self

    def __exit__(self, *exc) -> None:
        self.loop.call_soon_threadsafe(self.stop_event.set)
        self.thread.join(10)


class SilentApplication:
    """The scripts test the session layer alone: their application messages (orders for an
    unknown symbol, an unsupported MsgType) must reach the application and get no answer
    from it, as in the sans-IO runs. Everything else is the real daemon: ExchangeServer,
    Acceptor, asyncio sockets, timers."""

    def __init__(self) -> None:
        self.delivered: list = []

    def on_message(self, session_id, message, now):
        self.delivered.append(message)
        return []

    def on_logon(self, session_id, now):
        return []

    def on_disconnect(self, session_id, now, reason=""):
        return []

    def snapshot_for(self, session_id, now):
        return []

    def advance_time(self, now):
        return []


class DaemonTransport(SocketTransport):
    """Also observes what the daemon delivered to its application (one client session) and
    makes the daemon act: send as its gateway would, log out, reset sequence numbers."""

    def __init__(self, daemon: "DaemonThread", *a, **kw) -> None:
        super().__init__(*a, **kw)
        self.daemon = daemon
        self.app = daemon.app
        self.seen = 0
        self.session_id = daemon.server.acceptor.session_ids[0]

    def _on_loop(self, fn):
        """Run `fn()` on the daemon's loop thread and wait for its result."""
        async def call():
            return fn()
        return asyncio.run_coroutine_threadsafe(call(), self.daemon.loop).result(5)

    def app_send(self, msg_type: bytes, body: list, resendable: bool) -> bool:
        out = Outbound(self.session_id, msg_type, body, not resendable)
        self._on_loop(lambda: self.daemon.server.dispatch([out], time.time()))
        return True

    def exchange_logout(self, name: str, text: str) -> None:
        self._on_loop(lambda: self.daemon.server.admin_logout(self.session_id, text))

    def reset_sequence(self, new_seq_num: int, next_target_seq: int | None) -> bool:
        return self._on_loop(lambda: self.daemon.server.reset_sequence(self.session_id, new_seq_num,
                                                                         next_target_seq))

    def delivered(self, name: str):
        # the daemon thread appends; give a message in flight a moment to arrive
        for _ in range(20):
            if len(self.app.delivered) > self.seen:
                break
            time.sleep(0.005)
        if len(self.app.delivered) > self.seen:
            self.seen += 1
            return self.app.delivered[self.seen - 1]
        return None


def test_enough_scripts_run_against_the_daemon():
    assert len(SCRIPTS) >= 60
    assert {p.stem for p in all_scripts()} - {p.stem for p in SCRIPTS} == {
        "04_a_heartbeat_when_idle", "06_send_test_request", "08_resend_request_admin_and_application",
        "12_initiate_logout_timeout"}  # they move the clock


@pytest.mark.parametrize("path", SCRIPTS, ids=[p.stem for p in SCRIPTS])
def test_script_against_daemon(path):
    script = load_script(path)
    with DaemonThread(script.session_overrides) as d:
        transport = DaemonTransport(d, "127.0.0.1", d.server.port, expect_timeout=2.0, silence_timeout=0.05)
        try:
            run_script(script, transport)
        except Unsupported as e:  # pragma: no cover - filtered above
            pytest.skip(str(e))
        finally:
            transport.shutdown()
