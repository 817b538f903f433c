"""The people who organize meetings, editing them in Outlook: their changes made through
ordinary Graph routes of the sandbox, with msal and requests, as any Graph client would.

Tests and the benchmark use it to change synced meetings on the Outlook side and then
watch what syncd makes of it. Every call is a documented Graph request:

- move, edit, attendees: PATCH /users/{id}/events/{id}
  https://learn.microsoft.com/graph/api/event-update
- delete: DELETE /users/{id}/events/{id} (an organizer's delete cancels the meeting for
  its attendees) https://learn.microsoft.com/graph/api/event-delete
- cancel: POST /users/{id}/events/{id}/cancel https://learn.microsoft.com/graph/api/event-cancel
- one occurrence of a series: the same routes on the occurrence's id, found with
  GET /users/{id}/events/{id}/instances https://learn.microsoft.com/graph/api/event-list-instances

Times are read and written in UTC (`Prefer: outlook.timezone="UTC"`,
https://learn.microsoft.com/graph/api/event-get#request-headers).

The organizer uses the tenant's registered app (application permissions), as the
sandbox issues no delegated tokens; the routes and bodies are those a person's Outlook
client would send. Its requests reach the sandbox's counters like anyone's: a test that
counts syncd's Graph calls subtracts `Organizer.requests` or counts around them.
"""

from __future__ import annotations

import http.client
import time
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import quote

import msal
import requests
import urllib3

from syncd.sandbox.microsoft.answers import CHOICES, NOT_RESPONDED
from syncd.sandbox.server import RunningSandbox

GRAPH_SCOPE = ["https://graph.microsoft.com/.default"]
#: The User-Agent of the organizers' requests: tests tell them from syncd's by it.
ORGANIZER_AGENT = "outlook-organizer (tests)"
_UTC = {"Prefer": 'outlook.timezone="UTC"'}


class OrganizerError(AssertionError):
    """Graph refused an organizer's change (the test's setup is wrong, not syncd)."""


@dataclass(frozen=True)
class Change:
    """One change an organizer made: which meeting, what kind, the request's body (None
    for a removal) and when (the sandbox clock, and time.monotonic() to order it among
    other requests of the test's process)."""

    mailbox: str
    event_id: str
    kind: str
    values: dict[str, Any] | None
    at: datetime
    at_monotonic: float


def _graph_time(value: datetime) -> dict[str, str]:
    utc = value.astimezone(UTC).replace(tzinfo=None)
    return {"dateTime": utc.isoformat(timespec="seconds"), "timeZone": "UTC"}


def parse_graph_time(value: dict[str, str]) -> datetime:
    """A dateTimeTimeZone read in UTC (the Prefer header above) as an aware datetime."""
    text = value["dateTime"].split(".")[0]
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


class Organizer:
    """Edits meetings in their organizers' calendars through Graph (see the module doc).

    `changes` lists what was done, in order; `requests` counts the Graph requests sent.
    """

    def __init__(self, sandbox: RunningSandbox, tenant: str) -> None:
        self.sandbox = sandbox
        self.base = sandbox.graph_url
        self.session = requests.Session()
        self.session.trust_env = False
        self.session.verify = str(sandbox.ca_file)
        self.session.headers["User-Agent"] = ORGANIZER_AGENT
        _, client_id, secret = sandbox.credentials(tenant)
        self.app = msal.ConfidentialClientApplication(
            client_id,
            client_credential=secret,
            authority=sandbox.authority(tenant),
            instance_discovery=False,
            http_client=self.session,
        )
        self.changes: list[Change] = []
        self.requests = 0
        self._sent_at = 0.0

    def close(self) -> None:
        self.session.close()

    def __enter__(self) -> Organizer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- the wire ---------------------------------------------------------------------
    def _token(self) -> str:
        result = self.app.acquire_token_for_client(scopes=GRAPH_SCOPE)
        if "access_token" not in result:
            raise OrganizerError(f"no Graph token for the organizer: {result}")
        return str(result["access_token"])

    def call(
        self, method: str, path: str, *, body: Any = None, params: dict[str, str] | None = None
    ) -> requests.Response:
        """One Graph request; a 4xx/5xx answer raises OrganizerError with Graph's error."""
        self.requests += 1
        for attempt in (1, 2):
            self._sent_at = time.monotonic()
            try:
                answer = self.session.request(
                    method,
                    self.base + path,
                    json=body,
                    params=params,
                    headers={"Authorization": f"Bearer {self._token()}", **_UTC},
                    timeout=(5, 60),
                )
                break
            except requests.ConnectionError as error:
                # A pooled connection the server closed as idle just as the request went
                # out (its keep-alive timeout): the request was never read; once more on a
                # new connection, as a person's Outlook would.
                if attempt == 2 or not _closed_while_idle(error):
                    raise
        if answer.status_code >= 400:
            raise OrganizerError(f"{method} {path}: {answer.status_code} {answer.text[:500]}")
        return answer

    @staticmethod
    def _event_path(mailbox: str, event_id: str) -> str:
        return f"/users/{quote(mailbox)}/events/{quote(event_id, safe='')}"

    def _note(self, mailbox: str, event_id: str, kind: str, values: dict[str, Any] | None) -> None:
        self.changes.append(
            Change(mailbox, event_id, kind, values, self.sandbox.clock.now(), self._sent_at)
        )

    # -- reading ----------------------------------------------------------------------
    def get(self, mailbox: str, event_id: str) -> dict[str, Any]:
        """The organizer's copy of the event as Graph returns it (times in UTC)."""
        return dict(self.call("GET", self._event_path(mailbox, event_id)).json())

    def occurrences(
        self, mailbox: str, series_id: str, start: datetime, end: datetime
    ) -> list[dict[str, Any]]:
        """The occurrences and exceptions of a series between start and end (one page of
        up to 100, enough for a test's series)."""
        answer = self.call(
            "GET",
            self._event_path(mailbox, series_id) + "/instances",
            params={
                "startDateTime": start.astimezone(UTC).isoformat(),
                "endDateTime": end.astimezone(UTC).isoformat(),
                "$top": "100",
            },
        )
        return list(answer.json()["value"])

    # -- changing ---------------------------------------------------------------------
    def patch(self, mailbox: str, event_id: str, body: dict[str, Any], kind: str) -> dict[str, Any]:
        """PATCH the event with `body` (only the properties to change, as event-update asks)."""
        updated = dict(self.call("PATCH", self._event_path(mailbox, event_id), body=body).json())
        self._note(mailbox, event_id, kind, body)
        return updated

    def move(self, mailbox: str, event_id: str, by: timedelta) -> dict[str, Any]:
        """Shift the meeting by `by`, keeping its length."""
        current = self.get(mailbox, event_id)
        start = parse_graph_time(current["start"]) + by
        end = parse_graph_time(current["end"]) + by
        return self.move_to(mailbox, event_id, start, end)

    def move_to(
        self, mailbox: str, event_id: str, start: datetime, end: datetime
    ) -> dict[str, Any]:
        body = {"start": _graph_time(start), "end": _graph_time(end)}
        return self.patch(mailbox, event_id, body, "moved")

    def edit(
        self,
        mailbox: str,
        event_id: str,
        *,
        subject: str | None = None,
        location: str | None = None,
        body: str | None = None,
    ) -> dict[str, Any]:
        """Change the subject, the location's name and/or the body (text)."""
        change: dict[str, Any] = {}
        if subject is not None:
            change["subject"] = subject
        if location is not None:
            change["location"] = {"displayName": location}
        if body is not None:
            change["body"] = {"contentType": "text", "content": body}
        if not change:
            raise ValueError("edit() needs at least one of subject, location, body")
        return self.patch(mailbox, event_id, change, "edited")

    def set_attendees(self, mailbox: str, event_id: str, addresses: list[str]) -> dict[str, Any]:
        """Replace the attendee list (PATCH replaces the whole collection)."""
        attendees = [
            {"emailAddress": {"address": a, "name": a}, "type": "required"} for a in addresses
        ]
        return self.patch(mailbox, event_id, {"attendees": attendees}, "attendees")

    def add_attendee(self, mailbox: str, event_id: str, address: str) -> dict[str, Any]:
        current = self.get(mailbox, event_id)
        addresses = [a["emailAddress"]["address"] for a in current.get("attendees", [])]
        if address.casefold() in {a.casefold() for a in addresses}:
            raise ValueError(f"{address} is already invited to {event_id}")
        return self.set_attendees(mailbox, event_id, [*addresses, address])

    def remove_attendee(self, mailbox: str, event_id: str, address: str) -> dict[str, Any]:
        current = self.get(mailbox, event_id)
        addresses = [a["emailAddress"]["address"] for a in current.get("attendees", [])]
        kept = [a for a in addresses if a.casefold() != address.casefold()]
        if len(kept) == len(addresses):
            raise ValueError(f"{address} is not invited to {event_id}")
        return self.set_attendees(mailbox, event_id, kept)

    def delete(self, mailbox: str, event_id: str) -> None:
        """Delete the meeting from the organizer's calendar (a cancellation for attendees)."""
        self.call("DELETE", self._event_path(mailbox, event_id))
        self._note(mailbox, event_id, "deleted", None)

    def cancel(self, mailbox: str, event_id: str, comment: str = "") -> None:
        """Cancel the meeting (an occurrence id cancels that occurrence only)."""
        body = {"comment": comment} if comment else None
        self.call("POST", self._event_path(mailbox, event_id) + "/cancel", body=body)
        self._note(mailbox, event_id, "cancelled", None)

    def cancel_occurrence(self, mailbox: str, series_id: str, original_start: datetime) -> str:
        """Cancel the one occurrence of the series that starts (originally) at
        `original_start`; returns the occurrence's id."""
        occurrence = self._occurrence(mailbox, series_id, original_start)
        self.cancel(mailbox, occurrence)
        return occurrence

    def move_occurrence(
        self, mailbox: str, series_id: str, original_start: datetime, by: timedelta
    ) -> str:
        """Move one occurrence (it becomes an exception of the series); returns its id."""
        occurrence = self._occurrence(mailbox, series_id, original_start)
        self.move(mailbox, occurrence, by)
        return occurrence

    def _occurrence(self, mailbox: str, series_id: str, original_start: datetime) -> str:
        wanted = original_start.astimezone(UTC)
        window = (wanted - timedelta(days=1), wanted + timedelta(days=1))
        for instance in self.occurrences(mailbox, series_id, *window):
            original = instance.get("originalStart")
            if original and datetime.fromisoformat(original.replace("Z", "+00:00")) == wanted:
                return str(instance["id"])
        raise OrganizerError(f"series {series_id} has no occurrence at {wanted.isoformat()}")


def answer_now(
    sandbox: RunningSandbox, organizer: str, event_id: str, attendee: str, response: str
) -> None:
    """`attendee` answers the organizer's meeting now (`response`: accepted,
    tentativelyAccepted or declined), in the sandbox's model of answers
    (syncd/sandbox/microsoft/answers.py: an invitation's answer shows from its answer_at
    on; the organizer's item then carries a new changeKey, event_json.effective_change).

    The sandbox serves no route for an invitee's own answer, so the invitation is
    replaced in the store, under its lock, by the one the attendee would have had with
    this choice and no delay: the invitee's copy and the organizer's item agree.
    """
    if response not in CHOICES or response == NOT_RESPONDED:
        raise ValueError(f"response must be one of {CHOICES[:-1]}, not {response!r}")
    owner = sandbox.directory.find_by_email(organizer)
    if owner is None:
        raise OrganizerError(f"{organizer} is not in the sandbox directory")
    now = sandbox.clock.now()
    store = sandbox.calendars
    with store._lock:  # test instrumentation: the store's own lock, as its writers take it
        event = store._events.get(event_id)
        if event is None or event.owner_id != owner.id or not event.is_organizer:
            raise OrganizerError(f"{organizer} organizes no meeting {event_id}")
        invited = next(
            (a for a in event.attendees if a.address.casefold() == attendee.casefold()), None
        )
        if invited is None:
            raise OrganizerError(f"{attendee} is not invited to {event_id}")
        answered = replace(invited.invite, choice=response, answer_at=now)
        event.attendees = [
            replace(a, invite=answered) if a is invited else a for a in event.attendees
        ]
        copy_id = event.copies.get(attendee.lower())
        own_copy = store._events.get(copy_id) if copy_id else None
        if own_copy is not None:
            own_copy.my_invite = answered


def _closed_while_idle(error: requests.ConnectionError) -> bool:
    """The server closed the connection before it answered anything (no status line)."""
    reason = error.args[0] if error.args else None
    return isinstance(reason, urllib3.exceptions.ProtocolError) and any(
        isinstance(arg, http.client.RemoteDisconnected) for arg in reason.args
    )
