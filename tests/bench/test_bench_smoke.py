"""Smoke runs of the benchmarks (bench/) at small sizes: counts only, never times.

Each benchmark's own `run`/`measure` is called with a few organizers and a short
simulated latency, syncd and the naive peer in child processes as in a full run.
What is asserted are the issue's count targets, which hold at any size:
Graph requests per created meeting, 0 Graph calls in a steady poll, response
refresh calls growing with mailboxes and not with meetings, availability at the
getSchedule chunk bound, the gap to the naive peer, one Graph request per
Scheduler API create or read, and the Outlook sweep's one delta request per mailbox
in one $batch per 20 mailboxes, with bytes that grow with the changes.
"""

from __future__ import annotations

import math
import subprocess
import sys
from pathlib import Path

import pytest

from bench import (
    api_latency,
    availability,
    initial_sync,
    memory,
    outlook_sweep,
    responses,
    steady_poll,
)

pytestmark = pytest.mark.timeout(600)

LATENCY = 0.01
ROOT = Path(__file__).resolve().parents[2]


def _row(rows: list, metric: str) -> object:
    return next(r for r in rows if r.metric == metric)


def test_initial_sync_costs_one_graph_request_per_meeting() -> None:
    rows, targets, details = initial_sync.run(200, 10, LATENCY, peer=True)
    created = _row(rows, "meetings created")
    assert created.ours == created.peer == 200
    per_meeting = _row(rows, "Graph requests per created meeting")
    assert per_meeting.ours <= 1.05
    assert _row(rows, "Graph 429 answers").ours == 0
    # sObject Collections: one write-back call per 200 Events, the peer one per Event.
    assert details["ours_salesforce"].get("composite") == math.ceil(200 / 200)
    assert _row(rows, "Salesforce API calls").peer >= 200
    assert targets[0].met, targets[0].line()


def test_steady_poll_makes_no_graph_call_and_three_salesforce_calls() -> None:
    polls = 2
    measured = steady_poll.measure(200, 10, polls, LATENCY, peer=True)
    ours = measured["ours"]
    assert ours.graph.requests == 0
    # getDeleted, changed Events, changed EventRelations: nothing else when nothing changed,
    # besides reading the org's shape (describe of Event and EventRelation) once.
    per_resource = dict(ours.salesforce.per_resource)
    assert per_resource.pop("describe", 0) == 2
    assert sum(per_resource.values()) == 3 * polls
    assert all(run["records_read"] == 0 for run in ours.result["runs"])
    assert measured["peer"].graph.requests == 0


def test_response_refresh_grows_with_mailboxes_not_meetings() -> None:
    small_rows, small_targets, small = responses.run(100, 10, LATENCY, peer=True)
    large_rows, _, _ = responses.run(200, 10, LATENCY, peer=False)
    small_calls = _row(small_rows, "Graph requests per cycle")
    large_calls = _row(large_rows, "Graph requests per cycle")
    mailboxes = _row(small_rows, "organizer mailboxes").ours
    # One calendarView per organizer mailbox, whatever the number of meetings.
    assert small_calls.ours == large_calls.ours == mailboxes == 10
    assert small_calls.peer == _row(small_rows, "meetings checked").ours == 100
    assert small["ours"]["runs"][0]["meetings_changed"] > 0
    for rows in (small_rows, large_rows):
        writes = _row(rows, "Salesforce write-back calls")
        assert writes.ours <= writes.bound + 1  # EventRelations and Events go separately
    assert all(t.met for t in small_targets), [t.line() for t in small_targets]


def test_availability_stays_at_the_getschedule_chunk_bound() -> None:
    rows, targets, _ = availability.run(45, 7, 60, LATENCY, peer=True)
    api = _row(rows, "API: Graph requests")
    assert api.ours == api.bound == math.ceil(45 / 20)
    assert api.peer >= 45
    snapshot = _row(rows, "snapshot: Graph requests")
    assert snapshot.ours == snapshot.bound
    assert _row(rows, "snapshot: Salesforce write-back calls").ours == 1
    assert all(t.met for t in targets), [t.line() for t in targets]


def test_api_latency_makes_one_graph_request_per_api_call() -> None:
    # syncd serve in a child process, the same Graph requests replayed directly: every
    # round is measured on both sides, and each API call is one Graph request.
    rows, targets, timings = api_latency.run(5, 0.0)
    assert all(len(t.millis) == 5 for t in timings.values())
    assert timings["api_create"].graph_requests == [1] * 5
    assert timings["api_read"].graph_requests == [1] * 5
    assert _row(rows, "create: Graph requests per API call").ours == 1
    assert [t.text for t in targets] == [
        "API create: <= 5 ms added at the median",
        "API read: <= 5 ms added at the median",
    ]


def test_outlook_sweep_reads_changes_in_a_batch_per_twenty_mailboxes() -> None:
    organizers = 10
    _, targets, details = outlook_sweep.run(200, organizers, LATENCY, percents=(5, 20))
    cycles = details["cycles"]
    assert [sum(c["changed"].values()) for c in cycles] == [0, 10, 40]
    for cycle in cycles:
        # One delta request per organizer mailbox, all ten in one $batch; the previous
        # refresh made one calendarView round trip per mailbox.
        assert cycle["sweep_graph"].requests == organizers, cycle["sweep_graph"]
        assert cycle["sweep_graph"].round_trips == 1
        assert cycle["previous_graph"].round_trips == organizers
        # The Events the sweep wrote (two_way) come back in the poll without an echo.
        assert cycle["poll_graph_writes"] == 0
    quiet, _, high = cycles
    assert quiet["sweep_salesforce"].records_written == 0
    assert quiet["sweep"]["runs"][0]["changes"] == {}
    assert high["sweep"]["runs"][0]["changes"] == {"answers": 20, "moved": 10, "edited": 10}
    sizes = [c["sweep"]["graph_bytes_received"] for c in cycles]
    assert sizes[0] < sizes[1] < sizes[2], sizes
    assert all(t.met for t in targets), [t.line() for t in targets]


def test_memory_benchmark_reports_the_childs_peak_rss() -> None:
    measured = memory.measure(100, 5, 0.0, peer=False)
    assert measured["created"] == 100
    assert measured["ours_peak"] >= measured["ours_base"] > 0


def test_a_childs_peak_rss_is_its_own_not_the_spawning_process() -> None:
    # ru_maxrss survives execve on Linux: a child spawned by a large process would
    # report that process's size as its own peak. The children report VmHWM instead.
    ballast = bytearray(256 * 1024 * 1024)
    for offset in range(0, len(ballast), 4096):
        ballast[offset] = 1  # resident, not merely reserved
    code = "from bench.child import child_usage; print(child_usage()['peak_rss_mib'])"
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=ROOT
    )
    assert float(done.stdout) < 128, done.stdout
    del ballast
