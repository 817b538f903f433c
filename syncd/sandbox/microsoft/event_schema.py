"""The property names of an event body, at every depth, as Graph v1.0 declares them.

Graph reads a request body against its type and refuses any property the type does not
declare with 400 RequestBodyRead, "The property 'x' does not exist on type
'Microsoft.OutlookServices.Event'. Make sure to only use property names that are defined
by the type or mark the type as open type." The same holds inside nested objects
('Microsoft.OutlookServices.EmailAddress', 'Microsoft.OutlookServices.PhysicalAddress',
'Microsoft.OutlookServices.Attendee'), as these reports show:
https://github.com/microsoftgraph/msgraph-sdk-javascript/issues/212 (event),
https://github.com/microsoftgraph/msgraph-sdk-java/issues/391 (event, PATCH),
https://github.com/microsoftgraph/msgraph-sdk-dotnet/issues/450 (emailAddress, physicalAddress),
https://github.com/microsoftgraph/microsoft-graph-docs/issues/6428 (attendee).
The other types' names in the message follow the same pattern (assumed).

The tables below are Microsoft's published v1.0 metadata (msgraph-metadata,
clean_v10_metadata/cleanMetadata.xml); tests/sandbox/test_event_schema.py holds them
equal to the extracted copy in tests/data/graph-v1.0-event-schema.xml. Names match
case-insensitively, as in the rest of the sandbox's body reading.
"""

from __future__ import annotations

from typing import Any

from syncd.sandbox.microsoft.errors import GraphError

#: Per type: property name -> the type of its value where that is an object the sandbox
#: looks into (a complex type, or an entity written inline), else None.
BODY_TYPES: dict[str, dict[str, str | None]] = {
    "event": {
        # entity, outlookItem
        "id": None,
        "categories": None,
        "changeKey": None,
        "createdDateTime": None,
        "lastModifiedDateTime": None,
        # event
        "allowNewTimeProposals": None,
        "attendees": "attendee",
        "body": "itemBody",
        "bodyPreview": None,
        "cancelledOccurrences": None,
        "end": "dateTimeTimeZone",
        "hasAttachments": None,
        "hideAttendees": None,
        "iCalUId": None,
        "importance": None,
        "isAllDay": None,
        "isCancelled": None,
        "isDraft": None,
        "isOnlineMeeting": None,
        "isOrganizer": None,
        "isReminderOn": None,
        "location": "location",
        "locations": "location",
        "onlineMeeting": "onlineMeetingInfo",
        "onlineMeetingProvider": None,
        "onlineMeetingUrl": None,
        "organizer": "recipient",
        "originalEndTimeZone": None,
        "originalStart": None,
        "originalStartTimeZone": None,
        "recurrence": "patternedRecurrence",
        "reminderMinutesBeforeStart": None,
        "responseRequested": None,
        "responseStatus": "responseStatus",
        "sensitivity": None,
        "seriesMasterId": None,
        "showAs": None,
        "start": "dateTimeTimeZone",
        "subject": None,
        "transactionId": None,
        "type": None,
        "webLink": None,
        # navigation properties (attachments, extensions, calendar, instances and
        # exceptionOccurrences are accepted and not modelled by the sandbox)
        "attachments": None,
        "calendar": None,
        "exceptionOccurrences": None,
        "extensions": None,
        "instances": None,
        "multiValueExtendedProperties": "multiValueLegacyExtendedProperty",
        "singleValueExtendedProperties": "singleValueLegacyExtendedProperty",
    },
    "itemBody": {"content": None, "contentType": None},
    "dateTimeTimeZone": {"dateTime": None, "timeZone": None},
    "location": {
        "address": "physicalAddress",
        "coordinates": "outlookGeoCoordinates",
        "displayName": None,
        "locationEmailAddress": None,
        "locationType": None,
        "locationUri": None,
        "uniqueId": None,
        "uniqueIdType": None,
    },
    "physicalAddress": {
        "city": None,
        "countryOrRegion": None,
        "postalCode": None,
        "state": None,
        "street": None,
    },
    "outlookGeoCoordinates": {
        "accuracy": None,
        "altitude": None,
        "altitudeAccuracy": None,
        "latitude": None,
        "longitude": None,
    },
    # attendee <- attendeeBase <- recipient
    "attendee": {
        "emailAddress": "emailAddress",
        "type": None,
        "proposedNewTime": "timeSlot",
        "status": "responseStatus",
    },
    "recipient": {"emailAddress": "emailAddress"},
    "emailAddress": {"address": None, "name": None},
    "responseStatus": {"response": None, "time": None},
    "timeSlot": {"end": "dateTimeTimeZone", "start": "dateTimeTimeZone"},
    "patternedRecurrence": {"pattern": "recurrencePattern", "range": "recurrenceRange"},
    "recurrencePattern": {
        "dayOfMonth": None,
        "daysOfWeek": None,
        "firstDayOfWeek": None,
        "index": None,
        "interval": None,
        "month": None,
        "type": None,
    },
    "recurrenceRange": {
        "endDate": None,
        "numberOfOccurrences": None,
        "recurrenceTimeZone": None,
        "startDate": None,
        "type": None,
    },
    "onlineMeetingInfo": {
        "conferenceId": None,
        "joinUrl": None,
        "phones": "phone",
        "quickDial": None,
        "tollFreeNumbers": None,
        "tollNumber": None,
    },
    "phone": {"language": None, "number": None, "region": None, "type": None},
    # entities written inline; `id` comes from entity
    "singleValueLegacyExtendedProperty": {"id": None, "value": None},
    "multiValueLegacyExtendedProperty": {"id": None, "value": None},
}

_LOWERED = {
    type_name: {name.lower(): target for name, target in properties.items()}
    for type_name, properties in BODY_TYPES.items()
}


def unknown_property(name: str, type_name: str) -> GraphError:
    """Graph's answer to a property its type does not declare."""
    outlook_type = "Microsoft.OutlookServices." + type_name[:1].upper() + type_name[1:]
    return GraphError(
        400,
        "RequestBodyRead",
        f"The property '{name}' does not exist on type '{outlook_type}'. Make sure to only "
        "use property names that are defined by the type or mark the type as open type.",
    )


def check_names(value: Any, type_name: str) -> None:
    """Raise Graph's 400 for the first property `value` (a body of `type_name`, or a list
    of them) names that the type does not declare, looking into nested objects too.

    Annotations (`@odata.type`, `name@odata.type`) are not properties. Values of the
    wrong shape are left to the typed reading that follows.
    """
    if isinstance(value, list):
        for item in value:
            check_names(item, type_name)
        return
    if not isinstance(value, dict):
        return
    known = _LOWERED[type_name]
    for raw_name, item in value.items():
        name = str(raw_name)
        if name.startswith("@"):
            continue
        declared = name.partition("@")[0].lower()
        if declared not in known:
            raise unknown_property(name.partition("@")[0], type_name)
        target = known[declared]
        if target is not None and "@" not in name:
            check_names(item, target)
