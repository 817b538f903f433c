"""What each write-back field needs from the org: object, type family, length, updateable.

syncd writes these fields (README "What is written back"); an org whose field is
missing, of another type, too short or read-only for the integration user refuses
the write record by record. `syncd doctor` compares them with the org's describe
(`type`, `length`, `updateable`:
https://developer.salesforce.com/docs/atlas.en-us.api.meta/api/sforce_api_calls_describesobjects_describesobjectresult.htm).
Minimum lengths follow what syncd writes: its own limits where it cuts a value
(syncd.sync.writeback), otherwise the longest value seen (assumed, marked so).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from syncd.config import FieldMapping

#: The longest Sync_Error__c and availability snapshot the write-back sends (it cuts
#: them there: syncd.sync.writeback; a test keeps the two in step, without this layer
#: importing the sync layer).
MAX_ERROR_CHARS = 255
MAX_SNAPSHOT_CHARS = 100_000

_TEXT = frozenset({"string", "textarea"})


@dataclass(frozen=True)
class FieldRequirement:
    """One field syncd writes: where, which describe types fit, how long it must be."""

    sobject: str
    key: str  # the tenant's mapping key, e.g. "outlook_event_id"
    name: str  # the field's API name in this org
    types: frozenset[str]
    min_length: int | None  # None: no length (datetime, picklist values are checked elsewhere)
    what: str  # how an administrator would create it, e.g. "Text(255)"

    def problems(self, described: Mapping[str, Any] | None) -> list[str]:
        """Why the described field does not fit (empty: it fits)."""
        if described is None:
            return [f"{self.sobject}.{self.name} does not exist"]
        found: list[str] = []
        kind = str(described.get("type"))
        if kind not in self.types:
            found.append(
                f"{self.sobject}.{self.name} is of type {kind}, syncd needs one of "
                f"{', '.join(sorted(self.types))}"
            )
        length = described.get("length")
        if (
            self.min_length is not None
            and kind in self.types
            and isinstance(length, int)
            and length < self.min_length
        ):
            found.append(
                f"{self.sobject}.{self.name} holds {length} characters, syncd writes up to "
                f"{self.min_length}"
            )
        if not described.get("updateable"):
            found.append(f"{self.sobject}.{self.name} is not updateable by the integration user")
        return found


def _event(key: str, name: str, types: frozenset[str], length: int | None, what: str) -> Any:
    return FieldRequirement("Event", key, name, types, length, what)


def requirements(fields: FieldMapping) -> list[FieldRequirement]:
    """The fields this tenant's mapping writes (a name set to "" is not written)."""
    event = fields.event
    wanted = [
        # Graph event ids run to ~150 characters; 255 leaves room (assumed).
        _event("outlook_event_id", event.outlook_event_id, _TEXT, 255, "Text(255)"),
        # "Cancelled" is the longest status syncd writes.
        _event("sync_status", event.sync_status, _TEXT | {"picklist"}, 9, "Text(40) or a picklist"),
        _event("sync_error", event.sync_error, _TEXT, MAX_ERROR_CHARS, "Text(255) or longer"),
        # Teams join links run to several hundred characters (assumed).
        _event(
            "teams_join_url",
            event.teams_join_url,
            _TEXT | {"url"},
            1024,
            "Long Text Area(1024) or URL",
        ),
        _event("synced_at", event.synced_at, frozenset({"datetime"}), None, "Date/Time"),
        # One "status: address" pair per invitee (assumed: 255 covers a few invitees).
        _event(
            "responses_summary",
            event.responses_summary,
            _TEXT,
            255,
            "Long Text Area(32768)",
        ),
        FieldRequirement(
            "User",
            "availability_snapshot",
            fields.user.availability_snapshot,
            _TEXT,
            MAX_SNAPSHOT_CHARS,
            f"Long Text Area({MAX_SNAPSHOT_CHARS} or more)",
        ),
    ]
    found = [r for r in wanted if r.name]
    if fields.event_relation_status:
        found += [
            FieldRequirement(
                "EventRelation",
                "event_relation_status",
                "Status",
                frozenset({"picklist"}),
                None,
                "standard picklist",
            ),
            FieldRequirement(
                "EventRelation",
                "event_relation_status",
                "RespondedDate",
                frozenset({"datetime"}),
                None,
                "standard Date/Time",
            ),
        ]
    return found


def field_of(describe: Mapping[str, Any], name: str) -> Mapping[str, Any] | None:
    """The describe entry of field `name` (API names are case-insensitive)."""
    wanted = name.lower()
    for entry in describe.get("fields") or []:
        if str(entry.get("name", "")).lower() == wanted:
            return entry
    return None
