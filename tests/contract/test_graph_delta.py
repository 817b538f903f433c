"""The calendarView delta contract: what a round reports, on every backend.

MemoryGraph and GraphClient against the sandbox (and, opt-in, a real tenant) must
agree: a first round reads the window, the next one the events changed since and the
ids of those that left it, an expired link reads the window afresh, and one mailbox's
failure leaves the others' rounds alone (https://learn.microsoft.com/graph/api/event-delta).

Graph may report an event outside the window as removed, and may replay a change
(https://learn.microsoft.com/graph/delta-query-overview, "Replays"); on a real tenant
the sets are checked to hold what is expected, elsewhere to be exactly that.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import timedelta

import pytest

from syncd.domain import ErrorCode
from syncd.graph.delta import DeltaRequest, DeltaResult
from tests.contract.backends import GraphBackend
from tests.contract.test_graph_port import at, instant, payload, weekly

WINDOW = (at(20, hour=0), at(40, hour=0))


def one_round(graph: GraphBackend, link: str | None = None) -> DeltaResult:
    (result,) = graph.port.calendar_view_delta(
        [DeltaRequest(graph.organizer, *WINDOW, delta_link=link)]
    )
    assert result.error is None, result.error
    assert result.delta_link
    return result


def holds(graph: GraphBackend, found: Iterable[str], expected: Iterable[str]) -> None:
    found, expected = set(found), set(expected)
    if graph.name == "real":
        assert expected <= found
    else:
        assert found == expected


def test_a_first_round_reads_the_window_and_the_next_one_only_what_changed(
    graph: GraphBackend,
) -> None:
    inside = [graph.create(graph.organizer, payload(graph, f"in{n}", at(21 + n))) for n in range(3)]
    graph.create(graph.organizer, payload(graph, "after", at(45)))

    first = one_round(graph)

    assert first.full_read and not first.expired and first.requests >= 1
    holds(graph, (e["id"] for e in first.changed), (e["id"] for e in inside))
    assert first.removed == [] or graph.name == "real"
    by_id = {e["id"]: e for e in first.changed}
    assert instant(by_id[inside[0]["id"]]["start"]) == at(21)
    assert by_id[inside[0]["id"]]["start"]["timeZone"] == "UTC"

    quiet = one_round(graph, first.delta_link)
    assert not quiet.full_read
    holds(graph, (e["id"] for e in quiet.changed), [])


def test_organizer_edits_show_as_changes_and_what_left_the_window_as_removed(
    graph: GraphBackend,
) -> None:
    made = {n: graph.create(graph.organizer, payload(graph, n, at(22 + i))) for i, n in
            enumerate(("renamed", "moved", "out", "deleted", "cancelled", "kept"))}  # fmt: skip
    first = one_round(graph)
    ids = {n: e["id"] for n, e in made.items()}

    graph.port.update_event(graph.organizer, ids["renamed"], {"subject": "Renamed in Outlook"})
    moved = at(30, hour=16)
    graph.port.update_event(
        graph.organizer,
        ids["moved"],
        {
            "start": {"dateTime": moved.strftime("%Y-%m-%dT%H:%M:%S"), "timeZone": "UTC"},
            "end": {
                "dateTime": (moved + timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M:%S"),
                "timeZone": "UTC",
            },
        },
    )
    away = at(60)
    graph.port.update_event(
        graph.organizer,
        ids["out"],
        {
            "start": {"dateTime": away.strftime("%Y-%m-%dT%H:%M:%S"), "timeZone": "UTC"},
            "end": {
                "dateTime": (away + timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M:%S"),
                "timeZone": "UTC",
            },
        },
    )
    graph.port.delete_event(graph.organizer, ids["deleted"])
    graph.port.cancel_event(graph.organizer, ids["cancelled"], "Not needed")
    new = graph.create(graph.organizer, payload(graph, "new", at(35)))

    second = one_round(graph, first.delta_link)

    assert not second.full_read
    changed = {e["id"]: e for e in second.changed}
    holds(graph, changed, [ids["renamed"], ids["moved"], new["id"]])
    holds(graph, second.removed, [ids["out"], ids["deleted"], ids["cancelled"]])
    assert changed[ids["renamed"]]["subject"] == "Renamed in Outlook"
    assert instant(changed[ids["moved"]]["start"]) == moved
    assert changed[ids["moved"]]["changeKey"] != made["moved"]["changeKey"]


def test_a_series_reports_occurrences_and_one_cancelled_or_changed(graph: GraphBackend) -> None:
    start = at(25, hour=10)
    master = graph.create(
        graph.organizer, payload(graph, "series", start, recurrence=weekly(start, 3))
    )
    first = one_round(graph)
    occurrences = sorted(first.changed, key=lambda e: instant(e["start"]) or start)
    assert [instant(e["start"]) for e in occurrences] == [
        start + timedelta(weeks=n) for n in range(3)
    ]
    assert {e["type"] for e in occurrences} == {"occurrence"}
    assert master["id"] not in {e["id"] for e in first.changed}

    graph.port.cancel_event(graph.organizer, occurrences[0]["id"], "Skipping this one")
    graph.port.update_event(graph.organizer, occurrences[1]["id"], {"subject": "Just this one"})
    second = one_round(graph, first.delta_link)

    assert occurrences[0]["id"] in second.removed
    changed = {e["id"]: e for e in second.changed}
    assert changed[occurrences[1]["id"]]["type"] == "exception"
    assert changed[occurrences[1]["id"]]["subject"] == "Just this one"
    assert occurrences[0]["id"] not in changed and master["id"] not in changed


def test_an_expired_link_reads_the_window_afresh(graph: GraphBackend) -> None:
    if graph.expire_delta is None:
        pytest.skip(f"the {graph.name} backend cannot be told to expire delta tokens")
    kept = graph.create(graph.organizer, payload(graph, "kept", at(23)))
    first = one_round(graph)
    graph.expire_delta(graph.organizer)

    again = one_round(graph, first.delta_link)

    assert again.full_read and again.expired
    assert [e["id"] for e in again.changed] == [kept["id"]]
    assert again.delta_link != first.delta_link
    after = one_round(graph, again.delta_link)  # the new link works
    assert (after.full_read, after.changed, after.removed) == (False, [], [])


def test_a_mailbox_that_fails_has_its_error_and_the_others_their_rounds(
    graph: GraphBackend,
) -> None:
    graph.create(graph.organizer, payload(graph, "mine", at(24)))

    mine, unknown = graph.port.calendar_view_delta(
        [DeltaRequest(graph.organizer, *WINDOW), DeltaRequest(graph.unknown, *WINDOW)]
    )

    assert mine.error is None and len(mine.changed) >= 1
    assert unknown.error is not None and unknown.error.code is ErrorCode.MAILBOX_NOT_FOUND
    assert unknown.delta_link is None and unknown.changed == []
