"""A minimal blocking-socket host for the sans-IO Acceptor, so `SocketTransport` is
tested over real loopback TCP without the daemon (which has its own tests)."""

from __future__ import annotations

import selectors
import socket
import threading
import time

from fixexchange.session import Acceptor


class LoopbackExchange:
    def __init__(self, acceptor: Acceptor) -> None:
        self.acceptor = acceptor
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.listener.setblocking(False)
        self.port = self.listener.getsockname()[1]
        self.selector = selectors.DefaultSelector()
        self.selector.register(self.listener, selectors.EVENT_READ)
        self.connections: dict[socket.socket, object] = {}
        self.stopping = threading.Event()
        self.thread = threading.Thread(target=self._serve, daemon=True)

    def __enter__(self) -> LoopbackExchange:
        self.thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.stopping.set()
        self.thread.join(5)
        for sock in list(self.connections):
            sock.close()
        self.listener.close()
        self.selector.close()

    def _flush(self, sock: socket.socket, connection) -> None:
        data = connection.data_to_send()
        if data:
            try:
                sock.sendall(data)
            except OSError:
                pass
        if connection.closed:
            self.selector.unregister(sock)
            del self.connections[sock]
            sock.close()

    def _serve(self) -> None:
        while not self.stopping.is_set():
            for key, _ in self.selector.select(timeout=0.02):
                sock = key.fileobj
                if sock is self.listener:
                    client, _ = self.listener.accept()
                    self.connections[client] = self.acceptor.connection_made(time.time())
                    self.selector.register(client, selectors.EVENT_READ)
                    continue
                connection = self.connections[sock]
                try:
                    data = sock.recv(65536)
                except OSError:
                    data = b""
                if data:
                    connection.receive_data(data, time.time())
                    self._flush(sock, connection)
                else:
                    connection.connection_lost(time.time())
                    self.selector.unregister(sock)
                    del self.connections[sock]
                    sock.close()
            now = time.time()
            for sock, connection in list(self.connections.items()):
                deadline = connection.next_deadline()
                if deadline is not None and now >= deadline:
                    connection.on_timer(now)
                    self._flush(sock, connection)
