"""The data dictionary of our dialect (`fixexchange dictionary`) and the wire against it.

The broad test runs a representative part of the suite (the daemon end to end: orders,
market data, the session conformance scripts, the audit findings, the QuickFIX client, the
wire extensions, halts/drop copies/cancel-on-disconnect, throttles) in a child pytest that records every message the daemon sends, then
validates each one with QuickFIX's own validator (quickfix-tls): against the dialect's
dictionary, all of them; against QuickFIX's standard FIX44.xml, all those sent to sessions
without wire extensions. Zero rejects either way."""
from __future__ import annotations

import os
import subprocess
import sys
import xml.etree.ElementTree as ET
from collections import Counter
from pathlib import Path

import pytest

from fixexchange.codec import FixParser, Garbled
from fixexchange.server.dialect import ADDED_FIELDS, FIX44_XML
from fixexchange.server.main import main

ROOT = Path(__file__).resolve().parents[2]
# daemon tests whose sessions use wire extensions name their client CompIDs XT...
EXTENSION_SESSION_PREFIX = b"XT"
CAPTURED_TESTS = [
    "tests/server/test_e2e_orders.py",
    "tests/server/test_e2e_marketdata.py",
    "tests/server/test_audit_findings.py",
    "tests/server/test_conformance_daemon.py",
    "tests/server/test_quickfix_interop.py",
    "tests/server/test_wire_extensions.py",
    "tests/server/test_operating.py",
    "tests/server/test_hardening.py",
]


def test_dictionary_subcommand_writes_fix44_plus_our_additions(tmp_path, capsys):
    out = tmp_path / "fixexchange.xml"
    assert main(["dictionary", "-o", str(out)]) == 0
    ours = ET.parse(out).getroot()
    standard = ET.parse(FIX44_XML).getroot()
    fields = {f.get("name"): f for f in ours.find("fields")}
    assert len(fields) == len(standard.find("fields")) + len(ADDED_FIELDS)
    assert [v.get("enum") for v in fields["AggressorSide"]] == ["1", "2"]
    logon = next(m for m in ours.find("messages") if m.get("msgtype") == "A")
    assert "CancelOnDisconnect" in [f.get("name") for f in logon]
    assert fields["MinPriceIncrement"].get("number") == "969"
    assert "L" in [v.get("enum") for v in fields["ExecType"]]
    assert len(ours.find("messages")) == len(standard.find("messages"))
    assert main(["dictionary"]) == 0  # to standard output
    assert capsys.readouterr().out.encode() == out.read_bytes()
    assert main(["dictionary", "-o", str(tmp_path / "missing" / "x.xml")]) == 1


def test_every_message_the_daemon_sends_validates_with_quickfix(tmp_path):
    fix = pytest.importorskip("quickfix")
    dialect = tmp_path / "fixexchange.xml"
    assert main(["dictionary", "-o", str(dialect)]) == 0
    capture = tmp_path / "wire.bin"
    env = dict(os.environ, FIXEXCH_WIRE_CAPTURE=str(capture),
               PYTHONPATH=os.pathsep.join([str(ROOT), str(ROOT / "tests"), os.environ.get("PYTHONPATH", "")]))
    run = subprocess.run([sys.executable, "-m", "pytest", "-q", "-x", "-p", "no:cacheprovider", "-p", "wire_capture",
                          *CAPTURED_TESTS], cwd=ROOT, env=env, capture_output=True, text=True, timeout=600)
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
    messages = [m for m in FixParser(max_message_size=1 << 20, max_fields=100_000).feed(capture.read_bytes())
                if not isinstance(m, Garbled)]
    ours, standard = fix.DataDictionary(str(dialect)), fix.DataDictionary(str(FIX44_XML))
    problems = []
    checked = Counter()
    for message in messages:
        text = message.raw.decode("latin-1")
        extended = message.get(56, b"").startswith(EXTENSION_SESSION_PREFIX)
        for name, dictionary in (("dialect", ours), ("FIX44.xml", None if extended else standard)):
            if dictionary is None:
                continue
            try:
                dictionary.validate(fix.Message(text, dictionary, True))
            except Exception as problem:  # QuickFIX raises its own exception types
                problems.append((name, f"{type(problem).__name__}: {problem}", text.replace("\x01", "|")))
        checked[message.msg_type.decode()] += 1
    assert not problems, problems[:10]
    # broad: every kind of message the exchange sends, many of each
    assert {"0", "2", "3", "4", "5", "A", "8", "9", "W", "X", "Y", "y", "r", "j"} <= set(checked), checked
    assert sum(checked.values()) > 1000, checked
    print(f"validated {sum(checked.values())} messages: {dict(sorted(checked.items()))}")
