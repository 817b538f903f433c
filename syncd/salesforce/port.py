"""What the sync needs from Salesforce: the one port it reads Events and writes back through.

syncd.salesforce.client.SalesforceClient is the implementation (simple-salesforce over
HTTPS, against an org or the sandbox). `describe` is optional: a port without it is
taken to have every optional field (syncd.salesforce.org_shape).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from datetime import datetime
from typing import Any, Protocol

from syncd.salesforce.composite import RecordResult
from syncd.salesforce.replication import DeletedResult


class SalesforceReader(Protocol):
    """The reads: SOQL (also of deleted rows) and getDeleted."""

    def query(self, soql: str) -> Iterator[dict[str, Any]]: ...

    def query_all(self, soql: str) -> Iterator[dict[str, Any]]: ...

    def deleted(self, sobject: str, start: datetime, end: datetime) -> DeletedResult: ...


class SalesforceWriter(Protocol):
    """The write-back: sObject Collections updates with per-record results."""

    def update_records(
        self, sobject: str, records: Sequence[Mapping[str, Any]]
    ) -> list[RecordResult]: ...

    def delete_record(self, sobject: str, record_id: str) -> None:
        """Delete one record (sObject Rows DELETE); only for the tenant's
        `[policy] outlook_deletion = "delete_event"`."""
        ...


class SalesforcePort(SalesforceReader, SalesforceWriter, Protocol):
    """Everything the sync asks of Salesforce."""
