"""Wire models of the Scheduler API: lenient on the way in, exact on the way out.

Input models take the seed's liberties (string booleans, times with any zone,
unknown fields) and convert to domain types; output models write exactly the
contract's shapes (times as YYYY-MM-DDThh:mm:ssZ, isRequired as "true"/"false").
The field names are the contract's camelCase on purpose.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Annotated, Any, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, WithJsonSchema, model_validator

from syncd.api import fields
from syncd.domain import Attendee, Availability, ErrorCode, Meeting, MeetingChanges, format_gmt

MAX_ATTENDEES = 500
MAX_AVAILABILITY_EMAILS = 100
MAX_AVAILABILITY_SPAN = timedelta(days=366)

_EMAIL_SCHEMA = {
    "type": "string",
    "minLength": 3,
    "maxLength": fields.MAX_EMAIL,
    # No pattern: a tenant may configure address aliases that are not addresses.
    "description": "an e-mail address (one '@', no whitespace), or an alias the tenant "
    "configures under address_aliases",
    "examples": ["jane.doe@contoso.example"],
}
_TIME_SCHEMA = {
    "type": "string",
    "format": "date-time",
    "description": "ISO 8601; Z or an offset (converted to GMT); no zone means GMT",
    "examples": [fields.TIME_EXAMPLE],
}
_TEXT_NO_CONTROLS = r"^[^\x00-\x1f\x7f-\x9f]*$"

MeetingId = Annotated[
    str,
    BeforeValidator(fields.parse_id),
    WithJsonSchema(
        {
            "type": "string",
            "minLength": 1,
            "maxLength": fields.MAX_ID,
            "pattern": r"^[^\x00-\x1f\x7f-\x9f]*[^\s\x00-\x1f\x7f-\x9f][^\x00-\x1f\x7f-\x9f]*$",
            "description": "the meeting's id in your system",
            "examples": ["f9b58255-8e2e-81e2-a6db-27461fa3f11e"],
        }
    ),
]
Email = Annotated[str, BeforeValidator(fields.parse_email), WithJsonSchema(_EMAIL_SCHEMA)]
Time = Annotated[datetime, BeforeValidator(fields.parse_time), WithJsonSchema(_TIME_SCHEMA)]
Flag = Annotated[
    bool,
    BeforeValidator(fields.parse_flag),
    WithJsonSchema(
        {
            "anyOf": [
                {"type": "boolean"},
                {"type": "string", "pattern": r"^\s*([Tt][Rr][Uu][Ee]|[Ff][Aa][Ll][Ss][Ee])\s*$"},
            ],
            "description": 'true/false or the strings "true"/"false" (any case)',
        }
    ),
]
Subject = Annotated[
    str,
    BeforeValidator(fields.parse_subject),
    WithJsonSchema(
        {"type": "string", "maxLength": fields.MAX_SUBJECT, "pattern": _TEXT_NO_CONTROLS}
    ),
]
Location = Annotated[
    str,
    BeforeValidator(fields.parse_location),
    WithJsonSchema(
        {
            "type": "string",
            "maxLength": fields.MAX_LOCATION,
            "pattern": _TEXT_NO_CONTROLS,
            "description": 'a room, a URL, or "MS Teams" for a Teams meeting',
        }
    ),
]
BodyText = Annotated[
    str,
    BeforeValidator(fields.parse_body_text),
    WithJsonSchema(
        {
            "type": "string",
            "pattern": r"^[^\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]*$",
            "description": "plain text",
        }
    ),
]
CorrelationId = Annotated[
    str | None,
    BeforeValidator(fields.parse_correlation_id),
    WithJsonSchema(
        {
            "type": "string",
            "maxLength": fields.MAX_CORRELATION_ID,
            "pattern": _TEXT_NO_CONTROLS,
            "description": "request id for end-to-end telemetry",
        }
    ),
]


def _drop_null_defaults(schema: dict[str, Any], _model: type[BaseModel]) -> None:
    # "default": null on a string field would contradict its type in the document.
    for prop in schema.get("properties", {}).values():
        if "default" in prop and prop["default"] is None:
            del prop["default"]


class _In(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True, json_schema_extra=_drop_null_defaults)


class AttendeeIn(_In):
    email: Email
    isRequired: Flag = Field(default=True, description="defaults to true")


class MeetingIn(_In):
    """POST /meeting: every field but salesforceCorrelationId is required."""

    id: MeetingId
    organizerEmail: Email
    attendees: list[AttendeeIn] = Field(max_length=MAX_ATTENDEES)
    body: BodyText
    subject: Subject
    location: Location
    startTime: Time
    endTime: Time
    salesforceCorrelationId: CorrelationId = None

    @model_validator(mode="after")
    def _end_after_start(self) -> MeetingIn:
        if self.endTime <= self.startTime:
            raise ValueError("endTime: must be after startTime")
        return self

    def to_meeting(self) -> Meeting:
        return Meeting(
            external_id=self.id,
            organizer_email=self.organizerEmail,
            subject=self.subject,
            body=self.body,
            location=self.location,
            start=self.startTime,
            end=self.endTime,
            attendees=_attendees(self.attendees),
        )


class MeetingPatch(_In):
    """PATCH /meeting: id and organizerEmail, plus only the fields to change.

    A field given as null is refused (omit it to keep its value); `attendees`,
    when given, is the whole new list.
    """

    id: MeetingId
    organizerEmail: Email
    attendees: list[AttendeeIn] = Field(default=None, max_length=MAX_ATTENDEES)  # type: ignore[arg-type]
    body: BodyText = Field(default=None)  # type: ignore[assignment]
    subject: Subject = Field(default=None)  # type: ignore[assignment]
    location: Location = Field(default=None)  # type: ignore[assignment]
    startTime: Time = Field(default=None)  # type: ignore[assignment]
    endTime: Time = Field(default=None)  # type: ignore[assignment]
    salesforceCorrelationId: CorrelationId = None

    @model_validator(mode="before")
    @classmethod
    def _no_nulls(cls, data: Any) -> Any:
        if isinstance(data, dict):
            for name in ("attendees", "body", "subject", "location", "startTime", "endTime"):
                if name in data and data[name] is None:
                    raise ValueError(f"{name}: must not be null; omit it to keep its value")
        return data

    @model_validator(mode="after")
    def _end_after_start(self) -> MeetingPatch:
        if self.startTime and self.endTime and self.endTime <= self.startTime:
            raise ValueError("endTime: must be after startTime")
        return self

    def to_changes(self) -> MeetingChanges:
        return MeetingChanges(
            subject=self.subject,
            body=self.body,
            location=self.location,
            start=self.startTime,
            end=self.endTime,
            attendees=None if self.attendees is None else _attendees(self.attendees),
        )


class MeetingRef(_In):
    """DELETE /meeting body, and the GET query."""

    id: MeetingId
    organizerEmail: Email
    salesforceCorrelationId: CorrelationId = None


class MeetingLookup(_In):
    """The GET query. organizerEmail may be left out: the id alone finds the meeting
    within the caller's tenant (the seed's own GET sample has lost that parameter)."""

    id: MeetingId
    organizerEmail: Email | None = None
    salesforceCorrelationId: CorrelationId = None


class AvailabilityEntry(_In):
    """One element of the availability request's JSON array."""

    email: Email


class AvailabilityWindow(_In):
    """The availability query: from, to (names in any case), salesforceCorrelationId."""

    start: Time = Field(alias="from")
    end: Time = Field(alias="to")
    salesforceCorrelationId: CorrelationId = None

    @model_validator(mode="after")
    def _sensible_span(self) -> AvailabilityWindow:
        if self.end <= self.start:
            raise ValueError("to: must be after from")
        if self.end - self.start > MAX_AVAILABILITY_SPAN:
            raise ValueError(
                f"to: the span from..to is longer than {MAX_AVAILABILITY_SPAN.days} days; "
                "ask for a shorter one"
            )
        return self


def _attendees(items: list[AttendeeIn]) -> tuple[Attendee, ...]:
    return tuple(Attendee(email=a.email, required=a.isRequired) for a in items)


# ---------------------------------------------------------------- output


def _flag(value: bool) -> Literal["true", "false"]:
    return "true" if value else "false"


class _Out(BaseModel):
    model_config = ConfigDict(frozen=True)

    def wire(self) -> dict[str, Any]:
        """The JSON object to send; optional members are left out when unset."""
        return self.model_dump(mode="json", exclude_none=True)


class ErrorOut(BaseModel):
    """Every error answer (email is null when the request named no organizer)."""

    email: str | None = Field(description="the request's organizerEmail, or null")
    errorCode: str = Field(examples=["MeetingNotFound"])
    errorMessage: str


class MutationOut(_Out):
    """Answer of POST, PATCH and DELETE."""

    email: str
    errorCode: Literal["NoError"] = "NoError"
    joinUrl: str | None = Field(default=None, description="Teams join link, when one was made")


class AttendeeOut(_Out):
    email: str
    isRequired: Literal["true", "false"]
    response: str = Field(
        examples=["NoResponseReceived"],
        description="NoResponseReceived, Accepted, Declined, Tentative, Organizer or Unknown",
    )


class MeetingOut(_Out):
    """Answer of GET."""

    id: str
    organizerEmail: str
    body: str
    subject: str
    location: str
    startTime: str = Field(examples=[fields.TIME_EXAMPLE])
    endTime: str = Field(examples=[fields.TIME_EXAMPLE])
    attendees: list[AttendeeOut]
    joinUrl: str | None = Field(default=None, description="Teams join link, for Teams meetings")

    @classmethod
    def from_meeting(cls, meeting: Meeting) -> MeetingOut:
        return cls(
            id=meeting.external_id,
            organizerEmail=meeting.organizer_email,
            body=meeting.body,
            subject=meeting.subject,
            location=meeting.location,
            startTime=format_gmt(meeting.start),
            endTime=format_gmt(meeting.end),
            attendees=[
                AttendeeOut(email=a.email, isRequired=_flag(a.required), response=str(a.response))
                for a in meeting.attendees
            ],
            joinUrl=meeting.join_url,
        )


class SlotOut(_Out):
    timeMin: str = Field(examples=["2020-10-16T10:00:00Z"])
    timeMax: str = Field(examples=["2020-10-16T12:00:00Z"])


class AvailabilityOut(_Out):
    """One element of the availability answer, in the order of the request."""

    email: str
    errorCode: str = Field(examples=["NoError"])
    unavailableTimeslots: list[SlotOut]
    errorMessage: str | None = Field(default=None, description="set when errorCode is not NoError")

    @classmethod
    def from_availability(cls, item: Availability) -> AvailabilityOut:
        return cls(
            email=item.email,
            errorCode=str(item.error_code),
            unavailableTimeslots=[
                SlotOut(timeMin=format_gmt(s.start), timeMax=format_gmt(s.end)) for s in item.slots
            ],
            errorMessage=item.error_message if item.error_code != ErrorCode.NO_ERROR else None,
        )

    @classmethod
    def invalid(cls, email: str, message: str) -> AvailabilityOut:
        return cls(
            email=email,
            errorCode=str(ErrorCode.INVALID_REQUEST),
            unavailableTimeslots=[],
            errorMessage=message,
        )
