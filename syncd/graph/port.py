"""What syncd needs from Microsoft Graph: the one port the core and the sync talk to.

syncd.graph.client.GraphClient is the implementation (over HTTPS, against Microsoft 365
or the sandbox); tests may put a spy or a fake in its place. The signatures are the
client's own, so a fake that satisfies this Protocol is a drop-in.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any, Protocol

from syncd.domain import SyncdError
from syncd.graph.batch import NewEvent
from syncd.graph.delta import DeltaRequest, DeltaResult


class SchedulePort(Protocol):
    """The free/busy read availability needs (getSchedule)."""

    def get_schedule(
        self,
        mailbox: str,
        schedules: Sequence[str],
        start: datetime,
        end: datetime,
        *,
        interval_minutes: int = 30,
        correlation_id: str | None = None,
    ) -> list[dict[str, Any]]: ...


class GraphReader(Protocol):
    """The reads of the sync: calendars, single events in $batch, series, mailbox zones."""

    def calendar_view(
        self,
        mailbox: str,
        start: datetime,
        end: datetime,
        *,
        select: Sequence[str] | None = None,
        correlation_id: str | None = None,
    ) -> list[dict[str, Any]]: ...

    def get_events_batch(
        self,
        items: Sequence[tuple[str, str]],
        *,
        select: Sequence[str] | None = None,
        correlation_id: str | None = None,
    ) -> list[Any]: ...

    def list_instances(
        self,
        mailbox: str,
        graph_event_id: str,
        start: datetime,
        end: datetime,
        *,
        select: Sequence[str] | None = None,
        correlation_id: str | None = None,
    ) -> list[dict[str, Any]]: ...

    def mailbox_time_zone(self, mailbox: str, *, correlation_id: str | None = None) -> str: ...

    def calendar_view_delta(
        self, rounds: Sequence[DeltaRequest], *, correlation_id: str | None = None
    ) -> list[DeltaResult]:
        """One delta round per mailbox, in order: first pages sent 20 to a $batch, then
        the next pages of every mailbox still paging, batched again; an expired link is
        answered by a fresh round of the window (`full_read`, `expired`)."""
        ...


class GraphPort(SchedulePort, GraphReader, Protocol):
    """Everything syncd asks of Graph. Only the scheduler core calls the writes
    (create, update, cancel, delete): it records each one in the ledger and history."""

    def in_flight_per_mailbox(self) -> int:
        """This process's share of each mailbox's 4 concurrent requests."""
        ...

    def create_event(
        self, mailbox: str, payload: dict[str, Any], *, correlation_id: str | None = None
    ) -> dict[str, Any]: ...

    def create_events(
        self, creates: Sequence[NewEvent], *, correlation_id: str | None = None
    ) -> list[dict[str, Any] | SyncdError]:
        """Each event created (several through $batch), or the error of its create."""
        ...

    def find_event_by_property(
        self, mailbox: str, property_id: str, value: str, *, correlation_id: str | None = None
    ) -> dict[str, Any] | None: ...

    def get_event(
        self,
        mailbox: str,
        graph_event_id: str,
        *,
        select: Sequence[str] | None = None,
        correlation_id: str | None = None,
    ) -> dict[str, Any]: ...

    def update_event(
        self,
        mailbox: str,
        graph_event_id: str,
        changes: dict[str, Any],
        *,
        correlation_id: str | None = None,
    ) -> dict[str, Any]: ...

    def cancel_event(
        self, mailbox: str, graph_event_id: str, comment: str, *, correlation_id: str | None = None
    ) -> None: ...

    def delete_event(
        self, mailbox: str, graph_event_id: str, *, correlation_id: str | None = None
    ) -> None: ...


#: The Graph methods that change Outlook; only syncd.core may call them.
WRITE_METHODS = frozenset(
    {"create_event", "create_events", "update_event", "cancel_event", "delete_event"}
)
