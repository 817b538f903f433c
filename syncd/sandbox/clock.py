"""A controllable clock shared by every part of the sandbox.

Token expiry, attendee answers and throttling windows all read this clock, so a
test can freeze or advance time instead of sleeping.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta


class SandboxClock:
    """Wall-clock time plus an adjustable offset; can be frozen at an instant.

    `start` makes the clock begin at that instant and run from there, so everything
    built from "now" (a demo org, a test's meetings) falls on the same dates whatever
    day the sandbox runs; `reset()` goes back to that origin.
    """

    def __init__(
        self, wall: Callable[[], float] = time.time, *, start: datetime | None = None
    ) -> None:
        if start is not None and start.tzinfo is None:
            raise ValueError("start needs an aware datetime, e.g. datetime(..., tzinfo=UTC)")
        self._wall = wall
        self._lock = threading.Lock()
        self._origin = 0.0 if start is None else start.timestamp() - wall()
        self._offset = self._origin
        self._frozen_at: float | None = None

    def time(self) -> float:
        """Seconds since the epoch, as the sandbox sees them."""
        with self._lock:
            if self._frozen_at is not None:
                return self._frozen_at
            return self._wall() + self._offset

    def now(self) -> datetime:
        """The sandbox time as an aware UTC datetime."""
        return datetime.fromtimestamp(self.time(), tz=UTC)

    def advance(self, seconds: float) -> datetime:
        """Move time forward (works frozen or running) and return the new now."""
        if seconds < 0:
            raise ValueError(f"the sandbox clock only moves forward, got {seconds} seconds")
        with self._lock:
            if self._frozen_at is not None:
                self._frozen_at += seconds
            else:
                self._offset += seconds
        return self.now()

    def freeze(self, at: datetime | None = None) -> datetime:
        """Stop the clock at `at` (aware datetime) or at the current sandbox time."""
        if at is not None and at.tzinfo is None:
            raise ValueError("freeze() needs an aware datetime, e.g. datetime(..., tzinfo=UTC)")
        instant = self.time() if at is None else at.timestamp()
        with self._lock:
            self._frozen_at = instant
        return self.now()

    def resume(self) -> datetime:
        """Let the clock run again from where it stands (no jump back to wall time)."""
        with self._lock:
            if self._frozen_at is not None:
                self._offset = self._frozen_at - self._wall()
                self._frozen_at = None
        return self.now()

    def reset(self) -> None:
        """Back to the clock's origin: wall-clock time, or the running clock it started as."""
        with self._lock:
            self._offset = self._origin
            self._frozen_at = None

    @property
    def frozen(self) -> bool:
        with self._lock:
            return self._frozen_at is not None

    def snapshot(self) -> dict[str, object]:
        """JSON-friendly state for the admin API."""
        now = self.now()
        with self._lock:
            offset = timedelta(seconds=self._offset)
        return {
            "now": now.isoformat(),
            "frozen": self.frozen,
            "offset_seconds": offset.total_seconds(),
        }
