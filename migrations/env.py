"""Alembic environment: the ledger's SQLModel metadata, any SQLAlchemy URL."""

from alembic import context
from sqlalchemy.engine import Connection
from sqlmodel import SQLModel

import syncd.ledger.models  # noqa: F401  (registers the tables)
from syncd.ledger import tenant_state  # noqa: F401  (registers tenant_state)
from syncd.ledger.db import make_engine

config = context.config
target_metadata = SQLModel.metadata


def run_migrations_offline() -> None:
    context.configure(
        url=config.get_main_option("sqlalchemy.url"),
        target_metadata=target_metadata,
        literal_binds=True,
        render_as_batch=True,
    )
    with context.begin_transaction():
        context.run_migrations()


def _run_on(connection: Connection) -> None:
    context.configure(connection=connection, target_metadata=target_metadata, render_as_batch=True)
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online() -> None:
    # syncd.ledger.db.upgrade hands in its connection on PostgreSQL (it holds the
    # migration lock in that connection's transaction).
    given = config.attributes.get("connection")
    if given is not None:
        _run_on(given)
        return
    engine = make_engine(config.get_main_option("sqlalchemy.url"))
    with engine.connect() as connection:
        _run_on(connection)
    engine.dispose()


if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()
