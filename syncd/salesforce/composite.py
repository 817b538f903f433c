"""sObject Collections update: request bodies and per-record results (pure).

https://developer.salesforce.com/docs/atlas.en-us.api_rest.meta/api_rest/resources_composite_sobjects_collections_update.htm
"The list can contain up to 200 objects", each with `attributes.type` and `id`;
"The SaveResult objects are returned in the order in which the update requests were
specified"; a well-formed request answers 200 OK even when some records failed.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from syncd.domain import ErrorCode
from syncd.salesforce.errors import SalesforceError

MAX_RECORDS = 200
_SOBJECT = re.compile(r"^[A-Za-z][A-Za-z0-9_]*$")
_RECORD_ID = re.compile(r"^[A-Za-z0-9]{15}(?:[A-Za-z0-9]{3})?$")


@dataclass(frozen=True)
class RecordResult:
    """What became of one record; `errors` read "STATUS_CODE: message (fields: A, B)"."""

    id: str
    success: bool
    errors: list[str] = field(default_factory=list)


def check_sobject(name: str) -> str:
    """An sObject API name (Event, EventRelation, My_Object__c): it becomes part of a URL."""
    if not _SOBJECT.match(name) or name in ("bulk", "bulk2"):
        raise ValueError(f"not an sObject API name: {name!r}")
    return name


def check_record_id(record_id: str) -> str:
    """A 15- or 18-character record id: it becomes part of a URL."""
    if not isinstance(record_id, str) or not _RECORD_ID.match(record_id):
        raise ValueError(f"not a Salesforce record id: {record_id!r}")
    return record_id


def payload(sobject: str, record: Mapping[str, Any]) -> dict[str, Any]:
    """The collection entry for `record` ({"Id" or "id": ..., field: value, ...})."""
    record_id = record.get("id", record.get("Id"))
    check_record_id(record_id)
    attributes = record.get("attributes")
    if isinstance(attributes, Mapping) and attributes.get("type") not in (None, sobject):
        raise ValueError(
            f"record {record_id} is a {attributes.get('type')}, not a {sobject}; "
            "send each sObject type in its own call"
        )
    fields = {k: v for k, v in record.items() if k not in ("attributes", "id", "Id")}
    return {"attributes": {"type": sobject}, "id": record_id, **fields}


def chunks(
    items: Sequence[dict[str, Any]], size: int = MAX_RECORDS
) -> Iterator[list[dict[str, Any]]]:
    for first in range(0, len(items), size):
        yield list(items[first : first + size])


def body(records: Sequence[dict[str, Any]]) -> dict[str, Any]:
    # allOrNone=false: one bad record must not keep the others from being written.
    return {"allOrNone": False, "records": list(records)}


def results(sent: Sequence[Mapping[str, Any]], answer: Any, *, instance: str) -> list[RecordResult]:
    """One RecordResult per sent record, in order, under the id that was sent.

    Salesforce leaves `id` out of a failed record's SaveResult, so results are
    matched by position, as the documentation promises.
    """
    if not isinstance(answer, list) or len(answer) != len(sent):
        count = len(answer) if isinstance(answer, list) else "no"
        raise SalesforceError(
            ErrorCode.UPSTREAM_UNAVAILABLE,
            f"Salesforce {instance} answered an sObject Collections update of {len(sent)} "
            f"records with {count} results; some may have been written. Retry later.",
            retry_after=30.0,
        )
    return [
        RecordResult(
            id=str(record["id"]),
            success=bool(isinstance(item, Mapping) and item.get("success")),
            errors=_errors(item),
        )
        for record, item in zip(sent, answer, strict=True)
    ]


def _errors(item: Any) -> list[str]:
    if not isinstance(item, Mapping):
        return ["no result for this record"]
    out = []
    for error in item.get("errors") or []:
        if not isinstance(error, Mapping):
            out.append(str(error))
            continue
        text = f"{error.get('statusCode') or 'ERROR'}: {error.get('message') or ''}".strip()
        fields = [str(f) for f in error.get("fields") or []]
        out.append(f"{text} (fields: {', '.join(fields)})" if fields else text)
    if not item.get("success") and not out:
        out.append("not written (Salesforce gave no reason)")
    return out
