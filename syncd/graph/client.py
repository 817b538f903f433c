"""The Microsoft Graph client: the calendar calls syncd makes, with Graph's rules of politeness.

GraphClient is assembled from one module per job: transport (sending, retries,
throttling, token refresh, $batch, paging, error mapping), events (single-event
writes and reads), calendar_reads (calendarView, instances, events by id),
delta_reads (calendarView delta rounds of many mailboxes) and mailbox (users,
mailbox settings, free/busy). Thread-safe: one client serves all threads of a process.
"""

from __future__ import annotations

from syncd.graph.batch import GraphRequest, GraphResponse
from syncd.graph.calendar_reads import CalendarReads
from syncd.graph.delta_reads import DeltaReads
from syncd.graph.events import EventCalls
from syncd.graph.mailbox import MailboxReads

__all__ = ["GraphClient", "GraphRequest", "GraphResponse"]


class GraphClient(EventCalls, CalendarReads, DeltaReads, MailboxReads):
    """Calendar operations on Microsoft Graph for one tenant."""
