"""docs/FIX-SPEC.md agrees with the code: it is what tools/gen_fix_spec.py generates now, and
(independently of the generator) its tags, enumerations and reject codes are the code's."""
from __future__ import annotations

import importlib.util
import re
from pathlib import Path

from fixexchange.codec.dictionary import FIX44, FIX44_ENUMS as ENUMS, HEADER_REQUIRED, REASON_TEXTS
from fixexchange.gateway import common as gw

ROOT = Path(__file__).resolve().parents[1]
SPEC = (ROOT / "docs" / "FIX-SPEC.md").read_text()


def generator():
    spec = importlib.util.spec_from_file_location("gen_fix_spec", ROOT / "tools" / "gen_fix_spec.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def section(title: str) -> str:
    start = SPEC.index(title)
    end = SPEC.find("\n#", start + len(title))
    return SPEC[start:end if end != -1 else None]


def rows(text: str) -> list[list[str]]:
    return [[cell.strip() for cell in line.strip("|").split("|")]
            for line in text.splitlines() if re.match(r"\| *[0-9]", line)]


def test_the_document_is_what_the_generator_writes_now():
    assert generator().render() == SPEC, "docs/FIX-SPEC.md is out of date: run python3 tools/gen_fix_spec.py"


def test_inbound_tags_are_the_dictionarys_and_required_marks_match():
    for msg_type in (b"D", b"F", b"G", b"H", b"q", b"V", b"x"):
        message = FIX44.messages[msg_type]
        table = rows(section(f"### {message.name} ({msg_type.decode()})"))
        assert table, msg_type
        required = set(message.required) - set(HEADER_REQUIRED)
        allowed = set(message.allowed)
        groups = list(message.groups.values())
        while groups:  # repeating-group members count too
            group = groups.pop()
            allowed.update(group.order)
            groups.extend(group.nested.values())
        for tag, field_name, mark, _ in table:
            assert int(tag) in allowed, (msg_type, tag)
            assert (mark == "Y") == (int(tag) in required), (msg_type, tag, mark)


def test_accepted_values_are_the_gateways():
    order = section("### NewOrderSingle (D)")
    for tag, table in ((54, gw.SIDES), (40, gw.ORD_TYPES), (59, gw.TIFS)):
        [row] = [r for r in rows(order) if r[0] == str(tag)]
        shown = re.findall(r"`([^`]+)`", row[3])
        assert shown == [value.decode() for value in table], (tag, shown)
        assert all(value in {v for v, _ in ENUMS[tag][2]} for value in shown)


def test_every_reject_code_the_code_can_send_is_documented():
    session = {int(r[0]) for r in rows(section("### Session Reject (3)"))}
    assert set(REASON_TEXTS) | {7, 9, 10} == session
    documented = {
        "ORD_REJ_": ("OrdRejReason(103)", 103), "CXL_REJ_": ("CxlRejReason(102)", 102),
        "BUSINESS_REJECT_": ("BusinessRejectReason(380)", 380), "MD_REJ_": ("MDReqRejReason(281)", 281),
        "MASS_CANCEL_REJECT_": ("MassCancelRejectReason(532)", 532)}
    for prefix, (title, tag) in documented.items():
        codes = {str(value.decode() if isinstance(value, bytes) else value)
                 for name, value in vars(gw).items() if name.startswith(prefix)}
        table = rows(section(title))
        assert {r[0] for r in table} == codes, (prefix, codes)
        for code, fix_name in table:  # named as FIX 4.4 names them
            assert (code, fix_name) in {(v, d) for v, d in ENUMS[tag][2]}, (tag, code)


def test_outbound_enumerated_values_are_fix44_values():
    outbound = SPEC[SPEC.index("## 3."):SPEC.index("## 4.")]
    for tag, _, values in rows(outbound):
        for value in re.findall(r"`([^`]+)`", values):
            assert value in {v for v, _ in ENUMS[int(tag)][2]}, (tag, value)
