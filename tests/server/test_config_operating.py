"""Config keys of the operating features: each bad value is one ConfigError naming the key."""
from pathlib import Path

import pytest

from fixexchange.server.config import AdminConfig, load_config

from .test_config import MINIMAL, bad, write

TOKEN = 'token = "0123456789abcdef"'


@pytest.mark.parametrize("text, key, problem", [
    ("[admin]\nenabled = true\n", "admin.token", "at least 16 characters"),
    ("[admin]\nenabled = true\ntoken = \"short\"\n", "admin.token", "at least 16"),
    (f"[admin]\nenabled = true\n{TOKEN}\nhost = \"0.0.0.0\"\n", "admin.host", "loopback"),
    ("[admin]\nhost = \"10.1.2.3\"\n", "admin.host", "loopback"),
    ("[admin]\nport = 70000\n", "admin.port", "0..65535"),
    ("[admin]\ntoken = \"with space inside!!\"\n", "admin.token", "printable ASCII"),
    ("[admin]\ncolour = 1\n", "admin.colour", "unknown key"),
    ("[server]\nlog_format = \"xml\"\n", "server.log_format", "text, json"),
    ("[server]\nsummary_interval = -1\n", "server.summary_interval", ">= 0"),
    ("[session_defaults]\nrole = \"observer\"\n", "session_defaults.role", "trading, drop_copy"),
    ("[accept_any]\nenabled = true\nrole = \"drop_copy\"\n", "accept_any.role", "trading"),
    ("[session_defaults]\ncancel_on_disconnect = \"yes\"\n", "session_defaults.cancel_on_disconnect", "a boolean"),
    ("[session_defaults]\ncancel_on_disconnect_grace = -0.5\n",
     "session_defaults.cancel_on_disconnect_grace", ">= 0"),
])
def test_bad_values(tmp_path: Path, text: str, key: str, problem: str):
    # tables first: MINIMAL has a [server] table of its own
    source = MINIMAL.replace("[server]\n", "[server]\n" + text.split("\n", 1)[1]) if text.startswith("[server]") \
        else MINIMAL + text
    err = bad(tmp_path, source)
    assert err.key == key and problem in err.problem, str(err)


def test_drop_copy_settings(tmp_path: Path):
    err = bad(tmp_path, MINIMAL + '[[session]]\ntarget_comp_id = "DC"\nrole = "drop_copy"\ndrop_copy_of = ["ZZ"]\n')
    assert err.key == "session[1].drop_copy_of" and "not the target_comp_id" in err.problem
    err = bad(tmp_path, MINIMAL + '[[session]]\ntarget_comp_id = "X"\ndrop_copy_of = ["C1"]\n')
    assert err.key == "session[1].drop_copy_of" and "drop_copy" in err.problem
    cfg = load_config(write(tmp_path, MINIMAL + '[[session]]\ntarget_comp_id = "DC"\nrole = "drop_copy"\n'
                                                'drop_copy_of = ["C1"]\ncancel_on_disconnect = true\n'
                                                'cancel_on_disconnect_grace = 2.5\n'))
    dc = cfg.sessions[1]
    assert (dc.role, dc.drop_copy_of, dc.cancel_on_disconnect, dc.cancel_on_disconnect_grace) == \
        ("drop_copy", ("C1",), True, 2.5)


def test_admin_defaults_off_and_loopback(tmp_path: Path):
    cfg = load_config(write(tmp_path, MINIMAL))
    assert cfg.admin == AdminConfig(enabled=False, host="127.0.0.1", port=9879, token="")
    for host in ("127.0.0.2", "::1", "localhost"):
        cfg = load_config(write(tmp_path, MINIMAL + f'[admin]\nenabled = true\n{TOKEN}\nhost = "{host}"\n'))
        assert cfg.admin.enabled and cfg.admin.host == host
