"""pytest plugin (loaded by tests/conftest.py): the suite's SQLite and PostgreSQL runs.

`.venv/bin/pytest` runs every test on SQLite files. With `SYNCD_TEST_DATABASE=postgres`
(and `SYNCD_TEST_POSTGRES_URL`, which `.ci/run` sets up) the same tests run with
each store routed to a PostgreSQL schema of its own (tests/store_routing.py): the
harness writes that schema's URL as the config's `database_url`, which the test and
the `syncd` subprocesses it starts both read.

- `@pytest.mark.sqlite_file`: the test is about the SQLite file itself (WAL mode,
  a file that cannot be opened); it keeps its SQLite file in the PostgreSQL run.
- tests/bench is skipped in the PostgreSQL run: those benchmarks measure the
  single-process SQLite deployment and copy its file with sqlite3's backup API;
  bench/replicas.py (tests/scale_out) is the PostgreSQL benchmark.
- `postgres_url` (fixture): the server for the PostgreSQL-only tests, which skip
  with the reason when there is none (a laptop without PostgreSQL).
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tests import store_routing as testing

_HERE = Path(__file__).resolve().parent
_BENCH = _HERE.parent / "bench"

NO_POSTGRES = (
    f"no PostgreSQL server: set {testing.POSTGRES_URL_ENV}="
    "postgresql+psycopg://USER@HOST:PORT/DB (.ci/run starts one and sets it)"
)


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers",
        "sqlite_file: about the SQLite file itself; stays on SQLite in the PostgreSQL run",
    )
    config.addinivalue_line(
        "markers", "postgres: needs a PostgreSQL server (SYNCD_TEST_POSTGRES_URL)"
    )


def pytest_report_header(config: pytest.Config) -> str:
    url = testing.postgres_url()
    store = "PostgreSQL (one schema per store)" if testing.active() else "SQLite files"
    return f"syncd state stores: {store}; PostgreSQL for scale-out tests: {url or 'none'}"


def pytest_sessionstart(session: pytest.Session) -> None:
    if not testing.active():
        return
    url = testing.postgres_url()
    if url is None:
        raise pytest.UsageError(f"{testing.MODE_ENV}=postgres: {NO_POSTGRES}")
    # This session's schemas carry its process id (so do its subprocesses', who
    # inherit the variable); runs that ended without cleaning up are cleaned now.
    os.environ[testing.SESSION_ENV] = str(os.getpid())
    testing.drop_schemas(url, own=False)


def pytest_sessionfinish(session: pytest.Session) -> None:
    url = testing.postgres_url()
    if testing.active() and url is not None:
        testing.drop_schemas(url, own=True)


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if not testing.active():
        return
    skip = pytest.mark.skip(
        reason="bench/ measures the SQLite deployment (copies its file with sqlite3); "
        "the PostgreSQL benchmark is bench/replicas.py"
    )
    for item in items:
        if _BENCH in Path(str(item.fspath)).resolve().parents:
            item.add_marker(skip)


@pytest.fixture(autouse=True)
def _sqlite_file_stays_sqlite(request: pytest.FixtureRequest) -> None:
    if testing.active() and request.node.get_closest_marker("sqlite_file") is not None:
        monkeypatch = request.getfixturevalue("monkeypatch")
        monkeypatch.delenv(testing.MODE_ENV)


@pytest.fixture(scope="session")
def postgres_url() -> str:
    url = testing.postgres_url()
    if url is None:
        pytest.skip(NO_POSTGRES)
    return url
