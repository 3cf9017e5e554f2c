"""Connection settings: flags > environment > config file > defaults."""

import pytest

from fixexchange.cli.client import Settings, UsageError, resolve_settings


def write(tmp_path, text):
    path = tmp_path / "client.toml"
    path.write_text(text)
    return str(path)


def test_defaults_match_the_bundled_config():
    s = resolve_settings({}, "fix-send", "CLIENT1", environ={})
    assert (s.host, s.port, s.sender_comp_id, s.target_comp_id, s.password) == (
        "127.0.0.1", 9878, "CLIENT1", "FIXEXCH", "pass1")
    md = resolve_settings({}, "fix-md", "MDVIEW", environ={})
    assert (md.sender_comp_id, md.password) == ("MDVIEW", "mdview")
    # another bundled sender brings its own bundled password
    s = resolve_settings({"sender_comp_id": "CLIENT2"}, "fix-send", "CLIENT1", environ={})
    assert s.password == "pass2"
    s = resolve_settings({"sender_comp_id": "OTHER"}, "fix-send", "CLIENT1", environ={})
    assert s.password is None


def test_precedence(tmp_path):
    path = write(tmp_path, 'host = "10.0.0.1"\nport = 1000\ntarget_comp_id = "EX"\n'
                 '[fix-send]\nport = 2000\nsender_comp_id = "CLIENT3"\n'
                 '[fix-md]\nport = 3000\n')
    env = {"FIXEXCH_CLIENT_CONFIG": path}
    s = resolve_settings({}, "fix-send", "CLIENT1", environ=env)
    assert (s.host, s.port, s.sender_comp_id, s.target_comp_id, s.password) == (
        "10.0.0.1", 2000, "CLIENT3", "EX", "pass3")
    assert resolve_settings({}, "fix-md", "MDVIEW", environ=env).port == 3000
    env.update(FIXEXCH_PORT="4000", FIXEXCH_HOST="127.0.0.2", FIXEXCH_PASSWORD="pw",
               FIXEXCH_TIMEOUT="2.5")
    s = resolve_settings({}, "fix-send", "CLIENT1", environ=env)
    assert (s.host, s.port, s.password, s.timeout) == ("127.0.0.2", 4000, "pw", 2.5)
    s = resolve_settings({"port": "5000", "host": None}, "fix-send", "CLIENT1", environ=env)
    assert (s.host, s.port) == ("127.0.0.2", 5000)


def test_default_config_file_location(tmp_path):
    (tmp_path / "fixexchange").mkdir()
    (tmp_path / "fixexchange" / "client.toml").write_text("port = 7000\n")
    s = resolve_settings({}, "fix-send", "CLIENT1", environ={"XDG_CONFIG_HOME": str(tmp_path)})
    assert s.port == 7000
    # --config beats the default location
    other = write(tmp_path, "port = 7001\n")
    s = resolve_settings({}, "fix-send", "CLIENT1", config_path=other,
                         environ={"XDG_CONFIG_HOME": str(tmp_path)})
    assert s.port == 7001


@pytest.mark.parametrize("text, message", [
    ("prot = 1\n", "prot: unknown key"),
    ("port = 'x'\n", "port: expected a port number"),
    ("port = 70000\n", "port: expected a port number"),
    ("port = true\n", "port: expected a port number"),
    ("timeout = 0\n", "timeout: expected a positive number"),
    ("host = 5\n", "host: expected a non-empty string"),
    ("[fix-send]\nfoo = 1\n", "fix-send.foo: unknown key"),
    ("fix-send = 1\n", "fix-send: expected a table"),
    ("port = \n", "not valid TOML"),
])
def test_bad_config_file(tmp_path, text, message):
    path = write(tmp_path, text)
    with pytest.raises(UsageError) as info:
        resolve_settings({}, "fix-send", "CLIENT1", config_path=path, environ={})
    assert message in str(info.value) and path in str(info.value)
    assert info.value.code == 2


def test_bad_environment():
    with pytest.raises(UsageError, match="FIXEXCH_PORT: port"):
        resolve_settings({}, "fix-send", "CLIENT1", environ={"FIXEXCH_PORT": "nine"})


def test_unreadable_config(tmp_path):
    with pytest.raises(UsageError, match="cannot read"):
        resolve_settings({}, "fix-send", "CLIENT1", config_path=str(tmp_path), environ={})


def test_settings_is_frozen():
    with pytest.raises(Exception):
        Settings().port = 1
