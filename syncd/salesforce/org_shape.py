"""Which optional Event and EventRelation fields an org has, read from describe (pure).

Orgs differ in ways that change what SOQL may name; a query naming a field the org does
not have fails whole with INVALID_FIELD. Two matter to the sync:

- Shared Activities: "IsInvitee is visible when Shared Activities is enabled" (IsParent
  and IsWhat likewise); without it "EventRelation records only represent invitees"
  (https://developer.salesforce.com/docs/atlas.en-us.object_reference.meta/object_reference/sforce_api_objects_eventrelation.htm).
- The Lightning series link: Event.ActivityRecurrence2Id, shared by a series record
  (GroupEventType 3) and its occurrences
  (https://developer.salesforce.com/docs/platform/change-data-capture/guide/cdc-standard-objects-task-event-recurring.html),
  is on the Event object from API 65.0.

SObject Describe: https://developer.salesforce.com/docs/atlas.en-us.api_rest.meta/api_rest/resources_sobject_describe.htm
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

#: Event fields the sync reads only when the org has them.
OPTIONAL_EVENT_FIELDS = ("GroupEventType", "ActivityRecurrence2Id")


@dataclass(frozen=True)
class OrgShape:
    """The optional fields present in one org at syncd's API version."""

    event_fields: frozenset[str]
    relation_fields: frozenset[str]

    @property
    def shared_activities(self) -> bool:
        """EventRelation has IsInvitee (else every EventRelation row is an invitee)."""
        return "isinvitee" in self.relation_fields

    @property
    def series_link(self) -> bool:
        """Event has ActivityRecurrence2Id (Lightning occurrences find their series)."""
        return "activityrecurrence2id" in self.event_fields

    def optional_event_fields(self) -> tuple[str, ...]:
        """The OPTIONAL_EVENT_FIELDS this org has, to add to Event queries."""
        return tuple(f for f in OPTIONAL_EVENT_FIELDS if f.lower() in self.event_fields)


#: What syncd assumes when it cannot read describe (a port without it): every field.
FULL_SHAPE = OrgShape(
    event_fields=frozenset(f.lower() for f in OPTIONAL_EVENT_FIELDS),
    relation_fields=frozenset({"isinvitee", "isparent", "iswhat"}),
)


def field_names(describe: Mapping[str, Any]) -> frozenset[str]:
    """The lower-cased field names of an sObject Describe answer."""
    fields: Iterable[Any] = describe.get("fields") or []
    return frozenset(
        str(f["name"]).lower() for f in fields if isinstance(f, Mapping) and f.get("name")
    )


def read_shape(describe: Callable[[str], Mapping[str, Any]]) -> OrgShape:
    """The org's shape from `describe(sobject)` (two calls: Event and EventRelation)."""
    return OrgShape(
        event_fields=field_names(describe("Event")),
        relation_fields=field_names(describe("EventRelation")),
    )
