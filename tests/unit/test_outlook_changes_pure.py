"""The pure parts of watching Outlook: classifying an event against the ledger, the
policy's decisions, and the delta link's window rule."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from syncd.core import event_mapping as em
from syncd.domain import Attendee, Meeting
from syncd.ledger.delta_links import StoredLink, covers, fresh_window
from syncd.sync.outlook_classify import ChangeKind, Tracked, body_text, classify, removal
from syncd.sync.outlook_policy import Move, SalesforceSide, decide

START = datetime(2026, 3, 2, 14, 0, tzinfo=UTC)
ORGANIZER = "olivia@contoso.example"
GUEST = "carl@contoso.example"


def meeting(**changes: Any) -> Meeting:
    values: dict[str, Any] = {
        "external_id": "00U1",
        "organizer_email": ORGANIZER,
        "subject": "Review",
        "body": "Agenda",
        "location": "Room 1",
        "start": START,
        "end": START + timedelta(hours=1),
        "attendees": (Attendee(GUEST),),
    }
    values.update(changes)
    return Meeting(**values)


def sent() -> dict[str, Any]:
    return em.event_content(meeting(), teams_keyword="MS Teams")


def tracked(**changes: Any) -> Tracked:
    responses = {GUEST: {"response": "NoResponseReceived", "time": None}}
    return Tracked("00U1", sent(), changes.pop("responses", responses), **changes)


def outlook(**changes: Any) -> dict[str, Any]:
    """The event as Outlook renders it (UTC times with fractions, HTML-free text body)."""
    event = dict(sent())
    event.update(
        id="AAMk1",
        changeKey="ck2",
        lastModifiedDateTime="2026-03-01T10:00:00.1234567Z",
        start={"dateTime": "2026-03-02T14:00:00.0000000", "timeZone": "UTC"},
        end={"dateTime": "2026-03-02T15:00:00.0000000", "timeZone": "UTC"},
        attendees=[
            {
                "emailAddress": {"address": GUEST},
                "type": "required",
                "status": {"response": "none", "time": "0001-01-01T00:00:00Z"},
            }
        ],
        isCancelled=False,
    )
    event.update(changes)
    return event


# ---------------------------------------------------------------------- classify


def test_the_event_as_syncd_wrote_it_is_no_change() -> None:
    assert classify(tracked(), outlook()) is None


def test_a_new_change_key_alone_is_no_change() -> None:
    assert classify(tracked(), outlook(changeKey="ck9")) is None


def test_an_html_body_with_the_same_text_is_no_change() -> None:
    body = {"contentType": "html", "content": "<html><body><p>Agenda</p></body></html>"}
    assert classify(tracked(), outlook(body=body)) is None


def test_a_move_is_classified_with_old_and_new_times() -> None:
    later = {"dateTime": "2026-03-03T09:00:00.0000000", "timeZone": "UTC"}
    change = classify(tracked(), outlook(start=later))
    assert change is not None and change.kinds == {ChangeKind.MOVED}
    assert change.fields == {"start": ["2026-03-02T14:00:00Z", "2026-03-03T09:00:00Z"]}
    assert change.values == {"start": datetime(2026, 3, 3, 9, 0, tzinfo=UTC)}


def test_the_same_instant_in_another_zone_is_no_move() -> None:
    berlin = {"dateTime": "2026-03-02T15:00:00", "timeZone": "W. Europe Standard Time"}
    assert classify(tracked(), outlook(start=berlin)) is None


def test_edits_of_subject_location_and_body() -> None:
    change = classify(
        tracked(),
        outlook(
            subject="Renamed",
            location={"displayName": "Room 2"},
            body={"contentType": "html", "content": "<p>New &amp; improved</p>"},
        ),
    )
    assert change is not None and change.kinds == {ChangeKind.EDITED}
    assert change.values == {"subject": "Renamed", "location": "Room 2", "body": "New & improved"}


def test_attendees_added_and_removed() -> None:
    attendees = [{"emailAddress": {"address": "cora@contoso.example"}, "type": "required"}]
    change = classify(tracked(), outlook(attendees=attendees))
    assert change is not None and ChangeKind.ATTENDEES in change.kinds
    assert change.added == ["cora@contoso.example"] and change.removed == [GUEST]


def test_an_answer_is_classified_as_answers_only() -> None:
    answered = outlook()
    answered["attendees"][0]["status"] = {"response": "accepted", "time": "2026-03-01T10:00:00Z"}
    change = classify(tracked(), answered)
    assert change is not None and change.kinds == {ChangeKind.ANSWERS} and not change.drift
    assert change.responses is not None and change.responses[GUEST]["response"] == "Accepted"


def test_cancelled_by_the_organizer() -> None:
    change = classify(tracked(), outlook(isCancelled=True))
    assert change is not None and change.kinds == {ChangeKind.CANCELLED} and change.gone


def test_a_lost_transaction_id_is_a_lost_stamp() -> None:
    change = classify(tracked(transaction_id="txn-1"), outlook(transactionId=None))
    assert change is not None and ChangeKind.STAMP_LOST in change.kinds
    assert classify(tracked(transaction_id="txn-1"), outlook(transactionId="txn-1")) is None
    # delta may leave transactionId out: absence says nothing
    assert classify(tracked(transaction_id="txn-1"), outlook()) is None


def test_removal_is_a_deletion() -> None:
    change = removal(tracked())
    assert change.kinds == {ChangeKind.DELETED} and change.gone


def test_body_text_cuts_the_teams_block() -> None:
    body = {
        "contentType": "html",
        "content": "<p>Agenda<br>Line two</p><p>________________</p><p>Join Microsoft Teams</p>",
    }
    assert body_text(body) == "Agenda\nLine two"
    plain = {"contentType": "text", "content": "Agenda\n\nJoin Microsoft Teams meeting: https://x"}
    assert body_text(plain) == "Agenda"


# ------------------------------------------------------------------------ policy


def moved(modified: str = "2026-03-01T10:00:00.0000000Z") -> Any:
    later = {"dateTime": "2026-03-03T09:00:00", "timeZone": "UTC"}
    change = classify(tracked(), outlook(start=later, lastModifiedDateTime=modified))
    assert change is not None
    return change


def test_two_way_writes_the_move_to_the_event() -> None:
    decision = decide(moved(), policy="two_way")
    assert decision.move is Move.FOLLOW and decision.base == "ledger"
    assert decision.event_fields == {"StartDateTime": "2026-03-03T09:00:00Z"}
    assert decision.status == "Synced" and decision.winner is None


def test_salesforce_wins_puts_outlook_back_and_writes_nothing_to_salesforce() -> None:
    decision = decide(moved(), policy="salesforce_wins")
    assert decision.move is Move.RESTORE and decision.event_fields == {}
    assert decision.status is None


def test_report_records_and_marks_only() -> None:
    decision = decide(moved(), policy="report")
    assert decision.move is Move.RECORD and decision.event_fields == {}
    assert decision.status == "Outlook differs" and "start" in (decision.error or "")


@pytest.mark.parametrize(
    ("policy", "deletion", "status", "deleted"),
    [
        ("two_way", "mark", "Deleted in Outlook", False),
        ("two_way", "delete_event", None, True),
        ("salesforce_wins", "delete_event", "Deleted in Outlook", False),
        ("report", "mark", "Outlook differs", False),
    ],
)
def test_deletions_by_policy(policy: str, deletion: str, status: str | None, deleted: bool) -> None:
    decision = decide(removal(tracked()), policy=policy, deletion=deletion)
    assert decision.move is Move.GONE and not decision.again
    assert decision.status == status and decision.delete_event is deleted


def test_a_deletion_against_an_event_edited_since_makes_the_meeting_again() -> None:
    side = SalesforceSide(changed=True, modified_at=START)
    decision = decide(
        removal(tracked()), policy="two_way", deletion="delete_event", salesforce=side
    )
    assert decision.again and not decision.delete_event and decision.status is None


def test_a_conflict_goes_to_the_later_change() -> None:
    salesforce_at = datetime(2026, 3, 1, 10, 0, 30, tzinfo=UTC)
    side = SalesforceSide(True, salesforce_at, {"start": "2026-03-02T16:00:00Z"})

    outlook_later = decide(moved("2026-03-01T10:01:00Z"), policy="two_way", salesforce=side)
    assert outlook_later.winner == "outlook" and outlook_later.base == "salesforce"
    assert outlook_later.lost == {"start": ["2026-03-02T16:00:00Z", "2026-03-03T09:00:00Z"]}
    assert outlook_later.event_fields == {"StartDateTime": "2026-03-03T09:00:00Z"}

    salesforce_later = decide(moved("2026-03-01T10:00:00Z"), policy="two_way", salesforce=side)
    assert salesforce_later.winner == "salesforce" and salesforce_later.event_fields == {}
    assert salesforce_later.lost == {"start": ["2026-03-03T09:00:00Z", "2026-03-02T16:00:00Z"]}


def test_an_event_already_holding_outlooks_change_is_no_conflict_and_no_second_write() -> None:
    # Salesforce's stamp is the later one (syncd's own write of Outlook's values, whose
    # run ended before the ledger took them): the values agree, so nothing is in conflict.
    salesforce_at = datetime(2026, 3, 1, 10, 5, tzinfo=UTC)
    side = SalesforceSide(True, salesforce_at, {"start": "2026-03-03T09:00:00Z"})

    decision = decide(moved("2026-03-01T10:00:00Z"), policy="two_way", salesforce=side)

    assert decision.move is Move.FOLLOW and decision.winner is None and decision.lost == {}
    assert decision.event_fields == {} and decision.base == "salesforce"
    assert decision.status == "Synced"


def test_two_way_leaves_attendees_to_the_report() -> None:
    attendees = [{"emailAddress": {"address": "cora@contoso.example"}, "type": "required"}]
    change = classify(tracked(), outlook(attendees=attendees))
    assert change is not None
    decision = decide(change, policy="two_way")
    assert decision.move is Move.RECORD and decision.status == "Outlook differs"
    assert "+cora@contoso.example" in (decision.error or "")
    # All-day moves are written: tests/unit/test_outlook_all_day_pure.py


# ---------------------------------------------------------------- delta links


def test_a_link_lasts_until_the_next_utc_midnight() -> None:
    now = datetime(2026, 3, 2, 13, 30, tzinfo=UTC)
    start, end = fresh_window(now, 7, 180)
    assert start == datetime(2026, 2, 22, tzinfo=UTC)
    assert end == datetime(2026, 8, 30, tzinfo=UTC)
    link = StoredLink("a@x", "https://graph/link", start, end)
    assert covers(link, now, 7, 180)
    assert covers(link, datetime(2026, 3, 3, 0, 0, tzinfo=UTC), 7, 180)
    assert not covers(link, datetime(2026, 3, 3, 0, 0, 1, tzinfo=UTC), 7, 180)


# ------------------------------------------------------------------------ config


def test_the_policy_keys_are_validated_with_the_allowed_values() -> None:
    from pydantic import ValidationError

    from syncd.config import TenantConfig

    base = {"name": "t", "provider": "sandbox", "mail_domains": ["contoso.example"]}
    tenant = TenantConfig.model_validate(base)
    assert (tenant.policy.outlook_changes, tenant.policy.outlook_deletion) == ("two_way", "mark")
    with pytest.raises(ValidationError) as refused:
        TenantConfig.model_validate({**base, "policy": {"outlook_changes": "outlook_wins"}})
    assert "'two_way', 'salesforce_wins' or 'report'" in str(refused.value)
    with pytest.raises(ValidationError):
        TenantConfig.model_validate({**base, "policy": {"outlook_deletion": "delete"}})


def test_the_sweep_runs_at_outlook_seconds_else_at_responses_seconds() -> None:
    from syncd.config.tenant import Schedules

    assert Schedules().sweep_seconds == 300
    assert Schedules(responses_seconds=120).sweep_seconds == 120
    assert Schedules(responses_seconds=120, outlook_seconds=60).sweep_seconds == 60
