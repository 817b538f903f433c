"""What a benchmark child (bench.worker, bench.naive_peer) needs: kept free of the sandbox,
so a child imports only what it uses and its RSS and CPU are its own."""

from __future__ import annotations

import json
import resource
from collections.abc import Mapping
from pathlib import Path
from typing import Any

TENANT = "bench"
RESULT_MARK = "BENCH-RESULT "


def emit(result: Mapping[str, Any]) -> None:
    """How a child hands its figures to the parent (the last line of its stdout)."""
    print(RESULT_MARK + json.dumps(result, default=str), flush=True)


def child_usage() -> dict[str, float]:
    """CPU seconds and peak RSS (MiB) of the calling process so far.

    The peak is VmHWM, not getrusage's ru_maxrss: Linux carries ru_maxrss over
    execve from the process that spawned the child, so a child of the benchmark
    process (which holds the whole sandbox) would report the parent's size.
    """
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return {
        "cpu_total_seconds": usage.ru_utime + usage.ru_stime,
        "peak_rss_mib": _status_mib("VmHWM"),
    }


def current_rss_mib() -> float:
    """The resident set size now (Linux /proc), MiB."""
    return _status_mib("VmRSS")


def _status_mib(key: str) -> float:
    """A size line of /proc/self/status (kB there), in MiB; NaN off Linux."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith(f"{key}:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return float("nan")
