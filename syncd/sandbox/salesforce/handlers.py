"""Handlers of the REST resources under /services/data/vXX.X/ (thin: parse, call, shape).

REST API resources: https://developer.salesforce.com/docs/atlas.en-us.api_rest.meta/api_rest/resources_list.htm
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from syncd.sandbox.salesforce.auth import Session
from syncd.sandbox.salesforce.composite import update_collection
from syncd.sandbox.salesforce.cursors import batch_size
from syncd.sandbox.salesforce.describe import describe, describe_global
from syncd.sandbox.salesforce.errors import (
    RecordError,
    SalesforceError,
    entity_deleted,
    json_error,
    not_found,
)
from syncd.sandbox.salesforce.ids import normalize_id
from syncd.sandbox.salesforce.query import compile_query
from syncd.sandbox.salesforce.records import Record
from syncd.sandbox.salesforce.replication import deleted, updated
from syncd.sandbox.salesforce.schema import SObjectSchema
from syncd.sandbox.salesforce.soql import SoqlError, parse
from syncd.sandbox.salesforce.soql_select import attributes, render_value
from syncd.sandbox.salesforce.state import SalesforceState


@dataclass
class Call:
    """One authenticated API call as the handlers see it."""

    state: SalesforceState
    session: Session
    method: str
    version: str
    params: dict[str, str]
    query: dict[str, str]
    headers: dict[str, str]
    body: Any
    now: datetime


@dataclass
class Reply:
    status: int
    body: Any = None
    headers: dict[str, str] = field(default_factory=dict)


def _object(call: Call) -> SObjectSchema:
    """The sObject type of the path as this call sees it (`SalesforceOrg.api_schema`)."""
    obj = call.state.org.api_schema(call.version).get(call.params["sobject"])
    if obj is None:
        raise not_found()
    return obj


# -- query -------------------------------------------------------------------------------
def run_query(call: Call, *, include_deleted: bool) -> Reply:
    """GET query/?q= and queryAll/?q= (resources_query.htm, resources_queryall.htm)."""
    text = call.query.get("q")
    if not text:
        raise SalesforceError(400, "MALFORMED_QUERY", "A query string has to be specified")
    org = call.state.org
    try:
        compiled = compile_query(
            parse(text),
            schema=org.api_schema(call.version),
            data=org.data,
            now=call.now,
            include_deleted=include_deleted,
            row_visible=org.visible_to(call.session.user_id),
        )
    except SoqlError as error:
        raise SalesforceError(400, error.code, error.message) from error
    with org.lock:
        if include_deleted:
            org.purge_expired()
        rows = compiled.run()
        if compiled.count_only:
            return Reply(200, {"totalSize": len(rows), "done": True, "records": []})
        page = call.state.cursors.page(
            user_id=call.session.user_id,
            rows=rows,
            render=lambda record: compiled.render(record, call.version),
            batch=batch_size(call.headers.get("sforce-query-options")),
            version=call.version,
            now=call.now,
        )
    return Reply(200, page)


def query(call: Call) -> Reply:
    return run_query(call, include_deleted=False)


def query_all(call: Call) -> Reply:
    return run_query(call, include_deleted=True)


def query_more(call: Call) -> Reply:
    """GET query/<locator>-<n> (resources_query_more_results.htm)."""
    with call.state.org.lock:
        page = call.state.cursors.more(
            call.params["locator"], call.session.user_id, call.version, call.now
        )
    return Reply(200, page)


# -- records -----------------------------------------------------------------------------
def _record(call: Call, obj: SObjectSchema) -> Record:
    record_id = normalize_id(call.params["id"])
    if record_id is None or not record_id.startswith(obj.key_prefix):
        raise not_found()
    record = call.state.org.data.find(record_id, include_deleted=True)
    if record is None:
        raise not_found()
    if getattr(record, "IsDeleted", False):
        raise entity_deleted()
    return record


def get_record(call: Call) -> Reply:
    """GET sobjects/{type}/{id}[?fields=a,b] (resources_sobject_retrieve.htm)."""
    obj = _object(call)
    org = call.state.org
    with org.lock:
        record = _record(call, obj)
        wanted = [f.strip() for f in call.query.get("fields", "").split(",") if f.strip()]
        definitions = [obj.field(name) for name in wanted] if wanted else list(obj.fields.values())
        missing = [name for name, d in zip(wanted, definitions, strict=False) if d is None]
        if missing:
            raise SalesforceError(
                400, "INVALID_FIELD", f"No such column '{missing[0]}' on sobject of type {obj.name}"
            )
        body: dict[str, Any] = {"attributes": attributes(record, call.version)}
        for definition in definitions:
            assert definition is not None
            body[definition.name] = render_value(definition, org.data.read(record, definition))
    return Reply(200, body)


def _json_object(call: Call) -> dict[str, Any]:
    if not isinstance(call.body, dict):
        raise json_error("Expected a JSON object as the request body")
    return call.body


def update_record(call: Call) -> Reply:
    """PATCH sobjects/{type}/{id} -> 204 (resources_sobject_retrieve.htm, "Update")."""
    obj = _object(call)
    values = _json_object(call)
    org = call.state.org
    with org.lock:
        record = _record(call, obj)
        failure = call.state.faults.record_failure(record.id)
        if failure is not None:
            raise RecordError(failure.status_code, failure.message)
        org.writer.update(record, values, by=call.session.user_id, user_write=False)
    call.state.counters.add("records_written")
    return Reply(204)


def create_record(call: Call) -> Reply:
    """POST sobjects/{type} -> 201 {id, success, errors} (resources_basic_info.htm)."""
    obj = _object(call)
    values = _json_object(call)
    org = call.state.org
    with org.lock:
        record = org.writer.create(obj.name, values, by=call.session.user_id, user_write=True)
    call.state.counters.add("records_written")
    return Reply(201, {"id": record.id, "success": True, "errors": []})


def delete_record(call: Call) -> Reply:
    """DELETE sobjects/{type}/{id} -> 204."""
    obj = _object(call)
    org = call.state.org
    with org.lock:
        record = _record(call, obj)
        org.writer.delete(record, by=call.session.user_id, user_write=True)
    return Reply(204)


# -- replication, collections, limits, describe -------------------------------------------
def get_updated(call: Call) -> Reply:
    return Reply(200, updated(call.state.org, _object(call).name, call.query))


def get_deleted(call: Call) -> Reply:
    return Reply(200, deleted(call.state.org, _object(call).name, call.query))


def composite_update(call: Call) -> Reply:
    results, written, failed = update_collection(
        call.state.org, call.state.faults, call.body, user_id=call.session.user_id
    )
    call.state.counters.add("records_written", written)
    call.state.counters.add("records_failed", failed)
    return Reply(200, results)


def limits(call: Call) -> Reply:
    """GET limits/ (resources_limits.htm): Max and Remaining per limit."""
    used, limit = call.state.budget.usage()
    body = {
        "DailyApiRequests": {"Max": limit, "Remaining": max(0, limit - used)},
        "DailyBulkApiBatches": {"Max": 15000, "Remaining": 15000},
        "DailyBulkV2QueryJobs": {"Max": 10000, "Remaining": 10000},
        "DataStorageMB": {"Max": 1024, "Remaining": 1024},
        "FileStorageMB": {"Max": 1024, "Remaining": 1024},
        "SingleEmail": {"Max": 5000, "Remaining": 5000},
    }
    return Reply(200, body)


def resources(call: Call) -> Reply:
    """GET /services/data/vXX.X/ : the resources of this version."""
    base = f"/services/data/v{call.version}"
    names = ["limits", "query", "queryAll", "sobjects", "composite"]
    return Reply(200, {name: f"{base}/{name}" for name in names})


def sobjects(call: Call) -> Reply:
    return Reply(200, describe_global(call.state.org.api_schema(call.version), call.version))


def sobject_describe(call: Call) -> Reply:
    return Reply(200, describe(_object(call), call.version))


def sobject_info(call: Call) -> Reply:
    """GET sobjects/{type}: basic information (resources_sobject_basic_info.htm)."""
    obj = _object(call)
    summary = describe(obj, call.version)
    summary.pop("fields")
    summary.pop("childRelationships")
    return Reply(200, {"objectDescribe": summary, "recentItems": []})
