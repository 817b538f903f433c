"""The availability snapshot: every in-org User's busy slots over the horizon, written
to the User field the tenant maps (read through the core's availability)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from syncd.config import TenantConfig
from syncd.core.scheduler import Scheduler
from syncd.sync import queries as q
from syncd.sync.reader import PAGE, EventReader, chunks
from syncd.sync.salesforce_writer import SalesforceWriter
from syncd.sync.writeback import availability_snapshot


@dataclass
class AvailabilityReport:
    users: int = 0
    written: int = 0
    errors: list[tuple[str, str]] = field(default_factory=list)


class AvailabilitySnapshot:
    """One tenant's availability snapshot job."""

    def __init__(
        self,
        tenant: TenantConfig,
        core: Scheduler,
        reader: EventReader,
        writer: SalesforceWriter,
        *,
        clock: Callable[[], datetime],
        should_stop: Callable[[], bool],
    ) -> None:
        self.tenant = tenant
        self.core = core
        self.reader = reader
        self.writer = writer
        self.clock = clock
        self.should_stop = should_stop

    def run(self) -> AvailabilityReport:
        """Busy slots of every in-org User over the horizon, into the User field."""
        report = AvailabilityReport()
        target = self.tenant.salesforce.fields.user.availability_snapshot
        if not target:
            return report
        start = self.clock().replace(second=0, microsecond=0)
        end = start + timedelta(days=self.tenant.salesforce.schedules.availability_horizon_days)
        users = self.reader.query(q.in_org_users(self.tenant.mail_domains))
        for page in chunks(users, PAGE):
            if self.should_stop():
                break
            by_email = {u["Email"]: u["Id"] for u in page if u.get("Email")}
            report.users += len(by_email)
            answers = self.core.availability(list(by_email), start, end)
            updates = []
            for answer in answers:
                if answer.error_message:
                    report.errors.append((answer.email, answer.error_message))
                    continue
                updates.append(
                    {
                        "attributes": {"type": "User"},
                        "id": by_email[answer.email],
                        target: availability_snapshot(answer.slots, start, end),
                    }
                )
            report.written += len(updates)
            report.errors.extend(self.writer.send("User", updates))
        return report
