"""A small blocking FIX 4.4 initiator for the bundled tools (fix-send, fix-md).

Built on simplefix. It knows just enough of the session layer for a terminal tool:
Logon (with ResetSeqNumFlag=Y so every run starts at sequence number 1), Heartbeat on
idle, answers to TestRequest, ResendRequest on an inbound sequence gap (optional),
GapFill answers to the exchange's ResendRequest (a tool never resends application
messages), and Logout.

It also resolves the connection settings shared by the tools:
command-line flags > environment variables > config file > built-in defaults.

Exit codes shared by the tools (see README "Command-line tools"):
0 success, 1 rejected by the exchange, 2 bad arguments or config,
3 connection failed / logon refused / disconnected, 4 timeout.
"""

from __future__ import annotations

import argparse
import dataclasses
import datetime as _dt
import os
import select
import socket
import sys
import threading
import time
import tomllib
from typing import Callable, Iterable

import simplefix

from ..codec.secrets import mask_secrets

from fixexchange.codec.tags import (
    BeginSeqNo,
    BeginString,
    EncryptMethod,
    EndSeqNo,
    GapFillFlag,
    HeartBtInt,
    MsgSeqNum,
    MsgType,
    NewSeqNo,
    OrigSendingTime,
    Password,
    PossDupFlag,
    ResetSeqNumFlag,
    SenderCompID,
    SendingTime,
    TargetCompID,
    TestReqID,
    Text,
    Username,
)

EXIT_OK = 0
EXIT_REJECTED = 1
EXIT_USAGE = 2
EXIT_CONNECTION = 3
EXIT_TIMEOUT = 4

BEGIN_STRING = "FIX.4.4"
DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 9878
DEFAULT_TARGET = "FIXEXCH"
DEFAULT_HEARTBEAT = 30
DEFAULT_TIMEOUT = 10.0

# The client sessions of the bundled config/exchange.toml and their passwords.
BUNDLED_PASSWORDS = {
    "CLIENT1": "pass1",
    "CLIENT2": "pass2",
    "CLIENT3": "pass3",
    "MDVIEW": "mdview",
}

ENV_VARS = {
    "host": "FIXEXCH_HOST",
    "port": "FIXEXCH_PORT",
    "sender_comp_id": "FIXEXCH_SENDER",
    "target_comp_id": "FIXEXCH_TARGET",
    "password": "FIXEXCH_PASSWORD",
    "username": "FIXEXCH_USERNAME",
    "timeout": "FIXEXCH_TIMEOUT",
    "tls": "FIXEXCH_TLS",
    "tls_ca_file": "FIXEXCH_TLS_CA",
    "tls_cert_file": "FIXEXCH_TLS_CERT",
    "tls_key_file": "FIXEXCH_TLS_KEY",
}
CONFIG_ENV = "FIXEXCH_CLIENT_CONFIG"
SETTING_KEYS = tuple(ENV_VARS)


class ToolError(Exception):
    """An error the tool reports as one line and turns into an exit code."""

    def __init__(self, message: str, code: int) -> None:
        super().__init__(message)
        self.code = code


class ConnectionFailed(ToolError):
    def __init__(self, message: str) -> None:
        super().__init__(message, EXIT_CONNECTION)


class Timeout(ToolError):
    def __init__(self, message: str) -> None:
        super().__init__(message, EXIT_TIMEOUT)


class UsageError(ToolError):
    def __init__(self, message: str) -> None:
        super().__init__(message, EXIT_USAGE)


# --------------------------------------------------------------------------- settings


@dataclasses.dataclass(frozen=True)
class Settings:
    host: str = DEFAULT_HOST
    port: int = DEFAULT_PORT
    sender_comp_id: str = "CLIENT1"
    target_comp_id: str = DEFAULT_TARGET
    password: str | None = None
    username: str | None = None
    timeout: float = DEFAULT_TIMEOUT
    heartbeat: int = DEFAULT_HEARTBEAT
    tls: bool = False
    tls_ca_file: str | None = None  # CA bundle the exchange's certificate is checked against
    tls_cert_file: str | None = None  # a client certificate (and its key), if the exchange asks
    tls_key_file: str | None = None


def tls_context(settings: Settings):
    """The client's ssl context: the exchange's certificate verified (against
    ``tls_ca_file``, else the system's CAs) and its host name checked."""
    import ssl

    try:
        context = ssl.create_default_context(cafile=settings.tls_ca_file)
        if settings.tls_cert_file:
            context.load_cert_chain(settings.tls_cert_file, settings.tls_key_file)
    except (OSError, ssl.SSLError) as exc:
        raise UsageError(f"TLS settings: {exc}") from None
    return context


def default_config_path(environ: dict[str, str]) -> str:
    base = environ.get("XDG_CONFIG_HOME") or os.path.join(
        environ.get("HOME") or os.path.expanduser("~"), ".config"
    )
    return os.path.join(base, "fixexchange", "client.toml")


def _convert(key: str, value, source: str):
    if key == "tls":
        if isinstance(value, bool):
            return value
        text = str(value).strip().lower()
        if text in ("1", "true", "yes", "on"):
            return True
        if text in ("0", "false", "no", "off", ""):
            return False
        raise UsageError(f"{source}: tls: expected true or false, got {value!r}")
    return convert_setting(key, value, source, UsageError)


def convert_setting(key: str, value, source: str, error: Callable[[str], Exception]):
    """A setting from a file, the environment or a flag: ``port`` (1-65535), ``timeout``
    (seconds > 0), anything else a non-empty string; else ``error(message)`` is raised,
    the message naming ``source`` and ``key`` (shared by the client tools and fix-admin)."""
    try:
        if key == "port":
            if isinstance(value, bool):
                raise ValueError
            port = int(value)
            if not 0 < port < 65536:
                raise ValueError
            return port
        if key == "timeout":
            if isinstance(value, bool):
                raise ValueError
            timeout = float(value)
            if not timeout > 0:
                raise ValueError
            return timeout
    except (TypeError, ValueError):
        what = "a port number 1-65535" if key == "port" else "a positive number of seconds"
        raise error(f"{source}: {key}: expected {what}, got {value!r}") from None
    if not isinstance(value, str) or not value:
        raise error(f"{source}: {key}: expected a non-empty string, got {value!r}")
    return value


def load_config_file(path: str, tool: str) -> dict:
    """Read the client config file: top-level keys for every tool, a `[fix-send]` or
    `[fix-md]` table overriding them for that tool."""
    try:
        with open(path, "rb") as handle:
            data = tomllib.load(handle)
    except FileNotFoundError:
        raise UsageError(f"{path}: config file not found") from None
    except OSError as exc:
        raise UsageError(f"{path}: cannot read: {exc.strerror}") from None
    except tomllib.TOMLDecodeError as exc:
        raise UsageError(f"{path}: not valid TOML: {exc}") from None
    result: dict = {}
    tables = ("fix-send", "fix-md", "fix-admin")  # (fix-admin reads its own table)
    for key, value in data.items():
        if key in tables:
            if not isinstance(value, dict):
                raise UsageError(f"{path}: {key}: expected a table")
            continue
        if key not in SETTING_KEYS:
            raise UsageError(f"{path}: {key}: unknown key (known: {', '.join(SETTING_KEYS)})")
        result[key] = _convert(key, value, path)
    for key, value in data.get(tool, {}).items():
        if key not in SETTING_KEYS:
            raise UsageError(
                f"{path}: {tool}.{key}: unknown key (known: {', '.join(SETTING_KEYS)})"
            )
        result[key] = _convert(key, value, path)
    return result


def resolve_settings(
    flags: dict,
    tool: str,
    default_sender: str,
    config_path: str | None = None,
    environ: dict[str, str] | None = None,
) -> Settings:
    """Flags (non-None values) > environment > config file > defaults."""
    environ = dict(os.environ) if environ is None else environ
    values: dict = {}
    path = config_path or environ.get(CONFIG_ENV)
    if path:
        values.update(load_config_file(path, tool))
    else:
        path = default_config_path(environ)
        if os.path.exists(path):
            values.update(load_config_file(path, tool))
    for key, var in ENV_VARS.items():
        if environ.get(var):
            values[key] = _convert(key, environ[var], var)
    for key in SETTING_KEYS:
        if flags.get(key) is not None:
            values[key] = _convert(key, flags[key], "--" + key.replace("_comp_id", "").replace("_", "-"))
    values.setdefault("sender_comp_id", default_sender)
    if "password" not in values:
        values["password"] = BUNDLED_PASSWORDS.get(values["sender_comp_id"])
    return Settings(**values)


def add_connection_arguments(parser, default_sender: str) -> None:
    group = parser.add_argument_group("connection (flags > environment > config file)")
    group.add_argument("--host", help=f"exchange host [$FIXEXCH_HOST, default {DEFAULT_HOST}]")
    group.add_argument("--port", help=f"exchange port [$FIXEXCH_PORT, default {DEFAULT_PORT}]")
    group.add_argument(
        "--sender", dest="sender_comp_id", metavar="COMPID",
        help=f"your SenderCompID [$FIXEXCH_SENDER, default {default_sender}]",
    )
    group.add_argument(
        "--target", dest="target_comp_id", metavar="COMPID",
        help=f"the exchange's CompID [$FIXEXCH_TARGET, default {DEFAULT_TARGET}]",
    )
    group.add_argument(
        "--password",
        help="Password(554) [$FIXEXCH_PASSWORD, default: the bundled password of the sender]",
    )
    group.add_argument("--username", help="Username(553) [$FIXEXCH_USERNAME, default none]")
    group.add_argument(
        "--timeout", metavar="SECONDS",
        help=f"connect/logon/answer timeout [$FIXEXCH_TIMEOUT, default {DEFAULT_TIMEOUT:g}]",
    )
    group.add_argument("--tls", action="store_true", default=None,
                       help="connect with TLS [$FIXEXCH_TLS, default off]")
    group.add_argument("--tls-ca", dest="tls_ca_file", metavar="FILE",
                       help="CA file the exchange's certificate is checked against "
                       "[$FIXEXCH_TLS_CA, default: the system's CAs]")
    group.add_argument("--tls-cert", dest="tls_cert_file", metavar="FILE",
                       help="client certificate (PEM), if the exchange asks for one [$FIXEXCH_TLS_CERT]")
    group.add_argument("--tls-key", dest="tls_key_file", metavar="FILE",
                       help="its private key (default: in the --tls-cert file) [$FIXEXCH_TLS_KEY]")
    group.add_argument(
        "--config", metavar="FILE",
        help="client config file [$FIXEXCH_CLIENT_CONFIG, "
        "default ~/.config/fixexchange/client.toml if it exists]",
    )
    group.add_argument(
        "-v", "--verbose", action="store_true", help="print the raw FIX messages, '|' separated"
    )


def settings_from_args(args, tool: str, default_sender: str) -> Settings:
    flags = {key: getattr(args, key, None) for key in SETTING_KEYS}
    return resolve_settings(flags, tool, default_sender, config_path=args.config)


# --------------------------------------------------------------------------- messages


def utc_timestamp(now: float | None = None) -> str:
    now = time.time() if now is None else now
    stamp = _dt.datetime.fromtimestamp(now, _dt.timezone.utc)
    return stamp.strftime("%Y%m%d-%H:%M:%S.") + f"{stamp.microsecond // 1000:03d}"


def field(msg: simplefix.FixMessage, tag: int, default: str | None = None) -> str | None:
    value = msg.get(tag)
    if value is None:
        return default
    return value.decode("latin-1")


def msg_type(msg: simplefix.FixMessage) -> str:
    return field(msg, MsgType, "")


def pairs(msg: simplefix.FixMessage) -> list[tuple[int, str]]:
    return [(int(tag), value.decode("latin-1")) for tag, value in msg.pairs]


def groups(msg: simplefix.FixMessage, count_tag: int, first_tag: int) -> list[dict[int, str]]:
    """The entries of a repeating group: each starts at `first_tag` after `count_tag`."""
    entries: list[dict[int, str]] = []
    inside = False
    for tag, value in pairs(msg):
        if tag == count_tag:
            inside = True
            continue
        if not inside:
            continue
        if tag == first_tag:
            entries.append({tag: value})
        elif entries and tag not in entries[-1] and tag != 10:
            entries[-1][tag] = value
        elif entries:
            break
    return entries


def to_text(raw: bytes) -> str:
    return raw.replace(b"\x01", b"|").decode("latin-1")


def build(msg_type_: str, fields: Iterable[tuple[int, object]]) -> simplefix.FixMessage:
    msg = simplefix.FixMessage()
    msg.append_pair(BeginString, BEGIN_STRING, header=True)
    msg.append_pair(MsgType, msg_type_, header=True)
    for tag, value in fields:
        msg.append_pair(tag, value)
    return msg


# --------------------------------------------------------------------------- client


class SessionClosed(ToolError):
    def __init__(self, message: str) -> None:
        super().__init__(message, EXIT_CONNECTION)


class FixClient:
    """A blocking FIX 4.4 initiator. `poll()` returns application messages (and session
    Rejects, which concern the caller's request) and handles the admin ones itself.
    `send()` may be called from another thread than `poll()`."""

    def __init__(
        self,
        settings: Settings,
        verbose: bool = False,
        out=None,
        resend_on_gap: bool = True,
        on_gap: Callable[[int, int], None] | None = None,
    ) -> None:
        self.settings = settings
        self.verbose = verbose
        self.out = out if out is not None else sys.stdout
        self.resend_on_gap = resend_on_gap
        self.on_gap = on_gap
        self.sock: socket.socket | None = None
        self.parser = simplefix.FixParser()
        self.out_seq = 1
        self.in_seq = 1
        self.logged_on = False
        self.logout_received: str | None = None
        self._send_lock = threading.Lock()
        self._last_sent = time.monotonic()
        self._last_received = time.monotonic()
        self._test_request_sent = False
        self._pending: list[simplefix.FixMessage] = []
        self.closed = False

    # -- plumbing
    def _trace(self, direction: str, raw: bytes) -> None:
        if self.verbose:
            with _print_lock:
                print(f"{direction} {to_text(mask_secrets(raw))}", file=self.out, flush=True)

    def send(self, msg_type_: str, fields: Iterable[tuple[int, object]] = ()) -> int:
        with self._send_lock:
            if self.sock is None or self.closed:
                raise SessionClosed("not connected to the exchange")
            seq = self.out_seq
            msg = simplefix.FixMessage()
            msg.append_pair(BeginString, BEGIN_STRING)
            msg.append_pair(MsgType, msg_type_)
            msg.append_pair(SenderCompID, self.settings.sender_comp_id)
            msg.append_pair(TargetCompID, self.settings.target_comp_id)
            msg.append_pair(MsgSeqNum, seq)
            msg.append_pair(SendingTime, utc_timestamp())
            for tag, value in fields:
                msg.append_pair(tag, value)
            raw = msg.encode()
            try:
                self.sock.sendall(raw)
            except OSError as exc:
                self.closed = True
                raise SessionClosed(
                    f"connection to {self.settings.host}:{self.settings.port} lost: "
                    f"{exc.strerror or exc}"
                ) from None
            self.out_seq += 1
            self._last_sent = time.monotonic()
            self._trace("->", raw)
            return seq

    def send_gap_fill(self, begin: int) -> None:
        """SequenceReset-GapFill from `begin` up to our next sequence number."""
        with self._send_lock:
            if self.sock is None or self.closed:
                raise SessionClosed("not connected to the exchange")
            begin = begin if 0 < begin < self.out_seq else self.out_seq
            msg = build("4", [
                (SenderCompID, self.settings.sender_comp_id), (TargetCompID, self.settings.target_comp_id),
                (MsgSeqNum, begin), (PossDupFlag, "Y"), (SendingTime, utc_timestamp()),
                (OrigSendingTime, utc_timestamp()),
                (GapFillFlag, "Y"), (NewSeqNo, self.out_seq),
            ])
            raw = msg.encode()
            try:
                self.sock.sendall(raw)
            except OSError:
                self.closed = True
                raise SessionClosed("connection to the exchange lost") from None
            self._last_sent = time.monotonic()
            self._trace("->", raw)

    def connect(self) -> None:
        host, port = self.settings.host, self.settings.port
        try:
            self.sock = socket.create_connection((host, port), timeout=self.settings.timeout)
        except socket.timeout:
            raise Timeout(f"cannot connect to {host}:{port}: timed out after "
                          f"{self.settings.timeout:g}s") from None
        except OSError as exc:
            reason = exc.strerror or str(exc)
            raise ConnectionFailed(
                f"cannot connect to {host}:{port}: {reason} (is the exchange running?)"
            ) from None
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        if self.settings.tls:
            import ssl

            context = tls_context(self.settings)
            try:
                self.sock = context.wrap_socket(self.sock, server_hostname=host)
            except (OSError, ssl.SSLError) as exc:
                self.close()
                raise ConnectionFailed(f"TLS handshake with {host}:{port} failed: "
                                       f"{getattr(exc, 'reason', None) or exc}") from None
        self.sock.settimeout(None)

    def logon(self) -> None:
        fields: list[tuple[int, object]] = [(EncryptMethod, 0), (HeartBtInt, self.settings.heartbeat),
                                            (ResetSeqNumFlag, "Y")]
        if self.settings.username:
            fields.append((Username, self.settings.username))
        if self.settings.password:
            fields.append((Password, self.settings.password))
        self.send("A", fields)
        deadline = time.monotonic() + self.settings.timeout
        who = f"{self.settings.sender_comp_id}->{self.settings.target_comp_id}"
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                self.close()
                raise Timeout(f"logon as {who} timed out after {self.settings.timeout:g}s")
            try:
                msg = self._read_one(remaining)
            except SessionClosed:
                self.close()
                raise ConnectionFailed(
                    f"logon as {who} refused: the exchange closed the connection "
                    f"(unknown CompID, wrong password, or {self.settings.sender_comp_id} "
                    f"is already logged on elsewhere: one connection per session)"
                ) from None
            if msg is None:
                continue
            kind = msg_type(msg)
            if kind == "A":
                self.logged_on = True
                self.in_seq = (msg_seq(msg) or 0) + 1
                return
            if kind == "5":
                self.close()
                text = field(msg, Text) or "no reason given"
                raise ConnectionFailed(f"logon as {who} refused: {text}")
            if kind == "3":
                self.close()
                text = field(msg, Text) or "session reject"
                raise ConnectionFailed(f"logon as {who} rejected: {text}")
            # Anything else before the Logon answer is unexpected; keep it for later.
            self._pending.append(msg)

    def start(self) -> "FixClient":
        self.connect()
        self.logon()
        return self

    def _read_one(self, timeout: float) -> simplefix.FixMessage | None:
        """One raw message from the socket (admin included), None on timeout."""
        msg = self.parser.get_message()
        if msg is not None:
            return self._received(msg)
        if self.sock is None or self.closed:
            raise SessionClosed("not connected to the exchange")
        pending = getattr(self.sock, "pending", None)  # TLS: decrypted bytes select cannot see
        try:
            ready = (pending is not None and pending()) or \
                select.select([self.sock], [], [], max(0.0, timeout))[0]
        except (OSError, ValueError):
            raise SessionClosed("connection closed") from None
        if not ready:
            return None
        try:
            if pending is not None:
                with self._send_lock:  # one TLS connection is not read and written at once
                    data = self.sock.recv(65536)
            else:
                data = self.sock.recv(65536)
        except OSError as exc:
            self.closed = True
            raise SessionClosed(f"connection lost: {exc.strerror or exc}") from None
        if not data:
            self.closed = True
            raise SessionClosed("the exchange closed the connection")
        self.parser.append_buffer(data)
        try:
            msg = self.parser.get_message()
        except Exception as exc:  # simplefix raises its own errors on garbage
            self.parser.reset()
            raise SessionClosed(f"garbled data from the exchange: {exc}") from None
        return self._received(msg) if msg is not None else None

    def _received(self, msg: simplefix.FixMessage) -> simplefix.FixMessage:
        self._last_received = time.monotonic()
        self._test_request_sent = False
        self._trace("<-", msg.encode(raw=True))
        return msg

    def poll(self, timeout: float) -> simplefix.FixMessage | None:
        """The next application message (or session Reject), None after `timeout`
        seconds without one. Raises SessionClosed when the exchange logs out or drops."""
        if self._pending:
            return self._pending.pop(0)
        deadline = time.monotonic() + timeout
        while True:
            self._heartbeat_if_due()
            remaining = deadline - time.monotonic()
            wait = min(max(remaining, 0.0), 1.0)
            msg = self._read_one(wait)
            if msg is not None:
                result = self._handle(msg)
                if result is not None:
                    return result
            if time.monotonic() >= deadline:
                return None

    def _heartbeat_if_due(self) -> None:
        if not self.logged_on or self.closed:
            return
        now = time.monotonic()
        interval = self.settings.heartbeat
        if now - self._last_sent >= interval:
            self.send("0")
        if now - self._last_received >= interval * 1.2 and not self._test_request_sent:
            self.send("1", [(TestReqID, f"TEST-{int(time.time())}")])
            self._test_request_sent = True
        elif now - self._last_received >= interval * 2.5:
            self.close()
            raise SessionClosed("the exchange stopped answering (no heartbeat)")

    def _seq_field(self, msg: simplefix.FixMessage, tag: int, name: str) -> int:
        """A sequence number field from the exchange (absent/empty = 0); a value that is not
        a number closes the session with one clear SessionClosed, never a ValueError."""
        text = field(msg, tag, "") or "0"
        try:
            return int(text)
        except ValueError:
            self.close()
            raise SessionClosed(f"malformed {name}({tag}) {text!r} from the exchange in "
                                f"MsgType {msg_type(msg)!r}") from None

    def _handle(self, msg: simplefix.FixMessage) -> simplefix.FixMessage | None:
        kind = msg_type(msg)
        seq = msg_seq(msg)
        poss_dup = field(msg, PossDupFlag) == "Y"
        if kind == "4" and field(msg, GapFillFlag) != "Y":
            # SequenceReset-Reset: takes effect regardless of its own MsgSeqNum.
            new_seq = self._seq_field(msg, NewSeqNo, "NewSeqNo")
            if new_seq > self.in_seq:
                self.in_seq = new_seq
            return None
        if seq is not None:
            if seq > self.in_seq:
                expected = self.in_seq
                self.in_seq = seq + 1
                if self.on_gap is not None:
                    self.on_gap(expected, seq)
                if self.resend_on_gap and kind not in ("2", "5"):
                    self.send("2", [(BeginSeqNo, expected), (EndSeqNo, 0)])
            elif seq < self.in_seq:
                if not poss_dup and kind not in ("5",):
                    self.close()
                    raise SessionClosed(
                        f"MsgSeqNum too low from the exchange: got {seq}, expected {self.in_seq}"
                    )
            else:
                self.in_seq = seq + 1
        if kind == "0":
            return None
        if kind == "1":
            self.send("0", [(TestReqID, field(msg, TestReqID, ""))])
            return None
        if kind == "2":
            # We never resend application messages: gap-fill the whole range.
            begin = self._seq_field(msg, BeginSeqNo, "BeginSeqNo")
            self.send_gap_fill(begin)
            return None
        if kind == "4":
            new_seq = self._seq_field(msg, NewSeqNo, "NewSeqNo")
            if new_seq > self.in_seq:
                self.in_seq = new_seq
            return None
        if kind == "5":
            self.logout_received = field(msg, Text) or ""
            if self.logged_on:
                try:
                    self.send("5")
                except SessionClosed:
                    pass
            self.logged_on = False
            self.close()
            text = f": {self.logout_received}" if self.logout_received else ""
            raise SessionClosed(f"the exchange logged us out{text}")
        if kind == "A":
            return None
        return msg

    def logout(self, timeout: float = 2.0,
               on_message: Callable[[simplefix.FixMessage], None] | None = None) -> None:
        """Send Logout and wait (briefly) for the answer; never raises.

        Application messages that arrive before the answer (the exchange sends them
        first: a stop the last order triggered, a fill on a resting order) go to
        `on_message` instead of being dropped."""
        if self.sock is None or self.closed:
            return
        try:
            if self.logged_on:
                for msg in self._pending:
                    if on_message is not None:
                        on_message(msg)
                self._pending.clear()
                self.send("5")
                deadline = time.monotonic() + timeout
                while time.monotonic() < deadline:
                    msg = self._read_one(deadline - time.monotonic())
                    if msg is None:
                        continue
                    kind = msg_type(msg)
                    if kind == "5":
                        break
                    if kind == "1":
                        self.send("0", [(TestReqID, field(msg, TestReqID, ""))])
                    elif kind not in ("0", "2", "4", "A") and on_message is not None:
                        on_message(msg)
        except ToolError:
            pass
        finally:
            self.logged_on = False
            self.close()

    def close(self) -> None:
        self.closed = True
        if self.sock is not None:
            try:
                self.sock.close()
            except OSError:
                pass


_print_lock = threading.RLock()


def say(line: str, out=None) -> None:
    """Print one line; safe from the interactive reader thread."""
    with _print_lock:
        print(line, file=out if out is not None else sys.stdout, flush=True)


def msg_seq(msg: simplefix.FixMessage) -> int | None:
    value = msg.get(MsgSeqNum)
    try:
        return int(value) if value is not None else None
    except ValueError:
        return None


def fail(tool: str, error: ToolError) -> int:
    print(f"{tool}: error: {error}", file=sys.stderr, flush=True)
    return error.code


class OneLineArgumentParser(argparse.ArgumentParser):
    """argparse that raises one-line UsageErrors instead of printing usage and exiting."""

    tool = "fix-send"  # named in the hint; each tool's parser sets its own

    def error(self, message: str):
        raise UsageError(f"{message} (see {self.tool} --help)")

    def parse_known_args(self, args=None, namespace=None):
        try:
            return super().parse_known_args(args, namespace)
        except argparse.ArgumentError as exc:
            raise UsageError(f"{exc} (see {self.tool} --help)") from None


def quiet_broken_pipe() -> int:
    """stdout went away (e.g. `fix-send symbols | head`): stop quietly, as Unix tools do.

    Point stdout at /dev/null so the interpreter's final flush does not raise again.
    """
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, sys.stdout.fileno())
    return 0
