"""Brute-force slow-down: failed credential attempts are counted in the ledger.

Counting in the database (not in memory) makes the limit hold across API
processes and replicas. A failure is charged to the pair (source, client id) or
(source, username), see `caller_key`, or to an unknown bearer token itself, see
`token_key`: never to a client id or an address alone, so nobody can lock a
client out by failing in its name from elsewhere, and one bad caller behind a
shared proxy address does not block the callers beside it.
Once a key has `max_failures` failures inside `window_seconds`, further
attempts are refused until `delay` seconds after the latest failure, where
delay doubles with every further failure, from `base_delay_seconds` up to
`max_delay_seconds`. Refused attempts are not checked and not counted.
"""

from __future__ import annotations

import hashlib
import ipaddress
import math
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import Engine, delete, func
from sqlmodel import col, select

from syncd.domain import utc
from syncd.ledger.db import session_scope
from syncd.ledger.models import AuthFailure

_PURGE_EVERY = timedelta(minutes=1)


@dataclass(frozen=True)
class BruteForcePolicy:
    max_failures: int = 5
    window_seconds: int = 300
    base_delay_seconds: int = 5
    max_delay_seconds: int = 300


def source_of(remote_addr: str) -> str:
    """The source a failure is charged to: the IPv4 address, or the IPv6 /64.

    One IPv6 host usually holds a whole /64, so counting single IPv6 addresses
    would let it try again from a fresh address each time. Anything that is
    not an IP address (a Unix socket peer) is kept as a short hash.
    """
    try:
        address = ipaddress.ip_address(remote_addr)
    except ValueError:
        return f"peer#{_digest(remote_addr)[:16]}"
    if isinstance(address, ipaddress.IPv6Address):
        if address.ipv4_mapped is not None:
            return str(address.ipv4_mapped)
        return str(ipaddress.ip_network(f"{address}/64", strict=False))
    return str(address)


def caller_key(kind: str, remote_addr: str, principal: str) -> str:
    """The key of one principal (client id, username) tried from one source.

    The principal is hashed: a confused caller may send a secret where its id belongs.
    """
    return f"{kind}:{source_of(remote_addr)}|{_digest(principal)[:32]}"


def token_key(token: str) -> str:
    """The key of a bearer token nobody issued: its fingerprint, never the token."""
    return f"token#sha256:{_digest(token)}"


def _digest(value: str) -> str:
    return hashlib.sha256(value.encode("utf-8", "surrogatepass")).hexdigest()


class BruteForceGuard:
    """Answers "must this caller wait?" and records failures, per key."""

    def __init__(
        self,
        engine: Engine,
        clock: Callable[[], datetime],
        policy: BruteForcePolicy | None = None,
    ) -> None:
        self.engine = engine
        self.clock = clock
        self.policy = policy or BruteForcePolicy()
        self._last_purge: datetime | None = None

    def delay_for(self, failures: int) -> int:
        """Seconds to wait after the latest failure, given the failures in the window."""
        policy = self.policy
        if failures < policy.max_failures:
            return 0
        steps = min(failures - policy.max_failures, 32)  # bound the exponent
        return min(policy.max_delay_seconds, policy.base_delay_seconds * 2**steps)

    def retry_after(self, keys: Iterable[str]) -> int | None:
        """Seconds the caller must still wait (the longest over `keys`), or None."""
        now = self.clock()
        since = now - timedelta(seconds=self.policy.window_seconds)
        worst = 0.0
        with session_scope(self.engine) as session:
            for key in keys:
                count, latest = session.exec(
                    select(func.count(), func.max(AuthFailure.at)).where(
                        AuthFailure.key == key, AuthFailure.at >= since
                    )
                ).one()
                delay = self.delay_for(count)
                if delay and latest is not None:
                    worst = max(worst, (_aware(latest) - now).total_seconds() + delay)
        return math.ceil(worst) if worst > 0 else None

    def record_failure(self, keys: Iterable[str]) -> None:
        now = self.clock()
        with session_scope(self.engine) as session:
            for key in keys:
                session.add(AuthFailure(key=key, at=now))
            if self._last_purge is None or now - self._last_purge > _PURGE_EVERY:
                # Older rows no longer count; delete them now and then.
                cutoff = now - timedelta(seconds=self.policy.window_seconds)
                session.exec(delete(AuthFailure).where(col(AuthFailure.at) < cutoff))
                self._last_purge = now


def _aware(value: datetime) -> datetime:
    # Some drivers hand max() back without a zone; the column always stores UTC.
    return utc(value)
