"""sObject Collections update: up to 200 records, one SaveResult each, in input order.

https://developer.salesforce.com/docs/atlas.en-us.api_rest.meta/api_rest/resources_composite_sobjects_collections_update.htm
- more than 200 records: the whole request fails (400);
- otherwise HTTP 200 even when some records fail: `[{"id", "success", "errors"}]`;
- allOrNone = true: if any record fails nothing is saved, and the valid ones report
  ALL_OR_NONE_OPERATION_ROLLED_BACK.
The sandbox checks every record before applying any (writes.Writer.prepare_update),
which gives the same outcome as Salesforce's rollback. A value the JSON reader cannot
turn into its field's type (JSON_PARSER_ERROR, e.g. a dateTime with more than three
fractional digits) fails the whole request with 400: the body is read before any
record is saved (as single-record writes answer it; assumed for collections).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from syncd.sandbox.salesforce.errors import RecordError, SalesforceError
from syncd.sandbox.salesforce.faults import SalesforceFaults
from syncd.sandbox.salesforce.ids import normalize_id
from syncd.sandbox.salesforce.org import SalesforceOrg
from syncd.sandbox.salesforce.writes import PreparedUpdate

MAX_RECORDS = 200
ROLLED_BACK = {
    "statusCode": "ALL_OR_NONE_OPERATION_ROLLED_BACK",
    "message": "Record rolled back because not all records were valid and the request was using "
    "AllOrNone header",
    "fields": [],
}


@dataclass
class _Outcome:
    record_id: str | None
    prepared: PreparedUpdate | None = None
    error: dict[str, Any] | None = None


def update_collection(
    org: SalesforceOrg, faults: SalesforceFaults, body: Any, *, user_id: str
) -> tuple[list[dict[str, Any]], int, int]:
    """Results in input order, plus (records written, records failed)."""
    if not isinstance(body, dict) or not isinstance(body.get("records"), list):
        raise SalesforceError(
            400, "JSON_PARSER_ERROR", "Expected a JSON object with a records list"
        )
    records = body["records"]
    if len(records) > MAX_RECORDS:
        raise SalesforceError(
            400,
            "EXCEEDED_ID_LIMIT",
            f"record limit reached. cannot submit more than {MAX_RECORDS} records into this call",
        )
    all_or_none = bool(body.get("allOrNone", False))
    with org.lock:
        outcomes = [_prepare(org, faults, item) for item in records]
        failed = [o for o in outcomes if o.error is not None]
        if all_or_none and failed:
            return [_rolled_back(o) for o in outcomes], 0, len(outcomes)
        results: list[dict[str, Any]] = []
        for outcome in outcomes:
            if outcome.prepared is not None:
                org.writer.apply_update(outcome.prepared, by=user_id, user_write=False)
                results.append({"id": outcome.record_id, "success": True, "errors": []})
            else:
                results.append(_failure(outcome))
    return results, len(outcomes) - len(failed), len(failed)


def _prepare(org: SalesforceOrg, faults: SalesforceFaults, item: Any) -> _Outcome:
    raw_id = item.get("id") if isinstance(item, dict) else None
    record_id = normalize_id(raw_id) if isinstance(raw_id, str) else None
    try:
        prepared = _check(org, faults, item, record_id)
    except RecordError as error:
        if error.code == "JSON_PARSER_ERROR":
            raise SalesforceError(400, error.code, error.message) from error
        return _Outcome(record_id, error=error.record_error())
    return _Outcome(record_id, prepared=prepared)


def _check(
    org: SalesforceOrg, faults: SalesforceFaults, item: Any, record_id: str | None
) -> PreparedUpdate:
    if not isinstance(item, dict):
        raise RecordError("JSON_PARSER_ERROR", "Each record must be a JSON object")
    attributes = item.get("attributes")
    type_name = attributes.get("type") if isinstance(attributes, dict) else None
    if not type_name:
        raise RecordError("INVALID_TYPE", "Must send a concrete entity type.")
    obj = org.schema.get(str(type_name))
    if obj is None:
        raise RecordError("INVALID_TYPE", f"sObject type '{type_name}' is not supported.")
    if "id" not in item and "Id" not in item:
        raise RecordError("MISSING_ARGUMENT", "Id not specified in an update call")
    if record_id is None or not record_id.startswith(obj.key_prefix):
        raise RecordError("MALFORMED_ID", f"malformed id {item.get('id') or item.get('Id')}")
    record = org.data.find(record_id, include_deleted=True)
    if record is None:
        raise RecordError("INVALID_CROSS_REFERENCE_KEY", "invalid cross reference id")
    if getattr(record, "IsDeleted", False):
        raise RecordError("ENTITY_IS_DELETED", "entity is deleted")
    failure = faults.record_failure(record_id)
    if failure is not None:
        raise RecordError(failure.status_code, failure.message)
    values = {k: v for k, v in item.items() if k not in ("attributes", "id", "Id")}
    return org.writer.prepare_update(record, values)


def _failure(outcome: _Outcome) -> dict[str, Any]:
    result: dict[str, Any] = {"success": False, "errors": [outcome.error]}
    if outcome.record_id is not None:
        result = {"id": outcome.record_id, **result}
    return result


def _rolled_back(outcome: _Outcome) -> dict[str, Any]:
    if outcome.error is not None:
        return _failure(outcome)
    return {"id": outcome.record_id, "success": False, "errors": [dict(ROLLED_BACK)]}
