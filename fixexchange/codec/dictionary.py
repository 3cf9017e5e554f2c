"""The FIX 4.4 data dictionary and inbound validation.

``FIX44.validate(msg)`` returns ``None`` for a well-formed message, else a
``SessionRejectInfo`` carrying the SessionRejectReason(373) code, the RefTagID(371) and
a Text(58) for the session's Reject(3). Field types come from ``_field_types``, message
types and repeating groups (count tag, delimiter, member order, nesting) from
``_fix44_groups`` (both generated from QuickFIX's FIX 4.4 tables); the header, trailer
and the body fields/required fields of the messages fixexchange sends or accepts are
written out below.

Checks, in wire order, first failure wins: 8/9/35 first and 10 last (14), tag number
(0), empty value (4), header field after body or body after trailer (14), duplicate
(13), tag known to FIX but not to this message (2), value format (6), enum value (5),
repeating groups: first field of each instance must be the delimiter, members in
dictionary order and not repeated within an instance (15), NumInGroup equals the
instance count (16); then required fields (1). Not checked here: CompIDs (9) and
SendingTime accuracy (10) are the session's; conditionally required fields are the
application's.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from operator import call, itemgetter

from ._field_types import FIELD_TYPES
from ._fix44_enums import ENUMS as FIX44_ENUMS
from ._fix44_groups import GROUPS, MESSAGE_NAMES
from .message import MAX_LAYOUTS
from .parser import HotShapes
from .tags import CancelOnDisconnect, RejectReasons as R

REASON_TEXTS = {
    R.INVALID_TAG_NUMBER: "Invalid tag number",
    R.REQUIRED_TAG_MISSING: "Required tag missing",
    R.TAG_NOT_DEFINED_FOR_MESSAGE_TYPE: "Tag not defined for this message type",
    R.TAG_SPECIFIED_WITHOUT_VALUE: "Tag specified without a value",
    R.VALUE_INCORRECT: "Value is incorrect (out of range) for this tag",
    R.INCORRECT_DATA_FORMAT: "Incorrect data format for value",
    R.INVALID_MSG_TYPE: "Invalid MsgType",
    R.TAG_APPEARS_MORE_THAN_ONCE: "Tag appears more than once",
    R.TAG_SPECIFIED_OUT_OF_REQUIRED_ORDER: "Tag specified out of required order",
    R.REPEATING_GROUP_FIELDS_OUT_OF_ORDER: "Repeating group fields out of order",
    R.INCORRECT_NUM_IN_GROUP_COUNT: "Incorrect NumInGroup count for repeating group",
}


@dataclass(frozen=True, slots=True)
class SessionRejectInfo:
    """Why an inbound message is session-rejected: SessionRejectReason(373), RefTagID(371), Text(58)."""

    reason: int
    ref_tag: int | None
    text: str


def _reject(reason: int, ref_tag: int | None, detail: str = "") -> SessionRejectInfo:
    text = REASON_TEXTS[reason]
    if ref_tag is not None:
        text = f"{text}, field={ref_tag}"
    if detail:
        text = f"{text} ({detail})"
    return SessionRejectInfo(reason, ref_tag, text)


# ---------------------------------------------------------------- value formats
# (Written for the regex engine's speed, here and below: possessive repeats where giving
# characters back could never help, and "(?:A|)" for "A?", so that matching needs no
# backtracking state. The same texts, as value patterns, check whole messages.)
_TIMESTAMP = re.compile(
    rb"\d{4}+(?:0[1-9]|1[0-2])(?:0[1-9]|[12]\d|3[01])-(?:[01]\d|2[0-3]):[0-5]\d:(?:[0-5]\d|60)"
    rb"(?:\.\d{3}|\.\d{6}|\.\d{9}|)").fullmatch
_TIME_ONLY = re.compile(
    rb"(?:[01]\d|2[0-3]):[0-5]\d:(?:[0-5]\d|60)(?:\.\d{3}|\.\d{6}|\.\d{9}|)").fullmatch
_DATE = re.compile(rb"\d{4}(?:0[1-9]|1[0-2])(?:0[1-9]|[12]\d|3[01])").fullmatch


def _is_int(value: bytes) -> bool:
    return value.isdigit() or (value[:1] == b"-" and value[1:].isdigit())


def _is_float(value: bytes) -> bool:
    # FIX floats: optional '-', digits with at most one '.', no exponent/inf/nan.
    if value[:1] == b"-":
        value = value[1:]
    return value.replace(b".", b"", 1).isdigit()


_FORMAT_CHECKS = {
    "INT": _is_int,
    "FLOAT": _is_float,
    "CHAR": lambda value: len(value) == 1,
    "BOOLEAN": lambda value: value == b"Y" or value == b"N",
    "UTCTIMESTAMP": lambda value: _TIMESTAMP(value) is not None,
    "UTCTIMEONLY": lambda value: _TIME_ONLY(value) is not None,
    "UTCDATEONLY": lambda value: _DATE(value) is not None,
    "LOCALMKTDATE": lambda value: _DATE(value) is not None,
}

# The generated types come from QuickFIX's bindings, where LocalMktDate is a string.
_TYPE_OVERRIDES = {75: "LOCALMKTDATE", 64: "LOCALMKTDATE", 432: "LOCALMKTDATE",
                   229: "LOCALMKTDATE", 193: "LOCALMKTDATE", 541: "LOCALMKTDATE"}


# Enumerated values: every enumerated FIX 4.4 field, generated from QuickFIX's FIX44.xml.
# A multiple-value field (MULTIPLEVALUESTRING, e.g. ExecInst 18) holds a space-separated
# list of its values.
ENUMS: dict[int, frozenset[bytes]] = {
    tag: frozenset(value.encode() for value, _ in values) for tag, (_, _, values) in FIX44_ENUMS.items()}
MULTIPLE_VALUE_TAGS = frozenset(tag for tag, (_, multiple, _) in FIX44_ENUMS.items() if multiple)
# CancelOnDisconnect(9001) of a Logon, Y/N: a venue convention (Deribit's), not FIX 4.4
ENUMS[CancelOnDisconnect] = frozenset((b"Y", b"N"))


# Identifiers a client chooses that the exchange keeps (ClOrdID in the session's PossResend
# memory and the gateway's order index, MDReqID and SecurityStatusReqID with subscriptions,
# ...): a longer one is refused (Reject 373=5) so that what a session keeps stays small.
MAX_ID_LENGTH = 64
ID_TAGS = frozenset((11, 41, 262, 320, 324, 526, 583, 584, 790, 923))
_ID_TOO_LONG = f"longer than {MAX_ID_LENGTH} characters"


def _in_list(allowed: frozenset[bytes]):
    """Membership for a space-separated list of values, each of them allowed."""
    def check(value: bytes) -> bool:
        return all(item in allowed for item in value.split(b" "))
    return check


def _value_check(tag: int):
    """A function ``value -> reason code or 0`` for ``tag``, or None when any text goes."""
    if tag in ID_TAGS:
        return lambda value: 0 if len(value) <= MAX_ID_LENGTH else R.VALUE_INCORRECT
    kind = _TYPE_OVERRIDES.get(tag) or FIELD_TYPES.get(tag, ("", "STRING"))[1]
    format_check = _FORMAT_CHECKS.get(kind)
    allowed = ENUMS.get(tag)
    if format_check is None and allowed is None:
        return None
    if allowed is None:
        return lambda value: 0 if format_check(value) else R.INCORRECT_DATA_FORMAT
    is_allowed = _in_list(allowed) if tag in MULTIPLE_VALUE_TAGS else allowed.__contains__
    if format_check is None:
        return lambda value: 0 if is_allowed(value) else R.VALUE_INCORRECT
    return lambda value: (0 if is_allowed(value)
                          else R.VALUE_INCORRECT if format_check(value)
                          else R.INCORRECT_DATA_FORMAT)


_VALUE_CHECKS = {tag: check for tag in set(FIELD_TYPES) | set(ENUMS)
                 if (check := _value_check(tag)) is not None}

def check_field(tag: int, value: bytes) -> None:
    """Raise ``ValueError`` unless ``tag`` is a FIX 4.4 field and ``value`` a valid value of it
    (what ``validate`` checks of an inbound field: format, enumeration, identifier length)."""
    if tag not in FIELD_TYPES:
        raise ValueError(f"tag {tag!r} is not a FIX 4.4 field")
    check = _VALUE_CHECKS.get(tag)
    if type(value) is not bytes or not value or b"\x01" in value or (check is not None and check(value)):
        raise ValueError(f"{value!r} is not a valid value of {FIELD_TYPES[tag][0]}({tag})")


# Fast-path predicates: C-level callables, True means "certainly valid". A False may be
# a false alarm (e.g. a negative INT); the exact checks above then decide.
_FAST_FORMAT = {
    "INT": bytes.isdigit,
    "FLOAT": re.compile(rb"-?(?:\d+(?:\.\d*)?|\.\d+)").fullmatch,
    "BOOLEAN": frozenset((b"Y", b"N")).__contains__,
    "UTCTIMESTAMP": _TIMESTAMP,
    "UTCTIMEONLY": _TIME_ONLY,
    "UTCDATEONLY": _DATE,
    "LOCALMKTDATE": _DATE,
    "CHAR": re.compile(rb".", re.S).fullmatch,
}


_SHORT_ID_PATTERN = rb"[^\x01]{1,%d}+" % MAX_ID_LENGTH
_FAST_SHORT_ID = re.compile(_SHORT_ID_PATTERN).fullmatch


def _fast_check(tag: int):
    if tag in ID_TAGS:
        return _FAST_SHORT_ID
    allowed = ENUMS.get(tag)
    if allowed is not None:
        return allowed.__contains__  # (a list of several values takes the exact pass)
    return _FAST_FORMAT.get(_TYPE_OVERRIDES.get(tag) or FIELD_TYPES.get(tag, ("", "STRING"))[1])


# The same predicates as regular expressions over one value of a split message (no SOH
# inside), so a whole message is checked by one match; anything else: one or more bytes.
FAST_PATTERN = {
    "INT": rb"[0-9]++",
    "FLOAT": rb"-?+(?:\d++(?:\.\d*+|)|\.\d++)",
    "BOOLEAN": rb"[YN]",
    "UTCTIMESTAMP": _TIMESTAMP.__self__.pattern,
    "UTCTIMEONLY": _TIME_ONLY.__self__.pattern,
    "UTCDATEONLY": _DATE.__self__.pattern,
    "LOCALMKTDATE": _DATE.__self__.pattern,
    "CHAR": rb"[^\x01]",
}


def _fast_pattern(tag: int) -> bytes:
    if tag in ID_TAGS:
        return _SHORT_ID_PATTERN
    allowed = ENUMS.get(tag)
    if allowed is not None:
        # one value, as _fast_check (a list of several values takes the exact pass)
        if all(len(value) == 1 for value in allowed):
            return b"[" + b"".join(re.escape(value) for value in sorted(allowed)) + b"]"
        return b"(?:" + b"|".join(re.escape(value) for value in
                                  sorted(allowed, key=lambda value: (-len(value), value))) + b")"
    return FAST_PATTERN.get(_TYPE_OVERRIDES.get(tag) or FIELD_TYPES.get(tag, ("", "STRING"))[1],
                             rb"[^\x01]++")

# ---------------------------------------------------------------- structure
HEADER_TAGS = (8, 9, 35, 49, 56, 115, 128, 90, 91, 34, 50, 142, 57, 143, 116, 144, 129, 145,
               43, 97, 52, 122, 212, 213, 347, 369, 370, 627)
HEADER_REQUIRED = (8, 9, 35, 49, 56, 34, 52)
TRAILER_TAGS = (93, 89, 10)
_HEADER_SET = frozenset(HEADER_TAGS)
_HEADER_GROUPS = {627: (628, (628, 629, 630), {})}  # NoHops

# Components flattened into their non-group fields (their groups come from _fix44_groups).
_INSTRUMENT = (55, 65, 48, 22, 460, 461, 167, 762, 200, 541, 201, 224, 225, 239, 226, 227, 228,
               255, 543, 470, 471, 472, 240, 202, 947, 206, 231, 223, 207, 106, 348, 349, 107,
               350, 351, 691, 667, 875, 876, 873, 874)
_UNDERLYING = (311, 312, 309, 305, 462, 463, 310, 763, 313, 542, 315, 241, 242, 243, 244, 245,
               246, 256, 595, 592, 593, 594, 247, 316, 941, 317, 436, 435, 308, 306, 362, 363,
               307, 364, 365, 877, 878, 318, 879, 810, 882, 883, 884, 885, 886)
_FINANCING = (913, 914, 915, 918, 788, 916, 917, 919, 898)
_ORDER_QTY = (38, 152, 516, 468, 469)
_SPREAD_YIELD = (218, 220, 221, 222, 662, 663, 699, 761, 235, 236, 701, 696, 697, 698)
_COMMISSION = (12, 13, 479, 497)
_PEG_DISCRETION = (211, 835, 836, 837, 838, 840, 388, 389, 841, 842, 843, 844, 846)
_STRATEGY = (847, 848, 849)
_TEXT = (58, 354, 355)

# msg_type: (required body tags, optional non-group body tags); group count tags are
# added from GROUPS.
_BODIES: dict[bytes, tuple[tuple[int, ...], tuple[int, ...]]] = {
    b"0": ((), (112,)),
    b"1": ((112,), ()),
    b"2": ((7, 16), ()),
    b"3": ((45,), (371, 372, 373) + _TEXT),
    b"4": ((36,), (123,)),
    b"5": ((), _TEXT),
    # 9001 CancelOnDisconnect (Y/N): a venue convention (Deribit's Logon), not FIX 4.4
    b"A": ((98, 108), (95, 96, 141, 789, 383, 464, 553, 554, 9001)),
    b"D": ((11, 54, 60, 40),
           (526, 583, 229, 75, 1, 660, 581, 589, 590, 591, 70, 63, 64, 544, 635, 21, 18, 110,
            111, 100, 81, 140, 114, 854, 423, 44, 99, 15, 376, 377, 23, 117, 59, 168, 432,
            126, 427, 528, 529, 582, 121, 120, 775, 193, 192, 640, 77, 203, 210, 494)
           + _INSTRUMENT + _FINANCING + _ORDER_QTY + _SPREAD_YIELD + _COMMISSION
           + _PEG_DISCRETION + _STRATEGY + _TEXT),
    b"F": ((41, 11, 54, 60),
           (37, 526, 583, 66, 586, 1, 660, 581, 376)
           + _INSTRUMENT + _FINANCING + _ORDER_QTY + _TEXT),
    b"G": ((41, 11, 54, 60, 40),
           (37, 229, 75, 526, 583, 66, 586, 1, 660, 581, 589, 590, 591, 70, 63, 64, 544, 635,
            21, 18, 110, 111, 100, 854, 423, 44, 99, 376, 15, 59, 168, 432, 126, 427, 528,
            529, 582, 121, 120, 775, 193, 192, 640, 77, 203, 210, 114, 480, 481, 513, 494)
           + _INSTRUMENT + _FINANCING + _ORDER_QTY + _SPREAD_YIELD + _COMMISSION
           + _PEG_DISCRETION + _STRATEGY + _TEXT),
    b"H": ((11, 54), (37, 526, 583, 790, 1, 660) + _INSTRUMENT + _FINANCING),
    b"q": ((11, 530, 60), (526, 336, 625, 54) + _INSTRUMENT + _UNDERLYING + _TEXT),
    b"r": ((37, 530, 531), (11, 526, 198, 532, 533, 336, 625, 54, 60)
           + _INSTRUMENT + _UNDERLYING + _TEXT),
    b"V": ((262, 263, 264, 267, 146), (265, 266, 286, 546, 547, 815, 812)),
    b"W": ((268,), (262, 291, 292, 387, 813, 814) + _INSTRUMENT),
    b"X": ((268,), (262, 813, 814)),
    b"Y": ((262,), (281,) + _TEXT),
    b"x": ((320, 559), (15, 336, 625, 263, 668, 869) + _INSTRUMENT + _FINANCING + _TEXT),
    b"y": ((320, 322, 560), (393, 893)),
    b"e": ((324, 263), (15, 336, 625) + _INSTRUMENT),
    b"f": ((), (324, 15, 336, 625, 325, 326, 291, 292, 327, 328, 329, 330, 331, 332, 333, 31, 60,
                334) + _INSTRUMENT + _TEXT),
    b"8": ((37, 17, 150, 39, 54, 151, 14, 6),
           (198, 526, 527, 11, 41, 583, 693, 790, 584, 911, 912, 229, 66, 548, 551, 549, 19,
            636, 103, 378, 1, 660, 581, 589, 63, 64, 854, 40, 423, 44, 99, 839, 845, 15, 376,
            377, 59, 168, 432, 126, 18, 528, 529, 582, 32, 31, 669, 29, 30, 336, 625, 424,
            425, 426, 75, 60, 381, 157, 230, 158, 159, 738, 920, 921, 922, 238, 237, 118,
            119, 120, 155, 156, 77, 210, 111, 110, 114, 127, 880, 21, 193, 192, 640, 442,
            480, 481, 513, 494, 797, 851, 852, 853)
           + _INSTRUMENT + _FINANCING + _ORDER_QTY + _SPREAD_YIELD + _COMMISSION
           + _PEG_DISCRETION + _STRATEGY + _TEXT),
    b"9": ((37, 11, 41, 39, 434), (198, 526, 583, 636, 586, 66, 1, 660, 229, 75, 60, 102)
           + _TEXT),
    b"j": ((372, 380), (45, 379) + _TEXT),
}


class GroupDef:
    """One repeating group: count tag, delimiter (first field of every instance), members."""

    __slots__ = ("count_tag", "delimiter", "order", "position", "nested")

    def __init__(self, count_tag: int, delimiter: int, order: tuple[int, ...], nested: dict) -> None:
        self.count_tag = count_tag
        self.delimiter = delimiter
        self.nested = {tag: GroupDef(tag, *spec) for tag, spec in nested.items()}
        # QuickFIX's member orders omit some nested count tags; place those last.
        self.order = tuple(order) + tuple(tag for tag in self.nested if tag not in order)
        self.position = {tag: index for index, tag in enumerate(self.order)}


_HEADER, _BODY, _TRAILER = 0, 1, 2
_MAX_COUNT_DIGITS = 9  # NumInGroup; also keeps int() clear of its 4300-digit limit
_NO_PLAN = object()  # cached verdict: this shape takes the exact pass


class MessageDef:
    """What one message type may carry. ``sections`` maps every allowed top-level tag to
    header/body/trailer; ``groups`` the top-level repeating groups by count tag."""

    __slots__ = ("msg_type", "name", "required", "required_set", "sections", "groups",
                 "group_tags", "open_body", "allowed", "fast_excluded", "fast_checks")

    def __init__(self, msg_type: bytes, name: str, required: tuple[int, ...],
                 body_tags: tuple[int, ...], group_specs: dict, open_body: bool = False) -> None:
        self.msg_type = msg_type
        self.name = name
        self.required = HEADER_REQUIRED + tuple(required)
        self.groups = {tag: GroupDef(tag, *spec) for tag, spec in {**_HEADER_GROUPS, **group_specs}.items()}
        sections = {tag: _BODY for tag in body_tags}
        sections.update((tag, _BODY) for tag in group_specs)
        sections.update((tag, _HEADER) for tag in HEADER_TAGS)
        sections.update((tag, _TRAILER) for tag in TRAILER_TAGS)
        self.sections = sections
        self.required_set = frozenset(self.required)
        self.group_tags = frozenset(self.groups)
        self.allowed = frozenset(sections)
        # Tags that send validation down the exact path: group counts and 93/89.
        self.fast_excluded = self.group_tags | {93, 89}
        self.fast_checks = {tag: check for tag in sections if (check := _fast_check(tag)) is not None}
        # A known FIX message type fixexchange does not model: body fields are not checked.
        self.open_body = open_body


_COMPILE_AFTER = 200  # messages of one shape validated before its regex is compiled


class _Plan:
    """Fast validation of one structurally valid tag sequence of one message type:
    ``checks`` apply to ``getter(values)``; ``match`` (once compiled) to the raw bytes
    of a message from the parser's split, where it tests the same predicates."""

    __slots__ = ("shape", "getter", "checks", "match", "uses")

    def __init__(self, message: MessageDef, shape: tuple[int, ...]) -> None:
        self.shape = shape
        fast_checks = message.fast_checks
        checked = tuple(position for position, tag in enumerate(shape) if tag in fast_checks)
        self.getter = (itemgetter(*checked) if len(checked) > 1
                       else (lambda values: (values[checked[0]],)) if checked
                       else (lambda values: ()))
        self.checks = tuple(fast_checks[shape[position]] for position in checked)
        self.match = None
        self.uses = 0

    def compile(self) -> None:
        self.match = re.compile(b"".join(b"%d=%s\x01" % (tag, _fast_pattern(tag))
                                         for tag in self.shape)).fullmatch


class DataDictionary:
    def __init__(self, begin_string: bytes, bodies: dict, groups: dict, names: dict) -> None:
        self.begin_string = begin_string
        # the message shapes this dictionary vouched for: a parser given them
        # (FixParser(hot_shapes=...)) checks such messages in one regular expression
        self.hot_shapes = HotShapes()
        # valid messages of one shape before its regular expressions are compiled
        self.compile_after = _COMPILE_AFTER
        # Layout -> (MessageDef, _Plan or _NO_PLAN): this dictionary's verdict on a shared
        # Layout (a tag sequence) for one message type, kept here rather than on the Layout
        # so no other dictionary's state travels with it (bounded as the Layout cache is)
        self._plans: dict = {}
        self.messages: dict[bytes, MessageDef] = {}
        for msg_type, name in names.items():
            if msg_type in bodies:
                required, optional = bodies[msg_type]
                self.messages[msg_type] = MessageDef(
                    msg_type, name, required, required + optional, groups.get(msg_type, {}))
            else:
                self.messages[msg_type] = MessageDef(msg_type, name, (), (), {}, open_body=True)

    def is_supported(self, msg_type: bytes) -> bool:
        """True for the message types whose body this dictionary validates."""
        message = self.messages.get(msg_type)
        return message is not None and not message.open_body

    def is_valid_msg_type(self, msg_type: bytes) -> bool:
        return msg_type in self.messages

    def validate(self, msg) -> SessionRejectInfo | None:
        """Session-level validation of an inbound ``FixMessage`` (see the module docstring)."""
        if msg._split is self:  # the parser matched it against a hot shape of ours
            return None
        message = self.messages.get(msg.msg_type)
        # Fast path for the common shape (no repeating group, no repeated tag, no trailer
        # signature). The structure of a message depends only on its tag sequence, so it
        # is judged once per distinct sequence (the message's shared Layout) and cached
        # there with the value checks that shape needs: C-level predicates over the
        # values, and after _COMPILE_AFTER messages of the shape one regular expression
        # over the raw bytes (compiling costs ~1 ms, worth it only for a shape in use).
        # The fast path only proves validity: on any doubt the exact pass finds the
        # precise reason.
        if message is not None:
            entry = self._plans.get(msg.layout)
            if entry is not None and entry[0] is message:
                plan = entry[1]
            else:
                plan = self._plan(message, msg.layout)
            if plan is not _NO_PLAN:
                match = plan.match
                if match is not None and msg._split:
                    if match(msg.raw) is not None:
                        return None
                else:
                    values = msg.values
                    if all(values) and all(map(call, plan.checks, plan.getter(values))):
                        if match is None and msg._split:
                            plan.uses += 1
                            if plan.uses >= self.compile_after:
                                plan.compile()
                                self.hot_shapes.add(plan.shape, message.msg_type, tuple(
                                    _fast_pattern(tag) for tag in plan.shape[3:-1]), self)
                        return None
        return self.validate_exactly(msg)

    def _plan(self, message: MessageDef, layout):
        """The _Plan for a structurally valid layout, else _NO_PLAN."""
        shape = layout.tags
        keys = layout.index.keys()
        sections = message.sections
        plan = _NO_PLAN
        if (not message.open_body and layout.unique and shape[:3] == (8, 9, 35) and shape[-1] == 10
                and keys <= message.allowed and message.required_set <= keys
                and message.fast_excluded.isdisjoint(keys)):
            codes = [sections[tag] for tag in shape]
            if codes == sorted(codes):
                plan = _Plan(message, shape)
        plans = self._plans
        if len(plans) >= 2 * MAX_LAYOUTS:
            plans.clear()
        plans[layout] = (message, plan)
        return plan

    def validate_exactly(self, msg) -> SessionRejectInfo | None:
        """``validate`` without its cached fast paths: field by field, the precise reason."""
        fields = msg.fields
        count = len(fields)
        if count < 4 or fields[0][0] != 8 or fields[1][0] != 9 or fields[2][0] != 35:
            return _reject(R.TAG_SPECIFIED_OUT_OF_REQUIRED_ORDER,
                           next((tag for (tag, _), want in zip(fields, (8, 9, 35)) if tag != want), 8),
                           "BeginString, BodyLength and MsgType must come first")
        if fields[-1][0] != 10:
            return _reject(R.TAG_SPECIFIED_OUT_OF_REQUIRED_ORDER, 10, "CheckSum must be last")
        msg_type = fields[2][1]
        message = self.messages.get(msg_type)
        if message is None:
            return _reject(R.INVALID_MSG_TYPE, 35)
        sections = message.sections
        groups = message.groups
        open_body = message.open_body
        checks = _VALUE_CHECKS
        seen = {8, 9, 35}
        section = _HEADER
        index = 3
        last = count - 1
        while index < last:
            tag, value = fields[index]
            if not tag:
                return _invalid_tag_text(msg, index)
            if not value:
                return _reject(R.TAG_SPECIFIED_WITHOUT_VALUE, tag)
            where = sections.get(tag)
            if where is None:
                if not open_body:
                    if tag in FIELD_TYPES:
                        return _reject(R.TAG_NOT_DEFINED_FOR_MESSAGE_TYPE, tag)
                    # (user-defined tags, 5000 and up, included: we define none)
                    return _reject(R.INVALID_TAG_NUMBER, tag, "not a FIX 4.4 field")
                where = _BODY
            if where != section:
                if where < section:
                    return _reject(R.TAG_SPECIFIED_OUT_OF_REQUIRED_ORDER, tag,
                                   "header field after the body" if where == _HEADER
                                   else "body field after the trailer")
                section = where
            if tag in seen:
                return _reject(R.TAG_APPEARS_MORE_THAN_ONCE, tag)
            seen.add(tag)
            check = checks.get(tag)
            if check is not None:
                reason = check(value)
                if reason:
                    return _reject(reason, tag, _ID_TOO_LONG if tag in ID_TAGS else "")
            index += 1
            group = groups.get(tag)
            if group is not None:
                if not value.isdigit() or len(value) > _MAX_COUNT_DIGITS:
                    return _reject(R.INCORRECT_DATA_FORMAT, tag)
                index, problem = _read_group(fields, index, last, group, int(value))
                if problem is not None:
                    return problem
        for tag in message.required:
            if tag not in seen:
                return _reject(R.REQUIRED_TAG_MISSING, tag)
        return None

    def read_groups(self, msg, count_tag: int) -> list[dict[int, bytes]]:
        """Instances of the top-level repeating group ``count_tag`` of ``msg``, one dict per
        instance (member tag -> value; members of nested groups are not included). Empty
        when the message has no such group. Meant for validated messages."""
        message = self.messages.get(msg.msg_type)
        group = message.groups.get(count_tag) if message is not None else None
        if group is None:
            return []
        fields = msg.fields
        for index, (tag, _) in enumerate(fields):
            if tag == count_tag:
                break
        else:
            return []
        instances: list[dict[int, bytes]] = []
        _collect_group(fields, index + 1, len(fields) - 1, group, instances)
        return instances

    def group_fields(self, msg_type: bytes, count_tag: int,
                     instances: list[dict[int, object]]) -> list[tuple[int, object]]:
        """Encode-ready fields for a repeating group: the count, then each instance's
        members in dictionary order (delimiter first). Unknown member tags raise KeyError."""
        message = self.messages[msg_type]
        group = message.groups[count_tag]
        out: list[tuple[int, object]] = [(count_tag, len(instances))]
        position = group.position
        for instance in instances:
            if group.delimiter not in instance:
                raise KeyError(f"instance lacks the delimiter {group.delimiter}")
            for tag in instance:
                if tag not in position:
                    raise KeyError(f"tag {tag} is not a member of group {count_tag}")
            out.extend((tag, instance[tag]) for tag in sorted(instance, key=position.__getitem__))
        return out


_INT_TEXT = re.compile(rb"0|-?[1-9]\d{0,8}").fullmatch


def _invalid_tag_text(msg, index: int) -> SessionRejectInfo:
    """Reject 0 for the field at ``index`` whose tag text is not a positive number, with
    RefTagID naming it when the text is still an integer (``0``, ``-1``)."""
    parts = msg.raw.split(b"\x01")
    # (a data field holding SOH shifts the split: then the text cannot be named)
    text = parts[index].partition(b"=")[0] if len(parts) == len(msg.fields) + 1 else b""
    if _INT_TEXT(text):
        return _reject(R.INVALID_TAG_NUMBER, int(text), "not a valid tag number")
    return _reject(R.INVALID_TAG_NUMBER, None, "tag is not a number")


def _read_group(fields, index: int, last: int, group: GroupDef, expected: int):
    """Validate instances of ``group`` starting at ``index``; return (next index, problem)."""
    delimiter = group.delimiter
    position = group.position
    nested = group.nested
    checks = _VALUE_CHECKS
    instances = 0
    current: set[int] = set()
    last_position = -1
    while index < last:
        tag, value = fields[index]
        member_position = position.get(tag)
        if member_position is None:
            break
        if tag == delimiter:
            instances += 1
            current = set()
            last_position = 0
        elif instances == 0:
            return index, _reject(R.REPEATING_GROUP_FIELDS_OUT_OF_ORDER, tag,
                                  f"group {group.count_tag} must start with {delimiter}")
        elif tag in current or member_position < last_position:
            return index, _reject(R.REPEATING_GROUP_FIELDS_OUT_OF_ORDER, tag,
                                  f"in group {group.count_tag}")
        else:
            last_position = member_position
        current.add(tag)
        if not value:
            return index, _reject(R.TAG_SPECIFIED_WITHOUT_VALUE, tag)
        check = checks.get(tag)
        if check is not None:
            reason = check(value)
            if reason:
                return index, _reject(reason, tag, _ID_TOO_LONG if tag in ID_TAGS else "")
        index += 1
        inner = nested.get(tag)
        if inner is not None:
            if not value.isdigit() or len(value) > _MAX_COUNT_DIGITS:
                return index, _reject(R.INCORRECT_DATA_FORMAT, tag)
            index, problem = _read_group(fields, index, last, inner, int(value))
            if problem is not None:
                return index, problem
    if instances != expected:
        return index, _reject(R.INCORRECT_NUM_IN_GROUP_COUNT, group.count_tag,
                              f"NumInGroup {expected}, {instances} instances")
    return index, None


def _collect_group(fields, index: int, last: int, group: GroupDef, out: list) -> int:
    """Gather instances of ``group`` from ``index`` into ``out``; return the next index."""
    current: dict[int, bytes] | None = None
    while index < last:
        tag, value = fields[index]
        if tag not in group.position:
            break
        if tag == group.delimiter or current is None:
            current = {}
            out.append(current)
        current.setdefault(tag, value)
        index += 1
        inner = group.nested.get(tag)
        if inner is not None:
            index = _collect_group(fields, index, last, inner, [])
    return index


def fix44_dictionary() -> DataDictionary:
    """A FIX 4.4 dictionary of its own: its own validation plans and hot shapes."""
    return DataDictionary(b"FIX.4.4", _BODIES, GROUPS, MESSAGE_NAMES)


FIX44 = fix44_dictionary()
