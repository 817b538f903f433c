"""The client's pure parts: OData quoting, getSchedule splitting and merging, Retry-After,
the retry budget, the mailbox limiter and batch envelopes."""

from __future__ import annotations

import threading
import time
from datetime import UTC, datetime, timedelta
from itertools import pairwise

import pytest

from syncd.graph import odata, schedule
from syncd.graph.batch import GraphRequest, answers, envelope
from syncd.graph.limits import MailboxLimiter
from syncd.graph.retry import RetryBudget, parse_retry_after


def test_odata_literal_doubles_single_quotes() -> None:
    assert odata.literal("O'Brien's") == "'O''Brien''s'"


def test_segments_keep_at_and_padding_but_escape_the_rest() -> None:
    assert odata.event_path("a+b@x.com", "AAMk/x=") == "/users/a%2Bb@x.com/events/AAMk%2Fx="


@pytest.mark.parametrize("interval", [5, 7, 30, 60, 1440])
def test_periods_are_under_62_days_whole_intervals_and_contiguous(interval: int) -> None:
    start = datetime(2025, 1, 1, 8, 0, tzinfo=UTC)
    end = start + timedelta(days=200, minutes=13)

    periods = schedule.split_period(start, end, interval)

    assert periods[0][0] == start and periods[-1][1] == end
    for (a_start, a_end), (b_start, _) in pairwise(periods):
        assert a_end == b_start
        assert a_end - a_start < timedelta(days=62)
        assert (a_end - a_start) % timedelta(minutes=interval) == timedelta(0)


def test_address_chunks_drop_case_insensitive_repeats() -> None:
    addresses = [f"u{n}@x.com" for n in range(25)] + ["U3@X.com"]
    chunks = schedule.address_chunks(addresses)
    assert [len(c) for c in chunks] == [20, 5]


def test_merge_keeps_period_order_and_drops_straddling_duplicates() -> None:
    straddling = {
        "status": "busy",
        "start": {"dateTime": "2025-03-03T23:00:00.0000000", "timeZone": "UTC"},
        "end": {"dateTime": "2025-03-04T01:00:00.0000000", "timeZone": "UTC"},
    }
    later = {**straddling, "start": {"dateTime": "2025-03-05T09:00:00.0000000", "timeZone": "UTC"}}
    parts = [
        {"scheduleId": "a@x.com", "availabilityView": "02", "scheduleItems": [straddling]},
        {"scheduleId": "a@x.com", "availabilityView": "20", "scheduleItems": [later, straddling]},
    ]

    merged = schedule.merge_periods("a@x.com", parts)

    assert merged["availabilityView"] == "0220"
    assert merged["scheduleItems"] == [straddling, later]


def test_answers_matched_by_schedule_id_then_position() -> None:
    values = [
        {"scheduleId": "B@x.com", "availabilityView": "2"},
        {"scheduleId": "a@x.com", "availabilityView": "0"},
    ]
    matched = schedule.match_answers(["a@x.com", "b@x.com"], values)
    assert matched["a@x.com"]["availabilityView"] == "0"
    assert matched["b@x.com"]["availabilityView"] == "2"
    assert "error" in schedule.match_answers(["c@x.com"], [])["c@x.com"]


def test_retry_after_seconds_fractions_and_dates() -> None:
    now = datetime(2025, 1, 1, 12, 0, 0, tzinfo=UTC)
    assert parse_retry_after("10") == 10.0
    assert parse_retry_after("2.128") == 2.128
    assert parse_retry_after("Wed, 01 Jan 2025 12:00:30 GMT", now) == 30.0
    assert parse_retry_after("Wed, 01 Jan 2025 11:00:00 GMT", now) == 0.0
    assert parse_retry_after("soon") is None
    assert parse_retry_after(None) is None


def test_budget_counts_retries_and_waiting() -> None:
    budget = RetryBudget(max_retries=2, max_wait_seconds=10)
    assert budget.next_wait(4.0) == (True, 4.0)
    budget.spend(4.0)
    assert budget.next_wait(7.0) == (False, 7.0)  # 4 + 7 > 10
    assert budget.next_wait(6.0) == (True, 6.0)
    budget.spend(6.0)
    assert budget.next_wait(0.0) == (False, 0.0)  # no retries left


def test_limiter_takes_slots_all_or_nothing() -> None:
    limiter = MailboxLimiter(limit=4)
    entered = threading.Event()

    with limiter.hold({"A@x.com": 3}):
        # needs 2 in A (only 1 free) and 1 in B: must wait without taking B's slot
        waiter = threading.Thread(
            target=lambda: _hold(limiter, {"a@x.com": 2, "b@x.com": 1}, entered)
        )
        waiter.start()
        time.sleep(0.05)
        assert not entered.is_set()
        assert limiter.in_flight("b@x.com") == 0
        with limiter.hold({"b@x.com": 4}):  # B is free for others meanwhile
            pass
    waiter.join(2)
    assert entered.is_set()
    assert limiter.in_flight("a@x.com") == 0


def _hold(limiter: MailboxLimiter, demand: dict[str | None, int], entered: threading.Event) -> None:
    with limiter.hold(demand):
        entered.set()


def test_envelope_numbers_requests_and_adds_content_type_for_bodies() -> None:
    body = envelope(
        [
            GraphRequest("get", "/users/a@x.com/events/1"),
            GraphRequest("POST", "/users/a@x.com/calendar/getSchedule", body={"schedules": []}),
        ]
    )
    assert body == {
        "requests": [
            {"id": "1", "method": "GET", "url": "/users/a@x.com/events/1"},
            {
                "id": "2",
                "method": "POST",
                "url": "/users/a@x.com/calendar/getSchedule",
                "body": {"schedules": []},
                "headers": {"Content-Type": "application/json"},
            },
        ]
    }
    replies = answers({"responses": [{"id": "2", "status": 200, "headers": {"X-A": "1"}}]}, 2)
    assert replies[0] is None
    assert replies[1] is not None and replies[1].headers == {"x-a": "1"}
