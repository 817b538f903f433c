"""The PostgreSQL store: the same Alembic migrations both ways, replicas migrating at
once, and the leases that give each tenant to exactly one replica."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest
from alembic import command
from sqlalchemy import Engine, inspect, text

from syncd.ledger.db import (
    alembic_config,
    ensure_migrated,
    head_revision,
    make_engine,
    normalize_url,
    upgrade,
)
from syncd.ledger.lease import AdvisoryLeases, FileLeases, Grant, holders, leases_for
from tests.api.fakes import fake_runtime, serve
from tests.scale_out.conftest import schema_url
from tests.support import wait_until

pytestmark = pytest.mark.postgres

TABLES = {
    "access_token",
    "api_client",
    "auth_failure",
    "hmac_nonce",
    "meeting",
    "refresh_token",
    "tombstone",
    "watermark",
}


@contextmanager
def engine_of(url: str) -> Iterator[Engine]:
    engine = make_engine(url)
    try:
        yield engine
    finally:
        engine.dispose()


def tables(url: str) -> set[str]:
    with engine_of(url) as engine:
        return set(inspect(engine).get_table_names())


# ------------------------------------------------------------------ migrations


def test_the_alembic_migrations_run_both_ways_on_postgres(pg_schema: str) -> None:
    upgrade(pg_schema)
    assert TABLES | {"alembic_version"} <= tables(pg_schema)
    with engine_of(pg_schema) as engine:
        ensure_migrated(engine)
        assert engine.dialect.name == "postgresql"
        assert engine.dialect.driver == "psycopg"
        columns = {c["name"]: c["type"] for c in inspect(engine).get_columns("meeting")}
        # Aware datetimes are stored with their zone, JSON as JSON.
        assert getattr(columns["created_at"], "timezone", False) is True
        assert "JSON" in str(columns["request"]).upper()
    command.downgrade(alembic_config(pg_schema), "base")
    assert tables(pg_schema) & TABLES == set()
    upgrade(pg_schema)
    assert tables(pg_schema) >= TABLES


def test_replicas_upgrading_at_once_run_the_migration_once(pg_schema: str) -> None:
    script = "import sys; from syncd.ledger.db import upgrade; upgrade(sys.argv[1])"
    processes = [
        subprocess.Popen(
            [sys.executable, "-c", script, pg_schema],
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        for _ in range(4)
    ]
    outputs = [p.communicate(timeout=120)[0] for p in processes]
    assert [p.returncode for p in processes] == [0, 0, 0, 0], outputs
    with engine_of(pg_schema) as engine:
        ensure_migrated(engine)
        with engine.connect() as connection:
            versions = connection.execute(text("SELECT version_num FROM alembic_version")).all()
    assert [v[0] for v in versions] == [head_revision(pg_schema)]


def test_plain_postgresql_urls_mean_psycopg_3() -> None:
    assert normalize_url("postgresql://u@h/db") == "postgresql+psycopg://u@h/db"
    assert normalize_url("postgres://u@h/db") == "postgresql+psycopg://u@h/db"
    assert normalize_url("sqlite:///x.db") == "sqlite:///x.db"


def test_healthz_answers_503_when_postgres_is_unreachable() -> None:
    with socket_nobody_listens_on() as port:
        engine = make_engine(f"postgresql://syncd@127.0.0.1:{port}/syncd")
        with serve(_create_app(fake_runtime(engine))) as url:
            answer = httpx.get(url + "/healthz", timeout=30)
    assert answer.status_code == 503, answer.text
    assert answer.json()["status"] == "unavailable"


def _create_app(runtime: object) -> object:
    from syncd.api.app import create_app

    return create_app(runtime)  # type: ignore[arg-type]


@contextmanager
def socket_nobody_listens_on() -> Iterator[int]:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))  # bound, never listening: connections are refused
        yield sock.getsockname()[1]


# ---------------------------------------------------------------------- leases

_HOLDER = """
import sys, time
from syncd.ledger.db import make_engine
from syncd.ledger.lease import AdvisoryLeases
leases = AdvisoryLeases(make_engine(sys.argv[1]), total=1)
print(leases.acquire(sys.argv[2]).value, flush=True)
time.sleep(600)
"""


def test_a_lease_is_held_by_one_replica_and_taken_over_when_it_dies(pg_store: str) -> None:
    holder = subprocess.Popen(
        [sys.executable, "-c", _HOLDER, pg_store, "acme"], stdout=subprocess.PIPE, text=True
    )
    try:
        assert holder.stdout is not None
        assert holder.stdout.readline().strip() == "gained"
        with engine_of(pg_store) as engine:
            leases = AdvisoryLeases(engine, total=1)
            assert holders(engine, ["acme", "other"]) == {"acme": f"syncd-replica {holder.pid}"}
            # With where it connects from: the server's view of the client (TCP here).
            described = holders(engine, ["acme"], with_address=True)["acme"]
            assert described.startswith(f"syncd-replica {holder.pid} from "), described
            assert leases.acquire("acme") is Grant.BUSY
            assert not leases.holds("acme")
            os.kill(holder.pid, signal.SIGKILL)
            holder.wait(30)
            # The server ends the dead replica's session, and its locks with it.
            wait_until(lambda: leases.acquire("acme") is Grant.GAINED, "the lease to free up", 10)
            assert leases.holds("acme")
            assert leases.acquire("acme") is Grant.HELD
            assert holders(engine, ["acme"]) == {"acme": f"syncd-replica {os.getpid()}"}
            leases.release_all()
            assert holders(engine, ["acme"]) == {}
    finally:
        if holder.poll() is None:
            holder.kill()
            holder.wait()


def test_each_replica_takes_its_share_and_hands_over_the_rest(pg_store: str) -> None:
    tenants = ["t1", "t2", "t3", "t4"]
    with engine_of(pg_store) as first_engine, engine_of(pg_store) as second_engine:
        first = AdvisoryLeases(first_engine, total=len(tenants))
        second = AdvisoryLeases(second_engine, total=len(tenants))
        try:
            # Alone, a replica takes every tenant.
            assert [first.acquire(t) for t in tenants] == [Grant.GAINED] * 4
            assert not first.over_share()
            # A second replica appears: the first now holds more than its share (2).
            assert [second.acquire(t) for t in tenants] == [Grant.BUSY] * 4
            assert first.over_share()
            first.release("t1")
            first.release("t2")
            assert not first.over_share()
            assert first.acquire("t1") is Grant.BUSY  # it holds its share already
            assert second.acquire("t1") is Grant.GAINED
            assert second.acquire("t2") is Grant.GAINED
            assert set(holders(first_engine, tenants).values()) == {f"syncd-replica {os.getpid()}"}
            assert len(holders(first_engine, tenants)) == 4
            # The second dies (its session ends): the first may hold every tenant again.
            second.release_all()
            assert [first.acquire(t) for t in tenants] == [
                Grant.GAINED,
                Grant.GAINED,
                Grant.HELD,
                Grant.HELD,
            ]
        finally:
            first.release_all()
            second.release_all()


def test_a_replica_that_lost_its_lease_connection_notices(pg_store: str) -> None:
    with engine_of(pg_store) as engine:
        first = AdvisoryLeases(engine, total=1)
        second = AdvisoryLeases(engine, total=1)
        try:
            assert first.acquire("acme") is Grant.GAINED
            assert first._connection is not None
            backend = first._connection.execute(text("SELECT pg_backend_pid()")).scalar_one()
            with engine.connect() as admin:
                admin.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": backend})
            wait_until(lambda: second.acquire("acme") is Grant.GAINED, "the lease to free up", 20)
            first.check()  # what the daemon runs every few seconds
            assert not first.holds("acme")  # so its running passes stop between pages
            assert first.acquire("acme") is Grant.BUSY
            second.release_all()
            # A fresh connection is made and the lease competed for again.
            assert first.acquire("acme") is Grant.GAINED
        finally:
            first.release_all()
            second.release_all()


def test_two_stores_on_one_server_keep_their_leases_apart(pg_store: str, postgres_url: str) -> None:
    other = schema_url(postgres_url, "public")
    with engine_of(pg_store) as engine, engine_of(other) as other_engine:
        ours, theirs = AdvisoryLeases(engine), AdvisoryLeases(other_engine)
        try:
            assert ours.acquire("acme") is Grant.GAINED
            assert theirs.acquire("acme") is Grant.GAINED
        finally:
            ours.release_all()
            theirs.release_all()


@pytest.mark.sqlite_file
def test_sqlite_leases_are_file_locks_beside_the_database(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'state' / 'syncd.db'}"
    first_engine, second_engine = make_engine(url), make_engine(url)
    first, second = leases_for(first_engine), leases_for(second_engine)
    assert isinstance(first, FileLeases)
    assert first.directory == (tmp_path / "state" / "leases").resolve()
    assert first.acquire("acme") is Grant.GAINED
    assert first.acquire("acme") is Grant.HELD
    assert second.acquire("acme") is Grant.BUSY
    assert second.acquire("other") is Grant.GAINED
    first.release("acme")
    assert second.acquire("acme") is Grant.GAINED
    first.release_all()
    second.release_all()
