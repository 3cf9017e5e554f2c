"""TLS for the acceptor (stdlib ``ssl``): the server context from ``[server]`` tls_* keys, and
the names of a verified client certificate (one of them must be the Logon's SenderCompID)."""
from __future__ import annotations

import ssl
from typing import Any

from .config import ConfigError, ExchangeConfig

_MIN_VERSIONS = {"1.2": ssl.TLSVersion.TLSv1_2, "1.3": ssl.TLSVersion.TLSv1_3}
_VERIFY = {"none": ssl.CERT_NONE, "optional": ssl.CERT_OPTIONAL, "required": ssl.CERT_REQUIRED}


def server_context(cfg: ExchangeConfig) -> ssl.SSLContext:
    """The listener's context; a file that cannot be loaded is a ConfigError naming its key."""
    s = cfg.server
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.minimum_version = _MIN_VERSIONS[s.tls_min_version]
    try:
        context.load_cert_chain(s.tls_cert_file, s.tls_key_file)
    except FileNotFoundError as e:
        key = "server.tls_key_file" if e.filename == s.tls_key_file and e.filename != s.tls_cert_file \
            else "server.tls_cert_file"
        raise ConfigError(cfg.path, key, f"no such file: {e.filename}") from None
    except (ssl.SSLError, OSError) as e:
        raise ConfigError(cfg.path, "server.tls_cert_file",
                          f"cannot load certificate {s.tls_cert_file} with key {s.tls_key_file}: {e}") from None
    context.verify_mode = _VERIFY[s.tls_client_cert]
    if s.tls_client_cert != "none":
        try:
            context.load_verify_locations(cafile=s.tls_client_ca_file)
        except (ssl.SSLError, OSError) as e:
            raise ConfigError(cfg.path, "server.tls_client_ca_file",
                              f"cannot load {s.tls_client_ca_file}: {e}") from None
    return context


def client_cert_names(transport: Any) -> frozenset[str] | None:
    """The subject CommonName and DNS names of the peer's verified certificate; None when
    it sent none (then the Logon's password is all there is)."""
    cert = transport.get_extra_info("peercert")
    if not cert:
        return None
    names = set()
    for rdn in cert.get("subject", ()):
        for key, value in rdn:
            if key == "commonName":
                names.add(value)
    for kind, value in cert.get("subjectAltName", ()):
        if kind == "DNS":
            names.add(value)
    return frozenset(names)
