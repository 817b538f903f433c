"""Teams cannot be switched off in Outlook once on; syncd, its ledger and the write-back
say what Outlook shows.

"After you set isOnlineMeeting to true, Microsoft Graph initializes onlineMeeting.
Subsequently Outlook ignores any further changes to isOnlineMeeting, and the meeting
remains available online" (https://learn.microsoft.com/graph/api/resources/event).
The sandbox behaves so; syncd's policy: when "MS Teams" leaves the Salesforce location,
the new location is sent, isOnlineMeeting=false is not, and the join link stays.
"""

from __future__ import annotations

import logging

import pytest

from .conftest import COLLEAGUE, EVENT_ROUTE, ORGANIZER, World


def test_removing_ms_teams_keeps_the_teams_link_everywhere(
    world: World, caplog: pytest.LogCaptureFixture
) -> None:
    service = world.service()
    event_id = world.create_event(location="MS Teams", invitees=[COLLEAGUE])
    service.poll()
    graph_id = world.org.record(event_id)["Outlook_Event_Id__c"]
    join_url = world.outlook_event(ORGANIZER, graph_id).join_url
    assert join_url and world.org.record(event_id)["Teams_Join_Url__c"] == join_url
    patches = len(world.graph_log("PATCH", EVENT_ROUTE))

    world.org.update_event(event_id, Location="Room 4")
    with caplog.at_level(logging.INFO, logger="syncd.sync.executor"):
        report = service.poll()

    assert report.counts["update"] == 1 and report.failures == []
    (patch,) = world.graph_log("PATCH", EVENT_ROUTE)[patches:]
    assert patch.body == {"location": {"displayName": "Room 4"}}  # no isOnlineMeeting=false
    meeting = world.outlook_event(ORGANIZER, graph_id)
    assert meeting.location["displayName"] == "Room 4"
    assert meeting.is_online_meeting and meeting.join_url == join_url
    record = world.record(event_id)
    assert record.join_url == join_url
    assert record.sent["isOnlineMeeting"] is True  # the ledger says what Outlook shows
    assert record.sent["onlineMeetingProvider"] == "teamsForBusiness"
    written = world.org.record(event_id)
    assert written["Sync_Status__c"] == "Synced" and written["Teams_Join_Url__c"] == join_url
    assert any("stays a Teams meeting" in r.getMessage() for r in caplog.records)

    # Nothing left to do: the next poll re-reads the Event (its write-back stamped it)
    # and neither PATCHes Outlook nor writes Salesforce again.
    calls, writes = world.graph_calls(), world.sf_state.counters.records_written
    again = service.poll()
    assert again.counts["update"] == 0 and again.failures == []
    assert world.graph_calls() == calls
    assert world.sf_state.counters.records_written == writes

    # The meeting is still online, so a new description keeps the join block in the body.
    world.org.update_event(event_id, Description="New agenda")
    service.poll()
    body = world.graph_log("PATCH", EVENT_ROUTE)[-1].body
    assert set(body) == {"body"}
    assert body["body"]["content"] == f"New agenda\n\nJoin Microsoft Teams meeting: {join_url}"
    assert world.org.record(event_id)["Teams_Join_Url__c"] == join_url

    # "MS Teams" back in the location: Outlook is online already, nothing but the
    # location changes.
    world.org.update_event(event_id, Location="MS Teams")
    service.poll()
    assert world.graph_log("PATCH", EVENT_ROUTE)[-1].body == {
        "location": {"displayName": "MS Teams"}
    }
    assert world.outlook_event(ORGANIZER, graph_id).join_url == join_url
