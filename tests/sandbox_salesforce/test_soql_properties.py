"""Property tests of the SOQL parser and evaluator against a direct Python evaluation."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from simple_salesforce.format import format_soql, quote_soql_value

from syncd.sandbox.clock import SandboxClock
from syncd.sandbox.salesforce import SalesforceOrg, build_org
from syncd.sandbox.salesforce.query import compile_query
from syncd.sandbox.salesforce.soql import Comparison, parse

from .helpers import T0

SUBJECTS = ["alpha", "Beta", "gamma's", "ALPHA", "de\\lta", 'x"y', None]
LOCATIONS = ["MS Teams", "Room 1", None]
SHOW_AS = ["Busy", "Free", "OutOfOffice"]
DURATIONS = [0, 30, 45, 60, 120, 600]
STARTS = [T0 + timedelta(hours=h) for h in (-30, -1, 0, 2, 26, 100)]


@pytest.fixture(scope="module")
def sample() -> tuple[SalesforceOrg, list[dict[str, Any]]]:
    """Events covering every combination the strategies below can ask about."""
    clock = SandboxClock()
    clock.freeze(T0)
    org = build_org(users=2, contacts=0, leads=0, events=0, seed=3, clock=clock)
    owner = org.ids_of("User")[0]
    for index in range(60):
        org.create_event(
            owner,
            SUBJECTS[index % len(SUBJECTS)],
            STARTS[index % len(STARTS)],
            duration_minutes=DURATIONS[index % len(DURATIONS)],
            location=LOCATIONS[index % len(LOCATIONS)],
            show_as=SHOW_AS[index % len(SHOW_AS)],
            private=index % 4 == 0,
        )
    rows = [org.get(i) for i in org.ids_of("Event")]
    return org, [r for r in rows if r is not None]


@dataclass(frozen=True)
class Expr:
    """A WHERE condition as SOQL text and as a Python predicate over field values."""

    soql: str
    test: Callable[[dict[str, Any]], bool]


def _fold(value: Any) -> Any:
    return value.casefold() if isinstance(value, str) else value


def _compare(op: str, left: Any, right: Any) -> bool:
    if op == "=":
        return left is not None and _fold(left) == _fold(right)
    if op == "!=":
        return left is None or _fold(left) != _fold(right)
    if left is None:
        return False
    ops: dict[str, Callable[[Any, Any], bool]] = {
        "<": lambda a, b: a < b,
        "<=": lambda a, b: a <= b,
        ">": lambda a, b: a > b,
        ">=": lambda a, b: a >= b,
    }
    return ops[op](_fold(left), _fold(right))


def _comparison(field: str, values: list[Any], ops: list[str]) -> st.SearchStrategy[Expr]:
    present = [v for v in values if v is not None]

    def build(op: str, value: Any) -> Expr:
        literal = quote_soql_value(value)
        return Expr(f"{field} {op} {literal}", lambda row: _compare(op, row[field], value))

    return st.builds(build, st.sampled_from(ops), st.sampled_from(present))


def _membership(field: str, values: list[Any]) -> st.SearchStrategy[Expr]:
    present = [v for v in values if v is not None]

    def build(negated: bool, chosen: list[Any]) -> Expr:
        folded = {_fold(v) for v in chosen}

        def test(row: dict[str, Any]) -> bool:
            inside = row[field] is not None and _fold(row[field]) in folded
            return not inside if negated else inside

        keyword = "NOT IN" if negated else "IN"
        return Expr(f"{field} {keyword} {quote_soql_value(chosen)}", test)

    return st.builds(
        build, st.booleans(), st.lists(st.sampled_from(present), min_size=1, max_size=3)
    )


def _nullness(field: str) -> st.SearchStrategy[Expr]:
    def build(is_null: bool) -> Expr:
        op = "=" if is_null else "!="
        return Expr(f"{field} {op} null", lambda row: (row[field] is None) == is_null)

    return st.builds(build, st.booleans())


def _like() -> st.SearchStrategy[Expr]:
    def build(prefix: str) -> Expr:
        soql = format_soql("Subject LIKE '{:like}%'", prefix)
        return Expr(
            soql,
            lambda row: (
                row["Subject"] is not None
                and row["Subject"].casefold().startswith(prefix.casefold())
            ),
        )

    return st.builds(build, st.sampled_from(["a", "AL", "gam", "de\\", 'x"', "zz", ""]))


ORDERED = ["=", "!=", "<", "<=", ">", ">="]
LEAVES = st.one_of(
    _comparison("Subject", SUBJECTS, ORDERED),
    _comparison("DurationInMinutes", DURATIONS, ORDERED),
    _comparison("StartDateTime", STARTS, ORDERED),
    _comparison("IsPrivate", [True, False], ["=", "!="]),
    _comparison("ShowAs", SHOW_AS, ["=", "!="]),
    _membership("Location", LOCATIONS),
    _membership("DurationInMinutes", DURATIONS),
    _nullness("Location"),
    _nullness("Subject"),
    _like(),
)


def _combine(children: st.SearchStrategy[Expr]) -> st.SearchStrategy[Expr]:
    def conjunction(items: list[Expr], joiner: str) -> Expr:
        tests = [item.test for item in items]
        combine = all if joiner == "AND" else any
        soql = "(" + f" {joiner} ".join(item.soql for item in items) + ")"
        return Expr(soql, lambda row: combine(t(row) for t in tests))

    def negation(item: Expr) -> Expr:
        return Expr(
            f"NOT {item.soql}" if item.soql.startswith("(") else f"NOT ({item.soql})",
            lambda row: not item.test(row),
        )

    return st.one_of(
        st.builds(
            conjunction, st.lists(children, min_size=2, max_size=3), st.sampled_from(["AND", "OR"])
        ),
        st.builds(negation, children),
    )


CONDITIONS = st.recursive(LEAVES, _combine, max_leaves=6)


@settings(max_examples=150, deadline=None)
@given(condition=CONDITIONS)
def test_where_matches_python_evaluation(
    sample: tuple[SalesforceOrg, list[dict[str, Any]]], condition: Expr
) -> None:
    org, rows = sample
    # The condition's values were quoted by quote_soql_value when it was built.
    soql = format_soql("SELECT Id FROM Event WHERE {:literal}", condition.soql)
    compiled = compile_query(parse(soql), schema=org.schema, data=org.data, now=org.now())
    got = {record.id for record in compiled.run()}
    expected = {row["Id"] for row in rows if condition.test(row)}
    assert got == expected, soql


@given(text=st.text(max_size=40))
def test_any_string_survives_format_soql(text: str) -> None:
    query = parse(format_soql("SELECT Id FROM Event WHERE Subject = {}", text))
    assert isinstance(query.where, Comparison)
    assert query.where.value.value == text


@given(
    moment=st.datetimes(
        min_value=datetime(1971, 1, 2), max_value=datetime(2999, 1, 1), timezones=st.just(UTC)
    )
)
def test_any_datetime_survives_format_soql(moment: datetime) -> None:
    query = parse(format_soql("SELECT Id FROM Event WHERE StartDateTime > {}", moment))
    assert isinstance(query.where, Comparison)
    assert query.where.value.value == moment.replace(microsecond=0)
