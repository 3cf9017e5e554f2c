"""fix-admin against a real daemon on loopback, and its settings precedence."""
from __future__ import annotations

import asyncio
import io

import pytest

from fixexchange.cli import admin as fix_admin
from fixexchange.cli.client import load_config_file
from tests.server.fixclient import FixClient, start_server
from tests.server.test_operating import TOKEN, operating_config


@pytest.fixture
async def srv():
    s = await start_server(operating_config())
    yield s
    await s.stop()


async def run(*argv: str, environ: dict | None = None) -> tuple[int, str]:
    out = io.StringIO()
    code = await asyncio.to_thread(fix_admin.main, list(argv), out, environ if environ is not None else {})
    return code, out.getvalue()


async def test_walk_through(srv, capsys):
    port = str(srv.admin.port)
    md = FixClient("MD")
    await md.logon(srv.port)
    md.send("e", [(324, "s"), (263, "1"), (55, "SYM1")])
    await md.expect("f", i326="17")
    code, out = await run("sessions", "--port", port, "--token", TOKEN)
    assert code == 0
    lines = out.splitlines()
    assert lines[0].split()[:3] == ["SESSION", "STATE", "ADDRESS"]
    md_row = next(line for line in lines if line.startswith("MD "))
    assert "logged_on" in md_row and "127.0.0.1:" in md_row
    code, out = await run("halt", "SYM1", "--reason", "fat finger", "--port", port, "--token", TOKEN)
    assert code == 0 and out == "SYM1 halted (fat finger); SecurityStatus sent to 1 subscribers\n"
    await md.expect("f", i326="2", i58="fat finger")
    code, out = await run("symbols", "--port", port, "--token", TOKEN)
    row = next(line for line in out.splitlines() if line.startswith("SYM1 "))
    assert row.split()[:4] == ["SYM1", "halted", "105", "100"]
    code, out = await run("resume", "SYM1", "--port", port, "--token", TOKEN)
    assert code == 0 and out.startswith("SYM1 trading again")
    await md.expect("f", i326="17")
    code, out = await run("cancel-symbol", "SYM1", "--port", port, "--token", TOKEN)
    assert code == 0 and out == "10 orders cancelled\n"  # the seeded book
    code, out = await run("cancel-session", "C1", "--port", port, "--token", TOKEN)
    assert code == 0 and out == "0 orders cancelled\n"
    code, out = await run("metrics", "--port", port, "--token", TOKEN)
    assert code == 0 and "fixexchange_sessions_logged_on 1" in out
    code, out = await run("logout", "MD", "--reason", "bye", "--port", port, "--token", TOKEN)
    assert code == 0 and out == "Logout sent to FIX.4.4:EX->MD\n"
    await md.expect("5", i58="bye")
    code, out = await run("sessions", "--json", "--port", port, "--token", TOKEN)
    assert code == 0 and '"comp_id": "MD"' in out
    md.close()


async def test_refusals_and_exit_codes(srv, capsys):
    port = str(srv.admin.port)
    code, _ = await run("sessions", "--port", port, "--token", "wrong-wrong-wrong-wrong")
    assert code == 1 and "refused (401)" in capsys.readouterr().err
    code, _ = await run("halt", "NOPE", "--port", port, "--token", TOKEN)
    assert code == 1 and "no symbol 'NOPE'" in capsys.readouterr().err
    code, _ = await run("sessions", "--port", port)
    assert code == 2 and "no token" in capsys.readouterr().err
    code, _ = await run("--port", port, "--token", TOKEN)
    assert code == 2
    code, _ = await run("frobnicate", "--token", TOKEN)
    assert code == 2
    code, _ = await run("sessions", "--port", "0", "--token", TOKEN)
    assert code == 2 and "--port" in capsys.readouterr().err


async def test_cannot_connect_is_exit_3(capsys):
    srv = await start_server(operating_config())
    port = srv.admin.port
    await srv.stop()
    code, _ = await run("sessions", "--port", str(port), "--token", TOKEN)
    assert code == 3 and "cannot connect" in capsys.readouterr().err


def test_settings_precedence(tmp_path):
    config = tmp_path / "client.toml"
    config.write_text('host = "127.0.0.2"\nport = 9878\n[fix-admin]\nport = 7000\ntoken = "from-file"\n')
    env = {"FIXEXCH_CLIENT_CONFIG": str(config)}
    assert fix_admin.resolve({}, environ=env) == {"host": "127.0.0.2", "port": 7000, "token": "from-file",
                                                  "timeout": 10.0}
    env["FIXEXCH_ADMIN_TOKEN"] = "from-env"
    env["FIXEXCH_ADMIN_PORT"] = "7001"
    assert fix_admin.resolve({}, environ=env)["token"] == "from-env"
    assert fix_admin.resolve({}, environ=env)["port"] == 7001
    assert fix_admin.resolve({"token": "from-flag", "port": "7002"}, environ=env)["token"] == "from-flag"
    assert fix_admin.resolve({}, environ={})["port"] == 9879
    # fix-send and fix-md read the same file: the [fix-admin] table is not theirs, and fine
    assert load_config_file(str(config), "fix-send")["port"] == 9878
    bad = tmp_path / "bad.toml"
    bad.write_text("[fix-admin]\ncolour = 1\n")
    with pytest.raises(fix_admin.AdminToolError, match=r"fix-admin\.colour: unknown key"):
        fix_admin.resolve({}, config_path=str(bad), environ={})
