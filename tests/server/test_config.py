"""Config loader: the bundled file loads; every kind of bad config is one ConfigError line."""
from pathlib import Path

import pytest

from fixexchange.server.config import DEFAULT_CONFIG_PATH, ConfigError, load_config

MINIMAL = """
[server]
comp_id = "EX"
[[session]]
target_comp_id = "C1"
password = "p"
[[symbol]]
name = "AAA"
tick_size = "0.05"
[seed]
bids = [["100", 10]]
asks = [["110.05", 10]]
"""


def write(tmp_path: Path, text: str) -> Path:
    p = tmp_path / "x.toml"
    p.write_text(text)
    return p


def bad(tmp_path: Path, text: str) -> ConfigError:
    p = write(tmp_path, text)
    with pytest.raises(ConfigError) as ei:
        load_config(p)
    msg = str(ei.value)
    assert "\n" not in msg
    assert msg.startswith(str(p) + ": ")
    return ei.value


def test_bundled_config_loads():
    c = load_config(DEFAULT_CONFIG_PATH)
    assert c.server.port == 9878 and c.server.comp_id == "FIXEXCH"
    assert c.server.host == "127.0.0.1"
    assert [s.name for s in c.symbols] == [f"SYM{i}" for i in range(1, 11)]
    assert {s.target_comp_id for s in c.sessions} >= {"CLIENT1", "CLIENT2", "CLIENT3", "MDVIEW"}
    assert all(s.password for s in c.sessions)
    assert c.accept_any is None
    for sym in c.symbols:
        bids = [float(o.price) for o in sym.seed if o.side == "buy"]
        asks = [float(o.price) for o in sym.seed if o.side == "sell"]
        assert len(bids) == 5 and all(100 <= b <= 105 for b in bids)
        assert len(asks) == 5 and all(110 <= a <= 115 for a in asks)
    assert c.seed_owner == "HOUSE"


def test_minimal_and_defaults(tmp_path):
    c = load_config(write(tmp_path, MINIMAL))
    assert c.server.comp_id == "EX" and c.server.port == 9878
    s = c.symbol("AAA")
    assert s.tick_size == "0.05" and s.price_scale == 2 and s.algorithm == "fifo"
    assert [(o.side, o.price, o.qty) for o in s.seed] == [("buy", "100", 10), ("sell", "110.05", 10)]
    assert c.sessions[0].heartbeat_min == 1 and c.sessions[0].stp == "cancel_newest"


def test_session_defaults_apply_and_per_symbol_seed(tmp_path):
    c = load_config(write(tmp_path, MINIMAL.replace('[server]', '[session_defaults]\nheartbeat_max = 60\nstp = "decrement"\n[server]') + """
[[symbol]]
name = "BBB"
tick_size = "1"
lot_size = 5
algorithm = "pro_rata"
[seed.symbols.BBB]
bids = [["7", 25]]
[accept_any]
enabled = true
password = "trial"
"""))
    assert c.sessions[0].heartbeat_max == 60 and c.sessions[0].stp == "decrement"
    b = c.symbol("BBB")
    assert b.price_scale == 0 and b.algorithm == "pro_rata"
    assert [(o.price, o.qty) for o in b.seed] == [("7", 25)]
    assert c.accept_any is not None and c.accept_any.password == "trial"
    assert c.accept_any.heartbeat_max == 60


def test_missing_file(tmp_path):
    p = tmp_path / "nope.toml"
    with pytest.raises(ConfigError) as ei:
        load_config(p)
    assert str(ei.value) == f"{p}: (file): no such file"


def test_syntax_error(tmp_path):
    e = bad(tmp_path, "[server\nport = 1\n")
    assert e.key == "(syntax)" and "TOML syntax error" in e.problem


def test_unknown_top_level_key(tmp_path):
    e = bad(tmp_path, MINIMAL + "\n[serverr]\nport = 1\n")
    assert e.key == "serverr" and "unknown key" in e.problem


def test_unknown_nested_key(tmp_path):
    e = bad(tmp_path, MINIMAL.replace('comp_id = "EX"', 'comp_id = "EX"\nprot = 1'))
    assert e.key == "server.prot" and "unknown key" in e.problem


def test_unknown_session_key(tmp_path):
    e = bad(tmp_path, MINIMAL.replace('password = "p"', 'pasword = "p"'))
    assert e.key == "session[0].pasword"


def test_wrong_type(tmp_path):
    e = bad(tmp_path, MINIMAL.replace('comp_id = "EX"', 'comp_id = "EX"\nport = "9878"'))
    assert e.key == "server.port" and "expected an integer, got a string" in e.problem


def test_bool_is_not_int(tmp_path):
    e = bad(tmp_path, MINIMAL.replace('password = "p"', 'password = "p"\nheartbeat_min = true'))
    assert e.key == "session[0].heartbeat_min"


def test_wrong_type_tick_size_float(tmp_path):
    e = bad(tmp_path, MINIMAL.replace('tick_size = "0.05"', "tick_size = 0.05"))
    assert e.key == "symbol[0].tick_size" and "decimal string" in e.problem


def test_duplicate_session(tmp_path):
    e = bad(tmp_path, MINIMAL + '\n[[session]]\ntarget_comp_id = "C1"\n')
    assert e.key == "session[1].target_comp_id" and "duplicate session" in e.problem


def test_duplicate_symbol(tmp_path):
    e = bad(tmp_path, MINIMAL + '\n[[symbol]]\nname = "AAA"\n')
    assert e.key == "symbol[1].name" and "duplicate symbol" in e.problem


def test_tick_size_does_not_divide_seed(tmp_path):
    e = bad(tmp_path, MINIMAL.replace('["110.05", 10]', '["110.03", 10]'))
    assert e.key == "seed.asks"
    assert "110.03" in e.problem and "AAA" in e.problem and "tick size 0.05" in e.problem


def test_seed_lot_size(tmp_path):
    e = bad(tmp_path, MINIMAL.replace('tick_size = "0.05"', 'tick_size = "0.05"\nlot_size = 3'))
    assert e.key == "seed.bids" and "lot size" in e.problem


def test_seed_crossed(tmp_path):
    e = bad(tmp_path, MINIMAL.replace('["110.05", 10]', '["99", 10]'))
    assert e.key == "seed" and "crossed" in e.problem


def test_seed_bad_pair(tmp_path):
    e = bad(tmp_path, MINIMAL.replace('[["100", 10]]', '[["100"]]'))
    assert e.key == "seed.bids[0]"
    e = bad(tmp_path, MINIMAL.replace('[["100", 10]]', '[["100", -1]]'))
    assert e.key == "seed.bids[0]" and "positive integer" in e.problem
    e = bad(tmp_path, MINIMAL.replace('[["100", 10]]', '[["abc", 1]]'))
    assert e.key == "seed.bids[0]" and "not a decimal" in e.problem


def test_seed_unknown_symbol(tmp_path):
    e = bad(tmp_path, MINIMAL + '\n[seed.symbols.ZZZ]\nbids = [["1", 1]]\n')
    assert e.key == "seed.symbols.ZZZ"


def test_bad_choices_and_ranges(tmp_path):
    assert bad(tmp_path, MINIMAL.replace('password = "p"', 'password = "p"\nstp = "x"')).key == "session[0].stp"
    assert bad(tmp_path, MINIMAL.replace('tick_size = "0.05"', 'tick_size = "0.05"\nalgorithm = "lifo"')).key == "symbol[0].algorithm"
    assert bad(tmp_path, MINIMAL.replace('comp_id = "EX"', 'comp_id = "EX"\nport = 70000')).key == "server.port"
    assert bad(tmp_path, MINIMAL.replace('tick_size = "0.05"', 'tick_size = "0"')).key == "symbol[0].tick_size"
    assert bad(tmp_path, MINIMAL.replace('password = "p"', 'password = "p"\nheartbeat_min = 10\nheartbeat_max = 5')).key == "session[0].heartbeat_max"
    assert bad(tmp_path, MINIMAL.replace('password = "p"', 'password = "p"\nbegin_string = "FIX.4.2"')).key == "session[0].begin_string"
    assert bad(tmp_path, MINIMAL.replace('comp_id = "EX"', 'comp_id = "EX"\noutbound_hard_limit = 10')).key == "server.outbound_hard_limit"
    assert bad(tmp_path, MINIMAL.replace('comp_id = "EX"', 'comp_id = "EX"\nstore = "redis"')).key == "server.store"
    # a read buffer of 10**12 bytes was a MemoryError traceback at start
    assert bad(tmp_path, MINIMAL.replace('comp_id = "EX"', 'comp_id = "EX"\nread_chunk = 1000000000000')).key == "server.read_chunk"
    # latency mode: negative, fractional or absurd busy polling is named
    for value in ("-1", "1.5", "1000000", "true"):
        err = bad(tmp_path, MINIMAL.replace('comp_id = "EX"', f'comp_id = "EX"\nbusy_poll_us = {value}'))
        assert err.key == "server.busy_poll_us", (value, str(err))
    # market data conflation: milliseconds, 0 (off) to 10 s
    for value in ("-1", "2.5", "10001", "true", '"10"'):
        err = bad(tmp_path, MINIMAL.replace('comp_id = "EX"', f'comp_id = "EX"\nmarket_data_conflation_ms = {value}'))
        assert err.key == "server.market_data_conflation_ms", (value, str(err))
    assert load_config(write(tmp_path, MINIMAL.replace(
        'comp_id = "EX"', 'comp_id = "EX"\nmarket_data_conflation_ms = 50'))).server.market_data_conflation_ms == 50
    assert bad(tmp_path, MINIMAL.replace('target_comp_id = "C1"', 'target_comp_id = "EX"')).key == "session[0].target_comp_id"
    # end of day: "HH:MM" UTC or "" (never)
    for value in ('"24:00"', '"9:30"', '"21:60"', '"noon"', '"21:3x"', '"\uff12\uff11:00"', "2130"):
        err = bad(tmp_path, MINIMAL.replace('comp_id = "EX"', f'comp_id = "EX"\nend_of_day = {value}'))
        assert err.key == "server.end_of_day", (value, str(err))


@pytest.mark.parametrize("value,minute", [("", None), ("00:00", 0), ("21:30", 21 * 60 + 30), ("23:59", 1439)])
def test_end_of_day_values(tmp_path, value, minute):
    from fixexchange.server.config import end_of_day_minute
    cfg = load_config(write(tmp_path, MINIMAL.replace('comp_id = "EX"', f'comp_id = "EX"\nend_of_day = "{value}"')))
    assert cfg.server.end_of_day == value
    assert (end_of_day_minute(value) if value else None) == minute



@pytest.mark.parametrize("key,value", [("server.gtd_interval", "nan"), ("server.logon_timeout", "inf"),
                                       ("server.logout_timeout", "-nan"),
                                       ("session[0].sending_time_tolerance", "nan")])
def test_non_finite_numbers(tmp_path, key, value):
    # a nan gtd_interval made call_later fire at once, every loop turn
    table, name = key.split(".")
    where = 'comp_id = "EX"' if table == "server" else 'password = "p"'
    assert bad(tmp_path, MINIMAL.replace(where, f"{where}\n{name} = {value}")).key == key

@pytest.mark.parametrize("name,value", [("max_messages_per_turn", "0"), ("contended_messages_per_turn", "0"),
                                        ("contended_messages_per_turn", "-2")])
def test_messages_per_turn_must_be_positive(tmp_path, name, value):
    assert bad(tmp_path, MINIMAL.replace('comp_id = "EX"', f'comp_id = "EX"\n{name} = {value}')).key == f"server.{name}"

def test_session_missing_comp_id(tmp_path):
    e = bad(tmp_path, MINIMAL.replace('target_comp_id = "C1"', ''))
    assert e.key == "session[0].target_comp_id" and "missing" in e.problem


def test_table_expected(tmp_path):
    e = bad(tmp_path, 'server = 5\n')
    assert e.key == "server" and "expected a table" in e.problem


def test_directory_and_non_utf8(tmp_path):
    with pytest.raises(ConfigError) as ei:
        load_config(tmp_path)
    assert ei.value.key == "(file)"
    p = tmp_path / "b.toml"
    p.write_bytes(b"a = '\xff'\n")
    with pytest.raises(ConfigError) as ei:
        load_config(p)
    assert "UTF-8" in ei.value.problem


def test_price_band(tmp_path):
    c = load_config(write(tmp_path, MINIMAL.replace('tick_size = "0.05"', 'tick_size = "0.05"\nband_low = "50"\nband_high = "200"')))
    assert c.symbol("AAA").band_low == "50" and c.symbol("AAA").band_high == "200"
    e = bad(tmp_path, MINIMAL.replace('tick_size = "0.05"', 'tick_size = "0.05"\nband_high = "105"'))
    assert e.key == "seed.asks" and "price band" in e.problem
    e = bad(tmp_path, MINIMAL.replace('tick_size = "0.05"', 'tick_size = "0.05"\nband_low = "50.01"'))
    assert e.key == "symbol[0].band_low" and "tick size" in e.problem
    e = bad(tmp_path, MINIMAL.replace('tick_size = "0.05"', 'tick_size = "0.05"\nband_low = "200"\nband_high = "50"'))
    assert e.key == "symbol[0].band_high"


@pytest.mark.parametrize("key", ["on_behalf_of_comp_ids", "deliver_to_comp_ids"])
def test_third_party_comp_id_lists(tmp_path, key):
    from fixexchange.server.main import session_configs
    cfg = load_config(write(tmp_path, MINIMAL.replace('password = "p"', f'password = "p"\n{key} = ["JCD", "ACME"]')))
    assert getattr(cfg.sessions[0], key) == ("JCD", "ACME")
    [config], _ = session_configs(cfg)
    assert getattr(config, key) == ("JCD", "ACME")
    e = bad(tmp_path, MINIMAL.replace('password = "p"', f'{key} = ["A|B"]'))
    assert e.key == f"session[0].{key}"
    e = bad(tmp_path, MINIMAL.replace('password = "p"', f'{key} = "JCD"'))
    assert "expected an array" in e.problem


def test_extensions(tmp_path):
    from fixexchange.server.main import build
    cfg = load_config(write(tmp_path, MINIMAL.replace('password = "p"', 'password = "p"\nextensions = ["aggressor_side"]')))
    assert cfg.sessions[0].extensions == ("aggressor_side",)
    _, gateway = build(cfg)
    assert gateway.gateway.extensions_of("FIX.4.4:" + cfg.server.comp_id + "->" + cfg.sessions[0].target_comp_id) == {
        "aggressor_side"}
    e = bad(tmp_path, MINIMAL.replace('password = "p"', 'extensions = ["aggressor"]'))
    assert e.key == "session[0].extensions" and "unknown extension 'aggressor'" in e.problem
    e = bad(tmp_path, MINIMAL.replace('password = "p"', 'extensions = "aggressor_side"'))
    assert e.key == "session[0].extensions"


def test_bundled_config_is_fix44_but_for_the_market_data_viewer():
    c = load_config(DEFAULT_CONFIG_PATH)
    assert {s.target_comp_id: s.extensions for s in c.sessions} == {
        "CLIENT1": (), "CLIENT2": (), "CLIENT3": (), "MDVIEW": ("aggressor_side",)}


@pytest.mark.parametrize("text,key,problem", [
    ('fsync = "sometimes"', "journal.fsync", "must be one of off, batch, always"),
    ("fsync = true", "journal.fsync", "expected a string"),
    ("snapshot_every_commands = -1", "journal.snapshot_every_commands", ">= 0"),
    ('snapshot_every_seconds = "1h"', "journal.snapshot_every_seconds", "expected a number"),
    ("snapshot_every_seconds = nan", "journal.snapshot_every_seconds", "finite"),
    ("final_orders_per_session = 0", "journal.final_orders_per_session", "> 0"),
    ("enabled = 1", "journal.enabled", "expected a boolean"),
    ("rotate = 5", "journal.rotate", "unknown key"),
])
def test_journal_config_errors_name_the_key(tmp_path, text, key, problem):
    e = bad(tmp_path, MINIMAL + "[journal]\n" + text + "\n")
    assert e.key == key and problem in e.problem, str(e)


def test_journal_defaults(tmp_path):
    c = load_config(write(tmp_path, MINIMAL))
    assert (c.journal.enabled, c.journal.fsync, c.journal.directory) == (True, "off", "")
    c = load_config(write(tmp_path, MINIMAL + '[journal]\nfsync = "batch"\ndirectory = "j"\n'))
    assert (c.journal.fsync, c.journal.directory) == ("batch", "j")


def test_max_market_data_subscriptions_defaults_overrides_and_errors(tmp_path):
    from fixexchange.server.main import build
    text = MINIMAL.replace('[[session]]', '[session_defaults]\nmax_market_data_subscriptions = 7\n[[session]]')
    text += '[[session]]\ntarget_comp_id = "C2"\npassword = "p"\nmax_market_data_subscriptions = 3\n'
    cfg = load_config(write(tmp_path, text))
    assert [s.max_market_data_subscriptions for s in cfg.sessions] == [7, 3]
    assert load_config(write(tmp_path, MINIMAL)).sessions[0].max_market_data_subscriptions == 100
    _, gateway = build(cfg)
    assert gateway.market_data_subscription_limits == {"FIX.4.4:EX->C1": 7, "FIX.4.4:EX->C2": 3}
    for value, problem in (("0", "> 0"), ("-1", "> 0"), ('"many"', "expected an integer")):
        e = bad(tmp_path, MINIMAL.replace('password = "p"', f'password = "p"\nmax_market_data_subscriptions = {value}'))
        assert e.key == "session[0].max_market_data_subscriptions" and problem in str(e), str(e)
    e = bad(tmp_path, MINIMAL.replace('[[session]]', '[session_defaults]\nmax_market_data_subscriptions = 0\n[[session]]'))
    assert e.key == "session_defaults.max_market_data_subscriptions"
