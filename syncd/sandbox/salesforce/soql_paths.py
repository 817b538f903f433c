"""Resolving SOQL field paths (`Id`, `Owner.Email`, `Event.Owner.Name`) against the schema.

Relationship names and polymorphic lookups:
https://developer.salesforce.com/docs/atlas.en-us.soql_sosl.meta/soql_sosl/sforce_api_calls_soql_relationships_and_polymorph_keys.htm
A polymorphic lookup (or one to an object the sandbox does not have) reads the
`Name` object's fields; Name.Email is filled for users only, as
NOTES-salesforce.md records ("Relation.Email alone returns only users' addresses").
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from syncd.sandbox.salesforce.records import Record
from syncd.sandbox.salesforce.schema import NAME_FIELDS, FieldDef, Schema, SObjectSchema
from syncd.sandbox.salesforce.soql import FieldPath, SoqlError, located
from syncd.sandbox.salesforce.store import OrgData

Getter = Callable[[Record], Any]


@dataclass(frozen=True)
class Hop:
    """One relationship step: the reference field and where it leads (None: Name object)."""

    reference: FieldDef
    name: str
    target: SObjectSchema | None


@dataclass(frozen=True)
class ResolvedPath:
    hops: tuple[Hop, ...]
    field: FieldDef
    on_name: bool


def no_such_column(text: str, offset: int, column: str, entity: str) -> SoqlError:
    return SoqlError(
        located(
            text,
            offset,
            f"No such column '{column}' on entity '{entity}'. If you are attempting to use a "
            "custom field, be sure to append the '__c' after the custom field name. Please "
            "reference your WSDL or the describe call for the appropriate names.",
        ),
        code="INVALID_FIELD",
    )


def bad_relationship(text: str, offset: int, name: str) -> SoqlError:
    return SoqlError(
        located(
            text,
            offset,
            f"Didn't understand relationship '{name}' in field path. If you are attempting to "
            "use a custom relationship, be sure to append the '__r' after the custom "
            "relationship name. Please reference your WSDL or the describe call for the "
            "appropriate names.",
        ),
        code="INVALID_FIELD",
    )


def hop_for(schema: Schema, obj: SObjectSchema, name: str) -> Hop | None:
    """The relationship `name` of `obj`, if any."""
    reference = obj.relationship(name)
    if reference is None or reference.relationship_name is None:
        return None
    target = None
    if not reference.polymorphic:
        target = schema.get(reference.reference_to[0])
    return Hop(reference, reference.relationship_name, target)


def resolve(schema: Schema, obj: SObjectSchema | None, path: FieldPath, text: str) -> ResolvedPath:
    """Walk `path` from `obj` (None: the Name object); raises SoqlError (INVALID_FIELD)."""
    hops: list[Hop] = []
    current = obj
    for part in path.parts[:-1]:
        hop = hop_for(schema, current, part) if current is not None else None
        if hop is None:
            raise bad_relationship(text, path.offset, part)
        hops.append(hop)
        current = hop.target
    last = path.parts[-1]
    if current is None:
        definition = NAME_FIELDS.get(last.lower())
        if definition is None:
            raise no_such_column(text, path.offset, last, "Name")
        return ResolvedPath(tuple(hops), definition, on_name=True)
    definition = current.field(last)
    if definition is None:
        raise no_such_column(text, path.offset, last, current.name)
    return ResolvedPath(tuple(hops), definition, on_name=False)


def name_value(record: Record, field: str) -> Any:
    """A Name-object field read off the actual User, Contact or Lead."""
    if field == "Type":
        return record.sobject
    if field == "Email" and record.sobject != "User":
        return None
    return getattr(record, field, None)


def field_getter(data: OrgData, definition: FieldDef, *, on_name: bool) -> Getter:
    """Read one field off a record (no relationship hops)."""
    if on_name:
        name = definition.name
        return lambda record: name_value(record, name)
    if definition.derived or definition.custom:
        return lambda record: data.read(record, definition)
    name = definition.name
    return lambda record: getattr(record, name, None)


def follow(data: OrgData, hops: tuple[Hop, ...]) -> Callable[[Record], Record | None]:
    """Go from a record along the hops to the related record (None when a link is empty)."""

    def walk(record: Record) -> Record | None:
        current: Record | None = record
        for hop in hops:
            target_id = getattr(current, hop.reference.name, None)
            if target_id is None:
                return None
            current = data.find(target_id, include_deleted=True)
            if current is None:
                return None
        return current

    return walk


def path_getter(data: OrgData, resolved: ResolvedPath) -> Getter:
    """A function reading the path's value from a base record."""
    read = field_getter(data, resolved.field, on_name=resolved.on_name)
    if not resolved.hops:
        return read
    walk = follow(data, resolved.hops)

    def get(record: Record) -> Any:
        target = walk(record)
        return None if target is None else read(target)

    return get
