"""Leases: which replica runs a tenant's jobs.

Several `syncd run` replicas over one PostgreSQL each try to take every tenant's
lease; the replica that holds a tenant's lease runs its jobs, the others skip
them and try again each time one of those jobs is due. Nothing else coordinates
the replicas: no scheduler of our own, no replica list, no heartbeat table.

- PostgreSQL: a session-level advisory lock per tenant (`pg_try_advisory_lock`),
  all of a replica's held on one dedicated connection. The server releases them
  when that connection ends: at once when the replica's process dies (the kernel
  closes its socket), and after the TCP keepalive (about 30 s, set below) when
  its host or network is gone. The key hashes the database, the schema and the
  tenant, so two deployments sharing a server never block each other.
- SQLite (one host): an exclusive `flock` on `leases/<tenant>.lock` beside the
  database file, released by the kernel when the process dies. Two daemons
  started by mistake on one SQLite store therefore never sync a tenant twice.

Held leases are re-checked (the lease connection is still alive) before each job
and every few seconds by the daemon; a replica that finds its connection gone
counts its leases as lost, stops its running passes between pages, and competes
again like any other replica.
"""

from __future__ import annotations

import enum
import fcntl
import hashlib
import logging
import os
import threading
from pathlib import Path
from typing import Protocol

from sqlalchemy import Connection, Engine, text
from sqlalchemy.engine import make_url

log = logging.getLogger(__name__)

#: Server-side TCP keepalive of the lease connection: a replica whose host
#: vanished loses its leases after about idle + interval * count seconds.
_KEEPALIVE = {"tcp_keepalives_idle": 10, "tcp_keepalives_interval": 5, "tcp_keepalives_count": 3}


class Grant(enum.Enum):
    """The answer to "may I run this tenant's job?"."""

    HELD = "held"  #: yes, and this replica already held the lease
    GAINED = "gained"  #: yes, the lease was just taken (unfinished work may be waiting)
    BUSY = "busy"  #: no, another replica holds it

    @property
    def granted(self) -> bool:
        return self is not Grant.BUSY


class Leases(Protocol):
    """A replica's leases, one per name (a tenant); thread-safe."""

    def acquire(self, name: str) -> Grant: ...

    def holds(self, name: str) -> bool: ...

    def check(self) -> None: ...

    def release_all(self) -> None: ...

    def describe(self) -> str: ...


def lease_key(namespace: str, name: str) -> int:
    """A signed 64-bit advisory-lock key for `name` within `namespace`."""
    digest = hashlib.blake2b(f"syncd-lease\0{namespace}\0{name}".encode(), digest_size=8)
    return int.from_bytes(digest.digest(), "big", signed=True)


class AdvisoryLeases:
    """PostgreSQL advisory locks on one dedicated connection."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self._lock = threading.RLock()
        self._connection: Connection | None = None
        self._namespace = ""
        self._held: set[str] = set()

    def describe(self) -> str:
        return "PostgreSQL advisory locks"

    def _connect(self) -> Connection:
        if self._connection is None:
            connection = self.engine.connect().execution_options(isolation_level="AUTOCOMMIT")
            # Never handed back to the pool: closing it must end the session (and the locks).
            connection.detach()
            for setting, value in _KEEPALIVE.items():
                connection.execute(text(f"SET {setting} = {int(value)}"))
            self._namespace = connection.execute(
                text("SELECT current_database() || '.' || coalesce(current_schema(), '')")
            ).scalar_one()
            self._connection = connection
        return self._connection

    def _lost(self, why: str) -> None:
        if self._held:
            log.warning("lost the leases of %s: %s", ", ".join(sorted(self._held)), why)
        self._held.clear()
        if self._connection is not None:
            try:
                self._connection.invalidate()
                self._connection.close()
            except Exception:  # noqa: S110 - the connection is broken already
                pass
        self._connection = None

    def _alive(self) -> bool:
        if self._connection is None:
            return False
        try:
            self._connection.execute(text("SELECT 1"))
        except Exception as exc:
            self._lost(f"the lease connection failed ({type(exc).__name__})")
            return False
        return True

    def check(self) -> None:
        with self._lock:
            if self._held:
                self._alive()

    def holds(self, name: str) -> bool:
        with self._lock:
            return name in self._held

    def acquire(self, name: str) -> Grant:
        with self._lock:
            if name in self._held and self._alive():
                return Grant.HELD
            try:
                connection = self._connect()
                taken = connection.execute(
                    text("SELECT pg_try_advisory_lock(:key)"),
                    {"key": lease_key(self._namespace, name)},
                ).scalar_one()
            except Exception as exc:
                self._lost(f"cannot reach the store ({type(exc).__name__}: {exc})")
                return Grant.BUSY
            if not taken:
                return Grant.BUSY
            self._held.add(name)
            log.info("took the lease of %s", name)
            return Grant.GAINED

    def release_all(self) -> None:
        with self._lock:
            if self._connection is not None:
                try:
                    self._connection.execute(text("SELECT pg_advisory_unlock_all()"))
                    self._connection.close()
                except Exception:  # noqa: S110 - closing ends the session: the locks go too
                    pass
            self._connection = None
            self._held.clear()


class FileLeases:
    """flock()ed files in one directory (one host)."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self._lock = threading.Lock()
        self._files: dict[str, int] = {}

    def describe(self) -> str:
        return f"file locks in {self.directory}"

    def acquire(self, name: str) -> Grant:
        with self._lock:
            if name in self._files:
                return Grant.HELD
            self.directory.mkdir(parents=True, exist_ok=True)
            fd = os.open(self.directory / f"{name}.lock", os.O_RDWR | os.O_CREAT, 0o600)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                os.close(fd)
                return Grant.BUSY
            self._files[name] = fd
            log.info("took the lease of %s", name)
            return Grant.GAINED

    def holds(self, name: str) -> bool:
        with self._lock:
            return name in self._files

    def check(self) -> None:
        """A flock lasts as long as the process: nothing to check."""

    def release_all(self) -> None:
        with self._lock:
            for fd in self._files.values():
                os.close(fd)
            self._files.clear()


class LocalLeases:
    """Always granted (an in-memory store is private to its process)."""

    def __init__(self) -> None:
        self._held: set[str] = set()
        self._lock = threading.Lock()

    def describe(self) -> str:
        return "this process only"

    def acquire(self, name: str) -> Grant:
        with self._lock:
            if name in self._held:
                return Grant.HELD
            self._held.add(name)
            return Grant.GAINED

    def holds(self, name: str) -> bool:
        with self._lock:
            return name in self._held

    def check(self) -> None:
        pass

    def release_all(self) -> None:
        with self._lock:
            self._held.clear()


def leases_for(engine: Engine) -> Leases:
    """The lease kind that fits the store behind `engine`."""
    if engine.dialect.name == "postgresql":
        return AdvisoryLeases(engine)
    if engine.dialect.name == "sqlite":
        database = make_url(engine.url).database
        if database and database != ":memory:":
            return FileLeases(Path(database).resolve().parent / "leases")
    return LocalLeases()
