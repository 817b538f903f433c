"""Graph calls about users and mailboxes: directory lookup, mailbox time zone, free/busy."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from syncd.domain import ErrorCode, utc
from syncd.graph import odata, schedule
from syncd.graph.batch import (
    GraphRequest,
)
from syncd.graph.errors import GraphError, is_mailbox_missing
from syncd.graph.transport import GraphTransport

_USER_FIELDS = "id,displayName,mail,userPrincipalName"


class MailboxReads(GraphTransport):
    """The user, mailbox-settings and free/busy reads of GraphClient."""

    def get_user(self, email: str, *, correlation_id: str | None = None) -> dict[str, Any] | None:
        """The directory user for `email` (id, displayName, mail, userPrincipalName), or None
        when Graph knows no such user. A user without a mailbox has `mail` null
        (https://learn.microsoft.com/graph/api/user-get)."""
        call = self._begin("get_user", correlation_id)
        path = odata.user_path(email) + odata.query({"$select": _USER_FIELDS})
        answer = self._send(call, "GET", path, mailbox=email, action=f"look up user {email}")
        if answer.status == 404 or is_mailbox_missing(answer.status, answer.body):
            return None
        return self._body(call, answer, action=f"look up user {email}", mailbox=email)

    def mailbox_time_zone(self, mailbox: str, *, correlation_id: str | None = None) -> str:
        """The mailbox's preferred time zone (Windows or IANA name, as the admin set it up).

        https://learn.microsoft.com/graph/api/user-get-mailboxsettings
        (GET /users/{id}/mailboxSettings/timeZone)
        """
        call = self._begin("mailbox_time_zone", correlation_id)
        action = f"read the mailbox settings of {mailbox}"
        answer = self._send(
            call,
            "GET",
            odata.user_path(mailbox) + "/mailboxSettings/timeZone",
            mailbox=mailbox,
            action=action,
        )
        body = self._body(
            call, answer, action=action, mailbox=mailbox, not_found=ErrorCode.MAILBOX_NOT_FOUND
        )
        value = body.get("value") if isinstance(body, dict) else None
        if not isinstance(value, str) or not value:
            raise GraphError(
                ErrorCode.UPSTREAM_UNAVAILABLE,
                f"Graph returned no time zone in the mailbox settings of {mailbox}.",
            )
        return value

    def get_schedule(
        self,
        mailbox: str,
        schedules: Sequence[str],
        start: datetime,
        end: datetime,
        *,
        interval_minutes: int = 30,
        correlation_id: str | None = None,
    ) -> list[dict[str, Any]]:
        """Graph's scheduleInformation for each address in `schedules`, in that order.

        Asked through `mailbox`'s calendar in calls of <= 20 addresses and < 62 days,
        sent together in one $batch when there are several.
        """
        start, end = _schedule_window(start, end, interval_minutes)
        if not schedules:
            return []
        call = self._begin("get_schedule", correlation_id)
        url = odata.user_path(mailbox) + "/calendar/getSchedule"
        requests_ = [
            GraphRequest(
                "POST",
                url,
                body=schedule.request_body(chunk, period, interval_minutes),
                headers={"Prefer": odata.PREFER_UTC},
                mailbox=mailbox,
            )
            for chunk in schedule.address_chunks(schedules)
            for period in schedule.split_period(start, end, interval_minutes)
        ]
        replies = self._send_all(call, requests_, action="read free/busy")
        parts: dict[str, list[dict[str, Any]]] = {}
        for request, reply in zip(requests_, replies, strict=True):
            if not reply.ok:
                raise self._error(
                    call,
                    reply,
                    action="read free/busy",
                    mailbox=mailbox,
                    not_found=ErrorCode.MAILBOX_NOT_FOUND,
                )
            values = reply.body.get("value", []) if isinstance(reply.body, dict) else []
            asked = request.body["schedules"] if request.body else []
            for key, item in schedule.match_answers(asked, values).items():
                parts.setdefault(key, []).append(item)
        return schedule.assemble(schedules, parts)


def _schedule_window(
    start: datetime, end: datetime, interval_minutes: int
) -> tuple[datetime, datetime]:
    """[start, end) in UTC, checked against getSchedule's rules before anything is sent."""
    if not 5 <= interval_minutes <= 1440:
        raise GraphError(ErrorCode.INVALID_REQUEST, "interval_minutes must be within 5..1440")
    start, end = utc(start), utc(end)
    if end <= start:
        raise GraphError(
            ErrorCode.INVALID_REQUEST, f"free/busy period ends before it starts: {start} .. {end}"
        )
    return start, end
