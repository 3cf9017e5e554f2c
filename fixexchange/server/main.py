"""``fixexchange``: run the exchange daemon.

    fixexchange [-c CONFIG] [--host H] [--port N] [--memory-store] [--message-log]
                [--log-level LEVEL]
    fixexchange dictionary [-o FILE]     # the data dictionary of our FIX dialect (QuickFIX XML)

Exit codes: 0 clean shutdown (SIGINT/SIGTERM), 2 bad configuration or arguments (one line
on stderr: ``file: key: problem``), 1 cannot listen / unexpected failure.
"""
from __future__ import annotations

import argparse
import asyncio
import dataclasses
import gc
import logging
import os
import signal
import sys
from decimal import Decimal
from pathlib import Path
from typing import Any

from .config import DEFAULT_CONFIG_PATH, ConfigError, ExchangeConfig, SessionDef, end_of_day_minute, load_config

log = logging.getLogger("fixexchange")


def _units(value: str, scale: int) -> int:
    return int(Decimal(value).scaleb(scale))


def symbol_specs(cfg: ExchangeConfig) -> list:
    from ..engine import SymbolSpec

    specs = []
    for s in cfg.symbols:
        scale = s.price_scale
        specs.append(SymbolSpec(
            symbol=s.name, price_scale=scale, tick=_units(s.tick_size, scale), lot=s.lot_size,
            min_qty=s.min_qty, max_qty=s.max_qty,
            band_low=None if s.band_low is None else _units(s.band_low, scale),
            band_high=None if s.band_high is None else _units(s.band_high, scale),
            algorithm=s.algorithm))
    return specs


def session_configs(cfg: ExchangeConfig):
    from ..session.config import SessionConfig

    def conv(d, target: str) -> Any:
        return SessionConfig(
            sender_comp_id=cfg.server.comp_id, target_comp_id=target, begin_string=d.begin_string,
            username=d.username, password=d.password, reset_on_logon=d.reset_on_logon,
            reset_on_logout=d.reset_on_logout, reset_on_disconnect=d.reset_on_disconnect,
            heartbeat_min=d.heartbeat_min, heartbeat_max=d.heartbeat_max,
            sending_time_tolerance=d.sending_time_tolerance,
            logon_timeout=cfg.server.logon_timeout, logout_timeout=cfg.server.logout_timeout,
            on_behalf_of_comp_ids=d.on_behalf_of_comp_ids, deliver_to_comp_ids=d.deliver_to_comp_ids,
            max_message_rate=d.max_message_rate, message_burst=d.message_burst or int(d.max_message_rate) or 1,
            max_order_rate=d.max_order_rate, order_burst=d.order_burst or int(d.max_order_rate) or 1,
            throttle_logout_rejects=d.throttle_logout_rejects, max_queued_bytes=d.max_queued_bytes)

    configs = [conv(d, d.target_comp_id) for d in cfg.sessions]
    template = None if cfg.accept_any is None else conv(cfg.accept_any, "*")
    return configs, template


def build(cfg: ExchangeConfig, now: float | None = None):
    """Make the (acceptor, gateway) pair for ``cfg``: stores, engine, seeded books.  The
    "gateway" is the journal entry point (``Sequencer``) in front of the ``Gateway``; with
    ``server.store = "file"`` and ``journal.enabled`` it journals to ``journal.directory``
    and this recovers the state the journal holds (``sequencer.durable`` then)."""
    import time

    from ..engine import Engine
    from ..gateway import Gateway
    from ..session import Acceptor
    from .sequencer import Sequencer

    now = time.time() if now is None else now
    configs, template = session_configs(cfg)
    specs = symbol_specs(cfg)
    settings = _session_settings(cfg, configs)
    apply_limits = _gateway_limits(cfg, configs)
    gateway = Gateway(specs, Engine(specs, retain_final=cfg.journal.final_orders), **settings)
    apply_limits(gateway)
    sequencer = Sequencer(gateway)
    durable, store_factory = _stores(cfg, sequencer)
    acceptor = Acceptor(configs, store_factory, accept_any_template=template,
                        logon_throttle=logon_throttle(cfg))
    seed = _seeder(cfg)
    if durable is None:
        seed(sequencer, now)
        return acceptor, sequencer

    def check(recovered) -> None:  # before the config's settings are journaled and applied
        check_symbol_changes(cfg, recovered, specs)

    _recover(cfg, durable, acceptor, seed, now, check, journaled_settings(cfg, specs, settings, gateway))
    return acceptor, sequencer


def journaled_settings(cfg: ExchangeConfig, specs: list, settings: dict, gateway: Any) -> dict:
    """What of the configuration the gateway's behaviour depends on, as JSON values: the
    argument of ``Gateway.configure``, journaled whenever it changes (see ``recover``)."""
    def listed(mapping: dict) -> dict:
        return {key: None if value is None else sorted(value) if isinstance(value, frozenset) else list(value)
                for key, value in mapping.items()}

    return {
        "symbols": [list(spec) for spec in specs],
        "stp_modes": dict(settings["stp_modes"]),  # (the config's mode names)
        "default_stp": settings.get("default_stp", "none"),
        "cancel_on_disconnect": listed(settings["cancel_on_disconnect"]),
        "default_cancel_on_disconnect": list(settings.get("default_cancel_on_disconnect", (False, 0.0))),
        "drop_copies": listed(settings["drop_copies"]),
        "extensions": {sid: sorted(names) for sid, names in settings["extensions"].items()},
        "default_extensions": sorted(settings.get("default_extensions", ())),
        "market_data_subscription_limits": dict(gateway.market_data_subscription_limits),
        "default_market_data_subscription_limit": gateway.default_market_data_subscription_limit,
        "final_orders_per_session": gateway.final_orders_per_session,
        "final_orders": cfg.journal.final_orders,
    }


def _session_settings(cfg: ExchangeConfig, configs: list) -> dict[str, Any]:
    """The Gateway's settings per configured session (STP mode, cancel on disconnect, drop
    copies, extensions) and, with [accept_any], the defaults for the others."""
    sessions = list(zip(configs, cfg.sessions))
    # accept-any sessions (not in stp) get the template's mode
    options: dict[str, Any] = {} if cfg.accept_any is None else {
        "default_stp": cfg.accept_any.stp, "default_extensions": cfg.accept_any.extensions,
        "default_cancel_on_disconnect": (cfg.accept_any.cancel_on_disconnect,
                                         cfg.accept_any.cancel_on_disconnect_grace)}
    by_comp_id = {d.target_comp_id: c.session_id for c, d in sessions}
    return dict(stp_modes={c.session_id: d.stp for c, d in sessions},
                cancel_on_disconnect={c.session_id: (d.cancel_on_disconnect, d.cancel_on_disconnect_grace)
                                      for c, d in sessions},
                drop_copies={c.session_id: (tuple(by_comp_id[name] for name in d.drop_copy_of) or None)
                             for c, d in sessions if d.role == "drop_copy"},
                extensions={c.session_id: d.extensions for c, d in sessions}, **options)


def _gateway_limits(cfg: ExchangeConfig, configs: list):
    """``apply(gateway)``: the market data subscriptions and final orders per session it
    keeps, for a new gateway and a restored one alike."""
    md_limits = {c.session_id: d.max_market_data_subscriptions for c, d in zip(configs, cfg.sessions)}
    md_default_limit = (cfg.accept_any or SessionDef("")).max_market_data_subscriptions
    final_orders_per_session = cfg.journal.final_orders_per_session

    def apply(target) -> None:
        target.market_data_subscription_limits = md_limits
        target.default_market_data_subscription_limit = md_default_limit
        target.final_orders_per_session = final_orders_per_session

    return apply


def _stores(cfg: ExchangeConfig, sequencer):
    """(the journal's ``Durable`` or None, the session store factory) for ``server.store``."""
    from ..session.store import MemoryStore
    from ..storage.filestore import FileStore

    if cfg.server.store != "file":
        def memory_store(session_id: str):
            return MemoryStore()
        return None, memory_store
    store_dir = Path(cfg.server.store_dir)
    try:
        store_dir.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise ConfigError(cfg.path, "server.store_dir",
                          f"cannot create {store_dir}: {e.strerror or e}") from None
    durable = open_journal(cfg, sequencer) if cfg.journal.enabled else None

    def file_store(session_id: str):
        return FileStore(store_dir, session_id, gate=None if durable is None else durable.gate)
    return durable, file_store


def _seeder(cfg: ExchangeConfig):
    """``seed(target, at)``: the configured seed orders of every symbol."""
    def seed(target, at: float) -> None:
        for s in cfg.symbols:
            for o in s.seed:
                target.seed(cfg.seed_owner, s.name, o.side, o.qty, _units(o.price, s.price_scale), at)
    return seed


def _recover(cfg: ExchangeConfig, durable, acceptor, seed, now: float, check, settings: dict) -> None:
    """The state the journal holds (a fresh journal: seeded); a journal that cannot be put
    together is a ConfigError of journal.directory."""
    from .durability import RecoveryError, recover

    durable.acceptor = acceptor
    try:
        stats = recover(durable.sequencer, durable.journal, durable.snapshots, acceptor, seed, now, check,
                        end_of_day_minute(cfg.server.end_of_day) if cfg.server.end_of_day else None,
                        settings=settings)
    except RecoveryError as e:
        raise ConfigError(cfg.path, "journal.directory", str(e)) from None
    durable.snapshot_seq = stats["snapshot"]
    durable.recovery = stats


def check_symbol_changes(cfg: ExchangeConfig, restored: Any, specs: list) -> None:
    """Refuse a configuration that the recovered state cannot take: a symbol
    with live orders removed, or its tick size, lot size or price scale changed (the orders
    would no longer be valid).  ``ConfigError`` naming the key; the operator cancels the
    orders first (admin cancel-all) or keeps the old setting."""
    new = {spec.symbol: (i, spec) for i, spec in enumerate(specs)}
    engine = restored.engine
    for name in engine.symbols:
        live = engine.live_orders_of(name)
        if not live:
            continue
        old = engine.book(name).spec
        if name not in new:
            raise ConfigError(cfg.path, "symbol", f"symbol {name!r} was removed but has {live} live orders "
                              "in the journal's state: cancel them first (fix-admin cancel-all) or keep it")
        i, spec = new[name]
        for key, before, after in (("tick_size", (old.tick, old.price_scale), (spec.tick, spec.price_scale)),
                                   ("lot_size", old.lot, spec.lot), ("algorithm", old.algorithm, spec.algorithm)):
            if before != after:
                raise ConfigError(cfg.path, f"symbol[{i}].{key}",
                                  f"{name} has {live} live orders in the journal's state: its {key} cannot "
                                  "change until they are cancelled (fix-admin cancel-all) or keep the old value")


def open_journal(cfg: ExchangeConfig, sequencer):
    from ..storage.journal import FileJournal
    from ..storage.snapshot import SnapshotStore
    from .durability import Durable

    j = cfg.journal
    directory = j.directory or str(Path(cfg.server.store_dir) / "journal")
    try:
        journal = FileJournal(directory, j.fsync)
        snapshots = SnapshotStore(directory)
    except OSError as e:
        raise ConfigError(cfg.path, "journal.directory", f"cannot open {directory}: {e.strerror or e}") from None
    sequencer.use_journal(journal)
    durable = sequencer.durable = Durable(sequencer, journal, snapshots, j.snapshot_every_commands,
                                          j.snapshot_every_seconds)
    return durable


def logon_throttle(cfg: ExchangeConfig):
    from ..session.limits import LogonThrottle, LogonThrottleConfig

    s = cfg.server
    return LogonThrottle(LogonThrottleConfig(
        free_failures=s.logon_free_failures, base_delay=s.logon_failure_delay, max_delay=s.logon_max_delay,
        lockout_after=s.logon_lockout_after, lockout_after_comp_id=s.logon_lockout_after_comp_id,
        lockout_seconds=s.logon_lockout_seconds))


def raise_fd_limit(max_connections: int) -> None:
    """Lift the soft open-files limit towards the hard one so that max_connections fit
    (a common default soft limit is 1024)."""
    try:
        import resource

        soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
        want = max_connections + 64
        if soft != resource.RLIM_INFINITY and soft < want:
            new = want if hard == resource.RLIM_INFINITY else min(want, hard)
            resource.setrlimit(resource.RLIMIT_NOFILE, (new, hard))
    except (ImportError, ValueError, OSError):  # pragma: no cover - platform dependent
        pass


def tune_gc() -> None:
    """Every order allocates many short-lived tuples; CPython's default cyclic-GC
    threshold (700 allocations) runs a young collection every few orders.  Move the
    start-up objects (config, books, seeded orders) out of the collector's way and collect
    less often: about 15-20% less CPU per order in tools/bench_pipeline.py."""
    gc.collect()
    gc.freeze()
    gc.set_threshold(20_000, 20, 20)


def setup_logging(level: int, log_dir: str, log_format: str = "text") -> None:
    """Event lines (logon, logout, reject, disconnect...) on stderr and appended to
    ``<log_dir>/fixexchange.log``: text, or one JSON object per line (``server.log_format``)."""
    from .logs import JsonFormatter

    fmt: logging.Formatter = (JsonFormatter() if log_format == "json"
                              else logging.Formatter("%(asctime)s %(levelname)s %(message)s"))
    root = logging.getLogger()
    root.setLevel(level)
    err = logging.StreamHandler(sys.stderr)
    err.setFormatter(fmt)
    root.addHandler(err)
    try:
        Path(log_dir).mkdir(mode=0o700, parents=True, exist_ok=True)
        path = Path(log_dir) / "fixexchange.log"
        fh = logging.FileHandler(path)
        os.chmod(path, 0o600)  # (one made by an older version may be world-readable)
    except OSError as e:
        log.warning("no log file in %s: %s", log_dir, e.strerror or e)
    else:
        fh.setFormatter(fmt)
        root.addHandler(fh)


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    ap = argparse.ArgumentParser(prog="fixexchange", description="FIX 4.4 exchange daemon")
    ap.add_argument("-c", "--config", default=None,
                    help="TOML config (default: ./config/exchange.toml if present, else the bundled one)")
    ap.add_argument("--host", default=None, help="override server.host")
    ap.add_argument("--port", type=int, default=None, help="override server.port (0 = any free port)")
    ap.add_argument("--memory-store", action="store_true", help="keep session stores in memory")
    ap.add_argument("--store-dir", default=None, help="override server.store_dir")
    ap.add_argument("--log-dir", default=None, help="override server.log_dir")
    ap.add_argument("--message-log", action="store_true", help="per-session FIX message logs")
    ap.add_argument("--log-level", default="INFO", help="DEBUG, INFO, WARNING (default INFO)")
    ap.add_argument("--log-format", choices=("text", "json"), default=None, help="override server.log_format")
    ap.add_argument("--no-uvloop", action="store_true", help="use the stdlib event loop even if uvloop is installed")
    return ap.parse_args(argv)


def resolve_config(args: argparse.Namespace) -> ExchangeConfig:
    path = args.config
    if path is None:
        local = Path("config/exchange.toml")
        path = local if local.is_file() else DEFAULT_CONFIG_PATH
    cfg = load_config(path)
    over: dict[str, Any] = {}
    if args.host is not None:
        over["host"] = args.host
    if args.port is not None:
        if not 0 <= args.port <= 65535:
            raise ConfigError("--port", "server.port", f"must be 0..65535, got {args.port}")
        over["port"] = args.port
    if args.memory_store:
        over["store"] = "memory"
    if args.store_dir is not None:
        over["store_dir"] = args.store_dir
    if args.log_dir is not None:
        over["log_dir"] = args.log_dir
    if args.message_log:
        over["message_log"] = True
    if args.log_format is not None:
        over["log_format"] = args.log_format
    if over:
        cfg = dataclasses.replace(cfg, server=dataclasses.replace(cfg.server, **over))
    return cfg


async def serve(cfg: ExchangeConfig, ready=None) -> None:
    from .app import ExchangeServer

    loop = asyncio.get_running_loop()
    acceptor, gateway = build(cfg)
    tune_gc()
    raise_fd_limit(cfg.server.max_connections)
    server = ExchangeServer(cfg, acceptor, gateway, loop)
    await server.start()
    stop = asyncio.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        try:
            loop.add_signal_handler(sig, stop.set)
        except (NotImplementedError, RuntimeError):  # pragma: no cover - non-main thread
            pass
    if server.server is not None:
        print(f"fixexchange: listening on {cfg.server.host}:{server.port} as {cfg.server.comp_id} "
              f"({len(cfg.symbols)} symbols, {len(cfg.sessions)} sessions, config {cfg.path})", flush=True)
    if server.tls_server is not None:
        print(f"fixexchange: TLS listening on {cfg.server.host}:{server.tls_port} as {cfg.server.comp_id} "
              f"(TLS {cfg.server.tls_min_version}+, client certificates {cfg.server.tls_client_cert})", flush=True)
    if server.admin is not None:
        print(f"fixexchange: admin endpoint on http://{cfg.admin.host}:{server.admin.port}/ "
              f"(fix-admin --port {server.admin.port})", flush=True)
    if ready is not None:
        ready(server)
    await stop.wait()
    log.info("signal received: logging out every session")
    await server.stop()
    logging.shutdown()


def dictionary_main(argv: list[str]) -> int:
    """``fixexchange dictionary``: write the dialect's QuickFIX-format data dictionary."""
    from .dialect import dialect_xml

    ap = argparse.ArgumentParser(
        prog="fixexchange dictionary",
        description="Write the data dictionary of fixexchange's FIX dialect in QuickFIX's XML format: "
                    "FIX44.xml plus what the wire extensions (config key `extensions`) add. "
                    "Point a QuickFIX client's DataDictionary= at it.")
    ap.add_argument("-o", "--output", default="-", help="file to write (default: standard output)")
    try:
        args = ap.parse_args(argv)
    except SystemExit as e:
        return int(e.code or 0)
    data = dialect_xml()
    if args.output == "-":
        sys.stdout.buffer.write(data)
        sys.stdout.flush()
        return 0
    try:
        Path(args.output).write_bytes(data)
    except OSError as e:
        print(f"fixexchange dictionary: cannot write {args.output}: {e.strerror or e}", file=sys.stderr)
        return 1
    return 0


def main(argv: list[str] | None = None) -> int:
    if argv is None:
        argv = sys.argv[1:]
    if argv[:1] == ["dictionary"]:
        return dictionary_main(argv[1:])
    try:
        args = parse_args(argv)
    except SystemExit as e:
        return int(e.code or 0)
    level = getattr(logging, str(args.log_level).upper(), None)
    if not isinstance(level, int):
        print(f"fixexchange: --log-level: unknown level {args.log_level!r}", file=sys.stderr)
        return 2
    try:
        cfg = resolve_config(args)
    except ConfigError as e:
        print(str(e), file=sys.stderr)
        return 2
    # Everything the daemon creates (stores, journals, logs, message logs) is owner-only:
    # they hold orders, CompIDs and session state.
    os.umask(0o077)
    setup_logging(level, cfg.server.log_dir, cfg.server.log_format)
    runner = asyncio.run
    if not args.no_uvloop:
        try:
            import uvloop  # type: ignore

            runner = getattr(uvloop, "run", runner)  # optional, never required (uvloop >= 0.18)
        except ImportError:
            pass
    try:
        runner(serve(cfg))
    except ConfigError as e:  # found only when building (server.store_dir)
        print(str(e), file=sys.stderr)
        return 2
    except OSError as e:
        print(f"fixexchange: cannot listen on {cfg.server.host}:{cfg.server.port}: {e.strerror or e}",
              file=sys.stderr)
        return 1
    except KeyboardInterrupt:  # pragma: no cover - signal before the handler was installed
        return 0
    return 0


if __name__ == "__main__":
    sys.exit(main())
