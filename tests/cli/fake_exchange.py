"""A scripted loopback FIX peer for the tool tests that need an exact exchange behaviour
(a refused logon, silence, a sequence gap) the real daemon never shows on purpose."""

from __future__ import annotations

import socket
import threading
import time

import simplefix


class FakeConn:
    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock
        self.sock.settimeout(5.0)
        self.parser = simplefix.FixParser()
        self.seq = 1
        self.received: list[simplefix.FixMessage] = []

    def recv(self, timeout: float = 5.0) -> simplefix.FixMessage | None:
        deadline = time.monotonic() + timeout
        while True:
            msg = self.parser.get_message()
            if msg is not None:
                self.received.append(msg)
                return msg
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return None
            self.sock.settimeout(remaining)
            try:
                data = self.sock.recv(65536)
            except (socket.timeout, OSError):
                return None
            if not data:
                return None
            self.parser.append_buffer(data)

    def recv_type(self, kind: str, timeout: float = 5.0) -> simplefix.FixMessage | None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            msg = self.recv(deadline - time.monotonic())
            if msg is None:
                return None
            if msg.get(35) == kind.encode():
                return msg
        return None

    def send(self, kind: str, fields=(), seq: int | None = None) -> None:
        msg = simplefix.FixMessage()
        msg.append_pair(8, "FIX.4.4")
        msg.append_pair(35, kind)
        msg.append_pair(49, "FIXEXCH")
        msg.append_pair(56, "CLIENT1")
        msg.append_pair(34, self.seq if seq is None else seq)
        msg.append_pair(52, "20260101-00:00:00.000")
        for tag, value in fields:
            msg.append_pair(tag, value)
        self.seq = (self.seq if seq is None else seq) + 1
        try:
            self.sock.sendall(msg.encode())
        except OSError:
            pass

    def accept_logon(self) -> simplefix.FixMessage | None:
        logon = self.recv_type("A")
        if logon is not None:
            self.send("A", [(98, 0), (108, logon.get(108).decode())])
        return logon

    def close(self) -> None:
        try:
            self.sock.close()
        except OSError:
            pass


class FakeExchange:
    """Accepts connections on 127.0.0.1 and runs `script(conn)` for each in a thread."""

    def __init__(self, script) -> None:
        self.script = script
        self.listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.listener.bind(("127.0.0.1", 0))
        self.listener.listen(8)
        self.listener.settimeout(0.2)
        self.port = self.listener.getsockname()[1]
        self.conns: list[FakeConn] = []
        self.errors: list[BaseException] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._serve, daemon=True)

    def __enter__(self) -> "FakeExchange":
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join(timeout=5)
        self.listener.close()
        for conn in self.conns:
            conn.close()

    def _serve(self) -> None:
        while not self._stop.is_set():
            try:
                sock, _ = self.listener.accept()
            except (socket.timeout, OSError):
                continue
            conn = FakeConn(sock)
            self.conns.append(conn)
            threading.Thread(target=self._run, args=(conn,), daemon=True).start()

    def _run(self, conn: FakeConn) -> None:
        try:
            self.script(conn)
        except BaseException as exc:  # pragma: no cover - reported by the tests
            self.errors.append(exc)
        finally:
            conn.close()  # the script is over: the peer sees the connection end
