"""MemorySalesforce: the Salesforce calls syncd's sync makes, answered in-process.

No SOQL of its own: it holds a sandbox org (syncd.sandbox.salesforce) and calls the
sandbox's REST handlers directly, without HTTP, so queries, paging cursors, getDeleted
and sObject Collections follow the one set of Salesforce rules the sandbox already
documents and tests. What the handlers answer is turned into what
syncd.salesforce.SalesforceClient returns (record iterators, DeletedResult,
RecordResult lists), and refusals into the same `SyncdError` through the client's own
mapping (syncd.salesforce.errors). The org's Python API (`org.create_event`, `invite`,
`delete_event`, ...) plays people editing Salesforce, stamped by the org's clock.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

from simple_salesforce.exceptions import SalesforceMalformedRequest, SalesforceRefusedRequest

from syncd.config import DEFAULT_API_VERSION
from syncd.domain import ErrorCode, SyncdError
from syncd.salesforce import composite, errors
from syncd.salesforce.composite import RecordResult
from syncd.salesforce.replication import DeletedResult, check_window, deleted_result
from syncd.sandbox.clock import SandboxClock
from syncd.sandbox.salesforce import handlers
from syncd.sandbox.salesforce.auth import Session
from syncd.sandbox.salesforce.errors import SalesforceError
from syncd.sandbox.salesforce.org import SalesforceOrg
from syncd.sandbox.salesforce.state import SalesforceState, build_salesforce_state
from tests.fakes.faults import Faults

INTEGRATION_USER = "syncd.integration@fakes.example"
_INSTANCE = "memory.salesforce.example"


class MemorySalesforce:
    """An org in memory behind the SalesforcePort methods (plus describe, as the client has)."""

    def __init__(
        self,
        clock: SandboxClock,
        *,
        org: SalesforceOrg | None = None,
        api_version: str = DEFAULT_API_VERSION,
        page_size: int = 2000,
        faults: Faults | None = None,
    ) -> None:
        """`page_size`: records per query page (Salesforce's default batch is 2,000)."""
        self.org = org or SalesforceOrg(clock=clock, seed=7)
        self.state: SalesforceState = build_salesforce_state(self.org)
        self.version = api_version
        self.page_size = page_size
        self.faults = faults or Faults()
        #: the User syncd's calls run as (its writes move SystemModstamp only)
        self.integration_user = INTEGRATION_USER
        user = self.org.find_user(INTEGRATION_USER) or self.org.add_user(
            INTEGRATION_USER, "syncd", "Integration"
        )
        now = self.org.now()
        self._session = Session("memory", user, "memory", now, now)

    # -------------------------------------------------------------- the port
    def query(self, soql: str) -> Iterator[dict[str, Any]]:
        return self._records("query", soql, include_deleted=False)

    def query_all(self, soql: str) -> Iterator[dict[str, Any]]:
        return self._records("query_all", soql, include_deleted=True)

    def deleted(self, sobject: str, start: datetime, end: datetime) -> DeletedResult:
        def run() -> DeletedResult:
            composite.check_sobject(sobject)
            first, last = check_window("deleted", sobject, start, end, self.org.now())
            query = {"start": _stamp(first), "end": _stamp(last)}
            body = self._handle(
                handlers.get_deleted, f"list deleted {sobject}", {"sobject": sobject}, query
            )
            return deleted_result(body, sobject=sobject, instance=_INSTANCE)

        return self.faults.run("deleted", sobject, run)

    def update_records(
        self, sobject: str, records: Sequence[Mapping[str, Any]]
    ) -> list[RecordResult]:
        def run() -> list[RecordResult]:
            composite.check_sobject(sobject)
            prepared = [composite.payload(sobject, record) for record in records]
            out: list[RecordResult] = []
            for chunk in composite.chunks(prepared):
                answer = self._handle(
                    handlers.composite_update,
                    f"update {len(chunk)} {sobject} records",
                    {},
                    {},
                    body=composite.body(chunk),
                )
                out.extend(composite.results(chunk, answer, instance=_INSTANCE))
            return out

        return self.faults.run("update_records", sobject, run, sent=[dict(r) for r in records])

    def delete_record(self, sobject: str, record_id: str) -> None:
        def run() -> None:
            composite.check_sobject(sobject)
            self._handle(
                handlers.delete_record,
                f"delete {sobject} {record_id}",
                {"sobject": sobject, "id": record_id},
                {},
            )

        self.faults.run("delete_record", sobject, run, sent=[{"id": record_id}])

    def describe(self, sobject: str) -> dict[str, Any]:
        return self.faults.run(
            "describe",
            sobject,
            lambda: self._handle(
                handlers.sobject_describe, f"describe {sobject}", {"sobject": sobject}, {}
            ),
        )

    # ------------------------------------------------------------- internals
    def _records(self, method: str, soql: str, *, include_deleted: bool) -> Iterator[dict]:
        # Like the client, nothing is asked before the first record is wanted.
        self.faults.run(method, soql, lambda: None)
        action = f"run {method} {' '.join(soql.split())[:120]}"
        page = self._handle(
            lambda call: handlers.run_query(call, include_deleted=include_deleted),
            action,
            {},
            {"q": soql},
            headers={"sforce-query-options": f"batchSize={self.page_size}"},
        )
        while True:
            yield from page.get("records") or []
            if page.get("done", True):
                return
            locator = str(page["nextRecordsUrl"]).rsplit("/", 1)[-1]
            self.faults.run("query_more", soql, lambda: None)
            page = self._handle(handlers.query_more, action, {"locator": locator}, {})

    def _handle(
        self,
        handler: Callable[[handlers.Call], handlers.Reply],
        action: str,
        params: dict[str, str],
        query: dict[str, str],
        *,
        body: Any = None,
        headers: dict[str, str] | None = None,
    ) -> Any:
        call = handlers.Call(
            state=self.state,
            session=self._session,
            method="GET",
            version=self.version,
            params=params,
            query=query,
            headers=headers or {},
            body=body,
            now=self.org.now(),
        )
        try:
            return handler(call).body
        except SalesforceError as error:
            raise _mapped(error, action) from None


def _stamp(value: datetime) -> str:
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S+00:00")


def _mapped(error: SalesforceError, action: str) -> SyncdError:
    """The SyncdError the real client raises for this answer (one mapping for both)."""
    if error.status >= 500:
        return SyncdError(
            ErrorCode.UPSTREAM_UNAVAILABLE, f"Salesforce failed to {action}: {error.message}"
        )
    kind = SalesforceRefusedRequest if error.status == 403 else SalesforceMalformedRequest
    # simple-salesforce raises with the decoded JSON body as `content`, as here.
    raised = kind("memory", error.status, "memory", error.body())  # type: ignore[arg-type]
    return errors.refused(raised, action=action, instance=_INSTANCE)
