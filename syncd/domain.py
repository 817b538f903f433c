"""Pure types of the scheduler: the vocabulary of the Scheduler API contract.

Nothing here does I/O. Times are always timezone-aware UTC datetimes.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any


class ErrorCode(StrEnum):
    """Error codes of the Scheduler API (SCHEDULER-API.md, "Error codes")."""

    NO_ERROR = "NoError"
    INVALID_REQUEST = "InvalidRequest"
    UNAUTHORIZED = "Unauthorized"
    FORBIDDEN = "Forbidden"
    MEETING_NOT_FOUND = "MeetingNotFound"
    MEETING_ALREADY_EXISTS = "MeetingAlreadyExists"
    ORGANIZER_MISMATCH = "OrganizerMismatch"
    ORGANIZER_NOT_FOUND = "OrganizerNotFound"
    EXTERNAL_USER_NOT_SUPPORTED = "ExternalUserNotSupported"
    MAILBOX_NOT_FOUND = "MailboxNotFound"
    ACCESS_DENIED = "AccessDenied"
    THROTTLED = "Throttled"
    UPSTREAM_UNAVAILABLE = "UpstreamUnavailable"
    TENANT_NOT_FOUND = "TenantNotFound"
    METHOD_NOT_ALLOWED = "MethodNotAllowed"
    ROUTE_NOT_FOUND = "RouteNotFound"
    INTERNAL_ERROR = "InternalError"


#: HTTP status that goes with each error code on the Scheduler API.
HTTP_STATUS: dict[ErrorCode, int] = {
    ErrorCode.NO_ERROR: 200,
    ErrorCode.INVALID_REQUEST: 400,
    ErrorCode.UNAUTHORIZED: 401,
    ErrorCode.FORBIDDEN: 403,
    ErrorCode.ACCESS_DENIED: 403,
    ErrorCode.MEETING_NOT_FOUND: 404,
    ErrorCode.TENANT_NOT_FOUND: 404,
    ErrorCode.MAILBOX_NOT_FOUND: 404,
    ErrorCode.ROUTE_NOT_FOUND: 404,
    ErrorCode.METHOD_NOT_ALLOWED: 405,
    ErrorCode.MEETING_ALREADY_EXISTS: 409,
    ErrorCode.ORGANIZER_MISMATCH: 409,
    ErrorCode.ORGANIZER_NOT_FOUND: 422,
    ErrorCode.EXTERNAL_USER_NOT_SUPPORTED: 422,
    ErrorCode.THROTTLED: 429,
    ErrorCode.INTERNAL_ERROR: 500,
    ErrorCode.UPSTREAM_UNAVAILABLE: 503,
}


class SyncdError(Exception):
    """An error a caller can act on; carries its contract error code.

    Every layer (Graph client, core, sync) raises this or a subclass, so the
    API maps errors to the wire in exactly one place.
    """

    #: Graph's request-id of the answer this error reports, when Graph gave one: the log
    #: line of a failure made inside a $batch carries it as one made alone does.
    graph_request_id: str | None = None

    def __init__(self, code: ErrorCode, message: str, *, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.retry_after = retry_after

    @property
    def http_status(self) -> int:
        return HTTP_STATUS.get(self.code, 500)

    @property
    def retryable(self) -> bool:
        return self.code in (ErrorCode.THROTTLED, ErrorCode.UPSTREAM_UNAVAILABLE)


class ResponseStatus(StrEnum):
    """An attendee's answer, in the contract's vocabulary."""

    NO_RESPONSE = "NoResponseReceived"
    ACCEPTED = "Accepted"
    DECLINED = "Declined"
    TENTATIVE = "Tentative"
    ORGANIZER = "Organizer"
    UNKNOWN = "Unknown"


class Source(StrEnum):
    """Where a meeting's intent came from."""

    API = "api"
    SALESFORCE = "salesforce"


class MeetingStatus(StrEnum):
    """Ledger state of a meeting."""

    PENDING = "pending"
    SYNCED = "synced"
    FAILED = "failed"
    CANCELLED = "cancelled"


class Intent(StrEnum):
    """An unfinished Graph operation a ledger row records before the call (exactly once)."""

    CREATE = "create"
    UPDATE = "update"
    CANCEL = "cancel"
    #: A create claimed for later that no Graph call has touched: whoever sends it
    #: first turns it into CREATE in the ledger before the POST, so only a CREATE may
    #: have reached Graph (and is looked up before it is sent again).
    QUEUED = "queued"


#: The intents of a meeting not yet created in Outlook.
CREATING = frozenset({Intent.CREATE, Intent.QUEUED})


class WritebackStatus(StrEnum):
    """What the write-back tells Salesforce about an Event (its Sync_Status__c)."""

    SYNCED = "Synced"
    FAILED = "Failed"
    CANCELLED = "Cancelled"


class HistorySide(StrEnum):
    """Where a change recorded in the meeting history was made."""

    OUTLOOK = "outlook"
    SALESFORCE = "salesforce"
    LEDGER = "ledger"


class HistoryAction(StrEnum):
    """What a meeting history entry records."""

    CREATED = "created"
    UPDATED = "updated"
    CANCELLED = "cancelled"
    DELETED = "deleted"
    FAILED = "failed"
    ADOPTED = "adopted"
    TRACKED = "tracked"
    CLOSED = "closed"
    #: a change seen in Outlook (not made by syncd)
    OBSERVED = "observed"
    #: Outlook put back to what Salesforce holds
    RESTORED = "restored"
    #: both sides changed since the last sync; the loser's values are in `fields`
    CONFLICT = "conflict"
    #: the Event's sync status written to say what happened in Outlook
    MARKED = "marked"


@dataclass(frozen=True)
class LedgerView:
    """What the planner needs to know of a ledger row."""

    external_id: str
    status: str
    content_hash: str
    organizer_email: str
    start: datetime | None = None
    next_attempt_at: datetime | None = None
    error_message: str | None = None
    error_code: str | None = None
    #: The Outlook event and Teams link the ledger holds (what the write-back says).
    graph_event_id: str | None = None
    join_url: str | None = None
    #: The Outlook content last asked for (a failed update's, too; the hash is of
    #: the content last sent).
    target: Mapping[str, Any] | None = None

    @property
    def live(self) -> bool:
        return self.status != MeetingStatus.CANCELLED


@dataclass(frozen=True)
class Attendee:
    email: str
    required: bool = True
    response: ResponseStatus = ResponseStatus.NO_RESPONSE
    responded_at: datetime | None = None


@dataclass(frozen=True)
class Meeting:
    """A meeting as the scheduler sees it (what is sent to Outlook)."""

    external_id: str
    organizer_email: str
    subject: str
    body: str
    location: str
    start: datetime
    end: datetime
    attendees: tuple[Attendee, ...] = ()
    is_all_day: bool = False
    show_as: str = "busy"
    is_private: bool = False
    join_url: str | None = None
    #: The zone the meeting's times are written in to Outlook: a series' time zone
    #: (its occurrences keep their local time across daylight saving) or, for an
    #: all-day meeting, the organizer's. None writes UTC.
    time_zone: str | None = None
    #: A series master's Graph patternedRecurrence; None for a single meeting.
    recurrence: Mapping[str, Any] | None = field(default=None, hash=False)


@dataclass(frozen=True)
class Slot:
    """A busy span [start, end) in UTC."""

    start: datetime
    end: datetime


@dataclass(frozen=True)
class Availability:
    email: str
    error_code: ErrorCode = ErrorCode.NO_ERROR
    slots: tuple[Slot, ...] = ()
    error_message: str | None = None


@dataclass(frozen=True)
class MeetingChanges:
    """A PATCH: only the fields given are changed; attendees replace the list."""

    subject: str | None = None
    body: str | None = None
    location: str | None = None
    start: datetime | None = None
    end: datetime | None = None
    attendees: tuple[Attendee, ...] | None = None
    extra: dict[str, object] = field(default_factory=dict)


def utc(value: datetime) -> datetime:
    """Normalise to aware UTC; a naive time is taken as UTC (the contract's GMT)."""
    if value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    return value.astimezone(UTC)


def format_gmt(value: datetime) -> str:
    """The contract's output format: YYYY-MM-DDThh:mm:ssZ."""
    return utc(value).strftime("%Y-%m-%dT%H:%M:%SZ")


def merge_slots(slots: list[Slot], clip_start: datetime, clip_end: datetime) -> tuple[Slot, ...]:
    """Merge overlapping or touching busy spans and clip them to [clip_start, clip_end)."""
    clipped = sorted(
        (Slot(max(s.start, clip_start), min(s.end, clip_end)) for s in slots),
        key=lambda s: (s.start, s.end),
    )
    merged: list[Slot] = []
    for slot in clipped:
        if slot.end <= slot.start:
            continue
        if merged and slot.start <= merged[-1].end:
            last = merged[-1]
            merged[-1] = Slot(last.start, max(last.end, slot.end))
        else:
            merged.append(slot)
    return tuple(merged)
