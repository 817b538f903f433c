"""The JSON log format (`log_format = "json"`): one object a line, for log shippers.

Fields: time (UTC, ISO 8601 with milliseconds), level, logger, message, tenant,
correlation_id, salesforce_id, graph_request_id (null when unknown), and
exception (the traceback) when there is one. The values are the ones the plain
format prints; json.dumps escapes what the plain format percent-encodes, so a
caller's id cannot start a new line or forge a field here either.
"""

from __future__ import annotations

import json
import logging
from datetime import UTC, datetime
from typing import Any


def _context(record: logging.LogRecord, name: str) -> str | None:
    value = getattr(record, name, None)
    return None if value in (None, "-") else str(value)


class JsonFormatter(logging.Formatter):
    """Formats a record (stamped by `syncd.logs.ContextFilter`) as one JSON object."""

    def format(self, record: logging.LogRecord) -> str:
        when = datetime.fromtimestamp(record.created, UTC)
        entry: dict[str, Any] = {
            "time": when.isoformat(timespec="milliseconds").replace("+00:00", "Z"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
            "tenant": _context(record, "tenant"),
            "correlation_id": _context(record, "correlation_id"),
            "salesforce_id": _context(record, "salesforce_id"),
            "graph_request_id": _context(record, "graph_request_id"),
        }
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        elif record.exc_text:
            entry["exception"] = record.exc_text
        if record.stack_info:
            entry["stack"] = self.formatStack(record.stack_info)
        return json.dumps(entry, ensure_ascii=False, default=str)
