"""Inbound message and garbled-drop value types."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

_MSG_SEQ_NUM = 34
_MSG_TYPE = 35
# The layout caches are bounded against clients varying their field sets: at most this
# many layouts (then the cache starts over), and only of messages with at most
# MAX_CACHED_FIELDS fields (longer ones, rare, get a Layout of their own).
MAX_LAYOUTS = 1024
MAX_CACHED_FIELDS = 128


# Password(554), NewPassword(925): masked wherever a message is written down (secrets.py)
SECRET_TAGS = frozenset((554, 925))


class Layout:
    """What messages with one tag sequence share: the tags, where each tag first occurs,
    and get_many's getters (each a function of the tags alone, whoever built it first).

    A client sends the same few tag sequences over and over, so this is built once per
    sequence and cached; a message then only carries its values.
    """

    __slots__ = ("tags", "index", "unique", "type_index", "seq_index", "getters", "carries_secret")

    def __init__(self, tags: tuple) -> None:
        self.tags = tags
        index: dict = {}
        setdefault = index.setdefault
        for position, tag in enumerate(tags):
            setdefault(tag, position)
        self.index = index
        self.unique = len(index) == len(tags)  # no repeated tag (no repeating group)
        self.type_index = index.get(_MSG_TYPE)
        self.seq_index = index.get(_MSG_SEQ_NUM)
        self.getters: dict = {}
        self.carries_secret = not SECRET_TAGS.isdisjoint(index)


_layouts: dict[tuple, Layout] = {}


def layout_for(tags: tuple) -> Layout:
    """The shared ``Layout`` of an int tag sequence."""
    layout = _layouts.get(tags)
    if layout is None:
        layout = Layout(tags)
        if len(tags) <= MAX_CACHED_FIELDS:
            if len(_layouts) >= MAX_LAYOUTS:
                _layouts.clear()
            _layouts[tags] = layout
    return layout


def _seq_num(seq):
    # (20 digits at most: beyond any real sequence number, and clear of int()'s limit)
    return int(seq) if seq.isdigit() and len(seq) <= 20 else None


class FixMessage:
    """One framed inbound message.

    ``fields`` is every field in wire order, including BeginString(8), BodyLength(9)
    and CheckSum(10), as ``(tag, value)`` with an int tag (0 when the tag text was not a
    positive decimal number) and the raw ``bytes`` value.
    """

    # values: the values in wire order (bytes; a tuple or a list, not to be changed);
    # layout: the shared Layout of the tag sequence (the same object for every message with
    # these tags while it is cached: a key for per-tag-sequence verdicts, see PerLayout);
    # _index: layout.index (first occurrence of each tag); _fields: built on first use.
    # _split: true when ``raw`` is exactly the "tag=value<SOH>" text of the fields (the
    # parser's one-split path), so a regular expression may check the raw bytes instead;
    # the data dictionary itself when the parser's hot-shape match proved the message
    # valid for it.
    __slots__ = ("raw", "msg_type", "seq_num", "values", "layout", "_index", "_fields", "_split")

    def __init__(self, fields: list[tuple[int, bytes]], raw: bytes) -> None:
        self.raw = raw
        self._set_fields(fields)

    def _set_fields(self, fields) -> None:
        self._fields = fields
        self._split = False
        layout = layout_for(tuple([tag for tag, _ in fields]))
        values = [value for _, value in fields]
        self.values = values
        self.layout = layout
        self._index = layout.index
        index = layout.type_index
        self.msg_type: bytes = b"" if index is None else values[index]
        index = layout.seq_index
        self.seq_num: int | None = None if index is None else _seq_num(values[index])

    @property
    def prevalidated_by(self):
        """The data dictionary whose hot shape the parser matched this message against
        (the message is then valid for it), else None."""
        split = self._split
        return None if split is True or split is False else split

    @property
    def fields(self) -> list[tuple[int, bytes]]:
        fields = self._fields
        if fields is None:
            fields = self._fields = list(zip(self.layout.tags, self.values))
        return fields

    @fields.setter
    def fields(self, fields: list[tuple[int, bytes]]) -> None:
        self._set_fields(fields)

    def get(self, tag: int, default=None):
        """Value of the first occurrence of ``tag`` (O(1)), else ``default``."""
        index = self._index.get(tag)
        return default if index is None else self.values[index]

    def get_many(self, tags: tuple) -> tuple:
        """``tuple(self.get(tag) for tag in tags)``, in one call: the positions are worked
        out once per (tag sequence, ``tags``) and kept on the shared Layout."""
        getter = self.layout.getters.get(tags)
        if getter is None:
            getter = values_getter(self.layout, tags)
        return getter(self.values)

    @property
    def carries_secret(self) -> bool:
        """A Password(554) or NewPassword(925) field is among the fields (``mask_message``
        masks them): known from the tag sequence, without a scan of the bytes."""
        return self.layout.carries_secret

    def __contains__(self, tag: int) -> bool:
        return tag in self._index

    def get_all(self, tag: int) -> list[bytes]:
        """Every value of ``tag`` in wire order (repeating-group members)."""
        return [value for field_tag, value in zip(self.layout.tags, self.values) if field_tag == tag]

    @property
    def body_fields(self) -> list[tuple[int, bytes]]:
        """Fields after MsgType(35) and before CheckSum(10): what ``encode`` takes back."""
        return self.fields[3:-1]

    def __repr__(self) -> str:
        shown = "|".join(f"{tag}={value.decode('latin-1')}" for tag, value in self.fields)
        return f"FixMessage({shown})"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, FixMessage) and self.raw == other.raw and self.fields == other.fields

    def __hash__(self) -> int:
        return hash(self.raw)


def values_getter(layout: Layout, tags: tuple):
    """A function values -> the values of ``tags`` (first occurrences, None if absent) for
    the ``values`` of messages of ``layout``: ``getter(msg.values) == msg.get_many(tags)``."""
    getter = layout.getters.get(tags)
    if getter is not None:
        return getter
    if type(tags) is not tuple or not all(type(tag) is int for tag in tags):
        raise TypeError("get_many takes a tuple of int tags")
    index = layout.index
    items = "".join(f"v[{index[tag]}], " if tag in index else "None, " for tag in tags)
    getter = eval(f"lambda v: ({items})")  # only ints and fixed text: nothing from the wire
    layout.getters[tags] = getter
    return getter


class PerLayout(dict):
    """Layout -> ``verdict(layout)``, worked out on a Layout's first lookup: what follows from
    a message's tag sequence alone (which tags it has, where they are) costs one dict lookup
    per message, ``cache[msg.layout]``, instead of a set test or a Python call (a test of a
    frozenset against the tag index costs about 3,000 instructions, the lookup 250). Bounded
    as the Layout cache is."""

    __slots__ = ("_verdict",)

    def __init__(self, verdict: Callable[[Layout], object]) -> None:
        super().__init__()
        self._verdict = verdict

    def __missing__(self, layout: Layout):
        if len(self) >= MAX_LAYOUTS:
            self.clear()
        value = self[layout] = self._verdict(layout)
        return value


_new_message = FixMessage.__new__


def message_from_parts(layout: Layout, values, raw: bytes, split=True) -> FixMessage:
    """A FixMessage from the parser's split (``values`` in the order of ``layout.tags``)."""
    msg = _new_message(FixMessage)
    msg.raw = raw
    msg.values = values
    msg.layout = layout
    msg._index = layout.index
    msg._fields = None
    msg._split = split
    msg.msg_type = values[layout.type_index]
    index = layout.seq_index
    if index is None:
        msg.seq_num = None
    else:
        seq = values[index]
        msg.seq_num = int(seq) if seq.isdigit() and len(seq) <= 20 else None
    return msg


@dataclass(frozen=True, slots=True)
class Garbled:
    """Bytes dropped for bad framing (BodyLength, CheckSum, first three fields, limits).

    The parser has already resynchronised on the next ``8=``; a garbled message never
    consumes a sequence number.
    """

    reason: str
    raw: bytes
