"""Benchmark 4: availability of 1,000 users over 7 days, through the API path and the snapshot job.

    .venv/bin/python -m bench.availability [--users N] [--days 7] [--quick]

Setup (no latency): 1,000 mailbox users in the directory and the org (the org's
users without a mailbox are made inactive), a few thousand meetings synced so the
calendars are not empty. Then, with the latency on:

- API path: the scheduler core's availability for the 1,000 addresses (what the
  Scheduler API's availability endpoint runs);
- snapshot job: `snapshot_availability` (Salesforce users, free/busy, User updates).

getSchedule takes 20 addresses and under 62 days per request: the chunk bound is
ceil(users / 20) x ceil(days / 62) requests. The naive peer reads a calendarView per
user (and writes one User update per user).
"""

from __future__ import annotations

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
    schedule_chunks,
)


def _deactivate_unlicensed(world: World) -> int:
    """Users without a mailbox leave the org, so both paths ask for the same people."""
    licensed = {e.lower() for e in world.mailbox_emails}
    org = world.endpoint.org
    with org.lock:
        users = [
            (u.Id, str(u.Email).lower(), u.Username) for u in org.data.rows("User") if u.IsActive
        ]
    gone = 0
    for user_id, email, username in users:
        if email not in licensed and username != org.integration_username:
            org.update("User", user_id, {"IsActive": False})
            gone += 1
    return gone


def run(
    users: int, days: int, meetings: int, latency: float, *, peer: bool
) -> tuple[list[Row], list[Target], dict[str, Any]]:
    with World(mailboxes=users, events=meetings, organizers=users, horizon_days=days) as world:
        _deactivate_unlicensed(world)
        world.graph_latency(0.0)
        world.ours("initial")
        emails = world.tmp / "emails.txt"
        emails.write_text("\n".join(world.mailbox_emails) + "\n")
        world.graph_latency(latency)
        args = ("--emails", str(emails), "--days", str(days))
        api = world.ours("availability", *args)
        snapshot = world.ours("snapshot")
        peer_api = world.peer("availability", *args) if peer else None
        peer_snapshot = world.peer("snapshot") if peer else None

    snap = snapshot.result["runs"][0]
    snap_users = snap["users"]
    api_bound = schedule_chunks(users, days)
    snap_bound = schedule_chunks(snap_users, days)
    # The best spread: each getSchedule asked through a mailbox of its own, all at once.
    wall_bound = mailbox_bound([1], latency)
    snap_writes = snapshot.salesforce.per_resource.get("composite", 0)
    rows = [
        Row("API: users asked", users, users, None),
        Row("API: Graph requests", api.graph.requests,
            peer_api.graph.requests if peer_api else None, api_bound,
            "bound: ceil(users/20) x ceil(days/62)"),
        Row("API: HTTP round trips", api.graph.round_trips,
            peer_api.graph.round_trips if peer_api else None, None),
        Row("API: wall time (s)", api.wall, peer_api.wall if peer_api else None, wall_bound,
            "bound: every request in parallel, one latency"),
        Row("API: sandbox CPU during the call (s)", api.sandbox_cpu,
            peer_api.sandbox_cpu if peer_api else None, None,
            "the sandbox answers from one interpreter: a floor on this machine"),
        Row("API: client CPU (s)", api.cpu, peer_api.cpu if peer_api else None, None),
        Row("snapshot: users", snap_users,
            peer_snapshot.result["runs"][0]["users"] if peer_snapshot else None, None),
        Row("snapshot: Graph requests", snapshot.graph.requests,
            peer_snapshot.graph.requests if peer_snapshot else None, snap_bound,
            "bound: ceil(users/20) x ceil(days/62)"),
        Row("snapshot: HTTP round trips", snapshot.graph.round_trips,
            peer_snapshot.graph.round_trips if peer_snapshot else None, None),
        Row("snapshot: snapshots written", snap["written"],
            peer_snapshot.result["runs"][0].get("written") if peer_snapshot else None, None,
            f"{snap['errors']} users without a schedule (no mailbox) are not written"),
        Row("snapshot: Salesforce calls", snapshot.salesforce.calls,
            peer_snapshot.salesforce.calls if peer_snapshot else None,
            1 + -(-snap["written"] // COLLECTION_SIZE),
            "bound: users query + ceil(written/200)"),
        Row("snapshot: Salesforce write-back calls", snap_writes,
            peer_snapshot.salesforce.per_resource.get("sobject", 0) if peer_snapshot else None,
            -(-snap["written"] // COLLECTION_SIZE)),
        Row("snapshot: wall time (s)", snapshot.wall,
            peer_snapshot.wall if peer_snapshot else None, wall_bound),
        Row("snapshot: sandbox CPU during the job (s)", snapshot.sandbox_cpu,
            peer_snapshot.sandbox_cpu if peer_snapshot else None, None),
    ]  # fmt: skip
    targets = [
        Target(
            "availability: Graph calls at the chunk bound",
            api.graph.requests <= api_bound and snapshot.graph.requests <= snap_bound,
            f"API {api.graph.requests} / {api_bound}, snapshot "
            f"{snapshot.graph.requests} / {snap_bound}",
        )
    ]
    if peer_api and peer_snapshot:
        gains = (
            peer_api.graph.requests / max(api.graph.requests, 1),
            peer_snapshot.graph.requests / max(snapshot.graph.requests, 1),
            peer_snapshot.salesforce.calls / max(snapshot.salesforce.calls, 1),
        )
        targets.append(
            Target(
                "availability: >= 5x fewer calls than the naive peer",
                min(gains) >= 5,
                "API Graph {:.0f}x, snapshot Graph {:.0f}x, snapshot Salesforce {:.0f}x".format(
                    *gains
                ),
            )
        )
    return rows, targets, {"api": api.result, "snapshot": snapshot.result}


def main(argv: list[str] | None = None) -> None:
    parser = base_parser("bench.availability", __doc__)
    parser.add_argument("--users", type=int, default=1_000)
    parser.add_argument("--days", type=int, default=7)
    parser.add_argument("--meetings", type=int, default=3_000, help="synced before measuring")
    args = parser.parse_args(argv)
    if args.quick:
        args.users, args.meetings = 60, 120
    params = {
        "users": args.users,
        "days": args.days,
        "meetings": args.meetings,
        "latency_s": args.latency,
        "peer": not args.no_peer,
    }
    header("Benchmark 4: availability", params)
    rows, targets, _ = run(
        args.users, args.days, args.meetings, args.latency, peer=not args.no_peer
    )
    print_table("Availability", rows)
    print_targets(targets)
    save(args.json, "availability", params, rows, targets)


if __name__ == "__main__":
    main()
