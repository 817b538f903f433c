"""Human-readable reports of sync passes and tenant status (pure formatting)."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from syncd.sync.plan import Action
from syncd.sync.service import AvailabilityReport, PassReport, ResponseReport, SweepReport


def pass_lines(tenant: str, report: PassReport, *, verbose_plan: bool = False) -> list[str]:
    """What a reconcile pass did (or, with --dry-run, would do)."""
    kind = "full resync" if report.full_resync else "incremental poll"
    verb = "would" if report.dry_run else "did"
    done = ", ".join(f"{name} {count}" for name, count in report.counts.items() if count)
    refused = (
        f"; {len(report.writeback_errors)} write-backs refused" if report.writeback_errors else ""
    )
    lines = [
        f"tenant {tenant}: {kind}, {report.records_read} records read; "
        f"{verb}: {done or 'nothing'}{refused}"
    ]
    # Each failure and refused write-back was logged (one WARNING line, with its reason)
    # when it happened: the report counts them and does not repeat them.
    if verbose_plan:
        lines += [
            f"  {step.action.value:<6} {step.salesforce_id}  {step.reason}"
            for step in report.steps
            if step.action != Action.SKIP
        ]
    return lines


def responses_line(tenant: str, report: ResponseReport) -> str:
    """What a response refresh did; mailboxes not read and refused write-backs are
    counted (each was logged with its reason)."""
    trouble = [
        f"{len(report.read_errors)} mailboxes not read" if report.read_errors else "",
        f"{len(report.writeback_errors)} write-backs refused" if report.writeback_errors else "",
    ]
    line = (
        f"tenant {tenant}: responses checked on {report.meetings_checked} meetings, "
        f"{report.meetings_changed} changed, {report.relations_written} invitee statuses written"
    )
    if isinstance(report, SweepReport):
        kinds = ", ".join(f"{kind} {count}" for kind, count in sorted(report.changes.items()))
        line += (
            f"; Outlook: {report.mailboxes} mailboxes in {report.graph_requests} requests "
            f"({report.full_reads} read in full), changes: {kinds or 'none'}, "
            f"{report.salesforce_written} Events written, {report.marked} marked, "
            f"{report.events_deleted} deleted, {report.outlook_restored} put back, "
            f"{report.conflicts} conflicts"
        )
        trouble.append(f"{len(report.failed)} changes not handled" if report.failed else "")
    return line + "".join(f"; {text}" for text in trouble if text)


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
    if row.get("shards"):
        lines.append(f"  mailbox shards: {_shard_holders(row['shards'])}")
    lines += [f"  failed {failure['id']}: {failure['reason']}" for failure in row["failures"]]
    hidden = row["failures_total"] - len(row["failures"])
    if hidden > 0:
        lines.append(f"  ... and {hidden} more failed records")
    return lines


def _shard_holders(holders: list[str | None]) -> str:
    """Which shards each replica holds, e.g. "0, 2 syncd-replica 812 from 10.0.0.7;
    1 not held" (a shard nobody holds waits for a replica to take it)."""
    by_holder: dict[str, list[str]] = {}
    for index, holder in enumerate(holders):
        by_holder.setdefault(holder or "not held", []).append(str(index))
    return "; ".join(f"{', '.join(shards)} {holder}" for holder, shards in by_holder.items())


def _when(iso: str | None) -> str:
    if iso is None:
        return "never"
    return datetime.fromisoformat(iso).strftime("%Y-%m-%d %H:%M:%S UTC")
