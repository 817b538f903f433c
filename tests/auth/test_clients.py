"""API client management: create, list, revoke, rotate; only hashes are stored."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine, text

from syncd.auth import (
    create_client,
    issue_refresh_token,
    list_clients,
    revoke_client,
    rotate_hmac_secret,
)
from syncd.auth.clients import ClientError
from syncd.auth.hmac_scheme import derive_secret
from tests.api.fakes import migrated_copy

KEY = b"k" * 48


@pytest.fixture
def engine(auth_ledger_template: Path, tmp_path: Path) -> Iterator[Engine]:
    created = migrated_copy(auth_ledger_template, tmp_path / "ledger.db")
    yield created
    created.dispose()


def dump(engine: Engine) -> str:
    """Every row of the auth tables, as text."""
    with engine.connect() as connection:
        rows = [
            str(row)
            for table in ("api_client", "refresh_token", "access_token")
            for row in connection.execute(text(f"SELECT * FROM {table}"))  # noqa: S608
        ]
    return "\n".join(rows)


def test_an_oauth_client_gets_a_refresh_token_and_a_secret_stored_only_hashed(
    engine: Engine,
) -> None:
    created = create_client(engine, tenant="demo", method="oauth", master_key=KEY)
    assert set(created) == {"client_id", "tenant", "method", "refresh_token", "client_secret"}
    assert created["client_id"].startswith("oauth_")
    stored = dump(engine)
    assert created["client_id"] in stored
    assert created["refresh_token"] not in stored
    assert created["client_secret"] not in stored


def test_an_hmac_client_gets_a_derived_secret_that_is_not_stored(engine: Engine) -> None:
    created = create_client(engine, tenant="demo", method="hmac", master_key=KEY)
    assert set(created) == {"client_id", "tenant", "method", "secret"}
    assert created["secret"] == derive_secret(KEY, "demo", created["client_id"], 0)
    assert created["secret"] not in dump(engine)
    rotated = rotate_hmac_secret(engine, created["client_id"], master_key=KEY)
    assert rotated["secret"] == derive_secret(KEY, "demo", created["client_id"], 1)


def test_list_and_revoke(engine: Engine) -> None:
    first = create_client(engine, tenant="demo", method="oauth", master_key=KEY, description="crm")
    create_client(engine, tenant="acme", method="hmac", master_key=KEY)
    listed = list_clients(engine, tenant="demo")
    assert [c["client_id"] for c in listed] == [first["client_id"]]
    assert listed[0]["description"] == "crm" and listed[0]["revoked_at"] is None
    assert "secret" not in listed[0] and "refresh_token" not in listed[0]
    assert len(list_clients(engine)) == 2
    assert revoke_client(engine, first["client_id"])
    assert list_clients(engine, tenant="demo")[0]["revoked_at"] is not None
    assert not revoke_client(engine, "oauth_nobody")
    with pytest.raises(ClientError, match="revoked"):
        issue_refresh_token(engine, first["client_id"])


def test_operations_check_the_client(engine: Engine) -> None:
    oauth = create_client(engine, tenant="demo", method="oauth", master_key=KEY)
    with pytest.raises(ClientError, match="not hmac"):
        rotate_hmac_secret(engine, oauth["client_id"], master_key=KEY)
    with pytest.raises(ClientError, match="no API client"):
        issue_refresh_token(engine, "oauth_missing")
    with pytest.raises(ClientError, match="unknown method"):
        create_client(engine, tenant="demo", method="basic", master_key=KEY)  # type: ignore[arg-type]
    again = issue_refresh_token(engine, oauth["client_id"])
    assert again["refresh_token"] != oauth["refresh_token"]
