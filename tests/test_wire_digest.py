"""The exchange's wire output for a seeded flow is unchanged (tools/wire_digest.py).

Speed work must not change a byte of what clients get.  A change that is meant to alter the
wire output updates EXPECTED here, saying why in its commit.
"""
import importlib.util
from pathlib import Path

EXPECTED = (5_552_348, "85bcd76d29917ae7bf60e85572684d9c6b9fd5cfb34c81d0426764e550a3ca03")


def test_seeded_flow_sends_the_same_bytes():
    path = Path(__file__).resolve().parents[1] / "tools" / "wire_digest.py"
    spec = importlib.util.spec_from_file_location("wire_digest", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    assert module.wire_digest() == EXPECTED
