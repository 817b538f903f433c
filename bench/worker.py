"""syncd's side of a benchmark, run in a child process: one job through the real runtime.

    python -m bench.worker JOB --config CONFIG [--repeat N] [--clock-offset S] ...

JOB is initial (the first poll: a full resync), poll, responses, availability (the
Scheduler API's path), snapshot (the availability snapshot job), sweep (the Outlook
sweep: one calendarView delta round per organizer mailbox) or previous_refresh (the
response refresh before the sweep: one calendarView per organizer mailbox, see
bench.previous_refresh). The last line of
stdout is the JSON the parent reads (see bench.common.emit).
"""

from __future__ import annotations

import argparse
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import asdict
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from bench.child import TENANT, child_usage, current_rss_mib, emit
from bench.previous_refresh import PreviousRefresh
from syncd.config import load_config
from syncd.runtime import Runtime, build_runtime
from syncd.sync.service import SyncService


def _clock(offset: float) -> Callable[[], datetime]:
    delta = timedelta(seconds=offset)
    return lambda: datetime.now(UTC) + delta


def _service(runtime: Runtime, workers: int | None) -> SyncService:
    if workers is None:
        return runtime.sync_service(TENANT)
    return SyncService(
        runtime.config.tenants[TENANT],
        runtime.scheduler(TENANT),
        runtime.salesforce(TENANT),
        runtime.graphs[TENANT],
        runtime.engine,
        clock=runtime.clock,
        workers=workers,
    )


def _counts(runtime: Runtime) -> dict[str, Any]:
    return {
        "graph_client": runtime.graphs[TENANT].counter.snapshot(),
        "salesforce_client": runtime.salesforce(TENANT).usage.snapshot(),
    }


class _BytesReceived:
    """Bytes of the Graph answers' bodies this process received (the identity platform's
    token answers left out), counted by a response hook of the Graph session (called
    from every thread that reads Graph, hence the lock)."""

    def __init__(self, graph_url: str) -> None:
        self.graph_url = graph_url.rstrip("/")
        self.total = 0
        self._lock = threading.Lock()

    def __call__(self, response: Any, *args: Any, **kwargs: Any) -> None:
        if str(response.url).startswith(self.graph_url):
            size = len(response.content)
            with self._lock:
                self.total += size


def _timed(action: Callable[[], Any]) -> tuple[Any, float, float]:
    wall, cpu = time.perf_counter(), time.process_time()
    value = action()
    return value, time.perf_counter() - wall, time.process_time() - cpu


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.worker")
    parser.add_argument(
        "job",
        choices=(
            "initial",
            "poll",
            "responses",
            "availability",
            "snapshot",
            "login",
            "sweep",
            "previous_refresh",
        ),
    )
    parser.add_argument("--config", type=Path, required=True)
    parser.add_argument("--repeat", type=int, default=1)
    parser.add_argument("--clock-offset", type=float, default=0.0)
    parser.add_argument("--workers", type=int, default=None)
    parser.add_argument("--emails", type=Path, help="availability: one address a line")
    parser.add_argument("--days", type=float, default=7.0)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.ERROR)

    config = load_config(args.config)
    runtime = build_runtime(config, clock=_clock(args.clock_offset))
    try:
        service = _service(runtime, args.workers)
        # Tokens first (a process starts without any): a Graph token and a Salesforce
        # session are not part of any job's cost. Private hooks: this is a benchmark.
        runtime.graphs[TENANT]._tokens.token()
        runtime.salesforce(TENANT)._session()
        received = _BytesReceived(runtime.graphs[TENANT]._base)
        runtime.graphs[TENANT]._session.hooks["response"].append(received)
        rss_before = current_rss_mib()
        result: dict[str, Any] = {"job": args.job, "rss_before_mib": rss_before}
        runs: list[dict[str, Any]] = []
        for _ in range(max(1, args.repeat)):
            runs.append(_run(args, runtime, service))
        result["runs"] = runs
        result["wall_seconds"] = sum(r["wall_seconds"] for r in runs)
        result["cpu_seconds"] = sum(r["cpu_seconds"] for r in runs)
        result.update(_counts(runtime))
        result["graph_bytes_received"] = received.total
        result.update(child_usage())
        emit(result)
    finally:
        runtime.close()


def previous_refresh(runtime: Runtime, service: SyncService) -> PreviousRefresh:
    """The response refresh as it ran before the Outlook sweep replaced it."""
    return PreviousRefresh(
        runtime.config.tenants[TENANT],
        runtime.engine,
        runtime.graphs[TENANT],
        service.reader,
        service.writer,
        workers=lambda: service.executor.workers,
        should_stop=lambda: False,
    )


def _run(args: argparse.Namespace, runtime: Runtime, service: SyncService) -> dict[str, Any]:
    report: Any
    if args.job == "initial":
        report, wall, cpu = _timed(service.poll)
        summary = {
            "counts": report.counts,
            "failures": len(report.failures),
            "first_failures": report.failures[:5],
            "writeback_errors": len(report.writeback_errors),
            "records_read": report.records_read,
            "full_resync": report.full_resync,
        }
    elif args.job == "poll":
        report, wall, cpu = _timed(service.poll)
        summary = {
            "counts": report.counts,
            "records_read": report.records_read,
            "full_resync": report.full_resync,
            "failures": len(report.failures),
        }
    elif args.job == "responses":
        report, wall, cpu = _timed(service.refresh_responses)
        summary = asdict(report)
        summary["writeback_errors"] = len(report.writeback_errors)
    elif args.job == "sweep":
        report, wall, cpu = _timed(service.sweep_outlook)
        summary = asdict(report)
        summary["writeback_errors"] = len(report.writeback_errors)
    elif args.job == "previous_refresh":
        refresh = previous_refresh(runtime, service)
        report, wall, cpu = _timed(refresh.run)
        summary = asdict(report)
        summary["writeback_errors"] = len(report.writeback_errors)
    elif args.job == "availability":
        emails = [e for e in args.emails.read_text().split() if e] if args.emails else []
        start = runtime.clock().replace(second=0, microsecond=0)
        end = start + timedelta(days=args.days)
        scheduler = runtime.scheduler(TENANT)
        answers, wall, cpu = _timed(lambda: scheduler.availability(emails, start, end))
        summary = {
            "users": len(emails),
            "answered": sum(1 for a in answers if not a.error_message),
            "busy_slots": sum(len(a.slots) for a in answers),
        }
    elif args.job == "snapshot":
        report, wall, cpu = _timed(service.snapshot_availability)
        summary = {"users": report.users, "written": report.written, "errors": len(report.errors)}
    else:  # login: just the runtime, for a baseline RSS
        wall, cpu, summary = 0.0, 0.0, {}
    return {"wall_seconds": wall, "cpu_seconds": cpu, **summary}


if __name__ == "__main__":
    main()
