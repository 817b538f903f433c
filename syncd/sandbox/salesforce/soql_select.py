"""The SELECT list as a tree of columns that render records the way the REST API does.

Record shape (https://developer.salesforce.com/docs/atlas.en-us.api_rest.meta/api_rest/dome_query.htm):
`{"attributes": {"type", "url"}, "Field": value, "Owner": {"attributes": ..., "Email": ...}}`;
an empty lookup renders as null; a TYPEOF column carries the related record's own
type in its attributes (sforce_api_calls_soql_select_typeof.htm); a parent-to-child
subquery renders as `{"totalSize", "done", "records"}` or null when it has no rows
(sforce_api_calls_soql_relationships_query_using.htm).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

from syncd.sandbox.salesforce.records import Record
from syncd.sandbox.salesforce.schema import FieldDef, Schema, SObjectSchema
from syncd.sandbox.salesforce.soql import FieldPath, SoqlError, TypeOf, located
from syncd.sandbox.salesforce.soql_paths import (
    Hop,
    bad_relationship,
    field_getter,
    follow,
    hop_for,
    resolve,
)
from syncd.sandbox.salesforce.store import OrgData
from syncd.sandbox.salesforce.values import format_date, format_datetime


def render_value(definition: FieldDef, value: Any) -> Any:
    if value is None:
        return None
    if definition.type == "datetime":
        return format_datetime(value)
    if definition.type == "date":
        return format_date(value)
    return value


def attributes(record: Record, version: str, type_name: str | None = None) -> dict[str, str]:
    return {
        "type": type_name or record.sobject,
        "url": f"/services/data/v{version}/sobjects/{record.sobject}/{record.id}",
    }


class Column(Protocol):
    key: str

    def render(self, record: Record, version: str) -> Any: ...


@dataclass
class FieldColumn:
    key: str
    definition: FieldDef
    read: Callable[[Record], Any]

    def render(self, record: Record, version: str) -> Any:
        return render_value(self.definition, self.read(record))


@dataclass
class RelationColumn:
    """A lookup followed by some of the related record's fields."""

    key: str
    hop: Hop
    follow: Callable[[Record], Record | None]
    columns: dict[str, Column] = field(default_factory=dict)

    def render(self, record: Record, version: str) -> Any:
        target = self.follow(record)
        if target is None:
            return None
        type_name = "Name" if self.hop.target is None else None
        out: dict[str, Any] = {"attributes": attributes(target, version, type_name)}
        for column in self.columns.values():
            out[column.key] = column.render(target, version)
        return out


@dataclass
class TypeOfColumn:
    key: str
    follow: Callable[[Record], Record | None]
    whens: dict[str, dict[str, Column]]
    otherwise: dict[str, Column] | None

    def render(self, record: Record, version: str) -> Any:
        target = self.follow(record)
        if target is None:
            return None
        out: dict[str, Any] = {"attributes": attributes(target, version)}
        columns = self.whens.get(target.sobject.lower(), self.otherwise) or {}
        for column in columns.values():
            out[column.key] = column.render(target, version)
        return out


class SelectBuilder:
    """Builds the column tree for one SELECT list, refusing unknown or duplicate fields."""

    def __init__(self, schema: Schema, data: OrgData, obj: SObjectSchema, text: str) -> None:
        self.schema = schema
        self.data = data
        self.obj = obj
        self.text = text
        self.columns: dict[str, Column] = {}
        self.typeof_keys: set[str] = set()

    def add_path(self, path: FieldPath) -> None:
        resolved = resolve(self.schema, self.obj, path, self.text)
        level = self.columns
        for index, hop in enumerate(resolved.hops):
            key = hop.name.lower()
            if key in self.typeof_keys:
                raise self._duplicate(path, hop.name)
            existing = level.get(key)
            if existing is None:
                existing = RelationColumn(hop.name, hop, follow(self.data, (hop,)))
                level[key] = existing
            if not isinstance(existing, RelationColumn):
                raise bad_path(self.text, path, path.parts[index])
            level = existing.columns
        self._add_field(level, resolved.field, resolved.on_name, path)

    def _add_field(
        self, level: dict[str, Column], definition: FieldDef, on_name: bool, path: FieldPath
    ) -> None:
        key = definition.name.lower()
        if key in level:
            raise self._duplicate(path, path.text)
        level[key] = FieldColumn(
            definition.name, definition, field_getter(self.data, definition, on_name=on_name)
        )

    def add_type_of(self, item: TypeOf) -> None:
        hop = hop_for(self.schema, self.obj, item.relationship)
        if hop is None or not hop.reference.polymorphic:
            raise SoqlError(
                located(
                    self.text,
                    item.offset,
                    f"TYPEOF needs a polymorphic relationship, got '{item.relationship}'",
                ),
            )
        key = hop.name.lower()
        if key in self.columns or key in self.typeof_keys:
            raise self._duplicate(FieldPath((item.relationship,), item.offset), hop.name)
        allowed = {name.lower() for name in hop.reference.reference_to}
        whens: dict[str, dict[str, Column]] = {}
        for type_name, paths in item.whens:
            target = self.schema.get(type_name)
            if type_name.lower() not in allowed or target is None:
                raise SoqlError(
                    located(
                        self.text,
                        item.offset,
                        f"Invalid type {type_name} for polymorphic field {hop.name}",
                    ),
                    code="INVALID_TYPE",
                )
            whens[type_name.lower()] = self._leaf_columns(target, paths)
        otherwise = self._leaf_columns(None, item.otherwise) if item.otherwise else None
        self.columns[key] = TypeOfColumn(hop.name, follow(self.data, (hop,)), whens, otherwise)
        self.typeof_keys.add(key)

    def _leaf_columns(
        self, target: SObjectSchema | None, paths: tuple[FieldPath, ...]
    ) -> dict[str, Column]:
        columns: dict[str, Column] = {}
        for path in paths:
            if len(path.parts) != 1:
                raise bad_path(self.text, path, path.parts[0])
            resolved = resolve(self.schema, target, path, self.text)
            self._add_field(columns, resolved.field, resolved.on_name, path)
        return columns

    def add_column(self, key: str, column: Column, path: FieldPath) -> None:
        if key.lower() in self.columns:
            raise self._duplicate(path, key)
        self.columns[key.lower()] = column

    def _duplicate(self, path: FieldPath, name: str) -> SoqlError:
        return SoqlError(located(self.text, path.offset, f"duplicate field selected: {name}"))


def bad_path(text: str, path: FieldPath, part: str) -> SoqlError:
    return bad_relationship(text, path.offset, part)


def render_record(record: Record, columns: dict[str, Column], version: str) -> dict[str, Any]:
    out: dict[str, Any] = {"attributes": attributes(record, version)}
    for column in columns.values():
        out[column.key] = column.render(record, version)
    return out
