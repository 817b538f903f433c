"""Summarise a py-spy raw (collapsed stacks) profile: where the samples go.

    python -m bench.profile FILE [--top 30] [--match syncd/] [--thread NAME] [--categories]

Prints the functions with the most samples inclusive (on the stack) and self (on
top of the stack), idle waits (socket reads, locks, sleeps) left out of the total;
with --thread NAME (a wall-clock profile), one thread's time, waits included.
"""

from __future__ import annotations

import argparse
from collections import Counter
from pathlib import Path

#: Frames that mean "waiting", not working: excluded from CPU-like totals.
IDLE = (
    "wait (threading.py",
    "_wait_for_tstate_lock",
    "select (selectors.py",
    "recv_into (ssl.py",
    "read (ssl.py",
    "sleep",
    "acquire",
    "_worker (concurrent/futures/thread.py",
    "poll (selectors.py",
)


#: --categories: where a sample goes, by the first marker found in its stack.
CATEGORIES = (
    ("start-up (imports)", ("_find_and_load",)),
    # The client's methods show under the class that defines them (transport, events...).
    (
        "Graph client (requests, TLS, JSON)",
        (
            "GraphClient.",
            "GraphTransport.",
            "EventCalls.",
            "CalendarReads.",
            "MailboxReads.",
            "MsalTokenProvider.",
        ),
    ),
    (
        "ledger (SQLAlchemy, SQLite, meeting locks)",
        ("sqlalchemy/", "sqlmodel/", "sqlite3", "syncd/ledger/"),
    ),
    ("Salesforce client", ("SalesforceClient.",)),
    ("scheduler core, other", ("Scheduler.", "Executor.")),
    ("sync service: parse, plan, write-back", ("SyncService.",)),
)


def categorise(path: Path) -> str:
    """Busy samples per category (CATEGORIES), largest first."""
    counts: Counter[str] = Counter()
    for line in path.read_text().splitlines():
        stack, _, count_text = line.rpartition(" ")
        if not stack or not count_text.isdigit():
            continue
        name = next(
            (label for label, markers in CATEGORIES if any(m in stack for m in markers)),
            "other",
        )
        counts[name] += int(count_text)
    total = max(sum(counts.values()), 1)
    lines = [f"{path.name}: {total} samples"]
    lines += [f"  {100 * n / total:5.1f}%  {name}" for name, n in counts.most_common()]
    return "\n".join(lines)


def _frames(stack: str) -> list[str]:
    return [f for f in stack.split(";") if f]


def summarise(path: Path, top: int, match: str | None, thread: str | None = None) -> str:
    inclusive: Counter[str] = Counter()
    own: Counter[str] = Counter()
    total = idle = 0
    for line in path.read_text().splitlines():
        stack, _, count_text = line.rpartition(" ")
        if not stack or not count_text.isdigit():
            continue
        count = int(count_text)
        frames = _frames(stack)
        if frames and frames[0].startswith("thread ("):
            if thread is not None and thread not in frames[0]:
                continue
            frames = frames[1:]
        if not frames:
            continue
        if thread is None and any(marker in frames[-1] for marker in IDLE):
            idle += count
            continue
        total += count
        own[frames[-1]] += count
        for frame in set(frames):
            if match is None or match in frame:
                inclusive[frame] += count
    lines = [f"{path.name}: {total} busy samples ({idle} idle samples left out)"]
    lines.append("\ninclusive (on the stack):")
    for frame, count in inclusive.most_common(top):
        lines.append(f"  {100 * count / max(total, 1):5.1f}%  {frame}")
    lines.append("\nself (top of the stack):")
    for frame, count in own.most_common(top):
        lines.append(f"  {100 * count / max(total, 1):5.1f}%  {frame}")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.profile")
    parser.add_argument("file", type=Path)
    parser.add_argument("--top", type=int, default=30)
    parser.add_argument("--match", default=None, help="only frames containing this text")
    parser.add_argument(
        "--thread",
        default=None,
        help="only this thread (profiles taken with BENCH_PYSPY_MODE=wall), waits included",
    )
    parser.add_argument("--categories", action="store_true", help="samples per category only")
    args = parser.parse_args(argv)
    if args.categories:
        print(categorise(args.file))
        return
    print(summarise(args.file, args.top, args.match, args.thread))


if __name__ == "__main__":
    main()
