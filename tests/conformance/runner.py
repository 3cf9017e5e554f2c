"""Runs FIX session conformance scripts (`scripts/*.script`) over a pluggable transport.

Script lines (one action each; `#` starts a comment; `NAME:` prefix picks the client
connection, default `1`):

    = session KEY=VALUE ...          SessionConfig overrides (read before anything runs)
    * connect                        open a client connection
    * disconnect                     the client closes its side
    > 35=A|34=1|98=0|108=30          send; 8, 49, 56, 52 are added unless given, 9/10 computed
    >> 8=FIX.4.4|9=5|35=0|10=000|    send these bytes exactly (| is SOH): garbled input;
                                     `9=<LEN>` and `10=<SUM>` are computed if written so
    < 35=A|34=1|98=0|108=30          expect the exchange's next message: the same fields
                                     (order-free) besides 8/9/10/52; 8, 49, 56 default to the
                                     session's, 52 must be within 2 s of the clock
    ! disconnect                     expect the exchange to close (and nothing before that)
    ! silent                         expect no message now
    ? app 35=D|11=ID                 expect this application message delivered (transports
                                     that cannot observe delivery skip the line)
    ? no-app                         expect no (further) application message delivered
    ~ 30                             let 30 seconds pass (timers fire)
    + 35=8|37=1|...                  the exchange's application sends this (stored, resendable)
    + md 35=X|...                    ... as non-resendable market data
    * logout TEXT                    the exchange starts a Logout (server shutdown)
    * reset-seq N [IN]               the exchange's operator resets its outbound numbers to N
                                     (SequenceReset-Reset, test case 9), and the inbound
                                     number to IN if given (`Acceptor.reset_sequence`)

Values may use `<TIME>`, `<TIME+N>`, `<TIME-N>` (the clock's now, +/- N seconds, as a
UTCTimestamp) and, in expectations, `<ANY>`. An expected `<TIME...>` value matches exactly
unless the transport has a `time_slack` (seconds; real clocks: the time between the
exchange stamping a message and the script reading it), then within that slack.
Session overrides whose key ends in `_ids` are comma-separated lists.

A transport provides: `connect(name)`, `send(name, data)`, `close(name)`,
`receive(name, timeout) -> FixMessage | bytes | None | CLOSED` (the next complete
message, None when nothing came within `timeout` seconds), `advance(seconds)`,
`now() -> float`, `delivered(name) -> FixMessage | None | NOT_OBSERVABLE`,
`app_send(msg_type, body, resendable)`, `exchange_logout(name, text)`,
`reset_sequence(new_seq_num, next_target_seq)` (`advance`, `app_send`, `exchange_logout`
and `reset_sequence` may raise `Unsupported`), `expect_timeout` (seconds `<` and
`! disconnect` wait) and optionally `silence_timeout` (seconds `! silent` waits) and
`time_slack`.
`MachineTransport` runs the sans-IO session with a fake clock; `SocketTransport` talks
TCP to a running exchange; `Script.requirements` says which scripts need more than bytes.
"""

from __future__ import annotations

import dataclasses
import re
import socket
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

from fixexchange.codec import FixMessage, FixParser, Garbled, encode, format_utc_timestamp, parse_utc_timestamp
from fixexchange.session import (Acceptor, ApplicationMessage, MemoryStore, MessageStore,
                                 SessionConfig)

SCRIPTS_DIR = Path(__file__).parent / "scripts"
EXCHANGE_COMP_ID = "EXCH"
CLIENT_COMP_ID = "CLIENT"
BEGIN_STRING = "FIX.4.4"
START_TIME = 1_767_225_600.0  # 2026-01-01T00:00:00Z: any fixed instant works
CLOSED = object()
NOT_OBSERVABLE = object()
TIME_SLACK = 2.0

_PLACEHOLDER = re.compile(r"<TIME(?:([+-])(\d+(?:\.\d+)?))?>")
_LINE = re.compile(r"^(?:(\w+):\s*)?(>>|>|<|!|\?|\*|~|=|\+)\s*(.*)$")
_AUTO_CHECKED = frozenset((8, 9, 10, 52))


class ScriptFailure(AssertionError):
    pass


class Unsupported(Exception):
    """The transport cannot perform this step (e.g. make the daemon's application send)."""


@dataclass(frozen=True)
class Step:
    line_no: int
    connection: str
    kind: str
    text: str


@dataclass
class Script:
    name: str
    steps: list[Step]
    session_overrides: dict[str, object] = field(default_factory=dict)

    @property
    def requirements(self) -> set[str]:
        """What a transport must offer beyond bytes in/out: "clock" (`~`), "app_send"
        (`+`), "exchange_logout" (`* logout`), "sequence_reset" (`* reset-seq`),
        "session_config" (`= session`)."""
        needs = set()
        if self.session_overrides:
            needs.add("session_config")
        for step in self.steps:
            if step.kind == "~":
                needs.add("clock")
            elif step.kind == "+":
                needs.add("app_send")
            elif step.kind == "*" and step.text.startswith("logout"):
                needs.add("exchange_logout")
            elif step.kind == "*" and step.text.startswith("reset-seq"):
                needs.add("sequence_reset")
        return needs


def _convert(value: str) -> object:
    lowered = value.lower()
    if lowered in ("true", "yes"):
        return True
    if lowered in ("false", "no"):
        return False
    if lowered == "none":
        return None
    try:
        return int(value)
    except ValueError:
        pass
    try:
        return float(value)
    except ValueError:
        return value


def parse_script(text: str, name: str = "<script>") -> Script:
    steps: list[Step] = []
    overrides: dict[str, object] = {}
    for line_no, line in enumerate(text.splitlines(), 1):
        stripped = line.strip()
        if not stripped or stripped.startswith("#"):
            continue
        match = _LINE.match(stripped)
        if match is None:
            raise ValueError(f"{name}:{line_no}: cannot parse {line!r}")
        connection, kind, rest = match.group(1) or "1", match.group(2), match.group(3).strip()
        if kind == "=":
            words = rest.split()
            if not words or words[0] != "session":
                raise ValueError(f"{name}:{line_no}: expected '= session KEY=VALUE ...'")
            for word in words[1:]:
                key, _, value = word.partition("=")
                overrides[key] = tuple(filter(None, value.split(","))) if key.endswith("_ids") \
                    else _convert(value)
            continue
        steps.append(Step(line_no, connection, kind, rest))
    return Script(name, steps, overrides)


def load_script(path: Path) -> Script:
    return parse_script(path.read_text(), path.name)


def all_scripts() -> list[Path]:
    return sorted(SCRIPTS_DIR.glob("*.script"))


def _substitute(text: str, now: float) -> str:
    def replace(match: re.Match) -> str:
        offset = 0.0
        if match.group(1):
            offset = float(match.group(2)) * (1 if match.group(1) == "+" else -1)
        return format_utc_timestamp(now + offset).decode()
    return _PLACEHOLDER.sub(replace, text)


def _fields(text: str) -> list[tuple[int, str]]:
    fields = []
    for part in text.strip("|").split("|"):
        tag, equals, value = part.partition("=")
        if not equals or not tag.isdigit():
            raise ValueError(f"bad field {part!r}")
        fields.append((int(tag), value))
    return fields


def build_message(text: str, now: float) -> bytes:
    """`35=X|...` -> wire bytes with the default header filled in."""
    fields = _fields(_substitute(text, now))
    given = {tag for tag, _ in fields}
    if fields[0][0] != 35 and 35 not in given:
        raise ValueError("a '>' line needs 35=")
    begin = BEGIN_STRING
    msg_type = ""
    rest = []
    for tag, value in fields:
        if tag == 8:
            begin = value
        elif tag == 35:
            msg_type = value
        else:
            rest.append((tag, value))
    header = []
    if 49 not in given:
        header.append((49, CLIENT_COMP_ID))
    if 56 not in given:
        header.append((56, EXCHANGE_COMP_ID))
    if 52 not in given:
        header.append((52, format_utc_timestamp(now).decode()))
    return encode(begin.encode(), msg_type.encode(), header + rest)


def build_raw(text: str, now: float) -> bytes:
    """Exact bytes (| is SOH); `9=<LEN>` and `10=<SUM>` are computed for messages that
    must frame correctly but carry a defect the encoder would refuse to write."""
    data = _substitute(text, now).replace("|", "\x01").encode("latin-1")
    if b"9=<LEN>\x01" in data:
        start = data.index(b"9=<LEN>\x01") + len(b"9=<LEN>\x01")
        end = data.rfind(b"10=")
        data = data.replace(b"<LEN>", b"%d" % (end - start), 1)
    if b"10=<SUM>" in data:
        end = data.rfind(b"10=<SUM>")
        data = data.replace(b"10=<SUM>", b"10=%03d" % (sum(data[:end]) % 256))
    return data


def _describe(message: FixMessage) -> str:
    return "|".join(f"{tag}={value.decode('latin-1')}" for tag, value in message.fields)


class _Near:
    """An expected `<TIME...>` value on a transport with a `time_slack`."""

    def __init__(self, placeholder: str, now: float, slack: float) -> None:
        self.text = _substitute(placeholder, now)
        self.at = parse_utc_timestamp(self.text.encode())
        self.slack = slack

    def matches(self, value: str) -> bool:
        try:
            return abs(parse_utc_timestamp(value.encode()) - self.at) <= self.slack
        except ValueError:
            return False


def check_expectation(text: str, message: FixMessage, now: float, where: str,
                      time_slack: float = 0.0) -> None:
    if time_slack:
        expected = [(tag, _Near(value, now, time_slack) if _PLACEHOLDER.fullmatch(value)
                     else _substitute(value, now)) for tag, value in _fields(text)]
    else:
        expected = _fields(_substitute(text, now))
    given = {tag for tag, _ in expected}
    defaults = [(8, BEGIN_STRING), (49, EXCHANGE_COMP_ID), (56, CLIENT_COMP_ID)]
    expected += [(tag, value) for tag, value in defaults if tag not in given]
    actual = [(tag, value.decode("latin-1")) for tag, value in message.fields
              if tag not in _AUTO_CHECKED or tag in given]
    if 8 not in given:
        actual.append((8, message.get(8, b"").decode("latin-1")))
    wanted = sorted(expected, key=lambda field: (field[0], field[1] if isinstance(field[1], str) else ""))
    got = sorted(actual)
    problems = []
    if len(wanted) != len(got) or any(
            w_tag != g_tag or (not w_value.matches(g_value) if isinstance(w_value, _Near)
                               else w_value != "<ANY>" and w_value != g_value)
            for (w_tag, w_value), (g_tag, g_value) in zip(wanted, got)):
        problems.append(f"expected {text!r}, received {_describe(message)}")
    if 52 not in given:
        try:
            sent = parse_utc_timestamp(message.get(52, b""))
        except ValueError:
            problems.append(f"SendingTime missing or malformed in {_describe(message)}")
        else:
            if abs(sent - now) > TIME_SLACK:
                problems.append(f"SendingTime {message.get(52)!r} not near the clock")
    if problems:
        raise ScriptFailure(f"{where}: " + "; ".join(problems))


class MachineTransport:
    """The sans-IO Acceptor behind a fake clock; no sockets, no sleeping."""

    expect_timeout = 0.0  # output is produced synchronously

    def __init__(self, config: SessionConfig, store_factory: Callable[[str], MessageStore] | None = None,
                 start: float = START_TIME) -> None:
        self.config = config
        self.stores: dict[str, MessageStore] = {}
        factory = store_factory or (lambda session_id: self.stores.setdefault(session_id, MemoryStore()))
        self.acceptor = Acceptor([config], factory)
        self.clock = start
        self.connections: dict = {}
        self.parsers: dict[str, FixParser] = {}
        self.inbox: dict[str, list] = {}
        self.applications: dict[str, list[FixMessage]] = {}
        self.events: list = []

    def now(self) -> float:
        return self.clock

    def connect(self, name: str) -> None:
        self.connections[name] = self.acceptor.connection_made(self.clock)
        self.parsers[name] = FixParser()
        self.inbox[name] = []
        self.applications[name] = []

    def _collect(self, name: str, events: list) -> None:
        self.events.extend(events)
        for event in events:
            if isinstance(event, ApplicationMessage):
                self.applications[name].append(event.message)
        connection = self.connections[name]
        for item in self.parsers[name].feed(connection.data_to_send()):
            if isinstance(item, Garbled):
                raise ScriptFailure(f"the exchange sent a garbled message: {item}")
            self.inbox[name].append(item)

    def send(self, name: str, data: bytes) -> None:
        connection = self.connections[name]
        self._collect(name, connection.receive_data(data, self.clock))

    def close(self, name: str) -> None:
        connection = self.connections[name]
        self._collect(name, connection.connection_lost(self.clock))

    def advance(self, seconds: float) -> None:
        """Move the clock, firing every timer at its own deadline on the way."""
        target = self.clock + seconds
        while True:
            due = [(connection.next_deadline(), name) for name, connection in self.connections.items()
                   if not connection.closed and connection.next_deadline() is not None]
            due = [(deadline, name) for deadline, name in due if deadline <= target]
            if not due:
                break
            deadline, name = min(due)
            self.clock = max(self.clock, deadline)
            self._collect(name, self.connections[name].on_timer(self.clock))
        self.clock = target

    def receive(self, name: str, timeout: float):
        if timeout:
            self.advance(timeout)
        inbox = self.inbox[name]
        if inbox:
            return inbox.pop(0)
        if self.connections[name].closed:
            return CLOSED
        return None

    def app_send(self, msg_type: bytes, body: list, resendable: bool) -> bool:
        sent = self.acceptor.send(self.config.session_id, msg_type, body, self.clock, resendable)
        for name, connection in self.connections.items():
            if not connection.closed:
                self._collect(name, [])
        return sent

    def exchange_logout(self, name: str, text: str) -> None:
        self._collect(name, self.connections[name].logout(text, self.clock))

    def reset_sequence(self, new_seq_num: int, next_target_seq: int | None) -> bool:
        sent = self.acceptor.reset_sequence(self.config.session_id, new_seq_num, self.clock, next_target_seq)
        for name, connection in self.connections.items():
            if not connection.closed:
                self._collect(name, [])
        return sent

    def delivered(self, name: str):
        applications = self.applications[name]
        return applications.pop(0) if applications else None


class SocketTransport:
    """Client connections over TCP to a running exchange (the daemon), real clock.

    It cannot move the daemon's clock, make its application send, start a Logout or see
    delivered application messages: scripts needing those (`Script.requirements`) raise
    `Unsupported`, `? app` lines are skipped.
    """

    def __init__(self, host: str, port: int, expect_timeout: float = 2.0,
                 silence_timeout: float = 0.3, time_slack: float = TIME_SLACK) -> None:
        self.address = (host, port)
        self.time_slack = time_slack
        self.expect_timeout = expect_timeout
        self.silence_timeout = silence_timeout
        self.sockets: dict[str, socket.socket] = {}
        self.parsers: dict[str, FixParser] = {}
        self.pending: dict[str, list] = {}
        self.at_eof: dict[str, bool] = {}

    def now(self) -> float:
        return time.time()

    def connect(self, name: str) -> None:
        self.sockets[name] = socket.create_connection(self.address, timeout=self.expect_timeout)
        self.parsers[name] = FixParser()
        self.pending[name] = []
        self.at_eof[name] = False

    def send(self, name: str, data: bytes) -> None:
        try:
            self.sockets[name].sendall(data)
        except (BrokenPipeError, ConnectionResetError):
            self.at_eof[name] = True  # the exchange already closed; a later step will say

    def close(self, name: str) -> None:
        self.sockets[name].close()
        self.at_eof[name] = True

    def receive(self, name: str, timeout: float):
        pending = self.pending[name]
        deadline = time.monotonic() + timeout
        sock = self.sockets[name]
        while not pending:
            if self.at_eof[name]:
                return CLOSED
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return None
            sock.settimeout(remaining)
            try:
                data = sock.recv(65536)
            except socket.timeout:
                return None
            except ConnectionResetError:
                data = b""
            if not data:
                self.at_eof[name] = True
                continue
            for item in self.parsers[name].feed(data):
                if isinstance(item, Garbled):
                    raise ScriptFailure(f"the exchange sent a garbled message: {item}")
                pending.append(item)
        return pending.pop(0)

    def advance(self, seconds: float) -> None:
        raise Unsupported("the daemon's clock cannot be moved from a script")

    def delivered(self, name: str):
        return NOT_OBSERVABLE

    def app_send(self, msg_type: bytes, body: list, resendable: bool) -> bool:
        raise Unsupported("the daemon's application cannot be told to send")

    def exchange_logout(self, name: str, text: str) -> None:
        raise Unsupported("the daemon's Logout cannot be triggered from a script")

    def reset_sequence(self, new_seq_num: int, next_target_seq: int | None) -> bool:
        raise Unsupported("the daemon's sequence numbers cannot be reset from a socket")

    def shutdown(self) -> None:
        for sock in self.sockets.values():
            sock.close()


def run_script(script: Script, transport) -> None:
    """Execute every step; raises ScriptFailure at the first mismatch."""
    for step in script.steps:
        where = f"{script.name}:{step.line_no}"
        name = step.connection
        kind, text = step.kind, step.text
        now = transport.now()
        if kind == "*":
            if text == "connect":
                transport.connect(name)
            elif text == "disconnect":
                transport.close(name)
            elif text.startswith("logout"):
                transport.exchange_logout(name, text[len("logout"):].strip())
            elif text.startswith("reset-seq"):
                numbers = [int(word) for word in text.split()[1:]]
                if len(numbers) not in (1, 2):
                    raise ValueError(f"{where}: expected '* reset-seq N [IN]'")
                transport.reset_sequence(numbers[0], numbers[1] if len(numbers) == 2 else None)
            else:
                raise ValueError(f"{where}: unknown action {text!r}")
        elif kind == ">":
            transport.send(name, build_message(text, now))
        elif kind == ">>":
            transport.send(name, build_raw(text, now))
        elif kind == "<":
            received = transport.receive(name, transport.expect_timeout)
            if received is None:
                raise ScriptFailure(f"{where}: expected {text!r}, nothing was sent")
            if received is CLOSED:
                raise ScriptFailure(f"{where}: expected {text!r}, the exchange disconnected")
            if isinstance(received, (bytes, bytearray)):
                parsed = FixParser().feed(bytes(received))
                received = parsed[0]
            check_expectation(text, received, transport.now(), where, getattr(transport, "time_slack", 0.0))
        elif kind == "!":
            if text not in ("disconnect", "silent"):
                raise ValueError(f"{where}: unknown expectation {text!r}")
            wait = transport.expect_timeout if text == "disconnect" else \
                getattr(transport, "silence_timeout", transport.expect_timeout)
            received = transport.receive(name, wait)
            if text == "disconnect":
                if received is not CLOSED:
                    raise ScriptFailure(f"{where}: expected a disconnect, got {_show(received)}")
            elif received is not None:
                raise ScriptFailure(f"{where}: expected silence, got {_show(received)}")
        elif kind == "?":
            word, _, rest = text.partition(" ")
            if word not in ("app", "no-app"):
                raise ValueError(f"{where}: unknown check {text!r}")
            message = transport.delivered(name)
            if message is NOT_OBSERVABLE:
                continue
            if word == "no-app":
                if message is not None:
                    raise ScriptFailure(f"{where}: nothing should be delivered, got {_describe(message)}")
                continue
            if message is None:
                raise ScriptFailure(f"{where}: expected application message {rest!r} delivered, none was")
            wanted = _fields(_substitute(rest, now))
            for tag, value in wanted:
                actual = message.get(tag)
                if actual is None or (value != "<ANY>" and actual.decode("latin-1") != value):
                    raise ScriptFailure(f"{where}: delivered {_describe(message)}, expected {rest!r}")
        elif kind == "~":
            transport.advance(float(text))
        elif kind == "+":
            resendable = True
            if text.startswith("md "):
                resendable, text = False, text[3:]
            fields = _fields(_substitute(text, now))
            if fields[0][0] != 35:
                raise ValueError(f"{where}: a '+' line starts with 35=")
            transport.app_send(fields[0][1].encode(), fields[1:], resendable)
        else:  # pragma: no cover - the line regex admits nothing else
            raise ValueError(f"{where}: unknown step {kind!r}")


def _show(received) -> str:
    if received is None:
        return "nothing"
    if received is CLOSED:
        return "a disconnect"
    if isinstance(received, FixMessage):
        return _describe(received)
    return repr(received)


def machine_transport_for(script: Script, **kwargs) -> MachineTransport:
    config = SessionConfig(EXCHANGE_COMP_ID, CLIENT_COMP_ID, begin_string=BEGIN_STRING)
    if script.session_overrides:
        config = dataclasses.replace(config, **script.session_overrides)
    return MachineTransport(config, **kwargs)
