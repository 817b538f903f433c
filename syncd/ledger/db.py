"""Engine and sessions for the ledger; refuses to run on an un-migrated store.

Two stores: SQLite (one host, the default) and PostgreSQL through psycopg 3
(`postgresql+psycopg://`), for several daemon replicas and API processes over one
database. The same tables, migrations and queries serve both.

A SQLite ledger holds subjects, bodies and addresses, so its file is 0600 and a
directory made for it 0700, whatever the umask. On Unix SQLite creates the
`-wal` and `-shm` files with the database file's own permissions (check-in
e5d180ee, https://sqlite.org/src/info/e5d180ee; findCreateFileMode in
src/os_unix.c), so they follow; ones left looser by an older syncd are
tightened before each new connection.
"""

from __future__ import annotations

import os
import stat
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

from syncd.domain import ErrorCode
from syncd.ledger.errors import LedgerError


def _migrations_dir() -> Path:
    """The source tree's migrations/, or the copy an installed syncd ships in share/."""
    source = Path(__file__).resolve().parent.parent.parent / "migrations"
    installed = Path(sys.prefix) / "share" / "syncd" / "migrations"
    return source if (source / "env.py").exists() else installed


MIGRATIONS_DIR = _migrations_dir()


class StoreNotMigrated(LedgerError, RuntimeError):
    """The store's schema is missing or behind the code (a RuntimeError too, as it was
    before the ledger had an error class of its own)."""

    def __init__(self, message: str) -> None:
        super().__init__(ErrorCode.INTERNAL_ERROR, message)


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


PRIVATE_DIR_MODE = 0o700
PRIVATE_FILE_MODE = 0o600
#: The files of one SQLite database in WAL mode.
SQLITE_SUFFIXES = ("", "-wal", "-shm")


def private_directory(path: Path) -> None:
    """Create `path` and its missing parents as 0700, whatever the umask.

    Directories that exist already keep their mode: they may be shared, or
    set up by the operator (systemd's StateDirectoryMode=).
    """
    missing = []
    current = path
    while not current.exists() and current != current.parent:
        missing.append(current)
        current = current.parent
    for directory in reversed(missing):
        try:
            directory.mkdir(mode=PRIVATE_DIR_MODE)
        except FileExistsError:
            continue  # made by another process meanwhile
        os.chmod(directory, PRIVATE_DIR_MODE)  # mkdir's mode is masked by the umask


def create_private_file(path: Path) -> None:
    """Create an empty file 0600 unless it exists (SQLite takes an empty file as a new
    database, and would otherwise create it 0644 under the usual umask)."""
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, PRIVATE_FILE_MODE)
    except FileExistsError:
        return
    os.close(fd)
    os.chmod(path, PRIVATE_FILE_MODE)  # the open mode is masked by the umask


def tighten_sqlite_files(database: Path) -> None:
    """Take group and other bits off the database and its -wal/-shm files, where set."""
    for suffix in SQLITE_SUFFIXES:
        path = Path(f"{database}{suffix}")
        try:
            info = path.stat()
        except FileNotFoundError:
            continue
        if stat.S_IMODE(info.st_mode) & 0o077 and info.st_uid == os.geteuid():
            os.chmod(path, stat.S_IMODE(info.st_mode) & ~0o077)


def make_engine(url: str) -> Engine:
    """Create an engine; SQLite gets WAL, foreign keys, a busy timeout and private files."""
    url = normalize_url(url)
    parsed = make_url(url)
    kwargs: dict[str, Any] = {}
    database_file: Path | None = None
    if parsed.get_backend_name() == "sqlite":
        database = parsed.database
        if database and database != ":memory:" and not database.startswith("file:"):
            database_file = Path(database)
            private_directory(database_file.parent)
        kwargs["connect_args"] = {"check_same_thread": False, "timeout": 30}
    elif parsed.get_backend_name() == "postgresql":
        # A connection the pool keeps can outlive a server restart or failover:
        # pre-ping (below) replaces it, and recycling bounds how stale one gets.
        kwargs["pool_recycle"] = 1800
        kwargs["connect_args"] = {"application_name": "syncd", "connect_timeout": 10}
    engine = create_engine(url, pool_pre_ping=True, **kwargs)
    if parsed.get_backend_name() == "sqlite":
        event.listen(engine, "connect", _sqlite_pragmas)
    if database_file is not None:
        private = database_file

        def _private_files(*_connect_args: Any) -> None:
            # Before SQLite opens the file (it would create it 0644 under the usual umask).
            create_private_file(private)
            tighten_sqlite_files(private)

        event.listen(engine, "do_connect", _private_files)
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


def upgrade_reporting(url: str) -> str:
    """`upgrade(url)`, then one line saying what it did: created, migrated or already current
    (the URL without its password)."""
    engine = make_engine(url)
    try:
        before = current_revision(engine)
        shown = engine.url.render_as_string(hide_password=True)
    finally:
        engine.dispose()
    upgrade(url)
    head = head_revision(url)
    if before is None:
        return f"state store created at revision {head}: {shown}"
    if before != head:
        return f"state store migrated from revision {before} to {head}: {shown}"
    return f"state store is up to date (revision {head}): {shown}"


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
