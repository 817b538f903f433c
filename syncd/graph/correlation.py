"""Correlation ids: the caller's id travels to Graph as `client-request-id` and into every log line.

Graph wants a GUID in `client-request-id` and echoes it back when asked with
`return-client-request-id: true`; support cases quote it together with Graph's
`request-id`:
https://learn.microsoft.com/graph/best-practices-concept#reliability-and-support

Log lines get the correlation id the way all of syncd does (`syncd.logs`): from
the context variable, which `ContextFilter` copies onto each record, printed
percent-encoded outside `[A-Za-z0-9._:~-]` so that a caller's id cannot forge
the fields after it.
"""

from __future__ import annotations

import logging
import re
import threading
import uuid
from collections import OrderedDict
from collections.abc import MutableMapping
from typing import Any

from syncd import logs

_GUID = re.compile(r"^[0-9a-fA-F]{8}-(?:[0-9a-fA-F]{4}-){3}[0-9a-fA-F]{12}$")


def current_correlation_id(given: str | None) -> str | None:
    """The id to use: the one passed in, else the one of the work in hand (API request, job)."""
    return given if given is not None else logs.correlation_id.get()


def client_request_id(correlation_id: str | None) -> str:
    """The GUID to send for `correlation_id`: itself if it is one, else a stable uuid5 of it.

    Salesforce correlation ids are not always GUIDs (non-ASCII characters,
    letters outside hex); uuid5 maps each one to the same GUID every time, so
    Graph's logs can still be joined with ours. No id at all gets a fresh GUID.
    """
    if correlation_id is None:
        return str(uuid.uuid4())
    if _GUID.match(correlation_id):
        return correlation_id.lower()
    return str(uuid.uuid5(uuid.NAMESPACE_URL, correlation_id))


class CorrelationLog(logging.LoggerAdapter[logging.Logger]):
    """A logger for one client call: its records carry the call's correlation id
    (through `syncd.logs.correlation_id`) and `client_request_id`."""

    def __init__(self, logger: logging.Logger, correlation_id: str, request_id: str) -> None:
        super().__init__(logger, {"client_request_id": request_id})
        self.correlation_id = correlation_id

    def process(
        self, msg: Any, kwargs: MutableMapping[str, Any]
    ) -> tuple[Any, MutableMapping[str, Any]]:
        kwargs["extra"] = {**(self.extra or {}), **kwargs.get("extra", {})}
        return msg, kwargs

    def log(self, level: int, msg: Any, *args: Any, **kwargs: Any) -> None:
        if not self.isEnabledFor(level):
            return
        # Through the context variable rather than `extra`: whatever stamps records
        # for the rest of syncd (a filter, a record factory) then stamps ours alike.
        kwargs["stacklevel"] = kwargs.get("stacklevel", 1) + 1  # report our caller
        with logs.log_context(correlation=self.correlation_id):
            super().log(level, msg, *args, **kwargs)


def stamp_context(log: logging.Logger) -> None:
    """Have `log` put tenant and correlation id on its records, for every handler
    (pytest's caplog and journald included), not only the one `configure_logging` adds."""
    if not any(isinstance(f, logs.ContextFilter) for f in log.filters):
        log.addFilter(logs.ContextFilter())


class MappingNotes:
    """Remembers which non-GUID correlation ids were already logged with their GUID (bounded)."""

    def __init__(self, capacity: int = 4096) -> None:
        self._seen: OrderedDict[str, None] = OrderedDict()
        self._capacity = capacity
        self._lock = threading.Lock()

    def first_time(self, correlation_id: str) -> bool:
        with self._lock:
            if correlation_id in self._seen:
                self._seen.move_to_end(correlation_id)
                return False
            self._seen[correlation_id] = None
            if len(self._seen) > self._capacity:
                self._seen.popitem(last=False)
            return True


def correlation_log(
    log: logging.Logger, correlation_id: str | None, request_id: str, notes: MappingNotes
) -> CorrelationLog:
    """The adapter for one client call; logs the id -> GUID mapping the first time it is used."""
    adapter = CorrelationLog(log, correlation_id or request_id, request_id)
    mapped = correlation_id is not None and correlation_id.lower() != request_id
    if mapped and notes.first_time(correlation_id):  # type: ignore[arg-type]
        adapter.debug(
            "correlation id %s is not a GUID; Graph receives client-request-id %s for it",
            logs.field_text(correlation_id),  # type: ignore[arg-type]
            request_id,
        )
    return adapter
