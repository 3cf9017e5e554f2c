"""The scripts a socket transport can run, over real loopback TCP (no fake clock)."""

import pytest

from fixexchange.session import Acceptor, MemoryStore, SessionConfig

from .loopback import LoopbackExchange
from .runner import (BEGIN_STRING, CLIENT_COMP_ID, EXCHANGE_COMP_ID, ScriptFailure, SocketTransport,
                     Unsupported, all_scripts, load_script, parse_script, run_script)

SOCKET_SCRIPTS = [path for path in all_scripts() if not load_script(path).requirements]


def _exchange():
    config = SessionConfig(EXCHANGE_COMP_ID, CLIENT_COMP_ID, begin_string=BEGIN_STRING)
    return LoopbackExchange(Acceptor([config], lambda session_id: MemoryStore()))


def test_most_scripts_need_only_bytes():
    assert len(SOCKET_SCRIPTS) >= 30


@pytest.mark.parametrize("path", SOCKET_SCRIPTS, ids=[path.stem for path in SOCKET_SCRIPTS])
def test_script_over_sockets(path):
    with _exchange() as exchange:
        transport = SocketTransport("127.0.0.1", exchange.port, expect_timeout=2.0, silence_timeout=0.05)
        try:
            run_script(load_script(path), transport)
        finally:
            transport.shutdown()


def test_socket_transport_reports_mismatches_and_unsupported_steps():
    with _exchange() as exchange:
        transport = SocketTransport("127.0.0.1", exchange.port, expect_timeout=0.5, silence_timeout=0.05)
        try:
            with pytest.raises(ScriptFailure, match="expected a disconnect"):
                run_script(parse_script("* connect\n> 35=A|34=1|98=0|108=30\n"
                                        "< 35=A|34=1|98=0|108=30\n! disconnect\n"), transport)
            with pytest.raises(Unsupported):
                run_script(parse_script("~ 30\n"), transport)
        finally:
            transport.shutdown()
