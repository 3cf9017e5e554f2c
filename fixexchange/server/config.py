"""Exchange configuration: a TOML file (stdlib ``tomllib``) -> frozen dataclasses.

Every problem raises :class:`ConfigError` whose message is ONE line:
``<file>: <key>: <problem>``.  See ``config/exchange.toml`` for the annotated default.

Layout::

    [server]            listen address, exchange CompID, directories, limits
    [session_defaults]  defaults for every [[session]] (and for accept-any)
    [[session]]         one per known client CompID
    [accept_any]        opt-in: accept any client CompID (quick trials)
    [symbol_defaults]   defaults for every [[symbol]]
    [[symbol]]          one per tradable symbol
    [seed]              seeded liquidity: default rule, owner; [seed.symbols.SYMx] overrides
    [admin]             the local admin/metrics HTTP endpoint (off by default)
"""
from __future__ import annotations

import tomllib
from dataclasses import dataclass, replace
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any
from ..gateway import EXTENSIONS
from ..gateway.common import MAX_MARKET_DATA_SUBSCRIPTIONS
from ..session import SessionConfig
from ..session.limits import LogonThrottleConfig

_LOGON_THROTTLE = LogonThrottleConfig()  # the logon_* defaults below are its own

__all__ = [
    "ConfigError",
    "ServerConfig",
    "SessionDef",
    "SymbolDef",
    "SeedOrder",
    "ExchangeConfig",
    "JournalConfig",
    "load_config",
    "parse_config",
    "DEFAULT_CONFIG_PATH",
    "STP_MODES",
    "ALGORITHMS",
    "AdminConfig",
    "SESSION_ROLES",
]

# The bundled config: `exchange.toml` next to this file is a symlink to config/exchange.toml in
# the source tree and a copy of it in an installed wheel (package data), so a non-editable
# install runs with it too.
DEFAULT_CONFIG_PATH = (Path(__file__).resolve().parent / "exchange.toml").resolve()

STP_MODES = ("none", "cancel_newest", "cancel_oldest", "cancel_both", "decrement")
ALGORITHMS = ("fifo", "pro_rata")
BEGIN_STRINGS = ("FIX.4.4",)
SESSION_ROLES = ("trading", "drop_copy")
LOG_FORMATS = ("text", "json")


class ConfigError(Exception):
    """A bad configuration; ``str(err)`` is one line: ``file: key: problem``."""

    def __init__(self, file: str, key: str, problem: str) -> None:
        self.file = file
        self.key = key
        self.problem = problem
        super().__init__(f"{file}: {key}: {problem}".replace("\n", " "))


@dataclass(frozen=True, slots=True)
class ServerConfig:
    host: str = "127.0.0.1"
    port: int = 9878
    comp_id: str = "FIXEXCH"
    store: str = "file"  # "file" (durable, under store_dir) or "memory"
    store_dir: str = "var/store"
    log_dir: str = "var/log"
    message_log: bool = False  # per-session FIX message log files under log_dir
    max_connections: int = 2000
    logon_timeout: float = 10.0
    logout_timeout: float = 2.0
    max_bytes_before_logon: int = 8192
    # outbound buffer (bytes, per connection): above the high-water mark market data is
    # conflated; above the hard limit the connection is dropped (reports are resent later).
    outbound_high_water: int = 256 * 1024
    outbound_hard_limit: int = 8 * 1024 * 1024
    # fairness: at most this many bytes are read (and processed) per connection per loop round
    read_chunk: int = 65536
    gtd_interval: float = 1.0  # seconds between gateway.advance_time calls
    # UTC time of day ("HH:MM") at which every live DAY order expires; "" = never
    end_of_day: str = "00:00"
    # latency mode: after a read of a few application messages keep the event loop polling
    # (no sleep in epoll_wait) for this many microseconds; 0 = off.  Trades CPU for
    # round-trip time while a client has few orders in flight (see README).
    busy_poll_us: int = 300  # latency mode's longest poll; adaptive (server/latency.py); 0 = off
    # market data conflation: subscribers get at most one update per this many milliseconds
    # (the net change of each level since the last one; every trade); 0 = one per loop turn
    market_data_conflation_ms: int = 0
    # operating (README "Operating"): "text" or "json" (one JSON object per line) event logs,
    # and a one-line activity summary on the console every summary_interval seconds (0 = off)
    log_format: str = "text"
    summary_interval: float = 60.0
    # -- hardening (README "Security and limits") ------------------------------------------
    # connections that have not logged on yet: their own budget (the oldest is dropped to
    # make room, so a configured session can always log on) and a cap per source address
    # (above it a new connection is refused at once); refusals are counted and logged as
    # one summary line per refusal_log_interval seconds
    max_pending_connections: int = 1000
    max_pending_per_source: int = 100
    refusal_log_interval: float = 10.0
    # failed logons per source address and per CompID: answered at once up to
    # logon_free_failures, then after logon_failure_delay doubled per failure (at most
    # logon_max_delay); locked out for logon_lockout_seconds after logon_lockout_after
    # failures from one address (logon_lockout_after_comp_id for one CompID)
    logon_free_failures: int = _LOGON_THROTTLE.free_failures
    logon_failure_delay: float = _LOGON_THROTTLE.base_delay
    logon_max_delay: float = _LOGON_THROTTLE.max_delay
    logon_lockout_after: int = _LOGON_THROTTLE.lockout_after
    logon_lockout_after_comp_id: int = _LOGON_THROTTLE.lockout_after_comp_id
    logon_lockout_seconds: float = _LOGON_THROTTLE.lockout_seconds
    # fairness: at most this many inbound messages are processed per connection per loop
    # turn; contended_messages_per_turn while more than one connection is sending (messages
    # from two connections less than 10 ms apart), so a pipelining session alone keeps its
    # throughput and a window-1 session beside a flood waits for few of its messages
    max_messages_per_turn: int = 256
    contended_messages_per_turn: int = 2
    # TLS listener (stdlib ssl), beside the plain one unless plain_listener = false
    tls: bool = False
    tls_port: int = 9880
    tls_cert_file: str = ""
    tls_key_file: str = ""
    tls_min_version: str = "1.2"  # "1.2" or "1.3"
    tls_client_ca_file: str = ""  # CA bundle that signs client certificates
    tls_client_cert: str = "none"  # none | optional | required; a verified one must name the SenderCompID
    plain_listener: bool = True


@dataclass(frozen=True, slots=True)
class JournalConfig:
    """[journal]: the command journal and snapshots (docs/DESIGN.md, "Durability")."""
    enabled: bool = True
    # journal segments and snapshots; "" = <server.store_dir>/journal (the session stores
    # and the journal must come from the same run: keep them together)
    directory: str = ""
    # "off": write() before replies (survives a crash of the process); "batch": plus one
    # fdatasync per event-loop turn before its replies (survives losing the machine);
    # "always": every command written and fdatasynced before it runs
    fsync: str = "off"
    snapshot_every_commands: int = 1_000_000  # 0 = never by count
    snapshot_every_seconds: float = 3600.0  # 0 = never by time (only if commands came in)
    # final orders remembered for status requests and too-late-to-cancel (engine, all
    # sessions) and for duplicate-ClOrdID detection (gateway, per session)
    final_orders: int = 100_000
    final_orders_per_session: int = 10_000


_SESSION = SessionConfig("", "")  # the session layer's defaults, not repeated here


@dataclass(frozen=True, slots=True)
class SessionDef:
    target_comp_id: str
    begin_string: str = "FIX.4.4"
    username: str | None = None
    password: str | None = None
    reset_on_logon: bool = False
    reset_on_logout: bool = False
    reset_on_disconnect: bool = False
    heartbeat_min: int = 1
    heartbeat_max: int = 300
    sending_time_tolerance: float = 120.0
    stp: str = "cancel_newest"
    on_behalf_of_comp_ids: tuple[str, ...] = ()  # OnBehalfOfCompID(115) values allowed (test case 18)
    deliver_to_comp_ids: tuple[str, ...] = ()  # DeliverToCompID(128) values allowed (test case 18)
    # operating: live orders are cancelled when the connection ends (after the grace period,
    # seconds, unless the session logs on again); a Logon's CancelOnDisconnect(9001) overrides
    cancel_on_disconnect: bool = False
    cancel_on_disconnect_grace: float = 0.0
    # "drop_copy": receives a copy of every ExecutionReport of the sessions in drop_copy_of
    # (their client CompIDs; empty = every trading session) and may not trade
    role: str = "trading"
    drop_copy_of: tuple[str, ...] = ()
    extensions: tuple[str, ...] = ()  # wire extensions beyond FIX 4.4 (gateway.EXTENSIONS)
    # throttles (0 = off) and per-session memory bound: SessionConfig's meaning and defaults
    max_message_rate: float = _SESSION.max_message_rate
    message_burst: int = _SESSION.message_burst
    max_order_rate: float = _SESSION.max_order_rate
    order_burst: int = _SESSION.order_burst
    throttle_logout_rejects: int = _SESSION.throttle_logout_rejects
    max_queued_bytes: int = _SESSION.max_queued_bytes
    # market-data subscriptions held at once; one more gets MarketDataRequestReject
    max_market_data_subscriptions: int = MAX_MARKET_DATA_SUBSCRIPTIONS


@dataclass(frozen=True, slots=True)
class SeedOrder:
    side: str  # "buy" | "sell"
    price: str  # exact decimal string
    qty: int


@dataclass(frozen=True, slots=True)
class SymbolDef:
    name: str
    tick_size: str = "0.01"
    lot_size: int = 1
    min_qty: int = 1
    max_qty: int = 1_000_000
    band_low: str | None = None  # optional price band (inclusive) for limit and stop prices
    band_high: str | None = None
    algorithm: str = "fifo"
    seed: tuple[SeedOrder, ...] = ()

    @property
    def price_scale(self) -> int:
        """Decimal places of the tick size ("0.01" -> 2, "5" -> 0)."""
        exp = Decimal(self.tick_size).normalize().as_tuple().exponent
        return max(0, -int(exp))


@dataclass(frozen=True, slots=True)
class AdminConfig:
    """The admin/metrics HTTP endpoint: off by default, loopback only, bearer token."""

    enabled: bool = False
    host: str = "127.0.0.1"
    port: int = 9879
    token: str = ""


@dataclass(frozen=True, slots=True)
class ExchangeConfig:
    path: str
    server: ServerConfig
    sessions: tuple[SessionDef, ...]
    accept_any: SessionDef | None  # template for unknown CompIDs, None = off
    symbols: tuple[SymbolDef, ...]
    seed_owner: str = "HOUSE"
    admin: AdminConfig = AdminConfig()
    journal: JournalConfig = JournalConfig()

    def symbol(self, name: str) -> SymbolDef:
        for s in self.symbols:
            if s.name == name:
                return s
        raise KeyError(name)


# ---------------------------------------------------------------------------------------
# validation helpers


class _V:
    def __init__(self, file: str) -> None:
        self.file = file

    def err(self, key: str, problem: str) -> ConfigError:
        return ConfigError(self.file, key, problem)

    def table(self, value: Any, key: str) -> dict:
        if not isinstance(value, dict):
            raise self.err(key, f"expected a table, got {_tname(value)}")
        return value

    def check_keys(self, tbl: dict, key: str, allowed: set[str]) -> None:
        for k in tbl:
            if k not in allowed:
                full = f"{key}.{k}" if key else k
                raise self.err(full, f"unknown key (allowed: {', '.join(sorted(allowed))})")

    def get(self, tbl: dict, key: str, name: str, typ: type | tuple, default: Any) -> Any:
        full = f"{key}.{name}" if key else name
        if name not in tbl:
            return default
        v = tbl[name]
        types = typ if isinstance(typ, tuple) else (typ,)
        ok = isinstance(v, types)
        if ok and bool not in types and isinstance(v, bool):
            ok = False  # TOML true is not an integer here
        if not ok and float in types and isinstance(v, int) and not isinstance(v, bool):
            v = float(v)
            ok = True
        if not ok:
            want = " or ".join(_TYPENAMES.get(t, t.__name__) for t in types)
            raise self.err(full, f"expected {want}, got {_tname(v)}")
        return v

    def positive(self, v: int | float, full: str, zero_ok: bool = False) -> None:
        if v != v or v == float("inf"):  # TOML nan/inf: a nan timer interval spins the loop
            raise self.err(full, f"must be a finite number, got {v}")
        if v < 0 or (v == 0 and not zero_ok):
            raise self.err(full, f"must be {'>= 0' if zero_ok else '> 0'}, got {v}")

    def choice(self, v: str, full: str, choices: tuple[str, ...]) -> None:
        if v not in choices:
            raise self.err(full, f"must be one of {', '.join(choices)}, got {v!r}")

    def decimal(self, v: Any, full: str, positive: bool = True) -> Decimal:
        if isinstance(v, bool) or not isinstance(v, (str, int)):
            raise self.err(full, f"expected a decimal string like \"0.01\", got {_tname(v)}")
        try:
            d = Decimal(str(v))
        except InvalidOperation:
            raise self.err(full, f"not a decimal number: {v!r}") from None
        if not d.is_finite():
            raise self.err(full, f"not a finite number: {v!r}")
        if positive and d <= 0:
            raise self.err(full, f"must be > 0, got {v!r}")
        return d


_TYPENAMES = {str: "a string", int: "an integer", float: "a number", bool: "a boolean",
              list: "an array", dict: "a table"}


def _tname(v: Any) -> str:
    if isinstance(v, bool):
        return "a boolean"
    return _TYPENAMES.get(type(v), type(v).__name__)


_SERVER_KEYS = {f for f in ServerConfig.__dataclass_fields__}
_SESSION_KEYS = {f for f in SessionDef.__dataclass_fields__}
_SESSION_DEFAULT_KEYS = _SESSION_KEYS - {"target_comp_id"}
_SYMBOL_KEYS = {f for f in SymbolDef.__dataclass_fields__} - {"seed"}
_SYMBOL_DEFAULT_KEYS = _SYMBOL_KEYS - {"name"}
_TOP_KEYS = {"server", "session_defaults", "session", "accept_any", "symbol_defaults",
             "symbol", "seed", "admin", "journal"}
_ADMIN_KEYS = {f for f in AdminConfig.__dataclass_fields__}
_LOOPBACK_HOSTS = ("localhost", "::1")
_MIN_ADMIN_TOKEN = 16
_JOURNAL_KEYS = {f for f in JournalConfig.__dataclass_fields__}
_SEED_KEYS = {"owner", "bids", "asks", "symbols"}
_MAX_READ_CHUNK = 16 * 1024 * 1024
_MAX_CONFLATION_MS = 10_000  # staler than this is not market data
_MAX_BUSY_POLL_US = 100_000  # beyond this it is a spinning daemon, not a latency mode


def load_config(path: str | Path) -> ExchangeConfig:
    """Read and validate ``path``; raises ConfigError (one line) on any problem."""
    p = Path(path)
    file = str(path)
    try:
        raw = p.read_bytes()
    except FileNotFoundError:
        raise ConfigError(file, "(file)", "no such file") from None
    except IsADirectoryError:
        raise ConfigError(file, "(file)", "is a directory, not a TOML file") from None
    except OSError as e:
        raise ConfigError(file, "(file)", f"cannot read: {e.strerror or e}") from None
    try:
        data = tomllib.loads(raw.decode("utf-8"))
    except UnicodeDecodeError as e:
        raise ConfigError(file, "(file)", f"not UTF-8: {e.reason} at byte {e.start}") from None
    except tomllib.TOMLDecodeError as e:
        raise ConfigError(file, "(syntax)", f"TOML syntax error: {e}") from None
    return parse_config(data, file)


def end_of_day_minute(text: str) -> int | None:
    """Minutes after midnight UTC of an "HH:MM" time of day, None if it is not one."""
    hours, colon, minutes = text.partition(":")
    if not (colon and len(hours) == 2 and len(minutes) == 2 and hours.isdigit() and minutes.isdigit()
            and hours.isascii() and minutes.isascii()):
        return None
    if int(hours) > 23 or int(minutes) > 59:
        return None
    return int(hours) * 60 + int(minutes)


def parse_config(data: dict, file: str = "<config>") -> ExchangeConfig:
    v = _V(file)
    v.check_keys(data, "", _TOP_KEYS)
    server = _server(v, data)
    sess_defaults = _session_defaults(v, data)
    sessions = _sessions(v, data, sess_defaults, server.comp_id)
    accept_any = _accept_any(v, data, sess_defaults)
    symbols = _symbols(v, data)
    owner, seeded_symbols = _seed(v, data, symbols)
    _check_drop_copies(v, sessions)
    admin = _admin(v, v.table(data.get("admin", {}), "admin"))
    return ExchangeConfig(path=file, server=server, sessions=tuple(sessions), accept_any=accept_any,
                          symbols=tuple(seeded_symbols), seed_owner=owner, admin=admin,
                          journal=_journal(v, data))


def _server(v: _V, data: dict) -> ServerConfig:
    """[server]"""
    srv = v.table(data.get("server", {}), "server")
    v.check_keys(srv, "server", _SERVER_KEYS)
    kw: dict[str, Any] = {}
    for name, f in ServerConfig.__dataclass_fields__.items():
        default = f.default
        typ = type(default)
        kw[name] = v.get(srv, "server", name, float if typ is float else typ, default)
    server = ServerConfig(**kw)
    if not server.host:
        raise v.err("server.host", "must not be empty")
    if not 0 <= server.port <= 65535:
        raise v.err("server.port", f"must be 0..65535, got {server.port}")
    if not server.comp_id or not _fix_safe(server.comp_id):
        raise v.err("server.comp_id", f"must be a non-empty printable string without '=' or '|': {server.comp_id!r}")
    v.choice(server.store, "server.store", ("file", "memory"))
    for name in ("max_connections", "logon_timeout", "logout_timeout", "max_bytes_before_logon",
                 "outbound_high_water", "outbound_hard_limit", "read_chunk",
                 "gtd_interval", "max_pending_connections", "max_pending_per_source",
                 "refusal_log_interval", "logon_lockout_after", "logon_lockout_after_comp_id",
                 "max_messages_per_turn", "contended_messages_per_turn"):
        v.positive(getattr(server, name), f"server.{name}")
    for name in ("logon_free_failures", "logon_failure_delay", "logon_max_delay", "logon_lockout_seconds"):
        v.positive(getattr(server, name), f"server.{name}", zero_ok=True)
    _check_tls(v, server)
    v.positive(server.busy_poll_us, "server.busy_poll_us", zero_ok=True)
    if server.busy_poll_us > _MAX_BUSY_POLL_US:
        raise v.err("server.busy_poll_us",
                    f"must be at most {_MAX_BUSY_POLL_US} (0.1 s), got {server.busy_poll_us}")
    v.positive(server.market_data_conflation_ms, "server.market_data_conflation_ms", zero_ok=True)
    if server.market_data_conflation_ms > _MAX_CONFLATION_MS:
        raise v.err("server.market_data_conflation_ms",
                    f"must be at most {_MAX_CONFLATION_MS} (10 s), got {server.market_data_conflation_ms}")
    if server.read_chunk > _MAX_READ_CHUNK:  # the daemon allocates it at start
        raise v.err("server.read_chunk", f"must be at most {_MAX_READ_CHUNK}, got {server.read_chunk}")
    if server.end_of_day and end_of_day_minute(server.end_of_day) is None:
        raise v.err("server.end_of_day", f'must be "HH:MM" (UTC, 00:00 to 23:59) or "" (never), '
                                         f"got {server.end_of_day!r}")
    v.choice(server.log_format, "server.log_format", LOG_FORMATS)
    v.positive(server.summary_interval, "server.summary_interval", zero_ok=True)
    if server.outbound_hard_limit <= server.outbound_high_water:
        raise v.err("server.outbound_hard_limit",
                    f"must be greater than server.outbound_high_water ({server.outbound_high_water})")
    return server


def _session_defaults(v: _V, data: dict) -> SessionDef:
    """[session_defaults]: the base of every [[session]] and of [accept_any]"""
    sd = v.table(data.get("session_defaults", {}), "session_defaults")
    v.check_keys(sd, "session_defaults", _SESSION_DEFAULT_KEYS)
    return _session_fields(v, sd, "session_defaults", SessionDef(target_comp_id="*"))


def _sessions(v: _V, data: dict, sess_defaults: SessionDef, exchange_comp_id: str) -> list[SessionDef]:
    """[[session]]"""
    sess_list = data.get("session", [])
    if not isinstance(sess_list, list):
        raise v.err("session", "expected an array of tables ([[session]])")
    sessions: list[SessionDef] = []
    seen: dict[tuple[str, str], int] = {}
    for i, st in enumerate(sess_list):
        key = f"session[{i}]"
        st = v.table(st, key)
        v.check_keys(st, key, _SESSION_KEYS)
        if "target_comp_id" not in st:
            raise v.err(f"{key}.target_comp_id", "missing (the client's CompID)")
        s = _session_fields(v, st, key, sess_defaults)
        if not s.target_comp_id or not _fix_safe(s.target_comp_id):
            raise v.err(f"{key}.target_comp_id", f"invalid CompID {s.target_comp_id!r}")
        if s.target_comp_id == exchange_comp_id:
            raise v.err(f"{key}.target_comp_id", f"equals the exchange CompID {exchange_comp_id!r}")
        ident = (s.begin_string, s.target_comp_id)
        if ident in seen:
            raise v.err(f"{key}.target_comp_id",
                        f"duplicate session {s.begin_string}:{s.target_comp_id} (also session[{seen[ident]}])")
        seen[ident] = i
        sessions.append(s)
    return sessions


def _accept_any(v: _V, data: dict, sess_defaults: SessionDef) -> SessionDef | None:
    """[accept_any]: the template for unknown CompIDs, None when not enabled"""
    aa = v.table(data.get("accept_any", {}), "accept_any")
    v.check_keys(aa, "accept_any", _SESSION_DEFAULT_KEYS | {"enabled"})
    enabled = v.get(aa, "accept_any", "enabled", bool, False)
    aa_fields = {k: x for k, x in aa.items() if k != "enabled"}
    accept_any = _session_fields(v, aa_fields, "accept_any", sess_defaults) if enabled else None
    if accept_any is not None and accept_any.role != "trading":
        raise v.err("accept_any.role", 'must be "trading" (a drop copy is a configured [[session]])')
    return accept_any


def _symbols(v: _V, data: dict) -> list[SymbolDef]:
    """[symbol_defaults], [[symbol]] (without their seed orders)"""
    symd = v.table(data.get("symbol_defaults", {}), "symbol_defaults")
    v.check_keys(symd, "symbol_defaults", _SYMBOL_DEFAULT_KEYS)
    sym_default = _symbol_fields(v, symd, "symbol_defaults", SymbolDef(name="*"))
    sym_list = data.get("symbol", [])
    if not isinstance(sym_list, list):
        raise v.err("symbol", "expected an array of tables ([[symbol]])")
    symbols: list[SymbolDef] = []
    sym_seen: dict[str, int] = {}
    for i, st in enumerate(sym_list):
        key = f"symbol[{i}]"
        st = v.table(st, key)
        v.check_keys(st, key, _SYMBOL_KEYS)
        if "name" not in st:
            raise v.err(f"{key}.name", "missing (the symbol)")
        s = _symbol_fields(v, st, key, sym_default)
        if not s.name or not _fix_safe(s.name):
            raise v.err(f"{key}.name", f"invalid symbol {s.name!r}")
        if s.name in sym_seen:
            raise v.err(f"{key}.name", f"duplicate symbol {s.name!r} (also symbol[{sym_seen[s.name]}])")
        sym_seen[s.name] = i
        symbols.append(s)
    return symbols


def _seed(v: _V, data: dict, symbols: list[SymbolDef]) -> tuple[str, list[SymbolDef]]:
    """[seed]: its owner, and the symbols with their seed orders (the default rule unless
    [seed.symbols.NAME] overrides it)"""
    seed = v.table(data.get("seed", {}), "seed")
    v.check_keys(seed, "seed", _SEED_KEYS)
    owner = v.get(seed, "seed", "owner", str, "HOUSE")
    if not owner:
        raise v.err("seed.owner", "must not be empty")
    default_rule = _seed_orders(v, seed, "seed")
    per_symbol = v.table(seed.get("symbols", {}), "seed.symbols")
    names = {s.name for s in symbols}
    for name in per_symbol:
        if name not in names:
            raise v.err(f"seed.symbols.{name}", "no [[symbol]] with this name")
    seeded = []
    for s in symbols:
        if s.name in per_symbol:
            key = f"seed.symbols.{s.name}"
            tbl = v.table(per_symbol[s.name], key)
            v.check_keys(tbl, key, {"bids", "asks"})
            orders = _seed_orders(v, tbl, key)
        else:
            key = "seed"
            orders = default_rule
        _check_seed_book(v, key, s, orders)
        seeded.append(replace(s, seed=tuple(orders)))
    return owner, seeded


def _check_seed_book(v: _V, key: str, s: SymbolDef, orders: list[SeedOrder]) -> None:
    """The seed orders (from ``key``) fit the symbol's tick, band, lot and size, uncrossed."""
    tick = Decimal(s.tick_size)
    for o in orders:
        okey = f"{key}.{'bids' if o.side == 'buy' else 'asks'}"
        if Decimal(o.price) % tick != 0:
            raise v.err(okey, f"price {o.price} of {s.name} is not a multiple of its tick size {s.tick_size}")
        if (s.band_low is not None and Decimal(o.price) < Decimal(s.band_low)) or \
                (s.band_high is not None and Decimal(o.price) > Decimal(s.band_high)):
            raise v.err(okey, f"price {o.price} of {s.name} is outside its price band")
        if o.qty % s.lot_size != 0:
            raise v.err(okey, f"quantity {o.qty} of {s.name} is not a multiple of its lot size {s.lot_size}")
        if not s.min_qty <= o.qty <= s.max_qty:
            raise v.err(okey, f"quantity {o.qty} of {s.name} is outside {s.min_qty}..{s.max_qty}")
    bids = [Decimal(o.price) for o in orders if o.side == "buy"]
    asks = [Decimal(o.price) for o in orders if o.side == "sell"]
    if bids and asks and max(bids) >= min(asks):
        raise v.err(key, f"seeded book of {s.name} is crossed (best bid {max(bids)} >= best ask {min(asks)})")


def _check_drop_copies(v: _V, sessions: list[SessionDef]) -> None:
    """Drop copies cover configured trading sessions (or every trading session)."""
    trading = {s.target_comp_id for s in sessions if s.role == "trading"}
    for i, s in enumerate(sessions):
        if s.role != "drop_copy":
            continue
        for name in s.drop_copy_of:
            if name not in trading:
                raise v.err(f"session[{i}].drop_copy_of",
                            f"{name!r} is not the target_comp_id of a trading [[session]]")


def _admin(v: _V, tbl: dict) -> AdminConfig:
    v.check_keys(tbl, "admin", _ADMIN_KEYS)
    kw = {name: v.get(tbl, "admin", name, type(f.default), f.default)
          for name, f in AdminConfig.__dataclass_fields__.items()}
    admin = AdminConfig(**kw)
    if not 0 <= admin.port <= 65535:
        raise v.err("admin.port", f"must be 0..65535, got {admin.port}")
    if not is_loopback(admin.host):
        raise v.err("admin.host", f"must be a loopback address (127.0.0.0/8, ::1, localhost), got {admin.host!r}")
    if admin.enabled and len(admin.token) < _MIN_ADMIN_TOKEN:
        raise v.err("admin.token", f"must be at least {_MIN_ADMIN_TOKEN} characters when the admin "
                                   f"endpoint is enabled (clients send it as 'Authorization: Bearer <token>')")
    if any(not 32 < ord(c) < 127 for c in admin.token):
        raise v.err("admin.token", "must be printable ASCII without spaces")
    return admin


def is_loopback(host: str) -> bool:
    """127.0.0.0/8, ::1 or localhost: the admin endpoint is never reachable off the machine."""
    import ipaddress

    if host in _LOOPBACK_HOSTS:
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _check_tls(v: _V, server: ServerConfig) -> None:
    if not 0 <= server.tls_port <= 65535:
        raise v.err("server.tls_port", f"must be 0..65535, got {server.tls_port}")
    v.choice(server.tls_min_version, "server.tls_min_version", ("1.2", "1.3"))
    v.choice(server.tls_client_cert, "server.tls_client_cert", ("none", "optional", "required"))
    if not server.tls:
        if not server.plain_listener:
            raise v.err("server.plain_listener", "false needs server.tls = true (no listener at all)")
        return
    for name in ("tls_cert_file", "tls_key_file"):
        if not getattr(server, name):
            raise v.err(f"server.{name}", "required when server.tls = true")
    if server.tls_client_cert != "none" and not server.tls_client_ca_file:
        raise v.err("server.tls_client_ca_file", f"required when server.tls_client_cert = "
                                                 f"{server.tls_client_cert!r}")
    if server.plain_listener and server.port == server.tls_port and server.port != 0:
        raise v.err("server.tls_port", f"equals server.port ({server.port})")


def _journal(v: "_V", data: dict) -> JournalConfig:
    tbl = v.table(data.get("journal", {}), "journal")
    v.check_keys(tbl, "journal", _JOURNAL_KEYS)
    kw: dict[str, Any] = {}
    for name, f in JournalConfig.__dataclass_fields__.items():
        typ = type(f.default)
        kw[name] = v.get(tbl, "journal", name, float if typ is float else typ, f.default)
    journal = JournalConfig(**kw)
    v.choice(journal.fsync, "journal.fsync", ("off", "batch", "always"))
    v.positive(journal.snapshot_every_commands, "journal.snapshot_every_commands", zero_ok=True)
    v.positive(journal.snapshot_every_seconds, "journal.snapshot_every_seconds", zero_ok=True)
    v.positive(journal.final_orders, "journal.final_orders", zero_ok=True)
    v.positive(journal.final_orders_per_session, "journal.final_orders_per_session")
    return journal


def _fix_safe(s: str) -> bool:
    return all(32 < ord(c) < 127 and c not in "=|" for c in s)


def _session_fields(v: _V, tbl: dict, key: str, base: SessionDef) -> SessionDef:
    kw: dict[str, Any] = {}
    for name, f in SessionDef.__dataclass_fields__.items():
        default = getattr(base, name)
        if name in ("username", "password"):
            kw[name] = v.get(tbl, key, name, str, default)
        elif name in ("sending_time_tolerance", "cancel_on_disconnect_grace"):
            kw[name] = v.get(tbl, key, name, float, default)
        elif name == "extensions":
            names = v.get(tbl, key, name, (list, tuple), default)
            for n in names:
                if not isinstance(n, str) or n not in EXTENSIONS:
                    raise v.err(f"{key}.{name}", f"unknown extension {n!r} (expected some of "
                                f"{', '.join(sorted(EXTENSIONS))})")
            kw[name] = tuple(names)
        elif name in ("on_behalf_of_comp_ids", "deliver_to_comp_ids", "drop_copy_of"):
            names = v.get(tbl, key, name, (list, tuple), default)
            if not all(isinstance(n, str) and n and _fix_safe(n) for n in names):
                raise v.err(f"{key}.{name}", "expected an array of CompID strings")
            kw[name] = tuple(names)
        else:
            kw[name] = v.get(tbl, key, name, type(default), default)
    s = SessionDef(**kw)
    v.choice(s.begin_string, f"{key}.begin_string", BEGIN_STRINGS)
    v.choice(s.stp, f"{key}.stp", STP_MODES)
    v.positive(s.heartbeat_min, f"{key}.heartbeat_min")
    v.positive(s.heartbeat_max, f"{key}.heartbeat_max")
    if s.heartbeat_max < s.heartbeat_min:
        raise v.err(f"{key}.heartbeat_max", f"smaller than heartbeat_min ({s.heartbeat_min})")
    v.positive(s.sending_time_tolerance, f"{key}.sending_time_tolerance")
    v.choice(s.role, f"{key}.role", SESSION_ROLES)
    v.positive(s.cancel_on_disconnect_grace, f"{key}.cancel_on_disconnect_grace", zero_ok=True)
    if s.drop_copy_of and s.role != "drop_copy":
        raise v.err(f"{key}.drop_copy_of", 'only for role = "drop_copy"')
    for name in ("max_message_rate", "message_burst", "max_order_rate", "order_burst", "throttle_logout_rejects"):
        v.positive(getattr(s, name), f"{key}.{name}", zero_ok=True)
    v.positive(s.max_queued_bytes, f"{key}.max_queued_bytes")
    v.positive(s.max_market_data_subscriptions, f"{key}.max_market_data_subscriptions")
    return s


def _symbol_fields(v: _V, tbl: dict, key: str, base: SymbolDef) -> SymbolDef:
    kw: dict[str, Any] = {}
    for name in _SYMBOL_KEYS:
        default = getattr(base, name)
        full = f"{key}.{name}"
        if name in ("tick_size", "band_low", "band_high"):
            if name in tbl:
                d = v.decimal(tbl[name], full)
                kw[name] = str(tbl[name])
                if name == "tick_size" and d.as_tuple().exponent < -9:
                    raise v.err(full, "more than 9 decimal places")
            else:
                kw[name] = default
        else:
            kw[name] = v.get(tbl, key, name, str if name in ("name", "algorithm") else int, default)
    s = SymbolDef(**kw)
    v.choice(s.algorithm, f"{key}.algorithm", ALGORITHMS)
    v.positive(s.lot_size, f"{key}.lot_size")
    v.positive(s.min_qty, f"{key}.min_qty")
    v.positive(s.max_qty, f"{key}.max_qty")
    if s.max_qty < s.min_qty:
        raise v.err(f"{key}.max_qty", f"smaller than min_qty ({s.min_qty})")
    for name in ("band_low", "band_high"):
        b = getattr(s, name)
        if b is not None and Decimal(b) % Decimal(s.tick_size) != 0:
            raise v.err(f"{key}.{name}", f"{b} is not a multiple of the tick size {s.tick_size}")
    if s.band_low is not None and s.band_high is not None and Decimal(s.band_low) > Decimal(s.band_high):
        raise v.err(f"{key}.band_high", f"smaller than band_low ({s.band_low})")
    return s


def _seed_orders(v: _V, tbl: dict, key: str) -> list[SeedOrder]:
    out: list[SeedOrder] = []
    for side_key, side in (("bids", "buy"), ("asks", "sell")):
        full = f"{key}.{side_key}"
        levels = tbl.get(side_key, [])
        if not isinstance(levels, list):
            raise v.err(full, f"expected an array of [price, qty] pairs, got {_tname(levels)}")
        for j, lvl in enumerate(levels):
            if not (isinstance(lvl, list) and len(lvl) == 2):
                raise v.err(f"{full}[{j}]", f"expected a [price, qty] pair like [\"100\", 50], got {lvl!r}")
            price, qty = lvl
            d = v.decimal(price, f"{full}[{j}]")
            if isinstance(qty, bool) or not isinstance(qty, int) or qty <= 0:
                raise v.err(f"{full}[{j}]", f"quantity must be a positive integer, got {qty!r}")
            out.append(SeedOrder(side=side, price=_dstr(d), qty=qty))
    return out


def _dstr(d: Decimal) -> str:
    s = format(d, "f")
    if "." in s:
        s = s.rstrip("0").rstrip(".")
    return s
