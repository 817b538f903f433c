"""Benchmark 6: watching Outlook with calendarView delta against the previous response refresh.

    .venv/bin/python -m bench.outlook_sweep [--events N] [--organizers N] [--percents 1 10]
        [--quick]

Setup (no latency): the org's Events are synced (nobody answers on their own), then
the first sweep reads every organizer mailbox's window once (the delta rounds' start,
a one-off). Then, per cycle, a share of the meetings changes in Outlook (none for the
quiet cycle, then each of `--percents`): half of them answered by an attendee (in the
sandbox's model of answers, tests/outlook_organizer.answer_now), half changed by their
organizer through ordinary Graph routes (a timed meeting moved an hour, or its subject
and location edited). With the latency on, each cycle is read by one of:

- the previous refresh: one calendarView per organizer mailbox (attendees only) and a
  GET for any meeting the view did not show, as syncd read answers before the sweep;
- the sweep: one calendarView delta round per organizer mailbox, 20 to a $batch,
  classifying and applying every change (policy two_way: moves and edits written to the
  Salesforce Event, answers to the EventRelations).

Each runs in a world of its own, made with the same seed and changed the same way (a
second reader in one world would find the first one's write-back done). A poll after
the sweep shows that the Events the sweep wrote do not come back to Outlook as echo
PATCHes. Prints per cycle: Graph requests (each inside a $batch counted, as Graph's
throttling counts them), HTTP round trips, bytes received, client CPU, Salesforce
calls and the writes on either side.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from rich.table import Table

from bench.child import TENANT
from bench.common import (
    Measured,
    Row,
    Target,
    World,
    base_parser,
    console,
    fmt,
    header,
    print_targets,
    ratio,
    save,
)
from syncd.core.event_mapping import EXTERNAL_KEY_PROPERTY_ID
from syncd.sandbox.microsoft.answers import ACCEPTED
from syncd.sandbox.microsoft.calendar import StoredEvent
from syncd.sandbox.microsoft.extended_props import lookup
from tests.outlook_organizer import Organizer, answer_now

#: Nobody answers on their own: every answer of a cycle is one the benchmark gives.
NOBODY_ANSWERS = {
    "accepted": 0.0,
    "tentatively_accepted": 0.0,
    "declined": 0.0,
    "not_responded": 1.0,
}
WRITES = ("POST", "PATCH", "DELETE", "PUT")


@dataclass
class Cycle:
    """One cycle: the changes made, then the previous refresh, the sweep and a poll."""

    percent: float
    changed: dict[str, int]
    previous: Measured
    sweep: Measured
    poll: Measured

    @property
    def label(self) -> str:
        return "quiet" if not self.percent else f"{self.percent:g}% changed"

    @property
    def meetings_changed(self) -> int:
        return sum(self.changed.values())


def graph_writes(measured: Measured) -> int:
    """Writes that reached Outlook (a $batch envelope is no write of its own)."""
    return sum(
        n
        for route, n in measured.graph.per_route.items()
        if route.split()[0] in WRITES and route != "POST /$batch"
    )


def bytes_received(measured: Measured) -> int:
    return int(measured.result.get("graph_bytes_received", 0))


def synced_meetings(world: World) -> list[StoredEvent]:
    """The organizers' live meetings syncd made (by the key it stamps), ordered by that
    key: the Salesforce Event's id, the same in two worlds made with one seed."""
    prefix = f"{TENANT}:salesforce:"
    found: list[tuple[str, StoredEvent]] = []
    for address in world.organizer_emails:
        user = world.sandbox.directory.find_by_email(address)
        assert user is not None
        for event in world.sandbox.calendars.events(
            user.id, lambda e: e.is_organizer and not e.is_cancelled
        ):
            stamped = lookup(event.extended, EXTERNAL_KEY_PROPERTY_ID)
            if stamped and stamped[1].startswith(prefix):
                found.append((stamped[1], event))
    return [event for _, event in sorted(found, key=lambda pair: pair[0])]


def make_changes(world: World, count: int, seed: int) -> dict[str, int]:
    """`count` meetings change in Outlook: half answered by one of their attendees, the
    others moved or edited by their organizer (alternately, through Graph)."""
    if not count:
        return {}
    rng = random.Random(seed)
    meetings = synced_meetings(world)
    rng.shuffle(meetings)
    answered = meetings[: count // 2]
    # People move an all-day meeting by days, not by an hour: the organizers' changes
    # go to timed meetings.
    organized = [e for e in meetings[count // 2 :] if not e.is_all_day][: count - len(answered)]
    done: dict[str, int] = {}
    for event in answered:
        invitee = rng.choice(event.attendees).address
        answer_now(world.sandbox, event.owner_email, event.id, invitee, ACCEPTED)
        done["answered"] = done.get("answered", 0) + 1
    with Organizer(world.sandbox, TENANT) as organizer:
        for index, event in enumerate(organized):
            if index % 2 == 0:
                organizer.move(event.owner_email, event.id, timedelta(hours=1))
                done["moved"] = done.get("moved", 0) + 1
            else:
                organizer.edit(
                    event.owner_email,
                    event.id,
                    subject=f"{event.subject} (edited in Outlook)",
                    location="Room 7.04",
                )
                done["edited"] = done.get("edited", 0) + 1
    return done


def measure_world(
    job: str, events: int, organizers: int, latency: float, percents: tuple[float, ...]
) -> tuple[int, Measured | None, list[tuple[dict[str, int], Measured, Measured | None]]]:
    """One world: the initial sync, then per cycle (quiet, then each percent) the
    changes and one run of `job` (sweep: then the poll after it too). Returns the
    meetings synced, the first sweep (sweep only) and per cycle (changes, job, poll)."""
    with World(mailboxes=organizers, events=events, organizers=organizers) as world:
        world.sandbox.answers.configure(**NOBODY_ANSWERS)
        world.graph_latency(0.0)
        initial = world.ours("initial")
        world.ours("poll")  # reads syncd's own write-back once (see bench.steady_poll)
        world.graph_latency(latency)
        # The first delta round of each mailbox reads its whole window: a one-off.
        prime = world.ours("sweep") if job == "sweep" else None
        meetings = int(initial.result["runs"][0]["counts"]["create"])
        cycles: list[tuple[dict[str, int], Measured, Measured | None]] = []
        for index, percent in enumerate((0.0, *percents)):
            world.graph_latency(0.0)
            changed = make_changes(world, round(meetings * percent / 100), seed=index)
            world.graph_latency(latency)
            measured = world.ours(job)
            poll = world.ours("poll") if job == "sweep" else None
            cycles.append((changed, measured, poll))
    return meetings, prime, cycles


def run(
    events: int, organizers: int, latency: float, *, percents: tuple[float, ...] = (1, 10)
) -> tuple[list[Row], list[Target], dict[str, Any]]:
    """The previous refresh and the sweep, each in a world of its own made with the same
    seed and changed the same way: each reads changes the other has not written back."""
    meetings, _, before = measure_world("previous_refresh", events, organizers, latency, percents)
    swept, prime, after = measure_world("sweep", events, organizers, latency, percents)
    assert prime is not None and swept == meetings, (swept, meetings)
    cycles = []
    for percent, (changed, previous, _), (same, sweep, poll) in zip(
        (0.0, *percents), before, after, strict=True
    ):
        assert changed == same and poll is not None, (changed, same)
        cycles.append(Cycle(percent, changed, previous, sweep, poll))
    rows = _rows(cycles, prime, organizers)
    targets = _targets(cycles)
    details = {
        "meetings": meetings,
        "prime": prime.result,
        "cycles": [
            {
                "percent": c.percent,
                "changed": c.changed,
                "previous": c.previous.result,
                "sweep": c.sweep.result,
                "poll": c.poll.result,
                "previous_graph": c.previous.graph,
                "sweep_graph": c.sweep.graph,
                "poll_graph": c.poll.graph,
                "poll_graph_writes": graph_writes(c.poll),
                "sweep_salesforce": c.sweep.salesforce,
                "previous_salesforce": c.previous.salesforce,
            }
            for c in cycles
        ],
    }
    return rows, targets, details


def _rows(cycles: list[Cycle], prime: Measured, organizers: int) -> list[Row]:
    """Per cycle: `ours` is the sweep, `peer` the previous refresh (see print_cycles)."""
    rows = [
        Row("first sweep (one-off): Graph requests", prime.graph.requests, None, organizers,
            "a full read of each mailbox's window"),
        Row("first sweep (one-off): HTTP round trips", prime.graph.round_trips, None, None),
        Row("first sweep (one-off): bytes received", bytes_received(prime), None, None),
        Row("first sweep (one-off): client CPU (s)", prime.cpu, None, None),
    ]  # fmt: skip
    for c in cycles:
        name = c.label
        rows += [
            Row(f"{name}: meetings changed in Outlook", c.meetings_changed,
                c.meetings_changed, None, _mix(c.changed)),
            Row(f"{name}: Graph requests", c.sweep.graph.requests, c.previous.graph.requests,
                organizers, "bound: one request per mailbox"),
            Row(f"{name}: HTTP round trips", c.sweep.graph.round_trips,
                c.previous.graph.round_trips, None),
            Row(f"{name}: bytes received", bytes_received(c.sweep), bytes_received(c.previous),
                None),
            Row(f"{name}: client CPU (s)", c.sweep.cpu, c.previous.cpu, None),
            Row(f"{name}: wall (s)", c.sweep.wall, c.previous.wall, None),
            Row(f"{name}: sandbox CPU meanwhile (s)", c.sweep.sandbox_cpu,
                c.previous.sandbox_cpu, None, "the sandbox answering, in the wall time"),
            Row(f"{name}: Salesforce calls", c.sweep.salesforce.calls,
                c.previous.salesforce.calls, salesforce_bound(c.meetings_changed),
                "bound: 3 x ceil(changes/200) + 6"),
            Row(f"{name}: Salesforce records written", c.sweep.salesforce.records_written,
                c.previous.salesforce.records_written, None),
            Row(f"{name}: Graph writes", graph_writes(c.sweep), graph_writes(c.previous), 0),
            Row(f"{name}: the poll after: Graph writes (echo)", graph_writes(c.poll), None, 0),
        ]  # fmt: skip
    return rows


def salesforce_bound(changes: int) -> int:
    """The sweep's Salesforce calls for `changes`, gathered across its mailboxes: 3 per
    200 changes (as the changes split between answers and edits: the invitees of the
    answered meetings or the changed Events read, their writes), plus 6: the describes
    of Event and EventRelation a fresh process makes once, and a partial page of each
    read and write."""
    return 3 * -(-changes // 200) + 6


def _mix(changed: dict[str, int]) -> str:
    return ", ".join(f"{n} {kind}" for kind, n in sorted(changed.items())) or "none"


def _targets(cycles: list[Cycle]) -> list[Target]:
    targets = []
    for c in cycles:
        targets.append(
            Target(
                f"{c.label}: the sweep makes no more Graph requests than the previous refresh",
                c.sweep.graph.requests <= c.previous.graph.requests,
                f"{c.sweep.graph.requests} vs {c.previous.graph.requests}",
            )
        )
        trips = c.previous.graph.round_trips / max(c.sweep.graph.round_trips, 1)
        targets.append(
            Target(
                f"{c.label}: >= 10x fewer HTTP round trips",
                trips >= 10,
                f"{c.sweep.graph.round_trips} vs {c.previous.graph.round_trips} ({trips:.1f}x)",
            )
        )
        targets.append(
            Target(
                f"{c.label}: the poll after the sweep sends nothing back to Outlook",
                graph_writes(c.poll) == 0,
                f"{graph_writes(c.poll)} Graph writes",
            )
        )
        sf_bound = salesforce_bound(c.meetings_changed)
        targets.append(
            Target(
                f"{c.label}: Salesforce calls <= 3 x ceil(changes/200) + 6",
                c.sweep.salesforce.calls <= sf_bound,
                f"{c.sweep.salesforce.calls} calls for {c.meetings_changed} changes "
                f"(bound {sf_bound})",
            )
        )
    quiet = next((c for c in cycles if not c.percent), None)
    if quiet is not None:
        writes = graph_writes(quiet.sweep) + quiet.sweep.salesforce.records_written
        targets.append(
            Target(
                "quiet cycle: 0 writes either side",
                writes == 0,
                f"{graph_writes(quiet.sweep)} Graph writes, "
                f"{quiet.sweep.salesforce.records_written} Salesforce records written, "
                f"{quiet.sweep.graph.requests} requests in {quiet.sweep.graph.round_trips} "
                f"round trips, {bytes_received(quiet.sweep):,} bytes",
            )
        )
    changed = sorted((c for c in cycles if c.percent), key=lambda c: c.percent)
    if len(changed) >= 2:
        low, high = changed[0], changed[-1]
        grows = bytes_received(high.sweep) / max(bytes_received(low.sweep), 1)
        flat = bytes_received(high.previous) / max(bytes_received(low.previous), 1)
        targets.append(
            Target(
                f"bytes grow with the changes ({high.label} / {low.label})",
                grows >= 2 and bytes_received(low.sweep) < bytes_received(low.previous),
                f"sweep {grows:.2f}x ({bytes_received(low.sweep):,} -> "
                f"{bytes_received(high.sweep):,}), previous refresh {flat:.2f}x",
            )
        )
    return targets


def print_cycles(rows: list[Row]) -> None:
    table = Table(title="Outlook sweep vs the previous refresh", title_justify="left")
    for name in ("metric", "sweep (delta)", "previous refresh", "bound", "previous/sweep", "note"):
        table.add_column(name, justify="left" if name in ("metric", "note") else "right")
    for row in rows:
        numeric = all(isinstance(v, int | float) for v in (row.ours, row.peer))
        table.add_row(
            row.metric,
            fmt(row.ours),
            fmt(row.peer),
            fmt(row.bound),
            ratio(row.peer, row.ours) if numeric else "-",
            row.note,
        )
    console.print(table)


def main(argv: list[str] | None = None) -> None:
    parser = base_parser("bench.outlook_sweep", __doc__)
    parser.add_argument("--events", type=int, default=4_000)
    parser.add_argument("--organizers", type=int, default=200)
    parser.add_argument("--percents", type=float, nargs="+", default=[1.0, 10.0])
    args = parser.parse_args(argv)
    if args.quick:
        args.events, args.organizers = 300, 20
    params = {
        "events": args.events,
        "organizers": args.organizers,
        "percents": args.percents,
        "latency_s": args.latency,
        "policy": "two_way",
    }
    header("Benchmark 6: watching Outlook (calendarView delta)", params)
    rows, targets, _ = run(
        args.events, args.organizers, args.latency, percents=tuple(args.percents)
    )
    print_cycles(rows)
    print_targets(targets)
    save(args.json, "outlook_sweep", params, rows, targets)


if __name__ == "__main__":
    main()
