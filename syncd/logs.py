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
from contextvars import ContextVar
from urllib.parse import quote

#: The caller's correlation id (Salesforce `salesforceCorrelationId`) of the work in hand.
correlation_id: ContextVar[str | None] = ContextVar("syncd_correlation_id", default=None)
#: The tenant the work in hand belongs to.
tenant: ContextVar[str | None] = ContextVar("syncd_tenant", default=None)

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
        # The raw values stay on the record (for handlers that keep fields apart);
        # LOG_FORMAT prints these, which cannot break out of their field.
        fields["correlation_field"] = field_text(str(fields["correlation_id"]))
        fields["tenant_field"] = field_text(str(fields["tenant"]))
        return True


def configure_logging(level: str | int = "INFO") -> None:
    """Send records to stderr in LOG_FORMAT; calling it again only changes the level."""
    root = logging.getLogger()
    root.setLevel(level)
    for handler in root.handlers:
        if getattr(handler, "_syncd", False):
            return
    handler = logging.StreamHandler()
    handler._syncd = True  # type: ignore[attr-defined]
    handler.addFilter(ContextFilter())
    handler.setFormatter(logging.Formatter(LOG_FORMAT))
    root.addHandler(handler)
    # Migration chatter is noise in a service log; warnings still show.
    logging.getLogger("alembic").setLevel(logging.WARNING)


@contextmanager
def log_context(
    *, tenant_name: str | None = None, correlation: str | None = None
) -> Iterator[None]:
    """Set tenant and/or correlation id for the block (e.g. one sync job)."""
    tokens = []
    if tenant_name is not None:
        tokens.append((tenant, tenant.set(tenant_name)))
    if correlation is not None:
        tokens.append((correlation_id, correlation_id.set(correlation)))
    try:
        yield
    finally:
        for var, token in reversed(tokens):
            var.reset(token)
