"""Fixtures of the scale-out tests: a PostgreSQL store of their own (a fresh schema).

These tests choose their store themselves: they need PostgreSQL whichever run of
the suite they are in, and skip with the reason when there is none.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url
from sqlalchemy.pool import NullPool


def schema_url(base: str, schema: str) -> str:
    """`base` with every connection's search_path set to `schema`."""
    url = make_url(base).update_query_dict({"options": f"-csearch_path={schema}"})
    return url.render_as_string(hide_password=False)


@pytest.fixture
def pg_schema(postgres_url: str) -> Iterator[str]:
    """The URL of a fresh, empty schema (dropped afterwards)."""
    schema = f"scale_{uuid.uuid4().hex[:16]}"
    admin = create_engine(postgres_url, poolclass=NullPool)
    with admin.begin() as connection:
        connection.execute(text(f'CREATE SCHEMA "{schema}"'))
    try:
        yield schema_url(postgres_url, schema)
    finally:
        with admin.begin() as connection:
            connection.execute(text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
        admin.dispose()


@pytest.fixture
def pg_store(pg_schema: str) -> str:
    """The URL of a fresh schema migrated to head."""
    from syncd.ledger.db import upgrade

    upgrade(pg_schema)
    return pg_schema
