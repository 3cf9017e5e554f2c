import pytest


@pytest.fixture(autouse=True)
def isolated_tool_env(tmp_path, monkeypatch):
    """The tools read ~/.config and ~/.local/state and FIXEXCH_* variables: isolate them."""
    for name in ("FIXEXCH_HOST", "FIXEXCH_PORT", "FIXEXCH_SENDER", "FIXEXCH_TARGET",
                 "FIXEXCH_PASSWORD", "FIXEXCH_USERNAME", "FIXEXCH_TIMEOUT",
                 "FIXEXCH_CLIENT_CONFIG"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "state"))
    monkeypatch.setenv("FIXEXCH_STATE_DIR", str(tmp_path / "state"))
    return tmp_path
