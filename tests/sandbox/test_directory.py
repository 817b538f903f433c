"""The generated directory is realistic, stable for a seed, and extendable for tests."""

from __future__ import annotations

import pytest

from syncd.sandbox.microsoft.directory import build_directory, build_tenant
from syncd.sandbox.microsoft.names import DEMO_PEOPLE


def test_same_seed_same_directory() -> None:
    first = build_tenant("Contoso", "contoso.example", users=25, seed=42)
    again = build_tenant("Contoso", "contoso.example", users=25, seed=42)
    other = build_tenant("Contoso", "contoso.example", users=25, seed=43)
    assert first == again
    assert [u.email for u in first.users] != [u.email for u in other.users]


def test_users_look_real_and_some_have_no_mailbox() -> None:
    tenant = build_tenant("Contoso", "contoso.example", users=25, seed=42)
    emails = [u.email for u in tenant.users]
    assert len(set(emails)) == 25
    demo = {f"{first.lower()}.{last.lower()}@contoso.example" for first, last in DEMO_PEOPLE}
    assert demo <= set(emails)
    assert [u.has_mailbox for u in tenant.users].count(False) == 2
    user = tenant.users[0]
    assert user.display_name == f"{user.given_name} {user.surname}"
    assert user.email == f"{user.given_name.lower()}.{user.surname.lower()}@contoso.example"


def test_add_user_and_lookups() -> None:
    directory = build_directory("contoso.example", users=3, seed=1)
    tenant = directory.tenants()[0]
    added = directory.add_user(
        tenant.id,
        "Room.101@contoso.example",
        "Room 101",
        has_mailbox=True,
        time_zone="Tokyo Standard Time",
    )
    assert directory.find_user(tenant.id, "room.101@CONTOSO.example") == added
    assert directory.find_user(tenant.id, added.id) == added
    assert directory.find_by_email("ROOM.101@contoso.example") == added
    assert directory.tenant("contoso.example") is tenant
    with pytest.raises(ValueError, match="already exists"):
        directory.add_user(tenant.id, "room.101@contoso.example")
