"""salesforce.scope.extra_filter: one condition that stays inside the parentheses syncd adds."""

from __future__ import annotations

import pytest

from syncd.salesforce.soql import probe_query
from syncd.scope_filter import filter_problem


@pytest.mark.parametrize(
    "text",
    [
        "Type = 'Meeting'",
        "Subject LIKE 'a(b%' AND IsPrivate = false",
        r"Subject = 'it\'s (not) LIMIT; ORDER BY'",
        "WhatId IN (SELECT Id FROM Opportunity WHERE StageName = 'Closed Won')",
        "ActivityDate = LAST_N_DAYS:30 AND Format__c != null",
        "(Type = 'A' OR Type = 'B') AND NOT (Subject = 'x')",
    ],
)
def test_conditions_pass(text: str) -> None:
    assert filter_problem(text) is None


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("Type = 'x') OR (IsChild = true", "closes a parenthesis it did not open"),
        ("(Type = 'x'", "open"),
        ("Subject = 'open", "never closes"),
        (r"Subject = 'escaped\'", "never closes"),
        ("Type = 'x'; DELETE FROM Event", "';'"),
        ("Type = 'x' LIMIT 1", "'LIMIT'"),
        ("Type = 'x' ORDER BY Id", "'ORDER'"),
        ("Type = 'x' WITH SECURITY_ENFORCED", "'WITH'"),
        ("   ", "empty"),
    ],
)
def test_anything_else_is_refused_with_the_reason(text: str, problem: str) -> None:
    found = filter_problem(text)
    assert found is not None and problem in found


def test_the_probe_is_syncds_event_query_cut_to_one_row() -> None:
    assert probe_query("Type = 'Meeting'") == (
        "SELECT Id FROM Event WHERE IsChild = false AND (Type = 'Meeting') LIMIT 1"
    )
