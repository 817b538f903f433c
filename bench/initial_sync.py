"""Benchmark 1: the initial sync of 10,000 Events of 500 organizers (1-8 attendees each).

    .venv/bin/python -m bench.initial_sync [--events N] [--organizers N] [--quick]

Prints wall time against the bound the per-mailbox concurrency and latency allow
(each mailbox takes ceil(its creates / 4) latency rounds, mailboxes side by side),
Graph requests and HTTP round trips per created meeting and Salesforce calls, for
syncd and for the naive peer (one create at a time, one Salesforce update per record).

The sandbox serves every request from one interpreter; its CPU time during the run
is a second floor: on this machine no client can finish faster than the sandbox
can answer. Both floors are printed.
"""

from __future__ import annotations

import math
from typing import Any

from bench.common import (
    COLLECTION_SIZE,
    Measured,
    Row,
    Target,
    World,
    base_parser,
    header,
    mailbox_bound,
    print_table,
    print_targets,
    save,
)

#: Salesforce answers a query with pages of up to 2,000 records.
QUERY_PAGE = 2000
#: The sandbox's route name of a $batch envelope.
BATCH_ROUTE = "POST /$batch"


def salesforce_bound(events: int, relations: int) -> int:
    """Event pages + invitee pages + one sObject Collections call per 200 write-backs."""
    return (
        math.ceil(events / QUERY_PAGE)
        + math.ceil(relations / QUERY_PAGE)
        + math.ceil(events / COLLECTION_SIZE)
    )


def invitee_rows(world: World) -> int:
    org = world.endpoint.org
    with org.lock:
        return sum(1 for r in org.data.rows("EventRelation") if r.IsInvitee)


def _is_create(route: str) -> bool:
    """POST /users/{id}/events or /users/{id}/calendar/events (the sandbox's route names)."""
    return route.startswith("POST /users/") and route.endswith("/events")


def _creates(side: Measured) -> int:
    return sum(n for route, n in side.graph.per_route.items() if _is_create(route))


def run(
    events: int, organizers: int, latency: float, *, peer: bool, workers: int | None = None
) -> tuple[list[Row], list[Target], dict[str, Any]]:
    with World(mailboxes=organizers, events=events, organizers=organizers) as world:
        relations = invitee_rows(world)
        world.graph_latency(latency)
        extra = ["--workers", str(workers)] if workers else []
        ours = world.ours("initial", *extra)
        theirs: Measured | None = world.peer("initial") if peer else None

    run_ = ours.result["runs"][0]
    created = run_["counts"]["create"] - run_["failures"]
    bound = mailbox_bound(ours.graph.per_mailbox.values(), latency)
    floor = ours.sandbox_cpu
    peer_created = theirs.result["runs"][0]["created"] if theirs else None

    def per_meeting(value: float, made: int | None) -> float | None:
        return value / made if made else None

    envelopes = ours.graph.per_route.get(BATCH_ROUTE, 0)
    others = {
        r: n for r, n in ours.graph.per_route.items() if not _is_create(r) and r != BATCH_ROUTE
    }
    peer_others = (
        sum(n for r, n in theirs.graph.per_route.items() if not _is_create(r) and r != BATCH_ROUTE)
        if theirs
        else None
    )
    rows = [
        Row("meetings created", created, peer_created, events),
        Row("wall time (s)", ours.wall, theirs.wall if theirs else None, bound,
            "bound: max over mailboxes of ceil(creates/4) x latency"),
        Row("sandbox CPU during the run (s)", floor, theirs.sandbox_cpu if theirs else None,
            None, "one interpreter serves Graph and Salesforce: a floor on this machine"),
        Row("wall / max(bound, sandbox CPU)", ours.wall / max(bound, floor),
            theirs.wall / max(bound, theirs.sandbox_cpu) if theirs else None, 1.0),
        Row("Graph requests per created meeting", per_meeting(ours.graph.requests, created),
            per_meeting(theirs.graph.requests, peer_created) if theirs else None, 1.0,
            "a request inside a $batch counts as one"),
        Row("HTTP round trips per created meeting",
            per_meeting(ours.graph.round_trips, created),
            per_meeting(theirs.graph.round_trips, peer_created) if theirs else None, None),
        Row("$batch round trips (creates inside)", envelopes,
            theirs.graph.per_route.get(BATCH_ROUTE, 0) if theirs else None, None,
            f"{_creates(ours)} creates in all"),
        Row("Graph requests other than creates", sum(others.values()), peer_others,
            None, ", ".join(f"{route}: {n}" for route, n in sorted(others.items()))),
        Row("Graph 429 answers", ours.graph.throttled,
            theirs.graph.throttled if theirs else None, 0),
        Row("Salesforce API calls", ours.salesforce.calls,
            theirs.salesforce.calls if theirs else None, salesforce_bound(events, relations),
            "bound: event pages + invitee pages + ceil(events/200)"),
        Row("client CPU (s)", ours.cpu, theirs.cpu if theirs else None, None),
        Row("client CPU per meeting (ms)", 1000 * ours.cpu / max(created, 1),
            1000 * theirs.cpu / max(peer_created or 0, 1) if theirs else None, None),
    ]  # fmt: skip
    requests_per_meeting = ours.graph.requests / max(created, 1)
    targets = [
        Target(
            "Graph requests per created meeting <= 1.05",
            requests_per_meeting <= 1.05,
            f"{requests_per_meeting:.3f}",
        ),
        Target(
            "initial sync wall time <= 1.25 x the bound",
            ours.wall <= 1.25 * bound,
            f"{ours.wall:.1f} s vs bound {bound:.2f} s ({ours.wall / bound:.0f}x); "
            f"sandbox CPU floor {floor:.1f} s ({ours.wall / floor:.2f}x)",
        ),
    ]
    details = {
        "ours": ours.result,
        "ours_graph": ours.graph.per_route,
        "ours_salesforce": ours.salesforce.per_resource,
        "peer": theirs.result if theirs else None,
        "relations": relations,
    }
    return rows, targets, details


def main(argv: list[str] | None = None) -> None:
    parser = base_parser("bench.initial_sync", __doc__)
    parser.add_argument("--events", type=int, default=10_000)
    parser.add_argument("--organizers", type=int, default=500)
    parser.add_argument("--workers", type=int, default=None, help="executor threads")
    args = parser.parse_args(argv)
    if args.quick:
        args.events, args.organizers = 300, 20
    params = {
        "events": args.events,
        "organizers": args.organizers,
        "latency_s": args.latency,
        "peer": not args.no_peer,
    }
    header("Benchmark 1: initial sync", params)
    rows, targets, _ = run(
        args.events, args.organizers, args.latency, peer=not args.no_peer, workers=args.workers
    )
    print_table("Initial sync", rows)
    print_targets(targets)
    save(args.json, "initial_sync", params, rows, targets)


if __name__ == "__main__":
    main()
