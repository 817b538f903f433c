"""What a change seen in Outlook does (pure): the tenant's policy applied to one meeting.

`[policy] outlook_changes`:
- "two_way": moves and edits of the mapped fields (start, end, subject, location, body)
  are written to the Salesforce Event and taken into the ledger; a deletion or
  cancellation marks the Event (`outlook_deletion = "delete_event"`: deletes it).
- "salesforce_wins": Outlook is put back to what Salesforce holds; a deletion or
  cancellation marks the Event and is not undone.
- "report": nothing changes on either side; the change is recorded in the history and
  the Event's sync status says Outlook differs.

Conflicts (two_way; both sides changed since the last sync): the later change wins,
Outlook's lastModifiedDateTime against the Event's SystemModstamp (a tie goes to
Salesforce); the loser's values go into the meeting's history.
An Event that already holds Outlook's values is no conflict: only the ledger catches up.

All-day meetings (two_way): a move writes the Event's all-day fields together
(IsAllDayEvent, ActivityDate, StartDateTime and EndDateTime at midnight UTC of the
first and last day, DurationInMinutes = days x 1440; syncd.sync.outlook_all_day), and so
does a single meeting switched between all-day and timed in Outlook (a timed Event gets
IsAllDayEvent false, its start, end and duration).

What is not written to Salesforce under two_way (recorded and shown in the sync status
instead): attendees added or removed in Outlook (the Event's invitations stay as they
are), an all-day meeting Outlook makes longer than Salesforce allows (14 days), and an
occurrence of a series switched between all-day and timed (the series sets that).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any

from syncd.domain import format_gmt
from syncd.sync import outlook_all_day
from syncd.sync.outlook_classify import ChangeKind, OutlookChange

#: Sync_Status__c values the sweep writes (the field holds 40 characters).
DELETED_STATUS = "Deleted in Outlook"
CANCELLED_STATUS = "Cancelled in Outlook"
DIFFERS_STATUS = "Outlook differs"
SYNCED_STATUS = "Synced"

#: The Event field each mapped Outlook field is written to.
EVENT_FIELDS = {
    "subject": "Subject",
    "location": "Location",
    "body": "Description",
    "start": "StartDateTime",
    "end": "EndDateTime",
    "isAllDay": "IsAllDayEvent",
}
_TIMES = ("start", "end", "isAllDay")


class Move(StrEnum):
    """What the core does with the meeting."""

    NOTHING = "nothing"  # only answers changed (written back as always)
    RECORD = "record"  # the ledger notes what Outlook holds; nothing else changes
    FOLLOW = "follow"  # the ledger (and Outlook, where it lacks them) takes new values
    RESTORE = "restore"  # Outlook is put back to the ledger's target
    GONE = "gone"  # the meeting's row is closed; it is not created again


@dataclass(frozen=True)
class SalesforceSide:
    """The Event as Salesforce holds it now, against the ledger."""

    #: its content differs from the ledger's (changed in Salesforce since the last sync)
    changed: bool
    modified_at: datetime | None = None
    #: its mapped values, as history shows them ({"subject": ..., "start": iso, ...})
    values: Mapping[str, Any] = field(default_factory=dict)


@dataclass
class Decision:
    """One meeting's outcome: the core's move, the Event's writes and the history's words."""

    external_id: str
    move: Move
    #: the values the meeting takes (start/end datetimes, text fields), over `base`
    values: dict[str, Any] = field(default_factory=dict)
    #: "ledger": apply `values` to the ledger's meeting; "salesforce": to the Event's
    base: str = "ledger"
    #: Event fields to write (Subject, StartDateTime, ...), status fields aside
    event_fields: dict[str, Any] = field(default_factory=dict)
    status: str | None = None
    error: str | None = None
    delete_event: bool = False
    stamp: bool = False
    #: (GONE) the meeting is made again from the Event, not left deleted
    again: bool = False
    #: the conflict's winner ("outlook" | "salesforce"); {field: [loser's, winner's value]}
    winner: str | None = None
    lost: dict[str, Any] = field(default_factory=dict)
    reason: str = ""


def _names(change: OutlookChange) -> str:
    names = list(change.fields)
    return ", ".join(names) if names else "nothing mapped"


def _attendee_text(change: OutlookChange) -> str:
    parts = [f"+{a}" for a in change.added] + [f"-{a}" for a in change.removed]
    return f"attendees changed in Outlook ({' '.join(parts)}), not synced to Salesforce"


def _event_value(name: str, value: Any) -> Any:
    return format_gmt(value) if isinstance(value, datetime) else value


def _writable(
    change: OutlookChange, *, all_day: bool, occurrence: bool
) -> tuple[dict[str, Any], dict[str, Any], str | None]:
    """The changed values two_way writes, the Event's time fields when the meeting is or
    was all-day (written together, outlook_all_day.event_fields), and why a move is not
    written (None: it is)."""
    writable = {k: v for k, v in change.values.items() if k in EVENT_FIELDS and k not in _TIMES}
    if not any(name in change.values or name in change.fields for name in _TIMES):
        return writable, {}, None
    now_all_day = bool(change.values.get("isAllDay", all_day))
    if not (all_day or now_all_day):
        writable.update({k: v for k, v in change.values.items() if k in ("start", "end")})
        return writable, {}, None
    start, end = change.values.get("start"), change.values.get("end")
    if start is None or end is None or "isAllDay" not in change.values:
        return writable, {}, "an all-day meeting moved in Outlook could not be read"
    if occurrence and now_all_day != all_day:
        switched = "to all-day" if now_all_day else "from all-day to timed"
        return writable, {}, f"an occurrence switched {switched} in Outlook, not synced"
    problem = outlook_all_day.refusal(start, end) if now_all_day else None
    if problem:
        return writable, {}, f"{problem}, not synced to Salesforce"
    writable.update(start=start, end=end, isAllDay=now_all_day)
    return writable, outlook_all_day.event_fields(start, end, all_day=now_all_day), None


def decide(
    change: OutlookChange,
    *,
    policy: str,
    deletion: str = "mark",
    salesforce: SalesforceSide | None = None,
    all_day: bool = False,
    occurrence: bool = False,
) -> Decision:
    """The outcome of one meeting's change under `policy` (see the module's rules).

    `salesforce`: the Event now (None: not read; taken as unchanged); `all_day`: the
    meeting is an all-day one; `occurrence`: one occurrence of a series (never deleted
    in Salesforce by the sweep: the series owns it).
    """
    sf = salesforce or SalesforceSide(changed=False)
    if change.gone:
        cancelled = ChangeKind.CANCELLED in change.kinds
        what = "cancelled in Outlook" if cancelled else "deleted in Outlook"
        status = CANCELLED_STATUS if cancelled else DELETED_STATUS
        if sf.changed:
            # Graph does not say when an event was deleted: an Event edited in Salesforce
            # since the last sync is taken as the later change, and made again.
            return Decision(
                change.external_id,
                Move.GONE,
                again=True,
                reason=f"{what}, but the Event changed in Salesforce since: made again",
            )
        if policy == "report":
            return Decision(
                change.external_id,
                Move.GONE,
                status=DIFFERS_STATUS,
                error=f"{what}; not applied (policy report)",
                reason=f"{what}: recorded (policy report)",
            )
        delete = policy == "two_way" and deletion == "delete_event" and not occurrence
        if delete:
            return Decision(
                change.external_id,
                Move.GONE,
                delete_event=True,
                reason=f"{what}: the Event is deleted in Salesforce too",
            )
        return Decision(
            change.external_id,
            Move.GONE,
            status=status,
            error=f"{what}; edit the Event to schedule the meeting again",
            reason=f"{what}: the Event is marked, the meeting not made again",
        )
    if not change.drift:
        return Decision(change.external_id, Move.NOTHING)
    if policy == "report":
        text = f"changed in Outlook: {_names(change)}; not applied (policy report)"
        return Decision(
            change.external_id,
            Move.RECORD,
            status=DIFFERS_STATUS,
            error=text,
            reason=f"changed in Outlook ({_names(change)}): recorded (policy report)",
        )
    if policy == "salesforce_wins":
        return Decision(
            change.external_id,
            Move.RESTORE,
            stamp=ChangeKind.STAMP_LOST in change.kinds,
            reason=f"changed in Outlook ({_names(change)}): put back (policy salesforce_wins)",
        )
    writable, times, problem = _writable(change, all_day=all_day, occurrence=occurrence)
    notes = []
    if change.added or change.removed:
        notes.append(_attendee_text(change))
    if problem:
        notes.append(problem)
    status, error = (DIFFERS_STATUS, "; ".join(notes)) if notes else (SYNCED_STATUS, None)
    if not writable:
        return Decision(
            change.external_id,
            Move.RECORD,
            status=DIFFERS_STATUS,
            error="; ".join(notes) or f"changed in Outlook: {_names(change)}",
            reason=f"changed in Outlook ({_names(change)}): recorded, nothing to write",
        )
    fields = {EVENT_FIELDS[name]: _event_value(name, value) for name, value in writable.items()}
    fields.update(times)
    if not sf.changed:
        return Decision(
            change.external_id,
            Move.FOLLOW,
            values=writable,
            event_fields=fields,
            status=status,
            error=error,
            reason=f"changed in Outlook ({', '.join(writable)}): written to Salesforce",
        )
    if all(sf.values.get(name) == _event_value(name, v) for name, v in writable.items()):
        # The Event already holds Outlook's values: syncd wrote them and ended before the
        # ledger took them (a kill). No conflict and no second write; the ledger follows
        # the Event as it is, so nothing goes back to Outlook (no echo).
        return Decision(
            change.external_id,
            Move.FOLLOW,
            values=writable,
            base="salesforce",
            status=status,
            error=error,
            reason=f"changed in Outlook ({', '.join(writable)}): the Event already holds it",
        )
    outlook_later = (
        change.modified_at is not None
        and sf.modified_at is not None
        and change.modified_at > sf.modified_at
    )
    if outlook_later:
        return Decision(
            change.external_id,
            Move.FOLLOW,
            values=writable,
            base="salesforce",
            event_fields=fields,
            status=status,
            error=error,
            winner="outlook",
            lost={
                name: [sf.values.get(name), (change.fields.get(name) or [None, shown])[1]]
                for name, shown in ((n, _event_value(n, v)) for n, v in writable.items())
            },
            reason="changed on both sides; Outlook's change is the later one and wins",
        )
    return Decision(
        change.external_id,
        Move.FOLLOW,
        base="salesforce",
        winner="salesforce",
        lost={name: [values[1], sf.values.get(name)] for name, values in change.fields.items()},
        reason="changed on both sides; Salesforce's change is the later one and wins",
    )
