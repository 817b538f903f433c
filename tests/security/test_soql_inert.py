"""SOQL built from hostile strings stays inert: a value never ends its literal or adds a clause.

Every query the sync sends (syncd/sync/queries.py) is built with
syncd.salesforce.soql (simple-salesforce's format_soql). For any string in the
places a value goes (event ids, mail domains), the query parses, with
the sandbox's SOQL parser, into the same tree as with a harmless value, and the
literal holds exactly the string. Over the wire the same queries return
nothing for classic injections. Field names come from the configuration, which
admits only Salesforce API names. (tests/salesforce and tests/sandbox_salesforce
test format_soql itself.)
"""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from syncd.config import TenantConfig
from syncd.domain import ErrorCode, SyncdError
from syncd.sandbox.salesforce.soql import (
    And,
    Comparison,
    FieldPath,
    InList,
    Like,
    Literal,
    Not,
    Or,
    Query,
    parse,
)
from syncd.sync import queries as q

from .conftest import VAULT, VAULT_DOMAIN, Vault

HOSTILE = [
    "x' OR Id != '",
    "x') OR (Id != '",
    "\\' OR Email LIKE '%",
    "%",
    "_",
    "a' AND IsActive = false) OR (Email != '",
    "x'\n) OR (Id != null",
    "' UNION SELECT Id FROM User --",
]


def shape(node: Any) -> Any:
    """The structure of a parsed condition, without its literal values."""
    if isinstance(node, And | Or):
        return (type(node).__name__, tuple(shape(item) for item in node.items))
    if isinstance(node, Not):
        return ("Not", shape(node.item))
    if isinstance(node, Comparison):
        return ("Comparison", node.path.parts, str(node.op), node.value.kind)
    if isinstance(node, InList):
        return ("InList", node.path.parts, node.negated, tuple(v.kind for v in node.values))
    if isinstance(node, Like):
        return ("Like", node.path.parts, node.pattern.kind)
    if isinstance(node, FieldPath):
        return node.parts
    raise AssertionError(f"unexpected node {node!r}")


def query_shape(query: Query) -> Any:
    return (query.sobject, len(query.items), shape(query.where), query.limit, len(query.order_by))


def literals(node: Any) -> list[Literal]:
    if isinstance(node, And | Or):
        return [lit for item in node.items for lit in literals(item)]
    if isinstance(node, Not):
        return literals(node.item)
    if isinstance(node, Comparison):
        return [node.value]
    if isinstance(node, InList):
        return list(node.values)
    if isinstance(node, Like):
        return [node.pattern]
    return []


SAFE_ID = "00U000000000001AAA"
texts = st.one_of(st.text(max_size=60), st.sampled_from(HOSTILE))


@settings(max_examples=300, derandomize=True, database=None, deadline=None)
@given(value=texts)
def test_any_id_stays_one_value_of_the_in_list(value: str) -> None:
    for build in (
        lambda ids: q.events_by_id(ids, ("Outlook_Event_Id__c",)),
        q.relations_of,
    ):
        hostile = parse(build([value, SAFE_ID]))
        assert query_shape(hostile) == query_shape(parse(build(["a", SAFE_ID])))
        in_list = next(lit for lit in literals(hostile.where) if lit.value == SAFE_ID)
        assert in_list.kind == "string"
        values = [lit.value for lit in literals(hostile.where) if lit.kind == "string"]
        assert value in values


@settings(max_examples=300, derandomize=True, database=None, deadline=None)
@given(domain=texts)
def test_any_mail_domain_stays_one_like_pattern(domain: str) -> None:
    hostile = parse(q.in_org_users([domain]))
    assert query_shape(hostile) == query_shape(parse(q.in_org_users(["contoso.example"])))
    (pattern,) = [lit for lit in literals(hostile.where) if lit.kind == "string"]
    assert pattern.value == f"%@{domain}"
    # Every % and _ that came from the domain is escaped: a literal character, not a wildcard.
    wildcards = [i for i, char in enumerate(pattern.value) if char in "%_"]
    assert set(wildcards) - set(pattern.escaped) == {0}


@pytest.mark.parametrize("domain", [*HOSTILE, "vault_example", "vault%"])
def test_hostile_domains_find_no_user_in_a_live_org(vault: Vault, domain: str) -> None:
    client = vault.runtime.salesforce(VAULT)
    everyone = list(client.query(q.in_org_users([VAULT_DOMAIN])))
    assert everyone, "the harmless query finds the org's users"
    assert list(client.query(q.in_org_users([domain]))) == []


@pytest.mark.parametrize("value", HOSTILE)
def test_hostile_ids_read_no_event_in_a_live_org(vault: Vault, value: str) -> None:
    org = vault.org
    owner = vault.mailboxes()[0]
    start = org.now().replace(microsecond=0)
    from datetime import timedelta

    org.create_event(owner, "must not leak", start, start + timedelta(hours=1))
    client = vault.runtime.salesforce(VAULT)
    for soql in (q.events_by_id([value], ()), q.relations_of([value])):
        try:
            rows = list(client.query(soql))
        except SyncdError as error:  # Salesforce may refuse a malformed id outright
            assert error.code == ErrorCode.INVALID_REQUEST
            continue
        assert rows == []


@pytest.mark.parametrize(
    "name",
    [
        "Id FROM User --",
        "Subject, (SELECT Id FROM EventRelations)",
        "Outlook_Event_Id__c WHERE Id != null",
        "x'",
    ],
)
def test_field_names_from_the_configuration_are_api_names_only(name: str) -> None:
    with pytest.raises(ValidationError):
        TenantConfig.model_validate(
            {
                "name": "t",
                "provider": "sandbox",
                "mail_domains": ["t.example"],
                "salesforce": {"fields": {"event": {"outlook_event_id": name}}},
            }
        )
