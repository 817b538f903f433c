"""Benchmark 5: peak RSS of the initial sync at 10,000 and 100,000 Events.

    .venv/bin/python -m bench.memory [--sizes 10000 100000] [--quick]

Each size gets a fresh org and ledger; syncd's initial sync runs in a child process
whose peak RSS (VmHWM, see bench.child) is read at the end, beside its RSS before the
sync started (interpreter, libraries, runtime). The sandbox runs in this process, so
its memory is not counted. No Graph latency: memory does not depend on it, and the
large size finishes sooner. The naive peer reads the whole window into memory first.
"""

from __future__ import annotations

from typing import Any

from bench.common import (
    Row,
    Target,
    World,
    base_parser,
    header,
    print_table,
    print_targets,
    save,
)


def measure(size: int, organizers: int, latency: float, *, peer: bool) -> dict[str, Any]:
    with World(mailboxes=organizers, events=size, organizers=organizers) as world:
        world.graph_latency(latency)
        ours = world.ours("initial")
        theirs = world.peer("initial") if peer else None
    return {
        "size": size,
        "created": ours.result["runs"][0]["counts"]["create"],
        "ours_peak": ours.result["peak_rss_mib"],
        "ours_base": ours.result["rss_before_mib"],
        "ours_wall": ours.wall,
        "peer_peak": theirs.result["peak_rss_mib"] if theirs else None,
        "peer_base": theirs.result["rss_before_mib"] if theirs else None,
    }


def main(argv: list[str] | None = None) -> None:
    parser = base_parser("bench.memory", __doc__)
    parser.set_defaults(latency=0.0)
    parser.add_argument("--sizes", type=int, nargs="+", default=[10_000, 100_000])
    parser.add_argument("--organizers", type=int, default=500)
    args = parser.parse_args(argv)
    if args.quick:
        args.sizes, args.organizers = [200, 2_000], 20
    params = {
        "sizes": args.sizes,
        "organizers": args.organizers,
        "latency_s": args.latency,
        "peer": not args.no_peer,
    }
    header("Benchmark 5: memory of the initial sync", params)
    measured = [
        measure(size, args.organizers, args.latency, peer=not args.no_peer)
        for size in sorted(args.sizes)
    ]
    rows: list[Row] = []
    for m in measured:
        size = m["size"]
        peer_growth = m["peer_peak"] - m["peer_base"] if m["peer_peak"] is not None else None
        rows += [
            Row(f"{size:,}: meetings created", m["created"], None, size),
            Row(f"{size:,}: RSS before the sync (MiB)", m["ours_base"], m["peer_base"], None),
            Row(f"{size:,}: peak RSS (MiB)", m["ours_peak"], m["peer_peak"], None),
            Row(
                f"{size:,}: peak - before (MiB)",
                m["ours_peak"] - m["ours_base"],
                peer_growth,
                None,
                "what the sync itself holds",
            ),
        ]
    small, large = measured[0], measured[-1]
    growth = large["ours_peak"] / small["ours_peak"]
    peer_growth = None
    if small["peer_peak"] and large["peer_peak"]:
        peer_growth = large["peer_peak"] / small["peer_peak"]
    label = f"peak RSS {large['size']:,} / {small['size']:,}"
    rows.append(Row(label, growth, peer_growth, 1.0, "1.0: memory grows with a page only"))
    targets = [
        Target(
            f"memory: {label} stays flat (<= 1.25)",
            growth <= 1.25,
            f"{small['ours_peak']:.0f} MiB -> {large['ours_peak']:.0f} MiB ({growth:.2f}x)",
        )
    ]
    print_table("Memory of the initial sync", rows)
    print_targets(targets)
    save(args.json, "memory", params, rows, targets)


if __name__ == "__main__":
    main()
