"""Tenant address aliases resolve every address a request names."""

from __future__ import annotations

from syncd.api import aliases

ALIASES = {"old name": "new@contoso.example"}


def test_body_addresses_are_resolved_and_others_kept() -> None:
    body = {
        "organizerEmail": " old name ",
        "attendees": [{"email": "old name", "isRequired": "true"}, {"email": "x@y.example"}],
        "subject": "old name",
    }
    resolved = aliases.apply(body, ALIASES)
    assert resolved["organizerEmail"] == "new@contoso.example"
    assert [a["email"] for a in resolved["attendees"]] == ["new@contoso.example", "x@y.example"]
    assert resolved["subject"] == "old name"
    assert body["organizerEmail"] == " old name ", "the parsed body is not modified in place"


def test_availability_list_is_resolved() -> None:
    assert aliases.apply([{"email": "old name"}, {"email": 5}], ALIASES) == [
        {"email": "new@contoso.example"},
        {"email": 5},
    ]


def test_no_aliases_returns_the_same_object() -> None:
    body = {"organizerEmail": "a@b"}
    assert aliases.apply(body, {}) is body
