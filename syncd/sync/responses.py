"""Attendees' answers read from Outlook, written to Salesforce: the write path.

The Outlook sweep (syncd.sync.outlook_watch) reads the answers with each mailbox's
delta round and hands the changed ones here: the EventRelation statuses (when the tenant
turns them on) and the Event's responses summary, written in sObject Collections of 200
as they accumulate; each meeting's answers reach the ledger once its records are written
(syncd.sync.salesforce_writer.WriteBacklog).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from syncd.config import TenantConfig
from syncd.ledger.models import MeetingRecord
from syncd.sync.reader import EventReader
from syncd.sync.salesforce_writer import WriteBacklog
from syncd.sync.writeback import relation_updates, responses_summary


@dataclass
class ResponseReport:
    meetings_checked: int = 0
    meetings_changed: int = 0
    relations_written: int = 0
    writeback_errors: list[tuple[str, str]] = field(default_factory=list)
    #: organizers whose calendar could not be read this time: (address, reason)
    read_errors: list[tuple[str, str]] = field(default_factory=list)


def write_responses(
    tenant: TenantConfig,
    reader: EventReader,
    changed: dict[str, tuple[MeetingRecord, dict[str, Any]]],
    report: ResponseReport,
    backlog: WriteBacklog,
) -> None:
    """Queue the EventRelation and Event records of the changed meetings; each
    meeting's responses reach the ledger once its records are written."""
    report.meetings_changed += len(changed)
    relations: dict[str, list[dict[str, Any]]] = {}
    fields = tenant.salesforce.fields
    if fields.event_relation_status:
        invitees = reader.invitees_of(list(changed))
        for salesforce_id, (_, responses) in changed.items():
            relations[salesforce_id] = relation_updates(invitees.get(salesforce_id, ()), responses)
        report.relations_written += sum(len(r) for r in relations.values())
    summary = fields.event.responses_summary
    for salesforce_id, (record, responses) in changed.items():
        backlog.expect(record, responses, len(relations.get(salesforce_id, ())) + bool(summary))
    backlog.add(
        "EventRelation",
        [(salesforce_id, r) for salesforce_id, rows in relations.items() for r in rows],
    )
    if summary:
        backlog.add(
            "Event",
            [
                (
                    salesforce_id,
                    {
                        "attributes": {"type": "Event"},
                        "id": salesforce_id,
                        summary: responses_summary(responses),
                    },
                )
                for salesforce_id, (_, responses) in changed.items()
            ],
        )
