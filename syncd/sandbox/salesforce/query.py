"""Running a parsed SOQL query against the org: rows, order, limit, and how they render.

ORDER BY (https://developer.salesforce.com/docs/atlas.en-us.soql_sosl.meta/soql_sosl/sforce_api_calls_soql_select_orderby.htm):
case-insensitive, nulls first unless NULLS LAST. Without ORDER BY Salesforce
promises no order; the sandbox returns creation order. OFFSET is capped at 2,000
(sforce_api_calls_soql_select_offset.htm). queryAll also returns deleted rows
still in the recycle bin (resources_queryall.htm). `row_visible` hides rows the org
does not show (EventRelation rows other than invitees without Shared Activities).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from syncd.sandbox.salesforce.records import Record
from syncd.sandbox.salesforce.schema import ChildRelationship, Schema, SObjectSchema
from syncd.sandbox.salesforce.soql import (
    CountAll,
    FieldPath,
    OrderItem,
    Query,
    SoqlError,
    SubQuery,
    TypeOf,
    located,
)
from syncd.sandbox.salesforce.soql_paths import path_getter, resolve
from syncd.sandbox.salesforce.soql_select import Column, SelectBuilder, render_record
from syncd.sandbox.salesforce.soql_where import (
    ID_TYPES,
    WhereContext,
    compile_condition,
    id_candidates,
)
from syncd.sandbox.salesforce.store import OrgData

MAX_OFFSET = 2000


class _Descending:
    """Inverts ordering so one ascending sort handles mixed ASC/DESC keys."""

    __slots__ = ("value",)

    def __init__(self, value: Any) -> None:
        self.value = value

    def __lt__(self, other: _Descending) -> bool:
        return bool(other.value < self.value)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, _Descending) and self.value == other.value

    def __hash__(self) -> int:
        return hash(self.value)


@dataclass
class Plan:
    """What to fetch and in which order; shared by queries and child subqueries."""

    predicate: Callable[[Record], bool] | None
    sort_key: Callable[[Record], list[Any]] | None
    limit: int | None
    offset: int | None
    columns: dict[str, Column]

    def select(self, rows: Iterable[Record]) -> list[Record]:
        chosen = [r for r in rows if self.predicate(r)] if self.predicate else list(rows)
        if self.sort_key is not None:
            chosen.sort(key=self.sort_key)
        start = self.offset or 0
        end = None if self.limit is None else start + self.limit
        return chosen[start:end] if (start or end is not None) else chosen


@dataclass
class ChildColumn:
    key: str
    plan: Plan
    rows_of: Callable[[Record], list[Record]]

    def render(self, record: Record, version: str) -> Any:
        rows = self.plan.select(self.rows_of(record))
        if not rows:
            return None
        return {
            "totalSize": len(rows),
            "done": True,
            "records": [render_record(row, self.plan.columns, version) for row in rows],
        }


@dataclass
class CompiledQuery:
    obj: SObjectSchema
    plan: Plan
    count_only: bool
    rows: Callable[[], Iterable[Record]]

    def run(self) -> list[Record]:
        return self.plan.select(self.rows())

    def render(self, record: Record, version: str) -> dict[str, Any]:
        return render_record(record, self.plan.columns, version)


@dataclass
class _Context:
    schema: Schema
    data: OrgData
    text: str
    now: datetime
    include_deleted: bool
    row_visible: Callable[[Record], bool] | None = None

    def visible(self, rows: Iterable[Record]) -> Iterable[Record]:
        check = self.row_visible
        return rows if check is None else (r for r in rows if check(r))


def compile_query(
    query: Query,
    *,
    schema: Schema,
    data: OrgData,
    now: datetime,
    include_deleted: bool = False,
    row_visible: Callable[[Record], bool] | None = None,
) -> CompiledQuery:
    """Check the query against the schema and prepare it to run (raises SoqlError)."""
    ctx = _Context(schema, data, query.text, now, include_deleted, row_visible)
    obj = schema.get(query.sobject)
    if obj is None:
        raise SoqlError(
            located(
                query.text,
                query.sobject_offset,
                f"sObject type '{query.sobject}' is not supported. If you are attempting to use a "
                "custom object, be sure to append the '__c' after the entity name. Please "
                "reference your WSDL or the describe call for the appropriate names.",
            ),
            code="INVALID_TYPE",
        )
    count_only = any(isinstance(item, CountAll) for item in query.items)
    if count_only and len(query.items) > 1:
        raise SoqlError(located(query.text, 0, "COUNT() must be the only item selected"))
    plan = _plan(query, obj, ctx)
    return CompiledQuery(obj, plan, count_only, _row_source(query, obj, ctx))


def _plan(query: Query, obj: SObjectSchema, ctx: _Context) -> Plan:
    builder = SelectBuilder(ctx.schema, ctx.data, obj, ctx.text)
    for item in query.items:
        if isinstance(item, TypeOf):
            builder.add_type_of(item)
        elif isinstance(item, SubQuery):
            child = _child_column(item.query, obj, ctx)
            where = FieldPath((item.query.sobject,), item.query.sobject_offset)
            builder.add_column(child.key, child, where)
        elif not isinstance(item, CountAll):
            builder.add_path(item)
    predicate = None
    if query.where is not None:
        where_ctx = WhereContext(ctx.schema, ctx.data, obj, ctx.text, ctx.now)
        predicate = compile_condition(query.where, where_ctx)
    if query.offset is not None and query.offset > MAX_OFFSET:
        raise SoqlError(
            f"Maximum SOQL offset allowed is {MAX_OFFSET}", code="NUMBER_OUTSIDE_VALID_RANGE"
        )
    sort_key = _sort_key(query.order_by, obj, ctx) if query.order_by else None
    return Plan(predicate, sort_key, query.limit, query.offset, builder.columns)


def _child_column(query: Query, parent: SObjectSchema, ctx: _Context) -> ChildColumn:
    relationship = parent.child(query.sobject)
    if relationship is None:
        raise SoqlError(
            located(
                ctx.text,
                query.sobject_offset,
                f"Didn't understand relationship '{query.sobject}' in FROM part of query call. "
                "If you are attempting to use a custom relationship, be sure to append the "
                "'__r' after the custom relationship name. Please reference your WSDL or the "
                "describe call for the appropriate names.",
            ),
            code="INVALID_TYPE",
        )
    child = ctx.schema[relationship.child]
    plan = _plan(query, child, ctx)
    rows_of = _children_of(relationship, ctx.data)
    return ChildColumn(relationship.name, plan, lambda parent: list(ctx.visible(rows_of(parent))))


def _children_of(
    relationship: ChildRelationship, data: OrgData
) -> Callable[[Record], list[Record]]:
    if relationship.child == "EventRelation" and relationship.field == "EventId":
        return lambda parent: data.relations_of(parent.id)
    name = relationship.field
    return lambda parent: [
        r for r in data.rows(relationship.child) if getattr(r, name, None) == parent.id
    ]


def _sort_key(
    items: tuple[OrderItem, ...], obj: SObjectSchema, ctx: _Context
) -> Callable[[Record], list[Any]]:
    getters = []
    for item in items:
        resolved = resolve(ctx.schema, obj, item.path, ctx.text)
        get = path_getter(ctx.data, resolved)
        fold = resolved.field.is_text and resolved.field.type not in ID_TYPES
        getters.append((get, fold, item.descending, 0 if item.nulls_first else 2))

    def key(record: Record) -> list[Any]:
        parts: list[Any] = []
        for get, fold, descending, null_rank in getters:
            value = get(record)
            if value is None:
                parts.append((null_rank, 0))
                continue
            if fold:
                value = str(value).casefold()
            parts.append((1, _Descending(value) if descending else value))
        return parts

    return key


def _row_source(query: Query, obj: SObjectSchema, ctx: _Context) -> Callable[[], Iterable[Record]]:
    source = _all_rows(query, obj, ctx)
    return lambda: ctx.visible(source())


def _all_rows(query: Query, obj: SObjectSchema, ctx: _Context) -> Callable[[], Iterable[Record]]:
    data, deleted = ctx.data, ctx.include_deleted
    ids = id_candidates(query.where, "Id")
    if ids is not None:

        def by_id() -> list[Record]:
            found = (data.find(i, include_deleted=deleted) for i in sorted(ids))
            return [r for r in found if r is not None and r.sobject == obj.name]

        return by_id
    if obj.name == "EventRelation" and not deleted:
        events = id_candidates(query.where, "EventId")
        if events is not None:
            return lambda: [r for e in sorted(events) for r in data.relations_of(e)]
    return lambda: data.rows(obj.name, include_deleted=deleted)
