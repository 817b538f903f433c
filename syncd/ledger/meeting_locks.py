"""Per-meeting locks: one operation on a meeting at a time, across threads and processes.

Every scheduler operation on a meeting (create, update, cancel, the read of GET and its
write-back, resume) runs holding that meeting's lock, from its first ledger read to its
last ledger write. So no operation acts on a view of the ledger that another one made
stale meanwhile, e.g. a read finishing a create that a DELETE has since cancelled.

- In one process: a `threading.Lock` per meeting, kept only while someone holds or
  waits for it.
- PostgreSQL (several API processes and daemon replicas share the store): also a
  session-level advisory lock per meeting, taken with `pg_try_advisory_lock` on one
  dedicated connection per process (a waiter polls; it never holds a pooled connection
  while it waits). The server releases the locks of a process whose connection ends.
  https://www.postgresql.org/docs/current/explicit-locking.html#ADVISORY-LOCKS
- SQLite file (`syncd serve` and `syncd run` on one host): also an exclusive `flock`
  on a lock file per meeting under `leases/meetings/` beside the database, removed by
  its holder on release (a waiter that then finds the file gone or replaced retries).
  The kernel releases the lock of a process that dies.
- In-memory SQLite: the store is private to the process: the thread lock is enough.
"""

from __future__ import annotations

import fcntl
import hashlib
import logging
import os
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager, suppress
from pathlib import Path
from typing import Protocol

from sqlalchemy import Connection, Engine, text
from sqlalchemy.engine import make_url

from syncd.domain import ErrorCode
from syncd.ledger.errors import LedgerError
from syncd.ledger.lease import lease_key, namespace_of

log = logging.getLogger(__name__)

#: How long an operation waits for another one on the same meeting before it gives up.
#: Longer than any one operation may take: its Graph calls retry within 120 s.
WAIT_SECONDS = 300.0
#: Polling of a lock held by another process: first pause, doubling up to the last.
_POLL_FIRST, _POLL_MAX = 0.005, 0.1

Key = tuple[str, str, str]  # tenant, source, external id


class MeetingLocks(Protocol):
    """Hold a meeting's lock for the duration of a `with` block."""

    def hold(self, tenant: str, source: str, external_id: str) -> AbstractContextManager[None]: ...

    def close(self) -> None: ...


def busy(key: Key, waited: float) -> LedgerError:
    return LedgerError(
        ErrorCode.UPSTREAM_UNAVAILABLE,
        f"meeting '{key[2]}' is still being changed by another request after {waited:.0f} s; "
        "send this request again later",
        retry_after=30,
    )


class _ThreadLocks:
    """A lock per key within this process, dropped when nobody holds or wants it."""

    def __init__(self) -> None:
        self._locks: dict[Key, tuple[threading.Lock, int]] = {}
        self._guard = threading.Lock()

    @contextmanager
    def hold(self, key: Key, deadline: float) -> Iterator[None]:
        with self._guard:
            lock, users = self._locks.get(key) or (threading.Lock(), 0)
            self._locks[key] = (lock, users + 1)
        try:
            if not lock.acquire(timeout=max(0.0, deadline - time.monotonic())):
                raise busy(key, WAIT_SECONDS)
            try:
                yield
            finally:
                lock.release()
        finally:
            with self._guard:
                lock, users = self._locks[key]
                if users > 1:
                    self._locks[key] = (lock, users - 1)
                else:
                    del self._locks[key]


def _poll(key: Key, deadline: float, attempt: Callable[[], bool]) -> None:
    """Call `attempt()` until it returns True, pausing longer each time; `busy` at the deadline."""
    pause = _POLL_FIRST
    started = time.monotonic()
    while not attempt():
        if time.monotonic() + pause > deadline:
            raise busy(key, time.monotonic() - started)
        time.sleep(pause)
        pause = min(pause * 2, _POLL_MAX)


class LocalMeetingLocks:
    """Threads of this process only (an in-memory store)."""

    def __init__(self, *, wait_seconds: float = WAIT_SECONDS) -> None:
        self._threads = _ThreadLocks()
        self.wait_seconds = wait_seconds

    @contextmanager
    def hold(self, tenant: str, source: str, external_id: str) -> Iterator[None]:
        deadline = time.monotonic() + self.wait_seconds
        with self._threads.hold((tenant, source, external_id), deadline):
            yield

    def close(self) -> None:
        pass


class FileMeetingLocks:
    """Thread locks plus an flock()ed file per meeting (processes on one host)."""

    def __init__(self, directory: Path, *, wait_seconds: float = WAIT_SECONDS) -> None:
        self.directory = directory
        self.wait_seconds = wait_seconds
        self._threads = _ThreadLocks()

    def path_of(self, key: Key) -> Path:
        digest = hashlib.blake2b("\0".join(key).encode(), digest_size=16).hexdigest()
        return self.directory / f"{digest}.lock"

    @contextmanager
    def hold(self, tenant: str, source: str, external_id: str) -> Iterator[None]:
        key = (tenant, source, external_id)
        deadline = time.monotonic() + self.wait_seconds
        with self._threads.hold(key, deadline):
            path = self.path_of(key)
            held: list[int] = []
            _poll(key, deadline, lambda: self._try(path, held))
            try:
                yield
            finally:
                # Removed while still locked: a waiter holding the old file finds it
                # gone and starts over, so only one process ever owns the current file.
                with suppress(FileNotFoundError):
                    path.unlink()
                os.close(held[0])

    def _try(self, path: Path, held: list[int]) -> bool:
        if not self.directory.is_dir():
            # Private like the state directory: the names hash meeting ids.
            for directory in (self.directory.parent, self.directory):
                directory.mkdir(mode=0o700, exist_ok=True)
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            current = os.stat(path)
        except (BlockingIOError, FileNotFoundError):
            os.close(fd)
            return False
        mine = os.fstat(fd)
        if (current.st_dev, current.st_ino) != (mine.st_dev, mine.st_ino):
            os.close(fd)  # its holder removed it after we opened it: take the new one
            return False
        held.append(fd)
        return True

    def close(self) -> None:
        pass


class AdvisoryMeetingLocks:
    """Thread locks plus a PostgreSQL advisory lock per meeting, on one connection."""

    def __init__(self, engine: Engine, *, wait_seconds: float = WAIT_SECONDS) -> None:
        self.engine = engine
        self.wait_seconds = wait_seconds
        self._threads = _ThreadLocks()
        self._guard = threading.Lock()
        self._connection: Connection | None = None
        self._namespace = ""
        #: bumped whenever the lock connection is replaced (its locks are gone with it)
        self._epoch = 0

    def _connect(self) -> Connection:
        if self._connection is None:
            connection = self.engine.connect().execution_options(isolation_level="AUTOCOMMIT")
            # Never handed back to the pool: closing it must end the session and its locks.
            connection.detach()
            connection.execute(
                text("SELECT set_config('application_name', :name, false)"),
                {"name": f"syncd-meeting-locks {os.getpid()}"},
            )
            self._namespace = namespace_of(connection)
            self._connection = connection
            self._epoch += 1
        return self._connection

    def _drop(self) -> None:
        if self._connection is not None:
            try:
                self._connection.invalidate()
                self._connection.close()
            except Exception:  # noqa: S110 - the connection is broken already
                pass
        self._connection = None

    def _call(self, function: str, key: Key) -> tuple[bool, int]:
        """Run `function(key)` on the lock connection; (its answer, the connection's epoch).

        A connection found broken is replaced once: the locks it held are gone with it
        anyway (their holders learn it when they release them)."""
        name = "meeting\0" + "\0".join(key)
        with self._guard:
            for attempt in (1, 2):
                try:
                    connection = self._connect()
                    done = connection.execute(
                        text(f"SELECT {function}(:key)"),
                        {"key": lease_key(self._namespace, name)},
                    ).scalar_one()
                except Exception:
                    self._drop()
                    if attempt == 2:
                        raise
                    continue
                return bool(done), self._epoch
        raise AssertionError("unreachable")

    @contextmanager
    def hold(self, tenant: str, source: str, external_id: str) -> Iterator[None]:
        key = (tenant, source, external_id)
        deadline = time.monotonic() + self.wait_seconds
        with self._threads.hold(key, deadline):
            taken: list[int] = []

            def attempt() -> bool:
                done, epoch = self._call("pg_try_advisory_lock", key)
                if done:
                    taken.append(epoch)
                return done

            _poll(key, deadline, attempt)
            try:
                yield
            finally:
                self._release(key, taken[0])

    def _release(self, key: Key, epoch: int) -> None:
        try:
            released, now = self._call("pg_advisory_unlock", key)
        except Exception as exc:
            log.warning("could not release the lock of meeting %s: %s", key[2], exc)
            return
        if not released or now != epoch:
            log.warning(
                "the lock of meeting %s was lost while held (its connection to the store "
                "ended); another process may have acted on the meeting meanwhile",
                key[2],
            )

    def close(self) -> None:
        with self._guard:
            if self._connection is not None:
                # Closing ends the session, and its locks with it (even if it fails).
                with suppress(Exception):
                    self._connection.close()
            self._connection = None


def meeting_locks_for(engine: Engine, *, wait_seconds: float = WAIT_SECONDS) -> MeetingLocks:
    """The kind of meeting lock that fits the store behind `engine`."""
    if engine.dialect.name == "postgresql":
        return AdvisoryMeetingLocks(engine, wait_seconds=wait_seconds)
    if engine.dialect.name == "sqlite":
        database = make_url(engine.url).database
        if database and database != ":memory:":
            directory = Path(database).resolve().parent / "leases" / "meetings"
            return FileMeetingLocks(directory, wait_seconds=wait_seconds)
    return LocalMeetingLocks(wait_seconds=wait_seconds)
