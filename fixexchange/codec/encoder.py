"""FIX encoder: header envelope, BodyLength and CheckSum around the given fields."""

from __future__ import annotations

import re
from typing import Iterable, NamedTuple
from zlib import adler32


from ._field_types import FIELD_TYPES
from .dictionary import check_field
from .parser import DATA_FIELDS, checksum
from .tags import AggressorSide, CancelOnDisconnect, MinPriceIncrement

_MISSING = object()
EXTENSION_TAGS = frozenset((AggressorSide, CancelOnDisconnect, MinPriceIncrement))

# Precomputed b"<tag>=" prefixes for the tags an exchange writes most.
_PREFIX_CACHE_LIMIT = 2048
_prefixes: dict[int, bytes] = {tag: b"%d=" % tag for tag in range(1, 1000)}


def _prefix(tag: int) -> bytes:
    prefix = _prefixes.get(tag)
    if prefix is None:
        if type(tag) is not int or tag <= 0:
            raise ValueError(f"invalid tag {tag!r}")
        prefix = b"%d=" % tag
        if len(_prefixes) < _PREFIX_CACHE_LIMIT:
            _prefixes[tag] = prefix
    return prefix


def _value_bytes(value) -> bytes:
    kind = type(value)
    if kind is bytes:
        return value
    if kind is str:
        return value.encode("latin-1")
    if kind is bool:
        return b"Y" if value else b"N"
    if kind is int:
        return b"%d" % value
    if isinstance(value, (bytes, bytearray, memoryview)):
        return bytes(value)
    if isinstance(value, float):
        # Prices are exact decimal strings in this project; a float would round silently.
        raise TypeError("float field values are not accepted; pass a decimal string")
    return str(value).encode("latin-1")


def encode_body(fields: Iterable[tuple[int, object]]) -> list[bytes]:
    """``tag=value\\x01`` parts for ``fields`` (helper for ``encode`` and groups)."""
    parts = []
    append = parts.append
    prefixes = _prefixes
    for tag, value in fields:
        prefix = prefixes.get(tag)
        if prefix is None:
            prefix = _prefix(tag)
        kind = type(value)
        if kind is not bytes:
            value = _value_bytes(value)
        append(prefix)
        append(value)
        append(b"\x01")
    return parts


# b"\x01<tag>=": the SOH ending the previous field travels with the next tag's prefix.
_soh_prefixes: dict[int, bytes] = {tag: b"\x01%d=" % tag for tag in range(1, 1000)}
_DATA_PREFIXES = frozenset(b"\x01%d=" % tag for tag in DATA_FIELDS.values())


def _data_soh_count(parts: list[bytes]) -> int:
    """SOH bytes inside data-field values (legal there: their length field frames them)."""
    return sum(value.count(b"\x01") for prefix, value in zip(parts[2:-1:2], parts[3::2])
               if prefix in _DATA_PREFIXES)


# Tag sequence -> (format template, positions of %d values, SOH count of the message);
# template None: encode field by field.
# The template holds every b"\x01<tag>=" prefix and a %s (bytes) or %d (int) per value, as
# the first message with that sequence had them; a later value of another type makes the
# format fail (or the int check below), and that message takes the field-by-field path.
_templates: dict[tuple, tuple] = {}
_MAX_TEMPLATES = 2048
_MAX_TEMPLATE_FIELDS = 64  # longer messages (market data) vary too much to be worth caching
_DATA_TAGS = frozenset(DATA_FIELDS.values())


_NO_TEMPLATE = (None, (), 0)
_TRAILERS = tuple(b"10=%03d\x01" % total for total in range(256))


def _template(tags: tuple, values: tuple):
    entry = _NO_TEMPLATE
    if len(tags) <= _MAX_TEMPLATE_FIELDS and _DATA_TAGS.isdisjoint(tags):
        try:
            prefixes = [b"\x01" + _prefix(tag) for tag in tags]
        except (TypeError, ValueError):
            prefixes = None
        if prefixes is not None:
            ints = tuple(position for position, value in enumerate(values) if type(value) is int)
            entry = (b"".join(prefix + (b"%d" if type(value) is int else b"%s")
                              for prefix, value in zip(prefixes, values)) + b"\x01",
                     ints, len(tags) + 3)
    if len(_templates) >= _MAX_TEMPLATES:
        _templates.clear()
    _templates[tags] = entry
    return entry


# Pseudo-tag for a run of complete, already encoded fields: ``(PREENCODED,
# b"279=0\x01269=1\x01270=110\x01")`` is inserted verbatim (each field ending in SOH).
# (Market data shares its encoded entries through ``SharedBlockBody`` instead.)
PREENCODED = 0
_PREENCODED_FIELD = re.compile(rb"(?:[1-9][0-9]{0,8}=[^\x01]+\x01)+")


def _format_with_str_values(template: bytes, values: tuple):
    """``template % values`` with str values as latin-1 bytes (what ``_value_bytes`` makes of
    them: a Text(58) is often a str); None when that is not enough (another type, a str
    beyond latin-1): the caller's field-by-field path then raises the right error."""
    try:
        return template % tuple([value.encode("latin-1") if type(value) is str else value
                                 for value in values])
    except (TypeError, UnicodeEncodeError):
        return None


def encode(begin_string: bytes, msg_type: bytes, fields: Iterable[tuple[int, object]]) -> bytes:
    """Encode one message: 8, 9, 35, then ``fields`` in the given order, then 10.

    Values may be bytes, str (latin-1), int or bool (Y/N). A value containing SOH raises
    ``ValueError`` because it would corrupt the framing, except in a data field (96
    RawData, 89 Signature, 355 EncodedText, ...) placed after its length field.
    ``(PREENCODED, b"tag=value\x01...")`` inserts complete encoded fields verbatim.
    """
    if type(msg_type) is not bytes:
        msg_type = _value_bytes(msg_type)
    if type(begin_string) is not bytes:
        begin_string = _value_bytes(begin_string)
    if type(fields) is not list:
        fields = list(fields)
    # Fast path: one C-level format of the cached template for this tag sequence.
    try:
        tags, values = zip(*fields)
    except (TypeError, ValueError):
        tags = template = None  # not (tag, value) pairs: the loop below raises the error
    if tags is not None:
        try:
            template, ints, soh_count = _templates[tags]
        except KeyError:
            template, ints, soh_count = _template(tags, values)
        except TypeError:
            template = None  # an unhashable tag: the loop below raises the error
    if template is not None:
        for position in ints:
            if type(values[position]) is not int:  # bool, float: not for %d
                break
        else:
            try:
                text = template % values
            except TypeError:  # a value of another type than the template's
                text = _format_with_str_values(template, values)
            if text is not None:
                message = b"8=%s\x019=%d\x0135=%s%s" % (
                    begin_string, len(msg_type) + len(text) + 3, msg_type, text)
                # One SOH per field exactly (8, 9 and 35 included); more means an SOH
                # inside a value, which the loop below reports.
                if message.count(b"\x01") == soh_count:
                    return message + _TRAILERS[checksum(message)]
    return _encode_field_by_field(begin_string, msg_type, fields)


def _encode_field_by_field(begin_string: bytes, msg_type: bytes, fields: list) -> bytes:
    """encode's careful path: each field on its own (PREENCODED blocks, data fields, the
    errors)."""
    parts = [b"35=", msg_type]
    append = parts.append
    soh_prefixes = _soh_prefixes
    preencoded_sohs = 0
    for tag, value in fields:
        prefix = soh_prefixes.get(tag)
        if prefix is None:
            if tag == PREENCODED:
                # complete "tag=value<SOH>" fields, put in as they are
                if type(value) is not bytes or _PREENCODED_FIELD.fullmatch(value) is None:
                    raise ValueError("PREENCODED value must be complete tag=value\\x01 fields")
                append(b"\x01")
                append(value[:-1])
                preencoded_sohs += value.count(b"\x01") - 1
                continue
            prefix = b"\x01" + _prefix(tag)
        if type(value) is not bytes:
            value = _value_bytes(value)
        append(prefix)
        append(value)
    append(b"\x01")
    body = b"".join(parts)
    sohs = body.count(b"\x01")
    # One SOH per field (35 included) exactly; more means an SOH inside a value, which
    # only a data field (RawData, Signature, ...) may hold.
    expected_sohs = len(parts) // 2 + preencoded_sohs
    if sohs != expected_sohs and sohs != expected_sohs + _data_soh_count(parts):
        raise ValueError("field value contains SOH (\\x01)")
    message = b"8=%s\x019=%d\x01%s" % (begin_string, len(body), body)
    return message + b"10=%03d\x01" % checksum(message)


class SharedBlockBody(NamedTuple):
    """A body of the recipient's own fields then a block shared by many messages (market
    data: one X block for every subscriber), both already encoded as whole "tag=value<SOH>"
    fields, with the block's byte sum worked out once (``shared_block``): each message then
    costs only its own few bytes.  Trusted like a ``bytes`` body (only the final SOHs are
    checked)."""

    own: bytes
    block: bytes
    block_sum: int


def shared_block(fields: Iterable[tuple[int, object]]) -> tuple[bytes, int]:
    """``fields`` encoded once for a ``SharedBlockBody``: (the bytes, their byte sum mod 256)."""
    block = b"".join(encode_body(fields))
    return block, checksum(block)


# ---------------------------------------------------------------- fields encoded ahead
# Builders that encode a body themselves (the gateway's ExecutionReports, see
# header_encoder's bytes bodies) make their constant parts here, once, at import: each tag
# and constant value is checked against the dictionary when the part is made, so a wrong
# one fails at start-up, not on the wire; per message only the %-format runs.

_CONVERSIONS = re.compile(rb"(?:%[sd])+")


def _checked_tag(tag) -> int:
    if type(tag) is not int or tag not in FIELD_TYPES and tag not in EXTENSION_TAGS:
        raise ValueError(f"tag {tag!r} is not a FIX 4.4 field")
    return tag


def encoded_field(tag: int, value, *, extension: bool = False) -> bytes:
    """``b"tag=value\\x01"``, checked: ``value`` (bytes, str or int) must be valid for ``tag``
    by the FIX 4.4 dictionary; ``extension`` (a value or field beyond FIX 4.4 that a session
    opts into) only asks for a tag number and a value without SOH."""
    text = _value_bytes(value)
    if extension:
        _checked_tag(tag)
        if not text or b"\x01" in text:
            raise ValueError(f"{value!r} is not a field value")
    else:
        check_field(tag, text)
    return b"%d=%s\x01" % (tag, text)


def fields_format(*items) -> bytes:
    """A %-format for a run of encoded fields, checked: an int item is a FIX 4.4 tag whose
    value is one ``%s``; ``(tag, value_format)`` gives the value's format (``b"%d"``,
    ``b"%s%d"``, ``b"canceled: %s"``); a bytes item of only ``%s``/``%d`` conversions is a slot
    for fields encoded elsewhere (each whole "tag=value<SOH>")."""
    parts = []
    for item in items:
        if type(item) is bytes:
            if _CONVERSIONS.fullmatch(item) is None:
                raise ValueError(f"{item!r}: a slot holds only %s/%d conversions")
            parts.append(item)
            continue
        tag, value_format = (item, b"%s") if type(item) is int else item
        if type(value_format) is not bytes or not value_format or b"\x01" in value_format or b"%" not in value_format:
            raise ValueError(f"{value_format!r} is not a value format")
        parts.append(b"%d=%s\x01" % (_checked_tag(tag), value_format))
    return b"".join(parts)


def header_encoder(begin_string: bytes, sender_comp_id: bytes, target_comp_id: bytes):
    """``encode`` for one session's messages, its constant header fields encoded once.

    Returns ``enc(msg_type, seq_num, sending_time, fields) -> bytes``, giving the same bytes
    (and the same errors) as ``encode(begin_string, msg_type, [(49, sender_comp_id),
    (56, target_comp_id), (34, seq_num), (52, sending_time), *fields])``: the per-message
    work is the body's cached template and one format of the envelope around it.

    ``fields`` may also be ``bytes``: the body already encoded as whole "tag=value<SOH>"
    fields (what ``(PREENCODED, body)`` would insert), put in as it is. Like PREENCODED it
    is the caller's to get right, and unlike it is not checked field by field (that check
    would cost as much as the encoding it saves): only its final SOH is. Its constant parts
    are best made with ``encoded_field`` and ``fields_format``, checked when made.  Or a
    ``SharedBlockBody``, likewise.
    """

    def enc_general(msg_type, seq_num, sending_time, fields):
        if type(fields) is bytes:
            fields = [(PREENCODED, fields)] if fields else []
        elif type(fields) is SharedBlockBody:
            fields = [(PREENCODED, part) for part in fields[:2] if part]
        return encode(begin_string, msg_type, [(49, sender_comp_id), (56, target_comp_id), (34, seq_num),
                                               (52, sending_time), *fields])

    if not all(type(value) is bytes and value and b"\x01" not in value and b"=" not in value
               for value in (begin_string, sender_comp_id, target_comp_id)):
        return enc_general
    return _session_encoder(b"8=" + begin_string + b"\x019=",
                            b"\x0149=" + sender_comp_id + b"\x0156=" + target_comp_id + b"\x0134=",
                            enc_general)


def _session_encoder(start: bytes, head: bytes, enc_general):
    """``header_encoder``'s per-message ``enc``: ``start`` is "8=<BeginString><SOH>9=",
    ``head`` the constant fields after MsgType up to "34="; what it does not take on (odd
    types, a field it cannot template, an SOH inside a value) goes to ``enc_general``."""
    templates = _templates
    trailers = _TRAILERS

    def enc(msg_type, seq_num, sending_time, fields):
        if type(seq_num) is not int or type(sending_time) is not bytes or type(msg_type) is not bytes:
            return enc_general(msg_type, seq_num, sending_time, fields)
        if type(fields) is bytes:
            # an encoded body (the gateway's ExecutionReports): trusted to be whole
            # "tag=value<SOH>" fields, as PREENCODED is, so no per-field work at all
            if fields and fields[-1] != 1:
                raise ValueError("an encoded body must end with SOH (\\x01)")
            middle = b"%s%s%d\x0152=%s\x01%s" % (msg_type, head, seq_num, sending_time, fields)
            message = b"%s%d\x0135=%s" % (start, len(middle) + 3, middle)
            # up to 256 bytes, checksum()'s first case without its call: about 1,000
            # instructions less per report (encode, store, queue: 16,900 -> 15,600)
            if len(message) <= 256:
                return message + trailers[(adler32(message) - 1) & 0xFF]
            return message + trailers[checksum(message)]
        if type(fields) is SharedBlockBody:
            # market data: the subscriber's MDReqID and entry count, then the update's entries
            own, block, block_sum = fields
            if own[-1:] != b"\x01" or block[-1:] != b"\x01":
                raise ValueError("an encoded body must end with SOH (\\x01)")
            middle = b"%s%s%d\x0152=%s\x01%s" % (msg_type, head, seq_num, sending_time, own)
            message = b"%s%d\x0135=%s" % (start, len(middle) + 3 + len(block), middle)
            if len(message) <= 256:  # (checksum's first case without its call: once per subscriber)
                return b"".join((message, block, trailers[((adler32(message) & 0xFFFF) - 1 + block_sum) & 0xFF]))
            return b"".join((message, block, trailers[(checksum(message) + block_sum) & 0xFF]))
        if type(fields) is not list:
            fields = list(fields)
        given = fields
        if fields:
            try:
                tags, values = zip(*fields)
                template, ints, soh_count = templates[tags]
            except KeyError:
                template, ints, soh_count = _template(tags, values)
            except (TypeError, ValueError):  # not (tag, value) pairs, an unhashable tag
                return enc_general(msg_type, seq_num, sending_time, given)
            if template is None:
                return enc_general(msg_type, seq_num, sending_time, given)
            for position in ints:
                if type(values[position]) is not int:  # bool, float: not for %d
                    return enc_general(msg_type, seq_num, sending_time, given)
            try:
                text = template % values
            except TypeError:  # a value of another type than the template's
                text = _format_with_str_values(template, values)
                if text is None:
                    return enc_general(msg_type, seq_num, sending_time, given)
            soh_count += 4  # 49, 56, 34 and 52
        else:
            text = b"\x01"
            soh_count = 7
        middle = b"%s%s%d\x0152=%s%s" % (msg_type, head, seq_num, sending_time, text)
        message = b"%s%d\x0135=%s" % (start, len(middle) + 3, middle)
        # one SOH per field exactly, else a value holds one: the general path reports it
        if message.count(b"\x01") != soh_count:
            return enc_general(msg_type, seq_num, sending_time, given)
        return message + trailers[checksum(message)]

    return enc
