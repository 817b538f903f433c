"""The test suite's PostgreSQL run: each SQLite file store becomes a PostgreSQL schema.

Inert unless the environment says `SYNCD_TEST_DATABASE=postgres` (what `.ci/run`
sets for its second pytest run). Then `routed()` turns a `sqlite:///<file>` URL
into a schema of its own in the database named by `SYNCD_TEST_POSTGRES_URL`, the
schema's name derived from the file's absolute path. syncd itself knows nothing
of this: the test harness writes the routed URL as `database_url` into the config
it gives the code under test (`database_url_line`), the production switch that
`syncd` subprocesses read too (as they would `SYNCD_DATABASE_URL`). So each test
that made a fresh state directory gets a fresh schema, stores shared through one
path (a config read by the test and by `syncd` subprocesses) stay shared.
The variables are read at each call, so a test can opt out (`sqlite_file`).

Schemas are named `store_<session>_<hash>`, the session being the pytest process
(`SYNCD_TEST_STORE_SESSION`, inherited by subprocesses): a session drops its own
schemas at the end and those of sessions no longer running at the start, so two
test runs may share one database.
"""

from __future__ import annotations

import hashlib
import os
import threading
from pathlib import Path

from sqlalchemy import create_engine, text
from sqlalchemy.engine import URL, Engine, make_url
from sqlalchemy.exc import IntegrityError, ProgrammingError
from sqlalchemy.pool import NullPool

MODE_ENV = "SYNCD_TEST_DATABASE"
POSTGRES_URL_ENV = "SYNCD_TEST_POSTGRES_URL"
SESSION_ENV = "SYNCD_TEST_STORE_SESSION"
#: Every routed schema's name starts with this.
SCHEMA_PREFIX = "store_"

_created: set[tuple[str, str]] = set()
_guard = threading.Lock()


def active() -> bool:
    """True in the PostgreSQL run of the test suite."""
    return os.environ.get(MODE_ENV, "").strip().lower() in {"postgres", "postgresql"}


def postgres_url() -> str | None:
    return os.environ.get(POSTGRES_URL_ENV) or None


def session() -> str:
    """The test session that owns the schemas made now (the pytest process id)."""
    return os.environ.get(SESSION_ENV, "").strip() or "0"


def schema_for(path: str) -> str:
    digest = hashlib.sha256(str(Path(path).resolve()).encode()).hexdigest()[:20]
    return f"{SCHEMA_PREFIX}{session()}_{digest}"


def routed(url: str) -> str:
    """`url`, or in the PostgreSQL run the schema standing for its SQLite file."""
    if not active():
        return url
    parsed = make_url(url)
    database = parsed.database
    if parsed.get_backend_name() != "sqlite" or not database or database == ":memory:":
        return url
    base = postgres_url()
    if base is None:
        raise RuntimeError(
            f"{MODE_ENV}=postgres needs {POSTGRES_URL_ENV} (a postgresql+psycopg:// URL)"
        )
    schema = schema_for(database)
    _create_schema(base, schema)
    target: URL = make_url(base).update_query_dict({"options": f"-csearch_path={schema}"})
    return target.render_as_string(hide_password=False)


def sqlite_url(state_dir: Path) -> str:
    """The URL syncd derives from a config's `state_dir` when it names no database_url."""
    return f"sqlite:///{state_dir.resolve() / 'syncd.db'}"


def database_url_line(state_dir: Path) -> str:
    """The `database_url = ...` line of a harness-written syncd.toml whose store is
    `state_dir`: empty on SQLite (syncd's default, a file in state_dir), the schema
    standing for that file in the PostgreSQL run."""
    if not active():
        return ""
    return f'database_url = "{routed(sqlite_url(state_dir))}"\n'


def _admin_engine(base: str) -> Engine:
    return create_engine(base, poolclass=NullPool)


def _create_schema(base: str, schema: str) -> None:
    with _guard:
        if (base, schema) in _created:
            return
        engine = _admin_engine(base)
        try:
            with engine.begin() as connection:
                connection.execute(text(f'CREATE SCHEMA IF NOT EXISTS "{schema}"'))
        except (IntegrityError, ProgrammingError):
            pass  # another process created it at the same moment
        finally:
            engine.dispose()
        _created.add((base, schema))


def _running(pid: str) -> bool:
    try:
        os.kill(int(pid), 0)
    except (ValueError, ProcessLookupError):
        return False
    except PermissionError:
        return True
    return True


def drop_schemas(base: str, *, own: bool) -> int:
    """Drop this session's schemas (`own`), or those of sessions no longer running;
    returns how many were dropped."""
    engine = _admin_engine(base)
    try:
        with engine.connect() as connection:
            found = connection.execute(
                text("SELECT nspname FROM pg_namespace WHERE starts_with(nspname, :prefix)"),
                {"prefix": SCHEMA_PREFIX},
            ).scalars()
            names = []
            for name in found:
                owner = name.removeprefix(SCHEMA_PREFIX).partition("_")[0]
                if (owner == session()) if own else not _running(owner):
                    names.append(name)
        for name in names:  # one transaction each: a schema holds many objects to lock
            with engine.begin() as connection:
                connection.execute(text(f'DROP SCHEMA IF EXISTS "{name}" CASCADE'))
    finally:
        engine.dispose()
    with _guard:
        _created.clear()
    return len(names)
