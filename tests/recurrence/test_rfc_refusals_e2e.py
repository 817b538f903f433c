"""Lightning series whose RFC 5545 meaning Outlook cannot hold, end to end: the series is
recorded failed, the reason is in the ledger and in Sync_Error__c, and nothing of it
reaches Outlook. The Salesforce sandbox makes each series' occurrences by RFC 5545
(python-dateutil), so the occurrences in the org are the ones Outlook would have got wrong.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from syncd.sandbox.salesforce.recurrence import create_lightning_series

from .conftest import COLLEAGUE, EVENTS_ROUTE, ORGANIZER, World

BERLIN = ZoneInfo("Europe/Berlin")


def _next(world: World, fits, hour: int = 10) -> datetime:
    """The first day after the sandbox's today that `fits`, at `hour` in Berlin."""
    day = world.now().astimezone(BERLIN).date() + timedelta(days=1)
    while not fits(day):
        day += timedelta(days=1)
    return datetime.combine(day, datetime.min.time(), tzinfo=BERLIN).replace(hour=hour)


def test_rules_outlook_would_read_differently_fail_with_the_reason(world: World) -> None:
    first_monday = _next(world, lambda d: d.weekday() == 0 and d.day <= 7)
    # The next 31st that a 30-day month or February follows.
    day_31 = _next(world, lambda d: d.day == 31 and d.month not in (7, 12))
    cases = {
        "RRULE:FREQ=MONTHLY;BYDAY=1MO,1TU;COUNT=4": (first_monday, "one occurrence per listed"),
        "RRULE:FREQ=MONTHLY;BYMONTHDAY=31;COUNT=3": (day_31, "day 31 of the month does not"),
    }
    masters = {}
    for text, (first, reason) in cases.items():
        series = create_lightning_series(
            world.org,
            ORGANIZER,
            first,
            timedelta(minutes=30),
            rrule=text,
            time_zone="Europe/Berlin",
            subject="Month review",
            invitees=[COLLEAGUE],
        )
        # The org holds the RFC's occurrences: two a month, and none in the short month.
        starts = sorted(world.sf(o)["StartDateTime"] for o in series.occurrences)
        months = [(s.year, s.month) for s in starts]
        if "1MO,1TU" in text:
            assert len(set(months)) < len(months)
        else:
            assert {s.astimezone(BERLIN).day for s in starts} == {31}
        masters[series.master] = (text, reason)

    report = world.service().poll()

    assert world.graph_log("POST", EVENTS_ROUTE) == []
    assert {event_id for event_id, _ in report.failures} == set(masters)
    for master_id, (text, reason) in masters.items():
        record = world.record(master_id)
        assert record.status == "failed"
        assert reason in (record.last_error_message or "")
        salesforce = world.sf(master_id)
        assert salesforce["Sync_Status__c"] == "Failed"
        assert reason in salesforce["Sync_Error__c"] and text[6:30] in salesforce["Sync_Error__c"]
    assert world.calendar(ORGANIZER) == []
