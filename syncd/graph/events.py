"""Graph calls on events: create (one, or many through $batch), find by syncd's key, read,
update, cancel, delete."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from syncd.domain import SyncdError
from syncd.graph import odata
from syncd.graph.batch import GraphRequest, NewEvent
from syncd.graph.correlation import client_request_id
from syncd.graph.transport import Call, GraphTransport

#: find_event_by_property expects one match; a small page still shows duplicates.
_FIND_PAGE_SIZE = 5


class EventCalls(GraphTransport):
    """The event operations of GraphClient."""

    def create_event(
        self, mailbox: str, payload: dict[str, Any], *, correlation_id: str | None = None
    ) -> dict[str, Any]:
        """Create the event `payload` (which carries transactionId and the syncd key property).

        Retrying this POST is safe: Graph uses the transactionId "to avoid redundant
        POST operations in case of client retries"
        (https://learn.microsoft.com/graph/api/resources/event#properties), so a timeout
        or reset connection cannot make a second meeting; the repeated POST answers 201
        with the event the first one made. No 409 is documented for it, so none is
        expected here: any refusal is an error, and the core's next attempt looks the
        event up by its syncd key before creating (find_event_by_property).
        """
        call = self._begin("create_event", correlation_id)
        action = "create an event"
        answer = self._send(
            call,
            "POST",
            odata.user_path(mailbox) + "/events",
            mailbox=mailbox,
            body=payload,
            prefer_utc=True,
            action=action,
        )
        return self._body(call, answer, action=action, mailbox=mailbox)

    def create_events(
        self, creates: Sequence[NewEvent], *, correlation_id: str | None = None
    ) -> list[dict[str, Any] | SyncdError]:
        """Create each event: one on its own, several through $batch (20 a request; the
        caller groups them so that no mailbox goes over its share, syncd.graph.batch_plan).

        Answers in order: the created event, or the `SyncdError` of a create Graph refused
        (a whole envelope that failed gives its error to each of its creates). Inner 429s
        and 424s are sent again after their Retry-After, as `batch` does. Each inner POST
        carries its own `client-request-id` (from its correlation id; honoured inside a
        batch as on its own: assumed, json-batching lets each request carry headers) and
        its transactionId, so a create sent again is deduplicated as in `create_event`.
        """
        if not creates:
            return []
        single = creates[0].correlation_id if len(creates) == 1 else correlation_id
        call = self._begin("create_events", single)
        action = "create an event"
        requests_ = [
            GraphRequest(
                "POST",
                odata.user_path(create.mailbox) + "/events",
                body=create.payload,
                headers={
                    "Prefer": odata.PREFER_UTC,
                    "client-request-id": client_request_id(create.correlation_id),
                },
                mailbox=create.mailbox,
            )
            for create in creates
        ]
        try:
            answers = self._send_all(call, requests_, action=action)
        except SyncdError as error:  # the request or the envelope failed as a whole
            return [error] * len(creates)
        return [
            answer.body
            if answer.ok
            else self._error(call, answer, action=action, mailbox=create.mailbox)
            for create, answer in zip(creates, answers, strict=True)
        ]

    def find_event_by_property(
        self, mailbox: str, property_id: str, value: str, *, correlation_id: str | None = None
    ) -> dict[str, Any] | None:
        """The event in `mailbox` whose single-value extended property `property_id` is `value`."""
        call = self._begin("find_event_by_property", correlation_id)
        return self._find(call, mailbox, property_id, value)

    def get_event(
        self,
        mailbox: str,
        graph_event_id: str,
        *,
        select: Sequence[str] | None = None,
        correlation_id: str | None = None,
    ) -> dict[str, Any]:
        """One event, times in UTC."""
        call = self._begin("get_event", correlation_id)
        path = odata.event_path(mailbox, graph_event_id) + odata.query(odata.select(select))
        action = f"read event {graph_event_id}"
        answer = self._send(call, "GET", path, mailbox=mailbox, prefer_utc=True, action=action)
        return self._body(call, answer, action=action, mailbox=mailbox)

    def update_event(
        self,
        mailbox: str,
        graph_event_id: str,
        changes: dict[str, Any],
        *,
        correlation_id: str | None = None,
    ) -> dict[str, Any]:
        """PATCH only `changes`: every PATCH of a meeting mails all its attendees."""
        call = self._begin("update_event", correlation_id)
        action = f"update event {graph_event_id}"
        answer = self._send(
            call,
            "PATCH",
            odata.event_path(mailbox, graph_event_id),
            mailbox=mailbox,
            body=changes,
            prefer_utc=True,
            action=action,
        )
        return self._body(call, answer, action=action, mailbox=mailbox) or {}

    def cancel_event(
        self, mailbox: str, graph_event_id: str, comment: str, *, correlation_id: str | None = None
    ) -> None:
        """Cancel a meeting as its organizer, mailing `comment` to the attendees.

        https://learn.microsoft.com/graph/api/event-cancel (202 Accepted)
        """
        call = self._begin("cancel_event", correlation_id)
        action = f"cancel event {graph_event_id}"
        answer = self._send(
            call,
            "POST",
            odata.event_path(mailbox, graph_event_id) + "/cancel",
            mailbox=mailbox,
            body={"comment": comment},
            action=action,
        )
        self._done_or_gone(call, answer, action=action, mailbox=mailbox)

    def delete_event(
        self, mailbox: str, graph_event_id: str, *, correlation_id: str | None = None
    ) -> None:
        """Delete an event (https://learn.microsoft.com/graph/api/event-delete, 204 No Content)."""
        call = self._begin("delete_event", correlation_id)
        action = f"delete event {graph_event_id}"
        answer = self._send(
            call,
            "DELETE",
            odata.event_path(mailbox, graph_event_id),
            mailbox=mailbox,
            action=action,
        )
        self._done_or_gone(call, answer, action=action, mailbox=mailbox)

    def _find(
        self, call: Call, mailbox: str, property_id: str, value: str
    ) -> dict[str, Any] | None:
        """The event stamped with exactly `value`; the oldest if Graph holds several."""
        params: dict[str, str | int] = {
            **odata.extended_property_filter(property_id, value),
            "$top": _FIND_PAGE_SIZE,
        }
        events = self._list(
            call,
            odata.user_path(mailbox) + "/events" + odata.query(params),
            mailbox=mailbox,
            action="find an event by its syncd key",
        )
        matches = [e for e in events if _carries(e, property_id, value)]
        if not matches:
            return None
        if len(matches) > 1:
            call.log.warning(
                "%d events in mailbox %s carry %s = %r (%s); using the oldest",
                len(matches),
                mailbox,
                property_id,
                value,
                ", ".join(str(e.get("id")) for e in matches),
            )
        return min(matches, key=lambda e: str(e.get("createdDateTime", "")))


def _carries(event: Mapping[str, Any], property_id: str, value: str) -> bool:
    """Whether the expanded property holds exactly `value` (Graph's filter ignores case)."""
    props = event.get("singleValueExtendedProperties")
    if not isinstance(props, list):
        return True  # not expanded: the server-side filter is all there is
    return any(
        isinstance(p, dict)
        and str(p.get("id", "")).lower() == property_id.lower()
        and p.get("value") == value
        for p in props
    )
