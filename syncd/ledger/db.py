"""Engine and sessions for the ledger; refuses to run on an un-migrated store.

Two stores: SQLite (one host, the default) and PostgreSQL through psycopg 3
(`postgresql+psycopg://`), for several daemon replicas and API processes over one
database. The same tables, migrations and queries serve both.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from alembic.config import Config as AlembicConfig
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Engine, create_engine, event, text
from sqlalchemy.engine import make_url
from sqlmodel import Session

from syncd.ledger import testing


def _migrations_dir() -> Path:
    """The source tree's migrations/, or the copy an installed syncd ships in share/."""
    source = Path(__file__).resolve().parent.parent.parent / "migrations"
    installed = Path(sys.prefix) / "share" / "syncd" / "migrations"
    return source if (source / "env.py").exists() else installed


MIGRATIONS_DIR = _migrations_dir()


class StoreNotMigrated(RuntimeError):
    """The store's schema is missing or behind the code."""


#: Held (transaction-scoped) while PostgreSQL is migrated: replicas that all run
#: `syncd db upgrade` at start wait for each other instead of racing.
MIGRATION_LOCK_KEY = 0x73796E6364_000001  # "syncd", 1


def normalize_url(url: str) -> str:
    """`postgresql://` and `postgres://` mean psycopg 3 (the driver syncd ships with)."""
    for prefix in ("postgresql://", "postgres://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix) :]
    return url


def is_postgres(engine: Engine) -> bool:
    return engine.dialect.name == "postgresql"


def make_engine(url: str) -> Engine:
    """Create an engine; SQLite gets WAL, foreign keys and a busy timeout."""
    url = testing.routed(normalize_url(url))
    parsed = make_url(url)
    kwargs: dict[str, Any] = {}
    if parsed.get_backend_name() == "sqlite":
        database = parsed.database
        if database and database != ":memory:":
            Path(database).parent.mkdir(parents=True, exist_ok=True)
        kwargs["connect_args"] = {"check_same_thread": False, "timeout": 30}
    elif parsed.get_backend_name() == "postgresql":
        # A connection the pool keeps can outlive a server restart or failover:
        # pre-ping (below) replaces it, and recycling bounds how stale one gets.
        kwargs["pool_recycle"] = 1800
        kwargs["connect_args"] = {"application_name": "syncd", "connect_timeout": 10}
    engine = create_engine(url, pool_pre_ping=True, **kwargs)
    if parsed.get_backend_name() == "sqlite":
        event.listen(engine, "connect", _sqlite_pragmas)
    return engine


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.close()


def alembic_config(url: str) -> AlembicConfig:
    config = AlembicConfig()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    config.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return config


def upgrade(url: str, revision: str = "head") -> None:
    """Bring the store to `revision` (what `syncd db upgrade` runs).

    On PostgreSQL the whole migration is one transaction that first takes an
    advisory lock, so replicas upgrading at the same moment run one after the
    other (the later ones find the store at head and do nothing).
    """
    from alembic import command

    engine = make_engine(url)  # creates the SQLite directory
    try:
        if not is_postgres(engine):
            engine.dispose()
            command.upgrade(alembic_config(url), revision)
            return
        with engine.begin() as connection:
            connection.execute(
                text("SELECT pg_advisory_xact_lock(:key)"), {"key": MIGRATION_LOCK_KEY}
            )
            config = alembic_config(url)
            config.attributes["connection"] = connection
            command.upgrade(config, revision)
    finally:
        engine.dispose()


def current_revision(engine: Engine) -> str | None:
    with engine.connect() as connection:
        return MigrationContext.configure(connection).get_current_revision()


def head_revision(url: str) -> str | None:
    return ScriptDirectory.from_config(alembic_config(url)).get_current_head()


def ensure_migrated(engine: Engine) -> None:
    """Raise StoreNotMigrated with the command to run when the schema is not at head."""
    url = engine.url.render_as_string(hide_password=False)
    current, head = current_revision(engine), head_revision(url)
    if current != head:
        state = "has no schema" if current is None else f"is at revision {current}"
        raise StoreNotMigrated(
            f"the state store {engine.url.render_as_string(hide_password=True)} {state}, "
            f"the code needs {head}: run `syncd db upgrade` first"
        )


@contextmanager
def session_scope(engine: Engine) -> Iterator[Session]:
    """A session that commits on success and rolls back on error."""
    with Session(engine, expire_on_commit=False) as session:
        try:
            yield session
            session.commit()
        except BaseException:
            session.rollback()
            raise
