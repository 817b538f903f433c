"""Logging set-up shared by every face: each line names its tenant and correlation id.

The two context variables are set at the edge (an API request, a sync job) and
read by `ContextFilter`, so code in between never passes them around for logging.
A correlation id comes from the caller, so in a line it is percent-encoded
outside `[A-Za-z0-9._:~-]` (`field_text`): an id like `x] WARNING ... [` cannot
end its field and forge the ones after it, nor start a new line.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar, Token
from typing import Any
from urllib.parse import quote

#: The caller's correlation id (Salesforce `salesforceCorrelationId`) of the work in hand.
correlation_id: ContextVar[str | None] = ContextVar("syncd_correlation_id", default=None)
#: The tenant the work in hand belongs to.
tenant: ContextVar[str | None] = ContextVar("syncd_tenant", default=None)
#: The Salesforce record (Event id) the work in hand is about.
current_salesforce_id: ContextVar[str | None] = ContextVar("syncd_salesforce_id", default=None)
#: Graph's `request-id` of the last Graph answer within the work in hand: what a
#: Microsoft support case asks for (https://learn.microsoft.com/graph/best-practices-concept#reliability-and-support).
graph_request_id: ContextVar[str | None] = ContextVar("syncd_graph_request_id", default=None)

LOG_FORMAT = (
    "%(asctime)s %(levelname)s %(name)s [tenant=%(tenant_field)s cid=%(correlation_field)s] "
    "%(message)s"
)
#: Kept as they are in a log field; anything else is percent-encoded (UTF-8).
FIELD_SAFE = ":"  # with letters, digits and "_.-~", which quote() always keeps


def field_text(value: str) -> str:
    """`value` as one log field (and header value) that no character can break out of.

    Percent-encoding keeps the id recognisable and reversible: `a b` -> `a%20b`,
    `1234567β9012` -> `1234567%CE%B29012`; an id made of the safe characters is unchanged.
    """
    return quote(value, safe=FIELD_SAFE, errors="surrogatepass")


class ContextFilter(logging.Filter):
    """Copies the current tenant and correlation id onto every record ("-" when unset).

    A handler filter rather than a record factory: code that passes its own
    `extra={"correlation_id": ...}` (a LoggerAdapter) keeps working and wins.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        # A record's extra fields live in its __dict__ (what `extra=` fills).
        fields = vars(record)
        fields.setdefault("correlation_id", correlation_id.get() or "-")
        fields.setdefault("tenant", tenant.get() or "-")
        fields.setdefault("salesforce_id", current_salesforce_id.get())
        fields.setdefault("graph_request_id", graph_request_id.get())
        # The raw values stay on the record (for handlers that keep fields apart);
        # LOG_FORMAT prints these, which cannot break out of their field.
        fields["correlation_field"] = field_text(str(fields["correlation_id"]))
        fields["tenant_field"] = field_text(str(fields["tenant"]))
        return True


def configure_logging(level: str | int = "INFO", log_format: str = "plain") -> None:
    """Send records to stderr, in LOG_FORMAT or (`log_format="json"`) one JSON object a
    line; calling it again only changes the level and the format."""
    from syncd.log_json import JsonFormatter

    formatter = JsonFormatter() if log_format == "json" else logging.Formatter(LOG_FORMAT)
    root = logging.getLogger()
    root.setLevel(level)
    for handler in root.handlers:
        if getattr(handler, "_syncd", False):
            handler.setFormatter(formatter)
            return
    handler = logging.StreamHandler()
    handler._syncd = True  # type: ignore[attr-defined]
    handler.addFilter(ContextFilter())
    handler.setFormatter(formatter)
    root.addHandler(handler)
    # Migration chatter is noise in a service log; warnings still show.
    logging.getLogger("alembic").setLevel(logging.WARNING)


def note_graph_request_id(response: Any, *args: Any, **kwargs: Any) -> None:
    """A `requests` response hook of the Graph session: Graph's `request-id` goes on the
    log lines that follow, within the block (`log_context`) the call was made in."""
    value = response.headers.get("request-id")
    if value:
        graph_request_id.set(value)


@contextmanager
def log_context(
    *,
    tenant_name: str | None = None,
    correlation: str | None = None,
    salesforce_id: str | None = None,
) -> Iterator[None]:
    """Set tenant, correlation id and/or Salesforce record id for the block (e.g. one
    sync job, one record). A Graph request id noted inside the block ends with it; a
    block for a tenant or a record is new work, so it starts without one."""
    fresh = tenant_name is not None or salesforce_id is not None
    noted = None if fresh else graph_request_id.get()
    tokens: list[tuple[ContextVar[str | None], Token[str | None]]] = [
        (graph_request_id, graph_request_id.set(noted))
    ]
    if tenant_name is not None:
        tokens.append((tenant, tenant.set(tenant_name)))
    if correlation is not None:
        tokens.append((correlation_id, correlation_id.set(correlation)))
    if salesforce_id is not None:
        tokens.append((current_salesforce_id, current_salesforce_id.set(salesforce_id)))
    try:
        yield
    finally:
        for var, token in reversed(tokens):
            var.reset(token)
