"""What changed in Outlook (pure): one synced meeting's ledger row against the event a
delta round returned (or its removal).

The base is the ledger's `sent`, the content syncd last wrote (or saw) in Outlook, not the
changeKey: an attendee's answer changes the organizer's changeKey too
(https://learn.microsoft.com/graph/api/resources/event, changeKey "changes whenever the
event is changed"), and syncd's own PATCHes come back from delta as changes. Comparing
content by meaning (syncd.core.event_mapping.observed_content: the same instant in any
zone, the same text in text or HTML, attendees in any order) makes both quiet: an echo
of syncd's own write is no change.
"""

from __future__ import annotations

import html
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any

from syncd.core import event_mapping as em
from syncd.core.recurrence_mapping import zone_info
from syncd.domain import format_gmt, utc
from syncd.sync import outlook_all_day


class ChangeKind(StrEnum):
    """One kind of change seen in Outlook."""

    DELETED = "deleted"  # @removed, or gone from a full read of the window
    CANCELLED = "cancelled"  # isCancelled: the organizer cancelled it
    MOVED = "moved"  # start, end or all-day
    EDITED = "edited"  # subject, location or body
    ATTENDEES = "attendees"  # attendees added or removed
    STAMP_LOST = "stamp_lost"  # the transactionId syncd created it with is gone
    ANSWERS = "answers"  # an attendee answered


#: Kinds that make the meeting differ from Salesforce (answers are written back as always).
DRIFT = frozenset(
    {ChangeKind.MOVED, ChangeKind.EDITED, ChangeKind.ATTENDEES, ChangeKind.STAMP_LOST}
)
#: Kinds that take the meeting out of Outlook.
GONE = frozenset({ChangeKind.DELETED, ChangeKind.CANCELLED})

_MOVE_FIELDS = ("start", "end", "isAllDay")
_EDIT_FIELDS = ("subject", "location", "body")
#: The marker syncd appends before a Teams link (syncd.core.event_mapping.content_changes)
#: and the rule Teams draws above its own join block.
_JOIN_MARKERS = ("Join Microsoft Teams meeting:", "________________")
_TAGS = re.compile(r"<[^>]*>")
_BREAKS = re.compile(r"<\s*(br|/p|/div|/li|/tr)\b[^>]*>", re.IGNORECASE)


@dataclass(frozen=True)
class Tracked:
    """What the ledger holds of one meeting, as the classifier needs it."""

    external_id: str
    sent: Mapping[str, Any]
    responses: Mapping[str, Any]
    transaction_id: str = ""
    join_url: str | None = None


@dataclass
class OutlookChange:
    """The changes seen on one meeting; `values` holds the new values of the mapped fields
    that changed (subject, location, body: text; start, end: UTC datetimes; isAllDay).

    A move of an all-day meeting (or a switch between all-day and timed) carries the
    whole span, start, end and isAllDay, in the form syncd keeps meetings in
    (syncd.sync.outlook_all_day), whichever of them changed."""

    external_id: str
    kinds: set[ChangeKind] = field(default_factory=set)
    #: {field: [old, new]} for history and the Event's sync error
    fields: dict[str, list[Any]] = field(default_factory=dict)
    values: dict[str, Any] = field(default_factory=dict)
    added: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    responses: dict[str, Any] | None = None
    #: the event's lastModifiedDateTime (None for a deletion)
    modified_at: datetime | None = None
    #: Outlook's owned fields as seen (a base for PATCHing Outlook back), None when gone
    observed: dict[str, Any] | None = None
    change_key: str | None = None

    @property
    def gone(self) -> bool:
        return bool(self.kinds & GONE)

    @property
    def drift(self) -> bool:
        return bool(self.kinds & DRIFT)


def instant(value: Any) -> datetime | None:
    """A Graph dateTimeTimeZone as an aware UTC datetime (None when unreadable)."""
    if not isinstance(value, Mapping) or not value.get("dateTime"):
        return None
    text = str(value["dateTime"])
    if "." in text:
        head, fraction = text.split(".", 1)
        text = f"{head}.{fraction[:6]}"
    zone = zone_info(str(value.get("timeZone") or "UTC"))
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError:
        return None
    if parsed.tzinfo is None:
        if zone is None:
            return None
        parsed = parsed.replace(tzinfo=zone)
    return utc(parsed)


def body_text(body: Any) -> str:
    """An Outlook body as the plain text Salesforce's Description holds: HTML tags gone,
    entities read, and the Teams join block (syncd's or Teams' own) cut off."""
    if not isinstance(body, Mapping):
        return ""
    content = str(body.get("content") or "")
    if str(body.get("contentType", "")).casefold() == "html":
        content = html.unescape(_TAGS.sub("", _BREAKS.sub("\n", content)))
        content = content.replace("\xa0", " ")
    for marker in _JOIN_MARKERS:
        head, found, _ = content.partition(marker)
        if found:
            content = head
    lines = [line.rstrip() for line in content.strip().splitlines()]
    return "\n".join(lines).strip()


def _location(value: Any) -> str:
    return str((value or {}).get("displayName") or "").strip() if isinstance(value, Mapping) else ""


def _shown(name: str, value: Any) -> Any:
    """A field's value as history shows it."""
    if name in ("start", "end"):
        when = instant(value)
        return format_gmt(when) if when else None
    if name == "body":
        return body_text(value)
    if name == "location":
        return _location(value)
    return value


def _addresses(attendees: Any) -> dict[str, str]:
    found: dict[str, str] = {}
    for attendee in attendees or []:
        address = str((attendee.get("emailAddress") or {}).get("address") or "")
        if address:
            found[address.casefold()] = address
    return found


def _whole_span(change: OutlookChange, tracked: Tracked, event: Mapping[str, Any]) -> None:
    """An all-day meeting moved, or switched between all-day and timed: its whole span
    goes into `values` (Salesforce takes an all-day Event's dates together); all-day
    bounds as syncd keeps them, midnight UTC of the dates Outlook shows."""
    start, end = instant(event.get("start")), instant(event.get("end"))
    if start is None or end is None:
        return  # unreadable: the policy says the move is not synced
    all_day = bool(event.get("isAllDay"))
    if all_day:
        zones = outlook_all_day.zones_of(event, tracked.sent)
        start, end = outlook_all_day.span(start, end, zones)
        if tracked.sent.get("isAllDay"):
            # History shows the days moved, not the instants of midnights in a zone.
            before = outlook_all_day.zones_of({}, tracked.sent)
            for name, bound in (("start", start), ("end", end)):
                if name in change.fields:
                    old = instant(tracked.sent.get(name))
                    shown = outlook_all_day.day_of(old, before).isoformat() if old else None
                    change.fields[name] = [shown, bound.date().isoformat()]
    change.values.update(start=start, end=end, isAllDay=all_day)


def removal(tracked: Tracked) -> OutlookChange:
    """The meeting is gone from Outlook (reported removed, or absent from a full read)."""
    return OutlookChange(tracked.external_id, {ChangeKind.DELETED})


def classify(tracked: Tracked, event: Mapping[str, Any]) -> OutlookChange | None:
    """The changes of one meeting's event since syncd last wrote it; None: no change."""
    change = OutlookChange(
        tracked.external_id,
        modified_at=em.parse_graph_time(
            {"dateTime": str(event.get("lastModifiedDateTime") or "").rstrip("Z")}
        ),
        change_key=event.get("changeKey"),
    )
    if event.get("isCancelled"):
        change.kinds.add(ChangeKind.CANCELLED)
        return change
    observed = em.observed_content(event, tracked.sent)
    change.observed = observed
    for name in (*_MOVE_FIELDS, *_EDIT_FIELDS):
        if name not in tracked.sent or observed.get(name) == tracked.sent.get(name):
            continue
        have = event.get(name)
        if name in ("start", "end"):
            when = instant(have)
            if when is None:
                continue
            change.values[name] = when
        elif name == "body":
            change.values[name] = body_text(have)
        elif name == "location":
            change.values[name] = _location(have)
        elif name == "isAllDay":
            change.values[name] = bool(have)
        else:
            change.values[name] = str(have or "")
        change.fields[name] = [_shown(name, tracked.sent.get(name)), _shown(name, have)]
        change.kinds.add(ChangeKind.MOVED if name in _MOVE_FIELDS else ChangeKind.EDITED)
    if ChangeKind.MOVED in change.kinds and (event.get("isAllDay") or tracked.sent.get("isAllDay")):
        _whole_span(change, tracked, event)
    if "attendees" in tracked.sent and "attendees" in event:
        before, after = _addresses(tracked.sent.get("attendees")), _addresses(event["attendees"])
        change.added = sorted(after[a] for a in after.keys() - before.keys())
        change.removed = sorted(before[a] for a in before.keys() - after.keys())
        if change.added or change.removed:
            change.kinds.add(ChangeKind.ATTENDEES)
            change.fields["attendees"] = [sorted(before.values()), sorted(after.values())]
    stamp = event.get("transactionId")
    if tracked.transaction_id and "transactionId" in event and stamp != tracked.transaction_id:
        change.kinds.add(ChangeKind.STAMP_LOST)
        change.fields["transactionId"] = [tracked.transaction_id, stamp]
    if "attendees" in event:
        responses = em.attendee_responses(event)
        if responses != dict(tracked.responses):
            change.responses = responses
            change.kinds.add(ChangeKind.ANSWERS)
    return change if change.kinds else None
