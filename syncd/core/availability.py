"""Availability: busy slots of in-org colleagues, read with getSchedule within a bound.

getSchedule takes 20 addresses and under 62 days a request
(https://learn.microsoft.com/graph/api/calendar-getschedule), asked through some
mailbox's calendar. Each group of 20 is asked through the calendar of one of its own
members, the groups side by side: through a single mailbox they queued behind its 4
concurrent requests (https://learn.microsoft.com/graph/throttling-limits#outlook-service-limits).

A member without a mailbox answers 404, and its group must be asked again through
another mailbox: unbounded, 100 unknown addresses over 366 days once cost 600 Graph
requests. Now:

- addresses Graph said have no mailbox are remembered (syncd.core.mailbox_memory) and
  answered without asking Graph again; mailboxes that answered are remembered as ones
  to ask through after a 404;
- a caller may bound the Graph requests of one call (`max_requests`; the Scheduler API
  passes its tenant's `availability_max_graph_requests`). A call whose first try alone
  needs more is refused; the rest of the bound pays for asking a group again through
  another mailbox. Addresses the bound left unasked get `Throttled`, with what to do.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta
from typing import Any

from syncd.config import TenantConfig
from syncd.core import event_mapping as em
from syncd.core.mailbox_memory import MailboxMemory
from syncd.domain import Availability, ErrorCode, Slot, SyncdError, merge_slots, utc
from syncd.graph import schedule
from syncd.graph.port import SchedulePort

#: Groups of 20 asked at once (the Graph session keeps 32 connections).
_WORKERS = 32
#: The availabilityView interval asked for (Graph's default).
INTERVAL_MINUTES = 30
#: responseCode of the answer made up for an address the bound left unasked.
_NOT_ASKED = "syncd.NotAsked"


class _Budget:
    """Graph requests left for asking groups again (shared by the groups asked at once)."""

    def __init__(self, left: int | None) -> None:
        self._left = left
        self._lock = threading.Lock()

    def take(self, count: int) -> bool:
        with self._lock:
            if self._left is None:
                return True
            if self._left < count:
                return False
            self._left -= count
            return True


class FreeBusy:
    """One tenant's availability reads (one per Scheduler, so per tenant and process)."""

    def __init__(
        self,
        tenant: TenantConfig,
        graph: SchedulePort,
        memory: MailboxMemory,
        *,
        organizer: Callable[[], str | None] = lambda: None,
    ) -> None:
        """`organizer`: some mailbox known to exist (e.g. the organizer of a meeting made
        lately), to ask through when neither a group nor the memory offers one."""
        self.tenant = tenant
        self.graph = graph
        self.memory = memory
        self.organizer = organizer

    def availability(
        self,
        emails: Sequence[str],
        start: datetime,
        end: datetime,
        *,
        max_requests: int | None = None,
        correlation_id: str | None = None,
    ) -> list[Availability]:
        """Busy slots per address, merged and clipped to [start, end), in order."""
        start, end = utc(start), utc(end)
        answers: dict[int, Availability] = {}
        to_ask: list[tuple[int, str]] = []
        for index, email in enumerate(emails):
            if not self.tenant.is_in_org(email):
                answers[index] = Availability(
                    email,
                    ErrorCode.EXTERNAL_USER_NOT_SUPPORTED,
                    error_message=f"{email} is outside the organization "
                    f"({', '.join(self.tenant.mail_domains)}); availability is only "
                    "available for in-org users",
                )
            elif (reason := self.memory.missing(email)) is not None:
                answers[index] = _no_mailbox(email, reason)
            else:
                to_ask.append((index, email))
        if to_ask:
            addresses = [email for _, email in to_ask]
            items = self._schedules(addresses, start, end, max_requests, correlation_id)
            for (index, email), item in zip(to_ask, items, strict=True):
                answers[index] = self._availability_of(email, item, start, end)
        return [answers[i] for i in range(len(emails))]

    def _schedules(
        self,
        addresses: Sequence[str],
        start: datetime,
        end: datetime,
        max_requests: int | None,
        correlation_id: str | None,
    ) -> list[dict[str, Any]]:
        """Graph's scheduleInformation per address, in order."""
        groups = schedule.address_chunks(addresses)
        per_try = schedule.requests_per_group(start, end, INTERVAL_MINUTES)
        first_tries = len(groups) * per_try
        if max_requests is not None and first_tries > max_requests:
            days = (end - start) / timedelta(days=1)
            raise SyncdError(
                ErrorCode.INVALID_REQUEST,
                f"{len(addresses)} addresses over {days:.0f} days need {first_tries} Graph "
                f"requests (one per 20 addresses and 62 days); this API makes at most "
                f"{max_requests} per request: ask for fewer addresses or a shorter span",
            )
        spare = _Budget(None if max_requests is None else max_requests - first_tries)

        def ask(group: list[str]) -> list[dict[str, Any]]:
            message = "no mailbox to ask through"
            for tries, through in enumerate(self._throughs(group)):
                if tries and not spare.take(per_try):
                    return [_not_asked(a, max_requests) for a in group]
                try:
                    items = self.graph.get_schedule(
                        through,
                        group,
                        start,
                        end,
                        interval_minutes=INTERVAL_MINUTES,
                        correlation_id=correlation_id,
                    )
                except SyncdError as error:
                    if error.code != ErrorCode.MAILBOX_NOT_FOUND:
                        raise
                    message = error.message
                    self.memory.remember_missing(through, message)
                    continue
                self.memory.remember_present(through)
                for address, item in zip(group, items, strict=True):
                    answer_error = item.get("error")
                    if answer_error and answer_error.get("responseCode") != schedule.NO_ANSWER:
                        self.memory.remember_missing(address, _reason(item))
                return items
            # Not one of them has a mailbox, as Graph said of each: that is each one's answer.
            return [{"scheduleId": a, "error": {"message": message}} for a in group]

        if len(groups) == 1:
            results = [ask(groups[0])]
        else:
            with ThreadPoolExecutor(
                min(len(groups), _WORKERS), thread_name_prefix="syncd-freebusy"
            ) as pool:
                results = list(pool.map(ask, groups))
        found = {
            address.lower(): item
            for group, items in zip(groups, results, strict=True)
            for address, item in zip(group, items, strict=True)
        }
        return [found[address.lower()] for address in addresses]

    def _throughs(self, group: list[str]) -> Iterator[str]:
        """Mailboxes to ask `group` through, best first: a member that answered lately, else
        the first member; then a mailbox outside the group that answered lately; then the
        other members. Members found to have no mailbox meanwhile are skipped."""
        members = sorted(group, key=lambda a: not self.memory.present(a))
        tried: set[str] = set()
        for position, through in enumerate(members):
            if position == 1 and (fallback := self._fallback(group)) is not None:
                tried.add(fallback)
                yield fallback
            if through.lower() not in tried and self.memory.missing(through) is None:
                tried.add(through.lower())
                yield through

    def _fallback(self, group: list[str]) -> str | None:
        members = {a.lower() for a in group}
        found = self.memory.a_present_one(members)
        if found is None:
            organizer = (self.organizer() or "").lower()
            if organizer and organizer not in members and self.memory.missing(organizer) is None:
                found = organizer
        return found

    def _availability_of(
        self, email: str, item: dict[str, Any], start: datetime, end: datetime
    ) -> Availability:
        error = item.get("error")
        if error and error.get("responseCode") == _NOT_ASKED:
            return Availability(email, ErrorCode.THROTTLED, error_message=error["message"])
        if error:
            return _no_mailbox(email, _reason(item))
        # Graph's free/busy docs show both "busy" and "Busy": compare without case.
        busy = {status.casefold() for status in self.tenant.policy.unavailable_statuses}
        slots = [
            Slot(em.parse_graph_time(i.get("start")), em.parse_graph_time(i.get("end")))  # type: ignore[arg-type]
            for i in item.get("scheduleItems") or []
            if str(i.get("status", "")).casefold() in busy and i.get("start") and i.get("end")
        ]
        return Availability(email, ErrorCode.NO_ERROR, merge_slots(slots, start, end))


def _reason(item: dict[str, Any]) -> str:
    return str((item.get("error") or {}).get("message") or "no calendar for this address")


def _no_mailbox(email: str, reason: str) -> Availability:
    return Availability(
        email,
        ErrorCode.MAILBOX_NOT_FOUND,
        error_message=f"no free/busy information for {email}: {reason}",
    )


def _not_asked(address: str, bound: int | None) -> dict[str, Any]:
    return {
        "scheduleId": address,
        "error": {
            "responseCode": _NOT_ASKED,
            "message": f"free/busy of {address} was not read: other addresses of this request "
            f"have no mailbox, and one request makes at most {bound} Graph requests; ask "
            "again (addresses found to have no mailbox are remembered, so the next request "
            "gets further), or leave out addresses that answered MailboxNotFound",
        },
    }
