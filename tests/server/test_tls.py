"""TLS on the acceptor (stdlib ssl) over loopback: plain and TLS listeners side by side, client
certificates mapped to a CompID, a wrong CA, plain-text bytes to the TLS port, config errors,
the CLI tools' --tls, and QuickFIX logging on over TLS and trading.  Certificates are made by
trustme in the test."""
from __future__ import annotations

import asyncio
import os
import ssl
import sys
from pathlib import Path

import pytest

from fixexchange.server.config import ConfigError, parse_config

from .fixclient import FixClient, config_dict, start_server

trustme = pytest.importorskip("trustme")
ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def pki(tmp_path):
    """A CA, the exchange's certificate for 127.0.0.1, client certificates naming C1 and C3,
    and a second CA nobody trusts; all as PEM files."""
    ca = trustme.CA()
    files = {"dir": tmp_path, "ca_obj": ca}
    ca.cert_pem.write_to_path(tmp_path / "ca.pem")
    files["ca"] = str(tmp_path / "ca.pem")
    server = ca.issue_cert("127.0.0.1", "localhost")
    server.private_key_and_cert_chain_pem.write_to_path(tmp_path / "server.pem")
    files["server"] = str(tmp_path / "server.pem")
    for name in ("C1", "C3"):
        cert = ca.issue_cert(name, common_name=name)
        cert.cert_chain_pems[0].write_to_path(tmp_path / f"{name}.crt")
        cert.private_key_pem.write_to_path(tmp_path / f"{name}.key")
        files[name] = cert
    other = trustme.CA()
    other.cert_pem.write_to_path(tmp_path / "other-ca.pem")
    files["other_ca"] = str(tmp_path / "other-ca.pem")
    return files


def tls_config(pki, **server) -> dict:
    return config_dict(**{"tls": True, "tls_port": 0, "tls_cert_file": pki["server"], "tls_key_file": pki["server"],
                          **server})


def client_context(pki, cert: str | None = None, ca: str | None = None) -> ssl.SSLContext:
    ctx = ssl.create_default_context(cafile=ca or pki["ca"])
    if cert is not None:
        pki[cert].configure_cert(ctx)
    return ctx


async def test_plain_and_tls_listeners_side_by_side_trade(pki):
    srv = await start_server(tls_config(pki))
    try:
        assert srv.port and srv.tls_port and srv.port != srv.tls_port
        seller = FixClient("C1")
        seller.ssl = client_context(pki)
        await seller.logon(srv.tls_port)
        assert seller.writer.get_extra_info("ssl_object").version() in ("TLSv1.2", "TLSv1.3")
        buyer = FixClient("C2")
        await buyer.logon(srv.port)  # plain
        seller.order("s", "2", 5, "107")
        await seller.expect("8", i150="0")
        buyer.order("b", "1", 5, "107")
        await buyer.expect("8", i150="0")
        await buyer.expect("8", i150="F")
        await seller.expect("8", i150="F", i32="5")
    finally:
        await srv.stop()


async def test_minimum_tls_version_is_enforced(pki):
    srv = await start_server(tls_config(pki, tls_min_version="1.3"))
    try:
        old = client_context(pki)
        old.maximum_version = ssl.TLSVersion.TLSv1_2
        c = FixClient("C1")
        c.ssl = old
        with pytest.raises((ssl.SSLError, ConnectionError)):
            await c.logon(srv.tls_port)
        c = FixClient("C1")
        c.ssl = client_context(pki)
        await c.logon(srv.tls_port)
        assert c.writer.get_extra_info("ssl_object").version() == "TLSv1.3"
    finally:
        await srv.stop()


async def test_client_certificates_are_required_and_mapped_to_the_comp_id(pki):
    srv = await start_server(tls_config(pki, tls_client_cert="required", tls_client_ca_file=pki["ca"]))
    try:
        c1 = FixClient("C1")
        c1.ssl = client_context(pki, cert="C1")
        await c1.logon(srv.tls_port)
        # C1's certificate and C2's password: refused, saying why
        c2 = FixClient("C2")
        c2.ssl = client_context(pki, cert="C1")
        m = await c2.logon(srv.tls_port, expect_ok=False)
        assert m.get(35) == b"5"
        assert m.get(58) == b"Logon refused: the client certificate does not name this SenderCompID"
        # no certificate at all: the handshake fails (TLS 1.3 reports it on the first read)
        c3 = FixClient("C3")
        c3.ssl = client_context(pki)
        with pytest.raises((ssl.SSLError, ConnectionError)):
            await c3.logon(srv.tls_port)
        c1.order("still", "1", 1, "100")
        await c1.expect("8", i150="0")
    finally:
        await srv.stop()


async def test_optional_client_certificate_logs_on_without_one_with_the_password(pki):
    srv = await start_server(tls_config(pki, tls_client_cert="optional", tls_client_ca_file=pki["ca"]))
    try:
        c2 = FixClient("C2")
        c2.ssl = client_context(pki)
        await c2.logon(srv.tls_port)
        c3 = FixClient("C3")
        c3.ssl = client_context(pki, cert="C3")
        await c3.logon(srv.tls_port)
    finally:
        await srv.stop()


async def test_wrong_ca_and_plain_text_to_the_tls_port_leave_the_daemon_serving(pki):
    srv = await start_server(tls_config(pki))
    try:
        c = FixClient("C1")
        c.ssl = client_context(pki, ca=pki["other_ca"])
        with pytest.raises(ssl.SSLCertVerificationError):
            await c.logon(srv.tls_port)
        # a plain-text Logon to the TLS port: the handshake fails, the connection is closed
        plain = FixClient("C2")
        plain.reader, plain.writer = await asyncio.open_connection("127.0.0.1", srv.tls_port)
        plain.send("A", [(98, 0), (108, 30), (554, "pw")])
        assert await plain.closed(5)
        assert srv.acceptor.logon_throttle.failures == 0  # (no password was ever looked at)
        ok = FixClient("C1")
        ok.ssl = client_context(pki)
        await ok.logon(srv.tls_port)
    finally:
        await srv.stop()


def test_tls_config_errors_name_the_key(pki, tmp_path):
    with pytest.raises(ConfigError, match=r"server\.tls_cert_file: required when server\.tls = true"):
        parse_config(config_dict(tls=True), "<t>")
    with pytest.raises(ConfigError, match=r"server\.tls_client_ca_file: required"):
        parse_config(tls_config(pki, tls_client_cert="required"), "<t>")
    with pytest.raises(ConfigError, match=r"server\.tls_min_version: must be one of 1\.2, 1\.3"):
        parse_config(tls_config(pki, tls_min_version="1.0"), "<t>")
    with pytest.raises(ConfigError, match=r"server\.plain_listener: false needs server\.tls = true"):
        parse_config(config_dict(plain_listener=False), "<t>")


async def test_unloadable_certificate_is_a_config_error_naming_the_key(pki, tmp_path):
    (tmp_path / "junk.pem").write_text("not a certificate")
    with pytest.raises(ConfigError, match=r"server\.tls_cert_file: no such file"):
        await start_server(tls_config(pki, tls_cert_file=str(tmp_path / "missing.pem")))
    with pytest.raises(ConfigError, match=r"server\.tls_cert_file: cannot load certificate"):
        await start_server(tls_config(pki, tls_cert_file=str(tmp_path / "junk.pem"),
                                      tls_key_file=str(tmp_path / "junk.pem")))


async def test_tls_only(pki):
    srv = await start_server(tls_config(pki, plain_listener=False))
    try:
        assert srv.server is None and srv.tls_port
        c = FixClient("C1")
        c.ssl = client_context(pki)
        await c.logon(srv.tls_port)
    finally:
        await srv.stop()


async def run_tool(*argv: str, timeout: float = 30) -> tuple[int, str, str]:
    env = dict(os.environ, PYTHONPATH=str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", ""),
               XDG_CONFIG_HOME="/nonexistent")
    proc = await asyncio.create_subprocess_exec(sys.executable, *argv, env=env, stdout=asyncio.subprocess.PIPE,
                                                stderr=asyncio.subprocess.PIPE)
    out, err = await asyncio.wait_for(proc.communicate(), timeout)
    return proc.returncode, out.decode(), err.decode()


async def test_cli_tools_connect_with_tls(pki):
    srv = await start_server(tls_config(pki, tls_client_cert="optional", tls_client_ca_file=pki["ca"]))
    port = str(srv.tls_port)
    common = ["--port", port, "--target", "EX", "--password", "pw", "--tls", "--tls-ca", pki["ca"]]
    try:
        rc, out, err = await run_tool("-m", "fixexchange.cli.send", *common, "--sender", "C1",
                                      "buy", "TEST", "1", "@", "100")
        assert rc == 0, err
        assert "NEW" in out
        d = pki["dir"]
        rc, out, err = await run_tool("-m", "fixexchange.cli.send", *common, "--sender", "C1", "--tls-cert",
                                      str(d / "C1.crt"), "--tls-key", str(d / "C1.key"), "symbols")
        assert rc == 0, err
        rc, out, err = await run_tool("-m", "fixexchange.cli.send", "--port", port, "--target", "EX",
                                      "--password", "pw", "--tls", "--tls-ca", pki["other_ca"], "--sender", "C1",
                                      "symbols")
        assert rc == 3 and "TLS handshake" in err and "CERTIFICATE_VERIFY_FAILED" in err, err
        rc, out, err = await run_tool("-m", "fixexchange.cli.md", *common, "--sender", "MD", "--once", "TEST")
        assert rc == 0, err + out
        rc, out, err = await run_tool("-m", "fixexchange.cli.load", "--port", port, "--tls", "--tls-ca", pki["ca"],
                                      "--target", "EX", "--comp-id", "C2", "--password", "pw", "--orders", "200",
                                      "--window", "20", "--symbols", "SYM1", "--no-uvloop")
        assert rc == 0, err + out
    finally:
        await srv.stop()


async def test_quickfix_logs_on_over_tls_with_a_client_certificate_and_trades(pki, tmp_path):
    qf = pytest.importorskip("quickfix")
    from .test_quickfix_interop import App, nos, settings, wait_for

    srv = await start_server(tls_config(pki, tls_client_cert="required", tls_client_ca_file=pki["ca"]))
    d = pki["dir"]
    path = tmp_path / "qf.cfg"
    settings(srv.tls_port, tmp_path)  # (writes qf.cfg: the plain interop test's session, C3)
    path.write_text(path.read_text().replace("[SESSION]", f"""CertificationAuthoritiesFile={pki['ca']}
ClientCertificateFile={d / 'C3.crt'}
ClientCertificateKeyFile={d / 'C3.key'}
[SESSION]"""))
    s = qf.SessionSettings(str(path))
    app = App()
    init = qf.SSLSocketInitiator(app, qf.FileStoreFactory(s), s, qf.FileLogFactory(s))
    init.start()
    try:
        await wait_for(app.logged_on.is_set, 10)
        send = lambda m: qf.Session.sendToTarget(m, app.session_id)  # noqa: E731
        send(nos("t1", "1", 20, None))  # market 20: 8@108 + 12@110
        await wait_for(lambda: len(app.of_type("8")) >= 3)
        ers = app.of_type("8")
        assert any("\x0111=t1\x01" in m and "\x0132=12\x01" in m for m in ers)
        assert app.rejects_sent == []
        assert srv.by_session["FIX.4.4:EX->C3"].tls
    finally:
        await asyncio.get_running_loop().run_in_executor(None, init.stop)
        await srv.stop()
