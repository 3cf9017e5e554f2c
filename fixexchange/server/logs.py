"""``server.log_format = "json"``: one JSON object per log line.

Keys: ``time`` (UTC, ISO 8601 with milliseconds), ``level``, ``event`` (a short name such as
``logon``, ``disconnect``, ``halt``, ``summary``; ``log`` for lines without one),
``session`` (the FIX session id, when the line is about one), ``message`` (the text line
as the text format prints it) and ``fields`` (the event's details).  The server attaches
event, session and fields with ``logging``'s ``extra``.
"""
from __future__ import annotations

import json
import logging
import time


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        t = time.gmtime(record.created)
        entry = {
            "time": "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ" % (t.tm_year, t.tm_mon, t.tm_mday, t.tm_hour,
                                                           t.tm_min, t.tm_sec, int(record.msecs)),
            "level": record.levelname,
            "event": getattr(record, "event", None) or "log",
        }
        session = getattr(record, "session", None)
        if session:
            entry["session"] = session
        entry["message"] = record.getMessage()
        fields = getattr(record, "fields", None)
        if fields:
            entry["fields"] = fields
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return json.dumps(entry, default=str, separators=(",", ":"))
