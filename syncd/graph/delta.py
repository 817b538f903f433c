"""The types of a calendarView delta round: what syncd asks per mailbox, what it gets back.

A round reads the changes of one mailbox's calendarView since the round's delta link
(or the whole window when there is none), following `@odata.nextLink` pages until
Graph hands out the next `@odata.deltaLink`.
https://learn.microsoft.com/graph/api/event-delta
https://learn.microsoft.com/graph/delta-query-events
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from syncd.domain import SyncdError


@dataclass(frozen=True)
class DeltaRequest:
    """One mailbox's round: its window, and the link the last round ended with (None:
    start afresh, which reads every event of the window)."""

    mailbox: str
    start: datetime
    end: datetime
    delta_link: str | None = None


@dataclass
class DeltaResult:
    """One mailbox's changes since its last round.

    `changed`: events (single instances, occurrences, exceptions), times in UTC, as the
    delta pages carry them; `removed`: ids reported with `@removed`; `delta_link`: where
    the next round starts (None when the round failed: keep the old link); `full_read`:
    True when this round read the whole window (no link was given, or Graph refused the
    stored one as expired, `expired` True), so an event of the ledger that is absent from
    `changed` is gone from the window.
    """

    mailbox: str
    changed: list[dict[str, Any]] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    delta_link: str | None = None
    full_read: bool = False
    expired: bool = False
    error: SyncdError | None = None
    #: Graph requests this round cost (pages), for the sweep's report and metrics
    requests: int = 0
