"""An administrator's field changes in Setup: add, retype, shorten, lock or delete a field.

What the org's describe then reports (type, length, updateable) follows the field
(sObject Describe, https://developer.salesforce.com/docs/atlas.en-us.api_rest.meta/api_rest/resources_sobject_describe.htm);
writes naming a deleted field answer INVALID_FIELD, and field-level security that
makes a field read-only for the API user shows as `updateable: false`
(https://developer.salesforce.com/docs/atlas.en-us.api.meta/api/sforce_api_calls_describesobjects_describesobjectresult.htm).
Only custom fields may be added or deleted: standard ones are the platform's.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any, cast, get_args

from syncd.sandbox.salesforce.org import SalesforceOrg
from syncd.sandbox.salesforce.schema import FieldDef, FieldType

_TYPES = frozenset(get_args(FieldType))


def _describe(definition: FieldDef) -> dict[str, Any]:
    return {
        "name": definition.name,
        "type": definition.type,
        "length": definition.length,
        "updateable": definition.updateable,
    }


def change_field(org: SalesforceOrg, sobject: str, name: str, body: dict[str, Any]) -> Any:
    """Set `type`, `length` and/or `updateable` of a field; a custom field not there yet
    is created (type required)."""
    unknown = set(body) - {"type", "length", "updateable"}
    if unknown:
        raise ValueError(f"unknown field settings {sorted(unknown)}: use type, length, updateable")
    if "type" in body and body["type"] not in _TYPES:
        raise ValueError(f"type must be one of {sorted(_TYPES)}")
    with org.lock:
        obj = org.schema[sobject]
        current = obj.field(name)
        if current is None:
            if "type" not in body:
                raise ValueError(f"{sobject}.{name} does not exist: give its type to create it")
            current = FieldDef(name, cast(FieldType, body["type"]), custom=True)
        changes: dict[str, Any] = {}
        if "type" in body:
            changes["type"] = body["type"]
        if "length" in body:
            changes["length"] = None if body["length"] is None else int(body["length"])
        if "updateable" in body:
            if not isinstance(body["updateable"], bool):
                raise ValueError("updateable must be true or false")
            changes["updateable"] = body["updateable"]
        changed = replace(current, **changes)
        if not changed.custom and changed.type != current.type:
            raise ValueError(f"{sobject}.{name} is a standard field: its type cannot change")
        obj.fields[name.lower()] = changed
        return _describe(changed)


def remove_field(org: SalesforceOrg, sobject: str, name: str) -> Any:
    """Delete a custom field (its values go with it)."""
    with org.lock:
        obj = org.schema[sobject]
        current = obj.field(name)
        if current is None:
            raise KeyError(f"no field {sobject}.{name}")
        if not current.custom:
            raise ValueError(f"{sobject}.{name} is a standard field: it cannot be deleted")
        del obj.fields[name.lower()]
        for record in org.data.rows(obj.name, include_deleted=True):
            if record._custom:
                record._custom.pop(current.name, None)
        return {"deleted": f"{obj.name}.{current.name}"}
