"""Turning written values (JSON or Python) into stored values, with Salesforce's refusals.

Codes from the StatusCode list of the SOAP API, which REST shares:
https://developer.salesforce.com/docs/atlas.en-us.api.meta/api/sforce_api_calls_concepts_core_data_objects.htm#statuscode
(INVALID_FIELD, INVALID_FIELD_FOR_INSERT_UPDATE, STRING_TOO_LONG, MALFORMED_ID,
INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST, REQUIRED_FIELD_MISSING, INVALID_EMAIL_ADDRESS,
JSON_PARSER_ERROR).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import date, datetime
from typing import Any

from syncd.sandbox.salesforce.errors import RecordError
from syncd.sandbox.salesforce.ids import normalize_id
from syncd.sandbox.salesforce.schema import FieldDef, SObjectSchema
from syncd.sandbox.salesforce.values import parse_date, parse_datetime, truncate_to_millis

# Keys a record body may carry besides fields.
IGNORED_KEYS = frozenset({"attributes", "id"})
_FRACTION = re.compile(r"T\d{2}:\d{2}:\d{2}\.(\d+)")


def check_writable(
    schema: SObjectSchema, values: Mapping[str, Any], *, creating: bool
) -> dict[FieldDef, Any]:
    """Resolve field names and coerce values; unknown or read-only fields are refused."""
    resolved: dict[FieldDef, Any] = {}
    readonly = []
    for name, raw in values.items():
        if name.lower() in IGNORED_KEYS:
            continue
        definition = schema.field(name)
        if definition is None:
            raise RecordError(
                "INVALID_FIELD", f"No such column '{name}' on sobject of type {schema.name}", [name]
            )
        allowed = definition.createable if creating else definition.updateable
        if not allowed:
            readonly.append(definition.name)
            continue
        resolved[definition] = coerce(definition, raw)
    if readonly:
        verb = "create" if creating else "update"
        raise RecordError(
            "INVALID_FIELD_FOR_INSERT_UPDATE",
            f"Unable to {verb} fields: {', '.join(readonly)}. Please check the security "
            "settings of this field and verify that it is read/write for your profile or "
            "permission set.",
            readonly,
        )
    return resolved


def coerce(definition: FieldDef, raw: Any) -> Any:
    """One value in the stored type; None stays None (nillability is checked later)."""
    if raw is None:
        if not definition.nillable:
            raise RecordError(
                "REQUIRED_FIELD_MISSING",
                f"Required fields are missing: [{definition.name}]",
                [definition.name],
            )
        return None
    kind = definition.type
    if kind == "boolean":
        return _boolean(definition, raw)
    if kind == "int":
        return _integer(definition, raw)
    if kind == "datetime":
        return _datetime(definition, raw)
    if kind == "date":
        return _date(definition, raw)
    if kind in ("reference", "id"):
        return _reference(definition, raw)
    return _text(definition, raw)


def _parse_error(definition: FieldDef, kind: str, raw: Any) -> RecordError:
    token = "VALUE_STRING" if isinstance(raw, str) else "VALUE_NUMBER_INT"
    return RecordError(
        "JSON_PARSER_ERROR",
        f"Cannot deserialize instance of {kind} from {token} value {raw} or request may be "
        f"missing a required field at [line:1, column:1]",
        [definition.name],
    )


def _boolean(definition: FieldDef, raw: Any) -> bool:
    if isinstance(raw, bool):
        return raw
    if isinstance(raw, str) and raw.lower() in ("true", "false"):
        return raw.lower() == "true"
    raise _parse_error(definition, "boolean", raw)


def _integer(definition: FieldDef, raw: Any) -> int:
    if isinstance(raw, bool):
        raise _parse_error(definition, "int", raw)
    if isinstance(raw, int):
        return raw
    if isinstance(raw, float) and raw.is_integer():
        return int(raw)
    if isinstance(raw, str) and raw.strip().lstrip("-").isdigit():
        return int(raw)
    raise _parse_error(definition, "int", raw)


def _datetime(definition: FieldDef, raw: Any) -> datetime:
    if isinstance(raw, datetime):
        if raw.tzinfo is None:
            raise ValueError(f"{definition.name} needs an aware datetime, got {raw!r}")
        return truncate_to_millis(raw)
    # dateTime values are "yyyy-MM-ddTHH:mm:ss.SSS+/-HHmm or yyyy-MM-ddTHH:mm:ss.SSSZ":
    # at most milliseconds (https://developer.salesforce.com/docs/atlas.en-us.api_asynch.meta/api_asynch/datafiles_date_format.htm).
    # Salesforce's JSON reader refuses more digits, e.g. .NET's 7 (Force.com Toolkit for
    # .NET, https://github.com/wadewegner/Force.com-Toolkit-for-NET/pull/127).
    if isinstance(raw, str) and not _too_precise(raw):
        try:
            return truncate_to_millis(parse_datetime(raw))
        except ValueError:
            pass
    raise _parse_error(definition, "datetime", raw)


def _too_precise(text: str) -> bool:
    """More than three fractional digits of a second."""
    fraction = _FRACTION.search(text)
    return fraction is not None and len(fraction.group(1)) > 3


def _date(definition: FieldDef, raw: Any) -> date:
    if isinstance(raw, datetime):
        return raw.date()
    if isinstance(raw, date):
        return raw
    if isinstance(raw, str):
        try:
            return parse_date(raw[:10] if "T" in raw else raw)
        except ValueError:
            pass
    raise _parse_error(definition, "date", raw)


def _reference(definition: FieldDef, raw: Any) -> str:
    normalized = normalize_id(raw) if isinstance(raw, str) else None
    if normalized is None:
        raise RecordError(
            "MALFORMED_ID",
            f"{definition.name}: id value of incorrect type: {raw}",
            [definition.name],
        )
    return normalized


def _text(definition: FieldDef, raw: Any) -> str:
    if isinstance(raw, bool) or not isinstance(raw, str | int | float):
        raise _parse_error(definition, "String", raw)
    text = raw if isinstance(raw, str) else str(raw)
    if definition.length is not None and len(text) > definition.length:
        raise RecordError(
            "STRING_TOO_LONG",
            f"{definition.name}: data value too large: {text[:80]} "
            f"(max length={definition.length})",
            [definition.name],
        )
    if definition.restricted and text not in definition.picklist:
        raise RecordError(
            "INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST",
            f"{definition.name}: bad value for restricted picklist field: {text}",
            [definition.name],
        )
    if definition.type == "email" and not _looks_like_email(text):
        raise RecordError(
            "INVALID_EMAIL_ADDRESS",
            f"{definition.name}: invalid email address: {text}",
            [definition.name],
        )
    return text


def _looks_like_email(text: str) -> bool:
    local, _, domain = text.partition("@")
    return bool(local) and "." in domain and " " not in text
