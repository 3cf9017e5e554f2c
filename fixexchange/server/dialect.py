"""The data dictionary of fixexchange's FIX dialect, in QuickFIX's XML format.

``fixexchange dictionary`` writes it: QuickFIX's own FIX44.xml (shipped with the package,
with its licence, in ``fix44/``) plus exactly what fixexchange adds to FIX 4.4, all of it
only for sessions that opt into the matching wire extension (``extensions`` in the config;
see ``fixexchange.gateway.Gateway``):

- ExecType(150) value ``L`` (Triggered or activated by system, FIX 5.0) on elected stops
  (``exec_type_triggered``);
- AggressorSide(2446, FIX 5.0 SP2) in the entries of MarketDataSnapshotFullRefresh (W) and
  MarketDataIncrementalRefresh (X) (``aggressor_side``);
- MinPriceIncrement(969, FIX 4.4 extension packs) in the entries of SecurityList (y)
  (``min_price_increment``);
- and, inbound, CancelOnDisconnect(9001, Y/N) on a client's Logon (a venue convention).

A client that uses this file accepts everything fixexchange sends, to any session; one with
the standard FIX44.xml accepts everything sent to a session without extensions.
"""
from __future__ import annotations

import xml.etree.ElementTree as ET
from pathlib import Path

from ..codec.tags import AggressorSide, CancelOnDisconnect, MinPriceIncrement

FIX44_XML = Path(__file__).resolve().parent / "fix44" / "FIX44.xml"

# (number, name, type, values): fields FIX 4.4 lacks
ADDED_FIELDS = (
    (AggressorSide, "AggressorSide", "CHAR", (("1", "BUY"), ("2", "SELL"))),
    (MinPriceIncrement, "MinPriceIncrement", "FLOAT", ()),
    (CancelOnDisconnect, "CancelOnDisconnect", "BOOLEAN", (("Y", "YES"), ("N", "NO"))),
)
# (field name, value, description): values FIX 4.4 lacks
ADDED_VALUES = (("ExecType", "L", "TRIGGERED_OR_ACTIVATED_BY_SYSTEM"),)
# (component, group, field name): where the added fields may appear (last in the group)
ADDED_GROUP_MEMBERS = (
    ("MDFullGrp", "NoMDEntries", "AggressorSide"),
    ("MDIncGrp", "NoMDEntries", "AggressorSide"),
    ("SecListGrp", "NoRelatedSym", "MinPriceIncrement"),
)

_NOTE = """
  fixexchange's FIX dialect (written by `fixexchange dictionary`): QuickFIX's FIX44.xml
  (licence: fixexchange/server/fix44/QUICKFIX_LICENSE) plus, for sessions that opt into
  the matching extension: ExecType(150)=L (exec_type_triggered), AggressorSide(2446) in
  W/X entries (aggressor_side), MinPriceIncrement(969) in SecurityList entries
  (min_price_increment); and CancelOnDisconnect(9001) on a client's Logon.
"""


def dialect_xml() -> bytes:
    """The dialect's dictionary as XML bytes."""
    root = ET.parse(FIX44_XML).getroot()
    fields = root.find("fields")
    by_name = {field.get("name"): field for field in fields}
    for number, name, kind, values in ADDED_FIELDS:
        field = ET.SubElement(fields, "field", number=str(number), name=name, type=kind)
        for value, description in values:
            ET.SubElement(field, "value", enum=value, description=description)
        by_name[name] = field
    for name, value, description in ADDED_VALUES:
        ET.SubElement(by_name[name], "value", enum=value, description=description)
    components = {component.get("name"): component for component in root.find("components")}
    for component, group_name, field_name in ADDED_GROUP_MEMBERS:
        group = next(group for group in components[component].iter("group") if group.get("name") == group_name)
        ET.SubElement(group, "field", name=field_name, required="N")
    for message in root.find("messages"):
        if message.get("msgtype") == "A":
            ET.SubElement(message, "field", name="CancelOnDisconnect", required="N")
    root.insert(0, ET.Comment(_NOTE))
    ET.indent(root, space=" ")
    return b'<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(root, encoding="utf-8") + b"\n"


def write_dictionary(path: str | Path) -> Path:
    path = Path(path)
    path.write_bytes(dialect_xml())
    return path
