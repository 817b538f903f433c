"""State-store checks (schema at head, who holds the tenant's lease) and the clock check.

Clock: the Date header of a Graph and a Salesforce answer against the local clock
(RFC 9110 §6.6.1). More than a minute apart is a failure: token lifetimes
(nbf/exp) and the SystemModstamp watermarks syncd polls from both assume one time.
"""

from __future__ import annotations

import fcntl
import os
from collections.abc import Callable
from datetime import datetime
from email.utils import parsedate_to_datetime
from pathlib import Path

from sqlalchemy import Engine
from sqlalchemy.engine import make_url
from sqlalchemy.exc import SQLAlchemyError

from syncd.doctor.report import STATE_STORE, Check, failed, passed
from syncd.ledger.db import current_revision, head_revision, is_postgres
from syncd.ledger.lease import holders

MAX_SKEW_SECONDS = 60.0


def migration_check(engine: Engine) -> Check:
    url = engine.url.render_as_string(hide_password=True)
    try:
        current = current_revision(engine)
        head = head_revision(engine.url.render_as_string(hide_password=False))
    except SQLAlchemyError as exc:
        return failed(
            STATE_STORE,
            "migrated",
            f"{url} cannot be read: {type(exc).__name__}",
            "check database_url and that the database is up",
        )
    if current != head:
        return failed(
            STATE_STORE,
            "migrated",
            f"{url} is at revision {current or 'none'}, the code needs {head}",
            "run `syncd db upgrade`",
        )
    return passed(STATE_STORE, "migrated", f"at head ({head})")


def lease_check(engine: Engine, tenant: str) -> Check:
    """Who runs the tenant's jobs now; informational (a stopped daemon is not a fault)."""
    try:
        if is_postgres(engine):
            holder = holders(engine, [tenant], with_address=True).get(tenant)
            return passed(
                STATE_STORE, "lease", f"held by {holder}" if holder else "free: no daemon runs it"
            )
    except SQLAlchemyError as exc:
        return failed(STATE_STORE, "lease", f"cannot be read: {type(exc).__name__}", "")
    database = make_url(engine.url).database
    if not database or database == ":memory:":
        return passed(STATE_STORE, "lease", "in-process store: no lease")
    path = Path(database).resolve().parent / "leases" / f"{tenant}.lock"
    return passed(STATE_STORE, "lease", _file_lease(path))


def _file_lease(path: Path) -> str:
    if not path.exists():
        return "free: no daemon has run it on this host"
    fd = os.open(path, os.O_RDONLY)
    try:
        # A shared, non-blocking probe: it fails only while a daemon holds the lease.
        fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
    except BlockingIOError:
        return f"held by a running daemon ({path})"
    finally:
        os.close(fd)  # closing releases the probe's lock
    return "free: no daemon runs it now"


def skew_check(service: str, date_header: str | None, clock: Callable[[], datetime]) -> Check:
    name = f"clock vs {service}"
    if not date_header:
        return passed(STATE_STORE, name, f"no Date header from {service} to compare")
    try:
        theirs = parsedate_to_datetime(date_header)
    except (TypeError, ValueError):
        return passed(STATE_STORE, name, f"{service}'s Date header {date_header!r} is unreadable")
    skew = (theirs - clock()).total_seconds()
    if abs(skew) > MAX_SKEW_SECONDS:
        return failed(
            STATE_STORE,
            name,
            f"this host's clock is {abs(skew):.0f} s {'behind' if skew > 0 else 'ahead of'} "
            f"{service}",
            "synchronise the clock with NTP (e.g. `timedatectl set-ntp true`, chrony): tokens "
            "and the SystemModstamp watermarks need it within a minute",
        )
    return passed(STATE_STORE, name, f"within {MAX_SKEW_SECONDS:.0f} s ({skew:+.0f} s)")
