"""``fix-admin``: drive the exchange's admin endpoint (``[admin]`` in the exchange config).

    fix-admin sessions                 who is connected, sequence numbers, queues, counts
    fix-admin symbols                  status, best bid/ask, depth, trades, volume
    fix-admin halt SYM1 [--reason T]   halt a symbol (SecurityStatus to subscribers)
    fix-admin resume SYM1
    fix-admin cancel-session CLIENT1   cancel every live order of a session
    fix-admin cancel-symbol SYM1       cancel every live order in a symbol
    fix-admin logout CLIENT1 [--reason T]
    fix-admin reload-passwords         re-read usernames/passwords from the exchange config
    fix-admin metrics                  the Prometheus text

Settings: flags > environment > config file > defaults, as for fix-send:
``--host`` (``FIXEXCH_ADMIN_HOST``, default 127.0.0.1), ``--port`` (``FIXEXCH_ADMIN_PORT``,
default 9879), ``--token`` (``FIXEXCH_ADMIN_TOKEN``), ``--timeout`` (``FIXEXCH_TIMEOUT``);
the client config file (``--config``, ``FIXEXCH_CLIENT_CONFIG``,
``~/.config/fixexchange/client.toml``) gives them in a ``[fix-admin]`` table (a top-level
``host``/``timeout`` applies too; a top-level ``port`` is the FIX port and does not).

Exit codes: 0 done, 1 refused by the exchange (wrong token, unknown symbol/session, ...),
2 bad arguments or config, 3 cannot connect, 4 timeout.
"""
from __future__ import annotations

import argparse
import json
import os
import socket
import sys
import tomllib
import urllib.error
import urllib.request
from urllib.parse import quote

from .client import CONFIG_ENV, EXIT_CONNECTION, EXIT_OK, EXIT_REJECTED, EXIT_TIMEOUT, EXIT_USAGE, \
    convert_setting, default_config_path

TOOL = "fix-admin"
DEFAULTS = {"host": "127.0.0.1", "port": 9879, "token": None, "timeout": 10.0}
ENV = {"host": "FIXEXCH_ADMIN_HOST", "port": "FIXEXCH_ADMIN_PORT", "token": "FIXEXCH_ADMIN_TOKEN",
       "timeout": "FIXEXCH_TIMEOUT"}
KEYS = tuple(DEFAULTS)


class AdminToolError(Exception):
    def __init__(self, message: str, code: int) -> None:
        super().__init__(message)
        self.code = code


def _convert(key: str, value, source: str):
    return convert_setting(key, value, source, lambda message: AdminToolError(message, EXIT_USAGE))


def _from_file(path: str) -> dict:
    try:
        with open(path, "rb") as handle:
            data = tomllib.load(handle)
    except FileNotFoundError:
        raise AdminToolError(f"{path}: config file not found", EXIT_USAGE) from None
    except OSError as exc:
        raise AdminToolError(f"{path}: cannot read: {exc.strerror}", EXIT_USAGE) from None
    except tomllib.TOMLDecodeError as exc:
        raise AdminToolError(f"{path}: not valid TOML: {exc}", EXIT_USAGE) from None
    values = {key: _convert(key, data[key], path) for key in ("host", "timeout") if key in data}
    table = data.get(TOOL, {})
    if not isinstance(table, dict):
        raise AdminToolError(f"{path}: {TOOL}: expected a table", EXIT_USAGE)
    for key, value in table.items():
        if key not in KEYS:
            raise AdminToolError(f"{path}: {TOOL}.{key}: unknown key (known: {', '.join(KEYS)})", EXIT_USAGE)
        values[key] = _convert(key, value, path)
    return values


def resolve(flags: dict, config_path: str | None = None, environ: dict | None = None) -> dict:
    """Flags (non-None) > environment > config file > defaults."""
    environ = dict(os.environ) if environ is None else environ
    values = dict(DEFAULTS)
    path = config_path or environ.get(CONFIG_ENV)
    if path:
        values.update(_from_file(path))
    elif os.path.exists(default_config_path(environ)):
        values.update(_from_file(default_config_path(environ)))
    for key, var in ENV.items():
        if environ.get(var):
            values[key] = _convert(key, environ[var], var)
    for key in KEYS:
        if flags.get(key) is not None:
            values[key] = _convert(key, flags[key], f"--{key}")
    return values


def request(settings: dict, method: str, path: str, body: dict | None = None) -> tuple[int, bytes]:
    host = settings["host"]
    url = f"http://{'[' + host + ']' if ':' in host else host}:{settings['port']}{path}"
    data = None if body is None else json.dumps(body).encode()
    req = urllib.request.Request(url, data=data, method=method)
    if settings["token"]:
        req.add_header("Authorization", "Bearer " + settings["token"])
    if data is not None:
        req.add_header("Content-Type", "application/json")
    try:
        with urllib.request.urlopen(req, timeout=settings["timeout"]) as answer:
            return answer.status, answer.read()
    except urllib.error.HTTPError as e:
        return e.code, e.read()
    except (socket.timeout, TimeoutError):
        raise AdminToolError(f"{url}: no answer within {settings['timeout']:g} s", EXIT_TIMEOUT) from None
    except urllib.error.URLError as e:
        reason = e.reason
        if isinstance(reason, (socket.timeout, TimeoutError)):
            raise AdminToolError(f"{url}: no answer within {settings['timeout']:g} s", EXIT_TIMEOUT) from None
        raise AdminToolError(f"cannot connect to the admin endpoint {url}: {getattr(reason, 'strerror', None) or reason}"
                             " (is [admin] enabled in the exchange config?)", EXIT_CONNECTION) from None
    except (ConnectionError, OSError) as e:
        raise AdminToolError(f"cannot connect to the admin endpoint {url}: {e}", EXIT_CONNECTION) from None


def _table(rows: list[dict], columns: list[tuple[str, str]]) -> str:
    cells = [[title for title, _ in columns]]
    for row in rows:
        cells.append(["-" if row.get(key) is None else str(row.get(key)) for _, key in columns])
    widths = [max(len(line[i]) for line in cells) for i in range(len(columns))]
    return "\n".join("  ".join(cell.ljust(width) for cell, width in zip(line, widths)).rstrip() for line in cells)


SESSION_COLUMNS = [("SESSION", "comp_id"), ("STATE", "state"), ("ADDRESS", "address"),
                   ("NEXT OUT", "next_sender_seq"), ("NEXT IN", "next_target_seq"), ("QUEUE B", "queue_bytes"),
                   ("MSGS IN", "messages_in"), ("MSGS OUT", "messages_out"), ("LIVE ORDERS", "live_orders")]
SYMBOL_COLUMNS = [("SYMBOL", "symbol"), ("STATUS", "status"), ("BID", "best_bid"), ("BID QTY", "best_bid_qty"),
                  ("ASK", "best_ask"), ("ASK QTY", "best_ask_qty"), ("BID LVLS", "bid_levels"),
                  ("ASK LVLS", "ask_levels"), ("TRADES", "trades"), ("VOLUME", "volume"), ("LAST", "last_price")]


def _connection_options(parser: argparse.ArgumentParser) -> None:
    # SUPPRESS: given before or after the command, the one given wins (no default overwrites it)
    group = parser.add_argument_group("connection (flags > environment > config file)")
    group.add_argument("--host", default=argparse.SUPPRESS, help="admin host [$FIXEXCH_ADMIN_HOST, default 127.0.0.1]")
    group.add_argument("--port", default=argparse.SUPPRESS, help="admin port [$FIXEXCH_ADMIN_PORT, default 9879]")
    group.add_argument("--token", default=argparse.SUPPRESS,
                       help="the [admin] token of the exchange config [$FIXEXCH_ADMIN_TOKEN]")
    group.add_argument("--timeout", metavar="SECONDS", default=argparse.SUPPRESS, help="[$FIXEXCH_TIMEOUT, default 10]")
    group.add_argument("--config", metavar="FILE", default=argparse.SUPPRESS,
                       help="client config file, [fix-admin] table "
                       "[$FIXEXCH_CLIENT_CONFIG, default ~/.config/fixexchange/client.toml if it exists]")
    group.add_argument("--json", action="store_true", default=argparse.SUPPRESS,
                       help="print the endpoint's JSON as it is")


def parser() -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(prog=TOOL, description="Operate a running fixexchange through its admin endpoint.",
                                 epilog=__doc__.split("\n\n")[1], formatter_class=argparse.RawDescriptionHelpFormatter,
                                 exit_on_error=False)
    _connection_options(ap)
    sub = ap.add_subparsers(dest="command", metavar="COMMAND")

    def command(name: str, what: str) -> argparse.ArgumentParser:
        p = sub.add_parser(name, help=what, exit_on_error=False)
        _connection_options(p)
        return p

    command("sessions", "list sessions")
    command("symbols", "list symbols")
    for name, what in (("halt", "halt a symbol"), ("resume", "resume a symbol"),
                       ("cancel-symbol", "cancel every live order of a symbol")):
        p = command(name, what)
        p.add_argument("symbol")
        if name == "halt":
            p.add_argument("--reason", help="Text(58) of the SecurityStatus and of the rejects")
    for name, what in (("cancel-session", "cancel every live order of a session"),
                       ("logout", "log a session out")):
        p = command(name, what)
        p.add_argument("session", help="the client's CompID (or the full session id)")
        if name == "logout":
            p.add_argument("--reason", help="Text(58) of the Logout")
    command("reload-passwords", "re-read usernames and passwords from the exchange config")
    command("metrics", "print the Prometheus metrics")
    return ap


def run(args, settings: dict, out) -> int:
    command = args.command
    body = None
    if command in ("sessions", "symbols", "metrics"):
        method, path = "GET", "/" + command
    elif command in ("halt", "resume"):
        method, path = "POST", f"/symbols/{quote(args.symbol, safe='')}/{command}"
        if getattr(args, "reason", None):
            body = {"reason": args.reason}
    elif command == "cancel-symbol":
        method, path = "POST", f"/symbols/{quote(args.symbol, safe='')}/cancel-all"
    elif command == "cancel-session":
        method, path = "POST", f"/sessions/{quote(args.session, safe='')}/cancel-all"
    elif command == "logout":
        method, path = "POST", f"/sessions/{quote(args.session, safe='')}/logout"
        if args.reason:
            body = {"reason": args.reason}
    else:  # reload-passwords
        method, path = "POST", "/reload-passwords"
    status, payload = request(settings, method, path, body)
    text = payload.decode("utf-8", "replace")
    if status != 200:
        try:
            message = json.loads(text).get("error", text)
        except (ValueError, AttributeError):
            message = text.strip()
        raise AdminToolError(f"{TOOL}: {command} refused ({status}): {message}", EXIT_REJECTED)
    if command == "metrics" or getattr(args, "json", False):
        out.write(text if text.endswith("\n") else text + "\n")
        return EXIT_OK
    result = json.loads(text)
    if command == "sessions":
        out.write(_table(result["sessions"], SESSION_COLUMNS) + "\n")
    elif command == "symbols":
        out.write(_table(result["symbols"], SYMBOL_COLUMNS) + "\n")
    elif command == "halt":
        out.write(f"{result['symbol']} halted ({result['reason']}); "
                  f"SecurityStatus sent to {result['subscribers_notified']} subscribers\n")
    elif command == "resume":
        out.write(f"{result['symbol']} trading again; SecurityStatus sent to {result['subscribers_notified']} subscribers\n")
    elif command in ("cancel-symbol", "cancel-session"):
        out.write(f"{result['cancelled']} orders cancelled\n")
    elif command == "logout":
        out.write(f"Logout sent to {result['session']}\n")
    else:
        out.write(f"passwords reloaded for {len(result['updated'])} sessions"
                  + (f"; not configured at start (restart to add): {', '.join(result['not_configured_at_start'])}"
                     if result["not_configured_at_start"] else "") + "\n")
    return EXIT_OK


def main(argv: list[str] | None = None, out=None, environ: dict | None = None) -> int:
    out = sys.stdout if out is None else out
    ap = parser()
    try:
        try:
            args = ap.parse_args(sys.argv[1:] if argv is None else argv)
        except argparse.ArgumentError as exc:
            raise AdminToolError(f"{TOOL}: {exc} (see {TOOL} --help)", EXIT_USAGE) from None
        if args.command is None:
            raise AdminToolError(f"{TOOL}: no command given, e.g. '{TOOL} sessions' (see {TOOL} --help)", EXIT_USAGE)
        settings = resolve({key: getattr(args, key, None) for key in KEYS}, getattr(args, "config", None), environ)
        if not settings["token"]:
            raise AdminToolError(f"{TOOL}: no token: give --token, $FIXEXCH_ADMIN_TOKEN or token in the "
                                 "[fix-admin] table of the client config (the exchange's [admin] token)", EXIT_USAGE)
        return run(args, settings, out)
    except AdminToolError as e:
        print(str(e) if str(e).startswith(TOOL) else f"{TOOL}: {e}", file=sys.stderr)
        return e.code
    except SystemExit as e:  # --help, or argparse's own usage errors
        return int(e.code or 0) if isinstance(e.code, int) else EXIT_USAGE


if __name__ == "__main__":
    sys.exit(main())
