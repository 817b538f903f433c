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

Shards: a tenant whose mailboxes are split into shards (syncd.ledger.shards) has
one more lease per shard; the tenant's lease covers its tenant-wide work (the
poll), each shard's lease the writes to that shard's mailboxes.

Spreading: each replica takes at most its share of the tenants, ceil(tenants /
live replicas), and of the shards, ceil(shards / live replicas) (two pools, so
that four replicas share one tenant's eight shards two each rather than the
first three taking three names each), and hands a lease over (releases it
between two jobs) when it holds more than that, e.g. after other replicas
started. On PostgreSQL the live replicas are counted from the server's own lock
table: each replica holds one shared advisory lock, "present", on its lease
connection. On SQLite there is no spreading (one host, one replica: it holds
every lease, a flock per tenant and per shard, which keep a second daemon or a
`syncd reconcile` away).

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
import math
import os
import threading
from pathlib import Path
from typing import Protocol

from sqlalchemy import Connection, Engine, text
from sqlalchemy.engine import make_url

from syncd.ledger.shards import is_shard_lease

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

    def acquire(self, name: str) -> Grant:
        """Take (or confirm) the lease; BUSY when another replica holds it or this one
        holds its share already."""
        ...

    def holds(self, name: str) -> bool: ...

    def over_share(self, name: str = "") -> bool:
        """Whether this replica holds more leases than its share in `name`'s pool (tenants
        or shards): it should hand `name` over."""
        ...

    def release(self, name: str) -> None: ...

    def check(self) -> None: ...

    def release_all(self) -> None: ...

    def describe(self) -> str: ...

    def join(self) -> float:
        """Announce this replica before taking any lease; returns the seconds to wait
        so that replicas started together all count each other before sharing."""
        ...


def lease_key(namespace: str, name: str) -> int:
    """A signed 64-bit advisory-lock key for `name` within `namespace`."""
    digest = hashlib.blake2b(f"syncd-lease\0{namespace}\0{name}".encode(), digest_size=8)
    return int.from_bytes(digest.digest(), "big", signed=True)


#: Held shared by every live replica (see the module doc): the replica count.
PRESENCE = "\0present"
#: Names the lease connection in pg_stat_activity (with the process id).
APPLICATION_NAME = "syncd-replica"
#: The lease connection of `syncd reconcile` (which takes leases but is no replica).
RECONCILE_NAME = "syncd-reconcile"
#: How long a starting replica waits, present, before it takes leases: replicas
#: started together (a deploy, a reboot) then share the tenants from the start
#: instead of the first one taking all of them for its first pass.
JOIN_SECONDS = 2.0


def _key_parts(key: int) -> tuple[int, int]:
    """pg_locks shows a bigint advisory key as classid (high half), objid (low half)."""
    unsigned = key & 0xFFFF_FFFF_FFFF_FFFF
    return unsigned >> 32, unsigned & 0xFFFF_FFFF


_HOLDERS = text(
    """
    SELECT l.classid::bigint, l.objid::bigint, l.mode, a.application_name,
           host(a.client_addr)
    FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid
    WHERE l.locktype = 'advisory' AND l.granted AND l.objsubid = 1
      AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database())
    """
)


class AdvisoryLeases:
    """PostgreSQL advisory locks on one dedicated connection.

    `fair=False` (`syncd reconcile`): not counted as a replica and no share: it takes
    every lease it asks for that nobody holds.
    """

    def __init__(
        self, engine: Engine, *, total: int = 1, shards: int = 0, fair: bool = True
    ) -> None:
        self.engine = engine
        #: how many names (tenants) the replicas share between them
        self.total = max(1, total)
        #: how many shard names (of every tenant) they share
        self.shards = max(1, shards)
        self.fair = fair
        self._lock = threading.RLock()
        self._connection: Connection | None = None
        self._namespace = ""
        self._held: set[str] = set()

    def describe(self) -> str:
        return "PostgreSQL advisory locks"

    def join(self) -> float:
        with self._lock:
            try:
                self._connect()
            except Exception as exc:
                self._lost(f"cannot reach the store ({type(exc).__name__}: {exc})")
        return JOIN_SECONDS

    def _connect(self) -> Connection:
        if self._connection is None:
            connection = self.engine.connect().execution_options(isolation_level="AUTOCOMMIT")
            # Never handed back to the pool: closing it must end the session (and the locks).
            connection.detach()
            for setting, value in _KEEPALIVE.items():
                connection.execute(text(f"SET {setting} = {int(value)}"))
            who = APPLICATION_NAME if self.fair else RECONCILE_NAME
            connection.execute(
                text("SELECT set_config('application_name', :name, false)"),
                {"name": f"{who} {os.getpid()}"},
            )
            self._namespace = namespace_of(connection)
            if self.fair:
                connection.execute(
                    text("SELECT pg_advisory_lock_shared(:key)"),
                    {"key": lease_key(self._namespace, PRESENCE)},
                )
            self._connection = connection
        return self._connection

    def _replicas(self, connection: Connection) -> int:
        """Live replicas of this store: the holders of the shared "present" lock."""
        high, low = _key_parts(lease_key(self._namespace, PRESENCE))
        count = sum(
            1
            for classid, objid, mode, _name, _address in connection.execute(_HOLDERS)
            if (classid, objid, mode) == (high, low, "ShareLock")
        )
        return max(1, count)

    def _share(self, connection: Connection, name: str) -> int:
        total = self.shards if is_shard_lease(name) else self.total
        return math.ceil(total / self._replicas(connection))

    def _held_in_pool(self, name: str) -> int:
        return sum(1 for held in self._held if is_shard_lease(held) == is_shard_lease(name))

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
                if self.fair and self._held_in_pool(name) >= self._share(connection, name):
                    return Grant.BUSY
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

    def over_share(self, name: str = "") -> bool:
        with self._lock:
            held = self._held_in_pool(name)
            if not self.fair or held <= 1 or self._connection is None:
                return False
            try:
                return held > self._share(self._connection, name)
            except Exception as exc:
                self._lost(f"the lease connection failed ({type(exc).__name__})")
                return False

    def release(self, name: str) -> None:
        with self._lock:
            if name not in self._held or self._connection is None:
                return
            self._held.discard(name)
            try:
                self._connection.execute(
                    text("SELECT pg_advisory_unlock(:key)"),
                    {"key": lease_key(self._namespace, name)},
                )
            except Exception as exc:
                self._lost(f"the lease connection failed ({type(exc).__name__})")

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

    def join(self) -> float:
        return 0.0

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

    def over_share(self, name: str = "") -> bool:
        return False  # one host: no other replica to hand over to

    def release(self, name: str) -> None:
        with self._lock:
            fd = self._files.pop(name, None)
            if fd is not None:
                os.close(fd)

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

    def join(self) -> float:
        return 0.0

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

    def over_share(self, name: str = "") -> bool:
        return False

    def release(self, name: str) -> None:
        with self._lock:
            self._held.discard(name)

    def release_all(self) -> None:
        with self._lock:
            self._held.clear()


def namespace_of(connection: Connection) -> str:
    """What keeps two deployments on one server apart: the database and the schema."""
    return str(
        connection.execute(
            text("SELECT current_database() || '.' || coalesce(current_schema(), '')")
        ).scalar_one()
    )


def holders(engine: Engine, names: list[str], *, with_address: bool = False) -> dict[str, str]:
    """Name -> application_name ("syncd-replica <pid>") of the replica holding its lease
    (PostgreSQL; names nobody holds are absent). For operators and tests.

    `with_address` adds where the replica connects from ("syncd-replica 812 from
    10.0.0.7"): pids alone do not tell replicas on different hosts apart.
    """
    with engine.connect() as connection:
        namespace = namespace_of(connection)
        by_parts = {_key_parts(lease_key(namespace, name)): name for name in names}
        found = {}
        for classid, objid, mode, application, address in connection.execute(_HOLDERS):
            name = by_parts.get((classid, objid))
            if name is not None and mode == "ExclusiveLock":
                where = address or "a local socket"
                found[name] = f"{application} from {where}" if with_address else application
        return found


def leases_for(engine: Engine, *, total: int = 1, shards: int = 0, fair: bool = True) -> Leases:
    """The lease kind that fits the store behind `engine`; `total` tenant names and
    `shards` shard names are shared (`fair=False`: see AdvisoryLeases)."""
    if engine.dialect.name == "postgresql":
        return AdvisoryLeases(engine, total=total, shards=shards, fair=fair)
    if engine.dialect.name == "sqlite":
        database = make_url(engine.url).database
        if database and database != ":memory:":
            return FileLeases(Path(database).resolve().parent / "leases")
    return LocalLeases()
