"""The state tokens of calendarView delta: what each stands for, and when they expire.

Tokens are opaque to clients (https://learn.microsoft.com/en-us/graph/delta-query-events);
here each names state kept on the server. Outlook keeps them in a cache of undocumented
size ("the upper limit is not fixed; it's dependent on the size of the internal delta
token cache", https://learn.microsoft.com/en-us/graph/delta-query-overview, "Token
duration"): these live until the admin API expires them, one mailbox's or all, or by age
on the sandbox clock.
"""

from __future__ import annotations

import random
import threading
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any


@dataclass
class DeltaState:
    """What one state token stands for."""

    owner_id: str
    start: datetime
    end: datetime
    issued: datetime
    #: id -> changeKey of every event of the window when the round's changes were read
    seen: dict[str, str]
    #: id -> changeKey of every single event of the mailbox outside the window then
    outside: dict[str, str]
    #: a $skiptoken's rest of the round (rendered entries still to be paged out)
    pending: list[dict[str, Any]] = field(default_factory=list)


class DeltaTokens:
    """The state tokens handed out, and the knobs that expire them."""

    def __init__(self, seed: int = 42) -> None:
        self._lock = threading.Lock()
        self._rng = random.Random(f"delta|{seed}")
        self._states: dict[str, DeltaState] = {}
        self._expired: set[str] = set()
        self.max_age_seconds: float | None = None

    def issue(self, state: DeltaState) -> str:
        with self._lock:
            token = self._rng.randbytes(24).hex()
            self._states[token] = state
            return token

    def take(self, token: str, owner_id: str, now: datetime) -> DeltaState | None:
        """The state of a token this mailbox may use; None when it is gone or expired."""
        with self._lock:
            state = self._states.get(token)
            if state is None or token in self._expired or state.owner_id != owner_id:
                return None
            too_old = self.max_age_seconds is not None and (
                (now - state.issued).total_seconds() > self.max_age_seconds
            )
            return None if too_old else state

    def window_of(self, token: str) -> tuple[datetime, datetime] | None:
        """The window a token was handed out for, expired or not (for the Location header)."""
        with self._lock:
            state = self._states.get(token)
            return None if state is None else (state.start, state.end)

    def expire(self, owner_id: str | None = None) -> int:
        """Expire every token handed out so far (of one mailbox, or all); how many."""
        with self._lock:
            hit = {t for t, s in self._states.items() if owner_id in (None, s.owner_id)}
            fresh = hit - self._expired
            self._expired |= hit
            return len(fresh)

    def configure(self, *, max_age_seconds: float | None) -> None:
        """Tokens older than this many seconds of the sandbox clock expire (None: never)."""
        if max_age_seconds is not None and float(max_age_seconds) < 0:
            raise ValueError("max_age_seconds must be >= 0")
        with self._lock:
            self.max_age_seconds = None if max_age_seconds is None else float(max_age_seconds)

    def snapshot(self) -> dict[str, Any]:
        with self._lock:
            return {
                "tokens": len(self._states),
                "expired": len(self._expired),
                "max_age_seconds": self.max_age_seconds,
            }

    def reset(self) -> None:
        with self._lock:
            self._states.clear()
            self._expired.clear()
            self.max_age_seconds = None
