"""FIX 4.4 codec: sans-IO framing, parsing, encoding and the data dictionary.

Never touches sockets or reads the clock: times are passed in as epoch seconds.
"""

from . import tags
from .dictionary import FIX44, DataDictionary, SessionRejectInfo
from .encoder import encode, encode_body
from .message import FixMessage, Garbled
from .parser import FixParser, checksum
from .timefmt import TimestampFormatter, format_utc_timestamp, parse_utc_timestamp

__all__ = [
    "FIX44", "DataDictionary", "SessionRejectInfo", "FixMessage", "FixParser", "Garbled", "checksum", "encode", "encode_body",
    "TimestampFormatter", "format_utc_timestamp", "parse_utc_timestamp", "tags",
]
