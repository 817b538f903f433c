"""Logging set-up shared by every face: each line names its tenant and correlation id.

The two context variables are set at the edge (an API request, a sync job) and
read by `ContextFilter`, so code in between never passes them around for logging.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar

#: The caller's correlation id (Salesforce `salesforceCorrelationId`) of the work in hand.
correlation_id: ContextVar[str | None] = ContextVar("syncd_correlation_id", default=None)
#: The tenant the work in hand belongs to.
tenant: ContextVar[str | None] = ContextVar("syncd_tenant", default=None)

LOG_FORMAT = (
    "%(asctime)s %(levelname)s %(name)s [tenant=%(tenant)s cid=%(correlation_id)s] %(message)s"
)


class ContextFilter(logging.Filter):
    """Copies the current tenant and correlation id onto every record ("-" when unset).

    A handler filter rather than a record factory: code that passes its own
    `extra={"correlation_id": ...}` (a LoggerAdapter) keeps working and wins.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        if not hasattr(record, "correlation_id"):
            record.correlation_id = correlation_id.get() or "-"
        if not hasattr(record, "tenant"):
            record.tenant = tenant.get() or "-"
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
