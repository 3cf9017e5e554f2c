"""pytest plugin (``-p wire_capture``): every byte the exchange's sessions hand to their
sockets (``Connection.data_to_send``) is appended to the file named by
$FIXEXCH_WIRE_CAPTURE, so that tests/server/test_dialect.py can validate each message the
daemon sent during other tests with QuickFIX's own validator."""
from __future__ import annotations

import os


def pytest_configure(config) -> None:
    path = os.environ.get("FIXEXCH_WIRE_CAPTURE")
    if not path:
        return
    from fixexchange.session.acceptor import Connection

    original = Connection.data_to_send

    def data_to_send(self) -> bytes:
        data = original(self)
        if data:
            with open(path, "ab") as capture:
                capture.write(data)
        return data

    Connection.data_to_send = data_to_send
