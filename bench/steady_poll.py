"""Benchmark 2: a steady poll with nothing changed, with 1,000 and 100,000 meetings in the ledger.

    .venv/bin/python -m bench.steady_poll [--sizes 1000 100000] [--polls 5] [--quick]

For each size: the org gets that many Events, syncd makes its initial sync and the
poll after it (which reads back syncd's own write-back), all without latency; then
the clocks move on 10 minutes, one more poll settles the overlap, the Graph latency
is switched on and syncd polls `--polls` times (the measured steady polls). Prints
Graph calls (must be 0), Salesforce calls and the CPU time of one poll, and the CPU
ratio between the largest and the smallest ledger.

The naive peer keeps no watermark: each poll reads the whole window again and
compares every Event with what it holds.
"""

from __future__ import annotations

import statistics
from typing import Any

from bench.common import (
    Row,
    Target,
    World,
    base_parser,
    header,
    print_table,
    print_targets,
    ratio,
    save,
)

#: How far the clocks move between the initial sync and the measured polls: beyond
#: the poll's re-read overlap (2 minutes), as in a daemon that has been idle a while.
QUIET_SECONDS = 600


def measure(
    size: int, organizers: int, polls: int, latency: float, *, peer: bool
) -> dict[str, Any]:
    with World(mailboxes=organizers, events=size, organizers=organizers) as world:
        world.graph_latency(0.0)
        initial = world.ours("initial")
        echo = world.ours("poll")
        ledger = world.copy_ledger("peer-ledger.db")
        world.advance(QUIET_SECONDS)
        offset = str(QUIET_SECONDS)
        # The first poll after the quiet period still re-reads what was written in the
        # OVERLAP before the last watermark; from the next one on, nothing.
        settle = world.ours("poll", "--clock-offset", offset)
        world.graph_latency(latency)
        ours = world.ours("poll", "--repeat", str(polls), "--clock-offset", offset)
        theirs = (
            world.peer(
                "poll", "--ledger", str(ledger), "--repeat", str(polls), "--clock-offset", offset
            )
            if peer
            else None
        )
    created = initial.result["runs"][0]["counts"]["create"]
    return {
        "size": size,
        "created": created,
        "echo": echo,
        "settle": settle,
        "ours": ours,
        "peer": theirs,
        "ours_cpu": statistics.median(r["cpu_seconds"] for r in ours.result["runs"]),
        "peer_cpu": (
            statistics.median(r["cpu_seconds"] for r in theirs.result["runs"]) if theirs else None
        ),
    }


def rows_for(m: dict[str, Any], polls: int) -> list[Row]:
    ours, theirs, echo = m["ours"], m["peer"], m["echo"]
    size = m["size"]
    return [
        Row(f"{size:,}: meetings in the ledger", m["created"], None, size),
        Row(f"{size:,}: Graph requests per poll", ours.graph.requests / polls,
            theirs.graph.requests / polls if theirs else None, 0),
        Row(f"{size:,}: Salesforce calls per poll", ours.salesforce.calls / polls,
            theirs.salesforce.calls / polls if theirs else None, None,
            "getDeleted + changed Events + changed relations"),
        Row(f"{size:,}: records read per poll",
            statistics.median(r["records_read"] for r in ours.result["runs"]),
            None, 0),
        Row(f"{size:,}: CPU per poll (ms, median)", 1000 * m["ours_cpu"],
            1000 * m["peer_cpu"] if m["peer_cpu"] is not None else None, None),
        Row(f"{size:,}: wall per poll (ms)", 1000 * ours.wall / polls,
            1000 * theirs.wall / polls if theirs else None, None),
        Row(f"{size:,}: first poll after the initial sync: records re-read",
            echo.result["runs"][0]["records_read"], None, None,
            "syncd's own write-back, read once and skipped"),
        Row(f"{size:,}: first poll: Graph requests", echo.graph.requests, None, 0,
            "mailbox time zones of the all-day meetings re-read"),
        Row(f"{size:,}: first poll after 10 quiet minutes: records re-read",
            m["settle"].result["runs"][0]["records_read"], None, None,
            "rows written in the overlap before the last watermark"),
    ]  # fmt: skip


def main(argv: list[str] | None = None) -> None:
    parser = base_parser("bench.steady_poll", __doc__)
    parser.add_argument("--sizes", type=int, nargs="+", default=[1_000, 100_000])
    parser.add_argument("--organizers", type=int, default=500)
    parser.add_argument("--polls", type=int, default=5)
    args = parser.parse_args(argv)
    if args.quick:
        args.sizes, args.organizers, args.polls = [100, 1_000], 20, 3
    params = {
        "sizes": args.sizes,
        "organizers": args.organizers,
        "polls": args.polls,
        "latency_s": args.latency,
        "peer": not args.no_peer,
    }
    header("Benchmark 2: steady poll, nothing changed", params)
    measured = [
        measure(size, args.organizers, args.polls, args.latency, peer=not args.no_peer)
        for size in sorted(args.sizes)
    ]
    rows = [row for m in measured for row in rows_for(m, args.polls)]
    small, large = measured[0], measured[-1]
    cpu_ratio = large["ours_cpu"] / small["ours_cpu"]
    peer_ratio = (
        large["peer_cpu"] / small["peer_cpu"] if small["peer_cpu"] and large["peer_cpu"] else None
    )
    label = f"CPU per poll {large['size']:,} / {small['size']:,}"
    rows.append(Row(label, cpu_ratio, peer_ratio, 1.0))
    graph_calls = sum(m["ours"].graph.requests for m in measured)
    targets = [
        Target("steady poll: 0 Graph calls", graph_calls == 0, f"{graph_calls}"),
        Target(
            f"steady poll: {label} <= 1.5",
            cpu_ratio <= 1.5,
            f"{cpu_ratio:.2f} (peer {ratio(large['peer_cpu'], small['peer_cpu'])})",
        ),
    ]
    print_table("Steady poll", rows)
    print_targets(targets)
    save(args.json, "steady_poll", params, rows, targets)


if __name__ == "__main__":
    main()
