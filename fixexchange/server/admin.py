"""The admin endpoint: a small HTTP/1.1 server on the daemon's event loop (asyncio, stdlib).

Off by default (``[admin] enabled``), bound to a loopback address, every request must carry
``Authorization: Bearer <[admin] token>`` (compared in constant time).  Handlers run on the
event loop between FIX callbacks and only call the server's short, non-blocking operator
methods (``ExchangeServer.admin_*``), so no action can stall matching; reading the request
and writing the answer are asynchronous and bounded in size and time.

Routes (JSON answers, ``/metrics`` in the Prometheus text format)::

    GET  /metrics                     Prometheus exposition text
    GET  /sessions                    sessions: state, address, sequence numbers, queue bytes, counts
    GET  /symbols                     symbols: status, best bid/ask, depth, trades, volume
    POST /symbols/SYM/halt            {"reason": "..."} optional
    POST /symbols/SYM/resume
    POST /symbols/SYM/cancel-all      every live order of the symbol
    POST /sessions/COMPID/cancel-all  every live order of the session
    POST /sessions/COMPID/logout      {"reason": "..."} optional
    POST /reload-passwords            re-read usernames/passwords from the config file
"""
from __future__ import annotations

import asyncio
import hmac
import json
import logging
from urllib.parse import unquote

log = logging.getLogger("fixexchange")

MAX_HEADER_BYTES = 8192
MAX_BODY_BYTES = 65536
REQUEST_TIMEOUT = 5.0
MAX_CLIENTS = 16  # concurrent admin connections

_REASONS = {200: "OK", 400: "Bad Request", 401: "Unauthorized", 404: "Not Found",
            405: "Method Not Allowed", 409: "Conflict", 413: "Payload Too Large",
            431: "Request Header Fields Too Large", 500: "Internal Server Error", 503: "Service Unavailable"}


class AdminError(Exception):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


class AdminEndpoint:
    def __init__(self, server, host: str, port: int, token: str) -> None:
        self.server = server  # ExchangeServer
        self.host = host
        self.port = port
        self._token = ("Bearer " + token).encode()
        self._listener: asyncio.base_events.Server | None = None
        self._clients = 0

    async def start(self) -> None:
        self._listener = await asyncio.start_server(self._serve, self.host, self.port,
                                                    limit=MAX_HEADER_BYTES, reuse_address=True)
        self.port = self._listener.sockets[0].getsockname()[1]
        log.info("admin endpoint on http://%s:%d/", self.host, self.port,
                 extra={"event": "admin_listening", "fields": {"host": self.host, "port": self.port}})

    async def stop(self) -> None:
        if self._listener is not None:
            self._listener.close()
            await self._listener.wait_closed()
            self._listener = None

    # -- one request per connection ----------------------------------------------------
    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        if self._clients >= MAX_CLIENTS:
            writer.close()
            return
        self._clients += 1
        try:
            try:
                method, path, headers, body = await asyncio.wait_for(self._read(reader), REQUEST_TIMEOUT)
            except AdminError as e:
                await self._answer(writer, e.status, {"error": str(e)})
                return
            except (asyncio.TimeoutError, asyncio.IncompleteReadError, ConnectionError, ValueError,
                    asyncio.LimitOverrunError):
                return
            if not hmac.compare_digest(headers.get("authorization", "").encode("latin-1"), self._token):
                log.warning("admin: %s %s refused: missing or wrong token", method, path,
                            extra={"event": "admin_refused", "fields": {"method": method, "path": path}})
                await self._answer(writer, 401, {"error": "missing or wrong token (Authorization: Bearer <token>)"},
                                   extra_headers=(("WWW-Authenticate", 'Bearer realm="fixexchange"'),))
                return
            try:
                status, result = self._route(method, path, body)
                if asyncio.iscoroutine(result):  # an action that yields to the loop between slices
                    result = await result
            except AdminError as e:
                status, result = e.status, {"error": str(e)}
            except OSError as e:  # the command journal cannot be written: nothing was done
                status, result = 503, {"error": f"not done: the exchange cannot write its journal "
                                                f"({e.strerror or e})"}
            except Exception:  # a bug in an action must not take the daemon down
                log.exception("admin: %s %s failed", method, path)
                status, result = 500, {"error": "internal error (see the daemon's log)"}
            await self._answer(writer, status, result)
        finally:
            self._clients -= 1
            writer.close()

    async def _read(self, reader: asyncio.StreamReader):
        head = await reader.readuntil(b"\r\n\r\n")
        if len(head) > MAX_HEADER_BYTES:
            raise AdminError(431, "request header too large")
        lines = head.decode("latin-1").split("\r\n")
        parts = lines[0].split(" ")
        if len(parts) != 3 or not parts[2].startswith("HTTP/1."):
            raise AdminError(400, "bad request line")
        method, target, _ = parts
        headers = {}
        for line in lines[1:]:
            if not line:
                continue
            name, colon, value = line.partition(":")
            if not colon:
                raise AdminError(400, "bad header line")
            headers[name.strip().lower()] = value.strip()
        body = b""
        length_text = headers.get("content-length")
        if length_text is not None:
            if not length_text.isdigit():
                raise AdminError(400, "bad Content-Length")
            length = int(length_text)
            if length > MAX_BODY_BYTES:
                raise AdminError(413, f"body over {MAX_BODY_BYTES} bytes")
            body = await reader.readexactly(length)
        return method, target.split("?", 1)[0], headers, body

    async def _answer(self, writer: asyncio.StreamWriter, status: int, result,
                      extra_headers: tuple = ()) -> None:
        if isinstance(result, str):
            payload = result.encode()
            content_type = "text/plain; version=0.0.4; charset=utf-8"
        else:
            payload = (json.dumps(result, indent=1) + "\n").encode()
            content_type = "application/json"
        head = [f"HTTP/1.1 {status} {_REASONS.get(status, 'Error')}", f"Content-Type: {content_type}",
                f"Content-Length: {len(payload)}", "Connection: close", "Cache-Control: no-store"]
        head += [f"{name}: {value}" for name, value in extra_headers]
        writer.write(("\r\n".join(head) + "\r\n\r\n").encode("latin-1") + payload)
        try:
            await asyncio.wait_for(writer.drain(), REQUEST_TIMEOUT)
        except (asyncio.TimeoutError, ConnectionError):
            pass

    # -- routing ------------------------------------------------------------------------
    def _route(self, method: str, path: str, body: bytes):
        srv = self.server
        parts = [unquote(p) for p in path.strip("/").split("/")] if path.strip("/") else []
        if parts == ["metrics"]:
            self._want(method, "GET")
            return 200, srv.metrics.render(srv)
        if parts == ["sessions"]:
            self._want(method, "GET")
            return 200, {"sessions": srv.admin_sessions()}
        if parts == ["symbols"]:
            self._want(method, "GET")
            return 200, {"symbols": srv.admin_symbols()}
        if parts == ["reload-passwords"]:
            self._want(method, "POST")
            return 200, srv.admin_reload_passwords()
        if len(parts) == 3 and parts[0] == "symbols":
            self._want(method, "POST")
            symbol, action = parts[1], parts[2]
            if action == "halt":
                return 200, srv.admin_halt(symbol, self._reason(body, "halted by the exchange operator"))
            if action == "resume":
                return 200, srv.admin_resume(symbol)
            if action == "cancel-all":
                return 200, srv.admin_cancel(symbol=symbol)
        if len(parts) == 3 and parts[0] == "sessions":
            self._want(method, "POST")
            session, action = parts[1], parts[2]
            if action == "cancel-all":
                return 200, srv.admin_cancel(session=session)
            if action == "logout":
                return 200, srv.admin_logout(session, self._reason(body, "logged out by the exchange operator"))
        raise AdminError(404, f"no such resource: {path}")

    @staticmethod
    def _want(method: str, wanted: str) -> None:
        if method != wanted:
            raise AdminError(405, f"use {wanted}")

    @staticmethod
    def _reason(body: bytes, default: str) -> str:
        if not body.strip():
            return default
        try:
            data = json.loads(body)
        except ValueError:
            raise AdminError(400, "body must be JSON like {\"reason\": \"...\"}") from None
        reason = data.get("reason", default) if isinstance(data, dict) else None
        if not isinstance(reason, str) or not reason.isprintable() or len(reason) > 200:
            raise AdminError(400, "reason must be printable text of at most 200 characters")
        return reason or default
