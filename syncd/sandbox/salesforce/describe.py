"""Describe results, trimmed to what a client checks (field names, types, writability).

sObject Describe: https://developer.salesforce.com/docs/atlas.en-us.api_rest.meta/api_rest/resources_sobject_describe.htm
Describe Global: https://developer.salesforce.com/docs/atlas.en-us.api_rest.meta/api_rest/resources_describeGlobal.htm
"""

from __future__ import annotations

from typing import Any

from syncd.sandbox.salesforce.schema import FieldDef, Schema, SObjectSchema


def _field(definition: FieldDef) -> dict[str, Any]:
    return {
        "name": definition.name,
        "label": definition.name.removesuffix("__c").replace("_", " "),
        "type": definition.type,
        "length": definition.length or 0,
        "custom": definition.custom,
        "nillable": definition.nillable,
        "createable": definition.createable,
        "updateable": definition.updateable,
        "calculated": definition.derived,
        "referenceTo": list(definition.reference_to),
        "relationshipName": definition.relationship_name,
        "polymorphicForeignKey": definition.polymorphic,
        "restrictedPicklist": definition.restricted,
        "picklistValues": [
            {"active": True, "defaultValue": False, "label": value, "value": value}
            for value in definition.picklist
        ],
    }


def _summary(obj: SObjectSchema, version: str) -> dict[str, Any]:
    base = f"/services/data/v{version}/sobjects/{obj.name}"
    return {
        "name": obj.name,
        "label": obj.name,
        "keyPrefix": obj.key_prefix,
        "custom": False,
        "queryable": True,
        "createable": True,
        "updateable": True,
        "deletable": obj.name != "User",
        "replicateable": True,
        "urls": {"sobject": base, "describe": f"{base}/describe", "rowTemplate": f"{base}/{{ID}}"},
    }


def describe(obj: SObjectSchema, version: str) -> dict[str, Any]:
    return {
        **_summary(obj, version),
        "fields": [_field(d) for d in obj.fields.values()],
        "childRelationships": [
            {
                "childSObject": child.child,
                "field": child.field,
                "relationshipName": child.name,
                "cascadeDelete": True,
            }
            for child in obj.children.values()
        ],
    }


def describe_global(schema: Schema, version: str) -> dict[str, Any]:
    return {
        "encoding": "UTF-8",
        "maxBatchSize": 200,
        "sobjects": [_summary(obj, version) for obj in schema.objects()],
    }
