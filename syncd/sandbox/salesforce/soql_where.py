"""Compiling a WHERE condition into a predicate over records.

Comparison operators:
https://developer.salesforce.com/docs/atlas.en-us.soql_sosl.meta/soql_sosl/sforce_api_calls_soql_select_comparisonoperators.htm
- text comparisons (=, !=, LIKE, IN) ignore case; ids compare exactly, a 15-character
  id matching its 18-character form;
- a literal must fit the field's type (dateTime and date literals unquoted, strings
  quoted), else INVALID_FIELD "value of filter criterion ... must be of type ...";
- date literals (TODAY, LAST_N_DAYS:n, ...) are ranges starting at midnight; `=`
  means inside, `<` before its start, `>` after its end
  (sforce_api_calls_soql_select_dateformats.htm). The sandbox computes them in UTC.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from syncd.sandbox.salesforce.ids import normalize_id
from syncd.sandbox.salesforce.records import Record
from syncd.sandbox.salesforce.schema import FieldDef, Schema, SObjectSchema
from syncd.sandbox.salesforce.soql import (
    And,
    Comparison,
    Condition,
    InList,
    Like,
    Literal,
    Not,
    Or,
    SoqlError,
    located,
)
from syncd.sandbox.salesforce.soql_paths import path_getter, resolve
from syncd.sandbox.salesforce.store import OrgData
from syncd.sandbox.salesforce.values import midnight

Predicate = Callable[[Record], bool]
ID_TYPES = frozenset({"id", "reference"})
# Which literal kinds each field type accepts (besides null).
ACCEPTS = {
    "datetime": ("datetime", "range"),
    "date": ("date", "range"),
    "boolean": ("boolean",),
    "int": ("number",),
}
TYPE_WORDS = {"datetime": "dateTime", "date": "date", "boolean": "boolean", "int": "number"}


@dataclass(frozen=True)
class WhereContext:
    schema: Schema
    data: OrgData
    obj: SObjectSchema
    text: str
    now: datetime


def compile_condition(condition: Condition, ctx: WhereContext) -> Predicate:
    """A predicate implementing `condition` (type errors raise SoqlError)."""
    if isinstance(condition, And):
        parts = [compile_condition(item, ctx) for item in condition.items]
        return lambda record: all(part(record) for part in parts)
    if isinstance(condition, Or):
        parts = [compile_condition(item, ctx) for item in condition.items]
        return lambda record: any(part(record) for part in parts)
    if isinstance(condition, Not):
        inner = compile_condition(condition.item, ctx)
        return lambda record: not inner(record)
    if isinstance(condition, Comparison):
        return _comparison(condition, ctx)
    if isinstance(condition, InList):
        return _in_list(condition, ctx)
    return _like(condition, ctx)


def _field(
    path_cond: Comparison | InList | Like, ctx: WhereContext
) -> tuple[FieldDef, Callable[[Record], Any]]:
    resolved = resolve(ctx.schema, ctx.obj, path_cond.path, ctx.text)
    return resolved.field, path_getter(ctx.data, resolved)


def _literal_error(
    ctx: WhereContext, literal: Literal, field_text: str, definition: FieldDef
) -> SoqlError:
    if definition.is_text:
        wanted = (
            "value of filter criterion for field '{f}' must be of type string and should be "
            "enclosed in quotes"
        )
    else:
        wanted = (
            "value of filter criterion for field '{f}' must be of type {t} and should not be "
            "enclosed in quotes"
        )
    message = wanted.format(f=field_text, t=TYPE_WORDS.get(definition.type, definition.type))
    return SoqlError(located(ctx.text, literal.offset, message), code="INVALID_FIELD")


def _value(definition: FieldDef, literal: Literal, field_text: str, ctx: WhereContext) -> Any:
    """The literal as a comparable value of the field's type (text case-folded)."""
    if literal.kind == "null":
        return None
    accepted = ("string",) if definition.is_text else ACCEPTS.get(definition.type, ())
    if literal.kind not in accepted:
        raise _literal_error(ctx, literal, field_text, definition)
    if literal.kind == "range":
        return literal.value
    if definition.type in ID_TYPES:
        normalized = normalize_id(str(literal.value))
        if normalized is None:
            raise SoqlError(
                located(ctx.text, literal.offset, f"invalid ID field: {literal.value}"),
                code="INVALID_QUERY_FILTER_OPERATOR",
            )
        return normalized
    if definition.is_text:
        return str(literal.value).casefold()
    return literal.value


def _normalizer(definition: FieldDef) -> Callable[[Any], Any]:
    if definition.is_text and definition.type not in ID_TYPES:
        return lambda value: value if value is None else str(value).casefold()
    return lambda value: value


def range_bounds(name: str, count: int, now: datetime, field_type: str) -> tuple[Any, Any]:
    """[start, end) of a date literal, in the field's type."""
    today = now.date()
    starts = {
        "TODAY": (today, today + timedelta(days=1)),
        "YESTERDAY": (today - timedelta(days=1), today),
        "TOMORROW": (today + timedelta(days=1), today + timedelta(days=2)),
        "LAST_N_DAYS": (today - timedelta(days=count), today + timedelta(days=1)),
        "NEXT_N_DAYS": (today + timedelta(days=1), today + timedelta(days=1 + count)),
    }
    low, high = starts[name]
    if field_type == "datetime":
        return midnight(low), midnight(high)
    return low, high


def _comparison(condition: Comparison, ctx: WhereContext) -> Predicate:
    definition, get = _field(condition, ctx)
    target = _value(definition, condition.value, condition.path.text, ctx)
    op = condition.op
    if condition.value.kind == "null":
        if op == "=":
            return lambda record: get(record) is None
        if op == "!=":
            return lambda record: get(record) is not None
        return lambda record: False
    if condition.value.kind == "range":
        name, count = target
        low, high = range_bounds(name, count, ctx.now, definition.type)
        return _range_test(get, op, low, high)
    norm = _normalizer(definition)
    return _ordered_test(get, norm, op, target)


def _range_test(get: Callable[[Record], Any], op: str, low: date, high: date) -> Predicate:
    tests: dict[str, Callable[[Any], bool]] = {
        "=": lambda v: low <= v < high,
        "!=": lambda v: not low <= v < high,
        "<": lambda v: v < low,
        "<=": lambda v: v < high,
        ">": lambda v: v >= high,
        ">=": lambda v: v >= low,
    }
    test = tests[op]
    if op == "!=":
        return lambda record: (value := get(record)) is None or test(value)
    return lambda record: (value := get(record)) is not None and test(value)


def _ordered_test(
    get: Callable[[Record], Any], norm: Callable[[Any], Any], op: str, target: Any
) -> Predicate:
    if op == "=":
        return lambda record: (value := get(record)) is not None and norm(value) == target
    if op == "!=":
        return lambda record: (value := get(record)) is None or norm(value) != target
    compare: dict[str, Callable[[Any], bool]] = {
        "<": lambda v: v < target,
        "<=": lambda v: v <= target,
        ">": lambda v: v > target,
        ">=": lambda v: v >= target,
    }
    test = compare[op]
    return lambda record: (value := get(record)) is not None and test(norm(value))


def _in_list(condition: InList, ctx: WhereContext) -> Predicate:
    definition, get = _field(condition, ctx)
    values = [_value(definition, literal, condition.path.text, ctx) for literal in condition.values]
    if any(literal.kind == "range" for literal in condition.values):
        raise SoqlError(
            located(ctx.text, condition.values[0].offset, "IN does not take date literals")
        )
    wanted = {v for v in values if v is not None}
    with_null = any(v is None for v in values)
    norm = _normalizer(definition)

    def member(record: Record) -> bool:
        value = get(record)
        return with_null if value is None else norm(value) in wanted

    if condition.negated:
        return lambda record: not member(record)
    return member


def like_regex(pattern: str, escaped: frozenset[int]) -> re.Pattern[str]:
    """`%` any run, `_` one character; escaped ones are literal; case-insensitive."""
    parts = []
    for index, char in enumerate(pattern):
        if char == "%" and index not in escaped:
            parts.append(".*")
        elif char == "_" and index not in escaped:
            parts.append(".")
        else:
            parts.append(re.escape(char))
    return re.compile("".join(parts), re.IGNORECASE | re.DOTALL)


def _like(condition: Like, ctx: WhereContext) -> Predicate:
    definition, get = _field(condition, ctx)
    if not definition.is_text or definition.type in ID_TYPES:
        raise SoqlError(
            located(
                ctx.text,
                condition.pattern.offset,
                f"invalid operator on id field: {condition.path.text}"
                if definition.type in ID_TYPES
                else f"LIKE operator is only valid on string fields: {condition.path.text}",
            ),
            code="INVALID_QUERY_FILTER_OPERATOR",
        )
    regex = like_regex(str(condition.pattern.value), condition.pattern.escaped)
    return lambda record: (
        (value := get(record)) is not None and regex.fullmatch(str(value)) is not None
    )


def id_candidates(condition: Condition | None, field: str) -> set[str] | None:
    """Ids a top-level `field = '...'` / `field IN (...)` (alone or ANDed) narrows to."""
    if condition is None:
        return None
    items = condition.items if isinstance(condition, And) else (condition,)
    for item in items:
        path = getattr(item, "path", None)
        if path is None or len(path.parts) != 1 or path.parts[0].lower() != field.lower():
            continue
        if isinstance(item, Comparison) and item.op == "=" and item.value.kind == "string":
            found = normalize_id(str(item.value.value))
            return {found} if found else set()
        if isinstance(item, InList) and not item.negated:
            ids = {normalize_id(str(v.value)) for v in item.values if v.kind == "string"}
            return {i for i in ids if i}
    return None
