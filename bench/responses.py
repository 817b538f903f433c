"""Benchmark 3: one response-refresh cycle with 30% of the attendees having answered.

    .venv/bin/python -m bench.responses [--events N] [--organizers N] [--quick]

Setup (no latency): the org's Events are synced with the sandbox's attendees set to
answer 30% of the time (20% accept, 5% tentative, 5% decline). Then, with the
latency on, one refresh by syncd and one by the naive peer (a GET per meeting,
one Salesforce update per EventRelation and per Event).

Prints Graph requests per cycle against the number of organizer mailboxes and of
meetings, and Salesforce write-back calls against ceil(changes / 200).
"""

from __future__ import annotations

import math
from typing import Any

from bench.common import (
    COLLECTION_SIZE,
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

#: 30% of the attendees answer: accepted / tentative / declined / not yet.
ANSWERS = {
    "accepted": 0.20,
    "tentatively_accepted": 0.05,
    "declined": 0.05,
    "not_responded": 0.70,
}


def run(
    events: int, organizers: int, latency: float, *, peer: bool
) -> tuple[list[Row], list[Target], dict[str, Any]]:
    with World(mailboxes=organizers, events=events, organizers=organizers) as world:
        world.sandbox.answers.configure(**ANSWERS)
        world.graph_latency(0.0)
        initial = world.ours("initial")
        ledger = world.copy_ledger("peer-ledger.db")
        world.graph_latency(latency)
        ours = world.ours("responses")
        theirs = world.peer("responses", "--ledger", str(ledger)) if peer else None

    meetings = initial.result["runs"][0]["counts"]["create"]
    report = ours.result["runs"][0]
    mailboxes = len([n for n in ours.graph.per_mailbox.values() if n])
    changes = report["relations_written"] + report["meetings_changed"]
    writes = ours.salesforce.per_resource.get("composite", 0)
    reads = ours.salesforce.calls - writes
    peer_run = theirs.result["runs"][0] if theirs else None
    peer_writes = theirs.salesforce.per_resource.get("sobject", 0) if theirs else None
    bound_writes = math.ceil(changes / COLLECTION_SIZE)
    rows = [
        Row("meetings checked", report["meetings_checked"],
            peer_run["meetings_checked"] if peer_run else None, meetings),
        Row("meetings whose responses changed", report["meetings_changed"],
            peer_run["meetings_changed"] if peer_run else None, None),
        Row("organizer mailboxes", mailboxes, None, organizers),
        Row("Graph requests per cycle", ours.graph.requests,
            theirs.graph.requests if theirs else None, mailboxes,
            "bound: one calendarView per mailbox"),
        Row("Graph requests / mailboxes", ours.graph.requests / max(mailboxes, 1),
            theirs.graph.requests / max(mailboxes, 1) if theirs else None, 1.0),
        Row("Graph requests / meetings", ours.graph.requests / max(meetings, 1),
            theirs.graph.requests / max(meetings, 1) if theirs else None,
            mailboxes / max(meetings, 1)),
        Row("HTTP round trips", ours.graph.round_trips,
            theirs.graph.round_trips if theirs else None, None),
        Row("records written back (changes)", changes,
            peer_run["written"] if peer_run else None, None,
            "EventRelation statuses + Event summaries"),
        Row("Salesforce write-back calls", writes, peer_writes, bound_writes,
            "bound: ceil(changes / 200)"),
        Row("Salesforce reads (invitees of changed meetings)", reads,
            theirs.salesforce.calls - (peer_writes or 0) if theirs else None,
            math.ceil(report["meetings_changed"] / COLLECTION_SIZE)),
        Row("wall time (s)", ours.wall, theirs.wall if theirs else None,
            mailbox_bound(ours.graph.per_mailbox.values(), latency),
            "bound: ceil(requests per mailbox / 4) x latency"),
        Row("client CPU (s)", ours.cpu, theirs.cpu if theirs else None, None),
    ]  # fmt: skip
    targets = [
        Target(
            "response refresh: Graph calls grow with mailboxes, not meetings",
            ours.graph.requests <= 1.5 * mailboxes,
            f"{ours.graph.requests} requests for {mailboxes} mailboxes and {meetings} meetings",
        ),
    ]
    if theirs:
        graph_gain = theirs.graph.requests / max(ours.graph.requests, 1)
        sf_gain = theirs.salesforce.calls / max(ours.salesforce.calls, 1)
        targets.append(
            Target(
                "response refresh: >= 5x fewer calls than the naive peer",
                graph_gain >= 5 and sf_gain >= 5,
                f"Graph {graph_gain:.1f}x, Salesforce {sf_gain:.1f}x fewer",
            )
        )
    return rows, targets, {"ours": ours.result, "peer": theirs.result if theirs else None}


def main(argv: list[str] | None = None) -> None:
    parser = base_parser("bench.responses", __doc__)
    parser.add_argument("--events", type=int, default=10_000)
    parser.add_argument("--organizers", type=int, default=500)
    args = parser.parse_args(argv)
    if args.quick:
        args.events, args.organizers = 300, 20
    params = {
        "events": args.events,
        "organizers": args.organizers,
        "answered": "30%",
        "latency_s": args.latency,
        "peer": not args.no_peer,
    }
    header("Benchmark 3: response refresh", params)
    rows, targets, _ = run(args.events, args.organizers, args.latency, peer=not args.no_peer)
    print_table("Response refresh (one cycle)", rows)
    print_targets(targets)
    save(args.json, "responses", params, rows, targets)


if __name__ == "__main__":
    main()
