"""Incremental FIX framer/parser: bytes in, FixMessage or Garbled out.

Framing follows the spec's three-field envelope: ``8=<begin>|9=<len>|35=...|10=ddd|``.
A message whose BodyLength, CheckSum or first three fields are wrong is dropped as
``Garbled`` and the parser hunts for the next message start. The result never depends on
how the stream is split into ``feed`` calls, and ``feed`` never raises for bad input.
"""

from __future__ import annotations

import re
from zlib import adler32

from .message import (MAX_CACHED_FIELDS, MAX_LAYOUTS, FixMessage, Garbled, Layout, layout_for,
                      message_from_parts)


SOH = 1
_START = b"8=FIX"
# Longest BeginString value we accept ("FIXT.1.1" is 8) and BodyLength digit count.
_MAX_BEGIN_STRING_LEN = 16
_MAX_BODY_LENGTH_DIGITS = 9
_TRAILER_LEN = 7  # b"10=ddd\x01"
_DIGITS = frozenset(b"0123456789")
_MAX_TAG_DIGITS = 9
_MAX_DATA_LENGTH_DIGITS = 9

# The well-formed envelope in one C call; anything else goes through the careful checks.
_ENVELOPE = re.compile(rb"8=([^\x01]{1,%d})\x019=(\d{1,%d})\x01"
                       % (_MAX_BEGIN_STRING_LEN, _MAX_BODY_LENGTH_DIGITS)).match
_TRAILER = re.compile(rb"\x0110=(\d\d\d)\x01").match
# ... and with MsgType(35) third, for the hot path.
_FULL_ENVELOPE = re.compile(rb"8=([^\x01]{1,%d})\x019=(\d{1,%d})\x01(?=35=)"
                            % (_MAX_BEGIN_STRING_LEN, _MAX_BODY_LENGTH_DIGITS)).match

_CHECKSUM_TEXTS = tuple(b"%03d" % total for total in range(256))
# CheckSum text -> the byte sum mod 256 of a whole message that carries it correctly (its
# trailer "10=ddd<SOH>" included), -1 for a text no CheckSum has: a message of at most 256
# bytes is then checked with one adler32 over its raw bytes, see _hot_message.
_WHOLE_SUMS = {b"%03d" % total: (total + sum(b"10=%03d\x01" % total)) & 0xFF if total < 256 else -1
               for total in range(1000)}

DEFAULT_MAX_MESSAGE_SIZE = 65536
DEFAULT_MAX_FIELDS = 1024

# Tag text -> int for every plain tag below 10000, so the common path converts a whole
# message's tags with one C-level map(); anything else takes the careful path.
_tag_cache: dict[bytes, int] = {b"%d" % tag: tag for tag in range(1, 10000)}
_tag_lookup = _tag_cache.__getitem__


def _tag_number(text: bytes) -> int:
    """Int tag for ``text``; 0 (never a valid FIX tag) unless it is a plain positive decimal."""
    tag = _tag_cache.get(text)
    if tag is not None:
        return tag
    # int() alone would accept b" 5", b"+5" and b"1_0"; FIX tags are plain digits, and a
    # length cap keeps int() clear of its 4300-digit limit (and of absurd tags).
    if text.isdigit() and text[0] != 0x30 and len(text) <= _MAX_TAG_DIGITS:
        return int(text)
    return 0


def checksum(data, start: int = 0, end: int | None = None) -> int:
    """Sum of ``data[start:end]`` modulo 256 (the FIX CheckSum).

    adler32's low half is 1 + the byte sum mod 65521; over 256-byte chunks the sum stays
    below 65521, so it is exact and far faster than a Python-level ``sum``.
    """
    if end is None:
        end = len(data)
    if end - start <= 256:
        return ((adler32(data[start:end]) & 0xFFFF) - 1) & 0xFF
    if end - start <= 512:  # two chunks (a long ExecutionReport): no loop
        middle = start + 256
        return ((adler32(data[start:middle]) & 0xFFFF) + (adler32(data[middle:end]) & 0xFFFF) - 2) & 0xFF
    view = memoryview(data)
    total = 0
    for chunk_start in range(start, end, 256):
        chunk_end = chunk_start + 256
        total += (adler32(view[chunk_start:chunk_end if chunk_end < end else end]) & 0xFFFF) - 1
    return total & 0xFF


# Length field -> the data field it announces; a data value may hold SOH and '='.
DATA_FIELDS = {90: 91, 93: 89, 95: 96, 212: 213, 348: 349, 350: 351, 352: 353, 354: 355,
               356: 357, 358: 359, 360: 361, 362: 363, 364: 365, 445: 446, 618: 619, 621: 622}
_DATA_LENGTH_TAGS = frozenset(DATA_FIELDS)
_DATA_LENGTH_FIELD = re.compile(
    rb"\x01(?:%s)=" % b"|".join(b"%d" % tag for tag in DATA_FIELDS)).search


def parse_fields(body: bytes) -> list[tuple[int, bytes]]:
    """Split ``35=...\\x01tag=value...`` (without the final SOH) into ``(int tag, bytes)``."""
    # Fast path, all in C: when every field has exactly one '=', splitting on both
    # separators alternates tag, value.
    parts = body.replace(b"\x01", b"=").split(b"=")
    if len(parts) == 2 * body.count(b"\x01") + 2:
        try:
            tags = list(map(_tag_lookup, parts[0::2]))
        except KeyError:
            tags = None  # a tag that is not a plain number below 10000
        if tags is not None:
            if _DATA_LENGTH_TAGS.isdisjoint(tags):
                return list(zip(tags, parts[1::2]))
            return _parse_fields_with_data(body)
    if _DATA_LENGTH_FIELD(body) is not None:
        return _parse_fields_with_data(body)
    fields = []
    append = fields.append
    cache_get = _tag_cache.get
    for part in body.split(b"\x01"):
        tag_text, equals, value = part.partition(b"=")
        tag = cache_get(tag_text)
        if tag is None:
            tag = _tag_number(tag_text)
        if not equals:
            tag = 0  # "55" with no '=' is not a field at all
        append((tag, value))
    return fields


# Tag texts of a split message -> its Layout, or None when the careful path must parse it.
_text_layouts: dict[tuple, Layout | None] = {}
_cached_tag = _tag_cache.get


def _layout_of_texts(texts: tuple) -> Layout | None:
    """Layout for the tag texts of a split message: every tag a plain decimal below 10000,
    8, 9, 35 first and 10 last, and no data length field (its data may hold SOH or '=')."""
    tags = tuple(map(_cached_tag, texts))
    if (None in tags or tags[:3] != (8, 9, 35) or tags[-1] != 10
            or not _DATA_LENGTH_TAGS.isdisjoint(tags)):
        layout = None
    else:
        layout = layout_for(tags)
    if len(texts) <= MAX_CACHED_FIELDS:
        if len(_text_layouts) >= MAX_LAYOUTS:
            _text_layouts.clear()
        _text_layouts[texts] = layout
    return layout


_MISSING = object()

# Hot shapes: tag sequences whose messages a data dictionary has vouched for (its validate
# registers one after its first couple of hundred valid messages of that shape). One regular
# expression, a trie of all of them with a capture group per value, checks the framing
# fields and every value's format and extracts the values in one C call; the message then
# carries the dictionary as proof of validity. Anything it does not match takes the split
# path. The shapes belong to the dictionary that vouched for them (``DataDictionary.hot_shapes``)
# and reach a parser only when it is given them (``FixParser(hot_shapes=...)``).
MAX_HOT_SHAPES = 16  # (the trie shares prefixes: rebuilding it for 16 costs ~1-3 ms)
# The values of 8, 9 and 10 as the split path accepts them (no leading zero in BodyLength).
_ENVELOPE_PATTERNS = (rb"FIX[^\x01]{0,%d}+" % (_MAX_BEGIN_STRING_LEN - 3),
                      rb"[1-9][0-9]{0,%d}+" % (_MAX_BODY_LENGTH_DIGITS - 1))


class HotShapes:
    """The hot shapes one dictionary vouched for: ``match`` (the trie's compiled ``.match``,
    None while there are none) and ``leaves`` (number of a shape's CheckSum group ->
    (layout, value group numbers, proof))."""

    __slots__ = ("_shapes", "match", "leaves")

    def __init__(self) -> None:
        self._shapes: dict[tuple, tuple] = {}  # shape -> (value patterns, proof)
        self.match = None
        self.leaves: dict[int, tuple] = {}

    def __len__(self) -> int:
        return len(self._shapes)

    def add(self, shape: tuple, msg_type: bytes, patterns: tuple, proof) -> None:
        """Match messages of ``shape`` (int tags, MsgType ``msg_type``) whose values between
        MsgType and CheckSum match ``patterns`` (regular expressions, no capture groups, that
        never match SOH) in one call; such messages get ``proof`` (truthy) as ``_split``."""
        if (len(shape) > MAX_CACHED_FIELDS or shape[:3] != (8, 9, 35) or shape[-1] != 10
                or len(set(shape)) != len(shape) or min(shape) <= 0
                or not _DATA_LENGTH_TAGS.isdisjoint(shape) or len(patterns) != len(shape) - 4):
            return
        shapes = self._shapes
        shapes.pop(shape, None)
        if len(shapes) >= MAX_HOT_SHAPES:
            del shapes[next(iter(shapes))]  # the oldest
        shapes[shape] = (_ENVELOPE_PATTERNS + (re.escape(msg_type),) + tuple(patterns)
                         + (rb"[0-9]{3}",), proof)
        self._compile()

    def _compile(self) -> None:
        trie: dict = {}
        for shape, (patterns, proof) in self._shapes.items():
            node = trie
            for tag, pattern in zip(shape, patterns):
                node = node.setdefault(b"%d=(%s)\x01" % (tag, pattern), {})
            node[None] = (shape, proof)
        leaves = {}
        count = 0

        def emit(node, groups):
            nonlocal count
            alternatives = []
            for piece, child in node.items():
                if piece is None:  # a leaf: the last group was the shape's CheckSum
                    shape, proof = child
                    leaves[count] = (layout_for(shape), groups, proof)
                else:
                    count += 1
                    alternatives.append(piece + emit(child, groups + (count,)))
            return b"(?:%s)" % b"|".join(alternatives) if len(alternatives) > 1 else b"".join(alternatives)

        pattern = re.compile(emit(trie, ()))
        # (A capture group inside a value pattern would shift the numbering: no hot path then.)
        self.match, self.leaves = (pattern.match if pattern.groups == count else None), leaves


def _hot_message(leaves: dict, match, pos: int, max_size: int, max_fields: int) -> FixMessage | None:
    """The message a hot-shape ``match`` at ``pos`` found (``leaves`` of its HotShapes), when
    its BodyLength and CheckSum are right and it is within the limits; else None (the
    general path decides)."""
    layout, groups, proof = leaves[match.lastindex]
    values = match.group(*groups)
    end = match.end()
    size = end - pos
    length_text = values[1]
    if (int(length_text) == size - 13 - len(values[0]) - len(length_text)
            and size <= max_size and len(values) <= max_fields):
        raw = match.string[pos:end]
        # up to 256 bytes, checksum()'s first case without its call and slice: adler32's
        # low half is 1 + the byte sum (parse + validate: 30,400 -> 29,200 instructions per request)
        if (((adler32(raw) - 1) & 0xFF) == _WHOLE_SUMS[values[-1]] if size <= 256
                else values[-1] == _CHECKSUM_TEXTS[checksum(raw, 0, size - 7)]):
            return message_from_parts(layout, values, raw, proof)
    return None


def _whole_message(data: bytes, max_fields: int) -> FixMessage | None:
    """The message when ``data`` (at a message start) is exactly one well-formed message
    whose fields one C-level split gives; None sends it down the careful path, which
    reaches the same result for everything this accepts."""
    # When every field has exactly one '=', splitting on both separators alternates tag,
    # value (and the final SOH leaves an empty last part).
    if data[-1] != SOH:
        return None
    parts = data.replace(b"\x01", b"=").split(b"=")
    if len(parts) != 2 * data.count(b"\x01") + 1:
        return None
    texts = tuple(parts[0:-1:2])
    layout = _text_layouts.get(texts, _MISSING)
    if layout is _MISSING:
        layout = _layout_of_texts(texts)
    if layout is None:
        return None
    values = parts[1::2]
    begin = values[0]
    length_text = values[1]
    size = len(data)
    # 8=FIX...<SOH>9=<length><SOH>, the body, 10=ddd<SOH>. (A BodyLength with leading
    # zeros is fine but left to the careful path.)
    if (begin[:3] == b"FIX" and len(begin) <= _MAX_BEGIN_STRING_LEN
            and length_text == b"%d" % (size - 13 - len(begin) - len(length_text))
            and len(values) <= max_fields
            and values[-1] == _CHECKSUM_TEXTS[checksum(data, 0, size - 7)]):
        return message_from_parts(layout, values, data)
    return None


def _parse_fields_with_data(body: bytes) -> list[tuple[int, bytes]]:
    """Field split that reads a data field's value by the length its length field gave."""
    fields = []
    size = len(body)
    pos = 0
    data_tag = None
    data_length = 0
    while pos <= size:
        equals = body.find(b"=", pos)
        soh = body.find(b"\x01", pos)
        if soh < 0:
            soh = size
        if equals < 0 or soh < equals:
            fields.append((0, b""))  # a field with no '=' at all
            pos = soh + 1
            data_tag = None
            continue
        tag = _tag_number(body[pos:equals])
        end = soh
        if tag == data_tag and tag:
            data_end = equals + 1 + data_length
            if data_end == size or (data_end < size and body[data_end] == SOH):
                end = data_end
        value = body[equals + 1:end]
        fields.append((tag, value))
        data_tag = DATA_FIELDS.get(tag)
        if data_tag is not None:
            if value.isdigit() and len(value) <= _MAX_DATA_LENGTH_DIGITS:
                data_length = int(value)
            else:
                data_tag = None
        pos = end + 1
    return fields


class FixParser:
    """Incremental parser. ``feed(data)`` returns every message completed by ``data``.

    ``max_message_size`` bounds a whole message (header to trailer) and therefore the
    bytes kept between calls; ``max_fields`` bounds the field count of one message.
    """

    def __init__(self, max_message_size: int = DEFAULT_MAX_MESSAGE_SIZE,
                 max_fields: int = DEFAULT_MAX_FIELDS, hot_shapes: HotShapes | None = None) -> None:
        if max_message_size < 64:
            raise ValueError("max_message_size must be at least 64 bytes")
        if max_fields < 4:
            raise ValueError("max_fields must be at least 4")
        self.max_message_size = max_message_size
        self.max_fields = max_fields
        # the shapes of the dictionary that validates this stream (none: the split path only)
        self._hot_shapes = hot_shapes if hot_shapes is not None else HotShapes()
        self._buffer = bytearray()
        # Bytes the buffer must hold before parsing is worth retrying (a known body length).
        self._need = 0
        # The stream byte just before the buffer (None at stream start): a message start
        # "8=FIX" counts only when not preceded by a digit, so "58=FIX" in a Text is no start.
        self._previous_byte: int | None = None
        # True when the buffer begins at an accepted message start.
        self._at_start = False
        # True when the buffer is empty and the byte before is no digit: a read that is
        # exactly one message may take the hot path in feed().
        self._clean = True
        # The hot path's size bound (also keeping BodyLength within its 9 digits).
        self._whole_max = min(max_message_size, 10 ** _MAX_BODY_LENGTH_DIGITS)

    @property
    def buffered(self) -> int:
        """Bytes held waiting for the rest of a message (never above max_message_size)."""
        return len(self._buffer)

    def feed(self, data: bytes) -> list[FixMessage | Garbled]:
        if not data:
            return []
        if self._clean:
            if type(data) is not bytes:
                data = bytes(data)
            # Hot path: ``data`` is exactly one well-formed message (one per read is the
            # common case): a hot shape of the dictionary, else one C-level split
            # (_whole_message). Anything else takes the general path below, which reaches
            # the same result.
            size = len(data)
            hot = self._hot_shapes
            match = hot.match(data) if hot.match is not None else None
            if match is not None and match.end() == size:
                message = _hot_message(hot.leaves, match, 0, self._whole_max, self.max_fields)
                if message is not None:
                    return [message]
            # (No second message start inside: a read of many messages takes the general path.)
            if size <= self._whole_max and data.find(b"\x018=FIX") < 0:
                message = _whole_message(data, self.max_fields)
                if message is not None:
                    return [message]
        if self._buffer:
            self._buffer += data
            if len(self._buffer) < self._need:
                return []
            buf = bytes(self._buffer)
        else:
            buf = bytes(data)
        out: list[FixMessage | Garbled] = []
        keep_from = self._parse(buf, out)
        if keep_from > 0:
            self._previous_byte = buf[keep_from - 1]
        self._buffer = bytearray(buf[keep_from:]) if keep_from < len(buf) else bytearray()
        previous = self._previous_byte
        self._clean = not self._buffer and (previous is None or previous not in _DIGITS)
        return out

    def _find_start(self, buf: bytes, pos: int) -> int:
        """Index of the next message start at or after ``pos``, or -1."""
        while True:
            idx = buf.find(_START, pos)
            if idx < 0:
                return -1
            previous = buf[idx - 1] if idx > 0 else self._previous_byte
            if previous is None or previous not in _DIGITS:
                return idx
            pos = idx + 1

    def _parse(self, buf: bytes, out: list) -> int:
        """Parse messages from ``buf`` into ``out``; return the offset of unconsumed bytes."""
        pos = 0
        length = len(buf)
        at_start = self._at_start
        self._need = 0
        hot_match = self._hot_shapes.match
        hot_leaves = self._hot_shapes.leaves
        max_message_size = self.max_message_size
        max_fields = self.max_fields
        while True:
            if not at_start:
                start = self._find_start(buf, pos)
                if start < 0:
                    # Keep a tail that may be the beginning of "8=FIX".
                    self._at_start = False
                    return max(pos, length - (len(_START) - 1))
                pos = start
            if hot_match is not None:
                # a hot shape, tried here rather than in _take_well_formed: one call less
                # per message of a pipelined stream (about 1,000 instructions, <1% of an order)
                match = hot_match(buf, pos)
                if match is not None:
                    message = _hot_message(hot_leaves, match, pos, max_message_size, max_fields)
                    if message is not None:
                        out.append(message)
                        pos = match.end()
                        at_start = buf.startswith(_START, pos)  # (it ended with SOH)
                        continue
            end = self._take_well_formed(buf, pos, length, out)
            if end >= 0:
                pos = end
                # It ended with SOH, so "8=FIX" right here is the next start.
                at_start = buf.startswith(_START, pos)
                continue
            step = self._take_carefully(buf, pos, length, out)
            if step is None:  # an incomplete message: wait for more bytes
                self._at_start = True
                return pos
            pos, at_start = step

    def _take_well_formed(self, buf: bytes, pos: int, length: int, out: list) -> int:
        """The message at ``pos`` (a message start) appended to ``out`` when it is complete
        and well formed (one C-level split, or a checked field split; _parse tried the hot
        shapes); returns its end, or -1 for the careful checks to decide."""
        max_fields = self.max_fields
        envelope = _FULL_ENVELOPE(buf, pos)
        if envelope is None:
            return -1
        body_start = envelope.end()
        body_end = body_start + int(envelope[2])
        end = body_end + _TRAILER_LEN
        if end > length or end - pos > self.max_message_size:
            return -1
        message = _whole_message(buf[pos:end], max_fields)
        if message is None:
            trailer = _TRAILER(buf, body_end - 1)
            if trailer is None:
                return -1
            checksum_text = trailer[1]
            if int(checksum_text) != checksum(buf, pos, body_end):
                return -1
            fields = parse_fields(buf[body_start:body_end - 1])
            if len(fields) + 3 > max_fields:
                return -1
            fields[0:0] = ((8, envelope[1]), (9, envelope[2]))
            fields.append((10, checksum_text))
            message = FixMessage(fields, buf[pos:end])
        out.append(message)
        return end

    def _take_carefully(self, buf: bytes, pos: int, length: int, out: list):
        """The careful checks of the message at ``pos``, one step at a time: appends the
        message or a Garbled to ``out`` and returns ``(next position, whether a message
        starts there)``, or None while the message is incomplete."""
        max_fields = self.max_fields
        max_message_size = self.max_message_size
        # buf[pos:] begins with b"8=FIX".
        envelope = _ENVELOPE(buf, pos)
        if envelope is not None:
            begin_string, length_text = envelope.groups()
            body_start = envelope.end()
        else:
            first_soh = buf.find(b"\x01", pos + 2, pos + 3 + _MAX_BEGIN_STRING_LEN)
            if first_soh < 0:
                if length - pos > 2 + _MAX_BEGIN_STRING_LEN:
                    out.append(Garbled("BeginString(8) has no end",
                                       buf[pos:pos + 3 + _MAX_BEGIN_STRING_LEN]))
                    return pos + 1, False
                return None
            if length < first_soh + 3:
                return None
            if buf[first_soh + 1:first_soh + 3] != b"9=":
                out.append(Garbled("BodyLength(9) is not the second field", buf[pos:first_soh + 3]))
                return pos + 1, False
            length_start = first_soh + 3
            second_soh = buf.find(b"\x01", length_start, length_start + _MAX_BODY_LENGTH_DIGITS + 1)
            if second_soh < 0:
                if length - length_start > _MAX_BODY_LENGTH_DIGITS:
                    out.append(Garbled("BodyLength(9) is not a number",
                                       buf[pos:length_start + _MAX_BODY_LENGTH_DIGITS + 1]))
                    return pos + 1, False
                return None
            length_text = buf[length_start:second_soh]
            if not length_text.isdigit():
                out.append(Garbled("BodyLength(9) is not a number", buf[pos:second_soh + 1]))
                return pos + 1, False
            begin_string = buf[pos + 2:first_soh]
            body_start = second_soh + 1
        body_end = body_start + int(length_text)
        end = body_end + _TRAILER_LEN
        if end - pos > max_message_size:
            out.append(Garbled(f"BodyLength(9) {int(length_text)} exceeds the "
                               f"{self.max_message_size}-byte message limit",
                               buf[pos:body_start]))
            return pos + 1, False
        if length < end:
            self._need = end - pos
            return None
        raw = buf[pos:end]
        trailer = _TRAILER(buf, body_end - 1)
        if trailer is None:
            reason = ("CheckSum(10) is wrong" if buf.startswith(b"\x0110=", body_end - 1)
                      and buf[end - 1] == SOH else "BodyLength(9) does not end at CheckSum(10)")
            out.append(Garbled(reason, raw))
            return pos + 1, False
        if not buf.startswith(b"35=", body_start):
            out.append(Garbled("MsgType(35) is not the third field", raw))
            return pos + 1, False
        checksum_text = trailer.group(1)
        if int(checksum_text) != checksum(buf, pos, body_end):
            out.append(Garbled("CheckSum(10) is wrong", raw))
            return pos + 1, False
        fields = parse_fields(buf[body_start:body_end - 1])
        if len(fields) + 3 > max_fields:
            out.append(Garbled(f"more than {self.max_fields} fields", raw))
            return end, False
        fields[0:0] = ((8, begin_string), (9, length_text))
        fields.append((10, checksum_text))
        out.append(FixMessage(fields, raw))
        # The message ended with SOH, so "8=FIX" right here is the next start.
        return end, buf.startswith(_START, end)
