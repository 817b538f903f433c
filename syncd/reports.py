"""Human-readable reports of sync passes and tenant status (pure formatting)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Any

from syncd.sync.plan import Action
from syncd.sync.service import AvailabilityReport, PassReport, ResponseReport


def pass_lines(tenant: str, report: PassReport, *, verbose_plan: bool = False) -> list[str]:
    """What a reconcile pass did (or, with --dry-run, would do)."""
    kind = "full resync" if report.full_resync else "incremental poll"
    verb = "would" if report.dry_run else "did"
    done = ", ".join(f"{name} {count}" for name, count in report.counts.items() if count)
    lines = [
        f"tenant {tenant}: {kind}, {report.records_read} records read; {verb}: {done or 'nothing'}"
    ]
    if verbose_plan:
        lines += [
            f"  {step.action.value:<6} {step.event_id}  {step.reason}"
            for step in report.steps
            if step.action != Action.SKIP
        ]
    failures = report.failures or [
        (s.event_id, s.reason) for s in report.steps if s.action == Action.FAIL
    ]
    lines += [f"  failed {event_id}: {reason}" for event_id, reason in failures]
    return lines + writeback_lines(report.writeback_errors)


def writeback_lines(errors: Iterable[tuple[str, str]]) -> list[str]:
    """One line per Salesforce record the write-back could not update."""
    return [f"  write-back refused for {record_id}: {reason}" for record_id, reason in errors]


def responses_line(tenant: str, report: ResponseReport) -> str:
    return (
        f"tenant {tenant}: responses checked on {report.meetings_checked} meetings, "
        f"{report.meetings_changed} changed, {report.relations_written} invitee statuses written"
    )


def availability_line(tenant: str, report: AvailabilityReport) -> str:
    return (
        f"tenant {tenant}: availability of {report.users} users, "
        f"{report.written} snapshots written, {len(report.errors)} errors"
    )


def status_lines(row: Mapping[str, Any]) -> list[str]:
    """A tenant's status (a row of `syncd status --json`) for people."""
    counts = row["counts"]
    polled = _when(row["last_poll"])
    total = sum(counts.values())
    lines = [
        f"tenant {row['tenant']}: last poll {polled}; {total} meetings "
        f"(synced {counts.get('synced', 0)}, pending {counts.get('pending', 0)}, "
        f"failed {counts.get('failed', 0)}, cancelled {counts.get('cancelled', 0)}); "
        f"backlog {row['backlog']} ({row['due_for_retry']} due for retry now)"
    ]
    if "lease" in row:
        lines.append(f"  lease: {row['lease'] or 'not held (no replica runs this tenant now)'}")
    lines += [f"  failed {failure['id']}: {failure['reason']}" for failure in row["failures"]]
    hidden = row["failures_total"] - len(row["failures"])
    if hidden > 0:
        lines.append(f"  ... and {hidden} more failed records")
    return lines


def _when(iso: str | None) -> str:
    if iso is None:
        return "never"
    return datetime.fromisoformat(iso).strftime("%Y-%m-%d %H:%M:%S UTC")
