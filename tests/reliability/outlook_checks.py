"""Changes made in Outlook against what syncd made of them: the end state under a policy.

A test records what the organizers did (tests/outlook_organizer.py: `Organizer.changes`)
and what syncd wrote on either side meanwhile (`WriteLogs`: every Graph write syncd
sent to the sandbox, every API write to a Salesforce record), then
`check_outlook_changes` lists every way the end state breaks the policy:

- two_way: the Salesforce Event holds Outlook's values (`not_applied`), Outlook still
  holds them (`reverted`), syncd wrote nothing back to the changed meeting in Outlook
  (`echoes`), and each Outlook change cost at most one write of the Event's fields
  (`extra_writes`);
- salesforce_wins: Outlook was put back, at most once per change (`not_applied`,
  `extra_writes`), and the Event's fields were not written (`extra_writes`);
- both: a meeting deleted or cancelled in Outlook stays gone (`recreated`) and its
  Event says so (`unmarked`); each change is in the meeting's history, never twice
  (`history`).

Expectations come from the organizers' own requests and the Salesforce record;
observations from the sandbox's stores and the ledger's history table. The tests keep
the Salesforce editor away from the meetings changed in Outlook, so any write syncd
makes to them is caused by the Outlook change alone.
"""

from __future__ import annotations

import threading
import time
from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from urllib.parse import unquote

from sqlalchemy import Engine
from sqlmodel import Session, col, select

from syncd.core.event_mapping import EXTERNAL_KEY_PROPERTY_ID
from syncd.ledger.models import MeetingHistory
from syncd.sandbox.microsoft.calendar import StoredEvent
from syncd.sandbox.microsoft.extended_props import lookup
from syncd.sandbox.server import RunningSandbox
from syncd.sandbox.stats import GraphExchange, observe_exchanges
from tests.outlook_organizer import ORGANIZER_AGENT, Change, parse_graph_time

#: The Event fields an Outlook move or edit is written to (two_way).
MAPPED = ("Subject", "Location", "Description", "StartDateTime", "EndDateTime")
GRAPH_WRITES = ("POST", "PATCH", "DELETE")
REMOVALS = ("deleted", "cancelled")


@dataclass(frozen=True)
class GraphWrite:
    method: str
    path: str
    event_id: str | None
    at: float  # time.monotonic()


@dataclass(frozen=True)
class SalesforceWrite:
    sobject: str
    record_id: str
    fields: frozenset[str]  # standard and custom fields written
    at: float  # time.monotonic()


def event_id_of(path: str) -> str | None:
    """The event id of a Graph path (…/events/{id}[/cancel]); None for a create."""
    parts = [unquote(p) for p in path.split("?")[0].strip("/").split("/")]
    if "events" in parts:
        index = parts.index("events")
        if index + 1 < len(parts):
            return parts[index + 1]
    return None


class WriteLogs:
    """syncd's writes while the logs are open: Graph writes (inner requests of a $batch
    each on its own; the organizers' requests, which carry ORGANIZER_AGENT, and
    getSchedule, a read sent as POST, left out)
    and API writes to Salesforce records (people's edits, made with user_write, left
    out).

    Test instrumentation: the sandboxes run in the test's process. The Graph side uses
    the sandbox's exchange observers; the Salesforce sandbox keeps no per-record log
    of writes, so its writer's apply_update is wrapped for the logs' lifetime.
    """

    def __init__(self, sandbox: RunningSandbox, tenant: str) -> None:
        self._lock = threading.Lock()
        self.graph: list[GraphWrite] = []
        self.salesforce: list[SalesforceWrite] = []
        self._stop_graph = observe_exchanges(self._graph_exchange)
        self._writer = sandbox.org(tenant).org.writer
        original = self._writer.apply_update

        def apply_update(prepared: Any, *, by: str | None, user_write: bool) -> None:
            original(prepared, by=by, user_write=user_write)
            if not user_write:
                write = SalesforceWrite(
                    prepared.record.sobject,
                    str(prepared.record.id),
                    frozenset(prepared.fields) | frozenset(prepared.custom),
                    time.monotonic(),
                )
                with self._lock:
                    self.salesforce.append(write)

        self._writer.apply_update = apply_update  # type: ignore[method-assign]

    def _graph_exchange(self, exchange: GraphExchange) -> None:
        if exchange.method not in GRAPH_WRITES or exchange.path.startswith("/$batch"):
            return
        if exchange.path.lower().endswith("/getschedule"):
            return  # a read, though POSTed
        if exchange.headers.get("user-agent") == ORGANIZER_AGENT or exchange.status >= 400:
            return
        write = GraphWrite(
            exchange.method, exchange.path, event_id_of(exchange.path), time.monotonic()
        )
        with self._lock:
            self.graph.append(write)

    def close(self) -> None:
        self._stop_graph()
        self._writer.__dict__.pop("apply_update", None)

    def __enter__(self) -> WriteLogs:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


@dataclass
class OutlookReport:
    """Every way the end state breaks the policy, by kind; empty lists: none."""

    meetings: int = 0
    changes: int = 0
    not_applied: list[str] = field(default_factory=list)
    reverted: list[str] = field(default_factory=list)
    recreated: list[str] = field(default_factory=list)
    unmarked: list[str] = field(default_factory=list)
    echoes: list[str] = field(default_factory=list)
    extra_writes: list[str] = field(default_factory=list)
    history: list[str] = field(default_factory=list)

    KINDS = (
        "not_applied",
        "reverted",
        "recreated",
        "unmarked",
        "echoes",
        "extra_writes",
        "history",
    )

    @property
    def ok(self) -> bool:
        return not any(getattr(self, kind) for kind in self.KINDS)

    def counts(self) -> dict[str, int]:
        return {kind: len(getattr(self, kind)) for kind in self.KINDS}

    def summary(self, shown: int = 8) -> str:
        lines = [f"{self.changes} Outlook changes of {self.meetings} meetings: {self.counts()}"]
        for kind in self.KINDS:
            items = getattr(self, kind)
            lines += [f"  {kind}: {item}" for item in items[:shown]]
            if len(items) > shown:
                lines.append(f"  {kind}: ... and {len(items) - shown} more")
        return "\n".join(lines)


def salesforce_id_of(event: StoredEvent, tenant: str) -> str | None:
    """The Salesforce Event a meeting was made from (the key syncd stamps on it)."""
    stamped = lookup(event.extended, EXTERNAL_KEY_PROPERTY_ID)
    prefix = f"{tenant}:salesforce:"
    if stamped and stamped[1].startswith(prefix):
        return stamped[1].removeprefix(prefix)
    return None


def expected_values(changes: Iterable[Change]) -> dict[str, Any]:
    """The Event fields the organizer's changes, in order, leave (Graph body -> Event)."""
    values: dict[str, Any] = {}
    for change in changes:
        body = change.values or {}
        if "subject" in body:
            values["Subject"] = body["subject"]
        if "location" in body:
            values["Location"] = body["location"].get("displayName") or None
        if "body" in body:
            values["Description"] = body["body"].get("content") or None
        if "start" in body:
            values["StartDateTime"] = parse_graph_time(body["start"])
        if "end" in body:
            values["EndDateTime"] = parse_graph_time(body["end"])
    return values


def _outlook_values(event: StoredEvent) -> dict[str, Any]:
    return {
        "Subject": event.subject,
        "Location": event.location.get("displayName") or None,
        "Description": event.body_content or None,
        "StartDateTime": event.start.astimezone(UTC),
        "EndDateTime": event.end.astimezone(UTC),
    }


def _event_values(record: Mapping[str, Any]) -> dict[str, Any]:
    def utc(value: datetime | None) -> datetime | None:
        if value is None:
            return None
        return value.astimezone(UTC) if value.tzinfo else value.replace(tzinfo=UTC)

    return {
        "Subject": record.get("Subject"),
        "Location": record.get("Location") or None,
        "Description": record.get("Description") or None,
        "StartDateTime": utc(record.get("StartDateTime")),
        "EndDateTime": utc(record.get("EndDateTime")),
    }


def _differ(wanted: Mapping[str, Any], found: Mapping[str, Any]) -> list[str]:
    return [
        f"{name} {found.get(name)!r}, expected {value!r}"
        for name, value in wanted.items()
        if found.get(name) != value
    ]


def history_rows(engine: Engine, tenant: str, event_id: str) -> list[MeetingHistory]:
    with Session(engine) as session:
        return list(
            session.exec(
                select(MeetingHistory)
                .where(
                    MeetingHistory.tenant == tenant,
                    MeetingHistory.source == "salesforce",
                    MeetingHistory.external_id == event_id,
                )
                .order_by(col(MeetingHistory.id))
            )
        )


def check_outlook_changes(
    sandbox: RunningSandbox,
    tenant: str,
    changes: list[Change],
    targets: Mapping[str, str],
    logs: WriteLogs,
    engine: Engine,
    *,
    policy: str = "two_way",
    removed_statuses: Iterable[str] = ("Deleted in Outlook", "Cancelled in Outlook"),
) -> OutlookReport:
    """Check every meeting the organizers changed (see the module doc). `targets` maps
    each changed meeting's Graph id to its Salesforce Event id."""
    org = sandbox.org(tenant).org
    report = OutlookReport(changes=len(changes))
    by_meeting: dict[str, list[Change]] = defaultdict(list)
    for change in changes:
        by_meeting[change.event_id].append(change)
    report.meetings = len(by_meeting)
    live = _live_meetings(sandbox, tenant)
    statuses = set(removed_statuses)

    for graph_id, done in by_meeting.items():
        event_id = targets[graph_id]
        first = min(c.at_monotonic for c in done)
        record = org.get(event_id) or {}
        label = f"Event {event_id} (meeting {graph_id[-12:]}, {[c.kind for c in done]})"
        writes = [w for w in logs.graph if w.event_id == graph_id and w.at >= first]
        field_writes = [
            w
            for w in logs.salesforce
            if w.record_id == event_id and w.at >= first and w.fields & set(MAPPED)
        ]
        removed = any(c.kind in REMOVALS for c in done)
        if removed:
            again = live.get(event_id, [])
            if again:
                report.recreated.append(f"{label}: live again as {[e.id for e in again]}")
            if record.get("Sync_Status__c") not in statuses:
                report.unmarked.append(
                    f"{label}: Sync_Status__c {record.get('Sync_Status__c')!r}, "
                    f"expected one of {sorted(statuses)}"
                )
        else:
            _check_kept(report, label, done, record, live.get(event_id, []), policy)
        edits = sum(1 for c in done if c.kind not in REMOVALS)
        if policy == "two_way":
            if writes:
                report.echoes += [f"{label}: syncd sent {w.method} {w.path}" for w in writes]
            if len(field_writes) > edits:
                report.extra_writes.append(
                    f"{label}: {len(field_writes)} writes of its fields for {edits} changes"
                )
        elif policy == "salesforce_wins":
            restores = [w for w in writes if w.method == "PATCH"]
            if not removed and not restores:
                report.not_applied.append(f"{label}: never put back in Outlook")
            if len(restores) > edits:
                report.extra_writes.append(f"{label}: {len(restores)} PATCHes for {edits} changes")
            if field_writes:
                report.extra_writes.append(
                    f"{label}: {len(field_writes)} writes of the Event's fields under "
                    "salesforce_wins"
                )
        report.history += [f"{label}: {p}" for p in _history(engine, tenant, event_id, done)]
    return report


def _check_kept(
    report: OutlookReport,
    label: str,
    done: list[Change],
    record: Mapping[str, Any],
    meetings: list[StoredEvent],
    policy: str,
) -> None:
    """A meeting moved or edited in Outlook: where each side must end."""
    if len(meetings) != 1:
        report.recreated.append(f"{label}: {len(meetings)} live meetings")
        return
    outlook = _outlook_values(meetings[0])
    salesforce = _event_values(record)
    wanted = expected_values(done)
    if policy == "two_way":
        report.reverted += [f"{label}: Outlook {p}" for p in _differ(wanted, outlook)]
        report.not_applied += [f"{label}: Salesforce {p}" for p in _differ(wanted, salesforce)]
    elif policy == "salesforce_wins":
        report.not_applied += [
            f"{label}: Outlook {p}" for p in _differ(salesforce, outlook) if p.split()[0] in wanted
        ]


def _history(engine: Engine, tenant: str, event_id: str, done: list[Change]) -> list[str]:
    """At least one row records the Outlook change; none is there twice."""
    rows = history_rows(engine, tenant, event_id)
    observed = [r for r in rows if r.side == "outlook" and r.action == "observed"]
    problems = []
    if not observed:
        problems.append(f"no history row of the Outlook change ({[r.action for r in rows]})")
    if len(observed) > len(done):
        problems.append(f"{len(observed)} 'observed' rows for {len(done)} changes")
    seen = Counter(
        (r.side, r.action, repr(sorted((r.fields or {}).items())), r.reason) for r in rows
    )
    problems += [
        f"history row {key[:2]} {key[2][:120]} {n} times" for key, n in seen.items() if n > 1
    ]
    return problems


def _live_meetings(sandbox: RunningSandbox, tenant: str) -> dict[str, list[StoredEvent]]:
    """Live organizer meetings by the Salesforce Event stamped on them."""
    found: dict[str, list[StoredEvent]] = defaultdict(list)
    for user in sandbox.tenant(tenant).users:
        if not user.has_mailbox:
            continue
        for event in sandbox.calendars.events(
            user.id, lambda e: e.is_organizer and not e.is_cancelled
        ):
            event_id = salesforce_id_of(event, tenant)
            if event_id:
                found[event_id].append(event)
    return found
